//! Building a new EXIF block that changes some tags and keeps every byte
//! of the old one where it was.
//!
//! Maker notes hold offsets that point into the TIFF block, often absolute
//! ones, so moving any byte of the original block can break them. The
//! writer therefore never moves anything: it keeps the original block as it
//! is, appends new copies of the IFDs that change (with their new values)
//! behind it, and repoints the TIFF header (and, in the new IFD0, the EXIF
//! or GPS pointer) at the copies. Unchanged entries are copied verbatim, so
//! their offsets still point at the original data. The old IFDs remain as
//! unreferenced bytes. See docs/exif-engine.md for the evidence that led
//! here.

use std::collections::BTreeMap;
use std::fmt;

use super::jpeg::{APP0, APP1, EXIF_HEADER, JpegHead, MAX_SEGMENT_PAYLOAD, Segment};
use super::tags::{self, IfdKind, Tag};
use super::tiff::{ByteOrder, Entry, Ifd, Tiff, TiffError, Value, pointer};
use crate::capture_time::CaptureTime;
use crate::geo::{LatLon, normalize_degrees, to_exif_dms, to_rational};
use jiff::Timestamp;

/// A set of tag changes applied as one operation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExifEdits {
    changes: BTreeMap<Tag, Option<Value>>,
    replace_gps: bool,
}

impl ExifEdits {
    /// No changes yet.
    pub fn new() -> ExifEdits {
        ExifEdits::default()
    }

    /// Sets `tag` to `value`, replacing any value it had.
    pub fn set(&mut self, tag: Tag, value: Value) -> &mut ExifEdits {
        self.changes.insert(tag, Some(value));
        self
    }

    /// Sets an ASCII tag.
    pub fn set_text(&mut self, tag: Tag, text: &str) -> &mut ExifEdits {
        self.set(tag, Value::Ascii(text.as_bytes().to_vec()))
    }

    /// Sets DateTimeOriginal with its SubSecTimeOriginal (removed on a whole
    /// second, so no stale fraction from the old time remains) and, when the
    /// time carries one, OffsetTimeOriginal.
    pub fn set_capture_time(&mut self, time: &CaptureTime) -> &mut ExifEdits {
        self.set_text(tags::DATE_TIME_ORIGINAL, &time.exif_date_time());
        match time.exif_sub_sec() {
            Some(sub) => self.set_text(tags::SUB_SEC_TIME_ORIGINAL, &sub),
            None => self.remove(tags::SUB_SEC_TIME_ORIGINAL),
        };
        if let Some(offset) = time.exif_offset() {
            self.set_text(tags::OFFSET_TIME_ORIGINAL, &offset);
        }
        self
    }

    /// Replaces the GPS IFD with a fix: position, altitude (when known),
    /// image direction (true north, when known), the UTC date and time of
    /// the fix, datum WGS-84 and GPS tag version 2.3.0.0. GPS tags of an
    /// earlier fix are dropped with the old IFD, so none is left to
    /// contradict the new position.
    pub fn set_gps_fix(
        &mut self,
        position: LatLon,
        altitude: Option<f64>,
        direction: Option<f64>,
        time: Timestamp,
    ) -> &mut ExifEdits {
        let (lat, lat_ref) = to_exif_dms(position.lat, 'N', 'S');
        let (lon, lon_ref) = to_exif_dms(position.lon, 'E', 'W');
        self.replace_gps()
            .set(tags::GPS_VERSION_ID, Value::Byte(vec![2, 3, 0, 0]))
            .set_text(tags::GPS_LATITUDE_REF, &lat_ref)
            .set(tags::GPS_LATITUDE, lat)
            .set_text(tags::GPS_LONGITUDE_REF, &lon_ref)
            .set(tags::GPS_LONGITUDE, lon)
            .set_text(tags::GPS_MAP_DATUM, "WGS-84");
        if let Some(alt) = altitude.filter(|a| a.is_finite()) {
            self.set(
                tags::GPS_ALTITUDE_REF,
                Value::Byte(vec![u8::from(alt < 0.0)]),
            )
            .set(tags::GPS_ALTITUDE, to_rational(alt, 1000));
        }
        if let Some(dir) = direction.filter(|d| d.is_finite()) {
            self.set_direction(dir);
        }
        let utc = time.to_zoned_datetime(jiff::tz::TimeZone::UTC);
        let millis = i64::from(utc.second()) * 1000 + i64::from(utc.millisecond());
        self.set_text(tags::GPS_DATE_STAMP, &utc.strftime("%Y:%m:%d").to_string())
            .set(
                tags::GPS_TIME_STAMP,
                Value::Rational(vec![
                    (u32::try_from(utc.hour()).unwrap_or(0), 1),
                    (u32::try_from(utc.minute()).unwrap_or(0), 1),
                    (u32::try_from(millis).unwrap_or(0), 1000),
                ]),
            )
    }

    /// Sets GPSImgDirection (degrees, normalised to [0, 360), in hundredths)
    /// with GPSImgDirectionRef `T` (true north).
    pub fn set_direction(&mut self, degrees: f64) -> &mut ExifEdits {
        let d = normalize_degrees(degrees);
        // 359.996 would round to 360.00: keep it in range.
        let value = if (d * 100.0).round() >= 36_000.0 {
            0.0
        } else {
            d
        };
        self.set_text(tags::GPS_IMG_DIRECTION_REF, "T")
            .set(tags::GPS_IMG_DIRECTION, to_rational(value, 100))
    }

    /// Removes `tag` if the file has it.
    pub fn remove(&mut self, tag: Tag) -> &mut ExifEdits {
        self.changes.insert(tag, None);
        self
    }

    /// The GPS IFD will hold only the GPS tags set here: any other GPS tag
    /// the file had (from an earlier fix) is dropped with the old IFD.
    pub fn replace_gps(&mut self) -> &mut ExifEdits {
        self.replace_gps = true;
        self
    }

    /// Whether nothing would change.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && !self.replace_gps
    }

    /// The changes, in tag order.
    pub fn changes(&self) -> impl Iterator<Item = (Tag, Option<&Value>)> {
        self.changes.iter().map(|(t, v)| (*t, v.as_ref()))
    }

    fn for_ifd(&self, kind: IfdKind) -> Vec<(u16, Option<&Value>)> {
        self.changes
            .iter()
            .filter(|(t, _)| t.ifd == kind)
            .map(|(t, v)| (t.id, v.as_ref()))
            .collect()
    }

    fn touches(&self, kind: IfdKind) -> bool {
        (kind == IfdKind::Gps && self.replace_gps) || self.changes.keys().any(|t| t.ifd == kind)
    }
}

/// Why a file cannot be rewritten safely. The file is left as it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteError {
    /// The existing EXIF cannot be read well enough to keep it intact.
    Tiff(TiffError),
    /// The new EXIF would not fit in one APP1 segment.
    TooLarge {
        /// The payload size it would have had.
        bytes: usize,
    },
    /// A Multi-Picture Format index precedes the EXIF segment; growing the
    /// EXIF would break its offsets to the extra images.
    MpfBeforeExif,
    /// The file ends with an AFCP trailer, whose offsets are absolute file
    /// positions that would no longer be right.
    AbsoluteOffsetTrailer(&'static str),
    /// A value the new block would keep by reference lies (partly) outside
    /// the EXIF block, or over its header: the bytes it points at would
    /// become the new IFDs (Pillow, for one, writes a value that goes on
    /// into a second APP1 segment).
    ValueOutsideBlock {
        /// The IFD of the entry.
        ifd: &'static str,
        /// The entry's tag.
        tag: u16,
    },
    /// The new block did not read back as intended (a bug; nothing was
    /// written).
    Verify(String),
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::Tiff(e) => write!(f, "{e}; refusing to rewrite it"),
            WriteError::TooLarge { bytes } => write!(
                f,
                "the new EXIF would be {bytes} bytes, more than the {MAX_SEGMENT_PAYLOAD} a JPEG APP1 segment can hold"
            ),
            WriteError::MpfBeforeExif => write!(
                f,
                "a multi-picture (MPF) index precedes the EXIF segment; rewriting would break its offsets"
            ),
            WriteError::AbsoluteOffsetTrailer(kind) => write!(
                f,
                "the file ends with an {kind} trailer whose offsets are absolute; rewriting would break it"
            ),
            WriteError::ValueOutsideBlock { ifd, tag } => write!(
                f,
                "corrupt EXIF: the value of tag 0x{tag:04x} in {ifd} lies outside the EXIF block; refusing to rewrite it"
            ),
            WriteError::Verify(what) => write!(f, "the rewritten EXIF did not verify: {what}"),
        }
    }
}

impl std::error::Error for WriteError {}

impl From<TiffError> for WriteError {
    fn from(e: TiffError) -> Self {
        WriteError::Tiff(e)
    }
}

/// One entry of an IFD being written: kept from the file, or new.
enum Slot<'v> {
    Kept(Entry),
    New(u16, &'v Value),
}

fn pad_even(out: &mut Vec<u8>) {
    if out.len() % 2 == 1 {
        out.push(0);
    }
}

fn offset_u32(at: usize) -> Result<u32, WriteError> {
    u32::try_from(at).map_err(|_| WriteError::TooLarge { bytes: at })
}

/// Appends an IFD made of `base` entries with `changes` applied, followed by
/// the out-of-line values of the new entries. Returns its offset.
fn append_ifd(
    out: &mut Vec<u8>,
    order: ByteOrder,
    base: &[Entry],
    changes: &[(u16, Option<&Value>)],
    next: u32,
) -> Result<u32, WriteError> {
    pad_even(out);
    let mut slots: Vec<Slot<'_>> = base
        .iter()
        .filter(|e| !changes.iter().any(|(t, _)| *t == e.tag))
        .map(|e| Slot::Kept(*e))
        .collect();
    slots.extend(
        changes
            .iter()
            .filter_map(|(t, v)| v.map(|v| Slot::New(*t, v))),
    );
    // IFD entries must be in ascending tag order; the sort is stable, so
    // duplicate tags a camera wrote keep their relative order.
    slots.sort_by_key(|s| match s {
        Slot::Kept(e) => e.tag,
        Slot::New(t, _) => *t,
    });
    let count =
        u16::try_from(slots.len()).map_err(|_| WriteError::TooLarge { bytes: out.len() })?;
    let ifd_offset = out.len();
    let mut values_at = ifd_offset + 2 + 12 * slots.len() + 4;
    let mut entries = Vec::with_capacity(slots.len());
    let mut values = Vec::new();
    for slot in &slots {
        let entry = match slot {
            Slot::Kept(e) => *e,
            Slot::New(tag, value) => {
                let bytes = value.encode(order);
                let mut field = [0; 4];
                if bytes.len() <= 4 {
                    field[..bytes.len()].copy_from_slice(&bytes);
                } else {
                    field = order.u32_bytes(offset_u32(values_at)?);
                    values_at += bytes.len() + bytes.len() % 2;
                    values.push(bytes);
                }
                Entry {
                    tag: *tag,
                    field_type: value.field_type(),
                    count: u32::try_from(value.count()).map_err(|_| WriteError::TooLarge {
                        bytes: value.count(),
                    })?,
                    field,
                }
            }
        };
        entries.push(entry);
    }
    out.extend(order.u16_bytes(count));
    for e in &entries {
        out.extend(e.encode(order));
    }
    out.extend(order.u32_bytes(next));
    for v in values {
        out.extend(&v);
        pad_even(out);
    }
    debug_assert_eq!(out.len(), values_at);
    offset_u32(ifd_offset)
}

fn pointer_value(offset: u32) -> Value {
    Value::Long(vec![offset])
}

/// A byte range `[start, end)` of a TIFF block.
type Span = (usize, usize);

/// Where an IFD's table lies.
fn table_span(ifd: &Ifd) -> Span {
    let start = ifd.offset as usize;
    (start, start + 2 + 12 * ifd.entries.len() + 4)
}

/// Where an entry's value lies, when it is not inside the entry.
fn value_span(entry: &Entry, order: ByteOrder) -> Option<Span> {
    let len = entry.value_len()?;
    if len <= 4 {
        return None;
    }
    let at = usize::try_from(order.u32(&entry.field, 0)?).ok()?;
    Some((at, at.checked_add(len)?))
}

/// How many bytes of the original block the new one keeps.
///
/// This writer leaves every IFD it changes where it was and appends the
/// new one, so the bytes of the replaced IFDs stay behind, unreferenced.
/// When the photo is rewritten again, the block ends with the IFDs this
/// writer appended last time; if the edit replaces them again, that end is
/// dropped instead of growing the block each time. Only an end made
/// entirely of the tables of IFDs this edit replaces (IFD0 among them:
/// cameras write IFD0 first, so a block ending with IFD0 was written by
/// an appending writer) and of values that only the dropped entries used is
/// dropped, and only if nothing kept (an entry's value, another IFD, the
/// thumbnail) lies in it. Otherwise, everything is kept.
fn kept_length(t: &Tiff<'_>, edits: &ExifEdits) -> usize {
    let all = t.data.len();
    let order = t.order;
    let (Ok(exif), Ok(gps)) = (t.exif_ifd(), t.gps_ifd()) else {
        return all;
    };
    let touches_exif = edits.touches(IfdKind::Exif);
    let touches_gps = edits.touches(IfdKind::Gps);
    if edits.for_ifd(IfdKind::Main).is_empty() && !touches_exif && !touches_gps {
        return all;
    }
    // The IFDs replaced, each with the tags of its entries that are
    // dropped (or all of them).
    let tags_of =
        |kind: IfdKind| -> Vec<u16> { edits.for_ifd(kind).iter().map(|(t, _)| *t).collect() };
    let mut main_dropped = tags_of(IfdKind::Main);
    if touches_exif {
        main_dropped.push(pointer::EXIF_IFD);
    }
    if touches_gps {
        main_dropped.push(pointer::GPS_IFD);
    }
    let mut replaced: Vec<(&Ifd, Vec<u16>, bool)> = vec![(&t.ifd0, main_dropped, false)];
    if let (true, Some(ifd)) = (touches_exif, exif.as_ref()) {
        replaced.push((ifd, tags_of(IfdKind::Exif), false));
    }
    if let (true, Some(ifd)) = (touches_gps, gps.as_ref()) {
        replaced.push((ifd, tags_of(IfdKind::Gps), edits.replace_gps));
    }
    let mut dropped: Vec<Span> = Vec::new();
    let mut kept: Vec<Span> = Vec::new();
    for (ifd, dropped_tags, drop_all) in &replaced {
        dropped.push(table_span(ifd));
        for e in &ifd.entries {
            let Some(span) = value_span(e, order) else {
                continue;
            };
            if *drop_all || dropped_tags.contains(&e.tag) {
                dropped.push(span);
            } else {
                kept.push(span);
            }
        }
    }
    // The end of the block made of dropped spans (a pad byte between them
    // allowed).
    let mut cut = all;
    loop {
        let before = cut;
        for &(start, end) in &dropped {
            if start < cut && end <= cut && end + 1 >= cut {
                cut = start;
            }
        }
        if cut == before {
            break;
        }
    }
    if cut == all || cut > t.ifd0.offset as usize {
        return all;
    }
    // Everything that stays must lie before the cut: the IFDs kept whole,
    // the IFD1 chain and its thumbnail, the interoperability IFD, and the
    // values of the kept entries.
    let mut whole: Vec<Ifd> = Vec::new();
    if !touches_exif {
        whole.extend(exif.clone());
    }
    if !touches_gps {
        whole.extend(gps.clone());
    }
    if let Some(exif) = &exif
        && let Ok(Some(interop)) = t.sub_ifd(exif, pointer::INTEROP_IFD, "interoperability IFD")
    {
        whole.push(interop);
    }
    let mut next = t.ifd0.next;
    for _ in 0..4 {
        if next == 0 {
            break;
        }
        let Ok(ifd) = super::tiff::parse_ifd(t.data, order, next, "IFD1") else {
            return all;
        };
        let thumbnail = (ifd.get(0x0201), ifd.get(0x0202));
        if let (Some(at), Some(len)) = thumbnail {
            let at = order.u32(&at.field, 0).unwrap_or(0) as usize;
            let len = order.u32(&len.field, 0).unwrap_or(0) as usize;
            kept.push((at, at.saturating_add(len)));
        }
        next = ifd.next;
        whole.push(ifd);
    }
    if next != 0 {
        return all;
    }
    for ifd in &whole {
        kept.push(table_span(ifd));
        kept.extend(ifd.entries.iter().filter_map(|e| value_span(e, order)));
    }
    if kept.iter().all(|&(_, end)| end <= cut) {
        cut
    } else {
        all
    }
}

/// Checks that every value the new block keeps by reference (its offset
/// copied as it was) lies inside the original block and clear of its
/// header; the new IFDs are written behind the block and the header is
/// rewritten, so a value reaching there would silently change. The IFDs
/// that the edit drops whole (an old GPS IFD that is replaced) and those
/// that cannot be parsed (which the reader does not use either) are not
/// checked; nor can the inside of maker notes be.
fn check_kept_values(t: &Tiff<'_>, edits: &ExifEdits) -> Result<(), WriteError> {
    let mut ifds: Vec<(&'static str, Ifd)> = vec![("IFD0", t.ifd0.clone())];
    if let Ok(Some(exif)) = t.exif_ifd() {
        if let Ok(Some(interop)) = t.sub_ifd(&exif, pointer::INTEROP_IFD, "interoperability IFD") {
            ifds.push(("the interoperability IFD", interop));
        }
        ifds.push(("the EXIF IFD", exif));
    }
    if !edits.replace_gps
        && let Ok(Some(gps)) = t.gps_ifd()
    {
        ifds.push(("the GPS IFD", gps));
    }
    let mut next = t.ifd0.next;
    for _ in 0..4 {
        if next == 0 {
            break;
        }
        let Ok(ifd) = super::tiff::parse_ifd(t.data, t.order, next, "IFD1") else {
            break;
        };
        next = ifd.next;
        ifds.push(("IFD1", ifd));
    }
    let inside = |(start, end): Span| start >= 8 && end <= t.data.len();
    for (name, ifd) in &ifds {
        for e in &ifd.entries {
            if let Some(span) = value_span(e, t.order)
                && !inside(span)
            {
                return Err(WriteError::ValueOutsideBlock {
                    ifd: name,
                    tag: e.tag,
                });
            }
        }
        // The thumbnail is referenced by an offset and a length.
        if let (Some(at), Some(len)) = (ifd.get(0x0201), ifd.get(0x0202)) {
            let at = t.order.u32(&at.field, 0).unwrap_or(0) as usize;
            let len = t.order.u32(&len.field, 0).unwrap_or(0) as usize;
            if len > 0 && !inside((at, at.saturating_add(len))) {
                return Err(WriteError::ValueOutsideBlock {
                    ifd: name,
                    tag: 0x0201,
                });
            }
        }
    }
    Ok(())
}

/// Builds the new TIFF block for `original` (or a fresh one when the file
/// has no EXIF) with `edits` applied.
pub fn build_tiff(original: Option<&Tiff<'_>>, edits: &ExifEdits) -> Result<Vec<u8>, WriteError> {
    let order = original.map_or(ByteOrder::Intel, |t| t.order);
    if let Some(t) = original {
        check_kept_values(t, edits)?;
    }
    let mut out = match original {
        Some(t) => t.data[..kept_length(t, edits)].to_vec(),
        None => {
            let mut h = order.marker().to_vec();
            h.extend(order.u16_bytes(42));
            h.extend(order.u32_bytes(0));
            h
        }
    };
    let empty = Ifd {
        offset: 0,
        entries: Vec::new(),
        next: 0,
    };
    let ifd0 = original.map_or_else(|| empty.clone(), |t| t.ifd0.clone());

    let mut main_changes: Vec<(u16, Option<Value>)> = edits
        .for_ifd(IfdKind::Main)
        .into_iter()
        .map(|(t, v)| (t, v.cloned()))
        .collect();

    if edits.touches(IfdKind::Exif) {
        // Other EXIF tags (maker notes among them) must be kept, so a
        // broken EXIF IFD stops the rewrite.
        let exif = match original {
            Some(t) => t.exif_ifd()?.unwrap_or_else(|| empty.clone()),
            None => empty.clone(),
        };
        let offset = append_ifd(
            &mut out,
            order,
            &exif.entries,
            &edits.for_ifd(IfdKind::Exif),
            exif.next,
        )?;
        main_changes.push((pointer::EXIF_IFD, Some(pointer_value(offset))));
    }
    if edits.touches(IfdKind::Gps) {
        let gps = if edits.replace_gps {
            // The old GPS IFD is dropped whole, so even a broken one is fine.
            empty.clone()
        } else {
            match original {
                Some(t) => t.gps_ifd()?.unwrap_or_else(|| empty.clone()),
                None => empty.clone(),
            }
        };
        let offset = append_ifd(
            &mut out,
            order,
            &gps.entries,
            &edits.for_ifd(IfdKind::Gps),
            gps.next,
        )?;
        main_changes.push((pointer::GPS_IFD, Some(pointer_value(offset))));
    }
    if !main_changes.is_empty() {
        let changes: Vec<(u16, Option<&Value>)> =
            main_changes.iter().map(|(t, v)| (*t, v.as_ref())).collect();
        let offset = append_ifd(&mut out, order, &ifd0.entries, &changes, ifd0.next)?;
        out[4..8].copy_from_slice(&order.u32_bytes(offset));
    }
    let payload = EXIF_HEADER.len() + out.len();
    if payload > MAX_SEGMENT_PAYLOAD {
        return Err(WriteError::TooLarge { bytes: payload });
    }
    Ok(out)
}

/// Checks one rewritten IFD: every change reads back, every old entry not
/// changed is there byte for byte, and nothing else is (but the pointer
/// tags in `repointed`, which the writer sets itself).
fn verify_ifd(
    new: &Tiff<'_>,
    new_ifd: Option<Ifd>,
    old_ifd: Option<&Ifd>,
    changes: &[(u16, Option<&Value>)],
    repointed: &[u16],
    name: &str,
) -> Result<(), WriteError> {
    let fail = |what: String| Err(WriteError::Verify(format!("{name}: {what}")));
    let Some(new_ifd) = new_ifd else {
        return fail("missing".to_string());
    };
    let changed = |tag: u16| changes.iter().any(|(t, _)| *t == tag) || repointed.contains(&tag);
    for (tag, value) in changes {
        let got = new_ifd.get(*tag).and_then(|e| new.value(e));
        match (value, got) {
            (None, None) => {}
            (Some(want), Some(got)) if **want == got => {}
            (want, got) => return fail(format!("tag 0x{tag:04X} is {got:?}, expected {want:?}")),
        }
    }
    let old_entries = old_ifd.map_or(&[][..], |o| &o.entries[..]);
    for e in old_entries.iter().filter(|e| !changed(e.tag)) {
        if !new_ifd.entries.contains(e) {
            return fail(format!("tag 0x{:04X} was not kept", e.tag));
        }
    }
    for e in new_ifd.entries.iter().filter(|e| !changed(e.tag)) {
        if !old_entries.contains(e) {
            return fail(format!("unexpected tag 0x{:04X}", e.tag));
        }
    }
    if new_ifd.next != old_ifd.map_or(0, |o| o.next) {
        return fail("the link to the next IFD changed".to_string());
    }
    Ok(())
}

/// Checks that `new_block` is `original` with `edits` applied and
/// nothing else changed.
pub fn verify_tiff(
    original: Option<&Tiff<'_>>,
    new_block: &[u8],
    edits: &ExifEdits,
) -> Result<(), WriteError> {
    let new = Tiff::parse(new_block).map_err(|e| WriteError::Verify(e.to_string()))?;
    if let Some(old) = original {
        // Every original byte but the IFD0 offset in the header is in
        // place, up to the end this writer may drop (see kept_length).
        let n = kept_length(old, edits);
        if new_block.len() < n
            || new_block[..4] != old.data[..4]
            || new_block[8..n] != old.data[8..n]
        {
            return Err(WriteError::Verify("original bytes moved".to_string()));
        }
    }
    let old_exif = original.and_then(|t| t.exif_ifd().ok().flatten());
    let old_gps = original.and_then(|t| t.gps_ifd().ok().flatten());
    let mut repointed = Vec::new();
    if edits.touches(IfdKind::Exif) {
        repointed.push(pointer::EXIF_IFD);
    }
    if edits.touches(IfdKind::Gps) {
        repointed.push(pointer::GPS_IFD);
    }
    verify_ifd(
        &new,
        Some(new.ifd0.clone()),
        original.map(|t| &t.ifd0),
        &edits.for_ifd(IfdKind::Main),
        &repointed,
        "IFD0",
    )?;
    let verify_err = |e: TiffError| WriteError::Verify(e.to_string());
    if edits.touches(IfdKind::Exif) {
        let new_exif = new.exif_ifd().map_err(verify_err)?;
        verify_ifd(
            &new,
            new_exif,
            old_exif.as_ref(),
            &edits.for_ifd(IfdKind::Exif),
            &[],
            "EXIF IFD",
        )?;
    } else if new.exif_ifd() != original.map_or(Ok(None), |t| t.exif_ifd()) {
        return Err(WriteError::Verify("EXIF IFD changed".to_string()));
    }
    if edits.touches(IfdKind::Gps) {
        let new_gps = new.gps_ifd().map_err(verify_err)?;
        let old = if edits.replace_gps {
            None
        } else {
            old_gps.as_ref()
        };
        verify_ifd(
            &new,
            new_gps,
            old,
            &edits.for_ifd(IfdKind::Gps),
            &[],
            "GPS IFD",
        )?;
    } else if new.gps_ifd() != original.map_or(Ok(None), |t| t.gps_ifd()) {
        return Err(WriteError::Verify("GPS IFD changed".to_string()));
    }
    Ok(())
}

/// Where a new EXIF segment goes in a file that has none: right after SOI,
/// or after the JFIF/JFXX APP0 segments that open the file.
fn insertion_point(head: &JpegHead) -> usize {
    head.segments
        .iter()
        .take_while(|s| s.marker == APP0)
        .last()
        .map_or(2, |s| s.end)
}

fn is_mpf(segment: &Segment, head_bytes: &[u8]) -> bool {
    segment.marker == 0xE2 && segment.payload(head_bytes).starts_with(b"MPF\0")
}

/// The rewritten head: every segment from SOI up to (not including) the
/// first SOS, with the EXIF segment replaced or inserted.
pub fn rewrite_head(
    head_bytes: &[u8],
    head: &JpegHead,
    edits: &ExifEdits,
) -> Result<Vec<u8>, WriteError> {
    let exif_segment = head.exif_segment(head_bytes);
    let original_block = exif_segment.map(|s| &s.payload(head_bytes)[EXIF_HEADER.len()..]);
    let original = original_block.map(Tiff::parse).transpose()?;
    let block = build_tiff(original.as_ref(), edits)?;
    verify_tiff(original.as_ref(), &block, edits)?;

    let (cut_start, cut_end) = match exif_segment {
        Some(s) => (s.start, s.end),
        None => {
            let at = insertion_point(head);
            (at, at)
        }
    };
    if head
        .segments
        .iter()
        .any(|s| s.end <= cut_start && is_mpf(s, head_bytes))
    {
        return Err(WriteError::MpfBeforeExif);
    }
    let payload_len = EXIF_HEADER.len() + block.len();
    let mut out = Vec::with_capacity(head.sos_offset + payload_len + 4);
    out.extend_from_slice(&head_bytes[..cut_start]);
    out.extend([0xFF, APP1]);
    // build_tiff has checked that the payload fits.
    out.extend(
        u16::try_from(payload_len + 2)
            .map_err(|_| WriteError::TooLarge { bytes: payload_len })?
            .to_be_bytes(),
    );
    out.extend_from_slice(EXIF_HEADER);
    out.extend_from_slice(&block);
    out.extend_from_slice(&head_bytes[cut_end..head.sos_offset]);
    Ok(out)
}

/// A new EXIF IFD needs an ExifVersion to be a valid EXIF IFD; adds one to
/// `edits` when the file has no EXIF IFD yet.
pub fn ensure_exif_version(original: Option<&Tiff<'_>>, edits: &mut ExifEdits) {
    let has_exif_ifd = original.is_some_and(|t| t.ifd0.get(pointer::EXIF_IFD).is_some());
    if edits.touches(IfdKind::Exif) && !has_exif_ifd {
        edits.set(
            super::tags::EXIF_VERSION,
            Value::Undefined(b"0232".to_vec()),
        );
    }
}
