//! Rewriting a photo's EXIF on disk without ever leaving a half-written
//! photo.
//!
//! The photo is opened, locked and replaced through
//! [`crate::files::replace`], the one file-replacement mechanism of the
//! tools (docs/files.md): the new file is built beside the original under a
//! temporary name with the original's owner, permissions and extended
//! attributes, read back and checked, and renamed over the original only if
//! the original is still the file that was read. A rename within one folder
//! is atomic: at every moment the photo is either the old file or the
//! complete new one. A run that is killed leaves at most a temporary file,
//! which a later run recognises by its name and removes.

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use super::jpeg::{self, EOI, JpegError, ReadHeadError};
use super::read::{PhotoExif, exif_block, photo_exif};
use super::tiff::Tiff;
use super::write::{ExifEdits, WriteError, ensure_exif_version, rewrite_head, verify_tiff};
use crate::files::replace::{ModifiedTime, Original, ReplaceError, ReplaceOptions};

pub use crate::files::replace::remove_stale_temporaries;

/// How a rewrite is carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RewriteOptions {
    /// Decide and check everything, but write nothing.
    pub dry_run: bool,
    /// Flush the new file to the disk before it replaces the original, so
    /// that a power cut cannot leave an empty photo behind.
    pub sync: bool,
    /// Rewrite photos the caller may not write in place (read-only ones;
    /// another user's, where their owner can be kept).
    pub force: bool,
    /// What the rewritten photo's modification time is.
    pub modified: ModifiedTime,
}

impl Default for RewriteOptions {
    fn default() -> Self {
        RewriteOptions {
            dry_run: false,
            sync: std::env::var_os("MLY_NOSYNC").is_none(),
            force: false,
            modified: ModifiedTime::Now,
        }
    }
}

impl RewriteOptions {
    fn replace(&self) -> ReplaceOptions {
        ReplaceOptions {
            sync: self.sync,
            force: self.force,
            modified: self.modified,
        }
    }
}

/// What a tool wants done with one photo, once it has seen its EXIF.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Apply these edits.
    Write(ExifEdits),
    /// Leave the photo alone, for this reason.
    Skip(String),
}

/// What happened to one photo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Updated {
    /// The new EXIF is in place.
    Written,
    /// Dry run: the edits were checked and would have been written.
    WouldWrite,
    /// The tool decided to leave the photo alone.
    Skipped(String),
}

/// Why a photo was not rewritten. The photo is unchanged.
#[derive(Debug)]
pub enum RewriteError {
    /// A file operation failed, or the file may not be replaced.
    File(ReplaceError),
    /// The file is not a well-formed JPEG.
    Jpeg(JpegError),
    /// The image data does not end (no EOI marker after it): the file is
    /// truncated, or still being written.
    Incomplete,
    /// The EXIF cannot be rewritten safely.
    Write(WriteError),
    /// The file written did not read back as built.
    ReadBack(String),
}

impl fmt::Display for RewriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RewriteError::File(e) => write!(f, "{e}"),
            RewriteError::Jpeg(e) => write!(f, "{e}"),
            RewriteError::Incomplete => f.write_str(
                "the JPEG looks incomplete (its image data does not end with an EOI marker) \u{2014} still being copied? not changed",
            ),
            RewriteError::Write(e) => write!(f, "{e}"),
            RewriteError::ReadBack(what) => write!(
                f,
                "the new file did not read back correctly ({what}); original kept"
            ),
        }
    }
}

impl std::error::Error for RewriteError {}

impl From<WriteError> for RewriteError {
    fn from(e: WriteError) -> Self {
        RewriteError::Write(e)
    }
}

impl From<ReplaceError> for RewriteError {
    fn from(e: ReplaceError) -> Self {
        RewriteError::File(e)
    }
}

fn io_err(action: &'static str) -> impl FnOnce(io::Error) -> RewriteError {
    move |error| RewriteError::File(ReplaceError::Io { action, error })
}

fn head_err(e: ReadHeadError) -> RewriteError {
    match e {
        ReadHeadError::Io(error) => io_err("reading")(error),
        ReadHeadError::Jpeg(e) => RewriteError::Jpeg(e),
    }
}

/// Whether the file ends with a trailer whose offsets are absolute file
/// positions (AFCP: `AXS!` or `AXS*` twelve bytes from the end).
fn absolute_offset_trailer(file: &mut File, len: u64) -> io::Result<Option<&'static str>> {
    if len < 12 {
        return Ok(None);
    }
    let mut tail = [0u8; 12];
    file.seek(SeekFrom::Start(len - 12))?;
    file.read_exact(&mut tail)?;
    Ok(matches!(&tail[..4], b"AXS!" | b"AXS*").then_some("AFCP"))
}

/// Whether the image data (from `image_start` to `len`) holds an EOI
/// marker. Inside entropy-coded data a 0xFF byte is always followed by 0x00
/// or a restart marker, so FF D9 there is the end of the image; a file cut
/// short (a truncated copy, or one still being written) has none. Searches
/// from the end, where a whole photo has it (possibly followed by a
/// trailer), so a whole photo costs one small read.
fn has_end_of_image(file: &mut File, image_start: u64, len: u64) -> io::Result<bool> {
    const CHUNK: u64 = 64 * 1024;
    let mut end = len;
    let mut buf = vec![0u8; CHUNK as usize + 1];
    while end > image_start {
        let start = end.saturating_sub(CHUNK).max(image_start);
        // One byte of overlap with the chunk after, so that a marker
        // across the boundary is seen.
        let n = usize::try_from((end - start).min(CHUNK)).map_err(io::Error::other)?
            + usize::from(end < len);
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut buf[..n])?;
        if buf[..n].windows(2).any(|w| w == [0xFF, EOI]) {
            return Ok(true);
        }
        end = start;
    }
    Ok(false)
}

/// Reads a photo once, lets `decide` choose the edits from its EXIF, and
/// writes them safely. The photo is changed only if everything succeeds.
pub fn update_file(
    path: &Path,
    options: RewriteOptions,
    decide: impl FnOnce(&PhotoExif) -> Decision,
) -> Result<Updated, RewriteError> {
    let replace = options.replace();
    let mut original = Original::open(path, &replace)?;
    let len = original.metadata().len();
    let (bytes, head) = jpeg::read_head(original.file()).map_err(head_err)?;
    let block = exif_block(&bytes, &head);
    let tiff = block
        .map(Tiff::parse)
        .transpose()
        .map_err(|e| RewriteError::Write(WriteError::Tiff(e)))?;
    let photo = photo_exif(tiff.as_ref(), &bytes, &head);
    let mut edits = match decide(&photo) {
        Decision::Skip(reason) => return Ok(Updated::Skipped(reason)),
        Decision::Write(edits) => edits,
    };
    let image_start = u64::try_from(head.sos_offset)
        .map_err(io::Error::other)
        .map_err(io_err("reading"))?;
    if !has_end_of_image(original.file(), image_start, len).map_err(io_err("reading"))? {
        return Err(RewriteError::Incomplete);
    }
    ensure_exif_version(tiff.as_ref(), &mut edits);
    let new_head = rewrite_head(&bytes, &head, &edits)?;
    if new_head.len() != head.sos_offset
        && let Some(kind) =
            absolute_offset_trailer(original.file(), len).map_err(io_err("reading"))?
    {
        return Err(WriteError::AbsoluteOffsetTrailer(kind).into());
    }
    if options.dry_run {
        return Ok(Updated::WouldWrite);
    }

    let mut new = original.new_version()?;
    let out = new.file();
    out.write_all(&new_head)
        .map_err(io_err("writing the temporary file"))?;
    let source = original.file();
    source
        .seek(SeekFrom::Start(image_start))
        .map_err(io_err("reading"))?;
    // On Linux this copy stays in the kernel (copy_file_range).
    let copied = io::copy(source, out).map_err(io_err("writing the temporary file"))?;
    verify_written(
        out,
        &new_head,
        &bytes[head.sos_offset..],
        tiff.as_ref(),
        &edits,
    )?;
    let expected_len = len - image_start;
    if copied != expected_len {
        return Err(RewriteError::ReadBack(format!(
            "copied {copied} bytes of image data, expected {expected_len}"
        )));
    }
    original.replace(new, &replace)?;
    Ok(Updated::Written)
}

/// Reads the head of the written file back and checks it is what was built:
/// the same head bytes, the edits in place, and the image data starting
/// with the original's bytes.
fn verify_written(
    out: &mut File,
    new_head: &[u8],
    original_image_start: &[u8],
    original: Option<&Tiff<'_>>,
    edits: &ExifEdits,
) -> Result<(), RewriteError> {
    out.seek(SeekFrom::Start(0))
        .map_err(io_err("reading back the temporary file"))?;
    let (bytes, head) = jpeg::read_head(out).map_err(|e| RewriteError::ReadBack(e.to_string()))?;
    if head.sos_offset != new_head.len() || bytes[..head.sos_offset] != *new_head {
        return Err(RewriteError::ReadBack("head differs".to_string()));
    }
    let tail = &bytes[head.sos_offset..];
    let n = tail.len().min(original_image_start.len());
    if tail[..n] != original_image_start[..n] {
        return Err(RewriteError::ReadBack("image data differs".to_string()));
    }
    let block =
        exif_block(&bytes, &head).ok_or_else(|| RewriteError::ReadBack("no EXIF".to_string()))?;
    verify_tiff(original, block, edits).map_err(RewriteError::Write)
}

/// Writes `edits` into the photo at `path` safely.
pub fn rewrite_file(
    path: &Path,
    edits: &ExifEdits,
    options: RewriteOptions,
) -> Result<Updated, RewriteError> {
    update_file(path, options, |_| Decision::Write(edits.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image_data(bytes: &[u8]) -> (File, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a");
        std::fs::write(&p, bytes).unwrap();
        (File::open(&p).unwrap(), dir)
    }

    #[test]
    fn the_end_of_the_image_is_found_wherever_it_is() {
        let mut data = vec![0x11u8; 300_000];
        for (eoi_at, expect) in [
            (Some(299_998), true),
            // A trailer after the EOI.
            (Some(150_000), true),
            // Across a 64 KiB chunk boundary, counted from the end.
            (Some(300_000 - 65_537), true),
            (Some(300_000 - 65_536), true),
            (None, false),
        ] {
            data.fill(0x11);
            if let Some(at) = eoi_at {
                data[at] = 0xFF;
                data[at + 1] = EOI;
            }
            let (mut f, _dir) = image_data(&data);
            assert_eq!(
                has_end_of_image(&mut f, 1000, data.len() as u64).unwrap(),
                expect,
                "{eoi_at:?}"
            );
        }
        // An EOI before the image data (in the thumbnail) does not count.
        data.fill(0x11);
        data[10] = 0xFF;
        data[11] = EOI;
        let (mut f, _dir) = image_data(&data);
        assert!(!has_end_of_image(&mut f, 1000, data.len() as u64).unwrap());
    }
}
