//! Photos stay safe on real file systems (issue 12): the rewriting tools
//! run side by side, on photos still being copied, on read-only and other
//! users' photos, with extended attributes and names in any encoding, and
//! in shared folders where another user looks at every temporary file.
//!
//! Runs the tools built beside this test (`cargo test --workspace` builds
//! them all before any test runs). Tests that need a second user run as
//! root and start that user's programs with `Command::uid`; elsewhere they
//! skip with a message.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::Write;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use mapillary_core::exif::read_exif;
use mapillary_testkit::{built_tool, noisy_jpeg, photo_edits, write_photo};

/// An unprivileged user for the tests that need a second one.
const OTHER_UID: u32 = 65534;

fn tool(name: &str) -> PathBuf {
    built_tool(name)
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// The names in `dir` that are temporary files of these tools.
fn temporaries(dir: &Path) -> Vec<OsString> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.as_bytes().windows(14).any(|w| w == b"mapillary-tmp."))
        .collect()
}

/// The bytes of a small photo taken at 2024-05-01 10:00:00.
fn photo_bytes() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("template.jpg");
    write_photo(
        &template,
        1,
        &photo_edits("2024:05:01 10:00:00", None, None),
    );
    fs::read(&template).unwrap()
}

/// A folder of `n` copies of one small photo taken at 2024-05-01 10:00:00.
fn folder_of_photos(n: usize) -> (tempfile::TempDir, Vec<PathBuf>) {
    let dir = tempfile::tempdir().unwrap();
    let bytes = photo_bytes();
    let files: Vec<PathBuf> = (0..n)
        .map(|i| {
            let p = dir.path().join(format!("IMG_{i:05}.jpg"));
            fs::write(&p, &bytes).unwrap();
            p
        })
        .collect();
    (dir, files)
}

/// A GPX track from 2024-05-01 09:50 to 12:00 UTC, a point every 10 s.
fn track(dir: &Path) -> PathBuf {
    let mut gpx = String::from(
        "<?xml version=\"1.0\"?>\n<gpx version=\"1.1\" creator=\"test\" xmlns=\"http://www.topografix.com/GPX/1/1\"><trk><trkseg>\n",
    );
    for i in 0..=(130 * 6) {
        let t = 9 * 3600 + 50 * 60 + i * 10;
        gpx.push_str(&format!(
            "<trkpt lat=\"{:.6}\" lon=\"13.4\"><time>2024-05-01T{:02}:{:02}:{:02}Z</time></trkpt>\n",
            52.5 + f64::from(i) * 1e-5,
            t / 3600,
            t / 60 % 60,
            t % 60
        ));
    }
    gpx.push_str("</trkseg></trk></gpx>\n");
    let path = dir.join("track.gpx");
    fs::write(&path, gpx).unwrap();
    path
}

/// The photo lines a tool printed: path → the rest of the line.
fn reported(stdout: &str, marker: &str) -> BTreeMap<PathBuf, String> {
    stdout
        .lines()
        .filter_map(|l| {
            let (path, rest) = l.split_once(": ")?;
            rest.contains(marker)
                .then(|| (PathBuf::from(path), rest.to_string()))
        })
        .collect()
}

#[test]
fn two_tools_at_once_never_lose_a_reported_edit() {
    const PHOTOS: usize = 2000;
    let (dir, files) = folder_of_photos(PHOTOS);
    let gpx_dir = tempfile::tempdir().unwrap();
    let gpx = track(gpx_dir.path());
    let geotag = Command::new(tool("geotag_from_gpx"))
        .args([dir.path(), &gpx])
        .args(["-v", "-j", "2", "--timezone", "UTC"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let dates = Command::new(tool("add_fix_dates"))
        .arg(dir.path())
        .args(["2024-05-01 10:30:00", "1.5", "-j", "2"])
        .output()
        .unwrap();
    let geotag = geotag.wait_with_output().unwrap();
    let (geo_out, geo_err) = (
        String::from_utf8_lossy(&geotag.stdout),
        String::from_utf8_lossy(&geotag.stderr),
    );
    let dates_err = String::from_utf8_lossy(&dates.stderr);
    assert_eq!(geotag.status.code(), Some(0), "{geo_err}");
    assert_eq!(dates.status.code(), Some(0), "{dates_err}");
    let geotagged = reported(&geo_out, "geotagged");
    let dated = reported(&String::from_utf8_lossy(&dates.stdout), "DateTimeOriginal");
    assert_eq!(geotagged.len(), PHOTOS, "{geo_out}");
    assert_eq!(dated.len(), PHOTOS);
    for file in &files {
        let exif = read_exif(file).unwrap();
        assert!(
            exif.position().is_some(),
            "{}: the position was lost",
            file.display()
        );
        let written = exif.capture_time().unwrap().as_ref().unwrap().clone();
        let shown = match written.exif_sub_sec() {
            Some(sub) => format!("{}.{sub}", written.exif_date_time()),
            None => written.exif_date_time(),
        };
        let line = &dated[file];
        assert_eq!(
            *line,
            format!("DateTimeOriginal {shown}"),
            "{}: the reported date was lost",
            file.display()
        );
    }
    assert_eq!(temporaries(dir.path()), Vec::<OsString>::new());
}

#[test]
fn a_photo_still_being_copied_is_refused_and_then_dated() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source.jpg");
    write_photo(&source, 2, &photo_edits("2024:05:01 10:00:00", None, None));
    // A 3 MB photo: a big, noisy image.
    let mut whole = fs::read(&source).unwrap();
    let big = noisy_jpeg(1400, 1000, 9);
    let sos = mapillary_core::exif::jpeg::parse_head(&big)
        .unwrap()
        .sos_offset;
    let head = mapillary_core::exif::jpeg::parse_head(&whole)
        .unwrap()
        .sos_offset;
    whole.truncate(head);
    whole.extend_from_slice(&big[sos..]);
    assert!(whole.len() > 1_000_000);
    let trip = dir.path().join("trip");
    fs::create_dir(&trip).unwrap();
    let copy = trip.join("IMG_1.jpg");
    let half = whole.len() / 2;
    // The copying program has written half and paused, the file open.
    let mut writer = fs::File::create(&copy).unwrap();
    writer.write_all(&whole[..half]).unwrap();
    let out = Command::new(tool("add_fix_dates"))
        .arg(&trip)
        .args(["2024-06-01 12:00:00", "1"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        format!(
            "add_fix_dates: {}: the JPEG looks incomplete (its image data does not end with an EOI marker) \u{2014} still being copied? not changed",
            copy.display()
        )
    );
    // The copy goes on and ends: the photo is what was copied, whole.
    writer.write_all(&whole[half..]).unwrap();
    drop(writer);
    assert_eq!(fs::read(&copy).unwrap(), whole);
    let out = Command::new(tool("add_fix_dates"))
        .arg(&trip)
        .args(["2024-06-01 12:00:00", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let time = read_exif(&copy)
        .unwrap()
        .capture_time()
        .unwrap()
        .as_ref()
        .unwrap()
        .clone();
    assert_eq!(time.exif_date_time(), "2024:06:01 12:00:00");
}

#[test]
fn read_only_photos_are_refused_unless_forced() {
    let (dir, files) = folder_of_photos(2);
    let locked = &files[0];
    fs::set_permissions(locked, fs::Permissions::from_mode(0o444)).unwrap();
    let before = fs::read(locked).unwrap();
    let run = |extra: &[&str]| {
        Command::new(tool("add_fix_dates"))
            .arg(dir.path())
            .args(["2024-06-01 12:00:00", "1"])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = run(&[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        format!(
            "add_fix_dates: {}: read-only (mode 0444); not changed (--force replaces it)",
            locked.display()
        )
    );
    assert_eq!(fs::read(locked).unwrap(), before);
    let out = run(&["--force"]);
    assert_eq!(out.status.code(), Some(0));
    assert_ne!(fs::read(locked).unwrap(), before);
    assert_eq!(fs::metadata(locked).unwrap().mode() & 0o777, 0o444);
}

#[test]
fn another_users_photo_keeps_its_owner_or_is_refused() {
    if !is_root() {
        eprintln!("skipped: needs root to own photos as another user");
        return;
    }
    let (dir, files) = folder_of_photos(2);
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
    // As root: another user's photo is rewritten and keeps its owner.
    let theirs = &files[0];
    std::os::unix::fs::chown(theirs, Some(OTHER_UID), Some(OTHER_UID)).unwrap();
    let out = Command::new(tool("add_fix_dates"))
        .arg(theirs)
        .args(["2024-06-01 12:00:00", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let meta = fs::metadata(theirs).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (OTHER_UID, OTHER_UID));
    // As that user: root's photo, writable by everyone, is refused, and
    // with --force too (it would become theirs).
    let roots = &files[1];
    fs::set_permissions(roots, fs::Permissions::from_mode(0o666)).unwrap();
    let before = fs::read(roots).unwrap();
    for (extra, reason) in [
        (
            None,
            "belongs to another user (uid 0); replacing it would make it yours (run as that user or as root)",
        ),
        (
            Some("--force"),
            "cannot keep its owner and group (0:0): permission denied; not changed",
        ),
    ] {
        let out = Command::new(tool("add_fix_dates"))
            .arg(roots)
            .args(["2024-06-01 12:00:00", "1"])
            .args(extra)
            .uid(OTHER_UID)
            .gid(OTHER_UID)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert_eq!(
            stderr.trim_end(),
            format!("add_fix_dates: {}: {reason}", roots.display())
        );
        assert_eq!(fs::read(roots).unwrap(), before);
        assert_eq!(fs::metadata(roots).unwrap().uid(), 0);
    }
    assert_eq!(temporaries(dir.path()), Vec::<OsString>::new());
}

#[test]
fn another_user_cannot_read_a_temporary_file_of_a_private_photo() {
    if !is_root() {
        eprintln!("skipped: needs root to watch the folder as another user");
        return;
    }
    let (dir, files) = folder_of_photos(300);
    for f in &files {
        fs::set_permissions(f, fs::Permissions::from_mode(0o600)).unwrap();
    }
    // A shared folder: everyone may look in, the photos are private.
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let done = dir.path().join("done");
    // The other user opens every temporary file it sees, until told to stop.
    let watcher = Command::new("sh")
        .arg("-c")
        .arg(
            r#"seen=0; read=0
while [ ! -e "$1/done" ]; do
  for f in "$1"/.*mapillary-tmp.*; do
    [ -e "$f" ] || continue
    seen=$((seen+1))
    if cat "$f" > /dev/null 2>&1; then read=$((read+1)); fi
  done
done
echo "$seen $read""#,
        )
        .arg("watcher")
        .arg(dir.path())
        .uid(OTHER_UID)
        .gid(OTHER_UID)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    for round in 0..6 {
        let out = Command::new(tool("add_fix_dates"))
            .arg(dir.path())
            .arg(format!("2024-06-0{} 12:00:00", round + 1))
            .args(["1", "-j", "1"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
    }
    // The stop sign is written by root, into a folder the watcher reads.
    fs::write(&done, b"").unwrap();
    let out = watcher.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let counts: Vec<u64> = text
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    let (seen, read) = (counts[0], counts[1]);
    eprintln!("the other user saw {seen} temporary files and read {read}");
    assert_eq!(
        read, 0,
        "another user read a temporary copy of a private photo"
    );
    for f in &files {
        assert_eq!(fs::metadata(f).unwrap().mode() & 0o777, 0o600);
    }
}

#[test]
fn extended_attributes_are_kept() {
    let (dir, files) = folder_of_photos(1);
    let photo = &files[0];
    let value: &[u8] = b"5 stars \xff\x00 binary";
    match rustix::fs::setxattr(
        photo,
        "user.xdg.comment",
        value,
        rustix::fs::XattrFlags::empty(),
    ) {
        Ok(()) => {}
        Err(e) if e == rustix::io::Errno::NOTSUP => {
            eprintln!(
                "skipped: the temporary folder's file system has no user extended attributes"
            );
            return;
        }
        Err(e) => panic!("{e}"),
    }
    let out = Command::new(tool("add_fix_dates"))
        .arg(dir.path())
        .args(["2024-06-01 12:00:00", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let mut buf = [0u8; 64];
    let n = rustix::fs::getxattr(photo, "user.xdg.comment", &mut buf[..]).unwrap();
    assert_eq!(&buf[..n], value);
}

#[test]
fn names_in_any_encoding_each_get_their_own_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = photo_bytes();
    let mut names = Vec::new();
    for i in 0..128u8 {
        // Latin-1 bytes that are not UTF-8, differing only in those bytes.
        let name =
            OsString::from_vec([b"IMG_\xe9t\xe9_".as_slice(), &[0x80 + i], b".jpg"].concat());
        fs::write(dir.path().join(&name), &bytes).unwrap();
        names.push(name);
    }
    let out = Command::new(tool("add_fix_dates"))
        .arg(dir.path())
        .args(["2024-06-01 12:00:00", "1", "-j", "4"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in &names {
        let exif = read_exif(&dir.path().join(name)).unwrap();
        let time = exif.capture_time().unwrap().as_ref().unwrap().clone();
        assert!(time.exif_date_time().starts_with("2024:06:01"));
        assert!(OsStr::from_bytes(name.as_bytes()).to_str().is_none());
    }
    assert_eq!(temporaries(dir.path()), Vec::<OsString>::new());
}

#[test]
fn an_unreadable_folder_is_one_message_and_the_run_goes_on() {
    let (dir, _files) = folder_of_photos(3);
    let hidden = dir.path().join("lost+found");
    fs::create_dir(&hidden).unwrap();
    fs::copy(dir.path().join("IMG_00000.jpg"), hidden.join("x.jpg")).unwrap();
    fs::set_permissions(&hidden, fs::Permissions::from_mode(0o000)).unwrap();
    let mut cmd = Command::new(tool("add_fix_dates"));
    cmd.arg(dir.path()).args(["2024-06-01 12:00:00", "1"]);
    if is_root() {
        // Root reads any folder: run as a user who cannot.
        for entry in fs::read_dir(dir.path()).unwrap() {
            let p = entry.unwrap().path();
            std::os::unix::fs::chown(&p, Some(OTHER_UID), Some(OTHER_UID)).unwrap();
        }
        std::os::unix::fs::chown(dir.path(), Some(OTHER_UID), Some(OTHER_UID)).unwrap();
        std::os::unix::fs::chown(&hidden, Some(0), Some(0)).unwrap();
        cmd.uid(OTHER_UID).gid(OTHER_UID);
    }
    let out = cmd.output().unwrap();
    fs::set_permissions(&hidden, fs::Permissions::from_mode(0o755)).unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        format!(
            "add_fix_dates: {}: permission denied; the photos in it are left out",
            hidden.display()
        )
    );
    assert!(
        stdout.ends_with("3 photos dated, 0 skipped, 0 failed\n"),
        "{stdout}"
    );
}
