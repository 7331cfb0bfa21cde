//! Test support shared by the tools' tests: where the shared corpus and the
//! project's testdata are, exiftool as an independent oracle, the image
//! bytes of a JPEG, and small generated photos.
//!
//! Tests that need the corpus or an oracle (exiftool, Chromium, the
//! official client) ask for it here: when it is absent they skip with a
//! `SKIPPED` line that `cargo test` shows, and with `CI=true` they fail
//! ([`missing`]).

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use mapillary_core::exif::jpeg::parse_head;
pub mod browser;
pub mod sample_trip;
pub mod sandbox;

use mapillary_core::exif::{ExifEdits, RewriteOptions, rewrite_file};

/// The workspace's top folder.
pub fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.join("../..")
        .canonicalize()
        .unwrap_or_else(|_| here.join("../.."))
}

/// The project's own test data.
pub fn testdata() -> PathBuf {
    workspace_root().join("testdata")
}

/// Whether this is a CI run: `CI` set to `true` (or `1`), as GitHub
/// Actions, GitLab and `.ci/run` set it. A test that lacks the corpus or an
/// oracle then fails instead of skipping, so that CI cannot pass on tests
/// that did not run.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// Something a test needs that this machine lacks: what, and how to
/// provide it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    /// What is missing, and where it was looked for.
    pub what: String,
    /// How to provide it.
    pub how: String,
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.what, self.how)
    }
}

fn lacking(what: String, how: &str) -> Missing {
    Missing {
        what,
        how: how.to_string(),
    }
}

/// Writes a line to the process's stderr itself rather than with
/// `eprintln!`, which the test harness captures and shows only for tests
/// that fail: so the line shows in the plain output of `cargo test`.
pub fn tell(line: &str) {
    let line = format!("{line}\n");
    let _ = io::Write::write_all(&mut io::stderr().lock(), line.as_bytes());
}

/// Says that the running test cannot run because `lack` is missing. In CI
/// ([`in_ci`]) it fails the test; otherwise it prints one `SKIPPED` line
/// naming the test ([`tell`]: `cargo test` shows it), and the test
/// returns.
pub fn missing(lack: &Missing) {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    if in_ci() {
        panic!("CI=true, and {test} cannot run: {lack}");
    }
    // Once per test, though it may ask for two folders of the corpus.
    static TOLD: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let line = format!("SKIPPED {test}: {lack}");
    let mut told = TOLD
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !told.contains(&line) {
        tell(&line);
        told.push(line);
    }
}

/// Where the shared corpus is, or what is missing.
fn find_corpus_dir() -> Result<PathBuf, Missing> {
    let (dir, from) = match std::env::var_os("MAPILLARY_CORPUS") {
        Some(dir) => (PathBuf::from(dir), "MAPILLARY_CORPUS"),
        None => {
            let root = workspace_root();
            let beside = root.parent().unwrap_or(&root).join("shared/corpus");
            (beside, "beside the workspace")
        }
    };
    if dir.is_dir() {
        Ok(dir)
    } else {
        Err(lacking(
            format!("the shared corpus is not at {} ({from})", dir.display()),
            "set MAPILLARY_CORPUS to the corpus folder",
        ))
    }
}

/// The shared real-camera corpus: `$MAPILLARY_CORPUS`, else
/// `../shared/corpus` beside the workspace. `None` when it is not there
/// (see [`missing`]: a visible skip, a failure in CI).
pub fn corpus_dir() -> Option<PathBuf> {
    find_corpus_dir().map_err(|lack| missing(&lack)).ok()
}

/// A folder of the shared corpus ([`corpus_dir`]`/<sub>`; `""` for the
/// corpus itself), or `None` when it is not there (see [`missing`]).
pub fn corpus(sub: &str) -> Option<PathBuf> {
    let base = corpus_dir()?;
    let dir = base.join(sub);
    if dir.is_dir() {
        Some(dir)
    } else {
        missing(&lacking(
            format!("the shared corpus at {} has no {sub}/", base.display()),
            "set MAPILLARY_CORPUS to a complete corpus",
        ));
        None
    }
}

/// The files of a folder with one of `extensions` (any case), sorted.
pub fn files_with_extension(dir: &Path, extensions: &[&str]) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| {
        p.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| extensions.iter().any(|x| x.eq_ignore_ascii_case(e)))
    });
    files.sort();
    files
}

/// Copies the files (not subfolders) of `from` into `to`, made writable.
pub fn copy_files(files: &[PathBuf], to: &Path) -> io::Result<Vec<PathBuf>> {
    fs::create_dir_all(to)?;
    let mut out = Vec::new();
    for f in files {
        let dest = to.join(
            f.file_name()
                .ok_or_else(|| io::Error::other("no file name"))?,
        );
        fs::copy(f, &dest)?;
        let mut perms = fs::metadata(&dest)?.permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perms.set_readonly(false);
        fs::set_permissions(&dest, perms)?;
        out.push(dest);
    }
    Ok(out)
}

/// exiftool, when it is installed.
#[derive(Debug, Clone, Copy)]
pub struct Exiftool;

/// The oracles some tests compare with, and the corpus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Oracle {
    /// The shared real-camera corpus ([`corpus_dir`]).
    Corpus,
    /// exiftool ([`exiftool`]).
    Exiftool,
    /// Headless Chromium ([`chromium`]).
    Chromium,
    /// The official client ([`official_client`]).
    OfficialClient,
}

impl Oracle {
    /// All of them.
    pub const ALL: [Oracle; 4] = [
        Oracle::Corpus,
        Oracle::Exiftool,
        Oracle::Chromium,
        Oracle::OfficialClient,
    ];

    /// `Ok` when it is here, else what is missing (said by no one: see
    /// [`missing`]).
    pub fn find(self) -> Result<(), Missing> {
        match self {
            Oracle::Corpus => find_corpus_dir().map(drop),
            Oracle::Exiftool => find_exiftool(),
            Oracle::Chromium => find_chromium().map(drop),
            Oracle::OfficialClient => find_official_client().map(drop),
        }
    }
}

/// Whether `program` runs with `arg` and succeeds.
fn runs(program: &Path, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success())
}

fn find_exiftool() -> Result<(), Missing> {
    if runs(Path::new("exiftool"), "-ver") {
        Ok(())
    } else {
        Err(lacking(
            "exiftool is not installed".to_string(),
            "apt-get install libimage-exiftool-perl",
        ))
    }
}

/// exiftool, or `None` when it is not installed (see [`missing`]).
pub fn exiftool() -> Option<Exiftool> {
    find_exiftool().map_err(|lack| missing(&lack)).ok()?;
    Some(Exiftool)
}

/// The official Mapillary client (`mapillary_tools`, version 0.14.7 from
/// PyPI), the oracle for descriptions, sequences and the upload protocol:
/// `$MAPILLARY_TOOLS_OFFICIAL` (the path of its `mapillary_tools`
/// executable), else `mapillary_tools` on the PATH. `None` when neither
/// runs (see [`missing`]). `.ci/run` installs it into a virtual environment
/// and sets the variable.
pub fn official_client() -> Option<PathBuf> {
    find_official_client().map_err(|lack| missing(&lack)).ok()
}

fn find_official_client() -> Result<PathBuf, Missing> {
    let program = std::env::var_os("MAPILLARY_TOOLS_OFFICIAL")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("mapillary_tools"));
    if runs(&program, "--version") {
        Ok(program)
    } else {
        Err(lacking(
            format!("the official client ({}) does not run", program.display()),
            "python3 -m venv v && v/bin/pip install mapillary_tools==0.14.7, then set MAPILLARY_TOOLS_OFFICIAL=v/bin/mapillary_tools",
        ))
    }
}

/// Headless Chromium, the oracle for the HTML pages: `$CHROMIUM`, else
/// `chromium` on the PATH (Debian's package). `None` when it does not run
/// (see [`missing`]).
pub fn chromium() -> Option<PathBuf> {
    find_chromium().map_err(|lack| missing(&lack)).ok()
}

fn find_chromium() -> Result<PathBuf, Missing> {
    let program = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("chromium"));
    if runs(&program, "--version") {
        Ok(program)
    } else {
        Err(lacking(
            format!("chromium ({}) does not run", program.display()),
            "apt-get install chromium, or set CHROMIUM",
        ))
    }
}

/// One photo's tags as exiftool lists them with `-a -G1 -s`, without the
/// groups that describe the file system rather than the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagListing {
    /// `[Group] Name : value` lines, sorted.
    pub tags: Vec<String>,
    /// exiftool's warnings about the file.
    pub warnings: Vec<String>,
}

impl Exiftool {
    /// `exiftool -a -G1 -s` for several files in one run (exiftool starts
    /// slowly). Keyed by the path as given.
    pub fn listings(self, files: &[PathBuf]) -> BTreeMap<PathBuf, TagListing> {
        let mut out = BTreeMap::new();
        if files.is_empty() {
            return out;
        }
        let output = Command::new("exiftool")
            .args(["-a", "-G1", "-s"])
            .args(files)
            .output()
            .expect("exiftool runs");
        let text = String::from_utf8_lossy(&output.stdout);
        let by_name: BTreeMap<String, &PathBuf> = files
            .iter()
            .map(|f| (f.to_string_lossy().into_owned(), f))
            .collect();
        // exiftool heads each file's listing with its name, but only when
        // it lists more than one file.
        let mut current: Option<&PathBuf> = if files.len() == 1 {
            files.first()
        } else {
            None
        };
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("======== ") {
                current = by_name.get(rest.trim()).copied();
                continue;
            }
            let Some(file) = current else { continue };
            let entry = out.entry(file.clone()).or_insert_with(TagListing::default);
            if line.starts_with("[System]") {
                continue;
            }
            if line.starts_with("[ExifTool]") {
                if line.contains(" Warning ") {
                    entry.warnings.push(line.to_string());
                }
                continue;
            }
            entry.tags.push(line.to_string());
        }
        for l in out.values_mut() {
            l.tags.sort();
            l.warnings.sort();
        }
        out
    }

    /// `exiftool -s3 <args> file`: the printed values.
    pub fn values(self, file: &Path, args: &[&str]) -> String {
        let output = Command::new("exiftool")
            .arg("-s3")
            .args(args)
            .arg(file)
            .output()
            .expect("exiftool runs");
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }
}

/// The name of a `[Group] Name : value` line.
pub fn tag_name(line: &str) -> &str {
    let rest = line.split_once(']').map_or(line, |(_, r)| r);
    rest.split(':').next().unwrap_or("").trim()
}

/// The differences between two listings that are not among the tags
/// expected to change (`changed`, by name). A photo that had no EXIF may
/// gain the structure tags a new EXIF brings (ExifByteOrder, and
/// ExifVersion where the EXIF IFD is new);
/// MPImageStart, an absolute position exiftool computes from an offset
/// that is relative to the MPF index, may move by the growth of the head.
pub fn unexpected_changes(
    before: &TagListing,
    after: &TagListing,
    changed: &[&str],
    head_growth: i64,
) -> Vec<String> {
    let had_exif = before.tags.iter().any(|l| tag_name(l) == "ExifByteOrder");
    let had_exif_ifd = before.tags.iter().any(|l| l.starts_with("[ExifIFD]"));
    let keep = |l: &&String| {
        let name = tag_name(l);
        let new_structure =
            (!had_exif && name == "ExifByteOrder") || (!had_exif_ifd && name == "ExifVersion");
        !changed.contains(&name) && !new_structure
    };
    let b: Vec<&String> = before.tags.iter().filter(keep).collect();
    let a: Vec<&String> = after.tags.iter().filter(keep).collect();
    let mut problems = Vec::new();
    let moved_ok = |old: &str, new: &str| {
        if tag_name(old) != "MPImageStart" || tag_name(new) != "MPImageStart" {
            return false;
        }
        let num = |l: &str| {
            l.rsplit(':')
                .next()
                .and_then(|v| v.trim().parse::<i64>().ok())
        };
        matches!((num(old), num(new)), (Some(o), Some(n)) if n - o == head_growth)
    };
    let removed: Vec<&&String> = b.iter().filter(|l| !a.contains(l)).collect();
    let added: Vec<&&String> = a.iter().filter(|l| !b.contains(l)).collect();
    for r in &removed {
        if !added.iter().any(|n| moved_ok(r, n)) {
            problems.push(format!("lost or changed: {r}"));
        }
    }
    for n in &added {
        if !removed.iter().any(|r| moved_ok(r, n)) {
            problems.push(format!("appeared: {n}"));
        }
    }
    for w in &after.warnings {
        if !before.warnings.contains(w) {
            problems.push(format!("new warning: {w}"));
        }
    }
    problems
}

/// The bytes of a JPEG from its first SOS marker to the end: the
/// compressed image and whatever follows it.
pub fn image_data(path: &Path) -> Vec<u8> {
    let bytes = fs::read(path).expect("readable");
    let head = parse_head(&bytes).expect("a JPEG");
    bytes[head.sos_offset..].to_vec()
}

/// A small plain JPEG (JFIF, no EXIF) whose pixels depend on `seed`.
pub fn plain_jpeg(width: u16, height: u16, seed: u32) -> Vec<u8> {
    let mut pixels = Vec::with_capacity(usize::from(width) * usize::from(height) * 3);
    for y in 0..u32::from(height) {
        for x in 0..u32::from(width) {
            let v = x
                .wrapping_mul(7)
                .wrapping_add(y.wrapping_mul(13))
                .wrapping_add(seed.wrapping_mul(31));
            pixels.extend([
                (v % 256) as u8,
                ((v / 3 + seed) % 256) as u8,
                ((x + y) % 256) as u8,
            ]);
        }
    }
    let mut out = Vec::new();
    let encoder = jpeg_encoder::Encoder::new(&mut out, 80);
    encoder
        .encode(&pixels, width, height, jpeg_encoder::ColorType::Rgb)
        .expect("encodes");
    out
}

/// Writes a plain JPEG to `path` and applies `edits` to it (with the
/// project's own engine; tests read the result back with exiftool).
pub fn write_photo(path: &Path, seed: u32, edits: &ExifEdits) {
    write_photo_sized(path, 32, 24, seed, edits);
}

/// [`write_photo`] with a chosen size in pixels.
pub fn write_photo_sized(path: &Path, width: u16, height: u16, seed: u32, edits: &ExifEdits) {
    fs::write(path, plain_jpeg(width, height, seed)).expect("writable");
    if !edits.is_empty() {
        rewrite_file(
            path,
            edits,
            RewriteOptions {
                dry_run: false,
                sync: false,
                ..RewriteOptions::default()
            },
        )
        .expect("tags written");
    }
}

/// Runs a tool and returns (exit code, stdout, stderr). A panic (exit code
/// 101) fails the test at once.
pub fn run_tool(bin: &str, args: &[&std::ffi::OsStr], cwd: Option<&Path>) -> (i32, String, String) {
    let mut cmd = Command::new(bin);
    cmd.args(args);
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let out = cmd.output().expect("the tool starts");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let code = out.status.code().unwrap_or(-1);
    assert_ne!(code, 101, "the tool panicked:\n{stderr}");
    assert!(!stderr.contains("panicked"), "the tool panicked:\n{stderr}");
    (code, stdout, stderr)
}

/// `OsStr` arguments from anything path-like or textual.
#[macro_export]
macro_rules! args {
    ($($a:expr),* $(,)?) => {
        &[$(::std::ffi::OsStr::new(&$a)),*]
    };
}

/// Edits that give a photo a capture time and, optionally, a GPS position
/// (decimal degrees), for tests.
pub fn photo_edits(time: &str, offset: Option<&str>, position: Option<(f64, f64)>) -> ExifEdits {
    use mapillary_core::capture_time::CaptureTime;
    use mapillary_core::exif::{Value, tags};
    let mut edits = ExifEdits::new();
    edits.set_capture_time(&CaptureTime::from_exif(time, None, offset).expect("a valid time"));
    if let Some((lat, lon)) = position {
        let dms = |v: f64| {
            let v = v.abs();
            let d = v.trunc();
            let m = ((v - d) * 60.0).trunc();
            let s = (v - d - m / 60.0) * 3600.0;
            Value::Rational(vec![
                (d as u32, 1),
                (m as u32, 1),
                ((s * 1e6).round() as u32, 1_000_000),
            ])
        };
        edits
            .replace_gps()
            .set(tags::GPS_VERSION_ID, Value::Byte(vec![2, 3, 0, 0]))
            .set_text(tags::GPS_LATITUDE_REF, if lat < 0.0 { "S" } else { "N" })
            .set(tags::GPS_LATITUDE, dms(lat))
            .set_text(tags::GPS_LONGITUDE_REF, if lon < 0.0 { "W" } else { "E" })
            .set(tags::GPS_LONGITUDE, dms(lon));
    }
    edits
}

/// A JPEG of noise (it hardly compresses, so it is about `width × height`
/// bytes: a stand-in for a real photo's size).
pub fn noisy_jpeg(width: u16, height: u16, seed: u32) -> Vec<u8> {
    let mut state = u64::from(seed).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut pixels = Vec::with_capacity(usize::from(width) * usize::from(height) * 3);
    for _ in 0..usize::from(width) * usize::from(height) * 3 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        pixels.push((state >> 32) as u8);
    }
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 90)
        .encode(&pixels, width, height, jpeg_encoder::ColorType::Rgb)
        .expect("encodes");
    out
}

/// Writes a photo that holds a Mapillary description (as the Mapillary apps
/// or add_mapillary_tag_from_exif leave it): sequence `sequence`, taken
/// `second` seconds after 2021-06-01 10:00:00 UTC at (lat, lon). `noisy`
/// makes it about `noisy` pixels square of noise instead of a tiny image.
pub fn tagged_photo(
    path: &Path,
    sequence: &str,
    second: u32,
    lat: f64,
    lon: f64,
    noisy: Option<u16>,
) {
    use mapillary_core::exif::tags;
    let time = format!("2021:06:01 10:{:02}:{:02}", second / 60, second % 60);
    let description = format!(
        r#"{{"MAPCaptureTime":"2021_06_01_10_{:02}_{:02}_000","MAPLatitude":{lat},"MAPLongitude":{lon},"MAPSequenceUUID":"{sequence}","MAPOrientation":1}}"#,
        second / 60,
        second % 60
    );
    let mut edits = photo_edits(&time, Some("Z"), Some((lat, lon)));
    edits.set_text(tags::IMAGE_DESCRIPTION, &description);
    match noisy {
        Some(side) => {
            fs::write(path, noisy_jpeg(side, side * 3 / 4, second + 7)).expect("writable");
            rewrite_file(
                path,
                &edits,
                RewriteOptions {
                    dry_run: false,
                    sync: false,
                    ..RewriteOptions::default()
                },
            )
            .expect("tags written");
        }
        None => write_photo(path, second, &edits),
    }
}

/// The lines of a tool's output, without their line ends.
pub fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

/// Fails, showing the whole output, unless one of its lines is exactly
/// `line`: a line with extra words, another prefix or a second message
/// glued on does not count.
#[track_caller]
pub fn assert_line(text: &str, line: &str) {
    assert!(
        text.lines().any(|l| l == line),
        "no line is exactly\n  {line:?}\nin the output:\n{text}"
    );
}

/// Fails, showing the whole output, if one of its lines is exactly `line`.
#[track_caller]
pub fn assert_no_line(text: &str, line: &str) {
    assert!(
        !text.lines().any(|l| l == line),
        "a line is\n  {line:?}\nin the output:\n{text}"
    );
}

/// How many lines of the output are exactly `line`.
pub fn count_lines(text: &str, line: &str) -> usize {
    text.lines().filter(|l| *l == line).count()
}

/// The one line of the output that starts with `prefix`, for a line whose
/// end the test cannot know in advance (an operating system's words);
/// fails, showing the whole output, when no line or several lines start so.
#[track_caller]
pub fn line_starting<'a>(text: &'a str, prefix: &str) -> &'a str {
    let found: Vec<&str> = text.lines().filter(|l| l.starts_with(prefix)).collect();
    match found[..] {
        [one] => one,
        _ => panic!(
            "{} lines start with\n  {prefix:?}\nin the output (one expected):\n{text}",
            found.len()
        ),
    }
}

/// Fails, showing the whole output, if a line starts with `prefix`.
#[track_caller]
pub fn assert_no_line_starting(text: &str, prefix: &str) {
    assert!(
        !text.lines().any(|l| l.starts_with(prefix)),
        "a line starts with\n  {prefix:?}\nin the output:\n{text}"
    );
}

#[cfg(test)]
mod line_tests {
    use super::*;

    const OUT: &str = "tool: a.jpg: skipped: no time\r\ntool: b.jpg: done\n2 photos\n";

    #[test]
    fn whole_lines_match_and_fragments_do_not() {
        assert_eq!(
            lines(OUT),
            [
                "tool: a.jpg: skipped: no time",
                "tool: b.jpg: done",
                "2 photos"
            ]
        );
        assert_line(OUT, "tool: b.jpg: done");
        assert_no_line(OUT, "tool: b.jpg");
        assert_no_line(OUT, "photos");
        assert_eq!(count_lines(OUT, "2 photos"), 1);
        assert_eq!(count_lines(OUT, "2 photo"), 0);
        assert_eq!(
            line_starting(OUT, "tool: a.jpg: "),
            "tool: a.jpg: skipped: no time"
        );
        assert_no_line_starting(OUT, "a.jpg");
    }

    #[test]
    #[should_panic(expected = "no line is exactly")]
    fn a_fragment_fails() {
        assert_line(OUT, "skipped: no time");
    }

    #[test]
    #[should_panic(expected = "2 lines start with")]
    fn two_lines_with_the_prefix_fail() {
        line_starting(OUT, "tool: ");
    }
}

/// The workspace binary `name` built beside the running test
/// (`cargo test --workspace` builds every binary before any test runs).
/// Fails the test when it is not built.
#[track_caller]
pub fn built_tool(name: &str) -> PathBuf {
    let path = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join(name)))
        .unwrap_or_else(|| PathBuf::from(name));
    assert!(path.exists(), "{} is not built", path.display());
    path
}

/// Fails, showing the whole output, unless the output is exactly one
/// line, `line`.
#[track_caller]
pub fn assert_only_line(text: &str, line: &str) {
    assert_eq!(lines(text), [line], "the output is not just that line");
}

/// Terminal output (a pseudo-terminal's, with `\r\n` line ends) as the
/// lines left on the screen: each after the last erase of a progress bar
/// drawn before it.
pub fn screen_lines(text: &str) -> Vec<&str> {
    text.split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .map(|line| line.rsplit("\r\x1b[2K").next().unwrap_or(line))
        .collect()
}

#[cfg(test)]
mod screen_tests {
    use super::*;

    #[test]
    fn screen_lines_are_what_is_left_after_the_bar() {
        let out = "reading 1/2\r\x1b[2Kreading 2/2\r\x1b[2Kt: a: skipped\r\nsummary\r\n";
        assert_eq!(screen_lines(out), ["t: a: skipped", "summary", ""]);
        assert_only_line("one\n", "one");
    }
}
