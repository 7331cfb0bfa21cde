//! upload and the organization in the description: inside MAPMetaTags (as
//! add_project writes it) or at the top level (as its earlier versions
//! did), the sequence joins it, and neither MAPMetaTags nor the
//! organization key goes on the wire. A description outside the schema is
//! not sent.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::fs;
use std::path::{Path, PathBuf};

use mapillary_core::exif::tags;
use mapillary_local_server::Seed;
use mapillary_testkit::sandbox::{DEMO_TOKEN, Sandbox};
use mapillary_testkit::{args, assert_line, photo_edits, write_photo};

const BIN: &str = env!("CARGO_BIN_EXE_upload");

/// A photo of sequence `sequence`, taken `second` s after 10:00 UTC, whose
/// description has `extra` keys besides the required ones.
fn photo(dir: &Path, name: &str, sequence: &str, second: u32, extra: &str) -> PathBuf {
    let p = dir.join(name);
    let lat = 52.5 + f64::from(second) * 1e-5;
    let mut edits = photo_edits(
        &format!("2021:06:01 10:00:{second:02}"),
        Some("Z"),
        Some((lat, 13.4)),
    );
    edits.set_text(
        tags::IMAGE_DESCRIPTION,
        &format!(
            r#"{{"MAPLatitude":{lat},"MAPLongitude":13.4,"MAPCaptureTime":"2021_06_01_10_00_{second:02}_000","MAPSequenceUUID":"{sequence}"{extra}}}"#
        ),
    );
    write_photo(&p, second, &edits);
    p
}

#[test]
fn both_ways_of_naming_the_organization_join_it_and_stay_off_the_wire() {
    let sandbox = Sandbox::start(Seed::default(), &[]);
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("trip");
    fs::create_dir_all(&dir).unwrap();
    for i in 0..2 {
        photo(
            &dir,
            &format!("new{i}.jpg"),
            "seq-new",
            i,
            r#","MAPMetaTags":{"MAPOrganizationKey":"200001","MAPSettingsUsername":"legacy"}"#,
        );
        photo(
            &dir,
            &format!("old{i}.jpg"),
            "seq-old",
            10 + i,
            r#","MAPOrganizationKey":"200001","MAPSettingsProject":"200001""#,
        );
    }
    let unfit = photo(
        &dir,
        "unfit.jpg",
        "seq-unfit",
        20,
        r#","MAPOrientation":"1""#,
    );
    let (code, stdout, stderr) = sandbox.run(BIN, args![dir], &[DEMO_TOKEN], work.path());
    assert_eq!(code, 1, "the unfit photo is skipped: {stdout}{stderr}");
    assert_line(
        &stderr,
        &format!(
            "upload: {}: skipped: the description would not fit Mapillary's image description schema: MAPOrientation: \"1\" is not of type \"integer\"",
            unfit.display()
        ),
    );
    let sequences = sandbox.server.sequences();
    assert_eq!(sequences.len(), 2, "{sequences:#?}");
    for s in &sequences {
        assert_eq!(s.organization_id.as_deref(), Some("200001"));
        assert_eq!(s.images.len(), 2);
        for image in &s.images {
            let keys: Vec<&String> = image.description.as_object().unwrap().keys().collect();
            assert!(
                keys.iter().all(|k| !k.contains("MetaTags")
                    && !k.contains("Organization")
                    && !k.starts_with("MAPSettings")),
                "{keys:?}"
            );
        }
    }
}
