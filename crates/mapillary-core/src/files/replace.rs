//! The one way the tools write a file: a rewritten photo, a downloaded
//! thumbnail, `downloaded.txt`, the profiles file and the upload history
//! all go through here, so the same rules hold for every one of them.
//! docs/files.md states them for users; in short:
//!
//! - The new content is written into a temporary file in the same folder
//!   (so the final rename is atomic), created exclusively (`O_EXCL`) under a
//!   name that is unique per file, process and attempt. It is created
//!   readable by its owner only; it gets the original's owner and group,
//!   then its extended attributes (ACLs among them), and only then the
//!   original's permission bits, so that at no moment can anyone read it who
//!   could not read the original.
//! - An original whose owner or group cannot be kept is refused, not given
//!   away; so is one the caller may not write in place (read-only, or
//!   another user's) unless the caller forces it.
//! - While a file is read, rewritten and replaced, an advisory lock
//!   (`flock`) is held on it, so two tools of this project never interleave
//!   on one file. Just before the rename the original is checked to still
//!   be the file that was read (device, inode, size, modification and change
//!   time, to the nanosecond); if it is not, nothing is replaced and the
//!   caller hears [`ReplaceError::ChangedMeanwhile`].
//! - A new file never replaces anything: it is published with a rename that
//!   fails if the name exists (`RENAME_NOREPLACE`, or a hard link where
//!   that is unsupported).
//! - Whatever fails, the temporary file is removed; a run that is killed
//!   leaves at most a temporary file, which [`remove_stale_temporaries`]
//!   recognises by its name (and by its lock) and removes later.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::{self, File, FileTimes, Metadata, OpenOptions};
use std::io::{self, Read};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rustix::fs::{FlockOperation, RenameFlags};

/// What happens to a replaced file's modification time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ModifiedTime {
    /// The new file has the time it was written, as after any edit (as
    /// exiftool does by default). Backup and sync tools that compare size
    /// and modification time then see that the file changed, even when the
    /// size stayed the same.
    #[default]
    Now,
    /// The new file keeps the original's modification (and access) time,
    /// as exiftool's `-P` does: for people who sort photos by file date.
    Keep,
}

/// How a file is replaced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplaceOptions {
    /// Flush the new file to the disk before the rename, and the folder
    /// after it, so that a power cut cannot leave an empty file on any file
    /// system.
    pub sync: bool,
    /// Replace files the caller may not write in place (read-only ones, or
    /// another user's where the owner can still be kept).
    pub force: bool,
    /// The modification time policy.
    pub modified: ModifiedTime,
}

/// Why a file was not written. Whatever it was is unchanged.
#[derive(Debug)]
pub enum ReplaceError {
    /// A file operation failed.
    Io {
        /// What was being done.
        action: &'static str,
        /// The error.
        error: io::Error,
    },
    /// Not a regular file.
    NotAFile,
    /// The caller may not write the file in place (no write permission for
    /// its owner); `--force` replaces it anyway.
    ReadOnly {
        /// Its permission bits.
        mode: u32,
    },
    /// The file belongs to another user; replacing it would make it the
    /// caller's.
    OtherOwner {
        /// Its owner.
        uid: u32,
    },
    /// The new file could not be given the original's owner or group.
    OwnerNotKept {
        /// The original's owner.
        uid: u32,
        /// The original's group.
        gid: u32,
        /// Why not.
        error: io::Error,
    },
    /// An extended attribute could not be copied to the new file.
    AttributeNotKept {
        /// Its name.
        name: OsString,
        /// Why not.
        error: io::Error,
    },
    /// Another program holds the lock on the file, for longer than
    /// [`LOCK_PATIENCE`].
    Locked,
    /// Another program changed the file while it was being rewritten; it is
    /// left as that program wrote it.
    ChangedMeanwhile,
    /// A new file was to be created, but the name exists (maybe created
    /// meanwhile); it is never overwritten.
    AlreadyExists(PathBuf),
}

impl fmt::Display for ReplaceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplaceError::Io { action, error } => {
                write!(f, "{action}: {}", crate::io_reason(error))
            }
            ReplaceError::NotAFile => f.write_str("not a regular file"),
            ReplaceError::ReadOnly { mode } => write!(
                f,
                "read-only (mode {:04o}); not changed (--force replaces it)",
                mode & 0o7777
            ),
            ReplaceError::OtherOwner { uid } => write!(
                f,
                "belongs to another user (uid {uid}); replacing it would make it yours (run as that user or as root)"
            ),
            ReplaceError::OwnerNotKept { uid, gid, error } => write!(
                f,
                "cannot keep its owner and group ({uid}:{gid}): {}; not changed",
                crate::io_reason(error)
            ),
            ReplaceError::AttributeNotKept { name, error } => write!(
                f,
                "cannot keep its extended attribute {}: {}; not changed",
                name.to_string_lossy(),
                crate::io_reason(error)
            ),
            ReplaceError::Locked => write!(
                f,
                "another program has held its lock for over {} s; not changed",
                LOCK_PATIENCE.as_secs()
            ),
            ReplaceError::ChangedMeanwhile => f.write_str(
                "the file changed while it was being rewritten; left as the other program wrote it",
            ),
            ReplaceError::AlreadyExists(path) => {
                write!(
                    f,
                    "{} already exists; not overwritten",
                    crate::shown::shown(path)
                )
            }
        }
    }
}

impl std::error::Error for ReplaceError {}

fn io_err(action: &'static str) -> impl FnOnce(io::Error) -> ReplaceError {
    move |error| ReplaceError::Io { action, error }
}

/// How long to wait for a lock another run holds. Tools of this project
/// hold a photo's lock for milliseconds; a lock held this long is stuck.
pub const LOCK_PATIENCE: Duration = Duration::from_secs(60);

/// Takes an exclusive advisory lock on `file`, waiting up to
/// [`LOCK_PATIENCE`]. Polls rather than blocks, so a stuck holder ends in a
/// message instead of a hang.
fn lock(file: &File) -> Result<(), ReplaceError> {
    let started = Instant::now();
    let mut wait = Duration::from_micros(200);
    loop {
        match rustix::fs::flock(file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => return Ok(()),
            Err(e) if e == rustix::io::Errno::WOULDBLOCK || e == rustix::io::Errno::INTR => {}
            // File systems without locks (some FUSE ones): go on unlocked;
            // the identity check before the rename still guards.
            Err(e) if e == rustix::io::Errno::NOLCK || e == rustix::io::Errno::NOTSUP => {
                return Ok(());
            }
            Err(e) => return Err(io_err("locking")(e.into())),
        }
        if started.elapsed() > LOCK_PATIENCE {
            return Err(ReplaceError::Locked);
        }
        std::thread::sleep(wait);
        wait = (wait * 2).min(Duration::from_millis(20));
    }
}

/// What identifies one version of a file: if any of it differs, the file
/// was replaced or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Identity {
    dev: u64,
    ino: u64,
    size: u64,
    modified: (i64, i64),
    changed: (i64, i64),
}

impl Identity {
    fn of(meta: &Metadata) -> Identity {
        Identity {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            modified: (meta.mtime(), meta.mtime_nsec()),
            changed: (meta.ctime(), meta.ctime_nsec()),
        }
    }

    fn same_file(&self, other: &Identity) -> bool {
        self.dev == other.dev && self.ino == other.ino
    }
}

/// Whether the caller may write `meta`'s file in place: root, unless no one
/// may write it; anyone else, only their own files with the owner's write
/// bit.
fn check_writable(meta: &Metadata) -> Result<(), ReplaceError> {
    let euid = rustix::process::geteuid().as_raw();
    let mode = meta.mode();
    if euid == 0 {
        if mode & 0o222 == 0 {
            return Err(ReplaceError::ReadOnly { mode });
        }
    } else if meta.uid() != euid {
        return Err(ReplaceError::OtherOwner { uid: meta.uid() });
    } else if mode & 0o200 == 0 {
        return Err(ReplaceError::ReadOnly { mode });
    }
    Ok(())
}

/// A file opened to be replaced: locked, with the identity it had when it
/// was opened. Read it through [`Original::file`], write its successor into
/// [`Original::new_version`], then [`Original::replace`].
#[derive(Debug)]
pub struct Original {
    path: PathBuf,
    file: File,
    meta: Metadata,
    identity: Identity,
}

impl Original {
    /// Opens `path` for replacement. A symlink is followed: the file it
    /// points to is the one replaced, and the link stays a link. Waits for
    /// another run's lock on the file; refuses what is not a regular file
    /// and, unless `options.force`, what the caller may not write in place.
    pub fn open(path: &Path, options: &ReplaceOptions) -> Result<Original, ReplaceError> {
        let path = if fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
            fs::canonicalize(path).map_err(io_err("reading"))?
        } else {
            path.to_path_buf()
        };
        let original = Original::lock(path)?;
        if !options.force {
            check_writable(&original.meta)?;
        }
        Ok(original)
    }

    /// Opens and locks `path` itself (a symlink is not followed), without
    /// checking who may write it.
    fn open_unchecked(path: &Path) -> Result<Original, ReplaceError> {
        Original::lock(path.to_path_buf())
    }

    fn lock(path: PathBuf) -> Result<Original, ReplaceError> {
        loop {
            let file = File::open(&path).map_err(io_err("reading"))?;
            let meta = file.metadata().map_err(io_err("reading"))?;
            if !meta.is_file() {
                return Err(ReplaceError::NotAFile);
            }
            lock(&file)?;
            // The lock is on the file that was open; another run may have
            // replaced the name meanwhile (and released the lock of the old
            // file). Then the name is now a newer file: open that one.
            let meta = file.metadata().map_err(io_err("reading"))?;
            let identity = Identity::of(&meta);
            match fs::metadata(&path) {
                Ok(now) if Identity::of(&now).same_file(&identity) => {
                    return Ok(Original {
                        path,
                        file,
                        meta,
                        identity,
                    });
                }
                Ok(_) => continue,
                Err(e) => return Err(io_err("reading")(e)),
            }
        }
    }

    /// The file that will be replaced (symlinks resolved).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The open original, for reading.
    pub fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// The original's metadata, as it was when it was locked.
    pub fn metadata(&self) -> &Metadata {
        &self.meta
    }

    /// Reads the whole original (for small files).
    pub fn read_all(&mut self) -> Result<Vec<u8>, ReplaceError> {
        let mut bytes = Vec::new();
        self.file
            .read_to_end(&mut bytes)
            .map_err(io_err("reading"))?;
        Ok(bytes)
    }

    /// A temporary file beside the original, to write its successor into:
    /// with the original's owner, group, extended attributes and permission
    /// bits (in that order, so it is never readable by anyone the original
    /// was not).
    pub fn new_version(&self) -> Result<NewFile, ReplaceError> {
        let mode = self.meta.mode() & 0o777;
        let new = NewFile::beside(&self.path, mode & 0o700)?;
        let (uid, gid) = (self.meta.uid(), self.meta.gid());
        let created = new
            .file
            .metadata()
            .map_err(io_err("creating the temporary file"))?;
        if created.uid() != uid || created.gid() != gid {
            let owner = (created.uid() != uid).then(|| rustix::fs::Uid::from_raw(uid));
            let group = (created.gid() != gid).then(|| rustix::fs::Gid::from_raw(gid));
            rustix::fs::fchown(&new.file, owner, group).map_err(|e| {
                ReplaceError::OwnerNotKept {
                    uid,
                    gid,
                    error: e.into(),
                }
            })?;
        }
        copy_attributes(&self.file, &new.file)?;
        rustix::fs::fchmod(&new.file, rustix::fs::Mode::from_raw_mode(mode))
            .map_err(|e| io_err("setting the temporary file's permissions")(e.into()))?;
        Ok(new)
    }

    /// Replaces the original with `new`, if the original is still the file
    /// that was opened; otherwise leaves both it and `new` alone (and
    /// removes `new`) with [`ReplaceError::ChangedMeanwhile`].
    pub fn replace(self, mut new: NewFile, options: &ReplaceOptions) -> Result<(), ReplaceError> {
        if options.sync {
            new.file
                .sync_all()
                .map_err(io_err("flushing the temporary file"))?;
        }
        if options.modified == ModifiedTime::Keep {
            let times = FileTimes::new()
                .set_accessed(self.meta.accessed().map_err(io_err("reading"))?)
                .set_modified(self.meta.modified().map_err(io_err("reading"))?);
            new.file
                .set_times(times)
                .map_err(io_err("setting the temporary file's times"))?;
        }
        // Between this check and the rename only a program that ignores
        // the lock could slip in; a tool of this project cannot.
        let now = fs::metadata(&self.path).map_err(io_err("reading"))?;
        if Identity::of(&now) != self.identity {
            return Err(ReplaceError::ChangedMeanwhile);
        }
        fs::rename(&new.path, &self.path).map_err(io_err("replacing the original"))?;
        new.armed = false;
        if options.sync {
            sync_folder(&self.path);
        }
        // Dropping `self` releases the lock of the old file; the new one
        // stays locked until `new` is dropped.
        Ok(())
    }
}

/// Copies every extended attribute of `from` to `to`.
fn copy_attributes(from: &File, to: &File) -> Result<(), ReplaceError> {
    let names = match list_attributes(from) {
        Ok(names) => names,
        // No extended attributes on this file system: nothing to keep.
        Err(e) if e == rustix::io::Errno::NOTSUP => return Ok(()),
        Err(e) => return Err(io_err("listing extended attributes")(e.into())),
    };
    for name in names {
        let value = read_attribute(from, &name).map_err(|e| ReplaceError::AttributeNotKept {
            name: name.clone(),
            error: e.into(),
        })?;
        rustix::fs::fsetxattr(
            to,
            name.as_os_str(),
            &value,
            rustix::fs::XattrFlags::empty(),
        )
        .map_err(|e| ReplaceError::AttributeNotKept {
            name,
            error: e.into(),
        })?;
    }
    Ok(())
}

fn list_attributes(file: &File) -> rustix::io::Result<Vec<OsString>> {
    loop {
        let len = rustix::fs::flistxattr_query(file)?;
        if len == 0 {
            return Ok(Vec::new());
        }
        let mut buf = vec![0u8; len];
        match rustix::fs::flistxattr(file, &mut buf[..]) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(buf
                    .split(|&b| b == 0)
                    .filter(|n| !n.is_empty())
                    .map(|n| OsString::from_vec(n.to_vec()))
                    .collect());
            }
            // The list grew between the two calls.
            Err(e) if e == rustix::io::Errno::RANGE => continue,
            Err(e) => return Err(e),
        }
    }
}

fn read_attribute(file: &File, name: &OsStr) -> rustix::io::Result<Vec<u8>> {
    loop {
        let len = rustix::fs::fgetxattr_query(file, name)?;
        let mut buf = vec![0u8; len];
        match rustix::fs::fgetxattr(file, name, &mut buf[..]) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(buf);
            }
            Err(e) if e == rustix::io::Errno::RANGE => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Flushes a folder's entries (a rename in it) to the disk.
fn sync_folder(file: &Path) {
    let dir = folder_of(file);
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

fn folder_of(file: &Path) -> &Path {
    match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// The part of a temporary file's name that marks it as ours.
const TEMP_MARK: &[u8] = b".mapillary-tmp.";

/// The longest part of the target's name kept in a temporary name, in
/// bytes (names are at most 255 bytes; the mark, process id and attempt
/// take the rest).
const NAME_PART: usize = 200;

/// Attempts made by this process, for unique temporary names.
static ATTEMPT: AtomicU64 = AtomicU64::new(0);

/// The name of a temporary file for `target`: hidden, named after the
/// target's bytes (any encoding), this process and `attempt`.
fn temp_name(target: &OsStr, attempt: u64) -> OsString {
    let name = target.as_bytes();
    let mut out = Vec::with_capacity(NAME_PART + 48);
    out.push(b'.');
    out.extend_from_slice(&name[..name.len().min(NAME_PART)]);
    out.extend_from_slice(TEMP_MARK);
    out.extend_from_slice(format!("{}.{attempt}", std::process::id()).as_bytes());
    OsString::from_vec(out)
}

/// The process id in one of our temporary file names, if it is one
/// (`.<name>.mapillary-tmp.<pid>.<attempt>`, or `….<pid>` as earlier
/// versions named them).
fn temp_owner(name: &OsStr) -> Option<u32> {
    let bytes = name.as_bytes();
    let rest = bytes.strip_prefix(b".")?;
    let at = rest
        .windows(TEMP_MARK.len())
        .rposition(|w| w == TEMP_MARK)?;
    if at == 0 {
        return None;
    }
    let tail = std::str::from_utf8(&rest[at + TEMP_MARK.len()..]).ok()?;
    let pid = match tail.split_once('.') {
        Some((pid, attempt)) => {
            attempt.parse::<u64>().ok()?;
            pid
        }
        None => tail,
    };
    pid.parse().ok()
}

/// Whether the file at `path` is one of our temporary files.
pub fn is_temporary(path: &Path) -> bool {
    path.file_name().and_then(temp_owner).is_some()
}

/// A new file being written, under a temporary name in its final folder;
/// removed when dropped unless it was published or put in place.
#[derive(Debug)]
pub struct NewFile {
    path: PathBuf,
    file: File,
    armed: bool,
}

impl NewFile {
    /// Creates a temporary file beside `target` with permission bits
    /// `mode` (less what the umask takes), exclusively, and locks it.
    fn beside(target: &Path, mode: u32) -> Result<NewFile, ReplaceError> {
        let dir = folder_of(target);
        let name = target.file_name().unwrap_or(OsStr::new("file"));
        loop {
            let attempt = ATTEMPT.fetch_add(1, Ordering::Relaxed);
            let path = dir.join(temp_name(name, attempt));
            match OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(mode)
                .open(&path)
            {
                Ok(file) => {
                    let new = NewFile {
                        path,
                        file,
                        armed: true,
                    };
                    // The lock tells another run that the file is in use,
                    // whatever its name says.
                    let _ = rustix::fs::flock(&new.file, FlockOperation::NonBlockingLockExclusive);
                    return Ok(new);
                }
                // Left by a process that had our id before (a reboot ago).
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io_err("creating the temporary file")(e)),
            }
        }
    }

    /// Starts a new file that will be published as `target` (see
    /// [`NewFile::publish`]); `mode` are its permission bits, less what the
    /// umask takes.
    pub fn create(target: &Path, mode: u32) -> Result<NewFile, ReplaceError> {
        NewFile::beside(target, mode)
    }

    /// Gives the file exactly the asked-for permission bits, if they are
    /// [`Permissions::Exactly`] some (a new version otherwise has the
    /// original's, a new file its own less the umask).
    fn take_permissions(&self, permissions: Permissions) -> Result<(), ReplaceError> {
        match permissions {
            Permissions::Exactly(mode) => {
                rustix::fs::fchmod(&self.file, rustix::fs::Mode::from_raw_mode(mode))
                    .map_err(|e| io_err("setting the temporary file's permissions")(e.into()))
            }
            Permissions::Keep { .. } => Ok(()),
        }
    }

    /// The temporary file, for writing (and reading back).
    pub fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// Where it is being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Publishes the file as `target`, which must not exist: a file at
    /// `target` (even one that appeared a moment ago) is never replaced.
    pub fn publish(mut self, target: &Path, options: &ReplaceOptions) -> Result<(), ReplaceError> {
        if options.sync {
            self.file
                .sync_all()
                .map_err(io_err("flushing the temporary file"))?;
        }
        rename_no_clobber(&self.path, target)?;
        // After a hard link the temporary name still exists (the drop
        // removes it); after a rename it is gone and the removal is a no-op.
        let _ = fs::remove_file(&self.path);
        self.armed = false;
        if options.sync {
            sync_folder(target);
        }
        Ok(())
    }
}

/// Renames `from` to `to` unless `to` exists: atomically with
/// `RENAME_NOREPLACE`, else with a hard link (which fails as surely when
/// the name exists; `from` is then left for the caller to remove), else
/// (FAT and exFAT memory cards, which have neither) by checking first.
fn rename_no_clobber(from: &Path, to: &Path) -> Result<(), ReplaceError> {
    let exists = || ReplaceError::AlreadyExists(to.to_path_buf());
    let cwd = rustix::fs::CWD;
    match rustix::fs::renameat_with(cwd, from, cwd, to, RenameFlags::NOREPLACE) {
        Ok(()) => return Ok(()),
        Err(e) if e == rustix::io::Errno::EXIST => return Err(exists()),
        Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => {}
        Err(e) => return Err(io_err("renaming")(e.into())),
    }
    match fs::hard_link(from, to) {
        Ok(()) => {
            let _ = fs::remove_file(from);
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(exists()),
        Err(_) => {
            if fs::symlink_metadata(to).is_ok() {
                return Err(exists());
            }
            fs::rename(from, to).map_err(io_err("renaming"))
        }
    }
}

/// Moves the file `from` to `to`, never over a file at `to`, holding the
/// file's lock meanwhile so that it cannot be moved while another tool of
/// this project rewrites it. `to`'s folder must exist.
pub fn move_file(from: &Path, to: &Path) -> Result<(), ReplaceError> {
    let original = Original::open_unchecked(from)?;
    rename_no_clobber(&original.path, to)
}

impl Drop for NewFile {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Why [`update`] did not write a file.
#[derive(Debug)]
pub enum UpdateError<E> {
    /// The change refused the content it was given.
    Change(E),
    /// Writing failed.
    Write(ReplaceError),
}

impl<E: fmt::Display> fmt::Display for UpdateError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpdateError::Change(e) => e.fmt(f),
            UpdateError::Write(e) => e.fmt(f),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for UpdateError<E> {}

/// The permission bits of a file written by [`update`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permissions {
    /// Those of the file it replaces; these (less the umask) for a new one.
    Keep {
        /// The bits of a new file.
        new: u32,
    },
    /// Exactly these, whatever the file had (for files holding secrets).
    Exactly(u32),
}

/// Reads, changes and writes back a small file (a list, the history, the
/// profiles file) under its lock, so that two runs updating it at once
/// both see each other's changes. `change` gets the current content (`None`
/// when there is no file yet) and returns the new one; it may be called
/// again with a newer content if another run created the file meanwhile.
/// The folder is created when missing.
pub fn update<E>(
    path: &Path,
    permissions: Permissions,
    options: &ReplaceOptions,
    mut change: impl FnMut(Option<&[u8]>) -> Result<Vec<u8>, E>,
) -> Result<(), UpdateError<E>> {
    use std::io::Write;
    let write = |file: &mut File, bytes: &[u8]| {
        file.write_all(bytes)
            .map_err(|e| UpdateError::Write(io_err("writing the temporary file")(e)))
    };
    // Set when a new file could not be published because the name exists:
    // another run created it meanwhile, so the next attempt must find it.
    let mut raced = false;
    loop {
        match Original::open(path, options) {
            Ok(mut original) => {
                let old = original.read_all().map_err(UpdateError::Write)?;
                let bytes = change(Some(&old)).map_err(UpdateError::Change)?;
                let mut new = original.new_version().map_err(UpdateError::Write)?;
                new.take_permissions(permissions)
                    .map_err(UpdateError::Write)?;
                write(new.file(), &bytes)?;
                return original.replace(new, options).map_err(UpdateError::Write);
            }
            Err(ReplaceError::Io { error, .. })
                if error.kind() == io::ErrorKind::NotFound && !raced =>
            {
                let bytes = change(None).map_err(UpdateError::Change)?;
                fs::create_dir_all(folder_of(path))
                    .map_err(|e| UpdateError::Write(io_err("creating the folder")(e)))?;
                let mode = match permissions {
                    Permissions::Keep { new } | Permissions::Exactly(new) => new,
                };
                let mut new = NewFile::create(path, mode).map_err(UpdateError::Write)?;
                // The umask may have taken bits that were asked for.
                new.take_permissions(permissions)
                    .map_err(UpdateError::Write)?;
                write(new.file(), &bytes)?;
                match new.publish(path, options) {
                    Ok(()) => return Ok(()),
                    // Another run created it first: merge with theirs.
                    Err(ReplaceError::AlreadyExists(_)) => {
                        raced = true;
                        continue;
                    }
                    Err(e) => return Err(UpdateError::Write(e)),
                }
            }
            Err(e) => return Err(UpdateError::Write(e)),
        }
    }
}

/// Removes the temporary files that interrupted runs of these tools left in
/// `dir`: only files named like ours, only when no process holds their lock
/// and the process that made them is gone (or, where that cannot be known,
/// when they are over an hour old). Returns what was removed.
pub fn remove_stale_temporaries(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(pid) = temp_owner(&name) else {
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
        if !stale {
            continue;
        }
        let path = entry.path();
        // A live writer (on another machine sharing the folder, say) holds
        // the lock of its temporary file.
        let Ok(file) = File::open(&path) else {
            continue;
        };
        if rustix::fs::flock(&file, FlockOperation::NonBlockingLockExclusive).is_err() {
            continue;
        }
        fs::remove_file(&path)?;
        removed.push(path);
    }
    Ok(removed)
}

fn process_is_running(pid: u32) -> Option<bool> {
    let proc_root = Path::new("/proc");
    proc_root
        .join("self")
        .exists()
        .then(|| proc_root.join(pid.to_string()).exists())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

    fn write(path: &Path, bytes: &[u8]) {
        fs::write(path, bytes).unwrap();
    }

    fn replace_with(
        path: &Path,
        bytes: &[u8],
        options: &ReplaceOptions,
    ) -> Result<(), ReplaceError> {
        let original = Original::open(path, options)?;
        let mut new = original.new_version()?;
        new.file().write_all(bytes).unwrap();
        original.replace(new, options)
    }

    fn entries(dir: &Path) -> Vec<OsString> {
        let mut names: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn temp_names_are_recognised_whatever_the_encoding() {
        let name = OsStr::from_bytes(b"IMG_\xff\xfe.JPG");
        let temp = temp_name(name, 7);
        assert!(
            temp.as_bytes()
                .starts_with(b".IMG_\xff\xfe.JPG.mapillary-tmp.")
        );
        assert_eq!(temp_owner(&temp), Some(std::process::id()));
        assert_ne!(temp_name(name, 7), temp_name(name, 8));
        let long = OsString::from_vec(vec![b'a'; 255]);
        assert!(temp_name(&long, u64::MAX).len() <= 255);
        for (name, owner) in [
            ("IMG_1.JPG", None),
            (".IMG_1.JPG.mapillary-tmp.x", None),
            (".mapillary-tmp.12", None),
            ("a.mapillary-tmp.12", None),
            (".a.mapillary-tmp.12", Some(12)),
            (".a.mapillary-tmp.12.3", Some(12)),
            (".a.mapillary-tmp.12.x", None),
        ] {
            assert_eq!(temp_owner(OsStr::new(name)), owner, "{name}");
        }
    }

    #[test]
    fn replaces_and_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.txt");
        write(&p, b"old");
        fs::set_permissions(&p, fs::Permissions::from_mode(0o640)).unwrap();
        replace_with(&p, b"new", &ReplaceOptions::default()).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"new");
        assert_eq!(fs::metadata(&p).unwrap().mode() & 0o777, 0o640);
        assert_eq!(entries(dir.path()), [OsString::from("a.txt")]);
    }

    #[test]
    fn a_file_changed_before_the_rename_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.txt");
        write(&p, b"old");
        let options = ReplaceOptions::default();
        let original = Original::open(&p, &options).unwrap();
        let mut new = original.new_version().unwrap();
        new.file().write_all(b"ours").unwrap();
        // Another program (which ignores locks) writes meanwhile.
        fs::OpenOptions::new()
            .append(true)
            .open(&p)
            .unwrap()
            .write_all(b"+theirs")
            .unwrap();
        let err = original.replace(new, &options).unwrap_err();
        assert!(matches!(err, ReplaceError::ChangedMeanwhile), "{err}");
        assert_eq!(fs::read(&p).unwrap(), b"old+theirs");
        assert_eq!(entries(dir.path()), [OsString::from("a.txt")]);
    }

    #[test]
    fn a_second_run_waits_for_the_lock_and_then_sees_the_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("count");
        write(&p, b"0");
        let options = ReplaceOptions::default();
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..25 {
                        update(&p, Permissions::Keep { new: 0o644 }, &options, |old| {
                            let n: u32 =
                                std::str::from_utf8(old.unwrap()).unwrap().parse().unwrap();
                            Ok::<_, String>((n + 1).to_string().into_bytes())
                        })
                        .unwrap();
                    }
                });
            }
        });
        assert_eq!(fs::read_to_string(&p).unwrap(), "200");
        assert_eq!(entries(dir.path()), [OsString::from("count")]);
    }

    #[test]
    fn update_creates_a_missing_file_once_even_when_runs_race() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/list");
        let options = ReplaceOptions::default();
        std::thread::scope(|s| {
            for i in 0..8 {
                let p = &p;
                s.spawn(move || {
                    update(p, Permissions::Exactly(0o600), &options, |old| {
                        let mut text = old.map(<[u8]>::to_vec).unwrap_or_default();
                        text.extend(format!("{i}\n").as_bytes());
                        Ok::<_, String>(text)
                    })
                    .unwrap();
                });
            }
        });
        let text = fs::read_to_string(&p).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        lines.sort();
        assert_eq!(lines, ["0", "1", "2", "3", "4", "5", "6", "7"]);
        assert_eq!(fs::metadata(&p).unwrap().mode() & 0o777, 0o600);
    }

    #[test]
    fn read_only_files_are_refused_unless_forced() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.txt");
        write(&p, b"old");
        fs::set_permissions(&p, fs::Permissions::from_mode(0o444)).unwrap();
        let err = replace_with(&p, b"new", &ReplaceOptions::default()).unwrap_err();
        assert!(matches!(err, ReplaceError::ReadOnly { mode } if mode & 0o777 == 0o444));
        assert_eq!(
            err.to_string(),
            "read-only (mode 0444); not changed (--force replaces it)"
        );
        assert_eq!(fs::read(&p).unwrap(), b"old");
        let forced = ReplaceOptions {
            force: true,
            ..ReplaceOptions::default()
        };
        replace_with(&p, b"new", &forced).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"new");
        assert_eq!(fs::metadata(&p).unwrap().mode() & 0o777, 0o444);
    }

    #[test]
    fn modification_time_is_now_or_kept() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.txt");
        write(&p, b"old");
        let past = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_400_000_000);
        File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_modified(past)
            .unwrap();
        replace_with(&p, b"new", &ReplaceOptions::default()).unwrap();
        assert!(fs::metadata(&p).unwrap().modified().unwrap() > past);
        File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_modified(past)
            .unwrap();
        let keep = ReplaceOptions {
            modified: ModifiedTime::Keep,
            ..ReplaceOptions::default()
        };
        replace_with(&p, b"newer", &keep).unwrap();
        assert_eq!(fs::metadata(&p).unwrap().modified().unwrap(), past);
    }

    #[test]
    fn extended_attributes_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.txt");
        write(&p, b"old");
        let set = rustix::fs::setxattr(
            &p,
            "user.rating",
            b"5\0binary\xff",
            rustix::fs::XattrFlags::empty(),
        );
        if set == Err(rustix::io::Errno::NOTSUP) {
            eprintln!("skipped: this file system has no user extended attributes");
            return;
        }
        set.unwrap();
        replace_with(&p, b"new", &ReplaceOptions::default()).unwrap();
        let mut buf = [0u8; 64];
        let n = rustix::fs::getxattr(&p, "user.rating", &mut buf[..]).unwrap();
        assert_eq!(&buf[..n], b"5\0binary\xff");
    }

    #[test]
    fn a_symlink_stays_a_link_to_the_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.txt");
        let link = dir.path().join("link.txt");
        write(&real, b"old");
        std::os::unix::fs::symlink("real.txt", &link).unwrap();
        replace_with(&link, b"new", &ReplaceOptions::default()).unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read(&real).unwrap(), b"new");
    }

    #[test]
    fn publishing_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("1.jpg");
        let mut first = NewFile::create(&target, 0o644).unwrap();
        first.file().write_all(b"first").unwrap();
        let mut second = NewFile::create(&target, 0o644).unwrap();
        second.file().write_all(b"second").unwrap();
        assert_ne!(first.path(), second.path());
        first.publish(&target, &ReplaceOptions::default()).unwrap();
        let err = second
            .publish(&target, &ReplaceOptions::default())
            .unwrap_err();
        assert!(matches!(err, ReplaceError::AlreadyExists(_)));
        assert_eq!(fs::read(&target).unwrap(), b"first");
        assert_eq!(entries(dir.path()), [OsString::from("1.jpg")]);
    }

    #[test]
    fn stale_temporaries_of_dead_processes_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        // u32::MAX cannot be a running process.
        let stale = dir.path().join(".a.jpg.mapillary-tmp.4294967295.0");
        let old_style = dir.path().join(".b.jpg.mapillary-tmp.4294967295");
        let ours = dir
            .path()
            .join(format!(".c.jpg.mapillary-tmp.{}.1", std::process::id()));
        let user_file = dir.path().join("d.jpg.mapillary-tmp.1");
        let held = dir.path().join(".e.jpg.mapillary-tmp.4294967295.1");
        for p in [&stale, &old_style, &ours, &user_file, &held] {
            write(p, b"x");
        }
        let holder = File::open(&held).unwrap();
        rustix::fs::flock(&holder, FlockOperation::LockExclusive).unwrap();
        let mut removed = remove_stale_temporaries(dir.path()).unwrap();
        removed.sort();
        assert_eq!(removed, vec![stale.clone(), old_style.clone()]);
        assert!(ours.exists() && user_file.exists() && held.exists());
    }
}
