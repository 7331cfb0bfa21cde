//! upload_each_folder_as_sequence against the local server.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::fs;
use std::path::{Path, PathBuf};

use mapillary_local_server::Seed;
use mapillary_testkit::sandbox::{DEMO_TOKEN, Sandbox};
use mapillary_testkit::{
    args, assert_line, assert_only_line, photo_edits, run_tool, workspace_root, write_photo,
};

const BIN: &str = env!("CARGO_BIN_EXE_upload_each_folder_as_sequence");

/// `folders` folders of camera photos; folder k is near latitude 10·(k+1).
fn folders(root: &Path, sizes: &[u32]) -> Vec<PathBuf> {
    let mut all = Vec::new();
    for (k, &n) in sizes.iter().enumerate() {
        let dir = root.join(format!("day{k}"));
        fs::create_dir_all(&dir).unwrap();
        for i in 0..n {
            let p = dir.join(format!("IMG_{i}.jpg"));
            let time = format!("2021:06:0{} 10:00:{:02}", k + 1, i * 2);
            write_photo(
                &p,
                i + 10 * k as u32,
                &photo_edits(
                    &time,
                    Some("Z"),
                    Some((10.0 * (k + 1) as f64, f64::from(i) * 1e-4)),
                ),
            );
            all.push(p);
        }
    }
    all
}

#[test]
fn every_folder_is_its_own_sequence_in_the_organization() {
    let sandbox = Sandbox::start(Seed::default(), &[]);
    let work = tempfile::tempdir().unwrap();
    let files = folders(&work.path().join("trips"), &[3, 2, 4]);
    let before: Vec<Vec<u8>> = files.iter().map(|f| fs::read(f).unwrap()).collect();
    let (code, stdout, stderr) = sandbox.run(
        BIN,
        args![work.path().join("trips"), "Demo Mappers"],
        &[DEMO_TOKEN],
        work.path(),
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_line(
        &stdout,
        "3 sequences uploaded, 0 skipped (already uploaded), 0 failed; 0.0 MB sent",
    );
    let seqs = sandbox.server.sequences();
    assert_eq!(seqs.len(), 3);
    let mut sizes: Vec<(i64, usize)> = seqs
        .iter()
        .map(|s| {
            assert_eq!(s.organization_id.as_deref(), Some("200001"));
            let lats: Vec<f64> = s
                .images
                .iter()
                .map(|i| i.description["MAPLatitude"].as_f64().unwrap())
                .collect();
            assert!(
                lats.iter().all(|l| *l == lats[0]),
                "one folder per sequence: {lats:?}"
            );
            (lats[0] as i64, s.images.len())
        })
        .collect();
    sizes.sort();
    assert_eq!(sizes, [(10, 3), (20, 2), (30, 4)]);
    let after: Vec<Vec<u8>> = files.iter().map(|f| fs::read(f).unwrap()).collect();
    assert_eq!(after, before, "the photos are neither changed nor moved");
    // Fresh UUIDs on the next run, but the same photos: nothing is sent.
    let posts = sandbox.server.stats().upload_posts;
    let (code, stdout, _) = sandbox.run(
        BIN,
        args![work.path().join("trips"), "200001"],
        &[DEMO_TOKEN],
        work.path(),
    );
    assert_eq!(code, 0);
    assert_line(
        &stdout,
        "0 sequences uploaded, 3 skipped (already uploaded), 0 failed; 0.0 MB sent",
    );
    assert_eq!(sandbox.server.stats().upload_posts, posts);
}

#[test]
fn an_unknown_project_stops_before_anything_is_sent() {
    let sandbox = Sandbox::start(Seed::default(), &[]);
    let work = tempfile::tempdir().unwrap();
    folders(&work.path().join("trips"), &[2]);
    let (code, _, stderr) = sandbox.run(
        BIN,
        args![work.path().join("trips"), "Nobody"],
        &[DEMO_TOKEN],
        work.path(),
    );
    assert_eq!(code, 1);
    assert_eq!(
        stderr.trim(),
        "upload_each_folder_as_sequence: no organization 'Nobody'; yours are: Demo Mappers (200001)"
    );
    assert_eq!(sandbox.server.stats().upload_posts, 0);
}

#[test]
fn without_a_project_and_as_a_dry_run() {
    let sandbox = Sandbox::start(Seed::default(), &[]);
    let work = tempfile::tempdir().unwrap();
    folders(&work.path().join("trips"), &[2, 1]);
    let (code, stdout, _) = sandbox.run(
        BIN,
        args!["-n", work.path().join("trips")],
        &[],
        work.path(),
    );
    assert_eq!(code, 0);
    assert_line(
        &stdout,
        "2 sequences would be uploaded, 0 skipped (already uploaded), 0 failed",
    );
    assert_eq!(sandbox.server.stats().upload_posts, 0);
    let (code, _, stderr) = sandbox.run(
        BIN,
        args![work.path().join("trips")],
        &[DEMO_TOKEN],
        work.path(),
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        sandbox
            .server
            .sequences()
            .iter()
            .all(|s| s.organization_id.is_none())
    );
}

#[test]
fn man_page_is_current() {
    let (_, man, _) = run_tool(BIN, args!["--generate-man"], None);
    let committed =
        fs::read_to_string(workspace_root().join("docs/man/upload_each_folder_as_sequence.1"))
            .unwrap_or_default();
    assert_eq!(
        man, committed,
        "docs/man/upload_each_folder_as_sequence.1 is out of date: run `make man`"
    );
}

#[test]
fn a_folder_with_a_pause_becomes_two_sequences() {
    let sandbox = Sandbox::start(Seed::default(), &[]);
    let work = tempfile::tempdir().unwrap();
    let trips = work.path().join("trips");
    folders(&trips, &[3]);
    // The same folder, an hour later.
    for i in 0..2u32 {
        write_photo(
            &trips.join(format!("day0/LATE_{i}.jpg")),
            40 + i,
            &photo_edits(
                &format!("2021:06:01 11:00:{:02}", i * 2),
                Some("Z"),
                Some((10.0, 0.01 + f64::from(i) * 1e-4)),
            ),
        );
    }
    let (code, stdout, stderr) = sandbox.run(BIN, args![&trips, "-v"], &[DEMO_TOKEN], work.path());
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_line(
        &stderr,
        &format!(
            "upload_each_folder_as_sequence: new sequence from {}: taken 3596.0 s after the photo before it (more than 60 s)",
            trips.join("day0/LATE_0.jpg").display()
        ),
    );
    let mut sizes: Vec<usize> = sandbox
        .server
        .sequences()
        .iter()
        .map(|s| s.images.len())
        .collect();
    sizes.sort();
    assert_eq!(sizes, [2, 3]);
}

#[test]
fn each_case_has_its_exit_status() {
    let sandbox = Sandbox::start(Seed::default(), &[]);
    let work = tempfile::tempdir().unwrap();
    // A path that is not there: 2, one line, before any request.
    let missing = work.path().join("missing");
    let (code, stdout, stderr) = sandbox.run(
        BIN,
        args![&missing, "Demo Mappers"],
        &[DEMO_TOKEN],
        work.path(),
    );
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert_only_line(
        &stderr,
        &format!(
            "upload_each_folder_as_sequence: {}: no such file or folder",
            missing.display()
        ),
    );
    // A folder without photos: 1, with a message.
    let empty = work.path().join("empty");
    fs::create_dir(&empty).unwrap();
    let (code, _, stderr) = sandbox.run(BIN, args![&empty], &[DEMO_TOKEN], work.path());
    assert_eq!(code, 1);
    assert_only_line(
        &stderr,
        &format!(
            "upload_each_folder_as_sequence: no photos (.jpg, .jpeg) under {}",
            empty.display()
        ),
    );
    // A usage error: 2.
    let (code, _, stderr) = sandbox.run(BIN, args![&empty, "a", "b"], &[DEMO_TOKEN], work.path());
    assert_eq!(code, 2);
    assert_eq!(
        stderr.lines().collect::<Vec<_>>(),
        [
            "upload_each_folder_as_sequence: unexpected argument 'b'",
            "Usage: upload_each_folder_as_sequence [options] path [project_name] (see upload_each_folder_as_sequence --help)"
        ]
    );
    assert!(sandbox.server.stats().requests.is_empty());
    // Everything uploaded: 0; --yes, -y and MAPILLARY_TOOLS_PROMPT_DISABLED
    // are taken as by upload_with_authentication (this tool never asks).
    let trips = work.path().join("trips");
    folders(&trips, &[2]);
    let (code, stdout, stderr) =
        sandbox.run(BIN, args![&trips, "--yes"], &[DEMO_TOKEN], work.path());
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.lines().last().is_some_and(
            |l| l.starts_with("1 sequence uploaded, 0 skipped (already uploaded), 0 failed; ")
        ),
        "{stdout}"
    );
    let vars = [DEMO_TOKEN, ("MAPILLARY_TOOLS_PROMPT_DISABLED", "YES")];
    let (code, stdout, stderr) = sandbox.run(BIN, args![&trips, "-y"], &vars, work.path());
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.lines().last().is_some_and(
            |l| l.starts_with("0 sequences uploaded, 1 skipped (already uploaded), 0 failed; ")
        ),
        "{stdout}"
    );
    // A photo skipped: 1.
    let blank = trips.join("day0/blank.jpg");
    fs::write(&blank, mapillary_testkit::plain_jpeg(8, 8, 1)).unwrap();
    let (code, _, stderr) = sandbox.run(BIN, args![&trips], &[DEMO_TOKEN], work.path());
    assert_eq!(code, 1);
    assert_only_line(
        &stderr,
        &format!(
            "upload_each_folder_as_sequence: {}: skipped: no GPSLatitude",
            blank.display()
        ),
    );
}
