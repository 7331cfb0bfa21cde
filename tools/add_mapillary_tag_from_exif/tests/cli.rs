//! add_mapillary_tag_from_exif, run as a user runs it.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use mapillary_core::exif::{ExifEdits, Value as ExifValue, read_exif, tags};
use mapillary_testkit::{
    args, assert_line, copy_files, corpus, exiftool, files_with_extension, image_data,
    line_starting, photo_edits, run_tool, unexpected_changes, workspace_root, write_photo,
};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_add_mapillary_tag_from_exif");

/// The official client's schema for EXIF-embedded descriptions, compiled
/// here independently of the tool's own check.
fn schema_validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(mapillary_core::description::SCHEMA).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

fn description(path: &Path) -> Value {
    let text = read_exif(path)
        .unwrap()
        .image_description
        .expect("a description");
    serde_json::from_str(&text).unwrap()
}

/// Runs the tool with no credentials and an API endpoint that cannot be
/// reached: tagging must not need the network.
fn tag(args: &[&std::ffi::OsStr]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("MAPILLARY_USERNAME")
        .env("HOME", "/nonexistent")
        .env("MAPILLARY_GRAPH_API_ENDPOINT", "http://192.0.2.1:9")
        .output()
        .unwrap();
    let (o, e) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(!e.contains("panicked"), "{e}");
    (out.status.code().unwrap(), o, e)
}

fn trip(dir: &Path) -> Vec<PathBuf> {
    let files: Vec<PathBuf> = (0..3).map(|i| dir.join(format!("IMG_{i}.jpg"))).collect();
    for (i, f) in files.iter().enumerate() {
        let edits = photo_edits(
            &format!("2021:06:01 12:00:0{i}"),
            Some("+02:00"),
            Some((52.5 + i as f64 * 1e-4, -13.4)),
        );
        write_photo(f, i as u32, &edits);
    }
    files
}

#[test]
fn photos_close_together_are_one_sequence_and_the_schema_holds() {
    let dir = tempfile::tempdir().unwrap();
    let files = trip(dir.path());
    let (code, stdout, stderr) = tag(args![dir.path()]);
    assert_eq!(code, 0, "{stderr}");
    let descriptions: Vec<Value> = files.iter().map(|f| description(f)).collect();
    // The summary names the sequence the photos got.
    assert_line(
        &stdout,
        &format!(
            "3 photos tagged, 0 skipped, 0 failed (sequence {})",
            descriptions[0]["MAPSequenceUUID"].as_str().unwrap()
        ),
    );
    let sequences: BTreeSet<&str> = descriptions
        .iter()
        .map(|d| d["MAPSequenceUUID"].as_str().unwrap())
        .collect();
    assert_eq!(sequences.len(), 1, "one sequence per run");
    let d = &descriptions[1];
    assert_eq!(d["MAPCaptureTime"], "2021_06_01_10_00_01_000");
    assert_eq!(d["MAPLatitude"].as_f64().unwrap(), 52.5001);
    assert_eq!(d["MAPLongitude"].as_f64().unwrap(), -13.4);
    assert_eq!(d["MAPOrientation"], 1);
    assert_eq!(d["MAPFilename"], "IMG_1.jpg");

    // Read back, each description satisfies the official client's schema
    // for EXIF-embedded descriptions.
    let validator = schema_validator();
    for (file, d) in files.iter().zip(&descriptions) {
        let errors: Vec<String> = validator.iter_errors(d).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{}: {errors:?}\n{d}", file.display());
    }
    // A second run makes a new sequence.
    let (code, _, _) = tag(args![dir.path()]);
    assert_eq!(code, 0);
    assert_ne!(
        description(&files[0])["MAPSequenceUUID"],
        descriptions[0]["MAPSequenceUUID"]
    );
}

#[test]
fn photos_missing_a_required_tag_are_skipped_with_the_tag_named() {
    let dir = tempfile::tempdir().unwrap();
    trip(dir.path());
    let no_gps = dir.path().join("no_gps.jpg");
    write_photo(&no_gps, 7, &photo_edits("2021:06:01 12:00:09", None, None));
    let no_time = dir.path().join("no_time.jpg");
    write_photo(&no_time, 8, &ExifEdits::new());
    let before = (fs::read(&no_gps).unwrap(), fs::read(&no_time).unwrap());
    let (code, stdout, stderr) = tag(args![dir.path(), "seq_A-1"]);
    assert_eq!(code, 1);
    for photo in [&no_gps, &no_time] {
        assert_line(
            &stderr,
            &format!(
                "add_mapillary_tag_from_exif: {}: skipped: no GPSLatitude",
                photo.display()
            ),
        );
    }
    assert_line(
        &stdout,
        "3 photos tagged, 2 skipped, 0 failed (sequence seq_A-1)",
    );
    assert_eq!(
        (fs::read(&no_gps).unwrap(), fs::read(&no_time).unwrap()),
        before
    );
    assert_eq!(
        description(&dir.path().join("IMG_0.jpg"))["MAPSequenceUUID"],
        "seq_A-1"
    );
}

#[test]
fn a_position_without_any_time_names_the_capture_time() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("a.jpg");
    let mut edits = photo_edits("2021:06:01 12:00:00", None, Some((1.0, 2.0)));
    edits.remove(tags::DATE_TIME_ORIGINAL);
    write_photo(&f, 1, &edits);
    let (code, _, stderr) = tag(args![f]);
    assert_eq!(code, 1);
    assert_line(
        &stderr,
        &format!(
            "add_mapillary_tag_from_exif: {}: skipped: no capture time (GPSDateStamp with GPSTimeStamp, DateTimeOriginal, DateTimeDigitized or DateTime)",
            f.display()
        ),
    );
}

#[test]
fn camera_photos_keep_every_other_tag() {
    let (Some(mly), Some(tool)) = (corpus("mapillary-tools"), exiftool()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let copies = copy_files(
        &files_with_extension(&mly.join("cameras"), &["jpg"]),
        dir.path(),
    )
    .unwrap();
    let before = tool.listings(&copies);
    let images: Vec<Vec<u8>> = copies.iter().map(|c| image_data(c)).collect();
    let sizes: Vec<u64> = copies
        .iter()
        .map(|c| fs::metadata(c).unwrap().len())
        .collect();
    let (code, stdout, stderr) = tag(args![dir.path(), "--timezone", "UTC"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let after = tool.listings(&copies);
    for (i, c) in copies.iter().enumerate() {
        let growth = fs::metadata(c).unwrap().len() as i64 - sizes[i] as i64;
        let problems = unexpected_changes(&before[c], &after[c], &["ImageDescription"], growth);
        assert!(problems.is_empty(), "{}: {problems:?}", c.display());
        assert_eq!(image_data(c), images[i]);
        let text = tool.values(c, &["-IFD0:ImageDescription"]);
        let d: Value = serde_json::from_str(&text).unwrap();
        assert!(
            d["MAPLatitude"].is_number() && d["MAPCaptureTime"].is_string(),
            "{d}"
        );
    }
    // DSC00001: the GPS clock (20:24:11 UTC) comes first, and --timezone
    // does not move it: it places camera times only.
    let sony = description(&dir.path().join("DSC00001.JPG"));
    assert_eq!(sony["MAPCaptureTime"], "2018_06_08_20_24_11_000");
    assert_eq!(sony["MAPDeviceMake"], "SONY");
    // No GPSImgDirection: the heading is the GPSTrack.
    assert_eq!(
        sony["MAPCompassHeading"],
        serde_json::json!({"TrueHeading": 270.89, "MagneticHeading": 270.89})
    );
}

/// Runs the tool with the computer's zone set to `tz`.
fn tag_in_zone(tz: &str, args: &[&std::ffi::OsStr]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .env("TZ", tz)
        .env_remove("MAPILLARY_USERNAME")
        .env("HOME", "/nonexistent")
        .output()
        .unwrap();
    let (o, e) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(!e.contains("panicked"), "{e}");
    (out.status.code().unwrap(), o, e)
}

/// GPSDateStamp/GPSTimeStamp edits: `date` at `h:m:s` UTC.
fn gps_clock(edits: &mut ExifEdits, date: &str, h: u32, m: u32, s_millis: u32) {
    edits.set_text(tags::GPS_DATE_STAMP, date).set(
        tags::GPS_TIME_STAMP,
        ExifValue::Rational(vec![(h, 1), (m, 1), (s_millis, 1000)]),
    );
}

#[test]
fn the_gps_clock_comes_first_unless_it_reads_1970() {
    let dir = tempfile::tempdir().unwrap();
    let (gps, unset) = (dir.path().join("gps.jpg"), dir.path().join("unset.jpg"));
    // The camera clock says 12:00:00 in Berlin (10:00:00 UTC); the GPS
    // clock says 10:00:02.5 UTC.
    let mut edits = photo_edits("2021:06:01 12:00:00", None, Some((52.5, 13.4)));
    gps_clock(&mut edits, "2021:06:01", 10, 0, 2500);
    write_photo(&gps, 1, &edits);
    // A metre away, so that the sequence rules do not take it for a
    // duplicate.
    let mut edits = photo_edits("2021:06:01 12:00:00", None, Some((52.500_01, 13.4)));
    gps_clock(&mut edits, "1970:01:01", 0, 0, 0);
    write_photo(&unset, 2, &edits);
    let (code, _, stderr) = tag_in_zone("Europe/Berlin", args![dir.path()]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        description(&gps)["MAPCaptureTime"],
        "2021_06_01_10_00_02_500"
    );
    assert_eq!(
        description(&unset)["MAPCaptureTime"],
        "2021_06_01_10_00_00_000"
    );
}

#[test]
fn the_file_offset_is_used_when_no_zone_is_forced() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("a.jpg");
    write_photo(
        &f,
        1,
        &photo_edits("2018:06:08 13:24:10", Some("-07:00"), Some((45.5, -122.5))),
    );
    let (code, _, stderr) = tag_in_zone("Asia/Tokyo", args![&f]);
    assert_eq!(code, 0, "{stderr}");
    // 13:24:10 at -07:00 is 20:24:10 UTC, whatever the computer's zone.
    assert_eq!(description(&f)["MAPCaptureTime"], "2018_06_08_20_24_10_000");
}

#[test]
fn an_invalid_offset_is_reported_with_the_zone_used_instead() {
    for text in ["+99:99", "garbage"] {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.jpg");
        let mut edits = photo_edits("2021:06:01 12:00:00", None, Some((52.5, 13.4)));
        edits.set_text(tags::OFFSET_TIME_ORIGINAL, text);
        write_photo(&f, 1, &edits);
        let (code, stdout, stderr) = tag_in_zone("Europe/Berlin", args![&f]);
        assert_eq!(code, 0, "a warning, not a failure: {stderr}");
        assert_eq!(
            stderr,
            format!(
                "add_mapillary_tag_from_exif: {}: OffsetTimeOriginal '{text}' is not a UTC offset; used the computer's zone (Europe/Berlin, +02:00)\n",
                f.display()
            )
        );
        let summary = format!(
            "1 photo tagged, 0 skipped, 0 failed (sequence {})",
            description(&f)["MAPSequenceUUID"].as_str().unwrap()
        );
        assert_line(&stdout, &summary);
        assert_eq!(description(&f)["MAPCaptureTime"], "2021_06_01_10_00_00_000");
        // With the GPS clock, the camera's offset does not matter: no word.
        let mut edits = photo_edits("2021:06:01 12:00:00", None, Some((52.5, 13.4)));
        edits.set_text(tags::OFFSET_TIME_ORIGINAL, text);
        gps_clock(&mut edits, "2021:06:01", 10, 0, 1000);
        write_photo(&f, 1, &edits);
        let (code, _, stderr) = tag_in_zone("Europe/Berlin", args![&f]);
        assert_eq!((code, stderr.as_str()), (0, ""));
    }
}

#[test]
fn the_camera_id_comes_from_the_serial_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("a.jpg");
    let mut edits = photo_edits("2021:06:01 12:00:00", Some("Z"), Some((52.5, 13.4)));
    edits
        .set_text(tags::BODY_SERIAL_NUMBER, "C322-1324 657219")
        .set_text(tags::LENS_SERIAL_NUMBER, "0000000000");
    write_photo(&f, 1, &edits);
    let (code, _, stderr) = tag(args![&f]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        description(&f)["MAPCameraUUID"],
        "C3221324657219_0000000000"
    );
}

#[test]
fn an_existing_mapillary_description_keeps_its_other_keys() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("app.jpg");
    let mut edits = photo_edits("2015:06:01 12:00:00", Some("+00:00"), Some((10.0, 20.0)));
    edits.set_text(
        tags::IMAGE_DESCRIPTION,
        r#"{"MAPSettingsUsername":"legacy","MAPPhotoUUID":"p-1","MAPSequenceUUID":"old","MAPOrganizationKey":"42"}"#,
    );
    write_photo(&f, 3, &edits);
    let (code, _, stderr) = tag(args!["-v", f, "new-seq"]);
    assert_eq!(code, 0, "{stderr}");
    assert_line(
        &stderr,
        &format!(
            "add_mapillary_tag_from_exif: {}: kept MAPOrganizationKey, MAPPhotoUUID, MAPSettingsUsername inside MAPMetaTags (the schema allows no other top-level keys)",
            f.display()
        ),
    );
    let d = description(&f);
    // The keys the schema does not allow at the top level are kept inside
    // MAPMetaTags, where upload still finds the organization.
    assert_eq!(
        d["MAPMetaTags"],
        serde_json::json!({"MAPSettingsUsername": "legacy", "MAPPhotoUUID": "p-1", "MAPOrganizationKey": "42"})
    );
    assert!(d.get("MAPSettingsUsername").is_none());
    assert_eq!(d["MAPSequenceUUID"], "new-seq");
    assert_eq!(d["MAPCaptureTime"], "2015_06_01_12_00_00_000");
    let errors: Vec<String> = schema_validator()
        .iter_errors(&d)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    let organization = mapillary_core::description::Description::parse(&d.to_string())
        .unwrap()
        .organization();
    assert_eq!(organization.as_deref(), Some("42"));
}

#[test]
fn a_description_that_would_not_fit_the_schema_is_not_written() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("app.jpg");
    let mut edits = photo_edits("2015:06:01 12:00:00", Some("+00:00"), Some((10.0, 20.0)));
    // A 2015 app's heading with a key the schema refuses, and no heading
    // in the EXIF to replace it.
    edits.set_text(
        tags::IMAGE_DESCRIPTION,
        r#"{"MAPCompassHeading":{"TrueHeading":10,"MagneticHeading":8,"AccuracyDegrees":5},"MAPSequenceUUID":"old"}"#,
    );
    write_photo(&f, 3, &edits);
    let before = fs::read(&f).unwrap();
    let (code, stdout, stderr) = tag(args![f, "new-seq"]);
    assert_eq!(code, 1, "{stdout}");
    assert_eq!(
        stderr.trim_end(),
        format!(
            "add_mapillary_tag_from_exif: {}: skipped: the description would not fit Mapillary's image description schema: MAPCompassHeading.AccuracyDegrees: not a key the schema allows",
            f.display()
        )
    );
    assert_eq!(fs::read(&f).unwrap(), before, "the photo is unchanged");
}

#[test]
fn dry_run_usage_errors_and_docs() {
    let dir = tempfile::tempdir().unwrap();
    let files = trip(dir.path());
    let before = fs::read(&files[0]).unwrap();
    let (code, stdout, _) = tag(args!["--dry-run", dir.path()]);
    assert_eq!(code, 0);
    for f in &files {
        line_starting(&stdout, &format!("{}: would join sequence ", f.display()));
    }
    assert_eq!(fs::read(&files[0]).unwrap(), before);
    for (a, msg) in [
        (
            vec![dir.path().as_os_str(), "bad id!".as_ref()],
            "sequence_id 'bad id!' may hold only letters, digits, _ and -",
        ),
        (
            vec![
                dir.path().as_os_str(),
                "--timezone".as_ref(),
                "Mars/Base".as_ref(),
            ],
            "--timezone: unknown time zone 'Mars/Base' (use UTC, an offset such as +02:00, or a name such as Europe/Berlin)",
        ),
        (vec![], "missing argument: path"),
    ] {
        let (code, _, stderr) = run_tool(BIN, &a, None);
        assert_eq!(code, 2, "{stderr}");
        assert_eq!(
            stderr,
            format!(
                "add_mapillary_tag_from_exif: {msg}\nUsage: add_mapillary_tag_from_exif [options] path [sequence_id] (see add_mapillary_tag_from_exif --help)\n"
            )
        );
    }
    let (_, man, _) = run_tool(BIN, args!["--generate-man"], None);
    let committed =
        fs::read_to_string(workspace_root().join("docs/man/add_mapillary_tag_from_exif.1"))
            .unwrap_or_default();
    assert_eq!(
        man, committed,
        "docs/man/add_mapillary_tag_from_exif.1 is out of date: run `make man`"
    );
}

#[test]
fn each_case_has_its_exit_status() {
    let dir = tempfile::tempdir().unwrap();
    let one_line = |stderr: &str, line: String| {
        assert_eq!(stderr.lines().collect::<Vec<_>>(), [line.as_str()]);
    };
    // A path that is not there: 2, one line.
    let missing = dir.path().join("missing");
    let (code, stdout, stderr) = run_tool(BIN, args![&missing], None);
    assert_eq!((code, stdout.as_str()), (2, ""));
    one_line(
        &stderr,
        format!(
            "add_mapillary_tag_from_exif: {}: no such file or folder",
            missing.display()
        ),
    );
    // A folder without photos: 1, with a message.
    let empty = dir.path().join("empty");
    fs::create_dir(&empty).unwrap();
    let (code, _, stderr) = run_tool(BIN, args![&empty], None);
    assert_eq!(code, 1);
    one_line(
        &stderr,
        format!(
            "add_mapillary_tag_from_exif: no photos (.jpg, .jpeg) under {}",
            empty.display()
        ),
    );
    // A usage error: 2, with the usage line.
    let (code, _, stderr) = run_tool(BIN, args![&empty, "--cutoff-time", "soon"], None);
    assert_eq!(code, 2);
    assert_eq!(
        stderr.lines().collect::<Vec<_>>(),
        [
            "add_mapillary_tag_from_exif: --cutoff-time must be a number of seconds, 0 or more (or inf), not 'soon'",
            "Usage: add_mapillary_tag_from_exif [options] path [sequence_id] (see add_mapillary_tag_from_exif --help)",
        ]
    );
    let (code, _, _) = run_tool(BIN, args![&empty, "--cutoff-distance", "-1"], None);
    assert_eq!(code, 2);
    // Every photo tagged: 0.
    let trip = dir.path().join("trip");
    fs::create_dir(&trip).unwrap();
    for i in 0..2u32 {
        write_photo(
            &trip.join(format!("p{i}.jpg")),
            i,
            &photo_edits(
                &format!("2021:06:01 10:00:0{i}"),
                Some("Z"),
                Some((52.0, 13.0 + f64::from(i) * 1e-4)),
            ),
        );
    }
    let (code, stdout, stderr) = run_tool(BIN, args![&trip, "walk", "--cutoff-time", "inf"], None);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout.lines().last(),
        Some("2 photos tagged, 0 skipped, 0 failed (sequence walk)")
    );
    // One photo skipped: 1.
    let blank = trip.join("blank.jpg");
    fs::write(&blank, mapillary_testkit::plain_jpeg(8, 8, 1)).unwrap();
    let (code, stdout, stderr) = run_tool(BIN, args![&trip, "walk"], None);
    assert_eq!(code, 1);
    one_line(
        &stderr,
        format!(
            "add_mapillary_tag_from_exif: {}: skipped: no GPSLatitude",
            blank.display()
        ),
    );
    assert_eq!(
        stdout.lines().last(),
        Some("2 photos tagged, 1 skipped, 0 failed (sequence walk)")
    );
}
