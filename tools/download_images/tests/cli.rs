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
            vec!["-inf", "53", "13", "14"],
            "min_lat must be a finite number of degrees, not '-inf'",
        ),
        (
            vec!["52", "nan", "13", "14"],
            "max_lat must be a finite number of degrees, not 'nan'",
        ),
        (
            vec!["52", "53", "-1e999", "14"],
            "min_lon must be a finite number of degrees, not '-1e999'",
        ),
        (
            vec!["52", "53", "13", "14", "--timeout", "0"],
            "--timeout must be more than 0 and at most 86400 seconds, not '0'",
        ),
        (
            vec!["52", "53", "13", "14", "--timeout", "-inf"],
            "--timeout must be a finite number of seconds, not '-inf'",
        ),
        (
            vec!["52", "53", "13", "14", "--max-requests", "0"],
            "--max-requests must be at least 1",
        ),
        (
            vec!["52", "53", "13", "14", "-5"],
            "max_results must be a whole number above 0, not '-5'",
        ),
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

/// The whole world, against a server that answers it whole: one request,
/// and a search that keeps one tile in memory (it used to build 26 million
/// tiles and send thousands of requests a second).
#[test]
fn the_whole_world_with_five_results_takes_one_request() {
    let seed = Seed {
        max_bbox_area: 1e6,
        ..Seed::default()
    };
    let sandbox = Sandbox::start(seed, &[]);
    let work = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = sandbox.run(
        BIN,
        args!["-90", "90", "-180", "180", "5", "-v"],
        &[DEMO_TOKEN],
        work.path(),
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("found 5, downloaded 5"), "{stdout}");
    assert_eq!(sandbox.server.stats().requests["images"], 1);
    assert!(
        stderr.contains(
            "download_images: 1 request to the images endpoint; at most 1 tile waiting at a time"
        ),
        "{stderr}"
    );
}

/// The whole world, against a server that refuses boxes over 0.01 square
/// degrees (as the real service refuses large boxes): searching it would
/// take 16.7 million requests, so the search stops after the first tile
/// answered, with the reason.
#[test]
fn the_whole_world_against_a_refusing_server_stops_at_once() {
    let sandbox = Sandbox::start(Seed::default(), &[]);
    let work = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = sandbox.run(
        BIN,
        args!["-90", "90", "-180", "180", "5", "-v"],
        &[DEMO_TOKEN],
        work.path(),
    );
    assert_eq!(code, 1, "{stdout}{stderr}");
    let requests = sandbox.server.stats().requests["images"];
    assert_eq!(requests, 13, "{stderr}");
    assert!(
        stderr.contains(
            "download_images: the box is too large for the server: it answers tiles of at most 0.0439° × 0.0879° (latitude × longitude), so searching the whole box would take at least 16,777,228 requests, more than the limit of 1000; give a smaller box (--max-requests sets the limit)\n"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("13 requests to the images endpoint; at most 37 tiles waiting at a time"),
        "{stderr}"
    );
    assert!(stdout.contains("found 0, downloaded 0"), "{stdout}");
}

#[test]
fn the_request_limit_is_kept_and_said() {
    // The Berlin area needs 85 requests against a server that refuses
    // boxes over 0.001 square degrees; 10 are allowed.
    let sandbox = Sandbox::start(area_seed(), &[]);
    let work = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = sandbox.run(
        BIN,
        args![
            "52.4",
            "52.5",
            "13.2",
            "13.4",
            "1000",
            "--max-requests",
            "10"
        ],
        &[DEMO_TOKEN],
        work.path(),
    );
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(sandbox.server.stats().requests["images"] <= 10);
    assert!(
        stderr.contains(
            "more than the limit of 10; give a smaller box (--max-requests sets the limit)"
        ),
        "{stderr}"
    );
}

#[test]
fn a_refused_entry_is_counted_once() {
    // 19 entries that cannot be used, where four tiles meet: the search
    // splits the box, and each tile returns them again.
    let mut seed = area_seed();
    seed.generate_images = None;
    seed.images = (0..19)
        .map(|i| image(&format!("bad/{i}"), 52.45, 13.3, None))
        .collect();
    seed.images.push(image("2001", 52.41, 13.21, None));
    let sandbox = Sandbox::start(seed, &[]);
    let work = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = sandbox.run(
        BIN,
        args!["52.4", "52.5", "13.2", "13.4", "-o", "out"],
        &[DEMO_TOKEN],
        work.path(),
    );
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(sandbox.server.stats().requests["images"] > 20);
    let refused: Vec<&str> = stderr.lines().filter(|l| l.contains("refused: ")).collect();
    assert_eq!(refused.len(), 19, "{stderr}");
    assert!(
        stdout.contains("found 1, downloaded 1, skipped 0 (already there), failed 19"),
        "{stdout}"
    );
}

/// A server of its own (the local server has no such fault): the images
/// endpoint names one image whose thumbnail arrives at one byte every two
/// seconds. It serves until the test process ends.
fn trickling_server() -> (String, std::thread::JoinHandle<()>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let base = url.clone();
    let thread = std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let base = base.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                let _ = reader.read_line(&mut line);
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                        break;
                    }
                }
                if line.starts_with("GET /images") {
                    let body = format!(
                        r#"{{"data":[{{"id":"1","geometry":{{"type":"Point","coordinates":[13.3,52.5]}},"thumb_1024_url":"{base}/thumbs/1.jpg?sig=SIGNED"}}]}}"#
                    );
                    let _ = write!(
                        stream,
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    return;
                }
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: 1000\r\n\r\n\xFF\xD8",
                );
                for _ in 0..1000 {
                    if stream
                        .write_all(b"\0")
                        .and_then(|()| stream.flush())
                        .is_err()
                    {
                        return;
                    }
                    std::thread::sleep(Duration::from_secs(2));
                }
            });
        }
    });
    (url, thread)
}

#[test]
fn a_thumbnail_at_one_byte_every_two_seconds_is_given_up_on() {
    let (url, _server) = trickling_server();
    let work = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(BIN)
        .args(["52", "53", "13", "14", "-o", "out", "--timeout", "1"])
        .env_clear()
        .env("HOME", work.path())
        .env("MAPILLARY_GRAPH_API_ENDPOINT", &url)
        .env("MAPILLARY_ACCESS_TOKEN", "MLY-test-token")
        .current_dir(work.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // It must end by itself; a guard against hanging the test run.
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(120) {
            child.kill().unwrap();
            panic!("download_images did not give up on a trickling thumbnail");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!(
            "download_images: out/1.jpg: {url} is too slow: no complete answer within 1 s, 4 times; try again later\n"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("SIGNED") && !stdout.contains("SIGNED"));
    assert!(stdout.contains("found 1, downloaded 0, skipped 0 (already there), failed 1"));
    assert!(
        files_in(&work.path().join("out"))
            .iter()
            .all(|f| !f.contains("1.jpg"))
    );
}

/// Each way a run can end, with its exit status and its whole lines.
#[test]
fn each_outcome_has_its_exit_status() {
    let seed = Seed {
        generate_images: None,
        images: vec![
            image("1001", 10.001, 20.001, None),
            image("1002", 10.002, 20.002, None),
        ],
        ..Seed::default()
    };
    let sandbox = Sandbox::start(seed, &[]);
    let work = tempfile::tempdir().unwrap();
    let run = |a: &[&str]| {
        let a: Vec<&std::ffi::OsStr> = a.iter().map(std::ffi::OsStr::new).collect();
        sandbox.run(BIN, &a, &[DEMO_TOKEN], work.path())
    };
    // Every image downloaded: 0.
    let (code, stdout, stderr) = run(&["10", "10.01", "20", "20.01"]);
    assert_eq!((code, stderr.as_str()), (0, ""));
    assert_eq!(
        stdout,
        "found 2, downloaded 2, skipped 0 (already there), failed 0; 2 images in downloaded\n"
    );
    // Every image already there: still 0 (nothing is missing).
    let (code, stdout, stderr) = run(&["10", "10.01", "20", "20.01"]);
    assert_eq!((code, stderr.as_str()), (0, ""));
    assert_eq!(
        stdout,
        "found 2, downloaded 0, skipped 2 (already there), failed 0; 2 images in downloaded\n"
    );
    // No image in the box: nothing to do, 1, and nothing created.
    let (code, stdout, stderr) = run(&["11", "11.5", "20", "20.01", "-o", "elsewhere"]);
    assert_eq!((code, stdout.as_str()), (1, ""));
    assert_eq!(
        stderr,
        "download_images: no images in the box (latitude 11 to 11.5, longitude 20 to 20.01)\n"
    );
    assert!(!work.path().join("elsewhere").exists());
    // An output folder that cannot be one: an input of the command line,
    // 2, before any request.
    fs::write(work.path().join("a-file"), b"").unwrap();
    let before = sandbox.server.stats().requests["images"];
    let (code, stdout, stderr) = run(&["10", "10.01", "20", "20.01", "-o", "a-file"]);
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert_eq!(stderr, "download_images: a-file: not a folder (--output)\n");
    assert_eq!(sandbox.server.stats().requests["images"], before);
    // Usage errors: 2, the message and the usage line.
    let usage = "Usage: download_images [options] min_lat max_lat min_lon max_lon [max_results] (see download_images --help)";
    for (a, message) in [
        (
            vec!["10", "10.01", "20", "20.01", "--bogus"],
            "unknown option --bogus",
        ),
        (
            vec!["10", "9", "20", "20.01"],
            "min_lat 10 must be less than max_lat 9",
        ),
        (
            vec!["10", "10.01", "200", "20.01"],
            "min_lon 200 is outside -180..180",
        ),
        (
            vec!["10", "10.01", "20", "20.01", "-j", "0"],
            "--jobs must be at least 1",
        ),
        (
            vec!["10", "10.01", "20", "20.01", "1", "2"],
            "unexpected argument '2'",
        ),
    ] {
        let (code, stdout, stderr) = run(&a);
        assert_eq!((code, stdout.as_str()), (2, ""), "{message}");
        assert_eq!(stderr, format!("download_images: {message}\n{usage}\n"));
    }
}

/// A server that fails every search: one line (with -q, which leaves out
/// the retries said as they happen), exit status 1, nothing downloaded.
#[test]
fn a_server_error_is_one_line_and_exit_status_1() {
    let sandbox = Sandbox::start(area_seed(), &["503:retry-after=0@graph"]);
    let work = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = sandbox.run(
        BIN,
        args!["-q", "52.4", "52.41", "13.2", "13.21", "5"],
        &[DEMO_TOKEN],
        work.path(),
    );
    assert_eq!((code, stdout.as_str()), (1, ""));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("download_images: the server kept failing (HTTP 503"),
        "{stderr}"
    );
    assert!(!work.path().join("downloaded").exists());
}

/// On a terminal the progress bar names its step and counts images, the
/// unit of the summary.
#[test]
fn the_progress_bar_says_downloading_in_images() {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: `script` (util-linux) is not installed");
        return;
    }
    let seed = Seed {
        generate_images: None,
        images: (0..6)
            .map(|i| {
                image(
                    &format!("{}", 3000 + i),
                    10.001 + i as f64 * 1e-3,
                    20.001,
                    None,
                )
            })
            .collect(),
        ..Seed::default()
    };
    let sandbox = Sandbox::start(seed, &["slow=300ms@thumbnails"]);
    let work = tempfile::tempdir().unwrap();
    let out = sandbox
        .command("script", &[DEMO_TOKEN])
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TERM", "xterm")
        .args([
            "-qec",
            &format!("stty cols 100 rows 30; {BIN} 10 10.01 20 20.01 -j 1"),
            "/dev/null",
        ])
        .current_dir(work.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(
        shown.contains("downloading ") && shown.contains("/6 images"),
        "{shown:?}"
    );
    assert!(
        shown.contains(
            "found 6, downloaded 6, skipped 0 (already there), failed 0; 6 images in downloaded\r\n"
        ),
        "{shown:?}"
    );
}
