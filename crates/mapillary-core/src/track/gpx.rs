//! The GPX reader: GPX 1.0 and 1.1 documents, read with the `gpx` crate.
//!
//! Times in GPX are UTC. Every track segment, every route and the
//! waypoints of a document are read, as long as their points carry times.

use std::io::BufRead;

use jiff::Timestamp;

use super::{Format, FormatError, ReadPoint, Source, TrackPoint};
use crate::geo::LatLon;

/// GPX 1.0 and 1.1.
#[derive(Debug, Clone, Copy, Default)]
pub struct Gpx;

fn timestamp(t: ::gpx::Time) -> Option<Timestamp> {
    let nanos = time::OffsetDateTime::from(t).unix_timestamp_nanos();
    Timestamp::from_nanosecond(nanos).ok()
}

impl Format for Gpx {
    fn name(&self) -> &'static str {
        "GPX"
    }

    fn extensions(&self) -> &'static [&'static str] {
        &["gpx"]
    }

    fn read(&self, input: &mut dyn BufRead) -> Result<Vec<ReadPoint>, FormatError> {
        let gpx = ::gpx::read(input).map_err(|e| FormatError {
            offset: None,
            reason: format!("not a valid GPX file ({e})"),
        })?;
        let mut points = Vec::new();
        let mut add = |w: &::gpx::Waypoint, source: Source| {
            let Some(time) = w.time.and_then(timestamp) else {
                return;
            };
            let p = w.point();
            points.push(ReadPoint {
                point: TrackPoint {
                    time,
                    position: LatLon::new(p.y(), p.x()),
                    elevation: w.elevation,
                },
                source,
            });
        };
        for track in &gpx.tracks {
            for segment in &track.segments {
                segment.points.iter().for_each(|w| add(w, Source::Track));
            }
        }
        for route in &gpx.routes {
            route.points.iter().for_each(|w| add(w, Source::Route));
        }
        gpx.waypoints.iter().for_each(|w| add(w, Source::Waypoint));
        Ok(points)
    }
}
