//! add_project against the local server, started by each test.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::fs;
use std::path::{Path, PathBuf};

use mapillary_core::exif::{read_exif, tags};
use mapillary_local_server::Seed;
use mapillary_local_server::seed::{
    DEMO_CLIENT_TOKEN, DEMO_EMAIL, DEMO_PASSWORD, DEMO_TOKEN, SeedUser,
};
use mapillary_testkit::sandbox::Sandbox;
use mapillary_testkit::{args, photo_edits, run_tool, workspace_root, write_photo};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_add_project");

/// Two tagged photos (with a legacy key to keep) and one without a
/// description.
fn photos(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for i in 0..2 {
        let p = dir.join(format!("tagged{i}.jpg"));
        let mut edits = photo_edits("2021:06:01 10:00:00", Some("Z"), Some((52.5, 13.4)));
        edits.set_text(
            tags::IMAGE_DESCRIPTION,
            &format!(r#"{{"MAPLatitude":52.5,"MAPLongitude":13.4,"MAPCaptureTime":"2021_06_01_10_00_0{i}_000","MAPSequenceUUID":"s1","MAPSettingsUsername":"legacy"}}"#),
        );
        write_photo(&p, i, &edits);
        out.push(p);
    }
    let plain = dir.join("plain.jpg");
    write_photo(&plain, 9, &photo_edits("2021:06:01 10:00:00", None, None));
    out.push(plain);
    out
}

fn description(p: &Path) -> Value {
    serde_json::from_str(&read_exif(p).unwrap().image_description.unwrap()).unwrap()
}

/// What the official client's schema for EXIF-embedded descriptions says
/// of `d`, checked here independently of the tool's own check.
fn schema_errors(d: &Value) -> Vec<String> {
    let schema: Value = serde_json::from_str(mapillary_core::description::SCHEMA).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    validator.iter_errors(d).map(|e| e.to_string()).collect()
}

fn snapshot(files: &[PathBuf]) -> Vec<Vec<u8>> {
    files.iter().map(|f| fs::read(f).unwrap()).collect()
}

#[test]
fn adds_the_organization_by_id_name_or_slug_keeping_every_key() {
    let sandbox = Sandbox::start(Seed::default(), &[]);
    let dir = tempfile::tempdir().unwrap();
    let files = photos(dir.path());
    let token = [("MAPILLARY_ACCESS_TOKEN", DEMO_TOKEN)];
    let (code, stdout, stderr) = sandbox.run(BIN, args![dir.path(), "200001"], &token, dir.path());
    assert_eq!(code, 1, "the untagged photo is skipped: {stderr}");
    assert!(
        stdout.contains("tagged0.jpg: joined organization Demo Mappers (200001)"),
        "{stdout}"
    );
    assert!(
        stderr.contains("plain.jpg: skipped: no Mapillary description"),
        "{stderr}"
    );
    let d = description(&files[0]);
    // Inside MAPMetaTags, with the 2015 key the schema does not allow at
    // the top level; read back, the description satisfies the schema.
    assert_eq!(
        d["MAPMetaTags"],
        serde_json::json!({"MAPOrganizationKey": "200001", "MAPSettingsUsername": "legacy"})
    );
    assert!(d.get("MAPOrganizationKey").is_none() && d.get("MAPSettingsProject").is_none());
    assert_eq!(d["MAPSequenceUUID"], "s1");
    assert_eq!(schema_errors(&d), Vec::<String>::new());
    for name in ["Demo Mappers", "demo-mappers", "demo mappers"] {
        let (_, stdout, _) = sandbox.run(BIN, args![files[1], name], &token, dir.path());
        assert!(
            stdout.contains("1 photo added to Demo Mappers"),
            "{name}: {stdout}"
        );
    }
}

#[test]
fn photos_tagged_the_old_way_move_over_and_unfit_ones_are_left_alone() {
    let sandbox = Sandbox::start(Seed::default(), &[]);
    let dir = tempfile::tempdir().unwrap();
    let base = r#""MAPLatitude":52.5,"MAPLongitude":13.4,"MAPCaptureTime":"2021_06_01_10_00_00_000","MAPSequenceUUID":"s1""#;
    // As earlier versions of add_project wrote it: at the top level, with
    // a copy in MAPSettingsProject.
    let old = dir.path().join("old.jpg");
    let mut edits = photo_edits("2021:06:01 10:00:00", Some("Z"), Some((52.5, 13.4)));
    edits.set_text(
        tags::IMAGE_DESCRIPTION,
        &format!(r#"{{{base},"MAPOrganizationKey":"100","MAPSettingsProject":"100"}}"#),
    );
    write_photo(&old, 1, &edits);
    // A value the schema refuses for one of its own keys.
    let unfit = dir.path().join("unfit.jpg");
    edits.set_text(
        tags::IMAGE_DESCRIPTION,
        &format!(r#"{{{base},"MAPOrientation":"1"}}"#),
    );
    write_photo(&unfit, 2, &edits);
    let before = fs::read(&unfit).unwrap();
    let (code, _, stderr) = sandbox.run(
        BIN,
        args![dir.path(), "200001"],
        &[("MAPILLARY_ACCESS_TOKEN", DEMO_TOKEN)],
        dir.path(),
    );
    assert_eq!(code, 1, "{stderr}");
    let d = description(&old);
    assert_eq!(
        d["MAPMetaTags"],
        serde_json::json!({"MAPOrganizationKey": "200001"})
    );
    assert_eq!(schema_errors(&d), Vec::<String>::new());
    assert_eq!(
        stderr.trim_end(),
        format!(
            "add_project: {}: skipped: the description would not fit Mapillary's image description schema: MAPOrientation: \"1\" is not of type \"integer\"",
            unfit.display()
        )
    );
    assert_eq!(fs::read(&unfit).unwrap(), before);
}

#[test]
fn unknown_organization_lists_the_known_ones_and_touches_nothing() {
    let sandbox = Sandbox::start(Seed::default(), &[]);
    let dir = tempfile::tempdir().unwrap();
    let files = photos(dir.path());
    let before = snapshot(&files);
    let (code, stdout, stderr) = sandbox.run(
        BIN,
        args![dir.path(), "Moon Mappers"],
        &[("MAPILLARY_ACCESS_TOKEN", DEMO_TOKEN)],
        dir.path(),
    );
    assert_eq!(code, 1);
    assert!(stdout.is_empty());
    assert_eq!(
        stderr.trim(),
        "add_project: no organization 'Moon Mappers'; yours are: Demo Mappers (200001)"
    );
    assert_eq!(snapshot(&files), before);
}

#[test]
fn a_server_that_cannot_list_organizations_needs_the_id() {
    let sandbox = Sandbox::start(
        Seed {
            list_organizations: false,
            ..Seed::default()
        },
        &[],
    );
    let dir = tempfile::tempdir().unwrap();
    let files = photos(dir.path());
    let before = snapshot(&files);
    let token = [("MAPILLARY_ACCESS_TOKEN", DEMO_TOKEN)];
    let (code, _, stderr) = sandbox.run(BIN, args![dir.path(), "Demo Mappers"], &token, dir.path());
    assert_eq!(code, 1);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("give its ID instead"), "{stderr}");
    assert_eq!(snapshot(&files), before);
    let (code, _, stderr) = sandbox.run(BIN, args![files[0], "200001"], &token, dir.path());
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn wrong_password_missing_credentials_and_expired_tokens() {
    let seed = Seed {
        users: vec![SeedUser {
            expired_tokens: vec!["EXPIRED-TOKEN-123".to_string()],
            ..Seed::default().users[0].clone()
        }],
        ..Seed::default()
    };
    let sandbox = Sandbox::start(seed, &[]);
    let dir = tempfile::tempdir().unwrap();
    let files = photos(dir.path());
    let before = snapshot(&files);
    let login = |password: &'static str| {
        vec![
            ("MAPILLARY_EMAIL", DEMO_EMAIL),
            ("MAPILLARY_PASSWORD", password),
            ("MAPILLARY_CLIENT_TOKEN", DEMO_CLIENT_TOKEN),
        ]
    };
    // Wrong password.
    let (code, stdout, stderr) = sandbox.run(
        BIN,
        args![dir.path(), "200001"],
        &login("not-my-password"),
        dir.path(),
    );
    assert_eq!((code, stdout.as_str()), (1, ""));
    assert_eq!(
        stderr.trim(),
        "add_project: login refused (Invalid email or password); check MAPILLARY_EMAIL and MAPILLARY_PASSWORD"
    );
    // No credentials at all.
    let (code, _, stderr) = sandbox.run(BIN, args![dir.path(), "200001"], &[], dir.path());
    assert_eq!(code, 1);
    assert!(
        stderr
            .trim()
            .starts_with("add_project: no Mapillary credentials: set MAPILLARY_ACCESS_TOKEN"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1);
    // An expired token and nothing to log in with.
    let expired = [("MAPILLARY_ACCESS_TOKEN", "EXPIRED-TOKEN-123")];
    let (code, _, stderr) = sandbox.run(BIN, args![dir.path(), "200001"], &expired, dir.path());
    assert_eq!(code, 1);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("the access token was rejected (Error validating access token: Session has expired.; the token came from MAPILLARY_ACCESS_TOKEN); log in again"), "{stderr}");
    assert!(!stderr.contains("EXPIRED-TOKEN-123"));
    assert_eq!(snapshot(&files), before);
    // An expired token, but email and password to log in again: it does,
    // caches the new token in the profiles file (mode 0600), and goes on.
    let mut vars = login(DEMO_PASSWORD);
    vars.extend(expired);
    let (code, _, stderr) = sandbox.run(BIN, args![files[0], "200001"], &vars, dir.path());
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("was rejected") && stderr.contains("logging in again"),
        "{stderr}"
    );
    let profiles = sandbox
        .home()
        .join(".config/mapillary/configs")
        .join(DEMO_CLIENT_TOKEN.replace('|', "_"));
    let text = fs::read_to_string(&profiles).unwrap();
    assert!(
        text.starts_with("[demo]\nuser_upload_token = MLYLOCAL"),
        "{text}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&profiles).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // The cached profile now works on its own.
    let (code, _, stderr) = sandbox.run(
        BIN,
        args![files[1], "200001"],
        &[
            ("MAPILLARY_USERNAME", "demo"),
            ("MAPILLARY_CLIENT_TOKEN", DEMO_CLIENT_TOKEN),
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn a_503_then_success() {
    let sandbox = Sandbox::start(Seed::default(), &["503:first=1@graph"]);
    let dir = tempfile::tempdir().unwrap();
    let files = photos(dir.path());
    let (code, stdout, stderr) = sandbox.run(
        BIN,
        args![files[0], "200001"],
        &[("MAPILLARY_ACCESS_TOKEN", DEMO_TOKEN)],
        dir.path(),
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("answered HTTP 503 (injected fault: HTTP 503); retrying in 1.0 s"),
        "{stderr}"
    );
    assert!(stdout.contains("1 photo added"), "{stdout}");
    assert_eq!(sandbox.server.stats().faults_fired, vec![1]);
}

#[test]
fn a_server_that_keeps_failing_is_one_line_and_no_change() {
    let sandbox = Sandbox::start(Seed::default(), &["500:retry-after=0@graph"]);
    let dir = tempfile::tempdir().unwrap();
    let files = photos(dir.path());
    let before = snapshot(&files);
    let (code, _, stderr) = sandbox.run(
        BIN,
        args!["-q", dir.path(), "200001"],
        &[("MAPILLARY_ACCESS_TOKEN", DEMO_TOKEN)],
        dir.path(),
    );
    assert_eq!(code, 1);
    let last = stderr.lines().last().unwrap();
    assert!(
        last.starts_with("add_project: the server kept failing (HTTP 500"),
        "{stderr}"
    );
    assert_eq!(snapshot(&files), before);
}

#[test]
fn man_page_is_current() {
    let (_, man, _) = run_tool(BIN, args!["--generate-man"], None);
    let committed =
        fs::read_to_string(workspace_root().join("docs/man/add_project.1")).unwrap_or_default();
    assert_eq!(
        man, committed,
        "docs/man/add_project.1 is out of date: run `make man`"
    );
}

/// Each way a run can end, with its exit status and its whole message.
#[test]
fn each_outcome_has_its_exit_status() {
    let sandbox = Sandbox::start(Seed::default(), &[]);
    let dir = tempfile::tempdir().unwrap();
    let token = [("MAPILLARY_ACCESS_TOKEN", DEMO_TOKEN)];
    // A folder that is not there: an input of the command line (2).
    let missing = dir.path().join("missing");
    let (code, stdout, stderr) = sandbox.run(BIN, args![missing, "200001"], &token, dir.path());
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert_eq!(
        stderr,
        format!(
            "add_project: {}: no such file or folder\n",
            missing.display()
        )
    );
    // An empty folder: nothing to do (1), said in one line.
    let empty = dir.path().join("empty");
    fs::create_dir(&empty).unwrap();
    let (code, stdout, stderr) = sandbox.run(BIN, args![empty, "200001"], &token, dir.path());
    assert_eq!((code, stdout.as_str()), (1, ""));
    assert_eq!(
        stderr,
        format!(
            "add_project: no photos (.jpg, .jpeg) under {}\n",
            empty.display()
        )
    );
    // Usage errors (2), with the usage line.
    let usage = "Usage: add_project [options] path project_name (see add_project --help)";
    let folder = dir.path().as_os_str();
    for (a, message) in [
        (
            vec![folder, "200001".as_ref(), "--bogus".as_ref()],
            "unknown option --bogus",
        ),
        (vec![folder], "missing argument: project_name"),
        (
            vec![folder, "200001".as_ref(), "-q".as_ref(), "-v".as_ref()],
            "-q and -v cannot be used together",
        ),
        (
            vec![folder, "200001".as_ref(), "-j".as_ref(), "0".as_ref()],
            "--jobs must be at least 1",
        ),
    ] {
        let (code, stdout, stderr) = sandbox.run(BIN, &a, &token, dir.path());
        assert_eq!((code, stdout.as_str()), (2, ""), "{message}");
        assert_eq!(stderr, format!("add_project: {message}\n{usage}\n"));
    }
    // Every photo done (0), one skipped (1), whole lines on both streams.
    let trip = dir.path().join("trip");
    fs::create_dir(&trip).unwrap();
    let files = photos(&trip);
    let (code, stdout, stderr) = sandbox.run(BIN, args![files[0], "200001"], &token, dir.path());
    assert_eq!((code, stderr.as_str()), (0, ""));
    assert_eq!(
        stdout,
        format!(
            "{}: joined organization Demo Mappers (200001)\n1 photo added to Demo Mappers, 0 skipped, 0 failed\n",
            files[0].display()
        )
    );
    let (code, stdout, stderr) =
        sandbox.run(BIN, args![files[2], "200001", "-n"], &token, dir.path());
    assert_eq!(code, 1);
    assert_eq!(
        stdout,
        "0 photos would be added to Demo Mappers, 1 skipped, 0 failed\n"
    );
    assert_eq!(
        stderr,
        format!(
            "add_project: {}: skipped: no Mapillary description (run add_mapillary_tag_from_exif first)\n",
            files[2].display()
        )
    );
}

/// A server that answers every request with an error: one line, exit
/// status 1, no photo touched.
#[test]
fn a_server_error_is_one_line_and_exit_status_1() {
    let sandbox = Sandbox::start(Seed::default(), &["500:retry-after=0@graph"]);
    let dir = tempfile::tempdir().unwrap();
    let files = photos(dir.path());
    let before = snapshot(&files);
    let (code, stdout, stderr) = sandbox.run(
        BIN,
        args![dir.path(), "200001"],
        &[("MAPILLARY_ACCESS_TOKEN", DEMO_TOKEN)],
        dir.path(),
    );
    assert_eq!((code, stdout.as_str()), (1, ""));
    // Retries are said as they happen; the failure that ends the run is
    // the one last line.
    let last = stderr.lines().last().unwrap();
    assert!(
        last.starts_with("add_project: the server kept failing (HTTP 500"),
        "{stderr}"
    );
    assert!(
        stderr.lines().rev().skip(1).all(|l| l.contains("retrying")),
        "{stderr}"
    );
    assert_eq!(snapshot(&files), before);
}
