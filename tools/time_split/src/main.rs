//! time_split: moves photos into numbered subfolders wherever the
//! photographer paused longer than a cutoff.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;

use mapillary_cli::failure::Failure;
use mapillary_cli::flags::{
    Complete, DryRun, JOBS, PHOTOS_PATH_DOC, Positional, Shared, UsageError, finite, photos_path,
};
use mapillary_cli::printer::{Printer, plural};
use mapillary_cli::tool::Tool;
use mapillary_cli::work::{find_photos, read_photos, time_warnings};
use mapillary_cli::{Status, interrupt_flag};
use mapillary_core::capture_time::ZoneRule;
use mapillary_core::files::move_no_clobber;
use mapillary_core::sequence::{TimedPhoto, plan_time_split, sort_by_time};
use mapillary_core::shown::shown;
use serde_json::json;

#[derive(Debug, Default)]
struct Args {
    shared: Shared,
    path: PathBuf,
    cutoff: Option<f64>,
}

mapillary_cli::tool_args!(Args, path: path);

fn cutoff_time(args: &mut Args, value: &std::ffi::OsStr) -> Result<(), UsageError> {
    let seconds = finite(value, "cutoff_time", "seconds")?;
    if seconds < 0.0 {
        return Err(UsageError(format!(
            "cutoff_time must be a number of seconds, 0 or more, not '{seconds}'"
        )));
    }
    args.cutoff = Some(seconds);
    Ok(())
}

const TOOL: Tool<Args> = Tool {
    name: "time_split",
    version: env!("CARGO_PKG_VERSION"),
    about: "Move photos into numbered subfolders wherever the photographer paused.",
    positionals: &[
        photos_path(PHOTOS_PATH_DOC),
        Positional {
            name: "cutoff_time",
            doc: "Start a new group where two photos are more than this many seconds apart (default: 1.5 times the median gap).",
            optional: true,
            complete: Complete::Nothing,
            set: cutoff_time,
        },
    ],
    flags: &[&DryRun, &JOBS],
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
    mapillary_cli::tool::main(&TOOL, run)
}

fn run(args: Args, printer: &Printer) -> Result<Status, Failure> {
    let dry_run = args.shared.dry_run;
    let files = find_photos(&args.path, printer)?;
    let zone = ZoneRule::system();
    let (mut photos, mut tally, status) =
        read_photos(printer, &files, args.shared.jobs, |file, exif| {
            let time = exif.capture_instant(&zone)?;
            time_warnings(printer, file, &time.warnings);
            Ok(TimedPhoto {
                path: file.to_path_buf(),
                time: time.instant,
            })
        });
    if status == Status::Interrupted {
        return Ok(status);
    }
    sort_by_time(&mut photos);
    let (cutoff, groups) = plan_time_split(&photos, args.cutoff, &args.path);
    let stop = interrupt_flag();
    let mut left = photos.len();
    let mut in_place = 0;
    printer.explain(format_args!("cutoff {cutoff:.3} s"));
    'groups: for group in &groups {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let members = &photos[group.photos.clone()];
        let (first, last) = (&members[0].time, &members[members.len() - 1].time);
        let verb = if dry_run { "would go to" } else { "->" };
        printer.item(
            "group",
            format_args!(
                "group {}: {}, {first} .. {last} {verb} {}",
                group.number,
                plural(members.len(), "photo", "photos"),
                shown(&group.folder)
            ),
            json!({
                "number": group.number,
                "photos": members.len(),
                "first": first.to_string(),
                "last": last.to_string(),
                "folder": shown(&group.folder).to_string(),
            }),
        );
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
            let to = json!({"to": shown(&destination).to_string()});
            if destination == photo.path {
                // Moved there by an earlier run.
                in_place += 1;
                printer.done(&photo.path, "in_place", None, to);
                continue;
            }
            if dry_run {
                tally.done += 1;
                printer.explain(format_args!(
                    "{} would go to {}",
                    shown(&photo.path),
                    shown(&destination)
                ));
                printer.done(&photo.path, "would_move", None, to);
                continue;
            }
            match move_no_clobber(&photo.path, &destination) {
                Ok(()) => {
                    tally.done += 1;
                    printer.done(&photo.path, "moved", None, to);
                }
                Err(e) => {
                    tally.failed += 1;
                    printer.failed(&photo.path, &e);
                }
            }
        }
    }
    let interrupted = stop.load(Ordering::SeqCst) && left > 0;
    if interrupted {
        printer.error(format_args!(
            "interrupted: {} not moved; run again to finish",
            plural(left, "photo", "photos")
        ));
    }
    let moved = if dry_run { "would be moved" } else { "moved" };
    let mut counts = tally.json();
    counts["groups"] = json!(groups.len());
    counts["cutoff_seconds"] = json!(cutoff);
    counts["in_place"] = json!(in_place);
    // Photos an earlier (interrupted) run already moved are not counted
    // as moved again.
    let already = if in_place > 0 {
        format!(", {in_place} already in place")
    } else {
        String::new()
    };
    printer.summary(
        format_args!(
            "{} {moved} into {} (cutoff {cutoff:.1} s){already}, {} skipped, {} failed",
            plural(tally.done, "photo", "photos"),
            plural(groups.len(), "group", "groups"),
            tally.skipped,
            tally.failed
        ),
        counts,
    );
    Ok(if interrupted {
        Status::Interrupted
    } else {
        tally.status()
    })
}
