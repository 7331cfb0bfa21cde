//! download_images: downloads the Mapillary images inside a bounding box
//! into `downloaded/`, with `downloaded.txt` listing them.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Duration;

use mapillary_cli::connection::{connect, read_token};
use mapillary_cli::failure::Failure;
use mapillary_cli::flags::{
    Complete, DOWNLOAD_JOBS, DryRun, Flag, Positional, Shared, ToolArgs, UsageError, finite,
    number, path, text,
};
use mapillary_cli::printer::{Printer, Unit, plural};
use mapillary_cli::tool::Tool;
use mapillary_cli::work::clear_leftovers;
use mapillary_cli::{Status, interrupt_flag};
use mapillary_core::api::graph::{BoundingBox, Edge};
use mapillary_core::batch::for_each_in_order;
use mapillary_core::download::{
    DEFAULT_MAX_REQUESTS, DEFAULT_THUMBNAIL_DEADLINE, Fetched, Listing, SearchLimits, SearchResult,
    ThumbSize, ThumbnailFetcher, search_within, update_listing,
};
use mapillary_core::reason::Reason;
use mapillary_core::shown::shown;
use serde_json::json;

#[derive(Debug)]
struct Args {
    shared: Shared,
    bbox: BoundingBox,
    max_results: usize,
    size: ThumbSize,
    output: PathBuf,
    max_requests: usize,
    timeout: Duration,
}

impl Default for Args {
    fn default() -> Args {
        Args {
            shared: Shared::default(),
            // Every edge is a required argument, so each is replaced.
            bbox: BoundingBox::WORLD,
            max_results: 400,
            size: ThumbSize::S1024,
            output: PathBuf::from("downloaded"),
            max_requests: DEFAULT_MAX_REQUESTS,
            timeout: DEFAULT_THUMBNAIL_DEADLINE,
        }
    }
}

impl ToolArgs for Args {
    fn shared(&mut self) -> &mut Shared {
        &mut self.shared
    }

    /// Each edge was checked as it was read; here, that they make a box.
    fn check(&self) -> Result<(), UsageError> {
        self.bbox.validate().map_err(|e| UsageError(e.to_string()))
    }
}

/// Reads one edge of the box: a finite number of degrees, in range.
fn edge(args: &mut Args, value: &OsStr, edge: Edge) -> Result<(), UsageError> {
    let degrees = finite(value, edge.name(), "degrees")?;
    edge.set(&mut args.bbox, degrees)
        .map_err(|e| UsageError(e.to_string()))
}

fn max_results(args: &mut Args, value: &OsStr) -> Result<(), UsageError> {
    let given = text(value, "max_results")?;
    args.max_results = given
        .trim()
        .parse::<usize>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            UsageError(format!(
                "max_results must be a whole number above 0, not '{given}'"
            ))
        })?;
    Ok(())
}

/// `--size SIZE`.
struct Size;

impl Flag<Args> for Size {
    fn long(&self) -> &'static str {
        "size"
    }
    fn value_name(&self) -> Option<&'static str> {
        Some("SIZE")
    }
    fn doc(&self) -> &'static str {
        "Thumbnail size: 256, 1024 (default, as in 2015), 2048 or original."
    }
    fn complete(&self) -> Complete {
        Complete::Choices(&["256", "1024", "2048", "original"])
    }
    fn set(&self, args: &mut Args, value: Option<&OsStr>) -> Result<(), UsageError> {
        let given = text(value.unwrap_or_default(), "--size")?;
        args.size = ThumbSize::parse(&given)
            .ok_or_else(|| UsageError("--size must be 256, 1024, 2048 or original".into()))?;
        Ok(())
    }
}

/// `-o, --output DIR`.
struct Output;

impl Flag<Args> for Output {
    fn long(&self) -> &'static str {
        "output"
    }
    fn short(&self) -> Option<char> {
        Some('o')
    }
    fn value_name(&self) -> Option<&'static str> {
        Some("DIR")
    }
    fn doc(&self) -> &'static str {
        "The folder to download into (default: downloaded); created when missing."
    }
    fn complete(&self) -> Complete {
        Complete::Folder
    }
    fn set(&self, args: &mut Args, value: Option<&OsStr>) -> Result<(), UsageError> {
        let folder = path(value.unwrap_or_default());
        if folder.as_os_str().is_empty() {
            return Err(UsageError("--output needs a folder name".into()));
        }
        args.output = folder;
        Ok(())
    }
}

/// `--max-requests N`.
struct MaxRequests;

impl Flag<Args> for MaxRequests {
    fn long(&self) -> &'static str {
        "max-requests"
    }
    fn value_name(&self) -> Option<&'static str> {
        Some("N")
    }
    fn doc(&self) -> &'static str {
        "Send at most N search requests (default 1000); a box that would need more is stopped with a message."
    }
    fn set(&self, args: &mut Args, value: Option<&OsStr>) -> Result<(), UsageError> {
        let n: usize = number(value.unwrap_or_default(), "--max-requests")?;
        if n == 0 {
            return Err(UsageError("--max-requests must be at least 1".into()));
        }
        args.max_requests = n;
        Ok(())
    }
}

/// The longest `--timeout`: a day.
const MAX_TIMEOUT_SECONDS: f64 = 86_400.0;

/// `--timeout SECONDS`.
struct Timeout;

impl Flag<Args> for Timeout {
    fn long(&self) -> &'static str {
        "timeout"
    }
    fn value_name(&self) -> Option<&'static str> {
        Some("SECONDS")
    }
    fn doc(&self) -> &'static str {
        "Give up on a thumbnail request that has not arrived in full after SECONDS (default 120); it is tried 4 times."
    }
    fn set(&self, args: &mut Args, value: Option<&OsStr>) -> Result<(), UsageError> {
        let value = value.unwrap_or_default();
        let seconds = finite(value, "--timeout", "seconds")?;
        args.timeout = Duration::try_from_secs_f64(seconds)
            .ok()
            .filter(|d| !d.is_zero() && seconds <= MAX_TIMEOUT_SECONDS)
            .ok_or_else(|| {
                UsageError(format!(
                    "--timeout must be more than 0 and at most 86400 seconds, not '{}'",
                    value.to_string_lossy()
                ))
            })?;
        Ok(())
    }
}

const TOOL: Tool<Args> = Tool {
    name: "download_images",
    version: env!("CARGO_PKG_VERSION"),
    about: "Download the Mapillary images inside a bounding box.",
    positionals: &[
        Positional {
            name: "min_lat",
            doc: "Southern edge, decimal degrees (-90 to 90).",
            optional: false,
            complete: Complete::Nothing,
            set: |a, v| edge(a, v, Edge::MinLat),
        },
        Positional {
            name: "max_lat",
            doc: "Northern edge.",
            optional: false,
            complete: Complete::Nothing,
            set: |a, v| edge(a, v, Edge::MaxLat),
        },
        Positional {
            name: "min_lon",
            doc: "Western edge, decimal degrees (-180 to 180).",
            optional: false,
            complete: Complete::Nothing,
            set: |a, v| edge(a, v, Edge::MinLon),
        },
        Positional {
            name: "max_lon",
            doc: "Eastern edge.",
            optional: false,
            complete: Complete::Nothing,
            set: |a, v| edge(a, v, Edge::MaxLon),
        },
        Positional {
            name: "max_results",
            doc: "At most this many images (default 400).",
            optional: true,
            complete: Complete::Nothing,
            set: max_results,
        },
    ],
    flags: &[
        &DOWNLOAD_JOBS,
        &Size,
        &Output,
        &MaxRequests,
        &Timeout,
        &DryRun,
    ],
    description: "Searches Mapillary (API v4, images by bounding box) for images inside the rectangle (note the \
        order: both latitudes first, as in 2015) and saves their thumbnails as <image id>.jpg in the output \
        folder, with downloaded.txt listing every image there as filename,lat,lon (the 2015 format). The \
        rectangle is asked for whole; where the server refuses it as too large, or its answer is full, it is \
        split in four and each quarter asked for in turn, until max_results images are found or the \
        rectangle is searched; results are deduplicated by image id. At most 20 search requests go out a \
        second, and at most --max-requests in all: a rectangle the server answers only in tiles too small to \
        cover it within that limit is stopped at once, with the size of tile the server answers, and what was \
        found is downloaded (exit status 1).\n\n\
        Every request has a deadline: 60 s for a search request (from connecting to the last byte of the \
        answer), --timeout for a thumbnail. Errors say what happened: an HTTP status with the server's \
        message, an answer too large, a URL that is not http or https, a server too slow, or one that cannot \
        be reached. An entry of the server's answer that cannot be used is reported once.\n\n\
        Downloads run in parallel and are resumable: each image is streamed into a temporary file and \
        renamed into place only when complete, images already there are skipped, and the folder is never \
        emptied (the 2015 script deleted it). An image id that is not a plain id is refused, never used as a \
        file name. Thumbnails are fetched without the token, which stays with the API.\n\n\
        A box without any image is nothing to do: it is said, nothing is created, and the exit status is 1; \
        so it is when an entry of the answer is refused or a thumbnail fails. Images already in the folder \
        are not a failure. An --output that exists and is not a folder is refused before any request (exit \
        status 2). With --json, each image is a photo object (status downloaded, already_there or failed, \
        with its id, lat and lon), with --dry-run an image object (id, file, lat, lon, url), and each \
        refused entry a refused object with its reason's code (see docs/json.md).",
    environment: &[
        (
            "MAPILLARY_ACCESS_TOKEN",
            "A user access token (also MAPILLARY_UPLOAD_TOKEN, or a profile chosen by MAPILLARY_USERNAME).",
        ),
        (
            "MAPILLARY_CLIENT_TOKEN",
            "Without a user token, the app's client token is enough to search.",
        ),
        (
            "MAPILLARY_GRAPH_API_ENDPOINT",
            "The graph API (default https://graph.mapillary.com), e.g. the local server.",
        ),
    ],
    examples: &[
        (
            "download_images 52.51 52.52 13.37 13.39",
            "Up to 400 images of a part of Berlin, into downloaded/.",
        ),
        (
            "download_images 52.51 52.52 13.37 13.39 5000 --size 2048 -o berlin",
            "More and larger, into berlin/.",
        ),
    ],
    files: "",
    replaces: "download_images.py (2015)",
};

fn main() -> ExitCode {
    mapillary_cli::tool::main(&TOOL, run)
}

fn run(args: Args, printer: &Printer) -> Result<Status, Failure> {
    // A folder named on the command line that cannot be one: before any
    // request.
    let output = &args.output;
    if fs::metadata(output).is_ok_and(|m| !m.is_dir()) {
        return Err(Failure::input(format_args!(
            "{}: not a folder (--output)",
            shown(output)
        )));
    }
    let connection = connect(printer);
    let token = read_token(&connection, printer)?;
    let limits = SearchLimits {
        max_requests: args.max_requests,
        ..SearchLimits::default()
    };
    let found = search_within(
        &connection.graph,
        &token,
        &args.bbox,
        args.size,
        args.max_results,
        &limits,
    )?;
    printer.explain(format_args!(
        "{} to the images endpoint; at most {} waiting at a time",
        plural(found.requests, "request", "requests"),
        plural(found.most_pending, "tile", "tiles")
    ));
    for why in &found.refused {
        refused(printer, why);
    }
    if let Some(stop) = &found.stopped {
        printer.error(format_args!("{stop} (--max-requests sets the limit)"));
    }
    if found.images.is_empty() && found.refused.is_empty() && found.stopped.is_none() {
        return Err(Failure::nothing_to_do(format_args!(
            "no images in the box (latitude {} to {}, longitude {} to {})",
            args.bbox.min_lat, args.bbox.max_lat, args.bbox.min_lon, args.bbox.max_lon
        )));
    }
    let complete = found.refused.is_empty() && found.stopped.is_none();
    if args.shared.dry_run {
        for image in &found.images {
            printer.item(
                "image",
                format_args!(
                    "{},{},{} <- {}",
                    image.file_name(),
                    image.lat,
                    image.lon,
                    image.url
                ),
                json!({
                    "id": image.id,
                    "file": image.file_name(),
                    "lat": image.lat,
                    "lon": image.lon,
                    "url": image.url,
                }),
            );
        }
        printer.summary(
            format_args!("found {}; nothing downloaded (dry run)", found.images.len()),
            json!({"found": found.images.len(), "failed": found.refused.len()}),
        );
        return Ok(if complete {
            Status::Done
        } else {
            Status::Incomplete
        });
    }
    download(&args, printer, &found, complete)
}

/// An entry of the server's answer that cannot be used: an error for
/// people, an object with the reason's code for scripts.
fn refused(printer: &Printer, why: &dyn Reason) {
    if printer.is_json() {
        printer.item(
            "refused",
            why,
            json!({"reason": {"code": why.code(), "message": why.to_string()}}),
        );
    } else {
        printer.error(format_args!("refused: {why}"));
    }
}

/// What the downloads came to.
#[derive(Debug, Default)]
struct Counts {
    downloaded: usize,
    already_there: usize,
    failed: usize,
}

fn download(
    args: &Args,
    printer: &Printer,
    found: &SearchResult,
    complete: bool,
) -> Result<Status, Failure> {
    let output = &args.output;
    fs::create_dir_all(output).map_err(|e| {
        Failure::input(format_args!(
            "{}: {} (--output)",
            shown(output),
            mapillary_core::io_reason(&e)
        ))
    })?;
    clear_leftovers(printer, output);
    let fetcher = ThumbnailFetcher::new().with_deadline(args.timeout);
    let p = printer.clone();
    let notify = move |m: &str| p.warn(m);
    let mut counts = Counts {
        failed: found.refused.len(),
        ..Counts::default()
    };
    // The images now in the folder, for downloaded.txt.
    let mut present = Listing::new();
    let progress = printer.progress(
        "downloading",
        found.images.len() as u64,
        Unit::Items("images"),
    );
    let stop = interrupt_flag();
    let reported = for_each_in_order(
        &found.images,
        args.shared.jobs,
        stop,
        |_, image| fetcher.fetch(image, output, &notify),
        |_, image, result| {
            progress.advance(1);
            let file = output.join(image.file_name());
            let data = json!({"id": image.id, "lat": image.lat, "lon": image.lon});
            match result {
                Ok(Fetched::Downloaded) => {
                    counts.downloaded += 1;
                    present.insert(image.file_name(), (image.lat, image.lon));
                    printer.explain(format_args!("{}", image.file_name()));
                    printer.done(&file, "downloaded", None, data);
                }
                Ok(Fetched::AlreadyThere) => {
                    counts.already_there += 1;
                    present.insert(image.file_name(), (image.lat, image.lon));
                    printer.done(&file, "already_there", None, data);
                }
                Err(e) => {
                    counts.failed += 1;
                    printer.failed(&file, &e);
                }
            }
        },
    );
    drop(progress);
    let listed = list(output, &present)?;
    let summary = format!(
        "found {}, downloaded {}, skipped {} (already there), failed {}; {} in {}",
        found.images.len(),
        counts.downloaded,
        counts.already_there,
        counts.failed,
        plural(listed, "image", "images"),
        shown(output)
    );
    printer.summary(
        summary,
        json!({
            "found": found.images.len(),
            "done": counts.downloaded,
            "already_there": counts.already_there,
            "failed": counts.failed,
            "listed": listed,
            "folder": shown(output).to_string(),
        }),
    );
    let left = found.images.len() - reported;
    Ok(if stop.load(Ordering::SeqCst) && left > 0 {
        printer.error(format_args!(
            "interrupted: {} not downloaded; run again to finish",
            plural(left, "image", "images")
        ));
        Status::Interrupted
    } else if counts.failed > 0 || !complete {
        Status::Incomplete
    } else {
        Status::Done
    })
}

/// Adds the images now in `output` to its downloaded.txt (every line it
/// had is kept); returns how many images it lists.
fn list(output: &Path, present: &Listing) -> Result<usize, Failure> {
    let path = output.join("downloaded.txt");
    update_listing(&path, present)
        .map_err(|e| Failure::fatal(format_args!("{}: {e}", shown(&path))))
}
