//! The sample trip shipped in `testdata/`: two short walks in Berlin with a
//! GPS track, made by this code so that anyone can regenerate it (and a
//! test checks that the committed files are what it makes).
//!
//! - `testdata/trip/IMG_0001.jpg` … `IMG_0024.jpg`: 320×240 photos whose
//!   EXIF holds a camera make and model, DateTimeOriginal (camera-local
//!   time, Europe/Berlin summer time) with OffsetTimeOriginal `+02:00`, and
//!   no GPS; twelve from a walk at 12:00 local time, twelve from a walk half
//!   an hour later.
//! - `testdata/trip.gpx`: a GPX 1.1 track logged once a second over both
//!   walks (two segments), with elevation.
//! - `testdata/frames/frame_001.jpg` … `frame_006.jpg`: frames "extracted
//!   from a video", without any EXIF (what add_fix_dates is for).

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::Path;

use mapillary_core::capture_time::CaptureTime;
use mapillary_core::exif::{ExifEdits, RewriteOptions, Value, rewrite_file, tags};

use crate::plain_jpeg;

/// One walk: where it starts, which way it goes, when.
struct Walk {
    /// Start, decimal degrees.
    lat: f64,
    lon: f64,
    /// Metres per second north and east.
    north: f64,
    east: f64,
    /// Seconds after 10:00:00 UTC on 2021-06-01.
    start: u32,
    /// Length in seconds.
    seconds: u32,
    /// Elevation at the start, metres.
    elevation: f64,
}

const WALKS: [Walk; 2] = [
    // Along the Straße des 17. Juni, eastwards, curving slightly north.
    Walk {
        lat: 52.514_20,
        lon: 13.350_10,
        north: 0.15,
        east: 1.35,
        start: 0,
        seconds: 130,
        elevation: 34.0,
    },
    // Through the Tiergarten, northwards.
    Walk {
        lat: 52.512_00,
        lon: 13.362_00,
        north: 1.30,
        east: -0.20,
        start: 1800,
        seconds: 130,
        elevation: 36.0,
    },
];

/// Degrees of latitude per metre (mean), and of longitude at 52.5° N.
const LAT_PER_M: f64 = 1.0 / 111_195.0;
const LON_PER_M: f64 = 1.0 / (111_195.0 * 0.608_761);

fn position(walk: &Walk, t: f64) -> (f64, f64, f64) {
    // A gentle sideways wobble makes the bearing change along the walk.
    let wobble = (t / 20.0).sin() * 0.3;
    let north = walk.north * t + wobble * walk.east.signum() * 3.0;
    let east = walk.east * t + wobble * walk.north.signum() * 3.0;
    (
        walk.lat + north * LAT_PER_M,
        walk.lon + east * LON_PER_M,
        walk.elevation + t * 0.02,
    )
}

fn utc(seconds_after_ten: u32) -> String {
    let s = 10 * 3600 + seconds_after_ten;
    format!(
        "2021-06-01T{:02}:{:02}:{:02}Z",
        s / 3600,
        (s / 60) % 60,
        s % 60
    )
}

/// The GPX text of the track.
pub fn gpx() -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <gpx version=\"1.1\" creator=\"mapillary-tools-rs make-testdata\" xmlns=\"http://www.topografix.com/GPX/1/1\">\n\
         <trk><name>Sample trip, Berlin</name>\n",
    );
    for walk in &WALKS {
        out.push_str("<trkseg>\n");
        for t in 0..=walk.seconds {
            let (lat, lon, ele) = position(walk, f64::from(t));
            let _ = writeln!(
                out,
                "<trkpt lat=\"{lat:.7}\" lon=\"{lon:.7}\"><ele>{ele:.1}</ele><time>{}</time></trkpt>",
                utc(walk.start + t)
            );
        }
        out.push_str("</trkseg>\n");
    }
    out.push_str("</trk>\n</gpx>\n");
    out
}

/// Writes the sample trip into `testdata`.
pub fn write(testdata: &Path) -> io::Result<()> {
    let trip = testdata.join("trip");
    let frames = testdata.join("frames");
    fs::create_dir_all(&trip)?;
    fs::create_dir_all(&frames)?;
    fs::write(testdata.join("trip.gpx"), gpx())?;
    let mut n = 1;
    for walk in &WALKS {
        for k in 0..12u32 {
            // Every 10 s from 5 s into the walk; the camera clock shows
            // Berlin summer time.
            let t = walk.start + 5 + 10 * k;
            let local = 12 * 3600 + t;
            let time = format!(
                "2021:06:01 {:02}:{:02}:{:02}",
                local / 3600,
                (local / 60) % 60,
                local % 60
            );
            let path = trip.join(format!("IMG_{n:04}.jpg"));
            fs::write(&path, plain_jpeg(320, 240, n))?;
            let mut edits = ExifEdits::new();
            edits
                .set_capture_time(
                    &CaptureTime::from_exif(&time, None, Some("+02:00"))
                        .map_err(io::Error::other)?,
                )
                .set_text(tags::MAKE, "Sample")
                .set_text(tags::MODEL, "Trip Camera")
                .set(tags::ORIENTATION, Value::Short(vec![1]));
            let no_sync = RewriteOptions {
                dry_run: false,
                sync: false,
                ..RewriteOptions::default()
            };
            rewrite_file(&path, &edits, no_sync).map_err(io::Error::other)?;
            n += 1;
        }
    }
    for k in 1..=6u32 {
        fs::write(
            frames.join(format!("frame_{k:03}.jpg")),
            plain_jpeg(320, 180, 100 + k),
        )?;
    }
    Ok(())
}
