//! The endpoints: graph API (login, me, objects, images, finish_upload),
//! the upload service, thumbnails, and the local pages.

// An error answer travels up one call and is sent at once; boxing it would
// only add noise.
#![allow(clippy::result_large_err)]

use std::collections::BTreeSet;
use std::fmt;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};

use crate::faults::{Action, Scope};
use crate::limits::{BodyError, BodyReader, MAX_JSON_BODY, format_size};
use crate::state::{Found, SequenceRecord, State, StoredImage, StoredVideo, is_safe_key};
use crate::thumbnail;
use crate::validate::{self, Received, Source};
use crate::video::{self, VideoKind};

/// An answer.
pub type Reply = Response<Full<Bytes>>;

/// A connection the server cuts on purpose (a fault), or that broke.
#[derive(Debug)]
pub struct Cut(pub String);

impl fmt::Display for Cut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Cut {}

fn reply(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn json_reply(status: StatusCode, v: &Value) -> Reply {
    reply(status, "application/json", v.to_string())
}

/// A graph-style error: `{"error": {"message", "type", "code", "fbtrace_id"}}`.
fn graph_error(status: StatusCode, message: &str, kind: &str, code: u32) -> Reply {
    json_reply(
        status,
        &json!({"error": {"message": message, "type": kind, "code": code, "fbtrace_id": "local"}}),
    )
}

fn bad_request(message: &str) -> Reply {
    graph_error(
        StatusCode::BAD_REQUEST,
        message,
        "GraphMethodException",
        100,
    )
}

/// Decodes `%XX` and `+` in a query component.
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query_pairs(req: &Request<Incoming>) -> Vec<(String, String)> {
    req.uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn query<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The token of a request: `Authorization: OAuth <t>` (or `Bearer`), or,
/// for reads, `?access_token=`.
fn token(req: &Request<Incoming>, pairs: &[(String, String)]) -> Option<String> {
    let header = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let v = v.trim();
            v.strip_prefix("OAuth ")
                .or_else(|| v.strip_prefix("Bearer "))
                .map(str::trim)
                .map(str::to_string)
        });
    header.or_else(|| {
        (req.method() == Method::GET)
            .then(|| query(pairs, "access_token").map(str::to_string))
            .flatten()
    })
}

/// The user of a request's token, or the error answer.
fn user_of(state: &State, token: Option<&str>) -> Result<String, Reply> {
    let Some(token) = token else {
        return Err(graph_error(
            StatusCode::UNAUTHORIZED,
            "An access token is required to request this resource.",
            "OAuthException",
            104,
        ));
    };
    match state.token_user(token) {
        Ok(user) => Ok(user),
        Err(true) => Err(graph_error(
            StatusCode::UNAUTHORIZED,
            "Error validating access token: Session has expired.",
            "OAuthException",
            190,
        )),
        Err(false) => Err(graph_error(
            StatusCode::UNAUTHORIZED,
            "Invalid OAuth access token.",
            "OAuthException",
            190,
        )),
    }
}

/// A user token or the app's client token (enough for reading).
fn reader_of(state: &State, token: Option<&str>) -> Result<(), Reply> {
    if token == Some(state.seed.client_token.as_str()) {
        return Ok(());
    }
    user_of(state, token).map(|_| ())
}

/// A JSON request body of at most [`MAX_JSON_BODY`] bytes, read under the
/// body timeouts.
async fn body_json(state: &State, req: Request<Incoming>) -> Result<Value, Reply> {
    let mut body = BodyReader::new(req.into_body(), &state.limits);
    let bytes = match body.collect(MAX_JSON_BODY).await {
        Ok(Some(b)) => b,
        Ok(None) => {
            return Err(graph_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!(
                    "the request body is larger than {}",
                    format_size(MAX_JSON_BODY as u64)
                ),
                "GraphMethodException",
                100,
            ));
        }
        Err(BodyError::TooSlow(m)) => return Err(too_slow(&m, false)),
        Err(BodyError::Broken(_)) => {
            return Err(bad_request("the request body could not be read"));
        }
    };
    serde_json::from_slice(&bytes)
        .map_err(|e| bad_request(&format!("the request body is not JSON ({e})")))
}

/// What a browser asks for by itself when it shows the page.
const FAVICON: &str = "/favicon.ico";

fn scope_of(path: &str) -> Option<Scope> {
    if path.starts_with("/mapillary_public_uploads/") {
        Some(Scope::Upload)
    } else if path.starts_with("/thumbnails/") {
        Some(Scope::Thumbnails)
    } else if path == "/" || path == FAVICON || path.starts_with("/local") {
        None
    } else {
        Some(Scope::Graph)
    }
}

/// Answers one request. `Err` cuts the connection.
pub async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Reply, Cut> {
    let path = req.uri().path().to_string();
    let mut drop_after = None;
    if let Some(scope) = scope_of(&path) {
        for fault in &state.faults {
            match fault.action {
                Action::Slow(d) => {
                    if fault.hits(scope) {
                        tokio::time::sleep(d).await;
                    }
                }
                Action::Status { code, retry_after } => {
                    if fault.hits(scope) {
                        let status =
                            StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                        let mut r = graph_error(
                            status,
                            &format!("injected fault: HTTP {code}"),
                            "MLYApiException",
                            2,
                        );
                        if let Some(s) = retry_after
                            && let Ok(v) = HeaderValue::from_str(&s.to_string())
                        {
                            r.headers_mut().insert(RETRY_AFTER, v);
                        }
                        return Ok(r);
                    }
                }
                Action::DropAfter(n) => {
                    if scope == Scope::Upload && req.method() == Method::POST && fault.hits(scope) {
                        drop_after = Some(n);
                    }
                }
            }
        }
    }
    let pairs = query_pairs(&req);
    let token = token(&req, &pairs);
    let method = req.method().clone();
    let segments: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let answer = match (&method, segments.as_slice()) {
        (&Method::POST, ["login"]) => login(&state, token.as_deref(), req).await,
        (&Method::GET, ["me"]) => me(&state, token.as_deref(), &pairs),
        (&Method::GET, ["images"]) => images(&state, token.as_deref(), &pairs),
        (&Method::POST, ["finish_upload"]) => finish_upload(&state, token.as_deref(), req).await,
        (&Method::POST, ["logging"]) => logging(&state, token.as_deref(), req).await,
        (&Method::GET, ["thumbnails", id, file]) => {
            thumbnail_reply(&state, token.is_some(), id, file)
        }
        (&Method::GET, ["mapillary_public_uploads", key]) => {
            upload_offset(&state, token.as_deref(), key)
        }
        (&Method::POST, ["mapillary_public_uploads", key]) => {
            let key = key.to_string();
            return upload_post(&state, token.as_deref(), &key, req, drop_after).await;
        }
        (&Method::GET, [] | ["local"]) => {
            state.count("local");
            reply(
                StatusCode::OK,
                "text/html; charset=utf-8",
                crate::page::page(&state.sequences()),
            )
        }
        // The page has no icon: "none", rather than an error the
        // browser would log.
        (&Method::GET, ["favicon.ico"]) => {
            state.count("local");
            reply(StatusCode::NO_CONTENT, "image/x-icon", Bytes::new())
        }
        (&Method::GET, ["local", "sequences"]) => {
            state.count("local");
            json_reply(
                StatusCode::OK,
                &serde_json::to_value(state.sequences()).unwrap_or(Value::Null),
            )
        }
        (&Method::GET, ["local", "stats"]) => {
            state.count("local");
            json_reply(
                StatusCode::OK,
                &serde_json::to_value(state.stats()).unwrap_or(Value::Null),
            )
        }
        (&Method::GET, ["local", "sequences", cluster, file]) => stored_file(&state, cluster, file),
        (&Method::GET, [id]) => object(&state, token.as_deref(), id, &pairs),
        _ => graph_error(
            StatusCode::NOT_FOUND,
            "Unknown path components",
            "OAuthException",
            2500,
        ),
    };
    Ok(answer)
}

async fn login(state: &State, token: Option<&str>, req: Request<Incoming>) -> Reply {
    state.count("login");
    if token != Some(state.seed.client_token.as_str()) {
        return graph_error(
            StatusCode::UNAUTHORIZED,
            "Invalid OAuth access token: login needs the app's client token",
            "OAuthException",
            190,
        );
    }
    let body = match body_json(state, req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let email = body["email"].as_str().unwrap_or("");
    let password = body["password"].as_str().unwrap_or("");
    match state.user_by_login(email, password) {
        Some(user) => {
            let token = state.issue_token(&user.id);
            json_reply(
                StatusCode::OK,
                &json!({"access_token": token, "user_id": user.id}),
            )
        }
        None => graph_error(
            StatusCode::UNAUTHORIZED,
            "Invalid email or password",
            "MLYApiException",
            1,
        ),
    }
}

fn wants(pairs: &[(String, String)], field: &str) -> bool {
    query(pairs, "fields").is_some_and(|f| f.split(',').any(|x| x.trim() == field))
}

fn me(state: &State, token: Option<&str>, pairs: &[(String, String)]) -> Reply {
    state.count("me");
    let user_id = match user_of(state, token) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let Some(user) = state.user(&user_id) else {
        return graph_error(
            StatusCode::UNAUTHORIZED,
            "Invalid OAuth access token.",
            "OAuthException",
            190,
        );
    };
    let mut v = json!({"id": user.id, "username": user.username});
    if wants(pairs, "organizations") {
        if !state.seed.list_organizations {
            return bad_request(
                "Tried accessing nonexisting field (organizations) on node type (User)",
            );
        }
        let orgs: Vec<Value> = state
            .organizations_of(&user.id)
            .iter()
            .map(|o| json!({"id": o.id, "name": o.name, "slug": o.slug}))
            .collect();
        v["organizations"] = json!({"data": orgs});
    }
    json_reply(StatusCode::OK, &v)
}

fn image_json(state: &State, f: &Found, pairs: &[(String, String)]) -> Value {
    let base = crate::state::lock(&state.base_url).clone();
    let point = json!({"type": "Point", "coordinates": [f.lon, f.lat]});
    let all = [
        ("id", json!(f.id)),
        ("geometry", point.clone()),
        ("computed_geometry", point),
        ("captured_at", json!(f.captured_at)),
        ("compass_angle", json!(f.compass_angle)),
        ("sequence", json!(f.sequence)),
        (
            "thumb_256_url",
            json!(format!("{base}/thumbnails/{}/256.jpg", f.id)),
        ),
        (
            "thumb_1024_url",
            json!(format!("{base}/thumbnails/{}/1024.jpg", f.id)),
        ),
        (
            "thumb_2048_url",
            json!(format!("{base}/thumbnails/{}/2048.jpg", f.id)),
        ),
        (
            "thumb_original_url",
            json!(format!("{base}/thumbnails/{}/original.jpg", f.id)),
        ),
    ];
    let mut v = serde_json::Map::new();
    for (k, value) in all {
        if k == "id" || wants(pairs, k) {
            v.insert(k.to_string(), value);
        }
    }
    Value::Object(v)
}

fn images(state: &State, token: Option<&str>, pairs: &[(String, String)]) -> Reply {
    state.count("images");
    if let Err(r) = reader_of(state, token) {
        return r;
    }
    let Some(bbox) = query(pairs, "bbox") else {
        return bad_request("the images endpoint needs a bbox");
    };
    let b: Vec<f64> = bbox
        .split(',')
        .filter_map(|x| x.trim().parse().ok())
        .collect();
    let [min_lon, min_lat, max_lon, max_lat] = b[..] else {
        return bad_request("bbox must be minLon,minLat,maxLon,maxLat");
    };
    if !(min_lon < max_lon && min_lat < max_lat) {
        return bad_request("bbox must be minLon,minLat,maxLon,maxLat with min < max");
    }
    if (max_lon - min_lon) * (max_lat - min_lat) > state.seed.max_bbox_area {
        return graph_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Please reduce the amount of data you're asking for, then retry your request",
            "OAuthException",
            1,
        );
    }
    let limit = query(pairs, "limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(2000)
        .clamp(1, 2000);
    let data: Vec<Value> = state
        .searchable()
        .iter()
        .filter(|f| (min_lat..=max_lat).contains(&f.lat) && (min_lon..=max_lon).contains(&f.lon))
        .take(limit)
        .map(|f| image_json(state, f, pairs))
        .collect();
    json_reply(StatusCode::OK, &json!({"data": data}))
}

fn object(state: &State, token: Option<&str>, id: &str, pairs: &[(String, String)]) -> Reply {
    state.count("object");
    if let Err(r) = reader_of(state, token) {
        return r;
    }
    if let Some(o) = state.seed.organizations.iter().find(|o| o.id == id) {
        return json_reply(
            StatusCode::OK,
            &json!({"id": o.id, "name": o.name, "slug": o.slug, "description": o.description}),
        );
    }
    if let Some(f) = state.searchable().iter().find(|f| f.id == id) {
        return json_reply(StatusCode::OK, &image_json(state, f, pairs));
    }
    bad_request(&format!(
        "Unsupported get request. Object with ID '{id}' does not exist"
    ))
}

fn thumbnail_reply(state: &State, carried_token: bool, id: &str, file: &str) -> Reply {
    state.count("thumbnails");
    if carried_token {
        state.with_stats(|s| s.thumbnail_requests_with_token += 1);
    }
    let Some(size) = file
        .strip_suffix(".jpg")
        .filter(|s| thumbnail::dimensions(s).is_some())
    else {
        return graph_error(StatusCode::NOT_FOUND, "no such thumbnail", "NotFound", 404);
    };
    let Some(found) = state.searchable().into_iter().find(|f| f.id == id) else {
        return graph_error(StatusCode::NOT_FOUND, "no such image", "NotFound", 404);
    };
    if let Some(code) = found.thumbnail_status {
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return graph_error(
            status,
            "this thumbnail fails (seeded)",
            "NotFound",
            u32::from(code),
        );
    }
    let bytes = match &found.stored {
        Some(path) => std::fs::read(path).ok(),
        None => thumbnail::thumbnail(id, size),
    };
    match bytes {
        Some(b) => reply(StatusCode::OK, "image/jpeg", b),
        None => graph_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "thumbnail unavailable",
            "Error",
            1,
        ),
    }
}

fn upload_offset(state: &State, token: Option<&str>, key: &str) -> Reply {
    state.count("upload_offset");
    if let Err(r) = user_of(state, token) {
        return r;
    }
    if !is_safe_key(key) {
        return bad_request("the session key is not a valid name");
    }
    json_reply(StatusCode::OK, &json!({"offset": state.held(key)}))
}

/// An upload service error: `{"debug_info": {"retriable", "type", "message"}}`.
fn upload_error(status: StatusCode, kind: &str, retriable: bool, message: &str) -> Reply {
    json_reply(
        status,
        &json!({"debug_info": {"retriable": retriable, "type": kind, "message": message}}),
    )
}

fn offset_mismatch(held: u64, sent: Option<u64>) -> Reply {
    upload_error(
        StatusCode::PRECONDITION_FAILED,
        "OffsetMismatch",
        true,
        &format!(
            "offset {} does not match the {held} bytes held; ask for the offset again",
            sent.map_or("missing".to_string(), |s| s.to_string())
        ),
    )
}

fn upload_too_large(key: &str, total: u64, max: u64) -> Reply {
    upload_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "FileTooLarge",
        false,
        &format!(
            "the upload {key} would hold {total} bytes or more, beyond the {} one upload may hold here (the local server's --max-upload-size); nothing of this request was kept",
            format_size(max)
        ),
    )
}

fn too_slow(message: &str, upload: bool) -> Reply {
    let message = format!("{message}; the connection is closed");
    if upload {
        upload_error(
            StatusCode::REQUEST_TIMEOUT,
            "RequestTimeout",
            true,
            &message,
        )
    } else {
        graph_error(StatusCode::REQUEST_TIMEOUT, &message, "RequestTimeout", 408)
    }
}

/// Answers a refused upload after reading what the client still sends
/// (at most `cap` bytes): most clients send the whole body before they
/// read the answer, and would otherwise see a reset connection instead of
/// the refusal.
async fn refuse(body: &mut BodyReader, answer: Reply, cap: u64) -> Result<Reply, Cut> {
    body.drain(cap).await;
    Ok(answer)
}

async fn upload_post(
    state: &State,
    token: Option<&str>,
    key: &str,
    req: Request<Incoming>,
    drop_after: Option<u64>,
) -> Result<Reply, Cut> {
    state.count("upload_post");
    state.with_stats(|s| s.upload_posts += 1);
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .and_then(|o| o.parse::<u64>().ok())
    };
    let sent_offset = header("offset");
    let entity_length = header("x-entity-length");
    let content_length = header("content-length");
    let max = state.limits.max_upload_bytes;
    // Reading on makes sense only for a body that ends soon enough.
    let drain_cap = match content_length {
        Some(n) if n > max => 0,
        _ => max,
    };
    let mut body = BodyReader::new(req.into_body(), &state.limits);
    if let Err(r) = user_of(state, token) {
        return refuse(&mut body, r, drain_cap).await;
    }
    if !is_safe_key(key) {
        return refuse(
            &mut body,
            bad_request("the session key is not a valid name"),
            drain_cap,
        )
        .await;
    }
    let lock = state.upload_lock(key);
    let _guard = lock.lock().await;
    body.restart_clock();
    let finished_refusal = |held: u64| {
        upload_error(
            StatusCode::CONFLICT,
            "UploadFinished",
            false,
            &format!(
                "the upload {key} belongs to a finished sequence and can no longer be changed (it holds {held} bytes); upload changed bytes under a new session key"
            ),
        )
    };
    if state.is_finished(key) {
        // The same bytes again (nothing more at the end) get the handle,
        // anything else is refused.
        let held = state.held(key);
        return match body.next().await {
            Ok(None) if sent_offset == Some(held) => Ok(json_reply(
                StatusCode::OK,
                &json!({"h": State::handle_for(key)}),
            )),
            Ok(_) => refuse(&mut body, finished_refusal(held), drain_cap).await,
            Err(BodyError::TooSlow(m)) => Ok(too_slow(&m, true)),
            Err(BodyError::Broken(e)) => Err(Cut(format!("the upload of {key} broke off: {e}"))),
        };
    }
    let path = state.upload_path(key);
    let held = std::fs::metadata(&path).map_or(0, |m| m.len());
    if sent_offset != Some(held) {
        return refuse(&mut body, offset_mismatch(held, sent_offset), drain_cap).await;
    }
    let declared = entity_length
        .unwrap_or(0)
        .max(held.saturating_add(content_length.unwrap_or(0)));
    if declared > max {
        return refuse(&mut body, upload_too_large(key, declared, max), drain_cap).await;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| Cut(format!("cannot store {key}: {e}")))?;
    // A stored photo of a sequence is a second name of its upload: never
    // write into a file that has another name, whatever the key.
    if has_other_names(&file) {
        return refuse(&mut body, finished_refusal(held), drain_cap).await;
    }
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut received = 0u64;
    let mut total = held;
    let outcome: Result<(), Cut> = loop {
        match body.next().await {
            Ok(None) => break Ok(()),
            Err(BodyError::TooSlow(m)) => {
                // What arrived is kept: the client can resume from it.
                let _ = out.flush();
                return Ok(too_slow(&m, true));
            }
            Err(BodyError::Broken(e)) => {
                break Err(Cut(format!("the upload of {key} broke off: {e}")));
            }
            Ok(Some(mut data)) => {
                let mut cut = false;
                if let Some(limit) = drop_after
                    && received + data.len() as u64 >= limit
                {
                    data.truncate((limit - received) as usize);
                    cut = true;
                }
                if let Some(len) = entity_length
                    && total + data.len() as u64 > len
                {
                    let _ = out.flush();
                    return refuse(
                        &mut body,
                        bad_request("the body is longer than X-Entity-Length"),
                        drain_cap,
                    )
                    .await;
                }
                if total + data.len() as u64 > max {
                    // Nothing of this request is kept: the disk holds at
                    // most the limit, whatever the client sends.
                    let (file, _) = out.into_parts();
                    let _ = file.set_len(held);
                    let answer = upload_too_large(key, total + data.len() as u64, max);
                    return refuse(&mut body, answer, drain_cap).await;
                }
                if let Err(e) = out.write_all(&data) {
                    break Err(Cut(format!("cannot store {key}: {e}")));
                }
                // Counted as it is written: when the client goes away,
                // hyper may drop this future at the next await (the
                // buffered bytes are still flushed, on drop).
                state.count_upload_bytes(key, data.len() as u64);
                received += data.len() as u64;
                total += data.len() as u64;
                if cut {
                    break Err(Cut(format!(
                        "fault: connection cut after {received} bytes of {key}"
                    )));
                }
            }
        }
    };
    let flushed = out.flush();
    outcome?;
    flushed.map_err(|e| Cut(format!("cannot store {key}: {e}")))?;
    Ok(json_reply(
        StatusCode::OK,
        &json!({"h": State::handle_for(key)}),
    ))
}

#[cfg(unix)]
fn has_other_names(file: &std::fs::File) -> bool {
    use std::os::unix::fs::MetadataExt;
    file.metadata().is_ok_and(|m| m.nlink() > 1)
}

#[cfg(not(unix))]
fn has_other_names(_file: &std::fs::File) -> bool {
    false
}

fn server_error(message: &str) -> Reply {
    graph_error(StatusCode::INTERNAL_SERVER_ERROR, message, "Error", 1)
}

/// The file types `finish_upload` turns into a sequence.
const FILE_TYPES: &[&str] = &[
    "zip",
    "mly_bundle_manifest",
    "mly_camm_video",
    "mly_blackvue_video",
];

async fn finish_upload(state: &State, token: Option<&str>, req: Request<Incoming>) -> Reply {
    state.count("finish_upload");
    let user = match user_of(state, token) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let body = match body_json(state, req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(handle) = body["file_handle"].as_str().map(str::to_string) else {
        return bad_request("finish_upload needs file_handle (a string)");
    };
    let Some(file_type) = body["file_type"].as_str().map(str::to_string) else {
        return bad_request(&format!(
            "finish_upload needs file_type (one of {})",
            FILE_TYPES.join(", ")
        ));
    };
    if !FILE_TYPES.contains(&file_type.as_str()) {
        return bad_request(&format!(
            "file_type '{file_type}' is not accepted (one of {})",
            FILE_TYPES.join(", ")
        ));
    }
    let organization = match &body["organization_id"] {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Null => None,
        _ => return bad_request("organization_id must be a string or a number"),
    };
    if let Some(org) = &organization
        && !state.organizations_of(&user).iter().any(|o| &o.id == org)
    {
        return graph_error(
            StatusCode::FORBIDDEN,
            &format!("the user is not a member of organization {org}"),
            "MLYApiException",
            10,
        );
    }
    let Some(key) = validate::key_of_handle(&handle)
        .filter(|k| is_safe_key(k))
        .map(str::to_string)
    else {
        return bad_request(&format!("unknown file handle {handle}"));
    };
    let _finishing = state.finish_lock.lock().await;
    if let Some(done) = state.sequence_for_handle(&handle) {
        return json_reply(StatusCode::OK, &json!({"cluster_id": done.cluster_id}));
    }
    // No POST may change an upload while it is checked and stored.
    let _key_guard = state.upload_lock(&key).lock_owned().await;
    let Some((_, path)) = state.upload_for_handle(&handle) else {
        return bad_request(&format!("unknown file handle {handle}"));
    };
    let refused = |why: String| bad_request(&format!("finish_upload refused: {why}"));
    let cluster_id = format!("{}", 7_000_000 + state.next_number());
    let folder = state.data_dir.join("sequences").join(&cluster_id);
    let mut record = SequenceRecord {
        cluster_id: cluster_id.clone(),
        user_id: user,
        organization_id: organization,
        file_type: file_type.clone(),
        file_handle: handle,
        received_at: jiff::Timestamp::now().to_string(),
        images: Vec::new(),
        video: None,
    };
    // Held until the sequence is recorded.
    let mut image_guards = Vec::new();
    let stored = if let Some(kind) = VideoKind::from_file_type(&file_type) {
        let info = match video::check(&path, kind) {
            Ok(i) => i,
            Err(why) => return refused(why),
        };
        if info.bytes > state.sequence_limits.max_bytes {
            return refused(format!(
                "the video is larger than {}, the most one sequence may hold",
                format_size(state.sequence_limits.max_bytes)
            ));
        }
        store_video(&path, &folder, info.bytes).map(|v| record.video = Some(v))
    } else {
        let received = if file_type == "zip" {
            validate::check_zip(
                &path,
                &state.schema,
                &state.sequence_limits,
                state.limits.max_upload_bytes,
            )
        } else {
            let handles = match read_manifest(&path)
                .and_then(|h| validate::check_count(&state.sequence_limits, h.len()).map(|()| h))
            {
                Ok(h) => h,
                Err(why) => return refused(why),
            };
            // The images are locked too, in one order (finishes run one
            // at a time, and a POST holds only its own key).
            let keys: BTreeSet<&str> = handles
                .iter()
                .filter_map(|h| validate::key_of_handle(h))
                .filter(|k| *k != key && is_safe_key(k))
                .collect();
            for k in keys {
                image_guards.push(state.upload_lock(k).lock_owned().await);
            }
            validate::check_manifest(
                &handles,
                |h| state.upload_for_handle(h),
                &state.schema,
                &state.sequence_limits,
            )
        };
        match received {
            Ok(received) => {
                store_images(state, &folder, &received).map(|images| record.images = images)
            }
            Err(why) => return refused(why),
        }
    };
    let answer = finish_record(state, record, stored, &folder);
    drop(image_guards);
    answer
}

/// Records a stored sequence, or undoes the storing.
fn finish_record(
    state: &State,
    record: SequenceRecord,
    stored: Result<(), String>,
    folder: &Path,
) -> Reply {
    let cluster_id = record.cluster_id.clone();
    let result = stored.and_then(|()| {
        state
            .add_sequence(record)
            .map_err(|e| format!("cannot store: {e}"))
    });
    match result {
        Ok(()) => json_reply(StatusCode::OK, &json!({"cluster_id": cluster_id})),
        Err(why) => {
            let _ = std::fs::remove_dir_all(folder);
            server_error(&why)
        }
    }
}

fn read_manifest(path: &Path) -> Result<Vec<String>, String> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| {
            f.take(validate::MAX_MANIFEST_BYTES + 1)
                .read_to_end(&mut bytes)
        })
        .map_err(|e| format!("the manifest cannot be read ({e})"))?;
    if bytes.len() as u64 > validate::MAX_MANIFEST_BYTES {
        return Err(format!(
            "the manifest is larger than {}",
            format_size(validate::MAX_MANIFEST_BYTES)
        ));
    }
    validate::manifest_handles(&bytes)
}

/// Stores a sequence's images in `folder` as `0.jpg`, `1.jpg`, …: an
/// uploaded image as a second name of its upload (no upload to a finished
/// key, and no write to a file with two names, is ever accepted, so no
/// later POST can reach it), a zip entry extracted.
fn store_images(
    state: &State,
    folder: &Path,
    received: &[Received],
) -> Result<Vec<StoredImage>, String> {
    std::fs::create_dir_all(folder).map_err(|e| format!("cannot store: {e}"))?;
    let mut images = Vec::with_capacity(received.len());
    for (i, r) in received.iter().enumerate() {
        let file = format!("{i}.jpg");
        let to = folder.join(&file);
        let (bytes, upload_key) = match &r.source {
            Source::Upload(key, from) => {
                link_or_copy(from, &to).map_err(|e| format!("cannot store image {i}: {e}"))?;
                (r.bytes, Some(key.clone()))
            }
            Source::ZipEntry(zip, index) => (
                validate::extract(zip, *index, &to)
                    .map_err(|e| format!("cannot store zip entry {i}: {e}"))?,
                None,
            ),
        };
        images.push(StoredImage {
            id: format!("{}", 900_000_000 + state.next_number()),
            file,
            bytes,
            description: r.description.clone(),
            width: r.width,
            height: r.height,
            upload_key,
        });
    }
    Ok(images)
}

/// A second name for an upload (the same data folder, so the same file
/// system: no copy, which for 1 GB of photos took longer than receiving
/// them), else a copy.
fn link_or_copy(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::hard_link(from, to).or_else(|_| std::fs::copy(from, to).map(|_| ()))
}

/// Stores a video as received, as `video.mp4` in `folder`.
fn store_video(from: &Path, folder: &Path, bytes: u64) -> Result<StoredVideo, String> {
    std::fs::create_dir_all(folder).map_err(|e| format!("cannot store: {e}"))?;
    let file = "video.mp4".to_string();
    link_or_copy(from, &folder.join(&file)).map_err(|e| format!("cannot store the video: {e}"))?;
    Ok(StoredVideo { file, bytes })
}

async fn logging(state: &State, token: Option<&str>, req: Request<Incoming>) -> Reply {
    state.count("logging");
    if let Err(r) = reader_of(state, token) {
        return r;
    }
    let body = match body_json(state, req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(action) = body["action_type"].as_str() else {
        return bad_request("logging needs action_type (a string)");
    };
    if !body["properties"].is_object() {
        return bad_request("logging needs properties (an object)");
    }
    let action = action.to_string();
    state.with_stats(|s| *s.logged_events.entry(action).or_default() += 1);
    json_reply(StatusCode::OK, &json!({"success": true}))
}

fn stored_file(state: &State, cluster: &str, file: &str) -> Reply {
    state.count("local");
    let safe = |s: &str| {
        !s.is_empty()
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.')
            && !s.starts_with('.')
    };
    let content_type = if file.ends_with(".jpg") {
        "image/jpeg"
    } else if file.ends_with(".mp4") {
        "video/mp4"
    } else {
        ""
    };
    if !safe(cluster) || !safe(file) || content_type.is_empty() {
        return graph_error(StatusCode::NOT_FOUND, "no such file", "NotFound", 404);
    }
    match std::fs::read(
        Path::new(&state.data_dir)
            .join("sequences")
            .join(cluster)
            .join(file),
    ) {
        Ok(b) => reply(StatusCode::OK, content_type, b),
        Err(_) => graph_error(StatusCode::NOT_FOUND, "no such file", "NotFound", 404),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding() {
        assert_eq!(decode("13.3%2C52.5"), "13.3,52.5");
        assert_eq!(decode("a+b"), "a b");
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz"), "%zz");
    }
}
