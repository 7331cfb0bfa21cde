//! interpolate_direction: writes each geotagged photo's direction, the
//! bearing to the next photo of the sequence, plus the camera's angle.

use std::path::PathBuf;
use std::process::ExitCode;

use mapillary_cli::photos::{
    find_photos, read_photos, report_time_warnings, rewrite_photos, summary_line,
};
use mapillary_cli::{
    Args, DRY_RUN, FORCE, Failure, JOBS, KEEP_MTIME, Positional, Reporter, SYNC, Status, TIMEZONE,
    Tool, zone_rule,
};
use mapillary_core::exif::{ExifEdits, rewrite_file};
use mapillary_core::geo::LatLon;
use mapillary_core::sequence::{TimedPhoto, interpolate_directions};

const TOOL: Tool = Tool {
    name: "interpolate_direction",
    version: env!("CARGO_PKG_VERSION"),
    about: "Write each photo's direction: the bearing to the next photo, plus the camera's angle.",
    positionals: &[
        Positional {
            name: "path",
            optional: false,
            doc: "A .jpg/.jpeg file, or a folder searched recursively for them.",
        },
        Positional {
            name: "offset_angle",
            optional: true,
            doc: "Degrees clockwise from the direction of travel to the camera's view: 90 looks right, -90 or 270 left (default 0; may have a fraction).",
        },
    ],
    options: &[DRY_RUN, JOBS, TIMEZONE, SYNC, FORCE, KEEP_MTIME],
    description: "Sorts the geotagged photos by capture time and writes into each GPSImgDirection (true north) \
        the bearing from it to the next photo at a different position, plus offset_angle, modulo 360. \
        Photos at the same position as the next one take the bearing to the next photo elsewhere; the last \
        photo takes the direction of the one before; a lone photo gets offset_angle.\n\n\
        Photos without a GPS position or a capture time are skipped with the reason. Only GPSImgDirection and \
        GPSImgDirectionRef change; every other tag and the image bytes are kept, and each photo is replaced \
        atomically.",
    environment: &[(
        "TZ",
        "The computer's zone, for capture times without an offset (it only orders the photos).",
    )],
    examples: &[
        ("interpolate_direction trip", "A camera looking ahead."),
        (
            "interpolate_direction trip -90",
            "A camera looking to the left.",
        ),
    ],
    files: mapillary_cli::spec::REWRITTEN_PHOTOS,
    replaces: "interpolate_direction.py (2015)",
};

fn main() -> ExitCode {
    mapillary_cli::run(&TOOL, run)
}

fn run(args: &Args, reporter: &Reporter) -> Result<Status, Failure> {
    let path = PathBuf::from(args.positional(0).unwrap_or_default());
    let offset = args.finite(1, "offset_angle", "degrees")?.unwrap_or(0.0);
    let rule = zone_rule(args)?;
    let dry_run = args.flag(DRY_RUN.long);
    let jobs = mapillary_cli::jobs(args)?;

    let files = find_photos(&path, reporter)?;
    let (mut photos, read_tally, status) = read_photos(reporter, &files, jobs, |file, exif| {
        let (lat, lon) = exif
            .position()
            .ok_or_else(|| "no GPS position".to_string())?;
        let time = exif.capture_instant(&rule)?;
        report_time_warnings(reporter, file, &time.warnings);
        Ok((
            TimedPhoto {
                path: file.to_path_buf(),
                time: time.instant,
            },
            LatLon::new(lat, lon),
        ))
    });
    if status == Status::Interrupted {
        return Ok(status);
    }
    // By capture time, then path (as sequence::sort_by_time).
    photos.sort_by(|a, b| {
        a.0.time
            .cmp(&b.0.time)
            .then_with(|| a.0.path.cmp(&b.0.path))
    });
    let (timed, positions): (Vec<TimedPhoto>, Vec<LatLon>) = photos.into_iter().unzip();
    let directions = interpolate_directions(&positions, offset);
    let ordered: Vec<PathBuf> = timed.into_iter().map(|t| t.path).collect();
    let options = mapillary_cli::rewrite_options(args);
    let (mut tally, status) = rewrite_photos(
        reporter,
        &ordered,
        jobs,
        |i, file| {
            let mut edits = ExifEdits::new();
            edits.set_direction(directions[i]);
            rewrite_file(file, &edits, options)
        },
        |i, file, dry| {
            let verb = if dry { "would get" } else { "direction" };
            Some(format!(
                "{}: {verb} {:.2}",
                mapillary_cli::shown(file),
                directions[i]
            ))
        },
    );
    tally.skipped += read_tally.skipped;
    tally.failed += read_tally.failed;
    reporter.summary(summary_line(&tally, "given a direction", dry_run));
    Ok(if status == Status::Done && !tally.all_done() {
        Status::Incomplete
    } else {
        status
    })
}
