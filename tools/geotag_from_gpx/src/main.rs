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
use mapillary_core::map;
use mapillary_core::reason::Unusable;
use mapillary_core::track::Track;

const MAX_GAP: Opt = Opt {
    long: "max-gap",
    short: None,
    value: Some("SECONDS"),
    doc: "Do not interpolate between track points further apart than this (default 1800, as exiftool).",
};

const MAP: Opt = Opt {
    long: "map",
    short: None,
    value: Some("FILE.html"),
    doc: "Also draw the run on a map page, FILE.html (created, or replaced); with --dry-run, where the photos would land.",
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
    options: &[
        MAX_GAP, MAP, TIMEZONE, DRY_RUN, JOBS, SYNC, FORCE, KEEP_MTIME,
    ],
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
        skipped with the reason. Photos are processed on all cores.\n\n\
        GPX 1.0 and 1.1 files may hold any of their elements and extensions (what is not needed is \
        passed over; points without a time are not used). Each file's points are checked, and what is left out is reported once per file: points \
        implausibly far from their neighbours (faster than 1,500 km/h; a file that is mostly such points \
        is refused), all but one of the points that share a time at different places (a track point is \
        kept before a route point, before a waypoint, each the first in the file), and elevations outside \
        -500 to 9,000 m (the point keeps its position).\n\n\
        --map FILE.html draws the run on one self-contained HTML page (inline SVG in Web Mercator, \
        opened in any browser, no network needed): the track, each photo as a dot with a line in \
        its direction and its name, time and position on hover, and the photos not placed, grouped \
        by reason. An OpenStreetMap background can be turned on in the page; it is off until then, \
        and the page says what it loads. The name must end in .html or .htm, so that a slip cannot \
        overwrite a photo or a track (see docs/map.md).",
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
        (
            "geotag_from_gpx trip track.gpx --dry-run --map trip.html",
            "Change nothing yet; open trip.html in a browser to see where the photos would land.",
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
    let map_file = args.value(MAP.long).map(PathBuf::from);
    if let Some(f) = &map_file {
        map::check_page_name(f).map_err(|e| Failure::Usage(format!("--map: {e}")))?;
    }
    let sheet = map_file.as_ref().map(|_| map::Collector::new(&path));

    let track = Track::load(&gpx).map_err(Failure::fatal)?;
    // What the track checks left out, once per file: a warning, the
    // photos are still placed on what is left.
    for f in track.findings() {
        reporter.caution(&f.path, f.finding);
    }
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
            let mut landing = None;
            let result = update_file(file, options, |exif| {
                let taken = match exif.capture_instant(&rule) {
                    Ok(t) => {
                        report_time_warnings(reporter, file, &t.warnings);
                        t.instant
                    }
                    Err(reason) => return Decision::skip(reason),
                };
                let Ok(gps_time) = taken.checked_sub(offset) else {
                    return Decision::skip(Unusable::TimeOutOfRange);
                };
                match track.locate(gps_time, max_gap) {
                    Ok(fix) => {
                        landing = Some(Ok((fix, gps_time)));
                        let mut edits = ExifEdits::new();
                        edits.set_gps_fix(fix.position, fix.elevation, fix.bearing, gps_time);
                        Decision::Write(edits)
                    }
                    Err(miss) => {
                        landing = Some(Err(miss));
                        Decision::skip(miss)
                    }
                }
            });
            if let Some(sheet) = &sheet {
                sheet.record(file, landing, &result);
            }
            result
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
    if let (Some(file), Some(sheet)) = (&map_file, sheet) {
        let mut notes = vec![format!(
            "Photos under {}, track from {}, time offset {} s.",
            mapillary_cli::shown(&path),
            plural(track.files().len(), "GPX file", "GPX files"),
            offset.as_secs_f64()
        )];
        if dry_run {
            notes.push("Dry run: where the photos would land; no photo was changed.".to_string());
        }
        if status == Status::Interrupted {
            notes.push("Interrupted: not every photo was processed.".to_string());
        }
        let title = format!("geotag_from_gpx: {}", mapillary_cli::shown(&path));
        let page = sheet.into_page(title, notes, track.points(), Some(max_gap));
        match map::write_page(file, &map::render(&page), args.flag(SYNC.long)) {
            Ok(()) => reporter.line(format_args!("map: {}", mapillary_cli::shown(file))),
            Err(e) => reporter.problem(file, e),
        }
    }
    Ok(status)
}
