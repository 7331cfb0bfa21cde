//! The official client as an oracle: for every photo of the shared corpus,
//! the description add_mapillary_tag_from_exif writes has the capture
//! time, position, heading and camera id that `mapillary_tools process`
//! (0.14.7) derives from the same photo, and the two refuse the same
//! photos. Where they differ on purpose, the photo is named below with the
//! reason (docs/description.md explains each rule).
//!
//! Skips with a message when the corpus or the official client is absent
//! (`MAPILLARY_CORPUS`, `MAPILLARY_TOOLS_OFFICIAL`).

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use mapillary_core::exif::read_exif;
use mapillary_testkit::{corpus, official_client};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_add_mapillary_tag_from_exif");

/// Photos where the heading differs on purpose: (file name, ours, the
/// official client's, why).
const HEADING_DIFFERENCES: &[(&str, f64, f64, &str)] = &[(
    "adobe_coords.jpg",
    176.3,
    0.0,
    "its position and heading are in XMP only: these tools read exif:GPSImgDirection there \
     (176.3); the official client reads no heading from XMP and gives a photo without one 0",
)];

/// Photos that one tool accepts and the other refuses, on purpose: (file
/// name, accepted by these tools, why). None today: both refuse the same
/// 40 photos of the corpus (no GPS position, or XMP the official client
/// cannot decode) and accept the same 13.
const ACCEPTANCE_DIFFERENCES: &[(&str, bool, &str)] = &[];

/// Every JPEG under `dir`, recursively, sorted.
fn jpegs(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e.eq_ignore_ascii_case("jpg") || e.eq_ignore_ascii_case("jpeg"))
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Copies each photo into a folder of its own under `to` (so that the
/// official client makes each a sequence of one, and no sequence rule of
/// either tool mixes photos of different cameras). Returns the key of
/// each photo (its path in the corpus) and its copy.
fn copy_apart(photos: &[PathBuf], base: &Path, to: &Path) -> Vec<(String, PathBuf)> {
    photos
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let key = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
            let dir = to.join(format!("{i:03}"));
            fs::create_dir_all(&dir).unwrap();
            let copy = dir.join(p.file_name().unwrap());
            fs::copy(p, &copy).unwrap();
            let mut perms = fs::metadata(&copy).unwrap().permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perms.set_readonly(false);
            fs::set_permissions(&copy, perms).unwrap();
            (key, copy)
        })
        .collect()
}

/// What one tool made of one photo: its description, or why it refused.
type Outcome = Result<Value, String>;

/// Runs `mapillary_tools process` on `folder` in zone `tz`, with a
/// HOME of its own and no way to the network; returns the entry of its
/// description file for each photo, by canonical path.
fn official(program: &Path, folder: &Path, tz: &str, home: &Path) -> BTreeMap<PathBuf, Outcome> {
    let desc = home.join("descriptions.json");
    let out = Command::new(program)
        .arg("process")
        .arg(folder)
        .arg("--desc_path")
        .arg(&desc)
        .env("HOME", home)
        .env("TZ", tz)
        .env("http_proxy", "http://127.0.0.1:9")
        .env("https_proxy", "http://127.0.0.1:9")
        .env("MAPILLARY_GRAPH_API_ENDPOINT", "http://127.0.0.1:9")
        .output()
        .unwrap();
    let text = fs::read_to_string(&desc).unwrap_or_else(|_| {
        panic!(
            "the official client wrote no description file (exit {:?}): {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let entries: Vec<Value> = serde_json::from_str(&text).unwrap();
    entries
        .into_iter()
        .map(|e| {
            let path = fs::canonicalize(e["filename"].as_str().unwrap()).unwrap();
            let outcome = match e.get("error") {
                Some(err) => Err(format!("{}: {}", err["type"], err["message"])),
                None => Ok(e),
            };
            (path, outcome)
        })
        .collect()
}

/// Runs add_mapillary_tag_from_exif on `folder` in zone `tz`; returns the
/// description written into each photo, or the tool's message for a photo
/// it left unchanged.
fn ours(photos: &[(String, PathBuf)], folder: &Path, tz: &str) -> BTreeMap<PathBuf, Outcome> {
    let before: Vec<Vec<u8>> = photos.iter().map(|(_, p)| fs::read(p).unwrap()).collect();
    let out = Command::new(BIN)
        .arg(folder)
        // No sequence_id: each photo's folder is its own sequence, as the
        // official client forms them (one sequence for all would make some
        // corpus photos duplicates of one another).
        .env("TZ", tz)
        .env("HOME", "/nonexistent")
        .env_remove("MAPILLARY_USERNAME")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    photos
        .iter()
        .zip(before)
        .map(|((_, p), old)| {
            let outcome = if fs::read(p).unwrap() == old {
                let name = p.to_string_lossy();
                Err(stderr
                    .lines()
                    .find(|l| l.contains(name.as_ref()))
                    .unwrap_or("(no message)")
                    .to_string())
            } else {
                let text = read_exif(p).unwrap().image_description.unwrap();
                Ok(serde_json::from_str(&text).unwrap())
            };
            (fs::canonicalize(p).unwrap(), outcome)
        })
        .collect()
}

fn milliseconds(capture_time: &Value) -> i64 {
    mapillary_core::description::parse_capture_time(capture_time.as_str().unwrap())
        .unwrap()
        .as_millisecond()
}

fn heading(d: &Value) -> Option<f64> {
    d.get("MAPCompassHeading")
        .map(|h| h["TrueHeading"].as_f64().unwrap())
}

/// The difference of two headings in degrees, the short way round.
fn angle_between(a: f64, b: f64) -> f64 {
    let d = (a - b).rem_euclid(360.0);
    d.min(360.0 - d)
}

/// Compares one photo's two descriptions; returns what disagrees.
fn compare(name: &str, ours: &Value, official: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let (a, b) = (
        milliseconds(&ours["MAPCaptureTime"]),
        milliseconds(&official["MAPCaptureTime"]),
    );
    if (a - b).abs() > 1 {
        problems.push(format!(
            "MAPCaptureTime {} vs {}",
            ours["MAPCaptureTime"], official["MAPCaptureTime"]
        ));
    }
    for key in ["MAPLatitude", "MAPLongitude"] {
        let (a, b) = (ours[key].as_f64().unwrap(), official[key].as_f64().unwrap());
        if (a - b).abs() > 1e-7 {
            problems.push(format!("{key} {a} vs {b}"));
        }
    }
    let documented = HEADING_DIFFERENCES.iter().find(|d| d.0 == name);
    match (heading(ours), heading(official), documented) {
        (Some(a), Some(b), Some(&(_, want_ours, want_official, _))) => {
            if a != want_ours || b != want_official {
                problems.push(format!(
                    "MAPCompassHeading {a} vs {b}, documented as {want_ours} vs {want_official}"
                ));
            }
        }
        (Some(a), Some(b), None) => {
            if angle_between(a, b) > 0.01 {
                problems.push(format!("MAPCompassHeading {a} vs {b}"));
            }
        }
        // A photo without a heading: the official client interpolates one
        // from the neighbours in its sequence, and gives a photo alone in
        // its sequence 0; these tools leave it out, for the server (or
        // interpolate_direction) to compute.
        (None, Some(0.0), None) => {}
        (a, b, _) => problems.push(format!("MAPCompassHeading {a:?} vs {b:?}")),
    }
    if ours.get("MAPCameraUUID") != official.get("MAPCameraUUID") {
        problems.push(format!(
            "MAPCameraUUID {:?} vs {:?}",
            ours.get("MAPCameraUUID"),
            official.get("MAPCameraUUID")
        ));
    }
    problems
}

#[test]
fn descriptions_match_the_official_client_on_every_corpus_photo() {
    let (Some(base), Some(program)) = (corpus(""), official_client()) else {
        return;
    };
    let photos = jpegs(&base);
    assert!(!photos.is_empty(), "no photos under {}", base.display());
    // Two zones for the photos whose camera time has no offset: both tools
    // take such a time in the computer's zone (TZ).
    for tz in ["Asia/Kolkata", "America/Los_Angeles"] {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        fs::create_dir_all(&home).unwrap();
        let theirs = copy_apart(&photos, &base, &dir.path().join("official"));
        let mine = copy_apart(&photos, &base, &dir.path().join("ours"));
        let official_results = official(&program, &dir.path().join("official"), tz, &home);
        let our_results = ours(&mine, &dir.path().join("ours"), tz);

        let mut disagreements = Vec::new();
        let (mut compared, mut both_refused) = (0, 0);
        for ((key, their_copy), (_, my_copy)) in theirs.iter().zip(&mine) {
            let name = my_copy.file_name().unwrap().to_string_lossy().into_owned();
            let official = official_results
                .get(&fs::canonicalize(their_copy).unwrap())
                .unwrap_or_else(|| panic!("{key}: not in the official description file"));
            let mine = &our_results[&fs::canonicalize(my_copy).unwrap()];
            let documented = ACCEPTANCE_DIFFERENCES.iter().find(|d| d.0 == name);
            match (mine, official) {
                (Ok(a), Ok(b)) => {
                    compared += 1;
                    for p in compare(&name, a, b) {
                        disagreements.push(format!("{key}: {p}"));
                    }
                }
                (Err(_), Err(_)) => both_refused += 1,
                (Ok(_), Err(why)) if documented.is_some_and(|d| d.1) => {
                    eprintln!(
                        "{key}: accepted here, refused by the official client ({why}): documented"
                    );
                }
                (Err(why), Ok(_)) if documented.is_some_and(|d| !d.1) => {
                    eprintln!(
                        "{key}: refused here ({why}), accepted by the official client: documented"
                    );
                }
                (Ok(_), Err(why)) => disagreements.push(format!(
                    "{key}: accepted here, refused by the official client ({why})"
                )),
                (Err(why), Ok(_)) => disagreements.push(format!(
                    "{key}: refused here ({why}), accepted by the official client"
                )),
            }
        }
        assert!(
            disagreements.is_empty(),
            "TZ={tz}: {} disagreements:\n{}",
            disagreements.len(),
            disagreements.join("\n")
        );
        eprintln!(
            "TZ={tz}: {compared} photos agree with the official client, {both_refused} refused by both"
        );
        assert!(compared >= 13, "only {compared} photos compared");
        // Every documented difference still happens.
        for (name, ..) in HEADING_DIFFERENCES {
            assert!(
                mine.iter().any(|(_, p)| p.ends_with(name)),
                "{name} is documented but not in the corpus"
            );
        }
    }
}
