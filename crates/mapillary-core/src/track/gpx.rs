//! The GPX reader: GPX 1.0 and 1.1, streamed with quick-xml.
//!
//! What it reads: the `lat` and `lon` of every `<trkpt>` (in
//! `<trk><trkseg>`), `<rtept>` (in `<rte>`) and `<wpt>`, with the point's
//! `<ele>` and `<time>`. Points without a `<time>` are left out. Everything
//! else of both versions (`<magvar>`, `<geoidheight>`, `<fix>`, `<sat>`,
//! `<hdop>`, `<link>`, metadata, GPX 1.0's `<course>`, `<speed>`,
//! `<url>`...) and every extension, in `<extensions>` (1.1) or as a foreign
//! element anywhere (1.0), is passed over without being looked at. Elements
//! count as GPX when they are in the namespace of the root `<gpx>` element,
//! in one of the two GPX namespaces, or in none; so a foreign `<x:time>` or
//! `<x:trkpt>` is never taken for a GPX one.
//!
//! Times are UTC, as the GPX schema says: a time with a zone (`Z`,
//! `+02:00`) is converted, one without a zone is taken as UTC; fractions of
//! a second are kept to the nanosecond (further digits are dropped).
//!
//! The document is read as a stream: only the points kept and the
//! elements open at the moment are in memory. Limits, each refused with
//! the line where it happens: elements nested deeper than [`MAX_DEPTH`];
//! one tag, text, comment or other piece of markup longer than
//! [`MAX_PIECE_BYTES`]; more than [`MAX_NAMESPACES`] namespace declarations
//! in scope; element or namespace names longer than [`MAX_NAME_BYTES`]. Entities declared in a DTD are never expanded: text that uses
//! them is passed over like any other text, except in the values read
//! (`lat`, `lon`, `<ele>`, `<time>`), where it is an error. UTF-8 and
//! ASCII-compatible 8-bit encodings (ISO-8859-1, Windows-1252) are read as
//! they are, since every value read is ASCII; UTF-16 (with its byte order
//! mark, or recognised from `<?xml`) is converted to UTF-8 as it is read.

use std::io::{self, BufRead, Read};

use jiff::Timestamp;
use jiff::tz::TimeZone;
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{PrefixDeclaration, QName};

use super::{Format, FormatError, ReadPoint, Source, TrackPoint};
use crate::geo::LatLon;

/// GPX 1.0 and 1.1.
#[derive(Debug, Clone, Copy, Default)]
pub struct Gpx;

/// The deepest nesting of elements read; a GPX file needs 5 levels, and
/// extensions a few more.
pub const MAX_DEPTH: usize = 64;

/// The longest single piece of markup or text (a tag with its attributes,
/// a text between two tags, a comment, a DTD), in bytes. It bounds the
/// memory one piece can take.
pub const MAX_PIECE_BYTES: u64 = 16 << 20;

/// The most namespace declarations in scope at once (real files have a
/// handful).
pub const MAX_NAMESPACES: usize = 256;

/// The longest element name, and the longest namespace name, in bytes:
/// the names of the open elements and the namespaces in scope are kept
/// while they are open.
pub const MAX_NAME_BYTES: usize = 1024;

/// The longest value read (`<ele>`, `<time>`), in bytes, whitespace
/// included.
const MAX_VALUE_BYTES: usize = 4096;

/// The namespaces of GPX 1.0 and 1.1.
const GPX_NAMESPACES: [&[u8]; 2] = [
    b"http://www.topografix.com/GPX/1/0",
    b"http://www.topografix.com/GPX/1/1",
];

impl Format for Gpx {
    fn name(&self) -> &'static str {
        "GPX"
    }

    fn extensions(&self) -> &'static [&'static str] {
        &["gpx"]
    }

    fn read(&self, input: &mut dyn BufRead) -> Result<Vec<ReadPoint>, FormatError> {
        let (encoding, head) = sniff(input).map_err(|e| FormatError {
            line: None,
            offset: Some(0),
            reason: crate::io_reason(&e),
        })?;
        let mut input = io::Cursor::new(head).chain(input);
        match encoding {
            Encoding::AsIs => read_document(Counted::new(input)),
            Encoding::Utf16 { big_endian } => {
                read_document(Counted::new(Utf16::new(&mut input, big_endian)))
            }
        }
    }
}

/// How the bytes of a document are turned into the ASCII-compatible stream
/// the parser reads.
enum Encoding {
    /// UTF-8, ASCII or an 8-bit encoding: read as it is.
    AsIs,
    /// UTF-16, converted to UTF-8.
    Utf16 { big_endian: bool },
}

/// The encoding, from the document's first four bytes (taken from
/// `input`), and those bytes without a byte order mark, to be read first.
fn sniff(input: &mut dyn BufRead) -> io::Result<(Encoding, Vec<u8>)> {
    let mut head = Vec::with_capacity(4);
    while head.len() < 4 {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        let n = buf.len().min(4 - head.len());
        head.extend_from_slice(&buf[..n]);
        input.consume(n);
    }
    let (encoding, bom) = match head.as_slice() {
        [0xEF, 0xBB, 0xBF, ..] => (Encoding::AsIs, 3),
        [0xFF, 0xFE, ..] => (Encoding::Utf16 { big_endian: false }, 2),
        [0xFE, 0xFF, ..] => (Encoding::Utf16 { big_endian: true }, 2),
        [b'<', 0, b'?', 0, ..] => (Encoding::Utf16 { big_endian: false }, 0),
        [0, b'<', 0, b'?', ..] => (Encoding::Utf16 { big_endian: true }, 0),
        _ => (Encoding::AsIs, 0),
    };
    head.drain(..bom);
    Ok((encoding, head))
}

/// UTF-16 converted to UTF-8 as it is read. Unpaired surrogates become
/// U+FFFD (no value the reader needs can contain one).
struct Utf16<'a> {
    inner: &'a mut (dyn BufRead + 'a),
    big_endian: bool,
    /// Converted bytes not yet consumed: `out[at..]`.
    out: Vec<u8>,
    at: usize,
    /// A byte of a code unit whose other byte is in the next read.
    odd: Option<u8>,
    /// A high surrogate waiting for its low one.
    high: Option<u16>,
}

impl<'a> Utf16<'a> {
    fn new(inner: &'a mut (dyn BufRead + 'a), big_endian: bool) -> Utf16<'a> {
        Utf16 {
            inner,
            big_endian,
            out: Vec::new(),
            at: 0,
            odd: None,
            high: None,
        }
    }

    fn push(&mut self, c: char) {
        let mut utf8 = [0; 4];
        self.out
            .extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
    }

    fn unit(&mut self, unit: u16) {
        if let Some(high) = self.high.take() {
            if (0xDC00..0xE000).contains(&unit) {
                let code =
                    0x10000 + ((u32::from(high) - 0xD800) << 10) + (u32::from(unit) - 0xDC00);
                self.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
                return;
            }
            self.push(char::REPLACEMENT_CHARACTER);
        }
        if (0xD800..0xDC00).contains(&unit) {
            self.high = Some(unit);
        } else {
            self.push(char::from_u32(u32::from(unit)).unwrap_or(char::REPLACEMENT_CHARACTER));
        }
    }
}

impl io::Read for Utf16<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Utf16<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.at == self.out.len() {
            self.out.clear();
            self.at = 0;
            let bytes = self.inner.fill_buf()?.to_vec();
            self.inner.consume(bytes.len());
            if bytes.is_empty() {
                if self.odd.take().is_some() || self.high.take().is_some() {
                    self.push(char::REPLACEMENT_CHARACTER);
                }
                break;
            }
            let mut bytes = bytes.as_slice();
            if let Some(first) = self.odd.take() {
                let (&second, rest) = bytes.split_first().unwrap_or((&0, &[]));
                let pair = [first, second];
                self.unit(self.decode(pair));
                bytes = rest;
            }
            let mut pairs = bytes.chunks_exact(2);
            for pair in &mut pairs {
                self.unit(self.decode([pair[0], pair[1]]));
            }
            self.odd = pairs.remainder().first().copied();
        }
        Ok(&self.out[self.at..])
    }

    fn consume(&mut self, amount: usize) {
        self.at = (self.at + amount).min(self.out.len());
    }
}

impl Utf16<'_> {
    fn decode(&self, pair: [u8; 2]) -> u16 {
        if self.big_endian {
            u16::from_be_bytes(pair)
        } else {
            u16::from_le_bytes(pair)
        }
    }
}

/// The stream the parser reads: counts lines, and refuses a piece of
/// markup longer than [`MAX_PIECE_BYTES`] (the parser buffers each piece
/// whole, so this bounds its memory).
struct Counted<R> {
    inner: R,
    /// Bytes consumed so far.
    consumed: u64,
    /// Newlines consumed so far.
    newlines: u64,
    /// Where the piece being read began, and its line.
    piece_start: u64,
    piece_line: u64,
    /// Whether the last piece was refused for its length.
    too_long: bool,
}

impl<R: BufRead> Counted<R> {
    fn new(inner: R) -> Counted<R> {
        Counted {
            inner,
            consumed: 0,
            newlines: 0,
            piece_start: 0,
            piece_line: 1,
            too_long: false,
        }
    }

    /// The next piece begins here.
    fn next_piece(&mut self) {
        self.piece_start = self.consumed;
        self.piece_line = self.newlines + 1;
    }
}

impl<R: BufRead> io::Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counted<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let used = self.consumed - self.piece_start;
        if used > MAX_PIECE_BYTES {
            self.too_long = true;
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "a piece of markup is too long",
            ));
        }
        // Never more than one byte past the limit, however much the
        // source holds at once (a slice holds all of it).
        let room = usize::try_from(MAX_PIECE_BYTES + 1 - used).unwrap_or(usize::MAX);
        let buf = self.inner.fill_buf()?;
        Ok(&buf[..buf.len().min(room)])
    }

    fn consume(&mut self, amount: usize) {
        if amount > 0 {
            // The bytes consumed are the first `amount` of the buffer the
            // last fill_buf returned; asking again does not read.
            if let Ok(buf) = self.inner.fill_buf() {
                let taken = &buf[..amount.min(buf.len())];
                self.newlines += memchr::memchr_iter(b'\n', taken).count() as u64;
            }
        }
        self.consumed += amount as u64;
        self.inner.consume(amount);
    }
}

/// A value of a point that is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Elevation,
    Time,
}

impl Field {
    fn tag(self) -> &'static str {
        match self {
            Field::Elevation => "<ele>",
            Field::Time => "<time>",
        }
    }
}

/// What an open element is, for what its children can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `<gpx>`.
    Root,
    /// `<trk>`.
    Track,
    /// `<trkseg>`.
    Segment,
    /// `<rte>`.
    Route,
    /// `<trkpt>`, `<rtept>` or `<wpt>`.
    Point,
    /// `<ele>` or `<time>` of a point.
    Value(Field),
    /// Anything else, with everything inside it: passed over.
    Other,
}

/// An open element.
#[derive(Debug, Clone, Copy)]
struct Frame {
    kind: Kind,
    /// How many namespace declarations were in scope before it.
    namespaces: usize,
}

/// A namespace declaration in scope: `xmlns:prefix="uri"` (an empty
/// prefix for `xmlns="uri"`).
#[derive(Debug)]
struct Namespace {
    prefix: Vec<u8>,
    uri: Vec<u8>,
    /// Whether it is GPX in this document (known once the root is).
    gpx: bool,
}

/// The point being read.
#[derive(Debug)]
struct Draft {
    source: Source,
    lat: f64,
    lon: f64,
    elevation: Option<f64>,
    time: Option<Timestamp>,
}

/// An error at the piece being read (the position is added by the caller):
/// why, and how many lines into the piece.
#[derive(Debug)]
struct Refusal {
    reason: String,
    lines_in: u64,
}

impl From<String> for Refusal {
    fn from(reason: String) -> Refusal {
        Refusal {
            reason,
            lines_in: 0,
        }
    }
}

/// The state of one document being read.
#[derive(Debug, Default)]
struct Document {
    open: Vec<Frame>,
    namespaces: Vec<Namespace>,
    /// The namespace of the root element: GPX in this document.
    root_namespace: Option<Vec<u8>>,
    /// Whether the root element was seen, and whether it has ended.
    started: bool,
    ended: bool,
    draft: Option<Draft>,
    /// The text of the value being read.
    value: String,
    points: Vec<ReadPoint>,
}

/// Reads a whole document.
fn read_document<R: BufRead>(input: Counted<R>) -> Result<Vec<ReadPoint>, FormatError> {
    let mut xml = Reader::from_reader(input);
    let config = xml.config_mut();
    // Well-formed: every end tag matches its start tag.
    config.check_end_names = true;
    config.expand_empty_elements = false;
    config.trim_text(false);
    let mut document = Document::default();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        xml.get_mut().next_piece();
        let event = xml.read_event_into(&mut buf);
        let at = |xml: &Reader<Counted<R>>, reason: String, error_offset: bool, lines_in: u64| {
            let counted = xml.get_ref();
            // Text from the document (names, values) may hold control
            // characters: never sent to a terminal raw.
            let reason = reason
                .chars()
                .map(|c| {
                    if c.is_control() {
                        c.escape_default().to_string()
                    } else {
                        c.to_string()
                    }
                })
                .collect();
            FormatError {
                line: Some(counted.piece_line + lines_in),
                offset: Some(if error_offset {
                    xml.error_position()
                } else {
                    counted.piece_start
                }),
                reason,
            }
        };
        let event = match event {
            Ok(event) => event,
            Err(e) => {
                let reason = if xml.get_ref().too_long {
                    format!(
                        "a tag, text or comment longer than {} MiB; refused, no GPX file has one",
                        MAX_PIECE_BYTES >> 20
                    )
                } else {
                    match e {
                        quick_xml::Error::Io(io) => crate::io_reason(&io),
                        other => format!("not a valid GPX file ({other})"),
                    }
                };
                return Err(at(&xml, reason, true, 0));
            }
        };
        match document.take(event) {
            Ok(true) => {}
            Ok(false) => return Ok(document.points),
            Err(refusal) => return Err(at(&xml, refusal.reason, false, refusal.lines_in)),
        }
    }
}

/// A number in a GPX value (`xsd:decimal`; exponents and `inf`, `nan` are
/// taken too, for the sanity checks to judge).
fn number(text: &str) -> Option<f64> {
    text.trim().parse().ok()
}

/// A GPX time (`xsd:dateTime`): with a zone, the instant; without one, UTC.
/// Fraction digits past the ninth (nanoseconds) are dropped.
fn time(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    let text = trim_fraction(text);
    if let Ok(t) = text.parse::<Timestamp>() {
        return Some(t);
    }
    // The part after the date: no zone designator there means no zone.
    let clock = text.get(10..)?;
    if clock.contains(['Z', 'z', '+', '-']) {
        return None;
    }
    let civil: jiff::civil::DateTime = text.parse().ok()?;
    TimeZone::UTC.to_timestamp(civil).ok()
}

/// `text` with at most nine digits after the decimal point of the seconds.
fn trim_fraction(text: &str) -> std::borrow::Cow<'_, str> {
    let Some(dot) = text.find('.') else {
        return text.into();
    };
    let digits = text[dot + 1..]
        .bytes()
        .take_while(u8::is_ascii_digit)
        .count();
    if digits <= 9 {
        return text.into();
    }
    format!("{}{}", &text[..dot + 10], &text[dot + 1 + digits..]).into()
}

/// Text of the document as a string: values are ASCII, so any other
/// encoding of them is an error.
fn text_of(bytes: &[u8]) -> Option<&str> {
    std::str::from_utf8(bytes).ok()
}

/// The text of a value with its character and entity references replaced
/// (only the five XML ones and character references: entities declared in
/// a DTD are never expanded); `what` names the value in errors.
fn unescape<'t>(
    raw: &'t str,
    what: impl Fn() -> String,
) -> Result<std::borrow::Cow<'t, str>, String> {
    quick_xml::escape::unescape(raw).map_err(|e| match e {
        quick_xml::escape::EscapeError::UnrecognizedEntity(_, name) => {
            format!("{} uses the entity &{name};, which is not expanded", what())
        }
        other => format!("{} is not valid text ({other})", what()),
    })
}

/// The start of a value, for messages: trimmed, at most 40 characters.
fn shown(text: &str) -> String {
    text.trim().chars().take(40).collect()
}

/// `<name>` for messages, from a tag's name.
fn tag(name: QName<'_>) -> String {
    format!("<{}>", String::from_utf8_lossy(name.as_ref()))
}

impl Document {
    /// Takes one event; `Ok(false)` at the end of the document.
    fn take(&mut self, event: Event<'_>) -> Result<bool, Refusal> {
        match event {
            Event::Start(e) => self.start(&e, false)?,
            Event::Empty(e) => self.start(&e, true)?,
            Event::End(_) => self.end()?,
            Event::Text(t) => {
                if let Some(Kind::Value(field)) = self.kind() {
                    let what = || format!("the {}", field.tag());
                    let raw = text_of(&t).ok_or_else(|| format!("{} is not text", what()))?;
                    let text = unescape(raw, what)?;
                    self.append(field, &text)?;
                } else if self.open.is_empty()
                    && let Some(first) = t.iter().position(|b| !b.is_ascii_whitespace())
                {
                    let reason = if self.started {
                        "not a valid GPX file (text after the end of </gpx>)"
                    } else {
                        "not a valid GPX file (text before the <gpx> element)"
                    };
                    return Err(Refusal {
                        reason: reason.to_string(),
                        lines_in: t[..first].iter().filter(|&&b| b == b'\n').count() as u64,
                    });
                }
            }
            Event::CData(c) => {
                if let Some(Kind::Value(field)) = self.kind() {
                    let text =
                        text_of(&c).ok_or_else(|| format!("the {} is not text", field.tag()))?;
                    self.append(field, text)?;
                }
            }
            // Comments, processing instructions, the XML declaration and
            // the DTD are passed over; nothing a DTD declares is used.
            Event::Comment(_) | Event::PI(_) | Event::Decl(_) | Event::DocType(_) => {}
            Event::Eof => {
                if !self.open.is_empty() {
                    return Err(Refusal::from(
                        "not a valid GPX file (it ends before its elements are closed; is it cut short?)"
                            .to_string(),
                    ));
                }
                if !self.started {
                    return Err(Refusal::from(
                        "not a valid GPX file (no <gpx> element)".to_string(),
                    ));
                }
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn kind(&self) -> Option<Kind> {
        self.open.last().map(|f| f.kind)
    }

    fn append(&mut self, field: Field, text: &str) -> Result<(), Refusal> {
        if self.value.len() + text.len() > MAX_VALUE_BYTES {
            return Err(Refusal::from(format!(
                "a {} longer than {MAX_VALUE_BYTES} bytes",
                field.tag()
            )));
        }
        self.value.push_str(text);
        Ok(())
    }

    /// A start tag (`empty` for `<tag/>`).
    fn start(&mut self, e: &BytesStart<'_>, empty: bool) -> Result<(), Refusal> {
        if e.name().as_ref().len() > MAX_NAME_BYTES {
            return Err(Refusal::from(format!(
                "an element name longer than {MAX_NAME_BYTES} bytes; refused"
            )));
        }
        if self.open.len() >= MAX_DEPTH {
            return Err(Refusal::from(format!(
                "elements nested more than {MAX_DEPTH} deep; refused (a GPX file needs a few levels)"
            )));
        }
        let parent = self.kind();
        if self.ended && parent.is_none() {
            return Err(Refusal::from(
                "not a valid GPX file (an element after the end of </gpx>; two files joined?)"
                    .to_string(),
            ));
        }
        let namespaces = self.namespaces.len();
        let kind = match parent {
            // Inside what is passed over, nothing is looked at.
            Some(Kind::Other | Kind::Value(_)) => Kind::Other,
            _ => {
                self.declare(e)?;
                self.kind_of(e, parent)?
            }
        };
        if kind == Kind::Point {
            let source = match parent {
                Some(Kind::Segment) => Source::Track,
                Some(Kind::Route) => Source::Route,
                _ => Source::Waypoint,
            };
            self.draft = Some(point_start(e, source)?);
        }
        if let Kind::Value(_) = kind {
            self.value.clear();
        }
        self.open.push(Frame { kind, namespaces });
        if empty {
            self.end()?;
        }
        Ok(())
    }

    /// Records the namespace declarations of a tag.
    fn declare(&mut self, e: &BytesStart<'_>) -> Result<(), Refusal> {
        // Most tags (every point) declare nothing: one quick look.
        if memchr::memmem::find(e.attributes_raw(), b"xmlns").is_none() {
            return Ok(());
        }
        for attribute in e.attributes().with_checks(false) {
            let attribute = attribute.map_err(|e| format!("not a valid GPX file ({e})"))?;
            let prefix = match attribute.key.as_namespace_binding() {
                Some(PrefixDeclaration::Default) => Vec::new(),
                Some(PrefixDeclaration::Named(prefix)) => prefix.to_vec(),
                None => continue,
            };
            if self.namespaces.len() >= MAX_NAMESPACES {
                return Err(Refusal::from(format!(
                    "more than {MAX_NAMESPACES} namespace declarations in scope; refused"
                )));
            }
            if attribute.value.len() > MAX_NAME_BYTES {
                return Err(Refusal::from(format!(
                    "a namespace name longer than {MAX_NAME_BYTES} bytes; refused"
                )));
            }
            let uri = attribute.value.into_owned();
            self.namespaces.push(Namespace {
                prefix,
                gpx: self.is_gpx_namespace(&uri),
                uri,
            });
        }
        Ok(())
    }

    /// The namespace of an element's prefix (empty: the default one); `None`
    /// when the prefix is not declared.
    fn namespace_of(&self, prefix: &[u8]) -> Option<&[u8]> {
        match self.namespaces.iter().rev().find(|n| n.prefix == prefix) {
            Some(n) => Some(&n.uri),
            // No default namespace declared: no namespace.
            None if prefix.is_empty() => Some(b""),
            None => None,
        }
    }

    /// Whether a namespace is GPX in this document: none, one of GPX's,
    /// or the root element's.
    fn is_gpx_namespace(&self, uri: &[u8]) -> bool {
        uri.is_empty()
            || GPX_NAMESPACES.contains(&uri)
            || self.root_namespace.as_deref() == Some(uri)
    }

    /// Whether an element is a GPX one, by its namespace.
    fn is_gpx(&self, name: QName<'_>) -> bool {
        let prefix = name.prefix().map(|p| p.into_inner()).unwrap_or(b"");
        let declared = |n: &&Namespace| {
            n.prefix.len() == prefix.len() && (prefix.is_empty() || n.prefix == prefix)
        };
        match self.namespaces.iter().rev().find(declared) {
            Some(n) => n.gpx,
            // No default namespace declared: no namespace, GPX.
            None => prefix.is_empty(),
        }
    }

    /// What an element is, from its parent and its name.
    fn kind_of(&mut self, e: &BytesStart<'_>, parent: Option<Kind>) -> Result<Kind, Refusal> {
        let name = e.name();
        let local = name.local_name().into_inner();
        let Some(parent) = parent else {
            if local != b"gpx" {
                return Err(Refusal::from(format!(
                    "not a GPX file (its root element is {}, not <gpx>)",
                    tag(name)
                )));
            }
            let prefix = name.prefix().map(|p| p.into_inner()).unwrap_or(b"");
            self.root_namespace = self.namespace_of(prefix).map(<[u8]>::to_vec);
            // The root's own declarations were made before its namespace
            // was known.
            for i in 0..self.namespaces.len() {
                self.namespaces[i].gpx = self.is_gpx_namespace(&self.namespaces[i].uri);
            }
            self.started = true;
            return Ok(Kind::Root);
        };
        if !self.is_gpx(name) {
            return Ok(Kind::Other);
        }
        // (Byte patterns, not string ones: compared in place, for every
        // element of every point.)
        Ok(match (parent, local) {
            (Kind::Root, [b't', b'r', b'k']) => Kind::Track,
            (Kind::Root, [b'r', b't', b'e']) => Kind::Route,
            (Kind::Root, [b'w', b'p', b't'])
            | (Kind::Route, [b'r', b't', b'e', b'p', b't'])
            | (Kind::Segment, [b't', b'r', b'k', b'p', b't']) => Kind::Point,
            (Kind::Track, [b't', b'r', b'k', b's', b'e', b'g']) => Kind::Segment,
            (Kind::Point, [b'e', b'l', b'e']) => Kind::Value(Field::Elevation),
            (Kind::Point, [b't', b'i', b'm', b'e']) => Kind::Value(Field::Time),
            _ => Kind::Other,
        })
    }

    /// An end tag (or the end of an empty element).
    fn end(&mut self) -> Result<(), Refusal> {
        let Some(frame) = self.open.pop() else {
            return Ok(());
        };
        self.namespaces.truncate(frame.namespaces);
        match frame.kind {
            Kind::Root => self.ended = true,
            Kind::Value(field) => self.value_end(field)?,
            Kind::Point => {
                if let Some(d) = self.draft.take()
                    && let Some(time) = d.time
                {
                    self.points.push(ReadPoint {
                        point: TrackPoint {
                            time,
                            position: LatLon::new(d.lat, d.lon),
                            elevation: d.elevation,
                        },
                        source: d.source,
                    });
                }
            }
            Kind::Track | Kind::Segment | Kind::Route | Kind::Other => {}
        }
        Ok(())
    }

    /// The end of `<ele>` or `<time>`: its value, for the point (the first
    /// one counts when a point has two).
    fn value_end(&mut self, field: Field) -> Result<(), Refusal> {
        let text = std::mem::take(&mut self.value);
        let Some(draft) = self.draft.as_mut() else {
            return Ok(());
        };
        match field {
            Field::Elevation => {
                let ele = number(&text)
                    .ok_or_else(|| format!("the <ele> '{}' is not a number", shown(&text)))?;
                draft.elevation.get_or_insert(ele);
            }
            Field::Time => {
                let t = time(&text).ok_or_else(|| {
                    format!("the <time> '{}' is not a date and time", shown(&text))
                })?;
                draft.time.get_or_insert(t);
            }
        }
        Ok(())
    }
}

/// A point's `lat` and `lon` attributes.
fn point_start(e: &BytesStart<'_>, source: Source) -> Result<Draft, Refusal> {
    // (Messages are made only when needed: this runs for every point.)
    let name = || tag(e.name());
    let (mut lat, mut lon) = (None, None);
    // Without the duplicate check, which compares every attribute with
    // every other one; the two that matter are checked here.
    for attribute in e.attributes().with_checks(false) {
        let attribute = attribute.map_err(|e| format!("not a valid GPX file ({e})"))?;
        // (Byte patterns, not string ones: compared in place, for every
        // attribute of every point.)
        let (key, slot) = match attribute.key.as_ref() {
            [b'l', b'a', b't'] => ("lat", &mut lat),
            [b'l', b'o', b'n'] => ("lon", &mut lon),
            _ => continue,
        };
        if slot.is_some() {
            return Err(Refusal::from(format!(
                "not a valid GPX file ({} has two {key} attributes)",
                name()
            )));
        }
        let what = || format!("the {key} of a {}", name());
        let raw = text_of(&attribute.value).ok_or_else(|| format!("{} is not text", what()))?;
        let text = unescape(raw, what)?;
        let value = number(&text).ok_or_else(|| {
            format!(
                "the {key} '{}' of a {} is not a number",
                shown(&text),
                name()
            )
        })?;
        *slot = Some(value);
    }
    let missing = |key: &str| {
        format!(
            "not a valid GPX file (a {} without its {key} attribute)",
            name()
        )
    };
    Ok(Draft {
        source,
        lat: lat.ok_or_else(|| missing("lat"))?,
        lon: lon.ok_or_else(|| missing("lon"))?,
        elevation: None,
        time: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(document: impl AsRef<[u8]>) -> Result<Vec<ReadPoint>, FormatError> {
        Gpx.read(&mut document.as_ref())
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    /// (time, lat, lon, elevation, source) of each point read.
    fn summary(points: &[ReadPoint]) -> Vec<(String, f64, f64, Option<f64>, Source)> {
        points
            .iter()
            .map(|r| {
                let p = r.point;
                (
                    p.time.to_string(),
                    p.position.lat,
                    p.position.lon,
                    p.elevation,
                    r.source,
                )
            })
            .collect()
    }

    fn error(document: impl AsRef<[u8]>) -> String {
        read(document).unwrap_err().to_string()
    }

    fn trkpt(inside: &str) -> String {
        format!(
            r#"<?xml version="1.0"?>
<gpx version="1.1" creator="t" xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>
<trkpt lat="52.5" lon="13.4">{inside}</trkpt>
</trkseg></trk></gpx>"#
        )
    }

    fn time_of(inside: &str) -> Result<String, String> {
        read(trkpt(inside))
            .map(|p| p[0].point.time.to_string())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn every_element_of_gpx_1_1() {
        let points = read(include_str!("fixtures/every_element_1_1.gpx")).unwrap();
        // In file order; the untimed waypoint is left out, and the time and
        // elevation inside the waypoint's extensions are not its own.
        assert_eq!(
            summary(&points),
            [
                (
                    "2021-06-01T10:00:30Z".into(),
                    52.515,
                    13.36,
                    Some(35.5),
                    Source::Waypoint
                ),
                (
                    "2021-06-01T10:00:40Z".into(),
                    52.517,
                    13.362,
                    Some(36.0),
                    Source::Route
                ),
                (
                    "2021-06-01T10:00:00Z".into(),
                    52.51,
                    13.35,
                    Some(34.0),
                    Source::Track
                ),
                (
                    "2021-06-01T10:00:10.5Z".into(),
                    52.5101,
                    13.3502,
                    Some(34.5),
                    Source::Track
                ),
                (
                    "2021-06-01T10:00:20Z".into(),
                    52.5102,
                    13.3504,
                    None,
                    Source::Track
                ),
            ]
        );
    }

    #[test]
    fn every_element_of_gpx_1_0_and_foreign_ones_are_not_taken_for_gpx() {
        let points = read(include_str!("fixtures/every_element_1_0.gpx")).unwrap();
        // <x:time>, <x:ele>, <x:rtept> and <x:wpt> are private elements of
        // another namespace, not GPX ones.
        assert_eq!(
            summary(&points),
            [
                (
                    "2021-06-01T10:00:30Z".into(),
                    52.515,
                    13.36,
                    Some(35.5),
                    Source::Waypoint
                ),
                (
                    "2021-06-01T10:00:40Z".into(),
                    52.517,
                    13.362,
                    Some(36.0),
                    Source::Route
                ),
                (
                    "2021-06-01T10:00:00Z".into(),
                    52.51,
                    13.35,
                    Some(34.0),
                    Source::Track
                ),
                (
                    "2021-06-01T10:00:10Z".into(),
                    52.5101,
                    13.3502,
                    Some(34.5),
                    Source::Track
                ),
            ]
        );
    }

    #[test]
    fn magvar_and_friends_one_by_one() {
        for inside in [
            "<magvar>359.9</magvar>",
            "<geoidheight>-28.5</geoidheight>",
            "<fix>dgps</fix><sat>12</sat><hdop>0.8</hdop><vdop>1</vdop><pdop>1.3</pdop>",
            "<ageofdgpsdata>2</ageofdgpsdata><dgpsid>1023</dgpsid>",
            "<link href=\"https://example.org\"><text>t</text><type>text/html</type></link>",
            "<name>n</name><cmt>c</cmt><desc>d</desc><src>s</src><sym>s</sym><type>t</type>",
            "<course>87.5</course><speed>1.4</speed><url>https://example.org</url><urlname>u</urlname>",
            "<extensions><a:b xmlns:a=\"urn:a\"><a:c><a:time>1999-01-01T00:00:00Z</a:time></a:c></a:b></extensions>",
            "<x:heartrate xmlns:x=\"urn:x\">98</x:heartrate>",
        ] {
            let points = read(trkpt(&format!(
                "<ele>34</ele><time>2021-06-01T10:00:00Z</time>{inside}"
            )))
            .unwrap_or_else(|e| panic!("{inside}: {e}"));
            assert_eq!(
                summary(&points),
                [(
                    "2021-06-01T10:00:00Z".into(),
                    52.5,
                    13.4,
                    Some(34.0),
                    Source::Track
                )],
                "{inside}"
            );
        }
    }

    #[test]
    fn times_with_zones_fractions_or_neither() {
        for (written, instant) in [
            ("2021-06-01T10:00:00Z", "2021-06-01T10:00:00Z"),
            ("2021-06-01T12:00:00.25+02:00", "2021-06-01T10:00:00.25Z"),
            ("2021-06-01T05:30:00-04:30", "2021-06-01T10:00:00Z"),
            (
                "2021-06-01T10:00:00.123456789Z",
                "2021-06-01T10:00:00.123456789Z",
            ),
            // Digits past the nanosecond are dropped.
            (
                "2021-06-01T10:00:00.1234567891234Z",
                "2021-06-01T10:00:00.123456789Z",
            ),
            // No zone: UTC, as the GPX schema says its times are.
            ("2021-06-01T10:00:00", "2021-06-01T10:00:00Z"),
            ("2021-06-01T10:00:00.5", "2021-06-01T10:00:00.5Z"),
            // xsd:dateTime collapses whitespace.
            ("\n   2021-06-01T10:00:00Z\n  ", "2021-06-01T10:00:00Z"),
            // Character references, CDATA and comments are text too.
            ("2021-06-01T1&#48;:00:00Z", "2021-06-01T10:00:00Z"),
            ("<![CDATA[2021-06-01T10:00:00Z]]>", "2021-06-01T10:00:00Z"),
            ("2021-06-01T10:<!-- -->00:00Z", "2021-06-01T10:00:00Z"),
        ] {
            assert_eq!(
                time_of(&format!("<time>{written}</time>")).as_deref(),
                Ok(instant),
                "{written:?}"
            );
        }
        let err = time_of("<time>soon</time>").unwrap_err();
        assert_eq!(err, "line 3: the <time> 'soon' is not a date and time");
        let err = time_of("<time>2021-06-01T25:00:00Z</time>").unwrap_err();
        assert!(err.contains("is not a date and time"), "{err}");
        // The first time of a point counts.
        assert_eq!(
            time_of("<time>2021-06-01T10:00:00Z</time><time>2022-01-01T00:00:00Z</time>")
                .as_deref(),
            Ok("2021-06-01T10:00:00Z")
        );
        assert_eq!(
            at("2021-06-01T10:00:00Z").to_string(),
            "2021-06-01T10:00:00Z"
        );
    }

    #[test]
    fn untimed_points_are_left_out_and_values_are_as_written() {
        let doc = trkpt("<ele>1e308</ele><time>2021-06-01T10:00:00Z</time>");
        assert_eq!(read(doc).unwrap()[0].point.elevation, Some(1e308));
        let doc = r#"<gpx version="1.1" creator="t"><wpt lat="100" lon="13"><time>2021-06-01T10:00:00Z</time></wpt><wpt lat="1" lon="2"/><wpt lat="1" lon="2"><ele>5</ele></wpt></gpx>"#;
        let points = read(doc).unwrap();
        assert_eq!(points.len(), 1);
        assert_eq!(points[0].point.position.lat, 100.0, "judged by the checks");
        // A GPX with no timed point reads as no points (the caller says so).
        assert!(
            read(r#"<gpx version="1.1" creator="t"/>"#)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn namespaces_prefixes_and_none() {
        let time = "2021-06-01T10:00:00Z";
        for doc in [
            // No namespace at all (the gpx crate read these).
            format!(
                r#"<gpx version="1.1" creator="t"><trk><trkseg><trkpt lat="1" lon="2"><time>{time}</time></trkpt></trkseg></trk></gpx>"#
            ),
            // GPX with a prefix.
            format!(
                r#"<g:gpx version="1.1" creator="t" xmlns:g="http://www.topografix.com/GPX/1/1"><g:trk><g:trkseg><g:trkpt lat="1" lon="2"><g:time>{time}</g:time></g:trkpt></g:trkseg></g:trk></g:gpx>"#
            ),
            // A namespace a little wrong: the root's namespace is GPX here.
            format!(
                r#"<gpx version="1.1" creator="t" xmlns="http://www.topografix.com/GPX/1/1/gpx.xsd"><trk><trkseg><trkpt lat="1" lon="2"><time>{time}</time></trkpt></trkseg></trk></gpx>"#
            ),
            // A prefix declared on the element itself.
            format!(
                r#"<gpx version="1.1" creator="t"><trk><trkseg><p:trkpt xmlns:p="http://www.topografix.com/GPX/1/0" lat="1" lon="2"><p:time>{time}</p:time></p:trkpt></trkseg></trk></gpx>"#
            ),
        ] {
            let points = read(&doc).unwrap_or_else(|e| panic!("{doc}: {e}"));
            assert_eq!(
                summary(&points),
                [(time.into(), 1.0, 2.0, None, Source::Track)],
                "{doc}"
            );
        }
        // Elements of other namespaces are not GPX ones, even unprefixed.
        let doc = format!(
            r#"<gpx version="1.1" creator="t" xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg><trkpt lat="1" lon="2"><time xmlns="urn:other">1999-01-01T00:00:00Z</time><time>{time}</time></trkpt><q:trkpt xmlns:q="urn:q" lat="5" lon="5"><q:time>{time}</q:time></q:trkpt><u:trkpt lat="6" lon="6"><time>{time}</time></u:trkpt></trkseg></trk></gpx>"#
        );
        let points = read(&doc).unwrap();
        assert_eq!(
            summary(&points),
            [(time.into(), 1.0, 2.0, None, Source::Track)]
        );
    }

    #[test]
    fn encodings() {
        let body = "<gpx version=\"1.1\" creator=\"t\"><trk><name>M\u{fc}ller \u{1F6B2}</name><trkseg><trkpt lat=\"1\" lon=\"2\"><time>2021-06-01T10:00:00Z</time></trkpt></trkseg></trk></gpx>";
        let expected = [(
            "2021-06-01T10:00:00Z".to_string(),
            1.0,
            2.0,
            None,
            Source::Track,
        )];
        let utf16 = |big_endian: bool, bom: bool, text: &str| -> Vec<u8> {
            let mut out = Vec::new();
            let mut units: Vec<u16> = Vec::new();
            if bom {
                units.push(0xFEFF);
            }
            units.extend(text.encode_utf16());
            for u in units {
                out.extend(if big_endian {
                    u.to_be_bytes()
                } else {
                    u.to_le_bytes()
                });
            }
            out
        };
        let declared = format!("<?xml version=\"1.0\" encoding=\"UTF-16\"?>{body}");
        let mut latin1: Vec<u8> = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>".to_vec();
        latin1.extend(body.replace(" \u{1F6B2}", "").chars().map(|c| c as u8));
        let mut bom8 = b"\xEF\xBB\xBF".to_vec();
        bom8.extend(body.as_bytes());
        for (what, bytes) in [
            ("UTF-8", body.as_bytes().to_vec()),
            ("UTF-8 with a byte order mark", bom8),
            ("ISO-8859-1", latin1),
            ("UTF-16LE", utf16(false, true, body)),
            ("UTF-16BE", utf16(true, true, body)),
            ("UTF-16LE without a mark", utf16(false, false, &declared)),
            ("UTF-16BE without a mark", utf16(true, false, &declared)),
        ] {
            let points = read(&bytes).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(summary(&points), expected, "{what}");
        }
        // Cut in the middle of a code unit, or of a surrogate pair: the
        // document is not complete, and says so.
        let mut cut = utf16(false, true, body);
        cut.pop();
        assert!(
            read(&cut)
                .unwrap_err()
                .to_string()
                .contains("not a valid GPX file")
        );
        // Read in pieces of every size, the UTF-16 reader gives the same.
        let whole = utf16(false, true, body);
        for size in [1, 2, 3, 5, 7] {
            let mut input = io::BufReader::with_capacity(size, whole.as_slice());
            let points = Gpx
                .read(&mut input)
                .unwrap_or_else(|e| panic!("{size}: {e}"));
            assert_eq!(summary(&points), expected, "pieces of {size}");
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let nested = |depth: usize| {
            // <gpx> and <extensions> are two levels.
            let mut doc = String::from(r#"<gpx version="1.1" creator="t"><extensions>"#);
            doc.push_str(&"\n<a>".repeat(depth - 2));
            doc.push_str(&"</a>".repeat(depth - 2));
            doc.push_str("</extensions></gpx>");
            doc
        };
        assert!(read(nested(MAX_DEPTH)).is_ok());
        assert_eq!(
            error(nested(MAX_DEPTH + 1)),
            "line 64: elements nested more than 64 deep; refused (a GPX file needs a few levels)"
        );
        // 200,000 deep: refused at the 65th level, without reading on.
        let deep = nested(200_000);
        assert!(
            error(&deep).starts_with("line 64: elements nested more than 64 deep"),
            "{}",
            error(&deep)
        );
    }

    /// The document of the issue: one entity of 50 KB, used 20,000 times
    /// (110 KB in all; expanded, 1 GB).
    fn entity_bomb(use_in: &str) -> String {
        let mut doc = format!(
            "<?xml version=\"1.0\"?>\n<!DOCTYPE gpx [\n<!ENTITY big \"{}\">\n]>\n",
            "x".repeat(50_000)
        );
        doc.push_str(r#"<gpx version="1.1" creator="t" xmlns="http://www.topografix.com/GPX/1/1"><trk><desc>"#);
        doc.push_str(&"&big;".repeat(20_000));
        doc.push_str("</desc><trkseg>\n");
        doc.push_str(&format!(
            "<trkpt lat=\"52.5\" lon=\"13.4\"><time>{use_in}</time></trkpt>\n</trkseg></trk></gpx>"
        ));
        doc
    }

    #[test]
    fn entities_are_never_expanded() {
        let doc = entity_bomb("2021-06-01T10:00:00Z");
        assert!(doc.len() > 150_000 && doc.len() < 160_000);
        // Read without expanding: the text that uses the entity is passed
        // over, the point is read.
        let points = read(&doc).unwrap();
        assert_eq!(
            summary(&points),
            [(
                "2021-06-01T10:00:00Z".into(),
                52.5,
                13.4,
                None,
                Source::Track
            )]
        );
        // Where a value uses one, it is an error, named.
        assert_eq!(
            error(entity_bomb("&big;")),
            "line 6: the <time> uses the entity &big;, which is not expanded"
        );
        let doc = trkpt("<time>2021-06-01T10:00:00Z</time>").replace("lat=\"52.5\"", "lat=\"&n;\"");
        assert_eq!(
            error(doc),
            "line 3: the lat of a <trkpt> uses the entity &n;, which is not expanded"
        );
    }

    #[test]
    fn long_pieces_and_many_namespaces_are_refused() {
        let mut doc = trkpt("<time>2021-06-01T10:00:00Z</time>");
        let comment = format!(
            "<!--{}-->",
            "-x".repeat((MAX_PIECE_BYTES / 2) as usize + 10)
        );
        doc.insert_str(doc.find("<trk>").unwrap(), &comment);
        assert_eq!(
            error(&doc),
            "line 2: a tag, text or comment longer than 16 MiB; refused, no GPX file has one"
        );
        let declarations: String = (0..=MAX_NAMESPACES)
            .map(|i| format!(" xmlns:n{i}=\"urn:n{i}\""))
            .collect();
        let doc = format!(r#"<gpx version="1.1" creator="t"{declarations}/>"#);
        assert_eq!(
            error(doc),
            "line 1: more than 256 namespace declarations in scope; refused"
        );
        let long = "n".repeat(MAX_NAME_BYTES + 1);
        assert_eq!(
            error(format!(r#"<gpx><extensions><{long}/></extensions></gpx>"#)),
            "line 1: an element name longer than 1024 bytes; refused"
        );
        assert_eq!(
            error(format!(r#"<gpx xmlns:x="urn:{long}"/>"#)),
            "line 1: a namespace name longer than 1024 bytes; refused"
        );
        // A point with a great many attributes is read in linear time (no
        // check of each attribute against each other one).
        let attributes: String = (0..100_000).map(|i| format!(" a{i}=\"\"")).collect();
        let doc = trkpt("<time>2021-06-01T10:00:00Z</time>")
            .replace("lat=\"52.5\"", &format!("lat=\"52.5\"{attributes}"));
        assert_eq!(read(doc).unwrap().len(), 1);
    }

    #[test]
    fn errors_say_where_and_why() {
        for (doc, message) in [
            ("", "not a valid GPX file (no <gpx> element)"),
            (
                "this is not xml",
                "line 1: not a valid GPX file (text before the <gpx> element)",
            ),
            (
                "<kml xmlns=\"http://www.opengis.net/kml/2.2\"><Document/></kml>",
                "line 1: not a GPX file (its root element is <kml>, not <gpx>)",
            ),
            (
                "<gpx version=\"1.1\">\n<trk>\n<trkseg>\n<trkpt lat=\"1\" lon=\"2\">",
                "not a valid GPX file (it ends before its elements are closed; is it cut short?)",
            ),
            (
                "<gpx version=\"1.1\">\n<trk>\n</trkseg>\n</gpx>",
                "line 3: not a valid GPX file (ill-formed document: expected `</trk>`, but `</trkseg>` was found)",
            ),
            (
                "<gpx version=\"1.1\"></gpx>\n<gpx version=\"1.1\"></gpx>",
                "line 2: not a valid GPX file (an element after the end of </gpx>; two files joined?)",
            ),
            (
                "<gpx version=\"1.1\"></gpx>\n\ntrailing",
                "line 3: not a valid GPX file (text after the end of </gpx>)",
            ),
            (
                "<gpx><wpt lon=\"2\"><time>2021-06-01T10:00:00Z</time></wpt></gpx>",
                "line 1: not a valid GPX file (a <wpt> without its lat attribute)",
            ),
            (
                "<gpx><wpt lat=\"1\" lat=\"1\" lon=\"2\"/></gpx>",
                "line 1: not a valid GPX file (<wpt> has two lat attributes)",
            ),
            (
                "<gpx>\n<wpt lat=\"north\" lon=\"2\"/></gpx>",
                "line 2: the lat 'north' of a <wpt> is not a number",
            ),
            (
                "<gpx>\n<wpt lat=\"1\" lon=\"2\">\n<ele>high</ele></wpt></gpx>",
                "line 3: the <ele> 'high' is not a number",
            ),
        ] {
            let err = error(doc);
            assert!(err.ends_with(message), "{doc:?}: {err}");
            assert!(!err.contains('\n'), "{err:?}");
        }
    }
}
