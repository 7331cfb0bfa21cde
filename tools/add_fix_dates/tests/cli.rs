//! add_fix_dates, run as a user runs it.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use mapillary_core::capture_time::{CaptureTime, series};
use mapillary_core::exif::{ExifEdits, read_exif};
use mapillary_testkit::{
    args, assert_line, copy_files, corpus, exiftool, files_with_extension, image_data,
    line_starting, run_tool, unexpected_changes, workspace_root, write_photo, write_photo_sized,
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
            // Refused: one line names the photo (the reason depends on
            // the vendor's file).
            line_starting(&stderr, &format!("add_fix_dates: {}: ", copy.display()));
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
        (
            "text.jpg",
            b"hello, not a photo\n".to_vec(),
            "not a JPEG file (no SOI marker)",
        ),
        (
            "truncated.jpg",
            full[..full.len().min(100)].to_vec(),
            "truncated JPEG (file ends before the image data)",
        ),
        (
            "soi_only.JPG",
            vec![0xFF, 0xD8],
            "truncated JPEG (file ends before the image data)",
        ),
        (
            "bad_tiff.jpeg",
            {
                // An EXIF segment whose TIFF header is garbage.
                let mut f = vec![0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x10];
                f.extend(b"Exif\0\0XX\0\0\0\0\0\0");
                f.extend(&full[2..]);
                f
            },
            "corrupt EXIF: bad TIFF header; refusing to rewrite it",
        ),
    ];
    for (name, bytes, _) in &cases {
        fs::write(dir.path().join(name), bytes).unwrap();
    }
    let (code, stdout, stderr) = run_tool(BIN, args![dir.path(), "2020-01-01 00:00:00", "1"], None);
    assert_eq!(code, 1, "{stderr}");
    for (name, bytes, reason) in &cases {
        let path = dir.path().join(name);
        assert_line(
            &stderr,
            &format!("add_fix_dates: {}: {reason}", path.display()),
        );
        assert_eq!(&fs::read(&path).unwrap(), bytes, "{name} changed");
    }
    assert_line(&stdout, "1 photo dated, 0 skipped, 5 failed");
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
    assert_line(
        &stdout,
        &format!(
            "{}: DateTimeOriginal 2015:06:02 00:00:00.200",
            dir.path().join("frame003.jpg").display()
        ),
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
    assert_line(
        &stdout,
        &format!("{}: would get 2020:02:02 02:02:02", f.display()),
    );
    assert_line(&stdout, "1 photo would be dated, 0 skipped, 0 failed");
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
            "start_time: 'yesterday' is not a time of the form 'YYYY-mm-dd HH:MM:SS'",
        ),
        (
            vec![
                d.as_os_str(),
                "2020-01-01 00:00:00".as_ref(),
                "one".as_ref(),
            ],
            "increment must be a number of seconds, not 'one'",
        ),
        (
            vec![
                d.as_os_str(),
                "2020-01-01 00:00:00".as_ref(),
                "inf".as_ref(),
            ],
            "increment must be a finite number of seconds, not 'inf'",
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
        assert_eq!(
            stderr,
            format!("add_fix_dates: {message}\n{USAGE}\n"),
            "{args:?}"
        );
    }
    let (code, _, stderr) = run_tool(
        BIN,
        args![d.join("missing"), "2020-01-01 00:00:00", "1"],
        None,
    );
    // A folder named on the command line that is not there: exit 2.
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        format!(
            "add_fix_dates: {}: no such file or folder\n",
            d.join("missing").display()
        )
    );
}

#[test]
fn help_version_and_man_page() {
    let (code, stdout, _) = run_tool(BIN, args!["--help"], None);
    assert_eq!(code, 0);
    assert_line(
        &stdout,
        "Usage: add_fix_dates [options] path start_time increment",
    );
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
    assert_line(
        &stderr,
        &format!(
            "add_fix_dates: removed {}, left by an interrupted run",
            stale.display()
        ),
    );
    assert!(!stale.exists());
    assert!(not_ours.exists() && other.exists());
}

const USAGE: &str =
    "Usage: add_fix_dates [options] path start_time increment (see add_fix_dates --help)";

/// Runs add_fix_dates on one photo with `start` and `increment`; the photo
/// must not change. Returns (exit code, stdout, stderr).
fn refused(start: &str, increment: &str) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("a.jpg");
    write_photo(&photo, 1, &ExifEdits::new());
    let before = fs::read(&photo).unwrap();
    let result = run_tool(BIN, args![dir.path(), start, increment], None);
    assert_eq!(fs::read(&photo).unwrap(), before, "{start} {increment}");
    result
}

#[test]
fn impossible_times_zones_and_year_zero_are_usage_errors_naming_the_problem() {
    for (start, problem) in [
        (
            "2014-01-01 23:59:60",
            "'2014-01-01 23:59:60': second 60 (a leap second) cannot be written: EXIF times have none; seconds go from 00 to 59",
        ),
        (
            "2014-01-01 10:00:00+02:00",
            "'2014-01-01 10:00:00+02:00' ends in the zone '+02:00', but the start time is the camera's local time, written without a zone; leave the zone out",
        ),
        (
            "2014-01-01 10:00:00 UTC",
            "'2014-01-01 10:00:00 UTC' ends in the zone 'UTC', but the start time is the camera's local time, written without a zone; leave the zone out",
        ),
        (
            "0000-01-01 00:00:00",
            "'0000-01-01 00:00:00': year 0000 does not exist; years go from 0001 to 9999",
        ),
        (
            "2014-02-30 10:00:00",
            "'2014-02-30 10:00:00': 2014-02-30 does not exist (February 2014 has 28 days)",
        ),
        (
            "2014-01-01 24:00:00",
            "'2014-01-01 24:00:00': hour 24 does not exist; hours go from 00 to 23",
        ),
        (
            "2014:01:01",
            "'2014:01:01' is not a time of the form 'YYYY-mm-dd HH:MM:SS'",
        ),
    ] {
        let (code, stdout, stderr) = refused(start, "1");
        assert_eq!(code, 2, "{start}: {stderr}");
        assert_eq!(stdout, "", "{start}");
        assert_eq!(
            stderr,
            format!("add_fix_dates: start_time: {problem}\n{USAGE}\n"),
            "{start}"
        );
    }
}

#[test]
fn non_finite_and_negative_increments_are_numbers_refused_by_name() {
    for increment in ["-inf", "-nan", "inf", "nan", "1e999", "-1e999", "-Infinity"] {
        let (code, stdout, stderr) = refused("2014-01-01 10:00:00", increment);
        assert_eq!(code, 2, "{increment}: {stderr}");
        assert_eq!(stdout, "");
        assert_eq!(
            stderr,
            format!(
                "add_fix_dates: increment must be a finite number of seconds, not '{increment}'\n{USAGE}\n"
            )
        );
    }
    let (code, _, stderr) = refused("2014-01-01 10:00:00", "one");
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        format!("add_fix_dates: increment must be a number of seconds, not 'one'\n{USAGE}\n")
    );
    // A negative increment is a number like any other.
    let dir = tempfile::tempdir().unwrap();
    for i in 0..2 {
        write_photo(&dir.path().join(format!("p{i}.jpg")), i, &ExifEdits::new());
    }
    let (code, stdout, stderr) =
        run_tool(BIN, args![dir.path(), "2014-01-01 00:00:00", "-1.5"], None);
    assert_eq!(code, 0, "{stderr}");
    assert_line(
        &stdout,
        &format!(
            "{}: DateTimeOriginal 2013:12:31 23:59:58.500",
            dir.path().join("p1.jpg").display()
        ),
    );
}

/// Whether this process runs as root (the owner of /proc/self is the
/// effective user).
fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn find_program(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .chain(["/usr/bin".into(), "/bin".into()])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// `add_fix_dates -j 1000` under a process limit that lets it start few
/// or no threads: it must say so once, finish, and date every photo.
#[test]
fn too_few_threads_is_no_panic() {
    use std::os::unix::process::CommandExt;
    let Some(prlimit) = find_program("prlimit") else {
        eprintln!("skipped: prlimit (util-linux) is not installed");
        return;
    };
    // RLIMIT_NPROC does not bind root: as root, run the tool as the user
    // nobody, with files that user may change.
    const NOBODY: u32 = 65534;
    let root = is_root();
    for limit in [1, 3] {
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<PathBuf> = (0..6u32)
            .map(|i| {
                let p = dir.path().join(format!("f{i}.jpg"));
                write_photo(&p, i, &ExifEdits::new());
                p
            })
            .collect();
        let mut cmd = Command::new(&prlimit);
        cmd.arg(format!("--nproc={limit}"))
            .arg("--")
            .arg(BIN)
            .args([dir.path().as_os_str(), "2020-05-05 05:05:05".as_ref()])
            .args(["1", "-j", "1000"]);
        if root {
            for p in files.iter().map(PathBuf::as_path).chain([dir.path()]) {
                std::os::unix::fs::chown(p, Some(NOBODY), Some(NOBODY)).unwrap();
            }
            cmd.uid(NOBODY).gid(NOBODY);
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "limit {limit}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_line(&stdout, "6 photos dated, 0 skipped, 0 failed");
        let said: Vec<&str> = stderr
            .lines()
            .filter(|l| l.contains("worker threads"))
            .collect();
        assert_eq!(said.len(), 1, "said once, limit {limit}: {stderr}");
        assert!(
            said[0].starts_with("add_fix_dates: could not start worker threads (")
                && said[0].ends_with("); worked on one thread")
                || said[0].starts_with("add_fix_dates: could start only ")
                    && said[0].contains(" of 6 worker threads ("),
            "{stderr}"
        );
        if limit == 1 {
            assert!(said[0].contains("could not start"), "{stderr}");
        }
        let times = series(
            &CaptureTime::from_exif("2020:05:05 05:05:05", None, None).unwrap(),
            1.0,
            files.len(),
        )
        .unwrap();
        for (file, want) in files.iter().zip(&times) {
            let got = read_exif(file).unwrap();
            assert_eq!(
                got.capture_time()
                    .unwrap()
                    .as_ref()
                    .unwrap()
                    .exif_date_time(),
                want.exif_date_time(),
                "{}",
                file.display()
            );
        }
    }
}

#[test]
fn names_with_control_bytes_are_printed_escaped() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    // A newline, a clear-screen sequence, an invalid UTF-8 byte and a
    // right-to-left override in one name.
    let good = dir
        .path()
        .join(OsStr::from_bytes(b"a\nb\x1b[2J\xff\xe2\x80\xaegpj.jpg"));
    write_photo(&good, 1, &ExifEdits::new());
    let bad = dir.path().join(OsStr::from_bytes(b"c\rd\x07\x9b.jpg"));
    fs::write(&bad, b"not a photo").unwrap();
    let out = Command::new(BIN)
        .args([
            dir.path().as_os_str(),
            "2020-01-01 00:00:00".as_ref(),
            "1".as_ref(),
        ])
        .arg("-v")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    for stream in [&out.stdout, &out.stderr] {
        let raw: Vec<u8> = stream
            .iter()
            .copied()
            .filter(|&b| (b < 0x20 && b != b'\n') || b == 0x7f)
            .collect();
        assert!(raw.is_empty(), "raw control bytes {raw:?}");
        let text = std::str::from_utf8(stream).expect("output is UTF-8");
        assert!(
            !text.contains('\u{202e}') && !text.contains('\u{9b}'),
            "{text}"
        );
    }
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let folder = dir.path().display();
    assert_line(
        &stdout,
        &format!(
            "{folder}/a\\nb\\x1b[2J\\xff\\u{{202e}}gpj.jpg: DateTimeOriginal 2020:01:01 00:00:00"
        ),
    );
    assert_line(
        &stderr,
        &format!("add_fix_dates: {folder}/c\\rd\\x07\\x9b.jpg: not a JPEG file (no SOI marker)"),
    );
    // Every line is one line: no name broke one.
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
}
