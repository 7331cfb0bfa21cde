//! add_mapillary_tag_from_exif: writes the Mapillary image description
//! into photos from other cameras, from their own EXIF, so that they are
//! handled like Mapillary-app photos.

use std::path::PathBuf;
use std::process::ExitCode;

use mapillary_cli::Status;
use mapillary_cli::failure::Failure;
use mapillary_cli::flags::{
    Complete, DryRun, Force, JOBS, KeepMtime, PHOTOS_PATH_DOC, Positional, SyncWrites, Timezone,
    UsageError, photos_path, text,
};
use mapillary_cli::printer::{Printer, plural};
use mapillary_cli::sequences::{
    CutoffDistance, CutoffTime, ENV_CHECKS, ENV_CUTOFFS, ENV_LIMITS, FormingArgs, report_findings,
    rules,
};
use mapillary_cli::tool::Tool;
use mapillary_cli::work::{
    Tally, find_photos, read_photos_and_facts, rewrite_photos, time_warnings,
};
use mapillary_core::auth::{Credentials, Environment};
use mapillary_core::description::Description;
use mapillary_core::exif::{Updated, update_file};
use mapillary_core::sequence::{PLACEHOLDER_ID, is_valid_sequence_id, tagging};
use mapillary_core::shown::shown;
use mapillary_core::upload::PlannedImage;
use serde_json::json;

/// The tool's own argument.
#[derive(Debug, Default)]
struct Own {
    /// The sequence every photo joins.
    sequence_id: Option<String>,
}

type Args = FormingArgs<Own>;

fn sequence_id(args: &mut Args, value: &std::ffi::OsStr) -> Result<(), UsageError> {
    let id = text(value, "sequence_id")?;
    if !is_valid_sequence_id(&id) {
        return Err(UsageError(format!(
            "sequence_id '{id}' may hold only letters, digits, _ and -"
        )));
    }
    args.own.sequence_id = Some(id);
    Ok(())
}

const TOOL: Tool<Args> = Tool {
    name: "add_mapillary_tag_from_exif",
    version: env!("CARGO_PKG_VERSION"),
    about: "Write the Mapillary image description into photos from other cameras, from their EXIF.",
    positionals: &[
        photos_path(PHOTOS_PATH_DOC),
        Positional {
            name: "sequence_id",
            doc: "The sequence all the photos join (letters, digits, _ and -); default: the photos are cut into sequences, each with a new random UUID.",
            optional: true,
            complete: Complete::Nothing,
            set: sequence_id,
        },
    ],
    flags: &[
        &DryRun,
        &JOBS,
        &Timezone,
        &SyncWrites,
        &Force,
        &KeepMtime,
        &CutoffTime,
        &CutoffDistance,
    ],
    description: "Reads each photo's GPS position, capture time, altitude, heading, orientation, make, model and \
        serial numbers from its EXIF, and writes the Mapillary image description (compact JSON of MAP* keys) \
        into its EXIF ImageDescription, with the values the official client (mapillary_tools) derives from the \
        same photo.\n\n\
        Sequences follow the official client's rules: photos are grouped by folder and camera, ordered by \
        capture time, and a new sequence starts where two photos are more than 60 s or 100 m apart \
        (--cutoff-time, --cutoff-distance) and where a sequence would exceed Mapillary's limits (1,000 \
        photos, 110 GiB, 6 gigapixels); each sequence gets a new random UUID. With sequence_id, all photos \
        are one sequence of that id, which upload sends in parts where it exceeds a limit. Either way, a \
        photo within 0.1 m and 5\u{b0} of the photo kept before it (a duplicate), a photo at latitude 0, \
        longitude 0, and the photos of a sequence faster than 400 km/h are left out: not tagged, each named \
        in one message per reason (exit status 1). A photo left out that holds the MAPSequenceUUID of an \
        earlier run loses that key, so that upload does not send it.\n\n\
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
        ENV_CUTOFFS,
        ENV_LIMITS,
        ENV_CHECKS,
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
            "Tag every photo under trip/, cut into sequences where the photographer paused.",
        ),
        (
            "add_mapillary_tag_from_exif trip/day1 my-day-1 --timezone Europe/Berlin",
            "Use a chosen sequence id, camera clock in Berlin time.",
        ),
    ],
    files: mapillary_cli::tool::REWRITTEN_PHOTOS,
    replaces: "add_mapillary_tag_from_exif.py (2015)",
};

fn main() -> ExitCode {
    mapillary_cli::tool::main(&TOOL, run)
}

fn run(args: Args, printer: &Printer) -> Result<Status, Failure> {
    let chosen = args.own.sequence_id.as_deref();
    let zone = args.shared.zone_rule();
    let rules = rules(args.cutoffs)?;
    let dry_run = args.shared.dry_run;
    let jobs = args.shared.jobs;
    let options = args.shared.rewrite_options();

    // What the rules need of every photo (its head only), then the rules.
    let files = find_photos(&args.path, printer)?;
    let (read, read_tally, status) =
        read_photos_and_facts(printer, &files, jobs, |file, exif, facts| {
            let built = Description::tag_photo(&exif, file, PLACEHOLDER_ID, &zone)?;
            time_warnings(printer, file, &built.warnings);
            if !built.moved.is_empty() {
                printer.explain(format_args!(
                    "{}: kept {} inside MAPMetaTags (the schema allows no other top-level keys)",
                    shown(file),
                    built.moved.join(", ")
                ));
            }
            let image = PlannedImage::new(file, built.description, facts)?;
            Ok((image, tagging::holds_sequence(&exif)))
        });
    if status == Status::Interrupted {
        return Ok(status);
    }
    let plan = tagging::plan(read, &rules, chosen);
    let limit_cut = match chosen {
        Some(id) => format!("sequence {id} will be uploaded in parts; a part starts at"),
        None => "new sequence from".to_string(),
    };
    let left_out = report_findings(printer, &plan.findings, "not tagged", &limit_cut);
    let to_tag: Vec<PathBuf> = files
        .iter()
        .filter(|f| plan.descriptions.contains_key(*f))
        .cloned()
        .collect();

    // Each photo is read again as it is rewritten; one that changed since
    // the rules saw it is left alone.
    let (tagged, tag_status) = rewrite_photos(
        printer,
        "tagging",
        &to_tag,
        jobs,
        |_, file| {
            let Some(want) = plan.descriptions.get(file) else {
                return Ok(Updated::Skipped(tagging::NotTagged::InNoSequence.into()));
            };
            let id = want.sequence_uuid().unwrap_or_default();
            update_file(file, options, |exif| {
                let now = Description::tag_photo(exif, file, id, &zone).map(|b| b.description);
                tagging::write_if_unchanged(now, want)
            })
        },
        |_, file, dry| {
            let id = plan
                .descriptions
                .get(file)
                .and_then(|d| d.sequence_uuid())
                .unwrap_or_default();
            let verb = if dry { "would join" } else { "joined" };
            (
                Some(format!("{}: {verb} sequence {id}", shown(file))),
                json!({"sequence": id}),
            )
        },
    );
    // A photo left out keeps no sequence of an earlier run, so that upload
    // does not send it.
    let (untagged, untag_status) = if plan.untag.is_empty() {
        (Tally::default(), Status::Done)
    } else {
        rewrite_photos(
            printer,
            "untagging",
            &plan.untag,
            jobs,
            |_, file| update_file(file, options, tagging::without_sequence),
            |_, file, dry| {
                let verb = if dry { "would lose" } else { "lost" };
                (
                    Some(format!(
                        "{}: left out; {verb} the MAPSequenceUUID of an earlier run",
                        shown(file)
                    )),
                    json!({"sequence": null}),
                )
            },
        )
    };

    let tally = Tally {
        done: tagged.done,
        skipped: read_tally.skipped + left_out + tagged.skipped + untagged.skipped,
        failed: read_tally.failed + tagged.failed + untagged.failed,
    };
    let sequences = match &plan.sequences[..] {
        [one] => format!("sequence {one}"),
        many => plural(many.len(), "sequence", "sequences"),
    };
    let user = Credentials::new(Environment::from_process()).username();
    let account = match &user {
        Some(u) => format!(" for {u}"),
        None => String::new(),
    };
    let mut counts = tally.json();
    counts["sequence_ids"] = json!(plan.sequences);
    if let Some(u) = &user {
        counts["account"] = json!(u);
    }
    printer.summary(
        format_args!("{} ({sequences}{account})", tally.line("tagged", dry_run)),
        counts,
    );
    Ok(
        if [tag_status, untag_status].contains(&Status::Interrupted) {
            Status::Interrupted
        } else {
            tally.status()
        },
    )
}
