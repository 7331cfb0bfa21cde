//! The endpoints: graph API (login, me, objects, images, finish_upload),
//! the upload service, thumbnails, and the local pages.

// An error answer travels up one call and is sent at once; boxing it would
// only add noise.
#![allow(clippy::result_large_err)]

use std::fmt;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};

use crate::faults::{Action, Scope};
use crate::state::{Found, SequenceRecord, State, StoredImage, is_safe_key};
use crate::thumbnail;
use crate::validate;

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

async fn body_json(req: Request<Incoming>) -> Result<Value, Reply> {
    let bytes = Limited::new(req.into_body(), 1 << 20)
        .collect()
        .await
        .map_err(|_| bad_request("the request body could not be read"))?
        .to_bytes();
    serde_json::from_slice(&bytes)
        .map_err(|e| bad_request(&format!("the request body is not JSON ({e})")))
}

fn scope_of(path: &str) -> Option<Scope> {
    if path.starts_with("/mapillary_public_uploads/") {
        Some(Scope::Upload)
    } else if path.starts_with("/thumbnails/") {
        Some(Scope::Thumbnails)
    } else if path == "/" || path.starts_with("/local") {
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
            reply(StatusCode::OK, "text/html; charset=utf-8", page(&state))
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
    let body = match body_json(req).await {
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
    let offset = std::fs::metadata(state.upload_path(key)).map_or(0, |m| m.len());
    json_reply(StatusCode::OK, &json!({"offset": offset}))
}

fn offset_mismatch(held: u64, sent: Option<u64>) -> Reply {
    json_reply(
        StatusCode::PRECONDITION_FAILED,
        &json!({"debug_info": {
            "retriable": true,
            "type": "OffsetMismatch",
            "message": format!("offset {} does not match the {held} bytes held; ask for the offset again", sent.map_or("missing".to_string(), |s| s.to_string())),
        }}),
    )
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
    if let Err(r) = user_of(state, token) {
        return Ok(r);
    }
    if !is_safe_key(key) {
        return Ok(bad_request("the session key is not a valid name"));
    }
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let sent_offset = header("offset").and_then(|o| o.parse::<u64>().ok());
    let entity_length = header("x-entity-length").and_then(|o| o.parse::<u64>().ok());
    let lock = state.upload_lock(key);
    let _guard = lock.lock().await;
    let path = state.upload_path(key);
    let held = std::fs::metadata(&path).map_or(0, |m| m.len());
    if sent_offset != Some(held) {
        return Ok(offset_mismatch(held, sent_offset));
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| Cut(format!("cannot store {key}: {e}")))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut body = req.into_body();
    let mut received = 0u64;
    let mut total = held;
    let outcome: Result<(), Cut> = loop {
        match body.frame().await {
            None => break Ok(()),
            Some(Err(e)) => break Err(Cut(format!("the upload of {key} broke off: {e}"))),
            Some(Ok(frame)) => {
                let Ok(mut data) = frame.into_data() else {
                    continue;
                };
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
                    return Ok(bad_request("the body is longer than X-Entity-Length"));
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

async fn finish_upload(state: &State, token: Option<&str>, req: Request<Incoming>) -> Reply {
    state.count("finish_upload");
    let user = match user_of(state, token) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let body = match body_json(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(handle) = body["file_handle"].as_str().map(str::to_string) else {
        return bad_request("file_handle is missing");
    };
    let file_type = body["file_type"].as_str().unwrap_or("").to_string();
    if !matches!(file_type.as_str(), "zip" | "mly_bundle_manifest") {
        return bad_request(&format!(
            "file_type '{file_type}' is not accepted here (zip or mly_bundle_manifest)"
        ));
    }
    let organization = match &body["organization_id"] {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
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
    let Some(path) = state.upload_for_handle(&handle) else {
        return bad_request(&format!("unknown file handle {handle}"));
    };
    let _guard = state.finish_lock.lock().await;
    if let Some(done) = state.sequence_for_handle(&handle) {
        return json_reply(StatusCode::OK, &json!({"cluster_id": done.cluster_id}));
    }
    let received = if file_type == "zip" {
        validate::check_zip(&path)
    } else {
        match std::fs::read(&path) {
            Ok(bytes) => validate::check_manifest(&bytes, |h| state.upload_for_handle(h)),
            Err(e) => Err(format!("the manifest cannot be read ({e})")),
        }
    };
    let received = match received {
        Ok(r) => r,
        Err(why) => return bad_request(&format!("finish_upload refused: {why}")),
    };
    let cluster_id = format!("{}", 7_000_000 + state.next_number());
    let folder = state.data_dir.join("sequences").join(&cluster_id);
    if let Err(e) = std::fs::create_dir_all(&folder) {
        return graph_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("cannot store: {e}"),
            "Error",
            1,
        );
    }
    let mut images = Vec::with_capacity(received.len());
    for (i, r) in received.iter().enumerate() {
        let file = format!("{i}.jpg");
        match validate::store(r, &folder.join(&file)) {
            Ok(bytes) => images.push(StoredImage {
                id: format!("{}", 900_000_000 + state.next_number()),
                file,
                bytes,
                description: r.description.clone(),
            }),
            Err(e) => {
                return graph_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &format!("cannot store: {e}"),
                    "Error",
                    1,
                );
            }
        }
    }
    let record = SequenceRecord {
        cluster_id: cluster_id.clone(),
        user_id: user,
        organization_id: organization,
        file_type,
        file_handle: handle,
        received_at: jiff::Timestamp::now().to_string(),
        images,
    };
    if let Err(e) = state.add_sequence(record) {
        return graph_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("cannot store: {e}"),
            "Error",
            1,
        );
    }
    json_reply(StatusCode::OK, &json!({"cluster_id": cluster_id}))
}

fn stored_file(state: &State, cluster: &str, file: &str) -> Reply {
    state.count("local");
    let safe = |s: &str| {
        !s.is_empty()
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.')
            && !s.starts_with('.')
    };
    if !safe(cluster) || !safe(file) || !file.ends_with(".jpg") {
        return graph_error(StatusCode::NOT_FOUND, "no such file", "NotFound", 404);
    }
    match std::fs::read(
        Path::new(&state.data_dir)
            .join("sequences")
            .join(cluster)
            .join(file),
    ) {
        Ok(b) => reply(StatusCode::OK, "image/jpeg", b),
        Err(_) => graph_error(StatusCode::NOT_FOUND, "no such file", "NotFound", 404),
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The page a person looks at: received sequences with their photos.
fn page(state: &State) -> String {
    let sequences = state.sequences();
    let mut html = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Mapillary local server</title>\
         <style>body{font-family:sans-serif;margin:2em}figure{display:inline-block;margin:4px;font-size:11px}\
         img{width:160px;height:120px;object-fit:cover;border:1px solid #ccc}</style></head><body>\
         <h1>Mapillary local server</h1>",
    );
    html.push_str(&format!(
        "<p>{} sequences received. JSON: <a href=\"/local/sequences\">/local/sequences</a>, \
         <a href=\"/local/stats\">/local/stats</a>.</p>",
        sequences.len()
    ));
    for s in sequences.iter().rev() {
        html.push_str(&format!(
            "<h2>Sequence {} <small>({} photos, {}, user {}{})</small></h2>",
            escape(&s.cluster_id),
            s.images.len(),
            escape(&s.file_type),
            escape(&s.user_id),
            s.organization_id
                .as_deref()
                .map(|o| format!(", organization {}", escape(o)))
                .unwrap_or_default()
        ));
        for img in &s.images {
            let time = img.description["MAPCaptureTime"].as_str().unwrap_or("");
            html.push_str(&format!(
                "<figure><img src=\"/local/sequences/{}/{}\" alt=\"{}\"><figcaption>{} {}</figcaption></figure>",
                escape(&s.cluster_id),
                escape(&img.file),
                escape(&img.file),
                escape(&img.file),
                escape(time)
            ));
        }
    }
    html.push_str("</body></html>\n");
    html
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
        assert_eq!(
            escape("<a href=\"x\">&"),
            "&lt;a href=&quot;x&quot;&gt;&amp;"
        );
    }
}
