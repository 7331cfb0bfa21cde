//! time_split and an OffsetTimeOriginal that is not a UTC offset: each
//! photo says what was used instead, and is still split by its time.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::process::Command;

use mapillary_core::exif::tags;
use mapillary_testkit::{photo_edits, write_photo};

const BIN: &str = env!("CARGO_BIN_EXE_time_split");

#[test]
fn each_photo_with_an_invalid_offset_says_which_zone_was_used() {
    let dir = tempfile::tempdir().unwrap();
    let mut names = Vec::new();
    for (i, (text, time)) in [
        ("+99:99", "2021:06:01 12:00:00"),
        ("garbage", "2021:06:01 12:00:01"),
        ("+02:00", "2021:06:01 13:00:00"),
    ]
    .into_iter()
    .enumerate()
    {
        let p = dir.path().join(format!("p{i}.jpg"));
        let mut edits = photo_edits(time, None, None);
        edits.set_text(tags::OFFSET_TIME_ORIGINAL, text);
        write_photo(&p, i as u32, &edits);
        names.push(p);
    }
    let out = Command::new(BIN)
        .arg(dir.path())
        .arg("60")
        .env("TZ", "Europe/Berlin")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let expected: Vec<String> = [("+99:99", &names[0]), ("garbage", &names[1])]
        .iter()
        .map(|(text, p)| {
            format!(
                "time_split: {}: OffsetTimeOriginal '{text}' is not a UTC offset; used the computer's zone (Europe/Berlin, +02:00)",
                p.display()
            )
        })
        .collect();
    let mut lines: Vec<&str> = stderr.lines().collect();
    lines.sort_unstable();
    assert_eq!(lines, expected);
    // Placed in Berlin time, the first two are one group; the third (13:00
    // at +02:00) an hour later is the next.
    assert!(dir.path().join("0/p0.jpg").is_file() && dir.path().join("0/p1.jpg").is_file());
    assert!(dir.path().join("1/p2.jpg").is_file());
}
