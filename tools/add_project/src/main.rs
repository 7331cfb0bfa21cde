//! add_project: adds an organization (the successor of the 2015
//! "projects") to the Mapillary description already in each photo.

use std::path::PathBuf;
use std::process::ExitCode;

use mapillary_cli::network::{connect, sign_in};
use mapillary_cli::photos::{find_photos, rewrite_photos, summary_line};
use mapillary_cli::{
    Args, DRY_RUN, FORCE, Failure, JOBS, KEEP_MTIME, Positional, Reporter, SYNC, Status, Tool,
};
use mapillary_core::api::graph::resolve_organization;
use mapillary_core::description::Description;
use mapillary_core::exif::{Decision, ExifEdits, tags, update_file};

const TOOL: Tool = Tool {
    name: "add_project",
    version: env!("CARGO_PKG_VERSION"),
    about: "Add an organization (2015: project) to the Mapillary description of photos.",
    positionals: &[
        Positional {
            name: "path",
            optional: false,
            doc: "A .jpg/.jpeg file, or a folder searched recursively for them.",
        },
        Positional {
            name: "project_name",
            optional: false,
            doc: "The organization: its ID, or the name or slug of one of your organizations.",
        },
    ],
    options: &[DRY_RUN, JOBS, SYNC, FORCE, KEEP_MTIME],
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
        atomically.",
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
    files: mapillary_cli::spec::REWRITTEN_PHOTOS,
    replaces: "add_project.py (2015)",
};

fn main() -> ExitCode {
    mapillary_cli::run(&TOOL, run)
}

fn run(args: &Args, reporter: &Reporter) -> Result<Status, Failure> {
    let path = PathBuf::from(args.positional(0).unwrap_or_default());
    let wanted = args.text(1, "project_name")?.unwrap_or_default();
    let dry_run = args.flag(DRY_RUN.long);
    let jobs = mapillary_cli::jobs(args)?;
    let options = mapillary_cli::rewrite_options(args);

    // Everything that can fail for the whole run comes before any photo
    // is touched.
    let files = find_photos(&path, reporter)?;
    let connection = connect(reporter);
    let (token, _) = sign_in(&connection, reporter)?;
    let org =
        resolve_organization(&connection.graph, &token.token, &wanted).map_err(Failure::fatal)?;
    reporter.explain(format_args!("organization {} ({})", org.name, org.id));

    let (tally, status) = rewrite_photos(
        reporter,
        &files,
        jobs,
        |_, file| {
            update_file(file, options, |exif| {
                let existing = exif.image_description.as_deref().map(Description::parse);
                match existing {
                    Some(Ok(mut d)) if d.is_mapillary() => {
                        match d.set_organization(&org.id).and_then(|moved| {
                            d.validate()?;
                            Ok(moved)
                        }) {
                            Ok(moved) => {
                                if !moved.is_empty() {
                                    reporter.explain(format_args!(
                                        "{}: kept {} inside MAPMetaTags (the schema allows no other top-level keys)",
                                        mapillary_cli::shown(file),
                                        moved.join(", ")
                                    ));
                                }
                                let mut edits = ExifEdits::new();
                                edits.set_text(tags::IMAGE_DESCRIPTION, &d.to_json());
                                Decision::Write(edits)
                            }
                            Err(e) => Decision::Skip(e.to_string()),
                        }
                    }
                    _ => Decision::Skip(
                        "no Mapillary description (run add_mapillary_tag_from_exif first)"
                            .to_string(),
                    ),
                }
            })
        },
        |_, file, dry| {
            let verb = if dry { "would join" } else { "joined" };
            Some(format!(
                "{}: {verb} organization {} ({})",
                mapillary_cli::shown(file),
                org.name,
                org.id
            ))
        },
    );
    reporter.summary(summary_line(
        &tally,
        &format!("added to {}", org.name),
        dry_run,
    ));
    Ok(status)
}
