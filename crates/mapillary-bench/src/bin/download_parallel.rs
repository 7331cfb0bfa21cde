//! Downloading 500 thumbnails from the local server with an artificial
//! latency of 50 ms per thumbnail request, with download_images' default
//! parallelism next to the same downloads one at a time (`--jobs 1`) in
//! the same run. Target (download issue): at least 6 times faster.
//!
//!     cargo build --release --bins && cargo run --release -p mapillary-bench --bin download_parallel [count] [latency_ms]

use std::process::Command;
use std::time::{Duration, Instant};

use mapillary_bench::verdict;
use mapillary_local_server::Seed;
use mapillary_local_server::seed::Generate;
use mapillary_testkit::sandbox::{DEMO_TOKEN, Sandbox};

/// Runs download_images into `dir` and returns its time.
fn download(sandbox: &Sandbox, dir: &std::path::Path, count: usize, extra: &[&str]) -> Duration {
    let tool = mapillary_bench::tool("download_images");
    let mut cmd: Command = sandbox.command(tool.to_str().expect("path"), &[DEMO_TOKEN]);
    cmd.args(["-q", "-o"])
        .arg(dir)
        .args(extra)
        .args(["--", "52.50", "52.52", "13.34", "13.38"])
        .arg(count.to_string());
    let t = Instant::now();
    let out = cmd.output().expect("download_images runs");
    let d = t.elapsed();
    assert!(
        out.status.success(),
        "download_images failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = mapillary_testkit::files_with_extension(dir, &["jpg"]).len();
    assert_eq!(got, count, "every thumbnail was downloaded");
    d
}

fn main() {
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(500);
    let latency: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(50);
    let mut seed = Seed::default();
    seed.generate_images = Some(Generate {
        count,
        bbox: [13.34, 52.50, 13.38, 52.52],
        seed: 7,
    });
    let fault = format!("slow={latency}ms@thumbnails");
    let sandbox = Sandbox::start(seed, &[&fault]);
    let scratch = tempfile::tempdir().expect("scratch folder");
    println!(
        "downloading {count} thumbnails from the local server, {latency} ms latency per thumbnail"
    );
    let parallel = download(&sandbox, &scratch.path().join("parallel"), count, &[]);
    let serial = download(
        &sandbox,
        &scratch.path().join("serial"),
        count,
        &["--jobs", "1"],
    );
    let speedup = serial.as_secs_f64() / parallel.as_secs_f64();
    println!(
        "  download_images (default, 8 at a time): {:.3} s",
        parallel.as_secs_f64()
    );
    println!(
        "  download_images --jobs 1 (baseline):    {:.3} s   speed-up = {speedup:.1}x",
        serial.as_secs_f64()
    );
    println!("target: at least 6x faster: {}", verdict(speedup >= 6.0));
}
