//! time_split, run as a user runs it.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::fs;
use std::path::Path;

use mapillary_core::capture_time::CaptureTime;
use mapillary_core::exif::ExifEdits;
use mapillary_testkit::{args, assert_line, lines, run_tool, workspace_root, write_photo};

const BIN: &str = env!("CARGO_BIN_EXE_time_split");

fn dated_photo(path: &Path, seed: u32, time: &str) {
    let mut edits = ExifEdits::new();
    edits.set_capture_time(&CaptureTime::from_exif(time, None, None).unwrap());
    write_photo(path, seed, &edits);
}

/// `n` photos `step` seconds apart from `start` (seconds after 10:00:00).
fn burst(dir: &Path, prefix: &str, start: u32, n: u32, step: u32) {
    for i in 0..n {
        let t = start + i * step;
        let time = format!(
            "2021:06:01 {:02}:{:02}:{:02}",
            10 + t / 3600,
            (t / 60) % 60,
            t % 60
        );
        dated_photo(&dir.join(format!("{prefix}{i:04}.jpg")), i, &time);
    }
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn a_thousand_photos_split_into_the_right_groups() {
    let dir = tempfile::tempdir().unwrap();
    // Five bursts of 200 photos, 2 s apart, separated by ten-minute pauses;
    // the file names interleave the bursts so that path order is not time
    // order.
    for (b, prefix) in ["c", "a", "e", "b", "d"].iter().enumerate() {
        burst(dir.path(), prefix, b as u32 * 1000, 200, 2);
    }
    let (code, stdout, stderr) = run_tool(BIN, args![dir.path()], None);
    assert_eq!(code, 0, "{stderr}");
    assert_line(
        &stdout,
        "1000 photos moved into 5 groups (cutoff 3.0 s), 0 skipped, 0 failed",
    );
    for (group, prefix) in ["c", "a", "e", "b", "d"].iter().enumerate() {
        let names = names_in(&dir.path().join(group.to_string()));
        let expected: Vec<String> = (0..200).map(|i| format!("{prefix}{i:04}.jpg")).collect();
        assert_eq!(names, expected, "group {group}");
    }
    // Nothing is left at the top but the five folders.
    assert_eq!(names_in(dir.path()), ["0", "1", "2", "3", "4"]);
}

#[test]
fn explicit_cutoff_subfolders_and_sub_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("day1");
    fs::create_dir_all(&sub).unwrap();
    dated_photo(&sub.join("a.jpg"), 1, "2021:06:01 10:00:00");
    dated_photo(&sub.join("b.jpg"), 2, "2021:06:01 10:00:00.4");
    dated_photo(&dir.path().join("c.jpg"), 3, "2021:06:01 10:00:01.5");
    dated_photo(&dir.path().join("d.jpg"), 4, "2021:06:01 10:00:30");
    let (code, stdout, stderr) = run_tool(BIN, args![dir.path(), "1.2"], None);
    assert_eq!(code, 0, "{stderr}");
    // 0.4 s and 1.1 s gaps stay together (cutoff 1.2); 28.5 s splits.
    assert_eq!(
        names_in(&sub.join("0")),
        ["a.jpg", "b.jpg", "c.jpg"],
        "{stdout}"
    );
    // Group 1 starts with d.jpg, which is in the top folder.
    assert_eq!(names_in(&dir.path().join("1")), ["d.jpg"]);
}

#[test]
fn never_overwrites_and_reports_photos_without_time() {
    let dir = tempfile::tempdir().unwrap();
    dated_photo(&dir.path().join("a.jpg"), 1, "2021:06:01 10:00:00");
    dated_photo(&dir.path().join("b.jpg"), 2, "2021:06:01 10:00:02");
    write_photo(&dir.path().join("untimed.jpg"), 3, &ExifEdits::new());
    fs::create_dir_all(dir.path().join("0")).unwrap();
    fs::write(dir.path().join("0/b.jpg"), b"someone else's file").unwrap();
    let (code, stdout, stderr) = run_tool(BIN, args![dir.path(), "10"], None);
    assert_eq!(code, 1);
    let path = |name: &str| dir.path().join(name).display().to_string();
    assert_line(
        &stderr,
        &format!(
            "time_split: {}: skipped: no capture time (DateTimeOriginal)",
            path("untimed.jpg")
        ),
    );
    assert_line(
        &stderr,
        &format!(
            "time_split: {}: {} already exists; not overwritten",
            path("b.jpg"),
            path("0/b.jpg")
        ),
    );
    assert_eq!(
        fs::read(dir.path().join("0/b.jpg")).unwrap(),
        b"someone else's file"
    );
    assert!(
        dir.path().join("b.jpg").exists(),
        "the photo stays where it was"
    );
    assert!(dir.path().join("0/a.jpg").exists());
    assert!(dir.path().join("untimed.jpg").exists());
    // The walk also finds 0/b.jpg, which is not a photo: one more failure.
    assert_line(
        &stderr,
        &format!(
            "time_split: {}: not a JPEG file (no SOI marker)",
            path("0/b.jpg")
        ),
    );
    assert_line(
        &stdout,
        "1 photo moved into 1 group (cutoff 10.0 s), 1 skipped, 2 failed",
    );
}

#[test]
fn dry_run_moves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    burst(dir.path(), "p", 0, 3, 1);
    burst(dir.path(), "q", 500, 3, 1);
    let (code, stdout, _) = run_tool(BIN, args!["-n", dir.path()], None);
    assert_eq!(code, 0);
    let folder = dir.path().display();
    assert_eq!(
        lines(&stdout),
        [
            format!(
                "group 0: 3 photos, 2021-06-01T10:00:00Z .. 2021-06-01T10:00:02Z would go to {folder}/0"
            ),
            format!(
                "group 1: 3 photos, 2021-06-01T10:08:20Z .. 2021-06-01T10:08:22Z would go to {folder}/1"
            ),
            "6 photos would be moved into 2 groups (cutoff 1.5 s), 0 skipped, 0 failed".to_string(),
        ]
    );
    assert_eq!(names_in(dir.path()).len(), 6);
}

#[test]
fn usage_errors_and_docs() {
    let dir = tempfile::tempdir().unwrap();
    for (a, msg) in [
        (vec![], "missing argument: path"),
        (
            vec![dir.path().as_os_str(), "soon".as_ref()],
            "cutoff_time must be a number of seconds, not 'soon'",
        ),
        (
            vec![dir.path().as_os_str(), "-5".as_ref()],
            "cutoff_time must be a number of seconds, 0 or more, not '-5'",
        ),
        (
            vec![dir.path().as_os_str(), "1".as_ref(), "2".as_ref()],
            "unexpected argument '2'",
        ),
    ] {
        let (code, _, stderr) = run_tool(BIN, &a, None);
        assert_eq!(code, 2, "{stderr}");
        assert_eq!(
            stderr,
            format!(
                "time_split: {msg}\nUsage: time_split [options] path [cutoff_time] (see time_split --help)\n"
            )
        );
    }
    let (_, man, _) = run_tool(BIN, args!["--generate-man"], None);
    let committed =
        fs::read_to_string(workspace_root().join("docs/man/time_split.1")).unwrap_or_default();
    assert_eq!(
        man, committed,
        "docs/man/time_split.1 is out of date: run `make man`"
    );
    let (code, out, _) = run_tool(BIN, args!["-V"], None);
    assert_eq!(
        (code, out.trim()),
        (
            0,
            format!("time_split {}", env!("CARGO_PKG_VERSION")).as_str()
        )
    );
}
