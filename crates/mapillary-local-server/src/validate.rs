//! Checking what `finish_upload` is asked to turn into a sequence: a zip,
//! or a manifest of uploaded images, each a JPEG whose EXIF
//! ImageDescription holds a Mapillary description with the required keys.
//!
//! The description is read with `rexif`, a reader independent of the
//! tools' own EXIF engine, so that the server checks what the tools wrote
//! the way another program would.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde_json::Value;

/// The most of a JPEG read to find its EXIF (the head is never larger in
/// a real photo; the rest is image data).
const HEAD_LIMIT: u64 = 1 << 20;

/// Checks a Mapillary description: a JSON object with MAPLatitude,
/// MAPLongitude (numbers in range) and MAPCaptureTime
/// (`YYYY_MM_DD_HH_MM_SS_mmm`).
pub fn check_description(text: &str) -> Result<Value, String> {
    let v: Value = serde_json::from_str(text.trim())
        .map_err(|e| format!("its ImageDescription is not JSON ({e})"))?;
    let obj = v
        .as_object()
        .ok_or("its ImageDescription is not a JSON object")?;
    let number = |key: &str, limit: f64| {
        obj.get(key)
            .and_then(Value::as_f64)
            .filter(|x| x.abs() <= limit)
            .ok_or_else(|| format!("its description has no valid {key}"))
    };
    number("MAPLatitude", 90.0)?;
    number("MAPLongitude", 180.0)?;
    let time = obj
        .get("MAPCaptureTime")
        .and_then(Value::as_str)
        .ok_or("its description has no MAPCaptureTime")?;
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
            "its MAPCaptureTime '{time}' is not YYYY_MM_DD_HH_MM_SS_mmm"
        ));
    }
    Ok(v)
}

/// Reads the description out of a JPEG's head.
pub fn description_of_jpeg(head: &[u8]) -> Result<Value, String> {
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
    check_description(&text)
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
    /// Where its bytes are.
    pub source: Source,
}

/// Where a received image's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A file of its own (image bundles).
    File(PathBuf),
    /// Entry `index` of a zip.
    ZipEntry(PathBuf, usize),
}

/// Checks an uploaded file that a manifest names.
pub fn check_image_file(path: &Path) -> Result<Received, String> {
    let mut f = File::open(path).map_err(|e| format!("cannot be read ({e})"))?;
    let head = read_head(&mut f).map_err(|e| format!("cannot be read ({e})"))?;
    Ok(Received {
        description: description_of_jpeg(&head)?,
        source: Source::File(path.to_path_buf()),
    })
}

/// Checks a manifest: `{"image_handles": [...], "upload_type": "images",
/// "version": "1"}`, every handle known (`resolve` finds its file).
pub fn check_manifest(
    bytes: &[u8],
    resolve: impl Fn(&str) -> Option<PathBuf>,
) -> Result<Vec<Received>, String> {
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
            let h = h
                .as_str()
                .ok_or_else(|| format!("image_handles[{i}] is not a string"))?;
            let path =
                resolve(h).ok_or_else(|| format!("image_handles[{i}]: unknown file handle {h}"))?;
            check_image_file(&path).map_err(|e| format!("image_handles[{i}] ({h}): {e}"))
        })
        .collect()
}

/// Checks a zip: entries `0.jpg`, `1.jpg`, ... each a JPEG with a valid
/// description, and a comment `{"sequence_md5sum": ...}`.
pub fn check_zip(path: &Path) -> Result<Vec<Received>, String> {
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
    let mut order = Vec::with_capacity(zip.len());
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
        order.push((n, i));
    }
    order.sort();
    order
        .into_iter()
        .map(|(n, i)| {
            let mut entry = zip
                .by_index(i)
                .map_err(|e| format!("zip entry {n}.jpg: {e}"))?;
            let head = read_head(&mut entry).map_err(|e| format!("zip entry {n}.jpg: {e}"))?;
            Ok(Received {
                description: description_of_jpeg(&head)
                    .map_err(|e| format!("zip entry {n}.jpg: {e}"))?,
                source: Source::ZipEntry(path.to_path_buf(), i),
            })
        })
        .collect()
}

/// Stores a received image as `to` (its bytes; returns their count).
pub fn store(received: &Received, to: &Path) -> io::Result<u64> {
    match &received.source {
        // A second name for the received upload (the same data folder, so
        // the same file system), else a copy.
        Source::File(p) => match std::fs::hard_link(p, to) {
            Ok(()) => Ok(std::fs::metadata(to)?.len()),
            Err(_) => std::fs::copy(p, to),
        },
        Source::ZipEntry(p, i) => {
            let mut zip = zip::ZipArchive::new(File::open(p)?).map_err(io::Error::other)?;
            let mut entry = zip.by_index(*i).map_err(io::Error::other)?;
            io::copy(&mut entry, &mut File::create(to)?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_need_the_required_keys() {
        let ok = r#"{"MAPLatitude":1,"MAPLongitude":2,"MAPCaptureTime":"2021_06_01_10_00_00_000"}"#;
        assert!(check_description(ok).is_ok());
        for (bad, why) in [
            ("nope", "not JSON"),
            ("[1]", "not a JSON object"),
            (
                r#"{"MAPLongitude":2,"MAPCaptureTime":"2021_06_01_10_00_00_000"}"#,
                "MAPLatitude",
            ),
            (
                r#"{"MAPLatitude":91,"MAPLongitude":2,"MAPCaptureTime":"2021_06_01_10_00_00_000"}"#,
                "MAPLatitude",
            ),
            (r#"{"MAPLatitude":1,"MAPLongitude":2}"#, "no MAPCaptureTime"),
            (
                r#"{"MAPLatitude":1,"MAPLongitude":2,"MAPCaptureTime":"2021-06-01"}"#,
                "is not YYYY",
            ),
        ] {
            let err = check_description(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
        assert_eq!(description_of_jpeg(b"GIF89a").unwrap_err(), "not a JPEG");
    }

    #[test]
    fn manifests_must_list_known_handles() {
        let err = check_manifest(
            br#"{"image_handles":["x"],"upload_type":"images","version":"1"}"#,
            |_| None,
        )
        .unwrap_err();
        assert_eq!(err, "image_handles[0]: unknown file handle x");
        let err = check_manifest(br#"{"image_handles":[],"upload_type":"images"}"#, |_| None)
            .unwrap_err();
        assert!(err.contains("lists no image"));
        assert!(
            check_manifest(b"{", |_| None)
                .unwrap_err()
                .contains("not JSON")
        );
    }
}
