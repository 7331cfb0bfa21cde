//! The resumable upload service: `GET {upload}/<session key>` tells how many
//! bytes the server holds; `POST {upload}/<session key>` with `Offset: N`
//! sends the rest, streamed; the answer names a file handle.
//!
//! An interrupted upload (dropped connection, killed run) resumes from the
//! server's offset, so no byte is sent twice when it can be helped.

use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde_json::Value;

use super::retry::{Answer, NoAnswer, RetryPolicy, Verdict, pause, verdict, wait_text};
use super::transport::{
    SMALL_REQUEST_DEADLINE, agent_for_uploads, check_url, no_answer, read_answer,
};
use super::{ApiError, error_message, is_token_error};
use crate::auth::Secret;

/// Something that can be uploaded: a known number of bytes that can be
/// read again from any offset (a file, or a photo with a new description
/// in front of its image data).
pub trait Upload: Sync {
    /// The session key naming it on the server.
    fn session_key(&self) -> &str;
    /// Its length in bytes.
    fn len(&self) -> u64;
    /// Whether it is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// A reader of its bytes from `offset` to the end.
    fn open_at(&self, offset: u64) -> io::Result<Box<dyn Read + Send + '_>>;
    /// The MIME type sent as `X-Entity-Type`.
    fn entity_type(&self) -> &str;
}

/// Bytes held in memory (a manifest).
#[derive(Debug, Clone)]
pub struct BytesUpload {
    /// The session key.
    pub key: String,
    /// The bytes.
    pub bytes: Vec<u8>,
    /// The MIME type.
    pub entity_type: &'static str,
}

impl Upload for BytesUpload {
    fn session_key(&self) -> &str {
        &self.key
    }
    fn len(&self) -> u64 {
        self.bytes.len() as u64
    }
    fn open_at(&self, offset: u64) -> io::Result<Box<dyn Read + Send + '_>> {
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.bytes.len());
        Ok(Box::new(&self.bytes[start..]))
    }
    fn entity_type(&self) -> &str {
        self.entity_type
    }
}

/// Counts the bytes read through it (into this upload's counter and the
/// run's), and fails the read when the run is stopped, which ends the
/// request at once.
struct Counted<'a> {
    inner: Box<dyn Read + Send + 'a>,
    mine: &'a AtomicU64,
    sent: &'a AtomicU64,
    stop: Option<&'a AtomicBool>,
}

impl Read for Counted<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.stop.is_some_and(|s| s.load(Ordering::SeqCst)) {
            return Err(io::Error::other("stopped by the user"));
        }
        let n = self.inner.read(buf)?;
        self.mine.fetch_add(n as u64, Ordering::Relaxed);
        self.sent.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Moves this upload's share of the run's byte count to `offset`: bytes
/// counted beyond what the server kept are taken back, bytes the server
/// held from an earlier run are added.
fn rebase(sent: &AtomicU64, mine: &AtomicU64, offset: u64) {
    let counted = mine.swap(offset, Ordering::Relaxed);
    if offset >= counted {
        sent.fetch_add(offset - counted, Ordering::Relaxed);
    } else {
        sent.fetch_sub(counted - offset, Ordering::Relaxed);
    }
}

/// A client of the upload service.
#[derive(Clone)]
pub struct UploadService {
    agent: ureq::Agent,
    endpoint: String,
    token: Secret,
    policy: RetryPolicy,
    stop: Option<&'static AtomicBool>,
}

impl std::fmt::Debug for UploadService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadService")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// The default number of failed attempts after which one upload gives up,
/// whether or not they made progress: 200, as the official client
/// (`MAPILLARY_TOOLS_MAX_UPLOAD_RETRIES`).
pub const DEFAULT_MAX_RETRIES: u32 = 200;

/// Failed attempts in a row after which an upload gives up when the server
/// has confirmed no new byte in any of them (its offset did not move).
///
/// Progress is what the server says it holds, not what was sent: a service
/// that reads part of each request and keeps nothing would otherwise be
/// fed forever (the official client resets its count whenever a chunk is
/// sent, so it never gives up on one). Ten attempts, with the waits between
/// them doubling from the second on (1, 1, 2, 4 … 64, then 120 s; see
/// [`UploadService::upload`]), ride out about four minutes of outage; the
/// next run resumes from the server's offset anyway.
pub const MAX_ATTEMPTS_WITHOUT_PROGRESS: u32 = 10;

/// The slowest upload speed a POST is given time for, in bytes per second
/// (the official client's `MAPILLARY_TOOLS_MIN_UPLOAD_SPEED` default,
/// 50 KiB/s): a POST of N bytes ends within 60 s + N / 50 KiB.
pub const MIN_UPLOAD_SPEED: u64 = 50 << 10;

/// The overall limit of failed attempts per upload: the value of
/// `MAPILLARY_TOOLS_MAX_UPLOAD_RETRIES` (a whole number, at least 1), or
/// [`DEFAULT_MAX_RETRIES`].
pub fn max_retries(env: &crate::auth::Environment) -> Result<u32, String> {
    match env.get("MAPILLARY_TOOLS_MAX_UPLOAD_RETRIES") {
        None => Ok(DEFAULT_MAX_RETRIES),
        Some(v) => v.trim().parse::<u32>().ok().filter(|n| *n >= 1).ok_or_else(|| {
            format!(
                "MAPILLARY_TOOLS_MAX_UPLOAD_RETRIES must be a whole number of at least 1, not '{v}'"
            )
        }),
    }
}

/// What ended a failed attempt.
#[derive(Debug)]
enum Problem {
    /// A retriable HTTP answer.
    Http { status: u16, message: String },
    /// The connection failed or broke.
    Network(String),
    /// A deadline passed.
    TimedOut(String),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Http { status, message } => write!(f, "HTTP {status} ({message})"),
            Problem::Network(r) | Problem::TimedOut(r) => f.write_str(r),
        }
    }
}

/// The wait before the next attempt after `stalled` failed attempts in a
/// row without confirmed progress: what the protocol asks for this failure
/// (`asked`: `Retry-After`, 0 for a retriable 412, the first network
/// backoff for a broken connection), and from the second such attempt on
/// at least the network backoff, doubling each time (1, 2, 4 … s with the
/// default policy), never more than `max_wait`.
fn stall_wait(asked: Duration, stalled: u32, policy: &RetryPolicy) -> Duration {
    let growth = if stalled >= 2 {
        policy
            .network_backoff
            .saturating_mul(1u32 << (stalled - 2).min(20))
    } else {
        Duration::ZERO
    };
    asked.max(growth).min(policy.max_wait)
}

impl UploadService {
    /// A client of the service at `endpoint`, uploading as `token`'s user.
    pub fn new(endpoint: &str, token: Secret) -> UploadService {
        UploadService {
            agent: agent_for_uploads(),
            endpoint: endpoint.trim_end_matches('/').to_string(),
            token,
            policy: RetryPolicy {
                max_attempts: DEFAULT_MAX_RETRIES,
                ..RetryPolicy::default()
            },
            stop: None,
        }
    }

    /// Use this retry policy (`max_attempts`: the overall limit of failed
    /// attempts per upload).
    pub fn with_policy(mut self, policy: RetryPolicy) -> UploadService {
        self.policy = policy;
        self
    }

    /// Give up on one upload after `n` failed attempts in all.
    pub fn with_max_retries(mut self, n: u32) -> UploadService {
        self.policy.max_attempts = n.max(1);
        self
    }

    /// Stop when `stop` becomes true.
    pub fn with_stop(mut self, stop: &'static AtomicBool) -> UploadService {
        self.stop = Some(stop);
        self
    }

    fn url(&self, key: &str) -> String {
        format!("{}/{key}", self.endpoint)
    }

    fn auth(&self) -> String {
        format!("OAuth {}", self.token.expose())
    }

    fn answer(
        &self,
        result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
        deadline: Duration,
    ) -> Result<Answer, NoAnswer> {
        let server = self.endpoint.as_str();
        let answer = result
            .map_err(|e| no_answer(e, server, Some(deadline)))
            .and_then(|r| read_answer(r, server, Some(deadline)))
            .map_err(|e| e.redacted(&self.token))?;
        Ok(Answer {
            body: self.token.redact(&answer.body),
            ..answer
        })
    }

    /// How many bytes of `key` the server holds (one request, no retry).
    fn offset_once(&self, key: &str) -> Result<Answer, NoAnswer> {
        let deadline = SMALL_REQUEST_DEADLINE;
        self.answer(
            self.agent
                .get(self.url(key))
                .config()
                .timeout_global(Some(deadline))
                .build()
                .header("Authorization", self.auth())
                .call(),
            deadline,
        )
    }

    /// Sends `upload` from `offset` (one request, no retry).
    fn post_once(
        &self,
        upload: &dyn Upload,
        offset: u64,
        mine: &AtomicU64,
        sent: &AtomicU64,
    ) -> Result<Answer, NoAnswer> {
        let reader = upload.open_at(offset).map_err(|e| {
            NoAnswer::Final(ApiError::BadAnswer(format!("reading the upload: {e}")))
        })?;
        let mut counted = Counted {
            inner: reader,
            mine,
            sent,
            stop: self.stop,
        };
        let left = upload.len().saturating_sub(offset);
        let deadline = SMALL_REQUEST_DEADLINE + Duration::from_secs(left / MIN_UPLOAD_SPEED);
        let result = self
            .agent
            .post(self.url(upload.session_key()))
            .config()
            .timeout_global(Some(deadline))
            .build()
            .header("Authorization", self.auth())
            .header("Offset", offset.to_string())
            .header("X-Entity-Name", upload.session_key())
            // A fixed length rather than chunks (the protocol allows both):
            // the server then reads the body in large pieces.
            .header("Content-Length", left.to_string())
            .header("X-Entity-Length", upload.len().to_string())
            .header("X-Entity-Type", upload.entity_type())
            .send(ureq::SendBody::from_reader(&mut counted));
        self.answer(result, deadline)
    }

    fn fail(&self, answer: &Answer) -> ApiError {
        let message = error_message(&answer.body);
        if is_token_error(answer.status, &answer.body) {
            ApiError::TokenRejected { message }
        } else {
            ApiError::Refused {
                status: answer.status,
                message,
            }
        }
    }

    /// The error when an upload gives up after `attempts` failed attempts,
    /// the last ended by `last`; `reached` says whether the server took
    /// bytes of the upload in those attempts.
    fn give_up(&self, key: &str, last: Problem, attempts: u32, reached: bool) -> ApiError {
        let server = self.endpoint.clone();
        match last {
            Problem::Http { status, message } => ApiError::ServerFailing {
                status,
                message,
                attempts,
            },
            last if reached => ApiError::NoProgress {
                server,
                key: key.to_string(),
                attempts,
                last: last.to_string(),
            },
            Problem::Network(reason) => ApiError::Unreachable {
                server,
                reason: format!("{reason}; gave up after {attempts} attempts"),
            },
            Problem::TimedOut(what) => ApiError::TimedOut {
                server,
                what,
                attempts,
            },
        }
    }

    /// Uploads `upload`, resuming from what the server already holds, and
    /// returns its file handle. `sent` counts the bytes sent (it is wound
    /// back when the server turns out to hold fewer, so a progress display
    /// stays true); `notify` hears about each retry.
    ///
    /// Each attempt asks the server for its offset, then sends the rest.
    /// An attempt has made progress when the server's next offset is larger
    /// than the largest it reported before; a broken connection that made
    /// progress is resumed at once. The upload gives up after
    /// [`MAX_ATTEMPTS_WITHOUT_PROGRESS`] failed attempts in a row without
    /// progress, and after the policy's `max_attempts` failed attempts in
    /// all. Between attempts without progress it waits what the protocol
    /// asks, and from the second one on at least the policy's network
    /// backoff, doubling each time (see [`MAX_ATTEMPTS_WITHOUT_PROGRESS`]).
    pub fn upload(
        &self,
        upload: &dyn Upload,
        sent: &AtomicU64,
        notify: &dyn Fn(&str),
    ) -> Result<String, ApiError> {
        check_url(
            &self.endpoint,
            "the upload endpoint (MAPILLARY_UPLOAD_ENDPOINT)",
        )?;
        let key = upload.session_key();
        let total = upload.len();
        let stopped = || self.stop.is_some_and(|s| s.load(Ordering::SeqCst));
        // The largest offset the server has reported.
        let mut confirmed: Option<u64> = None;
        let mut count = Attempts::default();
        // A POST that failed just before this offset request, with the wait
        // the protocol asks for its failure: whether it counts as progress
        // is known only from the new offset.
        let mut failed_post: Option<(Problem, Duration)> = None;
        let mine = AtomicU64::new(0);
        loop {
            if stopped() {
                return Err(ApiError::Interrupted);
            }
            // Where to start: what the server holds.
            let offset = match self.offset_once(key) {
                Ok(a) if a.is_success() => offset_from(&a.body).ok_or_else(|| {
                    ApiError::BadAnswer(format!("no offset in {}", error_message(&a.body)))
                })?,
                Ok(a) => match verdict(&a, &self.policy) {
                    Verdict::Accept => return Err(self.fail(&a)),
                    Verdict::RetryAfter(wait) => {
                        failed_post = None;
                        let problem = Problem::Http {
                            status: a.status,
                            message: error_message(&a.body),
                        };
                        self.failed(&mut count, key, problem, wait, notify)?;
                        continue;
                    }
                },
                Err(NoAnswer::Final(e)) => return Err(e),
                Err(_) if stopped() => return Err(ApiError::Interrupted),
                Err(NoAnswer::Network(reason)) => {
                    failed_post = None;
                    let problem = Problem::Network(reason);
                    self.failed(
                        &mut count,
                        key,
                        problem,
                        self.policy.network_backoff,
                        notify,
                    )?;
                    continue;
                }
                Err(NoAnswer::TimedOut(what)) => {
                    failed_post = None;
                    let problem = Problem::TimedOut(what);
                    self.failed(
                        &mut count,
                        key,
                        problem,
                        self.policy.network_backoff,
                        notify,
                    )?;
                    continue;
                }
            };
            if offset > total {
                return Err(ApiError::BadAnswer(format!(
                    "the server holds {offset} bytes of {key}, more than its {total}"
                )));
            }
            let progressed = confirmed.is_some_and(|c| offset > c);
            confirmed = Some(confirmed.map_or(offset, |c| c.max(offset)));
            if progressed {
                count.stalled = 0;
                count.reached = false;
            }
            if let Some((problem, asked)) = failed_post.take() {
                if progressed {
                    count.failures += 1;
                    if count.failures >= self.policy.max_attempts.max(1) {
                        return Err(self.give_up(key, problem, count.failures, false));
                    }
                    notify(&format!("{key}: {problem}; resuming"));
                } else {
                    self.failed(&mut count, key, problem, asked, notify)?;
                }
            }
            rebase(sent, &mine, offset);
            let outcome = self.post_once(upload, offset, &mine, sent);
            if mine.load(Ordering::Relaxed) > offset {
                count.reached = true;
            }
            match outcome {
                Ok(a) if a.is_success() => {
                    return file_handle_from(&a.body).ok_or_else(|| {
                        ApiError::BadAnswer(format!(
                            "no file handle for {key}: {}",
                            error_message(&a.body)
                        ))
                    });
                }
                Ok(a) => match verdict(&a, &self.policy) {
                    Verdict::Accept => return Err(self.fail(&a)),
                    Verdict::RetryAfter(wait) => {
                        let problem = Problem::Http {
                            status: a.status,
                            message: error_message(&a.body),
                        };
                        failed_post = Some((problem, wait));
                    }
                },
                Err(NoAnswer::Final(e)) => return Err(e),
                Err(_) if stopped() => return Err(ApiError::Interrupted),
                Err(NoAnswer::Network(reason)) => {
                    failed_post = Some((Problem::Network(reason), self.policy.network_backoff));
                }
                Err(NoAnswer::TimedOut(what)) => {
                    failed_post = Some((Problem::TimedOut(what), self.policy.network_backoff));
                }
            }
        }
    }

    /// Counts a failed attempt without confirmed progress; gives up when a
    /// limit is reached, else waits before the next attempt (see
    /// [`stall_wait`]).
    fn failed(
        &self,
        count: &mut Attempts,
        key: &str,
        problem: Problem,
        asked: Duration,
        notify: &dyn Fn(&str),
    ) -> Result<(), ApiError> {
        count.failures += 1;
        count.stalled += 1;
        if count.stalled >= MAX_ATTEMPTS_WITHOUT_PROGRESS {
            return Err(self.give_up(key, problem, count.stalled, count.reached));
        }
        if count.failures >= self.policy.max_attempts.max(1) {
            return Err(self.give_up(key, problem, count.failures, count.reached));
        }
        let wait = stall_wait(asked, count.stalled, &self.policy);
        // A wrong offset retried at once is routine, not news.
        if !wait.is_zero() || !matches!(problem, Problem::Http { status: 412, .. }) {
            notify(&format!(
                "{key}: {problem}; retrying in {}",
                wait_text(wait)
            ));
        }
        pause(wait, self.stop)
    }
}

/// The failed attempts of one upload.
#[derive(Debug, Default)]
struct Attempts {
    /// In all.
    failures: u32,
    /// In a row, since the server last confirmed new bytes.
    stalled: u32,
    /// Whether a POST among those `stalled` took bytes from us (the server
    /// was reached, and kept nothing).
    reached: bool,
}

/// The offset in an offset answer (`{"offset": N}`).
pub fn offset_from(body: &str) -> Option<u64> {
    serde_json::from_str::<Value>(body)
        .ok()?
        .get("offset")
        .and_then(Value::as_u64)
}

/// The file handle in an upload answer (`{"h": "..."}`).
pub fn file_handle_from(body: &str) -> Option<String> {
    match serde_json::from_str::<Value>(body).ok()?.get("h")? {
        Value::String(h) if !h.is_empty() => Some(h.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::api::test_server::{Request, TestServer};

    fn photo(len: usize) -> BytesUpload {
        BytesUpload {
            key: "mly_tools_0123456789abcdef0123456789abcdef.jpg".to_string(),
            bytes: (0..len).map(|i| (i % 251) as u8).collect(),
            entity_type: "image/jpeg",
        }
    }

    /// Waits of a millisecond or so, so that ten attempts take little time.
    fn quick(service: UploadService) -> UploadService {
        service.with_policy(RetryPolicy {
            max_attempts: DEFAULT_MAX_RETRIES,
            default_backoff: Duration::from_millis(1),
            network_backoff: Duration::from_millis(1),
            max_wait: Duration::from_secs(1),
        })
    }

    fn offset_of(r: &Request) -> u64 {
        r.header("offset").and_then(|v| v.parse().ok()).unwrap_or(0)
    }

    /// The waits announced, in milliseconds.
    fn waits(heard: &[String]) -> Vec<f64> {
        heard
            .iter()
            .filter_map(|m| m.split("retrying in ").nth(1))
            .filter_map(|w| match w.strip_suffix(" ms") {
                Some(ms) => ms.parse().ok(),
                None => w
                    .strip_suffix(" s")?
                    .parse::<f64>()
                    .ok()
                    .map(|s| s * 1000.0),
            })
            .collect()
    }

    #[test]
    fn a_service_that_keeps_nothing_is_given_up_on_after_the_bound() {
        // Reads part of each POST, drops the connection, keeps nothing: its
        // offset is always 0.
        let posts = Arc::new(AtomicUsize::new(0));
        let counted = posts.clone();
        let server = TestServer::start(move |r| match r.method.as_str() {
            "GET" => r.answer(200, r#"{"offset": 0}"#),
            _ => {
                counted.fetch_add(1, Ordering::SeqCst);
                let _ = r.read_body(4096);
                // Dropping the request closes the connection.
            }
        });
        let heard = Mutex::new(Vec::new());
        let notify = |m: &str| heard.lock().unwrap().push(m.to_string());
        let service = quick(UploadService::new(&server.url(), Secret::new("tok")));
        let err = service
            .upload(&photo(200_000), &AtomicU64::new(0), &notify)
            .unwrap_err();
        assert_eq!(
            posts.load(Ordering::SeqCst),
            MAX_ATTEMPTS_WITHOUT_PROGRESS as usize
        );
        assert!(
            matches!(err, ApiError::NoProgress { attempts, .. } if attempts == MAX_ATTEMPTS_WITHOUT_PROGRESS),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(
            message.starts_with(&format!(
                "{} kept none of the bytes of mly_tools_0123456789abcdef0123456789abcdef.jpg sent in 10 attempts in a row (last: ",
                server.url()
            )),
            "{message}"
        );
        assert!(
            message.ends_with("); gave up; try again later"),
            "{message}"
        );
        // The waits grow: 1, 1, 2, 4 … ms.
        let w = waits(&heard.lock().unwrap());
        assert_eq!(w.len(), MAX_ATTEMPTS_WITHOUT_PROGRESS as usize - 1, "{w:?}");
        assert!(w.windows(2).skip(1).all(|p| p[1] > p[0]), "{w:?}");
    }

    #[test]
    fn a_retriable_412_forever_is_named_as_such_and_bounded() {
        let posts = Arc::new(AtomicUsize::new(0));
        let counted = posts.clone();
        let server = TestServer::start(move |r| match r.method.as_str() {
            "GET" => r.answer(200, r#"{"offset": 0}"#),
            _ => {
                counted.fetch_add(1, Ordering::SeqCst);
                let _ = r.read_whole_body();
                r.answer(
                    412,
                    r#"{"debug_info":{"retriable":true,"message":"offset mismatch"}}"#,
                );
            }
        });
        let service = quick(UploadService::new(&server.url(), Secret::new("tok")));
        let err = service
            .upload(&photo(10_000), &AtomicU64::new(0), &|_| {})
            .unwrap_err();
        assert_eq!(posts.load(Ordering::SeqCst), 10);
        assert_eq!(
            err.to_string(),
            "the server kept failing (HTTP 412: offset mismatch) after 10 attempts; try again later"
        );
    }

    /// A server that keeps the first `per_post` bytes of each POST, then
    /// drops it; answers a handle once it holds everything.
    fn keeping_server(per_post: usize) -> (TestServer, Arc<AtomicUsize>) {
        let held = Arc::new(Mutex::new(0u64));
        let posts = Arc::new(AtomicUsize::new(0));
        let counted = posts.clone();
        let server = TestServer::start(move |r| {
            if r.method == "GET" {
                let n = *held.lock().unwrap();
                r.answer(200, &format!("{{\"offset\": {n}}}"));
                return;
            }
            counted.fetch_add(1, Ordering::SeqCst);
            let total: u64 = r
                .header("x-entity-length")
                .and_then(|v| v.parse().ok())
                .unwrap();
            if offset_of(r) != *held.lock().unwrap() {
                r.answer(
                    412,
                    r#"{"debug_info":{"retriable":true,"message":"offset"}}"#,
                );
                return;
            }
            let got = r.read_body(per_post).len() as u64;
            let mut h = held.lock().unwrap();
            *h += got;
            if *h == total {
                r.answer(200, r#"{"h": "handle-1"}"#);
            }
        });
        (server, posts)
    }

    #[test]
    fn confirmed_progress_keeps_an_upload_going() {
        // 25 POSTs, each cut after 1,000 bytes the server keeps.
        let (server, posts) = keeping_server(1000);
        let heard = Mutex::new(Vec::new());
        let notify = |m: &str| heard.lock().unwrap().push(m.to_string());
        let service = quick(UploadService::new(&server.url(), Secret::new("tok")));
        let sent = AtomicU64::new(0);
        let h = service.upload(&photo(25_000), &sent, &notify).unwrap();
        assert_eq!(h, "handle-1");
        assert_eq!(posts.load(Ordering::SeqCst), 25);
        assert_eq!(sent.load(Ordering::SeqCst), 25_000);
        let heard = heard.lock().unwrap();
        assert!(heard.iter().all(|m| m.ends_with("; resuming")), "{heard:?}");
    }

    #[test]
    fn the_overall_limit_holds_even_with_progress() {
        let (server, posts) = keeping_server(1000);
        let service =
            quick(UploadService::new(&server.url(), Secret::new("tok"))).with_max_retries(5);
        let err = service
            .upload(&photo(25_000), &AtomicU64::new(0), &|_| {})
            .unwrap_err();
        assert_eq!(posts.load(Ordering::SeqCst), 5);
        assert!(
            err.to_string().contains("gave up after 5 attempts"),
            "{err}"
        );
    }

    #[test]
    fn no_server_is_cannot_reach_after_the_bound() {
        // A port nothing listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let service = quick(UploadService::new(
            &format!("http://127.0.0.1:{port}"),
            Secret::new("tok"),
        ));
        let err = service
            .upload(&photo(100), &AtomicU64::new(0), &|_| {})
            .unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with(&format!("cannot reach http://127.0.0.1:{port} (")),
            "{message}"
        );
        assert!(message.contains("gave up after 10 attempts"), "{message}");
    }

    #[test]
    fn an_endpoint_of_another_scheme_is_refused_before_sending() {
        let service = UploadService::new("ftp://uploads.example/x", Secret::new("tok"));
        let err = service
            .upload(&photo(100), &AtomicU64::new(0), &|_| {})
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the upload endpoint (MAPILLARY_UPLOAD_ENDPOINT) has the URL scheme 'ftp'; only http and https are supported"
        );
    }

    #[test]
    fn the_limit_of_retries_comes_from_the_variable() {
        use crate::auth::Environment;
        let env = |v: &str| Environment::with(&[("MAPILLARY_TOOLS_MAX_UPLOAD_RETRIES", v)], None);
        assert_eq!(max_retries(&Environment::with(&[], None)), Ok(200));
        assert_eq!(max_retries(&env("7")), Ok(7));
        assert_eq!(
            max_retries(&env("-1")),
            Err(
                "MAPILLARY_TOOLS_MAX_UPLOAD_RETRIES must be a whole number of at least 1, not '-1'"
                    .to_string()
            )
        );
        assert!(max_retries(&env("0")).is_err());
    }

    #[test]
    fn waits_grow_from_the_second_attempt_without_progress() {
        let p = RetryPolicy::default();
        let network = p.network_backoff;
        let w: Vec<u64> = (1..=10)
            .map(|n| stall_wait(network, n, &p).as_secs())
            .collect();
        assert_eq!(w, [1, 1, 2, 4, 8, 16, 32, 64, 120, 120]);
        // A retriable 412 is retried at once the first time only.
        assert_eq!(stall_wait(Duration::ZERO, 1, &p), Duration::ZERO);
        assert_eq!(stall_wait(Duration::ZERO, 3, &p), Duration::from_secs(2));
        // A longer Retry-After is honoured.
        assert_eq!(
            stall_wait(Duration::from_secs(30), 2, &p),
            Duration::from_secs(30)
        );
    }
}
