//! The project's EXIF reader against exiftool on every corpus file: the
//! capture time, position, altitude, direction, GPS time, orientation,
//! make, model and description must be what exiftool reads.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::path::PathBuf;
use std::process::Command;

use mapillary_core::exif::read_exif;
use mapillary_testkit::{corpus, exiftool, files_with_extension};
use serde_json::Value;

fn number(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64)
}

fn text(v: &Value, key: &str) -> Option<String> {
    let s = match v.get(key)? {
        Value::String(s) => s.trim().to_string(),
        other => other.to_string(),
    };
    (!s.is_empty()).then_some(s)
}

#[test]
fn reader_agrees_with_exiftool_on_the_corpus() {
    let (Some(vendors), Some(mly), Some(_)) = (
        corpus("exiftool-vendors"),
        corpus("mapillary-tools"),
        exiftool(),
    ) else {
        return;
    };
    let mut files: Vec<PathBuf> = files_with_extension(&vendors, &["jpg"]);
    files.extend(files_with_extension(&mly.join("cameras"), &["jpg"]));
    files.extend(files_with_extension(&mly.join("corrupt"), &["jpg"]));
    let out = Command::new("exiftool")
        .args(["-j", "-n", "-G1", "-a"])
        .args([
            "-Composite:GPSLatitude",
            "-Composite:GPSLongitude",
            "-GPS:GPSAltitude",
            "-GPS:GPSAltitudeRef",
            "-GPS:GPSImgDirection",
            "-XMP-exif:GPSLatitude",
            "-XMP-exif:GPSLongitude",
            "-XMP-exif:GPSAltitude",
            "-XMP-exif:GPSAltitudeRef",
            "-XMP-exif:GPSImgDirection",
            "-Composite:GPSDateTime",
            "-IFD0:Orientation",
            "-IFD0:Make",
            "-IFD0:Model",
            "-IFD0:ImageDescription",
            "-ExifIFD:DateTimeOriginal",
        ])
        .args(&files)
        .output()
        .unwrap();
    let listing: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listing.len(), files.len());
    let mut problems = Vec::new();
    let mut checked_positions = 0;
    for (file, tool) in files.iter().zip(&listing) {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let Ok(ours) = read_exif(file) else {
            problems.push(format!("{name}: unreadable"));
            continue;
        };
        // The EXIF GPS IFD first; the XMP exif: namespace when the EXIF has
        // no position, as the reader does.
        let exif_position = number(tool, "Composite:GPSLatitude").is_some();
        let xmp_position = number(tool, "XMP-exif:GPSLatitude").is_some();
        let group = if !exif_position && xmp_position {
            "XMP-exif"
        } else {
            "GPS"
        };
        let altitude = number(tool, &format!("{group}:GPSAltitude")).map(|a| {
            if number(tool, &format!("{group}:GPSAltitudeRef")) == Some(1.0) {
                -a
            } else {
                a
            }
        });
        let latitude =
            number(tool, "Composite:GPSLatitude").or_else(|| number(tool, "XMP-exif:GPSLatitude"));
        let longitude = number(tool, "Composite:GPSLongitude")
            .or_else(|| number(tool, "XMP-exif:GPSLongitude"));
        let direction = number(tool, &format!("{group}:GPSImgDirection"));
        let close = |a: Option<f64>, b: Option<f64>, tol: f64| match (a, b) {
            (None, None) => true,
            (Some(a), Some(b)) => (a - b).abs() <= tol,
            _ => false,
        };
        let pairs = [
            ("latitude", ours.latitude, latitude, 1e-9),
            ("longitude", ours.longitude, longitude, 1e-9),
            // exiftool prints ten significant digits.
            ("altitude", ours.altitude, altitude, 1e-6),
            ("direction", ours.direction, direction, 1e-6),
            (
                "orientation",
                ours.orientation.map(f64::from),
                number(tool, "IFD0:Orientation").filter(|o| (1.0..=8.0).contains(o)),
                0.0,
            ),
        ];
        for (what, a, b, tol) in pairs {
            if !close(a, b, tol) {
                problems.push(format!("{name}: {what} ours {a:?}, exiftool {b:?}"));
            }
        }
        if ours.latitude.is_some() {
            checked_positions += 1;
        }
        for (what, a, b) in [
            ("make", ours.make.clone(), text(tool, "IFD0:Make")),
            ("model", ours.model.clone(), text(tool, "IFD0:Model")),
            (
                "description",
                ours.image_description.clone(),
                text(tool, "IFD0:ImageDescription"),
            ),
        ] {
            // Stored as int16u, not text: the reader does not take a number
            // for a description.
            let known = name == "corrupt_exif_trusted_wrong_type.jpg"
                && what == "description"
                && a.is_none();
            if a != b && !known {
                problems.push(format!("{name}: {what} ours {a:?}, exiftool {b:?}"));
            }
        }
        let ours_time = ours
            .date_time_original
            .clone()
            .and_then(Result::ok)
            .map(|t| t.exif_date_time());
        let tool_time =
            text(tool, "ExifIFD:DateTimeOriginal").map(|t| t.chars().take(19).collect::<String>());
        if ours_time != tool_time {
            problems.push(format!(
                "{name}: DateTimeOriginal ours {ours_time:?}, exiftool {tool_time:?}"
            ));
        }
        let ours_gps = ours
            .gps_time
            .map(|t| t.strftime("%Y:%m:%d %H:%M:%S").to_string());
        // exiftool makes a GPSDateTime of "00:00:00Z" from an empty date
        // stamp and a 0/0 time (InfiRay); only full date-times count.
        let tool_gps = text(tool, "Composite:GPSDateTime")
            .filter(|t| t.len() >= 19)
            .map(|t| t.chars().take(19).collect::<String>());
        if ours_gps != tool_gps {
            problems.push(format!(
                "{name}: GPS time ours {ours_gps:?}, exiftool {tool_gps:?}"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(
        checked_positions >= 6,
        "only {checked_positions} files with GPS were compared"
    );
}
