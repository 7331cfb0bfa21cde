//! time_split on a real folder (issue 12): links keep resolving, the first
//! Ctrl-C stops between two moves, and a rerun finishes the job.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mapillary_core::capture_time::CaptureTime;
use mapillary_core::exif::{ExifEdits, RewriteOptions, rewrite_file};
use mapillary_testkit::{args, assert_line, plain_jpeg, run_tool};

const BIN: &str = env!("CARGO_BIN_EXE_time_split");

/// Photos copied from one small JPEG, dated `step` seconds apart from
/// 10:00:00, with a ten-minute pause after each `burst` photos.
fn dated_photos(dir: &Path, n: usize, burst: usize) -> Vec<PathBuf> {
    fs::create_dir_all(dir).unwrap();
    let bytes = plain_jpeg(16, 16, 1);
    let options = RewriteOptions {
        sync: false,
        ..RewriteOptions::default()
    };
    (0..n)
        .map(|i| {
            let t = i + (i / burst) * 600;
            let time = format!(
                "2021:06:01 {:02}:{:02}:{:02}",
                10 + t / 3600,
                (t / 60) % 60,
                t % 60
            );
            let path = dir.join(format!("IMG_{i:05}.jpg"));
            fs::write(&path, &bytes).unwrap();
            let mut edits = ExifEdits::new();
            edits.set_capture_time(&CaptureTime::from_exif(&time, None, None).unwrap());
            rewrite_file(&path, &edits, options).unwrap();
            path
        })
        .collect()
}

/// Every .jpg under `dir`, relative to it.
fn photos_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                pending.push(p);
            } else if p.extension().is_some_and(|x| x == "jpg") {
                out.push(p.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn relative_links_still_resolve_after_the_split() {
    let top = tempfile::tempdir().unwrap();
    let trip = top.path().join("trip");
    let store = top.path().join("store");
    let real = dated_photos(&store, 4, 2);
    fs::create_dir(&trip).unwrap();
    for (i, photo) in real.iter().enumerate() {
        let name = photo.file_name().unwrap();
        let target = Path::new("../store").join(name);
        if i == 3 {
            // An absolute link moves as it is.
            std::os::unix::fs::symlink(photo, trip.join(name)).unwrap();
        } else {
            std::os::unix::fs::symlink(&target, trip.join(name)).unwrap();
        }
    }
    let (code, stdout, stderr) = run_tool(BIN, args![&trip, "60"], None);
    assert_eq!(code, 0, "{stderr}");
    assert_line(
        &stdout,
        "4 photos moved into 2 groups (cutoff 60.0 s), 0 skipped, 0 failed",
    );
    for (i, group) in [(0, "0"), (1, "0"), (2, "1"), (3, "1")] {
        let name = real[i].file_name().unwrap();
        let link = trip.join(group).join(name);
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(
            fs::read(&link).unwrap(),
            fs::read(&real[i]).unwrap(),
            "{}",
            link.display()
        );
    }
    assert_eq!(
        fs::read_link(trip.join("0").join(real[0].file_name().unwrap())).unwrap(),
        Path::new("../../store").join(real[0].file_name().unwrap())
    );
}

#[test]
fn the_first_ctrl_c_stops_between_two_moves_and_a_rerun_finishes() {
    const PHOTOS: usize = 6000;
    let dir = tempfile::tempdir().unwrap();
    let trip = dir.path().join("trip");
    dated_photos(&trip, PHOTOS, 1500);
    let child = Command::new(BIN)
        .arg(&trip)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Ctrl-C once the first photo has moved.
    let started = Instant::now();
    while !trip.join("0").is_dir() || fs::read_dir(trip.join("0")).unwrap().next().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "nothing moved"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let moved_now = photos_under(&trip)
        .iter()
        .filter(|p| p.components().count() == 2)
        .count();
    if out.status.code() == Some(0) {
        // The run was faster than the signal; nothing to check.
        eprintln!("skipped: all {PHOTOS} photos were moved before Ctrl-C arrived");
        return;
    }
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(moved_now > 0 && moved_now < PHOTOS, "{moved_now} moved");
    // What Ctrl-C does is said with the tool's name, then what is left.
    assert_line(
        &stderr,
        "time_split: stopping after the files in progress (Ctrl-C again to stop at once)",
    );
    let left = format!(
        "time_split: interrupted: {} not moved; run again to finish",
        if PHOTOS - moved_now == 1 {
            "1 photo".to_string()
        } else {
            format!("{} photos", PHOTOS - moved_now)
        }
    );
    assert_line(&stderr, &left);
    // A rerun finishes the split where the first stopped: four groups, no
    // nested 0/0/.
    let (code, stdout, stderr) = run_tool(BIN, args![&trip], None);
    assert_eq!(code, 0, "{stderr}");
    // It moves only what the first run left and says the rest were
    // already in place.
    assert_line(
        &stdout,
        &format!(
            "{} moved into 4 groups (cutoff 1.5 s), {moved_now} already in place, 0 skipped, 0 failed",
            if PHOTOS - moved_now == 1 {
                "1 photo".to_string()
            } else {
                format!("{} photos", PHOTOS - moved_now)
            }
        ),
    );
    let placed = photos_under(&trip);
    assert_eq!(placed.len(), PHOTOS);
    for (i, p) in placed.iter().enumerate() {
        let expected = Path::new(&(i / 1500).to_string()).join(format!("IMG_{i:05}.jpg"));
        assert_eq!(*p, expected);
    }
}
