//! add_fix_dates: writes capture times into photos that lack them (frames
//! extracted from video, scans): the first photo gets the start time, each
//! next one the previous time plus `increment` seconds.

use std::path::PathBuf;
use std::process::ExitCode;

use mapillary_cli::Status;
use mapillary_cli::failure::Failure;
use mapillary_cli::flags::{
    Complete, DryRun, Force, JOBS, KeepMtime, PHOTOS_PATH_DOC, Positional, Shared, SyncWrites,
    UsageError, finite, photos_path, text,
};
use mapillary_cli::printer::Printer;
use mapillary_cli::tool::Tool;
use mapillary_cli::work::{find_photos, rewrite_photos};
use mapillary_core::capture_time::{CaptureTime, parse_start_time, series};
use mapillary_core::exif::{ExifEdits, rewrite_file};
use mapillary_core::shown::shown;
use serde_json::json;

#[derive(Debug, Default)]
struct Args {
    shared: Shared,
    path: PathBuf,
    start: Option<CaptureTime>,
    increment: f64,
}

mapillary_cli::tool_args!(Args, path: path);

fn start_time(args: &mut Args, value: &std::ffi::OsStr) -> Result<(), UsageError> {
    let given = text(value, "start_time")?;
    let start = parse_start_time(&given).map_err(|e| UsageError(format!("start_time: {e}")))?;
    args.start = Some(start);
    Ok(())
}

const TOOL: Tool<Args> = Tool {
    name: "add_fix_dates",
    version: env!("CARGO_PKG_VERSION"),
    about: "Write capture times into photos: a start time plus a fixed increment per photo.",
    positionals: &[
        photos_path(PHOTOS_PATH_DOC),
        Positional {
            name: "start_time",
            doc: "The first photo's time, 'YYYY-mm-dd HH:MM:SS' (camera-local, no zone; a fraction such as :05.5 is allowed).",
            optional: false,
            complete: Complete::Nothing,
            set: start_time,
        },
        Positional {
            name: "increment",
            doc: "Seconds between two photos; may have a fraction (0.5) or be negative.",
            optional: false,
            complete: Complete::Nothing,
            set: |a, v| {
                a.increment = finite(v, "increment", "seconds")?;
                Ok(())
            },
        },
    ],
    flags: &[&DryRun, &JOBS, &SyncWrites, &Force, &KeepMtime],
    description: "Photos are taken in sorted path order. The first gets start_time as its DateTimeOriginal, \
        each next one the previous time plus increment seconds. When a time has a fraction of a second it \
        is written to SubSecTimeOriginal (milliseconds); on a whole second any old SubSecTimeOriginal is \
        removed so that it cannot change the new time. A photo without any EXIF gets a new EXIF segment.\n\n\
        Only these tags change. Every other tag, the maker notes, the thumbnail, XMP, ICC and IPTC data and \
        the compressed image are kept byte for byte. Each photo is rewritten into a temporary file beside it, \
        read back and checked, and only then renamed over the original, so an interrupted run never leaves \
        a half-written photo; the next run removes the temporary files an interrupted run left.",
    environment: &[],
    examples: &[
        (
            "add_fix_dates frames '2015-06-01 10:00:00' 2",
            "Two seconds between frames extracted from a video.",
        ),
        (
            "add_fix_dates frames '2015-06-01 10:00:00' 0.5 --dry-run",
            "Show the times half a second apart, change nothing.",
        ),
    ],
    files: mapillary_cli::tool::REWRITTEN_PHOTOS,
    replaces: "add_fix_dates.py (2015)",
};

fn main() -> ExitCode {
    mapillary_cli::tool::main(&TOOL, run)
}

fn run(args: Args, printer: &Printer) -> Result<Status, Failure> {
    let Some(start) = args.start else {
        return Err(Failure::usage("missing argument: start_time"));
    };
    let files = find_photos(&args.path, printer)?;
    let times = series(&start, args.increment, files.len())
        .map_err(|e| Failure::input(format!("the times run out of range: {e}")))?;
    let options = args.shared.rewrite_options();
    let (tally, status) = rewrite_photos(
        printer,
        "dating",
        &files,
        args.shared.jobs,
        |i, file| {
            let mut edits = ExifEdits::new();
            edits.set_capture_time(&times[i]);
            rewrite_file(file, &edits, options)
        },
        |i, file, dry| {
            let t = &times[i];
            let time = match t.exif_sub_sec() {
                Some(sub) => format!("{}.{sub}", t.exif_date_time()),
                None => t.exif_date_time(),
            };
            let verb = if dry { "would get" } else { "DateTimeOriginal" };
            (
                Some(format!("{}: {verb} {time}", shown(file))),
                json!({"date_time_original": time}),
            )
        },
    );
    printer.summary(tally.line("dated", args.shared.dry_run), tally.json());
    Ok(status)
}
