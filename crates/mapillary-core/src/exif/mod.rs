//! EXIF in JPEG files: reading the tags the tools need, and rewriting tags
//! without losing anything else.
//!
//! - [`jpeg`]: the marker segments in front of the image data;
//! - [`tiff`]: IFDs, entries and values;
//! - [`tags`]: the tags the tools use;
//! - [`read`]: [`PhotoExif`], the tools' view of a photo;
//! - [`write`]: a new EXIF block that keeps every original byte in place;
//! - [`rewrite`]: the file operation: temporary file, verification, rename;
//! - [`xmp`]: the GPS position photo editors keep in XMP only.

pub mod jpeg;
pub mod read;
pub mod rewrite;
pub mod tags;
pub mod tiff;
pub mod write;
pub mod xmp;

use std::fmt;
use std::io;

pub use read::{NoCaptureTime, PhotoExif, read_exif};
pub use rewrite::{
    Decision, RewriteError, RewriteOptions, Skipped, Updated, remove_stale_temporaries,
    rewrite_file, update_file,
};
pub use tiff::Value;
pub use write::{ExifEdits, WriteError};

/// Why a photo's EXIF could not be read.
#[derive(Debug)]
pub enum ExifError {
    /// The file could not be read.
    Io(io::Error),
    /// The file is not a well-formed JPEG.
    Jpeg(jpeg::JpegError),
    /// The EXIF block is corrupt.
    Tiff(tiff::TiffError),
}

impl fmt::Display for ExifError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExifError::Io(e) => write!(f, "{}", crate::io_reason(e)),
            ExifError::Jpeg(e) => write!(f, "{e}"),
            ExifError::Tiff(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ExifError {}

impl From<jpeg::ReadHeadError> for ExifError {
    fn from(e: jpeg::ReadHeadError) -> Self {
        match e {
            jpeg::ReadHeadError::Io(e) => ExifError::Io(e),
            jpeg::ReadHeadError::Jpeg(e) => ExifError::Jpeg(e),
        }
    }
}
