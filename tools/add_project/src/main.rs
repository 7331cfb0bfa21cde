//! add_project: adds an organization (the successor of the 2015
//! "projects") to the Mapillary description already in each photo.

use std::path::PathBuf;
use std::process::ExitCode;

use mapillary_cli::Status;
use mapillary_cli::connection::{connect, find_organization, sign_in};
use mapillary_cli::failure::Failure;
use mapillary_cli::flags::{
    Complete, DryRun, Force, JOBS, KeepMtime, PHOTOS_PATH_DOC, Positional, Shared, SyncWrites,
    photos_path, text,
};
use mapillary_cli::printer::Printer;
use mapillary_cli::tool::Tool;
use mapillary_cli::work::{find_photos, rewrite_photos};
use mapillary_core::description::Description;
use mapillary_core::exif::{Decision, ExifEdits, tags, update_file};
use mapillary_core::reason::Unusable;
use mapillary_core::shown::shown;
use serde_json::json;

#[derive(Debug, Default)]
struct Args {
    shared: Shared,
    path: PathBuf,
    /// The organization as given: an ID, a name or a slug.
    organization: String,
}

mapillary_cli::tool_args!(Args, path: path);

const TOOL: Tool<Args> = Tool {
    name: "add_project",
    version: env!("CARGO_PKG_VERSION"),
    about: "Add an organization (2015: project) to the Mapillary description of photos.",
    positionals: &[
        photos_path(PHOTOS_PATH_DOC),
        Positional {
            name: "project_name",
            doc: "The organization: its ID, or the name or slug of one of your organizations.",
            optional: false,
            complete: Complete::Nothing,
            set: |a, v| {
                a.organization = text(v, "project_name")?;
                Ok(())
            },
        },
    ],
    flags: &[&DryRun, &JOBS, &SyncWrites, &Force, &KeepMtime],
    description: "Signs in, finds the organization, and adds its key to the Mapillary description in each \
        photo's ImageDescription, as MAPOrganizationKey inside MAPMetaTags (the one place Mapillary's \
        image description schema leaves free), keeping every other key of the description. Uploads then \
        join the organization; MAPMetaTags itself is never sent. A MAPOrganizationKey at the top level, as \
        earlier versions wrote it, is replaced; other keys the schema does not allow at the top level (the \
        2015 apps' MAPSettingsUsername, MAPPhotoUUID, ...) are kept inside MAPMetaTags (-v names them). A \
        description that would still not fit the schema is not written: the photo is skipped with the key \
        named.\n\n\
        Organizations replaced the 2015 projects. A name is found where the server lists your \
        organizations; Mapillary's public API documents no such listing, so with it give the organization's \
        ID (the number in its page's URL). When the organization is not found, the tool lists yours and \
        changes no photo. Photos without a Mapillary description are skipped (run \
        add_mapillary_tag_from_exif first). Only ImageDescription changes, and each photo is replaced \
        atomically.\n\n\
        The photos are found first, then the organization, before any photo is touched: a path that is not \
        there is exit status 2, a folder without photos and an organization not found are 1, each said in \
        one line. With --json, each photo written has organization (its ID) and the summary has \
        organization (id and name); see docs/json.md.",
    environment: &[
        (
            "MAPILLARY_ACCESS_TOKEN",
            "A user access token (also MAPILLARY_UPLOAD_TOKEN).",
        ),
        (
            "MAPILLARY_USERNAME",
            "Chooses the profile in the profiles file (the official client's).",
        ),
        (
            "MAPILLARY_EMAIL, MAPILLARY_PASSWORD",
            "Log in with these (needs MAPILLARY_CLIENT_TOKEN); the token is cached in the profiles file, mode 0600.",
        ),
        (
            "MAPILLARY_CLIENT_TOKEN",
            "The app's client token, for logging in.",
        ),
        ("MAPILLARY_CONFIG_PATH", "The profiles file."),
        (
            "MAPILLARY_GRAPH_API_ENDPOINT",
            "The graph API (default https://graph.mapillary.com), e.g. the local server.",
        ),
    ],
    examples: &[
        (
            "add_project trip 1234567890",
            "Add organization 1234567890 to every photo under trip/.",
        ),
        (
            "add_project trip 'City Mappers' --dry-run",
            "Look up the organization by name; change nothing.",
        ),
    ],
    files: mapillary_cli::tool::REWRITTEN_PHOTOS,
    replaces: "add_project.py (2015)",
};

fn main() -> ExitCode {
    mapillary_cli::tool::main(&TOOL, run)
}

fn run(args: Args, printer: &Printer) -> Result<Status, Failure> {
    // Everything that can fail for the whole run comes before any photo
    // is touched.
    let files = find_photos(&args.path, printer)?;
    let connection = connect(printer);
    let (token, _) = sign_in(&connection, printer)?;
    let org = find_organization(&connection, &token.token, &args.organization, printer)?;
    let options = args.shared.rewrite_options();
    let (tally, status) = rewrite_photos(
        printer,
        "tagging",
        &files,
        args.shared.jobs,
        |_, file| {
            update_file(file, options, |exif| {
                // Text that is not a Mapillary description is no description.
                let existing = exif
                    .image_description
                    .as_deref()
                    .and_then(|text| Description::parse(text).ok())
                    .filter(Description::is_mapillary);
                let Some(mut d) = existing else {
                    return Decision::skip(Unusable::NoDescription);
                };
                let moved = match d.set_organization(&org.id).and_then(|moved| {
                    d.validate()?;
                    Ok(moved)
                }) {
                    Ok(moved) => moved,
                    Err(e) => return Decision::skip(e),
                };
                if !moved.is_empty() {
                    printer.explain(format_args!(
                        "{}: kept {} inside MAPMetaTags (the schema allows no other top-level keys)",
                        shown(file),
                        moved.join(", ")
                    ));
                }
                let mut edits = ExifEdits::new();
                edits.set_text(tags::IMAGE_DESCRIPTION, &d.to_json());
                Decision::Write(edits)
            })
        },
        |_, file, dry| {
            let verb = if dry { "would join" } else { "joined" };
            (
                Some(format!(
                    "{}: {verb} organization {} ({})",
                    shown(file),
                    org.name,
                    org.id
                )),
                json!({"organization": org.id}),
            )
        },
    );
    let mut summary = tally.json();
    summary["organization"] = json!({"id": org.id, "name": org.name});
    printer.summary(
        tally.line(&format!("added to {}", org.name), args.shared.dry_run),
        summary,
    );
    Ok(status)
}
