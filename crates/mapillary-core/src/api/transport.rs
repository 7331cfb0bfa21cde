//! One request and what became of it: agents with deadlines, the check of
//! a URL before anything is sent, answers read whole with a size limit,
//! and each way a request can fail sorted into what happened (retry it, or
//! report it by name) without a URL's path or query in the message (a
//! thumbnail URL is signed; an endpoint may carry a token).

use std::net::IpAddr;
use std::sync::mpsc;
use std::time::Duration;

use super::ApiError;
use super::retry::{Answer, NoAnswer};

/// The deadline of a small request (graph API, upload offsets): the whole
/// exchange, from connecting to the last byte of the answer, as the
/// protocol's 60 s.
pub const SMALL_REQUEST_DEADLINE: Duration = Duration::from_secs(60);

/// The largest API answer read (JSON documents are far smaller; an image
/// search of 2,000 entries is about 2 MB).
pub const ANSWER_LIMIT: u64 = 16 << 20;

/// The project's user agent.
pub fn user_agent() -> String {
    format!("mapillary-tools-rs/{}", env!("CARGO_PKG_VERSION"))
}

/// An agent whose every request ends by `deadline` (connecting, sending,
/// and reading the whole answer; `None`: no overall limit), with at most
/// 60 s to connect and 60 s without a byte either way. Answers are read as
/// data, whatever their status.
pub fn agent(deadline: Option<Duration>) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .user_agent(user_agent())
        .timeout_global(deadline)
        .timeout_connect(Some(Duration::from_secs(60)))
        .timeout_per_read(Some(Duration::from_secs(60)))
        .timeout_per_write(Some(Duration::from_secs(60)))
        .max_idle_connections_per_host(16)
        .build();
    with_resolver(config)
}

/// An agent for uploads: no overall limit of its own (each POST gets one
/// scaled to its size), but two minutes at most without progress in either
/// direction, and large buffers so that streaming from disk keeps up with
/// the network.
pub fn agent_for_uploads() -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .user_agent(user_agent())
        .timeout_connect(Some(Duration::from_secs(60)))
        .timeout_per_read(Some(Duration::from_secs(120)))
        .timeout_per_write(Some(Duration::from_secs(120)))
        .output_buffer_size(1 << 20)
        .build();
    with_resolver(config)
}

fn with_resolver(config: ureq::config::Config) -> ureq::Agent {
    ureq::Agent::with_parts(
        config,
        ureq::unversioned::transport::DefaultConnector::default(),
        Resolver,
    )
}

/// Name resolution that cannot panic: ureq's own resolver starts a thread
/// per lookup whenever a deadline applies, with `std::thread::spawn`, which
/// panics when the process may start no more threads (a low
/// RLIMIT_NPROC). This one needs no thread for an address (`127.0.0.1`,
/// `[::1]`), and for a name falls back to looking it up on the calling
/// thread, bounded by the system resolver's own timeouts, when no thread
/// can be started. (ureq's resolver interface is not covered by its semver
/// promise; Cargo.lock pins the version.)
#[derive(Debug)]
struct Resolver;

impl ureq::unversioned::resolver::Resolver for Resolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        use ureq::unversioned::resolver::DefaultResolver;
        // Without a deadline ureq's resolver looks up on the calling thread.
        let here = ureq::unversioned::transport::NextTimeout {
            after: ureq::unversioned::transport::time::Duration::NotHappening,
            ..timeout
        };
        let host = uri.host().unwrap_or("");
        let literal = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok();
        if literal || timeout.after.is_not_happening() {
            return DefaultResolver::default().resolve(uri, config, here);
        }
        let (send, receive) = mpsc::sync_channel(1);
        let (uri_copy, config_copy) = (uri.clone(), config.clone());
        let spawned = std::thread::Builder::new()
            .name("resolve".to_string())
            .spawn(move || {
                let _ =
                    send.send(DefaultResolver::default().resolve(&uri_copy, &config_copy, here));
            });
        match spawned {
            Ok(_) => match receive.recv_timeout(*timeout.after) {
                Ok(result) => result,
                Err(mpsc::RecvTimeoutError::Timeout) => Err(ureq::Error::Timeout(timeout.reason)),
                Err(mpsc::RecvTimeoutError::Disconnected) => Err(ureq::Error::HostNotFound),
            },
            Err(_) => DefaultResolver::default().resolve(uri, config, here),
        }
    }
}

/// `scheme://host[:port]` of a URL, for messages: never its path or query.
pub fn origin(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
            // Credentials in the authority (`user:pass@host`) stay out.
            let host = authority.rsplit('@').next().unwrap_or("");
            format!("{scheme}://{host}")
        }
        None => "the server".to_string(),
    }
}

/// Checks that `url` can be fetched before anything is sent: an `http` or
/// `https` URL with a host. `of` names the URL in the error
/// ("MAPILLARY_GRAPH_API_ENDPOINT", "a thumbnail URL").
pub fn check_url(url: &str, of: &str) -> Result<(), ApiError> {
    let scheme = url.split_once(':').map(|(s, _)| s);
    let valid = |s: &str| {
        s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && s.len() <= 32
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    };
    match scheme {
        Some(s) if s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https") => {}
        Some(s) if valid(s) => {
            return Err(ApiError::UnsupportedScheme {
                scheme: s.to_ascii_lowercase(),
                of: of.to_string(),
            });
        }
        _ => {
            return Err(ApiError::UnsupportedScheme {
                scheme: "?".to_string(),
                of: of.to_string(),
            });
        }
    }
    match url.parse::<ureq::http::Uri>() {
        Ok(uri) if uri.host().is_some_and(|h| !h.is_empty()) => Ok(()),
        _ => Err(ApiError::BadUrl { of: of.to_string() }),
    }
}

/// Reads a response whole into an [`Answer`], up to [`ANSWER_LIMIT`]
/// bytes. `server` names the server in errors; `deadline` is the
/// request's, for the message when it passes.
pub fn read_answer(
    mut response: ureq::http::Response<ureq::Body>,
    server: &str,
    deadline: Option<Duration>,
) -> Result<Answer, NoAnswer> {
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s.min(1e6)));
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(ANSWER_LIMIT)
        .read_to_string()
        .map_err(|e| no_answer(e, server, deadline))?;
    Ok(Answer {
        status,
        retry_after,
        body,
    })
}

/// A deadline as messages show it: `60 s`, `2.5 s`, `700 ms`.
fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else if s.fract() == 0.0 {
        format!("{s:.0} s")
    } else {
        format!("{s:.1} s")
    }
}

/// What a failed request means: a broken or refused connection and a
/// passed deadline are worth another attempt; a URL that cannot work, an
/// answer over the size limit, or too many redirects are final. `server`
/// names the server in final errors. No URL is quoted (ureq's messages
/// about bad URLs contain them).
pub fn no_answer(error: ureq::Error, server: &str, deadline: Option<Duration>) -> NoAnswer {
    use ureq::Timeout;
    match error {
        ureq::Error::Timeout(kind) => match kind {
            Timeout::Global | Timeout::PerCall | Timeout::RecvBody | Timeout::RecvResponse => {
                NoAnswer::TimedOut(match deadline {
                    Some(d) => format!("no complete answer within {}", seconds(d)),
                    None => format!("no complete answer in time ({kind})"),
                })
            }
            Timeout::PerRead | Timeout::PerWrite => NoAnswer::TimedOut(
                "the connection stalled (nothing sent or received for a minute or more)"
                    .to_string(),
            ),
            Timeout::Connect | Timeout::Resolve => {
                NoAnswer::Network(format!("no connection in time ({kind})"))
            }
            other => NoAnswer::TimedOut(format!("timed out ({other})")),
        },
        ureq::Error::BodyExceedsLimit(limit) => NoAnswer::Final(ApiError::BodyTooLarge {
            server: server.to_string(),
            limit,
        }),
        ureq::Error::LargeResponseHeader(..) => NoAnswer::Final(ApiError::BadAnswer(
            "the answer's headers are too large".to_string(),
        )),
        ureq::Error::BadUri(text) if text.starts_with("unknown scheme") => {
            NoAnswer::Final(ApiError::UnsupportedScheme {
                scheme: text
                    .rsplit(' ')
                    .next()
                    .filter(|s| s.len() <= 32 && s.chars().all(|c| c.is_ascii_alphanumeric()))
                    .unwrap_or("?")
                    .to_ascii_lowercase(),
                of: format!("a URL {server} redirected to"),
            })
        }
        ureq::Error::BadUri(_) | ureq::Error::Http(_) => NoAnswer::Final(ApiError::BadUrl {
            of: format!("a URL of {server}"),
        }),
        ureq::Error::TooManyRedirects | ureq::Error::RedirectFailed => NoAnswer::Final(
            ApiError::BadAnswer(format!("{server} redirects in circles")),
        ),
        ureq::Error::RequireHttpsOnly(_) => NoAnswer::Final(ApiError::UnsupportedScheme {
            scheme: "http".to_string(),
            of: format!("a URL of {server}"),
        }),
        ureq::Error::Io(e) => NoAnswer::Network(crate::io_reason(&e)),
        ureq::Error::HostNotFound => NoAnswer::Network("host not found".to_string()),
        other => NoAnswer::Network(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_never_hold_paths_queries_or_credentials() {
        assert_eq!(
            origin("https://cdn.example/t/1.jpg?sig=SECRET&x=1"),
            "https://cdn.example"
        );
        assert_eq!(
            origin("http://user:pw@127.0.0.1:8080/a"),
            "http://127.0.0.1:8080"
        );
        assert_eq!(origin("no scheme at all"), "the server");
    }

    #[test]
    fn only_http_and_https_urls_are_fetched() {
        assert!(check_url("http://127.0.0.1:1/x", "it").is_ok());
        assert!(check_url("HTTPS://example.com", "it").is_ok());
        let e = check_url(
            "ftp://example.com/x?token=SECRET",
            "MAPILLARY_GRAPH_API_ENDPOINT",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "MAPILLARY_GRAPH_API_ENDPOINT has the URL scheme 'ftp'; only http and https are supported"
        );
        let e = check_url("/just/a/path", "a thumbnail URL").unwrap_err();
        assert!(matches!(e, ApiError::UnsupportedScheme { ref scheme, .. } if scheme == "?"));
        let e = check_url("\u{1b}[2J:x", "a thumbnail URL").unwrap_err();
        assert!(matches!(e, ApiError::UnsupportedScheme { ref scheme, .. } if scheme == "?"));
        assert!(matches!(
            check_url("http://", "it"),
            Err(ApiError::BadUrl { .. })
        ));
    }

    #[test]
    fn names_and_addresses_are_resolved_within_the_deadline() {
        use crate::api::test_server::TestServer;
        let server = TestServer::start(|r| r.answer(200, r#"{"ok":true}"#));
        let port = server.url().rsplit(':').next().unwrap().to_string();
        let agent = agent(Some(Duration::from_secs(10)));
        // An address needs no lookup; a name is looked up on a thread of
        // its own, within the deadline.
        for host in ["127.0.0.1", "localhost"] {
            let url = format!("http://{host}:{port}/x");
            let response = agent.get(&url).call().unwrap();
            let answer = read_answer(response, &url, None).unwrap();
            assert_eq!(answer.body, r#"{"ok":true}"#, "{host}");
        }
        // Without a deadline, the lookup is made on the calling thread.
        let url = format!("http://localhost:{port}/x");
        let response = super::agent(None).get(&url).call().unwrap();
        assert_eq!(response.status().as_u16(), 200);
    }

    #[test]
    fn failures_are_sorted_by_what_happened() {
        let d = Some(Duration::from_secs(5));
        assert!(matches!(
            no_answer(ureq::Error::Timeout(ureq::Timeout::Global), "s", d),
            NoAnswer::TimedOut(ref w) if w == "no complete answer within 5 s"
        ));
        assert!(matches!(
            no_answer(ureq::Error::BodyExceedsLimit(16 << 20), "s", d),
            NoAnswer::Final(ApiError::BodyTooLarge { limit, .. }) if limit == 16 << 20
        ));
        assert!(matches!(
            no_answer(ureq::Error::BadUri("unknown scheme: gopher".into()), "s", d),
            NoAnswer::Final(ApiError::UnsupportedScheme { ref scheme, .. }) if scheme == "gopher"
        ));
        // ureq's message quotes the URL; ours does not.
        match no_answer(
            ureq::Error::BadUri("http://x/?sig=SECRET is missing host".into()),
            "s",
            d,
        ) {
            NoAnswer::Final(e) => assert!(!e.to_string().contains("SECRET"), "{e}"),
            _ => panic!("a bad URL is final"),
        }
        assert!(matches!(
            no_answer(ureq::Error::ConnectionFailed, "s", d),
            NoAnswer::Network(_)
        ));
        assert!(matches!(
            no_answer(
                ureq::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
                "s",
                d
            ),
            NoAnswer::Network(_)
        ));
    }
}
