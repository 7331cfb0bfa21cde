//! geotag_from_gpx, run as a user runs it; results read back with exiftool.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use mapillary_core::exif::read_exif;
use mapillary_testkit::{
    args, assert_line, copy_files, corpus, exiftool, files_with_extension, image_data,
    line_starting, photo_edits, run_tool, unexpected_changes, workspace_root, write_photo,
};

const BIN: &str = env!("CARGO_BIN_EXE_geotag_from_gpx");

/// A track point: time, lat, lon, elevation.
type Point<'a> = (&'a str, f64, f64, Option<f64>);

/// A GPX 1.1 track, one segment per slice.
fn gpx(segments: &[&[Point<'_>]]) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\"?>\n<gpx version=\"1.1\" creator=\"test\" xmlns=\"http://www.topografix.com/GPX/1/1\"><trk>\n",
    );
    for seg in segments {
        s.push_str("<trkseg>\n");
        for (t, lat, lon, ele) in *seg {
            let ele = ele.map(|e| format!("<ele>{e}</ele>")).unwrap_or_default();
            s.push_str(&format!(
                "<trkpt lat=\"{lat}\" lon=\"{lon}\">{ele}<time>{t}</time></trkpt>\n"
            ));
        }
        s.push_str("</trkseg>\n");
    }
    s.push_str("</trk></gpx>\n");
    s
}

/// Runs the tool with a chosen TZ.
fn geotag(tz: &str, args: &[&std::ffi::OsStr]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).env("TZ", tz).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
    )
}

/// What exiftool reads back: lat, lon, altitude, direction.
fn read_back(file: &Path) -> (f64, f64, Option<f64>, Option<f64>) {
    let tool = exiftool().expect("exiftool");
    let text = tool.values(
        file,
        &[
            "-n",
            "-Composite:GPSLatitude",
            "-Composite:GPSLongitude",
            "-Composite:GPSAltitude",
            "-GPS:GPSImgDirection",
        ],
    );
    let v: Vec<f64> = text.lines().map(|l| l.trim().parse().unwrap()).collect();
    match v.len() {
        4 => (v[0], v[1], Some(v[2]), Some(v[3])),
        3 => (v[0], v[1], None, Some(v[2])),
        _ => panic!("{}: exiftool read {text:?}", file.display()),
    }
}

fn assert_position(file: &Path, lat: f64, lon: f64) {
    let (got_lat, got_lon, _, _) = read_back(file);
    assert!(
        (got_lat - lat).abs() < 1e-6,
        "{}: lat {got_lat}, expected {lat}",
        file.display()
    );
    let dlon = (got_lon - lon).rem_euclid(360.0);
    assert!(
        dlon.min(360.0 - dlon) < 1e-6,
        "{}: lon {got_lon}, expected {lon}",
        file.display()
    );
}

fn photo(dir: &Path, name: &str, time: &str, offset: Option<&str>) -> PathBuf {
    let p = dir.join(name);
    write_photo(&p, name.len() as u32, &photo_edits(time, offset, None));
    p
}

#[test]
fn four_hemispheres_zones_offsets_and_sub_seconds() {
    if exiftool().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Each city: two points ten seconds apart; each photo lands a quarter
    // of the way along (2.5 s after the first point, in GPS time).
    let track = dir.path().join("track.gpx");
    fs::write(
        &track,
        gpx(&[
            &[
                ("2021-06-01T10:00:00Z", 52.5, 13.4, Some(30.0)),
                ("2021-06-01T10:00:10Z", 52.501, 13.402, Some(40.0)),
            ],
            &[
                ("2021-07-01T10:00:00Z", 37.77, -122.42, None),
                ("2021-07-01T10:00:10Z", 37.771, -122.421, None),
            ],
            &[
                ("2021-12-01T10:00:00Z", 37.77, -122.42, None),
                ("2021-12-01T10:00:10Z", 37.771, -122.421, None),
            ],
            &[
                ("2021-08-01T10:00:00Z", -33.86, 151.2, Some(-2.0)),
                ("2021-08-01T10:00:10Z", -33.861, 151.203, Some(-6.0)),
            ],
        ]),
    )
    .unwrap();
    let photos = dir.path().join("photos");
    fs::create_dir_all(&photos).unwrap();
    // Berlin: the photo states its zone (+02:00), which wins over TZ.
    let berlin = photo(
        &photos,
        "berlin.jpg",
        "2021:06:01 12:00:02.5",
        Some("+02:00"),
    );
    // San Francisco, no zone in the file: TZ (Pacific, with DST) at the
    // capture instant. Summer: PDT, UTC-7; winter: PST, UTC-8.
    let sf_summer = photo(&photos, "sf_summer.jpg", "2021:07:01 03:00:02.5", None);
    let sf_winter = photo(&photos, "sf_winter.jpg", "2021:12:01 02:00:02.5", None);
    let (code, stdout, stderr) = geotag("PST8PDT,M3.2.0,M11.1.0", args![photos, track]);
    // Sydney's photo is not in this folder yet: everything is tagged.
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_line(&stdout, "3 photos tagged, 0 skipped, 0 failed");
    // Berlin: lat 52.5 + 0.001·0.25, lon 13.4 + 0.002·0.25, altitude
    // 30 + 10·0.25; direction: the initial bearing from (52.5, 13.4) to
    // (52.501, 13.402): atan2(sin Δλ·cos φ2, cos φ1·sin φ2 − sin φ1·cos φ2·cos Δλ)
    // = 50.60°.
    assert_position(&berlin, 52.50025, 13.4005);
    let (_, _, alt, dir_) = read_back(&berlin);
    assert_eq!(alt, Some(32.5));
    assert_eq!(dir_, Some(50.6));
    for f in [&sf_summer, &sf_winter] {
        // lat 37.77 + 0.001·0.25, lon −122.42 − 0.001·0.25; bearing 321.67°.
        assert_position(f, 37.77025, -122.42025);
        assert_eq!(read_back(f).3, Some(321.67));
    }
    // GPS time stamps are the UTC of the capture.
    let tool = exiftool().unwrap();
    assert_eq!(
        tool.values(
            &sf_winter,
            &["-n", "-GPS:GPSDateStamp", "-GPS:GPSTimeStamp"]
        ),
        "2021:12:01\n10:00:02.5"
    );

    // Sydney: the camera clock is 3.5 s behind the GPS (negative offset),
    // and SubSecTimeOriginal carries the fraction: 18:59:59.0 camera
    // (AEST, +10:00) + 3.5 s = 09:00:02.5Z on the track... at 2021-08-01.
    let sydney_dir = dir.path().join("sydney");
    fs::create_dir_all(&sydney_dir).unwrap();
    let sydney = photo(&sydney_dir, "syd.jpg", "2021:08:01 19:59:59.0", None);
    let (code, stdout, stderr) = geotag(
        "UTC",
        args![sydney_dir, track, "-3.5", "--timezone", "+10:00"],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    // 19:59:59 at +10:00 is 09:59:59Z; +3.5 s = 10:00:02.5Z: a quarter.
    // lat −33.86 − 0.001·0.25, lon 151.2 + 0.003·0.25, altitude −2 − 4·0.25
    // = −3 (below sea level), bearing 111.87°.
    assert_position(&sydney, -33.86025, 151.20075);
    let (_, _, alt, dir_) = read_back(&sydney);
    assert_eq!(alt, Some(-3.0));
    assert_eq!(dir_, Some(111.87));
}

#[test]
fn south_west_antimeridian_gaps_and_edges() {
    if exiftool().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let track = dir.path().join("t.gpx");
    fs::write(
        &track,
        gpx(&[
            // Buenos Aires (SW).
            &[
                ("2021-03-01T12:00:00Z", -34.6, -58.38, None),
                ("2021-03-01T12:00:04Z", -34.599, -58.381, None),
            ],
            // Fiji, across the antimeridian.
            &[
                ("2021-04-01T00:00:00Z", -16.8, 179.999, None),
                ("2021-04-01T00:00:02Z", -16.801, -179.999, None),
            ],
            // Two points two hours apart: a gap.
            &[
                ("2021-05-01T00:00:00Z", 1.0, 1.0, None),
                ("2021-05-01T02:00:00Z", 1.1, 1.1, None),
            ],
        ]),
    )
    .unwrap();
    let photos = dir.path().join("p");
    fs::create_dir_all(&photos).unwrap();
    // 09:00:03 at −03:00 is 12:00:03Z: three quarters.
    let ba = photo(&photos, "ba.jpg", "2021:03:01 09:00:03", Some("-03:00"));
    // 00:00:01Z: half way, on the antimeridian.
    let fiji = photo(&photos, "fiji.jpg", "2021:04:01 00:00:01", Some("+00:00"));
    let gap = photo(&photos, "gap.jpg", "2021:05:01 01:00:00", Some("+00:00"));
    let early = photo(&photos, "early.jpg", "2021:01:01 00:00:00", Some("+00:00"));
    let late = photo(&photos, "late.jpg", "2022:01:01 00:00:00", Some("+00:00"));
    let untouched: Vec<Vec<u8>> = [&gap, &early, &late]
        .iter()
        .map(|f| fs::read(f).unwrap())
        .collect();
    let (code, stdout, stderr) = geotag("UTC", args![photos, track]);
    assert_eq!(code, 1, "skipped photos make the exit status 1");
    assert_line(&stdout, "2 photos tagged, 3 skipped, 0 failed");
    for (photo, reason) in [
        (
            &gap,
            "in a 7200.0 s gap of the track (2021-05-01T00:00:00Z to 2021-05-01T02:00:00Z); see --max-gap",
        ),
        (
            &early,
            "5140800.0 s before the track starts (2021-03-01T12:00:00Z)",
        ),
        (
            &late,
            "21160800.0 s after the track ends (2021-05-01T02:00:00Z)",
        ),
    ] {
        assert_line(
            &stderr,
            &format!("geotag_from_gpx: {}: skipped: {reason}", photo.display()),
        );
    }
    for (f, before) in [&gap, &early, &late].iter().zip(&untouched) {
        assert_eq!(&fs::read(f).unwrap(), before, "{} changed", f.display());
    }
    // Buenos Aires: lat −34.6 + 0.001·0.75, lon −58.38 − 0.001·0.75;
    // bearing 320.54°.
    assert_position(&ba, -34.59925, -58.38075);
    assert_eq!(read_back(&ba).3, Some(320.54));
    // Fiji: half way from 179.999 E to 179.999 W is 180°.
    assert_position(&fiji, -16.8005, 180.0);
    assert_eq!(read_back(&fiji).3, Some(117.58));
    // --max-gap bridges the gap.
    let (code, _, stderr) = geotag("UTC", args![gap, track, "--max-gap", "7200"]);
    assert_eq!(code, 0, "{stderr}");
    assert_position(&gap, 1.05, 1.05);
}

#[test]
fn several_files_and_segments_by_pattern_or_folder() {
    if exiftool().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    fs::create_dir_all(&logs).unwrap();
    fs::write(
        logs.join("morning.gpx"),
        gpx(&[&[
            ("2021-06-01T08:00:00Z", 10.0, 10.0, None),
            ("2021-06-01T08:00:10Z", 10.0, 10.01, None),
        ]]),
    )
    .unwrap();
    fs::write(
        logs.join("afternoon.gpx"),
        gpx(&[
            &[
                ("2021-06-01T14:00:00Z", 20.0, 20.0, None),
                ("2021-06-01T14:00:10Z", 20.01, 20.0, None),
            ],
            // Three hours on, 1,500 km away (500 km/h: plausible).
            &[
                ("2021-06-01T17:00:00Z", 30.0, 30.0, None),
                ("2021-06-01T17:00:20Z", 30.0, 30.02, None),
            ],
        ]),
    )
    .unwrap();
    let photos = dir.path().join("p");
    fs::create_dir_all(&photos).unwrap();
    let a = photo(&photos, "a.jpg", "2021:06:01 08:00:05", Some("Z"));
    let b = photo(&photos, "b.jpg", "2021:06:01 14:00:05", Some("Z"));
    let c = photo(&photos, "c.jpg", "2021:06:01 17:00:05", Some("Z"));
    let pattern = format!("{}/*.gpx", logs.display());
    let (code, _, stderr) = geotag("UTC", args![photos, pattern]);
    assert_eq!(code, 0, "{stderr}");
    assert_position(&a, 10.0, 10.005);
    assert_position(&b, 20.005, 20.0);
    assert_position(&c, 30.0, 30.005);
    // The folder form gives the same.
    let (code, _, _) = geotag("UTC", args![c, logs, "--", "-5"]);
    assert_eq!(code, 0);
    // With the camera 5 s behind: 17:00:10Z, half way.
    assert_position(&c, 30.0, 30.01);
}

#[test]
fn bad_tracks_and_arguments_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let p = photo(dir.path(), "a.jpg", "2021:06:01 08:00:05", Some("Z"));
    let before = fs::read(&p).unwrap();
    let untimed = dir.path().join("untimed.gpx");
    fs::write(&untimed, "<gpx version=\"1.1\" creator=\"t\"><trk><trkseg><trkpt lat=\"1\" lon=\"2\"/></trkseg></trk></gpx>").unwrap();
    let junk = dir.path().join("junk.gpx");
    fs::write(&junk, "this is not xml").unwrap();
    for (track, message) in [
        (
            untimed.clone(),
            "no track point has a time, so photos cannot be placed on it",
        ),
        (
            junk.clone(),
            "line 1: not a valid GPX file (text before the <gpx> element)",
        ),
        (dir.path().join("none.gpx"), "no such file or folder"),
        (dir.path().join("*.kml"), "no GPX file found"),
    ] {
        let (code, stdout, stderr) = run_tool(BIN, args![p, track], None);
        // A GPX named on the command line that cannot be used: exit 2.
        assert_eq!(code, 2, "{stderr}");
        assert!(stdout.is_empty());
        assert_eq!(
            stderr,
            format!("geotag_from_gpx: {}: {message}\n", track.display())
        );
    }
    for (a, message) in [
        (
            vec![p.as_os_str(), untimed.as_os_str(), "soon".as_ref()],
            "time_offset must be a number of seconds, not 'soon'",
        ),
        (
            vec![
                p.as_os_str(),
                untimed.as_os_str(),
                "--max-gap".as_ref(),
                "-1".as_ref(),
            ],
            "--max-gap must be a number of seconds, 0 or more, not '-1'",
        ),
        (vec![p.as_os_str()], "missing argument: gpx_file"),
        (
            vec![
                p.as_os_str(),
                untimed.as_os_str(),
                "--timezone".as_ref(),
                "Nowhere".as_ref(),
            ],
            "--timezone: unknown time zone 'Nowhere' (use UTC, an offset such as +02:00, or a name such as Europe/Berlin)",
        ),
    ] {
        let (code, _, stderr) = run_tool(BIN, &a, None);
        assert_eq!(code, 2, "{stderr}");
        assert_eq!(
            stderr,
            format!(
                "geotag_from_gpx: {message}\nUsage: geotag_from_gpx [options] path gpx_file [time_offset] (see geotag_from_gpx --help)\n"
            )
        );
    }
    assert_eq!(fs::read(&p).unwrap(), before);
}

#[test]
fn vendor_files_keep_every_other_tag() {
    let (Some(vendors), Some(tool)) = (corpus("exiftool-vendors"), exiftool()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let copies = copy_files(&files_with_extension(&vendors, &["jpg"]), dir.path()).unwrap();
    let before = tool.listings(&copies);
    let originals: Vec<Vec<u8>> = copies.iter().map(|c| fs::read(c).unwrap()).collect();
    // One long track that covers every camera's capture time (1998–2023),
    // and --timezone so that the machine's zone does not matter.
    let track = dir.path().join("long.gpx");
    fs::write(
        &track,
        gpx(&[&[
            ("1990-01-01T00:00:00Z", 45.0, 7.0, Some(100.0)),
            ("2030-01-01T00:00:00Z", 46.0, 8.0, Some(200.0)),
        ]]),
    )
    .unwrap();
    let (_, stdout, stderr) = geotag(
        "UTC",
        args![
            dir.path(),
            track,
            "--timezone",
            "UTC",
            "--max-gap",
            "2000000000",
            // Each skipped photo on its own line (without -v, many skipped
            // for one reason are one line).
            "-v"
        ],
    );
    let after = tool.listings(&copies);
    // The GPS IFD is replaced whole, and exiftool derives composite GPS
    // tags from it: those may change, nothing else.
    let without_gps = |l: &mapillary_testkit::TagListing| mapillary_testkit::TagListing {
        tags: l
            .tags
            .iter()
            .filter(|t| {
                let composite_gps = t.starts_with("[Composite]")
                    && mapillary_testkit::tag_name(t).starts_with("GPS");
                !(t.starts_with("[GPS]") || composite_gps)
            })
            .cloned()
            .collect(),
        warnings: l.warnings.clone(),
    };
    let mut tagged = 0;
    let mut problems = Vec::new();
    for (c, original) in copies.iter().zip(&originals) {
        let name = c.file_name().unwrap().to_string_lossy().into_owned();
        let now = fs::read(c).unwrap();
        if now == *original {
            // Not tagged: it must say why (no time, or refused).
            line_starting(&stderr, &format!("geotag_from_gpx: {}: ", c.display()));
            continue;
        }
        tagged += 1;
        let growth = now.len() as i64 - original.len() as i64;
        for p in unexpected_changes(
            &without_gps(&before[c]),
            &without_gps(&after[c]),
            &[],
            growth,
        ) {
            problems.push(format!("{name}: {p}"));
        }
        let sos = mapillary_core::exif::jpeg::parse_head(original)
            .unwrap()
            .sos_offset;
        if image_data(c) != original[sos..] {
            problems.push(format!("{name}: image bytes changed"));
        }
        assert!(read_exif(c).unwrap().latitude.is_some());
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // Every vendor file with a capture time is tagged but the AFCP one.
    assert!(tagged >= 33, "only {tagged} tagged\n{stdout}\n{stderr}");

    // Geotagging again (an hour later along the track: other positions)
    // replaces the IFDs the first run appended instead of growing the
    // file, and still changes nothing else.
    let first: Vec<Vec<u8>> = copies.iter().map(|c| fs::read(c).unwrap()).collect();
    for offset in ["3600", "-1800", "3600"] {
        let (_, _, stderr) = geotag(
            "UTC",
            args![
                dir.path(),
                track,
                offset,
                "--timezone",
                "UTC",
                "--max-gap",
                "2000000000"
            ],
        );
        let again = tool.listings(&copies);
        for ((c, original), first) in copies.iter().zip(&originals).zip(&first) {
            let name = c.file_name().unwrap().to_string_lossy().into_owned();
            let now = fs::read(c).unwrap();
            if *first == *original {
                assert_eq!(now, *original, "{name} changed on a later run\n{stderr}");
                continue;
            }
            assert_eq!(
                now.len(),
                first.len(),
                "{name}: geotagging again changed the size"
            );
            for p in unexpected_changes(&without_gps(&after[c]), &without_gps(&again[c]), &[], 0) {
                problems.push(format!("{name} (offset {offset}): {p}"));
            }
            let sos = mapillary_core::exif::jpeg::parse_head(original)
                .unwrap()
                .sos_offset;
            if image_data(c) != original[sos..] {
                problems.push(format!("{name} (offset {offset}): image bytes changed"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn man_page_is_current() {
    let (_, man, _) = run_tool(BIN, args!["--generate-man"], None);
    let committed =
        fs::read_to_string(workspace_root().join("docs/man/geotag_from_gpx.1")).unwrap_or_default();
    assert_eq!(
        man, committed,
        "docs/man/geotag_from_gpx.1 is out of date: run `make man`"
    );
}
