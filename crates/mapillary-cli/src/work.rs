//! The common shape of the tools that work on photos: find them, clear what
//! an interrupted run left, read or rewrite them in parallel, say what
//! happened to each through the [`Printer`], and count.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use mapillary_core::batch::for_each_in_order;
use mapillary_core::capture_time::TimeWarning;
use mapillary_core::exif::{ExifError, PhotoExif, RewriteError, Skipped, Updated, read_exif};
use mapillary_core::files::find_images;
use mapillary_core::files::replace::remove_stale_temporaries;
use mapillary_core::sequence::frame::{PhotoFacts, read_photo};
use mapillary_core::shown::shown;
use serde_json::{Value, json};

use crate::failure::Failure;
use crate::printer::{Printer, Unit, plural};
use crate::{Status, interrupt_flag};

/// Counts of what happened to the photos of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Photos changed (or that would be, in a dry run).
    pub done: usize,
    /// Photos left alone for a reason (outside the track, no time, ...).
    pub skipped: usize,
    /// Photos that could not be processed.
    pub failed: usize,
}

impl Tally {
    /// Whether everything went through.
    pub fn all_done(&self) -> bool {
        self.skipped == 0 && self.failed == 0
    }

    /// The counts, for a JSON summary.
    pub fn json(&self) -> Value {
        json!({"done": self.done, "skipped": self.skipped, "failed": self.failed})
    }

    /// "12 photos dated, 1 skipped, 0 failed", with "would be" in a dry
    /// run.
    pub fn line(&self, verb: &str, dry_run: bool) -> String {
        let done = if dry_run {
            format!("{} would be {verb}", plural(self.done, "photo", "photos"))
        } else {
            format!("{} {verb}", plural(self.done, "photo", "photos"))
        };
        format!("{done}, {} skipped, {} failed", self.skipped, self.failed)
    }

    /// `Done` when everything went through, else `Incomplete`.
    pub fn status(&self) -> Status {
        if self.all_done() {
            Status::Done
        } else {
            Status::Incomplete
        }
    }
}

/// Finds the photos at `path` (the legacy rules), reports folders below it
/// that cannot be read, and removes the temporary files an interrupted run
/// of these tools left. A path that cannot be read is an input failure
/// (exit status 2); no photo at all is "nothing to do" (exit status 1).
pub fn find_photos(path: &Path, printer: &Printer) -> Result<Vec<PathBuf>, Failure> {
    let found = find_images(path)?;
    for folder in &found.unreadable {
        printer.error(format_args!(
            "{}: {}; the photos in it are left out",
            shown(&folder.path),
            folder.reason
        ));
    }
    let files = found.images;
    if files.is_empty() {
        return Err(Failure::nothing_to_do(format_args!(
            "no photos (.jpg, .jpeg) under {}",
            shown(path)
        )));
    }
    let folders: BTreeSet<&Path> = files.iter().filter_map(|f| f.parent()).collect();
    for folder in folders {
        clear_leftovers(printer, folder);
    }
    printer.explain(format_args!(
        "{} under {}",
        plural(files.len(), "photo", "photos"),
        shown(path)
    ));
    Ok(files)
}

/// Removes the temporary files an interrupted run of these tools left in
/// `folder`, saying so for each (a warning, not a problem: nothing of the
/// user's is lost).
pub fn clear_leftovers(printer: &Printer, folder: &Path) {
    match remove_stale_temporaries(folder) {
        Ok(removed) => {
            for r in removed {
                printer.warn(format_args!(
                    "removed {}, left by an interrupted run",
                    shown(&r)
                ));
            }
        }
        Err(e) => printer.warn(format_args!(
            "{}: could not look for leftover temporary files: {e}",
            shown(folder)
        )),
    }
}

/// What to say about a photo done: its result line (if any) and the data
/// of its JSON object.
pub type Said = (Option<String>, Value);

/// Rewrites `files` with up to `jobs` at a time, showing the step `step`
/// ("dating") in the progress bar. `work` does one photo; `say` tells what
/// to print about a photo written (or, in a dry run, that would be).
pub fn rewrite_photos<W, S>(
    printer: &Printer,
    step: &'static str,
    files: &[PathBuf],
    jobs: usize,
    work: W,
    say: S,
) -> (Tally, Status)
where
    W: Fn(usize, &Path) -> Result<Updated, RewriteError> + Sync,
    S: Fn(usize, &Path, bool) -> Said,
{
    let stop = interrupt_flag();
    let mut tally = Tally::default();
    let progress = printer.progress(step, files.len() as u64, Unit::Items("photos"));
    let reported = for_each_in_order(
        files,
        jobs,
        stop,
        |i, file| work(i, file),
        |i, file, result| {
            progress.advance(1);
            match result {
                Ok(Updated::Written) => {
                    tally.done += 1;
                    let (line, data) = say(i, file, false);
                    printer.done(file, "written", line, data);
                }
                Ok(Updated::WouldWrite) => {
                    tally.done += 1;
                    let (line, data) = say(i, file, true);
                    printer.done(file, "would_write", line, data);
                }
                Ok(Updated::Skipped(reason)) => {
                    tally.skipped += 1;
                    printer.skipped(file, reason.reason());
                }
                Err(e) => {
                    tally.failed += 1;
                    printer.failed(file, &e);
                }
            }
        },
    );
    drop(progress);
    (
        tally,
        interrupted_or(printer, files.len() - reported, tally),
    )
}

/// Reads the EXIF of `files` in parallel. Photos whose EXIF cannot be read
/// are reported as failed; the rest are handed to `keep` with their EXIF,
/// which says why it skips one (or keeps it). Returns the kept results in
/// file order, the tally, and the run's status.
pub fn read_photos<T, K>(
    printer: &Printer,
    files: &[PathBuf],
    jobs: usize,
    keep: K,
) -> (Vec<T>, Tally, Status)
where
    T: Send,
    K: Fn(&Path, PhotoExif) -> Result<T, Skipped> + Sync,
{
    read_each(printer, files, jobs, |file| {
        read_exif(file).map(|exif| keep(file, exif))
    })
}

/// [`read_photos`], with each photo's file and image size read in the same
/// pass (for the sequence rules).
pub fn read_photos_and_facts<T, K>(
    printer: &Printer,
    files: &[PathBuf],
    jobs: usize,
    keep: K,
) -> (Vec<T>, Tally, Status)
where
    T: Send,
    K: Fn(&Path, PhotoExif, PhotoFacts) -> Result<T, Skipped> + Sync,
{
    read_each(printer, files, jobs, |file| {
        read_photo(file).map(|(exif, facts)| keep(file, exif, facts))
    })
}

fn read_each<T, R>(
    printer: &Printer,
    files: &[PathBuf],
    jobs: usize,
    read: R,
) -> (Vec<T>, Tally, Status)
where
    T: Send,
    R: Fn(&Path) -> Result<Result<T, Skipped>, ExifError> + Sync,
{
    let stop = interrupt_flag();
    let mut tally = Tally::default();
    let mut kept = Vec::with_capacity(files.len());
    let progress = printer.progress("reading", files.len() as u64, Unit::Items("photos"));
    let reported = for_each_in_order(
        files,
        jobs,
        stop,
        |_, file| read(file),
        |_, file, result| {
            progress.advance(1);
            match result {
                Ok(Ok(t)) => kept.push(t),
                Ok(Err(reason)) => {
                    tally.skipped += 1;
                    printer.skipped(file, reason.reason());
                }
                Err(e) => {
                    tally.failed += 1;
                    printer.failed(file, &e);
                }
            }
        },
    );
    drop(progress);
    let status = interrupted_or(printer, files.len() - reported, tally);
    (kept, tally, status)
}

/// `Interrupted` (with a message) when Ctrl-C left `left` photos undone,
/// else what `tally` says.
fn interrupted_or(printer: &Printer, left: usize, tally: Tally) -> Status {
    if interrupt_flag().load(Ordering::SeqCst) && left > 0 {
        printer.error(format_args!(
            "interrupted: {} not processed; run again to finish",
            plural(left, "photo", "photos")
        ));
        Status::Interrupted
    } else {
        tally.status()
    }
}

/// Tells the user what was used instead of what a photo's tags said (an
/// offset that is not a UTC offset, ...): one line per warning, naming the
/// photo. The photo is still processed.
pub fn time_warnings(printer: &Printer, file: &Path, warnings: &[TimeWarning]) {
    for warning in warnings {
        printer.caution(file, warning);
    }
}
