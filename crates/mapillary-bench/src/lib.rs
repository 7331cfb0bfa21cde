//! What the benchmarks share: timing a command or a closure (best of a few
//! runs, after a warm-up run) and printing ratios.
//!
//! The benchmarks are programs, not tests: this machine is small and
//! noisy, so they print numbers next to a baseline measured in the same run
//! instead of asserting absolute times.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The best of `runs` timings of `f`, after one untimed warm-up run.
pub fn best_of(runs: usize, mut f: impl FnMut()) -> Duration {
    best_measured(runs, || {
        let t = Instant::now();
        f();
        t.elapsed()
    })
}

/// The best of `runs` durations that `f` measures itself (to leave its
/// set-up out), after one warm-up run.
pub fn best_measured(runs: usize, mut f: impl FnMut() -> Duration) -> Duration {
    f();
    (0..runs.max(1)).map(|_| f()).min().unwrap_or_default()
}

/// Runs a command to completion, its output discarded; panics with the
/// command line if it fails (a benchmark of a failing command means
/// nothing).
pub fn run_quiet(cmd: &mut Command) {
    let status = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(status.success(), "{cmd:?} failed: {status}");
}

/// A built tool from this workspace's release build (`cargo build
/// --release` first; the benchmark scripts do).
pub fn tool(name: &str) -> PathBuf {
    let release = mapillary_testkit::workspace_root()
        .join("target/release")
        .join(name);
    assert!(
        release.exists(),
        "{} is not built: run `cargo build --release --bins` first",
        release.display()
    );
    release
}

/// Whether a program is on PATH.
pub fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Seconds with three decimals.
pub fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

/// `n` copies of the sample trip's photos in `dir`, named `p0000.jpg`...
pub fn sample_photos(dir: &Path, n: usize) -> Vec<PathBuf> {
    let sources = mapillary_testkit::files_with_extension(
        &mapillary_testkit::testdata().join("trip"),
        &["jpg"],
    );
    assert!(!sources.is_empty(), "testdata/trip is missing");
    std::fs::create_dir_all(dir).expect("scratch folder");
    (0..n)
        .map(|i| {
            let p = dir.join(format!("p{i:04}.jpg"));
            std::fs::copy(&sources[i % sources.len()], &p).expect("copy");
            p
        })
        .collect()
}
