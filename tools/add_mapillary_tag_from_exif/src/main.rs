//! add_mapillary_tag_from_exif: writes the Mapillary image description
//! into photos from other cameras, from their own EXIF, so that they are
//! handled like Mapillary-app photos.

use std::path::PathBuf;
use std::process::ExitCode;

use mapillary_cli::photos::{find_photos, report_time_warnings, rewrite_photos, summary_line};
use mapillary_cli::{
    Args, DRY_RUN, FORCE, Failure, JOBS, KEEP_MTIME, Positional, Reporter, SYNC, Status, TIMEZONE,
    Tool, zone_rule,
};
use mapillary_core::auth::{Credentials, Environment};
use mapillary_core::description::Description;
use mapillary_core::exif::{Decision, ExifEdits, tags, update_file};
use mapillary_core::sequence::{is_valid_sequence_id, new_sequence_uuid};

const TOOL: Tool = Tool {
    name: "add_mapillary_tag_from_exif",
    version: env!("CARGO_PKG_VERSION"),
    about: "Write the Mapillary image description into photos from other cameras, from their EXIF.",
    positionals: &[
        Positional {
            name: "path",
            optional: false,
            doc: "A .jpg/.jpeg file, or a folder searched recursively for them.",
        },
        Positional {
            name: "sequence_id",
            optional: true,
            doc: "The sequence the photos join (letters, digits, _ and -); default: a new random UUID for this run.",
        },
    ],
    options: &[DRY_RUN, JOBS, TIMEZONE, SYNC, FORCE, KEEP_MTIME],
    description: "Reads each photo's GPS position, capture time, altitude, heading, orientation, make, model and \
        serial numbers from its EXIF, and writes the Mapillary image description (compact JSON of MAP* keys) \
        into its EXIF ImageDescription, with the values the official client (mapillary_tools) derives from the \
        same photo. All photos of one run share one sequence UUID.\n\n\
        Required: GPSLatitude and GPSLongitude, and a capture time: GPSDateStamp with GPSTimeStamp (UTC) \
        unless the date is 1970-01-01, else DateTimeOriginal, else DateTimeDigitized, else DateTime (each with \
        its sub-seconds and offset; without an offset, in the computer's zone, or in --timezone). An offset \
        tag that is not a UTC offset is reported with the zone used instead. MAPCaptureTime is written in UTC \
        with milliseconds (truncated). MAPCompassHeading is GPSImgDirection, else GPSTrack; MAPCameraUUID is \
        the body and lens serial numbers. A photo without Orientation gets MAPOrientation 1 (upright), as the \
        2015 tool did. A photo missing a required tag is skipped with the tag named.\n\n\
        The description holds no user key: the credentials used at upload decide the account, as with the \
        official client. No network is needed. A Mapillary description already in the photo keeps its \
        other keys; those that Mapillary's schema does not allow at the top level (the 2015 apps' \
        MAPSettingsUsername, MAPPhotoUUID, ...) are kept inside MAPMetaTags (-v names them). A description \
        that would still not fit the schema is not written: the photo is skipped with the key named. Any \
        other ImageDescription text is replaced. Only ImageDescription changes; every other tag and the \
        image bytes are kept, and each photo is replaced atomically. docs/description.md has the rules.",
    environment: &[
        (
            "MAPILLARY_USERNAME",
            "The account the photos are prepared for, shown in the summary (also taken from the profiles file).",
        ),
        (
            "TZ",
            "The computer's zone, for capture times without an offset.",
        ),
    ],
    examples: &[
        (
            "add_mapillary_tag_from_exif trip",
            "Tag every photo under trip/ as one new sequence.",
        ),
        (
            "add_mapillary_tag_from_exif trip/day1 my-day-1 --timezone Europe/Berlin",
            "Use a chosen sequence id, camera clock in Berlin time.",
        ),
    ],
    files: mapillary_cli::spec::REWRITTEN_PHOTOS,
    replaces: "add_mapillary_tag_from_exif.py (2015)",
};

fn main() -> ExitCode {
    mapillary_cli::run(&TOOL, run)
}

fn run(args: &Args, reporter: &Reporter) -> Result<Status, Failure> {
    let path = PathBuf::from(args.positional(0).unwrap_or_default());
    let sequence = match args.text(1, "sequence_id")? {
        Some(id) if is_valid_sequence_id(&id) => id,
        Some(id) => {
            return Err(Failure::Usage(format!(
                "sequence_id '{id}' may hold only letters, digits, _ and -"
            )));
        }
        None => new_sequence_uuid(),
    };
    let rule = zone_rule(args)?;
    let dry_run = args.flag(DRY_RUN.long);
    let jobs = mapillary_cli::jobs(args)?;
    let options = mapillary_cli::rewrite_options(args);

    let files = find_photos(&path, reporter)?;
    let (tally, status) = rewrite_photos(
        reporter,
        &files,
        jobs,
        |_, file| {
            update_file(file, options, |exif| {
                match Description::tag_photo(exif, file, &sequence, &rule) {
                    Ok(built) => {
                        report_time_warnings(reporter, file, &built.warnings);
                        if !built.moved.is_empty() {
                            reporter.explain(format_args!(
                                "{}: kept {} inside MAPMetaTags (the schema allows no other top-level keys)",
                                mapillary_cli::shown(file),
                                built.moved.join(", ")
                            ));
                        }
                        let mut edits = ExifEdits::new();
                        edits.set_text(tags::IMAGE_DESCRIPTION, &built.description.to_json());
                        Decision::Write(edits)
                    }
                    Err(e) => Decision::Skip(e.to_string()),
                }
            })
        },
        |_, file, dry| {
            let verb = if dry { "would join" } else { "joined" };
            Some(format!(
                "{}: {verb} sequence {sequence}",
                mapillary_cli::shown(file)
            ))
        },
    );
    let user = Credentials::new(Environment::from_process()).username();
    let account = match user {
        Some(u) => format!(" for {u}"),
        None => String::new(),
    };
    reporter.summary(format_args!(
        "{} (sequence {sequence}{account})",
        summary_line(&tally, "tagged", dry_run)
    ));
    Ok(status)
}
