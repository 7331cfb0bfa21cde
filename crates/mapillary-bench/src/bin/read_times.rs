//! How long reading the capture times of 1,000 photos takes, next to
//! `exiftool -DateTimeOriginal` over the same files in the same run.
//! Target (foundation issue): at least 20 times faster than exiftool.
//!
//!     cargo build --release --bins && cargo run --release -p mapillary-bench --bin read_times

use std::process::Command;
use std::sync::atomic::AtomicBool;

use mapillary_bench::{best_of, have, run_quiet, sample_photos, secs, tool};
use mapillary_core::batch::for_each_in_order;
use mapillary_core::exif::read_exif;

fn main() {
    let scratch = tempfile::tempdir().expect("scratch folder");
    let files = sample_photos(scratch.path(), 1000);
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "reading the capture times of {} photos ({jobs} cores)",
        files.len()
    );

    let library = best_of(5, || {
        let mut n = 0;
        for_each_in_order(
            &files,
            jobs,
            &AtomicBool::new(false),
            |_, f| read_exif(f),
            |_, _, r| {
                if r.is_ok_and(|e| e.capture_time().is_some()) {
                    n += 1;
                }
            },
        );
        assert_eq!(n, files.len());
    });
    let time_split = tool("time_split");
    let cli = best_of(5, || {
        run_quiet(
            Command::new(&time_split)
                .arg("--dry-run")
                .arg(scratch.path()),
        )
    });
    println!(
        "  mapillary-core read_exif (in process):  {}",
        secs(library)
    );
    println!("  time_split --dry-run (whole tool):      {}", secs(cli));

    if !have("exiftool") {
        println!("exiftool is not installed: no baseline (apt-get install libimage-exiftool-perl)");
        return;
    }
    let exiftool = best_of(2, || {
        run_quiet(
            Command::new("exiftool")
                .args(["-q", "-DateTimeOriginal"])
                .arg(scratch.path()),
        );
    });
    println!(
        "  exiftool -DateTimeOriginal (baseline):  {}",
        secs(exiftool)
    );
    let ratio = exiftool.as_secs_f64() / cli.as_secs_f64();
    println!(
        "time_split reads capture times {ratio:.1}x faster than exiftool ({:.0}x in process); target 20x: {}",
        exiftool.as_secs_f64() / library.as_secs_f64(),
        if ratio >= 20.0 { "met" } else { "NOT met" }
    );
}
