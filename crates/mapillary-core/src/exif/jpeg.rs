//! The JPEG marker structure in front of the compressed image data.
//!
//! Everything the tools change lives in the segments between SOI and the
//! first SOS marker. From SOS on (the entropy-coded image data, any further
//! tables and scans, EOI and whatever trailer follows) the bytes are copied
//! untouched, so this module only has to understand the head of the file.

use std::fmt;
use std::io::{self, Read};

/// The JPEG start-of-image marker.
pub const SOI: u8 = 0xD8;
/// Start of scan: the compressed image data follows.
pub const SOS: u8 = 0xDA;
/// End of image.
pub const EOI: u8 = 0xD9;
/// APP0: JFIF / JFXX.
pub const APP0: u8 = 0xE0;
/// APP1: EXIF or XMP.
pub const APP1: u8 = 0xE1;

/// The identifier that starts an EXIF APP1 payload.
pub const EXIF_HEADER: &[u8; 6] = b"Exif\0\0";

/// The largest payload a marker segment can carry: its 16-bit length field
/// counts itself, so 65,535 - 2 bytes.
pub const MAX_SEGMENT_PAYLOAD: usize = 65_533;

/// One marker segment between SOI and SOS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// The marker byte (the one after 0xFF), e.g. 0xE1 for APP1.
    pub marker: u8,
    /// Offset of the segment's 0xFF in the file (after any fill bytes).
    pub start: usize,
    /// Offset of the payload (after the two length bytes).
    pub payload_start: usize,
    /// Offset one past the segment's last byte.
    pub end: usize,
}

impl Segment {
    /// The segment's payload (without marker and length).
    pub fn payload<'a>(&self, head: &'a [u8]) -> &'a [u8] {
        &head[self.payload_start..self.end]
    }

    /// Whether this is an EXIF APP1 segment.
    pub fn is_exif(&self, head: &[u8]) -> bool {
        self.marker == APP1 && self.payload(head).starts_with(EXIF_HEADER)
    }
}

/// The parsed head of a JPEG file: its segments up to the first SOS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JpegHead {
    /// Segments in file order (SOI itself is not listed).
    pub segments: Vec<Segment>,
    /// Offset of the first SOS marker's 0xFF: the image data starts here.
    pub sos_offset: usize,
}

impl JpegHead {
    /// The first EXIF APP1 segment, if any.
    pub fn exif_segment(&self, head: &[u8]) -> Option<Segment> {
        self.segments.iter().copied().find(|s| s.is_exif(head))
    }
}

/// Why a file's JPEG structure could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JpegError {
    /// The file is empty.
    Empty,
    /// The file does not start with the SOI marker.
    NotJpeg,
    /// The file ends before the image data starts.
    Truncated,
    /// A byte that should start a marker does not.
    BadMarker {
        /// Where the bad byte is.
        offset: usize,
    },
    /// A segment's length field is impossible.
    BadLength {
        /// Where the segment starts.
        offset: usize,
    },
    /// EOI came before any image data.
    NoImageData,
    /// The head is larger than any real camera file's.
    HeadTooLarge,
}

impl fmt::Display for JpegError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JpegError::Empty => write!(f, "empty file"),
            JpegError::NotJpeg => write!(f, "not a JPEG file (no SOI marker)"),
            JpegError::Truncated => write!(f, "truncated JPEG (file ends before the image data)"),
            JpegError::BadMarker { offset } => {
                write!(f, "corrupt JPEG: no marker at byte {offset}")
            }
            JpegError::BadLength { offset } => {
                write!(
                    f,
                    "corrupt JPEG: impossible segment length at byte {offset}"
                )
            }
            JpegError::NoImageData => write!(f, "corrupt JPEG: no image data before EOI"),
            JpegError::HeadTooLarge => {
                write!(f, "JPEG metadata larger than {} MiB", MAX_HEAD_LEN >> 20)
            }
        }
    }
}

impl std::error::Error for JpegError {}

/// A head that is larger than this is refused: real cameras write well under
/// a megabyte of metadata, and a bound keeps memory use predictable.
pub const MAX_HEAD_LEN: usize = 32 << 20;

/// The outcome of scanning a possibly incomplete buffer.
enum Scan {
    Done(JpegHead),
    /// The buffer must hold at least this many bytes to go on.
    NeedMore(usize),
}

fn scan(buf: &[u8]) -> Result<Scan, JpegError> {
    if buf.first().is_some_and(|&b| b != 0xFF) || buf.get(1).is_some_and(|&b| b != SOI) {
        return Err(JpegError::NotJpeg);
    }
    if buf.len() < 2 {
        return Ok(Scan::NeedMore(2));
    }
    if buf[0] != 0xFF || buf[1] != SOI {
        return Err(JpegError::NotJpeg);
    }
    let mut segments = Vec::new();
    let mut pos = 2;
    loop {
        if pos >= buf.len() {
            return Ok(Scan::NeedMore(pos + 1));
        }
        if buf[pos] != 0xFF {
            return Err(JpegError::BadMarker { offset: pos });
        }
        // Any number of 0xFF fill bytes may precede a marker.
        let mut m = pos + 1;
        while m < buf.len() && buf[m] == 0xFF {
            m += 1;
        }
        if m >= buf.len() {
            return Ok(Scan::NeedMore(m + 1));
        }
        let start = m - 1;
        let marker = buf[m];
        match marker {
            SOS => {
                return Ok(Scan::Done(JpegHead {
                    segments,
                    sos_offset: start,
                }));
            }
            EOI => return Err(JpegError::NoImageData),
            // Markers without a length field: TEM and RSTn.
            0x01 | 0xD0..=0xD7 => {
                pos = m + 1;
                continue;
            }
            0x00 => return Err(JpegError::BadMarker { offset: pos }),
            _ => {}
        }
        if m + 3 > buf.len() {
            return Ok(Scan::NeedMore(m + 3));
        }
        let len = usize::from(u16::from_be_bytes([buf[m + 1], buf[m + 2]]));
        if len < 2 {
            return Err(JpegError::BadLength { offset: start });
        }
        let end = m + 1 + len;
        if end > MAX_HEAD_LEN {
            return Err(JpegError::HeadTooLarge);
        }
        segments.push(Segment {
            marker,
            start,
            payload_start: m + 3,
            end,
        });
        pos = end;
    }
}

/// Parses the head of a JPEG held entirely in memory.
pub fn parse_head(bytes: &[u8]) -> Result<JpegHead, JpegError> {
    if bytes.is_empty() {
        return Err(JpegError::Empty);
    }
    match scan(bytes)? {
        Scan::Done(head) => Ok(head),
        Scan::NeedMore(_) => Err(JpegError::Truncated),
    }
}

/// Why the head of a file could not be read.
#[derive(Debug)]
pub enum ReadHeadError {
    /// Reading the file failed.
    Io(io::Error),
    /// The file is not a well-formed JPEG.
    Jpeg(JpegError),
}

impl fmt::Display for ReadHeadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadHeadError::Io(e) => write!(f, "{e}"),
            ReadHeadError::Jpeg(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ReadHeadError {}

/// Reads from `reader` exactly as far as the first SOS marker (plus whatever
/// the last read brought in), and parses the segments.
///
/// Returns the bytes read (at least `head.sos_offset` of them) with the
/// parsed head. Reading stops at the image data, so this costs a few
/// kilobytes per photo however large the photo is.
pub fn read_head<R: Read>(reader: &mut R) -> Result<(Vec<u8>, JpegHead), ReadHeadError> {
    const CHUNK: usize = 64 * 1024;
    let mut buf = Vec::with_capacity(CHUNK);
    let mut want = CHUNK;
    loop {
        while buf.len() < want {
            let old = buf.len();
            buf.resize(want, 0);
            let n = loop {
                match reader.read(&mut buf[old..]) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(ReadHeadError::Io(e)),
                }
            };
            buf.truncate(old + n);
            if n == 0 {
                break;
            }
        }
        let at_eof = buf.len() < want;
        match scan(&buf).map_err(ReadHeadError::Jpeg)? {
            Scan::Done(head) => return Ok((buf, head)),
            Scan::NeedMore(_) if at_eof => {
                return Err(ReadHeadError::Jpeg(if buf.is_empty() {
                    JpegError::Empty
                } else {
                    JpegError::Truncated
                }));
            }
            Scan::NeedMore(n) => {
                if n > MAX_HEAD_LEN {
                    return Err(ReadHeadError::Jpeg(JpegError::HeadTooLarge));
                }
                want = n.max(buf.len() + CHUNK);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(marker: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![0xFF, marker];
        v.extend_from_slice(&u16::try_from(payload.len() + 2).unwrap().to_be_bytes());
        v.extend_from_slice(payload);
        v
    }

    fn sample() -> Vec<u8> {
        let mut f = vec![0xFF, SOI];
        f.extend(segment(APP0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"));
        f.extend(segment(APP1, b"Exif\0\0MM\0\x2a\0\0\0\x08\0\0\0\0\0\0"));
        f.extend([0xFF, 0xFF]); // fill bytes
        f.extend(segment(0xDB, &[0; 65]));
        f.extend(segment(SOS, &[1, 2, 3]));
        f.extend([0x12, 0x34, 0xFF, 0x00, 0xFF, EOI]);
        f
    }

    #[test]
    fn parses_segments_up_to_sos() {
        let f = sample();
        let head = parse_head(&f).unwrap();
        assert_eq!(head.segments.len(), 3);
        assert_eq!(head.segments[0].marker, APP0);
        assert!(head.segments[1].is_exif(&f));
        assert_eq!(head.exif_segment(&f), Some(head.segments[1]));
        // The DQT comes after two fill bytes; its start is its own 0xFF.
        let dqt = head.segments[2];
        assert_eq!(f[dqt.start], 0xFF);
        assert_eq!(f[dqt.start + 1], 0xDB);
        assert_eq!(f[head.sos_offset + 1], SOS);
    }

    #[test]
    fn read_head_matches_parse_head_for_any_chunking() {
        let f = sample();
        let (buf, head) = read_head(&mut &f[..]).unwrap();
        assert_eq!(head, parse_head(&f).unwrap());
        assert!(buf.len() >= head.sos_offset);
    }

    #[test]
    fn rejects_broken_files() {
        assert_eq!(parse_head(b""), Err(JpegError::Empty));
        assert_eq!(parse_head(b"GIF89a"), Err(JpegError::NotJpeg));
        let f = sample();
        for cut in 2..f.len() {
            let head = parse_head(&f);
            let cut_result = parse_head(&f[..cut]);
            if cut <= head.as_ref().unwrap().sos_offset + 1 {
                assert_eq!(cut_result, Err(JpegError::Truncated), "cut at {cut}");
            }
        }
        let mut bad = sample();
        bad[2] = 0x00;
        assert_eq!(parse_head(&bad), Err(JpegError::BadMarker { offset: 2 }));
        let mut no_image = vec![0xFF, SOI];
        no_image.extend([0xFF, EOI]);
        assert_eq!(parse_head(&no_image), Err(JpegError::NoImageData));
        let mut zero_len = vec![0xFF, SOI, 0xFF, 0xE1, 0x00, 0x01];
        zero_len.extend([0; 8]);
        assert_eq!(
            parse_head(&zero_len),
            Err(JpegError::BadLength { offset: 2 })
        );
        for junk in [&b"\xFF\xD8"[..], b"\xFF\xD8\xFF", b"\xFF\xD8\xFF\xE1\x00"] {
            let err = read_head(&mut &junk[..]).unwrap_err();
            assert!(
                matches!(err, ReadHeadError::Jpeg(JpegError::Truncated)),
                "{junk:?}"
            );
        }
        assert!(matches!(
            read_head(&mut &b"\xFF"[..]).unwrap_err(),
            ReadHeadError::Jpeg(JpegError::Truncated)
        ));
        assert!(matches!(
            read_head(&mut &b""[..]).unwrap_err(),
            ReadHeadError::Jpeg(JpegError::Empty)
        ));
        assert!(matches!(
            read_head(&mut &b"<html>"[..]).unwrap_err(),
            ReadHeadError::Jpeg(JpegError::NotJpeg)
        ));
    }
}
