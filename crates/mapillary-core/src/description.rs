//! The Mapillary image description: the JSON object of `MAP*` keys that
//! travels in a photo's EXIF ImageDescription.
//!
//! What a description says about a photo (capture time, heading, camera
//! id, rounding) is derived here, in one place, by the rules of the
//! official client (mapillary_tools 0.14.7): [`capture_instant`],
//! [`compass_heading`], [`camera_uuid`], [`Description::from_exif`]. Where
//! a rule differs on purpose, docs/description.md says so and why.
//!
//! A description written into a photo satisfies [`SCHEMA`], the official
//! client's schema for EXIF-embedded descriptions, which allows no keys
//! besides its own. Keys of an earlier description that it does not allow
//! (the 2015 apps' `MAPSettingsUsername`, `MAPPhotoUUID`, ...) are kept
//! inside `MAPMetaTags`, the one free-form object it allows, and so is the
//! organization that add_project adds ([`Description::set_organization`]).
//! `MAPMetaTags` never goes on the wire ([`Description::for_upload`]).
//! Descriptions are written as compact JSON with sorted keys and only
//! ASCII characters, as EXIF ASCII requires.

use std::fmt;
use std::path::Path;
use std::sync::OnceLock;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::{Map, Value};

use crate::capture_time::{CaptureInstant, CaptureTime, TimeWarning, ZoneRule};
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
/// The camera's identity, from its serial numbers.
pub const CAMERA_UUID: &str = "MAPCameraUUID";
/// A free-form object (deprecated by the official client since 0.10,
/// still allowed by its schema): where these tools keep the organization
/// and the keys the schema does not allow at the top level.
pub const META_TAGS: &str = "MAPMetaTags";
/// The organization an upload joins (successor of 2015 projects): inside
/// `MAPMetaTags` since these tools follow the schema; at the top level in
/// photos tagged by older versions (still read).
pub const ORGANIZATION_KEY: &str = "MAPOrganizationKey";
/// The 2015 project key.
pub const SETTINGS_PROJECT: &str = "MAPSettingsProject";

/// The keys an upload sends inside each image: the schema's, without
/// `MAPMetaTags` (besides the `filename`/`filetype`/`md5sum`/`filesize`
/// the uploader adds).
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
    CAMERA_UUID,
    FILENAME,
    ORIENTATION,
];

/// The JSON Schema (draft 2020-12) that an image description embedded in a
/// photo's EXIF must satisfy: the constraints the official client checks
/// before it uploads a photo. The local server checks uploads against it.
pub const SCHEMA: &str = include_str!("../schema/image-description.json");

/// The keys every image description needs.
pub const REQUIRED_KEYS: &[&str] = &[LATITUDE, LONGITUDE, CAPTURE_TIME];

/// Decimal places of MAPLatitude/MAPLongitude (about 1 cm), MAPAltitude
/// (1 mm) and the headings (0.001°), as the official client rounds them.
const COORDINATE_DECIMALS: usize = 7;
const ALTITUDE_DECIMALS: usize = 3;
const ANGLE_DECIMALS: usize = 3;

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
    /// The description does not satisfy [`SCHEMA`]: the key at fault and
    /// why.
    Schema {
        /// The key (`MAPCompassHeading.TrueHeading` for a nested one).
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A key the schema does not allow at the top level cannot be kept
    /// inside `MAPMetaTags`, which already holds another value for it (or
    /// is not an object).
    MetaTagsConflict(String),
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
            DescriptionError::Schema { key, reason } => write!(
                f,
                "the description would not fit Mapillary's image description schema: {key}: {reason}"
            ),
            DescriptionError::MetaTagsConflict(key) => write!(
                f,
                "{key} cannot be kept inside {META_TAGS}, which already holds another value for it; the description is left as it is"
            ),
        }
    }
}

impl std::error::Error for DescriptionError {}

/// A Mapillary image description.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Description(Map<String, Value>);

/// A description built for a photo, with what the user should be told
/// about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Built {
    /// The description, valid against [`SCHEMA`].
    pub description: Description,
    /// About its capture time (an invalid OffsetTimeOriginal, ...).
    pub warnings: Vec<TimeWarning>,
    /// Keys of the photo's earlier description that the schema does not
    /// allow at the top level, now kept inside `MAPMetaTags`.
    pub moved: Vec<String>,
}

/// Formats a UTC instant as `YYYY_MM_DD_HH_MM_SS_mmm`: the milliseconds
/// are truncated, not rounded, as the official client does.
pub fn format_capture_time(t: Timestamp) -> String {
    let dt = t.to_zoned_datetime(TimeZone::UTC).datetime();
    format!(
        "{}_{:03}",
        dt.strftime("%Y_%m_%d_%H_%M_%S"),
        dt.subsec_nanosecond() / 1_000_000
    )
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

/// The source the official client names first: the GPS clock.
const GPS_SOURCE: &str = "GPSDateStamp/GPSTimeStamp";

/// A photo's capture instant as the official client derives it:
/// GPSDateStamp + GPSTimeStamp (UTC) when the photo has them and the date
/// is not 1970-01-01 (what GPS units write before their first fix); else
/// DateTimeOriginal, else DateTimeDigitized, else DateTime, each with its
/// sub-seconds and offset tags, placed by `rule` when it has no zone (the
/// official client takes such a time in the computer's zone too). An
/// offset tag that is not a UTC offset gives a warning saying what was
/// used instead.
///
/// Differs from the official client on purpose in one case: a
/// DateTimeOriginal (or DateTimeDigitized) that is present but unreadable
/// is an error, not a reason to fall back to a later, less exact tag.
pub fn capture_instant(
    exif: &PhotoExif,
    rule: &ZoneRule,
) -> Result<CaptureInstant, DescriptionError> {
    if let Some(t) = exif
        .gps_time
        .filter(|t| t.to_zoned_datetime(TimeZone::UTC).date() != jiff::civil::date(1970, 1, 1))
    {
        return Ok(CaptureInstant {
            instant: t,
            source: GPS_SOURCE,
            warnings: Vec::new(),
        });
    }
    for (tag, offset_tag, value) in [
        (
            "DateTimeOriginal",
            "OffsetTimeOriginal",
            &exif.date_time_original,
        ),
        (
            "DateTimeDigitized",
            "OffsetTimeDigitized",
            &exif.date_time_digitized,
        ),
        ("DateTime", "OffsetTime", &exif.date_time),
    ] {
        match value {
            Some(Ok(t)) => {
                return t
                    .place(rule, tag, offset_tag, exif.invalid_offset(offset_tag))
                    .map_err(|e| DescriptionError::BadTag(tag, e.to_string()));
            }
            Some(Err(e)) => return Err(DescriptionError::BadTag(tag, e.to_string())),
            None => {}
        }
    }
    Err(DescriptionError::MissingTag(
        "capture time (GPSDateStamp with GPSTimeStamp, DateTimeOriginal, DateTimeDigitized or DateTime)",
    ))
}

/// The photo's heading in degrees clockwise from north, normalised to
/// [0, 360): GPSImgDirection, else GPSTrack (the direction of movement),
/// as the official client takes it. Either reference (true or magnetic)
/// is taken as it is: without a magnetic model at hand, the official
/// client writes the one value as both TrueHeading and MagneticHeading,
/// and so do these tools.
pub fn compass_heading(exif: &PhotoExif) -> Option<f64> {
    exif.direction
        .or(exif.track)
        .filter(|d| d.is_finite())
        .map(|d| d.rem_euclid(360.0))
}

/// A serial number with everything but letters and digits dropped; `None`
/// when nothing is left.
fn clean_serial(serial: Option<&str>) -> Option<String> {
    let cleaned: String = serial?.chars().filter(|c| c.is_alphanumeric()).collect();
    (!cleaned.is_empty()).then_some(cleaned)
}

/// MAPCameraUUID as the official client derives it: the body serial
/// number and the lens serial number (see [`PhotoExif::body_serial`]),
/// each with everything but letters and digits dropped, joined by `_`
/// (either alone when the other is missing); `None` when neither is left.
pub fn camera_uuid(exif: &PhotoExif) -> Option<String> {
    let parts: Vec<String> = [&exif.body_serial, &exif.lens_serial]
        .into_iter()
        .filter_map(|s| clean_serial(s.as_deref()))
        .collect();
    (!parts.is_empty()).then(|| parts.join("_"))
}

/// `v` rounded to `decimals` places, the way Python's `round` does it (to
/// the nearest decimal, exact ties to even: Rust's formatting rounds the
/// same way).
fn rounded(v: f64, decimals: usize) -> f64 {
    format!("{v:.decimals$}").parse().unwrap_or(v)
}

fn number(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

/// The compiled [`SCHEMA`].
fn schema_validator() -> Option<&'static jsonschema::Validator> {
    static VALIDATOR: OnceLock<Option<jsonschema::Validator>> = OnceLock::new();
    VALIDATOR
        .get_or_init(|| {
            let schema: Value = serde_json::from_str(SCHEMA).ok()?;
            jsonschema::validator_for(&schema).ok()
        })
        .as_ref()
}

/// The key a schema error is about, and why, in one line.
fn schema_error(error: &jsonschema::ValidationError<'_>) -> DescriptionError {
    use jsonschema::error::ValidationErrorKind;
    let path: Vec<String> = error
        .instance_path()
        .iter()
        .map(|segment| segment.to_string())
        .collect();
    let (key, reason) = match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let mut key = path.join(".");
            if !key.is_empty() {
                key.push('.');
            }
            key.push_str(&unexpected.join(", "));
            (key, "not a key the schema allows".to_string())
        }
        ValidationErrorKind::Required { property } => (
            property
                .as_str()
                .map_or_else(|| property.to_string(), str::to_string),
            "missing".to_string(),
        ),
        _ => (path.join("."), error.to_string()),
    };
    DescriptionError::Schema { key, reason }
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
    /// time (required; [`capture_instant`]), altitude, heading
    /// ([`compass_heading`]), make, model, camera id ([`camera_uuid`]),
    /// orientation (default 1) and the file name, in sequence
    /// `sequence_uuid`. Numbers are rounded as the official client rounds
    /// them. The result is checked against [`SCHEMA`].
    pub fn from_exif(
        exif: &PhotoExif,
        file: &Path,
        sequence_uuid: &str,
        rule: &ZoneRule,
    ) -> Result<Built, DescriptionError> {
        let lat = exif
            .latitude
            .ok_or(DescriptionError::MissingTag("GPSLatitude"))?;
        let lon = exif
            .longitude
            .ok_or(DescriptionError::MissingTag("GPSLongitude"))?;
        let time = capture_instant(exif, rule)?;
        let mut d = Description::default();
        d.set(LATITUDE, number(rounded(lat, COORDINATE_DECIMALS)));
        d.set(LONGITUDE, number(rounded(lon, COORDINATE_DECIMALS)));
        d.set(
            CAPTURE_TIME,
            Value::String(format_capture_time(time.instant)),
        );
        if let Some(alt) = exif.altitude.filter(|a| a.is_finite()) {
            d.set(ALTITUDE, number(rounded(alt, ALTITUDE_DECIMALS)));
        }
        if let Some(direction) = compass_heading(exif) {
            // 359.9996 rounds to 360.000, which is north again.
            let degrees = rounded(direction, ANGLE_DECIMALS) % 360.0;
            let heading = number(degrees);
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
        if let Some(id) = camera_uuid(exif) {
            d.set(CAMERA_UUID, Value::String(id));
        }
        d.set(ORIENTATION, Value::from(exif.orientation.unwrap_or(1)));
        if let Some(name) = file.file_name() {
            d.set(FILENAME, Value::String(name.to_string_lossy().into_owned()));
        }
        d.set(SEQUENCE_UUID, Value::String(sequence_uuid.to_string()));
        d.validate()?;
        Ok(Built {
            description: d,
            warnings: time.warnings,
            moved: Vec::new(),
        })
    }

    /// The description add_mapillary_tag_from_exif writes into a photo:
    /// [`Description::from_exif`], on top of the Mapillary description the
    /// photo may already hold, whose other keys are kept: the schema's at
    /// the top level, the others inside `MAPMetaTags`
    /// ([`Description::keep_other_keys_in_meta_tags`]). The result is
    /// checked against [`SCHEMA`]; a description that would not satisfy
    /// it (an old key of the schema holding a value it refuses) is an
    /// error naming the key.
    pub fn tag_photo(
        exif: &PhotoExif,
        file: &Path,
        sequence_uuid: &str,
        rule: &ZoneRule,
    ) -> Result<Built, DescriptionError> {
        let fresh = Description::from_exif(exif, file, sequence_uuid, rule)?;
        let existing = exif
            .image_description
            .as_deref()
            .and_then(|text| Description::parse(text).ok())
            .filter(Description::is_mapillary);
        let Some(mut old) = existing else {
            return Ok(fresh);
        };
        let moved = old.keep_other_keys_in_meta_tags()?;
        for (k, v) in fresh.description.0 {
            old.0.insert(k, v);
        }
        old.validate()?;
        Ok(Built {
            description: old,
            warnings: fresh.warnings,
            moved,
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

    /// The organization the photo's upload joins: MAPOrganizationKey
    /// inside MAPMetaTags (as add_project writes it), else at the top level
    /// (as older versions of these tools wrote it).
    pub fn organization(&self) -> Option<String> {
        let as_id = |v: &Value| match v {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        self.0
            .get(META_TAGS)
            .and_then(|m| m.get(ORGANIZATION_KEY))
            .and_then(as_id)
            .or_else(|| self.0.get(ORGANIZATION_KEY).and_then(as_id))
    }

    /// Joins an organization: MAPOrganizationKey inside MAPMetaTags, where
    /// the schema allows it. A MAPOrganizationKey at the top level (older
    /// versions of these tools) is replaced, with the MAPSettingsProject
    /// copy they wrote beside it; the other keys the schema does not allow
    /// at the top level are kept inside MAPMetaTags. Returns those keys.
    pub fn set_organization(&mut self, id: &str) -> Result<Vec<String>, DescriptionError> {
        if let Some(old) = self.0.remove(ORGANIZATION_KEY)
            && self.0.get(SETTINGS_PROJECT) == Some(&old)
        {
            self.0.remove(SETTINGS_PROJECT);
        }
        if let Some(Value::Object(meta)) = self.0.get_mut(META_TAGS) {
            meta.remove(ORGANIZATION_KEY);
        }
        let moved = self.keep_other_keys_in_meta_tags()?;
        match self
            .0
            .entry(META_TAGS)
            .or_insert_with(|| Value::Object(Map::new()))
        {
            Value::Object(meta) => {
                meta.insert(ORGANIZATION_KEY.to_string(), Value::String(id.to_string()));
            }
            _ => {
                return Err(DescriptionError::MetaTagsConflict(
                    ORGANIZATION_KEY.to_string(),
                ));
            }
        }
        Ok(moved)
    }

    /// Moves every top-level key that [`SCHEMA`] does not allow (the 2015
    /// apps' MAPSettingsUsername, MAPPhotoUUID, ...) into MAPMetaTags,
    /// keeping its value, so that the description satisfies the schema
    /// and loses nothing. Returns the keys moved, sorted. A key that
    /// MAPMetaTags already holds with another value, or a MAPMetaTags that
    /// is not an object, is an error, and nothing is moved.
    pub fn keep_other_keys_in_meta_tags(&mut self) -> Result<Vec<String>, DescriptionError> {
        let allowed = |k: &str| SCHEMA_KEYS.contains(&k) || k == META_TAGS;
        let others: Vec<String> = self.0.keys().filter(|k| !allowed(k)).cloned().collect();
        if others.is_empty() {
            return Ok(others);
        }
        let empty = Map::new();
        let meta = match self.0.get(META_TAGS) {
            None => &empty,
            Some(Value::Object(meta)) => meta,
            Some(_) => return Err(DescriptionError::MetaTagsConflict(others[0].clone())),
        };
        if let Some(clash) = others
            .iter()
            .find(|k| meta.get(*k).is_some_and(|v| Some(v) != self.0.get(*k)))
        {
            return Err(DescriptionError::MetaTagsConflict(clash.clone()));
        }
        let mut meta = meta.clone();
        for key in &others {
            if let Some(v) = self.0.remove(key) {
                meta.insert(key.clone(), v);
            }
        }
        self.0.insert(META_TAGS.to_string(), Value::Object(meta));
        Ok(others)
    }

    /// Checks the description against [`SCHEMA`]; the first problem is
    /// returned, naming its key.
    pub fn validate(&self) -> Result<(), DescriptionError> {
        let Some(validator) = schema_validator() else {
            return Err(DescriptionError::Schema {
                key: "(schema)".to_string(),
                reason: "the schema built into this program does not compile".to_string(),
            });
        };
        let instance = Value::Object(self.0.clone());
        match validator.validate(&instance) {
            Ok(()) => Ok(()),
            Err(e) => Err(schema_error(&e)),
        }
    }

    /// Checks what an upload needs: the required keys with the right
    /// types, and that what goes on the wire ([`Description::for_upload`])
    /// satisfies [`SCHEMA`].
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
        self.for_upload().validate()
    }

    /// The description as an upload sends it inside each image: only the
    /// schema's keys, without MAPSequenceUUID and MAPMetaTags (the
    /// sequence, the user and the organization travel in the upload
    /// itself; the official client sends neither from a photo's own
    /// description either, as it derives a new one from the EXIF).
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
    use serde_json::json;

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

    fn berlin() -> ZoneRule {
        ZoneRule::Assume(TimeZone::get("Europe/Berlin").unwrap())
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn capture_time_format_round_trips() {
        let t = at("2021-06-01T10:00:05.25Z");
        assert_eq!(format_capture_time(t), "2021_06_01_10_00_05_250");
        assert_eq!(parse_capture_time("2021_06_01_10_00_05_250"), Some(t));
        assert_eq!(parse_capture_time("2021_06_01_10_00_05_25"), Some(t));
        assert_eq!(parse_capture_time("2021_06_01_10_00_05"), None);
        assert_eq!(parse_capture_time("2021_13_01_10_00_05_000"), None);
    }

    #[test]
    fn milliseconds_are_truncated_as_the_official_client_does() {
        assert_eq!(
            format_capture_time(at("2021-06-01T10:00:05.9999Z")),
            "2021_06_01_10_00_05_999"
        );
        assert_eq!(
            format_capture_time(at("1969-12-31T23:59:59.0015Z")),
            "1969_12_31_23_59_59_001"
        );
    }

    #[test]
    fn built_from_exif() {
        let built = Description::from_exif(&photo(), Path::new("/x/IMG_1.jpg"), "seq-1", &berlin())
            .unwrap();
        let d = built.description;
        assert_eq!(
            d.to_json(),
            r#"{"MAPAltitude":-3.5,"MAPCaptureTime":"2021_06_01_10_00_05_250","MAPCompassHeading":{"MagneticHeading":10.0,"TrueHeading":10.0},"MAPDeviceMake":"S\u00f3ny","MAPDeviceModel":"X","MAPFilename":"IMG_1.jpg","MAPLatitude":52.5,"MAPLongitude":-13.25,"MAPOrientation":1,"MAPSequenceUUID":"seq-1"}"#
        );
        assert!(built.warnings.is_empty() && built.moved.is_empty());
        assert_eq!(Description::parse(&d.to_json()).unwrap(), d);
        d.check_required().unwrap();
        d.validate().unwrap();
        assert!(d.for_upload().sequence_uuid().is_none());
    }

    #[test]
    fn numbers_are_rounded_as_the_official_client_rounds_them() {
        let mut p = photo();
        p.latitude = Some(45.516_903_055_555_55);
        p.longitude = Some(-122.572_764_999_999_99);
        p.altitude = Some(72.366_492_146_596_85);
        p.direction = Some(342.049_875_311_720_7);
        let d = Description::from_exif(&p, Path::new("a.jpg"), "s", &berlin())
            .unwrap()
            .description;
        assert_eq!(d.get(LATITUDE), Some(&json!(45.5169031)));
        assert_eq!(d.get(LONGITUDE), Some(&json!(-122.572765)));
        assert_eq!(d.get(ALTITUDE), Some(&json!(72.366)));
        assert_eq!(
            d.get(COMPASS_HEADING),
            Some(&json!({"TrueHeading": 342.05, "MagneticHeading": 342.05}))
        );
        // Ties on the exact binary value go to even, as Python's round.
        assert_eq!(rounded(0.125, 2), 0.12);
        assert_eq!(rounded(0.375, 2), 0.38);
        assert_eq!(rounded(2.675, 2), 2.67);
        // Just below 360 rounds to north.
        p.direction = Some(359.9996);
        let d = Description::from_exif(&p, Path::new("a.jpg"), "s", &berlin())
            .unwrap()
            .description;
        assert_eq!(d.get(COMPASS_HEADING).unwrap()["TrueHeading"], json!(0.0));
    }

    #[test]
    fn gps_time_comes_first_unless_it_is_1970() {
        let mut p = photo();
        p.gps_time = Some(at("2021-06-01T10:00:09.5Z"));
        let t = capture_instant(&p, &berlin()).unwrap();
        assert_eq!(t.instant, at("2021-06-01T10:00:09.5Z"));
        assert_eq!(t.source, "GPSDateStamp/GPSTimeStamp");
        // GPS units write 1970-01-01 before their first fix.
        p.gps_time = Some(at("1970-01-01T00:00:12Z"));
        let t = capture_instant(&p, &berlin()).unwrap();
        assert_eq!(t.source, "DateTimeOriginal");
        assert_eq!(t.instant, at("2021-06-01T10:00:05.25Z"));
        // A GPS date of 1970-01-02 is a date like any other.
        p.gps_time = Some(at("1970-01-02T00:00:00Z"));
        assert_eq!(
            capture_instant(&p, &berlin()).unwrap().source,
            "GPSDateStamp/GPSTimeStamp"
        );
        // The GPS time wins even over a broken DateTimeOriginal.
        p.date_time_original = Some(CaptureTime::from_exif("0000:00:00 00:00:00", None, None));
        assert!(capture_instant(&p, &berlin()).is_ok());
    }

    #[test]
    fn camera_times_fall_back_in_the_official_order() {
        let mut p = photo();
        p.date_time_original = None;
        let err = capture_instant(&p, &berlin()).unwrap_err();
        assert!(
            err.to_string().starts_with("no capture time (GPSDateStamp"),
            "{err}"
        );
        p.date_time = Some(CaptureTime::from_exif("2020:01:01 10:00:00", None, None));
        let t = capture_instant(&p, &berlin()).unwrap();
        assert_eq!(
            (t.source, t.instant),
            ("DateTime", at("2020-01-01T09:00:00Z"))
        );
        p.date_time_digitized = Some(CaptureTime::from_exif(
            "2020:01:01 10:00:00",
            Some("5"),
            Some("-05:00"),
        ));
        let t = capture_instant(&p, &berlin()).unwrap();
        assert_eq!(
            (t.source, t.instant),
            ("DateTimeDigitized", at("2020-01-01T15:00:00.5Z"))
        );
        // A broken DateTimeOriginal does not give way to a later tag.
        p.date_time_original = Some(CaptureTime::from_exif("0000:00:00 00:00:00", None, None));
        let err = capture_instant(&p, &berlin()).unwrap_err();
        assert!(err.to_string().starts_with("DateTimeOriginal: "), "{err}");
    }

    #[test]
    fn times_without_a_zone_are_in_the_computers_and_forced_zones_win() {
        let mut p = photo();
        p.date_time_original = Some(CaptureTime::from_exif("2021:06:01 12:00:05", None, None));
        let t = capture_instant(&p, &berlin()).unwrap();
        assert_eq!(t.instant, at("2021-06-01T10:00:05Z"));
        let tokyo = ZoneRule::Assume(TimeZone::get("Asia/Tokyo").unwrap());
        assert_eq!(
            capture_instant(&p, &tokyo).unwrap().instant,
            at("2021-06-01T03:00:05Z")
        );
        // The file's own offset wins over the computer's zone...
        assert_eq!(
            capture_instant(&photo(), &tokyo).unwrap().instant,
            at("2021-06-01T10:00:05.25Z")
        );
        // ...and --timezone over both; not over the GPS clock, which is UTC.
        let forced = ZoneRule::Force(TimeZone::UTC);
        assert_eq!(
            capture_instant(&photo(), &forced).unwrap().instant,
            at("2021-06-01T12:00:05.25Z")
        );
        let mut gps = photo();
        gps.gps_time = Some(at("2021-06-01T10:00:06Z"));
        assert_eq!(
            capture_instant(&gps, &forced).unwrap().instant,
            at("2021-06-01T10:00:06Z")
        );
    }

    #[test]
    fn an_invalid_offset_is_a_warning_saying_what_was_used() {
        for text in ["+99:99", "garbage"] {
            let mut p = photo();
            p.date_time_original = Some(CaptureTime::from_exif(
                "2021:06:01 12:00:05",
                None,
                Some(text),
            ));
            p.invalid_offsets = vec![("OffsetTimeOriginal", text.to_string())];
            let built = Description::from_exif(&p, Path::new("a.jpg"), "s", &berlin()).unwrap();
            assert_eq!(
                built.description.get(CAPTURE_TIME),
                Some(&json!("2021_06_01_10_00_05_000"))
            );
            assert_eq!(
                built
                    .warnings
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>(),
                [format!(
                    "OffsetTimeOriginal '{text}' is not a UTC offset; used the computer's zone (Europe/Berlin, +02:00)"
                )]
            );
            // With the GPS clock, the offset does not matter: no warning.
            p.gps_time = Some(at("2021-06-01T10:00:06Z"));
            assert!(capture_instant(&p, &berlin()).unwrap().warnings.is_empty());
        }
    }

    #[test]
    fn the_heading_falls_back_to_the_gps_track() {
        let mut p = photo();
        p.direction = None;
        assert_eq!(compass_heading(&p), None);
        p.track = Some(270.89);
        assert_eq!(compass_heading(&p), Some(270.89));
        p.direction = Some(-90.0);
        assert_eq!(compass_heading(&p), Some(270.0));
        let d = Description::from_exif(&p, Path::new("a.jpg"), "s", &berlin())
            .unwrap()
            .description;
        assert_eq!(
            d.get(COMPASS_HEADING),
            Some(&json!({"TrueHeading": 270.0, "MagneticHeading": 270.0}))
        );
    }

    #[test]
    fn the_camera_id_comes_from_the_serial_numbers() {
        let mut p = photo();
        assert_eq!(camera_uuid(&p), None);
        p.body_serial = Some("C3221324657219".to_string());
        assert_eq!(camera_uuid(&p).as_deref(), Some("C3221324657219"));
        p.lens_serial = Some("0000 12-34/5".to_string());
        assert_eq!(camera_uuid(&p).as_deref(), Some("C3221324657219_000012345"));
        p.body_serial = Some(" - ".to_string());
        assert_eq!(camera_uuid(&p).as_deref(), Some("000012345"));
        p.lens_serial = Some(String::new());
        assert_eq!(camera_uuid(&p), None);
        p.body_serial = Some("NO= 20025585".to_string());
        let d = Description::from_exif(&p, Path::new("a.jpg"), "s", &berlin())
            .unwrap()
            .description;
        assert_eq!(d.get(CAMERA_UUID), Some(&json!("NO20025585")));
    }

    #[test]
    fn tagging_keeps_the_keys_of_an_existing_description() {
        let mut p = photo();
        p.image_description = Some(
            r#"{"MAPSettingsUsername":"old","MAPPhotoUUID":"u-1","MAPSequenceUUID":"s0","MAPDeviceMake":"app"}"#
                .to_string(),
        );
        let built = Description::tag_photo(&p, Path::new("a.jpg"), "s1", &berlin()).unwrap();
        assert_eq!(built.moved, ["MAPPhotoUUID", "MAPSettingsUsername"]);
        let d = built.description;
        assert_eq!(
            d.get(META_TAGS),
            Some(&json!({"MAPSettingsUsername": "old", "MAPPhotoUUID": "u-1"}))
        );
        assert!(d.get("MAPSettingsUsername").is_none());
        assert_eq!(d.sequence_uuid(), Some("s1"));
        assert_eq!(d.get(DEVICE_MAKE), Some(&json!("Sóny")));
        d.validate().unwrap();
        assert!(d.for_upload().get(META_TAGS).is_none());
        // Tagging again moves nothing more and changes nothing.
        p.image_description = Some(d.to_json());
        let again = Description::tag_photo(&p, Path::new("a.jpg"), "s1", &berlin()).unwrap();
        assert!(again.moved.is_empty());
        assert_eq!(again.description, d);
        // Text that is no Mapillary description is replaced.
        p.image_description = Some("OLYMPUS DIGITAL CAMERA".to_string());
        let d = Description::tag_photo(&p, Path::new("a.jpg"), "s1", &berlin())
            .unwrap()
            .description;
        assert!(d.get(META_TAGS).is_none());
    }

    #[test]
    fn an_existing_description_that_cannot_fit_the_schema_is_refused() {
        let mut p = photo();
        p.direction = None;
        // A 2015 heading with a key the schema refuses, and no new heading
        // to replace it.
        p.image_description = Some(
            r#"{"MAPCompassHeading":{"TrueHeading":1,"MagneticHeading":1,"AccuracyDegrees":5}}"#
                .to_string(),
        );
        let err = Description::tag_photo(&p, Path::new("a.jpg"), "s1", &berlin()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the description would not fit Mapillary's image description schema: MAPCompassHeading.AccuracyDegrees: not a key the schema allows"
        );
        // A key that MAPMetaTags already holds with another value.
        p.image_description =
            Some(r#"{"MAPPhotoUUID":"a","MAPMetaTags":{"MAPPhotoUUID":"b"}}"#.to_string());
        let err = Description::tag_photo(&p, Path::new("a.jpg"), "s1", &berlin()).unwrap_err();
        assert_eq!(
            err,
            DescriptionError::MetaTagsConflict("MAPPhotoUUID".to_string())
        );
        p.image_description = Some(r#"{"MAPPhotoUUID":"a","MAPMetaTags":[1]}"#.to_string());
        assert!(Description::tag_photo(&p, Path::new("a.jpg"), "s1", &berlin()).is_err());
    }

    #[test]
    fn schema_errors_name_the_key() {
        let base = r#""MAPLatitude":1,"MAPLongitude":2,"MAPCaptureTime":"2015_01_01_00_00_00_000""#;
        for (extra, message) in [
            (r#","MAPFoo":1"#, "MAPFoo: not a key the schema allows"),
            (
                r#","MAPOrientation":1.5"#,
                "MAPOrientation: 1.5 is not of type \"integer\"",
            ),
            (
                r#","MAPCompassHeading":{"TrueHeading":"north","MagneticHeading":0}"#,
                "MAPCompassHeading.TrueHeading: \"north\" is not of type \"number\"",
            ),
            (
                r#","MAPSequenceUUID":"!!""#,
                "MAPSequenceUUID: \"!!\" does not match \"[a-zA-Z0-9_-]+\"",
            ),
        ] {
            let d = Description::parse(&format!("{{{base}{extra}}}")).unwrap();
            let err = d.validate().unwrap_err().to_string();
            assert_eq!(
                err,
                format!(
                    "the description would not fit Mapillary's image description schema: {message}"
                )
            );
        }
        let d = Description::parse(r#"{"MAPLatitude":1,"MAPLongitude":2}"#).unwrap();
        assert!(
            d.validate()
                .unwrap_err()
                .to_string()
                .ends_with("MAPCaptureTime: missing")
        );
        Description::parse(&format!("{{{base}}}"))
            .unwrap()
            .validate()
            .unwrap();
    }

    #[test]
    fn the_organization_lives_in_meta_tags_and_old_photos_still_name_it() {
        let mut d = Description::parse(
            r#"{"MAPSettingsUsername":"old","MAPPhotoUUID":"u","MAPLatitude":1,"MAPLongitude":2,"MAPCaptureTime":"2015_01_01_00_00_00_000","MAPSequenceUUID":"s"}"#,
        )
        .unwrap();
        let moved = d.set_organization("42").unwrap();
        assert_eq!(moved, ["MAPPhotoUUID", "MAPSettingsUsername"]);
        let back = Description::parse(&d.to_json()).unwrap();
        assert_eq!(back.organization().as_deref(), Some("42"));
        assert_eq!(back.get(META_TAGS).unwrap()[ORGANIZATION_KEY], json!("42"));
        assert_eq!(
            back.get(META_TAGS).unwrap()["MAPSettingsUsername"],
            json!("old")
        );
        assert!(back.get(ORGANIZATION_KEY).is_none() && back.get(SETTINGS_PROJECT).is_none());
        back.validate().unwrap();
        back.check_required().unwrap();
        assert!(back.for_upload().get(META_TAGS).is_none());

        // Tagged the old way (top level, with a copy in MAPSettingsProject).
        let old = Description::parse(
            r#"{"MAPOrganizationKey":"7","MAPSettingsProject":"7","MAPLatitude":1,"MAPLongitude":2,"MAPCaptureTime":"2015_01_01_00_00_00_000"}"#,
        )
        .unwrap();
        assert_eq!(old.organization().as_deref(), Some("7"));
        assert!(old.validate().is_err());
        old.check_required().unwrap();
        let mut moved_over = old.clone();
        assert!(moved_over.set_organization("8").unwrap().is_empty());
        assert_eq!(moved_over.organization().as_deref(), Some("8"));
        assert_eq!(
            moved_over.get(META_TAGS),
            Some(&json!({"MAPOrganizationKey": "8"}))
        );
        moved_over.validate().unwrap();
        // A 2015 project key of its own is kept.
        let mut app = Description::parse(
            r#"{"MAPSettingsProject":"p2015","MAPLatitude":1,"MAPLongitude":2,"MAPCaptureTime":"2015_01_01_00_00_00_000"}"#,
        )
        .unwrap();
        app.set_organization("8").unwrap();
        assert_eq!(
            app.get(META_TAGS),
            Some(&json!({"MAPOrganizationKey": "8", "MAPSettingsProject": "p2015"}))
        );
        let numeric = Description::parse(r#"{"MAPMetaTags":{"MAPOrganizationKey":9}}"#).unwrap();
        assert_eq!(numeric.organization().as_deref(), Some("9"));
    }

    #[test]
    fn uploads_refuse_what_the_schema_refuses() {
        assert!(Description::parse("hello").is_err());
        assert!(Description::parse("[1]").is_err());
        assert_eq!(
            Description::parse(r#"{"MAPLatitude":91}"#)
                .unwrap()
                .check_required(),
            Err(DescriptionError::BadKey(LATITUDE))
        );
        let d = Description::parse(
            r#"{"MAPLatitude":1,"MAPLongitude":2,"MAPCaptureTime":"2015_01_01_00_00_00_000","MAPOrientation":"1"}"#,
        )
        .unwrap();
        assert!(matches!(
            d.check_required(),
            Err(DescriptionError::Schema { key, .. }) if key == "MAPOrientation"
        ));
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
