//! The server's page (`GET /`) in headless Chromium: the received
//! sequences on the map, each image where its MAPLatitude/MAPLongitude
//! projects and looking its MAPCompassHeading, one colour per sequence,
//! joined in capture-time order; names a client chose shown as text; the
//! thumbnails and the video from the server itself and nothing from
//! anywhere else; and an empty server's page.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::io::Write;
use std::path::Path;

use mapillary_core::exif::{ExifEdits, RewriteOptions, rewrite_file, tags};
use mapillary_local_server::seed::DEMO_TOKEN;
use mapillary_local_server::video::sample_mp4;
use mapillary_local_server::{Config, LocalServer};
use mapillary_testkit::browser::geometry::{assert_one_scale, mercator, near, on_screen, pair};
use mapillary_testkit::browser::{self, Page, Value};
use serde_json::json;

/// An image the test sends: the name its client gives it (MAPFilename),
/// how the page shows that name, when it was taken (seconds after
/// 2021-06-01 10:00:00 UTC), where (degrees, latitude first) and which way
/// (degrees from true north).
struct Shot {
    name: &'static str,
    shown: &'static str,
    at: u32,
    lat: f64,
    lon: f64,
    heading: f64,
}

const fn shot(
    name: &'static str,
    shown: &'static str,
    at: u32,
    lat: f64,
    lon: f64,
    heading: f64,
) -> Shot {
    Shot {
        name,
        shown,
        at,
        lat,
        lon,
        heading,
    }
}

/// The first sequence, sent as an image bundle, in an order that is not
/// the capture order (the zigzag makes the two orders different lines).
const BUNDLE: [Shot; 3] = [
    shot(
        "<script>window.__injected=1</script>.jpg",
        "<script>window.__injected=1</script>.jpg",
        10,
        52.5002,
        13.4050,
        120.0,
    ),
    shot("a&b.jpg", "a&b.jpg", 0, 52.5000, 13.4000, 30.0),
    shot(
        "esc\u{1b}[2J.jpg",
        "esc\\x1b[2J.jpg",
        5,
        52.5010,
        13.4030,
        75.0,
    ),
];

/// The second, sent as a zip, also out of capture order.
const ZIP: [Shot; 3] = [
    shot(
        "<img src=x onerror=window.__injected=2>.jpg",
        "<img src=x onerror=window.__injected=2>.jpg",
        306,
        52.5030,
        13.4010,
        200.0,
    ),
    shot("quote\"'.jpg", "quote\"'.jpg", 300, 52.5040, 13.4000, 250.0),
    shot("B&amp;2.jpg", "B&amp;2.jpg", 303, 52.5035, 13.4040, 330.5),
];

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent()
}

fn send(s: &LocalServer, key: &str, bytes: &[u8]) {
    let r = agent()
        .post(format!("{}/{key}", s.upload_url()))
        .header("Authorization", format!("OAuth {DEMO_TOKEN}"))
        .header("Offset", "0")
        .header("X-Entity-Name", key)
        .send(bytes)
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "uploading {key}");
}

/// Finishes an upload; returns the sequence's cluster id.
fn finish(s: &LocalServer, key: &str, file_type: &str, organization: Option<&str>) -> String {
    let mut body = json!({"file_handle": format!("h.{key}"), "file_type": file_type});
    if let Some(o) = organization {
        body["organization_id"] = json!(o);
    }
    let mut r = agent()
        .post(format!("{}/finish_upload", s.url()))
        .header("Authorization", format!("OAuth {DEMO_TOKEN}"))
        .content_type("application/json")
        .send(body.to_string())
        .unwrap();
    let status = r.status().as_u16();
    let text = r.body_mut().read_to_string().unwrap();
    assert_eq!(status, 200, "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["cluster_id"].as_str().unwrap().to_string()
}

/// A JPEG whose ImageDescription describes `shot`.
fn jpeg(dir: &Path, i: usize, shot: &Shot) -> Vec<u8> {
    let path = dir.join(format!("{i}.jpg"));
    std::fs::write(
        &path,
        mapillary_local_server::thumbnail::thumbnail(&i.to_string(), "256").unwrap(),
    )
    .unwrap();
    let (m, s) = (shot.at / 60, shot.at % 60);
    let description = json!({
        "MAPLatitude": shot.lat,
        "MAPLongitude": shot.lon,
        "MAPCaptureTime": format!("2021_06_01_10_{m:02}_{s:02}_000"),
        "MAPCompassHeading": {"TrueHeading": shot.heading, "MagneticHeading": shot.heading},
        "MAPFilename": shot.name,
    });
    let mut edits = ExifEdits::new();
    edits.set_text(tags::IMAGE_DESCRIPTION, &description.to_string());
    rewrite_file(&path, &edits, RewriteOptions::default()).unwrap();
    std::fs::read(&path).unwrap()
}

/// The server with the two sequences (and a video); returns their
/// cluster ids, the bundle's first.
fn server_with_sequences(data: &Path, photos: &Path) -> (LocalServer, [String; 3]) {
    let s = LocalServer::start(Config::new(data)).unwrap();
    let mut handles = Vec::new();
    for (i, shot) in BUNDLE.iter().enumerate() {
        let key = format!("bundle{i}.jpg");
        send(&s, &key, &jpeg(photos, i, shot));
        handles.push(format!("h.{key}"));
    }
    let manifest = json!({"image_handles": handles, "upload_type": "images", "version": "1"});
    send(&s, "bundle.json", manifest.to_string().as_bytes());
    let bundle = finish(&s, "bundle.json", "mly_bundle_manifest", Some("200001"));

    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for (i, shot) in ZIP.iter().enumerate() {
        zip.start_file(format!("{i}.jpg"), options).unwrap();
        zip.write_all(&jpeg(photos, 10 + i, shot)).unwrap();
    }
    zip.set_comment(r#"{"sequence_md5sum":"test"}"#).unwrap();
    send(&s, "sequence.zip", &zip.finish().unwrap().into_inner());
    let zipped = finish(&s, "sequence.zip", "zip", None);

    let video = sample_mp4(b"camm", b"camm", &[7u8; 3000]);
    send(&s, "video.mp4", &video);
    let filmed = finish(&s, "video.mp4", "mly_camm_video", None);
    (s, [bundle, zipped, filmed])
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
    markers: [...svg.querySelectorAll('g.photo')].map(g => ({
      title: g.querySelector('title').textContent,
      dot: centre(g.querySelector('circle').getBoundingClientRect()),
      tip: g.querySelector('line') ? centre(g.querySelector('line').getBoundingClientRect()) : null,
      fill: getComputedStyle(g.querySelector('circle')).fill,
    })),
    lines: [...svg.querySelectorAll('polyline.sequence')].map(p => ({
      points: [...p.points].map(pt => onScreen(p, pt)),
      stroke: getComputedStyle(p).stroke,
    })),
    tracks: svg.querySelectorAll('polyline.track').length,
    legend: [...document.querySelectorAll('ul.sequences li')].map(li => li.textContent),
    headings: [...document.querySelectorAll('h2')].map(h => h.textContent),
    names: [...document.querySelectorAll('.name')].map(e => e.textContent),
    counts: document.querySelector('.counts').textContent,
    notes: [...document.querySelectorAll('.note')].map(e => e.textContent),
    links: [...document.querySelectorAll('a')].map(a => new URL(a.getAttribute('href'), document.baseURI).href),
    images: [...document.images].map(i => ({src: i.src, alt: i.alt})),
    videos: [...document.querySelectorAll('video')].map(v => v.src),
    captions: [...document.querySelectorAll('.pictures figcaption')].map(f => f.textContent),
    injected: typeof window.__injected,
    scripts: document.scripts.length,
    unplaced: document.getElementById('unplaced') !== null,
    text: document.body.innerText,
  };
})()"#;

/// The marker whose title starts with `shown`.
fn marker<'a>(read: &'a Value, shown: &str) -> &'a Value {
    read["markers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["title"].as_str().unwrap().lines().next() == Some(shown))
        .unwrap_or_else(|| panic!("no marker titled {shown:?}: {}", read["markers"]))
}

/// The page loaded cleanly and asked for nothing but the server's own
/// files. (`data:` URLs carry what they show and go nowhere: the browser's
/// own video player draws its buttons with them; the page's policy would
/// not let the page itself use one.)
fn loaded_cleanly(page: &mut Page, server: &str) {
    let log = page.log().clone();
    assert_eq!(log.problems(), Vec::<String>::new(), "{log:?}");
    let elsewhere: Vec<&str> = log
        .requests
        .iter()
        .map(|r| r.url.as_str())
        .filter(|u| !u.starts_with(&format!("{server}/")) && !u.starts_with("data:"))
        .collect();
    assert_eq!(elsewhere, Vec::<&str>::new());
}

#[test]
fn received_sequences_are_drawn_where_their_images_were_taken_in_chromium() {
    if mapillary_testkit::chromium().is_none() {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let photos = tempfile::tempdir().unwrap();
    let (s, [bundle, zipped, filmed]) = server_with_sequences(data.path(), photos.path());
    let url = format!("{}/", s.url());
    let Some(mut page) = browser::open(&url) else {
        return;
    };
    loaded_cleanly(&mut page, &s.url());
    let read = page.eval(READ_PAGE);

    // Nothing a client sent ran: the names that try to are text, and the
    // only script is the page's.
    assert_eq!(read["injected"], "undefined");
    assert_eq!(read["scripts"], 1);
    let names: Vec<&str> = read["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for shot in BUNDLE.iter().chain(&ZIP) {
        assert!(
            names.contains(&shot.shown),
            "{:?} not in {names:?}",
            shot.shown
        );
    }

    // Every image where its position projects, looking its way, and
    // titled with its name, capture time (UTC) and position.
    let markers = read["markers"].as_array().unwrap();
    assert_eq!(markers.len(), 6, "{markers:?}");
    for shot in BUNDLE.iter().chain(&ZIP) {
        let m = marker(&read, shot.shown);
        let title = m["title"].as_str().unwrap();
        let (mi, se) = (shot.at / 60, shot.at % 60);
        assert!(
            title.contains(&format!("\n2021-06-01 10:{mi:02}:{se:02} UTC\n")),
            "{title}"
        );
        assert!(
            title.contains(&format!("\n{:.6}, {:.6}\n", shot.lat, shot.lon)),
            "{title}"
        );
        let dot = pair(&m["dot"]);
        let expected = on_screen(&read, mercator(shot.lat, shot.lon));
        assert!(
            near(dot, expected, 2.0),
            "{}: drawn at {dot:?}, projects to {expected:?}",
            shot.shown
        );
        let tip = pair(&m["tip"]);
        let drawn = (tip.0 - dot.0)
            .atan2(dot.1 - tip.1)
            .to_degrees()
            .rem_euclid(360.0);
        let off = (drawn - shot.heading).rem_euclid(360.0);
        assert!(
            off.min(360.0 - off) < 2.0,
            "{}: looks {drawn}°, sent {}°",
            shot.shown,
            shot.heading
        );
    }
    // Independently of the page's own scale: the markers are the Mercator
    // positions under one scale for both axes and a shift.
    let shots: Vec<&Shot> = BUNDLE.iter().chain(&ZIP).collect();
    let world: Vec<(f64, f64)> = shots.iter().map(|s| mercator(s.lat, s.lon)).collect();
    let drawn: Vec<(f64, f64)> = shots
        .iter()
        .map(|s| pair(&marker(&read, s.shown)["dot"]))
        .collect();
    let _ = assert_one_scale(&world, &drawn, 2.0);

    // One line per sequence, through its images in capture order, in the
    // colour of its markers; the two colours differ.
    let lines = read["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(read["tracks"], 0);
    let mut colours = Vec::new();
    for sequence in [&BUNDLE, &ZIP] {
        let mut by_time: Vec<&Shot> = sequence.iter().collect();
        by_time.sort_by_key(|s| s.at);
        let expected: Vec<(f64, f64)> = by_time
            .iter()
            .map(|s| on_screen(&read, mercator(s.lat, s.lon)))
            .collect();
        let line = lines
            .iter()
            .find(|l| near(pair(&l["points"][0]), expected[0], 2.0))
            .unwrap_or_else(|| panic!("no line starts at {:?}: {lines:?}", expected[0]));
        let points: Vec<(f64, f64)> = line["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(pair)
            .collect();
        assert_eq!(points.len(), expected.len());
        for (p, e) in points.iter().zip(&expected) {
            assert!(near(*p, *e, 2.0), "{points:?} is not {expected:?}");
        }
        let stroke = line["stroke"].as_str().unwrap().to_string();
        for shot in sequence {
            assert_eq!(marker(&read, shot.shown)["fill"], stroke.as_str());
        }
        colours.push(stroke);
    }
    assert_ne!(colours[0], colours[1]);
    assert_eq!(
        read["legend"],
        json!([
            format!("sequence {bundle}: 3 photos"),
            format!("sequence {zipped}: 3 photos")
        ])
    );
    assert_eq!(read["counts"], "6 photos on the map in 2 sequences.");
    assert_eq!(
        read["notes"],
        json!(["3 sequences received: 6 photos, 1 video."])
    );
    assert_eq!(read["unplaced"], false);

    // What the page showed before the map is still there: each sequence
    // (the newest first) with its user and organization, its thumbnails
    // and its video, and the JSON links.
    assert_eq!(
        read["headings"],
        json!([
            "Received",
            format!("Sequence {filmed}"),
            format!("Sequence {zipped}"),
            format!("Sequence {bundle}")
        ])
    );
    let text = read["text"].as_str().unwrap();
    assert!(
        text.contains("3 photos, mly_bundle_manifest, user 100001, organization 200001, received "),
        "{text}"
    );
    assert!(
        text.contains("3 photos, zip, user 100001, received "),
        "{text}"
    );
    assert!(text.contains("a video of "), "{text}");
    let links: Vec<&str> = read["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for path in ["/local/sequences", "/local/stats"] {
        assert!(
            links.contains(&format!("{}{path}", s.url()).as_str()),
            "{links:?}"
        );
    }
    let video = format!("{}/local/sequences/{filmed}/video.mp4", s.url());
    assert_eq!(read["videos"], json!([video]));
    let images = read["images"].as_array().unwrap();
    assert_eq!(images.len(), 6);
    for (cluster, sequence) in [(&bundle, &BUNDLE), (&zipped, &ZIP)] {
        for (i, shot) in sequence.iter().enumerate() {
            let src = format!("{}/local/sequences/{cluster}/{i}.jpg", s.url());
            assert!(
                images
                    .iter()
                    .any(|im| im["src"] == src.as_str() && im["alt"] == shot.shown),
                "no thumbnail {src} for {:?}: {images:?}",
                shot.shown
            );
        }
    }
    let captions = read["captions"].as_array().unwrap();
    assert!(
        captions.contains(&json!("a&b.jpg 2021-06-01 10:00:00 UTC")),
        "{captions:?}"
    );

    // The thumbnails load from the server (the policy allows its images),
    // and still nothing else is asked for.
    page.eval("window.scrollTo(0, document.body.scrollHeight)");
    page.wait_for("[...document.images].every(i => i.complete)");
    let sizes = page.eval("[...document.images].map(i => i.naturalWidth)");
    assert!(
        sizes
            .as_array()
            .unwrap()
            .iter()
            .all(|w| w.as_u64() > Some(0)),
        "{sizes}"
    );
    loaded_cleanly(&mut page, &s.url());
    drop(page);
    s.stop();
}

#[test]
fn an_empty_server_s_page_says_so_and_loads_cleanly() {
    if mapillary_testkit::chromium().is_none() {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let s = LocalServer::start(Config::new(data.path())).unwrap();
    // The icon a browser asks for by itself: none, and not an error.
    let r = agent()
        .get(format!("{}/favicon.ico", s.url()))
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    for path in ["/", "/local"] {
        let url = format!("{}{path}", s.url());
        let Some(mut page) = browser::open(&url) else {
            return;
        };
        loaded_cleanly(&mut page, &s.url());
        let read = page.eval(READ_PAGE);
        assert_eq!(read["markers"], json!([]));
        assert_eq!(read["lines"], json!([]));
        assert_eq!(read["images"], json!([]));
        assert_eq!(read["counts"], "0 photos on the map.");
        let text = read["text"].as_str().unwrap();
        assert!(text.contains("No sequence received yet"), "{text}");
        assert!(text.contains("nothing to draw"), "{text}");
        assert_eq!(read["headings"], json!(["Received"]));
    }
    s.stop();
}
