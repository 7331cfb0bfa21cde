//! geotag_from_gpx and an OffsetTimeOriginal that is not a UTC offset:
//! the photo says which zone was used instead, and is placed by it.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::fs;
use std::process::Command;

use mapillary_core::exif::{read_exif, tags};
use mapillary_testkit::{photo_edits, write_photo};

const BIN: &str = env!("CARGO_BIN_EXE_geotag_from_gpx");

#[test]
fn a_photo_with_an_invalid_offset_says_which_zone_was_used() {
    for text in ["+99:99", "garbage"] {
        let dir = tempfile::tempdir().unwrap();
        let track = dir.path().join("track.gpx");
        // 10:00 UTC is 12:00 in Berlin (summer time).
        fs::write(
            &track,
            "<?xml version=\"1.0\"?><gpx version=\"1.1\" creator=\"t\" xmlns=\"http://www.topografix.com/GPX/1/1\"><trk><trkseg>\
             <trkpt lat=\"52.0\" lon=\"13.0\"><time>2021-06-01T09:59:00Z</time></trkpt>\
             <trkpt lat=\"52.2\" lon=\"13.0\"><time>2021-06-01T10:01:00Z</time></trkpt>\
             </trkseg></trk></gpx>",
        )
        .unwrap();
        let photo = dir.path().join("a.jpg");
        let mut edits = photo_edits("2021:06:01 12:00:00", None, None);
        edits.set_text(tags::OFFSET_TIME_ORIGINAL, text);
        write_photo(&photo, 1, &edits);
        let out = Command::new(BIN)
            .arg(&photo)
            .arg(&track)
            .env("TZ", "Europe/Berlin")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        assert_eq!(
            stderr,
            format!(
                "geotag_from_gpx: {}: OffsetTimeOriginal '{text}' is not a UTC offset; used the computer's zone (Europe/Berlin, +02:00)\n",
                photo.display()
            )
        );
        let lat = read_exif(&photo).unwrap().latitude.unwrap();
        assert!((lat - 52.1).abs() < 1e-6, "{lat}");
    }
}
