//! The rules that turn photos into sequences Mapillary accepts, as the
//! official client (mapillary_tools 0.14.7) applies them before it uploads,
//! in its order:
//!
//! 1. photos are grouped by folder and camera (make, model, camera id,
//!    image size) and sorted by capture time (then file name); photos taken
//!    in the same millisecond are spread over the time to the next photo
//!    (at most a second), for the time-based rules only;
//! 2. a group is cut where two neighbours are more than the cutoff time
//!    apart (60 s), and split where a sequence would hold more than 1,000
//!    photos, 110 GiB or 6 gigapixels (Mapillary refuses larger ones);
//! 3. photos at latitude 0, longitude 0 are left out;
//! 4. a photo within 0.1 m and 5° of the photo kept before it is a
//!    duplicate and left out;
//! 5. a sequence faster than 400 km/h on average (the distance along it
//!    over the time from its first photo to its last) is left out whole;
//! 6. what is left is cut where neighbours are more than the cutoff
//!    distance apart (100 m).
//!
//! Each value can be changed by the official client's variable
//! ([`Rules::from_env`]). With [`Forming::One`] (a sequence id the user
//! gave, or a sequence formed earlier) the photos stay one sequence, split
//! only at the limits. The official client's GPS zig-zag check is not
//! applied (docs/upload.md says why).
//!
//! Nothing is dropped silently: every photo ends in exactly one sequence or
//! in one [`Finding::LeftOut`], which names it and says why.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde_json::Value;

use super::frame::{FrameSize, PhotoFacts};
use crate::auth::Environment;
use crate::description::{self, Description, DescriptionError};
use crate::geo::LatLon;

/// Mapillary's limits per sequence. `None`: no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Photos (default 1,000; `MAPILLARY_TOOLS_MAX_SEQUENCE_LENGTH`).
    pub images: Option<u64>,
    /// Bytes, the sum of the photos' file sizes (default 110 GiB;
    /// `MAPILLARY_TOOLS_MAX_SEQUENCE_FILESIZE`).
    pub bytes: Option<u64>,
    /// Pixels, the sum of width × height (default 6 × 10⁹;
    /// `MAPILLARY_TOOLS_MAX_SEQUENCE_PIXELS`). A photo whose size is not
    /// known counts as 1024 × 1024, as in the official client.
    pub pixels: Option<u64>,
}

/// The rules' values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rules {
    /// Cut where neighbours are more than this many seconds apart (default
    /// 60; `MAPILLARY_TOOLS_CUTOFF_TIME`; infinite: never).
    pub cutoff_time: f64,
    /// Cut where neighbours are more than this many metres apart (default
    /// 100; `MAPILLARY_TOOLS_CUTOFF_DISTANCE`).
    pub cutoff_distance: f64,
    /// A photo at most this many metres from the photo kept before it ...
    /// (default 0.1; `MAPILLARY_TOOLS_DUPLICATE_DISTANCE`; negative: no
    /// photo is a duplicate)
    pub duplicate_distance: f64,
    /// ... and whose heading differs by at most this many degrees (or
    /// either has none) is a duplicate (default 5;
    /// `MAPILLARY_TOOLS_DUPLICATE_ANGLE`).
    pub duplicate_angle: f64,
    /// A sequence faster than this, in km/h, is refused (default 400;
    /// `MAPILLARY_TOOLS_MAX_CAPTURE_SPEED_KMH`).
    pub max_speed_kmh: f64,
    /// The limits per sequence.
    pub limits: Limits,
}

/// The pixels counted for a photo whose image size is not known.
pub const UNKNOWN_FRAME_PIXELS: u64 = 1024 * 1024;

impl Default for Rules {
    /// The official client's defaults.
    fn default() -> Rules {
        Rules {
            cutoff_time: 60.0,
            cutoff_distance: 100.0,
            duplicate_distance: 0.1,
            duplicate_angle: 5.0,
            max_speed_kmh: 400.0,
            limits: Limits {
                images: Some(1000),
                bytes: Some(110 << 30),
                pixels: Some(6_000_000_000),
            },
        }
    }
}

/// A variable of the rules that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesError {
    /// The variable.
    pub variable: &'static str,
    /// Its value.
    pub value: String,
    /// What it should look like.
    pub expected: &'static str,
}

impl fmt::Display for RulesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}={:?}: expected {}",
            self.variable, self.value, self.expected
        )
    }
}

impl std::error::Error for RulesError {}

/// A number, as Python's `float()` reads it (also `inf`), but not NaN.
fn parse_real(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().filter(|v| !v.is_nan())
}

/// An integer with an optional unit suffix (case-insensitive), or
/// `INF`/`INFINITY` for no limit, as the official client reads its limits.
fn parse_scaled(text: &str, units: &[(&str, u64)]) -> Option<Option<u64>> {
    let value = text.trim().to_ascii_uppercase();
    if value == "INF" || value == "INFINITY" {
        return Some(None);
    }
    // The longest suffix first ("MP" before "P"-less "M").
    let mut units = units.to_vec();
    units.sort_by_key(|(suffix, _)| std::cmp::Reverse(suffix.len()));
    for (suffix, scale) in units {
        if let Some(number) = value.strip_suffix(suffix) {
            let n: u64 = number.trim().parse().ok()?;
            return n.checked_mul(scale).map(Some);
        }
    }
    None
}

/// Sets `slot` from `variable`, if it is set.
fn read_limit(
    env: &Environment,
    variable: &'static str,
    units: &[(&str, u64)],
    expected: &'static str,
    slot: &mut Option<u64>,
) -> Result<(), RulesError> {
    if let Some(text) = env.get(variable) {
        *slot = parse_scaled(text, units).ok_or_else(|| RulesError {
            variable,
            value: text.to_string(),
            expected,
        })?;
    }
    Ok(())
}

impl Rules {
    /// The official client's defaults, changed by its variables where they
    /// are set.
    pub fn from_env(env: &Environment) -> Result<Rules, RulesError> {
        let mut rules = Rules::default();
        let reals: [(&'static str, &mut f64); 5] = [
            ("MAPILLARY_TOOLS_CUTOFF_TIME", &mut rules.cutoff_time),
            (
                "MAPILLARY_TOOLS_CUTOFF_DISTANCE",
                &mut rules.cutoff_distance,
            ),
            (
                "MAPILLARY_TOOLS_DUPLICATE_DISTANCE",
                &mut rules.duplicate_distance,
            ),
            (
                "MAPILLARY_TOOLS_DUPLICATE_ANGLE",
                &mut rules.duplicate_angle,
            ),
            (
                "MAPILLARY_TOOLS_MAX_CAPTURE_SPEED_KMH",
                &mut rules.max_speed_kmh,
            ),
        ];
        for (variable, slot) in reals {
            if let Some(text) = env.get(variable) {
                *slot = parse_real(text).ok_or_else(|| RulesError {
                    variable,
                    value: text.to_string(),
                    expected: "a number (inf for none)",
                })?;
            }
        }
        const KI: u64 = 1024;
        read_limit(
            env,
            "MAPILLARY_TOOLS_MAX_SEQUENCE_LENGTH",
            &[("", 1)],
            "a whole number of photos, or INF",
            &mut rules.limits.images,
        )?;
        read_limit(
            env,
            "MAPILLARY_TOOLS_MAX_SEQUENCE_FILESIZE",
            &[
                ("", 1),
                ("B", 1),
                ("K", KI),
                ("M", KI * KI),
                ("G", KI * KI * KI),
            ],
            "a whole number of bytes with B, K, M or G (powers of 1024), or INF",
            &mut rules.limits.bytes,
        )?;
        read_limit(
            env,
            "MAPILLARY_TOOLS_MAX_SEQUENCE_PIXELS",
            &[
                ("", 1),
                ("K", 1_000),
                ("M", 1_000_000),
                ("MP", 1_000_000),
                ("G", 1_000_000_000),
                ("GP", 1_000_000_000),
            ],
            "a whole number of pixels with K, M(P) or G(P) (powers of 1000), or INF",
            &mut rules.limits.pixels,
        )?;
        Ok(rules)
    }
}

/// What the rules know of one photo.
#[derive(Debug, Clone, PartialEq)]
pub struct Photo {
    /// Where it is.
    pub path: PathBuf,
    /// When it was taken (UTC instant).
    pub time: Timestamp,
    /// Where it was taken.
    pub position: LatLon,
    /// Which way the camera looked, degrees clockwise from true north.
    pub heading: Option<f64>,
    /// Its file size.
    pub bytes: u64,
    /// Its image size.
    pub frame: Option<FrameSize>,
    /// The camera's make, model and id: photos of different cameras are
    /// never one sequence (unless the user says so).
    pub camera: [Option<String>; 3],
}

impl Photo {
    /// The photo at `path` as its Mapillary description and its facts
    /// describe it: MAPCaptureTime, MAPLatitude/MAPLongitude,
    /// MAPCompassHeading's TrueHeading, MAPDeviceMake, MAPDeviceModel and
    /// MAPCameraUUID.
    pub fn from_description(
        path: &Path,
        d: &Description,
        facts: PhotoFacts,
    ) -> Result<Photo, DescriptionError> {
        let number = |key: &'static str| {
            d.get(key)
                .and_then(Value::as_f64)
                .ok_or(DescriptionError::BadKey(key))
        };
        let text = |key: &str| d.get(key).and_then(Value::as_str).map(str::to_string);
        Ok(Photo {
            path: path.to_path_buf(),
            time: d
                .capture_time()
                .ok_or(DescriptionError::BadKey(description::CAPTURE_TIME))?,
            position: LatLon::new(
                number(description::LATITUDE)?,
                number(description::LONGITUDE)?,
            ),
            heading: d
                .get(description::COMPASS_HEADING)
                .and_then(|h| h.get("TrueHeading"))
                .and_then(Value::as_f64),
            bytes: facts.bytes,
            frame: facts.frame,
            camera: [
                text(description::DEVICE_MAKE),
                text(description::DEVICE_MODEL),
                text("MAPCameraUUID"),
            ],
        })
    }
}

/// How the photos given are to be formed into sequences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forming {
    /// Grouped by folder and camera, cut at time and distance gaps and at
    /// the limits (no sequence given).
    Cut,
    /// One sequence (a sequence id the user gave, or a sequence formed
    /// earlier), split only at the limits.
    One,
}

/// Why a sequence was cut before a photo.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cut {
    /// The photo was taken `seconds` after the one before, more than the
    /// cutoff.
    TimeGap {
        /// The gap, seconds.
        seconds: f64,
        /// The cutoff, seconds.
        cutoff: f64,
    },
    /// The photo is `metres` from the one before, more than the cutoff.
    DistanceGap {
        /// The gap, metres.
        metres: f64,
        /// The cutoff, metres.
        cutoff: f64,
    },
    /// The sequence would hold more photos than the limit.
    Images {
        /// The limit.
        limit: u64,
    },
    /// The sequence would hold more bytes than the limit.
    Bytes {
        /// The limit.
        limit: u64,
    },
    /// The sequence would hold more pixels than the limit.
    Pixels {
        /// The limit.
        limit: u64,
    },
}

impl Cut {
    /// Whether the cut is one of Mapillary's limits (rather than a gap).
    pub fn is_limit(&self) -> bool {
        matches!(
            self,
            Cut::Images { .. } | Cut::Bytes { .. } | Cut::Pixels { .. }
        )
    }
}

/// Why photos were left out of every sequence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LeftOut {
    /// Each is within `distance` metres and `angle` degrees of the photo
    /// kept before it.
    Duplicate {
        /// The duplicate distance, metres.
        distance: f64,
        /// The duplicate angle, degrees.
        angle: f64,
    },
    /// At latitude 0, longitude 0 ("null island"): a camera without a fix.
    NullIsland,
    /// Their sequences are faster than the limit on average.
    TooFast {
        /// How many sequences.
        sequences: usize,
        /// The fastest of them, km/h.
        speed_kmh: f64,
        /// The limit, km/h.
        limit_kmh: f64,
    },
}

/// What the rules did, for the tool to put into words.
#[derive(Debug, Clone, PartialEq)]
pub enum Finding {
    /// A sequence was cut before this photo.
    Cut {
        /// The first photo of the new sequence.
        before: PathBuf,
        /// Why.
        reason: Cut,
    },
    /// These photos are in no sequence (in capture order).
    LeftOut {
        /// The photos.
        photos: Vec<PathBuf>,
        /// Why.
        reason: LeftOut,
    },
}

/// The sequences formed and what the rules found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Formed {
    /// The sequences, each as indices into the photos given, in capture
    /// order; sequences in order of their first photo.
    pub sequences: Vec<Vec<usize>>,
    /// The photos in no sequence, as indices, in ascending order.
    pub left_out: Vec<usize>,
    /// Cuts, then photos left out (one finding per reason).
    pub findings: Vec<Finding>,
}

/// The distance between two positions in metres, as the official client
/// measures it: the straight line between the two points on the WGS-84
/// ellipsoid (not along its surface; the same to a millimetre over the
/// distances the rules compare).
pub fn chord_distance(a: LatLon, b: LatLon) -> f64 {
    fn ecef(p: LatLon) -> [f64; 3] {
        const A2: f64 = 6_378_137.0 * 6_378_137.0;
        const B2: f64 = 6_356_752.314_245 * 6_356_752.314_245;
        let (lat, lon) = (p.lat.to_radians(), p.lon.to_radians());
        let (cos_lat, sin_lat) = (lat.cos(), lat.sin());
        let l = 1.0 / (A2 * cos_lat * cos_lat + B2 * sin_lat * sin_lat).sqrt();
        let k = A2 * l * cos_lat;
        [k * lon.cos(), k * lon.sin(), B2 * l * sin_lat]
    }
    let (p, q) = (ecef(a), ecef(b));
    ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2) + (p[2] - q[2]).powi(2)).sqrt()
}

/// The difference of two headings, degrees in [0, 180].
fn heading_difference(a: f64, b: f64) -> f64 {
    let d = (b - a).rem_euclid(360.0);
    d.min(360.0 - d)
}

/// Capture order: time, then file name, then path.
fn capture_order(photos: &[Photo], a: usize, b: usize) -> std::cmp::Ordering {
    let (p, q) = (&photos[a], &photos[b]);
    p.time
        .cmp(&q.time)
        .then_with(|| p.path.file_name().cmp(&q.path.file_name()))
        .then_with(|| p.path.cmp(&q.path))
}

/// The times the time-based rules use, in seconds, for a group in capture
/// order: photos of the same millisecond are spread evenly from their time
/// to the next photo's, or to the next whole second if that is sooner, as
/// the official client does (so that no two photos of a sequence share a
/// time).
fn rule_times(photos: &[Photo], group: &[usize], times: &mut [f64]) {
    let millis: Vec<i64> = group
        .iter()
        .map(|&i| photos[i].time.as_millisecond())
        .collect();
    let mut start = 0;
    while start < group.len() {
        let mut end = start + 1;
        while end < group.len() && millis[end] == millis[start] {
            end += 1;
        }
        let t = millis[start] as f64 / 1e3;
        let next_second = (t + 1.0).floor();
        let until = match millis.get(end) {
            Some(&m) => (m as f64 / 1e3).min(next_second),
            None => next_second,
        };
        let step = (until - t) / (end - start) as f64;
        for (k, &i) in group[start..end].iter().enumerate() {
            times[i] = if end - start > 1 {
                t + k as f64 * step
            } else {
                t
            };
        }
        start = end;
    }
}

/// Splits a sorted group where the limits (and, when cutting, the time
/// gaps) say, checking each photo against the sequence so far in the
/// official client's order: photos, time gap, bytes, pixels.
fn split_at_limits_and_time(
    photos: &[Photo],
    times: &[f64],
    group: Vec<usize>,
    rules: &Rules,
    cut_at_time: bool,
    findings: &mut Vec<Finding>,
) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    let (mut count, mut bytes, mut pixels) = (0u64, 0u64, 0u64);
    for i in group {
        let photo = &photos[i];
        let photo_pixels = photo.frame.map_or(UNKNOWN_FRAME_PIXELS, FrameSize::pixels);
        let previous = out.last().and_then(|s| s.last()).copied();
        let mut reason = None;
        if let Some(limit) = rules.limits.images
            && count + 1 > limit
        {
            reason = Some(Cut::Images { limit });
        }
        if reason.is_none()
            && cut_at_time
            && let Some(p) = previous
        {
            let gap = times[i] - times[p];
            if rules.cutoff_time < gap {
                reason = Some(Cut::TimeGap {
                    seconds: gap,
                    cutoff: rules.cutoff_time,
                });
            }
        }
        if reason.is_none()
            && let Some(limit) = rules.limits.bytes
            && bytes.saturating_add(photo.bytes) > limit
        {
            reason = Some(Cut::Bytes { limit });
        }
        if reason.is_none()
            && let Some(limit) = rules.limits.pixels
            && pixels.saturating_add(photo_pixels) > limit
        {
            reason = Some(Cut::Pixels { limit });
        }
        match (reason, out.last_mut()) {
            (None, Some(current)) => {
                current.push(i);
                count += 1;
                bytes = bytes.saturating_add(photo.bytes);
                pixels = pixels.saturating_add(photo_pixels);
            }
            (reason, _) => {
                // A cut before the very first photo is no cut (a single
                // photo over a limit stays a sequence of its own).
                if let (Some(reason), Some(_)) = (reason, previous) {
                    findings.push(Finding::Cut {
                        before: photo.path.clone(),
                        reason,
                    });
                }
                out.push(vec![i]);
                count = 1;
                bytes = photo.bytes;
                pixels = photo_pixels;
            }
        }
    }
    out
}

/// Groups by folder and camera (make, model, id and image size), groups in
/// order of their first photo.
fn group_by_folder_and_camera(photos: &[Photo]) -> Vec<Vec<usize>> {
    type Key<'a> = (Option<&'a Path>, &'a [Option<String>; 3], Option<FrameSize>);
    let mut groups: BTreeMap<Key<'_>, Vec<usize>> = BTreeMap::new();
    for (i, p) in photos.iter().enumerate() {
        groups
            .entry((p.path.parent(), &p.camera, p.frame))
            .or_default()
            .push(i);
    }
    let mut groups: Vec<Vec<usize>> = groups.into_values().collect();
    groups.sort_by_key(|g| g[0]);
    groups
}

/// The average speed along a sequence in m/s: the distance from photo to
/// photo over the time from the first to the last; `None` for fewer than
/// two photos or no time between them (the official client then cannot
/// tell, and refuses nothing).
fn average_speed(photos: &[Photo], times: &[f64], sequence: &[usize]) -> Option<f64> {
    let (&first, &last) = (sequence.first()?, sequence.last()?);
    let seconds = times[last] - times[first];
    if sequence.len() < 2 || seconds == 0.0 {
        return None;
    }
    let metres: f64 = sequence
        .windows(2)
        .map(|w| chord_distance(photos[w[0]].position, photos[w[1]].position))
        .sum();
    Some(metres / seconds)
}

/// Applies the rules to `photos` (see the module documentation).
pub fn form(photos: &[Photo], rules: &Rules, forming: Forming) -> Formed {
    let mut findings = Vec::new();
    let groups = match forming {
        Forming::Cut => group_by_folder_and_camera(photos),
        Forming::One if photos.is_empty() => Vec::new(),
        Forming::One => vec![(0..photos.len()).collect()],
    };
    let mut times = vec![0.0; photos.len()];
    let mut sequences = Vec::new();
    for mut group in groups {
        group.sort_by(|&a, &b| capture_order(photos, a, b));
        rule_times(photos, &group, &mut times);
        sequences.extend(split_at_limits_and_time(
            photos,
            &times,
            group,
            rules,
            forming == Forming::Cut,
            &mut findings,
        ));
    }

    let mut null_island = Vec::new();
    for sequence in &mut sequences {
        sequence.retain(|&i| {
            let p = photos[i].position;
            let at_null_island = p.lat == 0.0 && p.lon == 0.0;
            if at_null_island {
                null_island.push(i);
            }
            !at_null_island
        });
    }
    sequences.retain(|s| !s.is_empty());

    let mut duplicates = Vec::new();
    for sequence in &mut sequences {
        let mut kept: Vec<usize> = Vec::with_capacity(sequence.len());
        for &i in sequence.iter() {
            let duplicate = kept.last().is_some_and(|&previous| {
                let (a, b) = (&photos[previous], &photos[i]);
                chord_distance(a.position, b.position) <= rules.duplicate_distance
                    && match (a.heading, b.heading) {
                        (Some(x), Some(y)) => heading_difference(x, y) <= rules.duplicate_angle,
                        _ => true,
                    }
            });
            if duplicate {
                duplicates.push(i);
            } else {
                kept.push(i);
            }
        }
        *sequence = kept;
    }

    let mut too_fast = Vec::new();
    let mut fast_sequences = 0;
    let mut fastest = 0.0f64;
    sequences.retain(|s| match average_speed(photos, &times, s) {
        Some(speed) if speed * 3.6 > rules.max_speed_kmh => {
            too_fast.extend_from_slice(s);
            fast_sequences += 1;
            fastest = fastest.max(speed * 3.6);
            false
        }
        _ => true,
    });

    if forming == Forming::Cut {
        let mut cut = Vec::with_capacity(sequences.len());
        for sequence in sequences {
            let mut current: Vec<usize> = Vec::new();
            for i in sequence {
                if let Some(&previous) = current.last() {
                    let metres = chord_distance(photos[previous].position, photos[i].position);
                    if rules.cutoff_distance < metres {
                        findings.push(Finding::Cut {
                            before: photos[i].path.clone(),
                            reason: Cut::DistanceGap {
                                metres,
                                cutoff: rules.cutoff_distance,
                            },
                        });
                        cut.push(std::mem::take(&mut current));
                    }
                }
                current.push(i);
            }
            cut.push(current);
        }
        sequences = cut;
    }
    sequences.sort_by(|a, b| capture_order(photos, a[0], b[0]));

    let mut left_out = Vec::new();
    for (indices, reason) in [
        (null_island, LeftOut::NullIsland),
        (
            duplicates,
            LeftOut::Duplicate {
                distance: rules.duplicate_distance,
                angle: rules.duplicate_angle,
            },
        ),
        (
            too_fast,
            LeftOut::TooFast {
                sequences: fast_sequences,
                speed_kmh: fastest,
                limit_kmh: rules.max_speed_kmh,
            },
        ),
    ] {
        if indices.is_empty() {
            continue;
        }
        findings.push(Finding::LeftOut {
            photos: indices.iter().map(|&i| photos[i].path.clone()).collect(),
            reason,
        });
        left_out.extend(indices);
    }
    left_out.sort_unstable();
    Formed {
        sequences,
        left_out,
        findings,
    }
}

/// Adds `new` to `findings`: photos left out for the same reason join
/// that reason's finding (one message per reason, however many sequences
/// were checked).
pub fn merge_findings(findings: &mut Vec<Finding>, new: Vec<Finding>) {
    for finding in new {
        let Finding::LeftOut { photos, reason } = finding else {
            findings.push(finding);
            continue;
        };
        let same = findings.iter_mut().find_map(|f| match f {
            Finding::LeftOut {
                photos: p,
                reason: r,
            } if std::mem::discriminant(r) == std::mem::discriminant(&reason) => Some((p, r)),
            _ => None,
        });
        match same {
            Some((p, r)) => {
                p.extend(photos);
                if let (
                    LeftOut::TooFast {
                        sequences,
                        speed_kmh,
                        ..
                    },
                    LeftOut::TooFast {
                        sequences: more,
                        speed_kmh: speed,
                        ..
                    },
                ) = (r, reason)
                {
                    *sequences += more;
                    *speed_kmh = speed_kmh.max(speed);
                }
            }
            None => findings.push(Finding::LeftOut { photos, reason }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A photo `second`s after 2021-06-01 10:00 UTC, `north` metres north of
    /// 52.5 N 13.4 E (about 1.1e-5 degrees a metre).
    fn photo(name: &str, second: f64, north: f64) -> Photo {
        Photo {
            path: PathBuf::from(name),
            time: Timestamp::from_millisecond(1_622_541_600_000 + (second * 1000.0) as i64)
                .unwrap(),
            position: LatLon::new(52.5 + north / 111_250.0, 13.4),
            heading: None,
            bytes: 1000,
            frame: Some(FrameSize {
                width: 100,
                height: 10,
            }),
            camera: Default::default(),
        }
    }

    fn names(photos: &[Photo], formed: &Formed) -> Vec<Vec<String>> {
        formed
            .sequences
            .iter()
            .map(|s| {
                s.iter()
                    .map(|&i| photos[i].path.to_string_lossy().into_owned())
                    .collect()
            })
            .collect()
    }

    fn sizes(formed: &Formed) -> Vec<usize> {
        formed.sequences.iter().map(Vec::len).collect()
    }

    #[test]
    fn twenty_photos_with_a_ten_minute_pause_are_two_sequences() {
        // 10 photos 20 s apart, a 10-minute pause, 10 more: 16 minutes in
        // all, walking 1 m/s.
        let photos: Vec<Photo> = (0..20)
            .map(|i| {
                let t = f64::from(i) * 20.0 + if i >= 10 { 600.0 - 20.0 } else { 0.0 };
                photo(&format!("trip/{i:02}.jpg"), t, f64::from(i) * 20.0)
            })
            .collect();
        let last = photos[19].time.duration_since(photos[0].time);
        assert_eq!(last.as_secs(), 16 * 60);
        let formed = form(&photos, &Rules::default(), Forming::Cut);
        assert_eq!(sizes(&formed), [10, 10]);
        assert_eq!(
            formed.findings,
            [Finding::Cut {
                before: PathBuf::from("trip/10.jpg"),
                reason: Cut::TimeGap {
                    seconds: 600.0,
                    cutoff: 60.0
                }
            }]
        );
        assert!(formed.left_out.is_empty());
        // Given as one sequence, they stay one.
        let one = form(&photos, &Rules::default(), Forming::One);
        assert_eq!(sizes(&one), [20]);
        assert!(one.findings.is_empty());
    }

    #[test]
    fn gaps_cut_only_when_longer_than_the_cutoff() {
        let photos = [
            photo("a", 0.0, 0.0),
            photo("b", 60.0, 50.0),
            photo("c", 120.5, 100.0),
            photo("d", 150.0, 190.0),
            photo("e", 180.0, 300.5),
        ];
        let formed = form(&photos, &Rules::default(), Forming::Cut);
        assert_eq!(
            names(&photos, &formed),
            [vec!["a", "b"], vec!["c", "d"], vec!["e"]]
        );
        assert!(matches!(
            formed.findings[0],
            Finding::Cut {
                reason: Cut::TimeGap { .. },
                ..
            }
        ));
        match &formed.findings[1] {
            Finding::Cut {
                before,
                reason: Cut::DistanceGap { metres, cutoff },
            } => {
                assert_eq!(before, Path::new("e"));
                assert!((metres - 110.5).abs() < 0.3, "{metres}");
                assert_eq!(*cutoff, 100.0);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn each_limit_splits_and_says_so() {
        let photos: Vec<Photo> = (0..7)
            .map(|i| photo(&format!("{i}"), f64::from(i), f64::from(i)))
            .collect();
        let small = |limits: Limits| Rules {
            limits,
            ..Rules::default()
        };
        let none = Limits {
            images: None,
            bytes: None,
            pixels: None,
        };
        let by_images = form(
            &photos,
            &small(Limits {
                images: Some(3),
                ..none
            }),
            Forming::One,
        );
        assert_eq!(sizes(&by_images), [3, 3, 1]);
        assert_eq!(
            by_images.findings[0],
            Finding::Cut {
                before: PathBuf::from("3"),
                reason: Cut::Images { limit: 3 }
            }
        );
        // 1000 bytes a photo: 2500 allows two.
        let by_bytes = form(
            &photos,
            &small(Limits {
                bytes: Some(2500),
                ..none
            }),
            Forming::Cut,
        );
        assert_eq!(sizes(&by_bytes), [2, 2, 2, 1]);
        assert!(by_bytes.findings.iter().all(|f| matches!(
            f,
            Finding::Cut {
                reason: Cut::Bytes { limit: 2500 },
                ..
            }
        )));
        // 1000 pixels a photo; one without a known size counts 1024 × 1024.
        let by_pixels = form(
            &photos,
            &small(Limits {
                pixels: Some(4000),
                ..none
            }),
            Forming::One,
        );
        assert_eq!(sizes(&by_pixels), [4, 3]);
        let mut unknown = photos.clone();
        unknown[1].frame = None;
        let by_pixels = form(
            &unknown,
            &small(Limits {
                pixels: Some(1_049_000),
                ..none
            }),
            Forming::One,
        );
        assert_eq!(sizes(&by_pixels), [1, 1, 5]);
        // A photo larger than the limit on its own is still a sequence.
        let tiny = form(
            &photos[..2],
            &small(Limits {
                bytes: Some(10),
                ..none
            }),
            Forming::One,
        );
        assert_eq!(sizes(&tiny), [1, 1]);
        assert_eq!(tiny.findings.len(), 1);
    }

    #[test]
    fn duplicates_are_measured_from_the_photo_kept_before() {
        let mut photos = vec![
            photo("a", 0.0, 0.0),
            photo("b", 1.0, 0.05),
            photo("c", 2.0, 0.09),
            photo("d", 3.0, 0.14),
            photo("e", 4.0, 0.3),
        ];
        // b and c are within 0.1 m of a (no headings: distance alone); d is
        // 0.14 m from a, so it is kept; e too.
        let formed = form(&photos, &Rules::default(), Forming::Cut);
        assert_eq!(names(&photos, &formed), [vec!["a", "d", "e"]]);
        assert_eq!(formed.left_out, [1, 2]);
        assert_eq!(
            formed.findings,
            [Finding::LeftOut {
                photos: vec![PathBuf::from("b"), PathBuf::from("c")],
                reason: LeftOut::Duplicate {
                    distance: 0.1,
                    angle: 5.0
                }
            }]
        );
        // With headings, a turn of more than 5 degrees is not a duplicate;
        // 358 and 2 degrees are 4 apart.
        photos[0].heading = Some(358.0);
        photos[1].heading = Some(2.0);
        photos[2].heading = Some(10.0);
        let formed = form(&photos, &Rules::default(), Forming::One);
        assert_eq!(names(&photos, &formed), [vec!["a", "c", "e"]]);
        // A negative distance turns the check off.
        let off = Rules {
            duplicate_distance: -1.0,
            ..Rules::default()
        };
        assert_eq!(sizes(&form(&photos, &off, Forming::Cut)), [5]);
    }

    #[test]
    fn null_island_and_too_fast_are_left_out_with_the_reason() {
        let mut photos = vec![
            photo("a", 0.0, 0.0),
            photo("b", 10.0, 10.0),
            photo("c", 20.0, 20.0),
        ];
        photos[1].position = LatLon::new(0.0, 0.0);
        let formed = form(&photos, &Rules::default(), Forming::Cut);
        assert_eq!(names(&photos, &formed), [vec!["a", "c"]]);
        assert_eq!(
            formed.findings,
            [Finding::LeftOut {
                photos: vec![PathBuf::from("b")],
                reason: LeftOut::NullIsland
            }]
        );
        // 2 km in 10 s: 720 km/h.
        let fast = [photo("x", 0.0, 0.0), photo("y", 10.0, 2000.0)];
        let rules = Rules {
            cutoff_distance: f64::INFINITY,
            ..Rules::default()
        };
        let formed = form(&fast, &rules, Forming::Cut);
        assert!(formed.sequences.is_empty());
        assert_eq!(formed.left_out, [0, 1]);
        match &formed.findings[..] {
            [
                Finding::LeftOut {
                    photos,
                    reason:
                        LeftOut::TooFast {
                            sequences: 1,
                            speed_kmh,
                            limit_kmh,
                        },
                },
            ] => {
                assert_eq!(photos.len(), 2);
                assert!((speed_kmh - 720.0).abs() < 2.0, "{speed_kmh}");
                assert_eq!(*limit_kmh, 400.0);
            }
            other => panic!("{other:?}"),
        }
        // The speed is checked before the distance cut, as the official
        // client does: with the default 100 m cutoff it is the same.
        assert!(
            form(&fast, &Rules::default(), Forming::Cut)
                .sequences
                .is_empty()
        );
        // Photos of the same millisecond are not infinitely fast: they are
        // spread over the next second.
        let same = [photo("p", 5.0, 0.0), photo("q", 5.0, 10.0)];
        assert_eq!(sizes(&form(&same, &Rules::default(), Forming::Cut)), [2]);
        let same = [photo("p", 5.0, 0.0), photo("q", 5.0, 200.0)];
        assert!(
            form(&same, &rules, Forming::Cut).sequences.is_empty(),
            "200 m in half a second"
        );
    }

    #[test]
    fn photos_of_other_folders_and_cameras_are_other_sequences() {
        let mut photos = vec![
            photo("day1/a", 0.0, 0.0),
            photo("day2/b", 1.0, 1.0),
            photo("day1/c", 2.0, 2.0),
            photo("day1/d", 3.0, 3.0),
        ];
        photos[3].camera[1] = Some("Other model".to_string());
        let formed = form(&photos, &Rules::default(), Forming::Cut);
        assert_eq!(
            names(&photos, &formed),
            [vec!["day1/a", "day1/c"], vec!["day2/b"], vec!["day1/d"]]
        );
        assert_eq!(sizes(&form(&photos, &Rules::default(), Forming::One)), [4]);
        assert!(
            form(&[], &Rules::default(), Forming::One)
                .sequences
                .is_empty()
        );
    }

    #[test]
    fn the_variables_change_the_rules() {
        let env = Environment::with(
            &[
                ("MAPILLARY_TOOLS_CUTOFF_TIME", " 30 "),
                ("MAPILLARY_TOOLS_CUTOFF_DISTANCE", "inf"),
                ("MAPILLARY_TOOLS_MAX_SEQUENCE_LENGTH", "5"),
                ("MAPILLARY_TOOLS_MAX_SEQUENCE_FILESIZE", "2M"),
                ("MAPILLARY_TOOLS_MAX_SEQUENCE_PIXELS", "3mp"),
            ],
            None,
        );
        let rules = Rules::from_env(&env).unwrap();
        assert_eq!(rules.cutoff_time, 30.0);
        assert_eq!(rules.cutoff_distance, f64::INFINITY);
        assert_eq!(rules.limits.images, Some(5));
        assert_eq!(rules.limits.bytes, Some(2 << 20));
        assert_eq!(rules.limits.pixels, Some(3_000_000));
        assert_eq!(rules.duplicate_distance, 0.1);
        let env = Environment::with(&[("MAPILLARY_TOOLS_MAX_SEQUENCE_PIXELS", "INF")], None);
        assert_eq!(Rules::from_env(&env).unwrap().limits.pixels, None);
        assert_eq!(
            Rules::from_env(&Environment::with(&[], None)),
            Ok(Rules::default())
        );
        assert_eq!(Rules::default().limits.bytes, Some(118_111_600_640));
        for (variable, value) in [
            ("MAPILLARY_TOOLS_CUTOFF_TIME", "soon"),
            ("MAPILLARY_TOOLS_DUPLICATE_ANGLE", "nan"),
            ("MAPILLARY_TOOLS_MAX_SEQUENCE_LENGTH", "1e3"),
            ("MAPILLARY_TOOLS_MAX_SEQUENCE_FILESIZE", "12T"),
        ] {
            let err = Rules::from_env(&Environment::with(&[(variable, value)], None)).unwrap_err();
            assert_eq!(err.variable, variable);
            assert!(
                err.to_string().starts_with(&format!("{variable}=")),
                "{err}"
            );
        }
    }

    #[test]
    fn every_photo_is_in_one_sequence_or_left_out() {
        // A mix: duplicates, a pause, a jump, null island, a fast stretch.
        let mut photos: Vec<Photo> = (0..40u32)
            .map(|i| {
                let t = f64::from(i * 3 + (i / 13) * 100);
                photo(&format!("m/{i:03}"), t, f64::from((i * 7) % 250))
            })
            .collect();
        photos[5].position = LatLon::new(0.0, 0.0);
        photos[6].position = photos[7].position;
        let rules = Rules {
            limits: Limits {
                images: Some(4),
                ..Rules::default().limits
            },
            ..Rules::default()
        };
        for forming in [Forming::Cut, Forming::One] {
            let formed = form(&photos, &rules, forming);
            let mut seen: Vec<usize> = formed.sequences.iter().flatten().copied().collect();
            seen.extend(&formed.left_out);
            seen.sort_unstable();
            assert_eq!(seen, (0..40).collect::<Vec<_>>(), "{forming:?}");
            let named: usize = formed
                .findings
                .iter()
                .map(|f| match f {
                    Finding::LeftOut { photos, .. } => photos.len(),
                    Finding::Cut { .. } => 0,
                })
                .sum();
            assert_eq!(named, formed.left_out.len());
            assert!(
                formed
                    .sequences
                    .iter()
                    .all(|s| !s.is_empty() && s.len() <= 4)
            );
        }
    }

    #[test]
    fn findings_of_one_reason_merge() {
        let fast = |name: &str, speed_kmh| Finding::LeftOut {
            photos: vec![PathBuf::from(name)],
            reason: LeftOut::TooFast {
                sequences: 1,
                speed_kmh,
                limit_kmh: 400.0,
            },
        };
        let cut = Finding::Cut {
            before: PathBuf::from("c"),
            reason: Cut::Images { limit: 2 },
        };
        let mut all = Vec::new();
        merge_findings(&mut all, vec![fast("a", 500.0), cut.clone()]);
        merge_findings(
            &mut all,
            vec![
                fast("b", 900.0),
                Finding::LeftOut {
                    photos: vec![PathBuf::from("d")],
                    reason: LeftOut::NullIsland,
                },
            ],
        );
        assert_eq!(
            all,
            [
                Finding::LeftOut {
                    photos: vec![PathBuf::from("a"), PathBuf::from("b")],
                    reason: LeftOut::TooFast {
                        sequences: 2,
                        speed_kmh: 900.0,
                        limit_kmh: 400.0
                    }
                },
                cut,
                Finding::LeftOut {
                    photos: vec![PathBuf::from("d")],
                    reason: LeftOut::NullIsland
                }
            ]
        );
    }

    #[test]
    fn chord_distance_is_metres() {
        let a = LatLon::new(42.1, -11.1);
        let b = LatLon::new(42.2, -11.3);
        let d = chord_distance(a, b);
        assert!((19_000.0..20_000.0).contains(&d), "{d}");
        assert_eq!(chord_distance(a, a), 0.0);
        assert!((heading_difference(350.0, 10.0) - 20.0).abs() < 1e-9);
        assert!((heading_difference(10.0, 350.0) - 20.0).abs() < 1e-9);
    }
}
