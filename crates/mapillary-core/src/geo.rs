//! GPS math: bearings, distances, interpolation between fixes, and the
//! degrees/minutes/seconds rationals EXIF stores coordinates in.
//!
//! Positions are WGS-84 decimal degrees, latitude north-positive and
//! longitude east-positive, always named `lat` and `lon`; distances are in
//! metres; angles in degrees, clockwise from true north.

use crate::exif::Value;

/// Mean Earth radius (IUGG), in metres.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// A position in decimal degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatLon {
    /// Latitude, −90 to 90, north positive.
    pub lat: f64,
    /// Longitude, −180 to 180, east positive.
    pub lon: f64,
}

impl LatLon {
    /// A position.
    pub const fn new(lat: f64, lon: f64) -> LatLon {
        LatLon { lat, lon }
    }
}

/// An angle normalised to [0, 360).
pub fn normalize_degrees(angle: f64) -> f64 {
    let a = angle.rem_euclid(360.0);
    // rem_euclid can return 360.0 for tiny negative inputs.
    if a >= 360.0 { 0.0 } else { a }
}

/// A longitude normalised to [−180, 180).
pub fn normalize_lon(lon: f64) -> f64 {
    let l = (lon + 180.0).rem_euclid(360.0) - 180.0;
    if l >= 180.0 { l - 360.0 } else { l }
}

/// The initial great-circle bearing from `a` to `b`, in degrees [0, 360),
/// clockwise from true north. 0 when the points coincide.
pub fn bearing(a: LatLon, b: LatLon) -> f64 {
    let (phi1, phi2) = (a.lat.to_radians(), b.lat.to_radians());
    let dl = (b.lon - a.lon).to_radians();
    let y = dl.sin() * phi2.cos();
    let x = phi1.cos() * phi2.sin() - phi1.sin() * phi2.cos() * dl.cos();
    if x == 0.0 && y == 0.0 {
        return 0.0;
    }
    normalize_degrees(y.atan2(x).to_degrees())
}

/// The great-circle distance from `a` to `b` (haversine), in metres.
pub fn distance(a: LatLon, b: LatLon) -> f64 {
    let (phi1, phi2) = (a.lat.to_radians(), b.lat.to_radians());
    let dphi = phi2 - phi1;
    let dl = (b.lon - a.lon).to_radians();
    let h = (dphi / 2.0).sin().powi(2) + phi1.cos() * phi2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
}

/// The point `fraction` (0 to 1) of the way from `a` to `b`, interpolated
/// linearly in latitude and longitude, as exiftool and the 2015 tools do
/// over the short distances between track points. Across the antimeridian
/// the short way round is taken (179.9° to −179.9° passes 180°).
pub fn interpolate(a: LatLon, b: LatLon, fraction: f64) -> LatLon {
    let mut dlon = b.lon - a.lon;
    if dlon > 180.0 {
        dlon -= 360.0;
    } else if dlon < -180.0 {
        dlon += 360.0;
    }
    LatLon {
        lat: a.lat + (b.lat - a.lat) * fraction,
        lon: normalize_lon(a.lon + dlon * fraction),
    }
}

/// Seconds of arc are stored as `n / SECONDS_DENOMINATOR`: 1e-6″ is
/// 3e-11 degrees, far below the 1e-7 the tools promise.
pub const SECONDS_DENOMINATOR: u32 = 1_000_000;

/// A coordinate as EXIF stores it: degrees, minutes, seconds (RATIONAL[3])
/// and the hemisphere letter (`N`/`S` or `E`/`W`).
pub fn to_exif_dms(degrees: f64, positive: char, negative: char) -> (Value, String) {
    let reference = if degrees < 0.0 { negative } else { positive };
    // Round once, on the whole value in micro-arcseconds, so that seconds
    // never round up to 60.
    let total = (degrees.abs() * 3600.0 * f64::from(SECONDS_DENOMINATOR)).round() as u64;
    let per_degree = 3600 * u64::from(SECONDS_DENOMINATOR);
    let per_minute = 60 * u64::from(SECONDS_DENOMINATOR);
    let d = total / per_degree;
    let m = (total % per_degree) / per_minute;
    let s = total % per_minute;
    (
        Value::Rational(vec![
            (u32::try_from(d).unwrap_or(u32::MAX), 1),
            (u32::try_from(m).unwrap_or(0), 1),
            (u32::try_from(s).unwrap_or(0), SECONDS_DENOMINATOR),
        ]),
        reference.to_string(),
    )
}

/// Degrees from EXIF degrees/minutes/seconds and the hemisphere letter.
pub fn from_exif_dms(parts: &[f64], reference: &str, negative: char) -> Option<f64> {
    let d = parts.first()?
        + parts.get(1).unwrap_or(&0.0) / 60.0
        + parts.get(2).unwrap_or(&0.0) / 3600.0;
    let negative_ref = reference
        .trim()
        .chars()
        .next()
        .is_some_and(|c| c.eq_ignore_ascii_case(&negative));
    d.is_finite().then_some(if negative_ref { -d } else { d })
}

/// A non-negative value as one RATIONAL with `denominator` (altitude in
/// millimetres: 1000; direction in hundredths of a degree: 100).
pub fn to_rational(value: f64, denominator: u32) -> Value {
    let n = (value.abs() * f64::from(denominator)).round();
    Value::Rational(vec![(n.min(f64::from(u32::MAX)) as u32, denominator)])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn bearings_in_every_direction_and_hemisphere() {
        // On the equator, due east and due west.
        assert!(close(
            bearing(LatLon::new(0.0, 0.0), LatLon::new(0.0, 1.0)),
            90.0,
            1e-9
        ));
        assert!(close(
            bearing(LatLon::new(0.0, 0.0), LatLon::new(0.0, -1.0)),
            270.0,
            1e-9
        ));
        // Along a meridian, north and south, in both hemispheres.
        assert!(close(
            bearing(LatLon::new(-34.6, -58.4), LatLon::new(-34.5, -58.4)),
            0.0,
            1e-9
        ));
        assert!(close(
            bearing(LatLon::new(52.5, 13.4), LatLon::new(52.4, 13.4)),
            180.0,
            1e-9
        ));
        // Berlin to Paris (NE hemisphere): atan2(y, x) with
        // y = sin(-11.048°)·cos(48.857°) = -0.126 082,
        // x = cos(52.52°)·sin(48.857°) − sin(52.52°)·cos(48.857°)·cos(-11.048°)
        //   = 0.458 231 − 0.512 443 = -0.054 211 → 246.7338°.
        let b = bearing(LatLon::new(52.52, 13.405), LatLon::new(48.857, 2.357));
        assert!(close(b, 246.7338, 1e-4), "{b}");
        // Sydney to Auckland (SE): y = sin(23.55°)·cos(-36.85°) = 0.319 723,
        // x = cos(-33.87°)·sin(-36.85°) − sin(-33.87°)·cos(-36.85°)·cos(23.55°)
        //   = -0.497 952 + 0.408 821 = -0.089 131 → 105.5772°.
        let b = bearing(LatLon::new(-33.87, 151.21), LatLon::new(-36.85, 174.76));
        assert!(close(b, 105.5772, 1e-4), "{b}");
        // Across the antimeridian eastwards (Fiji, 179.9 E to 179.9 W): east.
        // (Not exactly 90°: a great circle leaves a parallel.)
        let b = bearing(LatLon::new(-16.8, 179.9), LatLon::new(-16.8, -179.9));
        assert!(close(b, 90.0289, 1e-4), "{b}");
        assert!(close(
            bearing(LatLon::new(-16.8, -179.9), LatLon::new(-16.8, 179.9)),
            270.0,
            0.1
        ));
        assert_eq!(bearing(LatLon::new(1.0, 1.0), LatLon::new(1.0, 1.0)), 0.0);
    }

    #[test]
    fn distances() {
        // One degree of longitude on the equator: 2πR/360.
        let d = distance(LatLon::new(0.0, 0.0), LatLon::new(0.0, 1.0));
        assert!(
            close(d, 2.0 * std::f64::consts::PI * EARTH_RADIUS_M / 360.0, 1e-6),
            "{d}"
        );
        // Across the antimeridian: 0.2° of longitude at 16.8° S.
        let d = distance(LatLon::new(-16.8, 179.9), LatLon::new(-16.8, -179.9));
        assert!(
            close(d, 0.2 * 111_195.08 * (16.8f64).to_radians().cos(), 1.0),
            "{d}"
        );
    }

    #[test]
    fn interpolation_takes_the_short_way() {
        let p = interpolate(LatLon::new(10.0, 20.0), LatLon::new(11.0, 22.0), 0.25);
        assert!(close(p.lat, 10.25, 1e-12) && close(p.lon, 20.5, 1e-12));
        let p = interpolate(LatLon::new(-16.8, 179.9), LatLon::new(-16.6, -179.9), 0.5);
        assert!(close(p.lat, -16.7, 1e-12));
        assert!(close(p.lon.abs(), 180.0, 1e-9), "{p:?}");
        let p = interpolate(LatLon::new(0.0, 179.9), LatLon::new(0.0, -179.9), 0.75);
        assert!(close(p.lon, -179.95, 1e-9), "{p:?}");
        let p = interpolate(LatLon::new(0.0, -179.9), LatLon::new(0.0, 179.9), 0.75);
        assert!(close(p.lon, 179.95, 1e-9), "{p:?}");
    }

    #[test]
    fn dms_round_trip_to_better_than_1e_7_degrees() {
        let mut worst = 0.0f64;
        let mut v: f64 = -180.0;
        while v <= 180.0 {
            for extra in [0.0, 1e-9, 0.999_999_99 / 60.0, 59.999_999_99 / 3600.0] {
                let x = (v + extra).clamp(-180.0, 180.0);
                let (dms, r) = to_exif_dms(x, 'E', 'W');
                let parts = dms.rationals().unwrap();
                assert!(parts[1] < 60.0 && parts[2] < 60.0, "{x}: {parts:?}");
                let back = from_exif_dms(&parts, &r, 'W').unwrap();
                worst = worst.max((back - x).abs());
            }
            v += 0.731;
        }
        assert!(worst < 1e-9, "worst round trip error {worst}");
        let (dms, r) = to_exif_dms(-33.5, 'N', 'S');
        assert_eq!(r, "S");
        assert_eq!(
            dms,
            Value::Rational(vec![(33, 1), (30, 1), (0, SECONDS_DENOMINATOR)])
        );
    }

    #[test]
    fn normalising() {
        assert_eq!(normalize_degrees(-90.0), 270.0);
        assert_eq!(normalize_degrees(720.5), 0.5);
        assert_eq!(normalize_degrees(-1e-20), 0.0);
        assert_eq!(normalize_lon(180.0), -180.0);
        assert_eq!(normalize_lon(-190.0), 170.0);
        assert_eq!(
            to_rational(12.3456, 1000),
            Value::Rational(vec![(12346, 1000)])
        );
    }
}
