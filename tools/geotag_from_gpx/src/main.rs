//! geotag_from_gpx: writes each photo's position, altitude and direction
//! from a GPS track, by the capture time.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use mapillary_cli::photos::{find_photos, report_time_warnings, rewrite_photos};
use mapillary_cli::{
    Args, DRY_RUN, FORCE, Failure, JOBS, KEEP_MTIME, Opt, Positional, Reporter, SYNC, Status,
    TIMEZONE, Tool, plural, zone_rule,
};
use mapillary_core::exif::{Decision, ExifEdits, update_file};
use mapillary_core::track::Track;

const MAX_GAP: Opt = Opt {
    long: "max-gap",
    short: None,
    value: Some("SECONDS"),
    doc: "Do not interpolate between track points further apart than this (default 1800, as exiftool).",
};

const TOOL: Tool = Tool {
    name: "geotag_from_gpx",
    version: env!("CARGO_PKG_VERSION"),
    about: "Geotag photos from a GPS track: position, altitude and direction by capture time.",
    positionals: &[
        Positional {
            name: "path",
            optional: false,
            doc: "A .jpg/.jpeg file, or a folder searched recursively for them.",
        },
        Positional {
            name: "gpx_file",
            optional: false,
            doc: "A GPX file (1.0 or 1.1), a folder of .gpx files, or a pattern such as 'logs/*.gpx' (quote it).",
        },
        Positional {
            name: "time_offset",
            optional: true,
            doc: "Seconds the camera clock is ahead of the GPS clock (may be negative or have a fraction; default 0).",
        },
    ],
    options: &[MAX_GAP, TIMEZONE, DRY_RUN, JOBS, SYNC, FORCE, KEEP_MTIME],
    description: "Reads every track, route and timed waypoint of the GPX files. For each photo it takes the \
        capture time (DateTimeOriginal with SubSecTimeOriginal), subtracts time_offset, and finds the \
        position by linear interpolation between the two track points around that instant (a photo exactly \
        on a point takes it). The camera time is placed in its zone: OffsetTimeOriginal when the photo has \
        it, else the computer's zone (TZ honoured) as it was at the capture instant, so that a summer photo \
        processed in winter is not an hour off; --timezone overrides both.\n\n\
        Written: GPSLatitude/Ref, GPSLongitude/Ref, GPSAltitude/Ref (when the track has elevation), \
        GPSImgDirection/Ref (true north: the bearing between the two track points, or of the nearest \
        movement when standing still), GPSDateStamp and GPSTimeStamp (UTC), GPSMapDatum WGS-84 and \
        GPSVersionID 2.3.0.0. The photo's earlier GPS tags are replaced; nothing else changes, and each \
        photo is replaced atomically.\n\n\
        Photos before the first or after the last track point, or inside a gap longer than --max-gap, are \
        skipped with the reason. Photos are processed on all cores.",
    environment: &[(
        "TZ",
        "The computer's zone, for capture times without OffsetTimeOriginal.",
    )],
    examples: &[
        (
            "geotag_from_gpx trip track.gpx",
            "Geotag trip/ from track.gpx.",
        ),
        (
            "geotag_from_gpx trip 'logs/*.gpx' -3.5",
            "The camera clock is 3.5 s behind the GPS; several track files.",
        ),
        (
            "geotag_from_gpx trip track.gpx 3600 --timezone Europe/Berlin",
            "The camera is an hour ahead, and its times are Berlin time.",
        ),
    ],
    files: mapillary_cli::spec::REWRITTEN_PHOTOS,
    replaces: "geotag_from_gpx.py (2015)",
};

fn main() -> ExitCode {
    mapillary_cli::run(&TOOL, run)
}

fn run(args: &Args, reporter: &Reporter) -> Result<Status, Failure> {
    let started = Instant::now();
    let path = PathBuf::from(args.positional(0).unwrap_or_default());
    let gpx = args.text(1, "gpx_file")?.unwrap_or_default();
    let offset = args.finite(2, "time_offset", "seconds")?.unwrap_or(0.0);
    let offset = mapillary_core::jiff::SignedDuration::try_from_secs_f64(offset)
        .map_err(|_| Failure::Usage("time_offset is out of range".to_string()))?;
    let max_gap: f64 = args.option_number(MAX_GAP.long)?.unwrap_or(1800.0);
    let max_gap = mapillary_core::jiff::SignedDuration::try_from_secs_f64(max_gap)
        .ok()
        .filter(|g| !g.is_negative())
        .ok_or_else(|| {
            Failure::Usage("--max-gap must be a number of seconds, 0 or more".to_string())
        })?;
    let rule = zone_rule(args)?;
    let dry_run = args.flag(DRY_RUN.long);
    let jobs = mapillary_cli::jobs(args)?;

    let track = Track::load(&gpx).map_err(Failure::fatal)?;
    reporter.explain(format_args!(
        "{} from {}",
        plural(track.points().len(), "track point", "track points"),
        plural(track.files().len(), "file", "files")
    ));
    let files = find_photos(&path, reporter)?;
    let options = mapillary_cli::rewrite_options(args);
    let (tally, status) = rewrite_photos(
        reporter,
        &files,
        jobs,
        |_, file| {
            update_file(file, options, |exif| {
                let taken = match exif.capture_instant(&rule) {
                    Ok(t) => {
                        report_time_warnings(reporter, file, &t.warnings);
                        t.instant
                    }
                    Err(reason) => return Decision::Skip(reason),
                };
                let Ok(gps_time) = taken.checked_sub(offset) else {
                    return Decision::Skip(
                        "the time offset moves the capture time out of range".to_string(),
                    );
                };
                match track.locate(gps_time, max_gap) {
                    Ok(fix) => {
                        let mut edits = ExifEdits::new();
                        edits.set_gps_fix(fix.position, fix.elevation, fix.bearing, gps_time);
                        Decision::Write(edits)
                    }
                    Err(miss) => Decision::Skip(miss.to_string()),
                }
            })
        },
        |_, file, dry| {
            reporter.is_verbose().then(|| {
                let verb = if dry {
                    "would be geotagged"
                } else {
                    "geotagged"
                };
                format!("{}: {verb}", mapillary_cli::shown(file))
            })
        },
    );
    let verb = if dry_run { "would be tagged" } else { "tagged" };
    reporter.summary(format_args!(
        "{} {verb}, {} skipped, {} failed, {:.2} s",
        plural(tally.done, "photo", "photos"),
        tally.skipped,
        tally.failed,
        started.elapsed().as_secs_f64()
    ));
    Ok(status)
}
