//! Finding the images in a bounding box and downloading their thumbnails:
//! large boxes split into tiles the server answers reliably, results
//! deduplicated by id, files written whole or not at all, never over a
//! file that is already there.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::api::ApiError;
use crate::api::graph::{BoundingBox, GraphClient, read_answer, user_agent};
use crate::api::retry::{RetryPolicy, with_retries};
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

/// Splits a box into a grid of tiles no larger than `side` degrees each
/// way, west to east within rows, south to north.
pub fn tiles(bbox: &BoundingBox, side: f64) -> Vec<BoundingBox> {
    let side = side.max(1e-6);
    let rows = ((bbox.max_lat - bbox.min_lat) / side).ceil().max(1.0) as usize;
    let cols = ((bbox.max_lon - bbox.min_lon) / side).ceil().max(1.0) as usize;
    let (h, w) = (
        (bbox.max_lat - bbox.min_lat) / rows as f64,
        (bbox.max_lon - bbox.min_lon) / cols as f64,
    );
    let mut out = Vec::with_capacity(rows * cols);
    for r in 0..rows {
        for c in 0..cols {
            let min_lat = bbox.min_lat + h * r as f64;
            let min_lon = bbox.min_lon + w * c as f64;
            out.push(BoundingBox {
                min_lat,
                max_lat: if r + 1 == rows {
                    bbox.max_lat
                } else {
                    min_lat + h
                },
                min_lon,
                max_lon: if c + 1 == cols {
                    bbox.max_lon
                } else {
                    min_lon + w
                },
            });
        }
    }
    out
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

/// The first tile size tried, in degrees (about 5.5 km of latitude).
pub const FIRST_TILE: f64 = 0.05;
/// Tiles are not split below this (about 11 m).
pub const SMALLEST_TILE: f64 = 0.0001;
/// Images asked for per request (the documented maximum).
pub const PAGE: usize = 2000;

/// What a search found, and what it had to leave out.
#[derive(Debug, Clone, Default)]
pub struct SearchResult {
    /// Images, deduplicated, in tile order, at most `max_results`.
    pub images: Vec<FoundImage>,
    /// Entries the server returned that were refused (an id that is not a
    /// plain id, no position, no thumbnail), with the reason.
    pub refused: Vec<String>,
    /// Requests made.
    pub requests: usize,
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

/// An image of a search answer, or why it cannot be used: it needs a
/// plain id (it becomes a file name), a position and a thumbnail URL.
pub fn found_image(item: &Value, size: ThumbSize) -> Result<FoundImage, String> {
    let id = match item.get("id") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err("an entry without an id".to_string()),
    };
    if !is_plain_id(&id) {
        return Err(format!(
            "id {id:?} is not a plain id; not used as a file name"
        ));
    }
    let Some((lat, lon)) = position(item) else {
        return Err(format!("image {id} has no position"));
    };
    let Some(url) = item
        .get(size.field())
        .and_then(Value::as_str)
        .filter(|u| u.starts_with("http"))
    else {
        return Err(format!("image {id} has no {} thumbnail", size.field()));
    };
    Ok(FoundImage {
        id,
        lat,
        lon,
        url: url.to_string(),
    })
}

/// Finds up to `max_results` images in `bbox`. Tiles the server fails on,
/// or whose answer is full (so may be cut short), are split in four.
pub fn search(
    client: &GraphClient,
    token: &Secret,
    bbox: &BoundingBox,
    size: ThumbSize,
    max_results: usize,
) -> Result<SearchResult, ApiError> {
    let fields = ["id", "computed_geometry", "geometry", size.field()];
    let mut pending: Vec<BoundingBox> = tiles(bbox, FIRST_TILE);
    pending.reverse();
    let mut seen = BTreeSet::new();
    let mut result = SearchResult::default();
    while let Some(tile) = pending.pop() {
        if result.images.len() >= max_results {
            break;
        }
        let small = tile.max_lat - tile.min_lat <= SMALLEST_TILE
            && tile.max_lon - tile.min_lon <= SMALLEST_TILE;
        result.requests += 1;
        let items = match client.images_in_box(token, &tile, &fields, PAGE) {
            Ok(items) => items,
            // The server asks for less: ask for each quarter.
            Err(ApiError::Refused { status: 500, .. }) if !small => {
                pending.extend(quarters(&tile).into_iter().rev());
                continue;
            }
            Err(e) => return Err(e),
        };
        if items.len() >= PAGE && !small {
            // The answer may be cut short: look closer.
            pending.extend(quarters(&tile).into_iter().rev());
        }
        for item in items {
            let image = match found_image(&item, size) {
                Ok(image) => image,
                Err(why) => {
                    result.refused.push(why);
                    continue;
                }
            };
            if !seen.insert(image.id.clone()) {
                continue;
            }
            if result.images.len() < max_results {
                result.images.push(image);
            }
        }
    }
    Ok(result)
}

/// Why a thumbnail could not be downloaded.
#[derive(Debug)]
pub enum DownloadError {
    /// The thumbnail host failed or refused.
    Http(String),
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
            DownloadError::Http(why) => f.write_str(why),
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

/// Downloads thumbnails. It holds no token: thumbnail URLs are signed and
/// live on a CDN, which must never see the user's token.
#[derive(Debug, Clone)]
pub struct ThumbnailFetcher {
    agent: ureq::Agent,
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
    /// A fetcher with the protocol's retry rules.
    pub fn new() -> ThumbnailFetcher {
        ThumbnailFetcher {
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .user_agent(user_agent())
                .timeout_connect(Some(Duration::from_secs(60)))
                .timeout_per_read(Some(Duration::from_secs(60)))
                .max_idle_connections_per_host(16)
                .build()
                .new_agent(),
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
        let host = image.url.split('/').take(3).collect::<Vec<_>>().join("/");
        let mut written = None;
        let answer = with_retries(&self.policy, &host, None, notify, || {
            let mut response = self
                .agent
                .get(&image.url)
                .call()
                .map_err(|e| e.to_string())?;
            let status = response.status().as_u16();
            if status != 200 {
                // An error page: read it as an answer so that the retry
                // rules see its status.
                return read_answer(response);
            }
            let announced = response
                .headers()
                .get("content-length")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            // A retry starts the file again.
            file.set_len(0).map_err(|e| e.to_string())?;
            file.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
            let mut body = response.body_mut().with_config().limit(256 << 20).reader();
            let n = io::copy(&mut body, file).map_err(|e| e.to_string())?;
            written = Some((n, announced));
            Ok(crate::api::retry::Answer {
                status,
                retry_after: None,
                body: String::new(),
            })
        })
        .map_err(|e| DownloadError::Http(e.to_string()))?;
        let Some((n, announced)) = written.filter(|_| answer.status == 200) else {
            return Err(DownloadError::Http(format!(
                "HTTP {} ({})",
                answer.status,
                crate::api::error_message(&answer.body)
            )));
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
    fn tiles_cover_the_box_exactly() {
        let b = BoundingBox {
            min_lat: 10.0,
            max_lat: 10.12,
            min_lon: -0.03,
            max_lon: 0.03,
        };
        let t = tiles(&b, 0.05);
        assert_eq!(t.len(), 3 * 2);
        assert_eq!(t[0].min_lat, 10.0);
        assert_eq!(t[0].min_lon, -0.03);
        assert_eq!(t.last().unwrap().max_lat, 10.12);
        assert_eq!(t.last().unwrap().max_lon, 0.03);
        let area: f64 = t
            .iter()
            .map(|x| (x.max_lat - x.min_lat) * (x.max_lon - x.min_lon))
            .sum();
        assert!((area - 0.12 * 0.06).abs() < 1e-12);
        let q = quarters(&t[0]);
        assert_eq!(q[3].max_lat, t[0].max_lat);
        assert_eq!(q[0].min_lon, t[0].min_lon);
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
