//! GPS tracks: track files read into one time-sorted list of points, and
//! the position at any instant.
//!
//! Each file format has its own reader module (`gpx.rs`), behind one
//! interface, [`Format`]: a reader turns one document into the timed points
//! it holds, in document order. What follows is the same for every format:
//! the sanity checks ([`sanity`]), merging the points of several files in
//! time order, and [`Track::locate`].
//!
//! Times are UTC instants; positions WGS-84 degrees (latitude first);
//! elevations metres above sea level.

pub mod clock;
pub mod gpx;
pub mod sanity;

use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use jiff::{SignedDuration, Timestamp};

use crate::geo::{LatLon, bearing, distance, interpolate};

/// The readers, one per format. The first is the one a file named
/// directly is read with when no reader claims its extension.
///
/// To add a format: write its module (`track/<format>.rs`) with a type that
/// implements [`Format`], declare the module above and list the type here.
/// Nothing else changes: finding files in folders, the sanity checks,
/// merging and locating work on what [`Format::read`] returns.
const FORMATS: &[&dyn Format] = &[&gpx::Gpx];

/// A reader of one track file format.
///
/// Implementations read one document from a stream and return its timed
/// points; they decide what a point is in their format and leave out the
/// points without a time (they cannot place a photo). They do not judge
/// the values: a latitude of 200 or an elevation of 1e308 is returned as
/// written, for [`sanity`] to report once for every format.
pub trait Format: Sync {
    /// The format's name in messages, such as "GPX".
    fn name(&self) -> &'static str;

    /// The file name extensions of the format, without the dot (matched
    /// in any case), by which files are found in a folder.
    fn extensions(&self) -> &'static [&'static str];

    /// The timed points of one document, in document order, or why it
    /// cannot be read.
    fn read(&self, input: &mut dyn BufRead) -> Result<Vec<ReadPoint>, FormatError>;
}

/// What kind of point a reader found: which of several points with the
/// same time is kept (see [`sanity`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    /// Logged along the way (a GPX `<trkpt>`): the most trusted.
    Track,
    /// A point of a route (a GPX `<rtept>`).
    Route,
    /// A single place marked on its own (a GPX `<wpt>`).
    Waypoint,
}

/// A timed point as a reader found it, before the sanity checks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReadPoint {
    /// The time, position and elevation as written in the file (the
    /// position and elevation may be out of range).
    pub point: TrackPoint,
    /// What kind of point it is.
    pub source: Source,
}

/// Why a reader could not read a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError {
    /// Where: the line (from 1), when known.
    pub line: Option<u64>,
    /// Where: the byte offset in the document (from 0), when known.
    pub offset: Option<u64>,
    /// Why, in a few words.
    pub reason: String,
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.offset) {
            (Some(line), _) => write!(f, "line {line}: {}", self.reason),
            (None, Some(offset)) if offset > 0 => write!(f, "byte {offset}: {}", self.reason),
            _ => f.write_str(&self.reason),
        }
    }
}

/// What the checks found in one file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileFinding {
    /// The file.
    pub path: PathBuf,
    /// What was found.
    pub finding: sanity::Finding,
}

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
#[derive(Debug, Clone, PartialEq)]
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
    /// A file's points fail the checks of [`sanity`] as a whole.
    Refused {
        /// The file.
        path: PathBuf,
        /// Why.
        why: sanity::Refusal,
    },
    /// The folder holds no track file, or the pattern matches nothing.
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
            TrackError::Refused { path, why } => write!(f, "{}: {why}", path.display()),
            TrackError::NothingFound { spec } => {
                let names: Vec<&str> = FORMATS.iter().map(|f| f.name()).collect();
                write!(f, "{spec}: no {} file found", names.join(" or "))
            }
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
    findings: Vec<FileFinding>,
}

/// The reader for a file: the format that claims its extension, else the
/// first.
fn format_of(path: &Path) -> &'static dyn Format {
    let extension = path.extension().and_then(|e| e.to_str());
    FORMATS
        .iter()
        .copied()
        .find(|f| {
            extension.is_some_and(|e| f.extensions().iter().any(|x| x.eq_ignore_ascii_case(e)))
        })
        .unwrap_or(&gpx::Gpx)
}

fn is_track_file(path: &Path) -> bool {
    let Some(extension) = path.extension().and_then(|e| e.to_str()) else {
        return false;
    };
    FORMATS.iter().any(|f| {
        f.extensions()
            .iter()
            .any(|x| x.eq_ignore_ascii_case(extension))
    })
}

/// The points of one file's document, read from `input` (`path` names it
/// in errors), through the sanity checks.
fn read_points(input: &mut dyn BufRead, path: &Path) -> Result<sanity::Checked, TrackError> {
    let format = format_of(path);
    let read = format.read(input).map_err(|e| TrackError::Unreadable {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let checked = sanity::check(read).map_err(|why| TrackError::Refused {
        path: path.to_path_buf(),
        why,
    })?;
    if checked.points.is_empty() {
        return Err(TrackError::NoTimes {
            path: path.to_path_buf(),
        });
    }
    Ok(checked)
}

fn file_findings(path: &Path, checked: &sanity::Checked) -> impl Iterator<Item = FileFinding> {
    checked.findings.iter().map(|&finding| FileFinding {
        path: path.to_path_buf(),
        finding,
    })
}

fn timed_points(path: &Path) -> Result<sanity::Checked, TrackError> {
    let file = File::open(path).map_err(|e| TrackError::Unreadable {
        path: path.to_path_buf(),
        reason: crate::io_reason(&e),
    })?;
    // (Large reads: the parser asks for more often with small ones.)
    read_points(&mut BufReader::with_capacity(1 << 16, file), path)
}

/// The files a `gpx_file` argument names: a file, a folder's track files
/// (by extension, such as .gpx; not its subfolders), or a glob pattern
/// such as `logs/*.gpx`.
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
            .filter(|p| p.is_file() && is_track_file(p))
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
    /// Loads every file a `gpx_file` argument names (see [`track_files`]),
    /// each in its format.
    pub fn load(spec: &str) -> Result<Track, TrackError> {
        let files = track_files(spec)?;
        let mut points = Vec::new();
        let mut findings = Vec::new();
        for f in &files {
            let checked = timed_points(f)?;
            findings.extend(file_findings(f, &checked));
            if points.is_empty() {
                // One file (the usual case): its points, not a copy.
                points = checked.points;
            } else {
                points.extend(checked.points);
            }
        }
        Ok(Track {
            files,
            findings,
            ..Track::from_points(points)
        })
    }

    /// Reads one document (`name` is how errors name it, and its
    /// extension chooses the format; GPX when no format claims it).
    pub fn read(reader: impl std::io::Read, name: &Path) -> Result<Track, TrackError> {
        let checked = read_points(&mut BufReader::new(reader), name)?;
        Ok(Track {
            files: vec![name.to_path_buf()],
            findings: file_findings(name, &checked).collect(),
            ..Track::from_points(checked.points)
        })
    }

    /// A track of these points (sorted here; exact duplicates dropped).
    /// They are taken as they are: the checks of [`sanity`] are those of
    /// [`Track::load`] and [`Track::read`], once per file.
    pub fn from_points(mut points: Vec<TrackPoint>) -> Track {
        points.sort_by_key(|p| p.time);
        points.dedup_by(|b, a| a.time == b.time && a.position == b.position);
        Track {
            points,
            files: Vec::new(),
            findings: Vec::new(),
        }
    }

    /// What the checks found in each file, for the tool to report (at most
    /// one finding of each kind per file, in file order).
    pub fn findings(&self) -> &[FileFinding] {
        &self.findings
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
    fn findings_are_per_file_and_refusals_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.gpx", GPX11);
        // A Berlin walk with a waypoint in Sydney and an impossible
        // elevation.
        let mut berlin = String::from(
            r#"<gpx version="1.1" creator="t" xmlns="http://www.topografix.com/GPX/1/1">
<wpt lat="-33.8688" lon="151.2093"><time>2021-06-01T11:00:05.5Z</time></wpt><trk><trkseg>"#,
        );
        for i in 0..10 {
            let ele = if i == 3 { "1e308" } else { "34" };
            berlin.push_str(&format!(
                "<trkpt lat=\"52.52\" lon=\"{}\"><ele>{ele}</ele><time>2021-06-01T11:00:{i:02}Z</time></trkpt>\n",
                13.4 + f64::from(i) * 2e-5
            ));
        }
        berlin.push_str("</trkseg></trk></gpx>");
        let b = write(dir.path(), "b.gpx", &berlin);
        let track = Track::load(dir.path().to_str().unwrap()).unwrap();
        assert_eq!(track.points().len(), 13);
        let found: Vec<(PathBuf, String)> = track
            .findings()
            .iter()
            .map(|f| (f.path.clone(), f.finding.to_string()))
            .collect();
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found.iter().all(|(p, _)| *p == b), "{found:?}");
        assert!(
            found[0]
                .1
                .starts_with("1 elevation of a point left out (the first: 1e308 m)")
        );
        assert!(
            found[1]
                .1
                .starts_with("1 point left out: implausibly far from its neighbours")
        );
        // Berlin photos stay in Berlin.
        let fix = track.locate(at("2021-06-01T11:00:05.5Z"), GAP).unwrap();
        assert!((fix.position.lat - 52.52).abs() < 1e-9, "{fix:?}");
        // Read alone, the same.
        let one = Track::read(berlin.as_bytes(), Path::new("b.gpx")).unwrap();
        assert_eq!(one.findings().len(), 2);
        // A file that is mostly outliers is refused, named.
        let noisy = r#"<gpx version="1.1" creator="t"><trk><trkseg>
<trkpt lat="52.52" lon="13.4"><time>2021-06-01T11:00:00Z</time></trkpt>
<trkpt lat="-33.87" lon="151.2"><time>2021-06-01T11:00:01Z</time></trkpt>
</trkseg></trk></gpx>"#;
        let c = write(dir.path(), "c.gpx", noisy);
        let err = Track::load(dir.path().to_str().unwrap()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}: 1 of its 2 timed points are implausibly far from their neighbours (faster \
                 than 1,500 km/h), so which are right cannot be told; not used",
                c.display()
            )
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
        assert!(
            err.contains("broken.gpx: line 1: not a valid GPX file ("),
            "{err}"
        );
        let err = Track::load(dir.path().join("missing.gpx").to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            err.ends_with("missing.gpx: no such file or folder"),
            "{err}"
        );
    }
}
