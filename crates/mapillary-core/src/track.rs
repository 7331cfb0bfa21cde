//! GPS tracks: GPX files read into one time-sorted list of points, and the
//! position at any instant.
//!
//! Times in GPX are UTC. Every track segment, every route and the
//! waypoints of each file are read, as long as their points carry times;
//! points from several files and segments are merged in time order.

use std::fmt;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use jiff::{SignedDuration, Timestamp};

use crate::geo::{LatLon, bearing, distance, interpolate};

/// One timed fix.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackPoint {
    /// When (UTC).
    pub time: Timestamp,
    /// Where.
    pub position: LatLon,
    /// Elevation in metres, when the logger recorded it.
    pub elevation: Option<f64>,
}

/// Why a track could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackError {
    /// A file could not be read or parsed.
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A file has no point with a time.
    NoTimes {
        /// The file.
        path: PathBuf,
    },
    /// The folder holds no .gpx file, or the pattern matches nothing.
    NothingFound {
        /// What was given.
        spec: String,
    },
}

impl fmt::Display for TrackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrackError::Unreadable { path, reason } => write!(f, "{}: {reason}", path.display()),
            TrackError::NoTimes { path } => write!(
                f,
                "{}: no track point has a time, so photos cannot be placed on it",
                path.display()
            ),
            TrackError::NothingFound { spec } => write!(f, "{spec}: no GPX file found"),
        }
    }
}

impl std::error::Error for TrackError {}

/// Why an instant has no position on the track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Miss {
    /// Before the first point.
    BeforeStart {
        /// The track's first time.
        start: Timestamp,
        /// How long before.
        by: SignedDuration,
    },
    /// After the last point.
    AfterEnd {
        /// The track's last time.
        end: Timestamp,
        /// How long after.
        by: SignedDuration,
    },
    /// Between two points further apart than the largest gap allowed.
    InGap {
        /// The point before.
        from: Timestamp,
        /// The point after.
        to: Timestamp,
    },
}

fn seconds(d: SignedDuration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

impl fmt::Display for Miss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Miss::BeforeStart { start, by } => {
                write!(f, "{} before the track starts ({start})", seconds(*by))
            }
            Miss::AfterEnd { end, by } => {
                write!(f, "{} after the track ends ({end})", seconds(*by))
            }
            Miss::InGap { from, to } => write!(
                f,
                "in a {} gap of the track ({from} to {to}); see --max-gap",
                seconds(to.duration_since(*from))
            ),
        }
    }
}

/// The position at an instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fix {
    /// Where.
    pub position: LatLon,
    /// Elevation in metres, when known.
    pub elevation: Option<f64>,
    /// The direction of travel in degrees from true north, when the track
    /// moves at all.
    pub bearing: Option<f64>,
}

/// A track: points sorted by time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Track {
    points: Vec<TrackPoint>,
    files: Vec<PathBuf>,
}

fn timestamp(t: gpx::Time) -> Option<Timestamp> {
    let nanos = time::OffsetDateTime::from(t).unix_timestamp_nanos();
    Timestamp::from_nanosecond(nanos).ok()
}

fn timed_points(path: &Path) -> Result<Vec<TrackPoint>, TrackError> {
    let unreadable = |reason: String| TrackError::Unreadable {
        path: path.to_path_buf(),
        reason,
    };
    let file = File::open(path).map_err(|e| unreadable(crate::io_reason(&e)))?;
    read_points(BufReader::new(file), path)
}

/// The timed points of a GPX document read from `reader`; `path` names it
/// in errors.
fn read_points(reader: impl std::io::Read, path: &Path) -> Result<Vec<TrackPoint>, TrackError> {
    let unreadable = |reason: String| TrackError::Unreadable {
        path: path.to_path_buf(),
        reason,
    };
    let gpx = gpx::read(reader).map_err(|e| unreadable(format!("not a valid GPX file ({e})")))?;
    let mut waypoints: Vec<&gpx::Waypoint> = Vec::new();
    for track in &gpx.tracks {
        for segment in &track.segments {
            waypoints.extend(&segment.points);
        }
    }
    for route in &gpx.routes {
        waypoints.extend(&route.points);
    }
    waypoints.extend(&gpx.waypoints);
    let points: Vec<TrackPoint> = waypoints
        .into_iter()
        .filter_map(|w| {
            let time = timestamp(w.time?)?;
            let p = w.point();
            let position = LatLon::new(p.y(), p.x());
            let valid = position.lat.abs() <= 90.0 && position.lon.abs() <= 180.0;
            valid.then_some(TrackPoint {
                time,
                position,
                elevation: w.elevation.filter(|e| e.is_finite()),
            })
        })
        .collect();
    if points.is_empty() {
        return Err(TrackError::NoTimes {
            path: path.to_path_buf(),
        });
    }
    Ok(points)
}

fn is_gpx(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("gpx"))
}

/// The files a `gpx_file` argument names: a file, a folder's .gpx files
/// (not its subfolders), or a glob pattern such as `logs/*.gpx`.
pub fn track_files(spec: &str) -> Result<Vec<PathBuf>, TrackError> {
    let path = Path::new(spec);
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = if path.is_dir() {
        std::fs::read_dir(path)
            .map_err(|e| TrackError::Unreadable {
                path: path.to_path_buf(),
                reason: crate::io_reason(&e),
            })?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file() && is_gpx(p))
            .collect()
    } else if spec.contains(['*', '?', '[']) {
        glob::glob(spec)
            .map_err(|e| TrackError::Unreadable {
                path: path.to_path_buf(),
                reason: format!("not a valid pattern ({e})"),
            })?
            .filter_map(Result::ok)
            .filter(|p| p.is_file())
            .collect()
    } else {
        return Err(TrackError::Unreadable {
            path: path.to_path_buf(),
            reason: "no such file or folder".to_string(),
        });
    };
    if files.is_empty() {
        return Err(TrackError::NothingFound {
            spec: spec.to_string(),
        });
    }
    files.sort();
    Ok(files)
}

impl Track {
    /// Loads every file a `gpx_file` argument names (see [`track_files`]).
    pub fn load(spec: &str) -> Result<Track, TrackError> {
        let files = track_files(spec)?;
        let mut points = Vec::new();
        for f in &files {
            points.extend(timed_points(f)?);
        }
        let mut track = Track::from_points(points);
        track.files = files;
        Ok(track)
    }

    /// Reads one GPX document (`name` is how errors name it).
    pub fn read(reader: impl std::io::Read, name: &Path) -> Result<Track, TrackError> {
        Ok(Track {
            files: vec![name.to_path_buf()],
            ..Track::from_points(read_points(reader, name)?)
        })
    }

    /// A track of these points (sorted here; exact duplicates dropped).
    pub fn from_points(mut points: Vec<TrackPoint>) -> Track {
        points.sort_by_key(|p| p.time);
        points.dedup_by(|b, a| a.time == b.time && a.position == b.position);
        Track {
            points,
            files: Vec::new(),
        }
    }

    /// The points, sorted by time.
    pub fn points(&self) -> &[TrackPoint] {
        &self.points
    }

    /// The files the track came from.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// The bearing of the movement nearest in time to the points `i` and
    /// `j` (j = i or i + 1), for when the photo's own points coincide.
    fn nearest_movement(&self, i: usize, j: usize, t: Timestamp) -> Option<f64> {
        let moved =
            |k: usize| distance(self.points[k].position, self.points[k + 1].position) > 0.01;
        let forward = (j..self.points.len().saturating_sub(1)).find(|&k| moved(k));
        let backward = (0..i).rev().find(|&k| moved(k));
        let gap = |k: usize| {
            let a = self.points[k].time.duration_since(t).abs();
            let b = self.points[k + 1].time.duration_since(t).abs();
            a.min(b)
        };
        let k = match (backward, forward) {
            (Some(b), Some(f)) => {
                if gap(b) <= gap(f) {
                    b
                } else {
                    f
                }
            }
            (Some(b), None) => b,
            (None, Some(f)) => f,
            (None, None) => return None,
        };
        Some(bearing(
            self.points[k].position,
            self.points[k + 1].position,
        ))
    }

    fn direction(&self, i: usize, j: usize, t: Timestamp) -> Option<f64> {
        let (a, b) = (self.points[i].position, self.points[j].position);
        if i != j && distance(a, b) > 0.01 {
            Some(bearing(a, b))
        } else {
            self.nearest_movement(i, j, t)
        }
    }

    /// The position at `t`: linear interpolation between the two points
    /// around it (a point exactly at `t` is taken as it is), with the
    /// bearing between them. Elevation is interpolated when both points
    /// have one, else taken from the one that has it.
    pub fn locate(&self, t: Timestamp, max_gap: SignedDuration) -> Result<Fix, Miss> {
        let (Some(first), Some(last)) = (self.points.first(), self.points.last()) else {
            return Err(Miss::InGap { from: t, to: t });
        };
        if t < first.time {
            return Err(Miss::BeforeStart {
                start: first.time,
                by: first.time.duration_since(t),
            });
        }
        if t > last.time {
            return Err(Miss::AfterEnd {
                end: last.time,
                by: t.duration_since(last.time),
            });
        }
        // The first point later than t; t is at or after points[after - 1].
        let after = self.points.partition_point(|p| p.time <= t);
        let before = after - 1;
        let p = &self.points[before];
        if p.time == t {
            let (i, j) = if before + 1 < self.points.len() {
                (before, before + 1)
            } else {
                (before.saturating_sub(1), before)
            };
            return Ok(Fix {
                position: p.position,
                elevation: p.elevation,
                bearing: self.direction(i, j, t),
            });
        }
        let q = &self.points[after];
        let span = q.time.duration_since(p.time);
        if span > max_gap {
            return Err(Miss::InGap {
                from: p.time,
                to: q.time,
            });
        }
        let fraction = t.duration_since(p.time).as_secs_f64() / span.as_secs_f64();
        let elevation = match (p.elevation, q.elevation) {
            (Some(a), Some(b)) => Some(a + (b - a) * fraction),
            (a, b) => a.or(b),
        };
        Ok(Fix {
            position: interpolate(p.position, q.position, fraction),
            elevation,
            bearing: self.direction(before, after, t),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn point(t: &str, lat: f64, lon: f64, ele: Option<f64>) -> TrackPoint {
        TrackPoint {
            time: at(t),
            position: LatLon::new(lat, lon),
            elevation: ele,
        }
    }

    const GAP: SignedDuration = SignedDuration::from_secs(1800);

    #[test]
    fn interpolates_position_elevation_and_bearing() {
        // Sydney (SE hemisphere): 10 s apart, photo at 2.5 s.
        let track = Track::from_points(vec![
            point("2021-01-01T00:00:10Z", -33.0010, 151.0020, Some(20.0)),
            point("2021-01-01T00:00:00Z", -33.0000, 151.0000, Some(10.0)),
        ]);
        let fix = track.locate(at("2021-01-01T00:00:02.5Z"), GAP).unwrap();
        // lat = -33 + (-0.001)·0.25, lon = 151 + 0.002·0.25, ele = 10 + 10·0.25.
        assert!((fix.position.lat - -33.00025).abs() < 1e-12);
        assert!((fix.position.lon - 151.0005).abs() < 1e-12);
        assert_eq!(fix.elevation, Some(12.5));
        let b = fix.bearing.unwrap();
        assert!(
            (b - bearing(LatLon::new(-33.0, 151.0), LatLon::new(-33.001, 151.002))).abs() < 1e-12
        );
        assert!((100.0..130.0).contains(&b), "south-east: {b}");
        // Exactly on a point: that point.
        let fix = track.locate(at("2021-01-01T00:00:10Z"), GAP).unwrap();
        assert_eq!(fix.position, LatLon::new(-33.001, 151.002));
        assert_eq!(fix.elevation, Some(20.0));
        assert!(fix.bearing.is_some());
    }

    #[test]
    fn misses_before_after_and_in_gaps() {
        let track = Track::from_points(vec![
            point("2021-01-01T00:00:00Z", 1.0, 1.0, None),
            point("2021-01-01T00:00:10Z", 1.0, 1.001, None),
            point("2021-01-01T02:00:00Z", 1.0, 1.002, None),
        ]);
        let miss = track.locate(at("2020-12-31T23:59:47.5Z"), GAP).unwrap_err();
        assert_eq!(
            miss.to_string(),
            "12.5 s before the track starts (2021-01-01T00:00:00Z)"
        );
        let miss = track.locate(at("2021-01-01T02:00:01Z"), GAP).unwrap_err();
        assert!(matches!(miss, Miss::AfterEnd { .. }));
        let miss = track.locate(at("2021-01-01T01:00:00Z"), GAP).unwrap_err();
        assert_eq!(
            miss.to_string(),
            "in a 7190.0 s gap of the track (2021-01-01T00:00:10Z to 2021-01-01T02:00:00Z); see --max-gap"
        );
        // A larger --max-gap bridges it.
        assert!(
            track
                .locate(at("2021-01-01T01:00:00Z"), SignedDuration::from_secs(7200))
                .is_ok()
        );
        assert!(
            Track::default()
                .locate(at("2021-01-01T01:00:00Z"), GAP)
                .is_err()
        );
    }

    #[test]
    fn standing_still_takes_the_nearest_movement() {
        let track = Track::from_points(vec![
            point("2021-01-01T00:00:00Z", 0.0, 0.0, None),
            point("2021-01-01T00:00:05Z", 0.0, 0.001, None), // east
            point("2021-01-01T00:00:10Z", 0.0, 0.001, None), // stopped
            point("2021-01-01T00:00:20Z", 0.0, 0.001, None),
            point("2021-01-01T00:00:40Z", 0.001, 0.001, None), // north
        ]);
        // At 8 s the nearest movement ended at 5 s (east).
        let b = track
            .locate(at("2021-01-01T00:00:08Z"), GAP)
            .unwrap()
            .bearing
            .unwrap();
        assert!((b - 90.0).abs() < 1e-6, "{b}");
        // At 19 s the movement starting at 20 s (north) is nearer.
        let b = track
            .locate(at("2021-01-01T00:00:19Z"), GAP)
            .unwrap()
            .bearing
            .unwrap();
        assert!(b.abs() < 1e-6, "{b}");
        let still = Track::from_points(vec![
            point("2021-01-01T00:00:00Z", 5.0, 5.0, None),
            point("2021-01-01T00:00:05Z", 5.0, 5.0, None),
        ]);
        assert_eq!(
            still
                .locate(at("2021-01-01T00:00:02Z"), GAP)
                .unwrap()
                .bearing,
            None
        );
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    const GPX11: &str = r#"<?xml version="1.0"?>
<gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1">
<trk><trkseg>
<trkpt lat="10.0" lon="20.0"><ele>5</ele><time>2021-06-01T10:00:00Z</time></trkpt>
<trkpt lat="10.0" lon="20.001"><time>2021-06-01T10:00:10Z</time></trkpt>
</trkseg><trkseg>
<trkpt lat="10.001" lon="20.001"><time>2021-06-01T10:00:30.500Z</time></trkpt>
</trkseg></trk></gpx>"#;

    const GPX10: &str = r#"<?xml version="1.0"?>
<gpx version="1.0" creator="test" xmlns="http://www.topografix.com/GPX/1/0">
<rte><rtept lat="10.002" lon="20.001"><time>2021-06-01T10:00:40Z</time></rtept></rte>
<trk><trkseg><trkpt lat="9.999" lon="20.0"><time>2021-06-01T09:59:50Z</time></trkpt></trkseg></trk>
</gpx>"#;

    #[test]
    fn loads_files_folders_and_patterns_in_time_order() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(dir.path(), "a.gpx", GPX11);
        write(dir.path(), "b.GPX", GPX10);
        write(dir.path(), "notes.txt", "x");
        let one = Track::load(a.to_str().unwrap()).unwrap();
        assert_eq!(one.points().len(), 3);
        assert_eq!(one.points()[2].time, at("2021-06-01T10:00:30.5Z"));
        let folder = Track::load(dir.path().to_str().unwrap()).unwrap();
        assert_eq!(folder.files().len(), 2);
        let times: Vec<String> = folder.points().iter().map(|p| p.time.to_string()).collect();
        assert_eq!(
            times,
            [
                "2021-06-01T09:59:50Z",
                "2021-06-01T10:00:00Z",
                "2021-06-01T10:00:10Z",
                "2021-06-01T10:00:30.5Z",
                "2021-06-01T10:00:40Z"
            ]
        );
        let pattern = format!("{}/*.gpx", dir.path().display());
        assert_eq!(Track::load(&pattern).unwrap().points().len(), 3);
        let none = format!("{}/*.kml", dir.path().display());
        assert_eq!(
            Track::load(&none).unwrap_err(),
            TrackError::NothingFound { spec: none.clone() }
        );
    }

    #[test]
    fn clear_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let untimed = write(
            dir.path(),
            "untimed.gpx",
            r#"<gpx version="1.1" creator="t"><trk><trkseg><trkpt lat="1" lon="2"/></trkseg></trk></gpx>"#,
        );
        let err = Track::load(untimed.to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            err.ends_with(
                "untimed.gpx: no track point has a time, so photos cannot be placed on it"
            ),
            "{err}"
        );
        let broken = write(
            dir.path(),
            "broken.gpx",
            "<gpx version=\"1.1\"><trk><trkseg><trkpt lat=",
        );
        let err = Track::load(broken.to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("broken.gpx: not a valid GPX file"), "{err}");
        let err = Track::load(dir.path().join("missing.gpx").to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            err.ends_with("missing.gpx: no such file or folder"),
            "{err}"
        );
    }

    #[test]
    fn the_shared_san_francisco_track() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/gpx/sf_30km_h.gpx");
        if !path.exists() {
            eprintln!("skipped: {} is absent", path.display());
            return;
        }
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
}
