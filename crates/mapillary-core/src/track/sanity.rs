//! What is checked on the points of every file, whatever its format,
//! before they become part of a track.

use super::{ReadPoint, TrackPoint};

/// The points that can be used: positions in range (latitude −90 to 90,
/// longitude −180 to 180), elevations kept when they are finite numbers.
pub(crate) fn check(points: Vec<ReadPoint>) -> Vec<TrackPoint> {
    points
        .into_iter()
        .map(|r| r.point)
        .filter(|p| p.position.lat.abs() <= 90.0 && p.position.lon.abs() <= 180.0)
        .map(|p| TrackPoint {
            elevation: p.elevation.filter(|e| e.is_finite()),
            ..p
        })
        .collect()
}
