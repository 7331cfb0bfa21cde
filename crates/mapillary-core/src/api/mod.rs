//! Mapillary API v4 as the official client speaks it: the graph API
//! ([`graph`]), the resumable upload service ([`upload`]), the retry
//! rules both follow ([`retry`]), and what one request is and how it can
//! fail ([`transport`]).
//!
//! Endpoints can be pointed elsewhere (the project's local server, for
//! tests, the demo and rehearsals) with the official client's variables
//! `MAPILLARY_GRAPH_API_ENDPOINT` and `MAPILLARY_UPLOAD_ENDPOINT`.

pub mod graph;
pub mod package;
pub mod retry;
#[cfg(test)]
pub(crate) mod test_server;
pub mod transport;
pub mod upload;

use std::fmt;

use crate::auth::{AuthError, Environment};

/// The public graph API.
pub const DEFAULT_GRAPH_ENDPOINT: &str = "https://graph.mapillary.com";
/// The public upload service.
pub const DEFAULT_UPLOAD_ENDPOINT: &str = "https://rupload.facebook.com/mapillary_public_uploads";

/// Where the API is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// The graph API root, without a trailing slash.
    pub graph: String,
    /// The upload service root, without a trailing slash.
    pub upload: String,
}

impl Endpoints {
    /// The public service, or what the variables say.
    pub fn from_env(env: &Environment) -> Endpoints {
        let clean = |s: &str| s.trim_end_matches('/').to_string();
        Endpoints {
            graph: clean(
                env.get("MAPILLARY_GRAPH_API_ENDPOINT")
                    .unwrap_or(DEFAULT_GRAPH_ENDPOINT),
            ),
            upload: clean(
                env.get("MAPILLARY_UPLOAD_ENDPOINT")
                    .unwrap_or(DEFAULT_UPLOAD_ENDPOINT),
            ),
        }
    }

    /// Endpoints of a server at `root` laid out like the local server:
    /// graph API at the root, uploads under `/mapillary_public_uploads`.
    pub fn local(root: &str) -> Endpoints {
        let root = root.trim_end_matches('/');
        Endpoints {
            graph: root.to_string(),
            upload: format!("{root}/mapillary_public_uploads"),
        }
    }
}

/// Why a call to the API failed. Messages say what happened and what to
/// do, and never hold a token, a password or a signed URL.
#[derive(Debug)]
pub enum ApiError {
    /// The server could not be reached: no connection, or the connection
    /// broke (after retries).
    Unreachable {
        /// The server's root URL.
        server: String,
        /// What went wrong.
        reason: String,
    },
    /// The server was reached but did not send its whole answer before the
    /// deadline (after retries).
    TimedOut {
        /// The server's root URL.
        server: String,
        /// Which deadline passed, e.g. "no complete answer within 60 s".
        what: String,
        /// How many attempts were made.
        attempts: u32,
    },
    /// The access token was refused (expired, revoked or wrong).
    TokenRejected {
        /// What the server said.
        message: String,
    },
    /// The login was refused.
    LoginRefused {
        /// What the server said.
        message: String,
    },
    /// The server refused the request (a final 4xx).
    Refused {
        /// HTTP status.
        status: u16,
        /// What the server said.
        message: String,
    },
    /// The server kept failing (5xx, 429, or a retriable 412) until the
    /// retries ran out.
    ServerFailing {
        /// The last HTTP status.
        status: u16,
        /// What the server said last.
        message: String,
        /// How many attempts were made.
        attempts: u32,
    },
    /// The upload service took the bytes of several attempts in a row but
    /// kept none of them (its offset did not move).
    NoProgress {
        /// The upload service's root URL.
        server: String,
        /// The session key of the upload.
        key: String,
        /// Attempts in a row without a byte confirmed.
        attempts: u32,
        /// What ended the last attempt.
        last: String,
    },
    /// An answer was larger than the tools accept.
    BodyTooLarge {
        /// The server's root URL.
        server: String,
        /// The limit, in bytes.
        limit: u64,
    },
    /// A URL names a scheme other than http or https.
    UnsupportedScheme {
        /// The scheme (without `:`), or `?` when it is not a valid scheme.
        scheme: String,
        /// Which URL: "MAPILLARY_GRAPH_API_ENDPOINT", "a thumbnail URL", ...
        of: String,
    },
    /// A URL cannot be used (no host, bad characters).
    BadUrl {
        /// Which URL, as in [`ApiError::UnsupportedScheme`].
        of: String,
    },
    /// The answer was not what the API returns.
    BadAnswer(String),
    /// Credentials could not be found or stored.
    Auth(AuthError),
    /// The user stopped the run.
    Interrupted,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Unreachable { server, reason } => write!(
                f,
                "cannot reach {server} ({reason}); check the network connection, or MAPILLARY_GRAPH_API_ENDPOINT / MAPILLARY_UPLOAD_ENDPOINT"
            ),
            ApiError::TimedOut {
                server,
                what,
                attempts,
            } => write!(
                f,
                "{server} is too slow: {what}, {}; try again later",
                if *attempts == 1 {
                    "once".to_string()
                } else {
                    format!("{attempts} times")
                }
            ),
            ApiError::TokenRejected { message } => write!(
                f,
                "the access token was rejected ({message}); log in again: set MAPILLARY_EMAIL, MAPILLARY_PASSWORD and MAPILLARY_CLIENT_TOKEN, or a new MAPILLARY_ACCESS_TOKEN"
            ),
            ApiError::LoginRefused { message } => {
                write!(
                    f,
                    "login refused ({message}); check MAPILLARY_EMAIL and MAPILLARY_PASSWORD"
                )
            }
            ApiError::Refused { status, message } => write!(
                f,
                "the server refused the request (HTTP {status}: {message})"
            ),
            ApiError::ServerFailing {
                status,
                message,
                attempts,
            } => write!(
                f,
                "the server kept failing (HTTP {status}: {message}) after {attempts} attempts; try again later"
            ),
            ApiError::NoProgress {
                server,
                key,
                attempts,
                last,
            } => write!(
                f,
                "{server} kept none of the bytes of {key} sent in {attempts} attempts in a row (last: {last}); gave up; try again later"
            ),
            ApiError::BodyTooLarge { server, limit } => write!(
                f,
                "the answer from {server} is larger than the {} accepted",
                size_text(*limit)
            ),
            ApiError::UnsupportedScheme { scheme, of } => write!(
                f,
                "{of} has the URL scheme '{scheme}'; only http and https are supported"
            ),
            ApiError::BadUrl { of } => write!(f, "{of} is not a usable URL"),
            ApiError::BadAnswer(what) => write!(f, "unexpected answer from the server: {what}"),
            ApiError::Auth(e) => write!(f, "{e}"),
            ApiError::Interrupted => f.write_str("interrupted"),
        }
    }
}

impl std::error::Error for ApiError {}

/// A size in bytes as people read it: `16 MiB`, `1500 bytes`.
fn size_text(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes.is_multiple_of(1 << 10) {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} bytes")
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        ApiError::Auth(e)
    }
}

/// The message of a graph API error answer (`{"error": {"message": ...}}`),
/// or of the upload service's (`{"debug_info": {"message": ...}}`), or the
/// start of the body.
pub fn error_message(body: &str) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let from_json = parsed.as_ref().and_then(|v| {
        v.pointer("/error/message")
            .or_else(|| v.pointer("/debug_info/message"))
            .or_else(|| v.get("message"))
            .and_then(|m| m.as_str())
            .map(str::to_string)
    });
    let text = from_json.unwrap_or_else(|| body.chars().take(200).collect());
    // One line, whatever the server sent (an HTML page, a message with
    // newlines or control characters).
    let line = text
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if line.is_empty() {
        "no details".to_string()
    } else {
        line
    }
}

/// Whether an error answer says the token is bad: 401, or 400/403 whose
/// `error.type` is an OAuth error.
pub fn is_token_error(status: u16, body: &str) -> bool {
    if status == 401 {
        return true;
    }
    if status != 400 && status != 403 {
        return false;
    }
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.pointer("/error/type")
                .and_then(|t| t.as_str())
                .map(|t| t.contains("OAuth"))
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_are_one_line() {
        assert_eq!(
            error_message("{\"error\":{\"message\":\"bad\\nthing\\u0007 here\"}}"),
            "bad thing here"
        );
        assert_eq!(
            error_message("<html>\r\n<body>Bad Gateway</body>\n</html>"),
            "<html> <body>Bad Gateway</body> </html>"
        );
        assert_eq!(error_message(" \n "), "no details");
    }

    #[test]
    fn endpoints_from_variables() {
        let env = Environment::with(
            &[("MAPILLARY_GRAPH_API_ENDPOINT", "http://127.0.0.1:9/")],
            None,
        );
        let e = Endpoints::from_env(&env);
        assert_eq!(e.graph, "http://127.0.0.1:9");
        assert_eq!(e.upload, DEFAULT_UPLOAD_ENDPOINT);
        assert_eq!(
            Endpoints::local("http://h:1/").upload,
            "http://h:1/mapillary_public_uploads"
        );
    }

    #[test]
    fn error_answers() {
        let oauth =
            r#"{"error":{"message":"Session has expired","type":"OAuthException","code":190}}"#;
        assert_eq!(error_message(oauth), "Session has expired");
        assert!(is_token_error(400, oauth));
        assert!(is_token_error(401, "x"));
        assert!(!is_token_error(
            400,
            r#"{"error":{"type":"GraphMethodException"}}"#
        ));
        assert_eq!(
            error_message(r#"{"debug_info":{"retriable":true,"message":"offset"}}"#),
            "offset"
        );
        assert_eq!(error_message(""), "no details");
    }
}
