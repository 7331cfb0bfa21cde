//! The common shape of the tools that rewrite photos: find them, clear what
//! an interrupted run left, rewrite them in parallel, say what happened to
//! each, and sum up.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Instant;

use mapillary_core::batch::for_each_in_order;
use mapillary_core::capture_time::TimeWarning;
use mapillary_core::exif::{PhotoExif, RewriteError, Updated, remove_stale_temporaries};
use mapillary_core::files::find_images;
use mapillary_core::sequence::frame::{PhotoFacts, read_photo};

use crate::report::{Reporter, Tally, Unit, plural, shown};
use crate::{Failure, Status, interrupt_flag};

/// Finds the images at `path` (legacy rules), and removes the temporary
/// files an interrupted run of these tools left in their folders.
pub fn find_photos(path: &Path, reporter: &Reporter) -> Result<Vec<PathBuf>, Failure> {
    let found = find_images(path).map_err(Failure::fatal)?;
    for folder in &found.unreadable {
        reporter.problem(
            &folder.path,
            format_args!("{}; the photos in it are left out", folder.reason),
        );
    }
    let files = found.images;
    let folders: BTreeSet<&Path> = files.iter().filter_map(|f| f.parent()).collect();
    for folder in folders {
        match remove_stale_temporaries(folder) {
            Ok(removed) => {
                for r in removed {
                    reporter.warn(format_args!(
                        "removed {}, left by an interrupted run",
                        shown(&r)
                    ));
                }
            }
            Err(e) => reporter.warn(format_args!(
                "{}: could not look for leftover temporary files: {e}",
                shown(folder)
            )),
        }
    }
    reporter.explain(format_args!(
        "{} under {}",
        plural(files.len(), "photo", "photos"),
        shown(path)
    ));
    Ok(files)
}

/// Rewrites `files` with up to `jobs` at a time. `work` does one photo;
/// `describe` turns a photo written (or, in a dry run, that would be) into
/// its result line, if it has one. Returns the tally and the run's status; the summary
/// line is the caller's.
pub fn rewrite_photos<W, D>(
    reporter: &Reporter,
    files: &[PathBuf],
    jobs: usize,
    work: W,
    describe: D,
) -> (Tally, Status)
where
    W: Fn(usize, &Path) -> Result<Updated, RewriteError> + Sync,
    D: Fn(usize, &Path, bool) -> Option<String>,
{
    let stop = interrupt_flag();
    let mut tally = Tally::default();
    reporter.start_progress(files.len() as u64, Unit::Items);
    let started = Instant::now();
    let reported = for_each_in_order(
        files,
        jobs,
        stop,
        |i, file| work(i, file),
        |i, file, result| {
            reporter.advance(1);
            match result {
                Ok(Updated::Written) => {
                    tally.done += 1;
                    if let Some(line) = describe(i, file, false) {
                        reporter.line(line);
                    }
                }
                Ok(Updated::WouldWrite) => {
                    tally.done += 1;
                    if let Some(line) = describe(i, file, true) {
                        reporter.line(line);
                    }
                }
                Ok(Updated::Skipped(reason)) => {
                    tally.skipped += 1;
                    reporter.problem(file, format_args!("skipped: {reason}"));
                }
                Err(e) => {
                    tally.failed += 1;
                    reporter.problem(file, e);
                }
            }
        },
    );
    reporter.finish_progress();
    reporter.explain(format_args!(
        "took {:.2} s",
        started.elapsed().as_secs_f64()
    ));
    let status = if stop.load(Ordering::SeqCst) && reported < files.len() {
        reporter.error(format_args!(
            "interrupted: {} not processed; run again to finish",
            plural(files.len() - reported, "photo", "photos")
        ));
        Status::Interrupted
    } else {
        Status::from_tally(&tally)
    };
    (tally, status)
}

/// Reads the EXIF of `files` in parallel. Files whose EXIF cannot be read
/// are reported as failed; the rest are handed to `keep` with their EXIF,
/// which says why it skips one (or keeps it). Returns the kept results in
/// file order and the tally of failures and skips.
pub fn read_photos<T, K>(
    reporter: &Reporter,
    files: &[PathBuf],
    jobs: usize,
    keep: K,
) -> (Vec<T>, Tally, Status)
where
    T: Send,
    K: Fn(&Path, PhotoExif) -> Result<T, String> + Sync,
{
    read_photos_and_facts(reporter, files, jobs, |file, exif, _| keep(file, exif))
}

/// [`read_photos`], with each photo's file and image size read in the same
/// pass (for the sequence rules).
pub fn read_photos_and_facts<T, K>(
    reporter: &Reporter,
    files: &[PathBuf],
    jobs: usize,
    keep: K,
) -> (Vec<T>, Tally, Status)
where
    T: Send,
    K: Fn(&Path, PhotoExif, PhotoFacts) -> Result<T, String> + Sync,
{
    let stop = interrupt_flag();
    let mut tally = Tally::default();
    let mut kept = Vec::with_capacity(files.len());
    reporter.start_progress(files.len() as u64, Unit::Items);
    let reported = for_each_in_order(
        files,
        jobs,
        stop,
        |_, file| read_photo(file).map(|(exif, facts)| keep(file, exif, facts)),
        |_, file, result| {
            reporter.advance(1);
            match result {
                Ok(Ok(t)) => kept.push(t),
                Ok(Err(reason)) => {
                    tally.skipped += 1;
                    reporter.problem(file, format_args!("skipped: {reason}"));
                }
                Err(e) => {
                    tally.failed += 1;
                    reporter.problem(file, e);
                }
            }
        },
    );
    reporter.finish_progress();
    let status = if reported < files.len() {
        Status::Interrupted
    } else {
        Status::from_tally(&tally)
    };
    (kept, tally, status)
}

/// Tells the user what was used instead of what a photo's tags said (an
/// offset that is not a UTC offset, ...): one line per warning, naming the
/// photo. The photo is still processed.
pub fn report_time_warnings(reporter: &Reporter, file: &Path, warnings: &[TimeWarning]) {
    for warning in warnings {
        reporter.caution(file, warning);
    }
}

/// "12 photos dated, 1 skipped, 0 failed" with the right verb for a dry run.
pub fn summary_line(tally: &Tally, verb: &str, dry_run: bool) -> String {
    let done = if dry_run {
        format!("{} would be {verb}", plural(tally.done, "photo", "photos"))
    } else {
        format!("{} {verb}", plural(tally.done, "photo", "photos"))
    };
    format!("{done}, {} skipped, {} failed", tally.skipped, tally.failed)
}
