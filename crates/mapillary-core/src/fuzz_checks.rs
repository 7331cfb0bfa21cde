//! The properties the fuzzers check (fuzz/fuzz_targets/), here so that
//! their regression tests (tests/fuzz_regressions.rs) check the same
//! things on the inputs that once failed. Each function panics when a
//! property does not hold, and does nothing else visible.

use std::path::Path;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use crate::api::graph::{
    checked_answer, cluster_id_from, images_from, login_answer, organizations_from, user_from,
};
use crate::api::retry::Answer;
use crate::api::upload::{file_handle_from, offset_from};
use crate::api::{error_message, is_token_error};
use crate::capture_time::{CaptureTime, ZoneRule};
use crate::description::Description;
use crate::download::{ThumbSize, found_image, is_plain_id};
use crate::exif::read::read_head_exif;
use crate::exif::{ExifEdits, RewriteOptions, Updated, jpeg, rewrite_file};
use crate::geo::LatLon;
use crate::track::Track;
use crate::track::sanity::{MAX_ELEVATION_M, MIN_ELEVATION_M};

/// The EXIF reader on arbitrary bytes: no panic, values in range.
pub fn exif_read(data: &[u8]) {
    let Ok(head) = jpeg::parse_head(data) else {
        return;
    };
    assert!(head.sos_offset <= data.len());
    let Ok(photo) = read_head_exif(data, &head) else {
        return;
    };
    if let Some((lat, lon)) = photo.position() {
        assert!(lat.abs() <= 90.0 && lon.abs() <= 180.0, "{lat} {lon}");
    }
    if let Some(d) = photo.direction {
        assert!(d.is_finite());
    }
    if let Some(Ok(t)) = photo.capture_time() {
        let _ = t.to_timestamp(&ZoneRule::Assume(TimeZone::UTC));
    }
}

/// The safe rewrite of `data`, written to `dir/photo.jpg` (`dir` holds
/// nothing else): either the photo is refused and left byte for byte as it
/// was, or the new file parses, reads back the new capture time and
/// position, and keeps the image data (SOS to the end) byte for byte. A
/// photo written is then written again with other values (the path where
/// the writer may drop what it appended before): the same holds. No
/// temporary file is left behind.
pub fn exif_rewrite(data: &[u8], dir: &Path) {
    let path = dir.join("photo.jpg");
    std::fs::write(&path, data).expect("write the input");
    // The image data: what no rewrite may change.
    let image = jpeg::parse_head(data)
        .ok()
        .and_then(|h| data.get(h.sos_offset..));
    let first = rewrite_once(&path, dir, data, image, "2021:06:01 10:00:00", -33.5);
    if let Some(first) = first {
        // (A damaged entry kept from the original can stop the writer
        // from dropping what it appended, so the size may grow, even past
        // what a segment holds: then it is refused, unchanged.)
        let _ = rewrite_once(&path, dir, &first, image, "2022:07:02 11:30:00", 48.25);
    }
    std::fs::remove_file(&path).expect("clean up");
}

/// One rewrite of the photo at `path` (now `before`, with `image` data)
/// with a capture time and a latitude; the new bytes if it was written.
fn rewrite_once(
    path: &Path,
    dir: &Path,
    before: &[u8],
    image: Option<&[u8]>,
    date_time: &str,
    lat: f64,
) -> Option<Vec<u8>> {
    let time =
        CaptureTime::from_exif(date_time, Some("250"), Some("+02:00")).expect("a valid time");
    let instant = time
        .to_timestamp(&ZoneRule::Assume(TimeZone::UTC))
        .expect("a known zone");
    let mut edits = ExifEdits::new();
    edits.set_capture_time(&time).set_gps_fix(
        LatLon::new(lat, 151.25),
        Some(12.5),
        Some(271.0),
        instant,
    );
    let result = rewrite_file(path, &edits, RewriteOptions::default());
    let after = std::fs::read(path).expect("the photo is still there");
    let entries = std::fs::read_dir(dir).expect("scratch").count();
    assert_eq!(entries, 1, "a temporary file was left behind");
    match result {
        Ok(Updated::Written) => {
            let head = jpeg::parse_head(&after).expect("the rewritten photo parses");
            let photo = read_head_exif(&after, &head).expect("its EXIF parses");
            let back = photo
                .date_time_original
                .clone()
                .expect("DateTimeOriginal is there")
                .expect("and valid");
            assert_eq!(back, time);
            let (got_lat, got_lon) = photo.position().expect("a position");
            assert!((got_lat - lat).abs() < 1e-7 && (got_lon - 151.25).abs() < 1e-7);
            let image = image.expect("the original parsed");
            assert!(after[head.sos_offset..] == *image, "the image data changed");
            Some(after)
        }
        Ok(other) => panic!("unexpected outcome {other:?}"),
        Err(_) => {
            assert!(after == before, "a refused photo changed");
            None
        }
    }
}

/// The GPX loader on an arbitrary document: no panic; an error is one
/// printable line naming the file; a loaded track has timed points, one per
/// instant in time order, positions and elevations in range, at most one
/// finding of each kind, and locates instants inside it in range.
pub fn gpx_load(data: &[u8]) {
    let track = match Track::read(data, Path::new("fuzz.gpx")) {
        Ok(track) => track,
        Err(e) => {
            let message = e.to_string();
            assert!(message.starts_with("fuzz.gpx: "), "{message:?}");
            assert!(!message.chars().any(char::is_control), "{message:?}");
            return;
        }
    };
    let points = track.points();
    assert!(!points.is_empty(), "a track without timed points loaded");
    assert!(
        points.windows(2).all(|w| w[0].time < w[1].time),
        "unsorted, or two points at one instant"
    );
    for p in points {
        let LatLon { lat, lon } = p.position;
        assert!(lat.abs() <= 90.0 && lon.abs() <= 180.0, "{p:?}");
        if let Some(e) = p.elevation {
            assert!((MIN_ELEVATION_M..=MAX_ELEVATION_M).contains(&e), "{p:?}");
        }
    }
    let findings = track.findings();
    for (i, f) in findings.iter().enumerate() {
        let kind = std::mem::discriminant(&f.finding);
        assert!(
            findings[..i]
                .iter()
                .all(|g| std::mem::discriminant(&g.finding) != kind),
            "{findings:?}"
        );
        let message = f.finding.to_string();
        assert!(!message.chars().any(char::is_control), "{message:?}");
    }
    let (first, last) = (points[0].time, points[points.len() - 1].time);
    let quarter = last.duration_since(first) / 4;
    for k in 0..=4 {
        let t = first.checked_add(quarter * k).unwrap_or(first);
        for gap in [SignedDuration::from_secs(1800), SignedDuration::MAX] {
            if let Ok(fix) = track.locate(t, gap) {
                let p = fix.position;
                assert!(p.lat.abs() <= 90.0 && p.lon.abs() <= 180.0, "{p:?}");
                if let Some(b) = fix.bearing {
                    assert!((0.0..360.0).contains(&b), "bearing {b}");
                }
            }
        }
    }
    let _ = track.locate(Timestamp::MIN, SignedDuration::MAX);
    let _ = track.locate(Timestamp::MAX, SignedDuration::MAX);
}

/// What the client makes of a server's answer (two bytes of status, then
/// the body): no panic; error messages are one line; image ids that become
/// file names are plain; positions are in range.
pub fn server_json(data: &[u8]) {
    if data.len() < 2 {
        return;
    }
    let status = 100 + u16::from_le_bytes([data[0], data[1]]) % 500;
    let body = String::from_utf8_lossy(&data[2..]).into_owned();
    let message = error_message(&body);
    assert!(!message.contains(['\n', '\r']), "{message:?}");
    let _ = is_token_error(status, &body);
    let answer = Answer {
        status,
        retry_after: None,
        body: body.clone(),
    };
    if let Err(e) = login_answer(&answer) {
        assert!(!e.to_string().contains('\n'), "{e}");
    }
    let _ = offset_from(&body);
    let _ = file_handle_from(&body);
    if let Ok(v) = checked_answer(answer) {
        let _ = user_from(&v);
        let _ = organizations_from(&v);
        let _ = cluster_id_from(&v);
        if let Ok(items) = images_from(&v) {
            for item in &items {
                for size in [ThumbSize::S256, ThumbSize::S1024, ThumbSize::Original] {
                    if let Ok(image) = found_image(item, size) {
                        assert!(is_plain_id(&image.id), "{:?}", image.id);
                        assert!(image.lat.abs() <= 90.0 && image.lon.abs() <= 180.0);
                    }
                }
            }
        }
    }
    if let Ok(d) = Description::parse(&body) {
        let _ = d.to_json();
        let _ = d.for_upload();
        let _ = d.capture_time();
    }
}
