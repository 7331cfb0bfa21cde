//! What every Mapillary tool does the same way: parsing its arguments from
//! one description (which also gives `--help` and the man page), reporting
//! results and problems, drawing progress, stopping on Ctrl-C, and turning
//! the outcome into an exit status (0 all done, 1 some file failed or was
//! skipped, 2 usage error).

pub mod args;
pub mod connection;
pub mod failure;
pub mod flags;
pub mod network;
pub mod photos;
pub mod printer;
pub mod report;
pub mod sequences;
pub mod spec;
mod text;
pub mod tool;
pub mod uploading;
pub mod work;

use std::fmt::Display;
use std::io::Write;
use std::process::ExitCode;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

pub use args::Args;
pub use flags::{UsageError, parse_finite, parse_number};
pub use report::{Reporter, Tally, Unit, plural, shown};
pub use spec::{
    DRY_RUN, FORCE, JOBS, KEEP_MTIME, Opt, Positional, SYNC, TIMEZONE, Tool, UPLOAD_JOBS,
};

/// How a run ended, when it ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Everything was done.
    Done,
    /// Some file failed or was skipped.
    Incomplete,
    /// The user pressed Ctrl-C; the run stopped between two files.
    Interrupted,
}

impl Status {
    /// `Done` when `tally` says everything went through, else `Incomplete`.
    pub fn from_tally(tally: &Tally) -> Status {
        if tally.all_done() {
            Status::Done
        } else {
            Status::Incomplete
        }
    }
}

/// Why a run could not go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// A bad command line: printed with the usage; exit status 2.
    Usage(String),
    /// Nothing could be done (no such folder, bad track file, login
    /// refused, ...): one line; exit status 1.
    Fatal(String),
}

impl From<UsageError> for Failure {
    fn from(e: UsageError) -> Self {
        Failure::Usage(e.0)
    }
}

impl Failure {
    /// A fatal error from anything displayable.
    pub fn fatal(e: impl Display) -> Failure {
        Failure::Fatal(e.to_string())
    }
}

static INTERRUPTED: OnceLock<&'static AtomicBool> = OnceLock::new();

/// The printer of this run, which says what Ctrl-C does (with the tool's
/// name, or as a JSON object).
static PRINTER: OnceLock<printer::Printer> = OnceLock::new();

/// Makes `printer` the one that tells the user about Ctrl-C.
pub(crate) fn print_interrupts_with(printer: &printer::Printer) {
    let _ = PRINTER.set(printer.clone());
}

/// The flag that Ctrl-C sets. The first Ctrl-C asks the run to stop after
/// the files in progress; a second one ends the process at once (what is
/// half-written then is only ever a temporary file, removed by the next
/// run).
pub fn interrupt_flag() -> &'static AtomicBool {
    INTERRUPTED.get_or_init(|| {
        let flag: &'static AtomicBool = Box::leak(Box::new(AtomicBool::new(false)));
        // ctrlc installs its signal handler, then starts the thread that
        // acts on it; if that thread cannot start (a low RLIMIT_NPROC),
        // Ctrl-C would be caught and do nothing. So first see whether a
        // thread can start at all; if not, Ctrl-C keeps its default (the
        // process ends at once, which leaves only temporary files, removed
        // by the next run).
        let can_spawn = std::thread::Builder::new()
            .spawn(|| {})
            .is_ok_and(|t| t.join().is_ok());
        if !can_spawn {
            return flag;
        }
        let _ = ctrlc::set_handler(move || {
            if flag.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
            const STOPPING: &str =
                "stopping after the files in progress (Ctrl-C again to stop at once)";
            match PRINTER.get() {
                Some(printer) => printer.interrupting(STOPPING),
                None => {
                    let _ = writeln!(std::io::stderr(), "\n{STOPPING}");
                }
            }
        });
        flag
    })
}

/// Runs a tool: parses the command line for `tool`, handles `--help`,
/// `--version` and `--generate-man`, calls `body`, and maps its outcome to
/// the exit status.
pub fn run(
    tool: &Tool,
    body: impl FnOnce(&Args, &Reporter) -> Result<Status, Failure>,
) -> ExitCode {
    let parsed = match args::parse(tool, std::env::args_os().skip(1)) {
        Ok(p) => p,
        Err(e) => return usage_error(tool, &e.0),
    };
    let args = match parsed {
        args::Parsed::Help => return print_and_exit(&tool.help()),
        args::Parsed::Version => {
            return print_and_exit(&format!("{} {}\n", tool.name, tool.version));
        }
        args::Parsed::Man => return print_and_exit(&tool.man_page()),
        args::Parsed::Run(a) => a,
    };
    let reporter = Reporter::new(tool.name, args.quiet(), args.verbose());
    let outcome = body(&args, &reporter);
    reporter.finish_progress();
    if let Some(shortfall) = mapillary_core::batch::thread_shortfall() {
        reporter.warn(shortfall);
    }
    match outcome {
        // A problem was reported: not everything was done.
        Ok(Status::Done) if reporter.problems() > 0 => ExitCode::from(1),
        Ok(Status::Done) => ExitCode::SUCCESS,
        Ok(Status::Incomplete) => ExitCode::from(1),
        Ok(Status::Interrupted) => ExitCode::from(130),
        Err(Failure::Usage(message)) => usage_error(tool, &message),
        Err(Failure::Fatal(message)) => {
            reporter.error(message);
            ExitCode::from(1)
        }
    }
}

fn print_and_exit(text: &str) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::from(1),
    }
}

fn usage_error(tool: &Tool, message: &str) -> ExitCode {
    let _ = writeln!(
        std::io::stderr().lock(),
        "{name}: {message}\nUsage: {usage} (see {name} --help)",
        name = tool.name,
        // The message may quote an argument, which may hold anything.
        message = report::escaped(message),
        usage = tool.usage()
    );
    ExitCode::from(2)
}

/// The zone rule for capture times: `--timezone` forces one zone; without
/// it, times without an offset are in the computer's zone (`TZ` honoured).
pub fn zone_rule(args: &Args) -> Result<mapillary_core::capture_time::ZoneRule, Failure> {
    use mapillary_core::capture_time::{ZoneRule, parse_zone};
    match args.value(TIMEZONE.long) {
        None => Ok(ZoneRule::system()),
        Some(v) => parse_zone(&v.to_string_lossy())
            .map(ZoneRule::Force)
            .map_err(|e| Failure::Usage(format!("--timezone: {e}"))),
    }
}

/// How photos are rewritten: `--dry-run`, `--sync`, `--force` and
/// `--keep-mtime`.
pub fn rewrite_options(args: &Args) -> mapillary_core::exif::RewriteOptions {
    use mapillary_core::files::replace::ModifiedTime;
    mapillary_core::exif::RewriteOptions {
        dry_run: args.flag(DRY_RUN.long),
        sync: args.flag(SYNC.long),
        force: args.flag(FORCE.long),
        modified: if args.flag(KEEP_MTIME.long) {
            ModifiedTime::Keep
        } else {
            ModifiedTime::Now
        },
    }
}

/// The number of uploads at a time: `--jobs`, else 4.
pub fn upload_jobs(args: &Args) -> Result<usize, Failure> {
    match args.option_number::<usize>("jobs")? {
        Some(0) => Err(Failure::Usage("--jobs must be at least 1".to_string())),
        Some(n) => Ok(n),
        None => Ok(4),
    }
}

/// The number of files to work on at once: `--jobs`, else the CPU count.
pub fn jobs(args: &Args) -> Result<usize, Failure> {
    match args.option_number::<usize>("jobs")? {
        Some(0) => Err(Failure::Usage("--jobs must be at least 1".to_string())),
        Some(n) => Ok(n),
        None => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
    }
}
