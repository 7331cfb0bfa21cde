//! The server binary, run as a user runs it: help, bad arguments, a seed
//! file, `--port 0` printing where it listens, and a real request.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_mapillary-local-server");

fn seed_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/server-seed.json")
}

#[test]
fn help_and_version() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "--data DIR",
        "--port",
        "--seed FILE",
        "--fault",
        "listening on",
        "--max-upload-size SIZE",
        "--header-timeout DUR",
        "--body-timeout DUR",
        "--max-connections N",
        "Exit status:",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}");
    }
    let out = Command::new(BIN).arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        format!("mapillary-local-server {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn man_page_is_current() {
    let out = Command::new(BIN).arg("--generate-man").output().unwrap();
    assert!(out.status.success());
    let man = String::from_utf8(out.stdout).unwrap();
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/man/mapillary-local-server.1");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        man, committed,
        "docs/man/mapillary-local-server.1 is out of date: run `cargo run -p mapillary-local-server -- --generate-man > docs/man/mapillary-local-server.1`"
    );
    // The page says what each exit status means, and the limits.
    for needle in [".SH EXIT STATUS", ".SH LIMITS", "\\-\\-max\\-upload\\-size"] {
        assert!(man.contains(needle), "the man page lacks {needle}");
    }
}

#[test]
fn bad_arguments_exit_2_with_one_line_and_the_usage() {
    let data = tempfile::tempdir().unwrap();
    for args in [
        vec!["--bogus"],
        vec!["--port", "70000", "--data", "x"],
        vec!["--fault", "teapot@nowhere", "--data", "x"],
        vec![],
        vec!["--data", "x", "--seed", "/nonexistent/seed.json"],
    ] {
        let out = Command::new(BIN)
            .args(&args)
            .current_dir(data.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.starts_with("mapillary-local-server: "), "{err}");
        assert!(err.contains("Usage: mapillary-local-server"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn listens_on_a_free_port_with_the_seed_file_and_answers() {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args(["--quiet", "--port", "0", "--data"])
        .arg(data.path())
        .arg("--seed")
        .arg(seed_file())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line: {line:?}"))
        .to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let answer = |path: &str, token: &str| {
        let r = ureq::get(format!("{url}/{path}"))
            .header("Authorization", format!("OAuth {token}"))
            .config()
            .http_status_as_error(false)
            .build()
            .call()
            .unwrap();
        let status = r.status().as_u16();
        (status, r.into_body().read_to_string().unwrap())
    };
    let (status, body) = answer(
        "me?fields=id,username,organizations",
        "MLYLOCAL-demo-access-token",
    );
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("\"demo\"") && body.contains("Demo Mappers"),
        "{body}"
    );
    // The seed's expired token is refused as a token error.
    let (status, _) = answer("me", "MLYLOCAL-alex-expired-token");
    assert_eq!(status, 401);
    // Seeded and generated images are searchable.
    let (status, body) = answer(
        "images?bbox=13.377,52.516,13.379,52.517&fields=id&limit=10",
        "MLYLOCAL-demo-access-token",
    );
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("800000001") && body.contains("800000002"),
        "{body}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn an_address_in_use_is_exit_1_with_one_line() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["--quiet", "--port", &port, "--data"])
        .arg(data.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with("mapillary-local-server: cannot start") && err.lines().count() == 1,
        "{err}"
    );
}
