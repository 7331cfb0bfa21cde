//! Flags as types: each flag is a small value that knows its names, its
//! help, what its value completes to, and how it parses that value into a
//! typed field of the tool's own arguments struct. A tool lists the flags
//! it takes; the same list parses the command line and generates `--help`,
//! the man page and the shell completions, so they cannot drift. A typo in
//! a field name does not compile (unlike a flag looked up by its string).
//!
//! The flags several tools share (`-q`, `-v`, `--json`, `--dry-run`,
//! `--jobs`, `--sync`, `--force`, `--keep-mtime`, `--timezone`, `--yes`)
//! parse once, into [`Shared`], which every tool's arguments hold.

use std::ffi::OsStr;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use mapillary_core::capture_time::{ZoneRule, parse_zone};
use mapillary_core::exif::RewriteOptions;
use mapillary_core::files::replace::ModifiedTime;
use mapillary_core::jiff::tz::TimeZone;

/// A usage error: the message, printed with the usage line; exit status 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

impl From<lexopt::Error> for UsageError {
    fn from(e: lexopt::Error) -> Self {
        UsageError(e.to_string())
    }
}

/// Whether a raw argument is a negative number (`-3.5`, `-90`, `-1e999`,
/// `-inf`, `-nan`), which the legacy forms take as positionals
/// (`geotag_from_gpx p t.gpx -3.5`). Infinities and NaN count as numbers
/// here so that the argument they belong to refuses them by name
/// ("increment must be a finite number of seconds, not '-inf'") instead of
/// lexopt reading `-inf` as the options `-i -n -f`; no tool has a short
/// option that such a cluster could mean.
pub(crate) fn is_negative_number(arg: &OsStr) -> bool {
    arg.to_str()
        .is_some_and(|s| s.len() > 1 && s.starts_with('-') && s[1..].parse::<f64>().is_ok())
}

/// What a value completes to in a shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Complete {
    /// Nothing in particular (a number, a time, a name).
    Nothing,
    /// A file or folder name.
    Path,
    /// A folder name.
    Folder,
    /// One of these words.
    Choices(&'static [&'static str]),
}

/// A flag of the tool whose arguments are `A`.
pub trait Flag<A>: Sync {
    /// The long name, without dashes.
    fn long(&self) -> &'static str;
    /// The short name, if any.
    fn short(&self) -> Option<char> {
        None
    }
    /// The value's name in help (`N`, `FILE`), or `None` for a switch.
    fn value_name(&self) -> Option<&'static str> {
        None
    }
    /// What the flag does (one or two sentences).
    fn doc(&self) -> &'static str;
    /// What its value completes to.
    fn complete(&self) -> Complete {
        Complete::Nothing
    }
    /// Sets the flag's default before the command line is read.
    fn init(&self, _args: &mut A) {}
    /// Reads the flag (with its value, when it takes one) into `args`.
    fn set(&self, args: &mut A, value: Option<&OsStr>) -> Result<(), UsageError>;
}

/// A positional argument of the tool whose arguments are `A`.
#[derive(Debug)]
pub struct Positional<A> {
    /// Its name in the usage line, e.g. `path`.
    pub name: &'static str,
    /// What it means (one or two sentences).
    pub doc: &'static str,
    /// Whether it may be left out.
    pub optional: bool,
    /// What it completes to.
    pub complete: Complete,
    /// Reads it into `args`.
    pub set: fn(&mut A, &OsStr) -> Result<(), UsageError>,
}

/// How much a tool says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Verbosity {
    /// `-q`: only problems and the summary.
    Quiet,
    /// The default.
    #[default]
    Normal,
    /// `-v`: each step explained.
    Verbose,
}

/// The flags several tools share, parsed once.
#[derive(Debug, Clone, Default)]
pub struct Shared {
    /// `-q` / `-v`.
    pub verbosity: Verbosity,
    /// `--json`: one JSON object per line on stdout, for scripts.
    pub json: bool,
    /// `-n, --dry-run`.
    pub dry_run: bool,
    /// `--sync`.
    pub sync: bool,
    /// `--force`.
    pub force: bool,
    /// `--keep-mtime`.
    pub keep_mtime: bool,
    /// `-j, --jobs`: set to the tool's default before parsing.
    pub jobs: usize,
    /// `--timezone`.
    pub zone: Option<TimeZone>,
    /// `-y, --yes`.
    pub yes: bool,
}

impl Shared {
    /// How photos are rewritten: `--dry-run`, `--sync`, `--force`,
    /// `--keep-mtime`.
    pub fn rewrite_options(&self) -> RewriteOptions {
        RewriteOptions {
            dry_run: self.dry_run,
            sync: self.sync,
            force: self.force,
            modified: if self.keep_mtime {
                ModifiedTime::Keep
            } else {
                ModifiedTime::Now
            },
        }
    }

    /// The zone rule for capture times: `--timezone` forces one zone;
    /// without it, times without an offset are in the computer's zone
    /// (`TZ` honoured).
    pub fn zone_rule(&self) -> ZoneRule {
        match &self.zone {
            Some(zone) => ZoneRule::Force(zone.clone()),
            None => ZoneRule::system(),
        }
    }
}

/// The arguments of a tool: its own typed struct, holding [`Shared`].
pub trait ToolArgs: Default + 'static {
    /// The shared flags' values.
    fn shared(&mut self) -> &mut Shared;
    /// Checks what no single flag can: combinations (called once all
    /// arguments are read).
    fn check(&self) -> Result<(), UsageError> {
        Ok(())
    }
}

/// Implements [`ToolArgs`] for a tool's arguments struct that keeps the
/// shared flags in its field `shared`; with `path: field`, also
/// [`PathArg`] for the field that holds the `path` positional.
#[macro_export]
macro_rules! tool_args {
    ($args:ty) => {
        impl $crate::flags::ToolArgs for $args {
            fn shared(&mut self) -> &mut $crate::flags::Shared {
                &mut self.shared
            }
        }
    };
    ($args:ty, path: $field:ident) => {
        $crate::tool_args!($args);
        impl $crate::flags::PathArg for $args {
            fn path_mut(&mut self) -> &mut ::std::path::PathBuf {
                &mut self.$field
            }
        }
    };
}

/// The arguments of a tool that takes a `path` of photos.
pub trait PathArg {
    /// Where the `path` positional goes.
    fn path_mut(&mut self) -> &mut PathBuf;
}

/// What the `path` of most tools is.
pub const PHOTOS_PATH_DOC: &str = "A .jpg/.jpeg file, or a folder searched recursively for them.";

/// The `path` positional (the first of every tool that works on photos),
/// explained by `doc` (usually [`PHOTOS_PATH_DOC`]).
pub const fn photos_path<A: PathArg>(doc: &'static str) -> Positional<A> {
    Positional {
        name: "path",
        doc,
        optional: false,
        complete: Complete::Path,
        set: |a, v| {
            *a.path_mut() = path(v);
            Ok(())
        },
    }
}

fn usage(message: impl Into<String>) -> UsageError {
    UsageError(message.into())
}

/// `-q, --quiet`; every tool has it.
#[derive(Debug)]
pub struct Quiet;

impl<A: ToolArgs> Flag<A> for Quiet {
    fn long(&self) -> &'static str {
        "quiet"
    }
    fn short(&self) -> Option<char> {
        Some('q')
    }
    fn doc(&self) -> &'static str {
        "Print only problems and the summary."
    }
    fn set(&self, args: &mut A, _: Option<&OsStr>) -> Result<(), UsageError> {
        let shared = args.shared();
        if shared.verbosity == Verbosity::Verbose {
            return Err(usage("-q and -v cannot be used together"));
        }
        shared.verbosity = Verbosity::Quiet;
        Ok(())
    }
}

/// `-v, --verbose`; every tool has it.
#[derive(Debug)]
pub struct Verbose;

impl<A: ToolArgs> Flag<A> for Verbose {
    fn long(&self) -> &'static str {
        "verbose"
    }
    fn short(&self) -> Option<char> {
        Some('v')
    }
    fn doc(&self) -> &'static str {
        "Explain each step."
    }
    fn set(&self, args: &mut A, _: Option<&OsStr>) -> Result<(), UsageError> {
        let shared = args.shared();
        if shared.verbosity == Verbosity::Quiet {
            return Err(usage("-q and -v cannot be used together"));
        }
        shared.verbosity = Verbosity::Verbose;
        Ok(())
    }
}

/// `--json`; every tool has it.
#[derive(Debug)]
pub struct Json;

impl<A: ToolArgs> Flag<A> for Json {
    fn long(&self) -> &'static str {
        "json"
    }
    fn doc(&self) -> &'static str {
        "Print one JSON object per line on stdout instead of text: one per photo (or item) and a summary last (see docs/json.md)."
    }
    fn set(&self, args: &mut A, _: Option<&OsStr>) -> Result<(), UsageError> {
        args.shared().json = true;
        Ok(())
    }
}

/// `-n, --dry-run`.
#[derive(Debug)]
pub struct DryRun;

impl<A: ToolArgs> Flag<A> for DryRun {
    fn long(&self) -> &'static str {
        "dry-run"
    }
    fn short(&self) -> Option<char> {
        Some('n')
    }
    fn doc(&self) -> &'static str {
        "Show what would be done; change nothing."
    }
    fn set(&self, args: &mut A, _: Option<&OsStr>) -> Result<(), UsageError> {
        args.shared().dry_run = true;
        Ok(())
    }
}

/// `--sync`.
#[derive(Debug)]
pub struct SyncWrites;

impl<A: ToolArgs> Flag<A> for SyncWrites {
    fn long(&self) -> &'static str {
        "sync"
    }
    fn doc(&self) -> &'static str {
        "Flush each rewritten photo to the disk before it replaces the original (slower; a power cut then cannot harm a photo on any file system)."
    }
    fn set(&self, args: &mut A, _: Option<&OsStr>) -> Result<(), UsageError> {
        args.shared().sync = true;
        Ok(())
    }
}

/// `--force`.
#[derive(Debug)]
pub struct Force;

impl<A: ToolArgs> Flag<A> for Force {
    fn long(&self) -> &'static str {
        "force"
    }
    fn doc(&self) -> &'static str {
        "Also rewrite photos that are read-only, or another user's (as root, keeping their owner); without it they are refused and left alone."
    }
    fn set(&self, args: &mut A, _: Option<&OsStr>) -> Result<(), UsageError> {
        args.shared().force = true;
        Ok(())
    }
}

/// `--keep-mtime`.
#[derive(Debug)]
pub struct KeepMtime;

impl<A: ToolArgs> Flag<A> for KeepMtime {
    fn long(&self) -> &'static str {
        "keep-mtime"
    }
    fn doc(&self) -> &'static str {
        "Give each rewritten photo the modification time it had (as exiftool -P). Without it the photo's modification time is the time it was rewritten, so backup and sync programs see the change."
    }
    fn set(&self, args: &mut A, _: Option<&OsStr>) -> Result<(), UsageError> {
        args.shared().keep_mtime = true;
        Ok(())
    }
}

/// `-y, --yes`.
#[derive(Debug)]
pub struct Yes;

impl<A: ToolArgs> Flag<A> for Yes {
    fn long(&self) -> &'static str {
        "yes"
    }
    fn short(&self) -> Option<char> {
        Some('y')
    }
    fn doc(&self) -> &'static str {
        "Answer yes to every question (for scripts)."
    }
    fn set(&self, args: &mut A, _: Option<&OsStr>) -> Result<(), UsageError> {
        args.shared().yes = true;
        Ok(())
    }
}

/// `--timezone ZONE`.
#[derive(Debug)]
pub struct Timezone;

impl<A: ToolArgs> Flag<A> for Timezone {
    fn long(&self) -> &'static str {
        "timezone"
    }
    fn value_name(&self) -> Option<&'static str> {
        Some("ZONE")
    }
    fn doc(&self) -> &'static str {
        "The zone of every capture time (UTC, +02:00, or a name such as Europe/Berlin), overriding OffsetTimeOriginal and the computer's zone."
    }
    fn set(&self, args: &mut A, value: Option<&OsStr>) -> Result<(), UsageError> {
        let text = text(value.unwrap_or_default(), "--timezone")?;
        let zone = parse_zone(&text).map_err(|e| usage(format!("--timezone: {e}")))?;
        args.shared().zone = Some(zone);
        Ok(())
    }
}

/// How many things a tool does at a time without `--jobs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobsDefault {
    /// The number of CPU cores (work that keeps a core busy).
    Cores,
    /// A fixed number (network transfers).
    Fixed(usize),
}

/// `-j, --jobs N`: one parser for every tool; each tool's constant names
/// its default and says it in its help.
#[derive(Debug)]
pub struct Jobs {
    /// The default.
    pub default: JobsDefault,
    /// The help text, which states the default.
    pub doc: &'static str,
}

/// `--jobs` for tools that work on files (one per core).
pub const JOBS: Jobs = Jobs {
    default: JobsDefault::Cores,
    doc: "Work on N files at a time (default: the number of CPU cores).",
};

/// `--jobs` for the upload tools.
pub const UPLOAD_JOBS: Jobs = Jobs {
    default: JobsDefault::Fixed(4),
    doc: "Upload N photos at a time (default 4, as the 2015 tool and the official client).",
};

/// `--jobs` for downloads.
pub const DOWNLOAD_JOBS: Jobs = Jobs {
    default: JobsDefault::Fixed(8),
    doc: "Download N thumbnails at a time (default 8).",
};

impl<A: ToolArgs> Flag<A> for Jobs {
    fn long(&self) -> &'static str {
        "jobs"
    }
    fn short(&self) -> Option<char> {
        Some('j')
    }
    fn value_name(&self) -> Option<&'static str> {
        Some("N")
    }
    fn doc(&self) -> &'static str {
        self.doc
    }
    fn init(&self, args: &mut A) {
        args.shared().jobs = match self.default {
            JobsDefault::Cores => std::thread::available_parallelism().map_or(1, |n| n.get()),
            JobsDefault::Fixed(n) => n,
        };
    }
    fn set(&self, args: &mut A, value: Option<&OsStr>) -> Result<(), UsageError> {
        let n: usize = number(value.unwrap_or_default(), "--jobs")?;
        if n == 0 {
            return Err(usage("--jobs must be at least 1"));
        }
        args.shared().jobs = n;
        Ok(())
    }
}

/// A value as text (names, times), or a usage error naming the argument.
pub fn text(value: &OsStr, name: &str) -> Result<String, UsageError> {
    value
        .to_str()
        .map(str::to_string)
        .ok_or_else(|| usage(format!("{name} is not valid UTF-8")))
}

/// A value as a path (any bytes).
pub fn path(value: &OsStr) -> PathBuf {
    PathBuf::from(value)
}

/// A value as a number, or a usage error naming the argument.
pub fn number<T: FromStr>(value: &OsStr, name: &str) -> Result<T, UsageError> {
    parse_number(value, name)
}

/// A value as a finite number of `unit`s (negative allowed), or a usage
/// error naming the argument ("increment must be a finite number of
/// seconds, not '-inf'").
pub fn finite(value: &OsStr, name: &str, unit: &str) -> Result<f64, UsageError> {
    parse_finite(value, name, unit)
}

/// Parses a number argument, with an error naming the argument.
pub fn parse_number<T: FromStr>(value: &OsStr, name: &str) -> Result<T, UsageError> {
    let text = value.to_string_lossy();
    text.trim()
        .parse()
        .map_err(|_| UsageError(format!("{name} must be a number, not '{text}'")))
}

/// Parses a finite number of `unit`, with an error naming the argument:
/// "increment must be a finite number of seconds, not '-inf'".
pub fn parse_finite(value: &OsStr, name: &str, unit: &str) -> Result<f64, UsageError> {
    let text = value.to_string_lossy();
    match text.trim().parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(x),
        Ok(_) => Err(UsageError(format!(
            "{name} must be a finite number of {unit}, not '{text}'"
        ))),
        Err(_) => Err(UsageError(format!(
            "{name} must be a number of {unit}, not '{text}'"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default)]
    struct Args {
        shared: Shared,
    }

    impl ToolArgs for Args {
        fn shared(&mut self) -> &mut Shared {
            &mut self.shared
        }
    }

    #[test]
    fn quiet_and_verbose_conflict_in_either_order() {
        let mut a = Args::default();
        Flag::<Args>::set(&Quiet, &mut a, None).unwrap();
        let e = Flag::<Args>::set(&Verbose, &mut a, None).unwrap_err();
        assert_eq!(e.0, "-q and -v cannot be used together");
        let mut a = Args::default();
        Flag::<Args>::set(&Verbose, &mut a, None).unwrap();
        assert!(Flag::<Args>::set(&Quiet, &mut a, None).is_err());
    }

    #[test]
    fn jobs_has_one_parser_and_each_tool_its_default() {
        let mut a = Args::default();
        Flag::<Args>::init(&UPLOAD_JOBS, &mut a);
        assert_eq!(a.shared.jobs, 4);
        Flag::<Args>::init(&JOBS, &mut a);
        assert!(a.shared.jobs >= 1);
        Flag::<Args>::set(&DOWNLOAD_JOBS, &mut a, Some(OsStr::new("3"))).unwrap();
        assert_eq!(a.shared.jobs, 3);
        for bad in ["0", "x", "-1", "2.5"] {
            assert!(
                Flag::<Args>::set(&JOBS, &mut a, Some(OsStr::new(bad))).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn timezone_parses_once_into_a_zone() {
        let mut a = Args::default();
        Flag::<Args>::set(&Timezone, &mut a, Some(OsStr::new("+02:00"))).unwrap();
        assert!(a.shared.zone.is_some());
        let e = Flag::<Args>::set(&Timezone, &mut a, Some(OsStr::new("Mars/Olympus"))).unwrap_err();
        assert!(
            e.0.starts_with("--timezone: unknown time zone 'Mars/Olympus'"),
            "{}",
            e.0
        );
    }
}
