//! upload: uploads photos whose EXIF already holds a Mapillary description
//! with a sequence (Mapillary-app photos, or photos tagged with
//! add_mapillary_tag_from_exif), then moves each into success/ or failed/.

use std::path::PathBuf;
use std::process::ExitCode;

use mapillary_cli::Status;
use mapillary_cli::failure::Failure;
use mapillary_cli::flags::{DryRun, PHOTOS_PATH_DOC, Shared, UPLOAD_JOBS, photos_path};
use mapillary_cli::printer::Printer;
use mapillary_cli::sequences::{Cutoffs, ENV_CHECKS, ENV_LIMITS, rules};
use mapillary_cli::tool::Tool;
use mapillary_cli::uploading::{Outboxes, Sequences, Upload, upload};
use mapillary_core::description::Description;
use mapillary_core::reason::Unusable;
use mapillary_core::upload::PlannedImage;

#[derive(Debug, Default)]
struct Args {
    shared: Shared,
    path: PathBuf,
}

mapillary_cli::tool_args!(Args, path: path);

const TOOL: Tool<Args> = Tool {
    name: "upload",
    version: env!("CARGO_PKG_VERSION"),
    about: "Upload photos that hold a Mapillary description; move them to success/ or failed/.",
    positionals: &[photos_path(PHOTOS_PATH_DOC)],
    flags: &[&DryRun, &UPLOAD_JOBS],
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
        searched when they lie inside path; named themselves (upload failed) they are uploaded.\n\n\
        Progress: a 'reading' bar counts the photos read, an 'uploading' bar the megabytes sent (10^6 \
        bytes, as the summary). With --json, each sequence is a 'sequence' object (name, photos, status: \
        uploaded, already_uploaded, would_upload, not_finalized or failed; cluster_id, bytes, reason), each \
        photo uploaded a 'photo' object (status uploaded or would_upload, with 'to', the place it was moved \
        to), and the summary counts photos and sequences and gives sent_bytes (docs/json.md).",
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
    mapillary_cli::tool::main(&TOOL, run)
}

fn run(args: Args, printer: &Printer) -> Result<Status, Failure> {
    let cwd = std::env::current_dir().map_err(Failure::fatal)?;
    let plan = |file: &std::path::Path, exif: mapillary_core::exif::PhotoExif, facts| {
        let description = exif
            .image_description
            .as_deref()
            .and_then(|t| Description::parse(t).ok())
            .filter(|d| d.sequence_uuid().is_some())
            .ok_or(Unusable::NoSequence)?;
        Ok(PlannedImage::new(file, description, facts)?)
    };
    let job = Upload {
        outboxes: Some(Outboxes::new(&cwd, &args.path)),
        ..Upload::new(
            &args.shared,
            &args.path,
            Sequences::Described,
            rules(Cutoffs::default())?,
            &plan,
        )
    };
    upload(printer, job)
}
