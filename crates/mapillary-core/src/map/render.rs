//! The HTML of the map page.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use jiff::Timestamp;
use sha2::{Digest, Sha256};

use super::projection::{View, metres_per_pixel, scale_bar};
use super::simplify::simplify;
use super::{MapPage, Media, PlacedPhoto, Section, SkippedPhoto, Span};
use crate::shown::{escaped, shown};

/// The drawing's size, in CSS pixels.
const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 640.0;
/// Room kept around what is drawn, in pixels.
const MARGIN: f64 = 36.0;
/// How far, in pixels, the thinned track may stray from the recorded one.
const TOLERANCE: f64 = 0.4;
/// The most track points drawn; a track that still has more after
/// thinning is thinned harder.
const MAX_TRACK_POINTS: usize = 20_000;
/// The length of a photo's direction line, in pixels.
const DIRECTION: f64 = 14.0;
/// More photos not placed than this are grouped by cause.
const GROUP_FROM: usize = 12;
/// Groups of up to this many photos are shown open.
const OPEN_UP_TO: usize = 50;
/// The most names listed in one group (the rest are counted).
const LISTED_PER_GROUP: usize = 1000;
/// The colours photos are drawn in, by sequence (`.c0` … in the CSS).
const COLOURS: usize = 6;

const CSS: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");

/// Where the optional background comes from, and its terms.
const TILE_HOST: &str = "https://tile.openstreetmap.org";
const TILE_POLICY: &str = "https://operations.osmfoundation.org/policies/tiles/";
const COPYRIGHT: &str = "https://www.openstreetmap.org/copyright";

/// `text` with `&`, `<`, `>`, `"` and `'` written as character
/// references, so that it is shown as it is in HTML text and in quoted
/// attribute values; borrowed when it has none of them.
pub fn escape_html(text: &str) -> Cow<'_, str> {
    if !text.contains(['&', '<', '>', '"', '\'']) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Outside text (a reason, a note) for the page: controls escaped as the
/// terminal lines escape them, then HTML.
fn text(s: &str) -> String {
    escape_html(&escaped(s)).into_owned()
}

/// A file name for the page: any bytes (see [`crate::shown`]), then HTML.
fn name(path: &Path) -> String {
    escape_html(&shown(path).to_string()).into_owned()
}

fn utc(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M:%S%.f UTC").to_string()
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A CSP source for an inline element's exact content.
fn csp_hash(content: &str) -> String {
    let digest = Sha256::digest(content.as_bytes());
    format!("'sha256-{}'", data_encoding::BASE64.encode(&digest))
}

/// The whole page (see the module's documentation).
pub fn render(page: &MapPage) -> String {
    let positions = page
        .track
        .iter()
        .map(|p| p.position)
        .chain(page.photos.iter().map(|p| p.position));
    let view = View::fit(positions, WIDTH, HEIGHT, MARGIN);
    let title = text(&page.title);
    let mut out = String::with_capacity(4096 + page.photos.len() * 260 + page.skipped.len() * 120);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\n\
         <title>{title}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<header>\n<h1>{title}</h1>\n",
        policy(&page.sections),
    );
    for note in &page.notes {
        let _ = writeln!(out, "<p class=\"note\">{}</p>", text(note));
    }
    let _ = writeln!(out, "<p class=\"counts\">{}</p>\n</header>", counts(page));
    out.push_str("<figure>\n");
    svg(&mut out, page, &view);
    legend(&mut out, page);
    out.push_str("</figure>\n");
    tiles_section(&mut out, shows_media(&page.sections));
    // "Not placed" is about photos that missed a track; a page of photos
    // that carry their own positions (received ones) has it only when
    // some could not be drawn.
    if !page.track.is_empty() || !page.skipped.is_empty() {
        unplaced(&mut out, &page.skipped, !page.photos.is_empty());
    }
    let index = sequence_index(&page.photos);
    for section in &page.sections {
        extra(&mut out, section, &index);
    }
    let _ = write!(out, "<script>{SCRIPT}</script>\n</body>\n</html>\n");
    out
}

/// The Content-Security-Policy: the page's own style and script (by their
/// hashes), the tiles, and images and videos of the page's own server
/// when its sections show some.
fn policy(sections: &[Section]) -> String {
    let media = || sections.iter().flat_map(|s| &s.figures).map(|f| &f.media);
    let images = media().any(|m| matches!(m, Media::Image { .. }));
    let videos = media().any(|m| matches!(m, Media::Video { .. }));
    format!(
        "default-src 'none'; style-src {}; script-src {}; img-src {TILE_HOST}{}; {}base-uri 'none'; \
         form-action 'none'",
        csp_hash(CSS),
        csp_hash(SCRIPT),
        if images { " 'self'" } else { "" },
        if videos { "media-src 'self'; " } else { "" },
    )
}

/// The line of counts under the heading.
fn counts(page: &MapPage) -> String {
    let mut line = format!(
        "{} on the map",
        plural(page.photos.len(), "photo", "photos")
    );
    let sequences = sequence_index(&page.photos).len();
    if sequences > 0 {
        let _ = write!(line, " in {}", plural(sequences, "sequence", "sequences"));
    }
    if page.track.is_empty() {
        if !page.skipped.is_empty() {
            let _ = write!(line, ", {} not placed", page.skipped.len());
        }
    } else {
        let _ = write!(
            line,
            ", {} not placed; a track of {}",
            page.skipped.len(),
            plural(page.track.len(), "point", "points")
        );
    }
    line.push('.');
    line
}

fn px(v: f64) -> String {
    format!("{v:.1}")
}

fn svg(out: &mut String, page: &MapPage, view: &View) {
    let _ = writeln!(
        out,
        "<svg id=\"map\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
         viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"map of the track and the photos\" \
         data-scale=\"{}\" data-left=\"{}\" data-top=\"{}\" data-width=\"{w}\" data-height=\"{h}\">",
        view.scale,
        view.left,
        view.top,
        w = WIDTH,
        h = HEIGHT,
    );
    out.push_str("<g id=\"tiles\" display=\"none\"></g>\n");
    track(out, page, view);
    sequences(out, &page.photos, view);
    photos(out, &page.photos, view);
    if page.track.is_empty() && page.photos.is_empty() {
        let _ = writeln!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">nothing to draw: no track and no photo placed</text>",
            WIDTH / 2.0,
            HEIGHT / 2.0
        );
    }
    bar(out, view);
    let _ = writeln!(
        out,
        "<text x=\"{}\" y=\"22\" text-anchor=\"end\">north ↑</text>",
        WIDTH - 10.0
    );
    let _ = writeln!(
        out,
        "<g id=\"tile-credit\" class=\"credit\" display=\"none\"><a href=\"{COPYRIGHT}\">\
         <text x=\"{}\" y=\"{}\" text-anchor=\"end\">© OpenStreetMap contributors</text></a></g>",
        WIDTH - 8.0,
        HEIGHT - 8.0
    );
    out.push_str("</svg>\n");
}

/// The track as polylines, split where it has a gap longer than
/// `track_gap` (drawn dashed), each thinned to what the drawing shows.
fn track(out: &mut String, page: &MapPage, view: &View) {
    let points = &page.track;
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return;
    };
    let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for (i, p) in points.iter().enumerate() {
        let broken = i > 0
            && page
                .track_gap
                .is_some_and(|gap| p.time.duration_since(points[i - 1].time) > gap);
        if broken {
            runs.push(Vec::new());
        }
        if let Some(run) = runs.last_mut() {
            run.push(view.place(p.position));
        }
    }
    let mut tolerance = TOLERANCE;
    let thinned = loop {
        let thinned: Vec<Vec<(f64, f64)>> = runs.iter().map(|r| simplify(r, tolerance)).collect();
        if thinned.iter().map(Vec::len).sum::<usize>() <= MAX_TRACK_POINTS {
            break thinned;
        }
        tolerance *= 2.0;
    };
    out.push_str("<g class=\"tracks\">\n");
    for pair in thinned.windows(2) {
        if let (Some(a), Some(b)) = (pair[0].last(), pair[1].first()) {
            let _ = writeln!(
                out,
                "<line class=\"gap\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>",
                px(a.0),
                px(a.1),
                px(b.0),
                px(b.1)
            );
        }
    }
    for run in &thinned {
        out.push_str("<polyline class=\"track\" points=\"");
        // One point alone is drawn as a dot (a line of length zero).
        let lone = run.len() == 1;
        for (i, p) in run
            .iter()
            .chain(run.iter().take(usize::from(lone)))
            .enumerate()
        {
            if i > 0 {
                out.push(' ');
            }
            let _ = write!(out, "{},{}", px(p.0), px(p.1));
        }
        out.push_str("\"/>\n");
    }
    let (sx, sy) = view.place(first.position);
    let (ex, ey) = view.place(last.position);
    let _ = writeln!(
        out,
        "<g class=\"ends\"><circle id=\"track-start\" cx=\"{}\" cy=\"{}\" r=\"5\"><title>track starts {}</title></circle>\
         <rect id=\"track-end\" x=\"{}\" y=\"{}\" width=\"9\" height=\"9\"><title>track ends {}</title></rect></g>",
        px(sx),
        px(sy),
        utc(first.time),
        px(ex - 4.5),
        px(ey - 4.5),
        utc(last.time)
    );
    out.push_str("</g>\n");
}

/// The sequences photos belong to, in the order they first appear.
fn sequence_index(photos: &[PlacedPhoto]) -> BTreeMap<&str, usize> {
    let mut index = BTreeMap::new();
    for s in photos.iter().filter_map(|p| p.sequence.as_deref()) {
        let next = index.len();
        index.entry(s).or_insert(next);
    }
    index
}

fn colour(photo: &PlacedPhoto, index: &BTreeMap<&str, usize>) -> usize {
    photo
        .sequence
        .as_deref()
        .and_then(|s| index.get(s))
        .map_or(0, |i| i % COLOURS)
}

/// Each sequence's photos joined in time order.
fn sequences(out: &mut String, photos: &[PlacedPhoto], view: &View) {
    let index = sequence_index(photos);
    if index.is_empty() {
        return;
    }
    let mut members: Vec<Vec<&PlacedPhoto>> = vec![Vec::new(); index.len()];
    for p in photos {
        if let Some(i) = p.sequence.as_deref().and_then(|s| index.get(s)) {
            members[*i].push(p);
        }
    }
    for (i, mut list) in members.into_iter().enumerate() {
        if list.len() < 2 {
            continue;
        }
        list.sort_by_key(|p| p.time);
        let _ = write!(
            out,
            "<polyline class=\"sequence c{}\" points=\"",
            i % COLOURS
        );
        for (k, p) in list.iter().enumerate() {
            let (x, y) = view.place(p.position);
            if k > 0 {
                out.push(' ');
            }
            let _ = write!(out, "{},{}", px(x), px(y));
        }
        out.push_str("\"/>\n");
    }
}

fn photos(out: &mut String, photos: &[PlacedPhoto], view: &View) {
    let index = sequence_index(photos);
    out.push_str("<g class=\"photos\">\n");
    for p in photos {
        let (x, y) = view.place(p.position);
        let _ = write!(
            out,
            "<g class=\"photo c{}\" transform=\"translate({} {})\">",
            colour(p, &index),
            px(x),
            px(y)
        );
        if let Some(d) = p.direction.filter(|d| d.is_finite()) {
            // Drawn pointing north (up), then turned clockwise: on a
            // Mercator map, which keeps angles, that is the bearing.
            let _ = write!(
                out,
                "<line y2=\"-{DIRECTION}\" transform=\"rotate({d:.1})\"/>"
            );
        }
        let _ = write!(
            out,
            "<circle r=\"4.5\"/><title>{}\n{}\n{:.6}, {:.6}",
            name(&p.name),
            utc(p.time),
            p.position.lat,
            p.position.lon
        );
        if let Some(d) = p.direction.filter(|d| d.is_finite()) {
            let _ = write!(out, "\nlooking {d:.0}° from north");
        }
        if let Some(s) = &p.sequence {
            let _ = write!(out, "\nsequence {}", text(s));
        }
        out.push_str("</title></g>\n");
    }
    out.push_str("</g>\n");
}

fn bar(out: &mut String, view: &View) {
    let mpp = metres_per_pixel(view.centre_latitude(), view.scale);
    let (metres, length) = scale_bar(mpp, 120.0);
    if length <= 0.0 {
        return;
    }
    let label = if metres >= 1000.0 {
        format!("{} km", metres / 1000.0)
    } else {
        format!("{metres} m")
    };
    let _ = writeln!(
        out,
        "<g class=\"scale\" transform=\"translate(12 {})\"><path id=\"scale-bar\" d=\"M0 -6V0H{}V-6\" \
         data-metres=\"{metres}\"/><text x=\"0\" y=\"-10\">{label}</text></g>",
        HEIGHT - 14.0,
        px(length)
    );
}

fn legend(out: &mut String, page: &MapPage) {
    out.push_str("<figcaption>Each dot is a photo, its line the direction the camera looked");
    if !page.track.is_empty() {
        out.push_str("; the blue line is the track, from the ring (start) to the square (end)");
        if page.track_gap.is_some() {
            out.push_str(", dashed where it has a gap in which no photo is placed");
        }
    }
    if page.photos.iter().any(|p| p.sequence.is_some()) {
        out.push_str(
            "; each sequence has a colour of its own, its photos joined in the order they were taken",
        );
    }
    out.push_str(
        ". Hover over a dot for the photo's name, time (UTC) and position \
         (latitude, longitude in degrees). North is up; the scale bar holds at the map's middle \
         (Web Mercator).",
    );
    let index = sequence_index(&page.photos);
    if !index.is_empty() {
        let mut counts = vec![0usize; index.len()];
        for p in &page.photos {
            if let Some(i) = p.sequence.as_deref().and_then(|s| index.get(s)) {
                counts[*i] += 1;
            }
        }
        let mut by_order: Vec<(&str, usize)> = index.iter().map(|(s, i)| (*s, *i)).collect();
        by_order.sort_by_key(|(_, i)| *i);
        out.push_str("</figcaption>\n<ul class=\"sequences\">\n");
        for (s, i) in by_order {
            let _ = writeln!(
                out,
                "<li><span class=\"swatch c{}\"></span>sequence <span class=\"name\">{}</span>: {}</li>",
                i % COLOURS,
                text(s),
                plural(counts[i], "photo", "photos")
            );
        }
        out.push_str("</ul>\n");
    } else {
        out.push_str("</figcaption>\n");
    }
}

/// Whether the sections show images or videos (of the page's server).
fn shows_media(sections: &[Section]) -> bool {
    sections.iter().any(|s| !s.figures.is_empty())
}

fn tiles_section(out: &mut String, own_media: bool) {
    let besides = if own_media {
        "Besides the pictures below, from the server that serves this page, nothing else is ever \
         loaded"
    } else {
        "Nothing else is ever loaded"
    };
    let _ = writeln!(
        out,
        "<section class=\"tiles\">\n<p><label><input type=\"checkbox\" id=\"tiles-on\"> \
         Show an OpenStreetMap background</label> (off until you tick it).</p>\n\
         <p>Ticked, this page loads map images (about 20 to 50 tiles of 256 × 256 pixels) \
         over the internet from {TILE_HOST}, the OpenStreetMap Foundation's tile server, \
         under its <a href=\"{TILE_POLICY}\">tile usage policy</a>; the map data is \
         © <a href=\"{COPYRIGHT}\">OpenStreetMap contributors</a> (ODbL), as the map then says. \
         {besides}: the drawing above is all in this page, and works \
         without a connection.</p>\n</section>"
    );
}

fn unplaced(out: &mut String, skipped: &[SkippedPhoto], any_placed: bool) {
    let _ = writeln!(
        out,
        "<section class=\"unplaced\" id=\"unplaced\">\n<h2>Not placed: {}</h2>",
        plural(skipped.len(), "photo", "photos")
    );
    if skipped.is_empty() {
        if any_placed {
            out.push_str("<p>None: every photo is on the map.</p>\n");
        }
        out.push_str("</section>\n");
        return;
    }
    if skipped.len() <= GROUP_FROM {
        out.push_str("<ul>\n");
        for s in skipped {
            let _ = writeln!(
                out,
                "<li><span class=\"name\">{}</span>: <span class=\"reason\">{}</span></li>",
                name(&s.name),
                text(&s.reason)
            );
        }
        out.push_str("</ul>\n</section>\n");
        return;
    }
    let mut groups: BTreeMap<&str, Vec<&SkippedPhoto>> = BTreeMap::new();
    for s in skipped {
        groups
            .entry(s.cause.as_deref().unwrap_or(&s.reason))
            .or_default()
            .push(s);
    }
    let mut groups: Vec<(&str, Vec<&SkippedPhoto>)> = groups.into_iter().collect();
    groups.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then_with(|| a.0.cmp(b.0)));
    for (cause, members) in groups {
        let _ = writeln!(
            out,
            "<details class=\"group\"{}><summary>{}: {}</summary>\n<ul>",
            if members.len() <= OPEN_UP_TO {
                " open"
            } else {
                ""
            },
            text(cause),
            plural(members.len(), "photo", "photos")
        );
        for s in members.iter().take(LISTED_PER_GROUP) {
            let _ = write!(out, "<li><span class=\"name\">{}</span>", name(&s.name));
            if s.reason != cause {
                let _ = write!(out, ": <span class=\"reason\">{}</span>", text(&s.reason));
            }
            out.push_str("</li>\n");
        }
        if members.len() > LISTED_PER_GROUP {
            let _ = writeln!(
                out,
                "<li>… and {} more (the tool's output lists every one)</li>",
                members.len() - LISTED_PER_GROUP
            );
        }
        out.push_str("</ul>\n</details>\n");
    }
    out.push_str("</section>\n");
}

/// A run of spans as HTML.
fn spans(out: &mut String, spans: &[Span]) {
    for span in spans {
        match span {
            Span::Text(t) => out.push_str(&text(t)),
            Span::Name(n) => {
                let _ = write!(out, "<span class=\"name\">{}</span>", text(n));
            }
            Span::Link { text: t, to } => {
                let _ = write!(
                    out,
                    "<a href=\"{}\">{}</a>",
                    escape_html(to.as_str()),
                    text(t)
                );
            }
        }
    }
}

/// A section below the map.
fn extra(out: &mut String, section: &Section, index: &BTreeMap<&str, usize>) {
    out.push_str("<section class=\"extra\">\n<h2>");
    if let Some(i) = section.sequence.as_deref().and_then(|s| index.get(s)) {
        let _ = write!(out, "<span class=\"swatch c{}\"></span>", i % COLOURS);
    }
    let _ = writeln!(out, "{}</h2>", text(&section.heading));
    for paragraph in &section.paragraphs {
        out.push_str("<p>");
        spans(out, paragraph);
        out.push_str("</p>\n");
    }
    if !section.figures.is_empty() {
        out.push_str("<div class=\"pictures\">\n");
        for figure in &section.figures {
            out.push_str("<figure>");
            match &figure.media {
                Media::Image { src, alt } => {
                    let _ = write!(
                        out,
                        "<img src=\"{}\" alt=\"{}\" loading=\"lazy\">",
                        escape_html(src.as_str()),
                        text(alt)
                    );
                }
                Media::Video { src } => {
                    let _ = write!(
                        out,
                        "<video controls preload=\"metadata\" src=\"{}\"></video>",
                        escape_html(src.as_str())
                    );
                }
            }
            out.push_str("<figcaption>");
            spans(out, &figure.caption);
            out.push_str("</figcaption></figure>\n");
        }
        out.push_str("</div>\n");
    }
    out.push_str("</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo::LatLon;
    use crate::track::TrackPoint;
    use jiff::SignedDuration;
    use std::path::PathBuf;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn photo(name: &str, lat: f64, lon: f64) -> PlacedPhoto {
        PlacedPhoto {
            name: PathBuf::from(name),
            position: LatLon::new(lat, lon),
            direction: Some(45.0),
            time: at("2021-06-01T10:00:02.5Z"),
            sequence: None,
        }
    }

    #[test]
    fn html_special_characters_are_escaped() {
        assert_eq!(
            escape_html(r#"<img src=x onerror="a('&')">"#),
            "&lt;img src=x onerror=&quot;a(&#39;&amp;&#39;)&quot;&gt;"
        );
        assert!(matches!(escape_html("Straße 1.jpg"), Cow::Borrowed(_)));
        assert_eq!(escape_html("&amp;"), "&amp;amp;");
    }

    #[cfg(unix)]
    #[test]
    fn names_with_markup_controls_and_broken_bytes_are_shown_as_text() {
        use std::ffi::OsStr;
        use std::os::unix::ffi::OsStrExt;
        let weird = OsStr::from_bytes(b"<script>&\"'\x1b[2J\xff.jpg");
        let mut p = photo("x", 1.0, 2.0);
        p.name = PathBuf::from(weird);
        let page = MapPage {
            title: "map of <b>".to_string(),
            notes: vec!["note \u{202e} & more".to_string()],
            photos: vec![p],
            skipped: vec![SkippedPhoto {
                name: PathBuf::from(OsStr::from_bytes(b"<img src=x onerror=alert(1)>\n.jpg")),
                reason: "bad <tag> & \u{7}bell".to_string(),
                cause: None,
            }],
            ..MapPage::default()
        };
        let html = render(&page);
        assert!(
            html.contains("&lt;script&gt;&amp;&quot;&#39;\\x1b[2J\\xff.jpg"),
            "{html}"
        );
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;\\n.jpg"));
        assert!(html.contains("bad &lt;tag&gt; &amp; \\x07bell"));
        assert!(html.contains("<title>map of &lt;b&gt;</title>"));
        assert!(html.contains("note \\u{202e} &amp; more"));
        // The only elements are the page's own: no markup came from a name.
        assert!(!html.contains("<script>&"));
        assert!(!html.contains("<img"));
        assert_eq!(html.matches("<script>").count(), 1);
        // No control character at all made it into the page, other than
        // the newlines of the page itself.
        assert!(!html.chars().any(|c| c.is_control() && c != '\n'));
    }

    #[test]
    fn the_policy_allows_exactly_the_page_s_own_style_and_script() {
        let html = render(&MapPage::default());
        let csp_start = html.find("Content-Security-Policy\" content=\"").unwrap();
        let csp = &html[csp_start..html[csp_start..].find("\">").unwrap() + csp_start];
        assert!(csp.contains("default-src 'none'"));
        assert!(csp.contains("img-src https://tile.openstreetmap.org;"));
        // The hashes are of what is in the page.
        let inline = |open: &str, close: &str| {
            let s = html.find(open).unwrap() + open.len();
            let e = s + html[s..].find(close).unwrap();
            html[s..e].to_string()
        };
        assert!(csp.contains(&csp_hash(&inline("<style>", "</style>"))));
        assert!(csp.contains(&csp_hash(&inline("<script>", "</script>"))));
        // Known value: SHA-256 of nothing.
        assert_eq!(
            csp_hash(""),
            "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"
        );
        // Nothing is loaded from anywhere but the tile server, and only by
        // the script.
        for attr in ["src=", "href=\"http", "url("] {
            let outside: Vec<&str> = html
                .match_indices(attr)
                .map(|(i, _)| &html[i..(i + 60).min(html.len())])
                .filter(|s| {
                    !s.contains("openstreetmap.org/copyright") && !s.contains("osmfoundation.org")
                })
                .collect();
            assert!(outside.is_empty(), "{outside:?}");
        }
    }

    #[test]
    fn photos_are_drawn_where_the_view_places_them_with_their_direction() {
        let track = vec![
            TrackPoint {
                time: at("2021-06-01T10:00:00Z"),
                position: LatLon::new(52.5, 13.4),
                elevation: None,
            },
            TrackPoint {
                time: at("2021-06-01T10:00:10Z"),
                position: LatLon::new(52.501, 13.402),
                elevation: None,
            },
        ];
        let p = photo("IMG_1.jpg", 52.50025, 13.4005);
        let page = MapPage {
            track: track.clone(),
            photos: vec![p.clone()],
            ..MapPage::default()
        };
        let html = render(&page);
        let view = View::fit(
            [track[0].position, track[1].position, p.position],
            WIDTH,
            HEIGHT,
            MARGIN,
        );
        let (x, y) = view.place(p.position);
        assert!(
            html.contains(&format!("translate({x:.1} {y:.1})")),
            "{html}"
        );
        assert!(html.contains("rotate(45.0)"));
        assert!(html.contains("IMG_1.jpg\n2021-06-01 10:00:02.5 UTC\n52.500250, 13.400500"));
        assert!(html.contains(&format!("data-scale=\"{}\"", view.scale)));
        assert!(html.contains("1 photo on the map, 0 not placed; a track of 2 points."));
    }

    #[test]
    fn sequences_without_a_track_get_a_colour_a_line_and_a_legend_each() {
        // What the local server shows: photos received in sequences.
        let mut photos = Vec::new();
        for (k, seq) in ["seq<A>", "seq&B"].iter().enumerate() {
            for i in 0..3 {
                let mut p = photo(
                    &format!("{k}_{i}.jpg"),
                    52.5 + 0.001 * f64::from(i),
                    13.4 + 0.01 * k as f64,
                );
                p.sequence = Some((*seq).to_string());
                p.time = at("2021-06-01T10:00:00Z") + SignedDuration::from_secs(i64::from(i));
                photos.push(p);
            }
        }
        let html = render(&MapPage {
            photos,
            ..MapPage::default()
        });
        assert_eq!(html.matches("<polyline class=\"sequence c0\"").count(), 1);
        assert_eq!(html.matches("<polyline class=\"sequence c1\"").count(), 1);
        assert_eq!(html.matches("<g class=\"photo c1\"").count(), 3);
        assert!(html.contains("sequence <span class=\"name\">seq&lt;A&gt;</span>: 3 photos</li>"));
        assert!(html.contains("sequence <span class=\"name\">seq&amp;B</span>: 3 photos</li>"));
        assert!(html.contains("\nsequence seq&amp;B</title>"));
        assert!(!html.contains("polyline class=\"track\""));
        assert!(html.contains("<p class=\"counts\">6 photos on the map in 2 sequences.</p>"));
        assert!(html.contains("each sequence has a colour of its own"));
        // No track: nothing is said of one, and no photo missed one.
        assert!(!html.contains("the blue line is the track"));
        assert!(!html.contains("id=\"unplaced\""));
    }

    #[test]
    fn sections_below_the_map_are_text_and_point_only_at_their_server() {
        use super::super::{Figure, LocalPath, Section};
        let mut p = photo("a.jpg", 52.5, 13.4);
        p.sequence = Some("7000001".to_string());
        let local = |s: &[&str]| LocalPath::new(s).unwrap();
        let page = MapPage {
            photos: vec![p],
            sections: vec![Section {
                heading: "Sequence <7000001> & co".to_string(),
                sequence: Some("7000001".to_string()),
                paragraphs: vec![vec![
                    Span::Text("3 photos, user <b>\u{1b}".to_string()),
                    Span::Link {
                        text: "as <JSON>".to_string(),
                        to: local(&["local", "sequences"]),
                    },
                ]],
                figures: vec![
                    Figure {
                        media: Media::Image {
                            src: local(&["local", "sequences", "7000001", "0.jpg"]),
                            alt: "x\" onerror=\"alert(1)".to_string(),
                        },
                        caption: vec![Span::Name("<script>a&b.jpg".to_string())],
                    },
                    Figure {
                        media: Media::Video {
                            src: local(&["local", "sequences", "7\"1", "video.mp4"]),
                        },
                        caption: vec![],
                    },
                ],
            }],
            ..MapPage::default()
        };
        let html = render(&page);
        assert!(html.contains(
            "<h2><span class=\"swatch c0\"></span>Sequence &lt;7000001&gt; &amp; co</h2>"
        ));
        assert!(html.contains(
            "<p>3 photos, user &lt;b&gt;\\x1b<a href=\"/local/sequences\">as &lt;JSON&gt;</a></p>"
        ));
        assert!(html.contains(
            "<img src=\"/local/sequences/7000001/0.jpg\" alt=\"x&quot; onerror=&quot;alert(1)\" loading=\"lazy\">"
        ));
        assert!(html.contains("<span class=\"name\">&lt;script&gt;a&amp;b.jpg</span>"));
        assert!(html.contains("src=\"/local/sequences/7%221/video.mp4\""));
        assert_eq!(html.matches("<script>").count(), 1);
        // Pictures of the page's own server are allowed, and only those.
        assert!(html.contains("img-src https://tile.openstreetmap.org 'self'; media-src 'self'; "));
        let only_images = MapPage {
            sections: vec![Section {
                figures: page.sections[0].figures[..1].to_vec(),
                ..Section::default()
            }],
            ..MapPage::default()
        };
        let html = render(&only_images);
        assert!(html.contains("img-src https://tile.openstreetmap.org 'self'; base-uri"));
        assert!(!html.contains("media-src"));
    }

    #[test]
    fn gaps_in_the_track_are_dashed() {
        let t0 = at("2021-06-01T10:00:00Z");
        let track: Vec<TrackPoint> = [0, 1, 2, 500, 501]
            .iter()
            .map(|&s| TrackPoint {
                time: t0 + SignedDuration::from_secs(s),
                position: LatLon::new(52.5 + s as f64 * 1e-4, 13.4),
                elevation: None,
            })
            .collect();
        let page = MapPage {
            track,
            track_gap: Some(SignedDuration::from_secs(60)),
            ..MapPage::default()
        };
        let html = render(&page);
        assert_eq!(html.matches("<polyline class=\"track\"").count(), 2);
        assert_eq!(html.matches("<line class=\"gap\"").count(), 1);
    }

    #[test]
    fn many_unplaced_photos_are_grouped_by_cause() {
        let mut skipped: Vec<SkippedPhoto> = (0..30)
            .map(|i| SkippedPhoto {
                name: PathBuf::from(format!("IMG_{i:02}.jpg")),
                reason: format!("{i}.0 s before the track starts (…)"),
                cause: Some("before the track starts".to_string()),
            })
            .collect();
        skipped.push(SkippedPhoto {
            name: PathBuf::from("IMG_99.jpg"),
            reason: "no capture time".to_string(),
            cause: None,
        });
        let page = MapPage {
            skipped,
            ..MapPage::default()
        };
        let html = render(&page);
        let first = html
            .find("<summary>before the track starts: 30 photos</summary>")
            .unwrap();
        let second = html
            .find("<summary>no capture time: 1 photo</summary>")
            .unwrap();
        assert!(first < second, "the largest group first");
        assert!(html.contains(
            "<span class=\"name\">IMG_07.jpg</span>: <span class=\"reason\">7.0 s before"
        ));
        assert!(html.contains("<li><span class=\"name\">IMG_99.jpg</span></li>"));
    }

    #[test]
    fn thousands_of_photos_and_a_day_long_track_make_a_file_of_a_megabyte_or_so() {
        let t0 = at("2021-06-01T06:00:00Z");
        // A day of one point a second, wandering round Berlin.
        let track: Vec<TrackPoint> = (0..86_400)
            .map(|s| {
                let f = f64::from(s);
                TrackPoint {
                    time: t0 + SignedDuration::from_secs(i64::from(s)),
                    position: LatLon::new(
                        52.5 + (f / 3000.0).sin() * 0.05 + (f / 17.0).sin() * 1e-5,
                        13.4 + (f / 4100.0).cos() * 0.08,
                    ),
                    elevation: None,
                }
            })
            .collect();
        let photos: Vec<PlacedPhoto> = (0..5000)
            .map(|i| {
                let p = track[i * 17].position;
                PlacedPhoto {
                    name: PathBuf::from(format!("2021_06_01/IMG_{i:05}.JPG")),
                    position: p,
                    direction: Some(f64::from(i as u32 % 360)),
                    time: track[i * 17].time,
                    sequence: None,
                }
            })
            .collect();
        let skipped: Vec<SkippedPhoto> = (0..3000)
            .map(|i| SkippedPhoto {
                name: PathBuf::from(format!("2021_06_02/IMG_{i:05}.JPG")),
                reason: format!("{i}.0 s after the track ends (2021-06-02T06:00:00Z)"),
                cause: Some("after the track ends".to_string()),
            })
            .collect();
        let html = render(&MapPage {
            title: "big".to_string(),
            track,
            photos,
            skipped,
            ..MapPage::default()
        });
        assert!(html.len() < 1_600_000, "{} bytes", html.len());
        let track_points: usize = html
            .split("<polyline class=\"track\" points=\"")
            .skip(1)
            .map(|s| s[..s.find('"').unwrap()].split(' ').count())
            .sum();
        assert!(
            (2..=MAX_TRACK_POINTS).contains(&track_points),
            "{track_points}"
        );
        assert!(html.contains("… and 2000 more"));
    }
}
