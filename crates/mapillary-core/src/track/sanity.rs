//! What is checked on the points of each file, whatever its format,
//! before they become part of a track. Each check that finds something
//! returns one [`Finding`] for the file (with how many points), not one per
//! point; a file whose timed points are mostly implausible is refused.
//!
//! In order:
//! 1. Positions out of range (latitude beyond ±90°, longitude beyond
//!    ±180°): the point is left out.
//! 2. Elevations outside what the Earth's surface has ([`MIN_ELEVATION_M`]
//!    to [`MAX_ELEVATION_M`], or not a finite number): the point keeps its
//!    position and loses its elevation.
//! 3. Several points at the same instant: one is kept, the first track
//!    point in the file, else the first route point, else the first
//!    waypoint; points at exactly the same place are merged silently,
//!    points at other places are reported.
//! 4. Points implausibly far from their neighbours: a hop from one point to
//!    the next is implausible when it is longer than [`MAX_SPEED_KMH`] for
//!    its duration, plus [`JITTER_M`] for the error of the two fixes. The
//!    longest run of points joined by plausible hops is trusted; going
//!    forward and backward from it, each point is kept when the hop from
//!    the nearest kept point is plausible, else left out (a lone `<wpt>` in
//!    Sydney inside a Berlin track is left out, the Berlin points on both
//!    sides stay). When as many points are left out as kept, the file is
//!    refused: which points are right cannot be told.

use std::fmt;

use jiff::Timestamp;

use super::{ReadPoint, TrackPoint};
use crate::geo::distance;

/// The lowest elevation kept, in metres: the shore of the Dead Sea, the
/// lowest dry land, is at about −430 m.
pub const MIN_ELEVATION_M: f64 = -500.0;

/// The highest elevation kept, in metres: Mount Everest is 8,849 m.
pub const MAX_ELEVATION_M: f64 = 9000.0;

/// The fastest plausible movement between two points, in km/h: above the
/// ground speed of any airliner in service (about 1,300 km/h at most, with
/// a jet-stream tailwind), far below what a misplaced point implies
/// (Berlin to Sydney, 16,000 km, in an hour).
pub const MAX_SPEED_KMH: f64 = 1500.0;

/// The distance two fixes may be apart on top of [`MAX_SPEED_KMH`], in
/// metres, for the error of GPS positions (tens of metres usually, a few
/// hundred in a city's canyons): points a second or less apart are never
/// left out for being less than this apart.
pub const JITTER_M: f64 = 500.0;

/// What a check found in one file, with how many points.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Finding {
    /// Points with a latitude beyond ±90° or a longitude beyond ±180°,
    /// left out.
    PositionOutOfRange {
        /// How many.
        count: usize,
    },
    /// Elevations outside [`MIN_ELEVATION_M`] to [`MAX_ELEVATION_M`] (or
    /// not finite), left out; their points keep their positions.
    ElevationOutOfRange {
        /// How many.
        count: usize,
        /// The first one, in metres, as written.
        first: f64,
    },
    /// Instants with points at different places: one point kept for each
    /// (see the module's rules), the others left out.
    DuplicateTimes {
        /// How many instants.
        instants: usize,
        /// How many points were left out.
        left_out: usize,
        /// The first such instant (UTC).
        first: Timestamp,
    },
    /// Points implausibly far from their neighbours, left out.
    Outliers {
        /// How many.
        count: usize,
        /// When the first one was (UTC).
        first: Timestamp,
        /// The speed in km/h it would take to reach the first one from the
        /// nearest point kept.
        speed_kmh: f64,
    },
}

/// Writes a number with a thousands separator (1,500), for messages.
fn grouped(n: f64) -> String {
    let digits = format!("{:.0}", n.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0.0 { format!("-{out}") } else { out }
}

fn points(n: usize) -> String {
    if n == 1 {
        "1 point".to_string()
    } else {
        format!("{n} points")
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Finding::PositionOutOfRange { count } => write!(
                f,
                "{} left out: latitude beyond ±90° or longitude beyond ±180°",
                points(count)
            ),
            Finding::ElevationOutOfRange { count, first } => write!(
                f,
                "{} of {} left out (the first: {} m): outside {} to {} m, what the Earth's \
                 surface has; the points keep their positions",
                if count == 1 {
                    "1 elevation".to_string()
                } else {
                    format!("{count} elevations")
                },
                if count == 1 { "a point" } else { "points" },
                if first.abs() < 1e6 {
                    first.to_string()
                } else {
                    format!("{first:e}")
                },
                grouped(MIN_ELEVATION_M),
                grouped(MAX_ELEVATION_M),
            ),
            Finding::DuplicateTimes {
                instants,
                left_out,
                first,
            } => write!(
                f,
                "{} at different places (the first at {first}): kept the first track point (else \
                 route point, else waypoint) of each, {} left out",
                if instants == 1 {
                    "1 time has points".to_string()
                } else {
                    format!("{instants} times have points")
                },
                points(left_out)
            ),
            Finding::Outliers {
                count,
                first,
                speed_kmh,
            } => write!(
                f,
                "{} left out: implausibly far from {} neighbours (the first, at {first}, would \
                 take {} km/h to reach; the limit is {} km/h)",
                points(count),
                if count == 1 { "its" } else { "their" },
                grouped(speed_kmh),
                grouped(MAX_SPEED_KMH),
            ),
        }
    }
}

/// Why a file's points were not used at all.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Refusal {
    /// Every timed point was left out.
    NoneUsable {
        /// How many timed points the file has.
        timed: usize,
        /// Why (the first check that left points out).
        finding: Finding,
    },
    /// As many timed points are implausibly far from their neighbours as
    /// not.
    MostlyOutliers {
        /// How many are.
        outliers: usize,
        /// Of how many timed points.
        total: usize,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Refusal::NoneUsable { timed, finding } => write!(
                f,
                "none of its {} can be used ({finding})",
                if timed == 1 {
                    "1 timed point".to_string()
                } else {
                    format!("{timed} timed points")
                }
            ),
            Refusal::MostlyOutliers { outliers, total } => write!(
                f,
                "{outliers} of its {total} timed points are implausibly far from their \
                 neighbours (faster than {} km/h), so which are right cannot be told; not used",
                grouped(MAX_SPEED_KMH)
            ),
        }
    }
}

/// The points of one file that pass the checks, sorted by time, and what
/// was found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Checked {
    /// The points kept, in time order, no two at the same instant.
    pub points: Vec<TrackPoint>,
    /// What was found, at most one of each kind.
    pub findings: Vec<Finding>,
}

/// Whether `b` can be reached from `a` in the time between them.
fn plausible(a: &TrackPoint, b: &TrackPoint) -> bool {
    let seconds = b.time.duration_since(a.time).as_secs_f64().abs();
    distance(a.position, b.position) <= MAX_SPEED_KMH / 3.6 * seconds + JITTER_M
}

/// The speed from `a` to `b`, in km/h.
fn speed_kmh(a: &TrackPoint, b: &TrackPoint) -> f64 {
    let seconds = b.time.duration_since(a.time).as_secs_f64().abs();
    distance(a.position, b.position) / seconds.max(1e-9) * 3.6
}

/// Runs the checks on the timed points of one file, in the order read.
pub fn check(read: Vec<ReadPoint>) -> Result<Checked, Refusal> {
    let mut findings = Vec::new();
    let before = read.len();
    if before == 0 {
        return Ok(Checked::default());
    }
    let mut read = read;
    read.retain(|r| r.point.position.lat.abs() <= 90.0 && r.point.position.lon.abs() <= 180.0);
    if read.len() < before {
        findings.push(Finding::PositionOutOfRange {
            count: before - read.len(),
        });
    }

    let mut bad_elevations = 0;
    let mut first_bad = None;
    for r in &mut read {
        if let Some(e) = r.point.elevation
            && !(MIN_ELEVATION_M..=MAX_ELEVATION_M).contains(&e)
        {
            bad_elevations += 1;
            first_bad.get_or_insert(e);
            r.point.elevation = None;
        }
    }
    if let Some(first) = first_bad {
        findings.push(Finding::ElevationOutOfRange {
            count: bad_elevations,
            first,
        });
    }

    // Stable: within an instant, track points first, then routes, then
    // waypoints, each in file order; the first is kept.
    read.sort_by_key(|r| (r.point.time, r.source));
    let (mut instants, mut left_out, mut first_duplicate) = (0, 0, None);
    let mut last_counted = None;
    read.dedup_by(|later, kept| {
        if later.point.time != kept.point.time {
            return false;
        }
        if later.point.position != kept.point.position {
            left_out += 1;
            if last_counted != Some(kept.point.time) {
                instants += 1;
                last_counted = Some(kept.point.time);
                first_duplicate.get_or_insert(kept.point.time);
            }
        }
        true
    });
    if let Some(first) = first_duplicate {
        findings.push(Finding::DuplicateTimes {
            instants,
            left_out,
            first,
        });
    }
    // (In place: a track of a million points is not copied.)
    let unique: Vec<TrackPoint> = read.into_iter().map(|r| r.point).collect();

    let (points, outliers) = without_outliers(unique);
    if let Some((count, first, speed_kmh)) = outliers {
        if count >= points.len() {
            return Err(Refusal::MostlyOutliers {
                outliers: count,
                total: count + points.len(),
            });
        }
        findings.push(Finding::Outliers {
            count,
            first,
            speed_kmh,
        });
    }
    if points.is_empty()
        && let Some(&finding) = findings.first()
    {
        return Err(Refusal::NoneUsable {
            timed: before,
            finding,
        });
    }
    Ok(Checked { points, findings })
}

/// The points without those implausibly far from their neighbours (see the
/// module's rules), and how many were left out, when the first was, and
/// the speed it implied. `points` is sorted by time, one per instant.
fn without_outliers(
    mut points: Vec<TrackPoint>,
) -> (Vec<TrackPoint>, Option<(usize, Timestamp, f64)>) {
    if points.len() < 2 {
        return (points, None);
    }
    // The longest run of plausible hops (the earliest of equal ones).
    let (mut best, mut start) = ((0, 1), 0);
    for i in 1..=points.len() {
        if i == points.len() || !plausible(&points[i - 1], &points[i]) {
            if i - start > best.1 - best.0 {
                best = (start, i);
            }
            start = i;
        }
    }
    let mut keep = vec![false; points.len()];
    keep[best.0..best.1].iter_mut().for_each(|k| *k = true);
    // (time, speed) of each point left out.
    let mut dropped: Vec<(Timestamp, f64)> = Vec::new();
    let mut last = best.1 - 1;
    for (i, p) in points.iter().enumerate().skip(best.1) {
        if plausible(&points[last], p) {
            keep[i] = true;
            last = i;
        } else {
            dropped.push((p.time, speed_kmh(&points[last], p)));
        }
    }
    let mut next = best.0;
    for i in (0..best.0).rev() {
        if plausible(&points[i], &points[next]) {
            keep[i] = true;
            next = i;
        } else {
            dropped.push((points[i].time, speed_kmh(&points[i], &points[next])));
        }
    }
    let first = dropped.iter().min_by_key(|(t, _)| *t).copied();
    let count = dropped.len();
    let mut flags = keep.into_iter();
    points.retain(|_| flags.next().unwrap_or(false));
    (points, first.map(|(t, s)| (count, t, s)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo::LatLon;
    use crate::track::Source;
    use jiff::SignedDuration;

    const T0: &str = "2021-06-01T10:00:00Z";

    fn at(seconds: f64) -> Timestamp {
        let t0: Timestamp = T0.parse().unwrap();
        t0 + SignedDuration::from_secs_f64(seconds)
    }

    fn point(seconds: f64, lat: f64, lon: f64, source: Source) -> ReadPoint {
        ReadPoint {
            point: TrackPoint {
                time: at(seconds),
                position: LatLon::new(lat, lon),
                elevation: None,
            },
            source,
        }
    }

    /// A walk through Berlin: one point a second, `n` of them, 1.4 m/s east.
    fn berlin(n: usize) -> Vec<ReadPoint> {
        (0..n)
            .map(|i| point(i as f64, 52.52, 13.40 + i as f64 * 2e-5, Source::Track))
            .collect()
    }

    #[test]
    fn a_sydney_waypoint_in_a_berlin_track_is_left_out() {
        let mut read = berlin(60);
        // The waypoint comes first in a GPX 1.1 file.
        read.insert(0, point(30.5, -33.8688, 151.2093, Source::Waypoint));
        let checked = check(read).unwrap();
        assert_eq!(checked.points.len(), 60);
        assert!(
            checked
                .points
                .iter()
                .all(|p| (p.position.lat - 52.52).abs() < 1e-9)
        );
        let [
            Finding::Outliers {
                count,
                first,
                speed_kmh,
            },
        ] = checked.findings[..]
        else {
            panic!("{:?}", checked.findings);
        };
        assert_eq!((count, first), (1, at(30.5)));
        // About 16,000 km in half a second.
        assert!(speed_kmh > 1e8, "{speed_kmh}");
        assert_eq!(
            checked.findings[0].to_string(),
            format!(
                "1 point left out: implausibly far from its neighbours (the first, at \
                 2021-06-01T10:00:30.5Z, would take {} km/h to reach; the limit is 1,500 km/h)",
                grouped(speed_kmh)
            )
        );
    }

    #[test]
    fn outliers_at_either_end_and_in_clusters() {
        // A cold start at 0°, 0° before the walk; three points in Sydney in
        // the middle; a jump to New York at the end.
        let mut read = vec![point(-5.0, 0.0, 0.0, Source::Track)];
        read.extend(berlin(40));
        for t in [10.2, 10.4, 10.6] {
            read.push(point(t, -33.87, 151.21, Source::Track));
        }
        read.push(point(41.0, 40.71, -74.0, Source::Track));
        let checked = check(read).unwrap();
        assert_eq!(checked.points.len(), 40);
        assert_eq!(checked.points[0].time, at(0.0));
        let [Finding::Outliers { count, first, .. }] = checked.findings[..] else {
            panic!("{:?}", checked.findings);
        };
        assert_eq!((count, first), (5, at(-5.0)));
    }

    #[test]
    fn a_glitch_does_not_take_its_run_with_it() {
        // 20 points, a glitch 5 km away 10 minutes later (plausible from
        // the last point: 30 km/h), then the walk again a second later
        // (5 km in a second: not). The points before the glitch stay.
        let mut read = berlin(20);
        read.push(point(619.0, 52.565, 13.40, Source::Track));
        read.extend((0..30).map(|i| {
            point(
                620.0 + i as f64,
                52.52,
                13.4004 + i as f64 * 2e-5,
                Source::Track,
            )
        }));
        let checked = check(read).unwrap();
        assert_eq!(checked.points.len(), 50);
        assert!(checked.points.iter().all(|p| p.position.lat == 52.52));
        assert!(matches!(
            checked.findings[..],
            [Finding::Outliers { count: 1, .. }]
        ));
    }

    #[test]
    fn plausible_movement_and_jitter_are_kept() {
        let mut read = Vec::new();
        // 10 Hz logging with 300 m of jitter.
        for i in 0..50 {
            let jitter = if i % 2 == 0 { 0.0 } else { 0.0027 };
            read.push(point(i as f64 * 0.1, 52.52 + jitter, 13.40, Source::Track));
        }
        // A train at 300 km/h, then an airliner at 1,000 km/h (a degree of
        // latitude is 111 km).
        for i in 0..60 {
            let hours = i as f64 / 3600.0;
            read.push(point(
                1000.0 + i as f64,
                52.6 + 300.0 * hours / 111.2,
                13.4,
                Source::Track,
            ));
        }
        for i in 0..60 {
            let hours = i as f64 / 3600.0;
            read.push(point(
                3600.0 + i as f64,
                50.0 + 1000.0 * hours / 111.2,
                13.4,
                Source::Track,
            ));
        }
        let n = read.len();
        let checked = check(read).unwrap();
        assert_eq!(checked.points.len(), n);
        assert!(checked.findings.is_empty(), "{:?}", checked.findings);
    }

    #[test]
    fn mostly_outliers_is_refused() {
        // Berlin and Sydney in turn, a second apart: which is right? (The
        // first run is trusted, the other city's points are left out: as
        // many as kept.)
        let read: Vec<ReadPoint> = (0..10)
            .map(|i| {
                let (lat, lon) = if i % 2 == 0 {
                    (52.52, 13.40)
                } else {
                    (-33.87, 151.21)
                };
                point(i as f64, lat, lon, Source::Track)
            })
            .collect();
        let refusal = check(read).unwrap_err();
        assert_eq!(
            refusal,
            Refusal::MostlyOutliers {
                outliers: 5,
                total: 10
            }
        );
        assert_eq!(
            refusal.to_string(),
            "5 of its 10 timed points are implausibly far from their neighbours (faster than \
             1,500 km/h), so which are right cannot be told; not used"
        );
        // Two points that cannot both be right.
        let two = vec![
            point(0.0, 52.52, 13.40, Source::Track),
            point(1.0, -33.87, 151.21, Source::Track),
        ];
        assert!(matches!(
            check(two),
            Err(Refusal::MostlyOutliers {
                outliers: 1,
                total: 2
            })
        ));
    }

    #[test]
    fn duplicate_times_keep_one_point_each() {
        let mut read = berlin(10);
        // A waypoint at the time of the 3rd track point, elsewhere; the
        // track point is kept.
        read.insert(0, point(2.0, 52.53, 13.41, Source::Waypoint));
        // Two track points at 5 s, a few metres apart: the first is kept.
        read.push(point(5.0, 52.52003, 13.4001, Source::Track));
        // A route point at 7 s too.
        read.push(point(7.0, 52.521, 13.4002, Source::Route));
        // An exact copy of the 8th point: merged silently.
        read.push(read[9]);
        let checked = check(read).unwrap();
        assert_eq!(checked.points.len(), 10);
        let expected = berlin(10);
        for (got, want) in checked.points.iter().zip(&expected) {
            assert_eq!(*got, want.point);
        }
        assert_eq!(
            checked.findings,
            [Finding::DuplicateTimes {
                instants: 3,
                left_out: 3,
                first: at(2.0)
            }]
        );
        assert_eq!(
            checked.findings[0].to_string(),
            "3 times have points at different places (the first at 2021-06-01T10:00:02Z): kept \
             the first track point (else route point, else waypoint) of each, 3 points left out"
        );
        // Of two waypoints at one instant, the first in the file.
        let read = vec![
            point(0.0, 1.0, 1.0, Source::Waypoint),
            point(0.0, 1.0001, 1.0, Source::Waypoint),
        ];
        let checked = check(read).unwrap();
        assert_eq!(checked.points[0].position, LatLon::new(1.0, 1.0));
    }

    #[test]
    fn elevations_outside_the_earth_are_left_out() {
        let elevations = [
            Some(1e308),
            Some(-500.0),
            Some(9000.0),
            Some(-501.0),
            Some(9000.5),
            Some(f64::INFINITY),
            Some(f64::NAN),
            Some(34.0),
            None,
        ];
        let read: Vec<ReadPoint> = berlin(elevations.len())
            .into_iter()
            .zip(elevations)
            .map(|(mut r, e)| {
                r.point.elevation = e;
                r
            })
            .collect();
        let checked = check(read).unwrap();
        let kept: Vec<Option<f64>> = checked.points.iter().map(|p| p.elevation).collect();
        assert_eq!(
            kept,
            [
                None,
                Some(-500.0),
                Some(9000.0),
                None,
                None,
                None,
                None,
                Some(34.0),
                None
            ]
        );
        assert_eq!(
            checked.findings,
            [Finding::ElevationOutOfRange {
                count: 5,
                first: 1e308
            }]
        );
        assert_eq!(
            checked.findings[0].to_string(),
            "5 elevations of points left out (the first: 1e308 m): outside -500 to 9,000 m, what the Earth's surface has; the points keep \
             their positions"
        );
    }

    #[test]
    fn positions_out_of_range_are_left_out() {
        let mut read = berlin(5);
        read.push(point(10.0, 91.0, 13.0, Source::Track));
        read.push(point(11.0, 52.0, -180.5, Source::Track));
        read.push(point(12.0, f64::NAN, 13.0, Source::Track));
        let checked = check(read).unwrap();
        assert_eq!(checked.points.len(), 5);
        assert_eq!(checked.findings, [Finding::PositionOutOfRange { count: 3 }]);
        assert_eq!(
            checked.findings[0].to_string(),
            "3 points left out: latitude beyond ±90° or longitude beyond ±180°"
        );
        let none = vec![point(0.0, 100.0, 0.0, Source::Track)];
        assert_eq!(
            check(none).unwrap_err().to_string(),
            "none of its 1 timed point can be used (1 point left out: latitude beyond ±90° or \
             longitude beyond ±180°)"
        );
        assert_eq!(check(Vec::new()).unwrap(), Checked::default());
    }
}
