//! geotag_from_gpx --map: the page it writes, checked in headless Chromium
//! (the page loads cleanly and asks for nothing, each photo is drawn where
//! its position projects, the photos not placed are listed with their
//! reasons, names are text and never markup), and the files it leaves.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use mapillary_core::exif::ExifEdits;
use mapillary_testkit::browser::geometry::{assert_one_scale, mercator, near, on_screen, pair};
use mapillary_testkit::browser::{self, Page, Response, Value, file_url};
use mapillary_testkit::{args, photo_edits, run_tool, write_photo};

const BIN: &str = env!("CARGO_BIN_EXE_geotag_from_gpx");

/// The track: Helsinki, one point every 10 s over two walks, 10:00–10:05
/// and 10:20–10:25 UTC, with a 15-minute gap between (more than the
/// --max-gap of 120 s the runs use).
fn track_points() -> Vec<(i64, f64, f64)> {
    let mut points = Vec::new();
    for k in 0..=30 {
        let f = f64::from(k);
        points.push((
            10 * i64::from(k),
            60.1700 + 0.0004 * f + 0.0003 * (f / 5.0).sin(),
            24.9400 + 0.0007 * f,
        ));
    }
    for k in 0..=30 {
        let f = f64::from(k);
        points.push((
            1200 + 10 * i64::from(k),
            60.1790 + 0.0006 * f,
            24.9650 - 0.0005 * f - 0.0004 * (f / 4.0).cos(),
        ));
    }
    points
}

fn clock(seconds_after_ten: i64) -> (i64, i64, i64) {
    let s = 10 * 3600 + seconds_after_ten;
    (s / 3600, s / 60 % 60, s % 60)
}

fn gpx() -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\"?>\n<gpx version=\"1.1\" creator=\"test\" xmlns=\"http://www.topografix.com/GPX/1/1\"><trk><trkseg>\n",
    );
    for (t, lat, lon) in track_points() {
        let (h, m, sec) = clock(t);
        s.push_str(&format!(
            "<trkpt lat=\"{lat}\" lon=\"{lon}\"><time>2021-06-01T{h:02}:{m:02}:{sec:02}Z</time></trkpt>\n"
        ));
    }
    s.push_str("</trkseg></trk></gpx>\n");
    s
}

/// Where a photo taken `t` seconds after 10:00 UTC lands, worked out here
/// from the track: linear in latitude and longitude between the points
/// around it, looking along the great circle from the one to the next.
fn expected_fix(t: i64) -> (f64, f64, f64) {
    let points = track_points();
    // The first point after t; t is at or after the one before (a photo
    // exactly on a point looks towards the next).
    let b = points.iter().position(|p| p.0 > t).unwrap();
    let a = b - 1;
    let (ta, lat_a, lon_a) = points[a];
    let (tb, lat_b, lon_b) = points[b];
    let f = (t - ta) as f64 / (tb - ta) as f64;
    let (p1, p2) = (lat_a.to_radians(), lat_b.to_radians());
    let dl = (lon_b - lon_a).to_radians();
    let y = dl.sin() * p2.cos();
    let x = p1.cos() * p2.sin() - p1.sin() * p2.cos() * dl.cos();
    let bearing = y.atan2(x).to_degrees().rem_euclid(360.0);
    (
        lat_a + (lat_b - lat_a) * f,
        lon_a + (lon_b - lon_a) * f,
        bearing,
    )
}

/// A photo of the test: its file name (bytes), how the page and the
/// terminal show that name, and when it was taken (seconds after 10:00
/// UTC), if it has a capture time.
struct Photo {
    file: OsString,
    shown: &'static str,
    at: Option<i64>,
}

fn photo(file: &[u8], shown: &'static str, at: Option<i64>) -> Photo {
    Photo {
        file: OsString::from_vec(file.to_vec()),
        shown,
        at,
    }
}

/// Photos on the track (placed) and off it (skipped), with names that
/// hold markup, quotes, a control character and a byte that is not UTF-8.
fn photos() -> (Vec<Photo>, Vec<Photo>) {
    let placed = vec![
        photo(b"IMG_0001.jpg", "IMG_0001.jpg", Some(5)),
        photo(b"a<script>b&c.jpg", "a<script>b&c.jpg", Some(72)),
        photo(
            b"<img src=x onerror=window.__injected=1>.jpg",
            "<img src=x onerror=window.__injected=1>.jpg",
            Some(150),
        ),
        photo(b"quote\"'.jpg", "quote\"'.jpg", Some(227)),
        photo(b"IMG_0005.jpg", "IMG_0005.jpg", Some(299)),
        photo(b"IMG_0006.jpg", "IMG_0006.jpg", Some(1200)),
        photo(b"IMG_0007.jpg", "IMG_0007.jpg", Some(1342)),
        photo(b"bad\xff\x1b[2J.jpg", "bad\\xff\\x1b[2J.jpg", Some(1450)),
    ];
    let skipped = vec![
        photo(b"early&.jpg", "early&.jpg", Some(-60)),
        photo(b"late<b>.jpg", "late<b>.jpg", Some(2400)),
        photo(b"gap.jpg", "gap.jpg", Some(720)),
        photo(b"no_time.jpg", "no_time.jpg", None),
    ];
    (placed, skipped)
}

/// A folder with the track and the photos; returns (dir, photos, gpx).
fn trip() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("photos");
    fs::create_dir(&folder).unwrap();
    let gpx_path = dir.path().join("track.gpx");
    fs::write(&gpx_path, gpx()).unwrap();
    let (placed, skipped) = photos();
    for (i, p) in placed.iter().chain(&skipped).enumerate() {
        let edits = match p.at {
            Some(t) => {
                let (h, m, s) = if t < 0 { (9, 59, 60 + t) } else { clock(t) };
                photo_edits(&format!("2021:06:01 {h:02}:{m:02}:{s:02}"), Some("Z"), None)
            }
            None => ExifEdits::new(),
        };
        write_photo(&folder.join(&p.file), i as u32, &edits);
    }
    (dir, folder, gpx_path)
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let bytes = fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

/// The skip reason the tool printed for `file` on stderr.
fn printed_reason<'a>(stderr: &'a str, folder: &Path, shown: &str) -> &'a str {
    let prefix = format!("geotag_from_gpx: {}/{shown}: skipped: ", folder.display());
    stderr
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no skip line for {shown} in:\n{stderr}"))
}

/// What the page shows, read from the browser.
const READ_PAGE: &str = r#"(() => {
  const svg = document.getElementById('map');
  const m = svg.getScreenCTM();
  const centre = r => [r.left + r.width / 2, r.top + r.height / 2];
  const onScreen = (el, p) => {
    const q = new DOMPoint(p.x, p.y).matrixTransform(el.getScreenCTM());
    return [q.x, q.y];
  };
  return {
    ctm: [m.a, m.b, m.c, m.d, m.e, m.f],
    scale: Number(svg.dataset.scale), left: Number(svg.dataset.left), top: Number(svg.dataset.top),
    box: (r => [r.left, r.top, r.right, r.bottom])(svg.getBoundingClientRect()),
    markers: [...svg.querySelectorAll('g.photo')].map(g => ({
      title: g.querySelector('title').textContent,
      dot: centre(g.querySelector('circle').getBoundingClientRect()),
      tip: g.querySelector('line') ? centre(g.querySelector('line').getBoundingClientRect()) : null,
    })),
    tracks: [...svg.querySelectorAll('polyline.track')].map(p => [...p.points].map(pt => onScreen(p, pt))),
    gaps: svg.querySelectorAll('line.gap').length,
    bar: (b => [b.getBoundingClientRect().width, Number(b.dataset.metres)])(document.getElementById('scale-bar')),
    unplaced: [...document.querySelectorAll('#unplaced li')].map(li => li.textContent),
    names: [...document.querySelectorAll('.name')].map(e => e.textContent),
    counts: document.querySelector('.counts').textContent,
    notes: [...document.querySelectorAll('.note')].map(e => e.textContent),
    injected: typeof window.__injected,
    images: document.images.length,
    scripts: document.scripts.length,
    tilesOn: document.getElementById('tiles-on').checked,
    tiles: document.querySelectorAll('#tiles image').length,
  };
})()"#;

/// The checks every map of the trip passes: a clean load that asks for
/// nothing, every placed photo's marker (and direction) where its position
/// projects, the track's ends, and names shown as text.
fn check_map(mut page: Page, placed: &[Photo]) -> Value {
    let log = page.log().clone();
    assert_eq!(log.problems(), Vec::<String>::new(), "{log:?}");
    assert_eq!(log.requests_other_than(page.url()), Vec::<String>::new());
    let read = page.eval(READ_PAGE);

    // Nothing ran that the page did not bring: the name that tries to run
    // script is text, there is no <img>, and the only script is the page's.
    assert_eq!(read["injected"], "undefined");
    assert_eq!(read["images"], 0);
    assert_eq!(read["scripts"], 1);
    assert_eq!(read["tilesOn"], false);
    assert_eq!(read["tiles"], 0);

    let markers = read["markers"].as_array().unwrap();
    assert_eq!(markers.len(), placed.len(), "{markers:?}");
    let box_ = read["box"].as_array().unwrap();
    for p in placed {
        let t = p.at.unwrap();
        let (lat, lon, bearing) = expected_fix(t);
        let marker = markers
            .iter()
            .find(|m| m["title"].as_str().unwrap().lines().next() == Some(p.shown))
            .unwrap_or_else(|| panic!("no marker titled {:?}: {markers:?}", p.shown));
        let title = marker["title"].as_str().unwrap();
        let (h, mi, s) = clock(t);
        assert!(
            title.contains(&format!("2021-06-01 {h:02}:{mi:02}:{s:02} UTC")),
            "{title}"
        );
        assert!(title.contains(&format!("{lat:.6}, {lon:.6}")), "{title}");
        let dot = pair(&marker["dot"]);
        let expected = on_screen(&read, mercator(lat, lon));
        assert!(
            near(dot, expected, 1.5),
            "{}: drawn at {dot:?}, projects to {expected:?}",
            p.shown
        );
        assert!(
            dot.0 > box_[0].as_f64().unwrap() && dot.0 < box_[2].as_f64().unwrap(),
            "{dot:?} outside the map {box_:?}"
        );
        assert!(dot.1 > box_[1].as_f64().unwrap() && dot.1 < box_[3].as_f64().unwrap());
        // The direction line's middle is along the bearing (screen y
        // grows southwards).
        let tip = pair(&marker["tip"]);
        let drawn = (tip.0 - dot.0)
            .atan2(dot.1 - tip.1)
            .to_degrees()
            .rem_euclid(360.0);
        let off = (drawn - bearing).rem_euclid(360.0);
        assert!(
            off.min(360.0 - off) < 2.0,
            "{}: looks {drawn}°, expected {bearing}°",
            p.shown
        );
    }

    // Independently of the page's own numbers: the markers are the
    // Mercator positions under one scale for both axes and a shift.
    let world: Vec<(f64, f64)> = placed
        .iter()
        .map(|p| {
            let (lat, lon, _) = expected_fix(p.at.unwrap());
            mercator(lat, lon)
        })
        .collect();
    let drawn: Vec<(f64, f64)> = placed
        .iter()
        .map(|p| {
            let m = markers
                .iter()
                .find(|m| m["title"].as_str().unwrap().lines().next() == Some(p.shown))
                .unwrap();
            pair(&m["dot"])
        })
        .collect();
    let scale = assert_one_scale(&world, &drawn, 1.5);

    // The scale bar is as long as it says, at the common scale and the
    // latitude of the photos (Web Mercator: 2πR·cos(lat) metres per world).
    let lat = placed
        .iter()
        .map(|p| expected_fix(p.at.unwrap()).0)
        .sum::<f64>()
        / placed.len() as f64;
    let metres_per_px = 2.0 * std::f64::consts::PI * 6_378_137.0 * lat.to_radians().cos() / scale;
    let bar_px = read["bar"][0].as_f64().unwrap();
    let bar_m = read["bar"][1].as_f64().unwrap();
    assert!(
        (bar_px * metres_per_px / bar_m - 1.0).abs() < 0.02,
        "a bar of {bar_px} px says {bar_m} m; {metres_per_px} m a pixel"
    );

    // The track: two runs (the gap is dashed), from its first point to
    // its last.
    let tracks = read["tracks"].as_array().unwrap();
    assert_eq!(tracks.len(), 2, "{tracks:?}");
    assert_eq!(read["gaps"], 1);
    let points = track_points();
    let first = points.first().unwrap();
    let last = points.last().unwrap();
    let start = pair(&tracks[0][0]);
    let end = pair(tracks[1].as_array().unwrap().last().unwrap());
    assert!(near(
        start,
        on_screen(&read, mercator(first.1, first.2)),
        1.5
    ));
    assert!(near(end, on_screen(&read, mercator(last.1, last.2)), 1.5));
    read
}

fn names_shown_as_text(read: &Value, photos: &[Photo]) {
    let names: Vec<&str> = read["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for p in photos {
        assert!(
            names.contains(&p.shown),
            "{:?} not among {names:?}",
            p.shown
        );
    }
}

#[test]
fn the_map_shows_placed_and_skipped_photos_in_chromium() {
    if mapillary_testkit::chromium().is_none() {
        return;
    }
    let (dir, folder, gpx_path) = trip();
    let map = dir.path().join("maps/trip.html");
    let (code, stdout, stderr) = run_tool(
        BIN,
        args![folder, gpx_path, "--max-gap", "120", "--map", map],
        None,
    );
    assert_eq!(code, 1, "photos were skipped:\n{stderr}");
    // The page's line, then the summary, last as always.
    assert_eq!(
        stdout,
        format!(
            "map: {}\n8 photos tagged, 4 skipped, 0 failed\n",
            map.display()
        )
    );
    let (placed, skipped) = photos();
    let url = file_url(&map);
    let Some(page) = browser::open(&url) else {
        return;
    };
    let read = check_map(page, &placed);
    assert_eq!(
        read["counts"],
        "8 photos on the map, 4 not placed; a track of 62 points."
    );

    // The photos not placed, each with the reason the terminal gave.
    let mut listed: Vec<String> = read["unplaced"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let mut expected: Vec<String> = skipped
        .iter()
        .map(|p| format!("{}: {}", p.shown, printed_reason(&stderr, &folder, p.shown)))
        .collect();
    listed.sort();
    expected.sort();
    assert_eq!(listed, expected);
    let reason_of = |name: &str| {
        listed
            .iter()
            .find(|l| l.starts_with(&format!("{name}: ")))
            .unwrap()
            .clone()
    };
    assert!(reason_of("early&.jpg").contains("before the track starts"));
    assert!(reason_of("late<b>.jpg").contains("after the track ends"));
    assert!(reason_of("gap.jpg").contains("gap"));
    assert!(reason_of("no_time.jpg").contains("capture time"));
    names_shown_as_text(&read, &skipped);
}

#[test]
fn a_dry_run_map_shows_where_photos_would_land_and_changes_no_photo() {
    if mapillary_testkit::chromium().is_none() {
        return;
    }
    let (dir, folder, gpx_path) = trip();
    let before = snapshot(&folder);
    let map = dir.path().join("dry.html");
    let (code, stdout, stderr) = run_tool(
        BIN,
        args![
            folder,
            gpx_path,
            "--max-gap",
            "120",
            "--dry-run",
            "--map",
            map
        ],
        None,
    );
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(
        stdout,
        format!(
            "map: {}\n8 photos would be tagged, 4 skipped, 0 failed\n",
            map.display()
        )
    );
    assert_eq!(snapshot(&folder), before, "a dry run changed a photo");
    let (placed, _) = photos();
    let Some(page) = browser::open(&file_url(&map)) else {
        return;
    };
    let read = check_map(page, &placed);
    let notes = read["notes"].to_string();
    assert!(
        notes.contains("Dry run: where the photos would land; no photo was changed."),
        "{notes}"
    );
}

/// A tile as the test serves it: an SVG of 256 × 256 pixels.
fn tile() -> Response {
    Response {
        status: 200,
        content_type: "image/svg+xml".to_string(),
        body: b"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"256\" height=\"256\"><rect width=\"256\" height=\"256\" fill=\"#ddd\"/></svg>".to_vec(),
    }
}

#[test]
fn the_background_loads_only_when_asked_and_its_tiles_line_up() {
    if mapillary_testkit::chromium().is_none() {
        return;
    }
    let (dir, folder, gpx_path) = trip();
    let map = dir.path().join("tiles.html");
    let (code, _, stderr) = run_tool(
        BIN,
        args![folder, gpx_path, "--max-gap", "120", "--map", map],
        None,
    );
    assert_eq!(code, 1, "{stderr}");
    let url = file_url(&map);
    let Some(mut page) = browser::open_with(&url, |u| {
        u.starts_with("https://tile.openstreetmap.org/").then(tile)
    }) else {
        return;
    };
    assert_eq!(page.log().requests_other_than(&url), Vec::<String>::new());
    assert_eq!(
        page.eval("getComputedStyle(document.getElementById('tile-credit')).display"),
        "none"
    );
    page.eval("document.getElementById('tiles-on').click()");
    page.wait_for("document.querySelectorAll('#tiles image').length > 0");
    let read = page.eval(
        r#"(() => {
          const svg = document.getElementById('map');
          const m = svg.getScreenCTM();
          const credit = document.getElementById('tile-credit');
          return {
            ctm: [m.a, m.b, m.c, m.d, m.e, m.f],
            scale: Number(svg.dataset.scale), left: Number(svg.dataset.left), top: Number(svg.dataset.top),
            tiles: [...document.querySelectorAll('#tiles image')].map(i => ({
              href: i.getAttribute('href'),
              box: (r => [r.left, r.top, r.right, r.bottom])(i.getBoundingClientRect()),
            })),
            credit: credit.textContent,
            creditShown: getComputedStyle(credit).display !== 'none' && credit.getBoundingClientRect().width > 0,
            dot: (r => [r.left + r.width / 2, r.top + r.height / 2])(svg.querySelector('g.photo circle').getBoundingClientRect()),
            first: svg.querySelector('g.photo title').textContent.split('\n')[0],
          };
        })()"#,
    );
    let tiles = read["tiles"].as_array().unwrap();
    assert!((1..=64).contains(&tiles.len()), "{} tiles", tiles.len());
    let hrefs: Vec<String> = tiles
        .iter()
        .map(|t| t["href"].as_str().unwrap().to_string())
        .collect();
    // Every tile requested, nothing else, and none refused or failed.
    page.wait_until("every tile to load", |log| {
        log.loaded.len() + log.failures.len() + log.refused.len() > tiles.len()
    });
    let log = page.log().clone();
    assert_eq!(log.loaded.len(), tiles.len() + 1, "the page and its tiles");
    let mut requested = log.requests_other_than(&url);
    requested.sort();
    let mut wanted = hrefs.clone();
    wanted.sort();
    assert_eq!(requested, wanted);
    assert_eq!(log.problems(), Vec::<String>::new());
    assert!(read["creditShown"].as_bool().unwrap());
    assert_eq!(read["credit"], "© OpenStreetMap contributors");

    // Each tile is where the tile scheme puts it, and the photo's dot is
    // on the tile that holds its position.
    let scale = read["scale"].as_f64().unwrap();
    let mut zoom = None;
    for (t, href) in tiles.iter().zip(&hrefs) {
        let parts: Vec<u32> = href
            .strip_prefix("https://tile.openstreetmap.org/")
            .and_then(|r| r.strip_suffix(".png"))
            .unwrap_or_else(|| panic!("{href}"))
            .split('/')
            .map(|n| n.parse().unwrap())
            .collect();
        let (z, x, y) = (parts[0], parts[1], parts[2]);
        assert!(z <= 19);
        assert!(zoom.is_none() || zoom == Some(z), "one zoom for all tiles");
        zoom = Some(z);
        let n = f64::from(1u32 << z);
        let top_left = on_screen(&read, (f64::from(x) / n, f64::from(y) / n));
        let bottom_right = on_screen(&read, (f64::from(x + 1) / n, f64::from(y + 1) / n));
        let b = t["box"].as_array().unwrap();
        let drawn_tl = (b[0].as_f64().unwrap(), b[1].as_f64().unwrap());
        let drawn_br = (b[2].as_f64().unwrap(), b[3].as_f64().unwrap());
        assert!(
            near(drawn_tl, top_left, 1.0),
            "{href}: {drawn_tl:?} vs {top_left:?}"
        );
        assert!(
            near(drawn_br, bottom_right, 1.0),
            "{href}: {drawn_br:?} vs {bottom_right:?}"
        );
        // Drawn at about the tiles' own 256 pixels.
        let size = scale / n;
        assert!((181.0..363.0).contains(&size), "{size}");
    }
    let z = zoom.unwrap();
    let (placed, _) = photos();
    let first = placed
        .iter()
        .find(|p| Some(p.shown) == read["first"].as_str())
        .unwrap();
    let (lat, lon, _) = expected_fix(first.at.unwrap());
    let (x, y) = mercator(lat, lon);
    let n = f64::from(1u32 << z);
    let holder = format!(
        "https://tile.openstreetmap.org/{z}/{}/{}.png",
        (x * n).floor(),
        (y * n).floor()
    );
    let i = hrefs
        .iter()
        .position(|h| *h == holder)
        .unwrap_or_else(|| panic!("{holder} not among {hrefs:?}"));
    let b = tiles[i]["box"].as_array().unwrap();
    let dot = pair(&read["dot"]);
    assert!(dot.0 >= b[0].as_f64().unwrap() && dot.0 <= b[2].as_f64().unwrap());
    assert!(dot.1 >= b[1].as_f64().unwrap() && dot.1 <= b[3].as_f64().unwrap());

    // Off again: hidden, nothing more loaded.
    page.eval("document.getElementById('tiles-on').click()");
    assert_eq!(
        page.eval("document.getElementById('tiles').getAttribute('display')"),
        "none"
    );
    assert_eq!(page.log().requests_other_than(&url).len(), tiles.len());
}

#[test]
fn an_existing_page_is_replaced_and_other_files_are_refused() {
    let (dir, folder, gpx_path) = trip();
    let map = dir.path().join("trip.html");
    fs::write(&map, "an older map").unwrap();
    let (code, _, stderr) = run_tool(
        BIN,
        args![folder, gpx_path, "--max-gap", "120", "--map", map],
        None,
    );
    assert_eq!(code, 1, "{stderr}");
    let html = fs::read_to_string(&map).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        3,
        "photos/, track.gpx and trip.html only: no temporary file left"
    );

    // A slip that names a photo or the track: refused before anything is
    // done, the file untouched.
    let target = folder.join(OsStr::from_bytes(b"IMG_0001.jpg"));
    for victim in [target.clone(), gpx_path.clone(), dir.path().join("photos")] {
        let before = snapshot(&folder);
        let gpx_before = fs::read(&gpx_path).unwrap();
        let (code, stdout, stderr) = run_tool(BIN, args![folder, gpx_path, "--map", victim], None);
        assert_eq!(code, 2, "{stdout}{stderr}");
        let first = stderr.lines().next().unwrap();
        assert_eq!(
            first,
            format!(
                "geotag_from_gpx: --map: {}: the page's name must end in .html",
                victim.display()
            )
        );
        assert_eq!(stdout, "");
        assert_eq!(snapshot(&folder), before);
        assert_eq!(fs::read(&gpx_path).unwrap(), gpx_before);
    }
}
