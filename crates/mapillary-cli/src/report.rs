//! Messages, progress and the summary, the same way in every tool.
//!
//! stdout carries results (a line per file or group, and the summary);
//! stderr carries problems, explanations (`-v`) and the progress bar, which
//! is drawn only when stderr is a terminal.
//!
//! Nothing a tool prints can move the cursor or change the terminal: paths
//! are printed with [`shown`] (control and bidirectional characters, and
//! bytes that are not UTF-8, escaped as `\n`, `\x1b`, `\u{202e}`, `\xff`),
//! and every line goes through [`escaped`] once more, for the text that
//! comes from elsewhere (a server's message, a name inside a library's
//! error).

use std::fmt::Display;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
pub use mapillary_core::shown::{Shown, escaped, shown};

/// How a tool talks to its user. Clones share the same progress bar.
#[derive(Debug, Clone)]
pub struct Reporter {
    tool: &'static str,
    quiet: bool,
    verbose: bool,
    bar: Arc<Mutex<Option<ProgressBar>>>,
    /// Problems and errors printed: a run that printed one is not "all
    /// done", whatever it returns.
    problems: Arc<AtomicUsize>,
}

/// What a progress bar counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Photos (or other items).
    Items,
    /// Bytes, shown with rate and ETA.
    Bytes,
}

impl Reporter {
    /// A reporter for `tool`.
    pub fn new(tool: &'static str, quiet: bool, verbose: bool) -> Reporter {
        Reporter {
            tool,
            quiet,
            verbose,
            bar: Arc::new(Mutex::new(None)),
            problems: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The tool's name, as it prefixes messages.
    pub fn tool(&self) -> &'static str {
        self.tool
    }

    /// Whether `-v` was given.
    pub fn is_verbose(&self) -> bool {
        self.verbose
    }

    fn with_bar_suspended(&self, f: impl FnOnce()) {
        let bar = self.bar.lock().map(|b| b.clone()).unwrap_or(None);
        match bar {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }

    /// A result line on stdout (not with `-q`).
    pub fn line(&self, text: impl Display) {
        if !self.quiet {
            let text = text.to_string();
            self.with_bar_suspended(|| {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{}", escaped(&text));
            });
        }
    }

    /// A problem with one file, on stderr: `tool: path: reason`.
    pub fn problem(&self, path: &Path, reason: impl Display) {
        self.error(format_args!("{}: {reason}", shown(path)));
    }

    /// A warning about one file, on stderr: `tool: path: reason`; the file
    /// was still processed, so it does not change the exit status. Printed
    /// also with `-q`, as a problem is.
    pub fn caution(&self, path: &Path, reason: impl Display) {
        self.say(format_args!("{}: {reason}", shown(path)));
    }

    /// An error on stderr: `tool: message`. It makes the run's exit status
    /// at least 1.
    pub fn error(&self, message: impl Display) {
        self.problems.fetch_add(1, Ordering::Relaxed);
        self.say(message);
    }

    /// How many problems and errors were printed.
    pub fn problems(&self) -> usize {
        self.problems.load(Ordering::Relaxed)
    }

    fn say(&self, message: impl Display) {
        let message = message.to_string();
        self.with_bar_suspended(|| {
            let _ = writeln!(
                std::io::stderr().lock(),
                "{}: {}",
                self.tool,
                escaped(&message)
            );
        });
    }

    /// A warning on stderr that is not about one file (not with `-q`).
    pub fn warn(&self, message: impl Display) {
        if !self.quiet {
            self.say(message);
        }
    }

    /// An explanation on stderr, only with `-v`.
    pub fn explain(&self, message: impl Display) {
        if self.verbose {
            self.say(message);
        }
    }

    /// The summary on stdout (also with `-q`).
    pub fn summary(&self, text: impl Display) {
        self.finish_progress();
        let _ = writeln!(std::io::stdout().lock(), "{}", escaped(&text.to_string()));
    }

    /// Starts a progress bar of `total` units, if stderr is a terminal.
    pub fn start_progress(&self, total: u64, unit: Unit) {
        if !std::io::stderr().is_terminal() || self.quiet {
            return;
        }
        let template = match unit {
            Unit::Items => "{wide_bar} {pos}/{len} {elapsed_precise} ETA {eta}",
            Unit::Bytes => "{wide_bar} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
        };
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        // Redraw now and then, so that the elapsed time and the rate move
        // while one long item is under way. Not indicatif's own ticker: it
        // starts its thread with `thread::spawn`, which panics when no
        // thread can be created (a low RLIMIT_NPROC); without this thread
        // the bar still moves with each item.
        let ticking = bar.clone();
        let _ = std::thread::Builder::new()
            .name("progress".to_string())
            .spawn(move || {
                while !ticking.is_finished() {
                    ticking.tick();
                    std::thread::sleep(Duration::from_millis(200));
                }
            });
        if let Ok(mut slot) = self.bar.lock()
            && let Some(old) = slot.replace(bar)
        {
            old.finish_and_clear();
        }
    }

    /// Sets the progress bar's position.
    pub fn set_progress(&self, position: u64) {
        if let Ok(slot) = self.bar.lock()
            && let Some(bar) = slot.as_ref()
        {
            bar.set_position(position);
        }
    }

    /// Advances the progress bar.
    pub fn advance(&self, n: u64) {
        if let Ok(slot) = self.bar.lock()
            && let Some(bar) = slot.as_ref()
        {
            bar.inc(n);
        }
    }

    /// Removes the progress bar.
    pub fn finish_progress(&self) {
        if let Ok(mut slot) = self.bar.lock()
            && let Some(bar) = slot.take()
        {
            bar.finish_and_clear();
        }
    }
}

/// Counts of what happened to the files of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Files changed (or that would be, in a dry run).
    pub done: usize,
    /// Files left alone for a reason (outside the track, no time, ...).
    pub skipped: usize,
    /// Files that could not be processed.
    pub failed: usize,
}

impl Tally {
    /// Whether everything went through.
    pub fn all_done(&self) -> bool {
        self.skipped == 0 && self.failed == 0
    }
}

/// "1 photo" / "3 photos".
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
