//! upload: uploads photos whose EXIF already holds a Mapillary description
//! with a sequence (Mapillary-app photos, or photos tagged with
//! add_mapillary_tag_from_exif), then moves each into success/ or failed/.

use std::path::PathBuf;
use std::process::ExitCode;

use mapillary_cli::network::connect;
use mapillary_cli::photos::{find_photos, read_photos_and_facts};
use mapillary_cli::sequences::{ENV_CHECKS, ENV_LIMITS};
use mapillary_cli::uploading::{
    Outbox, Outboxes, UploadSettings, plan_sequences, upload_sequences,
};
use mapillary_cli::{Args, DRY_RUN, Failure, Positional, Reporter, Status, Tool, UPLOAD_JOBS};
use mapillary_core::description::Description;
use mapillary_core::upload::{Fate, PlannedImage};

const TOOL: Tool = Tool {
    name: "upload",
    version: env!("CARGO_PKG_VERSION"),
    about: "Upload photos that hold a Mapillary description; move them to success/ or failed/.",
    positionals: &[Positional {
        name: "path",
        optional: false,
        doc: "A .jpg/.jpeg file, or a folder searched recursively for them.",
    }],
    options: &[DRY_RUN, UPLOAD_JOBS],
    description: "Uploads the photos whose EXIF ImageDescription holds a Mapillary description with a \
        MAPSequenceUUID (photos from the Mapillary apps, or tagged with add_mapillary_tag_from_exif); other \
        photos are skipped with a hint to use upload_with_authentication. Photos are grouped into sequences \
        by MAPSequenceUUID, in capture-time order, and each sequence is sent to Mapillary API v4 as an \
        image bundle: every photo with its description, then a manifest, then the finish call that makes \
        it a sequence (joining the organization of MAPOrganizationKey, if any: inside MAPMetaTags, as \
        add_project writes it, or at the top level, as its earlier versions did; MAPMetaTags itself is not \
        sent). A photo whose description would not fit Mapillary's image description schema is skipped \
        with the key named. The photos themselves are not changed.\n\n\
        Each sequence is checked against the official client's rules first: one larger than Mapillary's \
        limits (1,000 photos, 110 GiB, 6 gigapixels) is uploaded in parts, each a sequence of its own; a \
        photo within 0.1 m and 5\u{b0} of the photo kept before it (a duplicate), a photo at latitude 0, \
        longitude 0, and the photos of a sequence faster than 400 km/h are not uploaded and stay where \
        they are, each reason in one message that names every photo (exit status 1).\n\n\
        Uploads resume: an interrupted photo continues from the bytes the server holds, photos already \
        uploaded are not sent again, and a sequence already finished is skipped (the upload history, in \
        ~/.local/share/mapillary-tools-rs/, remembers). Ctrl-C stops cleanly; run again to go on.\n\n\
        Once its sequence is finished, each photo is moved into success/ in the current folder, under its \
        folder relative to path (with path trip, trip/day1/IMG_1.jpg goes to success/day1/IMG_1.jpg), so \
        that photos of equal names never meet; a photo the server refused for good (a final 4xx for it or \
        its sequence), or one that cannot be sent as it is, goes into failed/ the same way. A photo that \
        could not be sent for a reason that may pass (no connection, a nonsensical answer from the server, \
        a file that could not be read) stays where it is, for the next run. No file is ever overwritten; a \
        photo that cannot be moved is named and makes the exit status 1. success/ and failed/ are not \
        searched when they lie inside path; named themselves (upload failed) they are uploaded.",
    environment: &[
        (
            "MAPILLARY_ACCESS_TOKEN",
            "A user access token (also MAPILLARY_UPLOAD_TOKEN).",
        ),
        (
            "MAPILLARY_USERNAME",
            "Chooses the profile in the profiles file.",
        ),
        (
            "MAPILLARY_EMAIL, MAPILLARY_PASSWORD",
            "Log in with these (needs MAPILLARY_CLIENT_TOKEN).",
        ),
        (
            "MAPILLARY_GRAPH_API_ENDPOINT, MAPILLARY_UPLOAD_ENDPOINT",
            "Where the API is (e.g. the local server).",
        ),
        (
            "MAPILLARY_UPLOAD_HISTORY_PATH",
            "The folder of the upload history.",
        ),
        (
            "MAPILLARY_TOOLS_MAX_UPLOAD_RETRIES",
            "Attempts per photo before giving up (default 200).",
        ),
        ENV_LIMITS,
        ENV_CHECKS,
    ],
    examples: &[
        ("upload trip", "Upload every tagged photo under trip/."),
        (
            "upload trip --dry-run",
            "Show the sequences and sizes; send nothing.",
        ),
        (
            "upload failed",
            "Try the photos the server refused again (after fixing them).",
        ),
    ],
    files: "",
    replaces: "upload.py (2015)",
};

fn main() -> ExitCode {
    mapillary_cli::run(&TOOL, run)
}

fn run(args: &Args, reporter: &Reporter) -> Result<Status, Failure> {
    let path = PathBuf::from(args.positional(0).unwrap_or_default());
    let dry_run = args.flag(DRY_RUN.long);
    let jobs = mapillary_cli::upload_jobs(args)?;
    let rules = mapillary_cli::sequences::rules(args)?;
    let cwd = std::env::current_dir().map_err(Failure::fatal)?;
    let outboxes = Outboxes::new(&cwd, &path);

    let mut files = find_photos(&path, reporter)?;
    files.retain(|f| !outboxes.skips(f));
    let (images, tally, status) = read_photos_and_facts(
        reporter,
        &files,
        jobs,
        |file, exif, facts| {
            let hint = "no Mapillary description with a MAPSequenceUUID (for photos from other cameras use upload_with_authentication, or add_mapillary_tag_from_exif first)";
            let description = exif
                .image_description
                .as_deref()
                .and_then(|t| Description::parse(t).ok())
                .filter(|d| d.sequence_uuid().is_some())
                .ok_or_else(|| hint.to_string())?;
            PlannedImage::new(file, description, facts).map_err(|e| e.to_string())
        },
    );
    if status == Status::Interrupted {
        return Ok(status);
    }
    let (plans, unusable) = plan_sequences(reporter, images);
    let connection = connect(reporter);
    let settings = UploadSettings {
        dry_run,
        jobs,
        confirm: &|_, _| true,
        rules,
    };
    let (report, upload_status) = upload_sequences(reporter, &connection, plans, &settings)?;

    // Uploaded photos go to success/, photos refused for good to failed/;
    // the rest stay where they are, for the next run.
    let mut unmoved = 0;
    if !dry_run {
        for (photo, fate) in report.fates() {
            let outbox = match fate {
                Fate::Uploaded => Outbox::Success,
                Fate::Rejected(_) => Outbox::Failed,
                Fate::Retry(_) | Fate::WouldUpload | Fate::LeftOut(_) => continue,
            };
            if !outboxes.move_photo(reporter, photo, outbox) {
                unmoved += 1;
            }
        }
    }
    Ok(if upload_status == Status::Interrupted {
        Status::Interrupted
    } else if upload_status == Status::Done && tally.all_done() && unusable + unmoved == 0 {
        Status::Done
    } else {
        Status::Incomplete
    })
}
