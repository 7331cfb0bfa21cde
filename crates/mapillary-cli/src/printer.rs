//! One printer for every tool, in two forms.
//!
//! - Human (the default): results on stdout, one line per photo when the
//!   tool has something to say about it; problems on stderr as
//!   `tool: path: reason`; photos skipped for the same reason grouped into
//!   one line ("150 photos skipped: …") when there are more than
//!   [`GROUP_FROM`]`- 1` of them (`-v` lists each as well); the summary
//!   last. A progress bar that names its step is drawn on stderr when it
//!   is a terminal; it is suspended while anything else is printed, and
//!   while the tool asks a question.
//! - `--json`: one JSON object per line on stdout, nothing on stderr: one
//!   per photo (or other item), one per warning or problem, and a summary
//!   object last that carries the exit status. docs/json.md documents the
//!   shape.
//!
//! Names are printed with control characters escaped (see
//! [`mapillary_core::shown`]), in both forms.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mapillary_core::reason::Reason;
use mapillary_core::shown::{escaped, shown};
use serde_json::{Map, Value, json};

use crate::Status;
use crate::failure::Failure;
use crate::flags::{Shared, Verbosity};

/// Photos skipped for one reason are grouped into one line from this many
/// on.
pub const GROUP_FROM: usize = 4;

/// What a progress bar counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Photos (or other items), named by the noun given.
    Items(&'static str),
    /// Bytes, shown in MB (10^6 bytes, as the summaries) with rate and ETA.
    Bytes,
}

/// How a line on stderr is marked when colour is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tone {
    /// A photo failed, or the run did (red).
    Problem,
    /// A photo skipped, a warning (yellow).
    Warning,
    /// An explanation, a hint (not coloured).
    Note,
}

impl Tone {
    /// The SGR sequence that starts the tone, if it has one.
    fn start(self) -> Option<&'static str> {
        match self {
            Tone::Problem => Some("\x1b[1;31m"),
            Tone::Warning => Some("\x1b[1;33m"),
            Tone::Note => None,
        }
    }
}

/// Whether lines on stderr may be coloured: only on a terminal, and not
/// when `NO_COLOR` is set to anything but the empty string (no-color.org)
/// or the terminal says it is dumb.
fn colour_wanted(
    stderr_is_terminal: bool,
    no_color: Option<std::ffi::OsString>,
    term: Option<std::ffi::OsString>,
) -> bool {
    stderr_is_terminal && no_color.is_none_or(|v| v.is_empty()) && term.is_none_or(|t| t != "dumb")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Human { quiet: bool, verbose: bool },
    Json,
}

#[derive(Debug, Default)]
struct Group {
    /// The grouped line's text (the first reason's group phrase).
    text: String,
    photos: Vec<(PathBuf, String)>,
}

#[derive(Debug)]
struct Inner {
    tool: &'static str,
    form: Form,
    colour: bool,
    started: Instant,
    bar: Mutex<Option<ProgressBar>>,
    problems: AtomicUsize,
    skipped: Mutex<BTreeMap<&'static str, Group>>,
    group_texts: Mutex<BTreeMap<&'static str, String>>,
    hints: Mutex<Vec<String>>,
    summary: Mutex<Option<(String, Value)>>,
}

/// How a tool talks to its user. Clones share everything.
#[derive(Debug, Clone)]
pub struct Printer {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Printer {
    /// A printer for `tool` with the shared flags' choices (`-q`, `-v`,
    /// `--json`).
    pub fn new(tool: &'static str, shared: &Shared) -> Printer {
        let form = if shared.json {
            Form::Json
        } else {
            Form::Human {
                quiet: shared.verbosity == Verbosity::Quiet,
                verbose: shared.verbosity == Verbosity::Verbose,
            }
        };
        let colour = form != Form::Json
            && colour_wanted(
                std::io::stderr().is_terminal(),
                std::env::var_os("NO_COLOR"),
                std::env::var_os("TERM"),
            );
        Printer {
            inner: Arc::new(Inner {
                tool,
                form,
                colour,
                started: Instant::now(),
                bar: Mutex::new(None),
                problems: AtomicUsize::new(0),
                skipped: Mutex::new(BTreeMap::new()),
                group_texts: Mutex::new(BTreeMap::new()),
                hints: Mutex::new(Vec::new()),
                summary: Mutex::new(None),
            }),
        }
    }

    /// The tool's name, as it prefixes messages.
    pub fn tool(&self) -> &'static str {
        self.inner.tool
    }

    /// Whether `-v` was given.
    pub fn is_verbose(&self) -> bool {
        matches!(self.inner.form, Form::Human { verbose: true, .. })
    }

    /// Whether `--json` was given.
    pub fn is_json(&self) -> bool {
        self.inner.form == Form::Json
    }

    /// Runs `f` with the progress bar out of the way.
    fn suspended<R>(&self, f: impl FnOnce() -> R) -> R {
        let bar = lock(&self.inner.bar).clone();
        match bar {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }

    fn stdout(&self, text: &str) {
        self.suspended(|| {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{text}");
        });
    }

    /// `tool: text` on stderr, the tool's name in the tone's colour when
    /// colour is on.
    fn stderr(&self, tone: Tone, text: &str) {
        let tool = self.inner.tool;
        let text = escaped(text);
        self.suspended(|| {
            let mut err = std::io::stderr().lock();
            let _ = match tone.start().filter(|_| self.inner.colour) {
                Some(start) => writeln!(err, "{start}{tool}:\x1b[0m {text}"),
                None => writeln!(err, "{tool}: {text}"),
            };
        });
    }

    /// Says what the first Ctrl-C does (also with `-q`): on stderr, or as a
    /// `warning` object in `--json`.
    pub fn interrupting(&self, message: &str) {
        match self.inner.form {
            Form::Json => self.json("warning", json!({"message": message})),
            Form::Human { .. } => self.stderr(Tone::Warning, message),
        }
    }

    fn json(&self, kind: &str, fields: Value) {
        let mut object = Map::new();
        object.insert("type".to_string(), Value::from(kind));
        object.insert("tool".to_string(), Value::from(self.inner.tool));
        if let Value::Object(more) = fields {
            object.extend(more);
        }
        self.stdout(&Value::Object(object).to_string());
    }

    /// A photo (or other file) done: `status` says what happened to it
    /// ("written", "would_write", "moved", …); `line`, when given, is its
    /// result line on stdout (not with `-q`); `data` goes into its JSON
    /// object.
    pub fn done(&self, path: &Path, status: &str, line: Option<String>, data: Value) {
        match self.inner.form {
            Form::Json => {
                let mut fields = json!({"path": shown(path).to_string(), "status": status});
                merge(&mut fields, data);
                self.json("photo", fields);
            }
            Form::Human { quiet, .. } => {
                if let (false, Some(line)) = (quiet, line) {
                    self.stdout(&line);
                }
            }
        }
    }

    /// A photo skipped for `reason`. Photos skipped for the same reason
    /// are reported together when the run finishes, one line for the group
    /// from [`GROUP_FROM`] photos on.
    pub fn skipped(&self, path: &Path, reason: &dyn Reason) {
        let message = reason.to_string();
        match self.inner.form {
            Form::Json => self.json(
                "photo",
                json!({
                    "path": shown(path).to_string(),
                    "status": "skipped",
                    "reason": {"code": reason.code(), "message": message},
                }),
            ),
            Form::Human { verbose, .. } => {
                if verbose {
                    self.stderr(
                        Tone::Warning,
                        &format!("{}: skipped: {message}", shown(path)),
                    );
                }
                let mut skipped = lock(&self.inner.skipped);
                let group = skipped.entry(reason.code()).or_default();
                if group.photos.is_empty() {
                    group.text = reason.group();
                }
                group.photos.push((path.to_path_buf(), message));
            }
        }
    }

    /// Replaces the grouped line's text for photos skipped for the reason
    /// `code` (a tool that can say more about the group: how far the photos
    /// are from the track, which offset would fit).
    pub fn describe_group(&self, code: &'static str, text: impl Display) {
        lock(&self.inner.group_texts).insert(code, text.to_string());
    }

    /// What the user could do about the photos skipped (a time_offset that
    /// would fit), said once when the run finishes, after the skipped
    /// photos (not with `-q`; a `hint` object in `--json`).
    pub fn hint(&self, text: impl Display) {
        lock(&self.inner.hints).push(text.to_string());
    }

    /// A photo (or other item) that failed: `tool: path: reason`.
    pub fn failed(&self, path: &Path, reason: &dyn Reason) {
        self.inner.problems.fetch_add(1, Ordering::Relaxed);
        match self.inner.form {
            Form::Json => self.json(
                "photo",
                json!({
                    "path": shown(path).to_string(),
                    "status": "failed",
                    "reason": {"code": reason.code(), "message": reason.to_string()},
                }),
            ),
            Form::Human { .. } => self.stderr(Tone::Problem, &format!("{}: {reason}", shown(path))),
        }
    }

    /// Something the user should know about one photo that was still
    /// processed (an offset that is not one, and what was used instead).
    /// It does not change the exit status.
    pub fn caution(&self, path: &Path, message: impl Display) {
        match self.inner.form {
            Form::Json => self.json(
                "warning",
                json!({"path": shown(path).to_string(), "message": message.to_string()}),
            ),
            Form::Human { .. } => {
                self.stderr(Tone::Warning, &format!("{}: {message}", shown(path)))
            }
        }
    }

    /// A problem that is not about one photo; it makes the exit status at
    /// least 1.
    pub fn error(&self, message: impl Display) {
        self.inner.problems.fetch_add(1, Ordering::Relaxed);
        match self.inner.form {
            Form::Json => self.json("error", json!({"message": message.to_string()})),
            Form::Human { .. } => self.stderr(Tone::Problem, &message.to_string()),
        }
    }

    /// A warning that is not about one photo (not with `-q`).
    pub fn warn(&self, message: impl Display) {
        match self.inner.form {
            Form::Json => self.json("warning", json!({"message": message.to_string()})),
            Form::Human { quiet: false, .. } => self.stderr(Tone::Warning, &message.to_string()),
            Form::Human { quiet: true, .. } => {}
        }
    }

    /// An explanation, only with `-v` (and never in `--json`).
    pub fn explain(&self, message: impl Display) {
        if self.is_verbose() {
            self.stderr(Tone::Note, &message.to_string());
        }
    }

    /// A result that is not a photo (a sequence, a group of photos):
    /// `line` on stdout (not with `-q`), or a JSON object of type `kind`.
    pub fn item(&self, kind: &str, line: impl Display, data: Value) {
        match self.inner.form {
            Form::Json => self.json(kind, data),
            Form::Human { quiet: false, .. } => self.stdout(&line.to_string()),
            Form::Human { quiet: true, .. } => {}
        }
    }

    /// The run's summary, printed last (also with `-q`): `line` for people,
    /// `data` (counts) for `--json`.
    pub fn summary(&self, line: impl Display, data: Value) {
        *lock(&self.inner.summary) = Some((line.to_string(), data));
    }

    /// Asks a question on the terminal (stderr) and reads the answer from
    /// stdin, with the progress bar out of the way. `None` at the end of
    /// the input.
    pub fn ask(&self, question: &str) -> Option<String> {
        self.suspended(|| {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "{question} ");
            let _ = err.flush();
            let mut answer = String::new();
            match std::io::stdin().lock().read_line(&mut answer) {
                Ok(0) | Err(_) => None,
                Ok(_) => Some(answer.trim().to_string()),
            }
        })
    }

    /// Starts a progress bar for the step named `step` ("geotagging") of
    /// `total` units, when stderr is a terminal (and not with `-q` or
    /// `--json`). The bar goes away when the returned value is dropped.
    pub fn progress(&self, step: &'static str, total: u64, unit: Unit) -> Progress {
        let draw = matches!(self.inner.form, Form::Human { quiet: false, .. })
            && std::io::stderr().is_terminal();
        if !draw {
            return Progress { bar: None };
        }
        let template = match unit {
            Unit::Items(noun) => {
                format!(
                    "{step} {{wide_bar}} {{pos}}/{{len}} {noun} {{elapsed_precise}} ETA {{eta}}"
                )
            }
            Unit::Bytes => format!(
                "{step} {{wide_bar}} {{decimal_bytes}}/{{decimal_total_bytes}} {{decimal_bytes_per_sec}} ETA {{eta}}"
            ),
        };
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(&template) {
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
        if let Some(old) = lock(&self.inner.bar).replace(bar.clone()) {
            old.finish_and_clear();
        }
        Progress {
            bar: Some((bar, self.clone())),
        }
    }

    /// How many problems were reported (failed photos and errors).
    pub fn problems(&self) -> usize {
        self.inner.problems.load(Ordering::Relaxed)
    }

    /// Ends the run: prints the grouped skips, the failure (if any) and the
    /// summary, and returns the exit status, decided here for every tool.
    pub fn finish(&self, outcome: &Result<Status, Failure>) -> u8 {
        if let Some(bar) = lock(&self.inner.bar).take() {
            bar.finish_and_clear();
        }
        let skipped: usize = lock(&self.inner.skipped)
            .values()
            .map(|g| g.photos.len())
            .sum();
        if let Form::Human { verbose, .. } = self.inner.form {
            let groups = std::mem::take(&mut *lock(&self.inner.skipped));
            let texts = lock(&self.inner.group_texts).clone();
            for (code, group) in groups {
                if group.photos.len() < GROUP_FROM {
                    if !verbose {
                        for (path, message) in &group.photos {
                            self.stderr(
                                Tone::Warning,
                                &format!("{}: skipped: {message}", shown(path)),
                            );
                        }
                    }
                } else {
                    let text = texts.get(code).cloned().unwrap_or(group.text);
                    self.stderr(
                        Tone::Warning,
                        &format!("{} photos skipped: {text}", group.photos.len()),
                    );
                }
            }
        }
        for hint in std::mem::take(&mut *lock(&self.inner.hints)) {
            match self.inner.form {
                Form::Json => self.json("hint", json!({"message": hint})),
                Form::Human { quiet: false, .. } => self.stderr(Tone::Note, &hint),
                Form::Human { quiet: true, .. } => {}
            }
        }
        let code = match outcome {
            Err(failure) => failure.code(),
            Ok(Status::Interrupted) => 130,
            Ok(Status::Incomplete) => 1,
            Ok(Status::Done) if self.problems() > 0 || skipped > 0 => 1,
            Ok(Status::Done) => 0,
        };
        if let Err(failure) = outcome
            && !failure.is_usage()
        {
            match self.inner.form {
                Form::Json => self.json(
                    "error",
                    json!({"kind": failure.kind(), "message": failure.to_string()}),
                ),
                Form::Human { .. } => self.stderr(Tone::Problem, &failure.to_string()),
            }
        }
        let summary = lock(&self.inner.summary).take();
        match self.inner.form {
            Form::Json => {
                let status = match (outcome, code) {
                    (Err(_), _) => "failed",
                    (Ok(Status::Interrupted), _) => "interrupted",
                    (_, 0) => "done",
                    _ => "incomplete",
                };
                let mut fields = json!({
                    "status": status,
                    "exit_code": code,
                    "seconds": (self.inner.started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
                });
                if let Some((_, data)) = summary {
                    merge(&mut fields, data);
                }
                self.json("summary", fields);
            }
            Form::Human { .. } => {
                if let Some((line, _)) = summary {
                    self.stdout(&line);
                }
            }
        }
        code
    }
}

fn merge(into: &mut Value, more: Value) {
    if let (Value::Object(into), Value::Object(more)) = (into, more) {
        into.extend(more);
    }
}

/// A progress bar (or nothing, where none is drawn); removed when dropped.
#[derive(Debug)]
pub struct Progress {
    bar: Option<(ProgressBar, Printer)>,
}

impl Progress {
    /// Advances the bar by `n` units.
    pub fn advance(&self, n: u64) {
        if let Some((bar, _)) = &self.bar {
            bar.inc(n);
        }
    }

    /// Sets the bar's position.
    pub fn set(&self, position: u64) {
        if let Some((bar, _)) = &self.bar {
            bar.set_position(position);
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some((bar, printer)) = self.bar.take() {
            bar.finish_and_clear();
            let mut slot = lock(&printer.inner.bar);
            if slot.as_ref().is_some_and(|b| b.is_finished()) {
                *slot = None;
            }
        }
    }
}

/// "1 photo" / "3 photos".
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod colour_tests {
    use super::colour_wanted;
    use std::ffi::OsString;

    #[test]
    fn colour_only_on_a_terminal_without_no_color_or_a_dumb_terminal() {
        let some = |s: &str| Some(OsString::from(s));
        assert!(colour_wanted(true, None, some("xterm-256color")));
        assert!(colour_wanted(true, None, None));
        // NO_COLOR set to anything (no-color.org) turns it off; empty does not.
        assert!(!colour_wanted(true, some("1"), some("xterm")));
        assert!(!colour_wanted(true, some("no"), some("xterm")));
        assert!(colour_wanted(true, some(""), some("xterm")));
        assert!(!colour_wanted(true, None, some("dumb")));
        assert!(!colour_wanted(false, None, some("xterm")));
    }
}
