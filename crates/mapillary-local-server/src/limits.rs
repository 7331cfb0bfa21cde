//! The limits that keep the server's memory, disk and connections bounded
//! whatever a client sends, and the limits Mapillary puts on a sequence.
//!
//! Every default here is documented in the man page and in
//! docs/local-server.md; change them together.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::time::Instant;

/// The most bytes one upload (one session key) may hold, by default:
/// 4 GiB, the largest file a camera's FAT32 card can hold, so that any
/// single video or photo fits.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 4 << 30;

/// How long a client may take to send a request's headers, by default.
/// A connection that sends nothing (an idle one, or one kept alive between
/// requests) is closed after this long too.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest pause allowed while a request body arrives, by default; it
/// is also the time a body gets before the minimum rate applies.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// The slowest average rate a body may arrive at once its first
/// [`DEFAULT_BODY_TIMEOUT`] is over, by default, in bytes per second
/// (1 KiB/s; the official client assumes at least 50 KB/s).
pub const DEFAULT_BODY_MIN_RATE: u64 = 1024;

/// How many connections are served at once, by default.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;

/// The largest JSON body (login, finish_upload, logging) read, in bytes.
pub const MAX_JSON_BODY: usize = 1 << 20;

/// The length of the queue of connections the kernel holds for the server
/// before it accepts them (the kernel may cap it at `net.core.somaxconn`).
pub const LISTEN_BACKLOG: u32 = 2048;

/// When the server is full, it closes its idle connections (no request in
/// progress) to make room, the one idle longest first; a connection idle
/// for less than this is never closed for that, so that a new client has
/// time to send its first request.
pub const SHED_AFTER_IDLE: Duration = Duration::from_millis(250);

/// How long the accept loop pauses when it cannot take a connection (no
/// file descriptor left, and no idle connection to close), instead of
/// trying again at once.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Limits on requests and connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most bytes one upload (session key) may hold; a POST that would
    /// go beyond is refused with 413 and what it sent is not kept.
    pub max_upload_bytes: u64,
    /// How long a client may take to send a request's headers; also how
    /// long a connection may stay open without a request.
    pub header_timeout: Duration,
    /// The longest pause while a body arrives, and the time a body gets
    /// before `body_min_rate` applies.
    pub body_timeout: Duration,
    /// Bytes per second a body must average after its first
    /// `body_timeout` (0: no minimum).
    pub body_min_rate: u64,
    /// Connections served at once; more wait in the kernel's queue (and
    /// idle ones are closed to make room).
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            body_min_rate: DEFAULT_BODY_MIN_RATE,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// The most images in one sequence (the official client's
/// `MAX_SEQUENCE_LENGTH`, whose comment says larger sequences "might
/// result in failed uploads").
pub const MAX_SEQUENCE_IMAGES: usize = 1000;

/// The most bytes of images in one sequence: 110 GiB (the official
/// client's `MAX_SEQUENCE_FILESIZE` of "110G", which it reads as 110 × 2³⁰
/// bytes).
pub const MAX_SEQUENCE_BYTES: u64 = 110 << 30;

/// The most pixels (the sum of width × height of its images) in one
/// sequence: 6 gigapixels (the official client's `MAX_SEQUENCE_PIXELS`).
pub const MAX_SEQUENCE_PIXELS: u64 = 6_000_000_000;

/// What one sequence may hold at `finish_upload`, as Mapillary limits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SequenceLimits {
    /// The most images.
    pub max_images: usize,
    /// The most bytes, summed over its images (or the video's size).
    pub max_bytes: u64,
    /// The most pixels, summed over its images (width × height from each
    /// JPEG's frame header).
    pub max_pixels: u64,
}

impl Default for SequenceLimits {
    fn default() -> SequenceLimits {
        SequenceLimits {
            max_images: MAX_SEQUENCE_IMAGES,
            max_bytes: MAX_SEQUENCE_BYTES,
            max_pixels: MAX_SEQUENCE_PIXELS,
        }
    }
}

/// A size such as `4GiB`, `300MB`, `500k`, `1024` (bytes). Decimal units
/// (`k`, `kB`, `M`, `MB`, `G`, `GB`) are powers of 1000, binary ones
/// (`KiB`, `MiB`, `GiB`) of 1024.
pub fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: u64 = number.parse().ok()?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(factor)
}

/// A size for people: `4 GiB`, `256 MiB`, `1.5 KiB`, `999 bytes`.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    for (unit, name) in UNITS {
        if bytes >= unit {
            let v = bytes as f64 / unit as f64;
            return if bytes.is_multiple_of(unit) {
                format!("{} {name}", bytes / unit)
            } else {
                format!("{v:.1} {name}")
            };
        }
    }
    format!("{bytes} bytes")
}

/// A duration for people: `30 s`, `250 ms`, `1.5 s`.
pub fn format_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 && d.as_secs() > 0 {
        format!("{} s", d.as_secs())
    } else if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// Why a body could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// It arrived too slowly (the message says which rule).
    TooSlow(String),
    /// The connection broke.
    Broken(String),
}

/// Reads a request body piece by piece under the body timeouts: no pause
/// longer than `body_timeout`, and after the first `body_timeout` an
/// average of at least `body_min_rate` bytes per second.
#[derive(Debug)]
pub struct BodyReader {
    body: Incoming,
    started: Instant,
    last: Instant,
    received: u64,
    pause: Duration,
    min_rate: u64,
}

impl BodyReader {
    /// Starts reading `body` now.
    pub fn new(body: Incoming, limits: &Limits) -> BodyReader {
        let now = Instant::now();
        BodyReader {
            body,
            started: now,
            last: now,
            received: 0,
            pause: limits.body_timeout,
            min_rate: limits.body_min_rate,
        }
    }

    /// Bytes read so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Starts the clock again, if nothing was read yet: the time the
    /// server itself made the client wait (for another request to the same
    /// upload) does not count against the client.
    pub fn restart_clock(&mut self) {
        if self.received == 0 {
            let now = Instant::now();
            self.started = now;
            self.last = now;
        }
    }

    fn deadline(&self) -> (Instant, bool) {
        let pause = self.last + self.pause;
        if self.min_rate == 0 {
            return (pause, true);
        }
        let allowed = Duration::from_secs_f64(self.received as f64 / self.min_rate as f64);
        let rate = self.started + self.pause + allowed;
        if pause <= rate {
            (pause, true)
        } else {
            (rate, false)
        }
    }

    /// The next piece of data; `None` at the end of the body.
    pub async fn next(&mut self) -> Result<Option<Bytes>, BodyError> {
        loop {
            let (deadline, by_pause) = self.deadline();
            let frame = match tokio::time::timeout_at(deadline, self.body.frame()).await {
                Err(_) => {
                    return Err(BodyError::TooSlow(if by_pause {
                        format!(
                            "the request body paused for more than {}",
                            format_duration(self.pause)
                        )
                    } else {
                        format!(
                            "the request body arrived slower than {}/s ({} in {})",
                            format_size(self.min_rate),
                            format_size(self.received),
                            format_duration(self.started.elapsed())
                        )
                    }));
                }
                Ok(None) => return Ok(None),
                Ok(Some(Err(e))) => return Err(BodyError::Broken(e.to_string())),
                Ok(Some(Ok(frame))) => frame,
            };
            // Trailers carry no data: read on.
            if let Ok(data) = frame.into_data() {
                self.received += data.len() as u64;
                self.last = Instant::now();
                return Ok(Some(data));
            }
        }
    }

    /// Reads and throws away the rest of the body, at most `cap` more
    /// bytes; whether the body ended. A client that sends a whole body
    /// before it reads the answer (most do) then sees a refusal instead of
    /// a connection reset.
    pub async fn drain(&mut self, cap: u64) -> bool {
        let stop = self.received.saturating_add(cap);
        while self.received <= stop {
            match self.next().await {
                Ok(Some(_)) => {}
                Ok(None) => return true,
                Err(_) => return false,
            }
        }
        false
    }

    /// The whole body, if it ends within `max` bytes: `Ok(None)` when it
    /// is longer.
    pub async fn collect(&mut self, max: usize) -> Result<Option<Vec<u8>>, BodyError> {
        let mut out = Vec::new();
        while let Some(data) = self.next().await? {
            if out.len() + data.len() > max {
                return Ok(None);
            }
            out.extend_from_slice(&data);
        }
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_and_print() {
        assert_eq!(parse_size("4GiB"), Some(4 << 30));
        assert_eq!(parse_size("300MB"), Some(300_000_000));
        assert_eq!(parse_size("256 MiB"), Some(256 << 20));
        assert_eq!(parse_size("1024"), Some(1024));
        assert_eq!(parse_size("3MiB"), Some(3 << 20));
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size("1TB"), None);
        assert_eq!(parse_size("99999999999999999999"), None);
        assert_eq!(format_size(4 << 30), "4 GiB");
        assert_eq!(format_size(110 << 30), "110 GiB");
        assert_eq!(format_size(1536), "1.5 KiB");
        assert_eq!(format_size(999), "999 bytes");
        assert_eq!(format_duration(Duration::from_secs(30)), "30 s");
        assert_eq!(format_duration(Duration::from_millis(250)), "250 ms");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5 s");
    }

    #[test]
    fn the_defaults_are_the_documented_ones() {
        let l = Limits::default();
        assert_eq!(l.max_upload_bytes, 4 * 1024 * 1024 * 1024);
        assert_eq!(l.header_timeout, Duration::from_secs(30));
        assert_eq!(
            (l.body_timeout, l.body_min_rate),
            (Duration::from_secs(30), 1024)
        );
        assert_eq!(l.max_connections, 512);
        let s = SequenceLimits::default();
        assert_eq!(s.max_images, 1000);
        assert_eq!(s.max_bytes, 110 * 1024 * 1024 * 1024);
        assert_eq!(s.max_pixels, 6_000_000_000);
    }
}
