//! The committed sample trip is exactly what `make-testdata` produces.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::fs;
use std::path::Path;

fn all_files(dir: &Path, base: &Path, out: &mut Vec<String>) {
    for entry in fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            all_files(&p, base, out);
        } else {
            out.push(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
        }
    }
}

#[test]
fn committed_sample_trip_matches_the_generator() {
    let fresh = tempfile::tempdir().unwrap();
    mapillary_testkit::sample_trip::write(fresh.path()).unwrap();
    let committed = mapillary_testkit::testdata();
    let mut names = Vec::new();
    all_files(fresh.path(), fresh.path(), &mut names);
    names.sort();
    assert!(names.len() >= 31, "{names:?}");
    for name in names {
        let want = fs::read(fresh.path().join(&name)).unwrap();
        let have = fs::read(committed.join(&name)).unwrap_or_default();
        assert!(
            want == have,
            "testdata/{name} differs from what make-testdata writes: run `cargo run -p mapillary-testkit --bin make-testdata`"
        );
    }
}
