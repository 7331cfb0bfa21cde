//! upload against the local server, started by each test: what arrives on
//! the server side, exactly once, in order, through faults and kills.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use mapillary_local_server::Seed;
use mapillary_testkit::sandbox::{DEMO_TOKEN, Sandbox};
use mapillary_testkit::{
    args, assert_line, assert_only_line, line_starting, run_tool, tagged_photo, workspace_root,
    write_photo,
};

const BIN: &str = env!("CARGO_BIN_EXE_upload");

/// Three folders, one sequence each: A (4 photos near lat 10), B (3, lat
/// 20), C (5, lat 30). File names run against capture time, so that order
/// comes from the descriptions.
fn three_folders(root: &Path, noisy: Option<u16>) -> BTreeMap<String, Vec<PathBuf>> {
    let mut out = BTreeMap::new();
    for (seq, n, lat) in [("A", 4u32, 10.0), ("B", 3, 20.0), ("C", 5, 30.0)] {
        let dir = root.join(format!("folder_{seq}"));
        fs::create_dir_all(&dir).unwrap();
        let files: Vec<PathBuf> = (0..n)
            .map(|i| {
                let p = dir.join(format!("{seq}_{}.jpg", n - i));
                tagged_photo(
                    &p,
                    &format!("seq-{seq}"),
                    i * 2 + 1,
                    lat + f64::from(i) * 0.001,
                    1.0,
                    noisy,
                );
                p
            })
            .collect();
        out.insert(seq.to_string(), files);
    }
    out
}

/// Checks the server got exactly these sequences, each image once, in
/// capture order, without MAPSequenceUUID in the description.
fn assert_arrived_once(sandbox: &Sandbox) {
    let sequences = sandbox.server.sequences();
    assert_eq!(sequences.len(), 3, "{sequences:#?}");
    let mut seen = Vec::new();
    for s in &sequences {
        let lats: Vec<f64> = s
            .images
            .iter()
            .map(|i| i.description["MAPLatitude"].as_f64().unwrap())
            .collect();
        let base = lats[0].floor();
        let expected: Vec<f64> = (0..lats.len()).map(|i| base + i as f64 * 0.001).collect();
        let close = lats
            .iter()
            .zip(&expected)
            .all(|(a, b)| (a - b).abs() < 1e-9);
        assert!(
            close,
            "sequence {} is out of order or mixed: {lats:?}",
            s.cluster_id
        );
        let n = match base as i64 {
            10 => 4,
            20 => 3,
            30 => 5,
            other => panic!("unexpected sequence at {other}"),
        };
        assert_eq!(lats.len(), n);
        seen.push(base as i64);
        for img in &s.images {
            assert!(img.description.get("MAPSequenceUUID").is_none());
            assert!(
                img.description["MAPCaptureTime"]
                    .as_str()
                    .unwrap()
                    .starts_with("2021_06_01_10_00_")
            );
        }
    }
    seen.sort();
    assert_eq!(seen, [10, 20, 30], "each sequence exactly once");
}

/// Every image upload key received exactly as many bytes as it holds:
/// nothing was sent twice.
fn assert_no_byte_twice(sandbox: &Sandbox) {
    let stats = sandbox.server.stats();
    for (key, received) in &stats.upload_bytes_by_key {
        if key.starts_with("mly_tools_") {
            let size = fs::metadata(sandbox.server.data_dir().join("uploads").join(key))
                .unwrap()
                .len();
            assert_eq!(
                *received, size,
                "{key}: received {received} bytes for {size}"
            );
        }
    }
}

#[test]
fn three_folders_arrive_once_in_order_and_move_to_success() {
    let sandbox = Sandbox::start(Seed::default(), &[]);
    let work = tempfile::tempdir().unwrap();
    let photos = work.path().join("photos");
    let folders = three_folders(&photos, None);
    let (code, stdout, stderr) = sandbox.run(BIN, args![photos], &[DEMO_TOKEN], work.path());
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(stdout.matches("uploaded, cluster").count(), 3, "{stdout}");
    // Each sequence's line ends with a cluster the server made.
    let clusters: Vec<String> = sandbox
        .server
        .sequences()
        .into_iter()
        .map(|s| s.cluster_id)
        .collect();
    for (sequence, photos) in [("seq-A", 4), ("seq-B", 3), ("seq-C", 5)] {
        let prefix = format!("sequence {sequence}: {photos} photos uploaded, cluster ");
        let cluster = &line_starting(&stdout, &prefix)[prefix.len()..];
        assert!(
            clusters.iter().any(|c| c == cluster),
            "{cluster}: {clusters:?}"
        );
    }
    assert_line(
        &stdout,
        "3 sequences uploaded, 0 skipped (already uploaded), 0 failed; 0.0 MB sent",
    );
    assert_arrived_once(&sandbox);
    assert_no_byte_twice(&sandbox);
    for files in folders.values() {
        for f in files {
            assert!(!f.exists(), "{} was not moved", f.display());
            // Under its folder relative to the path given.
            let relative = f.strip_prefix(&photos).unwrap();
            assert!(work.path().join("success").join(relative).is_file());
        }
    }
    // The photos themselves were not changed by the upload.
    let moved = work.path().join("success/folder_A/A_4.jpg");
    let d = mapillary_core::exif::read_exif(&moved)
        .unwrap()
        .image_description
        .unwrap();
    assert!(d.contains("\"MAPSequenceUUID\":\"seq-A\""), "{d}");
    // A second run finds nothing to upload (success/ is not searched).
    let (code, stdout, _) = sandbox.run(BIN, args![work.path()], &[DEMO_TOKEN], work.path());
    assert_eq!(code, 0);
    assert_line(
        &stdout,
        "0 sequences uploaded, 0 skipped (already uploaded), 0 failed; 0.0 MB sent",
    );
    assert_eq!(sandbox.server.sequences().len(), 3);
}

#[test]
fn faults_lose_nothing_and_duplicate_nothing() {
    // Connections cut every 200 kB, every 5th upload request a 503, every
    // 7th a 429 with Retry-After.
    let sandbox = Sandbox::start(
        Seed::default(),
        &[
            "drop-after=200kB@upload",
            "503:every=5,retry-after=0@upload",
            "429:every=7,retry-after=1@upload",
        ],
    );
    let work = tempfile::tempdir().unwrap();
    let photos = work.path().join("photos");
    three_folders(&photos, Some(400));
    let total: u64 = walk(&photos)
        .iter()
        .map(|f| fs::metadata(f).unwrap().len())
        .sum();
    assert!(total > 2_000_000, "the photos should be a few MB ({total})");
    let names: std::collections::BTreeSet<String> = walk(&photos)
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    let (code, stdout, stderr) = sandbox.run(BIN, args![photos], &[DEMO_TOKEN], work.path());
    assert_eq!(code, 0, "{stdout}{stderr}");
    // Each line is one whole retry: "upload: <photo>: <cause>; resuming"
    // after a cut connection, "...; retrying in <delay>" after an HTTP
    // error; the photo named by its path (a sequence's manifest by its
    // upload name).
    let mut resumed = 0;
    let mut retried = std::collections::BTreeSet::new();
    for line in stderr.lines() {
        let (file, what) = line
            .strip_prefix("upload: ")
            .and_then(|rest| rest.split_once(": "))
            .unwrap_or_else(|| panic!("not a retry line: {line:?}\n{stderr}"));
        assert!(
            names.contains(file) || (file.starts_with("uuid_") && file.ends_with(".json")),
            "{line:?}"
        );
        if what.ends_with("; resuming") {
            resumed += 1;
        } else if let Some((cause, delay)) = what.split_once("; retrying in ") {
            assert!(delay == "0 ms" || delay.ends_with(" s"), "{line:?}");
            retried.insert(cause);
        } else {
            panic!("not a retry line: {line:?}\n{stderr}");
        }
    }
    assert!(resumed > 0, "connections were cut: {stderr}");
    assert!(
        retried.contains("HTTP 503 (injected fault: HTTP 503)")
            && retried.contains("HTTP 429 (injected fault: HTTP 429)"),
        "{stderr}"
    );
    assert_arrived_once(&sandbox);
    assert_no_byte_twice(&sandbox);
    let fired = sandbox.server.stats().faults_fired;
    assert!(fired.iter().all(|&n| n > 0), "every fault fired: {fired:?}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    mapillary_core::files::find_images(dir).unwrap().images
}

#[test]
fn a_killed_upload_resumes_from_the_server_offset() {
    // Slow answers, so that the kill lands in the middle.
    let sandbox = Sandbox::start(Seed::default(), &["slow=150ms@upload"]);
    let work = tempfile::tempdir().unwrap();
    let photos = work.path().join("photos");
    three_folders(&photos, Some(500));
    let mut child = sandbox
        .command(BIN, &[DEMO_TOKEN])
        .arg(&photos)
        .current_dir(work.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while sandbox.server.stats().upload_bytes_received < 500_000
        && started.elapsed() < Duration::from_secs(60)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let sent_before = sandbox.server.stats().upload_bytes_received;
    assert!(sent_before > 0);
    assert!(
        sandbox.server.sequences().len() < 3,
        "the kill came too late to prove anything"
    );
    let (code, stdout, stderr) = sandbox.run(BIN, args![photos], &[DEMO_TOKEN], work.path());
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_arrived_once(&sandbox);
    // Each image's bytes arrived once, over the two runs together.
    assert_no_byte_twice(&sandbox);
}

#[test]
fn refused_photos_go_to_failed_and_nothing_is_overwritten() {
    let sandbox = Sandbox::start(Seed::default(), &[]);
    let work = tempfile::tempdir().unwrap();
    let photos = work.path().join("photos");
    fs::create_dir_all(&photos).unwrap();
    for i in 0..3 {
        tagged_photo(
            &photos.join(format!("ok{i}.jpg")),
            "S",
            i,
            5.0 + f64::from(i) * 0.001,
            5.0,
            None,
        );
    }
    // A tagged photo whose multi-picture index comes before its EXIF: its
    // upload copy cannot take the description safely, so it is refused
    // for good.
    let bad = photos.join("mpf.jpg");
    tagged_photo(&bad, "T", 9, 6.0, 6.0, None);
    let original = fs::read(&bad).unwrap();
    let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xE2, 0x00, 0x08];
    bytes.extend(b"MPF\0\0\0");
    bytes.extend(&original[2..]);
    fs::write(&bad, bytes).unwrap();
    // A photo from another camera: skipped with a hint.
    let other = photos.join("other.jpg");
    write_photo(
        &other,
        3,
        &mapillary_testkit::photo_edits("2021:06:01 10:00:00", None, Some((1.0, 1.0))),
    );
    // Something already in success/ with a photo's name.
    fs::create_dir_all(work.path().join("success")).unwrap();
    fs::write(work.path().join("success/ok1.jpg"), b"mine").unwrap();

    let (code, stdout, stderr) = sandbox.run(BIN, args![photos], &[DEMO_TOKEN], work.path());
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert_line(
        &stderr,
        &format!(
            "upload: {}: skipped: no Mapillary description with a MAPSequenceUUID (for photos from other cameras use upload_with_authentication, or add_mapillary_tag_from_exif first)",
            other.display()
        ),
    );
    assert_line(
        &stderr,
        &format!(
            "upload: {}: a multi-picture (MPF) index precedes the EXIF segment; rewriting would break its offsets",
            bad.display()
        ),
    );
    assert_line(
        &stderr,
        "upload: sequence T: not finished: 1 of its photos cannot be uploaded; run again to resume",
    );
    assert_line(
        &stderr,
        &format!(
            "upload: {}: not moved: {} already exists; not overwritten",
            photos.join("ok1.jpg").display(),
            work.path().join("success/ok1.jpg").display()
        ),
    );
    assert_eq!(
        fs::read(work.path().join("success/ok1.jpg")).unwrap(),
        b"mine"
    );
    assert!(photos.join("ok1.jpg").exists(), "stays where it was");
    assert!(
        work.path().join("success/ok0.jpg").exists()
            && work.path().join("success/ok2.jpg").exists()
    );
    assert!(work.path().join("failed/mpf.jpg").exists());
    assert!(other.exists());
    assert_eq!(sandbox.server.sequences().len(), 1);
}

#[test]
fn dry_run_sends_nothing() {
    let sandbox = Sandbox::start(Seed::default(), &[]);
    let work = tempfile::tempdir().unwrap();
    let photos = work.path().join("photos");
    three_folders(&photos, None);
    let (code, stdout, stderr) = sandbox.run(BIN, args!["--dry-run", photos], &[], work.path());
    assert_eq!(code, 0, "{stderr}");
    for (sequence, photos) in [("seq-A", 4), ("seq-B", 3), ("seq-C", 5)] {
        assert_line(
            &stdout,
            &format!("sequence {sequence}: would upload {photos} photos, 0.0 MB"),
        );
    }
    assert_line(
        &stdout,
        "3 sequences would be uploaded, 0 skipped (already uploaded), 0 failed",
    );
    let stats = sandbox.server.stats();
    assert_eq!(stats.upload_posts, 0);
    assert!(stats.requests.is_empty(), "{stats:?}");
    assert!(!work.path().join("success").exists());
}

#[test]
fn man_page_is_current() {
    let (_, man, _) = run_tool(BIN, args!["--generate-man"], None);
    let committed =
        fs::read_to_string(workspace_root().join("docs/man/upload.1")).unwrap_or_default();
    assert_eq!(
        man, committed,
        "docs/man/upload.1 is out of date: run `make man`"
    );
}

#[test]
fn each_case_has_its_exit_status() {
    let sandbox = Sandbox::start(Seed::default(), &[]);
    let work = tempfile::tempdir().unwrap();
    // A path that is not there: 2, one line, nothing asked of the server.
    let missing = work.path().join("missing");
    let (code, stdout, stderr) = sandbox.run(BIN, args![&missing], &[DEMO_TOKEN], work.path());
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert_only_line(
        &stderr,
        &format!("upload: {}: no such file or folder", missing.display()),
    );
    // A folder without photos: 1, with a message.
    let empty = work.path().join("empty");
    fs::create_dir(&empty).unwrap();
    let (code, _, stderr) = sandbox.run(BIN, args![&empty], &[DEMO_TOKEN], work.path());
    assert_eq!(code, 1);
    assert_only_line(
        &stderr,
        &format!("upload: no photos (.jpg, .jpeg) under {}", empty.display()),
    );
    // Usage errors: 2.
    for bad in [
        args![&empty, "--jobs", "0"],
        args![&empty, "--cutoff-time", "9"],
    ] {
        let (code, _, stderr) = sandbox.run(BIN, bad, &[DEMO_TOKEN], work.path());
        assert_eq!(code, 2, "{stderr}");
        assert_eq!(
            stderr.lines().nth(1),
            Some("Usage: upload [options] path (see upload --help)")
        );
    }
    assert!(sandbox.server.stats().requests.is_empty());
    // Everything uploaded: 0.
    let trip = work.path().join("trip");
    fs::create_dir(&trip).unwrap();
    for i in 0..2 {
        tagged_photo(
            &trip.join(format!("t{i}.jpg")),
            "S",
            i,
            5.0 + f64::from(i) * 1e-4,
            5.0,
            None,
        );
    }
    let (code, stdout, stderr) = sandbox.run(BIN, args![&trip], &[DEMO_TOKEN], work.path());
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        lines[0].starts_with("sequence S: 2 photos uploaded, cluster "),
        "{stdout}"
    );
    assert!(
        lines[1].starts_with("1 sequence uploaded, 0 skipped (already uploaded), 0 failed; "),
        "{stdout}"
    );
    // A photo skipped: 1.
    let other = trip.join("other.jpg");
    write_photo(
        &other,
        3,
        &mapillary_testkit::photo_edits("2021:06:01 10:00:00", None, Some((1.0, 1.0))),
    );
    let (code, stdout, stderr) = sandbox.run(BIN, args![&trip], &[DEMO_TOKEN], work.path());
    assert_eq!(code, 1, "{stdout}");
    assert_only_line(
        &stderr,
        &format!(
            "upload: {}: skipped: no Mapillary description with a MAPSequenceUUID (for photos from other cameras use upload_with_authentication, or add_mapillary_tag_from_exif first)",
            other.display()
        ),
    );
    assert!(other.exists(), "a photo skipped stays where it is");
}
