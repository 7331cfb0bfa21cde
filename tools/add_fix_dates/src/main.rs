//! add_fix_dates: writes capture times into photos that lack them (frames
//! extracted from video, scans): the first photo gets the start time, each
//! next one the previous time plus `increment` seconds.

use std::process::ExitCode;

use mapillary_cli::photos::{find_photos, rewrite_photos, summary_line};
use mapillary_cli::{
    Args, DRY_RUN, FORCE, Failure, JOBS, KEEP_MTIME, Positional, Reporter, SYNC, Status, Tool,
    shown,
};
use mapillary_core::capture_time::{parse_start_time, series};
use mapillary_core::exif::{ExifEdits, rewrite_file};

const TOOL: Tool = Tool {
    name: "add_fix_dates",
    version: env!("CARGO_PKG_VERSION"),
    about: "Write capture times into photos: a start time plus a fixed increment per photo.",
    positionals: &[
        Positional {
            name: "path",
            optional: false,
            doc: "A .jpg/.jpeg file, or a folder searched recursively for them.",
        },
        Positional {
            name: "start_time",
            optional: false,
            doc: "The first photo's time, 'YYYY-mm-dd HH:MM:SS': camera-local, so without a zone; a fraction such as :05.5 is allowed; years 0001 to 9999, seconds 00 to 59 (EXIF has no leap seconds).",
        },
        Positional {
            name: "increment",
            optional: false,
            doc: "Seconds between two photos: a finite number; may have a fraction (0.5) or be negative.",
        },
    ],
    options: &[DRY_RUN, JOBS, SYNC, FORCE, KEEP_MTIME],
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
    files: mapillary_cli::spec::REWRITTEN_PHOTOS,
    replaces: "add_fix_dates.py (2015)",
};

fn main() -> ExitCode {
    mapillary_cli::run(&TOOL, run)
}

fn run(args: &Args, reporter: &Reporter) -> Result<Status, Failure> {
    let path = args
        .positional(0)
        .map(std::path::PathBuf::from)
        .unwrap_or_default();
    let start_text = args.text(1, "start_time")?.unwrap_or_default();
    let start =
        parse_start_time(&start_text).map_err(|e| Failure::Usage(format!("start_time: {e}")))?;
    let increment = args.finite(2, "increment", "seconds")?.unwrap_or_default();
    let dry_run = args.flag(DRY_RUN.long);
    let jobs = mapillary_cli::jobs(args)?;

    let files = find_photos(&path, reporter)?;
    let times = series(&start, increment, files.len())
        .map_err(|e| Failure::Fatal(format!("the times run out of range: {e}")))?;
    let options = mapillary_cli::rewrite_options(args);
    let (tally, status) = rewrite_photos(
        reporter,
        &files,
        jobs,
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
            Some(format!("{}: {verb} {time}", shown(file)))
        },
    );
    reporter.summary(summary_line(&tally, "dated", dry_run));
    Ok(status)
}
