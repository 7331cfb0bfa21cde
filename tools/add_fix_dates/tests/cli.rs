//! add_fix_dates, run as a user runs it.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use mapillary_core::capture_time::{CaptureTime, series};
use mapillary_core::exif::{ExifEdits, read_exif};
use mapillary_testkit::{
    args, copy_files, corpus, exiftool, files_with_extension, image_data, run_tool,
    unexpected_changes, workspace_root, write_photo, write_photo_sized,
};

const BIN: &str = env!("CARGO_BIN_EXE_add_fix_dates");

/// The tags add_fix_dates may change (and the composite exiftool derives).
const CHANGED: &[&str] = &[
    "DateTimeOriginal",
    "SubSecTimeOriginal",
    "SubSecDateTimeOriginal",
    // Composite tags that exiftool derives from DateTimeOriginal.
    "DateTimeCreated",
];

fn written_paths(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| {
            l.split_once(": DateTimeOriginal ")
                .map(|(p, _)| p.to_string())
        })
        .collect()
}

#[test]
fn corpus_every_file_rewritten_faithfully_or_refused_untouched() {
    let (Some(vendors), Some(mly), Some(tool)) = (
        corpus("exiftool-vendors"),
        corpus("mapillary-tools"),
        exiftool(),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut originals = files_with_extension(&vendors, &["jpg"]);
    assert_eq!(originals.len(), 41, "the vendor corpus has 41 files");
    originals.extend(files_with_extension(&mly.join("cameras"), &["jpg"]));
    originals.extend(files_with_extension(&mly.join("corrupt"), &["jpg"]));
    let copies = copy_files(&originals, dir.path()).unwrap();
    let before_bytes: Vec<Vec<u8>> = copies.iter().map(|c| fs::read(c).unwrap()).collect();
    let before = tool.listings(&copies);

    let (code, stdout, stderr) =
        run_tool(BIN, args![dir.path(), "2021-06-01 10:00:00", "1.5"], None);
    let written = written_paths(&stdout);
    let after = tool.listings(&copies);
    let times = series(
        &CaptureTime::from_exif("2021:06:01 10:00:00", None, None).unwrap(),
        1.5,
        copies.len(),
    )
    .unwrap();
    let engine_doc =
        fs::read_to_string(workspace_root().join("docs/exif-engine.md")).unwrap_or_default();

    // Sorted order of the copies is the order add_fix_dates used.
    let mut order: Vec<&PathBuf> = copies.iter().collect();
    order.sort();
    let mut refused_vendor_files = Vec::new();
    let mut problems = Vec::new();
    for (copy, original) in copies.iter().zip(&before_bytes) {
        let name = copy.file_name().unwrap().to_string_lossy().into_owned();
        let index = order.iter().position(|p| *p == copy).unwrap();
        if written.contains(&copy.display().to_string()) {
            let want = &times[index];
            let got = tool.values(
                copy,
                &["-ExifIFD:DateTimeOriginal", "-ExifIFD:SubSecTimeOriginal"],
            );
            let expected = match want.exif_sub_sec() {
                Some(sub) => format!("{}\n{sub}", want.exif_date_time()),
                None => want.exif_date_time(),
            };
            if got != expected {
                problems.push(format!(
                    "{name}: exiftool reads {got:?}, expected {expected:?}"
                ));
            }
            let growth = fs::metadata(copy).unwrap().len() as i64 - original.len() as i64;
            for p in unexpected_changes(&before[copy], &after[copy], CHANGED, growth) {
                problems.push(format!("{name}: {p}"));
            }
            let sos = mapillary_core::exif::jpeg::parse_head(original)
                .unwrap()
                .sos_offset;
            if image_data(copy) != original[sos..] {
                problems.push(format!("{name}: image bytes changed"));
            }
        } else {
            assert!(
                stderr.contains(&format!("{}: ", copy.display())),
                "{name}: neither written nor refused"
            );
            if fs::read(copy).unwrap() != *original {
                problems.push(format!("{name}: refused but changed"));
            }
            if vendors.join(&name).exists() {
                refused_vendor_files.push(name.clone());
                if !engine_doc.contains(&name) {
                    problems.push(format!(
                        "{name}: refused, but docs/exif-engine.md does not list why"
                    ));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{}\nstderr:\n{stderr}",
        problems.join("\n")
    );
    assert!(
        refused_vendor_files.len() <= 2,
        "refused: {refused_vendor_files:?}\n{stderr}"
    );
    assert_eq!(code, if written.len() == copies.len() { 0 } else { 1 });
    // No temporary file is left behind.
    let leftovers: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains("mapillary-tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn bad_files_get_one_clear_line_and_stay_as_they_were() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("a_good.jpg");
    write_photo(&good, 1, &ExifEdits::new());
    let full = fs::read(&good).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.jpg", Vec::new(), "empty file"),
        ("text.jpg", b"hello, not a photo\n".to_vec(), "not a JPEG"),
        (
            "truncated.jpg",
            full[..full.len().min(100)].to_vec(),
            "truncated",
        ),
        ("soi_only.JPG", vec![0xFF, 0xD8], "truncated"),
        (
            "bad_tiff.jpeg",
            {
                // An EXIF segment whose TIFF header is garbage.
                let mut f = vec![0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x10];
                f.extend(b"Exif\0\0XX\0\0\0\0\0\0");
                f.extend(&full[2..]);
                f
            },
            "bad TIFF header",
        ),
    ];
    for (name, bytes, _) in &cases {
        fs::write(dir.path().join(name), bytes).unwrap();
    }
    let (code, stdout, stderr) = run_tool(BIN, args![dir.path(), "2020-01-01 00:00:00", "1"], None);
    assert_eq!(code, 1, "{stderr}");
    for (name, bytes, reason) in &cases {
        let path = dir.path().join(name);
        let line = stderr
            .lines()
            .find(|l| l.contains(&*path.to_string_lossy()))
            .unwrap_or_else(|| panic!("no message for {name}:\n{stderr}"));
        assert!(line.starts_with("add_fix_dates: "), "{line}");
        assert!(line.contains(reason), "{name}: {line}");
        assert_eq!(&fs::read(&path).unwrap(), bytes, "{name} changed");
    }
    assert!(
        stdout.contains("1 photo dated, 0 skipped, 5 failed"),
        "{stdout}"
    );
    // The good photo was dated.
    let t = read_exif(&good).unwrap();
    assert_eq!(
        t.capture_time().unwrap().as_ref().unwrap().exif_date_time(),
        "2020:01:01 00:00:00"
    );
}

#[test]
fn photos_without_exif_get_one_and_fractions_go_to_subsec() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..4 {
        write_photo(
            &dir.path().join(format!("frame{i:03}.jpg")),
            i,
            &ExifEdits::new(),
        );
    }
    let (code, stdout, _) = run_tool(BIN, args![dir.path(), "2015-06-01 23:59:59", "0.4"], None);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("frame003.jpg: DateTimeOriginal 2015:06:02 00:00:00.200"),
        "{stdout}"
    );
    let got: Vec<String> = (0..4)
        .map(|i| {
            let e = read_exif(&dir.path().join(format!("frame{i:03}.jpg"))).unwrap();
            let t = e.capture_time().unwrap().as_ref().unwrap().clone();
            format!("{} {:?}", t.exif_date_time(), t.exif_sub_sec())
        })
        .collect();
    assert_eq!(
        got,
        [
            "2015:06:01 23:59:59 None",
            "2015:06:01 23:59:59 Some(\"400\")",
            "2015:06:01 23:59:59 Some(\"800\")",
            "2015:06:02 00:00:00 Some(\"200\")"
        ]
    );
    if let Some(tool) = exiftool() {
        let f = dir.path().join("frame001.jpg");
        assert_eq!(
            tool.values(&f, &["-SubSecDateTimeOriginal"]),
            "2015:06:01 23:59:59.400"
        );
        assert_eq!(tool.values(&f, &["-ExifVersion"]), "0232");
    }
    // Redating on whole seconds removes the old fractions.
    let (code, _, _) = run_tool(
        BIN,
        args![dir.path().join("frame001.jpg"), "2016-01-01 00:00:00", "1"],
        None,
    );
    assert_eq!(code, 0);
    let e = read_exif(&dir.path().join("frame001.jpg")).unwrap();
    assert_eq!(
        e.capture_time().unwrap().as_ref().unwrap().exif_sub_sec(),
        None
    );
}

#[test]
fn dry_run_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("a.jpg");
    write_photo(&f, 3, &ExifEdits::new());
    let before = fs::read(&f).unwrap();
    let (code, stdout, _) = run_tool(BIN, args!["--dry-run", f, "2020-02-02 02:02:02", "1"], None);
    assert_eq!(code, 0);
    assert!(stdout.contains("would get 2020:02:02 02:02:02"), "{stdout}");
    assert!(stdout.contains("1 photo would be dated"), "{stdout}");
    assert_eq!(fs::read(&f).unwrap(), before);
}

#[test]
fn usage_errors_exit_2_with_the_usage_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (args, message) in [
        (vec![], "missing argument: path, start_time, increment"),
        (
            vec![d.as_os_str(), "2020-01-01 00:00:00".as_ref()],
            "missing argument: increment",
        ),
        (
            vec![d.as_os_str(), "yesterday".as_ref(), "1".as_ref()],
            "start_time: 'yesterday' is not a date",
        ),
        (
            vec![
                d.as_os_str(),
                "2020-01-01 00:00:00".as_ref(),
                "one".as_ref(),
            ],
            "increment must be a number",
        ),
        (
            vec![
                d.as_os_str(),
                "2020-01-01 00:00:00".as_ref(),
                "inf".as_ref(),
            ],
            "finite",
        ),
        (
            vec!["--bogus".as_ref(), d.as_os_str()],
            "unknown option --bogus",
        ),
        (
            vec![
                d.as_os_str(),
                "2020-01-01 00:00:00".as_ref(),
                "1".as_ref(),
                "x".as_ref(),
            ],
            "unexpected argument 'x'",
        ),
    ] {
        let (code, stdout, stderr) = run_tool(BIN, &args, None);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stdout.is_empty());
        assert!(stderr.starts_with("add_fix_dates: "), "{stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(
            stderr.contains("Usage: add_fix_dates [options] path start_time increment"),
            "{stderr}"
        );
    }
    let (code, _, stderr) = run_tool(
        BIN,
        args![d.join("missing"), "2020-01-01 00:00:00", "1"],
        None,
    );
    assert_eq!(code, 1);
    assert!(
        stderr.contains("missing: no such file or folder"),
        "{stderr}"
    );
}

#[test]
fn help_version_and_man_page() {
    let (code, stdout, _) = run_tool(BIN, args!["--help"], None);
    assert_eq!(code, 0);
    assert!(stdout.contains("Usage: add_fix_dates [options] path start_time increment"));
    let (code, stdout, _) = run_tool(BIN, args!["--version"], None);
    assert_eq!(code, 0);
    assert_eq!(
        stdout.trim(),
        format!("add_fix_dates {}", env!("CARGO_PKG_VERSION"))
    );
    let (_, man, _) = run_tool(BIN, args!["--generate-man"], None);
    let committed =
        fs::read_to_string(workspace_root().join("docs/man/add_fix_dates.1")).unwrap_or_default();
    assert_eq!(
        man, committed,
        "docs/man/add_fix_dates.1 is out of date: run `make man`"
    );
}

/// Kills add_fix_dates with SIGKILL at many moments; every photo must be
/// either as it was before that run or the complete new version, and the
/// next normal run must clear the temporary files and finish the job.
#[test]
fn sigkill_never_leaves_a_torn_photo() {
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = (0..150u32)
        .map(|i| {
            let p = dir.path().join(format!("p{i:03}.jpg"));
            write_photo_sized(&p, 480, 360, i, &ExifEdits::new());
            p
        })
        .collect();
    let mut killed_mid_run = 0;
    for round in 0..12u64 {
        let snapshot: Vec<Vec<u8>> = files.iter().map(|f| fs::read(f).unwrap()).collect();
        let start = format!("{}-05-05 05:05:05", 2000 + round);
        let times = series(
            &CaptureTime::from_exif(&start, None, None).unwrap(),
            2.0,
            files.len(),
        )
        .unwrap();
        let mut child = Command::new(BIN)
            .args([dir.path().as_os_str(), start.as_ref(), "2".as_ref()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(10 + (round * 37) % 150));
        if child.try_wait().unwrap().is_none() {
            killed_mid_run += 1;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        for (i, (path, old)) in files.iter().zip(&snapshot).enumerate() {
            let now = fs::read(path).unwrap();
            if now == *old {
                continue;
            }
            let sos = mapillary_core::exif::jpeg::parse_head(old)
                .unwrap()
                .sos_offset;
            assert_eq!(
                image_data(path),
                old[sos..],
                "round {round}: {} has other image bytes",
                path.display()
            );
            let e = read_exif(path)
                .unwrap_or_else(|e| panic!("round {round}: {} unreadable: {e}", path.display()));
            let t = e.capture_time().unwrap().as_ref().unwrap().exif_date_time();
            assert_eq!(
                t,
                times[i].exif_date_time(),
                "round {round}: {}",
                path.display()
            );
        }
    }
    assert!(
        killed_mid_run >= 6,
        "only {killed_mid_run} kills landed mid-run; the test proves little"
    );
    // A normal run finishes, removes what the killed runs left, and leaves
    // no temporary file of its own.
    let (code, _, stderr) = run_tool(BIN, args![dir.path(), "2030-01-01 00:00:00", "2"], None);
    assert_eq!(code, 0, "{stderr}");
    let leftovers: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("mapillary-tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let times = series(
        &CaptureTime::from_exif("2030-01-01 00:00:00", None, None).unwrap(),
        2.0,
        files.len(),
    )
    .unwrap();
    for (i, path) in files.iter().enumerate() {
        let e = read_exif(path).unwrap();
        assert_eq!(
            e.capture_time().unwrap().as_ref().unwrap().exif_date_time(),
            times[i].exif_date_time()
        );
    }
}

#[test]
fn stale_temporaries_of_an_interrupted_run_are_removed_and_only_those() {
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("a.jpg");
    write_photo(&photo, 9, &ExifEdits::new());
    let stale = dir.path().join(".a.jpg.mapillary-tmp.4294967295");
    let not_ours = dir.path().join("a.jpg.mapillary-tmp.4294967295");
    let other = dir.path().join(".notes.tmp");
    for p in [&stale, &not_ours, &other] {
        fs::write(p, b"partial").unwrap();
    }
    let (code, _, stderr) = run_tool(BIN, args![dir.path(), "2020-01-01 00:00:00", "1"], None);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("left by an interrupted run"), "{stderr}");
    assert!(!stale.exists());
    assert!(not_ours.exists() && other.exists());
}
