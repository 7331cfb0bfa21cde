//! When to try a request again, and how long to wait first, by the rules
//! the official client follows: connection errors and timeouts are retried;
//! 429 and 5xx after `Retry-After` seconds (or the JSON `backoff` in
//! milliseconds, else 10 s); 412 with `debug_info.retriable` true at once;
//! any other 4xx is final. A request that got no answer is retried when
//! the connection failed or a deadline passed, and not when it cannot work
//! (see [`NoAnswer`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::{ApiError, error_message};

/// A response, read whole (API answers are small JSON documents).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The `Retry-After` header, in seconds.
    pub retry_after: Option<Duration>,
    /// The body.
    pub body: String,
}

impl Answer {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Why a request got no answer.
#[derive(Debug)]
pub enum NoAnswer {
    /// The connection could not be made or broke: worth another attempt.
    Network(String),
    /// The server was reached but the answer did not come in time (what
    /// passed, e.g. "no complete answer within 60 s"): worth another
    /// attempt.
    TimedOut(String),
    /// Another attempt cannot help (a URL that cannot work, an answer over
    /// the size limit): report it as it is.
    Final(ApiError),
}

impl NoAnswer {
    /// The same, with `secret` replaced wherever it appears.
    pub fn redacted(self, secret: &crate::auth::Secret) -> NoAnswer {
        match self {
            NoAnswer::Network(r) => NoAnswer::Network(secret.redact(&r)),
            NoAnswer::TimedOut(r) => NoAnswer::TimedOut(secret.redact(&r)),
            f @ NoAnswer::Final(_) => f,
        }
    }
}

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all (the first one included).
    pub max_attempts: u32,
    /// The wait after a 429 or 5xx that names none.
    pub default_backoff: Duration,
    /// The first wait after a connection error; it doubles each time.
    pub network_backoff: Duration,
    /// No single wait is longer than this.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            default_backoff: Duration::from_secs(10),
            network_backoff: Duration::from_secs(1),
            max_wait: Duration::from_secs(120),
        }
    }
}

/// What to do after an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// It is the answer (success, or a final refusal).
    Accept,
    /// Try again after this long.
    RetryAfter(Duration),
}

/// The verdict on an answer, by the protocol's rules.
pub fn verdict(answer: &Answer, policy: &RetryPolicy) -> Verdict {
    let json = || serde_json::from_str::<serde_json::Value>(&answer.body).ok();
    match answer.status {
        // The graph API's answer to a query too large to serve: asking
        // again is pointless; the caller must ask for less.
        500 if asks_for_less(&answer.body) => Verdict::Accept,
        429 | 500..=599 => {
            let backoff_ms = json()
                .and_then(|v| v.get("backoff").and_then(serde_json::Value::as_u64))
                .map(Duration::from_millis);
            let wait = answer
                .retry_after
                .or(backoff_ms)
                .unwrap_or(policy.default_backoff);
            Verdict::RetryAfter(wait.min(policy.max_wait))
        }
        412 if json()
            .and_then(|v| {
                v.pointer("/debug_info/retriable")
                    .and_then(serde_json::Value::as_bool)
            })
            .unwrap_or(false) =>
        {
            Verdict::RetryAfter(Duration::ZERO)
        }
        _ => Verdict::Accept,
    }
}

/// Whether an error answer says the query was too large ("Please reduce
/// the amount of data you're asking for").
pub fn asks_for_less(body: &str) -> bool {
    error_message(body)
        .to_lowercase()
        .contains("reduce the amount of data")
}

/// A wait as messages show it: `2.5 s`, or `40 ms` when shorter than a
/// second.
pub fn wait_text(wait: Duration) -> String {
    if wait < Duration::from_secs(1) {
        format!("{} ms", wait.as_millis())
    } else {
        format!("{:.1} s", wait.as_secs_f64())
    }
}

/// Sleeps for `wait`, waking early (with `Err`) if `stop` becomes true.
pub fn pause(wait: Duration, stop: Option<&AtomicBool>) -> Result<(), ApiError> {
    let until = Instant::now() + wait;
    loop {
        if stop.is_some_and(|s| s.load(Ordering::SeqCst)) {
            return Err(ApiError::Interrupted);
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        std::thread::sleep(left.min(Duration::from_millis(100)));
    }
}

/// Sends a request with `send` until it gives an answer to accept or the
/// attempts run out. `notify` hears about each retry (one line, no
/// secrets). Network errors and passed deadlines are retried with a
/// doubling wait; a [`NoAnswer::Final`] is returned at once.
pub fn with_retries(
    policy: &RetryPolicy,
    server: &str,
    stop: Option<&AtomicBool>,
    notify: &dyn Fn(&str),
    mut send: impl FnMut() -> Result<Answer, NoAnswer>,
) -> Result<Answer, ApiError> {
    let mut network_wait = policy.network_backoff;
    for attempt in 1..=policy.max_attempts.max(1) {
        let last = attempt == policy.max_attempts.max(1);
        match send() {
            Err(NoAnswer::Final(e)) => return Err(e),
            Ok(answer) => match verdict(&answer, policy) {
                Verdict::Accept => return Ok(answer),
                Verdict::RetryAfter(_) if last => {
                    return Err(ApiError::ServerFailing {
                        status: answer.status,
                        message: error_message(&answer.body),
                        attempts: attempt,
                    });
                }
                Verdict::RetryAfter(wait) => {
                    notify(&format!(
                        "{server} answered HTTP {} ({}); retrying in {}",
                        answer.status,
                        error_message(&answer.body),
                        wait_text(wait)
                    ));
                    pause(wait, stop)?;
                }
            },
            Err(NoAnswer::TimedOut(what)) if last => {
                return Err(ApiError::TimedOut {
                    server: server.to_string(),
                    what,
                    attempts: attempt,
                });
            }
            Err(NoAnswer::Network(reason)) if last => {
                return Err(ApiError::Unreachable {
                    server: server.to_string(),
                    reason,
                });
            }
            Err(NoAnswer::Network(reason) | NoAnswer::TimedOut(reason)) => {
                notify(&format!(
                    "{server}: {reason}; retrying in {}",
                    wait_text(network_wait)
                ));
                pause(network_wait, stop)?;
                network_wait = (network_wait * 2).min(policy.max_wait);
            }
        }
    }
    Err(ApiError::Unreachable {
        server: server.to_string(),
        reason: "no attempt was made".to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, retry_after: Option<u64>, body: &str) -> Answer {
        Answer {
            status,
            retry_after: retry_after.map(Duration::from_secs),
            body: body.to_string(),
        }
    }

    #[test]
    fn verdicts_follow_the_protocol() {
        let p = RetryPolicy::default();
        assert_eq!(verdict(&answer(200, None, "{}"), &p), Verdict::Accept);
        assert_eq!(
            verdict(&answer(503, Some(3), ""), &p),
            Verdict::RetryAfter(Duration::from_secs(3))
        );
        assert_eq!(
            verdict(&answer(429, None, r#"{"backoff": 1500}"#), &p),
            Verdict::RetryAfter(Duration::from_millis(1500))
        );
        assert_eq!(
            verdict(&answer(500, None, ""), &p),
            Verdict::RetryAfter(Duration::from_secs(10))
        );
        assert_eq!(
            verdict(&answer(500, Some(100_000), ""), &p),
            Verdict::RetryAfter(p.max_wait)
        );
        assert_eq!(
            verdict(
                &answer(412, None, r#"{"debug_info":{"retriable":true}}"#),
                &p
            ),
            Verdict::RetryAfter(Duration::ZERO)
        );
        assert_eq!(
            verdict(
                &answer(412, None, r#"{"debug_info":{"retriable":false}}"#),
                &p
            ),
            Verdict::Accept
        );
        assert_eq!(verdict(&answer(404, None, ""), &p), Verdict::Accept);
        let too_much = r#"{"error":{"message":"Please reduce the amount of data you're asking for, then retry your request"}}"#;
        assert_eq!(verdict(&answer(500, None, too_much), &p), Verdict::Accept);
    }

    #[test]
    fn retries_until_success_or_exhaustion() {
        let p = RetryPolicy {
            max_attempts: 3,
            default_backoff: Duration::ZERO,
            network_backoff: Duration::from_millis(1),
            max_wait: Duration::from_secs(1),
        };
        let mut calls = 0;
        let heard = std::cell::RefCell::new(Vec::new());
        let notify = |m: &str| heard.borrow_mut().push(m.to_string());
        let got = with_retries(&p, "srv", None, &notify, || {
            calls += 1;
            match calls {
                1 => Err(NoAnswer::Network("connection refused".to_string())),
                2 => Ok(answer(503, Some(0), r#"{"error":{"message":"busy"}}"#)),
                _ => Ok(answer(200, None, "ok")),
            }
        })
        .unwrap();
        assert_eq!(got.body, "ok");
        assert_eq!(heard.borrow().len(), 2);
        assert!(heard.borrow()[1].contains("HTTP 503 (busy)"));
        let err =
            with_retries(&p, "srv", None, &notify, || Ok(answer(503, Some(0), ""))).unwrap_err();
        assert!(
            matches!(err, ApiError::ServerFailing { attempts: 3, .. }),
            "{err}"
        );
        let err = with_retries(&p, "srv", None, &notify, || {
            Err(NoAnswer::Network("refused".to_string()))
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot reach srv (refused); check the network connection, or MAPILLARY_GRAPH_API_ENDPOINT / MAPILLARY_UPLOAD_ENDPOINT"
        );
        let err = with_retries(&p, "srv", None, &notify, || {
            Err(NoAnswer::TimedOut(
                "no complete answer within 5 s".to_string(),
            ))
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "srv is too slow: no complete answer within 5 s, 3 times; try again later"
        );
        // What cannot work is not tried again.
        let mut calls = 0;
        let err = with_retries(&p, "srv", None, &notify, || {
            calls += 1;
            Err(NoAnswer::Final(ApiError::BodyTooLarge {
                server: "srv".to_string(),
                limit: 16 << 20,
            }))
        })
        .unwrap_err();
        assert_eq!(calls, 1);
        assert_eq!(
            err.to_string(),
            "the answer from srv is larger than the 16 MiB accepted"
        );
    }

    #[test]
    fn a_stop_cuts_the_wait_short() {
        let stop = AtomicBool::new(true);
        assert!(matches!(
            pause(Duration::from_secs(60), Some(&stop)),
            Err(ApiError::Interrupted)
        ));
    }
}
