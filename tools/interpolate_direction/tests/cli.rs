//! interpolate_direction, run as a user runs it.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::fs;
use std::path::{Path, PathBuf};

use mapillary_testkit::{
    args, assert_line, exiftool, image_data, photo_edits, run_tool, unexpected_changes,
    workspace_root, write_photo,
};

const BIN: &str = env!("CARGO_BIN_EXE_interpolate_direction");

fn photo(dir: &Path, name: &str, time: &str, position: Option<(f64, f64)>) -> PathBuf {
    let p = dir.join(name);
    write_photo(
        &p,
        name.len() as u32,
        &photo_edits(time, Some("+00:00"), position),
    );
    p
}

#[test]
fn bearings_to_the_next_photo_with_an_angle() {
    let Some(tool) = exiftool() else { return };
    let dir = tempfile::tempdir().unwrap();
    // Path order is not time order: d, c, b, a.
    let files = [
        photo(dir.path(), "d.jpg", "2021:06:01 10:00:00", Some((0.0, 0.0))),
        photo(
            dir.path(),
            "c.jpg",
            "2021:06:01 10:00:02",
            Some((0.0, 0.001)),
        ), // east of d
        photo(
            dir.path(),
            "b.jpg",
            "2021:06:01 10:00:04",
            Some((0.0, 0.001)),
        ), // stopped
        photo(
            dir.path(),
            "a.jpg",
            "2021:06:01 10:00:06",
            Some((0.001, 0.001)),
        ), // north
    ];
    let before = tool.listings(&files);
    let images: Vec<Vec<u8>> = files.iter().map(|f| image_data(f)).collect();
    let (code, stdout, stderr) = run_tool(BIN, args![dir.path(), "-90"], None);
    assert_eq!(code, 0, "{stderr}");
    assert_line(&stdout, "4 photos given a direction, 0 skipped, 0 failed");
    let after = tool.listings(&files);
    let directions: Vec<String> = files
        .iter()
        .map(|f| tool.values(f, &["-n", "-GPSImgDirection", "-GPSImgDirectionRef"]))
        .collect();
    // d → c is due east (90°) on the equator; -90 makes it 0. c and b are
    // at one spot: both look to a, due north (0°), -90 → 270. a is last:
    // b's direction.
    assert_eq!(directions, ["0\nT", "270\nT", "270\nT", "270\nT"]);
    for (i, f) in files.iter().enumerate() {
        let problems = unexpected_changes(
            &before[f],
            &after[f],
            &["GPSImgDirection", "GPSImgDirectionRef"],
            0,
        );
        // The head grew, which exiftool does not list; nothing else moved.
        assert!(problems.is_empty(), "{}: {problems:?}", f.display());
        assert_eq!(image_data(f), images[i]);
    }
}

#[test]
fn skips_photos_without_position_or_time_and_handles_a_lone_photo() {
    let dir = tempfile::tempdir().unwrap();
    let lone = photo(
        dir.path(),
        "lone.jpg",
        "2021:06:01 10:00:00",
        Some((10.0, 10.0)),
    );
    let no_gps = photo(dir.path(), "nogps.jpg", "2021:06:01 10:00:01", None);
    let no_time = dir.path().join("notime.jpg");
    let mut edits = photo_edits("2021:06:01 10:00:00", None, Some((1.0, 1.0)));
    edits.remove(mapillary_core::exif::tags::DATE_TIME_ORIGINAL);
    write_photo(&no_time, 4, &edits);
    let untouched = (fs::read(&no_gps).unwrap(), fs::read(&no_time).unwrap());
    let (code, stdout, stderr) = run_tool(BIN, args![dir.path(), "45.5"], None);
    assert_eq!(code, 1);
    assert_line(
        &stderr,
        &format!(
            "interpolate_direction: {}: skipped: no GPS position",
            no_gps.display()
        ),
    );
    assert_line(
        &stderr,
        &format!(
            "interpolate_direction: {}: skipped: no capture time (DateTimeOriginal)",
            no_time.display()
        ),
    );
    assert_line(&stdout, &format!("{}: direction 45.50", lone.display()));
    assert_line(&stdout, "1 photo given a direction, 2 skipped, 0 failed");
    assert_eq!(
        (fs::read(&no_gps).unwrap(), fs::read(&no_time).unwrap()),
        untouched
    );
    let e = mapillary_core::exif::read_exif(&lone).unwrap();
    assert_eq!(e.direction, Some(45.5));
    assert_eq!(e.direction_ref.as_deref(), Some("T"));
    // The position is kept.
    assert_eq!(e.position(), Some((10.0, 10.0)));
}

#[test]
fn usage_errors_and_docs() {
    let dir = tempfile::tempdir().unwrap();
    for (a, message) in [
        (
            vec![dir.path().as_os_str(), "left".as_ref()],
            "offset_angle must be a number of degrees, not 'left'",
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
                "interpolate_direction: {message}\nUsage: interpolate_direction [options] path [offset_angle] (see interpolate_direction --help)\n"
            )
        );
    }
    let (_, man, _) = run_tool(BIN, args!["--generate-man"], None);
    let committed = fs::read_to_string(workspace_root().join("docs/man/interpolate_direction.1"))
        .unwrap_or_default();
    assert_eq!(
        man, committed,
        "docs/man/interpolate_direction.1 is out of date: run `make man`"
    );
}
