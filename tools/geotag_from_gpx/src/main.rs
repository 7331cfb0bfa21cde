//! geotag_from_gpx: writes each photo's position, altitude and direction
//! from a GPS track, by the capture time.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;

use mapillary_cli::Status;
use mapillary_cli::failure::Failure;
use mapillary_cli::flags::{
    Complete, DryRun, Flag, Force, JOBS, KeepMtime, PHOTOS_PATH_DOC, Positional, Shared,
    SyncWrites, Timezone, UsageError, finite, number, path, photos_path, text,
};
use mapillary_cli::printer::{GROUP_FROM, Printer, plural};
use mapillary_cli::tool::Tool;
use mapillary_cli::work::{find_photos, rewrite_photos, time_warnings};
use mapillary_core::exif::{Decision, ExifEdits, update_file};
use mapillary_core::jiff::{SignedDuration, Timestamp};
use mapillary_core::map;
use mapillary_core::reason::Unusable;
use mapillary_core::shown::shown;
use mapillary_core::track::clock::{fitting_offset, human};
use mapillary_core::track::{Miss, Track};
use serde_json::json;

#[derive(Debug)]
struct Args {
    shared: Shared,
    path: PathBuf,
    gpx: String,
    offset: SignedDuration,
    max_gap: SignedDuration,
    map: Option<PathBuf>,
}

impl Default for Args {
    fn default() -> Args {
        Args {
            shared: Shared::default(),
            path: PathBuf::new(),
            gpx: String::new(),
            offset: SignedDuration::ZERO,
            max_gap: SignedDuration::from_secs(1800),
            map: None,
        }
    }
}

mapillary_cli::tool_args!(Args, path: path);

/// `--max-gap SECONDS`.
struct MaxGap;

impl Flag<Args> for MaxGap {
    fn long(&self) -> &'static str {
        "max-gap"
    }
    fn value_name(&self) -> Option<&'static str> {
        Some("SECONDS")
    }
    fn doc(&self) -> &'static str {
        "Do not interpolate between track points further apart than this (default 1800, as exiftool)."
    }
    fn set(&self, args: &mut Args, value: Option<&OsStr>) -> Result<(), UsageError> {
        let given = value.unwrap_or_default();
        let seconds: f64 = number(given, "--max-gap")?;
        args.max_gap = SignedDuration::try_from_secs_f64(seconds)
            .ok()
            .filter(|g| !g.is_negative())
            .ok_or_else(|| {
                UsageError(format!(
                    "--max-gap must be a number of seconds, 0 or more, not '{}'",
                    given.to_string_lossy()
                ))
            })?;
        Ok(())
    }
}

/// `--map FILE.html`.
struct MapPage;

impl Flag<Args> for MapPage {
    fn long(&self) -> &'static str {
        "map"
    }
    fn value_name(&self) -> Option<&'static str> {
        Some("FILE.html")
    }
    fn doc(&self) -> &'static str {
        "Also draw the run on a map page, FILE.html (created, or replaced); with --dry-run, where the photos would land."
    }
    fn complete(&self) -> Complete {
        Complete::Path
    }
    fn set(&self, args: &mut Args, value: Option<&OsStr>) -> Result<(), UsageError> {
        let file = path(value.unwrap_or_default());
        map::check_page_name(&file).map_err(|e| UsageError(format!("--map: {e}")))?;
        args.map = Some(file);
        Ok(())
    }
}

fn time_offset(args: &mut Args, value: &OsStr) -> Result<(), UsageError> {
    let seconds = finite(value, "time_offset", "seconds")?;
    args.offset = SignedDuration::try_from_secs_f64(seconds)
        .map_err(|_| UsageError("time_offset is out of range".into()))?;
    Ok(())
}

const TOOL: Tool<Args> = Tool {
    name: "geotag_from_gpx",
    version: env!("CARGO_PKG_VERSION"),
    about: "Geotag photos from a GPS track: position, altitude and direction by capture time.",
    positionals: &[
        photos_path(PHOTOS_PATH_DOC),
        Positional {
            name: "gpx_file",
            doc: "A GPX file (1.0 or 1.1), a folder of .gpx files, or a pattern such as 'logs/*.gpx' (quote it).",
            optional: false,
            complete: Complete::Path,
            set: |a, v| {
                a.gpx = text(v, "gpx_file")?;
                Ok(())
            },
        },
        Positional {
            name: "time_offset",
            doc: "Seconds the camera clock is ahead of the GPS clock (may be negative or have a fraction; default 0).",
            optional: true,
            complete: Complete::Nothing,
            set: time_offset,
        },
    ],
    flags: &[
        &MaxGap,
        &MapPage,
        &Timezone,
        &DryRun,
        &JOBS,
        &SyncWrites,
        &Force,
        &KeepMtime,
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
        skipped with the reason; many photos skipped for one reason are one line that says how far they \
        are from the track, and, when one camera clock offset would put them all on it, which time_offset \
        that is. Photos are processed on all cores.\n\n\
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
    files: mapillary_cli::tool::REWRITTEN_PHOTOS,
    replaces: "geotag_from_gpx.py (2015)",
};

fn main() -> ExitCode {
    mapillary_cli::tool::main(&TOOL, run)
}

/// What the photos that got a capture time told about the clock: their
/// times as placed, and how far those that missed the track were.
#[derive(Debug, Default)]
struct Clock {
    times: Vec<Timestamp>,
    misses: Vec<(Miss, Timestamp)>,
}

fn minute(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M").to_string()
}

/// The track's time span, "2024-03-01 09:12 – 11:40 UTC".
fn span(track: &Track) -> String {
    let (Some(a), Some(b)) = (track.points().first(), track.points().last()) else {
        return String::new();
    };
    let (start, end) = (minute(a.time), minute(b.time));
    match end.strip_prefix(&start[..11]) {
        Some(time) => format!("{start} \u{2013} {time} UTC"),
        None => format!("{start} \u{2013} {end} UTC"),
    }
}

/// Replaces the lines of photos skipped before or after the track with
/// one that says how far they are and what to do about it.
fn explain_misses(printer: &Printer, clock: &Clock, track: &Track, args: &Args) -> Option<f64> {
    let fit = fitting_offset(&clock.times, track, args.max_gap);
    let total = fit.map(|f| (args.offset + f).as_secs_f64());
    let hint = match total {
        Some(t) => format!("time_offset {t} would put every photo on the track"),
        None => "see time_offset".to_string(),
    };
    let mut grouped = false;
    for before in [true, false] {
        let mut group: Vec<(SignedDuration, Timestamp)> = clock
            .misses
            .iter()
            .filter_map(|(m, t)| match (m, before) {
                (Miss::BeforeStart { by, .. }, true) | (Miss::AfterEnd { by, .. }, false) => {
                    Some((*by, *t))
                }
                _ => None,
            })
            .collect();
        if group.len() < GROUP_FROM {
            continue;
        }
        grouped = true;
        group.sort();
        let typical = group[group.len() / 2].0;
        let first = group.iter().map(|(_, t)| *t).min().unwrap_or_default();
        let (code, side) = if before {
            ("before_track", "before the track starts")
        } else {
            ("after_track", "after the track ends")
        };
        printer.describe_group(
            code,
            format_args!(
                "{} {side} (first photo {} UTC, track {}) \u{2014} is the camera clock set, or is it the right GPX? {hint}",
                human(typical),
                minute(first),
                span(track)
            ),
        );
    }
    if let (false, Some(t)) = (grouped, total) {
        printer.hint(format_args!(
            "time_offset {t} would put every photo on the track"
        ));
    }
    total
}

fn run(args: Args, printer: &Printer) -> Result<Status, Failure> {
    let track = Track::load(&args.gpx)?;
    // What the track checks left out, once per file: a warning, the
    // photos are still placed on what is left.
    for f in track.findings() {
        printer.caution(&f.path, f.finding);
    }
    printer.explain(format_args!(
        "{} from {}",
        plural(track.points().len(), "track point", "track points"),
        plural(track.files().len(), "file", "files")
    ));
    let files = find_photos(&args.path, printer)?;
    let rule = args.shared.zone_rule();
    let options = args.shared.rewrite_options();
    let sheet = args.map.as_ref().map(|_| map::Collector::new(&args.path));
    let clock = Mutex::new(Clock::default());
    let (tally, status) = rewrite_photos(
        printer,
        "geotagging",
        &files,
        args.shared.jobs,
        |_, file| {
            let mut landing = None;
            let result = update_file(file, options, |exif| {
                let taken = match exif.capture_instant(&rule) {
                    Ok(t) => {
                        time_warnings(printer, file, &t.warnings);
                        t.instant
                    }
                    Err(reason) => return Decision::skip(reason),
                };
                let Ok(gps_time) = taken.checked_sub(args.offset) else {
                    return Decision::skip(Unusable::TimeOutOfRange);
                };
                let located = track.locate(gps_time, args.max_gap);
                if let Ok(mut clock) = clock.lock() {
                    clock.times.push(gps_time);
                    if let Err(miss) = located {
                        clock.misses.push((miss, gps_time));
                    }
                }
                match located {
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
            let verb = if dry {
                "would be geotagged"
            } else {
                "geotagged"
            };
            let line = printer
                .is_verbose()
                .then(|| format!("{}: {verb}", shown(file)));
            (line, json!({}))
        },
    );
    let clock = clock.into_inner().unwrap_or_else(|p| p.into_inner());
    let suggested = explain_misses(printer, &clock, &track, &args);
    let verb = if args.shared.dry_run {
        "would be tagged"
    } else {
        "tagged"
    };
    let mut counts = tally.json();
    if let Some(t) = suggested {
        counts["suggested_time_offset"] = json!(t);
    }
    printer.summary(
        format_args!(
            "{} {verb}, {} skipped, {} failed",
            plural(tally.done, "photo", "photos"),
            tally.skipped,
            tally.failed,
        ),
        counts,
    );
    if let (Some(file), Some(sheet)) = (&args.map, sheet) {
        let mut notes = vec![format!(
            "Photos under {}, track from {}, time offset {} s.",
            shown(&args.path),
            plural(track.files().len(), "GPX file", "GPX files"),
            args.offset.as_secs_f64()
        )];
        if args.shared.dry_run {
            notes.push("Dry run: where the photos would land; no photo was changed.".to_string());
        }
        if status == Status::Interrupted {
            notes.push("Interrupted: not every photo was processed.".to_string());
        }
        let title = format!("geotag_from_gpx: {}", shown(&args.path));
        let page = sheet.into_page(title, notes, track.points(), Some(args.max_gap));
        match map::write_page(file, &map::render(&page), args.shared.sync) {
            Ok(()) => printer.item(
                "map",
                format_args!("map: {}", shown(file)),
                json!({"path": shown(file).to_string()}),
            ),
            Err(e) => printer.failed(file, &e),
        }
    }
    Ok(status)
}
