//! The crash-safety proof: geotag_from_gpx is started on 200 photos and
//! killed with SIGKILL at random moments, many times. After every kill,
//! every photo is either byte for byte the photo it was, or a complete
//! geotagged photo (its EXIF reads back with the right position, its image
//! data byte for byte the original's). A last normal run finishes the job
//! and leaves no temporary file behind.
//!
//! The kill moments come from a seed printed at the start; set
//! `CRASH_SAFETY_SEED` to replay a run.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mapillary_core::exif::jpeg::parse_head;
use mapillary_core::exif::read_exif;
use mapillary_testkit::{files_with_extension, testdata};

const BIN: &str = env!("CARGO_BIN_EXE_geotag_from_gpx");
const PHOTOS: usize = 200;
const KILLS: usize = 40;

/// 200 copies of the sample trip's photos in `dir`.
fn photos(dir: &Path) -> Vec<PathBuf> {
    let sources = files_with_extension(&testdata().join("trip"), &["jpg"]);
    assert!(!sources.is_empty());
    fs::create_dir_all(dir).unwrap();
    (0..PHOTOS)
        .map(|i| {
            let p = dir.join(format!("p{i:03}.jpg"));
            fs::copy(&sources[i % sources.len()], &p).unwrap();
            p
        })
        .collect()
}

/// geotag_from_gpx on `dir`, with the camera's clock `offset` seconds off
/// (so that runs with other offsets write other positions).
fn geotag(dir: &Path, offset: &str) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env("TZ", "UTC")
        .arg(dir)
        .arg(testdata().join("trip.gpx"))
        .arg(offset)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

fn temporaries(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("mapillary-tmp"))
        .collect()
}

/// A small deterministic generator (xorshift64*).
struct Random(u64);

impl Random {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

#[test]
fn sigkill_at_random_moments_never_leaves_a_torn_photo() {
    let scratch = tempfile::tempdir().unwrap();
    // What complete runs give (two clock offsets, so that every run
    // changes every photo), and how long a run takes.
    const OFFSETS: [&str; 2] = ["0", "-2"];
    let mut expected: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut full_run = Duration::ZERO;
    for offset in OFFSETS {
        let reference_dir = scratch.path().join(format!("reference{offset}"));
        let reference = photos(&reference_dir);
        let started = Instant::now();
        assert!(geotag(&reference_dir, offset).status().unwrap().success());
        full_run = full_run.max(started.elapsed());
        expected.push(
            reference
                .iter()
                .map(|p| read_exif(p).unwrap().position().expect("geotagged"))
                .collect(),
        );
    }
    assert_ne!(expected[0], expected[1]);
    let dir = scratch.path().join("photos");
    let files = photos(&dir);
    let originals: Vec<Vec<u8>> = files.iter().map(|f| fs::read(f).unwrap()).collect();
    let image_data: Vec<&[u8]> = originals
        .iter()
        .map(|o| &o[parse_head(o).unwrap().sos_offset..])
        .collect();
    let seed = std::env::var("CRASH_SAFETY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!(
        "crash-safety seed {seed} (CRASH_SAFETY_SEED={seed} replays it); a full run takes {full_run:?}"
    );
    let mut random = Random(seed);
    // Kills land within this window after the start; when a run turns out
    // faster than the reference runs (whose time a busy machine inflates),
    // the window shrinks, so that kills keep landing mid-run.
    let mut window = (full_run.as_micros() as u64).max(1000) * 6 / 5;
    let mut mid_run = 0;
    // Kills after which some photos were new and others not yet.
    let mut between_photos = 0;
    for kill in 0..KILLS {
        let offset = kill % 2;
        let before: Vec<Vec<u8>> = files.iter().map(|f| fs::read(f).unwrap()).collect();
        let mut child = geotag(&dir, OFFSETS[offset]).spawn().unwrap();
        std::thread::sleep(Duration::from_micros(random.below(window)));
        if child.try_wait().unwrap().is_none() {
            mid_run += 1;
        } else {
            window = (window * 3 / 4).max(1000);
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let mut unchanged = 0;
        for (i, path) in files.iter().enumerate() {
            let now = fs::read(path).unwrap();
            if now == before[i] {
                unchanged += 1;
                continue;
            }
            let head = parse_head(&now)
                .unwrap_or_else(|e| panic!("kill {kill}: {} is torn: {e}", path.display()));
            assert!(
                now[head.sos_offset..] == *image_data[i],
                "kill {kill}: {} has other image bytes",
                path.display()
            );
            let position = read_exif(path)
                .unwrap_or_else(|e| panic!("kill {kill}: {} unreadable: {e}", path.display()))
                .position();
            assert_eq!(
                position,
                Some(expected[offset][i]),
                "kill {kill}: {}",
                path.display()
            );
        }
        if 0 < unchanged && unchanged < PHOTOS {
            between_photos += 1;
        }
        if kill % 8 == 7 {
            eprintln!(
                "{} kills: {mid_run} mid-run, {between_photos} between two photos",
                kill + 1
            );
        }
    }
    assert!(
        mid_run >= KILLS / 2,
        "only {mid_run} of {KILLS} kills landed mid-run; the test proves little"
    );
    assert!(
        between_photos >= KILLS / 4,
        "only {between_photos} kills landed between two photos"
    );
    // A normal run finishes the job and removes what the killed runs left.
    assert!(geotag(&dir, OFFSETS[0]).status().unwrap().success());
    assert_eq!(temporaries(&dir), Vec::<String>::new());
    for (i, path) in files.iter().enumerate() {
        assert_eq!(read_exif(path).unwrap().position(), Some(expected[0][i]));
        let now = fs::read(path).unwrap();
        assert!(now[parse_head(&now).unwrap().sos_offset..] == *image_data[i]);
    }
}
