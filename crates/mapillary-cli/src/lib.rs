//! What every Mapillary tool does the same way: its arguments as a typed
//! struct parsed by flag types that also give `--help`, the man page and
//! the shell completions ([`flags`], [`tool`]); failures as types that
//! carry their exit status ([`failure`]); one printer for people and for
//! `--json` ([`printer`]); the common work on photos ([`work`]), on
//! sequences ([`sequences`]), over the network ([`connection`]) and for
//! uploads ([`uploading`]); and Ctrl-C, which stops between two files.

pub mod completion;
pub mod connection;
pub mod failure;
pub mod flags;
pub mod printer;
pub mod sequences;
pub mod text;
pub mod tool;
pub mod uploading;
pub mod work;

use std::io::Write;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

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
