//! add_mapillary_tag_from_exif, run as a user runs it.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use mapillary_core::exif::{ExifEdits, read_exif};
use mapillary_testkit::{
    args, copy_files, corpus, exiftool, files_with_extension, image_data, photo_edits, run_tool,
    unexpected_changes, workspace_root, write_photo,
};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_add_mapillary_tag_from_exif");

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
    assert!(
        stdout.contains("3 photos tagged, 0 skipped, 0 failed (sequence "),
        "{stdout}"
    );
    let descriptions: Vec<Value> = files.iter().map(|f| description(f)).collect();
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

    // As the official client adds filename and filetype before validating.
    let schema_path = workspace_root().join("../shared/docs/image_description_schema.json");
    let Ok(schema_text) = fs::read_to_string(&schema_path) else {
        eprintln!("skipped schema check: {} is absent", schema_path.display());
        return;
    };
    let schema: Value = serde_json::from_str(&schema_text).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for (file, d) in files.iter().zip(&descriptions) {
        let mut full = d.clone();
        full["filename"] = Value::from(file.to_string_lossy().into_owned());
        full["filetype"] = Value::from("image");
        let errors: Vec<String> = validator
            .iter_errors(&full)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}\n{full}", file.display());
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
    assert!(
        stderr.contains("no_gps.jpg: skipped: no GPSLatitude"),
        "{stderr}"
    );
    assert!(
        stderr.contains("no_time.jpg: skipped: no GPSLatitude"),
        "{stderr}"
    );
    assert!(
        stdout.contains("3 photos tagged, 2 skipped, 0 failed (sequence seq_A-1)"),
        "{stdout}"
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
    edits.remove(mapillary_core::exif::tags::DATE_TIME_ORIGINAL);
    write_photo(&f, 1, &edits);
    let (code, _, stderr) = tag(args![f]);
    assert_eq!(code, 1);
    assert!(stderr.contains("a.jpg: skipped: no capture time (DateTimeOriginal, DateTimeDigitized, DateTime or GPS time)"), "{stderr}");
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
    // DSC00001: the Sony's own offset (-07:00) wins over --timezone? No:
    // --timezone forces UTC here, so 13:24:10 camera time is 13:24:10Z.
    let sony = description(&dir.path().join("DSC00001.JPG"));
    assert_eq!(sony["MAPCaptureTime"], "2018_06_08_13_24_10_000");
    assert_eq!(sony["MAPDeviceMake"], "SONY");
}

#[test]
fn the_file_offset_is_used_when_no_zone_is_forced() {
    let Some(mly) = corpus("mapillary-tools") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let copies = copy_files(&[mly.join("cameras/DSC00001.JPG")], dir.path()).unwrap();
    let (code, _, stderr) = tag(args![&copies[0]]);
    assert_eq!(code, 0, "{stderr}");
    // 13:24:10 at -07:00 is 20:24:10 UTC.
    assert_eq!(
        description(&copies[0])["MAPCaptureTime"],
        "2018_06_08_20_24_10_000"
    );
}

#[test]
fn an_existing_mapillary_description_keeps_its_other_keys() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("app.jpg");
    let mut edits = photo_edits("2015:06:01 12:00:00", Some("+00:00"), Some((10.0, 20.0)));
    edits.set_text(
        mapillary_core::exif::tags::IMAGE_DESCRIPTION,
        r#"{"MAPSettingsUsername":"legacy","MAPPhotoUUID":"p-1","MAPSequenceUUID":"old"}"#,
    );
    write_photo(&f, 3, &edits);
    let (code, _, stderr) = tag(args![f, "new-seq"]);
    assert_eq!(code, 0, "{stderr}");
    let d = description(&f);
    assert_eq!(d["MAPSettingsUsername"], "legacy");
    assert_eq!(d["MAPPhotoUUID"], "p-1");
    assert_eq!(d["MAPSequenceUUID"], "new-seq");
    assert_eq!(d["MAPCaptureTime"], "2015_06_01_12_00_00_000");
}

#[test]
fn dry_run_usage_errors_and_docs() {
    let dir = tempfile::tempdir().unwrap();
    let files = trip(dir.path());
    let before = fs::read(&files[0]).unwrap();
    let (code, stdout, _) = tag(args!["--dry-run", dir.path()]);
    assert_eq!(code, 0);
    assert!(stdout.contains("would join sequence"), "{stdout}");
    assert_eq!(fs::read(&files[0]).unwrap(), before);
    for (a, msg) in [
        (
            vec![dir.path().as_os_str(), "bad id!".as_ref()],
            "may hold only letters",
        ),
        (
            vec![
                dir.path().as_os_str(),
                "--timezone".as_ref(),
                "Mars/Base".as_ref(),
            ],
            "unknown time zone 'Mars/Base'",
        ),
        (vec![], "missing argument: path"),
    ] {
        let (code, _, stderr) = run_tool(BIN, &a, None);
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains(msg), "{stderr}");
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
