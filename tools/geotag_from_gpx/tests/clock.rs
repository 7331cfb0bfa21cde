//! Photos whose camera clock is off: one grouped line that says how far
//! they are from the track and which time_offset puts them on it, instead
//! of one line per photo; the exit statuses of each case.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::fs;
use std::path::{Path, PathBuf};

use mapillary_core::exif::read_exif;
use mapillary_testkit::{args, photo_edits, run_tool, write_photo};

const BIN: &str = env!("CARGO_BIN_EXE_geotag_from_gpx");

/// A track in Berlin from 2021-06-01 10:00:00 to 10:20:00 UTC, a point
/// every 10 s.
fn track(dir: &Path) -> PathBuf {
    let mut gpx = String::from(
        "<?xml version=\"1.0\"?>\n<gpx version=\"1.1\" creator=\"t\" xmlns=\"http://www.topografix.com/GPX/1/1\"><trk><trkseg>\n",
    );
    for i in 0..=120 {
        gpx.push_str(&format!(
            "<trkpt lat=\"{:.6}\" lon=\"13.4\"><time>2021-06-01T10:{:02}:{:02}Z</time></trkpt>\n",
            52.5 + f64::from(i) * 1e-4,
            i * 10 / 60,
            i * 10 % 60
        ));
    }
    gpx.push_str("</trkseg></trk></gpx>\n");
    let path = dir.join("track.gpx");
    fs::write(&path, gpx).unwrap();
    path
}

/// `n` photos a minute apart from `start` (UTC, HH:MM).
fn photos(dir: &Path, n: usize, start_hour: u32, start_minute: u32) -> Vec<PathBuf> {
    let trip = dir.join("trip");
    fs::create_dir_all(&trip).unwrap();
    (0..n)
        .map(|i| {
            let m = start_minute as usize + i;
            let time = format!(
                "2021:06:01 {:02}:{:02}:30",
                start_hour as usize + m / 60,
                m % 60
            );
            let p = trip.join(format!("IMG_{i:03}.jpg"));
            write_photo(&p, i as u32, &photo_edits(&time, Some("+00:00"), None));
            p
        })
        .collect()
}

#[test]
fn a_camera_an_hour_ahead_gets_one_line_and_the_offset_that_fits() {
    let dir = tempfile::tempdir().unwrap();
    let gpx = track(dir.path());
    // Taken 10:02:30 .. 10:11:30 UTC, but the camera says an hour later.
    let files = photos(dir.path(), 10, 11, 2);
    let trip = dir.path().join("trip");
    let (code, stdout, stderr) = run_tool(BIN, args![&trip, &gpx], None);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(
        stderr,
        "geotag_from_gpx: 10 photos skipped: 47.5 min after the track ends (first photo 2021-06-01 11:02 UTC, track 2021-06-01 10:00 \u{2013} 10:20 UTC) \u{2014} is the camera clock set, or is it the right GPX? time_offset 3600 would put every photo on the track\n"
    );
    assert_eq!(stdout, "0 photos tagged, 10 skipped, 0 failed\n");
    // The same in --json: one object per photo, the offset in the summary.
    let (code, stdout, _) = run_tool(BIN, args![&trip, &gpx, "--json"], None);
    assert_eq!(code, 1);
    let objects: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(objects.len(), 11, "{stdout}");
    assert!(objects[..10].iter().all(|o| o["type"] == "photo"
        && o["status"] == "skipped"
        && o["reason"]["code"] == "after_track"));
    assert_eq!(objects[10]["type"], "summary");
    assert_eq!(objects[10]["suggested_time_offset"], 3600.0);
    assert_eq!(objects[10]["exit_code"], 1);
    // The offset it named does it.
    let (code, stdout, stderr) = run_tool(BIN, args![&trip, &gpx, "3600"], None);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "10 photos tagged, 0 skipped, 0 failed\n");
    for f in &files {
        assert!(read_exif(f).unwrap().position().is_some());
    }
}

#[test]
fn a_few_photos_off_are_named_each_and_still_get_the_hint() {
    let dir = tempfile::tempdir().unwrap();
    let gpx = track(dir.path());
    // Two photos, taken 10:05:30 and 10:06:30, the camera 2 h behind.
    photos(dir.path(), 2, 8, 5);
    let trip = dir.path().join("trip");
    let (code, _, stderr) = run_tool(BIN, args![&trip, &gpx], None);
    assert_eq!(code, 1);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{stderr}");
    assert!(
        lines[0].ends_with(
            "IMG_000.jpg: skipped: 6870.0 s before the track starts (2021-06-01T10:00:00Z)"
        ),
        "{stderr}"
    );
    assert!(
        lines[1].ends_with(
            "IMG_001.jpg: skipped: 6810.0 s before the track starts (2021-06-01T10:00:00Z)"
        ),
        "{stderr}"
    );
    assert_eq!(
        lines[2],
        "geotag_from_gpx: time_offset -7200 would put every photo on the track"
    );
}

#[test]
fn exit_statuses_say_what_happened() {
    let dir = tempfile::tempdir().unwrap();
    let gpx = track(dir.path());
    let trip = dir.path().join("trip");
    // A folder that is not there, named on the command line: 2.
    let (code, stdout, stderr) = run_tool(BIN, args![dir.path().join("nope"), &gpx], None);
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert_eq!(
        stderr,
        format!(
            "geotag_from_gpx: {}: no such file or folder\n",
            dir.path().join("nope").display()
        )
    );
    // A GPX that is not there: 2.
    fs::create_dir_all(&trip).unwrap();
    let (code, _, stderr) = run_tool(BIN, args![&trip, dir.path().join("none.gpx")], None);
    assert_eq!(code, 2, "{stderr}");
    // No photos at all: nothing to do, 1, with a message.
    let (code, stdout, stderr) = run_tool(BIN, args![&trip, &gpx], None);
    assert_eq!((code, stdout.as_str()), (1, ""));
    assert_eq!(
        stderr,
        format!(
            "geotag_from_gpx: no photos (.jpg, .jpeg) under {}\n",
            trip.display()
        )
    );
    // -q with -v: a usage error, 2.
    let (code, _, stderr) = run_tool(BIN, args![&trip, &gpx, "-q", "-v"], None);
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with("geotag_from_gpx: -q and -v cannot be used together\nUsage: "),
        "{stderr}"
    );
    // Every photo placed: 0.
    photos(dir.path(), 3, 10, 2);
    let (code, stdout, _) = run_tool(BIN, args![&trip, &gpx], None);
    assert_eq!(
        (code, stdout.as_str()),
        (0, "3 photos tagged, 0 skipped, 0 failed\n")
    );
}
