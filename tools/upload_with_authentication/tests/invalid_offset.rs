//! upload_with_authentication and an OffsetTimeOriginal that is not a UTC
//! offset: the photo says which zone was used instead, and goes up with
//! the time in that zone.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use mapillary_core::exif::tags;
use mapillary_local_server::Seed;
use mapillary_testkit::sandbox::{DEMO_TOKEN, Sandbox};
use mapillary_testkit::{args, photo_edits, write_photo};

const BIN: &str = env!("CARGO_BIN_EXE_upload_with_authentication");

#[test]
fn a_photo_with_an_invalid_offset_says_which_zone_was_used() {
    let sandbox = Sandbox::start(Seed::default(), &[]);
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("day");
    std::fs::create_dir_all(&dir).unwrap();
    let mut names = Vec::new();
    for (i, text) in ["+99:99", "garbage"].into_iter().enumerate() {
        let p = dir.join(format!("p{i}.jpg"));
        let mut edits = photo_edits(
            &format!("2021:06:01 12:00:0{i}"),
            None,
            Some((48.0 + i as f64 * 1e-4, 11.0)),
        );
        edits.set_text(tags::OFFSET_TIME_ORIGINAL, text);
        write_photo(&p, i as u32, &edits);
        names.push((text, p));
    }
    let (code, stdout, stderr) = sandbox.run(
        BIN,
        args![dir, "--yes"],
        &[DEMO_TOKEN, ("TZ", "Europe/Berlin")],
        work.path(),
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    for (text, p) in &names {
        let line = format!(
            "upload_with_authentication: {}: OffsetTimeOriginal '{text}' is not a UTC offset; used the computer's zone (Europe/Berlin, +02:00)",
            p.display()
        );
        assert!(stderr.lines().any(|l| l == line), "{line}\n{stderr}");
    }
    let sequences = sandbox.server.sequences();
    assert_eq!(sequences.len(), 1);
    let times: Vec<&str> = sequences[0]
        .images
        .iter()
        .map(|i| i.description["MAPCaptureTime"].as_str().unwrap())
        .collect();
    assert_eq!(
        times,
        ["2021_06_01_10_00_00_000", "2021_06_01_10_00_01_000"]
    );
}
