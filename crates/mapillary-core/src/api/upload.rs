//! The resumable upload service: `GET {upload}/<session key>` tells how many
//! bytes the server holds; `POST {upload}/<session key>` with `Offset: N`
//! sends the rest, streamed; the answer names a file handle.
//!
//! An interrupted upload (dropped connection, killed run) resumes from the
//! server's offset, so no byte is sent twice when it can be helped.

use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use serde_json::Value;

use super::graph::{agent_for_uploads, read_answer};
use super::retry::{Answer, RetryPolicy, Verdict, pause, verdict};
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

/// The default number of upload attempts, as the official client
/// (`MAPILLARY_TOOLS_MAX_UPLOAD_RETRIES`).
pub const DEFAULT_MAX_RETRIES: u32 = 200;

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

    /// Use this retry policy.
    pub fn with_policy(mut self, policy: RetryPolicy) -> UploadService {
        self.policy = policy;
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
    ) -> Result<Answer, String> {
        let answer = result
            .map_err(|e| self.token.redact(&e.to_string()))
            .and_then(read_answer)?;
        Ok(Answer {
            body: self.token.redact(&answer.body),
            ..answer
        })
    }

    /// How many bytes of `key` the server holds (one request, no retry).
    fn offset_once(&self, key: &str) -> Result<Answer, String> {
        self.answer(
            self.agent
                .get(self.url(key))
                .header("Authorization", self.auth())
                .call(),
        )
    }

    /// Sends `upload` from `offset` (one request, no retry).
    fn post_once(
        &self,
        upload: &dyn Upload,
        offset: u64,
        mine: &AtomicU64,
        sent: &AtomicU64,
    ) -> Result<Answer, String> {
        let reader = upload
            .open_at(offset)
            .map_err(|e| format!("reading: {e}"))?;
        let mut counted = Counted {
            inner: reader,
            mine,
            sent,
            stop: self.stop,
        };
        let result = self
            .agent
            .post(self.url(upload.session_key()))
            .header("Authorization", self.auth())
            .header("Offset", offset.to_string())
            .header("X-Entity-Name", upload.session_key())
            // A fixed length rather than chunks (the protocol allows both):
            // the server then reads the body in large pieces.
            .header(
                "Content-Length",
                upload.len().saturating_sub(offset).to_string(),
            )
            .header("X-Entity-Length", upload.len().to_string())
            .header("X-Entity-Type", upload.entity_type())
            .send(ureq::SendBody::from_reader(&mut counted));
        self.answer(result)
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

    /// Uploads `upload`, resuming from what the server already holds, and
    /// returns its file handle. `sent` counts the bytes sent (it is wound
    /// back when the server turns out to hold fewer, so a progress display
    /// stays true); `notify` hears about each retry.
    pub fn upload(
        &self,
        upload: &dyn Upload,
        sent: &AtomicU64,
        notify: &dyn Fn(&str),
    ) -> Result<String, ApiError> {
        let total = upload.len();
        let mut failures = 0u32;
        let mut network_wait = self.policy.network_backoff;
        let mut last_problem = String::new();
        let mine = AtomicU64::new(0);
        loop {
            if self.stop.is_some_and(|s| s.load(Ordering::SeqCst)) {
                return Err(ApiError::Interrupted);
            }
            if failures >= self.policy.max_attempts {
                return Err(ApiError::Unreachable {
                    server: self.endpoint.clone(),
                    reason: format!("{last_problem}; gave up after {failures} attempts"),
                });
            }
            // Where to start: what the server holds.
            let offset = match self.offset_once(upload.session_key()) {
                Ok(a) if a.is_success() => offset_from(&a.body).ok_or_else(|| {
                    ApiError::BadAnswer(format!("no offset in {}", error_message(&a.body)))
                })?,
                Ok(a) => match verdict(&a, &self.policy) {
                    Verdict::Accept => return Err(self.fail(&a)),
                    Verdict::RetryAfter(wait) => {
                        failures += 1;
                        last_problem = format!("HTTP {} ({})", a.status, error_message(&a.body));
                        notify(&format!(
                            "{}: {last_problem}; retrying in {:.1} s",
                            upload.session_key(),
                            wait.as_secs_f64()
                        ));
                        pause(wait, self.stop)?;
                        continue;
                    }
                },
                Err(reason) => {
                    failures += 1;
                    last_problem = reason;
                    notify(&format!(
                        "{}: {last_problem}; retrying in {:.1} s",
                        upload.session_key(),
                        network_wait.as_secs_f64()
                    ));
                    pause(network_wait, self.stop)?;
                    network_wait = (network_wait * 2).min(self.policy.max_wait);
                    continue;
                }
            };
            if offset > total {
                return Err(ApiError::BadAnswer(format!(
                    "the server holds {offset} bytes of {}, more than its {total}",
                    upload.session_key()
                )));
            }
            rebase(sent, &mine, offset);
            let outcome = self.post_once(upload, offset, &mine, sent);
            let progressed = mine.load(Ordering::Relaxed).saturating_sub(offset);
            match outcome {
                Ok(a) if a.is_success() => {
                    return file_handle_from(&a.body).ok_or_else(|| {
                        ApiError::BadAnswer(format!(
                            "no file handle for {}: {}",
                            upload.session_key(),
                            error_message(&a.body)
                        ))
                    });
                }
                Ok(a) => match verdict(&a, &self.policy) {
                    Verdict::Accept => return Err(self.fail(&a)),
                    Verdict::RetryAfter(wait) => {
                        failures += 1;
                        last_problem = format!("HTTP {} ({})", a.status, error_message(&a.body));
                        if !wait.is_zero() {
                            notify(&format!(
                                "{}: {last_problem}; retrying in {:.1} s",
                                upload.session_key(),
                                wait.as_secs_f64()
                            ));
                        }
                        pause(wait, self.stop)?;
                    }
                },
                Err(reason) => {
                    if self.stop.is_some_and(|s| s.load(Ordering::SeqCst)) {
                        return Err(ApiError::Interrupted);
                    }
                    last_problem = reason;
                    if progressed > 0 {
                        // The connection carried data before it broke: go on
                        // from the new offset at once.
                        network_wait = self.policy.network_backoff;
                        notify(&format!(
                            "{}: {last_problem}; resuming",
                            upload.session_key()
                        ));
                    } else {
                        failures += 1;
                        notify(&format!(
                            "{}: {last_problem}; retrying in {:.1} s",
                            upload.session_key(),
                            network_wait.as_secs_f64()
                        ));
                        pause(network_wait, self.stop)?;
                        network_wait = (network_wait * 2).min(self.policy.max_wait);
                    }
                }
            }
        }
    }
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
