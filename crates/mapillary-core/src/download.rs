//! Finding the images in a bounding box and downloading their thumbnails:
//! a box is asked for whole and split only where the server refuses it or
//! its answer is full, with a limit on the requests; results deduplicated
//! by id; every request with a deadline; files written whole or not at all,
//! never over a file that is already there.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::api::ApiError;
use crate::api::graph::{BoundingBox, GraphClient};
use crate::api::retry::{NoAnswer, RetryPolicy, pause, with_retries};
use crate::api::transport::{agent, check_url, no_answer, origin, read_answer};
use crate::auth::Secret;
use crate::files::replace::{
    self, NewFile, Permissions, ReplaceError, ReplaceOptions, UpdateError,
};

/// Thumbnail sizes the API offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThumbSize {
    /// 256 px wide.
    S256,
    /// 1024 px wide (the 2015 default).
    S1024,
    /// 2048 px wide.
    S2048,
    /// The original.
    Original,
}

impl ThumbSize {
    /// Reads `256`, `1024`, `2048` or `original`.
    pub fn parse(text: &str) -> Option<ThumbSize> {
        match text.trim() {
            "256" => Some(ThumbSize::S256),
            "1024" => Some(ThumbSize::S1024),
            "2048" => Some(ThumbSize::S2048),
            "original" => Some(ThumbSize::Original),
            _ => None,
        }
    }

    /// The graph API field holding the URL.
    pub fn field(self) -> &'static str {
        match self {
            ThumbSize::S256 => "thumb_256_url",
            ThumbSize::S1024 => "thumb_1024_url",
            ThumbSize::S2048 => "thumb_2048_url",
            ThumbSize::Original => "thumb_original_url",
        }
    }
}

/// An image found in the box.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundImage {
    /// Its id (checked to be a plain id).
    pub id: String,
    /// Latitude, decimal degrees.
    pub lat: f64,
    /// Longitude, decimal degrees.
    pub lon: f64,
    /// Where its thumbnail is.
    pub url: String,
}

impl FoundImage {
    /// The file it is saved as: `<id>.jpg`.
    pub fn file_name(&self) -> String {
        format!("{}.jpg", self.id)
    }
}

/// Whether an id from the server can safely become a file name: letters,
/// digits, `_` and `-` only (Mapillary ids are numbers), at most 64 long.
pub fn is_plain_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn quarters(b: &BoundingBox) -> [BoundingBox; 4] {
    let mid_lat = (b.min_lat + b.max_lat) / 2.0;
    let mid_lon = (b.min_lon + b.max_lon) / 2.0;
    [
        BoundingBox {
            max_lat: mid_lat,
            max_lon: mid_lon,
            ..*b
        },
        BoundingBox {
            max_lat: mid_lat,
            min_lon: mid_lon,
            ..*b
        },
        BoundingBox {
            min_lat: mid_lat,
            max_lon: mid_lon,
            ..*b
        },
        BoundingBox {
            min_lat: mid_lat,
            min_lon: mid_lon,
            ..*b
        },
    ]
}

/// Tiles are not split below this, in degrees each way (about 11 m).
pub const SMALLEST_TILE: f64 = 0.0001;
/// Images asked for per request, at most (the documented maximum).
pub const PAGE: usize = 2000;
/// The default limit of requests of one search. A search asks for the
/// whole box first and splits a tile in four only where the server refuses
/// it or its answer is full, so a city of a few thousand images takes tens
/// of requests; a box the server answers only in tiny tiles would take
/// millions, and is stopped (see [`SearchStop`]).
pub const DEFAULT_MAX_REQUESTS: usize = 1000;
/// The default pause between the starts of two search requests: at most
/// 20 requests a second, whatever the server's speed (a local server
/// answers in microseconds, and the public API limits each app's rate).
pub const DEFAULT_REQUEST_INTERVAL: Duration = Duration::from_millis(50);

/// How far one search may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchLimits {
    /// At most this many requests.
    pub max_requests: usize,
    /// At least this long between the starts of two requests.
    pub interval: Duration,
}

impl Default for SearchLimits {
    fn default() -> Self {
        SearchLimits {
            max_requests: DEFAULT_MAX_REQUESTS,
            interval: DEFAULT_REQUEST_INTERVAL,
        }
    }
}

/// Why a search stopped before it had searched the whole box or found
/// what it was asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum SearchStop {
    /// The limit of requests was reached.
    RequestLimit {
        /// The limit.
        limit: usize,
    },
    /// Covering the rest of the box would take more requests than the
    /// limit allows, even if every tile left were answered at the size of
    /// the largest the server has answered.
    TooLarge {
        /// The requests it would take at least (those made included).
        needed: f64,
        /// The limit.
        limit: usize,
        /// The largest tile the server answered: degrees of latitude and
        /// of longitude.
        tile: (f64, f64),
    },
}

impl fmt::Display for SearchStop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SearchStop::RequestLimit { limit } => write!(
                f,
                "the search stopped at its limit of {limit} requests before it had searched the whole box"
            ),
            SearchStop::TooLarge {
                needed,
                limit,
                tile: (lat, lon),
            } => write!(
                f,
                "the box is too large for the server: it answers tiles of at most {lat:.4}° × {lon:.4}° (latitude × longitude), so searching the whole box would take at least {} requests, more than the limit of {limit}; give a smaller box",
                whole(*needed)
            ),
        }
    }
}

/// `12,345,678`.
fn whole(n: f64) -> String {
    let digits = format!("{:.0}", n.clamp(0.0, 1e18));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// What a search found, and what it had to leave out.
#[derive(Debug, Clone, Default)]
pub struct SearchResult {
    /// Images, deduplicated, in the order found, at most `max_results`.
    pub images: Vec<FoundImage>,
    /// Entries the server returned that were refused (an id that is not a
    /// plain id, no position, no thumbnail), with the reason: each entry
    /// once, however many tiles returned it.
    pub refused: Vec<Refused>,
    /// Requests made (one per tile asked for).
    pub requests: usize,
    /// The most tiles that waited to be asked for at one time (the search's
    /// memory: tiles are made only when a tile is split).
    pub most_pending: usize,
    /// Why the search stopped early, if it did.
    pub stopped: Option<SearchStop>,
}

fn position(item: &Value) -> Option<(f64, f64)> {
    let coords = item
        .pointer("/computed_geometry/coordinates")
        .or_else(|| item.pointer("/geometry/coordinates"))?
        .as_array()?;
    let lon = coords.first()?.as_f64()?;
    let lat = coords.get(1)?.as_f64()?;
    ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)).then_some((lat, lon))
}

/// Why an entry of a search answer cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The entry has no id.
    NoId,
    /// The id is not a plain id (it would become a file name).
    NotPlainId(String),
    /// The image has no position (or one out of range).
    NoPosition(String),
    /// The image has no URL of the thumbnail size asked for.
    NoThumbnail {
        /// The image's id.
        id: String,
        /// The graph API field that was asked for.
        field: &'static str,
    },
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::NoId => f.write_str("an entry without an id"),
            Refused::NotPlainId(id) => {
                write!(f, "id {id:?} is not a plain id; not used as a file name")
            }
            Refused::NoPosition(id) => write!(f, "image {id} has no position"),
            Refused::NoThumbnail { id, field } => write!(f, "image {id} has no {field} thumbnail"),
        }
    }
}

/// An image of a search answer, or why it cannot be used: it needs a
/// plain id (it becomes a file name), a position and a thumbnail URL.
pub fn found_image(item: &Value, size: ThumbSize) -> Result<FoundImage, Refused> {
    let id = match item.get("id") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(Refused::NoId),
    };
    if !is_plain_id(&id) {
        return Err(Refused::NotPlainId(id));
    }
    let Some((lat, lon)) = position(item) else {
        return Err(Refused::NoPosition(id));
    };
    let Some(url) = item
        .get(size.field())
        .and_then(Value::as_str)
        .filter(|u| u.starts_with("http"))
    else {
        return Err(Refused::NoThumbnail {
            id,
            field: size.field(),
        });
    };
    Ok(FoundImage {
        id,
        lat,
        lon,
        url: url.to_string(),
    })
}

fn area(b: &BoundingBox) -> f64 {
    (b.max_lat - b.min_lat) * (b.max_lon - b.min_lon)
}

/// What identifies an entry of an answer, for counting it once: its id,
/// else the whole entry.
fn entry_key(item: &Value) -> String {
    match item.get("id") {
        Some(Value::String(s)) => format!("id {s}"),
        Some(Value::Number(n)) => format!("id {n}"),
        _ => format!("entry {item}"),
    }
}

/// Finds up to `max_results` images in `bbox`, with the default
/// [`SearchLimits`].
pub fn search(
    client: &GraphClient,
    token: &Secret,
    bbox: &BoundingBox,
    size: ThumbSize,
    max_results: usize,
) -> Result<SearchResult, ApiError> {
    search_within(
        client,
        token,
        bbox,
        size,
        max_results,
        &SearchLimits::default(),
    )
}

/// Finds up to `max_results` images in `bbox`, within `limits`.
///
/// The box is asked for whole; a tile the server refuses as too large, or
/// whose answer is full (so may have been cut short), is split in four and
/// its quarters asked for in turn, depth first, until `max_results` images
/// are found or the box is searched. Only the tiles waiting to be asked
/// for are kept (a few per level of splitting). The search stops early,
/// with [`SearchResult::stopped`] saying why, when the limit of requests
/// is reached, or when even at the size of the largest tile the server has
/// answered, the rest of the box would need more requests than are left.
pub fn search_within(
    client: &GraphClient,
    token: &Secret,
    bbox: &BoundingBox,
    size: ThumbSize,
    max_results: usize,
    limits: &SearchLimits,
) -> Result<SearchResult, ApiError> {
    let fields = ["id", "computed_geometry", "geometry", size.field()];
    // Tiles to ask for, the next one last.
    let mut pending: Vec<BoundingBox> = vec![*bbox];
    let mut pending_area = area(bbox);
    // The largest tile the server answered (its area, its sides).
    let mut largest: Option<(f64, (f64, f64))> = None;
    let mut seen = BTreeSet::new();
    let mut refused = BTreeSet::new();
    let mut last_start: Option<Instant> = None;
    let mut result = SearchResult {
        most_pending: 1,
        ..SearchResult::default()
    };
    while let Some(tile) = pending.pop() {
        if result.images.len() >= max_results {
            break;
        }
        if result.requests >= limits.max_requests {
            result.stopped = Some(SearchStop::RequestLimit {
                limit: limits.max_requests,
            });
            break;
        }
        if let Some((answered, sides)) = largest {
            let needed = result.requests as f64 + (pending_area / answered).ceil();
            if needed > limits.max_requests as f64 {
                result.stopped = Some(SearchStop::TooLarge {
                    needed,
                    limit: limits.max_requests,
                    tile: sides,
                });
                break;
            }
        }
        pending_area -= area(&tile);
        if let Some(at) = last_start {
            pause(
                limits.interval.saturating_sub(at.elapsed()),
                client.stop_flag(),
            )?;
        }
        last_start = Some(Instant::now());
        let small = tile.max_lat - tile.min_lat <= SMALLEST_TILE
            && tile.max_lon - tile.min_lon <= SMALLEST_TILE;
        let wanted = (max_results - result.images.len()).min(PAGE);
        result.requests += 1;
        let split = match client.images_in_box(token, &tile, &fields, wanted) {
            Ok(items) => {
                if largest.is_none_or(|(a, _)| area(&tile) > a) {
                    largest = Some((
                        area(&tile),
                        (tile.max_lat - tile.min_lat, tile.max_lon - tile.min_lon),
                    ));
                }
                let full = items.len() >= wanted;
                for item in items {
                    let image = match found_image(&item, size) {
                        Ok(image) => image,
                        Err(why) => {
                            if refused.insert(entry_key(&item)) {
                                result.refused.push(why);
                            }
                            continue;
                        }
                    };
                    if seen.insert(image.id.clone()) && result.images.len() < max_results {
                        result.images.push(image);
                    }
                }
                // A full answer may have been cut short: look closer, if
                // more images are still wanted.
                full && !small && result.images.len() < max_results
            }
            // The server asks for less: ask for each quarter.
            Err(ApiError::Refused { status: 500, .. }) if !small => true,
            Err(e) => return Err(e),
        };
        if split {
            pending.extend(quarters(&tile).into_iter().rev());
            pending_area += area(&tile);
            result.most_pending = result.most_pending.max(pending.len());
        }
    }
    Ok(result)
}

/// Why a thumbnail could not be downloaded.
#[derive(Debug)]
pub enum DownloadError {
    /// The request failed: the host refused it (HTTP status), kept failing,
    /// was too slow, could not be reached, sent too much, or the URL
    /// cannot be fetched.
    Api(ApiError),
    /// Writing the file failed.
    Io(io::Error),
    /// What came back is not a JPEG.
    NotJpeg,
    /// The connection ended before every announced byte came.
    Incomplete {
        /// Bytes received.
        received: u64,
        /// Bytes the server announced.
        expected: u64,
    },
    /// Creating or publishing the file failed.
    File(ReplaceError),
}

impl fmt::Display for DownloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DownloadError::Api(e) => write!(f, "{e}"),
            DownloadError::Io(e) => write!(f, "{}", crate::io_reason(e)),
            DownloadError::NotJpeg => f.write_str("the server sent something that is not a JPEG"),
            DownloadError::Incomplete { received, expected } => write!(
                f,
                "the download broke off after {received} of {expected} bytes; nothing saved"
            ),
            DownloadError::File(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for DownloadError {}

/// The default deadline of one thumbnail request: the whole exchange, from
/// connecting to the last byte (an original-size image of 10 MB arrives in
/// it at 700 kbit/s; a host that trickles is given up on).
pub const DEFAULT_THUMBNAIL_DEADLINE: Duration = Duration::from_secs(120);

/// The largest thumbnail accepted.
pub const THUMBNAIL_LIMIT: u64 = 256 << 20;

/// Downloads thumbnails. It holds no token: thumbnail URLs are signed and
/// live on a CDN, which must never see the user's token.
#[derive(Debug, Clone)]
pub struct ThumbnailFetcher {
    agent: ureq::Agent,
    deadline: Duration,
    policy: RetryPolicy,
}

/// What happened to one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetched {
    /// Downloaded now.
    Downloaded,
    /// Already there from an earlier run.
    AlreadyThere,
}

impl Default for ThumbnailFetcher {
    fn default() -> Self {
        ThumbnailFetcher::new()
    }
}

impl ThumbnailFetcher {
    /// A fetcher with the protocol's retry rules and the default deadline
    /// ([`DEFAULT_THUMBNAIL_DEADLINE`]) per request.
    pub fn new() -> ThumbnailFetcher {
        ThumbnailFetcher {
            agent: agent(Some(DEFAULT_THUMBNAIL_DEADLINE)),
            deadline: DEFAULT_THUMBNAIL_DEADLINE,
            policy: RetryPolicy {
                max_attempts: 4,
                default_backoff: Duration::from_secs(2),
                ..RetryPolicy::default()
            },
        }
    }

    /// Use this retry policy.
    pub fn with_policy(mut self, policy: RetryPolicy) -> ThumbnailFetcher {
        self.policy = policy;
        self
    }

    /// End each request within `deadline` (the whole exchange) instead.
    pub fn with_deadline(mut self, deadline: Duration) -> ThumbnailFetcher {
        self.agent = agent(Some(deadline));
        self.deadline = deadline;
        self
    }

    /// Saves `image` as `<folder>/<id>.jpg`, unless a file of that name is
    /// already there (from an earlier run, or the user's own: it is never
    /// replaced). The bytes stream into a temporary file that becomes
    /// `<id>.jpg` only once it holds every byte the server announced and
    /// starts like a JPEG, and only if no file of that name appeared
    /// meanwhile.
    pub fn fetch(
        &self,
        image: &FoundImage,
        folder: &Path,
        notify: &dyn Fn(&str),
    ) -> Result<Fetched, DownloadError> {
        let target = folder.join(image.file_name());
        if fs::symlink_metadata(&target).is_ok() {
            return Ok(Fetched::AlreadyThere);
        }
        let mut new = NewFile::create(&target, 0o644).map_err(DownloadError::File)?;
        self.fetch_into(image, new.file(), notify)?;
        let options = ReplaceOptions::default();
        match new.publish(&target, &options) {
            Ok(()) => Ok(Fetched::Downloaded),
            // Another run (or the user) put a file there meanwhile: theirs
            // stays.
            Err(ReplaceError::AlreadyExists(_)) => Ok(Fetched::AlreadyThere),
            Err(e) => Err(DownloadError::File(e)),
        }
    }

    fn fetch_into(
        &self,
        image: &FoundImage,
        file: &mut File,
        notify: &dyn Fn(&str),
    ) -> Result<(), DownloadError> {
        check_url(&image.url, "a thumbnail URL").map_err(DownloadError::Api)?;
        // Messages name the host only: the URL's query is a signature.
        let host = origin(&image.url);
        let deadline = Some(self.deadline);
        let mut written = None;
        // A failure to write the file ends the attempts; it is kept here
        // and reported as what it is.
        let mut disk: Option<io::Error> = None;
        let answer = with_retries(&self.policy, &host, None, notify, || {
            let mut response = self
                .agent
                .get(&image.url)
                .call()
                .map_err(|e| no_answer(e, &host, deadline))?;
            let status = response.status().as_u16();
            if status != 200 {
                // An error page: read it as an answer so that the retry
                // rules see its status.
                return read_answer(response, &host, deadline);
            }
            let announced = response
                .headers()
                .get("content-length")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            let mut on_disk = |e: io::Error| {
                disk = Some(e);
                NoAnswer::Final(ApiError::Interrupted)
            };
            // A retry starts the file again.
            file.set_len(0).map_err(&mut on_disk)?;
            file.seek(SeekFrom::Start(0)).map_err(&mut on_disk)?;
            let mut body = response
                .body_mut()
                .with_config()
                .limit(THUMBNAIL_LIMIT)
                .reader();
            let mut buffer = vec![0u8; 64 << 10];
            let mut n = 0u64;
            loop {
                let got = match body.read(&mut buffer) {
                    Ok(0) => break,
                    Ok(got) => got,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(no_answer(ureq::Error::from(e), &host, deadline)),
                };
                file.write_all(&buffer[..got]).map_err(&mut on_disk)?;
                n += got as u64;
            }
            written = Some((n, announced));
            Ok(crate::api::retry::Answer {
                status,
                retry_after: None,
                body: String::new(),
            })
        });
        if let Some(e) = disk {
            return Err(DownloadError::Io(e));
        }
        let answer = answer.map_err(DownloadError::Api)?;
        let Some((n, announced)) = written.filter(|_| answer.status == 200) else {
            return Err(DownloadError::Api(ApiError::Refused {
                status: answer.status,
                message: crate::api::error_message(&answer.body),
            }));
        };
        if let Some(expected) = announced
            && n != expected
        {
            return Err(DownloadError::Incomplete {
                received: n,
                expected,
            });
        }
        let mut start = [0u8; 2];
        file.seek(SeekFrom::Start(0)).map_err(DownloadError::Io)?;
        if n < 4 || file.read_exact(&mut start).is_err() || start != [0xFF, 0xD8] {
            return Err(DownloadError::NotJpeg);
        }
        Ok(())
    }
}

/// The list of downloaded images (`downloaded.txt`): file name → (lat, lon).
pub type Listing = BTreeMap<String, (f64, f64)>;

/// The file name a `downloaded.txt` line is about (the 2015 format:
/// `filename,lat,lon`), if it is such a line.
fn listed_name(line: &str) -> Option<&str> {
    let mut parts = line.trim().split(',');
    let name = parts.next()?.trim();
    parts.next()?.trim().parse::<f64>().ok()?;
    parts.next()?.trim().parse::<f64>().ok()?;
    (!name.is_empty()).then_some(name)
}

/// Reads `downloaded.txt`; lines that are not `filename,lat,lon` are left
/// out (but kept in the file by [`update_listing`]).
pub fn read_listing(path: &Path) -> Listing {
    let Ok(text) = fs::read_to_string(path) else {
        return Listing::new();
    };
    text.lines()
        .filter_map(|line| {
            let mut parts = line.trim().split(',');
            let name = parts.next()?.trim().to_string();
            let lat = parts.next()?.trim().parse().ok()?;
            let lon = parts.next()?.trim().parse().ok()?;
            (!name.is_empty()).then_some((name, (lat, lon)))
        })
        .collect()
}

/// Adds the images in `listing` that `downloaded.txt` at `path` does not
/// list yet, one `filename,lat,lon` line each (sorted by name), after every
/// line the file already had, which are all kept as they were (the user's
/// own lines among them). The file is locked while it is read and
/// replaced. Returns how many lines of the file name an image.
pub fn update_listing(path: &Path, listing: &Listing) -> Result<usize, ReplaceError> {
    let mut listed = 0;
    let options = ReplaceOptions::default();
    replace::update(path, Permissions::Keep { new: 0o644 }, &options, |old| {
        let old = old.map(String::from_utf8_lossy).unwrap_or_default();
        let mut text = old.to_string();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        let known: BTreeSet<&str> = old.lines().filter_map(listed_name).collect();
        listed = known.len();
        for (name, (lat, lon)) in listing {
            if !known.contains(name.as_str()) {
                text.push_str(&format!("{name},{lat},{lon}\n"));
                listed += 1;
            }
        }
        Ok::<_, std::convert::Infallible>(text.into_bytes())
    })
    .map_err(|e| match e {
        UpdateError::Write(e) => e,
        UpdateError::Change(never) => match never {},
    })?;
    Ok(listed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_must_be_plain() {
        assert!(is_plain_id("123456789"));
        assert!(is_plain_id("abc_DEF-1"));
        for bad in [
            "",
            "../../etc/passwd",
            "a/b",
            "..",
            ".",
            "a b",
            "x.jpg",
            &"9".repeat(65),
        ] {
            assert!(!is_plain_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn quarters_cover_the_tile() {
        let t = BoundingBox {
            min_lat: 10.0,
            max_lat: 10.12,
            min_lon: -0.03,
            max_lon: 0.03,
        };
        let q = quarters(&t);
        assert_eq!(q[3].max_lat, t.max_lat);
        assert_eq!(q[0].min_lon, t.min_lon);
        let sum: f64 = q.iter().map(area).sum();
        assert!((sum - area(&t)).abs() < 1e-12);
    }

    #[test]
    fn big_numbers_are_readable() {
        assert_eq!(whole(16_777_216.0), "16,777,216");
        assert_eq!(whole(999.0), "999");
        assert_eq!(whole(1000.0), "1,000");
    }

    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use crate::api::Endpoints;
    use crate::api::test_server::{Request, TestServer};

    fn quick_policy(attempts: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts: attempts,
            default_backoff: Duration::from_millis(1),
            network_backoff: Duration::from_millis(1),
            max_wait: Duration::from_millis(10),
        }
    }

    fn image_at(url: String) -> FoundImage {
        FoundImage {
            id: "1".to_string(),
            lat: 0.0,
            lon: 0.0,
            url,
        }
    }

    #[test]
    fn a_thumbnail_at_one_byte_every_two_seconds_ends_with_a_clear_error() {
        let requests = Arc::new(AtomicUsize::new(0));
        let counted = requests.clone();
        let server = TestServer::start(move |r: &mut Request| {
            counted.fetch_add(1, Ordering::SeqCst);
            let _ = r.stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: 5000\r\n\r\n\xFF\xD8",
            );
            for _ in 0..5000 {
                if r.stream
                    .write_all(b"\0")
                    .and_then(|()| r.stream.flush())
                    .is_err()
                {
                    return;
                }
                std::thread::sleep(Duration::from_secs(2));
            }
        });
        let dir = tempfile::tempdir().unwrap();
        let fetcher = ThumbnailFetcher::new()
            .with_deadline(Duration::from_millis(500))
            .with_policy(quick_policy(2));
        let url = format!("{}/thumbs/1.jpg?signature=SECRET", server.url());
        let err = fetcher
            .fetch(&image_at(url), dir.path(), &|_| {})
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{} is too slow: no complete answer within 500 ms, 2 times; try again later",
                server.url()
            )
        );
        assert_eq!(requests.load(Ordering::SeqCst), 2);
        // Nothing is left behind: no file, no temporary.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn thumbnail_errors_are_named_for_what_happened() {
        let dir = tempfile::tempdir().unwrap();
        let fetcher = ThumbnailFetcher::new().with_policy(quick_policy(2));
        // Another scheme: refused before anything is sent, the URL's
        // signature never shown.
        let err = fetcher
            .fetch(
                &image_at("file:///etc/passwd?sig=SECRET".to_string()),
                dir.path(),
                &|_| {},
            )
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "a thumbnail URL has the URL scheme 'file'; only http and https are supported"
        );
        // An HTTP status, with the server's message.
        let server = TestServer::start(|r: &mut Request| {
            r.answer(404, r#"{"error":{"message":"no such thumbnail"}}"#)
        });
        let err = fetcher
            .fetch(
                &image_at(format!("{}/t/1.jpg?sig=SECRET", server.url())),
                dir.path(),
                &|_| {},
            )
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the server refused the request (HTTP 404: no such thumbnail)"
        );
        // Too large.
        let server = TestServer::start(|r: &mut Request| {
            let len = THUMBNAIL_LIMIT + 1;
            let _ = write!(r.stream, "HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n\r\n");
            let chunk = vec![0u8; 1 << 20];
            let mut left = len;
            while left > 0 {
                let n = left.min(chunk.len() as u64);
                if r.stream.write_all(&chunk[..n as usize]).is_err() {
                    return;
                }
                left -= n;
            }
        });
        let err = fetcher
            .fetch(
                &image_at(format!("{}/t/1.jpg", server.url())),
                dir.path(),
                &|_| {},
            )
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "the answer from {} is larger than the 256 MiB accepted",
                server.url()
            )
        );
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    /// The value of `key` in a request path's query, percent-decoded.
    fn query_value(path: &str, key: &str) -> Option<String> {
        let query = path.split_once('?')?.1;
        let raw = query
            .split('&')
            .find_map(|p| p.strip_prefix(&format!("{key}=")))?;
        let mut out = Vec::new();
        let b = raw.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' && i + 2 < b.len() + 1 {
                let hex = std::str::from_utf8(&b[i + 1..(i + 3).min(b.len())]).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        String::from_utf8(out).ok()
    }

    /// An images endpoint over `entries` (JSON with a position), refusing
    /// boxes over `max_area` square degrees as the real service does.
    fn images_server(entries: Vec<Value>, max_area: f64) -> (TestServer, Arc<AtomicUsize>) {
        let requests = Arc::new(AtomicUsize::new(0));
        let counted = requests.clone();
        let server = TestServer::start(move |r: &mut Request| {
            counted.fetch_add(1, Ordering::SeqCst);
            let b: Vec<f64> = query_value(&r.path, "bbox")
                .unwrap_or_default()
                .split(',')
                .filter_map(|x| x.parse().ok())
                .collect();
            let limit: usize = query_value(&r.path, "limit")
                .and_then(|l| l.parse().ok())
                .unwrap_or(2000);
            let [w, s, e, n] = b[..] else {
                return r.answer(400, "{}");
            };
            if (e - w) * (n - s) > max_area {
                return r.answer(
                    500,
                    r#"{"error":{"message":"Please reduce the amount of data you're asking for, then retry your request"}}"#,
                );
            }
            let data: Vec<&Value> = entries
                .iter()
                .filter(|v| {
                    let c = &v["geometry"]["coordinates"];
                    let (lon, lat) = (c[0].as_f64().unwrap(), c[1].as_f64().unwrap());
                    (w..=e).contains(&lon) && (s..=n).contains(&lat)
                })
                .take(limit)
                .collect();
            r.answer(200, &serde_json::json!({ "data": data }).to_string());
        });
        (server, requests)
    }

    fn entry(id: &str, lat: f64, lon: f64) -> Value {
        serde_json::json!({
            "id": id,
            "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "thumb_1024_url": format!("http://127.0.0.1:9/{id}.jpg"),
        })
    }

    fn berlin(n: usize) -> Vec<Value> {
        (0..n)
            .map(|i| entry(&format!("{}", 1000 + i), 52.5 + i as f64 * 1e-4, 13.4))
            .collect()
    }

    const WORLD: BoundingBox = BoundingBox {
        min_lat: -90.0,
        max_lat: 90.0,
        min_lon: -180.0,
        max_lon: 180.0,
    };

    fn no_pause() -> SearchLimits {
        SearchLimits {
            interval: Duration::ZERO,
            ..SearchLimits::default()
        }
    }

    #[test]
    fn the_whole_world_with_five_results_is_one_request() {
        let (server, requests) = images_server(berlin(50), f64::INFINITY);
        let client = GraphClient::new(Endpoints::local(&server.url()));
        let found = search_within(
            &client,
            &Secret::new("t"),
            &WORLD,
            ThumbSize::S1024,
            5,
            &no_pause(),
        )
        .unwrap();
        assert_eq!(found.images.len(), 5);
        assert_eq!(found.requests, 1);
        assert_eq!(requests.load(Ordering::SeqCst), 1);
        assert_eq!(found.most_pending, 1);
        assert!(found.stopped.is_none());
    }

    #[test]
    fn a_world_the_server_answers_only_in_small_tiles_stops_at_once() {
        // Boxes over 0.01 square degrees are refused: the world would take
        // 16.7 million requests.
        let (server, requests) = images_server(berlin(50), 0.01);
        let client = GraphClient::new(Endpoints::local(&server.url()));
        let found = search_within(
            &client,
            &Secret::new("t"),
            &WORLD,
            ThumbSize::S1024,
            5,
            &no_pause(),
        )
        .unwrap();
        // Twelve refusals down to the first tile answered, and no more.
        assert_eq!(found.requests, 13);
        assert_eq!(requests.load(Ordering::SeqCst), 13);
        assert!(found.most_pending <= 3 * 12 + 1, "{}", found.most_pending);
        let stop = found.stopped.unwrap();
        assert_eq!(
            stop.to_string(),
            "the box is too large for the server: it answers tiles of at most 0.0439° × 0.0879° (latitude × longitude), so searching the whole box would take at least 16,777,228 requests, more than the limit of 1000; give a smaller box"
        );
    }

    #[test]
    fn the_request_limit_holds() {
        // Full answers everywhere, of entries that cannot be used (no
        // thumbnail), all on one spot: the search would split down to the
        // smallest tiles.
        let entries: Vec<Value> = (0..200)
            .map(|i| {
                serde_json::json!({
                    "id": format!("{i}"),
                    "geometry": {"type": "Point", "coordinates": [20.0, 10.0]},
                })
            })
            .collect();
        let (server, requests) = images_server(entries, f64::INFINITY);
        let client = GraphClient::new(Endpoints::local(&server.url()));
        let limits = SearchLimits {
            max_requests: 25,
            interval: Duration::ZERO,
        };
        let bbox = BoundingBox {
            min_lat: 9.0,
            max_lat: 11.0,
            min_lon: 19.0,
            max_lon: 21.0,
        };
        let found = search_within(
            &client,
            &Secret::new("t"),
            &bbox,
            ThumbSize::S1024,
            3,
            &limits,
        )
        .unwrap();
        assert_eq!(requests.load(Ordering::SeqCst), 25);
        assert_eq!(found.requests, 25);
        assert_eq!(found.stopped, Some(SearchStop::RequestLimit { limit: 25 }));
    }

    #[test]
    fn refused_entries_are_counted_once_however_many_tiles_return_them() {
        // 19 entries without a thumbnail, on the lines where the tiles of a
        // refused box meet, so that several tiles return each.
        let mut entries: Vec<Value> = (0..19)
            .map(|i| {
                serde_json::json!({
                    "id": format!("{}", 500 + i),
                    "geometry": {"type": "Point", "coordinates": [0.5, 0.5]},
                })
            })
            .collect();
        entries.push(serde_json::json!({"geometry": {"coordinates": [0.25, 0.25]}}));
        entries.extend(berlin(3));
        let (server, requests) = images_server(entries, 0.3);
        let client = GraphClient::new(Endpoints::local(&server.url()));
        let bbox = BoundingBox {
            min_lat: 0.0,
            max_lat: 1.0,
            min_lon: 0.0,
            max_lon: 1.0,
        };
        let found = search_within(
            &client,
            &Secret::new("t"),
            &bbox,
            ThumbSize::S1024,
            400,
            &no_pause(),
        )
        .unwrap();
        assert!(requests.load(Ordering::SeqCst) >= 5);
        assert_eq!(found.refused.len(), 20, "{:?}", found.refused);
        assert!(found.refused.contains(&Refused::NoThumbnail {
            id: "500".to_string(),
            field: "thumb_1024_url"
        }));
        assert!(found.refused.contains(&Refused::NoId));
        assert_eq!(
            found
                .refused
                .iter()
                .map(ToString::to_string)
                .find(|r| r.contains("500 ")),
            Some("image 500 has no thumb_1024_url thumbnail".to_string())
        );
        assert!(found.images.is_empty());
    }

    #[test]
    fn the_listing_keeps_every_line_and_adds_what_is_new() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("downloaded.txt");
        let mut l = Listing::new();
        l.insert("2.jpg".to_string(), (1.5, -2.25));
        l.insert("1.jpg".to_string(), (-0.5, 170.0));
        assert_eq!(update_listing(&p, &l).unwrap(), 2);
        assert_eq!(
            fs::read_to_string(&p).unwrap(),
            "1.jpg,-0.5,170\n2.jpg,1.5,-2.25\n"
        );
        assert_eq!(read_listing(&p), l);
        assert!(read_listing(&dir.path().join("missing")).is_empty());
        // The user's own lines (and a last line without a newline) stay.
        fs::write(&p, "# my notes\nmine.jpg,1,2\n2.jpg,9,9").unwrap();
        assert_eq!(update_listing(&p, &l).unwrap(), 3);
        assert_eq!(
            fs::read_to_string(&p).unwrap(),
            "# my notes\nmine.jpg,1,2\n2.jpg,9,9\n1.jpg,-0.5,170\n"
        );
    }
}
