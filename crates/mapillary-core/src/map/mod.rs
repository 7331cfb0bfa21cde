//! The map page: one self-contained HTML file that shows a GPS track,
//! where each photo landed on it (with its direction), and the photos that
//! did not land, with the reason. People would rather look than read: a
//! clock that is an hour off shows as photos bunched at one end of the
//! track long before it shows in the numbers.
//!
//! The page needs no network: the track and the photos are inline SVG,
//! with inline CSS and a few lines of inline JavaScript, and no external
//! script, font or image. The drawing is in Web Mercator (see
//! [`projection`]), so that an OpenStreetMap background can be laid under
//! it; that background is off until the reader turns it on in the page,
//! and the page says what it then loads and from where. A
//! Content-Security-Policy allows only the page's own style and script
//! (by their SHA-256) and images from the tile server, so that even a
//! name that slipped past the escaping could not run anything.
//!
//! Every name and reason is escaped for HTML after the control characters
//! and bytes that are not UTF-8 are written as escapes ([`crate::shown`]).
//! The size stays bounded: the track is thinned to what the drawing can
//! show (see [`simplify`]), and the photo list is about 250 bytes a photo.
//!
//! [`render`] makes the page from a [`MapPage`]; [`write_page`] writes it
//! through the project's file mechanism. A tool that decides photo by
//! photo on several threads collects the outcomes in a [`Collector`].
//!
//! A page served by a server (the local server's page of the sequences it
//! received) can add [`Section`]s below the map, with pictures and links;
//! they can point only at paths of that server ([`LocalPath`]), and the
//! policy then allows images and videos from it (`'self'`) besides the
//! tiles.

pub mod projection;
mod render;
pub mod simplify;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use jiff::{SignedDuration, Timestamp};

use crate::exif::{RewriteError, Updated};
use crate::files::replace::{Permissions, ReplaceError, ReplaceOptions, UpdateError, update};
use crate::geo::LatLon;
use crate::track::{Fix, Miss, TrackPoint};

pub use render::{escape_html, render};

/// A photo on the map.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacedPhoto {
    /// How the photo is named on the page (a path relative to the folder
    /// the tool was given, usually). Any bytes: shown escaped.
    pub name: PathBuf,
    /// Where it was taken (WGS-84 degrees, latitude first).
    pub position: LatLon,
    /// Which way the camera looked, in degrees clockwise from true north;
    /// `None` draws a dot without a direction.
    pub direction: Option<f64>,
    /// When it was taken (UTC; for geotag_from_gpx, the instant on the
    /// track: the camera time less the time offset).
    pub time: Timestamp,
    /// The sequence it belongs to, if the photos come in sequences (as
    /// uploaded ones do): each sequence is drawn in its own colour and its
    /// photos joined in time order.
    pub sequence: Option<String>,
}

/// A photo that is not on the map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedPhoto {
    /// How the photo is named on the page (any bytes: shown escaped).
    pub name: PathBuf,
    /// Why, for this photo ("3.0 s before the track starts (…)").
    pub reason: String,
    /// The cause it shares with other photos ("before the track starts"),
    /// under which the page groups them when there are many; photos
    /// without one are grouped by their reason.
    pub cause: Option<String>,
}

/// What a map page shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MapPage {
    /// The page's title and heading.
    pub title: String,
    /// Lines under the heading: what was run on what, whether it was a
    /// dry run.
    pub notes: Vec<String>,
    /// The GPS track, sorted by time (it may be empty).
    pub track: Vec<TrackPoint>,
    /// Two track points further apart in time than this are joined by a
    /// dashed line, not the track's (no photo is placed between them).
    pub track_gap: Option<SignedDuration>,
    /// The photos on the map.
    pub photos: Vec<PlacedPhoto>,
    /// The photos not on the map.
    pub skipped: Vec<SkippedPhoto>,
    /// More of the page, below the map (none for geotag_from_gpx).
    pub sections: Vec<Section>,
}

/// A part of the page below the map: a heading, paragraphs and pictures
/// (what the local server shows of each sequence it received). Its text is
/// shown as text, escaped as names are; its pictures and links point only
/// at the server that serves the page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Section {
    /// Its heading.
    pub heading: String,
    /// The sequence it is about (as in [`PlacedPhoto::sequence`]): its
    /// heading then carries the sequence's colour on the map.
    pub sequence: Option<String>,
    /// Its paragraphs, each a run of [`Span`]s.
    pub paragraphs: Vec<Vec<Span>>,
    /// Its pictures, side by side.
    pub figures: Vec<Figure>,
}

/// A piece of a paragraph or caption.
#[derive(Debug, Clone, PartialEq)]
pub enum Span {
    /// Text, shown as it is.
    Text(String),
    /// A name (a file, an id), shown in the monospace the page uses for
    /// names.
    Name(String),
    /// A link to a path of the page's own server.
    Link {
        /// What the link says.
        text: String,
        /// Where it goes.
        to: LocalPath,
    },
}

/// A picture of a [`Section`], with its caption.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// What is shown.
    pub media: Media,
    /// What is written under it.
    pub caption: Vec<Span>,
}

/// What a [`Figure`] shows, from the page's own server.
#[derive(Debug, Clone, PartialEq)]
pub enum Media {
    /// An image (a photo, shown small); `alt` says what it is.
    Image {
        /// Where the image is.
        src: LocalPath,
        /// Its text for readers that show no images.
        alt: String,
    },
    /// A video in the browser's player, which loads only its metadata
    /// until it is played.
    Video {
        /// Where the video is.
        src: LocalPath,
    },
}

/// A path on the server that serves the page, from its root
/// (`/local/sequences/7000001/0.jpg`), percent-encoded: what a picture or
/// a link of a [`Section`] may point at, so that the page loads nothing
/// from anywhere else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalPath(String);

impl LocalPath {
    /// The path of `segments` under the root, each percent-encoded but for
    /// ASCII letters, digits and `-._~`; `None` when a segment is empty,
    /// `.` or `..` (which a browser would fold into another path). No
    /// segment at all is the root, `/`.
    pub fn new<S: AsRef<str>>(segments: &[S]) -> Option<LocalPath> {
        if segments.is_empty() {
            return Some(LocalPath("/".to_string()));
        }
        let mut path = String::new();
        for segment in segments {
            let segment = segment.as_ref();
            if matches!(segment, "" | "." | "..") {
                return None;
            }
            path.push('/');
            for b in segment.bytes() {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    path.push(char::from(b));
                } else {
                    path.push_str(&format!("%{b:02X}"));
                }
            }
        }
        Some(LocalPath(path))
    }

    /// The path as written in the page (before HTML escaping, which it
    /// does not need).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Writes `html` to `path` (an HTML file the user named): created when
/// missing (with its folder), else replaced atomically, keeping the file's
/// permissions, through [`crate::files::replace::update`]. `sync` flushes
/// it to the disk.
pub fn write_page(path: &Path, html: &str, sync: bool) -> Result<(), ReplaceError> {
    let options = ReplaceOptions {
        sync,
        ..ReplaceOptions::default()
    };
    update(path, Permissions::Keep { new: 0o644 }, &options, |_| {
        Ok::<_, std::convert::Infallible>(html.as_bytes().to_vec())
    })
    .map_err(|e| match e {
        UpdateError::Write(e) => e,
        UpdateError::Change(never) => match never {},
    })
}

/// Whether `path` may be written as a map page: its name must end in
/// `.html` or `.htm` (any case) and it must not be a folder, so that a slip
/// on the command line cannot overwrite a photo or a track with a page.
pub fn check_page_name(path: &Path) -> Result<(), String> {
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let html = ["html", "htm"]
        .iter()
        .any(|x| extension.eq_ignore_ascii_case(x));
    if !html {
        return Err(format!(
            "{}: the page's name must end in .html",
            crate::shown::shown(path)
        ));
    }
    if path.is_dir() {
        return Err(format!("{}: is a folder", crate::shown::shown(path)));
    }
    Ok(())
}

/// The cause a track miss shares with others, for grouping.
pub fn miss_cause(miss: &Miss) -> &'static str {
    match miss {
        Miss::BeforeStart { .. } => "before the track starts",
        Miss::AfterEnd { .. } => "after the track ends",
        Miss::InGap { .. } => "in a gap of the track",
    }
}

/// What was decided about one photo before it was written: placed at a fix
/// (at the instant on the track), or missed by the track.
pub type Landing = Result<(Fix, Timestamp), Miss>;

/// The outcomes of a run, collected from any number of threads.
#[derive(Debug, Default)]
pub struct Collector {
    root: PathBuf,
    placed: Mutex<Vec<PlacedPhoto>>,
    skipped: Mutex<Vec<SkippedPhoto>>,
}

impl Collector {
    /// A collector for photos found under `root` (the folder or file the
    /// tool was given): they are named relative to it.
    pub fn new(root: &Path) -> Collector {
        Collector {
            root: root.to_path_buf(),
            ..Collector::default()
        }
    }

    fn name(&self, file: &Path) -> PathBuf {
        match file.strip_prefix(&self.root) {
            Ok(rel) if !rel.as_os_str().is_empty() => rel.to_path_buf(),
            _ => file.to_path_buf(),
        }
    }

    /// Adds a photo to the map.
    pub fn place(&self, photo: PlacedPhoto) {
        self.placed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(photo);
    }

    /// Lists a photo as not placed.
    pub fn skip(&self, photo: SkippedPhoto) {
        self.skipped
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(photo);
    }

    /// Records what became of `file` in a geotagging run: `landing` is
    /// what the tool decided (if it got that far), `result` what the
    /// rewrite did. A photo written, or that would be in a dry run, is
    /// placed; one skipped or failed is listed with the reason.
    pub fn record(
        &self,
        file: &Path,
        landing: Option<Landing>,
        result: &Result<Updated, RewriteError>,
    ) {
        let name = self.name(file);
        let skip = |reason: String, cause: Option<&str>| SkippedPhoto {
            name: name.clone(),
            reason,
            cause: cause.map(str::to_string),
        };
        match (result, landing) {
            (Ok(Updated::Written | Updated::WouldWrite), Some(Ok((fix, time)))) => {
                self.place(PlacedPhoto {
                    name,
                    position: fix.position,
                    direction: fix.bearing,
                    time,
                    sequence: None,
                })
            }
            (Ok(Updated::Skipped(reason)), Some(Err(miss))) => {
                self.skip(skip(reason.to_string(), Some(miss_cause(&miss))))
            }
            (Ok(Updated::Skipped(reason)), _) => self.skip(skip(reason.to_string(), None)),
            (Err(e), _) => self.skip(skip(e.to_string(), Some("not readable or not writable"))),
            // Written without a position: not a geotagging outcome, so
            // there is nothing to draw.
            (Ok(Updated::Written | Updated::WouldWrite), _) => {}
        }
    }

    /// The page of what was collected, over `track` (see [`MapPage`]).
    pub fn into_page(
        self,
        title: String,
        notes: Vec<String>,
        track: &[TrackPoint],
        track_gap: Option<SignedDuration>,
    ) -> MapPage {
        let (photos, skipped) = self.into_parts();
        MapPage {
            title,
            notes,
            track: track.to_vec(),
            track_gap,
            photos,
            skipped,
            sections: Vec::new(),
        }
    }

    /// The photos placed (by time, then name) and those not (by name).
    pub fn into_parts(self) -> (Vec<PlacedPhoto>, Vec<SkippedPhoto>) {
        let mut placed = self
            .placed
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        let mut skipped = self
            .skipped
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        placed.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.name.cmp(&b.name)));
        skipped.sort_by(|a, b| a.name.cmp(&b.name));
        (placed, skipped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exif::RewriteError;

    fn fix(lat: f64, lon: f64) -> Fix {
        Fix {
            position: LatLon::new(lat, lon),
            elevation: None,
            bearing: Some(90.0),
        }
    }

    #[test]
    fn outcomes_become_placed_and_skipped_photos_named_under_the_root() {
        let c = Collector::new(Path::new("trip"));
        let t: Timestamp = "2021-06-01T10:00:00Z".parse().unwrap();
        c.record(
            Path::new("trip/b.jpg"),
            Some(Ok((fix(1.0, 2.0), t))),
            &Ok(Updated::WouldWrite),
        );
        c.record(
            Path::new("trip/sub/a.jpg"),
            Some(Ok((fix(1.0, 2.0), t))),
            &Ok(Updated::Written),
        );
        let miss = Miss::BeforeStart {
            start: t,
            by: SignedDuration::from_secs(3),
        };
        c.record(
            Path::new("trip/c.jpg"),
            Some(Err(miss)),
            &Ok(Updated::Skipped(miss.into())),
        );
        c.record(
            Path::new("trip/d.jpg"),
            None,
            &Ok(Updated::Skipped(crate::exif::NoCaptureTime::Missing.into())),
        );
        c.record(
            Path::new("trip/e.jpg"),
            None,
            &Err(RewriteError::Incomplete),
        );
        let (placed, skipped) = c.into_parts();
        let names: Vec<_> = placed.iter().map(|p| p.name.clone()).collect();
        assert_eq!(names, [PathBuf::from("b.jpg"), PathBuf::from("sub/a.jpg")]);
        assert_eq!(placed[0].direction, Some(90.0));
        assert_eq!(skipped.len(), 3);
        assert_eq!(skipped[0].name, Path::new("c.jpg"));
        assert_eq!(skipped[0].cause.as_deref(), Some("before the track starts"));
        assert!(
            skipped[0]
                .reason
                .starts_with("3.0 s before the track starts")
        );
        assert_eq!(skipped[1].cause, None);
        assert_eq!(skipped[2].reason, RewriteError::Incomplete.to_string());
        // A single file given as the root keeps its own name.
        let c = Collector::new(Path::new("one.jpg"));
        assert_eq!(c.name(Path::new("one.jpg")), Path::new("one.jpg"));
    }

    #[test]
    fn only_html_names_are_taken_for_a_page() {
        let dir = tempfile::tempdir().unwrap();
        for ok in ["trip.html", "Trip.HTM", "maps/new.html"] {
            assert_eq!(check_page_name(&dir.path().join(ok)), Ok(()), "{ok}");
        }
        for bad in ["IMG_0001.jpg", "track.gpx", "trip", "html"] {
            let err = check_page_name(Path::new(bad)).unwrap_err();
            assert_eq!(err, format!("{bad}: the page's name must end in .html"));
        }
        let folder = dir.path().join("folder.html");
        std::fs::create_dir(&folder).unwrap();
        assert!(
            check_page_name(&folder)
                .unwrap_err()
                .ends_with(": is a folder")
        );
    }

    #[test]
    fn local_paths_are_percent_encoded_and_never_leave_the_server() {
        let p = LocalPath::new(&["local", "sequences", "7000001", "0.jpg"]).unwrap();
        assert_eq!(p.as_str(), "/local/sequences/7000001/0.jpg");
        let odd = LocalPath::new(&["a b", "<x>&\"'", "/etc", "Straße", "%2e"]).unwrap();
        assert_eq!(
            odd.as_str(),
            "/a%20b/%3Cx%3E%26%22%27/%2Fetc/Stra%C3%9Fe/%252e"
        );
        assert_eq!(LocalPath::new::<&str>(&[]).unwrap().as_str(), "/");
        for bad in [&["local", ".."][..], &["."], &["a", ""]] {
            assert_eq!(LocalPath::new(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_page_is_written_new_and_then_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("maps/trip.html");
        write_page(&path, "<p>one</p>", false).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "<p>one</p>");
        write_page(&path, "<p>two</p>", false).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "<p>two</p>");
        let entries = std::fs::read_dir(dir.path().join("maps")).unwrap().count();
        assert_eq!(entries, 1, "no temporary file left");
    }
}
