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

/// Peak resident memory of a command in MB, from GNU time
/// (`/usr/bin/time -v`), if installed; the command must succeed.
pub fn peak_memory_mb(cmd: &mut Command) -> Option<f64> {
    if !Path::new("/usr/bin/time").exists() {
        return None;
    }
    let mut timed = Command::new("/usr/bin/time");
    timed.arg("-v").arg(cmd.get_program()).args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => timed.env(k, v),
            None => timed.env_remove(k),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        timed.current_dir(dir);
    }
    let out = timed.output().ok()?;
    if !out.status.success() {
        panic!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
    }
    max_rss_mb(&String::from_utf8_lossy(&out.stderr))
}

/// The peak memory in MB that `/usr/bin/time -v` reported in `stderr`.
pub fn max_rss_mb(stderr: &str) -> Option<f64> {
    let kb: f64 = stderr
        .lines()
        .find(|l| l.contains("Maximum resident set size"))?
        .rsplit(':')
        .next()?
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// "met" or "NOT met".
pub fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT met" }
}
