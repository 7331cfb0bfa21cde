//! upload_with_authentication: uploads photos from other cameras as one new
//! sequence, building their Mapillary descriptions on the fly (the photos
//! are not changed), and asks before the sequence is finalized.

use std::path::Path;
use std::process::ExitCode;

use mapillary_cli::Status;
use mapillary_cli::failure::Failure;
use mapillary_cli::flags::{DryRun, PHOTOS_PATH_DOC, Timezone, UPLOAD_JOBS, Yes, photos_path};
use mapillary_cli::printer::Printer;
use mapillary_cli::sequences::{
    CutoffDistance, CutoffTime, ENV_CHECKS, ENV_CUTOFFS, ENV_LIMITS, FormingArgs,
};
use mapillary_cli::tool::Tool;
use mapillary_cli::uploading::{Finalize, Upload, prompt_disabled, upload};
use mapillary_cli::work::time_warnings;
use mapillary_core::description::Description;
use mapillary_core::exif::PhotoExif;
use mapillary_core::reason::Refused;
use mapillary_core::sequence::PLACEHOLDER_ID;
use mapillary_core::upload::PlannedImage;

type Args = FormingArgs<()>;

const TOOL: Tool<Args> = Tool {
    name: "upload_with_authentication",
    version: env!("CARGO_PKG_VERSION"),
    about: "Upload photos from other cameras as new sequences, asking before each is finalized.",
    positionals: &[photos_path(PHOTOS_PATH_DOC)],
    flags: &[
        &Yes,
        &DryRun,
        &UPLOAD_JOBS,
        &Timezone,
        &CutoffTime,
        &CutoffDistance,
    ],
    description: "For photos from other cameras: builds each photo's Mapillary description from its EXIF \
        (as add_mapillary_tag_from_exif does, with the same required tags) without changing the photo, cuts \
        them into sequences by the same rules as add_mapillary_tag_from_exif (folder and camera, 60 s and \
        100 m gaps, Mapillary's limits; duplicates, photos at 0,0 and sequences faster than 400 km/h left \
        out, each reason in one message), gives each sequence a new UUID, and uploads them resumably (see \
        upload(1)). Photos that already hold a Mapillary description are refused: use upload for those.\n\n\
        Before each sequence is finalized it asks 'N photos of sequence X uploaded. Finalize upload? [y/n]' \
        on the terminal, with the progress bar out of the way (three tries; y or yes, n or no; the end of \
        the input is no). Without a terminal to ask on, it needs --yes (or \
        MAPILLARY_TOOLS_PROMPT_DISABLED=YES) and otherwise stops before sending anything; a dry run asks \
        nothing. Answering no leaves the photos uploaded but not finalized; a later run finalizes them \
        without sending them again. Photos are not moved.\n\n\
        Progress: a 'reading' bar counts the photos read, an 'uploading' bar the megabytes sent. With \
        --json, each sequence is a 'sequence' object and each photo uploaded a 'photo' object, as with \
        upload(1) (docs/json.md); the question is still asked on the terminal, so scripts pass --yes.\n\n\
        The 2015 MAPILLARY_PERMISSION_HASH and MAPILLARY_SIGNATURE_HASH were upload policies of a service \
        that no longer exists: they are ignored (never sent), and an access token is used instead.",
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
            "MAPILLARY_TOOLS_PROMPT_DISABLED",
            "YES: finalize without asking.",
        ),
        (
            "MAPILLARY_GRAPH_API_ENDPOINT, MAPILLARY_UPLOAD_ENDPOINT",
            "Where the API is (e.g. the local server).",
        ),
        (
            "MAPILLARY_PERMISSION_HASH, MAPILLARY_SIGNATURE_HASH",
            "Ignored (retired 2015 upload policies); a note says so.",
        ),
        ENV_CUTOFFS,
        ENV_LIMITS,
        ENV_CHECKS,
    ],
    examples: &[
        (
            "upload_with_authentication trip",
            "Upload trip/ as new sequences, asking before finalizing each.",
        ),
        (
            "upload_with_authentication trip --yes",
            "The same from a script.",
        ),
    ],
    files: "",
    replaces: "upload_with_authentication.py (2015)",
};

fn main() -> ExitCode {
    mapillary_cli::tool::main(&TOOL, run)
}

fn run(args: Args, printer: &Printer) -> Result<Status, Failure> {
    let zone = args.shared.zone_rule();
    let plan = |file: &Path, exif: PhotoExif, facts| {
        if exif
            .image_description
            .as_deref()
            .and_then(|t| Description::parse(t).ok())
            .is_some_and(|d| d.is_mapillary())
        {
            return Err(Refused::HoldsDescription.into());
        }
        let built = Description::from_exif(&exif, file, PLACEHOLDER_ID, &zone)?;
        time_warnings(printer, file, &built.warnings);
        Ok(PlannedImage::new(file, built.description, facts)?)
    };
    let ask = !(args.shared.yes || prompt_disabled());
    let job = Upload {
        finalize: if ask { Finalize::Ask } else { Finalize::Always },
        ..Upload::formed(&args, &plan)?
    };
    upload(printer, job)
}
