//! The Mapillary image description: the JSON object of `MAP*` keys that
//! travels in a photo's EXIF ImageDescription.
//!
//! A description read from a photo keeps every key it had, known or not
//! (photos from the 2015 apps carry `MAPSettingsUsername`, `MAPPhotoUUID`
//! and more), so that editing one key never loses another. Descriptions
//! are written as compact JSON with sorted keys and only ASCII characters,
//! as EXIF ASCII requires.

use std::fmt;
use std::path::Path;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::{Map, Value};

use crate::capture_time::{CaptureTime, ZoneRule};
use crate::exif::PhotoExif;

/// Latitude, decimal degrees WGS-84.
pub const LATITUDE: &str = "MAPLatitude";
/// Longitude, decimal degrees WGS-84.
pub const LONGITUDE: &str = "MAPLongitude";
/// Altitude in metres.
pub const ALTITUDE: &str = "MAPAltitude";
/// UTC capture time, `YYYY_MM_DD_HH_MM_SS_mmm`.
pub const CAPTURE_TIME: &str = "MAPCaptureTime";
/// `{"TrueHeading": deg, "MagneticHeading": deg}`.
pub const COMPASS_HEADING: &str = "MAPCompassHeading";
/// Groups images into a sequence.
pub const SEQUENCE_UUID: &str = "MAPSequenceUUID";
/// Camera maker.
pub const DEVICE_MAKE: &str = "MAPDeviceMake";
/// Camera model.
pub const DEVICE_MODEL: &str = "MAPDeviceModel";
/// EXIF orientation, 1–8.
pub const ORIENTATION: &str = "MAPOrientation";
/// The file's base name.
pub const FILENAME: &str = "MAPFilename";
/// The organization an upload joins (successor of 2015 projects).
pub const ORGANIZATION_KEY: &str = "MAPOrganizationKey";
/// The 2015 project key, kept for old readers.
pub const SETTINGS_PROJECT: &str = "MAPSettingsProject";

/// The keys an image description may hold in today's schema (besides the
/// `filename`/`filetype`/`md5sum`/`filesize` the uploader adds).
pub const SCHEMA_KEYS: &[&str] = &[
    LATITUDE,
    LONGITUDE,
    ALTITUDE,
    CAPTURE_TIME,
    COMPASS_HEADING,
    SEQUENCE_UUID,
    DEVICE_MAKE,
    DEVICE_MODEL,
    "MAPGPSAccuracyMeters",
    "MAPCameraUUID",
    FILENAME,
    ORIENTATION,
];

/// The JSON Schema (draft 2020-12) that an image description embedded in a
/// photo's EXIF must satisfy: the constraints the official client checks
/// before it uploads a photo. The local server checks uploads against it.
pub const SCHEMA: &str = include_str!("../schema/image-description.json");

/// The keys every image description needs.
pub const REQUIRED_KEYS: &[&str] = &[LATITUDE, LONGITUDE, CAPTURE_TIME];

/// Why a description could not be read or built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DescriptionError {
    /// ImageDescription is not a JSON object.
    NotJson(String),
    /// A tag the description needs is missing from the photo.
    MissingTag(&'static str),
    /// A tag is present but unusable.
    BadTag(&'static str, String),
    /// A key the description needs is missing or has the wrong type.
    BadKey(&'static str),
}

impl fmt::Display for DescriptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DescriptionError::NotJson(e) => {
                write!(f, "ImageDescription is not a Mapillary description ({e})")
            }
            DescriptionError::MissingTag(tag) => write!(f, "no {tag}"),
            DescriptionError::BadTag(tag, why) => write!(f, "{tag}: {why}"),
            DescriptionError::BadKey(key) => write!(f, "the description has no valid {key}"),
        }
    }
}

impl std::error::Error for DescriptionError {}

/// A Mapillary image description.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Description(Map<String, Value>);

/// Formats a UTC instant as `YYYY_MM_DD_HH_MM_SS_mmm`.
pub fn format_capture_time(t: Timestamp) -> String {
    t.to_zoned_datetime(TimeZone::UTC)
        .strftime("%Y_%m_%d_%H_%M_%S_%3f")
        .to_string()
}

/// Reads `YYYY_MM_DD_HH_MM_SS_mmm` (UTC; the fraction may have any number
/// of digits).
pub fn parse_capture_time(text: &str) -> Option<Timestamp> {
    let parts: Vec<&str> = text.trim().split('_').collect();
    if parts.len() != 7
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let exif = format!(
        "{}:{}:{} {}:{}:{}",
        parts[0], parts[1], parts[2], parts[3], parts[4], parts[5]
    );
    let t = CaptureTime::from_exif(&exif, Some(parts[6]), Some("+00:00")).ok()?;
    t.to_timestamp(&ZoneRule::Force(TimeZone::UTC)).ok()
}

/// The capture time the legacy tools used for photos from other cameras:
/// DateTimeOriginal, else DateTimeDigitized, else DateTime (each with its
/// sub-seconds and offset, placed by `rule` when it has no zone), else the
/// GPS date and time stamps (UTC). Returns the instant and the tag it came
/// from.
pub fn capture_instant(
    exif: &PhotoExif,
    rule: &ZoneRule,
) -> Result<(Timestamp, &'static str), DescriptionError> {
    for (tag, value) in [
        ("DateTimeOriginal", &exif.date_time_original),
        ("DateTimeDigitized", &exif.date_time_digitized),
        ("DateTime", &exif.date_time),
    ] {
        match value {
            Some(Ok(t)) => {
                let instant = t
                    .to_timestamp(rule)
                    .map_err(|e| DescriptionError::BadTag(tag, e.to_string()))?;
                return Ok((instant, tag));
            }
            // A broken DateTimeOriginal must not silently give way to a
            // later, less exact tag.
            Some(Err(e)) => return Err(DescriptionError::BadTag(tag, e.to_string())),
            None => {}
        }
    }
    exif.gps_time
        .map(|t| (t, "GPSDateStamp/GPSTimeStamp"))
        .ok_or(DescriptionError::MissingTag(
            "capture time (DateTimeOriginal, DateTimeDigitized, DateTime or GPS time)",
        ))
}

fn number(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

impl Description {
    /// Reads the description in a photo's ImageDescription.
    pub fn parse(text: &str) -> Result<Description, DescriptionError> {
        match serde_json::from_str::<Value>(text.trim()) {
            Ok(Value::Object(map)) => Ok(Description(map)),
            Ok(_) => Err(DescriptionError::NotJson("not a JSON object".to_string())),
            Err(e) => Err(DescriptionError::NotJson(e.to_string())),
        }
    }

    /// Builds the description of a photo from another camera out of its
    /// EXIF, as add_mapillary_tag_from_exif does: position and capture
    /// time (required), altitude, heading, make, model, orientation
    /// (default 1) and the file name, in sequence `sequence_uuid`.
    pub fn from_exif(
        exif: &PhotoExif,
        file: &Path,
        sequence_uuid: &str,
        rule: &ZoneRule,
    ) -> Result<Description, DescriptionError> {
        let lat = exif
            .latitude
            .ok_or(DescriptionError::MissingTag("GPSLatitude"))?;
        let lon = exif
            .longitude
            .ok_or(DescriptionError::MissingTag("GPSLongitude"))?;
        let (time, _) = capture_instant(exif, rule)?;
        let mut d = Description::default();
        d.set(LATITUDE, number(lat));
        d.set(LONGITUDE, number(lon));
        d.set(CAPTURE_TIME, Value::String(format_capture_time(time)));
        if let Some(alt) = exif.altitude {
            d.set(ALTITUDE, number(alt));
        }
        if let Some(direction) = exif.direction {
            // EXIF has one direction; with no magnetic model at hand both
            // headings carry it, as the official client does.
            let heading = number(direction.rem_euclid(360.0));
            d.set(
                COMPASS_HEADING,
                serde_json::json!({ "TrueHeading": heading, "MagneticHeading": heading }),
            );
        }
        if let Some(make) = &exif.make {
            d.set(DEVICE_MAKE, Value::String(make.clone()));
        }
        if let Some(model) = &exif.model {
            d.set(DEVICE_MODEL, Value::String(model.clone()));
        }
        d.set(ORIENTATION, Value::from(exif.orientation.unwrap_or(1)));
        if let Some(name) = file.file_name() {
            d.set(FILENAME, Value::String(name.to_string_lossy().into_owned()));
        }
        d.set(SEQUENCE_UUID, Value::String(sequence_uuid.to_string()));
        Ok(d)
    }

    /// The description add_mapillary_tag_from_exif writes into a photo:
    /// [`Description::from_exif`], on top of the Mapillary description the
    /// photo may already hold (whose other keys are kept).
    pub fn tag_photo(
        exif: &PhotoExif,
        file: &Path,
        sequence_uuid: &str,
        rule: &ZoneRule,
    ) -> Result<Description, DescriptionError> {
        let fresh = Description::from_exif(exif, file, sequence_uuid, rule)?;
        let existing = exif
            .image_description
            .as_deref()
            .and_then(|text| Description::parse(text).ok())
            .filter(Description::is_mapillary);
        Ok(match existing {
            Some(mut old) => {
                for (k, v) in fresh.0 {
                    old.0.insert(k, v);
                }
                old
            }
            None => fresh,
        })
    }

    /// Whether this looks like a Mapillary description (has a `MAP` key).
    pub fn is_mapillary(&self) -> bool {
        self.0.keys().any(|k| k.starts_with("MAP"))
    }

    /// Sets a key.
    pub fn set(&mut self, key: &str, value: Value) {
        self.0.insert(key.to_string(), value);
    }

    /// Removes a key.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.0.remove(key)
    }

    /// A key's value.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// The keys and values, sorted by key.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    /// MAPSequenceUUID, if set.
    pub fn sequence_uuid(&self) -> Option<&str> {
        self.0
            .get(SEQUENCE_UUID)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    /// MAPCaptureTime as an instant.
    pub fn capture_time(&self) -> Option<Timestamp> {
        self.0
            .get(CAPTURE_TIME)
            .and_then(Value::as_str)
            .and_then(parse_capture_time)
    }

    /// MAPOrganizationKey, if set.
    pub fn organization(&self) -> Option<String> {
        match self.0.get(ORGANIZATION_KEY)? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// Joins an organization: MAPOrganizationKey, and the 2015
    /// MAPSettingsProject for old readers.
    pub fn set_organization(&mut self, id: &str) {
        self.set(ORGANIZATION_KEY, Value::String(id.to_string()));
        self.set(SETTINGS_PROJECT, Value::String(id.to_string()));
    }

    /// Checks that the required keys are there with the right types.
    pub fn check_required(&self) -> Result<(), DescriptionError> {
        let lat = self.0.get(LATITUDE).and_then(Value::as_f64);
        if !lat.is_some_and(|v| (-90.0..=90.0).contains(&v)) {
            return Err(DescriptionError::BadKey(LATITUDE));
        }
        let lon = self.0.get(LONGITUDE).and_then(Value::as_f64);
        if !lon.is_some_and(|v| (-180.0..=180.0).contains(&v)) {
            return Err(DescriptionError::BadKey(LONGITUDE));
        }
        if self.capture_time().is_none() {
            return Err(DescriptionError::BadKey(CAPTURE_TIME));
        }
        Ok(())
    }

    /// The description as an upload sends it inside each image: only the
    /// schema's keys, without MAPSequenceUUID (the sequence, the user and
    /// the organization travel in the upload itself).
    pub fn for_upload(&self) -> Description {
        Description(
            self.0
                .iter()
                .filter(|(k, _)| SCHEMA_KEYS.contains(&k.as_str()) && *k != SEQUENCE_UUID)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )
    }

    /// Compact JSON with sorted keys and only ASCII characters (others as
    /// `\uXXXX` escapes), ready for EXIF ImageDescription.
    pub fn to_json(&self) -> String {
        let text = Value::Object(self.0.clone()).to_string();
        let mut out = String::with_capacity(text.len());
        for c in text.chars() {
            if c.is_ascii() {
                out.push(c);
            } else {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture_time::CaptureTime;

    fn photo() -> PhotoExif {
        PhotoExif {
            has_exif: true,
            date_time_original: Some(CaptureTime::from_exif(
                "2021:06:01 12:00:05",
                Some("25"),
                Some("+02:00"),
            )),
            latitude: Some(52.5),
            longitude: Some(-13.25),
            altitude: Some(-3.5),
            direction: Some(370.0),
            make: Some("Sóny".to_string()),
            model: Some("X".to_string()),
            ..PhotoExif::default()
        }
    }

    #[test]
    fn capture_time_format_round_trips() {
        let t: Timestamp = "2021-06-01T10:00:05.25Z".parse().unwrap();
        assert_eq!(format_capture_time(t), "2021_06_01_10_00_05_250");
        assert_eq!(parse_capture_time("2021_06_01_10_00_05_250"), Some(t));
        assert_eq!(parse_capture_time("2021_06_01_10_00_05_25"), Some(t));
        assert_eq!(parse_capture_time("2021_06_01_10_00_05"), None);
        assert_eq!(parse_capture_time("2021_13_01_10_00_05_000"), None);
    }

    #[test]
    fn built_from_exif() {
        let d = Description::from_exif(
            &photo(),
            Path::new("/x/IMG_1.jpg"),
            "seq-1",
            &ZoneRule::system(),
        )
        .unwrap();
        assert_eq!(
            d.to_json(),
            r#"{"MAPAltitude":-3.5,"MAPCaptureTime":"2021_06_01_10_00_05_250","MAPCompassHeading":{"MagneticHeading":10.0,"TrueHeading":10.0},"MAPDeviceMake":"S\u00f3ny","MAPDeviceModel":"X","MAPFilename":"IMG_1.jpg","MAPLatitude":52.5,"MAPLongitude":-13.25,"MAPOrientation":1,"MAPSequenceUUID":"seq-1"}"#
        );
        assert_eq!(Description::parse(&d.to_json()).unwrap(), d);
        d.check_required().unwrap();
        assert!(d.for_upload().sequence_uuid().is_none());
    }

    #[test]
    fn missing_tags_are_named() {
        let mut p = photo();
        p.latitude = None;
        let err =
            Description::from_exif(&p, Path::new("a.jpg"), "s", &ZoneRule::system()).unwrap_err();
        assert_eq!(err.to_string(), "no GPSLatitude");
        let mut p = photo();
        p.date_time_original = None;
        let err =
            Description::from_exif(&p, Path::new("a.jpg"), "s", &ZoneRule::system()).unwrap_err();
        assert!(err.to_string().starts_with("no capture time"), "{err}");
        // The fallbacks, in the legacy order.
        p.gps_time = Some("2020-01-01T00:00:00Z".parse().unwrap());
        assert_eq!(
            capture_instant(&p, &ZoneRule::system()).unwrap().1,
            "GPSDateStamp/GPSTimeStamp"
        );
        p.date_time = Some(CaptureTime::from_exif(
            "2020:01:01 00:00:00",
            None,
            Some("+00:00"),
        ));
        assert_eq!(
            capture_instant(&p, &ZoneRule::system()).unwrap().1,
            "DateTime"
        );
    }

    #[test]
    fn tagging_keeps_an_existing_description() {
        let mut p = photo();
        p.image_description =
            Some(r#"{"MAPSettingsUsername":"old","MAPSequenceUUID":"s0"}"#.to_string());
        let d = Description::tag_photo(&p, Path::new("a.jpg"), "s1", &ZoneRule::system()).unwrap();
        assert_eq!(d.get("MAPSettingsUsername"), Some(&Value::from("old")));
        assert_eq!(d.sequence_uuid(), Some("s1"));
        p.image_description = Some("OLYMPUS DIGITAL CAMERA".to_string());
        let d = Description::tag_photo(&p, Path::new("a.jpg"), "s1", &ZoneRule::system()).unwrap();
        assert!(d.get("MAPSettingsUsername").is_none());
    }

    #[test]
    fn legacy_keys_survive_edits() {
        let mut d = Description::parse(
            r#"{"MAPSettingsUsername":"old","MAPPhotoUUID":"u","MAPLatitude":1,"MAPLongitude":2,"MAPCaptureTime":"2015_01_01_00_00_00_000","MAPSequenceUUID":"s"}"#,
        )
        .unwrap();
        d.set_organization("42");
        let back = Description::parse(&d.to_json()).unwrap();
        assert_eq!(back.get("MAPSettingsUsername"), Some(&Value::from("old")));
        assert_eq!(back.organization().as_deref(), Some("42"));
        assert_eq!(back.get(SETTINGS_PROJECT), Some(&Value::from("42")));
        back.check_required().unwrap();
        assert!(Description::parse("hello").is_err());
        assert!(Description::parse("[1]").is_err());
        assert_eq!(
            Description::parse(r#"{"MAPLatitude":91}"#)
                .unwrap()
                .check_required(),
            Err(DescriptionError::BadKey(LATITUDE))
        );
    }
}

#[cfg(test)]
mod schema_tests {
    #[test]
    fn the_schema_is_json_and_lists_the_schema_keys() {
        let schema: serde_json::Value = serde_json::from_str(super::SCHEMA).unwrap();
        let properties = schema["properties"].as_object().unwrap();
        for key in super::SCHEMA_KEYS {
            assert!(properties.contains_key(*key), "{key}");
        }
        let required: Vec<&str> = schema["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(required, super::REQUIRED_KEYS);
    }
}
