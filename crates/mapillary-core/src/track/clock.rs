//! When photos miss the track: how far off they are, and which camera
//! clock offset would put them on it. A camera whose clock is an hour off
//! (a zone set wrong, summer time) puts every photo an hour before or after
//! the track; rather than one "skipped" line per photo, the tools say once
//! how far, and which `time_offset` fits.

use jiff::{SignedDuration, Timestamp};

use super::Track;

/// The offsets tried, coarsest first: whole hours (a zone set wrong),
/// quarter hours (zones such as +05:45), minutes, seconds.
const GRAINS: [i64; 4] = [3600, 900, 60, 1];

/// How many multiples of one grain are tried, nearest to zero first.
const TRIES_PER_GRAIN: i64 = 48;

/// The camera clock offset (seconds the camera is ahead of the GPS, as
/// `time_offset` takes it) that puts every photo of `times` on the track,
/// where `times` are the photos' times as they are placed now (camera time
/// minus the offset in use, UTC). `None` when they already all fit, when no
/// single offset fits them all (their span is longer than the track), or
/// when the offsets that would fit all leave some photo in a gap longer
/// than `max_gap`. The offset returned is to be added to the one in use.
///
/// Among the offsets that fit, a round one is preferred (whole hours, then
/// quarter hours, minutes, seconds), the smallest first.
pub fn fitting_offset(
    times: &[Timestamp],
    track: &Track,
    max_gap: SignedDuration,
) -> Option<SignedDuration> {
    let (first, last) = (track.points().first()?.time, track.points().last()?.time);
    let (&earliest, &latest) = (times.iter().min()?, times.iter().max()?);
    let fits = |shift: SignedDuration| {
        times.iter().all(|t| {
            t.checked_sub(shift)
                .is_ok_and(|t| track.locate(t, max_gap).is_ok())
        })
    };
    if fits(SignedDuration::ZERO) {
        return None;
    }
    // Every photo inside [first, last] once shifted: the shift lies in
    // [latest - last, earliest - first].
    let low = latest.duration_since(last).as_secs_f64().ceil() as i64;
    let high = earliest.duration_since(first).as_secs_f64().floor() as i64;
    if low > high {
        return None;
    }
    for grain in GRAINS {
        let mut candidates: Vec<i64> = (low.div_euclid(grain)..=high.div_euclid(grain) + 1)
            .map(|k| k * grain)
            .filter(|s| (low..=high).contains(s) && *s != 0)
            .collect();
        candidates.sort_by_key(|s| s.abs());
        for shift in candidates.into_iter().take(TRIES_PER_GRAIN as usize) {
            let shift = SignedDuration::from_secs(shift);
            if fits(shift) {
                return Some(shift);
            }
        }
    }
    None
}

/// A duration for people, in the unit that suits it: "45 s", "12.5 min",
/// "3.0 h", "2.5 days", "6.8 years" (of 365.25 days).
pub fn human(duration: SignedDuration) -> String {
    let s = duration.as_secs_f64().abs();
    if s < 90.0 {
        format!("{s:.0} s")
    } else if s < 3600.0 {
        format!("{:.1} min", s / 60.0)
    } else if s < 48.0 * 3600.0 {
        format!("{:.1} h", s / 3600.0)
    } else if s < 730.0 * 86400.0 {
        format!("{:.1} days", s / 86400.0)
    } else {
        format!("{:.1} years", s / (365.25 * 86400.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo::LatLon;
    use crate::track::TrackPoint;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(1_600_000_000 + s).unwrap()
    }

    /// A track from 0 to 600 s, a point every 10 s.
    fn track() -> Track {
        Track::from_points(
            (0..=60)
                .map(|i| TrackPoint {
                    time: at(i * 10),
                    position: LatLon::new(52.0 + i as f64 * 1e-4, 13.0),
                    elevation: None,
                })
                .collect(),
        )
    }

    const GAP: SignedDuration = SignedDuration::from_secs(1800);

    #[test]
    fn an_hour_ahead_is_found() {
        let times: Vec<Timestamp> = (0..20).map(|i| at(3600 + 100 + i * 10)).collect();
        assert_eq!(
            fitting_offset(&times, &track(), GAP),
            Some(SignedDuration::from_secs(3600))
        );
        // Behind: a negative offset.
        let behind: Vec<Timestamp> = (0..20).map(|i| at(-7200 + 100 + i * 10)).collect();
        assert_eq!(
            fitting_offset(&behind, &track(), GAP),
            Some(SignedDuration::from_secs(-7200))
        );
    }

    #[test]
    fn odd_offsets_get_the_roundest_value_that_fits() {
        // 123 s ahead, photos spanning 500 of the track's 600 s: any shift
        // in [23, 123] fits; the roundest is a whole minute.
        let times: Vec<Timestamp> = (0..=50).map(|i| at(123 + i * 10)).collect();
        assert_eq!(
            fitting_offset(&times, &track(), GAP),
            Some(SignedDuration::from_secs(60))
        );
    }

    #[test]
    fn no_offset_when_they_fit_or_cannot() {
        let inside: Vec<Timestamp> = (0..10).map(|i| at(i * 10)).collect();
        assert_eq!(fitting_offset(&inside, &track(), GAP), None);
        // Photos over 20 minutes cannot fit a 10-minute track.
        let long: Vec<Timestamp> = (0..=120).map(|i| at(5000 + i * 10)).collect();
        assert_eq!(fitting_offset(&long, &track(), GAP), None);
        assert_eq!(fitting_offset(&[], &track(), GAP), None);
    }

    #[test]
    fn durations_in_words() {
        let s = SignedDuration::from_secs;
        assert_eq!(human(s(45)), "45 s");
        assert_eq!(human(s(-750)), "12.5 min");
        assert_eq!(human(s(3600)), "1.0 h");
        assert_eq!(human(s(3 * 86400)), "3.0 days");
        assert_eq!(human(s(213_446_150)), "6.8 years");
    }
}
