//! add_mapillary_tag_from_exif cuts photos into sequences by the official
//! client's rules, and leaves out duplicates, photos at 0,0 and sequences
//! faster than 400 km/h with one message per reason; compared with the
//! official client's `process` on the same photos where it is installed.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use mapillary_core::exif::{Value, read_exif, tags};
use mapillary_testkit::{args, assert_line, photo_edits, write_photo};

const BIN: &str = env!("CARGO_BIN_EXE_add_mapillary_tag_from_exif");

/// A camera photo taken `second`s after 2021-06-01 10:00:00 UTC, `north`
/// metres north of 52.5 N 13.4 E, looking `heading` degrees if given.
fn camera_photo(path: &Path, second: u32, north: f64, heading: Option<f64>) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let time = format!(
        "2021:06:01 {:02}:{:02}:{:02}",
        10 + second / 3600,
        (second / 60) % 60,
        second % 60
    );
    let mut edits = photo_edits(
        &time,
        Some("+00:00"),
        Some((52.5 + north / 111_250.0, 13.4)),
    );
    if let Some(h) = heading {
        edits.set_text(tags::GPS_IMG_DIRECTION_REF, "T").set(
            tags::GPS_IMG_DIRECTION,
            Value::Rational(vec![((h * 100.0).round() as u32, 100)]),
        );
    }
    write_photo(path, second, &edits);
}

/// Runs the tool without network or credentials, with `vars`.
fn tag(args: &[&std::ffi::OsStr], vars: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("MAPILLARY_USERNAME")
        .env("HOME", "/nonexistent")
        .env("TZ", "UTC");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let (o, e) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(!e.contains("panicked"), "{e}");
    (out.status.code().unwrap(), o, e)
}

/// `n` as the tools write a limit: digits in groups of three.
fn with_commas(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The MAPSequenceUUID of each photo under `dir` (by file name), `None`
/// for a photo without one.
fn sequences_of(dir: &Path) -> BTreeMap<String, Option<String>> {
    mapillary_core::files::find_images(dir)
        .unwrap()
        .images
        .into_iter()
        .map(|f| {
            let sequence = read_exif(&f)
                .unwrap()
                .image_description
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .and_then(|d| d["MAPSequenceUUID"].as_str().map(str::to_string));
            (
                f.file_name().unwrap().to_string_lossy().into_owned(),
                sequence,
            )
        })
        .collect()
}

/// The photos grouped by sequence (sets of file names), and the photos in
/// none.
fn partition(
    sequences: &BTreeMap<String, Option<String>>,
) -> (BTreeSet<BTreeSet<String>>, BTreeSet<String>) {
    let mut groups: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut none = BTreeSet::new();
    for (name, sequence) in sequences {
        match sequence {
            Some(s) => {
                groups.entry(s).or_default().insert(name.clone());
            }
            None => {
                none.insert(name.clone());
            }
        }
    }
    (groups.into_values().collect(), none)
}

fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// 20 photos over 16 minutes with a 10-minute pause after the tenth,
/// walking north at 1 m/s.
fn walk_with_a_pause(dir: &Path) -> Vec<PathBuf> {
    (0..20u32)
        .map(|i| {
            let second = i * 20 + if i >= 10 { 580 } else { 0 };
            let p = dir.join(format!("IMG_{i:04}.jpg"));
            camera_photo(&p, second, f64::from(i) * 20.0, None);
            p
        })
        .collect()
}

#[test]
fn twenty_photos_with_a_ten_minute_pause_become_two_sequences() {
    let dir = tempfile::tempdir().unwrap();
    walk_with_a_pause(dir.path());
    let (code, stdout, stderr) = tag(args![dir.path(), "-v"], &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_line(
        &stdout,
        "20 photos tagged, 0 skipped, 0 failed (2 sequences)",
    );
    assert_line(
        &stderr,
        &format!(
            "add_mapillary_tag_from_exif: new sequence from {}: taken 600.0 s after the photo before it (more than 60 s)",
            dir.path().join("IMG_0010.jpg").display()
        ),
    );
    let (groups, none) = partition(&sequences_of(dir.path()));
    assert!(none.is_empty());
    let first: BTreeSet<String> = (0..10).map(|i| format!("IMG_{i:04}.jpg")).collect();
    let second: BTreeSet<String> = (10..20).map(|i| format!("IMG_{i:04}.jpg")).collect();
    assert_eq!(groups, BTreeSet::from([first, second]));

    // The cutoff as an option and as the official client's variable.
    let (code, stdout, _) = tag(args![dir.path(), "--cutoff-time", "700"], &[]);
    assert_eq!(code, 0);
    let one = sequences_of(dir.path());
    assert_eq!(partition(&one).0.len(), 1);
    assert_line(
        &stdout,
        &format!(
            "20 photos tagged, 0 skipped, 0 failed (sequence {})",
            one["IMG_0000.jpg"].as_deref().unwrap()
        ),
    );
    let (code, _, _) = tag(
        args![dir.path()],
        &[("MAPILLARY_TOOLS_CUTOFF_DISTANCE", "15")],
    );
    assert_eq!(code, 0);
    assert_eq!(partition(&sequences_of(dir.path())).0.len(), 20);
    let (code, _, stderr) = tag(
        args![dir.path()],
        &[("MAPILLARY_TOOLS_CUTOFF_TIME", "soon")],
    );
    assert_eq!(code, 1);
    assert_line(
        &stderr,
        "add_mapillary_tag_from_exif: MAPILLARY_TOOLS_CUTOFF_TIME=\"soon\": expected a number (inf for none)",
    );

    // A sequence id keeps them one sequence.
    let (code, stdout, _) = tag(args![dir.path(), "walk-1"], &[]);
    assert_eq!(code, 0);
    assert_line(
        &stdout,
        "20 photos tagged, 0 skipped, 0 failed (sequence walk-1)",
    );
    let all = sequences_of(dir.path());
    assert!(
        all.values().all(|s| s.as_deref() == Some("walk-1")),
        "{all:?}"
    );
}

#[test]
fn the_limits_cut_and_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let photos: Vec<PathBuf> = (0..7u32)
        .map(|i| {
            let p = dir.path().join(format!("p{i}.jpg"));
            camera_photo(&p, i * 2, f64::from(i) * 2.0, None);
            p
        })
        .collect();
    let (code, stdout, stderr) = tag(
        args![dir.path()],
        &[("MAPILLARY_TOOLS_MAX_SEQUENCE_LENGTH", "3")],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    for cut in ["p3.jpg", "p6.jpg"] {
        assert_line(
            &stderr,
            &format!(
                "add_mapillary_tag_from_exif: new sequence from {}: Mapillary takes at most 3 photos in one sequence",
                dir.path().join(cut).display()
            ),
        );
    }
    let (groups, _) = partition(&sequences_of(dir.path()));
    assert_eq!(
        groups,
        BTreeSet::from([
            names(&["p0.jpg", "p1.jpg", "p2.jpg"]),
            names(&["p3.jpg", "p4.jpg", "p5.jpg"]),
            names(&["p6.jpg"])
        ])
    );
    // Bytes: each photo is about the same size; room for two.
    let size = fs::metadata(&photos[0]).unwrap().len();
    let (code, _, stderr) = tag(
        args![dir.path()],
        &[(
            "MAPILLARY_TOOLS_MAX_SEQUENCE_FILESIZE",
            &(size * 2 + size / 2).to_string(),
        )],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_line(
        &stderr,
        &format!(
            "add_mapillary_tag_from_exif: new sequence from {}: Mapillary takes at most {} bytes of photos in one sequence",
            dir.path().join("p2.jpg").display(),
            with_commas(size * 2 + size / 2)
        ),
    );
    let sizes: Vec<usize> = partition(&sequences_of(dir.path()))
        .0
        .iter()
        .map(BTreeSet::len)
        .collect();
    assert!(
        sizes.iter().all(|&n| n <= 2) && sizes.len() >= 4,
        "{sizes:?}"
    );
    // Pixels: the photos are 32 × 24 = 768 pixels; room for four.
    let (code, _, stderr) = tag(
        args![dir.path()],
        &[("MAPILLARY_TOOLS_MAX_SEQUENCE_PIXELS", "3100")],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_line(
        &stderr,
        &format!(
            "add_mapillary_tag_from_exif: new sequence from {}: Mapillary takes at most 3,100 pixels in one sequence",
            dir.path().join("p4.jpg").display()
        ),
    );
    let mut sizes: Vec<usize> = partition(&sequences_of(dir.path()))
        .0
        .iter()
        .map(BTreeSet::len)
        .collect();
    sizes.sort();
    assert_eq!(sizes, [3, 4]);
    // With a sequence id the photos stay one sequence; the tool says that
    // upload sends it in parts.
    let (code, _, stderr) = tag(
        args![dir.path(), "mine"],
        &[("MAPILLARY_TOOLS_MAX_SEQUENCE_LENGTH", "3")],
    );
    assert_eq!(code, 0);
    for part in ["p3.jpg", "p6.jpg"] {
        assert_line(
            &stderr,
            &format!(
                "add_mapillary_tag_from_exif: sequence mine will be uploaded in parts; a part starts at {}: Mapillary takes at most 3 photos in one sequence",
                dir.path().join(part).display()
            ),
        );
    }
    assert_eq!(partition(&sequences_of(dir.path())).0.len(), 1);
}

#[test]
fn duplicates_null_island_and_too_fast_are_left_out_with_one_message_each() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A walk with two photos taken standing still (same place, same way).
    for (i, (second, north)) in [(0, 0.0), (2, 2.0), (4, 2.0), (6, 2.05), (8, 4.0)]
        .into_iter()
        .enumerate()
    {
        camera_photo(&d.join(format!("walk_{i}.jpg")), second, north, Some(90.0));
    }
    // One photo of the walk at 0,0.
    let mut edits = photo_edits("2021:06:01 10:00:10", Some("+00:00"), Some((0.0, 0.0)));
    edits.remove(tags::GPS_IMG_DIRECTION);
    write_photo(&d.join("walk_5.jpg"), 5, &edits);
    // Another folder: 3 km in 10 s.
    camera_photo(&d.join("plane/a.jpg"), 100, 0.0, None);
    camera_photo(&d.join("plane/b.jpg"), 110, 3000.0, None);
    let before: BTreeMap<PathBuf, Vec<u8>> = mapillary_core::files::find_images(d)
        .unwrap()
        .images
        .into_iter()
        .map(|f| (f.clone(), fs::read(&f).unwrap()))
        .collect();

    let (code, stdout, stderr) = tag(args![d], &[]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    let path = |name: &str| d.join(name).display().to_string();
    assert_line(
        &stderr,
        &format!(
            "add_mapillary_tag_from_exif: 2 photos left out (not tagged): each a duplicate of the photo kept before it (within 0.1 m and 5°): {}, {}",
            path("walk_2.jpg"),
            path("walk_3.jpg")
        ),
    );
    assert_line(
        &stderr,
        &format!(
            "add_mapillary_tag_from_exif: 1 photo left out (not tagged): at latitude 0, longitude 0, where a camera without a GPS fix puts photos: {}",
            path("walk_5.jpg")
        ),
    );
    assert_line(
        &stderr,
        &format!(
            "add_mapillary_tag_from_exif: 2 photos left out (not tagged): their sequence is faster than 400 km/h on average (1080 km/h: a GPS or clock error?): {}, {}",
            path("plane/a.jpg"),
            path("plane/b.jpg")
        ),
    );
    let walk = sequences_of(d)["walk_0.jpg"].clone().unwrap();
    assert_line(
        &stdout,
        &format!("3 photos tagged, 5 skipped, 0 failed (sequence {walk})"),
    );
    // What was left out is unchanged; the rest is one sequence.
    for name in [
        "walk_2.jpg",
        "walk_3.jpg",
        "walk_5.jpg",
        "plane/a.jpg",
        "plane/b.jpg",
    ] {
        assert_eq!(
            fs::read(d.join(name)).unwrap(),
            before[&d.join(name)],
            "{name}"
        );
    }
    let (groups, none) = partition(&sequences_of(d));
    assert_eq!(
        groups,
        BTreeSet::from([names(&["walk_0.jpg", "walk_1.jpg", "walk_4.jpg"])])
    );
    assert_eq!(none.len(), 5);

    // A duplicate that holds the sequence of an earlier run loses it, so
    // that upload does not send it.
    let (code, _, _) = tag(
        args![d, "earlier"],
        &[("MAPILLARY_TOOLS_DUPLICATE_DISTANCE", "-1")],
    );
    assert_eq!(code, 1, "the photo at 0,0 is still left out");
    assert_eq!(sequences_of(d)["walk_2.jpg"].as_deref(), Some("earlier"));
    let (code, stdout, _) = tag(args![d], &[]);
    assert_eq!(code, 1);
    assert_line(
        &stdout,
        &format!(
            "{}: left out; lost the MAPSequenceUUID of an earlier run",
            d.join("walk_2.jpg").display()
        ),
    );
    let after = sequences_of(d);
    assert_eq!(after["walk_2.jpg"], None);
    assert_eq!(after["walk_3.jpg"], None);
    assert!(after["walk_0.jpg"].is_some());
}

/// The official client's `process` on the photos of `dir`: the photos
/// grouped by sequence and the photos it refused.
fn official_partition(
    official: &Path,
    dir: &Path,
    vars: &[(&str, &str)],
) -> (BTreeSet<BTreeSet<String>>, BTreeSet<String>) {
    let desc = dir.join("official.json");
    let mut cmd = Command::new(official);
    cmd.arg("process")
        .arg(dir)
        .arg("--desc_path")
        .arg(&desc)
        .arg("--skip_process_errors")
        .env("HOME", dir)
        .env("MAPILLARY_TOOLS_UPLOAD_CACHE_DIR", dir.join("cache"));
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let entries: Vec<serde_json::Value> =
        serde_json::from_str(&fs::read_to_string(&desc).unwrap()).unwrap();
    fs::remove_file(&desc).unwrap();
    let mut sequences = BTreeMap::new();
    for e in entries {
        let name = Path::new(e["filename"].as_str().unwrap())
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let sequence = if e.get("error").is_some() {
            None
        } else {
            Some(e["MAPSequenceUUID"].as_str().unwrap().to_string())
        };
        sequences.insert(name, sequence);
    }
    partition(&sequences)
}

#[test]
fn the_same_cuts_as_the_official_client() {
    let Some(official) = mapillary_testkit::official_client() else {
        return;
    };
    // One folder, one camera: a walk with a pause, a jump of 300 m, photos
    // standing still, a turn on the spot, photos in the same second, one
    // at 0,0, and a limit of 6 photos per sequence.
    let work = tempfile::tempdir().unwrap();
    let ours = work.path().join("ours");
    let theirs = work.path().join("theirs");
    let mut plan: Vec<(u32, f64, Option<f64>)> = Vec::new();
    let mut north = 0.0;
    for i in 0..12u32 {
        north += 5.0;
        plan.push((i * 3, north, Some(0.0)));
    }
    plan.push((40, north, Some(0.0))); // standing still: a duplicate
    plan.push((41, north + 0.05, Some(3.0))); // still a duplicate (3° off)
    plan.push((42, north + 0.05, Some(45.0))); // turned: kept
    plan.push((200, north + 10.0, None)); // after a pause of 158 s
    plan.push((203, north + 20.0, None));
    plan.push((206, north + 320.0, None)); // a jump of 300 m
    plan.push((209, north + 325.0, None));
    plan.push((209, north + 326.0, None)); // the same second
    plan.push((212, north + 330.0, None));
    for dir in [&ours, &theirs] {
        for (i, (second, north, heading)) in plan.iter().enumerate() {
            camera_photo(
                &dir.join(format!("IMG_{i:04}.jpg")),
                *second,
                *north,
                *heading,
            );
        }
        let mut edits = photo_edits("2021:06:01 10:00:37", Some("+00:00"), Some((0.0, 0.0)));
        edits.remove(tags::GPS_IMG_DIRECTION);
        write_photo(&dir.join("IMG_NULL.jpg"), 99, &edits);
        // Another folder: 3 km in 10 s.
        camera_photo(&dir.join("plane/PLANE_1.jpg"), 300, 0.0, None);
        camera_photo(&dir.join("plane/PLANE_2.jpg"), 310, 3000.0, None);
    }
    let vars = [("MAPILLARY_TOOLS_MAX_SEQUENCE_LENGTH", "6")];
    let (code, stdout, stderr) = tag(args![&ours], &vars);
    assert_eq!(code, 1, "{stdout}{stderr}");
    let (our_groups, our_left_out) = partition(&sequences_of(&ours));
    let (their_groups, their_left_out) = official_partition(&official, &theirs, &vars);
    assert_eq!(our_left_out, their_left_out, "photos left out");
    assert_eq!(our_groups, their_groups, "sequences\n{stderr}");
    // The limit cuts first (counting every photo), then the checks: the
    // photo at 0,0, one duplicate and the plane's photos are left out, the
    // pause and the jump cut.
    assert_eq!(our_groups.len(), 5, "{our_groups:?}");
    assert_eq!(our_left_out.len(), 4, "{our_left_out:?}");
}
