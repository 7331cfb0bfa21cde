//! download_images never replaces or deletes a file it did not write, and
//! keeps every line of downloaded.txt (issue 12).

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::fs;

use mapillary_local_server::Seed;
use mapillary_local_server::seed::SeedImage;
use mapillary_testkit::sandbox::{DEMO_TOKEN, Sandbox};
use mapillary_testkit::{args, plain_jpeg};

const BIN: &str = env!("CARGO_BIN_EXE_download_images");

fn image(id: &str, lat: f64, lon: f64) -> SeedImage {
    SeedImage {
        id: id.to_string(),
        lat,
        lon,
        captured_at: 0,
        compass_angle: 0.0,
        sequence: "s".to_string(),
        thumbnail_status: None,
    }
}

#[test]
fn a_users_photo_and_listing_lines_are_kept() {
    let seed = Seed {
        images: vec![
            image("1001", 48.11, 11.51),
            image("1002", 48.12, 11.52),
            image("1003", 48.13, 11.53),
        ],
        ..Seed::default()
    };
    let sandbox = Sandbox::start(seed, &[]);
    let work = tempfile::tempdir().unwrap();
    let folder = work.path().join("downloaded");
    fs::create_dir(&folder).unwrap();
    // The user's own 1002.jpg: a whole JPEG with bytes after its EOI (as
    // cameras and editors append), which does not end in FF D9.
    let mut theirs = plain_jpeg(64, 48, 5);
    theirs.extend_from_slice(b"\x00\x01trailer of the user's camera");
    fs::write(folder.join("1002.jpg"), &theirs).unwrap();
    let user_lines =
        "# downloads for the walk in Munich\nold.jpg,52.0,13.0\nnotes without commas\n";
    fs::write(folder.join("downloaded.txt"), user_lines).unwrap();

    for run in 0..2 {
        let (code, stdout, stderr) = sandbox.run(
            BIN,
            args!["48.1", "48.2", "11.5", "11.6"],
            &[DEMO_TOKEN],
            work.path(),
        );
        assert_eq!(code, 0, "run {run}: {stdout}{stderr}");
        assert_eq!(fs::read(folder.join("1002.jpg")).unwrap(), theirs);
        for id in ["1001", "1003"] {
            let bytes = fs::read(folder.join(format!("{id}.jpg"))).unwrap();
            assert!(bytes.starts_with(&[0xFF, 0xD8]), "{id}");
        }
        let listing = fs::read_to_string(folder.join("downloaded.txt")).unwrap();
        assert_eq!(
            listing,
            format!(
                "{user_lines}1001.jpg,48.11,11.51\n1002.jpg,48.12,11.52\n1003.jpg,48.13,11.53\n"
            ),
            "run {run}"
        );
    }
    let names: Vec<String> = fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
}
