//! The GPX reader on the shared corpus's tracks (a test of
//! mapillary-core that needs the corpus, so it lives with the corpus
//! helpers).

#![allow(clippy::unwrap_used)] // test code

use mapillary_core::geo::distance;
use mapillary_core::track::Track;
use mapillary_testkit::corpus;

#[test]
fn the_shared_san_francisco_track() {
    let Some(gpx) = corpus("gpx") else { return };
    let path = gpx.join("sf_30km_h.gpx");
    let track = Track::load(path.to_str().unwrap()).unwrap();
    let points = track.points();
    assert!(points.len() > 10);
    assert!(points.windows(2).all(|w| w[0].time <= w[1].time));
    // 30 km/h between consecutive points (allowing for rounding).
    let mut speeds: Vec<f64> = points
        .windows(2)
        .filter(|w| w[1].time > w[0].time)
        .map(|w| {
            distance(w[0].position, w[1].position)
                / w[1].time.duration_since(w[0].time).as_secs_f64()
                * 3.6
        })
        .collect();
    speeds.sort_by(f64::total_cmp);
    let median = speeds[speeds.len() / 2];
    assert!((25.0..35.0).contains(&median), "median speed {median} km/h");
}
