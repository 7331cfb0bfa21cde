//! upload: uploads photos whose EXIF already holds a Mapillary description
//! with a sequence (Mapillary-app photos, or photos tagged with
//! add_mapillary_tag_from_exif), then moves each into success/ or failed/.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use mapillary_cli::network::connect;
use mapillary_cli::photos::{find_photos, read_photos};
use mapillary_cli::uploading::{UploadSettings, move_into, plan_sequences, upload_sequences};
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
        it a sequence (joining the organization of MAPOrganizationKey, if any). The photos themselves are \
        not changed.\n\n\
        Uploads resume: an interrupted photo continues from the bytes the server holds, photos already \
        uploaded are not sent again, and a sequence already finished is skipped (the upload history, in \
        ~/.local/share/mapillary-tools-rs/, remembers). Ctrl-C stops cleanly; run again to go on.\n\n\
        Once its sequence is finished, each photo is moved into success/ in the current folder; a photo the \
        server refuses for good goes into failed/. Neither folder is searched for photos, and no file in \
        them is ever overwritten.",
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
    ],
    examples: &[
        ("upload trip", "Upload every tagged photo under trip/."),
        (
            "upload trip --dry-run",
            "Show the sequences and sizes; send nothing.",
        ),
    ],
    replaces: "upload.py (2015)",
};

fn main() -> ExitCode {
    mapillary_cli::run(&TOOL, run)
}

fn run(args: &Args, reporter: &Reporter) -> Result<Status, Failure> {
    let path = PathBuf::from(args.positional(0).unwrap_or_default());
    let dry_run = args.flag(DRY_RUN.long);
    let jobs = mapillary_cli::upload_jobs(args)?;
    let cwd = std::env::current_dir().map_err(Failure::fatal)?;
    let (success, failed) = (cwd.join("success"), cwd.join("failed"));

    let mut files = find_photos(&path, reporter)?;
    let under = |f: &Path, dir: &Path| {
        std::fs::canonicalize(f)
            .is_ok_and(|f| std::fs::canonicalize(dir).is_ok_and(|d| f.starts_with(d)))
    };
    files.retain(|f| !under(f, &success) && !under(f, &failed));
    let (images, tally, status) = read_photos(reporter, &files, jobs, |file, exif| {
        let hint = "no Mapillary description with a MAPSequenceUUID (for photos from other cameras use upload_with_authentication, or add_mapillary_tag_from_exif first)";
        let description = exif
            .image_description
            .as_deref()
            .and_then(|t| Description::parse(t).ok())
            .filter(|d| d.sequence_uuid().is_some())
            .ok_or_else(|| hint.to_string())?;
        description.check_required().map_err(|e| e.to_string())?;
        Ok(PlannedImage {
            path: file.to_path_buf(),
            description,
        })
    });
    if status == Status::Interrupted {
        return Ok(status);
    }
    let (plans, unusable) = plan_sequences(reporter, images);
    let connection = connect(reporter);
    let settings = UploadSettings {
        dry_run,
        jobs,
        confirm: &|_, _| true,
    };
    let (report, upload_status) = upload_sequences(reporter, &connection, plans, &settings)?;
    if !dry_run {
        for (photo, fate) in report.fates() {
            match fate {
                Fate::Uploaded => move_into(reporter, photo, &success),
                Fate::Rejected(_) => move_into(reporter, photo, &failed),
                Fate::Retry(_) | Fate::WouldUpload => true,
            };
        }
    }
    Ok(
        if upload_status == Status::Done && tally.all_done() && unusable == 0 {
            Status::Done
        } else if upload_status == Status::Interrupted {
            Status::Interrupted
        } else {
            Status::Incomplete
        },
    )
}
