//! interpolate_direction: writes each geotagged photo's direction, the
//! bearing to the next photo of the sequence, plus the camera's angle.

use std::path::PathBuf;
use std::process::ExitCode;

use mapillary_cli::Status;
use mapillary_cli::failure::Failure;
use mapillary_cli::flags::{
    Complete, DryRun, Force, JOBS, KeepMtime, PHOTOS_PATH_DOC, Positional, Shared, SyncWrites,
    Timezone, finite, photos_path,
};
use mapillary_cli::printer::Printer;
use mapillary_cli::tool::Tool;
use mapillary_cli::work::{find_photos, read_photos, rewrite_photos, time_warnings};
use mapillary_core::exif::{ExifEdits, rewrite_file};
use mapillary_core::geo::LatLon;
use mapillary_core::reason::Unusable;
use mapillary_core::sequence::{TimedPhoto, interpolate_directions};
use mapillary_core::shown::shown;
use serde_json::json;

#[derive(Debug, Default)]
struct Args {
    shared: Shared,
    path: PathBuf,
    offset_angle: f64,
}

mapillary_cli::tool_args!(Args, path: path);

const TOOL: Tool<Args> = Tool {
    name: "interpolate_direction",
    version: env!("CARGO_PKG_VERSION"),
    about: "Write each photo's direction: the bearing to the next photo, plus the camera's angle.",
    positionals: &[
        photos_path(PHOTOS_PATH_DOC),
        Positional {
            name: "offset_angle",
            doc: "Degrees clockwise from the direction of travel to the camera's view: 90 looks right, -90 or 270 left (default 0; may have a fraction).",
            optional: true,
            complete: Complete::Nothing,
            set: |a, v| {
                a.offset_angle = finite(v, "offset_angle", "degrees")?;
                Ok(())
            },
        },
    ],
    flags: &[&DryRun, &JOBS, &Timezone, &SyncWrites, &Force, &KeepMtime],
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
    files: mapillary_cli::tool::REWRITTEN_PHOTOS,
    replaces: "interpolate_direction.py (2015)",
};

fn main() -> ExitCode {
    mapillary_cli::tool::main(&TOOL, run)
}

fn run(args: Args, printer: &Printer) -> Result<Status, Failure> {
    let rule = args.shared.zone_rule();
    let jobs = args.shared.jobs;
    let files = find_photos(&args.path, printer)?;
    let (mut photos, read_tally, status) = read_photos(printer, &files, jobs, |file, exif| {
        let (lat, lon) = exif.position().ok_or(Unusable::NoPosition)?;
        let time = exif.capture_instant(&rule)?;
        time_warnings(printer, file, &time.warnings);
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
    let directions = interpolate_directions(&positions, args.offset_angle);
    let ordered: Vec<PathBuf> = timed.into_iter().map(|t| t.path).collect();
    let options = args.shared.rewrite_options();
    let (mut tally, status) = rewrite_photos(
        printer,
        "directions",
        &ordered,
        jobs,
        |i, file| {
            let mut edits = ExifEdits::new();
            edits.set_direction(directions[i]);
            rewrite_file(file, &edits, options)
        },
        |i, file, dry| {
            let verb = if dry { "would get" } else { "direction" };
            (
                Some(format!("{}: {verb} {:.2}", shown(file), directions[i])),
                json!({"direction": directions[i]}),
            )
        },
    );
    tally.skipped += read_tally.skipped;
    tally.failed += read_tally.failed;
    printer.summary(
        tally.line("given a direction", args.shared.dry_run),
        tally.json(),
    );
    Ok(if status == Status::Done {
        tally.status()
    } else {
        status
    })
}
