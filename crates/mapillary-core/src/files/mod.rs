//! Files: finding the images a tool works on (with the legacy rules),
//! moving them, and [`replace`], the one way the tools write a file.
//!
//! A path whose name ends in `.jpg` or `.jpeg` (any case) is one image.
//! Anything else is a folder, walked recursively; every regular file whose
//! name ends in `.jpg` or `.jpeg` is taken. The result is sorted by path so
//! that every tool sees the images in the same order on every run.

pub mod replace;

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use replace::ReplaceError;

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

/// The images found under a path.
#[derive(Debug, Default)]
pub struct Found {
    /// The images, sorted by path.
    pub images: Vec<PathBuf>,
    /// Folders below the path that could not be read (a `lost+found`, a
    /// folder of another user's); the walk went on without them.
    pub unreadable: Vec<FindError>,
}

/// Lists the images at `path` with the legacy rules, sorted by path.
///
/// Folder symlinks are not followed (so a link loop cannot hang a run);
/// symlinks to files are taken like files. A folder below `path` that
/// cannot be read is listed in [`Found::unreadable`] and the walk goes on;
/// only `path` itself failing is an error.
pub fn find_images(path: &Path) -> Result<Found, FindError> {
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
        return Ok(Found {
            images: vec![path.to_path_buf()],
            unreadable: Vec::new(),
        });
    }
    let meta = fs::metadata(path).map_err(|e| err(path, &e))?;
    if !meta.is_dir() {
        return Err(FindError {
            path: path.to_path_buf(),
            reason: "neither a folder nor a .jpg/.jpeg file".to_string(),
        });
    }
    let mut found = Found::default();
    let mut pending = vec![path.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if dir == path => return Err(err(&dir, &e)),
            Err(e) => {
                found.unreadable.push(err(&dir, &e));
                continue;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    found.unreadable.push(err(&dir, &e));
                    break;
                }
            };
            let entry_path = entry.path();
            let Ok(file_type) = entry.file_type() else {
                continue;
            };
            if file_type.is_dir() {
                pending.push(entry_path);
            } else if has_jpeg_extension(&entry_path) {
                let is_file = if file_type.is_symlink() {
                    fs::metadata(&entry_path).is_ok_and(|m| m.is_file())
                } else {
                    file_type.is_file()
                };
                if is_file {
                    found.images.push(entry_path);
                }
            }
        }
    }
    found.images.sort();
    found.unreadable.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(found)
}

/// Why a file was not moved. The file is where it was.
#[derive(Debug)]
pub enum MoveError {
    /// Something is already at the destination; it is never overwritten.
    DestinationExists(PathBuf),
    /// The move failed.
    Failed(ReplaceError),
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
            MoveError::Failed(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for MoveError {}

impl From<ReplaceError> for MoveError {
    fn from(e: ReplaceError) -> Self {
        match e {
            ReplaceError::AlreadyExists(p) => MoveError::DestinationExists(p),
            e => MoveError::Failed(e),
        }
    }
}

/// Moves `from` to `to` without ever replacing a file at `to`, creating
/// `to`'s folder when needed, and while holding the file's lock (see
/// [`replace::move_file`]).
///
/// A symbolic link is moved as a link; a relative one gets the target it
/// needs from its new folder, so that it still points at the same file.
pub fn move_no_clobber(from: &Path, to: &Path) -> Result<(), MoveError> {
    let io = |action| move |e| MoveError::Failed(ReplaceError::Io { action, error: e });
    if let Some(dir) = to.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(io("creating the folder"))?;
    }
    let meta = fs::symlink_metadata(from).map_err(io("reading"))?;
    if meta.file_type().is_symlink() {
        let target = fs::read_link(from).map_err(io("reading the link"))?;
        if target.is_relative() {
            let from_dir = from.parent().unwrap_or(Path::new(""));
            let to_dir = to.parent().unwrap_or(Path::new(""));
            let rebased = relative_path(to_dir, from_dir).join(&target);
            return match std::os::unix::fs::symlink(&rebased, to) {
                Ok(()) => fs::remove_file(from).map_err(io("removing the old link")),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    Err(MoveError::DestinationExists(to.to_path_buf()))
                }
                Err(e) => Err(io("creating the link")(e)),
            };
        }
    }
    replace::move_file(from, to).map_err(MoveError::from)
}

/// The path that leads from the folder `from` to the folder `to`, worked
/// out from their components (`a/0` to `a/b` is `../b`). Both must be
/// given the same way (both relative to one folder, or both absolute) and
/// be real folders, not links, as the folders a walk finds are.
fn relative_path(from: &Path, to: &Path) -> PathBuf {
    let from: Vec<_> = from.components().collect();
    let to: Vec<_> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    for c in &to[common..] {
        out.push(c);
    }
    out
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
        let found = find_images(dir.path()).unwrap().images;
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
    fn an_unreadable_folder_is_reported_and_the_walk_goes_on() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        touch(&dir.path().join("a/1.jpg"));
        touch(&dir.path().join("lost+found/2.jpg"));
        touch(&dir.path().join("z/3.jpg"));
        let locked = dir.path().join("lost+found");
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
        if fs::read_dir(&locked).is_ok() {
            // Root reads any folder; the walk has nothing to skip.
            eprintln!("skipped: running as root, every folder is readable");
            fs::set_permissions(&locked, fs::Permissions::from_mode(0o755)).unwrap();
            return;
        }
        let found = find_images(dir.path()).unwrap();
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(
            found.images,
            [dir.path().join("a/1.jpg"), dir.path().join("z/3.jpg")]
        );
        assert_eq!(found.unreadable.len(), 1);
        assert_eq!(
            found.unreadable[0].to_string(),
            format!("{}: permission denied", locked.display())
        );
        // The path itself failing is an error.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o000)).unwrap();
        let whole = find_images(dir.path());
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        assert!(whole.is_err());
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
    fn relative_links_still_resolve_after_a_move() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path();
        touch(&top.join("store/a.jpg"));
        touch(&top.join("b.jpg"));
        fs::create_dir_all(top.join("trip")).unwrap();
        std::os::unix::fs::symlink("../store/a.jpg", top.join("trip/link.jpg")).unwrap();
        std::os::unix::fs::symlink("../b.jpg", top.join("trip/up.jpg")).unwrap();
        let absolute = top.join("trip/absolute.jpg");
        std::os::unix::fs::symlink(top.join("b.jpg"), &absolute).unwrap();
        for name in ["link.jpg", "up.jpg", "absolute.jpg"] {
            let from = top.join("trip").join(name);
            let to = top.join("trip/0").join(name);
            move_no_clobber(&from, &to).unwrap();
            assert!(fs::symlink_metadata(&to).unwrap().file_type().is_symlink());
            assert_eq!(fs::read(&to).unwrap(), b"x", "{name}");
            assert!(fs::symlink_metadata(&from).is_err());
        }
        assert_eq!(
            fs::read_link(top.join("trip/0/link.jpg")).unwrap(),
            Path::new("../../store/a.jpg")
        );
        assert_eq!(
            fs::read_link(top.join("trip/0/absolute.jpg")).unwrap(),
            top.join("b.jpg")
        );
        assert_eq!(
            relative_path(Path::new("a/0"), Path::new("a/b")),
            Path::new("../b")
        );
        assert_eq!(relative_path(Path::new("a"), Path::new("a")), Path::new(""));
    }

    #[test]
    fn single_file_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("one.jpg");
        touch(&file);
        assert_eq!(find_images(&file).unwrap().images, vec![file.clone()]);
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
