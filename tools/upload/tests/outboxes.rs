//! Where upload puts photos: success/ and failed/ keep each photo's folder
//! relative to the path given; only a refusal for good sends a photo to
//! failed/; a photo that cannot be moved fails the run; folders the user
//! names are uploaded.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use mapillary_local_server::Seed;
use mapillary_testkit::sandbox::{DEMO_TOKEN, Sandbox};
use mapillary_testkit::{args, assert_line, tagged_photo};

const BIN: &str = env!("CARGO_BIN_EXE_upload");

/// Folders `a`, `b`, `c` under `root`, each holding IMG_000 … IMG_004 of a
/// sequence of its own.
fn equal_names(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for (k, folder) in ["a", "b", "c"].into_iter().enumerate() {
        let dir = root.join(folder);
        fs::create_dir_all(&dir).unwrap();
        for i in 0..5u32 {
            let p = dir.join(format!("IMG_{i:03}.jpg"));
            let lat = 10.0 + k as f64 + f64::from(i) * 1e-4;
            tagged_photo(&p, &format!("seq-{folder}"), i * 2, lat, 1.0, None);
            out.push(p);
        }
    }
    out
}

#[test]
fn equal_names_in_three_folders_all_reach_success() {
    let sandbox = Sandbox::start(Seed::default(), &[]);
    let work = tempfile::tempdir().unwrap();
    let trip = work.path().join("trip");
    let photos = equal_names(&trip);
    let (code, stdout, stderr) = sandbox.run(BIN, args!["trip"], &[DEMO_TOKEN], work.path());
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(sandbox.server.sequences().len(), 3);
    for p in &photos {
        assert!(!p.exists(), "{} stayed", p.display());
        let relative = p.strip_prefix(&trip).unwrap();
        assert!(
            work.path().join("success").join(relative).is_file(),
            "{}",
            relative.display()
        );
    }
    assert_eq!(
        mapillary_core::files::find_images(&work.path().join("success"))
            .unwrap()
            .images
            .len(),
        15
    );
}

#[test]
fn a_photo_that_cannot_be_moved_fails_the_run() {
    let sandbox = Sandbox::start(Seed::default(), &[]);
    let work = tempfile::tempdir().unwrap();
    let trip = work.path().join("trip");
    equal_names(&trip);
    // A file where the folder success/b should be.
    fs::create_dir_all(work.path().join("success")).unwrap();
    fs::write(work.path().join("success/b"), b"in the way").unwrap();
    let (code, stdout, stderr) = sandbox.run(BIN, args!["trip"], &[DEMO_TOKEN], work.path());
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert_eq!(sandbox.server.sequences().len(), 3, "all were uploaded");
    for i in 0..5 {
        let name = format!("IMG_{i:03}.jpg");
        assert_line(
            &stderr,
            &format!(
                "upload: trip/b/{name}: not moved to {}: creating the folder: File exists",
                work.path().join("success/b").join(&name).display()
            ),
        );
        assert!(trip.join("b").join(&name).is_file(), "stays where it was");
        assert!(work.path().join("success/a").join(&name).is_file());
    }
    assert_eq!(
        fs::read(work.path().join("success/b")).unwrap(),
        b"in the way"
    );
}

/// A proxy in front of `upstream` that answers the first `count` offset
/// requests (GET of the upload service) itself, with an offset larger than
/// any photo, and passes everything else on, one request per connection.
fn lying_proxy(upstream: std::net::SocketAddr, count: usize) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let lies = Arc::new(AtomicUsize::new(0));
    let told = lies.clone();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            let told = told.clone();
            std::thread::spawn(move || {
                let _ = serve_one(client, upstream, &told, count);
            });
        }
    });
    (url, lies)
}

/// Reads one HTTP/1.1 message head and its body (Content-Length only).
fn read_message(reader: &mut impl BufRead) -> std::io::Result<(String, Vec<u8>)> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(std::io::Error::other("closed"));
        }
        let end = line == "\r\n";
        head.push_str(&line);
        if end {
            break;
        }
    }
    let length = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok((head, body))
}

fn serve_one(
    client: TcpStream,
    upstream: std::net::SocketAddr,
    lies: &AtomicUsize,
    count: usize,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let (head, body) = read_message(&mut reader)?;
    let mut client = client;
    let is_offset = head.starts_with("GET /mapillary_public_uploads/");
    if is_offset && lies.fetch_add(1, Ordering::SeqCst) < count {
        let answer = r#"{"offset":999999999999}"#;
        write!(
            client,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
            answer.len()
        )?;
        return client.flush();
    }
    let mut server = TcpStream::connect(upstream)?;
    server.write_all(head.as_bytes())?;
    server.write_all(&body)?;
    let mut from_server = BufReader::new(server);
    let (answer_head, answer_body) = read_message(&mut from_server)?;
    // One request per connection, so that the client never reuses one.
    let answer_head =
        answer_head.trim_end_matches("\r\n").to_string() + "\r\nConnection: close\r\n\r\n";
    client.write_all(answer_head.as_bytes())?;
    client.write_all(&answer_body)?;
    client.flush()
}

#[test]
fn an_impossible_offset_leaves_the_photo_for_the_next_run() {
    let sandbox = Sandbox::start(Seed::default(), &[]);
    let (proxy, lies) = lying_proxy(sandbox.server.addr(), 1);
    let work = tempfile::tempdir().unwrap();
    let trip = work.path().join("trip");
    let photos = equal_names(&trip);
    let through_proxy = [
        DEMO_TOKEN,
        ("MAPILLARY_GRAPH_API_ENDPOINT", proxy.as_str()),
        (
            "MAPILLARY_UPLOAD_ENDPOINT",
            &format!("{proxy}/mapillary_public_uploads"),
        ),
    ];
    let (code, stdout, stderr) = sandbox.run(BIN, args!["trip"], &through_proxy, work.path());
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(lies.load(Ordering::SeqCst) >= 1);
    // Which photo the proxy lies about depends on which is sent first: the
    // line names it, then the lie and the photo's own size.
    let lie =
        ": unexpected answer from the server: the server holds 999999999999 bytes of mly_tools_";
    let line = stderr
        .lines()
        .find(|l| l.contains(lie))
        .unwrap_or_else(|| panic!("{stderr}"));
    let (photo, rest) = line
        .strip_prefix("upload: trip/")
        .and_then(|l| l.split_once(lie))
        .unwrap_or_else(|| panic!("{line}"));
    let (folder, name) = photo.split_once('/').unwrap();
    assert!(photos.contains(&trip.join(folder).join(name)), "{line}");
    let size = rest
        .split_once(".jpg, more than its ")
        .and_then(|(hash, size)| {
            (hash.len() == 32 && hash.chars().all(|c| c.is_ascii_hexdigit())).then_some(size)
        })
        .and_then(|size| size.strip_suffix("; run again to retry"))
        .unwrap_or_else(|| panic!("{line}"));
    assert!(size.parse::<u64>().is_ok(), "{line}");
    assert_line(
        &stderr,
        &format!(
            "upload: sequence seq-{folder}: not finished: 1 of its photos were not uploaded; run again to resume"
        ),
    );
    assert!(
        !work.path().join("failed").exists(),
        "nothing refused for good"
    );
    assert_eq!(sandbox.server.sequences().len(), 2);
    let left: Vec<&PathBuf> = photos.iter().filter(|p| p.exists()).collect();
    assert_eq!(left.len(), 5, "one sequence stays where it was: {left:?}");
    // The next run, against a healthy server, uploads the rest.
    let (code, stdout, stderr) = sandbox.run(BIN, args!["trip"], &[DEMO_TOKEN], work.path());
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(sandbox.server.sequences().len(), 3);
    assert!(photos.iter().all(|p| !p.exists()));
    assert_eq!(
        mapillary_core::files::find_images(&work.path().join("success"))
            .unwrap()
            .images
            .len(),
        15
    );
}

#[test]
fn folders_named_explicitly_are_uploaded() {
    let sandbox = Sandbox::start(Seed::default(), &[]);
    let work = tempfile::tempdir().unwrap();
    let trip = work.path().join("trip");
    equal_names(&trip);
    let (code, _, stderr) = sandbox.run(BIN, args!["trip"], &[DEMO_TOKEN], work.path());
    assert_eq!(code, 0, "{stderr}");
    // A photo in failed/ (as an earlier version left it after a bad answer).
    let stranded = work.path().join("failed/d/IMG_000.jpg");
    fs::create_dir_all(stranded.parent().unwrap()).unwrap();
    tagged_photo(&stranded, "seq-d", 1, 40.0, 1.0, None);

    // Found inside a larger path, success/ and failed/ are skipped.
    let (code, stdout, _) = sandbox.run(BIN, args!["."], &[DEMO_TOKEN], work.path());
    assert_eq!(code, 0);
    assert_line(
        &stdout,
        "0 sequences uploaded, 0 skipped (already uploaded), 0 failed; 0.0 MB sent",
    );
    assert!(stranded.exists());

    // Named, failed/ is uploaded, and its photo moves to success/.
    let (code, stdout, stderr) = sandbox.run(BIN, args!["failed"], &[DEMO_TOKEN], work.path());
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_line(
        &stdout,
        "1 sequence uploaded, 0 skipped (already uploaded), 0 failed; 0.0 MB sent",
    );
    assert!(!stranded.exists());
    assert!(work.path().join("success/d/IMG_000.jpg").is_file());
    assert_eq!(sandbox.server.sequences().len(), 4);

    // Named, success/ is looked at: all already uploaded, nothing moves.
    let (code, stdout, stderr) = sandbox.run(BIN, args!["success"], &[DEMO_TOKEN], work.path());
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_line(
        &stdout,
        "0 sequences uploaded, 4 skipped (already uploaded), 0 failed; 0.0 MB sent",
    );
    assert!(work.path().join("success/a/IMG_000.jpg").is_file());
    assert!(work.path().join("success/d/IMG_000.jpg").is_file());
    assert_eq!(sandbox.server.sequences().len(), 4);
}
