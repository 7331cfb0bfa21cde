//! The whole job, from a folder of camera photos and a GPX track to the
//! photos uploaded on the local server: these tools (geotag_from_gpx, then
//! add_mapillary_tag_from_exif, then upload) against the official client
//! (`mapillary_tools process_and_upload --geotag_source gpx`), on fresh
//! copies of the same photos each time, each against a fresh server; the
//! time of each, the ratio, and the peak memory of each of our tools.
//! Targets (issue 14): at least 3 times faster, peak memory under 64 MB.
//!
//! The photos are copies of a 3 MB camera photo, each given its own
//! capture time (a second apart) and no GPS, as from a camera without one;
//! the track runs along them, so that every photo gets its own position
//! and both clients make one sequence of them.
//!
//!     cargo build --release --bins && cargo run --release -p mapillary-bench --bin whole_job [count] [folder]
//!
//! The official client is `$MAPILLARY_TOOLS_OFFICIAL` or `mapillary_tools`
//! on the PATH; without it only our times are printed.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use mapillary_bench::{run_quiet, secs, tool, verdict};
use mapillary_core::capture_time::CaptureTime;
use mapillary_core::exif::{ExifEdits, RewriteOptions, Value, rewrite_file, tags};
use mapillary_testkit::sandbox::{DEMO_TOKEN, Sandbox, demo_seed};

/// A GPX track around the photos' capture times (from 2018-06-08 20:24:10
/// UTC), a point a second for an hour, moving north-east about 1.4 m/s.
fn track() -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\"?>\n<gpx version=\"1.1\" creator=\"bench\" xmlns=\"http://www.topografix.com/GPX/1/1\"><trk><trkseg>\n",
    );
    for i in 0..3600u32 {
        let lat = 45.5 + f64::from(i) * 1e-5;
        let lon = -122.6 + f64::from(i) * 1e-5;
        // Seconds after 20:00:00.
        let t = 24 * 60 + 10 + i;
        let (h, m, sec) = (20 + t / 3600, (t / 60) % 60, t % 60);
        s.push_str(&format!(
            "<trkpt lat=\"{lat:.6}\" lon=\"{lon:.6}\"><ele>70</ele><time>2018-06-08T{h:02}:{m:02}:{sec:02}Z</time></trkpt>\n"
        ));
    }
    s.push_str("</trkseg></trk></gpx>\n");
    s
}

/// `count` copies of `source` in `dir`, photo `i` taken at 13:24:10 −07:00
/// plus `i` seconds, without GPS.
fn master_photos(source: &Path, dir: &Path, count: usize) {
    fs::create_dir_all(dir).expect("folder");
    for i in 0..count {
        let p = dir.join(format!("DSC{i:05}.JPG"));
        fs::copy(source, &p).expect("copy");
        let mut perms = fs::metadata(&p).expect("copy").permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perms.set_readonly(false);
        fs::set_permissions(&p, perms).expect("writable");
        // Seconds after 13:00:00.
        let t = 24 * 60 + 10 + i;
        let time = format!(
            "2018:06:08 {:02}:{:02}:{:02}",
            13 + t / 3600,
            (t / 60) % 60,
            t % 60
        );
        let mut edits = ExifEdits::new();
        edits.set_capture_time(&CaptureTime::from_exif(&time, None, Some("-07:00")).expect("time"));
        edits
            .replace_gps()
            .set(tags::GPS_VERSION_ID, Value::Byte(vec![2, 3, 0, 0]));
        rewrite_file(
            &p,
            &edits,
            RewriteOptions {
                dry_run: false,
                sync: false,
                ..RewriteOptions::default()
            },
        )
        .expect("the master photo is written");
    }
}

/// A fresh copy of the master photos in `work/photos` (after emptying
/// `work`), flushed to the disk, so that a timed run starts as a user's run
/// would: photos on disk, nothing waiting to be written.
fn fresh_copy(master: &Path, work: &Path) -> PathBuf {
    let _ = fs::remove_dir_all(work);
    fs::create_dir_all(work).expect("work folder");
    let photos = work.join("photos");
    run_quiet(Command::new("cp").arg("-r").arg(master).arg(&photos));
    run_quiet(&mut Command::new("sync"));
    photos
}

/// Runs `cmd` (under GNU time when installed): its time and peak memory
/// in MB.
fn timed(mut cmd: Command, scratch: &Path) -> (Duration, Option<f64>) {
    let gnu_time = Path::new("/usr/bin/time");
    let report = scratch.join("maxrss.txt");
    let mut cmd = if gnu_time.exists() {
        let mut wrapped = Command::new(gnu_time);
        wrapped
            .args(["-f", "%M", "-o"])
            .arg(&report)
            .arg(cmd.get_program())
            .args(cmd.get_args());
        for (k, v) in cmd.get_envs() {
            match v {
                Some(v) => wrapped.env(k, v),
                None => wrapped.env_remove(k),
            };
        }
        if let Some(dir) = cmd.get_current_dir() {
            wrapped.current_dir(dir);
        }
        wrapped
    } else {
        std::mem::replace(&mut cmd, Command::new("true"))
    };
    let t = Instant::now();
    let out = cmd.output().expect("the command starts");
    let d = t.elapsed();
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let kb: Option<f64> = fs::read_to_string(&report)
        .ok()
        .and_then(|t| t.lines().last()?.trim().parse().ok());
    let _ = fs::remove_file(&report);
    (d, kb.map(|k| k / 1024.0))
}

/// The images the server holds, in all.
fn images_received(sandbox: &Sandbox) -> usize {
    sandbox
        .server
        .sequences()
        .iter()
        .map(|s| s.images.len())
        .sum()
}

/// One run of our whole job: the time of each tool and its peak memory.
fn ours_once(
    master: &Path,
    scratch: &Path,
    gpx: &Path,
    count: usize,
) -> [(Duration, Option<f64>); 3] {
    let sandbox = Sandbox::start(demo_seed(), &[]);
    let work = scratch.join("ours");
    let photos = fresh_copy(master, &work);
    let mut geotag = sandbox.command(tool("geotag_from_gpx").to_str().expect("path"), &[]);
    geotag.arg("-q").arg(&photos).arg(gpx);
    let mut tag = sandbox.command(
        tool("add_mapillary_tag_from_exif").to_str().expect("path"),
        &[],
    );
    tag.arg("-q").arg(&photos);
    let mut upload = sandbox.command(tool("upload").to_str().expect("path"), &[DEMO_TOKEN]);
    upload.args(["-q", "photos"]).current_dir(&work);
    let steps = [
        timed(geotag, scratch),
        timed(tag, scratch),
        timed(upload, scratch),
    ];
    assert_eq!(
        images_received(&sandbox),
        count,
        "every photo reached the server"
    );
    steps
}

/// One run of the official client's whole job.
fn official_once(
    official: &Path,
    master: &Path,
    scratch: &Path,
    gpx: &Path,
    count: usize,
) -> Duration {
    let sandbox = Sandbox::start(demo_seed(), &[]);
    let work = scratch.join("official");
    let photos = fresh_copy(master, &work);
    // Its profile: the demo user's token; its history and cache of its own.
    let config = work.join("config");
    fs::write(
        &config,
        format!(
            "[demo]\nMAPSettingsUsername = demo\nMAPSettingsUserKey = 100001\nuser_upload_token = {}\n",
            DEMO_TOKEN.1
        ),
    )
    .expect("profile");
    let mut cmd = sandbox.command(official.to_str().expect("path"), &[]);
    cmd.env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("MAPILLARY_CONFIG_PATH", &config)
        .env("MAPILLARY_UPLOAD_HISTORY_PATH", work.join("history"))
        .env("MAPILLARY_TOOLS_UPLOAD_CACHE_DIR", work.join("cache"))
        .env("MAPILLARY_DISABLE_API_LOGGING", "YES")
        .env("MAPILLARY_TOOLS_PROMPT_DISABLED", "YES")
        .arg("process_and_upload")
        .arg(&photos)
        .args(["--geotag_source", "gpx", "--geotag_source_path"])
        .arg(gpx)
        .args(["--user_name", "demo"])
        .current_dir(&work);
    let (d, _) = timed(cmd, scratch);
    assert_eq!(
        images_received(&sandbox),
        count,
        "every photo reached the server from the official client"
    );
    d
}

fn official_client() -> Option<PathBuf> {
    let program = std::env::var_os("MAPILLARY_TOOLS_OFFICIAL")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("mapillary_tools"));
    Command::new(&program)
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| program)
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
    let scratch = match std::env::args().nth(2) {
        Some(parent) => tempfile::tempdir_in(parent),
        None => tempfile::tempdir(),
    }
    .expect("scratch folder");
    let master = scratch.path().join("master");
    master_photos(&source, &master, count);
    let gpx = scratch.path().join("track.gpx");
    fs::write(&gpx, track()).expect("track");
    let megabytes = fs::metadata(&source).map(|m| m.len()).unwrap_or(0) as f64 * count as f64 / 1e6;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "the whole job on {count} copies of DSC00001.JPG ({megabytes:.0} MB, {cores} cores) and a GPX, to the local server on 127.0.0.1, in {}",
        scratch.path().display()
    );

    let official = official_client();
    if official.is_none() {
        println!(
            "the official client is not installed (set MAPILLARY_TOOLS_OFFICIAL): no baseline"
        );
    }
    // Rounds of ours, then the official client, each on fresh copies
    // against a fresh server; the best of each.
    let mut best: Option<[(Duration, Option<f64>); 3]> = None;
    let mut best_official: Option<Duration> = None;
    for _ in 0..ROUNDS {
        let steps = ours_once(&master, scratch.path(), &gpx, count);
        let total: Duration = steps.iter().map(|s| s.0).sum();
        if best
            .as_ref()
            .is_none_or(|b| total < b.iter().map(|s| s.0).sum::<Duration>())
        {
            best = Some(steps);
        }
        if let Some(official) = &official {
            let d = official_once(official, &master, scratch.path(), &gpx, count);
            best_official = Some(best_official.map_or(d, |b| b.min(d)));
        }
    }
    let Some(steps) = best else { return };
    let total: Duration = steps.iter().map(|s| s.0).sum();
    let memory = |m: Option<f64>| m.map_or("n/a".to_string(), |mb| format!("{mb:.1} MB"));
    for (name, (d, mb)) in ["geotag_from_gpx", "add_mapillary_tag_from_exif", "upload"]
        .iter()
        .zip(steps)
    {
        println!("  {name:<28} {}   peak memory {}", secs(d), memory(mb));
    }
    println!("  these tools, the whole job:  {}", secs(total));
    let peak = steps
        .iter()
        .filter_map(|s| s.1)
        .fold(None, |a: Option<f64>, m| Some(a.map_or(m, |a| a.max(m))));
    if let Some(official) = best_official {
        let ratio = official.as_secs_f64() / total.as_secs_f64();
        println!(
            "  mapillary_tools process_and_upload --geotag_source gpx (baseline): {}   official/ours = {ratio:.2}x",
            secs(official)
        );
        println!("target: at least 3x faster: {}", verdict(ratio >= 3.0));
    }
    match peak {
        Some(mb) => println!(
            "peak memory of our tools: {mb:.1} MB (target under 64 MB: {})",
            verdict(mb < 64.0)
        ),
        None => println!("peak memory: /usr/bin/time is not installed"),
    }
}

/// Rounds of measurement (best of each).
const ROUNDS: usize = 3;
