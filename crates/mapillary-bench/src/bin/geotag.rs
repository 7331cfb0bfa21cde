//! Geotagging 200 copies of a 3 MB camera photo, next to `cp -r` of the same
//! folder and `exiftool -overwrite_original -geotag` on the same files and
//! track, in the same run; and the peak memory of the geotagging.
//! Targets (geotagging issue): no slower than the cp, at least 8 times
//! faster than exiftool, peak memory under 64 MB.
//!
//! Baselines that show where the time goes on a disk: copying each photo
//! beside itself and renaming it over the original (the least a safe
//! replacement costs), deleting a copy of the folder (freeing the old
//! files' blocks, which a replacement pays and cp into an empty folder does
//! not), dd writing as many bytes to the disk (how fast the disk takes
//! data in), and geotagging and cp each followed by `sync` (both timed
//! until their data is on the disk).
//!
//!     cargo build --release --bins && cargo run --release -p mapillary-bench --bin geotag [count] [folder]

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use mapillary_bench::{best_measured, have, peak_memory_mb, run_quiet, secs, tool};

/// A GPX track around the photo's capture time (2018-06-08 20:24:10 UTC),
/// a point a second for an hour, moving north-east.
fn track() -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\"?>\n<gpx version=\"1.1\" creator=\"bench\" xmlns=\"http://www.topografix.com/GPX/1/1\"><trk><trkseg>\n",
    );
    for i in 0..3600u32 {
        let lat = 45.5 + f64::from(i) * 1e-5;
        let lon = -122.6 + f64::from(i) * 1e-5;
        let (h, m, sec) = (20 + (i / 3600), (i / 60) % 60, i % 60);
        s.push_str(&format!(
            "<trkpt lat=\"{lat:.6}\" lon=\"{lon:.6}\"><ele>70</ele><time>2018-06-08T{h:02}:{m:02}:{sec:02}Z</time></trkpt>\n"
        ));
    }
    s.push_str("</trkseg></trk></gpx>\n");
    s
}

/// When a timed command counts as done.
#[derive(Clone, Copy)]
enum Until {
    /// When it exits.
    Exit,
    /// When it exits and a `sync` after it has returned.
    OnDisk,
}

/// The best of `runs` timings of the command `make` builds, each after
/// `prepare` (untimed) and a `sync`, so that every run starts with nothing
/// waiting to be written.
fn timed(
    runs: usize,
    mut prepare: impl FnMut(),
    make: impl Fn() -> Command,
    until: Until,
) -> std::time::Duration {
    let flush = || run_quiet(&mut Command::new("sync"));
    best_measured(runs, || {
        prepare();
        flush();
        let t = Instant::now();
        run_quiet(&mut make());
        if let Until::OnDisk = until {
            flush();
        }
        t.elapsed()
    })
}

fn main() {
    let count: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let Some(source) =
        mapillary_testkit::corpus("mapillary-tools").map(|c| c.join("cameras/DSC00001.JPG"))
    else {
        eprintln!("the benchmark needs ../shared/corpus/mapillary-tools/cameras/DSC00001.JPG");
        std::process::exit(2);
    };
    // Where to work (default: the system's temporary folder); e.g.
    // /dev/shm to leave the disk out.
    let scratch = match std::env::args().nth(2) {
        Some(parent) => tempfile::tempdir_in(parent),
        None => tempfile::tempdir(),
    }
    .expect("scratch folder");
    let ours = scratch.path().join("ours");
    let theirs = scratch.path().join("exiftool");
    let copy_target = scratch.path().join("copy");
    for dir in [&ours, &theirs] {
        fs::create_dir_all(dir).expect("folder");
        for i in 0..count {
            fs::copy(&source, dir.join(format!("DSC{i:05}.JPG"))).expect("copy");
        }
    }
    let gpx = scratch.path().join("track.gpx");
    fs::write(&gpx, track()).expect("track");
    let megabytes = fs::metadata(&source).map(|m| m.len()).unwrap_or(0) as f64 * count as f64 / 1e6;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "geotagging {count} copies of DSC00001.JPG ({megabytes:.0} MB in all, {cores} cores) in {}",
        scratch.path().display()
    );

    let geotag = tool("geotag_from_gpx");
    // Every timed run starts with the photos on disk, not dirty in the page
    // cache, as a user's photos are.
    let flush = || run_quiet(&mut Command::new("sync"));
    let geotag_run = |sync_flag: bool| {
        let mut c = Command::new(&geotag);
        if sync_flag {
            c.arg("--sync");
        }
        c.arg(&ours).arg(&gpx);
        c
    };
    let cp_run = |to: &Path| {
        let mut c = Command::new("cp");
        c.arg("-r").arg(&ours).arg(to);
        c
    };
    let ours_time = timed(3, || {}, || geotag_run(false), Until::Exit);
    let synced_time = timed(1, || {}, || geotag_run(true), Until::Exit);
    // The same, timed until the data is on the disk: geotagging hands each
    // new file to the disk as it renames it (ext4's auto_da_alloc), cp
    // leaves its copies in memory for later, so these two compare like with
    // like.
    let ours_synced_time = timed(3, || {}, || geotag_run(false), Until::OnDisk);
    let clear_copy = || {
        let _ = fs::remove_dir_all(&copy_target);
    };
    let cp_time = timed(3, clear_copy, || cp_run(&copy_target), Until::Exit);
    let cp_synced_time = timed(3, clear_copy, || cp_run(&copy_target), Until::OnDisk);
    // What deleting the old files alone costs: a tool that replaces each
    // photo frees the old photo's blocks, which cp into an empty folder
    // never does (on a file system mounted with `discard`, as this
    // machine's is, freeing trims the blocks and waits for the disk).
    let spare = scratch.path().join("spare");
    let remove_time = timed(
        3,
        || {
            let _ = fs::remove_dir_all(&spare);
            run_quiet(&mut cp_run(&spare));
        },
        || {
            let mut c = Command::new("rm");
            c.arg("-r").arg(&spare);
            c
        },
        Until::Exit,
    );
    // How long this disk takes to take in as many bytes as the photos hold
    // (written and flushed by dd): a replacement that must survive a power
    // cut cannot be done sooner, while cp -r leaves its copies in memory.
    let disk_file = scratch.path().join("disk-speed");
    let blocks = (megabytes / 4.0).ceil().max(1.0) as u64;
    let disk_time = timed(
        3,
        || {
            let _ = fs::remove_file(&disk_file);
        },
        || {
            let mut c = Command::new("dd");
            c.arg("if=/dev/zero")
                .arg(format!("of={}", disk_file.display()))
                .args(["bs=4M", &format!("count={blocks}"), "conv=fsync"]);
            c
        },
        Until::Exit,
    );
    let _ = fs::remove_file(&disk_file);
    // The least a safe replacement costs: each file copied beside itself
    // (in the kernel, as cp does) and renamed over the original, with no
    // EXIF work at all.
    let copy_rename_time = best_measured(3, || {
        let files: Vec<_> = fs::read_dir(&ours)
            .expect("photos")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        flush();
        let t = Instant::now();
        for f in &files {
            let temp = f.with_extension("bench-tmp");
            fs::copy(f, &temp).expect("copy");
            fs::rename(&temp, f).expect("rename");
        }
        t.elapsed()
    });
    flush();
    let memory = peak_memory_mb(Command::new(&geotag).arg(&ours).arg(&gpx));
    let ratio = |a: std::time::Duration, b: std::time::Duration| a.as_secs_f64() / b.as_secs_f64();
    println!("  geotag_from_gpx:                     {}", secs(ours_time));
    println!(
        "  geotag_from_gpx --sync:              {}",
        secs(synced_time)
    );
    println!(
        "  cp -r (baseline):                    {}   geotag/cp = {:.2}",
        secs(cp_time),
        ratio(ours_time, cp_time)
    );
    println!(
        "  copy + rename over, each file:       {}   geotag/(copy+rename) = {:.2}",
        secs(copy_rename_time),
        ratio(ours_time, copy_rename_time)
    );
    println!(
        "  rm -r of a copy of the photos alone: {}   rm/cp = {:.2}",
        secs(remove_time),
        ratio(remove_time, cp_time)
    );
    println!(
        "  dd of as many bytes to disk:         {}   geotag/dd = {:.2}",
        secs(disk_time),
        ratio(ours_time, disk_time)
    );
    println!(
        "  until on disk: geotag, then sync:    {}   cp -r, then sync: {}   ratio = {:.2}",
        secs(ours_synced_time),
        secs(cp_synced_time),
        ratio(ours_synced_time, cp_synced_time)
    );
    if have("exiftool") {
        flush();
        let t = Instant::now();
        run_quiet(
            Command::new("exiftool")
                .args(["-q", "-q", "-overwrite_original", "-geotag"])
                .arg(&gpx)
                .arg(&theirs),
        );
        let exiftool_time = t.elapsed();
        println!(
            "  exiftool -geotag (baseline):         {}   exiftool/geotag = {:.1}x",
            secs(exiftool_time),
            exiftool_time.as_secs_f64() / ours_time.as_secs_f64()
        );
        println!(
            "  exiftool/dd = {:.1}x: the most a tool that waits for the disk to take the photos in can reach here",
            exiftool_time.as_secs_f64() / disk_time.as_secs_f64()
        );
        let ok = |b: bool| if b { "met" } else { "NOT met" };
        println!(
            "targets: no slower than cp: {}; 8x faster than exiftool: {}",
            ok(ours_time <= cp_time),
            ok(exiftool_time.as_secs_f64() >= 8.0 * ours_time.as_secs_f64())
        );
    } else {
        println!("exiftool is not installed: no exiftool baseline");
    }
    if ours_time > cp_time && remove_time > cp_time {
        println!(
            "  (deleting the old files alone takes {:.1}x as long as cp -r here: a tool that replaces files pays that on top of the copying)",
            ratio(remove_time, cp_time)
        );
    }
    match memory {
        Some(mb) => println!(
            "peak memory of geotag_from_gpx: {mb:.1} MB (target under 64 MB: {})",
            if mb < 64.0 { "met" } else { "NOT met" }
        ),
        None => println!("peak memory: /usr/bin/time is not installed"),
    }
}
