//! Reading the tags the tools need out of a JPEG's EXIF.

use std::fs::File;
use std::path::Path;

use jiff::Timestamp;
use jiff::civil::{Date, Time};

use super::jpeg::{self, EXIF_HEADER, JpegHead};
use super::tags::{self, Tag};
use super::tiff::{Ifd, Tiff, TiffError, Value};
use super::{ExifError, xmp};
use crate::capture_time::{
    CaptureInstant, CaptureTime, CaptureTimeError, OffsetTag, ZoneRule, read_offset_tag,
};

/// The tags the tools use, as read from one photo.
///
/// Every field is `None` when the tag is absent or has a type or value that
/// cannot be read; `problems` lists what was present but unreadable.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PhotoExif {
    /// Whether the file has an EXIF segment at all.
    pub has_exif: bool,
    /// DateTimeOriginal, with SubSecTimeOriginal and OffsetTimeOriginal.
    pub date_time_original: Option<Result<CaptureTime, CaptureTimeError>>,
    /// DateTimeDigitized, with SubSecTimeDigitized and OffsetTimeDigitized.
    pub date_time_digitized: Option<Result<CaptureTime, CaptureTimeError>>,
    /// DateTime (IFD0), with SubSecTime and OffsetTime.
    pub date_time: Option<Result<CaptureTime, CaptureTimeError>>,
    /// GPSDateStamp + GPSTimeStamp: a UTC instant, read as the official
    /// client reads it (whole hours and minutes, seconds to the
    /// microsecond; 24:00:00 is the next midnight).
    pub gps_time: Option<Timestamp>,
    /// The offset tags (`OffsetTimeOriginal`, `OffsetTimeDigitized`,
    /// `OffsetTime`) whose text is neither a UTC offset nor blank, with
    /// that text: the times above were read without them.
    pub invalid_offsets: Vec<(&'static str, String)>,
    /// Latitude in decimal degrees, north positive.
    pub latitude: Option<f64>,
    /// Longitude in decimal degrees, east positive.
    pub longitude: Option<f64>,
    /// Altitude in metres above sea level (negative below).
    pub altitude: Option<f64>,
    /// GPSImgDirection in degrees (a tag holding more than one value is
    /// not read).
    pub direction: Option<f64>,
    /// GPSImgDirectionRef: `T` (true north) or `M` (magnetic).
    pub direction_ref: Option<String>,
    /// GPSTrack, the direction of movement, in degrees.
    pub track: Option<f64>,
    /// GPSTrackRef: `T` (true north) or `M` (magnetic).
    pub track_ref: Option<String>,
    /// The body serial number as the official client looks for it: the
    /// text of the first of BodySerialNumber (EXIF IFD), SerialNumber
    /// (0xFDE9, EXIF IFD) and BodySerialNumber (IFD0) that the photo has,
    /// even if that one is empty. Maker notes are not read (the official
    /// client does not decode them either).
    pub body_serial: Option<String>,
    /// The lens serial number: LensSerialNumber of the EXIF IFD, else of
    /// IFD0, as for `body_serial`.
    pub lens_serial: Option<String>,
    /// Orientation, 1–8.
    pub orientation: Option<u16>,
    /// Camera maker.
    pub make: Option<String>,
    /// Camera model.
    pub model: Option<String>,
    /// ImageDescription text.
    pub image_description: Option<String>,
    /// Whether the position (and altitude, direction) came from XMP, the
    /// EXIF GPS IFD having none.
    pub position_from_xmp: bool,
}

impl PhotoExif {
    /// The capture time by the legacy rule: DateTimeOriginal.
    pub fn capture_time(&self) -> Option<&Result<CaptureTime, CaptureTimeError>> {
        self.date_time_original.as_ref()
    }

    /// The instant of the camera's capture time, by the legacy rule
    /// (DateTimeOriginal with its sub-seconds and offset, placed by `rule`
    /// when it has no zone), with a warning when its OffsetTimeOriginal is
    /// not a UTC offset. The tools that place photos by camera time
    /// (geotag_from_gpx, time_split, interpolate_direction) use this; the
    /// Mapillary description uses [`crate::description::capture_instant`].
    pub fn capture_instant(&self, rule: &ZoneRule) -> Result<CaptureInstant, String> {
        const TAG: &str = "DateTimeOriginal";
        const OFFSET_TAG: &str = "OffsetTimeOriginal";
        match self.capture_time() {
            None => Err("no capture time (DateTimeOriginal)".to_string()),
            Some(Err(e)) => Err(format!("{TAG}: {e}")),
            Some(Ok(t)) => t
                .place(rule, TAG, OFFSET_TAG, self.invalid_offset(OFFSET_TAG))
                .map_err(|e| format!("{TAG}: {e}")),
        }
    }

    /// The text of offset tag `tag` (e.g. `OffsetTimeOriginal`) when the
    /// photo has it and it is not a UTC offset.
    pub fn invalid_offset(&self, tag: &str) -> Option<&str> {
        self.invalid_offsets
            .iter()
            .find(|(t, _)| *t == tag)
            .map(|(_, text)| text.as_str())
    }

    /// The position, when both coordinates are present.
    pub fn position(&self) -> Option<(f64, f64)> {
        Some((self.latitude?, self.longitude?))
    }
}

/// The tags of one IFD, looked up by number.
struct Dir<'t, 'a> {
    tiff: &'t Tiff<'a>,
    ifd: Option<Ifd>,
}

impl Dir<'_, '_> {
    fn value(&self, tag: Tag) -> Option<Value> {
        let entry = self.ifd.as_ref()?.get(tag.id)?;
        self.tiff.value(entry)
    }

    fn text(&self, tag: Tag) -> Option<String> {
        self.value(tag)?.text().filter(|s| !s.is_empty())
    }

    /// A serial number's text as the official client gets it: the ASCII
    /// text up to the first NUL; an integer value's numbers one after the
    /// other (what remains of Python's list text once everything but
    /// letters and digits is dropped). Other types count as present but
    /// empty.
    fn serial(&self, tag: Tag) -> Option<String> {
        let entry = self.ifd.as_ref()?.get(tag.id)?;
        let value = self.tiff.value(entry)?;
        let digits = |v: Vec<u32>| v.iter().map(u32::to_string).collect::<String>();
        Some(match value {
            Value::Ascii(_) | Value::Undefined(_) => value.text().unwrap_or_default(),
            Value::Byte(v) => digits(v.into_iter().map(u32::from).collect()),
            Value::Short(v) => digits(v.into_iter().map(u32::from).collect()),
            Value::Long(v) => digits(v),
            _ => String::new(),
        })
    }

    /// A SubSecTime tag's digits, its spaces read as zeros: GoPro cameras
    /// pad the digits with spaces (`" 5"` is 0.05 s), and the official
    /// client reads them so.
    fn sub_sec(&self, tag: Tag) -> Option<String> {
        let text = match self.value(tag)? {
            Value::Ascii(b) | Value::Undefined(b) => {
                let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
                String::from_utf8_lossy(&b[..end]).into_owned()
            }
            _ => return None,
        };
        let text = text.trim_matches(|c: char| c != ' ' && c.is_whitespace());
        (!text.is_empty()).then(|| text.replace(' ', "0"))
    }

    fn single_rational(&self, tag: Tag) -> Option<f64> {
        match self.rationals(tag)?.as_slice() {
            [one] => Some(*one),
            _ => None,
        }
    }

    fn uint(&self, tag: Tag) -> Option<u32> {
        self.value(tag)?.first_uint()
    }

    fn rationals(&self, tag: Tag) -> Option<Vec<f64>> {
        self.value(tag)?
            .rationals()
            .filter(|v| !v.is_empty() && v.iter().all(|x| x.is_finite()))
    }
}

/// A time tag with its sub-second and offset tags (both in `sub_dir`).
/// An offset tag whose text is neither an offset nor blank is added to
/// `invalid_offsets`, when the time tag is there.
fn time_triple(
    dir: &Dir<'_, '_>,
    main: Tag,
    sub: Tag,
    offset: Tag,
    sub_dir: &Dir<'_, '_>,
    invalid_offsets: &mut Vec<(&'static str, String)>,
) -> Option<Result<CaptureTime, CaptureTimeError>> {
    let text = dir.text(main)?;
    let sub = sub_dir.sub_sec(sub);
    let offset_text = sub_dir.text(offset);
    if let Some(o) = &offset_text
        && read_offset_tag(o) == OffsetTag::Invalid
    {
        invalid_offsets.push((offset.name, o.clone()));
    }
    Some(CaptureTime::from_exif(
        &text,
        sub.as_deref(),
        offset_text.as_deref(),
    ))
}

/// Degrees from a RATIONAL[1..=3] of degrees, minutes, seconds.
fn dms_to_degrees(parts: &[f64]) -> Option<f64> {
    let d = parts.first()?
        + parts.get(1).unwrap_or(&0.0) / 60.0
        + parts.get(2).unwrap_or(&0.0) / 3600.0;
    d.is_finite().then_some(d)
}

fn coordinate(
    gps: &Dir<'_, '_>,
    value: Tag,
    reference: Tag,
    negative: char,
    limit: f64,
) -> Option<f64> {
    let degrees = dms_to_degrees(&gps.rationals(value)?)?;
    if degrees.abs() > limit {
        return None;
    }
    let negative_ref = gps
        .text(reference)
        .is_some_and(|r| r.starts_with(negative) || r.starts_with(negative.to_ascii_lowercase()));
    Some(if negative_ref { -degrees } else { degrees })
}

/// GPSDateStamp: `YYYY:MM:DD` or `YYYY-MM-DD` (month and day may have
/// one digit).
fn gps_date(text: &str) -> Option<Date> {
    [':', '-'].into_iter().find_map(|sep| {
        let parts: Vec<&str> = text.split(sep).collect();
        let [y, m, d] = parts.as_slice() else {
            return None;
        };
        let number = |s: &str, max_len: usize| {
            (!s.is_empty() && s.len() <= max_len && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<i16>().ok())
                .flatten()
        };
        if y.len() != 4 {
            return None;
        }
        Date::new(
            number(y, 4)?,
            i8::try_from(number(m, 2)?).ok()?,
            i8::try_from(number(d, 2)?).ok()?,
        )
        .ok()
    })
}

/// GPSDateStamp + GPSTimeStamp as the official client adds them: the
/// date's midnight UTC plus the whole hours and whole minutes (truncated)
/// and the seconds rounded to the microsecond (half to even, as Python's
/// timedelta does), with no range check (`24:00:00` is the next midnight).
/// GPSTimeStamp needs its three values.
fn gps_timestamp(gps: &Dir<'_, '_>) -> Option<Timestamp> {
    let date = gps_date(&gps.text(tags::GPS_DATE_STAMP)?)?;
    let hms = gps.rationals(tags::GPS_TIME_STAMP)?;
    let [hours, minutes, seconds, ..] = hms.as_slice() else {
        return None;
    };
    // Beyond ~30 years either way the sum is nonsense, and an f64 in
    // microseconds is still exact there.
    let limit = 1e15;
    let micros = hours.trunc() * 3.6e9 + minutes.trunc() * 6e7 + (seconds * 1e6).round_ties_even();
    if !micros.is_finite() || micros.abs() > limit {
        return None;
    }
    #[allow(clippy::cast_possible_truncation)] // bounded above
    let micros = micros as i64;
    let midnight = jiff::tz::TimeZone::UTC
        .to_ambiguous_timestamp(date.to_datetime(Time::midnight()))
        .compatible()
        .ok()?;
    midnight
        .checked_add(jiff::SignedDuration::from_micros(micros))
        .ok()
}

/// Reads the tools' tags from a parsed TIFF block.
pub fn read_tiff(tiff: &Tiff<'_>) -> PhotoExif {
    let main = Dir {
        tiff,
        ifd: Some(tiff.ifd0.clone()),
    };
    // A broken sub-IFD only hides its own tags.
    let exif = Dir {
        tiff,
        ifd: tiff.exif_ifd().ok().flatten(),
    };
    let gps = Dir {
        tiff,
        ifd: tiff.gps_ifd().ok().flatten(),
    };
    let altitude = gps
        .rationals(tags::GPS_ALTITUDE)
        .and_then(|v| v.first().copied())
        .map(|a| {
            if gps.uint(tags::GPS_ALTITUDE_REF) == Some(1) {
                -a
            } else {
                a
            }
        });
    let mut invalid_offsets = Vec::new();
    let date_time_original = time_triple(
        &exif,
        tags::DATE_TIME_ORIGINAL,
        tags::SUB_SEC_TIME_ORIGINAL,
        tags::OFFSET_TIME_ORIGINAL,
        &exif,
        &mut invalid_offsets,
    );
    let date_time_digitized = time_triple(
        &exif,
        tags::DATE_TIME_DIGITIZED,
        tags::SUB_SEC_TIME_DIGITIZED,
        tags::OFFSET_TIME_DIGITIZED,
        &exif,
        &mut invalid_offsets,
    );
    let date_time = time_triple(
        &main,
        tags::DATE_TIME,
        tags::SUB_SEC_TIME,
        tags::OFFSET_TIME,
        &exif,
        &mut invalid_offsets,
    );
    // The official client's order; the first tag present decides, even
    // when it is empty.
    let body_serial = exif
        .serial(tags::BODY_SERIAL_NUMBER)
        .or_else(|| exif.serial(tags::ADOBE_SERIAL_NUMBER))
        .or_else(|| main.serial(tags::BODY_SERIAL_NUMBER));
    let lens_serial = exif
        .serial(tags::LENS_SERIAL_NUMBER)
        .or_else(|| main.serial(tags::LENS_SERIAL_NUMBER));
    PhotoExif {
        has_exif: true,
        date_time_original,
        date_time_digitized,
        date_time,
        gps_time: gps_timestamp(&gps),
        invalid_offsets,
        latitude: coordinate(&gps, tags::GPS_LATITUDE, tags::GPS_LATITUDE_REF, 'S', 90.0),
        longitude: coordinate(
            &gps,
            tags::GPS_LONGITUDE,
            tags::GPS_LONGITUDE_REF,
            'W',
            180.0,
        ),
        altitude,
        // One value, as the official client requires (else GPSTrack).
        direction: gps.single_rational(tags::GPS_IMG_DIRECTION),
        direction_ref: gps.text(tags::GPS_IMG_DIRECTION_REF),
        track: gps.single_rational(tags::GPS_TRACK),
        track_ref: gps.text(tags::GPS_TRACK_REF),
        body_serial,
        lens_serial,
        orientation: main
            .uint(tags::ORIENTATION)
            .and_then(|o| u16::try_from(o).ok())
            .filter(|o| (1..=8).contains(o)),
        make: main.text(tags::MAKE),
        model: main.text(tags::MODEL),
        image_description: main.text(tags::IMAGE_DESCRIPTION),
        position_from_xmp: false,
    }
}

/// The TIFF block of the first EXIF segment in a JPEG head, if any.
pub fn exif_block<'a>(head_bytes: &'a [u8], head: &JpegHead) -> Option<&'a [u8]> {
    head.exif_segment(head_bytes)
        .map(|s| &s.payload(head_bytes)[EXIF_HEADER.len()..])
}

/// Reads the tools' tags from the head of a JPEG: the EXIF, and, where the
/// EXIF GPS IFD has no position, the one photo editors keep in XMP.
pub fn read_head_exif(head_bytes: &[u8], head: &JpegHead) -> Result<PhotoExif, TiffError> {
    let tiff = exif_block(head_bytes, head).map(Tiff::parse).transpose()?;
    Ok(photo_exif(tiff.as_ref(), head_bytes, head))
}

/// The tools' view of a photo from its parsed EXIF block (if any) and head.
pub fn photo_exif(tiff: Option<&Tiff<'_>>, head_bytes: &[u8], head: &JpegHead) -> PhotoExif {
    let mut photo = tiff.map(read_tiff).unwrap_or_default();
    if photo.position().is_none()
        && let Some(packet) = xmp::packet(head_bytes, head)
    {
        let gps = xmp::gps(packet);
        if let (Some(lat), Some(lon)) = (gps.latitude, gps.longitude) {
            photo.latitude = Some(lat);
            photo.longitude = Some(lon);
            photo.altitude = photo.altitude.or(gps.altitude);
            photo.direction = photo.direction.or(gps.direction);
            photo.position_from_xmp = true;
        }
    }
    photo
}

/// Reads the tools' tags from a JPEG file, reading only as far as the image
/// data.
pub fn read_exif(path: &Path) -> Result<PhotoExif, ExifError> {
    let mut file = File::open(path).map_err(ExifError::Io)?;
    let (bytes, head) = jpeg::read_head(&mut file).map_err(ExifError::from)?;
    read_head_exif(&bytes, &head).map_err(ExifError::Tiff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exif::tags::IfdKind;
    use crate::exif::write::{ExifEdits, build_tiff};

    fn read(edits: &ExifEdits) -> PhotoExif {
        let bytes = build_tiff(None, edits).unwrap();
        read_tiff(&Tiff::parse(&bytes).unwrap())
    }

    fn gps_time(date: &str, hms: [(u32, u32); 3]) -> Option<String> {
        let mut e = ExifEdits::new();
        e.set_text(tags::GPS_DATE_STAMP, date)
            .set(tags::GPS_TIME_STAMP, Value::Rational(hms.to_vec()));
        read(&e).gps_time.map(|t| t.to_string())
    }

    #[test]
    fn gps_time_is_added_up_as_the_official_client_does() {
        assert_eq!(
            gps_time("2018:06:08", [(20, 1), (24, 1), (11, 1)]).as_deref(),
            Some("2018-06-08T20:24:11Z")
        );
        assert_eq!(
            gps_time("2022-06-10", [(17, 1), (35, 1), (52_269_367, 1_000_000)]).as_deref(),
            Some("2022-06-10T17:35:52.269367Z")
        );
        // Seconds to the microsecond, half to even.
        assert_eq!(
            gps_time("2022:06:10", [(0, 1), (0, 1), (5, 10_000_000)]).as_deref(),
            Some("2022-06-10T00:00:00Z")
        );
        assert_eq!(
            gps_time("2022:06:10", [(0, 1), (0, 1), (15, 10_000_000)]).as_deref(),
            Some("2022-06-10T00:00:00.000002Z")
        );
        // Whole hours and minutes; 24:00:00 is the next midnight.
        assert_eq!(
            gps_time("2022:06:10", [(15, 2), (61, 2), (0, 1)]).as_deref(),
            Some("2022-06-10T07:30:00Z")
        );
        assert_eq!(
            gps_time("2022:06:10", [(24, 1), (0, 1), (0, 1)]).as_deref(),
            Some("2022-06-11T00:00:00Z")
        );
        assert_eq!(
            gps_time("2022:6:1", [(1, 1), (0, 1), (0, 1)]).as_deref(),
            Some("2022-06-01T01:00:00Z")
        );
        for bad in [
            "2022/06/10",
            "22:06:10",
            "2022:06:10 12:00",
            "2022:13:01",
            "",
        ] {
            assert_eq!(gps_time(bad, [(1, 1), (0, 1), (0, 1)]), None, "{bad:?}");
        }
        assert_eq!(gps_time("2022:06:10", [(1, 1), (0, 0), (0, 1)]), None);
        // Fewer than three values: not read.
        let mut e = ExifEdits::new();
        e.set_text(tags::GPS_DATE_STAMP, "2022:06:10")
            .set(tags::GPS_TIME_STAMP, Value::Rational(vec![(1, 1), (2, 1)]));
        assert_eq!(read(&e).gps_time, None);
    }

    #[test]
    fn sub_seconds_padded_with_spaces_are_zeros() {
        let mut e = ExifEdits::new();
        e.set_text(tags::DATE_TIME_ORIGINAL, "2021:06:01 12:00:00")
            .set_text(tags::SUB_SEC_TIME_ORIGINAL, " 5");
        let t = read(&e).date_time_original.unwrap().unwrap();
        assert_eq!(t.local.subsec_nanosecond(), 50_000_000);
        e.set_text(tags::SUB_SEC_TIME_ORIGINAL, "5  ");
        let t = read(&e).date_time_original.unwrap().unwrap();
        assert_eq!(t.local.subsec_nanosecond(), 500_000_000);
        e.set_text(tags::SUB_SEC_TIME_ORIGINAL, "   ");
        let t = read(&e).date_time_original.unwrap().unwrap();
        assert_eq!(t.local.subsec_nanosecond(), 0);
    }

    #[test]
    fn invalid_offsets_are_listed_blank_ones_are_not() {
        let mut e = ExifEdits::new();
        e.set_text(tags::DATE_TIME_ORIGINAL, "2021:06:01 12:00:00")
            .set_text(tags::OFFSET_TIME_ORIGINAL, "+99:99")
            .set_text(tags::DATE_TIME_DIGITIZED, "2021:06:01 12:00:00")
            .set_text(tags::OFFSET_TIME_DIGITIZED, "   :  ")
            .set_text(tags::DATE_TIME, "2021:06:01 12:00:00")
            .set_text(tags::OFFSET_TIME, "garbage");
        let p = read(&e);
        assert_eq!(
            p.invalid_offsets,
            [
                ("OffsetTimeOriginal", "+99:99".to_string()),
                ("OffsetTime", "garbage".to_string())
            ]
        );
        assert_eq!(p.invalid_offset("OffsetTimeOriginal"), Some("+99:99"));
        assert_eq!(p.invalid_offset("OffsetTimeDigitized"), None);
        let berlin = ZoneRule::Assume(jiff::tz::TimeZone::get("Europe/Berlin").unwrap());
        let t = p.capture_instant(&berlin).unwrap();
        assert_eq!(t.instant.to_string(), "2021-06-01T10:00:00Z");
        assert_eq!(
            t.warnings[0].to_string(),
            "OffsetTimeOriginal '+99:99' is not a UTC offset; used the computer's zone (Europe/Berlin, +02:00)"
        );
        // An offset tag without its time tag is nobody's business.
        let mut e = ExifEdits::new();
        e.set_text(tags::OFFSET_TIME_ORIGINAL, "garbage");
        assert!(read(&e).invalid_offsets.is_empty());
    }

    #[test]
    fn heading_tags_hold_one_value() {
        let mut e = ExifEdits::new();
        e.set(tags::GPS_TRACK, Value::Rational(vec![(27089, 100)]))
            .set_text(tags::GPS_TRACK_REF, "T")
            .set(
                tags::GPS_IMG_DIRECTION,
                Value::Rational(vec![(1, 1), (2, 1)]),
            );
        let p = read(&e);
        assert_eq!(p.track, Some(270.89));
        assert_eq!(p.track_ref.as_deref(), Some("T"));
        assert_eq!(p.direction, None);
    }

    #[test]
    fn serial_numbers_in_the_official_order() {
        let ifd0 = |tag: Tag| Tag {
            ifd: IfdKind::Main,
            ..tag
        };
        let mut e = ExifEdits::new();
        e.set_text(ifd0(tags::BODY_SERIAL_NUMBER), "ifd0-body")
            .set_text(ifd0(tags::LENS_SERIAL_NUMBER), "ifd0-lens");
        let p = read(&e);
        assert_eq!(p.body_serial.as_deref(), Some("ifd0-body"));
        assert_eq!(p.lens_serial.as_deref(), Some("ifd0-lens"));
        e.set_text(tags::ADOBE_SERIAL_NUMBER, "adobe");
        assert_eq!(read(&e).body_serial.as_deref(), Some("adobe"));
        e.set_text(tags::BODY_SERIAL_NUMBER, "exif-body")
            .set_text(tags::LENS_SERIAL_NUMBER, "exif-lens");
        let p = read(&e);
        assert_eq!(p.body_serial.as_deref(), Some("exif-body"));
        assert_eq!(p.lens_serial.as_deref(), Some("exif-lens"));
        // The first tag present decides, even when it is empty.
        e.set(tags::BODY_SERIAL_NUMBER, Value::Ascii(vec![0]));
        assert_eq!(read(&e).body_serial.as_deref(), Some(""));
        // Numbers, one after the other.
        e.set(tags::BODY_SERIAL_NUMBER, Value::Long(vec![12, 345]));
        assert_eq!(read(&e).body_serial.as_deref(), Some("12345"));
    }

    #[test]
    fn dms_conversion() {
        assert_eq!(dms_to_degrees(&[10.0, 30.0, 36.0]), Some(10.51));
        assert_eq!(dms_to_degrees(&[10.5]), Some(10.5));
        assert_eq!(dms_to_degrees(&[]), None);
    }
}
