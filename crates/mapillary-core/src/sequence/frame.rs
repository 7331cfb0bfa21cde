//! What the sequence rules read from a photo file besides its EXIF: its
//! size in bytes and its size in pixels, from the JPEG frame header (SOF),
//! read in the same pass as the EXIF so that a photo is opened once.

use std::fs::File;
use std::path::Path;

use crate::exif::jpeg::{self, JpegHead};
use crate::exif::read::read_head_exif;
use crate::exif::{ExifError, PhotoExif};

/// The size of a JPEG's image in pixels, from its frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FrameSize {
    /// Width in pixels (samples per line).
    pub width: u32,
    /// Height in pixels (lines).
    pub height: u32,
}

impl FrameSize {
    /// Width × height.
    pub fn pixels(self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }
}

/// The start-of-frame markers that carry the image size: every SOFn except
/// DHT (0xC4), JPG (0xC8) and DAC (0xCC), which share the range.
fn is_start_of_frame(marker: u8) -> bool {
    matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC)
}

/// The image size in the first frame header of a JPEG head (the segments
/// before the first SOS), if it has one with a known size. A height of 0
/// (the size is given after the first scan, by a DNL marker) counts as
/// unknown.
pub fn frame_size(head_bytes: &[u8], head: &JpegHead) -> Option<FrameSize> {
    let segment = head.segments.iter().find(|s| is_start_of_frame(s.marker))?;
    // Precision (1 byte), height (2), width (2), then the components.
    let payload = segment.payload(head_bytes);
    let height = u16::from_be_bytes([*payload.get(1)?, *payload.get(2)?]);
    let width = u16::from_be_bytes([*payload.get(3)?, *payload.get(4)?]);
    (height > 0 && width > 0).then_some(FrameSize {
        width: u32::from(width),
        height: u32::from(height),
    })
}

/// A photo's size on disk and in pixels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PhotoFacts {
    /// The file's size in bytes.
    pub bytes: u64,
    /// Its image size, when its frame header says.
    pub frame: Option<FrameSize>,
}

/// Reads a photo's EXIF and its facts in one pass over its head (only as
/// far as the image data).
pub fn read_photo(path: &Path) -> Result<(PhotoExif, PhotoFacts), ExifError> {
    let mut file = File::open(path).map_err(ExifError::Io)?;
    let bytes = file.metadata().map_err(ExifError::Io)?.len();
    let (head_bytes, head) = jpeg::read_head(&mut file).map_err(ExifError::from)?;
    let exif = read_head_exif(&head_bytes, &head).map_err(ExifError::Tiff)?;
    let facts = PhotoFacts {
        bytes,
        frame: frame_size(&head_bytes, &head),
    };
    Ok((exif, facts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg_with(segments: &[(u8, Vec<u8>)]) -> Vec<u8> {
        let mut f = vec![0xFF, 0xD8];
        for (marker, payload) in segments {
            f.extend([0xFF, *marker]);
            f.extend(u16::try_from(payload.len() + 2).unwrap().to_be_bytes());
            f.extend(payload);
        }
        f.extend([0xFF, 0xDA, 0x00, 0x03, 0x00, 0x12, 0xFF, 0xD9]);
        f
    }

    fn sof(height: u16, width: u16) -> Vec<u8> {
        let mut p = vec![8];
        p.extend(height.to_be_bytes());
        p.extend(width.to_be_bytes());
        p.extend([1, 1, 0x11, 0]);
        p
    }

    #[test]
    fn the_size_comes_from_the_frame_header() {
        // A DHT (0xC4) before the SOF2 must not be taken for a frame.
        let f = jpeg_with(&[(0xC4, vec![0; 20]), (0xC2, sof(3000, 4000))]);
        let head = jpeg::parse_head(&f).unwrap();
        let size = frame_size(&f, &head).unwrap();
        assert_eq!((size.width, size.height), (4000, 3000));
        assert_eq!(size.pixels(), 12_000_000);
        // No frame header, a truncated one, a height given later (DNL).
        let none = jpeg_with(&[(0xDB, vec![0; 65])]);
        assert_eq!(frame_size(&none, &jpeg::parse_head(&none).unwrap()), None);
        let short = jpeg_with(&[(0xC0, vec![8, 0, 1])]);
        assert_eq!(frame_size(&short, &jpeg::parse_head(&short).unwrap()), None);
        let dnl = jpeg_with(&[(0xC0, sof(0, 640))]);
        assert_eq!(frame_size(&dnl, &jpeg::parse_head(&dnl).unwrap()), None);
    }

    #[test]
    fn read_photo_gives_the_exif_and_the_facts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jpg");
        let f = jpeg_with(&[(0xC0, sof(24, 32))]);
        std::fs::write(&path, &f).unwrap();
        let (exif, facts) = read_photo(&path).unwrap();
        assert!(!exif.has_exif);
        assert_eq!(facts.bytes, f.len() as u64);
        assert_eq!(facts.frame.map(FrameSize::pixels), Some(32 * 24));
        assert!(read_photo(&dir.path().join("missing.jpg")).is_err());
    }
}
