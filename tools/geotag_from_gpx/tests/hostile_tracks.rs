//! geotag_from_gpx on tracks that are huge, hostile or wrong in places:
//! each ends with a clear message, in bounded memory, and a photo is
//! placed only where the track can be trusted. (Positions are read back
//! with the core's reader; the other tests compare with exiftool.)

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::fs;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use mapillary_core::exif::read_exif;
use mapillary_testkit::{args, assert_line, photo_edits, run_tool, workspace_root, write_photo};

const BIN: &str = env!("CARGO_BIN_EXE_geotag_from_gpx");

const HEAD: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<gpx version=\"1.1\" creator=\"test\" xmlns=\"http://www.topografix.com/GPX/1/1\">\n";

/// A photo taken at `time` UTC (EXIF "YYYY:MM:DD HH:MM:SS").
fn photo(dir: &Path, name: &str, time: &str) -> PathBuf {
    let p = dir.join(name);
    write_photo(
        &p,
        name.len() as u32,
        &photo_edits(time, Some("+00:00"), None),
    );
    p
}

/// A walk through Berlin from 2021-06-01T10:00:00Z, one point a second,
/// `n` points, 1.4 m/s east (lat 52.52, lon 13.40 + i·2e-5).
fn berlin_points(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "<trkpt lat=\"52.52\" lon=\"{:.5}\"><ele>34</ele><time>2021-06-01T10:{:02}:{:02}Z</time></trkpt>\n",
                13.40 + i as f64 * 2e-5,
                i / 60,
                i % 60
            )
        })
        .collect()
}

fn track(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, format!("{HEAD}{body}</gpx>\n")).unwrap();
    p
}

fn position(photo: &Path) -> (f64, f64, Option<f64>) {
    let exif = read_exif(photo).unwrap();
    (
        exif.latitude.unwrap(),
        exif.longitude.unwrap(),
        exif.altitude,
    )
}

/// The lines of stderr that name `file`.
fn about(stderr: &str, file: &Path) -> Vec<String> {
    let prefix = format!("geotag_from_gpx: {}: ", file.display());
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix).map(str::to_string))
        .collect()
}

/// Runs the tool; (exit code, stderr, peak resident memory in MiB), the
/// peak read from the child's VmHWM while it runs.
fn run_measured(args: &[&std::ffi::OsStr]) -> (i32, String, f64) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        pipe.read_to_string(&mut text).unwrap();
        text
    });
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0u64;
    let status = loop {
        if let Ok(text) = fs::read_to_string(&status_file)
            && let Some(kb) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        {
            peak_kb = peak_kb.max(kb);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stderr = reader.join().unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    (status.code().unwrap(), stderr, peak_kb as f64 / 1024.0)
}

#[test]
fn a_100_mb_track_loads_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.gpx");
    let mut out = BufWriter::new(fs::File::create(&path).unwrap());
    out.write_all(HEAD.as_bytes()).unwrap();
    out.write_all(b"<trk><name>A long drive</name><trkseg>\n")
        .unwrap();
    // About 1.07 million points a second apart, 10 m/s north-east and
    // back every 5.5 hours, as a logger writes them.
    let start: mapillary_core::jiff::Timestamp = "2021-06-01T00:00:00Z".parse().unwrap();
    let mut written = 0u64;
    let mut i = 0i64;
    while written < 100 << 20 {
        let t = start + mapillary_core::jiff::SignedDuration::from_secs(i);
        let phase = i % 40_000;
        let along = phase.min(40_000 - phase) as f64;
        let line = format!(
            "<trkpt lat=\"{:.7}\" lon=\"{:.7}\"><ele>{:.1}</ele><time>{t}</time></trkpt>\n",
            40.0 + along * 6.4e-5,
            -3.0 + along * 8.4e-5,
            600.0 + (i % 100) as f64 / 10.0,
        );
        out.write_all(line.as_bytes()).unwrap();
        written += line.len() as u64;
        i += 1;
    }
    out.write_all(b"</trkseg></trk></gpx>\n").unwrap();
    out.flush().unwrap();
    drop(out);
    assert!(fs::metadata(&path).unwrap().len() >= 100 << 20);
    let photos = dir.path().join("p");
    fs::create_dir_all(&photos).unwrap();
    // Half way along.
    let middle = start + mapillary_core::jiff::SignedDuration::from_secs(i / 2);
    let exif_time = middle.strftime("%Y:%m:%d %H:%M:%S").to_string();
    let p = photo(&photos, "a.jpg", &exif_time);
    let before = fs::read(&p).unwrap();
    let (code, stderr, peak_mib) = run_measured(args![photos, path, "--dry-run", "-v"]);
    assert_eq!(code, 0, "{stderr}");
    assert_line(
        &stderr,
        &format!("geotag_from_gpx: {i} track points from 1 file"),
    );
    assert_eq!(fs::read(&p).unwrap(), before, "a dry run changed the photo");
    // The points kept take about 60 MB (56 bytes each); the file is
    // 100 MB. A reader that held the file, or a tree of it, would be over;
    // the gpx crate took 434 MB on such a file.
    assert!(peak_mib < 150.0, "peak memory {peak_mib:.0} MiB");
    eprintln!("peak memory {peak_mib:.0} MiB for {i} points");
}

#[test]
fn nesting_200000_deep_ends_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let p = photo(dir.path(), "a.jpg", "2021:06:01 10:00:05");
    let before = fs::read(&p).unwrap();
    let mut body = String::from("<trk><extensions>");
    body.push_str(&"<a>".repeat(200_000));
    body.push_str(&"</a>".repeat(200_000));
    body.push_str("</extensions><trkseg>");
    body.push_str(&berlin_points(10));
    body.push_str("</trkseg></trk>");
    let deep = track(dir.path(), "deep.gpx", &body);
    let (code, stdout, stderr) = run_tool(BIN, args![p, deep], None);
    // A GPX named on the command line that cannot be used: exit 2.
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert_eq!(
        stderr,
        format!(
            "geotag_from_gpx: {}: line 3: elements nested more than 64 deep; refused (a GPX file \
             needs a few levels)\n",
            deep.display()
        )
    );
    assert_eq!(fs::read(&p).unwrap(), before);
}

#[test]
fn an_entity_used_20000_times_is_never_expanded() {
    let dir = tempfile::tempdir().unwrap();
    let p = photo(dir.path(), "a.jpg", "2021:06:01 10:00:05");
    // One entity of 50 KB used 20,000 times: 110 KB, 1 GB expanded.
    let mut text = format!(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE gpx [<!ENTITY a \"{}\">]>\n",
        "lol".repeat(50_000 / 3)
    );
    text.push_str(&HEAD[HEAD.find("<gpx").unwrap()..]);
    text.push_str("<trk><desc>");
    text.push_str(&"&a;".repeat(20_000));
    text.push_str("</desc><trkseg>\n");
    text.push_str(&berlin_points(10));
    text.push_str("</trkseg></trk></gpx>\n");
    assert!((105_000..115_000).contains(&text.len()), "{}", text.len());
    let bomb = dir.path().join("bomb.gpx");
    fs::write(&bomb, text).unwrap();
    let (code, stderr, peak_mib) = run_measured(args![p, bomb]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    let (lat, lon, _) = position(&p);
    assert!(
        (lat - 52.52).abs() < 1e-6 && (lon - 13.4001).abs() < 1e-6,
        "{lat} {lon}"
    );
    assert!(peak_mib < 50.0, "peak memory {peak_mib:.0} MiB");
}

#[test]
fn a_sydney_waypoint_in_a_berlin_track_leaves_berlin_photos_in_berlin() {
    let dir = tempfile::tempdir().unwrap();
    let photos = dir.path().join("p");
    fs::create_dir_all(&photos).unwrap();
    // 30.5 s in, when the waypoint says Sydney.
    let p = photo(&photos, "a.jpg", "2021:06:01 10:00:30");
    let body = format!(
        "<wpt lat=\"-33.8688\" lon=\"151.2093\"><name>Opera</name><time>2021-06-01T10:00:30Z</time></wpt>\n<trk><trkseg>\n{}</trkseg></trk>",
        berlin_points(60).replace(
            "<time>2021-06-01T10:00:30Z</time>",
            "<time>2021-06-01T10:00:30.500Z</time>"
        )
    );
    let t = track(dir.path(), "berlin.gpx", &body);
    let (code, stdout, stderr) = run_tool(BIN, args![photos, t], None);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (lat, lon, _) = position(&p);
    // Between the points at 29 s and 30.5 s: 2/3 of the way.
    assert!((lat - 52.52).abs() < 1e-6, "{lat} {lon}");
    assert!(
        (lon - (13.40 + 29.0 * 2e-5 + 2e-5 * 2.0 / 3.0)).abs() < 1e-6,
        "{lon}"
    );
    let said = about(&stderr, &t);
    assert_eq!(said.len(), 1, "{stderr}");
    assert!(
        said[0].starts_with(
            "1 point left out: implausibly far from its neighbours (the first, at \
             2021-06-01T10:00:30Z, would take "
        ),
        "{}",
        said[0]
    );
    assert!(said[0].ends_with("km/h to reach; the limit is 1,500 km/h)"));
}

#[test]
fn a_track_of_mostly_implausible_points_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = photo(dir.path(), "a.jpg", "2021:06:01 10:00:02");
    let before = fs::read(&p).unwrap();
    let points: String = (0..6)
        .map(|i| {
            let (lat, lon) = if i % 2 == 0 {
                (52.52, 13.4)
            } else {
                (-33.87, 151.2)
            };
            format!(
                "<trkpt lat=\"{lat}\" lon=\"{lon}\"><time>2021-06-01T10:00:0{i}Z</time></trkpt>"
            )
        })
        .collect();
    let t = track(
        dir.path(),
        "noise.gpx",
        &format!("<trk><trkseg>{points}</trkseg></trk>"),
    );
    let (code, _, stderr) = run_tool(BIN, args![p, t], None);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(
        about(&stderr, &t),
        [
            "3 of its 6 timed points are implausibly far from their neighbours (faster than \
          1,500 km/h), so which are right cannot be told; not used"
        ]
    );
    assert_eq!(fs::read(&p).unwrap(), before);
}

#[test]
fn duplicate_times_are_reported_once_and_resolved() {
    let dir = tempfile::tempdir().unwrap();
    let photos = dir.path().join("p");
    fs::create_dir_all(&photos).unwrap();
    let p = photo(&photos, "a.jpg", "2021:06:01 10:00:05");
    // A second logger's points at 5 s and 7 s, 80 m north: the first
    // track's points are kept.
    let second = "<trk><trkseg>\
        <trkpt lat=\"52.5207\" lon=\"13.4001\"><time>2021-06-01T10:00:05Z</time></trkpt>\
        <trkpt lat=\"52.5207\" lon=\"13.40014\"><time>2021-06-01T10:00:07Z</time></trkpt>\
        </trkseg></trk>";
    let body = format!(
        "<trk><trkseg>\n{}</trkseg></trk>{second}",
        berlin_points(20)
    );
    let t = track(dir.path(), "two.gpx", &body);
    let (code, _, stderr) = run_tool(BIN, args![photos, t], None);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        about(&stderr, &t),
        [
            "2 times have points at different places (the first at 2021-06-01T10:00:05Z): kept \
          the first track point (else route point, else waypoint) of each, 2 points left out"
        ]
    );
    let (lat, lon, _) = position(&p);
    assert!(
        (lat - 52.52).abs() < 1e-6 && (lon - 13.4001).abs() < 1e-6,
        "{lat} {lon}"
    );
}

#[test]
fn an_elevation_of_1e308_is_left_out_not_written() {
    let dir = tempfile::tempdir().unwrap();
    let photos = dir.path().join("p");
    fs::create_dir_all(&photos).unwrap();
    let high = photo(&photos, "high.jpg", "2021:06:01 10:00:05");
    let fine = photo(&photos, "fine.jpg", "2021:06:01 10:00:15.5");
    // Both points around the first photo have 1e308; the second photo's
    // have 34 m.
    let points = berlin_points(20)
        .replacen("<ele>34</ele>", "<ele>1e308</ele>", 7)
        .replacen("<ele>1e308</ele>", "<ele>34</ele>", 4);
    let t = track(
        dir.path(),
        "high.gpx",
        &format!("<trk><trkseg>\n{points}</trkseg></trk>"),
    );
    let (code, _, stderr) = run_tool(BIN, args![photos, t], None);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        about(&stderr, &t),
        [
            "3 elevations of points left out (the first: 1e308 m): outside -500 to 9,000 m, what \
          the Earth's surface has; the points keep their positions"
        ]
    );
    // Before, this photo got GPSAltitude 4294967.295 m.
    let (lat, _, altitude) = position(&high);
    assert!((lat - 52.52).abs() < 1e-6);
    assert_eq!(altitude, None);
    assert_eq!(position(&fine).2, Some(34.0));
}

#[test]
fn every_element_of_gpx_1_0_and_1_1_magvar_included() {
    let fixtures = workspace_root().join("crates/mapillary-core/src/track/fixtures");
    for (name, lat, lon) in [
        // 10:00:05Z: half way between the first two track points.
        (
            "every_element_1_1.gpx",
            52.51 + 0.0001 * 5.0 / 10.5,
            13.35 + 0.0002 * 5.0 / 10.5,
        ),
        ("every_element_1_0.gpx", 52.51005, 13.3501),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join(name);
        fs::copy(fixtures.join(name), &t).unwrap();
        let photos = dir.path().join("p");
        fs::create_dir_all(&photos).unwrap();
        let p = photo(&photos, "a.jpg", "2021:06:01 10:00:05");
        let (code, stdout, stderr) = run_tool(BIN, args![photos, t], None);
        assert_eq!(code, 0, "{name}: {stdout}{stderr}");
        assert!(stderr.is_empty(), "{name}: {stderr}");
        let (got_lat, got_lon, altitude) = position(&p);
        assert!((got_lat - lat).abs() < 1e-6, "{name}: {got_lat}");
        assert!((got_lon - lon).abs() < 1e-6, "{name}: {got_lon}");
        assert!(
            altitude.is_some_and(|a| (34.0..34.5).contains(&a)),
            "{name}: {altitude:?}"
        );
    }
}
