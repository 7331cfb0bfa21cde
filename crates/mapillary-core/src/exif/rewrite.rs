//! Rewriting a photo's EXIF on disk without ever leaving a half-written
//! photo.
//!
//! The new file is built beside the original under a temporary name, read
//! back and checked, and only then renamed over the original. A rename
//! within one folder is atomic: at every moment the photo is either the old
//! file or the complete new one. A run that is killed leaves at most a
//! temporary file, which a later run recognises by its name and removes.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::jpeg::{self, JpegError, ReadHeadError};
use super::read::{PhotoExif, exif_block, photo_exif};
use super::tiff::Tiff;
use super::write::{ExifEdits, WriteError, ensure_exif_version, rewrite_head, verify_tiff};

/// How a rewrite is carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RewriteOptions {
    /// Decide and check everything, but write nothing.
    pub dry_run: bool,
    /// Flush the new file to the disk before it replaces the original, so
    /// that a power cut cannot leave an empty photo behind.
    pub sync: bool,
}

impl Default for RewriteOptions {
    fn default() -> Self {
        RewriteOptions {
            dry_run: false,
            sync: std::env::var_os("MLY_NOSYNC").is_none(),
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
    /// A file operation failed.
    Io {
        /// What was being done.
        action: &'static str,
        /// The error.
        error: io::Error,
    },
    /// The file is not a well-formed JPEG.
    Jpeg(JpegError),
    /// The EXIF cannot be rewritten safely.
    Write(WriteError),
    /// Another program changed the photo while it was being rewritten.
    ChangedMeanwhile,
    /// The file written did not read back as built.
    ReadBack(String),
}

impl fmt::Display for RewriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RewriteError::Io { action, error } => {
                write!(f, "{action}: {}", crate::io_reason(error))
            }
            RewriteError::Jpeg(e) => write!(f, "{e}"),
            RewriteError::Write(e) => write!(f, "{e}"),
            RewriteError::ChangedMeanwhile => {
                write!(
                    f,
                    "the file changed while it was being rewritten; left as the other program wrote it"
                )
            }
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

fn io_err(action: &'static str) -> impl FnOnce(io::Error) -> RewriteError {
    move |error| RewriteError::Io { action, error }
}

fn head_err(e: ReadHeadError) -> RewriteError {
    match e {
        ReadHeadError::Io(error) => RewriteError::Io {
            action: "reading",
            error,
        },
        ReadHeadError::Jpeg(e) => RewriteError::Jpeg(e),
    }
}

/// The part of a temporary file's name that marks it as ours.
const TEMP_MARK: &str = ".mapillary-tmp.";

/// The temporary file for `target`: hidden, in the same folder (so the
/// rename is atomic), named after the photo and this process.
fn temp_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map_or_else(Default::default, |n| n.to_string_lossy());
    let temp_name = format!(".{name}{TEMP_MARK}{}", std::process::id());
    target.with_file_name(temp_name)
}

/// The process id in one of our temporary file names, if it is one.
fn temp_owner(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?;
    let at = rest.rfind(TEMP_MARK)?;
    if at == 0 {
        return None;
    }
    rest[at + TEMP_MARK.len()..].parse().ok()
}

fn process_is_running(pid: u32) -> Option<bool> {
    let proc_root = Path::new("/proc");
    proc_root
        .join("self")
        .exists()
        .then(|| proc_root.join(pid.to_string()).exists())
}

/// Removes the temporary files that interrupted runs of these tools left in
/// `dir`: only files named like ours, only when the process that made them
/// is gone (or, where that cannot be known, when they are over an hour
/// old). Returns what was removed.
pub fn remove_stale_temporaries(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(temp_owner) else {
            continue;
        };
        if pid == std::process::id() || !entry.file_type()?.is_file() {
            continue;
        }
        let stale = match process_is_running(pid) {
            Some(running) => !running,
            None => entry
                .metadata()?
                .modified()?
                .elapsed()
                .is_ok_and(|age| age.as_secs() > 3600),
        };
        if stale {
            fs::remove_file(entry.path())?;
            removed.push(entry.path());
        }
    }
    Ok(removed)
}

/// Removes the temporary file unless it has been renamed into place.
struct TempFile {
    path: PathBuf,
    armed: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_file(&self.path);
        }
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

/// Reads a photo once, lets `decide` choose the edits from its EXIF, and
/// writes them safely. The photo is changed only if everything succeeds.
pub fn update_file(
    path: &Path,
    options: RewriteOptions,
    decide: impl FnOnce(&PhotoExif) -> Decision,
) -> Result<Updated, RewriteError> {
    // Rewrite the file a symlink points to, not the link.
    let target = if fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        fs::canonicalize(path).map_err(io_err("reading"))?
    } else {
        path.to_path_buf()
    };
    let mut original = File::open(&target).map_err(io_err("reading"))?;
    let before = original.metadata().map_err(io_err("reading"))?;
    if !before.is_file() {
        return Err(RewriteError::Io {
            action: "reading",
            error: io::Error::other("not a regular file"),
        });
    }
    let (bytes, head) = jpeg::read_head(&mut original).map_err(head_err)?;
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
    ensure_exif_version(tiff.as_ref(), &mut edits);
    let new_head = rewrite_head(&bytes, &head, &edits)?;
    if new_head.len() != head.sos_offset
        && let Some(kind) =
            absolute_offset_trailer(&mut original, before.len()).map_err(io_err("reading"))?
    {
        return Err(WriteError::AbsoluteOffsetTrailer(kind).into());
    }
    if options.dry_run {
        return Ok(Updated::WouldWrite);
    }

    let mut temp = TempFile {
        path: temp_path(&target),
        armed: false,
    };
    let mut out = OpenOptions::new()
        .write(true)
        .read(true)
        .create_new(true)
        .open(&temp.path)
        .map_err(io_err("creating the temporary file"))?;
    temp.armed = true;
    fs::set_permissions(&temp.path, before.permissions())
        .map_err(io_err("setting the temporary file's permissions"))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // Keep the owner when running as another user may change it; a
        // refusal (not root) is fine: the file is then the caller's.
        let _ = std::os::unix::fs::fchown(&out, Some(before.uid()), Some(before.gid()));
    }
    out.write_all(&new_head)
        .map_err(io_err("writing the temporary file"))?;
    let image_start = u64::try_from(head.sos_offset).map_err(|_| RewriteError::ChangedMeanwhile)?;
    original
        .seek(SeekFrom::Start(image_start))
        .map_err(io_err("reading"))?;
    // On Linux this copy stays in the kernel (copy_file_range).
    let copied = io::copy(&mut original, &mut out).map_err(io_err("writing the temporary file"))?;
    if options.sync {
        out.sync_all()
            .map_err(io_err("flushing the temporary file"))?;
    }
    verify_written(
        &mut out,
        &new_head,
        &bytes[head.sos_offset..],
        tiff.as_ref(),
        &edits,
    )?;
    let expected_len = before.len() - image_start;
    if copied != expected_len {
        return Err(RewriteError::ReadBack(format!(
            "copied {copied} bytes of image data, expected {expected_len}"
        )));
    }
    drop(out);

    let now = fs::metadata(&target).map_err(io_err("reading"))?;
    if now.len() != before.len() || now.modified().ok() != before.modified().ok() {
        return Err(RewriteError::ChangedMeanwhile);
    }
    fs::rename(&temp.path, &target).map_err(io_err("replacing the original"))?;
    temp.armed = false;
    if options.sync {
        // Make the rename itself durable.
        if let Some(dir) = target.parent() {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
    }
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

    #[test]
    fn temp_names_are_recognised() {
        let p = temp_path(Path::new("/photos/IMG_1.JPG"));
        let name = p.file_name().unwrap().to_str().unwrap();
        assert_eq!(temp_owner(name), Some(std::process::id()));
        assert_eq!(p.parent(), Some(Path::new("/photos")));
        assert_eq!(temp_owner("IMG_1.JPG"), None);
        assert_eq!(temp_owner(".IMG_1.JPG.mapillary-tmp.x"), None);
        assert_eq!(temp_owner(".mapillary-tmp.12"), None);
        assert_eq!(temp_owner("a.mapillary-tmp.12"), None);
        assert_eq!(temp_owner(".a.mapillary-tmp.12"), Some(12));
    }

    #[test]
    fn stale_temporaries_of_dead_processes_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        // pid 0 and u32::MAX cannot be running.
        let stale = dir.path().join(".a.jpg.mapillary-tmp.4294967295");
        let ours = dir
            .path()
            .join(format!(".b.jpg.mapillary-tmp.{}", std::process::id()));
        let user_file = dir.path().join("c.jpg.mapillary-tmp.1");
        for p in [&stale, &ours, &user_file] {
            fs::write(p, b"x").unwrap();
        }
        let removed = remove_stale_temporaries(dir.path()).unwrap();
        assert_eq!(removed, vec![stale.clone()]);
        assert!(!stale.exists() && ours.exists() && user_file.exists());
    }
}
