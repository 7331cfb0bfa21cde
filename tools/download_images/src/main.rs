//! download_images: downloads the Mapillary images inside a bounding box
//! into `downloaded/`, with `downloaded.txt` listing them.

use std::fs;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;

use mapillary_cli::network::{connect, read_token};
use mapillary_cli::{
    Args, DRY_RUN, Failure, Opt, Positional, Reporter, Status, Tool, Unit, interrupt_flag,
    parse_finite, plural, shown,
};
use mapillary_core::api::graph::BoundingBox;
use mapillary_core::batch::for_each_in_order;
use mapillary_core::download::{
    DEFAULT_MAX_REQUESTS, DEFAULT_THUMBNAIL_DEADLINE, Fetched, Listing, SearchLimits, ThumbSize,
    ThumbnailFetcher, search_within, update_listing,
};
use mapillary_core::exif::remove_stale_temporaries;

const JOBS: Opt = Opt {
    long: "jobs",
    short: Some('j'),
    value: Some("N"),
    doc: "Download N images at a time (default 8).",
};
const SIZE: Opt = Opt {
    long: "size",
    short: None,
    value: Some("SIZE"),
    doc: "Thumbnail size: 256, 1024 (default, as in 2015), 2048 or original.",
};
const OUTPUT: Opt = Opt {
    long: "output",
    short: Some('o'),
    value: Some("DIR"),
    doc: "The folder to download into (default: downloaded).",
};
const MAX_REQUESTS: Opt = Opt {
    long: "max-requests",
    short: None,
    value: Some("N"),
    doc: "Send at most N search requests (default 1000); a box that would need more is stopped with a message.",
};
const TIMEOUT: Opt = Opt {
    long: "timeout",
    short: None,
    value: Some("SECONDS"),
    doc: "Give up on a thumbnail request that has not arrived in full after SECONDS (default 120); it is tried 4 times.",
};

const TOOL: Tool = Tool {
    name: "download_images",
    version: env!("CARGO_PKG_VERSION"),
    about: "Download the Mapillary images inside a bounding box.",
    positionals: &[
        Positional {
            name: "min_lat",
            optional: false,
            doc: "Southern edge, decimal degrees (-90 to 90).",
        },
        Positional {
            name: "max_lat",
            optional: false,
            doc: "Northern edge.",
        },
        Positional {
            name: "min_lon",
            optional: false,
            doc: "Western edge, decimal degrees (-180 to 180).",
        },
        Positional {
            name: "max_lon",
            optional: false,
            doc: "Eastern edge.",
        },
        Positional {
            name: "max_results",
            optional: true,
            doc: "At most this many images (default 400).",
        },
    ],
    options: &[JOBS, SIZE, OUTPUT, MAX_REQUESTS, TIMEOUT, DRY_RUN],
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
        file name. Thumbnails are fetched without the token, which stays with the API.",
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
    mapillary_cli::run(&TOOL, run)
}

fn parse_box(args: &Args) -> Result<(BoundingBox, usize), Failure> {
    let mut v = [0.0f64; 4];
    for (i, name) in ["min_lat", "max_lat", "min_lon", "max_lon"]
        .iter()
        .enumerate()
    {
        v[i] = args.finite(i, name, "degrees")?.unwrap_or_default();
    }
    let [min_lat, max_lat, min_lon, max_lon] = v;
    for (name, value, limit) in [
        ("min_lat", min_lat, 90.0),
        ("max_lat", max_lat, 90.0),
        ("min_lon", min_lon, 180.0),
        ("max_lon", max_lon, 180.0),
    ] {
        if value.abs() > limit {
            return Err(Failure::Usage(format!(
                "{name} {value} is outside -{limit}..{limit}"
            )));
        }
    }
    if min_lat >= max_lat {
        return Err(Failure::Usage(format!(
            "min_lat {min_lat} must be less than max_lat {max_lat}"
        )));
    }
    if min_lon >= max_lon {
        return Err(Failure::Usage(format!(
            "min_lon {min_lon} must be less than max_lon {max_lon}"
        )));
    }
    let max_results = match args.text(4, "max_results")? {
        None => 400,
        Some(t) => t
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                Failure::Usage(format!(
                    "max_results must be a whole number above 0, not '{t}'"
                ))
            })?,
    };
    Ok((
        BoundingBox {
            min_lat,
            max_lat,
            min_lon,
            max_lon,
        },
        max_results,
    ))
}

fn run(args: &Args, reporter: &Reporter) -> Result<Status, Failure> {
    let (bbox, max_results) = parse_box(args)?;
    let jobs = match args.option_number::<usize>(JOBS.long)? {
        Some(0) => return Err(Failure::Usage("--jobs must be at least 1".to_string())),
        Some(n) => n,
        None => 8,
    };
    let size = match args.value(SIZE.long) {
        None => ThumbSize::S1024,
        Some(s) => ThumbSize::parse(&s.to_string_lossy()).ok_or_else(|| {
            Failure::Usage("--size must be 256, 1024, 2048 or original".to_string())
        })?,
    };
    let output = args
        .value(OUTPUT.long)
        .map_or_else(|| PathBuf::from("downloaded"), PathBuf::from);
    let dry_run = args.flag(DRY_RUN.long);
    let limits = SearchLimits {
        max_requests: match args.option_number::<usize>(MAX_REQUESTS.long)? {
            Some(0) => {
                return Err(Failure::Usage(
                    "--max-requests must be at least 1".to_string(),
                ));
            }
            Some(n) => n,
            None => DEFAULT_MAX_REQUESTS,
        },
        ..SearchLimits::default()
    };
    let deadline = match args.value(TIMEOUT.long) {
        None => DEFAULT_THUMBNAIL_DEADLINE,
        Some(v) => {
            let secs = parse_finite(v, "--timeout", "seconds")?;
            std::time::Duration::try_from_secs_f64(secs)
                .ok()
                .filter(|d| !d.is_zero() && secs <= 86_400.0)
                .ok_or_else(|| {
                    Failure::Usage(format!(
                        "--timeout must be more than 0 and at most 86400 seconds, not '{}'",
                        v.to_string_lossy()
                    ))
                })?
        }
    };

    let connection = connect(reporter);
    let token = read_token(&connection, reporter)?;
    let found = search_within(&connection.graph, &token, &bbox, size, max_results, &limits)
        .map_err(Failure::fatal)?;
    reporter.explain(format_args!(
        "{} to the images endpoint; at most {} waiting at a time",
        plural(found.requests, "request", "requests"),
        plural(found.most_pending, "tile", "tiles")
    ));
    for why in &found.refused {
        reporter.error(format_args!("refused: {why}"));
    }
    if let Some(stop) = &found.stopped {
        reporter.error(format_args!("{stop} (--max-requests sets the limit)"));
    }
    let searched = found.stopped.is_none();
    if dry_run {
        for image in &found.images {
            reporter.line(format_args!(
                "{},{},{} <- {}",
                image.file_name(),
                image.lat,
                image.lon,
                image.url
            ));
        }
        reporter.summary(format_args!(
            "found {}; nothing downloaded (dry run)",
            found.images.len()
        ));
        return Ok(if found.refused.is_empty() && searched {
            Status::Done
        } else {
            Status::Incomplete
        });
    }

    fs::create_dir_all(&output).map_err(|e| {
        Failure::Fatal(format!(
            "{}: {}",
            shown(&output),
            mapillary_core::io_reason(&e)
        ))
    })?;
    if let Ok(removed) = remove_stale_temporaries(&output) {
        for r in removed {
            reporter.warn(format_args!(
                "removed {}, left by an interrupted run",
                shown(&r)
            ));
        }
    }
    let fetcher = ThumbnailFetcher::new().with_deadline(deadline);
    let r = reporter.clone();
    let notify = move |m: &str| r.warn(m);
    let (mut downloaded, mut skipped, mut failed) = (0, 0, found.refused.len());
    let mut present = Vec::new();
    reporter.start_progress(found.images.len() as u64, Unit::Items);
    let stop = interrupt_flag();
    for_each_in_order(
        &found.images,
        jobs,
        stop,
        |_, image| fetcher.fetch(image, &output, &notify),
        |_, image, result| {
            reporter.advance(1);
            match result {
                Ok(Fetched::Downloaded) => {
                    downloaded += 1;
                    present.push(image.clone());
                    reporter.explain(format_args!("{}", image.file_name()));
                }
                Ok(Fetched::AlreadyThere) => {
                    skipped += 1;
                    present.push(image.clone());
                }
                Err(e) => {
                    failed += 1;
                    reporter.problem(&output.join(image.file_name()), e);
                }
            }
        },
    );
    reporter.finish_progress();

    // downloaded.txt: every line it had, and the images it lacks.
    let listing_path = output.join("downloaded.txt");
    let listing: Listing = present
        .iter()
        .map(|image| (image.file_name(), (image.lat, image.lon)))
        .collect();
    let listed = update_listing(&listing_path, &listing)
        .map_err(|e| Failure::Fatal(format!("{}: {e}", shown(&listing_path))))?;

    reporter.summary(format_args!(
        "found {}, downloaded {downloaded}, skipped {skipped} (already there), failed {failed}; {} in {}",
        found.images.len(),
        plural(listed, "image", "images"),
        shown(&output)
    ));
    Ok(if stop.load(Ordering::SeqCst) {
        Status::Interrupted
    } else if failed > 0 || !searched {
        Status::Incomplete
    } else {
        Status::Done
    })
}
