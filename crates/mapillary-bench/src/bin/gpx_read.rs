//! Reading GPX: the tools' reader (mapillary_core::track, streaming on
//! quick-xml) next to the gpx crate 0.10 (the reader before it), in one
//! run, on a generated track of 100 MB and on the two hostile files of
//! issue 13 (nesting 200,000 deep; one 50 KB entity used 20,000 times).
//! Each read runs in a child process (this program again, with `--child`),
//! so that its time and peak memory (VmHWM) are its own; the hostile files
//! are stopped after a time limit.
//!
//!     cargo run --release -p mapillary-bench --bin gpx_read [megabytes] [limit-seconds]

use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mapillary_core::jiff::{SignedDuration, Timestamp};
use mapillary_core::track::{Track, TrackPoint};

/// The two readers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reader {
    GpxCrate,
    Ours,
}

impl Reader {
    fn arg(self) -> &'static str {
        match self {
            Reader::GpxCrate => "gpx-crate",
            Reader::Ours => "track",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Reader::GpxCrate => "gpx crate 0.10",
            Reader::Ours => "track::gpx (quick-xml)",
        }
    }
}

/// Reads `path` as the tools did with the gpx crate: every timed point of
/// the tracks, routes and waypoints, sorted by time.
fn read_with_gpx_crate(path: &Path) -> Result<usize, String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let read = gpx::read(BufReader::new(file)).map_err(|e| e.to_string())?;
    let all = read
        .tracks
        .iter()
        .flat_map(|t| &t.segments)
        .flat_map(|s| &s.points)
        .chain(read.routes.iter().flat_map(|r| &r.points))
        .chain(&read.waypoints);
    let mut points = Vec::new();
    for w in all {
        let Some(time) = w.time else { continue };
        let time: Timestamp = time
            .format()
            .map_err(|e| e.to_string())?
            .parse()
            .map_err(|e: mapillary_core::jiff::Error| e.to_string())?;
        let p = w.point();
        points.push(TrackPoint {
            time,
            position: mapillary_core::geo::LatLon::new(p.y(), p.x()),
            elevation: w.elevation,
        });
    }
    Ok(Track::from_points(points).points().len())
}

/// The peak resident memory of this process so far, in kB.
fn peak_kb() -> u64 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The child: reads one file, prints `points seconds peak_kb` or `error
/// seconds peak_kb reason`.
fn child(reader: &str, path: &Path) {
    let started = Instant::now();
    let result = if reader == Reader::GpxCrate.arg() {
        read_with_gpx_crate(path)
    } else {
        Track::load(&path.to_string_lossy())
            .map(|t| t.points().len())
            .map_err(|e| e.to_string())
    };
    let seconds = started.elapsed().as_secs_f64();
    match result {
        Ok(n) => println!("{n} {seconds} {}", peak_kb()),
        Err(e) => {
            let prefix = format!("{}: ", path.display());
            let e: String = e
                .strip_prefix(&prefix)
                .unwrap_or(&e)
                .chars()
                .take(100)
                .collect();
            println!("error {seconds} {} {e}", peak_kb())
        }
    }
}

/// What one child read measured.
#[derive(Debug)]
enum Outcome {
    Read {
        points: usize,
        seconds: f64,
        peak_mb: f64,
    },
    Refused {
        seconds: f64,
        peak_mb: f64,
        reason: String,
    },
    Stopped {
        after: Duration,
        peak_mb: f64,
    },
}

/// Runs one child read, stopping it after `limit`.
fn measure(reader: Reader, path: &Path, limit: Duration) -> Outcome {
    let exe = std::env::current_exe().expect("this program");
    let mut child = Command::new(exe)
        .arg("--child")
        .arg(reader.arg())
        .arg(path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the child starts");
    let started = Instant::now();
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0u64;
    loop {
        if let Ok(s) = fs::read_to_string(&status_file)
            && let Some(kb) = s
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak_kb = peak_kb.max(kb);
        }
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return Outcome::Stopped {
                after: limit,
                peak_mb: peak_kb as f64 / 1024.0,
            };
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child.wait_with_output().expect("output");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let fields: Vec<&str> = text.trim().splitn(4, ' ').collect();
    let number = |s: Option<&&str>| s.and_then(|s| s.parse::<f64>().ok()).unwrap_or(f64::NAN);
    match fields.first() {
        Some(&"error") => Outcome::Refused {
            seconds: number(fields.get(1)),
            peak_mb: number(fields.get(2)) / 1024.0,
            reason: fields.get(3).unwrap_or(&"").to_string(),
        },
        Some(n) => Outcome::Read {
            points: n.parse().unwrap_or(0),
            seconds: number(fields.get(1)),
            peak_mb: number(fields.get(2)) / 1024.0,
        },
        None => panic!("the child printed nothing ({})", out.status),
    }
}

/// A valid track of about `megabytes` MB: points a second apart, moving
/// at 10 m/s north-east and back, with elevations, as a logger writes.
fn long_track(path: &Path, megabytes: u64) -> usize {
    let mut out = BufWriter::new(File::create(path).expect("track file"));
    let mut written = 0u64;
    let mut put = |s: &str, out: &mut BufWriter<File>| {
        out.write_all(s.as_bytes()).expect("write");
        written += s.len() as u64;
        written
    };
    put(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<gpx version=\"1.1\" creator=\"bench\" xmlns=\"http://www.topografix.com/GPX/1/1\">\n<trk><name>A long drive</name><trkseg>\n",
        &mut out,
    );
    let start: Timestamp = "2021-06-01T00:00:00Z".parse().expect("a time");
    let mut i = 0i64;
    loop {
        let t = start + SignedDuration::from_secs(i);
        let phase = i % 40_000;
        let along = phase.min(40_000 - phase) as f64;
        let line = format!(
            "<trkpt lat=\"{:.7}\" lon=\"{:.7}\"><ele>{:.1}</ele><time>{t}</time></trkpt>\n",
            40.0 + along * 6.4e-5,
            -3.0 + along * 8.4e-5,
            600.0 + (i % 100) as f64 / 10.0
        );
        i += 1;
        if put(&line, &mut out) >= megabytes * 1_000_000 {
            break;
        }
    }
    put("</trkseg></trk></gpx>\n", &mut out);
    out.flush().expect("flush");
    i as usize
}

/// The two hostile files.
fn hostile(dir: &Path) -> Vec<(&'static str, PathBuf)> {
    let head =
        "<gpx version=\"1.1\" creator=\"bench\" xmlns=\"http://www.topografix.com/GPX/1/1\">";
    let point = "<trk><trkseg><trkpt lat=\"52.5\" lon=\"13.4\"><time>2021-06-01T10:00:00Z</time></trkpt></trkseg></trk>";
    let nested = dir.join("nested.gpx");
    let mut text = format!("{head}<extensions>");
    text.push_str(&"<a>".repeat(200_000));
    text.push_str(&"</a>".repeat(200_000));
    text.push_str(&format!("</extensions>{point}</gpx>\n"));
    fs::write(&nested, text).expect("write");
    let entities = dir.join("entities.gpx");
    let mut text = format!(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE gpx [<!ENTITY a \"{}\">]>\n{head}<metadata><desc>",
        "lol".repeat(50_000 / 3)
    );
    text.push_str(&"&a;".repeat(20_000));
    text.push_str(&format!("</desc></metadata>{point}</gpx>\n"));
    fs::write(&entities, text).expect("write");
    vec![
        ("nested 200,000 deep (1.4 MB)", nested),
        ("one 50 KB entity used 20,000 times (110 KB)", entities),
    ]
}

fn show(o: &Outcome) -> String {
    match o {
        Outcome::Read {
            points,
            seconds,
            peak_mb,
        } => format!("{seconds:7.3} s  {peak_mb:7.1} MB  {points} points"),
        Outcome::Refused {
            seconds,
            peak_mb,
            reason,
        } => format!("{seconds:7.3} s  {peak_mb:7.1} MB  refused: {reason}"),
        Outcome::Stopped { after, peak_mb } => format!(
            "> {:.0} s (stopped)  {peak_mb:.1} MB when stopped",
            after.as_secs_f64()
        ),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        let (Some(reader), Some(path)) = (args.get(2), args.get(3)) else {
            eprintln!("usage: gpx_read --child READER FILE");
            std::process::exit(2);
        };
        child(reader, Path::new(path));
        return;
    }
    let megabytes: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(100);
    let limit = Duration::from_secs(args.get(2).and_then(|a| a.parse().ok()).unwrap_or(30));
    let scratch = tempfile::tempdir().expect("scratch folder");
    let track = scratch.path().join("long.gpx");
    let written = long_track(&track, megabytes);
    let size = fs::metadata(&track).map(|m| m.len()).unwrap_or(0);
    println!(
        "GPX reading: a valid track of {:.0} MB ({written} points); each read in its own process, best of 3 (time), peak memory (VmHWM)",
        size as f64 / 1e6
    );
    let mut best = Vec::new();
    for reader in [Reader::GpxCrate, Reader::Ours] {
        let runs: Vec<Outcome> = (0..3)
            .map(|_| measure(reader, &track, Duration::from_secs(600)))
            .collect();
        let fastest = runs
            .into_iter()
            .min_by(|a, b| seconds(a).total_cmp(&seconds(b)))
            .expect("three runs");
        println!("  {:<24} {}", reader.name(), show(&fastest));
        best.push(fastest);
    }
    if let [
        Outcome::Read {
            seconds: t0,
            peak_mb: m0,
            points: p0,
        },
        Outcome::Read {
            seconds: t1,
            peak_mb: m1,
            points: p1,
        },
    ] = &best[..]
    {
        println!(
            "  track::gpx: {:.1}x faster, {:.1}x less memory; the same number of points: {}",
            t0 / t1,
            m0 / m1,
            if p0 == p1 { "yes" } else { "NO" }
        );
    }
    println!(
        "Hostile files (issue 13), each stopped after {:.0} s:",
        limit.as_secs_f64()
    );
    for (what, path) in hostile(scratch.path()) {
        println!("  {what}");
        for reader in [Reader::GpxCrate, Reader::Ours] {
            println!(
                "    {:<22} {}",
                reader.name(),
                show(&measure(reader, &path, limit))
            );
        }
    }
}

fn seconds(o: &Outcome) -> f64 {
    match o {
        Outcome::Read { seconds, .. } | Outcome::Refused { seconds, .. } => *seconds,
        Outcome::Stopped { after, .. } => after.as_secs_f64(),
    }
}
