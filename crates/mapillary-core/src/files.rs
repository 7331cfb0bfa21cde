//! Finding the images a tool works on, with the legacy rules.
//!
//! A path whose name ends in `.jpg` or `.jpeg` (any case) is one image.
//! Anything else is a folder, walked recursively; every regular file whose
//! name ends in `.jpg` or `.jpeg` is taken. The result is sorted by path so
//! that every tool sees the images in the same order on every run.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Whether a file name has a JPEG extension (`.jpg` or `.jpeg`, any case).
pub fn has_jpeg_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("jpg") || e.eq_ignore_ascii_case("jpeg"))
}

/// Why the images under a path could not be listed.
#[derive(Debug)]
pub struct FindError {
    /// The file or folder that could not be read.
    pub path: PathBuf,
    /// What went wrong.
    pub reason: String,
}

impl fmt::Display for FindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", crate::shown::shown(&self.path), self.reason)
    }
}

impl std::error::Error for FindError {}

/// Lists the images at `path` with the legacy rules, sorted by path.
///
/// Folder symlinks are not followed (so a link loop cannot hang a run);
/// symlinks to files are taken like files.
pub fn find_images(path: &Path) -> Result<Vec<PathBuf>, FindError> {
    let err = |p: &Path, e: &io::Error| FindError {
        path: p.to_path_buf(),
        reason: crate::io_reason(e),
    };
    if has_jpeg_extension(path) {
        let meta = fs::metadata(path).map_err(|e| err(path, &e))?;
        if !meta.is_file() {
            return Err(FindError {
                path: path.to_path_buf(),
                reason: "not a regular file".to_string(),
            });
        }
        return Ok(vec![path.to_path_buf()]);
    }
    let meta = fs::metadata(path).map_err(|e| err(path, &e))?;
    if !meta.is_dir() {
        return Err(FindError {
            path: path.to_path_buf(),
            reason: "neither a folder nor a .jpg/.jpeg file".to_string(),
        });
    }
    let mut found = Vec::new();
    let mut pending = vec![path.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = fs::read_dir(&dir).map_err(|e| err(&dir, &e))?;
        for entry in entries {
            let entry = entry.map_err(|e| err(&dir, &e))?;
            let entry_path = entry.path();
            let file_type = entry.file_type().map_err(|e| err(&entry_path, &e))?;
            if file_type.is_dir() {
                pending.push(entry_path);
            } else if has_jpeg_extension(&entry_path) {
                let is_file = if file_type.is_symlink() {
                    fs::metadata(&entry_path).is_ok_and(|m| m.is_file())
                } else {
                    file_type.is_file()
                };
                if is_file {
                    found.push(entry_path);
                }
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Why a file was not moved. The file is where it was.
#[derive(Debug)]
pub enum MoveError {
    /// Something is already at the destination; it is never overwritten.
    DestinationExists(PathBuf),
    /// The move failed.
    Io(io::Error),
}

impl fmt::Display for MoveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MoveError::DestinationExists(p) => {
                write!(
                    f,
                    "{} already exists; not overwritten",
                    crate::shown::shown(p)
                )
            }
            MoveError::Io(e) => write!(f, "{}", crate::io_reason(e)),
        }
    }
}

impl std::error::Error for MoveError {}

/// Moves `from` to `to` without ever replacing a file at `to`, creating
/// `to`'s folder when needed.
///
/// Where the file system supports hard links the move is a link (which
/// fails if `to` exists, atomically) followed by removing the old name, so
/// no race can overwrite anything; a crash in between leaves both names of
/// the one file. Elsewhere (FAT and exFAT memory cards) it checks, then
/// renames.
pub fn move_no_clobber(from: &Path, to: &Path) -> Result<(), MoveError> {
    if let Some(dir) = to.parent() {
        fs::create_dir_all(dir).map_err(MoveError::Io)?;
    }
    match fs::hard_link(from, to) {
        Ok(()) => fs::remove_file(from).map_err(MoveError::Io),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            Err(MoveError::DestinationExists(to.to_path_buf()))
        }
        Err(_) => {
            if fs::symlink_metadata(to).is_ok() {
                return Err(MoveError::DestinationExists(to.to_path_buf()));
            }
            fs::rename(from, to).map_err(MoveError::Io)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(p: &Path) {
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, b"x").unwrap();
    }

    #[test]
    fn extension_rules() {
        assert!(has_jpeg_extension(Path::new("a.jpg")));
        assert!(has_jpeg_extension(Path::new("a.JPG")));
        assert!(has_jpeg_extension(Path::new("dir/a.JpEg")));
        assert!(!has_jpeg_extension(Path::new("a.png")));
        assert!(!has_jpeg_extension(Path::new("jpg")));
        assert!(!has_jpeg_extension(Path::new("a.jpg.mapillary-tmp-12")));
    }

    #[test]
    fn walks_recursively_and_sorts() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "b/2.JPG",
            "a.jpeg",
            "b/1.jpg",
            "c/d/e.jpg",
            "notes.txt",
            "x.png",
        ] {
            touch(&dir.path().join(name));
        }
        fs::create_dir_all(dir.path().join("folder.jpg.d")).unwrap();
        let found = find_images(dir.path()).unwrap();
        let rel: Vec<_> = found
            .iter()
            .map(|p| {
                p.strip_prefix(dir.path())
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(rel, ["a.jpeg", "b/1.jpg", "b/2.JPG", "c/d/e.jpg"]);
    }

    #[test]
    fn moves_never_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.jpg");
        let b = dir.path().join("sub/b.jpg");
        fs::write(&a, b"A").unwrap();
        move_no_clobber(&a, &b).unwrap();
        assert!(!a.exists());
        assert_eq!(fs::read(&b).unwrap(), b"A");
        fs::write(&a, b"other").unwrap();
        let err = move_no_clobber(&a, &b).unwrap_err();
        assert!(matches!(err, MoveError::DestinationExists(_)));
        assert!(
            err.to_string()
                .ends_with("b.jpg already exists; not overwritten")
        );
        assert_eq!(fs::read(&b).unwrap(), b"A");
        assert_eq!(fs::read(&a).unwrap(), b"other");
    }

    #[test]
    fn single_file_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("one.jpg");
        touch(&file);
        assert_eq!(find_images(&file).unwrap(), vec![file.clone()]);
        let missing = find_images(&dir.path().join("missing.jpg")).unwrap_err();
        assert!(
            missing
                .to_string()
                .ends_with("missing.jpg: no such file or folder")
        );
        let txt = dir.path().join("notes.txt");
        touch(&txt);
        assert!(
            find_images(&txt)
                .unwrap_err()
                .reason
                .contains("neither a folder")
        );
    }
}
