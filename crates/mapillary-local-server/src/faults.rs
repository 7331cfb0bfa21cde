//! Faults the server can inject, chosen per run, so that clients can be
//! tested against what the real service does on a bad day.
//!
//! Syntax of `--fault`: `WHAT[:OPTIONS][@SCOPE]`
//!
//! - WHAT: an HTTP status (`503`, `500`, `429`, ...); `drop-after=SIZE`
//!   (an upload's connection is cut once SIZE bytes of its body arrived,
//!   e.g. `3MiB`; what arrived is kept); `slow=DURATION` (each answer waits,
//!   e.g. `50ms`, `2s`).
//! - OPTIONS, comma separated: `first=N` (only the first N requests),
//!   `every=N` (every Nth request), `retry-after=S` (the header sent with a
//!   status; 429 and 503 send 1 unless told otherwise).
//! - SCOPE: `graph`, `upload`, `thumbnails` or `all` (the default).
//!
//! Examples: `503:first=1@graph`, `429:every=3,retry-after=1@upload`,
//! `drop-after=3MiB@upload`, `slow=50ms@thumbnails`, `500:every=7@thumbnails`.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The part of the API a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The graph API (login, me, images, organizations, finish_upload).
    Graph,
    /// The upload service.
    Upload,
    /// Thumbnail downloads.
    Thumbnails,
    /// Everything.
    All,
}

/// Which requests a fault hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Every request in scope.
    Always,
    /// The first N.
    First(u64),
    /// Every Nth.
    Every(u64),
}

/// What a fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Answer with this status (a graph-style error body).
    Status {
        /// The status.
        code: u16,
        /// The `Retry-After` header, in seconds.
        retry_after: Option<u64>,
    },
    /// Cut an upload's connection after this many bytes of its body.
    DropAfter(u64),
    /// Wait before answering.
    Slow(Duration),
}

/// One fault rule.
#[derive(Debug)]
pub struct Fault {
    /// What it does.
    pub action: Action,
    /// Which requests.
    pub when: When,
    /// Where.
    pub scope: Scope,
    seen: AtomicU64,
    fired: AtomicU64,
}

impl Clone for Fault {
    fn clone(&self) -> Self {
        Fault::new(self.action, self.when, self.scope)
    }
}

impl PartialEq for Fault {
    fn eq(&self, other: &Self) -> bool {
        self.action == other.action && self.when == other.when && self.scope == other.scope
    }
}

impl Fault {
    /// A fault rule.
    pub fn new(action: Action, when: When, scope: Scope) -> Fault {
        Fault {
            action,
            when,
            scope,
            seen: AtomicU64::new(0),
            fired: AtomicU64::new(0),
        }
    }

    /// Counts a request in `scope` and says whether the fault hits it.
    pub fn hits(&self, scope: Scope) -> bool {
        if self.scope != Scope::All && self.scope != scope {
            return false;
        }
        let n = self.seen.fetch_add(1, Ordering::SeqCst) + 1;
        let hit = match self.when {
            When::Always => true,
            When::First(k) => n <= k,
            When::Every(k) => k > 0 && n.is_multiple_of(k),
        };
        if hit {
            self.fired.fetch_add(1, Ordering::SeqCst);
        }
        hit
    }

    /// How often it fired.
    pub fn fired(&self) -> u64 {
        self.fired.load(Ordering::SeqCst)
    }
}

/// A duration such as `50ms`, `2s`, `1.5s`.
pub fn duration(text: &str) -> Option<Duration> {
    let t = text.trim();
    let (number, factor) = if let Some(n) = t.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else {
        (t, 1.0)
    };
    let v: f64 = number.parse().ok()?;
    (v.is_finite() && v >= 0.0).then(|| Duration::from_secs_f64(v * factor))
}

/// Why a `--fault` value could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultSyntax(pub String);

impl fmt::Display for FaultSyntax {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "bad fault '{}': use WHAT[:first=N|every=N|retry-after=S][@graph|upload|thumbnails|all], WHAT being a status (503), drop-after=SIZE or slow=DURATION",
            self.0
        )
    }
}

impl std::error::Error for FaultSyntax {}

/// Reads one `--fault` value.
pub fn parse(spec: &str) -> Result<Fault, FaultSyntax> {
    let bad = || FaultSyntax(spec.to_string());
    let (rest, scope) = match spec.rsplit_once('@') {
        Some((r, s)) => (
            r,
            match s.trim() {
                "graph" => Scope::Graph,
                "upload" | "uploads" => Scope::Upload,
                "thumbnails" | "thumbs" => Scope::Thumbnails,
                "all" => Scope::All,
                _ => return Err(bad()),
            },
        ),
        None => (spec, Scope::All),
    };
    let (head, options) = rest.split_once(':').unwrap_or((rest, ""));
    let mut when = When::Always;
    let mut retry_after = None;
    for option in options.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        let (k, v) = option.split_once('=').ok_or_else(bad)?;
        let n: u64 = v.trim().parse().map_err(|_| bad())?;
        match k.trim() {
            "first" => when = When::First(n),
            "every" if n > 0 => when = When::Every(n),
            "retry-after" => retry_after = Some(n),
            _ => return Err(bad()),
        }
    }
    let head = head.trim();
    let action = if let Ok(code) = head.parse::<u16>() {
        if !(400..=599).contains(&code) {
            return Err(bad());
        }
        let default_wait = matches!(code, 429 | 503).then_some(1);
        Action::Status {
            code,
            retry_after: retry_after.or(default_wait),
        }
    } else if let Some(v) = head.strip_prefix("drop-after=") {
        Action::DropAfter(
            crate::limits::parse_size(v)
                .filter(|n| *n > 0)
                .ok_or_else(bad)?,
        )
    } else if let Some(v) = head.strip_prefix("slow=") {
        Action::Slow(duration(v).ok_or_else(bad)?)
    } else {
        return Err(bad());
    };
    Ok(Fault::new(action, when, scope))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_examples() {
        let f = parse("503:first=1@graph").unwrap();
        assert_eq!(
            f.action,
            Action::Status {
                code: 503,
                retry_after: Some(1)
            }
        );
        assert_eq!((f.when, f.scope), (When::First(1), Scope::Graph));
        let f = parse("429:every=3,retry-after=2@upload").unwrap();
        assert_eq!(
            f.action,
            Action::Status {
                code: 429,
                retry_after: Some(2)
            }
        );
        assert_eq!(f.when, When::Every(3));
        assert_eq!(
            parse("drop-after=3MiB@upload").unwrap().action,
            Action::DropAfter(3 << 20)
        );
        assert_eq!(
            parse("slow=50ms@thumbnails").unwrap().action,
            Action::Slow(Duration::from_millis(50))
        );
        let f = parse("500:every=7@thumbnails").unwrap();
        assert_eq!(
            f.action,
            Action::Status {
                code: 500,
                retry_after: None
            }
        );
        assert_eq!(parse("500").unwrap().scope, Scope::All);
        for bad in [
            "",
            "200",
            "503@moon",
            "drop-after=lots",
            "503:every=0",
            "slow=-1s",
            "teapot",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn counts_requests_in_scope() {
        let first = parse("503:first=2@graph").unwrap();
        let hits: Vec<bool> = (0..4).map(|_| first.hits(Scope::Graph)).collect();
        assert_eq!(hits, [true, true, false, false]);
        assert!(!first.hits(Scope::Upload));
        let every = parse("500:every=3").unwrap();
        let hits: Vec<bool> = (0..6).map(|_| every.hits(Scope::Thumbnails)).collect();
        assert_eq!(hits, [false, false, true, false, false, true]);
        assert_eq!(every.fired(), 2);
    }
}
