//! Ordering photos by capture time and cutting them into sequences where
//! the photographer paused: the legacy time_split rule here, the rules of
//! the official client that every tool forming or uploading a sequence
//! applies in [`rules`], what they read from a photo file in [`frame`], and
//! the sequences of a tagging run in [`tagging`].

pub mod frame;
pub mod rules;
pub mod tagging;

use std::ops::Range;
use std::path::{Path, PathBuf};

use jiff::Timestamp;

use crate::geo::{LatLon, bearing, distance, normalize_degrees};

/// The MAPSequenceUUID a description is built with before the sequence
/// rules have named its sequence (a valid id, replaced before anything is
/// written or sent).
pub const PLACEHOLDER_ID: &str = "unnamed";

/// A new random sequence UUID (version 4), for one run or one folder.
pub fn new_sequence_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Whether `id` may be used as a MAPSequenceUUID: letters, digits, `_`
/// and `-` (the schema's pattern).
pub fn is_valid_sequence_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A photo with the instant it was taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimedPhoto {
    /// Where the photo is.
    pub path: PathBuf,
    /// When it was taken (UTC instant).
    pub time: Timestamp,
}

/// Sorts photos by capture time; photos taken at the same instant keep
/// their path order.
pub fn sort_by_time(photos: &mut [TimedPhoto]) {
    photos.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.path.cmp(&b.path)));
}

/// The gaps between consecutive photos (sorted by time), in seconds.
pub fn gaps(photos: &[TimedPhoto]) -> Vec<f64> {
    photos
        .windows(2)
        .map(|w| w[1].time.duration_since(w[0].time).as_secs_f64())
        .collect()
}

/// The median gap between consecutive photos (the mean of the two middle
/// gaps for an even count), in seconds; `None` for fewer than two photos.
pub fn median_gap(photos: &[TimedPhoto]) -> Option<f64> {
    let mut g = gaps(photos);
    if g.is_empty() {
        return None;
    }
    g.sort_by(f64::total_cmp);
    let mid = g.len() / 2;
    Some(if g.len() % 2 == 1 {
        g[mid]
    } else {
        (g[mid - 1] + g[mid]) / 2.0
    })
}

/// The legacy default cutoff: 1.5 × the median gap, in seconds.
pub fn default_cutoff(photos: &[TimedPhoto]) -> f64 {
    median_gap(photos).map_or(0.0, |m| 1.5 * m)
}

/// Splits time-sorted photos into runs: a new run starts wherever the gap
/// to the previous photo is longer than `cutoff` seconds.
pub fn split_at_gaps(photos: &[TimedPhoto], cutoff: f64) -> Vec<Range<usize>> {
    let mut runs = Vec::new();
    let mut start = 0;
    for (i, gap) in gaps(photos).into_iter().enumerate() {
        if gap > cutoff {
            runs.push(start..i + 1);
            start = i + 1;
        }
    }
    if start < photos.len() {
        runs.push(start..photos.len());
    }
    runs
}

/// The direction of each photo of a time-sorted sequence (the legacy
/// interpolate_direction rule): the bearing to the next photo at a
/// different position, plus `offset` degrees (90 for a camera looking
/// right, -90 for one looking left), normalised to [0, 360). Where no later
/// photo is elsewhere (the end of the sequence) a photo takes the direction
/// of the one before; a photo with neither (a lone photo, or all at one
/// spot) gets `offset` itself.
pub fn interpolate_directions(positions: &[LatLon], offset: f64) -> Vec<f64> {
    let moved = |a: LatLon, b: LatLon| distance(a, b) > 0.01;
    let mut out: Vec<f64> = Vec::with_capacity(positions.len());
    for (i, &here) in positions.iter().enumerate() {
        let next = positions[i + 1..].iter().find(|&&p| moved(here, p));
        let direction = match (next, out.last()) {
            (Some(&there), _) => normalize_degrees(bearing(here, there) + offset),
            (None, Some(&previous)) => previous,
            (None, None) => normalize_degrees(offset),
        };
        out.push(direction);
    }
    out
}

/// One group of a time split: its number, the folder it goes to, and the
/// photos (indices into the sorted list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitGroup {
    /// 0, 1, 2, ...: also the name of the subfolder.
    pub number: usize,
    /// `<folder of the group's first photo>/<number>`.
    pub folder: PathBuf,
    /// The photos, as indices into the time-sorted list.
    pub photos: Range<usize>,
}

/// The legacy time_split plan: group `n` goes into the subfolder `n` of the
/// folder that holds its first photo. `cutoff` (seconds) defaults to
/// 1.5 × the median gap. Returns the cutoff used and the groups.
///
/// A photo in a numbered subfolder (`0`, `1`, …) of a folder below `root`
/// counts as being in that folder: such subfolders are what an earlier run
/// made, so a run after an interrupted one finishes the job (photos already
/// in their group's subfolder stay) instead of nesting `0/0/`. A numbered
/// folder that is `root` itself is split like any other, so that
/// `time_split trip/0` splits one group further.
pub fn plan_time_split(
    sorted: &[TimedPhoto],
    cutoff: Option<f64>,
    root: &Path,
) -> (f64, Vec<SplitGroup>) {
    let cutoff = cutoff.unwrap_or_else(|| default_cutoff(sorted));
    let groups = split_at_gaps(sorted, cutoff)
        .into_iter()
        .enumerate()
        .map(|(number, photos)| SplitGroup {
            number,
            folder: split_base(&sorted[photos.start].path, root).join(number.to_string()),
            photos,
        })
        .collect();
    (cutoff, groups)
}

/// The folder whose numbered subfolders a photo is split into.
fn split_base<'p>(photo: &'p Path, root: &Path) -> &'p Path {
    let folder = photo.parent().unwrap_or(Path::new("."));
    let numbered = folder
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    match folder.parent() {
        Some(base) if numbered && folder != root && folder.starts_with(root) => base,
        _ => folder,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn photos(dir: &str, secs: &[i64]) -> Vec<TimedPhoto> {
        secs.iter()
            .enumerate()
            .map(|(i, s)| TimedPhoto {
                path: PathBuf::from(format!("{dir}/{i:03}.jpg")),
                time: Timestamp::from_second(1_600_000_000 + s).unwrap(),
            })
            .collect()
    }

    #[test]
    fn median_and_default_cutoff() {
        // Gaps 2, 2, 2, 60, 2: median 2, cutoff 3.
        let p = photos("a", &[0, 2, 4, 6, 66, 68]);
        assert_eq!(median_gap(&p), Some(2.0));
        assert_eq!(default_cutoff(&p), 3.0);
        // Even count: gaps 1, 3, 5, 7 → median 4.
        assert_eq!(median_gap(&photos("a", &[0, 1, 4, 9, 16])), Some(4.0));
        assert_eq!(median_gap(&photos("a", &[5])), None);
    }

    #[test]
    fn splits_where_the_gap_exceeds_the_cutoff() {
        let p = photos("trip", &[0, 2, 4, 6, 66, 68, 200]);
        let (cutoff, groups) = plan_time_split(&p, None, Path::new("trip"));
        assert_eq!(cutoff, 3.0);
        let ranges: Vec<_> = groups.iter().map(|g| g.photos.clone()).collect();
        assert_eq!(ranges, [0..4, 4..6, 6..7]);
        assert_eq!(groups[1].folder, PathBuf::from("trip/1"));
        // A gap equal to the cutoff does not split.
        let (_, groups) = plan_time_split(&p, Some(60.0), Path::new("trip"));
        assert_eq!(groups.len(), 2);
        assert!(plan_time_split(&[], None, Path::new("trip")).1.is_empty());
    }

    #[test]
    fn numbered_folders_below_the_root_are_an_earlier_run_s() {
        let mut p = photos("trip/0", &[0, 2]);
        p.extend(photos("trip", &[4, 6, 66, 68]));
        let (_, groups) = plan_time_split(&p, Some(10.0), Path::new("trip"));
        let folders: Vec<_> = groups.iter().map(|g| g.folder.clone()).collect();
        assert_eq!(folders, [PathBuf::from("trip/0"), PathBuf::from("trip/1")]);
        // Splitting one group further nests, as asked.
        let (_, groups) = plan_time_split(&p[..2], Some(1.0), Path::new("trip/0"));
        assert_eq!(groups[1].folder, PathBuf::from("trip/0/1"));
        // Named folders are not numbered ones.
        let (_, groups) = plan_time_split(&photos("trip/day1", &[0]), None, Path::new("trip"));
        assert_eq!(groups[0].folder, PathBuf::from("trip/day1/0"));
    }

    #[test]
    fn directions_along_a_sequence() {
        let p = |lat, lon| LatLon::new(lat, lon);
        // East, then a stop (two photos at one spot), then north.
        let positions = [p(0.0, 0.0), p(0.0, 0.001), p(0.0, 0.001), p(0.001, 0.001)];
        let d = interpolate_directions(&positions, 0.0);
        assert!((d[0] - 90.0).abs() < 1e-9);
        // Both stopped photos look to the next photo elsewhere: north.
        assert!(d[1].abs() < 1e-9 && d[2].abs() < 1e-9, "{d:?}");
        // The last takes the one before's.
        assert_eq!(d[3], d[2]);
        // A left-looking camera: -90 wraps to 270 + bearing.
        let d = interpolate_directions(&positions[..2], -90.0);
        assert!(
            (d[0] - 0.0).abs() < 1e-9 && (d[1] - 0.0).abs() < 1e-9,
            "{d:?}"
        );
        assert_eq!(interpolate_directions(&[p(1.0, 1.0)], -90.0), vec![270.0]);
        assert_eq!(
            interpolate_directions(&[p(1.0, 1.0), p(1.0, 1.0)], 45.0),
            vec![45.0, 45.0]
        );
        assert!(interpolate_directions(&[], 0.0).is_empty());
    }

    #[test]
    fn sequence_ids() {
        let a = new_sequence_uuid();
        assert_eq!(a.len(), 36);
        assert_ne!(a, new_sequence_uuid());
        assert!(is_valid_sequence_id(&a));
        assert!(!is_valid_sequence_id("a b"));
        assert!(!is_valid_sequence_id(""));
    }

    #[test]
    fn sorting_is_by_time_then_path() {
        let mut p = photos("x", &[5, 1, 5, 0]);
        sort_by_time(&mut p);
        let names: Vec<_> = p
            .iter()
            .map(|t| t.path.to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["x/003.jpg", "x/001.jpg", "x/000.jpg", "x/002.jpg"]);
    }
}
