//! Every endpoint and fault of the local server, over real HTTP.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use mapillary_core::exif::{ExifEdits, RewriteOptions, rewrite_file, tags};
use mapillary_local_server::faults;
use mapillary_local_server::seed::{DEMO_CLIENT_TOKEN, DEMO_TOKEN, SeedImage, SeedUser};
use mapillary_local_server::{Config, LocalServer, Seed};
use serde_json::{Value, json};

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent()
}

/// (status, body as JSON or text) of a request.
fn call(req: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> (u16, Value) {
    let mut r = req.unwrap();
    let status = r.status().as_u16();
    let text = r.body_mut().read_to_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn auth(token: &str) -> String {
    format!("OAuth {token}")
}

fn server(dir: &Path, seed: Seed, fault_specs: &[&str]) -> LocalServer {
    let mut config = Config::new(dir);
    config.seed = seed;
    config.faults = fault_specs
        .iter()
        .map(|s| faults::parse(s).unwrap())
        .collect();
    LocalServer::start(config).unwrap()
}

fn get(s: &LocalServer, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut r = agent().get(format!("{}{path}", s.url()));
    if let Some(t) = token {
        r = r.header("Authorization", auth(t));
    }
    call(r.call())
}

fn post_json(s: &LocalServer, path: &str, token: &str, body: &Value) -> (u16, Value) {
    call(
        agent()
            .post(format!("{}{path}", s.url()))
            .header("Authorization", auth(token))
            .content_type("application/json")
            .send(body.to_string()),
    )
}

fn upload(s: &LocalServer, key: &str, offset: u64, bytes: &[u8]) -> (u16, Value) {
    call(
        agent()
            .post(format!("{}/{key}", s.upload_url()))
            .header("Authorization", auth(DEMO_TOKEN))
            .header("Offset", offset.to_string())
            .header("X-Entity-Name", key)
            .send(bytes),
    )
}

fn offset(s: &LocalServer, key: &str) -> u64 {
    let (status, v) = call(
        agent()
            .get(format!("{}/{key}", s.upload_url()))
            .header("Authorization", auth(DEMO_TOKEN))
            .call(),
    );
    assert_eq!(status, 200, "{v}");
    v["offset"].as_u64().unwrap()
}

/// A JPEG whose ImageDescription holds `description`.
fn photo(dir: &Path, name: &str, description: &str) -> Vec<u8> {
    let path = dir.join(name);
    std::fs::write(
        &path,
        mapillary_local_server::thumbnail::thumbnail(name, "256").unwrap(),
    )
    .unwrap();
    let mut edits = ExifEdits::new();
    edits.set_text(tags::IMAGE_DESCRIPTION, description);
    rewrite_file(&path, &edits, RewriteOptions::default()).unwrap();
    std::fs::read(&path).unwrap()
}

fn description(lat: f64) -> String {
    json!({"MAPLatitude": lat, "MAPLongitude": 13.4, "MAPCaptureTime": "2021_06_01_10_00_00_000"})
        .to_string()
}

#[test]
fn login_me_and_organizations() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), Seed::default(), &[]);
    let login = |client: &str, password: &str| {
        post_json(
            &s,
            "/login",
            client,
            &json!({"email": "demo@example.com", "password": password, "locale": "en_US"}),
        )
    };
    let (status, v) = login(DEMO_CLIENT_TOKEN, "demo-password");
    assert_eq!(status, 200, "{v}");
    let token = v["access_token"].as_str().unwrap().to_string();
    assert_eq!(v["user_id"], "100001");
    let (status, v) = login(DEMO_CLIENT_TOKEN, "wrong");
    assert_eq!(
        (status, v["error"]["message"].as_str().unwrap()),
        (401, "Invalid email or password")
    );
    let (status, v) = login("MLY|9|other-app", "demo-password");
    assert_eq!(status, 401);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("client token")
    );

    let (status, v) = get(&s, "/me?fields=id,username", Some(&token));
    assert_eq!((status, v["username"].as_str()), (200, Some("demo")));
    assert!(v.get("organizations").is_none());
    let (_, v) = get(&s, "/me?fields=id,username,organizations", Some(&token));
    assert_eq!(v["organizations"]["data"][0]["name"], "Demo Mappers");
    // ?access_token= works for reads.
    let (status, _) = get(
        &s,
        &format!("/me?fields=id&access_token={DEMO_TOKEN}"),
        None,
    );
    assert_eq!(status, 200);
    let (status, v) = get(&s, "/me", None);
    assert_eq!(
        (status, v["error"]["type"].as_str()),
        (401, Some("OAuthException"))
    );
    let (status, v) = get(&s, "/me", Some("MLYLOCAL-forged"));
    assert_eq!((status, v["error"]["code"].as_u64()), (401, Some(190)));

    let (status, v) = get(
        &s,
        "/200001?fields=id,name,slug,description",
        Some(DEMO_CLIENT_TOKEN),
    );
    assert_eq!((status, v["slug"].as_str()), (200, Some("demo-mappers")));
    let (status, v) = get(&s, "/999999?fields=id,name", Some(&token));
    assert_eq!(status, 400);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("does not exist")
    );

    // A server that does not list organizations (like the public API).
    let dir2 = tempfile::tempdir().unwrap();
    let s2 = server(
        dir2.path(),
        Seed {
            list_organizations: false,
            ..Seed::default()
        },
        &[],
    );
    let (status, v) = get(&s2, "/me?fields=id,organizations", Some(DEMO_TOKEN));
    assert_eq!(status, 400);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("organizations")
    );
}

#[test]
fn images_by_box_limit_and_thumbnails() {
    let dir = tempfile::tempdir().unwrap();
    let mut seed = Seed {
        generate_images: None,
        ..Seed::default()
    };
    let image = |id: &str, lat: f64, lon: f64, status: Option<u16>| SeedImage {
        id: id.to_string(),
        lat,
        lon,
        captured_at: 1,
        compass_angle: 0.0,
        sequence: "s".to_string(),
        thumbnail_status: status,
    };
    seed.images = vec![
        image("1", 10.0, 20.0, None),
        image("2", 10.05, 20.05, None), // on the box's corner: inside
        image("3", 10.2, 20.0, None),   // outside
        image("../../etc/passwd", 10.01, 20.01, None),
        image("5", 10.02, 20.02, Some(500)),
    ];
    let s = server(dir.path(), seed, &[]);
    let (status, v) = get(
        &s,
        "/images?bbox=19.99,9.99,20.05,10.05&fields=id,geometry,thumb_1024_url",
        Some(DEMO_CLIENT_TOKEN),
    );
    assert_eq!(status, 200, "{v}");
    let ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["1", "2", "../../etc/passwd", "5"]);
    assert_eq!(v["data"][0]["geometry"]["coordinates"], json!([20.0, 10.0]));
    assert!(
        v["data"][0].get("captured_at").is_none(),
        "only the fields asked for"
    );
    let (_, v) = get(
        &s,
        "/images?bbox=19.99,9.99,20.05,10.05&fields=id&limit=2",
        Some(DEMO_TOKEN),
    );
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    // Too large a box: the service fails, as the real one does.
    let (status, v) = get(&s, "/images?bbox=19,9,21,11&fields=id", Some(DEMO_TOKEN));
    assert_eq!(status, 500);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("reduce the amount of data")
    );
    let (status, _) = get(&s, "/images?bbox=19,9,21,11", None);
    assert_eq!(status, 401);

    // Thumbnails: no token needed, and the server counts any that come.
    let url = format!("{}/thumbnails/1/1024.jpg", s.url());
    let mut r = agent().get(&url).call().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let jpeg = r.body_mut().read_to_vec().unwrap();
    assert!(jpeg.starts_with(&[0xFF, 0xD8]));
    assert_eq!(s.stats().thumbnail_requests_with_token, 0);
    let (status, _) = get(&s, "/thumbnails/1/1024.jpg", Some(DEMO_TOKEN));
    assert_eq!(status, 200);
    assert_eq!(s.stats().thumbnail_requests_with_token, 1);
    let (status, _) = get(&s, "/thumbnails/5/1024.jpg", None);
    assert_eq!(status, 500);
    let (status, _) = get(&s, "/thumbnails/nope/1024.jpg", None);
    assert_eq!(status, 404);
}

/// Sends a raw HTTP/1.1 request and returns what came back (possibly
/// nothing, when the server cut the connection).
fn raw(s: &LocalServer, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(s.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn resumable_uploads_fixed_chunked_wrong_offset_and_cut() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(
        dir.path(),
        Seed::default(),
        &["drop-after=1000:first=1@upload"],
    );
    let data: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(offset(&s, "k1.jpg"), 0);
    // The first POST is cut after 1000 bytes; they are kept.
    let cut = agent()
        .post(format!("{}/k1.jpg", s.upload_url()))
        .header("Authorization", auth(DEMO_TOKEN))
        .header("Offset", "0")
        .send(&data[..]);
    assert!(cut.is_err(), "the connection is cut");
    assert_eq!(offset(&s, "k1.jpg"), 1000);
    // A wrong offset is refused, retriably.
    let (status, v) = upload(&s, "k1.jpg", 0, &data);
    assert_eq!(status, 412);
    assert_eq!(v["debug_info"]["retriable"], true);
    // Resuming from the offset completes it.
    let (status, v) = upload(&s, "k1.jpg", 1000, &data[1000..]);
    assert_eq!((status, v["h"].as_str()), (200, Some("h.k1.jpg")));
    assert_eq!(
        std::fs::read(s.data_dir().join("uploads/k1.jpg")).unwrap(),
        data
    );

    // Chunked transfer encoding, as the official client sends it.
    let body = b"hello chunked world";
    let mut req = format!(
        "POST /mapillary_public_uploads/k2.bin HTTP/1.1\r\nHost: x\r\nAuthorization: OAuth {DEMO_TOKEN}\r\nOffset: 0\r\nX-Entity-Name: k2.bin\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    for part in body.chunks(7) {
        req.extend(format!("{:x}\r\n", part.len()).as_bytes());
        req.extend(part);
        req.extend(b"\r\n");
    }
    req.extend(b"0\r\n\r\n");
    let answer = raw(&s, &req);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"h\":\"h.k2.bin\""), "{answer}");
    assert_eq!(
        std::fs::read(s.data_dir().join("uploads/k2.bin")).unwrap(),
        body
    );

    // Without a token, or with an unsafe key: refused.
    let (status, _) = call(
        agent()
            .post(format!("{}/k3", s.upload_url()))
            .header("Offset", "0")
            .send(&b"x"[..]),
    );
    assert_eq!(status, 401);
    let (status, _) = upload(&s, "..hidden", 0, b"x");
    assert_eq!(status, 400);
    let stats = s.stats();
    assert_eq!(stats.upload_bytes_by_key["k1.jpg"], 5000);
    assert_eq!(stats.faults_fired, vec![1]);
}

#[test]
fn finish_upload_checks_bundles_and_zips() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), Seed::default(), &[]);
    let photos = tempfile::tempdir().unwrap();
    let good0 = photo(photos.path(), "a", &description(52.1));
    let good1 = photo(photos.path(), "b", &description(52.2));
    let no_time = photo(photos.path(), "c", r#"{"MAPLatitude":1,"MAPLongitude":2}"#);
    let plain = mapillary_local_server::thumbnail::thumbnail("d", "256").unwrap();
    for (key, bytes) in [
        ("i0.jpg", &good0),
        ("i1.jpg", &good1),
        ("i2.jpg", &no_time),
        ("i3.jpg", &plain),
    ] {
        assert_eq!(upload(&s, key, 0, bytes).0, 200);
    }
    let manifest = |handles: &[&str]| {
        json!({"image_handles": handles, "upload_type": "images", "version": "1"})
            .to_string()
            .into_bytes()
    };
    let finish = |handle: &str, file_type: &str, org: Option<&str>| {
        let mut body = json!({"file_handle": handle, "file_type": file_type});
        if let Some(o) = org {
            body["organization_id"] = json!(o);
        }
        post_json(&s, "/finish_upload", DEMO_TOKEN, &body)
    };
    upload(&s, "m_ok.json", 0, &manifest(&["h.i0.jpg", "h.i1.jpg"]));
    let (status, v) = finish("h.m_ok.json", "mly_bundle_manifest", Some("200001"));
    assert_eq!(status, 200, "{v}");
    let cluster = v["cluster_id"].as_str().unwrap().to_string();
    // Finishing the same handle again does not make a second sequence.
    let (_, v) = finish("h.m_ok.json", "mly_bundle_manifest", Some("200001"));
    assert_eq!(v["cluster_id"], cluster.as_str());
    assert_eq!(s.sequences().len(), 1);
    let seq = &s.sequences()[0];
    assert_eq!(seq.organization_id.as_deref(), Some("200001"));
    assert_eq!(seq.images.len(), 2);
    assert_eq!(seq.images[1].description["MAPLatitude"], 52.2);
    assert_eq!(
        std::fs::read(s.data_dir().join("sequences").join(&cluster).join("0.jpg")).unwrap(),
        good0
    );

    for (handles, message) in [
        (
            vec!["h.i0.jpg", "h.nope.jpg"],
            "image_handles[1]: unknown file handle h.nope.jpg",
        ),
        (vec!["h.i2.jpg"], "no MAPCaptureTime"),
        (
            vec!["h.i3.jpg"],
            "it has no EXIF, so no Mapillary description",
        ),
    ] {
        let key = format!("m{}.json", handles.len() + message.len());
        upload(&s, &key, 0, &manifest(&handles));
        let (status, v) = finish(&format!("h.{key}"), "mly_bundle_manifest", None);
        assert_eq!(status, 400, "{v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(message),
            "{v}"
        );
    }
    let (status, _) = finish("h.never-uploaded", "mly_bundle_manifest", None);
    assert_eq!(status, 400);
    let (status, v) = finish("h.m_ok.json", "mly_bundle_manifest", Some("999"));
    assert_eq!(status, 403, "{v}");
    let (status, _) = finish("h.m_ok.json", "mp4", None);
    assert_eq!(status, 400);

    // A zip: N.jpg entries and the sequence_md5sum comment.
    let zip_path = photos.path().join("seq.zip");
    {
        let mut z = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (i, bytes) in [&good1, &good0].iter().enumerate() {
            z.start_file(format!("{i}.jpg"), options).unwrap();
            z.write_all(bytes).unwrap();
        }
        z.set_comment(r#"{"sequence_md5sum":"abc"}"#).unwrap();
        z.finish().unwrap();
    }
    assert_eq!(
        upload(&s, "z.zip", 0, &std::fs::read(&zip_path).unwrap()).0,
        200
    );
    let (status, v) = finish("h.z.zip", "zip", None);
    assert_eq!(status, 200, "{v}");
    let seq = s
        .sequences()
        .into_iter()
        .find(|q| q.file_type == "zip")
        .unwrap();
    assert_eq!(seq.images[0].description["MAPLatitude"], 52.2);
    // Not a zip.
    upload(&s, "bad.zip", 0, b"not a zip");
    let (status, v) = finish("h.bad.zip", "zip", None);
    assert_eq!(status, 400);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not a valid zip"),
        "{v}"
    );

    // Received images can be searched and their thumbnails served.
    let (_, v) = get(
        &s,
        "/images?bbox=13.39,52.05,13.41,52.25&fields=id,thumb_256_url",
        Some(DEMO_TOKEN),
    );
    assert!(v["data"].as_array().unwrap().len() >= 2, "{v}");
    // The listing and the page show the sequences.
    let (status, v) = get(&s, "/local/sequences", None);
    assert_eq!((status, v.as_array().unwrap().len()), (200, 2));
    let mut page = agent().get(format!("{}/", s.url())).call().unwrap();
    let html = page.body_mut().read_to_string().unwrap();
    assert!(
        html.contains(&format!("/local/sequences/{cluster}/0.jpg")),
        "{html}"
    );
    let (status, _) = get(&s, &format!("/local/sequences/{cluster}/0.jpg"), None);
    assert_eq!(status, 200);
    let (status, _) = get(&s, "/local/sequences/..%2F..%2Fetc/passwd.jpg", None);
    assert_eq!(status, 404);

    // A restart on the same folder keeps what was received.
    s.stop();
    let again = server(dir.path(), Seed::default(), &[]);
    assert_eq!(again.sequences().len(), 2);
}

#[test]
fn faults_5xx_429_slow_and_expiring_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let seed = Seed {
        users: vec![SeedUser {
            id: "1".to_string(),
            username: "u".to_string(),
            email: "u@example.com".to_string(),
            password: "p".to_string(),
            access_token: Some("FIXED".to_string()),
            expired_tokens: vec!["OLD".to_string()],
        }],
        ..Seed::default()
    };
    let mut config = Config::new(dir.path());
    config.seed = seed;
    config.faults = [
        "503:first=1@graph",
        "429:every=2,retry-after=3@upload",
        "slow=300ms@thumbnails",
    ]
    .iter()
    .map(|f| faults::parse(f).unwrap())
    .collect();
    config.token_ttl = Some(Duration::from_millis(300));
    let s = LocalServer::start(config).unwrap();

    // 503 first, then success; with Retry-After.
    let r = agent()
        .get(format!("{}/me", s.url()))
        .header("Authorization", "OAuth FIXED")
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 503);
    assert_eq!(r.headers().get("retry-after").unwrap(), "1");
    // The seeded fixed token is older than the TTL by now? Not yet.
    let (status, _) = get(&s, "/me", Some("FIXED"));
    assert_eq!(status, 200);
    // An expired token.
    let (status, v) = get(&s, "/me", Some("OLD"));
    assert_eq!(status, 401);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Session has expired")
    );
    // Tokens from a login expire after the TTL.
    let (_, v) = post_json(
        &s,
        "/login",
        DEMO_CLIENT_TOKEN,
        &json!({"email": "u@example.com", "password": "p"}),
    );
    let fresh = v["access_token"].as_str().unwrap().to_string();
    assert_eq!(get(&s, "/me", Some(&fresh)).0, 200);
    std::thread::sleep(Duration::from_millis(350));
    let (status, v) = get(&s, "/me", Some(&fresh));
    assert_eq!((status, v["error"]["code"].as_u64()), (401, Some(190)));

    // Every second upload request: 429 with Retry-After 3.
    let statuses: Vec<u16> = (0..4)
        .map(|_| {
            let r = agent()
                .get(format!("{}/x.jpg", s.upload_url()))
                .header("Authorization", "OAuth OLD")
                .call()
                .unwrap();
            if r.status().as_u16() == 429 {
                assert_eq!(r.headers().get("retry-after").unwrap(), "3");
            }
            r.status().as_u16()
        })
        .collect();
    assert_eq!(
        statuses.iter().filter(|&&c| c == 429).count(),
        2,
        "{statuses:?}"
    );
    // Slow thumbnails.
    let t = Instant::now();
    let (status, _) = get(&s, "/thumbnails/4000001/256.jpg", None);
    assert_eq!(status, 200);
    assert!(t.elapsed() >= Duration::from_millis(300));
    assert_eq!(s.stats().faults_fired, vec![1, 2, 1]);
}

/// A manifest of `handles`.
fn manifest(handles: &[String]) -> Vec<u8> {
    json!({"image_handles": handles, "upload_type": "images", "version": "1"})
        .to_string()
        .into_bytes()
}

fn finish(s: &LocalServer, handle: &str, file_type: &str) -> (u16, Value) {
    post_json(
        s,
        "/finish_upload",
        DEMO_TOKEN,
        &json!({"file_handle": handle, "file_type": file_type}),
    )
}

fn message(v: &Value) -> String {
    v["error"]["message"]
        .as_str()
        .or_else(|| v["debug_info"]["message"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// A zip of `images` as N.jpg entries with the sequence comment.
fn zip_of(images: &[&[u8]]) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (i, bytes) in images.iter().enumerate() {
        z.start_file(format!("{i}.jpg"), options).unwrap();
        z.write_all(bytes).unwrap();
    }
    z.set_comment(r#"{"sequence_md5sum":"abc"}"#).unwrap();
    z.finish().unwrap().into_inner()
}

const BASE: &str =
    r#""MAPLatitude":52.5,"MAPLongitude":13.4,"MAPCaptureTime":"2021_06_01_10_00_00_000""#;

#[test]
fn descriptions_outside_the_official_schema_are_refused_naming_the_photo_and_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), Seed::default(), &[]);
    let photos = tempfile::tempdir().unwrap();
    // What the official client 0.14.7 embeds (observed): accepted.
    let official = photo(
        photos.path(),
        "official",
        r#"{"MAPAltitude":70.3,"MAPCaptureTime":"2018_06_08_20_24_11_000","MAPCompassHeading":{"MagneticHeading":270.89,"TrueHeading":270.89},"MAPDeviceMake":"SONY","MAPDeviceModel":"HDR-AS300","MAPFilename":"DSC00001.JPG","MAPLatitude":45.5169031,"MAPLongitude":-122.572765,"MAPOrientation":1}"#,
    );
    assert_eq!(upload(&s, "official.jpg", 0, &official).0, 200);
    for (name, extra, field) in [
        (
            "heading",
            r#""MAPCompassHeading":{"TrueHeading":"north","MagneticHeading":1}"#,
            "MAPCompassHeading.TrueHeading",
        ),
        ("orientation", r#""MAPOrientation":"1.5""#, "MAPOrientation"),
        ("unknown", r#""MAPFoo":"bar""#, "MAPFoo"),
    ] {
        let bad = photo(photos.path(), name, &format!("{{{BASE},{extra}}}"));
        let key = format!("{name}.jpg");
        assert_eq!(upload(&s, &key, 0, &bad).0, 200);
        // In a bundle, second after a good photo.
        let m = format!("m_{name}.json");
        let handles = ["h.official.jpg".to_string(), format!("h.{key}")];
        assert_eq!(upload(&s, &m, 0, &manifest(&handles)).0, 200);
        let (status, v) = finish(&s, &format!("h.{m}"), "mly_bundle_manifest");
        assert_eq!(status, 400, "{v}");
        let text = message(&v);
        assert!(
            text.contains(&format!("image_handles[1] (h.{key})")) && text.contains(field),
            "{name}: {text}"
        );
        // In a zip.
        let z = format!("z_{name}.zip");
        assert_eq!(upload(&s, &z, 0, &zip_of(&[&official, &bad])).0, 200);
        let (status, v) = finish(&s, &format!("h.{z}"), "zip");
        assert_eq!(status, 400, "{v}");
        let text = message(&v);
        assert!(
            text.contains("zip entry 1.jpg") && text.contains(field),
            "{name}: {text}"
        );
    }
    assert!(s.sequences().is_empty());
    // Refused uploads stay changeable: nothing was finished.
    assert_eq!(upload(&s, "heading.jpg", 0, b"x").0, 412);
    // The official photo alone is accepted.
    assert_eq!(
        upload(
            &s,
            "m_ok.json",
            0,
            &manifest(&["h.official.jpg".to_string()])
        )
        .0,
        200
    );
    let (status, v) = finish(&s, "h.m_ok.json", "mly_bundle_manifest");
    assert_eq!(status, 200, "{v}");
    let seq = &s.sequences()[0];
    assert_eq!((seq.images[0].width, seq.images[0].height), (32, 24));
    assert_eq!(seq.images[0].upload_key.as_deref(), Some("official.jpg"));
}

/// `jpeg` with its frame header saying `width` × `height`.
fn with_frame_size(jpeg: &[u8], width: u16, height: u16) -> Vec<u8> {
    let mut out = jpeg.to_vec();
    let sof = (2..out.len() - 1)
        .find(|&i| out[i] == 0xFF && out[i + 1] == 0xC0)
        .unwrap();
    out[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    out[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
    out
}

#[test]
fn sequences_beyond_mapillarys_limits_are_refused_naming_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), Seed::default(), &[]);
    let photos = tempfile::tempdir().unwrap();
    let tiny = photo(photos.path(), "tiny", &format!("{{{BASE}}}"));

    // 1,001 images in a zip: refused; 1,000: accepted.
    let many: Vec<&[u8]> = vec![&tiny; 1001];
    assert_eq!(upload(&s, "z1001.zip", 0, &zip_of(&many)).0, 200);
    let (status, v) = finish(&s, "h.z1001.zip", "zip");
    assert_eq!(status, 400, "{v}");
    assert!(
        message(&v).contains("1001 images, more than the 1000 one sequence may have"),
        "{v}"
    );
    assert_eq!(upload(&s, "z1000.zip", 0, &zip_of(&many[..1000])).0, 200);
    let (status, v) = finish(&s, "h.z1000.zip", "zip");
    assert_eq!(status, 200, "{v}");
    assert_eq!(s.sequences()[0].images.len(), 1000);

    // The same in a bundle of 1,001 uploaded images.
    let handles: Vec<String> = (0..1001)
        .map(|i| {
            let key = format!("t{i}.jpg");
            assert_eq!(upload(&s, &key, 0, &tiny).0, 200);
            format!("h.{key}")
        })
        .collect();
    assert_eq!(upload(&s, "m1001.json", 0, &manifest(&handles)).0, 200);
    let (status, v) = finish(&s, "h.m1001.json", "mly_bundle_manifest");
    assert_eq!(status, 400, "{v}");
    assert!(message(&v).contains("1001 images"), "{v}");
    assert_eq!(
        upload(&s, "m1000.json", 0, &manifest(&handles[..1000])).0,
        200
    );
    let (status, v) = finish(&s, "h.m1000.json", "mly_bundle_manifest");
    assert_eq!(status, 200, "{v}");
    assert_eq!(s.sequences()[1].images.len(), 1000);

    // 6 gigapixels: two images of 65,535 × 65,535 (4.3 gigapixels each)
    // are too many; one is not.
    let huge = with_frame_size(&tiny, 65_535, 65_535);
    assert_eq!(upload(&s, "huge.zip", 0, &zip_of(&[&huge, &huge])).0, 200);
    let (status, v) = finish(&s, "h.huge.zip", "zip");
    assert_eq!(status, 400, "{v}");
    let text = message(&v);
    assert!(
        text.contains("6 gigapixels") && text.contains("zip entry 1.jpg"),
        "{text}"
    );
    assert_eq!(upload(&s, "one_huge.zip", 0, &zip_of(&[&huge])).0, 200);
    assert_eq!(finish(&s, "h.one_huge.zip", "zip").0, 200);
    s.stop();

    // 110 GiB cannot be sent in a test: the same rule with a smaller limit.
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path());
    config.sequence_limits.max_bytes = 2 * tiny.len() as u64;
    let s = LocalServer::start(config).unwrap();
    assert_eq!(
        upload(&s, "three.zip", 0, &zip_of(&[tiny.as_slice(); 3])).0,
        200
    );
    let (status, v) = finish(&s, "h.three.zip", "zip");
    assert_eq!(status, 400, "{v}");
    assert!(
        message(&v).contains("the most one sequence may hold (reached at zip entry 2.jpg"),
        "{v}"
    );
    assert_eq!(
        upload(&s, "two.zip", 0, &zip_of(&[tiny.as_slice(); 2])).0,
        200
    );
    assert_eq!(finish(&s, "h.two.zip", "zip").0, 200);
}

#[test]
fn logging_is_answered_like_the_graph_api() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), Seed::default(), &[]);
    // As the official client sends it: the app's client token, an action
    // and a summary.
    let event = json!({"action_type": "upload_finished_upload", "properties": {"total_sequence_count": 2, "size": 6.4}});
    let (status, v) = post_json(&s, "/logging", DEMO_CLIENT_TOKEN, &event);
    assert_eq!((status, &v), (200, &json!({"success": true})));
    let (status, _) = post_json(&s, "/logging", DEMO_TOKEN, &event);
    assert_eq!(status, 200);
    assert_eq!(s.stats().logged_events["upload_finished_upload"], 2);
    let (status, _) = post_json(&s, "/logging", "MLY|9|someone-else", &event);
    assert_eq!(status, 401);
    let (status, v) = post_json(
        &s,
        "/logging",
        DEMO_CLIENT_TOKEN,
        &json!({"properties": {}}),
    );
    assert_eq!(status, 400);
    assert!(message(&v).contains("action_type"), "{v}");
    let (status, v) = post_json(
        &s,
        "/logging",
        DEMO_CLIENT_TOKEN,
        &json!({"action_type": "x", "properties": 1}),
    );
    assert_eq!(status, 400);
    assert!(message(&v).contains("properties"), "{v}");
}

#[test]
fn videos_are_accepted_stored_as_received_and_shown() {
    use mapillary_local_server::video::{mp4_box, sample_mp4};
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), Seed::default(), &[]);
    // What the official client 0.14.7 makes of any video: an MP4 with a
    // CAMM track, finished as mly_camm_video.
    let camm = sample_mp4(b"camm", b"camm", &[9u8; 5000]);
    let key = format!(
        "mly_tools_{}.mp4",
        mapillary_local_server::state::md5_hex(&camm)
    );
    assert_eq!(upload(&s, &key, 0, &camm).0, 200);
    let (status, v) = finish(&s, &format!("h.{key}"), "mly_camm_video");
    assert_eq!(status, 200, "{v}");
    let cluster = v["cluster_id"].as_str().unwrap().to_string();
    let seq = s
        .sequences()
        .into_iter()
        .find(|q| q.cluster_id == cluster)
        .unwrap();
    let video = seq.video.as_ref().unwrap();
    assert_eq!(
        (video.file.as_str(), video.bytes),
        ("video.mp4", camm.len() as u64)
    );
    assert!(seq.images.is_empty());
    // Stored as received, shown on the page and served.
    let stored = dir
        .path()
        .join("sequences")
        .join(&cluster)
        .join("video.mp4");
    assert_eq!(std::fs::read(&stored).unwrap(), camm);
    let mut page = agent().get(format!("{}/", s.url())).call().unwrap();
    let html = page.body_mut().read_to_string().unwrap();
    assert!(
        html.contains(&format!("src=\"/local/sequences/{cluster}/video.mp4\"")),
        "{html}"
    );
    let mut r = agent()
        .get(format!("{}/local/sequences/{cluster}/video.mp4", s.url()))
        .call()
        .unwrap();
    assert_eq!(r.headers().get("content-type").unwrap(), "video/mp4");
    assert_eq!(r.body_mut().read_to_vec().unwrap(), camm);
    let (_, listing) = get(&s, "/local/sequences", None);
    assert_eq!(listing[0]["video"]["file"], "video.mp4");
    // Finished: it can no longer be changed.
    let (status, _) = upload(&s, &key, camm.len() as u64, b"more");
    assert_eq!(status, 409);
    assert_eq!(std::fs::read(&stored).unwrap(), camm);

    // A video without a CAMM track has no GPS Mapillary can read.
    let plain = sample_mp4(b"vide", b"avc1", &[1u8; 100]);
    assert_eq!(upload(&s, "plain.mp4", 0, &plain).0, 200);
    let (status, v) = finish(&s, "h.plain.mp4", "mly_camm_video");
    assert_eq!(status, 400);
    assert!(message(&v).contains("no CAMM track"), "{v}");
    assert_eq!(upload(&s, "notvideo.mp4", 0, b"hello").0, 200);
    let (status, v) = finish(&s, "h.notvideo.mp4", "mly_camm_video");
    assert_eq!(status, 400);
    assert!(message(&v).contains("not an MP4"), "{v}");

    // A BlackVue video as older official clients sent it.
    let mut blackvue = plain.clone();
    blackvue.extend(mp4_box(
        b"free",
        &mp4_box(b"gps ", b"[1623000000000]$GPRMC,..."),
    ));
    assert_eq!(upload(&s, "bv.mp4", 0, &blackvue).0, 200);
    assert_eq!(finish(&s, "h.bv.mp4", "mly_blackvue_video").0, 200);
    let (status, v) = finish(&s, "h.plain.mp4", "mly_blackvue_video");
    assert_eq!(status, 400);
    assert!(message(&v).contains("BlackVue GPS"), "{v}");
    // Unknown file types are named.
    let (status, v) = finish(&s, "h.plain.mp4", "gopro");
    assert_eq!(status, 400);
    assert!(message(&v).contains("file_type 'gopro'"), "{v}");

    // Kept across a restart.
    s.stop();
    let again = server(dir.path(), Seed::default(), &[]);
    assert_eq!(again.sequences().len(), 2);
    assert_eq!(upload(&again, &key, camm.len() as u64, b"more").0, 409);
}
