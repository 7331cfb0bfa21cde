//! interpolate_direction and an OffsetTimeOriginal that is not a UTC
//! offset: each photo says what was used instead.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::process::Command;

use mapillary_core::exif::tags;
use mapillary_testkit::{assert_line, photo_edits, write_photo};

const BIN: &str = env!("CARGO_BIN_EXE_interpolate_direction");

#[test]
fn each_photo_with_an_invalid_offset_says_which_zone_was_used() {
    let dir = tempfile::tempdir().unwrap();
    let mut names = Vec::new();
    for (i, text) in ["+99:99", "garbage"].into_iter().enumerate() {
        let p = dir.path().join(format!("p{i}.jpg"));
        let mut edits = photo_edits(
            &format!("2021:12:01 12:00:0{i}"),
            None,
            Some((52.5 + i as f64 * 1e-4, 13.4)),
        );
        edits.set_text(tags::OFFSET_TIME_ORIGINAL, text);
        write_photo(&p, i as u32, &edits);
        names.push((text, p));
    }
    let out = Command::new(BIN)
        .arg(dir.path())
        .env("TZ", "Europe/Berlin")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let mut lines: Vec<&str> = stderr.lines().collect();
    lines.sort_unstable();
    let expected: Vec<String> = names
        .iter()
        .map(|(text, p)| {
            format!(
                "interpolate_direction: {}: OffsetTimeOriginal '{text}' is not a UTC offset; used the computer's zone (Europe/Berlin, +01:00)",
                p.display()
            )
        })
        .collect();
    assert_eq!(lines, expected);
    // p0 is first in time, so it looks north to p1.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_line(
        &stdout,
        &format!("{}: direction 0.00", dir.path().join("p0.jpg").display()),
    );
}
