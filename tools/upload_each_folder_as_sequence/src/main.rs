//! upload_each_folder_as_sequence: uploads every folder of photos as its
//! own sequence, optionally joining an organization (2015: project).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use mapillary_cli::network::{connect, sign_in};
use mapillary_cli::photos::{find_photos, read_photos_and_facts, report_time_warnings};
use mapillary_cli::sequences::{
    CUTOFF_DISTANCE, CUTOFF_TIME, ENV_CHECKS, ENV_CUTOFFS, ENV_LIMITS, report_findings,
};
use mapillary_cli::uploading::{UploadSettings, plan_sequences, upload_sequences};
use mapillary_cli::{
    Args, DRY_RUN, Failure, Positional, Reporter, Status, TIMEZONE, Tool, UPLOAD_JOBS, zone_rule,
};
use mapillary_core::api::graph::resolve_organization;
use mapillary_core::description::Description;
use mapillary_core::sequence::rules::Forming;
use mapillary_core::sequence::{PLACEHOLDER_ID, new_sequence_uuid};
use mapillary_core::upload::{PlannedImage, form_sequences};

const TOOL: Tool = Tool {
    name: "upload_each_folder_as_sequence",
    version: env!("CARGO_PKG_VERSION"),
    about: "Upload every folder of photos as its own sequence.",
    positionals: &[
        Positional {
            name: "path",
            optional: false,
            doc: "A folder searched recursively for .jpg/.jpeg files (or one file).",
        },
        Positional {
            name: "project_name",
            optional: true,
            doc: "An organization (2015: project) the sequences join: its ID, or the name or slug of one of yours.",
        },
    ],
    options: &[DRY_RUN, UPLOAD_JOBS, TIMEZONE, CUTOFF_TIME, CUTOFF_DISTANCE],
    description: "Every folder under path that holds photos becomes its own sequence, with a fresh sequence \
        UUID; a folder is cut into several where the rules of add_mapillary_tag_from_exif say (a camera of its \
        own, 60 s and 100 m gaps, Mapillary's limits; duplicates, photos at 0,0 and sequences faster than \
        400 km/h are left out, each reason in one message). Each photo's Mapillary description is built as add_mapillary_tag_from_exif does \
        (keeping the keys of a Mapillary description it already holds), with the organization when \
        project_name is given (as add_project does; it is resolved before anything is uploaded), and the \
        sequences are uploaded resumably (see upload(1)). The photos are not changed and not moved.",
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
    mapillary_cli::run(&TOOL, run)
}

fn run(args: &Args, reporter: &Reporter) -> Result<Status, Failure> {
    let path = PathBuf::from(args.positional(0).unwrap_or_default());
    let project = args.text(1, "project_name")?;
    let dry_run = args.flag(DRY_RUN.long);
    let jobs = mapillary_cli::upload_jobs(args)?;
    let rule = zone_rule(args)?;

    let rules = mapillary_cli::sequences::rules(args)?;

    let files = find_photos(&path, reporter)?;
    let connection = connect(reporter);
    let organization = match &project {
        Some(name) => {
            let (token, _) = sign_in(&connection, reporter)?;
            let org = resolve_organization(&connection.graph, &token.token, name)
                .map_err(Failure::fatal)?;
            reporter.explain(format_args!("organization {} ({})", org.name, org.id));
            Some(org)
        }
        None => None,
    };
    let (images, tally, status) =
        read_photos_and_facts(reporter, &files, jobs, |file, exif, facts| {
            let built = Description::tag_photo(&exif, file, PLACEHOLDER_ID, &rule)
                .map_err(|e| e.to_string())?;
            report_time_warnings(reporter, file, &built.warnings);
            let mut description = built.description;
            if let Some(org) = &organization {
                description
                    .set_organization(&org.id)
                    .map_err(|e| e.to_string())?;
            }
            PlannedImage::new(file, description, facts).map_err(|e| e.to_string())
        });
    if status == Status::Interrupted {
        return Ok(status);
    }
    // Each folder (and camera) is cut into sequences where the rules say.
    let formed = form_sequences(images, &rules, Forming::Cut);
    let left_out = report_findings(
        reporter,
        &formed.findings,
        "not uploaded",
        "new sequence from",
    );
    let images = formed.named(|_| new_sequence_uuid());
    if reporter.is_verbose() {
        let mut folders: BTreeMap<(PathBuf, String), usize> = BTreeMap::new();
        for image in &images {
            let folder = image.path.parent().map(PathBuf::from).unwrap_or_default();
            let sequence = image.description.sequence_uuid().unwrap_or_default();
            *folders.entry((folder, sequence.to_string())).or_default() += 1;
        }
        for ((folder, sequence), n) in folders {
            reporter.explain(format_args!(
                "{}: sequence {sequence} ({n} photos)",
                mapillary_cli::shown(&folder)
            ));
        }
    }
    let (plans, unusable) = plan_sequences(reporter, images);
    let settings = UploadSettings {
        dry_run,
        jobs,
        confirm: &|_, _| true,
        rules,
    };
    let (_, upload_status) = upload_sequences(reporter, &connection, plans, &settings)?;
    Ok(
        if upload_status == Status::Done && (!tally.all_done() || left_out + unusable > 0) {
            Status::Incomplete
        } else {
            upload_status
        },
    )
}
