//! Checking what `finish_upload` is asked to turn into a sequence: a zip,
//! or a manifest of uploaded images, each a JPEG whose EXIF
//! ImageDescription holds a Mapillary description that the official
//! schema accepts; and the limits Mapillary puts on one sequence.
//!
//! The description is read with `rexif` and the frame size with a few
//! lines of our own, readers independent of the tools' own EXIF engine, so
//! that the server checks what the tools wrote the way another program
//! would. The schema is the one the official client checks an
//! EXIF-embedded description against (`mapillary_core::description::SCHEMA`).

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::limits::{SequenceLimits, format_size};

/// The most of a JPEG read to find its EXIF and frame header (the
/// metadata in front of the image data is far smaller in real photos).
const HEAD_LIMIT: u64 = 4 << 20;

/// The largest manifest read, in bytes (1,000 handles take about 60 KB).
pub const MAX_MANIFEST_BYTES: u64 = 16 << 20;

/// The official schema of an EXIF-embedded image description, compiled.
pub struct DescriptionSchema(jsonschema::Validator);

impl std::fmt::Debug for DescriptionSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DescriptionSchema")
    }
}

/// A JSON pointer (`/MAPCompassHeading/TrueHeading`) as a field name
/// (`MAPCompassHeading.TrueHeading`).
fn field_name(pointer: &str) -> String {
    pointer
        .trim_start_matches('/')
        .split('/')
        .map(|p| p.replace("~1", "/").replace("~0", "~"))
        .collect::<Vec<_>>()
        .join(".")
}

impl DescriptionSchema {
    /// The schema of `mapillary_core::description::SCHEMA`.
    pub fn official() -> Result<DescriptionSchema, String> {
        let schema: Value = serde_json::from_str(mapillary_core::description::SCHEMA)
            .map_err(|e| format!("the description schema is not JSON ({e})"))?;
        jsonschema::validator_for(&schema)
            .map(DescriptionSchema)
            .map_err(|e| format!("the description schema is not a valid JSON Schema ({e})"))
    }

    /// Checks a description's text: JSON, accepted by the schema, and a
    /// MAPCaptureTime of exactly `YYYY_MM_DD_HH_MM_SS_mmm` (the schema's
    /// pattern also matches longer texts). The error names each field.
    pub fn check(&self, text: &str) -> Result<Value, String> {
        let v: Value = serde_json::from_str(text.trim())
            .map_err(|e| format!("its ImageDescription is not JSON ({e})"))?;
        if !v.is_object() {
            return Err("its ImageDescription is not a JSON object".to_string());
        }
        let problems: Vec<String> = self
            .0
            .iter_errors(&v)
            .map(|e| {
                let field = match e.kind() {
                    jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } => {
                        return format!(
                            "its description has {} not in the schema",
                            unexpected.join(", ")
                        );
                    }
                    jsonschema::error::ValidationErrorKind::Required { property } => {
                        return format!(
                            "its description has no {}",
                            property.as_str().unwrap_or("required key")
                        );
                    }
                    _ => field_name(e.instance_path().as_str()),
                };
                format!("its description's {field} is wrong: {e}")
            })
            .collect();
        if !problems.is_empty() {
            return Err(problems.join("; "));
        }
        if let Some(time) = v.get("MAPCaptureTime").and_then(Value::as_str) {
            let parts: Vec<&str> = time.split('_').collect();
            let shape_ok = parts.len() == 7
                && [4, 2, 2, 2, 2, 2]
                    .iter()
                    .zip(&parts)
                    .all(|(n, p)| p.len() == *n)
                && parts
                    .iter()
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
            if !shape_ok {
                return Err(format!(
                    "its description's MAPCaptureTime '{time}' is not YYYY_MM_DD_HH_MM_SS_mmm"
                ));
            }
        }
        Ok(v)
    }
}

/// The frame header's width and height (pixels) of a JPEG whose first
/// bytes are `head`: the SOF segment in front of the first scan.
pub fn frame_size(head: &[u8]) -> Result<(u32, u32), String> {
    if !head.starts_with(&[0xFF, 0xD8]) {
        return Err("not a JPEG".to_string());
    }
    let mut pos = 2;
    loop {
        let Some(&b) = head.get(pos) else {
            return Err(if head.len() as u64 >= HEAD_LIMIT {
                format!(
                    "its metadata is larger than {} before the frame header",
                    format_size(HEAD_LIMIT)
                )
            } else {
                "it ends before its frame header".to_string()
            });
        };
        if b != 0xFF {
            return Err(format!("it is a broken JPEG (no marker at byte {pos})"));
        }
        // Fill bytes may precede a marker.
        let mut m = pos + 1;
        while head.get(m) == Some(&0xFF) {
            m += 1;
        }
        let Some(&marker) = head.get(m) else {
            return Err("it ends before its frame header".to_string());
        };
        match marker {
            0xDA => return Err("it has no frame header before its image data".to_string()),
            0xD9 => return Err("it has no image data".to_string()),
            0x01 | 0xD0..=0xD7 => {
                pos = m + 1;
                continue;
            }
            _ => {}
        }
        let (Some(&hi), Some(&lo)) = (head.get(m + 1), head.get(m + 2)) else {
            return Err("it ends before its frame header".to_string());
        };
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        if len < 2 {
            return Err(format!("it is a broken JPEG (segment length {len})"));
        }
        // SOF0–SOF15, except DHT (C4), JPG (C8) and DAC (CC).
        if matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
            let p = &head[(m + 3).min(head.len())..];
            if p.len() < 5 {
                return Err("it ends inside its frame header".to_string());
            }
            let height = u32::from(u16::from_be_bytes([p[1], p[2]]));
            let width = u32::from(u16::from_be_bytes([p[3], p[4]]));
            if width == 0 || height == 0 {
                return Err(format!(
                    "its frame header gives no size ({width} × {height})"
                ));
            }
            return Ok((width, height));
        }
        pos = m + 1 + len;
    }
}

/// Reads the description out of a JPEG's head.
pub fn description_of_jpeg(head: &[u8], schema: &DescriptionSchema) -> Result<Value, String> {
    if !head.starts_with(&[0xFF, 0xD8]) {
        return Err("not a JPEG".to_string());
    }
    let (result, _warnings) = rexif::parse_buffer_quiet(head);
    let exif = result.map_err(|e| {
        let e = e.to_string();
        if e.contains("without EXIF") {
            "it has no EXIF, so no Mapillary description".to_string()
        } else {
            format!("its EXIF cannot be read ({e})")
        }
    })?;
    let text = exif
        .entries
        .iter()
        .find(|e| e.tag == rexif::ExifTag::ImageDescription)
        .and_then(|e| match &e.value {
            rexif::TagValue::Ascii(s) => Some(s.clone()),
            _ => None,
        })
        .ok_or("it has no EXIF ImageDescription")?;
    schema.check(&text)
}

fn read_head(reader: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut head = Vec::new();
    reader.take(HEAD_LIMIT).read_to_end(&mut head)?;
    Ok(head)
}

/// One image of a sequence being received.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    /// Its description.
    pub description: Value,
    /// Its width in pixels.
    pub width: u32,
    /// Its height in pixels.
    pub height: u32,
    /// Its size in bytes.
    pub bytes: u64,
    /// Where its bytes are.
    pub source: Source,
}

/// Where a received image's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An upload of its own (image bundles): its session key and file.
    Upload(String, PathBuf),
    /// Entry `index` of a zip.
    ZipEntry(PathBuf, usize),
}

/// Checks one image from its head.
fn check_head(
    head: &[u8],
    bytes: u64,
    source: Source,
    schema: &DescriptionSchema,
) -> Result<Received, String> {
    let description = description_of_jpeg(head, schema)?;
    let (width, height) = frame_size(head)?;
    Ok(Received {
        description,
        width,
        height,
        bytes,
        source,
    })
}

/// Checks an uploaded image file (one that a manifest names).
pub fn check_image_file(
    key: &str,
    path: &Path,
    schema: &DescriptionSchema,
) -> Result<Received, String> {
    let mut f = File::open(path).map_err(|e| format!("cannot be read ({e})"))?;
    let bytes = f
        .metadata()
        .map_err(|e| format!("cannot be read ({e})"))?
        .len();
    let head = read_head(&mut f).map_err(|e| format!("cannot be read ({e})"))?;
    check_head(
        &head,
        bytes,
        Source::Upload(key.to_string(), path.to_path_buf()),
        schema,
    )
}

/// The limits checked while the images come in.
struct Totals<'a> {
    limits: &'a SequenceLimits,
    bytes: u64,
    pixels: u64,
}

/// Checks the number of images of a sequence.
pub fn check_count(limits: &SequenceLimits, n: usize) -> Result<(), String> {
    if n > limits.max_images {
        return Err(format!(
            "the sequence has {n} images, more than the {} one sequence may have (split it into sequences of at most {})",
            limits.max_images, limits.max_images
        ));
    }
    Ok(())
}

impl Totals<'_> {
    fn add(&mut self, what: &str, r: &Received) -> Result<(), String> {
        self.bytes = self.bytes.saturating_add(r.bytes);
        if self.bytes > self.limits.max_bytes {
            return Err(format!(
                "the sequence's images add up to more than {}, the most one sequence may hold (reached at {what}; split it)",
                format_size(self.limits.max_bytes)
            ));
        }
        self.pixels = self
            .pixels
            .saturating_add(u64::from(r.width) * u64::from(r.height));
        if self.pixels > self.limits.max_pixels {
            return Err(format!(
                "the sequence's images add up to more than {}, the most one sequence may have (reached at {what}; split it)",
                gigapixels(self.limits.max_pixels)
            ));
        }
        Ok(())
    }
}

/// `6 gigapixels`, or `N pixels` when it is not a whole number of them.
fn gigapixels(p: u64) -> String {
    if p.is_multiple_of(1_000_000_000) {
        format!("{} gigapixels", p / 1_000_000_000)
    } else {
        format!("{p} pixels")
    }
}

/// The session key a file handle names (`h.<key>`).
pub fn key_of_handle(handle: &str) -> Option<&str> {
    handle.strip_prefix("h.")
}

/// The handles of a manifest: `{"image_handles": [...], "upload_type":
/// "images", "version": "1"}`.
pub fn manifest_handles(bytes: &[u8]) -> Result<Vec<String>, String> {
    let v: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("the manifest is not JSON ({e})"))?;
    if v.get("upload_type").and_then(Value::as_str) != Some("images") {
        return Err("the manifest's upload_type is not \"images\"".to_string());
    }
    let handles = v
        .get("image_handles")
        .and_then(Value::as_array)
        .ok_or("the manifest has no image_handles list")?;
    if handles.is_empty() {
        return Err("the manifest lists no image".to_string());
    }
    handles
        .iter()
        .enumerate()
        .map(|(i, h)| {
            h.as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("image_handles[{i}] is not a string"))
        })
        .collect()
}

/// Checks the images a manifest names (`resolve` finds a handle's session
/// key and file), within `limits`.
pub fn check_manifest(
    handles: &[String],
    resolve: impl Fn(&str) -> Option<(String, PathBuf)>,
    schema: &DescriptionSchema,
    limits: &SequenceLimits,
) -> Result<Vec<Received>, String> {
    check_count(limits, handles.len())?;
    let mut totals = Totals {
        limits,
        bytes: 0,
        pixels: 0,
    };
    let mut out = Vec::with_capacity(handles.len());
    for (i, h) in handles.iter().enumerate() {
        let (key, path) =
            resolve(h).ok_or_else(|| format!("image_handles[{i}]: unknown file handle {h}"))?;
        let r = check_image_file(&key, &path, schema)
            .map_err(|e| format!("image_handles[{i}] ({h}): {e}"))?;
        totals.add(&format!("image_handles[{i}]"), &r)?;
        out.push(r);
    }
    Ok(out)
}

/// Checks a zip: entries `0.jpg`, `1.jpg`, ... each a JPEG with a valid
/// description, and a comment `{"sequence_md5sum": ...}`; within `limits`,
/// and holding at most `max_extracted` bytes of images in all (a zip of
/// photos is about as large as its photos, so this bounds what storing it
/// writes to the disk).
pub fn check_zip(
    path: &Path,
    schema: &DescriptionSchema,
    limits: &SequenceLimits,
    max_extracted: u64,
) -> Result<Vec<Received>, String> {
    let file = File::open(path).map_err(|e| format!("the zip cannot be read ({e})"))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| format!("not a valid zip ({e})"))?;
    let comment: Value = serde_json::from_slice(zip.comment())
        .map_err(|_| "the zip comment is not JSON".to_string())?;
    if comment
        .get("sequence_md5sum")
        .and_then(Value::as_str)
        .is_none()
    {
        return Err("the zip comment has no sequence_md5sum".to_string());
    }
    if zip.is_empty() {
        return Err("the zip holds no image".to_string());
    }
    check_count(limits, zip.len())?;
    let mut order = Vec::with_capacity(zip.len());
    let mut extracted = 0u64;
    for i in 0..zip.len() {
        let entry = zip.by_index(i).map_err(|e| format!("zip entry {i}: {e}"))?;
        let name = entry
            .name()
            .map_err(|e| format!("zip entry {i}: {e}"))?
            .to_string();
        let n: usize = name
            .strip_suffix(".jpg")
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("zip entry '{name}' is not named N.jpg"))?;
        extracted = extracted.saturating_add(entry.size());
        if extracted > max_extracted {
            return Err(format!(
                "the zip's images add up to more than {}, the most one upload may hold",
                format_size(max_extracted)
            ));
        }
        order.push((n, i));
    }
    order.sort();
    let mut totals = Totals {
        limits,
        bytes: 0,
        pixels: 0,
    };
    let mut out = Vec::with_capacity(order.len());
    for (n, i) in order {
        let mut entry = zip
            .by_index(i)
            .map_err(|e| format!("zip entry {n}.jpg: {e}"))?;
        let bytes = entry.size();
        let head = read_head(&mut entry).map_err(|e| format!("zip entry {n}.jpg: {e}"))?;
        let r = check_head(
            &head,
            bytes,
            Source::ZipEntry(path.to_path_buf(), i),
            schema,
        )
        .map_err(|e| format!("zip entry {n}.jpg: {e}"))?;
        totals.add(&format!("zip entry {n}.jpg"), &r)?;
        out.push(r);
    }
    Ok(out)
}

/// Writes a zip entry's bytes to `to` (returns their count).
pub fn extract(zip_path: &Path, index: usize, to: &Path) -> io::Result<u64> {
    let mut zip = zip::ZipArchive::new(File::open(zip_path)?).map_err(io::Error::other)?;
    let mut entry = zip.by_index(index).map_err(io::Error::other)?;
    io::copy(&mut entry, &mut File::create(to)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> DescriptionSchema {
        DescriptionSchema::official().unwrap()
    }

    #[test]
    fn descriptions_are_checked_against_the_official_schema() {
        let s = schema();
        let ok = r#"{"MAPLatitude":1,"MAPLongitude":2,"MAPCaptureTime":"2021_06_01_10_00_00_000"}"#;
        assert!(s.check(ok).is_ok());
        let official = r#"{"MAPAltitude":70.3,"MAPCaptureTime":"2018_06_08_20_24_11_000","MAPCompassHeading":{"MagneticHeading":270.89,"TrueHeading":270.89},"MAPDeviceMake":"SONY","MAPDeviceModel":"HDR-AS300","MAPFilename":"DSC00001.JPG","MAPLatitude":45.5169031,"MAPLongitude":-122.572765,"MAPOrientation":1}"#;
        assert!(s.check(official).is_ok());
        let base = r#""MAPLatitude":1,"MAPLongitude":2,"MAPCaptureTime":"2021_06_01_10_00_00_000""#;
        for (bad, why) in [
            ("nope".to_string(), "not JSON"),
            ("[1]".to_string(), "not a JSON object"),
            (
                r#"{"MAPLongitude":2,"MAPCaptureTime":"2021_06_01_10_00_00_000"}"#.to_string(),
                "has no MAPLatitude",
            ),
            (
                r#"{"MAPLatitude":91,"MAPLongitude":2,"MAPCaptureTime":"2021_06_01_10_00_00_000"}"#
                    .to_string(),
                "MAPLatitude is wrong",
            ),
            (
                r#"{"MAPLatitude":1,"MAPLongitude":2}"#.to_string(),
                "has no MAPCaptureTime",
            ),
            (
                r#"{"MAPLatitude":1,"MAPLongitude":2,"MAPCaptureTime":"x2021_06_01_10_00_00_000"}"#
                    .to_string(),
                "is not YYYY",
            ),
            (
                format!(r#"{{{base},"MAPCompassHeading":{{"TrueHeading":"north"}}}}"#),
                "MAPCompassHeading.TrueHeading is wrong",
            ),
            (
                format!(r#"{{{base},"MAPCompassHeading":{{"TrueHeading":1}}}}"#),
                "MagneticHeading",
            ),
            (
                format!(r#"{{{base},"MAPOrientation":"1.5"}}"#),
                "MAPOrientation is wrong",
            ),
            (
                format!(r#"{{{base},"MAPOrientation":1.5}}"#),
                "MAPOrientation is wrong",
            ),
            (
                format!(r#"{{{base},"MAPFoo":1}}"#),
                "has MAPFoo not in the schema",
            ),
            (
                format!(r#"{{{base},"MAPSequenceUUID":7}}"#),
                "MAPSequenceUUID is wrong",
            ),
        ] {
            let err = s.check(&bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
        assert_eq!(
            description_of_jpeg(b"GIF89a", &s).unwrap_err(),
            "not a JPEG"
        );
    }

    #[test]
    fn frame_sizes_come_from_the_sof_segment() {
        let jpeg = crate::thumbnail::thumbnail("x", "1024").unwrap();
        assert_eq!(frame_size(&jpeg), Ok((64, 48)));
        assert!(
            frame_size(b"\xFF\xD8\xFF\xDA\x00\x02")
                .unwrap_err()
                .contains("no frame header")
        );
        assert!(
            frame_size(b"\xFF\xD8\xFF\xE1\x00")
                .unwrap_err()
                .contains("ends before")
        );
        assert!(frame_size(b"GIF89a").unwrap_err().contains("not a JPEG"));
        // A frame header of height 0 (sized later by a DNL marker) is refused.
        let mut zero = jpeg.clone();
        let sof = (0..zero.len() - 1)
            .find(|&i| zero[i] == 0xFF && zero[i + 1] == 0xC0)
            .unwrap();
        zero[sof + 5] = 0;
        zero[sof + 6] = 0;
        assert!(frame_size(&zero).unwrap_err().contains("no size"));
    }

    #[test]
    fn damaged_jpegs_are_errors_never_panics() {
        let jpeg = crate::thumbnail::thumbnail("x", "256").unwrap();
        let s = schema();
        for end in 0..jpeg.len().min(2000) {
            let _ = frame_size(&jpeg[..end]);
            let _ = description_of_jpeg(&jpeg[..end], &s);
        }
        for i in 0..jpeg.len().min(2000) {
            let mut bad = jpeg.clone();
            bad[i] ^= 0xFF;
            let _ = frame_size(&bad);
        }
    }

    #[test]
    fn manifests_must_list_known_handles() {
        let s = schema();
        let limits = SequenceLimits::default();
        let handles =
            manifest_handles(br#"{"image_handles":["x"],"upload_type":"images","version":"1"}"#)
                .unwrap();
        let err = check_manifest(&handles, |_| None, &s, &limits).unwrap_err();
        assert_eq!(err, "image_handles[0]: unknown file handle x");
        let err = manifest_handles(br#"{"image_handles":[],"upload_type":"images"}"#).unwrap_err();
        assert!(err.contains("lists no image"));
        assert!(manifest_handles(b"{").unwrap_err().contains("not JSON"));
        let many = vec!["h.x".to_string(); 1001];
        let err = check_manifest(&many, |_| None, &s, &limits).unwrap_err();
        assert!(err.contains("1001 images, more than the 1000"), "{err}");
    }
}
