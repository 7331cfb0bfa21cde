//! Every input under fuzz/regressions/<target>/ (inputs that once made a
//! fuzzer fail, and a few ordinary ones) passes the checks of its target
//! (mapillary_core::fuzz_checks), on the stable compiler, in CI.

use std::fs;
use std::path::PathBuf;

use mapillary_core::fuzz_checks;

fn inputs(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/regressions")
        .join(target);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no inputs in {}", dir.display());
    files.iter().map(|p| fs::read(p).expect("input")).collect()
}

#[test]
fn exif_read() {
    for data in inputs("exif_read") {
        fuzz_checks::exif_read(&data);
    }
}

#[test]
fn exif_rewrite() {
    for data in inputs("exif_rewrite") {
        let dir = tempfile::tempdir().expect("scratch");
        fuzz_checks::exif_rewrite(&data, dir.path());
    }
}

#[test]
fn gpx_load() {
    for data in inputs("gpx_load") {
        fuzz_checks::gpx_load(&data);
    }
}

#[test]
fn server_json() {
    for data in inputs("server_json") {
        fuzz_checks::server_json(&data);
    }
}
