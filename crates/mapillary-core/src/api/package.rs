//! What is uploaded for a sequence of photos: each photo with its upload
//! description in EXIF, named by a digest of those bytes (so that an
//! interrupted upload resumes and a repeated one is recognised), and the
//! manifest that lists their file handles.
//!
//! The digest is BLAKE3 cut to 128 bits, not the official client's md5: it
//! is six times faster (md5 alone held uploads on loopback to half of
//! curl's speed; see docs/upload.md), and the server treats session keys as
//! opaque names.

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::upload::{BytesUpload, Upload};
use crate::description::Description;
use crate::exif::jpeg::{self, ReadHeadError};
use crate::exif::tiff::Tiff;
use crate::exif::write::{ensure_exif_version, rewrite_head};
use crate::exif::{ExifEdits, read::exif_block, tags};

/// The content digest: BLAKE3, its first 128 bits, in hex.
fn digest_hex(hasher: &blake3::Hasher) -> String {
    hex(&hasher.finalize().as_bytes()[..16])
}

/// Lower-case hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Why a photo could not be prepared for upload.
#[derive(Debug)]
pub enum PrepareError {
    /// Reading failed.
    Io(io::Error),
    /// The file is not a well-formed JPEG or its EXIF cannot take the
    /// description.
    Photo(String),
}

impl fmt::Display for PrepareError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrepareError::Io(e) => write!(f, "{}", crate::io_reason(e)),
            PrepareError::Photo(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for PrepareError {}

/// A photo as it is uploaded: the original file with a new head (its
/// EXIF ImageDescription holding the upload description) in front of the
/// original image data. The original file is not changed: the new head is
/// built again each time the bytes are read, so that memory does not grow
/// with the number of photos (a hash of it guards against the file
/// changing in between).
#[derive(Debug, Clone)]
pub struct PreparedImage {
    /// The photo on disk.
    pub path: PathBuf,
    description: String,
    head_digest: [u8; 32],
    head_len: u64,
    image_start: u64,
    file_len: u64,
    digest: String,
    key: String,
}

/// The new head of a photo and where its image data starts.
fn build_head(file: &mut File, description: &str) -> Result<(Vec<u8>, u64), PrepareError> {
    let (bytes, head) = jpeg::read_head(file).map_err(|e| match e {
        ReadHeadError::Io(e) => PrepareError::Io(e),
        ReadHeadError::Jpeg(e) => PrepareError::Photo(e.to_string()),
    })?;
    let tiff = exif_block(&bytes, &head)
        .map(Tiff::parse)
        .transpose()
        .map_err(|e| PrepareError::Photo(e.to_string()))?;
    let mut edits = ExifEdits::new();
    edits.set_text(tags::IMAGE_DESCRIPTION, description);
    ensure_exif_version(tiff.as_ref(), &mut edits);
    let new_head =
        rewrite_head(&bytes, &head, &edits).map_err(|e| PrepareError::Photo(e.to_string()))?;
    Ok((new_head, head.sos_offset as u64))
}

/// Photos up to this size (image data) are held in memory between hashing
/// and sending, so that they are read from disk once; larger ones are read
/// again. With four uploads at a time, this bounds the memory they take.
pub const IN_MEMORY_LIMIT: u64 = 8 << 20;

/// A prepared photo with its bytes in memory (see [`IN_MEMORY_LIMIT`]):
/// what is sent is exactly what was hashed.
#[derive(Debug)]
pub struct LoadedImage {
    /// The photo.
    pub image: PreparedImage,
    /// Its new head and its image data, when held.
    bytes: Option<(Vec<u8>, Vec<u8>)>,
}

impl LoadedImage {
    /// The prepared photo, its bytes let go.
    pub fn into_prepared(self) -> PreparedImage {
        self.image
    }
}

impl Upload for LoadedImage {
    fn session_key(&self) -> &str {
        self.image.session_key()
    }

    fn len(&self) -> u64 {
        self.image.len()
    }

    fn open_at(&self, offset: u64) -> io::Result<Box<dyn Read + Send + '_>> {
        let Some((head, rest)) = &self.bytes else {
            return self.image.open_at(offset);
        };
        let offset = usize::try_from(offset).unwrap_or(usize::MAX);
        let from_head = &head[offset.min(head.len())..];
        let from_rest = &rest[offset.saturating_sub(head.len()).min(rest.len())..];
        Ok(Box::new(from_head.chain(from_rest)))
    }

    fn entity_type(&self) -> &str {
        self.image.entity_type()
    }
}

impl PreparedImage {
    /// Prepares `path` with `description` (which the caller has reduced to
    /// what an upload carries), reading the file once to hash it.
    pub fn prepare(path: &Path, description: &Description) -> Result<PreparedImage, PrepareError> {
        Self::prepare_with_limit(path, description, 0).map(LoadedImage::into_prepared)
    }

    /// As [`PreparedImage::prepare`], keeping the bytes in memory when the
    /// image data is at most [`IN_MEMORY_LIMIT`].
    pub fn load(path: &Path, description: &Description) -> Result<LoadedImage, PrepareError> {
        Self::prepare_with_limit(path, description, IN_MEMORY_LIMIT)
    }

    fn prepare_with_limit(
        path: &Path,
        description: &Description,
        keep: u64,
    ) -> Result<LoadedImage, PrepareError> {
        let mut file = File::open(path).map_err(PrepareError::Io)?;
        let file_len = file.metadata().map_err(PrepareError::Io)?.len();
        let description = description.to_json();
        let (head, image_start) = build_head(&mut file, &description)?;
        let mut hasher = blake3::Hasher::new();
        hasher.update(&head);
        file.seek(SeekFrom::Start(image_start))
            .map_err(PrepareError::Io)?;
        let data_len = file_len.saturating_sub(image_start);
        let kept = if data_len <= keep {
            let mut rest = Vec::with_capacity(data_len as usize);
            (&mut file)
                .take(data_len)
                .read_to_end(&mut rest)
                .map_err(PrepareError::Io)?;
            if rest.len() as u64 != data_len {
                return Err(PrepareError::Photo(
                    "the file changed while it was read".to_string(),
                ));
            }
            hasher.update(&rest);
            Some(rest)
        } else {
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = file.read(&mut buf).map_err(PrepareError::Io)?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
            }
            None
        };
        let digest = digest_hex(&hasher);
        let image = PreparedImage {
            path: path.to_path_buf(),
            description,
            head_digest: blake3::hash(&head).into(),
            head_len: head.len() as u64,
            image_start,
            file_len,
            key: format!("mly_tools_{digest}.jpg"),
            digest,
        };
        Ok(LoadedImage {
            image,
            bytes: kept.map(|rest| (head, rest)),
        })
    }

    /// The digest of the bytes uploaded, in hex.
    pub fn digest(&self) -> &str {
        &self.digest
    }
}

/// The new head, then the original file from its image data on.
struct PreparedReader {
    head: io::Cursor<Vec<u8>>,
    rest: io::Take<File>,
}

impl Read for PreparedReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.head.read(buf)?;
        if n > 0 {
            return Ok(n);
        }
        self.rest.read(buf)
    }
}

impl Upload for PreparedImage {
    fn session_key(&self) -> &str {
        &self.key
    }

    fn len(&self) -> u64 {
        self.head_len + (self.file_len - self.image_start)
    }

    fn open_at(&self, offset: u64) -> io::Result<Box<dyn Read + Send + '_>> {
        let changed = || {
            io::Error::other(format!(
                "{} changed since it was prepared",
                crate::shown::shown(&self.path)
            ))
        };
        let mut file = File::open(&self.path)?;
        if file.metadata()?.len() != self.file_len {
            return Err(changed());
        }
        let (head, image_start) =
            build_head(&mut file, &self.description).map_err(|_| changed())?;
        let head_digest: [u8; 32] = blake3::hash(&head).into();
        if head_digest != self.head_digest || image_start != self.image_start {
            return Err(changed());
        }
        let mut head = io::Cursor::new(head);
        if offset < self.head_len {
            head.set_position(offset);
            file.seek(SeekFrom::Start(self.image_start))?;
        } else {
            head.set_position(self.head_len);
            file.seek(SeekFrom::Start(self.image_start + (offset - self.head_len)))?;
        }
        let left = self.file_len.saturating_sub(file.stream_position()?);
        Ok(Box::new(PreparedReader {
            head,
            rest: file.take(left),
        }))
    }

    fn entity_type(&self) -> &str {
        "image/jpeg"
    }
}

/// The digest of a sequence: of its images' digests (hex, in order).
/// Names the sequence in the upload history.
pub fn sequence_digest<'a>(image_digests: impl IntoIterator<Item = &'a str>) -> String {
    let mut hasher = blake3::Hasher::new();
    for d in image_digests {
        hasher.update(d.as_bytes());
    }
    digest_hex(&hasher)
}

/// The manifest of an image bundle: `{"image_handles": [...],
/// "upload_type": "images", "version": "1"}`, keys sorted, no spaces,
/// under a random `uuid_…json` key (never cached).
pub fn manifest(handles: &[String]) -> BytesUpload {
    let json = serde_json::json!({
        "image_handles": handles,
        "upload_type": "images",
        "version": "1",
    });
    BytesUpload {
        key: format!("uuid_{}.json", uuid::Uuid::new_v4().simple()),
        bytes: json.to_string().into_bytes(),
        entity_type: "application/json",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::description::Description;

    fn tiny_jpeg() -> Vec<u8> {
        // SOI, a DQT-like segment, SOS with a few bytes of "image", EOI.
        let mut f = vec![0xFF, 0xD8, 0xFF, 0xDB, 0x00, 0x04, 0x01, 0x02];
        f.extend([0xFF, 0xDA, 0x00, 0x03, 0x00, 0x11, 0x22, 0x33, 0xFF, 0xD9]);
        f
    }

    #[test]
    fn prepared_bytes_are_the_new_head_then_the_image() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jpg");
        std::fs::write(&path, tiny_jpeg()).unwrap();
        let d = Description::parse(
            r#"{"MAPLatitude":1.5,"MAPLongitude":2,"MAPCaptureTime":"2020_01_01_00_00_00_000"}"#,
        )
        .unwrap();
        let p = PreparedImage::prepare(&path, &d).unwrap();
        let mut all = Vec::new();
        p.open_at(0).unwrap().read_to_end(&mut all).unwrap();
        assert_eq!(all.len() as u64, p.len());
        assert!(all.ends_with(&[0xFF, 0xDA, 0x00, 0x03, 0x00, 0x11, 0x22, 0x33, 0xFF, 0xD9]));
        assert_eq!(p.digest(), hex(&blake3::hash(&all).as_bytes()[..16]));
        assert_eq!(p.digest().len(), 32);
        assert_eq!(p.session_key(), format!("mly_tools_{}.jpg", p.digest()));
        // Reading from any offset gives the rest of the same bytes.
        for offset in [1, 10, all.len() as u64 - 3, all.len() as u64] {
            let mut tail = Vec::new();
            p.open_at(offset).unwrap().read_to_end(&mut tail).unwrap();
            assert_eq!(tail, all[offset as usize..], "offset {offset}");
        }
        // The description reads back from the prepared bytes.
        let head = jpeg::parse_head(&all).unwrap();
        let photo = crate::exif::read::read_head_exif(&all, &head).unwrap();
        assert_eq!(
            Description::parse(&photo.image_description.unwrap()).unwrap(),
            d
        );
        // Held in memory, the same bytes from every offset, the same key.
        let loaded = PreparedImage::load(&path, &d).unwrap();
        assert_eq!(loaded.session_key(), p.session_key());
        assert_eq!(loaded.len(), p.len());
        for offset in [0, 1, 10, all.len() as u64 - 3, all.len() as u64] {
            let mut tail = Vec::new();
            loaded
                .open_at(offset)
                .unwrap()
                .read_to_end(&mut tail)
                .unwrap();
            assert_eq!(tail, all[offset as usize..], "loaded, offset {offset}");
        }
        // The original is untouched.
        assert_eq!(std::fs::read(&path).unwrap(), tiny_jpeg());
    }

    #[test]
    fn manifest_and_sequence_digest() {
        let m = manifest(&["h1".to_string(), "h2".to_string()]);
        assert_eq!(
            String::from_utf8(m.bytes).unwrap(),
            r#"{"image_handles":["h1","h2"],"upload_type":"images","version":"1"}"#
        );
        assert!(m.key.starts_with("uuid_") && m.key.ends_with(".json"));
        assert_eq!(
            sequence_digest(["a", "b"]),
            hex(&blake3::hash(b"ab").as_bytes()[..16])
        );
        assert_ne!(sequence_digest(["a", "b"]), sequence_digest(["b", "a"]));
    }
}
