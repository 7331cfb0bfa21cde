//! Reading the tags the tools need out of a JPEG's EXIF.

use std::fs::File;
use std::path::Path;

use jiff::Timestamp;
use jiff::civil::{Date, Time};

use super::jpeg::{self, EXIF_HEADER, JpegHead};
use super::tags::{self, Tag};
use super::tiff::{Ifd, Tiff, TiffError, Value};
use super::{ExifError, xmp};
use crate::capture_time::{CaptureTime, CaptureTimeError, ZoneRule};

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
    /// GPSDateStamp + GPSTimeStamp: a UTC instant.
    pub gps_time: Option<Timestamp>,
    /// Latitude in decimal degrees, north positive.
    pub latitude: Option<f64>,
    /// Longitude in decimal degrees, east positive.
    pub longitude: Option<f64>,
    /// Altitude in metres above sea level (negative below).
    pub altitude: Option<f64>,
    /// GPSImgDirection in degrees.
    pub direction: Option<f64>,
    /// GPSImgDirectionRef: `T` (true north) or `M` (magnetic).
    pub direction_ref: Option<String>,
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

    /// The instant of the legacy capture time (DateTimeOriginal with its
    /// sub-seconds and offset), placed by `rule` when it has no zone.
    pub fn capture_instant(&self, rule: &ZoneRule) -> Result<Timestamp, String> {
        match self.capture_time() {
            None => Err("no capture time (DateTimeOriginal)".to_string()),
            Some(Err(e)) => Err(format!("DateTimeOriginal: {e}")),
            Some(Ok(t)) => t
                .to_timestamp(rule)
                .map_err(|e| format!("DateTimeOriginal: {e}")),
        }
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

    fn uint(&self, tag: Tag) -> Option<u32> {
        self.value(tag)?.first_uint()
    }

    fn rationals(&self, tag: Tag) -> Option<Vec<f64>> {
        self.value(tag)?
            .rationals()
            .filter(|v| !v.is_empty() && v.iter().all(|x| x.is_finite()))
    }
}

fn time_triple(
    dir: &Dir<'_, '_>,
    main: Tag,
    sub: Tag,
    offset: Tag,
    sub_dir: &Dir<'_, '_>,
) -> Option<Result<CaptureTime, CaptureTimeError>> {
    let text = dir.text(main)?;
    let sub = sub_dir.text(sub);
    let offset = sub_dir.text(offset);
    Some(CaptureTime::from_exif(
        &text,
        sub.as_deref(),
        offset.as_deref(),
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

fn gps_timestamp(gps: &Dir<'_, '_>) -> Option<Timestamp> {
    let date_text = gps.text(tags::GPS_DATE_STAMP)?;
    let hms = gps.rationals(tags::GPS_TIME_STAMP)?;
    let b = date_text.as_bytes();
    if b.len() < 10 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| date_text.get(r)?.parse::<i16>().ok();
    let date = Date::new(
        num(0..4)?,
        i8::try_from(num(5..7)?).ok()?,
        i8::try_from(num(8..10)?).ok()?,
    )
    .ok()?;
    let secs =
        hms.first()? * 3600.0 + hms.get(1).unwrap_or(&0.0) * 60.0 + hms.get(2).unwrap_or(&0.0);
    if !(0.0..86_400.0).contains(&secs) {
        return None;
    }
    let midnight = jiff::tz::TimeZone::UTC
        .to_ambiguous_timestamp(date.to_datetime(Time::midnight()))
        .compatible()
        .ok()?;
    midnight
        .checked_add(jiff::SignedDuration::try_from_secs_f64(secs).ok()?)
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
    PhotoExif {
        has_exif: true,
        date_time_original: time_triple(
            &exif,
            tags::DATE_TIME_ORIGINAL,
            tags::SUB_SEC_TIME_ORIGINAL,
            tags::OFFSET_TIME_ORIGINAL,
            &exif,
        ),
        date_time_digitized: time_triple(
            &exif,
            tags::DATE_TIME_DIGITIZED,
            tags::SUB_SEC_TIME_DIGITIZED,
            tags::OFFSET_TIME_DIGITIZED,
            &exif,
        ),
        date_time: time_triple(
            &main,
            tags::DATE_TIME,
            tags::SUB_SEC_TIME,
            tags::OFFSET_TIME,
            &exif,
        ),
        gps_time: gps_timestamp(&gps),
        latitude: coordinate(&gps, tags::GPS_LATITUDE, tags::GPS_LATITUDE_REF, 'S', 90.0),
        longitude: coordinate(
            &gps,
            tags::GPS_LONGITUDE,
            tags::GPS_LONGITUDE_REF,
            'W',
            180.0,
        ),
        altitude,
        direction: gps
            .rationals(tags::GPS_IMG_DIRECTION)
            .and_then(|v| v.first().copied()),
        direction_ref: gps.text(tags::GPS_IMG_DIRECTION_REF),
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

    #[test]
    fn dms_conversion() {
        assert_eq!(dms_to_degrees(&[10.0, 30.0, 36.0]), Some(10.51));
        assert_eq!(dms_to_degrees(&[10.5]), Some(10.5));
        assert_eq!(dms_to_degrees(&[]), None);
    }
}
