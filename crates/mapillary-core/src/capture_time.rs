//! Camera capture times: what EXIF says, and which instant that is.
//!
//! EXIF stores a camera-local wall-clock time (`YYYY:MM:DD HH:MM:SS`), a
//! fraction of a second in a separate tag, and, since EXIF 2.31, the UTC
//! offset in a third. A [`CaptureTime`] keeps those three together and knows
//! whether the zone is known; turning it into an instant needs a
//! [`ZoneRule`] for the case where it is not.
//!
//! Zones are resolved with `jiff`, which knows the IANA database and the
//! offset a zone had at any instant (a summer photo processed in winter
//! gets its summer offset). The `time` crate cannot do that portably, so
//! the project does not use it for zones.

use std::fmt;

use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Timestamp};

/// A capture time as a camera records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureTime {
    /// Wall-clock date and time, with the fraction of a second.
    pub local: DateTime,
    /// The UTC offset of `local`, when the file states it.
    pub offset: Option<Offset>,
}

/// Why a capture time could not be read or computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureTimeError {
    /// The date/time text is not `YYYY:MM:DD HH:MM:SS`.
    BadDateTime(String),
    /// The offset text is not `±HH:MM`.
    BadOffset(String),
    /// The result is outside the supported range (years 1–9999).
    OutOfRange,
    /// The time zone name is unknown.
    UnknownZone(String),
}

impl fmt::Display for CaptureTimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureTimeError::BadDateTime(s) => {
                write!(
                    f,
                    "'{s}' is not a date and time of the form YYYY:MM:DD HH:MM:SS"
                )
            }
            CaptureTimeError::BadOffset(s) => write!(f, "'{s}' is not a UTC offset like +02:00"),
            CaptureTimeError::OutOfRange => write!(f, "time out of range"),
            CaptureTimeError::UnknownZone(s) => write!(
                f,
                "unknown time zone '{s}' (use UTC, an offset such as +02:00, or a name such as Europe/Berlin)"
            ),
        }
    }
}

impl std::error::Error for CaptureTimeError {}

fn digits(s: &str) -> Option<i32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses a fraction given as decimal digits (`"253"` = 0.253 s) into
/// nanoseconds. Digits beyond the ninth are dropped.
fn fraction_nanos(digits_text: &str) -> Option<i32> {
    let t = digits_text.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut nanos = 0i32;
    for (i, b) in t.bytes().take(9).enumerate() {
        nanos += i32::from(b - b'0') * 10i32.pow(8 - u32::try_from(i).ok()?);
    }
    Some(nanos)
}

/// Parses `±HH:MM` (also `±HHMM`, `±HH` and `Z`).
pub fn parse_offset(text: &str) -> Result<Offset, CaptureTimeError> {
    let bad = || CaptureTimeError::BadOffset(text.to_string());
    let t = text.trim();
    if t == "Z" {
        return Ok(Offset::UTC);
    }
    let (sign, rest) = match t.as_bytes().first() {
        Some(b'+') => (1, &t[1..]),
        Some(b'-') => (-1, &t[1..]),
        _ => return Err(bad()),
    };
    if !rest.is_ascii() {
        return Err(bad());
    }
    let (h, m) = match rest.len() {
        2 => (rest, "00"),
        4 => rest.split_at(2),
        5 if rest.as_bytes()[2] == b':' => (&rest[..2], &rest[3..]),
        _ => return Err(bad()),
    };
    let (h, m) = (digits(h).ok_or_else(bad)?, digits(m).ok_or_else(bad)?);
    if h > 18 || m > 59 {
        return Err(bad());
    }
    Offset::from_seconds(sign * (h * 3600 + m * 60)).map_err(|_| bad())
}

impl CaptureTime {
    /// Reads the EXIF triple: date/time (`YYYY:MM:DD HH:MM:SS`, with `-` or
    /// `:` in the date, a space or `T` between, and an optional fraction),
    /// the SubSecTime digits and the OffsetTime text. A blank or unreadable
    /// sub-second or offset tag is ignored: the main time still stands.
    pub fn from_exif(
        date_time: &str,
        sub_sec: Option<&str>,
        offset: Option<&str>,
    ) -> Result<CaptureTime, CaptureTimeError> {
        let bad = || CaptureTimeError::BadDateTime(date_time.to_string());
        let t = date_time.trim();
        let b = t.as_bytes();
        // The fields are sliced by byte position: the first 19 bytes must
        // be ASCII (a damaged tag can hold anything).
        if b.len() < 19 || !b[..19].is_ascii() {
            return Err(bad());
        }
        let sep_ok = matches!(b[4], b':' | b'-')
            && b[7] == b[4]
            && matches!(b[10], b' ' | b'T')
            && b[13] == b':'
            && b[16] == b':';
        if !sep_ok {
            return Err(bad());
        }
        let field = |r: std::ops::Range<usize>| digits(&t[r]).ok_or_else(bad);
        let (year, month, day) = (field(0..4)?, field(5..7)?, field(8..10)?);
        let (hour, minute, second) = (field(11..13)?, field(14..16)?, field(17..19)?);
        let mut nanos = 0;
        let mut inline_offset = None;
        let rest = &t[19..];
        let rest = if let Some(frac) = rest.strip_prefix('.') {
            let end = frac
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(frac.len());
            nanos = fraction_nanos(&frac[..end]).ok_or_else(bad)?;
            &frac[end..]
        } else {
            rest
        };
        if !rest.trim().is_empty() {
            inline_offset = Some(parse_offset(rest).map_err(|_| bad())?);
        }
        if nanos == 0
            && let Some(n) = sub_sec.and_then(fraction_nanos)
        {
            nanos = n;
        }
        let local = DateTime::new(
            i16::try_from(year).map_err(|_| bad())?,
            i8::try_from(month).map_err(|_| bad())?,
            i8::try_from(day).map_err(|_| bad())?,
            i8::try_from(hour).map_err(|_| bad())?,
            i8::try_from(minute).map_err(|_| bad())?,
            // Leap seconds (":60") are read as the last second of the minute.
            i8::try_from(second.min(59)).map_err(|_| bad())?,
            nanos,
        )
        .map_err(|_| bad())?;
        let offset = inline_offset.or_else(|| offset.and_then(|o| parse_offset(o).ok()));
        Ok(CaptureTime { local, offset })
    }

    /// A time without a known zone.
    pub fn local(local: DateTime) -> CaptureTime {
        CaptureTime {
            local,
            offset: None,
        }
    }

    /// Whether the file states the zone.
    pub fn zone_known(&self) -> bool {
        self.offset.is_some()
    }

    /// `YYYY:MM:DD HH:MM:SS`, as DateTimeOriginal holds it.
    pub fn exif_date_time(&self) -> String {
        self.local.strftime("%Y:%m:%d %H:%M:%S").to_string()
    }

    /// The SubSecTime digits: milliseconds (three digits), or more digits
    /// when the time is finer than a millisecond. `None` on a whole second.
    pub fn exif_sub_sec(&self) -> Option<String> {
        let nanos = self.local.subsec_nanosecond();
        if nanos == 0 {
            return None;
        }
        let mut s = format!("{nanos:09}");
        while s.len() > 3 && s.ends_with('0') {
            s.pop();
        }
        Some(s)
    }

    /// The OffsetTime text (`±HH:MM`), when the zone is known.
    pub fn exif_offset(&self) -> Option<String> {
        self.offset.map(format_offset)
    }

    /// The instant this time denotes. The file's own offset wins unless the
    /// rule forces a zone; a time in a zone's DST gap or fold is resolved
    /// the way most software does ("compatible": later in a gap, earlier in
    /// a fold).
    pub fn to_timestamp(&self, rule: &ZoneRule) -> Result<Timestamp, CaptureTimeError> {
        let zone = match (rule, self.offset) {
            (ZoneRule::Force(tz), _) => tz.clone(),
            (ZoneRule::Assume(_), Some(offset)) => TimeZone::fixed(offset),
            (ZoneRule::Assume(tz), None) => tz.clone(),
        };
        zone.to_ambiguous_timestamp(self.local)
            .compatible()
            .map_err(|_| CaptureTimeError::OutOfRange)
    }

    /// This time moved by `seconds` (may be negative or fractional), in
    /// wall-clock arithmetic: camera times have no DST.
    pub fn shifted(&self, seconds: f64) -> Result<CaptureTime, CaptureTimeError> {
        let d =
            SignedDuration::try_from_secs_f64(seconds).map_err(|_| CaptureTimeError::OutOfRange)?;
        let local = self
            .local
            .checked_add(d)
            .map_err(|_| CaptureTimeError::OutOfRange)?;
        Ok(CaptureTime {
            local,
            offset: self.offset,
        })
    }
}

/// `count` times from `start`, each `increment` seconds after the one
/// before (the legacy add_fix_dates rule). Offsets are computed from the
/// start (not accumulated) and rounded to the microsecond, so 0.1 s steps
/// give .100, .200, .300 and not .30000000000000004.
pub fn series(
    start: &CaptureTime,
    increment: f64,
    count: usize,
) -> Result<Vec<CaptureTime>, CaptureTimeError> {
    if !increment.is_finite() {
        return Err(CaptureTimeError::OutOfRange);
    }
    (0..count)
        .map(|i| {
            let micros = (i as f64 * increment * 1e6).round();
            start.shifted(micros / 1e6)
        })
        .collect()
}

/// Why a start time given on the command line (add_fix_dates) cannot be
/// used. Each names the text and the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartTimeError {
    /// Not of the form `YYYY-mm-dd HH:MM:SS`.
    Form(String),
    /// A zone follows the time; the start time is camera-local.
    Zone {
        /// The whole text.
        text: String,
        /// The zone part.
        zone: String,
    },
    /// A field is out of its range (hour 24, second 60, 30 February,
    /// year 0).
    Field {
        /// The whole text.
        text: String,
        /// What is wrong, e.g. "hour 24 does not exist".
        problem: String,
    },
}

impl fmt::Display for StartTimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartTimeError::Form(text) => write!(
                f,
                "'{text}' is not a time of the form 'YYYY-mm-dd HH:MM:SS'"
            ),
            StartTimeError::Zone { text, zone } => write!(
                f,
                "'{text}' ends in the zone '{zone}', but the start time is the camera's local time, written without a zone; leave the zone out"
            ),
            StartTimeError::Field { text, problem } => write!(f, "'{text}': {problem}"),
        }
    }
}

impl std::error::Error for StartTimeError {}

/// Reads a camera-local start time as add_fix_dates takes it:
/// `YYYY-mm-dd HH:MM:SS` (as the 2015 script, one- or two-digit fields
/// after the year; also `:` in the date and `T` before the time), with an
/// optional fraction of a second (`10:00:05.5`). A zone, a second 60 (EXIF
/// has no leap seconds: it would be written as :59 and the next photo get
/// the same second), any other field out of range, and year 0 are errors
/// naming the problem.
pub fn parse_start_time(text: &str) -> Result<CaptureTime, StartTimeError> {
    let form = || StartTimeError::Form(text.to_string());
    let field = |problem: String| StartTimeError::Field {
        text: text.to_string(),
        problem,
    };
    let t = text.trim();
    let (date, time) = t.split_once([' ', 'T']).ok_or_else(form)?;
    let number = |s: &str, widths: std::ops::RangeInclusive<usize>| {
        (widths.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<i32>().ok())
            .flatten()
            .ok_or_else(form)
    };
    let sep = if date.contains('-') { '-' } else { ':' };
    let d: Vec<&str> = date.split(sep).collect();
    let [y, m, day] = d[..] else {
        return Err(form());
    };
    let (year, month, day) = (number(y, 4..=4)?, number(m, 1..=2)?, number(day, 1..=2)?);
    // The time: H:M:S, then a fraction, then whatever follows (a zone?).
    let end = time
        .find(|c: char| !(c.is_ascii_digit() || c == ':'))
        .unwrap_or(time.len());
    let (hms, rest) = time.split_at(end);
    let h: Vec<&str> = hms.split(':').collect();
    let [hh, mm, ss] = h[..] else {
        return Err(form());
    };
    let (hour, minute, second) = (number(hh, 1..=2)?, number(mm, 1..=2)?, number(ss, 1..=2)?);
    let (nanos, rest) = match rest.strip_prefix('.') {
        Some(frac) => {
            let end = frac
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(frac.len());
            (fraction_nanos(&frac[..end]).ok_or_else(form)?, &frac[end..])
        }
        None => (0, rest),
    };
    let rest = rest.trim();
    if !rest.is_empty() {
        let zone_like = parse_offset(rest).is_ok()
            || parse_zone(rest).is_ok()
            || rest.eq_ignore_ascii_case("utc");
        return Err(if zone_like {
            StartTimeError::Zone {
                text: text.to_string(),
                zone: rest.to_string(),
            }
        } else {
            form()
        });
    }
    if year == 0 {
        return Err(field(
            "year 0000 does not exist; years go from 0001 to 9999".to_string(),
        ));
    }
    if !(1..=12).contains(&month) {
        return Err(field(format!(
            "month {month:02} does not exist; months go from 01 to 12"
        )));
    }
    if hour > 23 {
        return Err(field(format!(
            "hour {hour:02} does not exist; hours go from 00 to 23"
        )));
    }
    if minute > 59 {
        return Err(field(format!(
            "minute {minute:02} does not exist; minutes go from 00 to 59"
        )));
    }
    if second == 60 {
        return Err(field(
            "second 60 (a leap second) cannot be written: EXIF times have none; seconds go from 00 to 59"
                .to_string(),
        ));
    }
    if second > 59 {
        return Err(field(format!(
            "second {second:02} does not exist; seconds go from 00 to 59"
        )));
    }
    // The date: the day must exist in that month of that year.
    let first = jiff::civil::Date::new(year as i16, month as i8, 1).map_err(|_| form())?;
    let days = first.days_in_month();
    if day < 1 || day > i32::from(days) {
        return Err(field(format!(
            "{year:04}-{month:02}-{day:02} does not exist ({} {year:04} has {days} days)",
            first.strftime("%B")
        )));
    }
    let local = DateTime::new(
        year as i16,
        month as i8,
        day as i8,
        hour as i8,
        minute as i8,
        second as i8,
        nanos,
    )
    .map_err(|_| form())?;
    Ok(CaptureTime::local(local))
}

#[cfg(test)]
mod start_time_tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn the_documented_form_and_the_legacy_variants() {
        let t = |s: &str| parse_start_time(s).map(|c| c.local);
        assert_eq!(
            t("2014-01-01 23:59:59"),
            Ok(date(2014, 1, 1).at(23, 59, 59, 0))
        );
        assert_eq!(
            t("2015-06-01 10:00:05.5"),
            Ok(date(2015, 6, 1).at(10, 0, 5, 500_000_000))
        );
        assert_eq!(t("2015-6-1 9:0:0"), Ok(date(2015, 6, 1).at(9, 0, 0, 0)));
        assert_eq!(
            t("2015:06:01 10:00:00"),
            Ok(date(2015, 6, 1).at(10, 0, 0, 0))
        );
        assert_eq!(
            t(" 2016-02-29T00:00:00 "),
            Ok(date(2016, 2, 29).at(0, 0, 0, 0))
        );
        assert!(
            parse_start_time("2016-02-29 00:00:00")
                .unwrap()
                .offset
                .is_none()
        );
    }

    #[test]
    fn impossible_times_zones_and_year_zero_are_named() {
        let e = |s: &str| parse_start_time(s).unwrap_err().to_string();
        assert_eq!(
            e("2014-01-01 23:59:60"),
            "'2014-01-01 23:59:60': second 60 (a leap second) cannot be written: EXIF times have none; seconds go from 00 to 59"
        );
        assert_eq!(
            e("2014-01-01 10:00:00+02:00"),
            "'2014-01-01 10:00:00+02:00' ends in the zone '+02:00', but the start time is the camera's local time, written without a zone; leave the zone out"
        );
        assert!(e("2014-01-01 10:00:00 Z").contains("the zone 'Z'"));
        assert!(e("2014-01-01 10:00:00 Europe/Berlin").contains("the zone 'Europe/Berlin'"));
        assert_eq!(
            e("0000-01-01 00:00:00"),
            "'0000-01-01 00:00:00': year 0000 does not exist; years go from 0001 to 9999"
        );
        assert_eq!(
            e("2014-02-30 10:00:00"),
            "'2014-02-30 10:00:00': 2014-02-30 does not exist (February 2014 has 28 days)"
        );
        assert!(e("2014-13-01 10:00:00").contains("month 13 does not exist"));
        assert!(e("2014-01-01 24:00:00").contains("hour 24 does not exist"));
        assert!(e("2014-01-01 10:60:00").contains("minute 60 does not exist"));
        assert!(e("2014-01-01 10:00:61").contains("second 61 does not exist"));
        for bad in [
            "yesterday",
            "2014-01-01",
            "2014-01-01 10:00",
            "14-01-01 10:00:00",
            "2014-01-01 10:00:00 and more",
            "2014-01-01 10:00:00.",
            "2014-01-01 10:00:0\u{e9}",
            "",
        ] {
            assert_eq!(
                e(bad),
                format!("'{bad}' is not a time of the form 'YYYY-mm-dd HH:MM:SS'"),
                "{bad}"
            );
        }
    }
}

/// `±HH:MM`.
pub fn format_offset(offset: Offset) -> String {
    let secs = offset.seconds();
    let sign = if secs < 0 { '-' } else { '+' };
    let abs = secs.unsigned_abs();
    format!("{sign}{:02}:{:02}", abs / 3600, (abs % 3600) / 60)
}

/// How to place a camera time that has no zone of its own.
#[derive(Debug, Clone)]
pub enum ZoneRule {
    /// Times without an offset are in this zone (normally the computer's
    /// own, as the legacy tools assumed); times with one keep theirs.
    Assume(TimeZone),
    /// Every time is in this zone, whatever the file says (`--timezone`).
    Force(TimeZone),
}

impl ZoneRule {
    /// The legacy rule: the computer's zone (the `TZ` variable honoured).
    pub fn system() -> ZoneRule {
        ZoneRule::Assume(TimeZone::system())
    }
}

/// Reads a `--timezone` value: `UTC`, `Z`, an offset such as `+02:00`, or
/// an IANA name such as `Europe/Berlin`.
pub fn parse_zone(text: &str) -> Result<TimeZone, CaptureTimeError> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("utc") || t == "Z" {
        return Ok(TimeZone::UTC);
    }
    if t.starts_with('+') || t.starts_with('-') {
        return parse_offset(t).map(TimeZone::fixed);
    }
    TimeZone::get(t).map_err(|_| CaptureTimeError::UnknownZone(t.to_string()))
}

/// What an offset tag (OffsetTimeOriginal, OffsetTimeDigitized,
/// OffsetTime) says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetTag {
    /// A UTC offset.
    Offset(Offset),
    /// Blank (spaces and colons, as EXIF writes "unknown"), or empty.
    Unknown,
    /// Text that is not a UTC offset (`+99:99`, `garbage`).
    Invalid,
}

/// Reads an offset tag's text: a UTC offset (as [`parse_offset`] reads
/// it), the blank text EXIF uses for an unknown zone, or neither.
pub fn read_offset_tag(text: &str) -> OffsetTag {
    if text.chars().all(|c| c == ' ' || c == ':') {
        return OffsetTag::Unknown;
    }
    match parse_offset(text) {
        Ok(offset) => OffsetTag::Offset(offset),
        Err(_) => OffsetTag::Invalid,
    }
}

/// The zone a camera time was placed in when the file's own offset could
/// not be used: the computer's (the `TZ` variable honoured), at the
/// capture instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneUsed {
    /// Its IANA name, when it has one (`Europe/Berlin`).
    pub name: Option<String>,
    /// Its UTC offset at the capture instant.
    pub offset: Offset,
}

impl fmt::Display for ZoneUsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(
                f,
                "the computer's zone ({name}, {})",
                format_offset(self.offset)
            ),
            None => write!(f, "the computer's zone ({})", format_offset(self.offset)),
        }
    }
}

/// Something the user should know about a capture time that was still
/// derived: the file said something that could not be used, and what was
/// used instead. The time stands; the photo is processed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeWarning {
    /// An offset tag holds text that is not a UTC offset; the camera time
    /// was placed in `used` instead.
    InvalidOffset {
        /// The offset tag, e.g. `OffsetTimeOriginal`.
        tag: &'static str,
        /// Its text, as the file has it.
        text: String,
        /// The zone used instead.
        used: ZoneUsed,
    },
}

impl fmt::Display for TimeWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimeWarning::InvalidOffset { tag, text, used } => write!(
                f,
                "{tag} '{}' is not a UTC offset; used {used}",
                text.escape_debug()
            ),
        }
    }
}

/// A capture instant derived from a photo's tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureInstant {
    /// The instant (UTC).
    pub instant: Timestamp,
    /// The tags it came from, e.g. `DateTimeOriginal` or
    /// `GPSDateStamp/GPSTimeStamp`.
    pub source: &'static str,
    /// What the user should be told about it.
    pub warnings: Vec<TimeWarning>,
}

impl CaptureTime {
    /// The instant this camera time denotes under `rule` (see
    /// [`CaptureTime::to_timestamp`]), read from the tag `source`.
    /// `invalid_offset` is the text of its offset tag `offset_tag` when
    /// that text is not a UTC offset ([`OffsetTag::Invalid`]): when the
    /// rule's zone then stands in for it, the result carries a
    /// [`TimeWarning::InvalidOffset`] saying so. (A forced zone replaces
    /// every file offset anyway, and an offset written inside the time
    /// text itself wins over the tag: no warning then.)
    pub fn place(
        &self,
        rule: &ZoneRule,
        source: &'static str,
        offset_tag: &'static str,
        invalid_offset: Option<&str>,
    ) -> Result<CaptureInstant, CaptureTimeError> {
        let instant = self.to_timestamp(rule)?;
        let mut warnings = Vec::new();
        if let (Some(text), None, ZoneRule::Assume(zone)) = (invalid_offset, self.offset, rule) {
            warnings.push(TimeWarning::InvalidOffset {
                tag: offset_tag,
                text: text.to_string(),
                used: ZoneUsed {
                    name: zone.iana_name().map(str::to_string),
                    offset: zone.to_offset(instant),
                },
            });
        }
        Ok(CaptureInstant {
            instant,
            source,
            warnings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn damaged_text_is_an_error_not_a_panic() {
        // Found by the exif_read fuzzer: a non-ASCII byte inside the time.
        assert!(CaptureTime::from_exif("2003:06:18 16:54:\u{FFFD}7", None, None).is_err());
        assert!(CaptureTime::from_exif("2003:06:18 16:5\u{e9}:07", None, None).is_err());
        for offset in ["+a\u{20ac}", "+\u{e9}:0", "-\u{20ac}1", "+0\u{e9}00"] {
            assert!(parse_offset(offset).is_err(), "{offset}");
        }
    }
    use jiff::civil::date;

    #[test]
    fn reads_exif_triples() {
        let t = CaptureTime::from_exif("2019:06:01 12:30:05", Some("25"), Some("+02:00")).unwrap();
        assert_eq!(t.local, date(2019, 6, 1).at(12, 30, 5, 250_000_000));
        assert_eq!(t.offset, Some(Offset::from_hours(2).unwrap()));
        assert!(t.zone_known());
        assert_eq!(t.exif_date_time(), "2019:06:01 12:30:05");
        assert_eq!(t.exif_sub_sec().as_deref(), Some("250"));
        assert_eq!(t.exif_offset().as_deref(), Some("+02:00"));

        // Variants written by real software.
        let t = CaptureTime::from_exif("2012:02:11 14:17:08.253+01:00", None, None).unwrap();
        assert_eq!(t.local, date(2012, 2, 11).at(14, 17, 8, 253_000_000));
        assert_eq!(t.exif_offset().as_deref(), Some("+01:00"));
        let t = CaptureTime::from_exif("2006-10-29T06:27:51", Some("  "), Some("   :  ")).unwrap();
        assert_eq!(t.local, date(2006, 10, 29).at(6, 27, 51, 0));
        assert!(!t.zone_known());
        assert_eq!(t.exif_sub_sec(), None);
    }

    #[test]
    fn refuses_bad_times() {
        for bad in [
            "",
            "0000:00:00 00:00:00",
            "    :  :     :  :  ",
            "2019:13:01 00:00:00",
            "2019:02:30 00:00:00",
            "2019/01/01 00:00:00",
            "2019:01:01 25:00:00",
            "2019:01:01 00:00:00 garbage",
        ] {
            assert!(
                matches!(
                    CaptureTime::from_exif(bad, None, None),
                    Err(CaptureTimeError::BadDateTime(_))
                ),
                "{bad:?}"
            );
        }
        assert!(parse_offset("+25:00").is_err());
        assert!(parse_offset("02:00").is_err());
        assert_eq!(
            parse_offset("-0530").unwrap().seconds(),
            -(5 * 3600 + 30 * 60)
        );
    }

    #[test]
    fn sub_seconds_keep_their_precision() {
        let t = CaptureTime::local(date(2020, 1, 1).at(0, 0, 0, 123_456_000));
        assert_eq!(t.exif_sub_sec().as_deref(), Some("123456"));
        let t = CaptureTime::local(date(2020, 1, 1).at(0, 0, 0, 500_000_000));
        assert_eq!(t.exif_sub_sec().as_deref(), Some("500"));
    }

    #[test]
    fn zones_are_resolved_at_the_capture_instant() {
        let berlin = ZoneRule::Assume(TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3").unwrap());
        let summer = CaptureTime::local(date(2021, 7, 1).at(12, 0, 0, 0));
        let winter = CaptureTime::local(date(2021, 12, 1).at(12, 0, 0, 0));
        assert_eq!(
            summer.to_timestamp(&berlin).unwrap().to_string(),
            "2021-07-01T10:00:00Z"
        );
        assert_eq!(
            winter.to_timestamp(&berlin).unwrap().to_string(),
            "2021-12-01T11:00:00Z"
        );
        // The file's own offset wins over an assumed zone...
        let with_offset =
            CaptureTime::from_exif("2021:07:01 12:00:00", None, Some("-05:00")).unwrap();
        assert_eq!(
            with_offset.to_timestamp(&berlin).unwrap().to_string(),
            "2021-07-01T17:00:00Z"
        );
        // ...but not over a forced one.
        let forced = ZoneRule::Force(parse_zone("UTC").unwrap());
        assert_eq!(
            with_offset.to_timestamp(&forced).unwrap().to_string(),
            "2021-07-01T12:00:00Z"
        );
    }

    #[test]
    fn parses_zone_arguments() {
        assert_eq!(parse_zone("utc").unwrap(), TimeZone::UTC);
        assert_eq!(
            parse_zone("+02:00").unwrap(),
            TimeZone::fixed(Offset::from_hours(2).unwrap())
        );
        assert!(matches!(
            parse_zone("Mars/Olympus"),
            Err(CaptureTimeError::UnknownZone(_))
        ));
    }

    #[test]
    fn series_steps_without_drift() {
        let start = CaptureTime::from_exif("2020-01-01 23:59:59", None, None).unwrap();
        let times = series(&start, 0.1, 31).unwrap();
        let subs: Vec<_> = times.iter().map(|t| t.exif_sub_sec()).collect();
        assert_eq!(subs[3].as_deref(), Some("300"));
        assert_eq!(subs[10], None);
        assert_eq!(times[30].exif_date_time(), "2020:01:02 00:00:02");
        let back = series(&start, -2.0, 3).unwrap();
        assert_eq!(back[2].exif_date_time(), "2020:01:01 23:59:55");
        assert!(series(&start, f64::INFINITY, 2).is_err());
    }

    #[test]
    fn shifting_is_wall_clock_arithmetic() {
        let t = CaptureTime::local(date(2021, 3, 28).at(1, 59, 59, 0));
        assert_eq!(
            t.shifted(1.5).unwrap().local,
            date(2021, 3, 28).at(2, 0, 0, 500_000_000)
        );
        assert_eq!(
            t.shifted(-0.25).unwrap().local,
            date(2021, 3, 28).at(1, 59, 58, 750_000_000)
        );
        assert!(t.shifted(f64::NAN).is_err());
        assert!(t.shifted(1e20).is_err());
    }
}

#[cfg(test)]
mod placing_tests {
    use super::*;
    use jiff::civil::date;

    fn berlin() -> TimeZone {
        TimeZone::get("Europe/Berlin").unwrap()
    }

    #[test]
    fn offset_tags_are_offsets_unknown_or_invalid() {
        assert_eq!(
            read_offset_tag("+02:00"),
            OffsetTag::Offset(Offset::from_hours(2).unwrap())
        );
        for unknown in ["", "   :  ", "      "] {
            assert_eq!(read_offset_tag(unknown), OffsetTag::Unknown, "{unknown:?}");
        }
        for invalid in ["+99:99", "garbage", "02:00", "+2:00"] {
            assert_eq!(read_offset_tag(invalid), OffsetTag::Invalid, "{invalid:?}");
        }
    }

    #[test]
    fn an_invalid_offset_is_replaced_by_the_computer_zone_with_a_warning() {
        let t = CaptureTime::from_exif("2021:07:01 12:00:00", None, Some("+99:99")).unwrap();
        assert!(!t.zone_known());
        let rule = ZoneRule::Assume(berlin());
        for text in ["+99:99", "garbage"] {
            let placed = t
                .place(&rule, "DateTimeOriginal", "OffsetTimeOriginal", Some(text))
                .unwrap();
            assert_eq!(placed.instant.to_string(), "2021-07-01T10:00:00Z");
            assert_eq!(placed.source, "DateTimeOriginal");
            assert_eq!(placed.warnings.len(), 1);
            assert_eq!(
                placed.warnings[0].to_string(),
                format!(
                    "OffsetTimeOriginal '{text}' is not a UTC offset; used the computer's zone (Europe/Berlin, +02:00)"
                )
            );
        }
        // In winter the same zone has another offset, and says so.
        let winter = CaptureTime::local(date(2021, 12, 1).at(12, 0, 0, 0));
        let placed = winter
            .place(
                &rule,
                "DateTimeOriginal",
                "OffsetTimeOriginal",
                Some("+99:99"),
            )
            .unwrap();
        assert!(
            placed.warnings[0]
                .to_string()
                .ends_with("(Europe/Berlin, +01:00)")
        );
        // A zone without a name is shown by its offset.
        let fixed = ZoneRule::Assume(TimeZone::fixed(Offset::from_hours(-3).unwrap()));
        let placed = winter
            .place(&fixed, "DateTimeOriginal", "OffsetTimeOriginal", Some("x"))
            .unwrap();
        assert!(
            placed.warnings[0]
                .to_string()
                .ends_with("used the computer's zone (-03:00)")
        );
    }

    #[test]
    fn no_warning_when_the_invalid_offset_did_not_matter() {
        let t = CaptureTime::local(date(2021, 7, 1).at(12, 0, 0, 0));
        // No invalid offset.
        let placed = t
            .place(
                &ZoneRule::Assume(berlin()),
                "DateTimeOriginal",
                "OffsetTimeOriginal",
                None,
            )
            .unwrap();
        assert!(placed.warnings.is_empty());
        // --timezone replaces every file offset.
        let placed = t
            .place(
                &ZoneRule::Force(TimeZone::UTC),
                "DateTimeOriginal",
                "OffsetTimeOriginal",
                Some("+99:99"),
            )
            .unwrap();
        assert!(placed.warnings.is_empty());
        assert_eq!(placed.instant.to_string(), "2021-07-01T12:00:00Z");
        // An offset inside the time text wins over the tag.
        let inline = CaptureTime::from_exif("2021:07:01 12:00:00+03:00", None, None).unwrap();
        let placed = inline
            .place(
                &ZoneRule::Assume(berlin()),
                "DateTimeOriginal",
                "OffsetTimeOriginal",
                Some("+99:99"),
            )
            .unwrap();
        assert!(placed.warnings.is_empty());
        assert_eq!(placed.instant.to_string(), "2021-07-01T09:00:00Z");
    }

    #[test]
    fn control_characters_in_an_offset_are_escaped() {
        let t = CaptureTime::local(date(2021, 7, 1).at(12, 0, 0, 0));
        let placed = t
            .place(
                &ZoneRule::Assume(TimeZone::UTC),
                "OffsetTime",
                "OffsetTime",
                Some("\u{1b}[2J"),
            )
            .unwrap();
        assert!(!placed.warnings[0].to_string().contains('\u{1b}'));
    }
}
