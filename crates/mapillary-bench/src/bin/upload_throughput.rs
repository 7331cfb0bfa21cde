//! Uploading about 1 GB of photos to the local server on loopback, next to
//! a plain `curl --data-binary @file` POST of the same bytes to the same
//! server's upload service in the same run; and the peak memory of the
//! upload process. Targets (upload issue): at least 80% of curl's
//! throughput, peak memory under 64 MB.
//!
//! The photos are copies of a 3 MB camera photo, each made distinct
//! (`add_fix_dates`, one second apart) and tagged
//! (`add_mapillary_tag_from_exif`), so every one is a new upload.
//!
//!     cargo build --release --bins && cargo run --release -p mapillary-bench --bin upload_throughput [megabytes]

use std::fs;
use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use mapillary_bench::{max_rss_mb, run_quiet, verdict};
use mapillary_testkit::sandbox::{DEMO_TOKEN, Sandbox, demo_seed};

fn main() {
    let megabytes: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let Some(source) =
        mapillary_testkit::corpus("mapillary-tools").map(|c| c.join("cameras/DSC00001.JPG"))
    else {
        eprintln!("the benchmark needs ../shared/corpus/mapillary-tools/cameras/DSC00001.JPG");
        std::process::exit(2);
    };
    let size = fs::metadata(&source).map(|m| m.len()).unwrap_or(1).max(1);
    let count = (megabytes * 1_000_000).div_ceil(size) as usize;
    let scratch = tempfile::tempdir().expect("scratch folder");
    let photos = scratch.path().join("photos");
    fs::create_dir_all(&photos).expect("folder");
    for i in 0..count {
        fs::copy(&source, photos.join(format!("DSC{i:05}.JPG"))).expect("copy");
    }
    run_quiet(
        Command::new(mapillary_bench::tool("add_fix_dates"))
            .arg(&photos)
            .args(["2018-06-08 13:24:10", "1"]),
    );
    // Copies of one photo stand at one spot: the duplicate check is off,
    // here and in the upload, so that every copy is sent.
    run_quiet(
        Command::new(mapillary_bench::tool("add_mapillary_tag_from_exif"))
            .env("MAPILLARY_USERNAME", "demo")
            .env(NO_DUPLICATES.0, NO_DUPLICATES.1)
            .arg(&photos),
    );
    let bytes: u64 = fs::read_dir(&photos)
        .expect("photos")
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "uploading {count} photos ({:.0} MB) to the local server on 127.0.0.1 ({cores} cores, server in this process)",
        bytes as f64 / 1e6
    );

    // The same bytes in one file, for curl.
    let joined = scratch.path().join("all.bin");
    {
        let mut out = std::io::BufWriter::new(fs::File::create(&joined).expect("joined file"));
        for entry in mapillary_testkit::files_with_extension(&photos, &["jpg"]) {
            out.write_all(&fs::read(entry).expect("photo"))
                .expect("write");
        }
        out.flush().expect("flush");
    }

    let throughput = |d: Duration| bytes as f64 / 1e6 / d.as_secs_f64();
    let have_curl = mapillary_bench::have("curl");
    if !have_curl {
        println!("curl is not installed: no baseline");
    }
    // Rounds of curl then ours, each against a fresh server, each timed run
    // after `sync` (so neither pays for the other's dirty pages); the best
    // of each.
    let mut best_curl: Option<Duration> = None;
    let mut best_ours: Option<(Duration, Option<f64>, u64, usize)> = None;
    let work = scratch.path().join("work");
    for _round in 0..ROUNDS {
        let sandbox = Sandbox::start(demo_seed(), &[]);
        if have_curl {
            run_quiet(&mut Command::new("sync"));
            let d = curl_once(&sandbox, &joined, count);
            assert_eq!(
                sandbox.server.stats().upload_bytes_received,
                bytes,
                "the server received all of curl's bytes"
            );
            best_curl = Some(best_curl.map_or(d, |b| b.min(d)));
        }
        let before = sandbox.server.stats().upload_bytes_received;
        // upload moves the photos into success/ under its working folder.
        let _ = fs::remove_dir_all(&work);
        fs::create_dir_all(&work).expect("work folder");
        fs::rename(&photos, work.join("photos")).expect("photos into place");
        run_quiet(&mut Command::new("sync"));
        let (d, memory) = upload_once(&sandbox, &work);
        fs::rename(work.join("success"), &photos).expect("photos back");
        let sent = sandbox.server.stats().upload_bytes_received - before;
        let sequences = sandbox.server.sequences();
        let images: usize = sequences.iter().map(|s| s.images.len()).sum();
        assert_eq!(images, count, "every photo reached a sequence");
        if best_ours.as_ref().is_none_or(|b| d < b.0) {
            best_ours = Some((d, memory, sent, sequences.len()));
        }
    }
    let Some((ours, memory, sent, sequences)) = best_ours else {
        return;
    };
    println!(
        "  upload:                      {:.3} s  {:.0} MB/s  ({sequences} sequence, {:.0} MB sent with descriptions and manifest)",
        ours.as_secs_f64(),
        throughput(ours),
        sent as f64 / 1e6
    );
    if let Some(curl) = best_curl {
        let share = curl.as_secs_f64() / ours.as_secs_f64();
        println!(
            "  curl --data-binary (1 POST): {:.3} s  {:.0} MB/s   upload/curl throughput = {:.0}%",
            curl.as_secs_f64(),
            throughput(curl),
            share * 100.0
        );
        println!(
            "target: at least 80% of curl's throughput: {}",
            verdict(share >= 0.8)
        );
    }
    match memory {
        Some(mb) => println!(
            "peak memory of upload: {mb:.1} MB (target under 64 MB: {})",
            verdict(mb < 64.0)
        ),
        None => println!("peak memory: /usr/bin/time is not installed"),
    }
}

/// Turns the sequence rules' duplicate check off.
const NO_DUPLICATES: (&str, &str) = ("MAPILLARY_TOOLS_DUPLICATE_DISTANCE", "-1");

/// Rounds of measurement (best of each).
const ROUNDS: usize = 3;

/// One POST of all the bytes with curl: the fastest an upload of these
/// bytes can be over this connection to this server.
fn curl_once(sandbox: &Sandbox, joined: &std::path::Path, count: usize) -> Duration {
    let url = format!("{}/bench_curl_{count}", sandbox.server.upload_url());
    let t = Instant::now();
    let out = Command::new("curl")
        .args(["-sS", "-f", "-o", "/dev/null", "-X", "POST"])
        .args(["-H", &format!("Authorization: OAuth {}", DEMO_TOKEN.1)])
        .args(["-H", "Offset: 0"])
        .args(["-H", "Content-Type: application/octet-stream"])
        .arg("--data-binary")
        .arg(format!("@{}", joined.display()))
        .arg(&url)
        .output()
        .expect("curl runs");
    let d = t.elapsed();
    assert!(
        out.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    d
}

/// `upload photos` in `work` (under GNU time when installed): its time and
/// peak memory in MB.
fn upload_once(sandbox: &Sandbox, work: &std::path::Path) -> (Duration, Option<f64>) {
    let upload = mapillary_bench::tool("upload");
    let timed = std::path::Path::new("/usr/bin/time").exists();
    let mut cmd = if timed {
        let mut c = sandbox.command("/usr/bin/time", &[DEMO_TOKEN, NO_DUPLICATES]);
        c.arg("-v").arg(&upload);
        c
    } else {
        sandbox.command(upload.to_str().expect("path"), &[DEMO_TOKEN, NO_DUPLICATES])
    };
    cmd.args(["-q", "photos"]).current_dir(work);
    let t = Instant::now();
    let out = cmd.output().expect("upload runs");
    let d = t.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "upload failed:\n{stderr}");
    (d, max_rss_mb(&stderr))
}
