//! download_images against the local server.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use mapillary_local_server::Seed;
use mapillary_local_server::seed::{Generate, SeedImage};
use mapillary_testkit::sandbox::{DEMO_TOKEN, Sandbox};
use mapillary_testkit::{args, run_tool, workspace_root};

const BIN: &str = env!("CARGO_BIN_EXE_download_images");

fn image(id: &str, lat: f64, lon: f64, status: Option<u16>) -> SeedImage {
    SeedImage {
        id: id.to_string(),
        lat,
        lon,
        captured_at: 0,
        compass_angle: 0.0,
        sequence: "s".to_string(),
        thumbnail_status: status,
    }
}

/// 300 images over 0.2° × 0.1° (Berlin), a server that refuses boxes
/// over 0.001 square degrees, and two images exactly on the lines where
/// the client's tiles meet.
fn area_seed() -> Seed {
    Seed {
        generate_images: Some(Generate {
            count: 300,
            bbox: [13.2, 52.4, 13.4, 52.5],
            seed: 11,
        }),
        images: vec![
            image("edge-1", 52.45, 13.25, None),
            image("edge-2", 52.425, 13.3, None),
        ],
        max_bbox_area: 0.001,
        ..Seed::default()
    }
}

fn files_in(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn listing(dir: &Path) -> Vec<String> {
    fs::read_to_string(dir.join("downloaded.txt"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn tiles_deduplicates_and_writes_the_2015_listing() {
    let sandbox = Sandbox::start(area_seed(), &[]);
    let work = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = sandbox.run(
        BIN,
        args!["52.4", "52.5", "13.2", "13.4", "1000"],
        &[DEMO_TOKEN],
        work.path(),
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("found 302, downloaded 302, skipped 0 (already there), failed 0"),
        "{stdout}"
    );
    let out = work.path().join("downloaded");
    let files = files_in(&out);
    assert_eq!(files.len(), 303, "302 images and downloaded.txt");
    assert!(files.contains("edge-1.jpg") && files.contains("edge-2.jpg"));
    let lines = listing(&out);
    assert_eq!(lines.len(), 302);
    assert!(
        lines.contains(&"edge-1.jpg,52.45,13.25".to_string()),
        "{lines:?}"
    );
    // The big box was refused by the server and split into tiles.
    let stats = sandbox.server.stats();
    assert!(stats.requests["images"] > 8, "{stats:?}");
    // Thumbnails never saw the token.
    assert_eq!(stats.thumbnail_requests_with_token, 0);
    for f in files.iter().filter(|f| f.ends_with(".jpg")) {
        let bytes = fs::read(out.join(f)).unwrap();
        assert!(
            bytes.starts_with(&[0xFF, 0xD8]) && bytes.ends_with(&[0xFF, 0xD9]),
            "{f}"
        );
    }
}

#[test]
fn max_results_keeps_old_files_and_lists_them_all() {
    let sandbox = Sandbox::start(area_seed(), &[]);
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("downloaded");
    fs::create_dir_all(&out).unwrap();
    fs::write(out.join("my-notes.txt"), b"keep me").unwrap();
    let (code, stdout, _) = sandbox.run(
        BIN,
        args!["52.4", "52.45", "13.2", "13.25", "40"],
        &[DEMO_TOKEN],
        work.path(),
    );
    assert_eq!(code, 0);
    assert!(stdout.contains("found 40, downloaded 40"), "{stdout}");
    let first = listing(&out);
    assert_eq!(first.len(), 40);
    // Another area into the same folder: old images stay and stay listed.
    let (code, stdout, _) = sandbox.run(
        BIN,
        args!["52.45", "52.5", "13.35", "13.4", "25"],
        &[DEMO_TOKEN],
        work.path(),
    );
    assert_eq!(code, 0, "{stdout}");
    let second = listing(&out);
    assert_eq!(second.len(), 65);
    assert!(first.iter().all(|l| second.contains(l)));
    assert_eq!(
        fs::read(out.join("my-notes.txt")).unwrap(),
        b"keep me",
        "the folder is never emptied"
    );
    // The same area again: everything is skipped.
    let (_, stdout, _) = sandbox.run(
        BIN,
        args!["52.45", "52.5", "13.35", "13.4", "25"],
        &[DEMO_TOKEN],
        work.path(),
    );
    assert!(
        stdout.contains("downloaded 0, skipped 25 (already there)"),
        "{stdout}"
    );
}

#[test]
fn hostile_ids_and_failing_thumbnails_are_reported() {
    let seed = Seed {
        generate_images: None,
        images: vec![
            image("1001", 10.001, 20.001, None),
            image("../../etc/passwd", 10.002, 20.002, None),
            image("1003", 10.003, 20.003, Some(500)),
            image("1004", 10.004, 20.004, None),
        ],
        ..Seed::default()
    };
    let sandbox = Sandbox::start(seed, &[]);
    let work = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = sandbox.run(
        BIN,
        args!["10", "10.01", "20", "20.01", "-o", "out"],
        &[DEMO_TOKEN],
        work.path(),
    );
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stderr.contains(
            "refused: id \"../../etc/passwd\" is not a plain id; not used as a file name"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("1003.jpg: failed") || stderr.contains("1003.jpg: the server kept failing"),
        "{stderr}"
    );
    assert!(
        stdout.contains("found 3, downloaded 2, skipped 0 (already there), failed 2"),
        "{stdout}"
    );
    assert_eq!(
        files_in(&work.path().join("out")),
        ["1001.jpg", "1004.jpg", "downloaded.txt"]
            .map(String::from)
            .into()
    );
    assert!(!work.path().join("etc").exists());
}

#[test]
fn a_killed_download_resumes() {
    let sandbox = Sandbox::start(area_seed(), &["slow=100ms@thumbnails"]);
    let work = tempfile::tempdir().unwrap();
    let mut child = sandbox
        .command(BIN, &[DEMO_TOKEN])
        .args(["52.4", "52.5", "13.2", "13.4", "1000", "-j", "2"])
        .current_dir(work.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = work.path().join("downloaded");
    // Completed images (not the temporary files of those under way).
    let completed = || {
        files_in(&out)
            .iter()
            .filter(|f| f.ends_with(".jpg") && !f.starts_with('.'))
            .count()
    };
    let started = Instant::now();
    while completed() < 20 && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let partial = completed();
    assert!((20..302).contains(&partial), "{partial}");
    let (code, stdout, stderr) = sandbox.run(
        BIN,
        args!["52.4", "52.5", "13.2", "13.4", "1000"],
        &[DEMO_TOKEN],
        work.path(),
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(&format!("downloaded {}, skipped {partial}", 302 - partial)),
        "{stdout}"
    );
    // No temporary file is left, and every image is complete.
    let files = files_in(&out);
    assert!(
        files.iter().all(|f| !f.contains("mapillary-tmp")),
        "{files:?}"
    );
    assert_eq!(listing(&out).len(), 302);
}

#[test]
fn bad_arguments_exit_2() {
    let work = tempfile::tempdir().unwrap();
    for (a, message) in [
        (
            vec!["52", "51", "13", "14"],
            "min_lat 52 must be less than max_lat 51",
        ),
        (
            vec!["52", "53", "14", "13"],
            "min_lon 14 must be less than max_lon 13",
        ),
        (
            vec!["-91", "53", "13", "14"],
            "min_lat -91 is outside -90..90",
        ),
        (
            vec!["52", "53", "13", "181"],
            "max_lon 181 is outside -180..180",
        ),
        (vec!["52", "north", "13", "14"], "max_lat must be a number"),
        (
            vec!["52", "53", "13", "14", "0"],
            "max_results must be a whole number above 0",
        ),
        (vec!["52", "53", "13"], "missing argument: max_lon"),
        (
            vec!["52", "53", "13", "14", "--size", "300"],
            "--size must be 256, 1024, 2048 or original",
        ),
    ] {
        let a: Vec<&std::ffi::OsStr> = a.iter().map(std::ffi::OsStr::new).collect();
        let (code, _, stderr) = run_tool(BIN, &a, Some(work.path()));
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains(message), "{stderr}");
    }
    assert!(!work.path().join("downloaded").exists());
    let (_, man, _) = run_tool(BIN, args!["--generate-man"], None);
    let committed =
        fs::read_to_string(workspace_root().join("docs/man/download_images.1")).unwrap_or_default();
    assert_eq!(
        man, committed,
        "docs/man/download_images.1 is out of date: run `make man`"
    );
}

#[test]
fn a_client_token_is_enough_and_no_token_is_a_clear_error() {
    let sandbox = Sandbox::start(area_seed(), &[]);
    let work = tempfile::tempdir().unwrap();
    let client = (
        "MAPILLARY_CLIENT_TOKEN",
        mapillary_local_server::seed::DEMO_CLIENT_TOKEN,
    );
    let (code, stdout, _) = sandbox.run(
        BIN,
        args!["52.4", "52.41", "13.2", "13.21", "5"],
        &[client],
        work.path(),
    );
    assert_eq!(code, 0, "{stdout}");
    let (code, _, stderr) = sandbox.run(
        BIN,
        args!["52.4", "52.41", "13.2", "13.21", "5"],
        &[],
        work.path(),
    );
    assert_eq!(code, 1);
    assert!(
        stderr
            .trim()
            .starts_with("download_images: no Mapillary credentials"),
        "{stderr}"
    );
}
