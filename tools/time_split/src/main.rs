//! time_split: moves photos into numbered subfolders wherever the
//! photographer paused longer than a cutoff.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;

use mapillary_cli::photos::{find_photos, read_photos, report_time_warnings};
use mapillary_cli::{
    Args, DRY_RUN, Failure, JOBS, Positional, Reporter, Status, Tool, interrupt_flag, plural,
};
use mapillary_core::capture_time::ZoneRule;
use mapillary_core::files::move_no_clobber;
use mapillary_core::sequence::{TimedPhoto, plan_time_split, sort_by_time};

const TOOL: Tool = Tool {
    name: "time_split",
    version: env!("CARGO_PKG_VERSION"),
    about: "Move photos into numbered subfolders wherever the photographer paused.",
    positionals: &[
        Positional {
            name: "path",
            optional: false,
            doc: "A .jpg/.jpeg file, or a folder searched recursively for them.",
        },
        Positional {
            name: "cutoff_time",
            optional: true,
            doc: "Start a new group where two photos are more than this many seconds apart (default: 1.5 times the median gap).",
        },
    ],
    options: &[DRY_RUN, JOBS],
    description: "Sorts the photos by capture time (DateTimeOriginal with SubSecTimeOriginal) and starts a new \
        group wherever the gap to the previous photo is longer than cutoff_time seconds. Group N is moved \
        into the subfolder N (0, 1, 2, ...) of the folder that holds the group's first photo.\n\n\
        A file already at a destination is never overwritten: the photo stays where it is and is reported. A photo in a numbered subfolder of a folder below path counts as being in that folder (an earlier run put it there), so a run after an interrupted one finishes the job instead of nesting 0/0/. A symbolic link is moved as a link, and a relative one is given the target it needs from its new folder. Ctrl-C stops between two moves (exit status 130); run again to finish. \
        Photos without a capture time are reported and stay where they are. Nothing inside the photos \
        changes.",
    environment: &[(
        "TZ",
        "The zone of capture times that state none; only matters when photos mix times with and without a zone.",
    )],
    examples: &[
        (
            "time_split trip",
            "Split at pauses longer than 1.5 times the median gap.",
        ),
        (
            "time_split trip 120 --dry-run",
            "Show the groups for a two-minute cutoff; move nothing.",
        ),
    ],
    files: "",
    replaces: "time_split.py (2015)",
};

fn main() -> ExitCode {
    mapillary_cli::run(&TOOL, run)
}

fn run(args: &Args, reporter: &Reporter) -> Result<Status, Failure> {
    let path = PathBuf::from(args.positional(0).unwrap_or_default());
    let cutoff = args.finite(1, "cutoff_time", "seconds")?;
    if let Some(c) = cutoff.filter(|c| *c < 0.0) {
        return Err(Failure::Usage(format!(
            "cutoff_time must be a number of seconds, 0 or more, not '{c}'"
        )));
    }
    let dry_run = args.flag(DRY_RUN.long);
    let jobs = mapillary_cli::jobs(args)?;

    let files = find_photos(&path, reporter)?;
    let zone = ZoneRule::system();
    let (mut photos, mut tally, status) = read_photos(reporter, &files, jobs, |file, exif| {
        exif.capture_instant(&zone).map(|time| {
            report_time_warnings(reporter, file, &time.warnings);
            TimedPhoto {
                path: file.to_path_buf(),
                time: time.instant,
            }
        })
    });
    if status == Status::Interrupted {
        return Ok(status);
    }
    sort_by_time(&mut photos);
    let (cutoff, groups) = plan_time_split(&photos, cutoff, &path);
    let stop = interrupt_flag();
    let mut left = photos.len();
    reporter.explain(format_args!("cutoff {cutoff:.3} s"));
    'groups: for group in &groups {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let members = &photos[group.photos.clone()];
        let (first, last) = (&members[0].time, &members[members.len() - 1].time);
        let verb = if dry_run { "would go to" } else { "->" };
        reporter.line(format_args!(
            "group {}: {}, {first} .. {last} {verb} {}",
            group.number,
            plural(members.len(), "photo", "photos"),
            mapillary_cli::shown(&group.folder)
        ));
        for photo in members {
            // Ctrl-C stops between two moves.
            if stop.load(Ordering::SeqCst) {
                break 'groups;
            }
            left -= 1;
            let Some(name) = photo.path.file_name() else {
                continue;
            };
            let destination = group.folder.join(name);
            if destination == photo.path {
                // Moved there by an earlier run.
                tally.done += 1;
                continue;
            }
            if dry_run {
                reporter.explain(format_args!(
                    "{} would go to {}",
                    mapillary_cli::shown(&photo.path),
                    mapillary_cli::shown(&destination)
                ));
                tally.done += 1;
                continue;
            }
            match move_no_clobber(&photo.path, &destination) {
                Ok(()) => tally.done += 1,
                Err(e) => {
                    tally.failed += 1;
                    reporter.problem(&photo.path, e);
                }
            }
        }
    }
    if stop.load(Ordering::SeqCst) && left > 0 {
        reporter.error(format_args!(
            "interrupted: {} not moved; run again to finish",
            plural(left, "photo", "photos")
        ));
    }
    let moved = if dry_run { "would be moved" } else { "moved" };
    reporter.summary(format_args!(
        "{} {moved} into {} (cutoff {cutoff:.1} s), {} skipped, {} failed",
        plural(tally.done, "photo", "photos"),
        plural(groups.len(), "group", "groups"),
        tally.skipped,
        tally.failed
    ));
    Ok(if stop.load(Ordering::SeqCst) && left > 0 {
        Status::Interrupted
    } else {
        Status::from_tally(&tally)
    })
}
