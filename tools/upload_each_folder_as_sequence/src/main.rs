//! upload_each_folder_as_sequence: uploads every folder of photos as its
//! own sequence, optionally joining an organization (2015: project).

use mapillary_cli::flags::photos_path;
use std::path::Path;
use std::process::ExitCode;

use mapillary_cli::Status;
use mapillary_cli::failure::Failure;
use mapillary_cli::flags::{Complete, DryRun, Positional, Timezone, UPLOAD_JOBS, Yes, text};
use mapillary_cli::printer::Printer;
use mapillary_cli::sequences::{
    CutoffDistance, CutoffTime, ENV_CHECKS, ENV_CUTOFFS, ENV_LIMITS, FormingArgs,
};
use mapillary_cli::tool::Tool;
use mapillary_cli::uploading::{Upload, upload};
use mapillary_cli::work::time_warnings;
use mapillary_core::description::Description;
use mapillary_core::exif::PhotoExif;
use mapillary_core::sequence::PLACEHOLDER_ID;
use mapillary_core::upload::PlannedImage;

/// The tool's own argument.
#[derive(Debug, Default)]
struct Own {
    /// The organization the sequences join.
    project: Option<String>,
}

type Args = FormingArgs<Own>;

const TOOL: Tool<Args> = Tool {
    name: "upload_each_folder_as_sequence",
    version: env!("CARGO_PKG_VERSION"),
    about: "Upload every folder of photos as its own sequence.",
    positionals: &[
        photos_path("A folder searched recursively for .jpg/.jpeg files (or one file)."),
        Positional {
            name: "project_name",
            doc: "An organization (2015: project) the sequences join: its ID, or the name or slug of one of yours.",
            optional: true,
            complete: Complete::Nothing,
            set: |a, v| {
                a.own.project = Some(text(v, "project_name")?);
                Ok(())
            },
        },
    ],
    flags: &[
        &Yes,
        &DryRun,
        &UPLOAD_JOBS,
        &Timezone,
        &CutoffTime,
        &CutoffDistance,
    ],
    description: "Every folder under path that holds photos becomes its own sequence, with a fresh sequence \
        UUID; a folder is cut into several where the rules of add_mapillary_tag_from_exif say (a camera of its \
        own, 60 s and 100 m gaps, Mapillary's limits; duplicates, photos at 0,0 and sequences faster than \
        400 km/h are left out, each reason in one message). Each photo's Mapillary description is built as add_mapillary_tag_from_exif does \
        (keeping the keys of a Mapillary description it already holds), with the organization when \
        project_name is given (as add_project does; it is resolved before anything is uploaded), and the \
        sequences are uploaded resumably (see upload(1)). The photos are not changed and not moved.\n\n\
        Every sequence is finalized once its photos are uploaded: this tool never asks. --yes (and \
        MAPILLARY_TOOLS_PROMPT_DISABLED=YES) are accepted as by upload_with_authentication, so that one \
        command line serves both; they change nothing here.\n\n\
        Progress: a 'reading' bar counts the photos read, an 'uploading' bar the megabytes sent. With \
        --json, each sequence is a 'sequence' object and each photo uploaded a 'photo' object, as with \
        upload(1) (docs/json.md).",
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
            "Accepted (YES), as by upload_with_authentication; this tool never asks.",
        ),
        (
            "MAPILLARY_GRAPH_API_ENDPOINT, MAPILLARY_UPLOAD_ENDPOINT",
            "Where the API is (e.g. the local server).",
        ),
        ENV_CUTOFFS,
        ENV_LIMITS,
        ENV_CHECKS,
    ],
    examples: &[
        (
            "upload_each_folder_as_sequence trips",
            "trips/day1, trips/day2, ... each become a sequence.",
        ),
        (
            "upload_each_folder_as_sequence trips 1234567890",
            "The same, joining organization 1234567890.",
        ),
    ],
    files: "",
    replaces: "upload_each_folder_as_sequence.py (2015)",
};

fn main() -> ExitCode {
    mapillary_cli::tool::main(&TOOL, run)
}

fn run(args: Args, printer: &Printer) -> Result<Status, Failure> {
    let zone = args.shared.zone_rule();
    let plan = |file: &Path, exif: PhotoExif, facts| {
        let built = Description::tag_photo(&exif, file, PLACEHOLDER_ID, &zone)?;
        time_warnings(printer, file, &built.warnings);
        Ok(PlannedImage::new(file, built.description, facts)?)
    };
    // --yes (and MAPILLARY_TOOLS_PROMPT_DISABLED) are taken as by the
    // other upload tools; this one never asks.
    let job = Upload {
        organization: args.own.project.as_deref(),
        ..Upload::formed(&args, &plan)?
    };
    upload(printer, job)
}
