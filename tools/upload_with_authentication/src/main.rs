//! upload_with_authentication: uploads photos from other cameras as one new
//! sequence, building their Mapillary descriptions on the fly (the photos
//! are not changed), and asks before the sequence is finalized.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use mapillary_cli::network::connect;
use mapillary_cli::photos::{find_photos, read_photos_and_facts, report_time_warnings};
use mapillary_cli::sequences::{
    CUTOFF_DISTANCE, CUTOFF_TIME, ENV_CHECKS, ENV_CUTOFFS, ENV_LIMITS, report_findings,
};
use mapillary_cli::uploading::{UploadSettings, plan_sequences, upload_sequences};
use mapillary_cli::{
    Args, DRY_RUN, Failure, Opt, Positional, Reporter, Status, TIMEZONE, Tool, UPLOAD_JOBS,
    zone_rule,
};
use mapillary_core::description::Description;
use mapillary_core::sequence::rules::Forming;
use mapillary_core::sequence::{PLACEHOLDER_ID, new_sequence_uuid};
use mapillary_core::upload::{PlannedImage, form_sequences};

const YES: Opt = Opt {
    long: "yes",
    short: Some('y'),
    value: None,
    doc: "Finalize without asking (also MAPILLARY_TOOLS_PROMPT_DISABLED=YES).",
};

const TOOL: Tool = Tool {
    name: "upload_with_authentication",
    version: env!("CARGO_PKG_VERSION"),
    about: "Upload photos from other cameras as new sequences, asking before each is finalized.",
    positionals: &[Positional {
        name: "path",
        optional: false,
        doc: "A .jpg/.jpeg file, or a folder searched recursively for them.",
    }],
    options: &[
        YES,
        DRY_RUN,
        UPLOAD_JOBS,
        TIMEZONE,
        CUTOFF_TIME,
        CUTOFF_DISTANCE,
    ],
    description: "For photos from other cameras: builds each photo's Mapillary description from its EXIF \
        (as add_mapillary_tag_from_exif does, with the same required tags) without changing the photo, cuts \
        them into sequences by the same rules as add_mapillary_tag_from_exif (folder and camera, 60 s and \
        100 m gaps, Mapillary's limits; duplicates, photos at 0,0 and sequences faster than 400 km/h left \
        out, each reason in one message), gives each sequence a new UUID, and uploads them resumably (see \
        upload(1)). Photos that already hold a Mapillary description are refused: use upload for those.\n\n\
        Before each sequence is finalized it asks 'Finalize upload? [y/n]' (three tries). Without a terminal \
        to ask on, it needs --yes (or MAPILLARY_TOOLS_PROMPT_DISABLED=YES) and otherwise stops before \
        sending anything. Answering no leaves the photos uploaded but not finalized; a later run finalizes \
        them without sending them again. Photos are not moved.\n\n\
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
    mapillary_cli::run(&TOOL, run)
}

/// Asks on the terminal; three tries at a y/n answer.
fn finalize_on_terminal(name: &str, photos: usize) -> bool {
    let stdin = std::io::stdin();
    for _ in 0..3 {
        eprint!(
            "{photos} photos of sequence {} uploaded. Finalize upload? [y/n] ",
            mapillary_cli::report::escaped(name)
        );
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        if stdin.lock().read_line(&mut answer).unwrap_or(0) == 0 {
            return false;
        }
        match answer.trim().to_lowercase().as_str() {
            "y" | "yes" => return true,
            "n" | "no" => return false,
            _ => {}
        }
    }
    false
}

fn run(args: &Args, reporter: &Reporter) -> Result<Status, Failure> {
    let path = PathBuf::from(args.positional(0).unwrap_or_default());
    let dry_run = args.flag(DRY_RUN.long);
    let jobs = mapillary_cli::upload_jobs(args)?;
    let rule = zone_rule(args)?;
    let prompt_disabled = std::env::var("MAPILLARY_TOOLS_PROMPT_DISABLED")
        .is_ok_and(|v| v.eq_ignore_ascii_case("yes"));
    let ask = !(args.flag(YES.long) || prompt_disabled);
    if ask && !dry_run && !std::io::stdin().is_terminal() {
        return Err(Failure::Fatal(
            "there is no terminal to ask 'Finalize upload? [y/n]' on: pass --yes (or set MAPILLARY_TOOLS_PROMPT_DISABLED=YES) to finalize without asking".to_string(),
        ));
    }

    let rules = mapillary_cli::sequences::rules(args)?;

    let files = find_photos(&path, reporter)?;
    let (images, tally, status) =
        read_photos_and_facts(reporter, &files, jobs, |file, exif, facts| {
            if exif
                .image_description
                .as_deref()
                .and_then(|t| Description::parse(t).ok())
                .is_some_and(|d| d.is_mapillary())
            {
                return Err("already holds a Mapillary description: use upload".to_string());
            }
            let built = Description::from_exif(&exif, file, PLACEHOLDER_ID, &rule)
                .map_err(|e| e.to_string())?;
            report_time_warnings(reporter, file, &built.warnings);
            PlannedImage::new(file, built.description, facts).map_err(|e| e.to_string())
        });
    if status == Status::Interrupted {
        return Ok(status);
    }
    let formed = form_sequences(images, &rules, Forming::Cut);
    let left_out = report_findings(
        reporter,
        &formed.findings,
        "not uploaded",
        "new sequence from",
    );
    let (plans, unusable) = plan_sequences(reporter, formed.named(|_| new_sequence_uuid()));
    let connection = connect(reporter);
    let confirm = |name: &str, photos: usize| !ask || finalize_on_terminal(name, photos);
    let settings = UploadSettings {
        dry_run,
        jobs,
        confirm: &confirm,
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
