//! What the gpx crate (0.10, the GPX reader of the tools before
//! mapillary_core::track::gpx) refuses or misreads among valid GPX 1.0 and
//! 1.1 documents, the evidence for docs/tracks.md, and that the reader that
//! replaced it reads them, and reads the same points as it did where it
//! read them. Each case is valid against the GPX schema of its version (the
//! elements are those of the schemas' element lists).

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use mapillary_core::track::{Track, TrackPoint};

/// A GPX 1.1 document with one track point, `inside` in it.
fn trkpt_1_1(inside: &str) -> String {
    format!(
        r#"<?xml version="1.0"?>
<gpx version="1.1" creator="t" xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>
<trkpt lat="52.5" lon="13.4"><ele>34</ele><time>2021-06-01T10:00:00Z</time>{inside}</trkpt>
</trkseg></trk></gpx>"#
    )
}

/// A GPX 1.0 document with one track point, `inside` in it.
fn trkpt_1_0(inside: &str) -> String {
    format!(
        r#"<?xml version="1.0"?>
<gpx version="1.0" creator="t" xmlns="http://www.topografix.com/GPX/1/0" xmlns:x="urn:x"><trk><trkseg>
<trkpt lat="52.5" lon="13.4"><ele>34</ele><time>2021-06-01T10:00:00Z</time>{inside}</trkpt>
</trkseg></trk></gpx>"#
    )
}

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../mapillary-core/src/track/fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Valid documents the gpx crate refuses, with (part of) its message.
fn refused() -> Vec<(&'static str, String, &'static str)> {
    vec![
        (
            "every GPX 1.1 element",
            fixture("every_element_1_1.gpx"),
            "invalid child element `magvar` in `waypoint`",
        ),
        (
            "every GPX 1.0 element",
            fixture("every_element_1_0.gpx"),
            "invalid child element `magvar` in `waypoint`",
        ),
        (
            "1.1 <magvar> in a trkpt",
            trkpt_1_1("<magvar>4.2</magvar>"),
            "invalid child element `magvar` in `waypoint`",
        ),
        (
            "1.1 <magvar> in a wpt",
            r#"<gpx version="1.1" creator="t" xmlns="http://www.topografix.com/GPX/1/1"><wpt lat="1" lon="2"><time>2021-06-01T10:00:00Z</time><magvar>359.9</magvar></wpt></gpx>"#.to_string(),
            "invalid child element `magvar` in `waypoint`",
        ),
        (
            "1.1 <extensions> in a trkseg",
            r#"<gpx version="1.1" creator="t" xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg><trkpt lat="1" lon="2"><time>2021-06-01T10:00:00Z</time></trkpt><extensions><x:q xmlns:x="urn:x"/></extensions></trkseg></trk></gpx>"#.to_string(),
            "invalid child element `extensions` in `tracksegment`",
        ),
        (
            "1.0 <course> in a trkpt",
            trkpt_1_0("<course>87.5</course>"),
            "invalid child element `course` in `waypoint`",
        ),
        (
            "1.0 <url> and <urlname> in a trkpt",
            trkpt_1_0("<url>https://example.org</url><urlname>u</urlname>"),
            "invalid child element `url` in `waypoint`",
        ),
        (
            "1.0 <url> in a trk",
            r#"<gpx version="1.0" creator="t" xmlns="http://www.topografix.com/GPX/1/0"><trk><name>n</name><url>https://example.org</url><trkseg><trkpt lat="1" lon="2"><time>2021-06-01T10:00:00Z</time></trkpt></trkseg></trk></gpx>"#.to_string(),
            "invalid child element `url` in `track`",
        ),
        (
            "1.0 foreign element in a trkpt",
            trkpt_1_0("<x:heartrate>98</x:heartrate>"),
            "invalid child element `heartrate` in `waypoint`",
        ),
        (
            "1.0 foreign element in the gpx",
            r#"<gpx version="1.0" creator="t" xmlns="http://www.topografix.com/GPX/1/0"><trk><trkseg><trkpt lat="1" lon="2"><time>2021-06-01T10:00:00Z</time></trkpt></trkseg></trk><x:q xmlns:x="urn:x"/></gpx>"#.to_string(),
            "invalid child element `q` in `gpx`",
        ),
        (
            "whitespace around a <time> (xsd:dateTime collapses it)",
            r#"<gpx version="1.1" creator="t" xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg><trkpt lat="1" lon="2"><time>
  2021-06-01T10:00:00Z
</time></trkpt></trkseg></trk></gpx>"#.to_string(),
            "error trying to parse",
        ),
    ]
}

#[test]
fn the_gpx_crate_refuses_valid_documents_and_track_gpx_reads_them() {
    for (what, document, message) in refused() {
        match gpx::read(document.as_bytes()) {
            Ok(_) => panic!("{what}: the gpx crate now reads it; update docs/tracks.md"),
            Err(e) => assert!(
                e.to_string().contains(message),
                "{what}: the gpx crate says {e}"
            ),
        }
        let track = Track::read(document.as_bytes(), Path::new("valid.gpx"))
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(!track.points().is_empty(), "{what}");
        assert!(
            track.findings().is_empty(),
            "{what}: {:?}",
            track.findings()
        );
    }
}

/// The timed points the gpx crate reads from a document, as the tools
/// used them before: every track segment, route and waypoint, sorted by
/// time, exact duplicates dropped.
fn gpx_crate_points(document: &[u8]) -> Vec<TrackPoint> {
    let read = gpx::read(document).unwrap();
    let mut points = Vec::new();
    let all = read
        .tracks
        .iter()
        .flat_map(|t| &t.segments)
        .flat_map(|s| &s.points)
        .chain(read.routes.iter().flat_map(|r| &r.points))
        .chain(&read.waypoints);
    for w in all {
        let Some(time) = w.time else { continue };
        let p = w.point();
        points.push(TrackPoint {
            // (RFC 3339 in UTC, to the nanosecond.)
            time: time.format().unwrap().parse().unwrap(),
            position: mapillary_core::geo::LatLon::new(p.y(), p.x()),
            elevation: w.elevation,
        });
    }
    Track::from_points(points).points().to_vec()
}

#[test]
fn the_same_points_as_the_gpx_crate_on_the_sample_trip_and_the_corpus() {
    let mut files = vec![mapillary_testkit::testdata().join("trip.gpx")];
    if let Some(corpus) = mapillary_testkit::corpus("gpx") {
        files.extend(mapillary_testkit::files_with_extension(&corpus, &["gpx"]));
    }
    for file in files {
        let before = gpx_crate_points(&std::fs::read(&file).unwrap());
        let track = Track::load(file.to_str().unwrap()).unwrap();
        assert!(before.len() > 10, "{}", file.display());
        assert_eq!(track.points(), before, "{}", file.display());
        assert!(track.findings().is_empty(), "{:?}", track.findings());
    }
}

#[test]
fn the_gpx_crate_misreads_foreign_elements_as_gpx_ones() {
    // GPX 1.0 allows private elements of other namespaces at the end of a
    // trkpt: the gpx crate takes <x:time> for the point's <time>...
    let doc = trkpt_1_0("<x:time>1999-12-31T23:59:59Z</x:time>");
    let read = gpx::read(doc.as_bytes()).unwrap();
    let point = &read.tracks[0].segments[0].points[0];
    let time = point.time.unwrap().format().unwrap();
    assert_eq!(time, "1999-12-31T23:59:59.000000000Z");
    let track = Track::read(doc.as_bytes(), Path::new("t.gpx")).unwrap();
    assert_eq!(track.points()[0].time.to_string(), "2021-06-01T10:00:00Z");
    // ... and a private <x:trkpt> (here inside a rte, where 1.0 allows it)
    // for a route point.
    let doc = r#"<gpx version="1.0" creator="t" xmlns="http://www.topografix.com/GPX/1/0" xmlns:x="urn:x"><rte><x:rtept lat="10" lon="10"><x:time>2021-06-01T10:00:35Z</x:time></x:rtept><rtept lat="52.5" lon="13.4"><time>2021-06-01T10:00:40Z</time></rtept></rte></gpx>"#;
    let read = gpx::read(doc.as_bytes()).unwrap();
    assert_eq!(read.routes[0].points.len(), 2, "read as two route points");
    let track = Track::read(doc.as_bytes(), Path::new("t.gpx")).unwrap();
    assert_eq!(track.points().len(), 1);
}

#[test]
fn what_the_gpx_crate_reads() {
    // The other elements of a point, 1.1 extensions in a point, metadata:
    // read, so the cases above are the precise list.
    for inside in [
        "<geoidheight>39.7</geoidheight><name>n</name><cmt>c</cmt><desc>d</desc><src>s</src>\
         <link href=\"https://example.org\"><text>t</text><type>text/html</type></link><sym>s</sym>\
         <type>t</type><fix>3d</fix><sat>8</sat><hdop>1.1</hdop><vdop>1</vdop><pdop>1</pdop>\
         <ageofdgpsdata>2</ageofdgpsdata><dgpsid>1023</dgpsid>",
        "<extensions><x:q xmlns:x=\"urn:x\"><x:r>1</x:r></x:q></extensions>",
    ] {
        let doc = trkpt_1_1(inside);
        assert!(gpx::read(doc.as_bytes()).is_ok(), "{inside}");
    }
    // GPX 1.0's <speed> alone (its <course> is refused, above).
    assert!(gpx::read(trkpt_1_0("<speed>1.4</speed>").as_bytes()).is_ok());
}
