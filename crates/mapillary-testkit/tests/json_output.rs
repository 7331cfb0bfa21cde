//! `--json`: every line every tool prints is one object of the documented
//! shape (docs/json-lines.schema.json), the summary last, with the exit
//! status the process gives.
//!
//! Runs the tools built beside this test (`cargo test --workspace` builds
//! them all before any test runs).

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use mapillary_testkit::{built_tool, photo_edits, workspace_root, write_photo};
use serde_json::Value;

fn tool(name: &str) -> PathBuf {
    built_tool(name)
}

fn schema() -> jsonschema::Validator {
    let text = fs::read_to_string(workspace_root().join("docs/json-lines.schema.json")).unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()
}

/// Runs `name` with `args` and `--json`; checks every line against the
/// schema and that the summary is last with the process's exit status.
/// Returns the objects and the exit status.
fn run_json(name: &str, args: &[OsString]) -> (Vec<Value>, i32) {
    let mut command = Command::new(tool(name));
    command.env("TZ", "UTC");
    json_lines(name, command.args(args))
}

/// Runs `command` (tool `name`) with `--json` and checks its lines as
/// [`run_json`] does.
fn json_lines(name: &str, command: &mut Command) -> (Vec<Value>, i32) {
    let out = command.arg("--json").output().unwrap();
    let code = out.status.code().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.stderr.is_empty(),
        "{name}: stderr in --json: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let validator = schema();
    let objects: Vec<Value> = stdout
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{name}: not JSON ({e}): {line}"));
            let errors: Vec<String> = validator.iter_errors(&v).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{name}: {line}: {errors:?}");
            assert_eq!(v["tool"], name, "{line}");
            v
        })
        .collect();
    let last = objects
        .last()
        .unwrap_or_else(|| panic!("{name}: no output"));
    assert_eq!(last["type"], "summary", "{name}: {stdout}");
    assert_eq!(last["exit_code"], code, "{name}: {stdout}");
    assert_eq!(
        objects.iter().filter(|o| o["type"] == "summary").count(),
        1,
        "{name}: {stdout}"
    );
    (objects, code)
}

fn os(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Vec<OsString> {
    args.iter().map(|a| a.as_ref().to_os_string()).collect()
}

fn photos(dir: &Path, n: usize) -> PathBuf {
    let trip = dir.join("trip");
    fs::create_dir_all(&trip).unwrap();
    for i in 0..n {
        let time = format!("2021:06:01 10:00:{:02}", i * 5);
        write_photo(
            &trip.join(format!("IMG_{i}.jpg")),
            i as u32,
            &photo_edits(&time, Some("+00:00"), Some((52.5 + i as f64 * 1e-4, 13.4))),
        );
    }
    trip
}

fn gpx(dir: &Path) -> PathBuf {
    let mut text = String::from("<gpx version=\"1.1\" creator=\"t\"><trk><trkseg>");
    for s in 0..=6 {
        text.push_str(&format!(
            "<trkpt lat=\"{}\" lon=\"13.4\"><time>2021-06-01T10:00:{:02}Z</time></trkpt>",
            52.5 + s as f64 * 1e-4,
            s * 5
        ));
    }
    text.push_str("</trkseg></trk></gpx>");
    let p = dir.join("t.gpx");
    fs::write(&p, text).unwrap();
    p
}

fn count(objects: &[Value], kind: &str, status: &str) -> usize {
    objects
        .iter()
        .filter(|o| o["type"] == kind && o["status"] == status)
        .count()
}

#[test]
fn the_rewriting_tools_print_the_documented_shape() {
    let dir = tempfile::tempdir().unwrap();
    let trip = photos(dir.path(), 4);
    let track = gpx(dir.path());
    // A photo the tools cannot use (no EXIF time or position).
    fs::write(
        trip.join("blank.jpg"),
        mapillary_testkit::plain_jpeg(8, 8, 1),
    )
    .unwrap();

    let (o, code) = run_json("geotag_from_gpx", &os(&[&trip, &track]));
    assert_eq!((code, count(&o, "photo", "written")), (1, 4));
    let skipped: Vec<&Value> = o.iter().filter(|v| v["status"] == "skipped").collect();
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0]["reason"]["code"], "no_capture_time");

    let (o, code) = run_json("interpolate_direction", &os(&[&trip, &"-n"]));
    assert_eq!((code, count(&o, "photo", "would_write")), (1, 4));

    let (o, code) = run_json("add_fix_dates", &os(&[&trip, &"2021-06-01 10:00:00", &"5"]));
    assert_eq!((code, count(&o, "photo", "written")), (0, 5));
    assert!(
        o.iter()
            .any(|v| v["date_time_original"] == "2021:06:01 10:00:20")
    );
    let summary = o.last().unwrap();
    assert_eq!(
        (&summary["status"], &summary["done"], &summary["skipped"]),
        (&Value::from("done"), &Value::from(5), &Value::from(0))
    );

    let (o, code) = run_json("time_split", &os(&[&trip, &"2", &"--dry-run"]));
    assert_eq!(code, 0);
    assert_eq!(o.iter().filter(|v| v["type"] == "group").count(), 5);
    assert_eq!(count(&o, "photo", "would_move"), 5);
}

#[test]
fn failures_of_the_run_are_an_error_object_and_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let (o, code) = run_json("time_split", &os(&[&dir.path().join("missing")]));
    assert_eq!(code, 2);
    assert_eq!(o.len(), 2);
    assert_eq!(
        (&o[0]["type"], &o[0]["kind"]),
        (&Value::from("error"), &Value::from("input"))
    );
    assert_eq!(o[1]["status"], "failed");
    let (o, code) = run_json(
        "add_fix_dates",
        &os(&[&dir.path(), &"2021-06-01 10:00:00", &"1"]),
    );
    assert_eq!(code, 1);
    assert_eq!(o[0]["kind"], "nothing_to_do");
}

/// Runs the upload tool `name` against the local server of `sandbox`,
/// in `cwd`, as the demo user, with `--json`.
fn run_json_uploading(
    sandbox: &mapillary_testkit::sandbox::Sandbox,
    name: &str,
    args: &[OsString],
    cwd: &Path,
) -> (Vec<Value>, i32) {
    let mut command = sandbox.command(
        tool(name).to_str().unwrap(),
        &[mapillary_testkit::sandbox::DEMO_TOKEN],
    );
    json_lines(name, command.args(args).current_dir(cwd))
}

/// The codes of the photos skipped, sorted.
fn reason_codes(objects: &[Value]) -> Vec<&str> {
    let mut codes: Vec<&str> = objects
        .iter()
        .filter(|o| o["type"] == "photo" && o["status"] == "skipped")
        .map(|o| o["reason"]["code"].as_str().unwrap())
        .collect();
    codes.sort_unstable();
    codes
}

#[test]
fn the_upload_tools_print_the_documented_shape() {
    let sandbox =
        mapillary_testkit::sandbox::Sandbox::start(mapillary_local_server::Seed::default(), &[]);
    let dir = tempfile::tempdir().unwrap();

    // add_mapillary_tag_from_exif: four photos tagged, one standing
    // still left out as a duplicate, one without a position skipped.
    let trip = photos(dir.path(), 4);
    write_photo(
        &trip.join("IMG_still.jpg"),
        9,
        &photo_edits("2021:06:01 10:00:16", Some("+00:00"), Some((52.5003, 13.4))),
    );
    fs::write(
        trip.join("blank.jpg"),
        mapillary_testkit::plain_jpeg(8, 8, 1),
    )
    .unwrap();
    let (o, code) = run_json(
        "add_mapillary_tag_from_exif",
        &os(&[&trip, &"walk-1", &"-n"]),
    );
    assert_eq!((code, count(&o, "photo", "would_write")), (1, 4));
    assert_eq!(reason_codes(&o), ["duplicate", "missing_tag"]);
    assert!(
        o.iter()
            .filter(|v| v["type"] == "photo" && v["status"] == "would_write")
            .all(|v| v["sequence"] == "walk-1")
    );
    let (o, code) = run_json("add_mapillary_tag_from_exif", &os(&[&trip, &"walk-1"]));
    assert_eq!((code, count(&o, "photo", "written")), (1, 4));
    let summary = o.last().unwrap();
    assert_eq!(summary["sequence_ids"], serde_json::json!(["walk-1"]));
    assert_eq!(
        (&summary["done"], &summary["skipped"]),
        (&Value::from(4), &Value::from(2))
    );

    // upload: the tagged photos go up and to success/; the others stay.
    let (o, code) = run_json_uploading(&sandbox, "upload", &os(&[&trip, &"--dry-run"]), dir.path());
    assert_eq!((code, count(&o, "photo", "would_upload")), (1, 4));
    let sequences: Vec<&Value> = o.iter().filter(|v| v["type"] == "sequence").collect();
    assert_eq!(sequences.len(), 1);
    assert_eq!(
        (
            &sequences[0]["name"],
            &sequences[0]["status"],
            &sequences[0]["photos"]
        ),
        (
            &Value::from("walk-1"),
            &Value::from("would_upload"),
            &Value::from(4)
        )
    );
    let (o, code) = run_json_uploading(&sandbox, "upload", &os(&[&trip]), dir.path());
    assert_eq!((code, count(&o, "photo", "uploaded")), (1, 4));
    assert_eq!(reason_codes(&o), ["no_sequence", "no_sequence"]);
    assert!(
        o.iter()
            .filter(|v| v["type"] == "photo" && v["status"] == "uploaded")
            .all(|v| v["to"].as_str().unwrap().contains("success/"))
    );
    let summary = o.last().unwrap();
    assert_eq!(summary["sequences"]["uploaded"], 1);
    assert!(summary["sent_bytes"].as_u64().unwrap() > 0);
    assert_eq!(sandbox.server.sequences().len(), 1);

    // upload_with_authentication: a photo with a description is refused.
    let camera = photos(&dir.path().join("camera"), 3);
    mapillary_testkit::tagged_photo(&camera.join("app.jpg"), "S", 1, 1.0, 1.0, None);
    let (o, code) = run_json_uploading(
        &sandbox,
        "upload_with_authentication",
        &os(&[&camera, &"--yes"]),
        dir.path(),
    );
    assert_eq!((code, count(&o, "photo", "uploaded")), (1, 3));
    assert_eq!(reason_codes(&o), ["holds_description"]);
    let sequence = o.iter().find(|v| v["type"] == "sequence").unwrap();
    assert_eq!(sequence["status"], "uploaded");
    assert!(sequence["cluster_id"].is_string());

    // upload_each_folder_as_sequence: the same photos are on the server
    // already (fresh UUIDs, same photos), in the demo organization.
    fs::remove_file(camera.join("app.jpg")).unwrap();
    let (o, code) = run_json_uploading(
        &sandbox,
        "upload_each_folder_as_sequence",
        &os(&[&camera, &"Demo Mappers", &"-y"]),
        dir.path(),
    );
    assert_eq!(code, 0);
    let summary = o.last().unwrap();
    assert_eq!(
        (
            &summary["status"],
            &summary["sequences"]["already_uploaded"]
        ),
        (&Value::from("done"), &Value::from(1))
    );

    // A missing path: an input error, exit status 2, for each of them.
    let missing = dir.path().join("missing");
    for (name, args) in [
        ("upload", os(&[&missing])),
        ("upload_with_authentication", os(&[&missing, &"-y"])),
        ("upload_each_folder_as_sequence", os(&[&missing])),
    ] {
        let (o, code) = run_json_uploading(&sandbox, name, &args, dir.path());
        let o: Vec<&Value> = o.iter().filter(|v| v["type"] != "warning").collect();
        assert_eq!((code, o.len()), (2, 2), "{name}");
        assert_eq!(o[0]["kind"], "input", "{name}");
    }
}

#[test]
fn add_project_prints_the_documented_shape() {
    use mapillary_core::exif::tags;
    let sandbox =
        mapillary_testkit::sandbox::Sandbox::start(mapillary_local_server::Seed::default(), &[]);
    let dir = tempfile::tempdir().unwrap();
    // Two photos with a Mapillary description and one without (skipped).
    let trip = photos(dir.path(), 3);
    for i in 0..2 {
        let mut edits = photo_edits("2021:06:01 10:00:00", Some("Z"), Some((52.5, 13.4)));
        edits.set_text(
            tags::IMAGE_DESCRIPTION,
            &format!(r#"{{"MAPLatitude":52.5,"MAPLongitude":13.4,"MAPCaptureTime":"2021_06_01_10_00_0{i}_000","MAPSequenceUUID":"s1"}}"#),
        );
        write_photo(&trip.join(format!("IMG_{i}.jpg")), i, &edits);
    }
    let (o, code) = run_json_uploading(
        &sandbox,
        "add_project",
        &os(&[&trip, &"200001"]),
        dir.path(),
    );
    assert_eq!((code, count(&o, "photo", "written")), (1, 2));
    assert!(
        o.iter()
            .filter(|v| v["status"] == "written")
            .all(|v| v["organization"] == "200001")
    );
    let skipped: Vec<&Value> = o.iter().filter(|v| v["status"] == "skipped").collect();
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0]["reason"]["code"], "no_description");
    let summary = o.last().unwrap();
    assert_eq!(
        (
            &summary["done"],
            &summary["skipped"],
            &summary["organization"]["name"]
        ),
        (
            &Value::from(2),
            &Value::from(1),
            &Value::from("Demo Mappers")
        )
    );
    // An organization that is not found ends the run: an error with its
    // kind, and no photo.
    let (o, code) = run_json_uploading(
        &sandbox,
        "add_project",
        &os(&[&trip, &"Moon Mappers"]),
        dir.path(),
    );
    assert_eq!((code, o.len()), (1, 2));
    assert_eq!(o[0]["kind"], "organization");
    // A folder that is not there.
    let (o, code) = run_json_uploading(
        &sandbox,
        "add_project",
        &os(&[&dir.path().join("missing"), &"200001"]),
        dir.path(),
    );
    assert_eq!((code, &o[0]["kind"]), (2, &Value::from("input")));
}

#[test]
fn download_images_prints_the_documented_shape() {
    use mapillary_local_server::seed::SeedImage;
    let image = |id: &str, lat: f64| SeedImage {
        id: id.to_string(),
        lat,
        lon: 20.005,
        captured_at: 0,
        compass_angle: 0.0,
        sequence: "s".to_string(),
        thumbnail_status: None,
    };
    let seed = mapillary_local_server::Seed {
        images: vec![
            image("1001", 10.001),
            image("1002", 10.002),
            image("../x", 10.003),
        ],
        ..mapillary_local_server::Seed::default()
    };
    let sandbox = mapillary_testkit::sandbox::Sandbox::start(seed, &[]);
    let dir = tempfile::tempdir().unwrap();
    let the_box = ["10", "10.01", "20", "20.01"];
    let args = |more: &[&str]| -> Vec<OsString> {
        the_box.iter().chain(more).map(OsString::from).collect()
    };
    // A dry run: an image object for each, the refused entry with its code.
    let (o, code) = run_json_uploading(&sandbox, "download_images", &args(&["-n"]), dir.path());
    assert_eq!(code, 1, "an entry was refused");
    let images: Vec<&Value> = o.iter().filter(|v| v["type"] == "image").collect();
    assert_eq!(images.len(), 2);
    assert_eq!(
        (&images[0]["id"], &images[0]["file"]),
        (&Value::from("1001"), &Value::from("1001.jpg"))
    );
    let refused: Vec<&Value> = o.iter().filter(|v| v["type"] == "refused").collect();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0]["reason"]["code"], "not_plain_id");
    assert!(!dir.path().join("downloaded").exists());
    // Downloading, then again: each image downloaded, then already there.
    let (o, code) = run_json_uploading(&sandbox, "download_images", &args(&[]), dir.path());
    assert_eq!((code, count(&o, "photo", "downloaded")), (1, 2));
    let summary = o.last().unwrap();
    assert_eq!(
        (
            &summary["found"],
            &summary["done"],
            &summary["failed"],
            &summary["listed"]
        ),
        (
            &Value::from(2),
            &Value::from(2),
            &Value::from(1),
            &Value::from(2)
        )
    );
    let (o, _) = run_json_uploading(&sandbox, "download_images", &args(&[]), dir.path());
    assert_eq!(count(&o, "photo", "already_there"), 2);
    // Nothing in the box.
    let (o, code) = run_json_uploading(
        &sandbox,
        "download_images",
        &os(&[&"11", &"11.01", &"20", &"20.01"]),
        dir.path(),
    );
    assert_eq!((code, o.len()), (1, 2));
    assert_eq!(o[0]["kind"], "nothing_to_do");
    // A server that fails: an error of kind server.
    let failing = mapillary_testkit::sandbox::Sandbox::start(
        mapillary_local_server::Seed::default(),
        &["503:retry-after=0@graph"],
    );
    let (o, code) = run_json_uploading(&failing, "download_images", &args(&[]), dir.path());
    assert_eq!(code, 1);
    let last_error = o.iter().rev().find(|v| v["type"] == "error").unwrap();
    assert_eq!(last_error["kind"], "server");
    assert!(
        o.iter()
            .filter(|v| v["type"] == "warning")
            .all(|v| v["message"].as_str().unwrap().contains("retrying"))
    );
}
