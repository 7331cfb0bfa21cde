//! The GPS position that photo editors (Adobe, GIMP, darktable) write into
//! XMP only, in the `exif:` namespace, when the EXIF GPS IFD has none.
//!
//! Only what the tools need is read, by scanning the packet for the
//! properties of the EXIF namespace, as attributes (`exif:GPSLatitude="…"`)
//! or elements (`<exif:GPSLatitude>…</exif:GPSLatitude>`).

use super::jpeg::JpegHead;

/// The identifier that opens an XMP APP1 payload.
pub const XMP_HEADER: &[u8] = b"http://ns.adobe.com/xap/1.0/\0";

/// The EXIF namespace URI of XMP.
const EXIF_NS: &str = "http://ns.adobe.com/exif/1.0/";

/// The GPS values found in XMP.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct XmpGps {
    /// Latitude, north positive.
    pub latitude: Option<f64>,
    /// Longitude, east positive.
    pub longitude: Option<f64>,
    /// Altitude, metres (negative below sea level).
    pub altitude: Option<f64>,
    /// Image direction, degrees.
    pub direction: Option<f64>,
}

/// The XMP packet of a JPEG head, if any.
pub fn packet<'a>(head_bytes: &'a [u8], head: &JpegHead) -> Option<&'a str> {
    head.segments
        .iter()
        .filter(|s| s.marker == super::jpeg::APP1)
        .map(|s| s.payload(head_bytes))
        .find(|p| p.starts_with(XMP_HEADER))
        .and_then(|p| std::str::from_utf8(&p[XMP_HEADER.len()..]).ok())
}

/// The prefix the packet binds to the EXIF namespace (normally `exif`).
fn exif_prefix(xmp: &str) -> Option<&str> {
    let at = xmp
        .find(&format!("=\"{EXIF_NS}\""))
        .or_else(|| xmp.find(&format!("='{EXIF_NS}'")))?;
    let before = &xmp[..at];
    let start = before.rfind("xmlns:")? + "xmlns:".len();
    Some(&before[start..])
}

/// The text of property `name` (with its prefix), as an attribute or an
/// element.
fn property<'a>(xmp: &'a str, name: &str) -> Option<&'a str> {
    for quote in ['"', '\''] {
        let key = format!("{name}={quote}");
        if let Some(at) = xmp.find(&key) {
            let rest = &xmp[at + key.len()..];
            return rest.find(quote).map(|end| rest[..end].trim());
        }
    }
    let open = format!("<{name}>");
    let at = xmp.find(&open)? + open.len();
    let rest = &xmp[at..];
    rest.find(&format!("</{name}>"))
        .map(|end| rest[..end].trim())
}

/// An XMP GPSCoordinate: `DDD,MM,SSk` or `DDD,MM.mmk`, `k` being N, S, E
/// or W.
fn coordinate(text: &str) -> Option<f64> {
    let t = text.trim();
    let (at, last) = t.char_indices().last()?;
    let hemisphere = last.to_ascii_uppercase();
    let numbers: Vec<f64> = t[..at]
        .split(',')
        .map(|n| n.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .ok()?;
    let degrees = match numbers.as_slice() {
        [d, m] => d + m / 60.0,
        [d, m, s] => d + m / 60.0 + s / 3600.0,
        _ => return None,
    };
    let signed = match hemisphere {
        'N' | 'E' => degrees,
        'S' | 'W' => -degrees,
        _ => return None,
    };
    signed.is_finite().then_some(signed)
}

/// An XMP rational (`136169/100`) or plain number.
fn rational(text: &str) -> Option<f64> {
    let v = match text.split_once('/') {
        Some((n, d)) => n.trim().parse::<f64>().ok()? / d.trim().parse::<f64>().ok()?,
        None => text.trim().parse().ok()?,
    };
    v.is_finite().then_some(v)
}

/// Reads the GPS properties of the EXIF namespace from an XMP packet.
pub fn gps(xmp: &str) -> XmpGps {
    let Some(prefix) = exif_prefix(xmp) else {
        return XmpGps::default();
    };
    let get = |name: &str| property(xmp, &format!("{prefix}:{name}"));
    let latitude = get("GPSLatitude")
        .and_then(coordinate)
        .filter(|v| v.abs() <= 90.0);
    let longitude = get("GPSLongitude")
        .and_then(coordinate)
        .filter(|v| v.abs() <= 180.0);
    let altitude = get("GPSAltitude").and_then(rational).map(|a| {
        if get("GPSAltitudeRef").map(str::trim) == Some("1") {
            -a
        } else {
            a
        }
    });
    XmpGps {
        latitude,
        longitude,
        altitude,
        direction: get("GPSImgDirection").and_then(rational),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_attributes_and_elements() {
        let attrs = r#"<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSAltitude="136169/100" exif:GPSAltitudeRef="0" exif:GPSImgDirection="1763/10" exif:GPSLatitude="0,4.21601S" exif:GPSLongitude="34,22.91611E"/>"#;
        let g = gps(attrs);
        assert!((g.latitude.unwrap() - -(4.21601 / 60.0)).abs() < 1e-12);
        assert!((g.longitude.unwrap() - (34.0 + 22.91611 / 60.0)).abs() < 1e-12);
        assert_eq!(g.altitude, Some(1361.69));
        assert_eq!(g.direction, Some(176.3));
        let elements = "<x xmlns:e='http://ns.adobe.com/exif/1.0/'><e:GPSLatitude>52,30,36N</e:GPSLatitude><e:GPSLongitude>13,24W</e:GPSLongitude></x>";
        let g = gps(elements);
        assert_eq!(g.latitude, Some(52.51));
        assert_eq!(g.longitude, Some(-13.4));
        assert_eq!(gps("<x/>"), XmpGps::default());
        assert_eq!(coordinate("91,0X"), None);
        assert_eq!(coordinate(""), None);
        assert_eq!(coordinate("52,30é"), None);
        assert_eq!(rational("1/0"), None);
    }
}
