//! upload checks every sequence against the sequence rules again: a
//! sequence over Mapillary's limits goes up in parts, duplicates, photos at
//! 0,0 and sequences faster than 400 km/h stay where they are with one
//! message per reason.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::fs;
use std::path::PathBuf;

use mapillary_local_server::Seed;
use mapillary_testkit::sandbox::{DEMO_TOKEN, Sandbox};
use mapillary_testkit::{args, assert_line, line_starting, tagged_photo};

const BIN: &str = env!("CARGO_BIN_EXE_upload");

#[test]
fn a_sequence_of_1050_photos_arrives_whole_in_parts_of_at_most_1000() {
    let sandbox = Sandbox::start(Seed::default(), &[]);
    let work = tempfile::tempdir().unwrap();
    let trip = work.path().join("trip");
    fs::create_dir_all(&trip).unwrap();
    // Tagged as one sequence (what add_mapillary_tag_from_exif writes for
    // a sequence_id), a photo a second, 1.1 m apart; names against time.
    for i in 0..1050u32 {
        tagged_photo(
            &trip.join(format!("IMG_{:04}.jpg", 1049 - i)),
            "my-long-walk",
            i,
            50.0 + f64::from(i) * 1e-5,
            8.0,
            None,
        );
    }
    let (code, stdout, stderr) = sandbox.run(BIN, args!["trip"], &[DEMO_TOKEN], work.path());
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_line(
        &stderr,
        "upload: sequence my-long-walk uploaded in parts; the next part starts at trip/IMG_0049.jpg: Mapillary takes at most 1,000 photos in one sequence",
    );
    assert_line(
        &stdout,
        "2 sequences uploaded, 0 skipped (already uploaded), 0 failed; 1.4 MB sent",
    );
    let clusters: Vec<String> = sandbox
        .server
        .sequences()
        .into_iter()
        .map(|s| s.cluster_id)
        .collect();
    for part in [
        "sequence my-long-walk (part 1 of 2): 1000 photos uploaded, cluster ",
        "sequence my-long-walk (part 2 of 2): 50 photos uploaded, cluster ",
    ] {
        let cluster = &line_starting(&stdout, part)[part.len()..];
        assert!(
            clusters.iter().any(|c| c == cluster),
            "{cluster}: {clusters:?}"
        );
    }
    let sequences = sandbox.server.sequences();
    assert_eq!(sequences.len(), 2);
    assert!(sequences.iter().all(|s| s.images.len() <= 1000));
    // Every photo, once, in capture order across the parts.
    let times: Vec<String> = sequences
        .iter()
        .flat_map(|s| &s.images)
        .map(|i| {
            i.description["MAPCaptureTime"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(times.len(), 1050);
    let mut sorted = times.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(times, sorted, "in capture order, none twice");
    assert!(fs::read_dir(&trip).unwrap().next().is_none(), "all moved");
}

#[test]
fn duplicates_null_island_and_too_fast_stay_where_they_are() {
    let sandbox = Sandbox::start(Seed::default(), &[]);
    let work = tempfile::tempdir().unwrap();
    let trip = work.path().join("trip");
    fs::create_dir_all(&trip).unwrap();
    let photo = |name: &str, sequence: &str, second: u32, lat: f64, lon: f64| {
        let p = trip.join(name);
        tagged_photo(&p, sequence, second, lat, lon, None);
        p
    };
    let kept: Vec<PathBuf> = (0..4u32)
        .map(|i| {
            photo(
                &format!("walk_{i}.jpg"),
                "walk",
                i * 2,
                5.0 + f64::from(i) * 1e-4,
                5.0,
            )
        })
        .collect();
    // Taken standing still after walk_3, and one without a fix.
    let duplicate = photo("walk_4.jpg", "walk", 8, 5.0 + 3e-4, 5.0);
    let null = photo("walk_5.jpg", "walk", 9, 0.0, 0.0);
    // Another sequence: 0.1 degrees (11 km) in 10 s.
    let fast = [
        photo("fast_a.jpg", "fast", 100, 7.0, 7.0),
        photo("fast_b.jpg", "fast", 110, 7.1, 7.0),
    ];
    let left_out_bytes: Vec<Vec<u8>> = [&duplicate, &null, &fast[0], &fast[1]]
        .iter()
        .map(|p| fs::read(p).unwrap())
        .collect();

    let (code, stdout, stderr) = sandbox.run(BIN, args!["trip"], &[DEMO_TOKEN], work.path());
    assert_eq!(code, 1, "{stdout}{stderr}");
    let one_line = |needle: &str| {
        let lines: Vec<&str> = stderr.lines().filter(|l| l.contains(needle)).collect();
        assert_eq!(lines.len(), 1, "{needle}: {stderr}");
        lines[0].to_string()
    };
    assert_eq!(
        one_line("duplicate"),
        format!(
            "upload: 1 photo left out (not uploaded, left where they are): each a duplicate of the photo kept before it (within 0.1 m and 5°): {}",
            "trip/walk_4.jpg"
        )
    );
    assert_eq!(
        one_line("latitude 0"),
        "upload: 1 photo left out (not uploaded, left where they are): at latitude 0, longitude 0, where a camera without a GPS fix puts photos: trip/walk_5.jpg"
    );
    let fast_line = one_line("faster than");
    assert!(
        fast_line.starts_with("upload: 2 photos left out (not uploaded, left where they are): their sequence is faster than 400 km/h on average (")
            && fast_line.ends_with("trip/fast_a.jpg, trip/fast_b.jpg"),
        "{fast_line}"
    );
    // The walk went up without them; they are where they were, unchanged.
    let sequences = sandbox.server.sequences();
    assert_eq!(sequences.len(), 1);
    assert_eq!(sequences[0].images.len(), 4);
    for p in &kept {
        assert!(!p.exists());
        assert!(
            work.path()
                .join("success")
                .join(p.file_name().unwrap())
                .is_file()
        );
    }
    for (p, bytes) in [&duplicate, &null, &fast[0], &fast[1]]
        .iter()
        .zip(&left_out_bytes)
    {
        assert_eq!(&fs::read(p).unwrap(), bytes, "{}", p.display());
    }
    assert!(!work.path().join("failed").exists());
    assert_line(
        &stdout,
        "1 sequence uploaded, 0 skipped (already uploaded), 0 failed; 0.0 MB sent",
    );
}
