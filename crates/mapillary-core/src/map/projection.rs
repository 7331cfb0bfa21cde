//! Web Mercator (EPSG:3857), the projection of the web's tile maps, so that
//! an OpenStreetMap background lines up with what is drawn.
//!
//! Positions come in as [`LatLon`]: WGS-84 decimal degrees, latitude
//! first. *World coordinates* are `(x, y)`, x first: x runs east from 0 at
//! 180° W to 1 at 180° E, y runs south from 0 at [`MAX_LATITUDE`] north to
//! 1 at as far south (down, as on a screen). At a scale of `s` pixels per
//! world, a position is at world pixel `(x·s, y·s)`, and the tiles of zoom
//! `z` are 256 pixels square when `s = 256·2^z` (tile `(tx, ty)` covers
//! world pixels `tx·256 … (tx+1)·256` across and `ty·256 … (ty+1)·256`
//! down).

use crate::geo::LatLon;

/// The latitude where Web Mercator is cut off (north and south), in
/// degrees: the one that makes the world square, `atan(sinh(π))`.
pub const MAX_LATITUDE: f64 = 85.051_128_779_806_59;

/// The sphere Web Mercator projects onto: WGS-84's equatorial radius, in
/// metres.
pub const MERCATOR_RADIUS_M: f64 = 6_378_137.0;

/// The largest scale a map is drawn at, in pixels per world: that of tile
/// zoom 18, where a pixel is about 0.6 m at the equator (a single photo is
/// shown at it rather than at an infinite zoom).
pub const MAX_SCALE: f64 = 256.0 * (1u64 << 18) as f64;

/// The world coordinates `(x, y)` of `p` (see the module's documentation);
/// latitudes beyond ±[`MAX_LATITUDE`] are drawn at the edge. The longitude
/// is taken as it is, so 190° gives x > 1 (for maps across the
/// antimeridian).
pub fn world(p: LatLon) -> (f64, f64) {
    let lat = p.lat.clamp(-MAX_LATITUDE, MAX_LATITUDE).to_radians();
    let x = (p.lon + 180.0) / 360.0;
    let y =
        0.5 - (std::f64::consts::FRAC_PI_4 + lat / 2.0).tan().ln() / (2.0 * std::f64::consts::PI);
    (x, y)
}

/// How many metres on the ground one pixel is at latitude `lat` (degrees)
/// on a map of `scale` pixels per world. Mercator stretches by `1/cos(lat)`,
/// so this holds only near that latitude.
pub fn metres_per_pixel(lat: f64, scale: f64) -> f64 {
    lat.to_radians().cos() * 2.0 * std::f64::consts::PI * MERCATOR_RADIUS_M / scale
}

/// The part of the world a picture shows: `width × height` pixels whose top
/// left corner is at world pixel `(left, top)`, at `scale` pixels per world.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct View {
    /// Pixels per world (256·2^zoom).
    pub scale: f64,
    /// World pixel of the picture's left edge.
    pub left: f64,
    /// World pixel of the picture's top edge.
    pub top: f64,
    /// The picture's width, in pixels.
    pub width: f64,
    /// The picture's height, in pixels.
    pub height: f64,
    /// Whether western longitudes are taken as 360° further east, so that
    /// a trip across the antimeridian is drawn in one piece (x > 1 there).
    pub across_antimeridian: bool,
}

impl View {
    /// The view of `width × height` pixels, `margin` pixels kept free on
    /// every side, that shows all of `positions` as large as possible (but
    /// not beyond [`MAX_SCALE`]), centred. With no position, the whole
    /// world.
    pub fn fit(
        positions: impl IntoIterator<Item = LatLon> + Clone,
        width: f64,
        height: f64,
        margin: f64,
    ) -> View {
        let across = crosses_antimeridian(positions.clone());
        let mut bounds: Option<(f64, f64, f64, f64)> = None;
        for p in positions {
            let (x, y) = world(unwrap_lon(p, across));
            bounds = Some(match bounds {
                None => (x, y, x, y),
                Some((x0, y0, x1, y1)) => (x0.min(x), y0.min(y), x1.max(x), y1.max(y)),
            });
        }
        let (x0, y0, x1, y1) = bounds.unwrap_or((0.0, 0.0, 1.0, 1.0));
        let room_x = (width - 2.0 * margin).max(1.0);
        let room_y = (height - 2.0 * margin).max(1.0);
        let scale_x = if x1 > x0 {
            room_x / (x1 - x0)
        } else {
            MAX_SCALE
        };
        let scale_y = if y1 > y0 {
            room_y / (y1 - y0)
        } else {
            MAX_SCALE
        };
        let scale = scale_x.min(scale_y).min(MAX_SCALE);
        let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
        View {
            scale,
            left: cx * scale - width / 2.0,
            top: cy * scale - height / 2.0,
            width,
            height,
            across_antimeridian: across,
        }
    }

    /// Where `p` is in the picture: `(x, y)` pixels from its top left
    /// corner, x to the right (east), y down (south).
    pub fn place(&self, p: LatLon) -> (f64, f64) {
        let (x, y) = world(unwrap_lon(p, self.across_antimeridian));
        (x * self.scale - self.left, y * self.scale - self.top)
    }

    /// The latitude at the middle of the picture, in degrees.
    pub fn centre_latitude(&self) -> f64 {
        let y = (self.top + self.height / 2.0) / self.scale;
        let n = std::f64::consts::PI * (1.0 - 2.0 * y);
        n.sinh().atan().to_degrees()
    }
}

/// Whether the positions are closer together when western longitudes are
/// counted from 180° on eastwards (a trip across the antimeridian).
fn crosses_antimeridian(positions: impl IntoIterator<Item = LatLon>) -> bool {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    let (mut lo_shifted, mut hi_shifted) = (f64::INFINITY, f64::NEG_INFINITY);
    for p in positions {
        lo = lo.min(p.lon);
        hi = hi.max(p.lon);
        let shifted = unwrap_lon(p, true).lon;
        lo_shifted = lo_shifted.min(shifted);
        hi_shifted = hi_shifted.max(shifted);
    }
    lo <= hi && hi_shifted - lo_shifted < hi - lo
}

fn unwrap_lon(p: LatLon, across: bool) -> LatLon {
    if across && p.lon < 0.0 {
        LatLon::new(p.lat, p.lon + 360.0)
    } else {
        p
    }
}

/// A length for a scale bar about `target` pixels long on a map of
/// `metres_per_pixel`: a round number of metres (1, 2 or 5 times a power
/// of ten) and its length in pixels.
pub fn scale_bar(metres_per_pixel: f64, target: f64) -> (f64, f64) {
    let raw = metres_per_pixel * target;
    if !(raw.is_finite() && raw > 0.0) {
        return (0.0, 0.0);
    }
    let power = 10f64.powf(raw.log10().floor());
    let metres = [5.0, 2.0, 1.0]
        .into_iter()
        .map(|m| m * power)
        .find(|&m| m <= raw)
        .unwrap_or(power);
    (metres, metres / metres_per_pixel)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance
    }

    #[test]
    fn corners_and_centre_of_the_world() {
        assert_eq!(world(LatLon::new(0.0, 0.0)), (0.5, 0.5));
        let (x, y) = world(LatLon::new(MAX_LATITUDE, -180.0));
        assert!(close(x, 0.0, 1e-12) && close(y, 0.0, 1e-12), "{x} {y}");
        let (x, y) = world(LatLon::new(-MAX_LATITUDE, 180.0));
        assert!(close(x, 1.0, 1e-12) && close(y, 1.0, 1e-12), "{x} {y}");
        // Beyond the cut-off: drawn at the edge.
        assert_eq!(
            world(LatLon::new(90.0, 0.0)).1,
            world(LatLon::new(MAX_LATITUDE, 0.0)).1
        );
    }

    #[test]
    fn positions_fall_in_the_tiles_osm_serves_for_them() {
        // Tile numbers as the OpenStreetMap wiki's slippy-map formula gives
        // them, worked out by hand: London (51.5074° N, 0.1278° W) is in
        // tile 511/340 at zoom 10; Sydney Opera House (33.8568° S,
        // 151.2153° E) in 7536/4915 at zoom 13.
        let tile = |p: LatLon, z: i32| {
            let (x, y) = world(p);
            let n = 2f64.powi(z);
            ((x * n).floor() as i64, (y * n).floor() as i64)
        };
        assert_eq!(tile(LatLon::new(51.5074, -0.1278), 10), (511, 340));
        assert_eq!(tile(LatLon::new(-33.8568, 151.2153), 13), (7536, 4915));
    }

    #[test]
    fn the_projection_is_conformal_north_and_south() {
        // Mercator keeps angles: near any point a small step east and the
        // same ground distance north are equally long on the map. So
        // dy/dlat = dx/dlon / cos(lat), both in world units per degree.
        for lat in [-70.0, -33.0, 0.0, 12.5, 52.5, 80.0] {
            let h = 1e-6;
            let (x0, y0) = world(LatLon::new(lat, 10.0));
            let (x1, _) = world(LatLon::new(lat, 10.0 + h));
            let (_, y1) = world(LatLon::new(lat + h, 10.0));
            let east = (x1 - x0) / f64::cos(f64::to_radians(lat));
            let north = y0 - y1; // y grows southwards
            assert!(close(north / east, 1.0, 1e-5), "{lat}: {}", north / east);
        }
        // Symmetric about the equator.
        let (_, n) = world(LatLon::new(40.0, 0.0));
        let (_, s) = world(LatLon::new(-40.0, 0.0));
        assert!(close(n + s, 1.0, 1e-12));
    }

    #[test]
    fn a_fitted_view_holds_every_position_inside_its_margin() {
        let berlin = [
            LatLon::new(52.5142, 13.3501),
            LatLon::new(52.5200, 13.3700),
            LatLon::new(52.5120, 13.3620),
        ];
        let view = View::fit(berlin, 960.0, 640.0, 40.0);
        for p in berlin {
            let (x, y) = view.place(p);
            assert!((39.99..=920.01).contains(&x), "{x}");
            assert!((39.99..=600.01).contains(&y), "{y}");
        }
        // The widest extent touches the margins: the view is as large as
        // it can be.
        let xs: Vec<f64> = berlin.iter().map(|p| view.place(*p).0).collect();
        let ys: Vec<f64> = berlin.iter().map(|p| view.place(*p).1).collect();
        let span = |v: &[f64]| {
            v.iter().cloned().fold(f64::MIN, f64::max) - v.iter().cloned().fold(f64::MAX, f64::min)
        };
        assert!(close(span(&xs), 880.0, 1e-6) || close(span(&ys), 560.0, 1e-6));
        // East is right, north is up.
        assert!(view.place(berlin[1]).0 > view.place(berlin[0]).0);
        assert!(view.place(berlin[1]).1 < view.place(berlin[2]).1);
        assert!(
            close(view.centre_latitude(), 52.516, 1e-3),
            "{}",
            view.centre_latitude()
        );
    }

    #[test]
    fn one_position_is_shown_at_the_largest_scale_in_the_middle() {
        let p = LatLon::new(-33.8568, 151.2153);
        let view = View::fit([p], 960.0, 640.0, 40.0);
        assert_eq!(view.scale, MAX_SCALE);
        let (x, y) = view.place(p);
        assert!(close(x, 480.0, 1e-6) && close(y, 320.0, 1e-6), "{x} {y}");
        // Nothing at all: the whole world fits.
        let world_view = View::fit(std::iter::empty::<LatLon>(), 960.0, 640.0, 40.0);
        assert!(close(world_view.scale, 560.0, 1e-9));
    }

    #[test]
    fn a_trip_across_the_antimeridian_is_drawn_in_one_piece() {
        // Fiji: 179.9° E to 179.9° W is 0.2° of longitude, not 359.8°.
        let trip = [LatLon::new(-16.5, 179.9), LatLon::new(-16.5, -179.9)];
        let view = View::fit(trip, 960.0, 640.0, 40.0);
        assert!(view.across_antimeridian);
        let (west, _) = view.place(trip[0]);
        let (east, _) = view.place(trip[1]);
        assert!(close(east - west, 880.0, 1e-6), "{west} {east}");
        // A trip that stays on one side is not shifted.
        let view = View::fit(
            [LatLon::new(0.0, -170.0), LatLon::new(0.0, 10.0)],
            960.0,
            640.0,
            40.0,
        );
        assert!(!view.across_antimeridian);
    }

    #[test]
    fn scale_bars_are_round_and_as_long_as_they_say() {
        // At 52.5° N and zoom 15 a pixel is about 2.9 m.
        let mpp = metres_per_pixel(52.5, 256.0 * 32768.0);
        assert!(close(mpp, 4.777_314 * 0.608_761, 1e-3), "{mpp}");
        let (metres, pixels) = scale_bar(mpp, 120.0);
        assert_eq!(metres, 200.0);
        assert!(close(pixels * mpp, 200.0, 1e-9));
        assert!(pixels <= 120.0 && pixels > 120.0 / 5.0);
        assert_eq!(scale_bar(1.0, 120.0).0, 100.0);
        assert_eq!(scale_bar(0.04, 120.0).0, 2.0);
        assert_eq!(scale_bar(f64::NAN, 120.0), (0.0, 0.0));
    }
}
