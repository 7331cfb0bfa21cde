//! The official client, mapillary_tools 0.14.7, against the local server:
//! authenticate, process_and_upload two folders, a zip it made, a video, and
//! a second run that sends nothing again. Each run must exit 0 with no
//! warning, and the server must hold exactly the bytes it sent.
//!
//! The client runs with a home, profiles file, upload history and cache of
//! its own, and with every proxy variable pointing at a trap on 127.0.0.1
//! (only the local server is exempt): a request to any other host would
//! reach the trap instead of the internet, and fail the test.
//!
//! Skipped, with a message, when the official client is not installed
//! (`MAPILLARY_TOOLS_OFFICIAL`; CI installs it).

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mapillary_local_server::seed::{DEMO_CLIENT_TOKEN, DEMO_TOKEN};
use mapillary_local_server::state::md5_hex;
use mapillary_local_server::{Config, LocalServer};
use mapillary_testkit::{photo_edits, write_photo};

/// A listener that stands in for every proxy: whatever connects to it is a
/// request the client tried to send somewhere other than the local server.
struct Trap {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Trap {
    fn start() -> Trap {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, stop2) = (seen.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut buf = [0u8; 2048];
                let n = stream.read(&mut buf).unwrap_or(0);
                let first = String::from_utf8_lossy(&buf[..n])
                    .lines()
                    .next()
                    .unwrap_or("(nothing)")
                    .to_string();
                seen2.lock().unwrap().push(first);
                let _ = stream.write_all(
                    b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        });
        Trap {
            port,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Trap {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One run of the official client.
#[derive(Debug)]
struct Run {
    code: i32,
    output: String,
}

/// The official client, a local server and a trap, for one test.
struct Official {
    program: PathBuf,
    server: LocalServer,
    home: tempfile::TempDir,
    _data: tempfile::TempDir,
    trap: Trap,
}

impl Official {
    fn start() -> Option<Official> {
        let program = mapillary_testkit::official_client()?;
        let data = tempfile::tempdir().unwrap();
        let server = LocalServer::start(Config::new(data.path())).unwrap();
        Some(Official {
            program,
            server,
            home: tempfile::tempdir().unwrap(),
            _data: data,
            trap: Trap::start(),
        })
    }

    fn command(&self, graph: &str) -> Command {
        let home = self.home.path();
        let tmp = home.join("tmp");
        std::fs::create_dir_all(&tmp).unwrap();
        let proxy = format!("http://127.0.0.1:{}", self.trap.port);
        let mut cmd = Command::new(&self.program);
        cmd.env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", home)
            .env("TMPDIR", &tmp)
            .env("TZ", "UTC")
            .env("LANG", "C.UTF-8")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("MAPILLARY_GRAPH_API_ENDPOINT", graph)
            .env("MAPILLARY_UPLOAD_ENDPOINT", self.server.upload_url())
            .env("MAPILLARY_CLIENT_TOKEN", DEMO_CLIENT_TOKEN)
            .env("MAPILLARY_CONFIG_PATH", home.join("profiles"))
            .env("MAPILLARY_UPLOAD_HISTORY_PATH", home.join("history"))
            .env("MAPILLARY_TOOLS_UPLOAD_CACHE_DIR", home.join("cache"))
            .env("MAPILLARY_TOOLS_PROMPT_DISABLED", "YES");
        for var in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"] {
            cmd.env(var, &proxy).env(var.to_lowercase(), &proxy);
        }
        cmd.env("NO_PROXY", "127.0.0.1")
            .env("no_proxy", "127.0.0.1");
        cmd
    }

    fn run_against(&self, graph: &str, args: &[&str], cwd: &Path) -> Run {
        let out = self
            .command(graph)
            .args(args)
            .current_dir(cwd)
            .output()
            .unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            output: format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }

    /// Runs the client; it must exit 0, print no warning, and reach no
    /// other host.
    fn run(&self, args: &[&str], cwd: &Path) -> Run {
        let run = self.run_against(&self.server.url(), args, cwd);
        let problems: Vec<&str> = run
            .output
            .lines()
            .filter(|l| {
                l.contains(" - WARNING ")
                    || l.contains(" - ERROR ")
                    || l.contains("Warning:")
                    || l.contains("Traceback")
            })
            .collect();
        assert!(
            run.code == 0 && problems.is_empty(),
            "mapillary_tools {args:?} exited {} with {problems:?}:\n{}",
            run.code,
            run.output
        );
        assert_eq!(
            self.trap.seen(),
            Vec::<String>::new(),
            "the official client tried to reach another host"
        );
        run
    }

    /// Signs the client in with the demo account's token.
    fn authenticate(&self) {
        self.run(
            &["authenticate", "--user_name", "demo", "--jwt", DEMO_TOKEN],
            self.home.path(),
        );
    }

    /// Every upload the server holds under an official content key
    /// (`mly_tools_<md5>.<ext>`) has exactly the bytes whose md5 the client
    /// computed, and every stored photo and video equals its upload (or,
    /// for a zip, its entry in the zip as received).
    fn assert_stored_equals_sent(&self) {
        let uploads = self.server.data_dir().join("uploads");
        let mut checked = 0;
        for entry in std::fs::read_dir(&uploads).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if let Some(rest) = name.strip_prefix("mly_tools_") {
                let md5 = rest.split('.').next().unwrap();
                assert_eq!(md5_hex(&std::fs::read(&path).unwrap()), md5, "{name}");
                checked += 1;
            }
        }
        assert!(checked > 0, "no upload under a content key");
        for seq in self.server.sequences() {
            let folder = self
                .server
                .data_dir()
                .join("sequences")
                .join(&seq.cluster_id);
            let source = uploads.join(seq.file_handle.strip_prefix("h.").unwrap());
            if let Some(video) = &seq.video {
                assert_eq!(
                    std::fs::read(folder.join(&video.file)).unwrap(),
                    std::fs::read(&source).unwrap()
                );
            }
            if seq.file_type == "zip" {
                let mut zip = zip::ZipArchive::new(std::fs::File::open(&source).unwrap()).unwrap();
                for (i, img) in seq.images.iter().enumerate() {
                    let mut entry = zip.by_name(&format!("{i}.jpg")).unwrap();
                    let mut bytes = Vec::new();
                    entry.read_to_end(&mut bytes).unwrap();
                    assert_eq!(std::fs::read(folder.join(&img.file)).unwrap(), bytes);
                }
            }
            for img in &seq.images {
                if let Some(key) = &img.upload_key {
                    assert_eq!(
                        std::fs::read(folder.join(&img.file)).unwrap(),
                        std::fs::read(uploads.join(key)).unwrap(),
                        "{key}"
                    );
                }
            }
        }
    }
}

/// `count` photos with GPS and times, 2 s and about 5 m apart, in `dir`.
fn photo_folder(dir: &Path, count: u32, hour: u32, lat: f64, lon: f64) {
    std::fs::create_dir_all(dir).unwrap();
    for i in 0..count {
        let time = format!("2021:06:01 {hour:02}:00:{:02}", 2 * i);
        let edits = photo_edits(
            &time,
            Some("+00:00"),
            Some((lat + f64::from(i) * 0.000_05, lon)),
        );
        write_photo(&dir.join(format!("IMG_{i:04}.jpg")), i + hour * 100, &edits);
    }
}

#[test]
fn authenticates_with_a_password_and_with_a_token() {
    let Some(t) = Official::start() else { return };
    t.run(
        &[
            "authenticate",
            "--user_name",
            "demo",
            "--user_email",
            "demo@example.com",
            "--user_password",
            "demo-password",
        ],
        t.home.path(),
    );
    t.run(
        &[
            "authenticate",
            "--user_name",
            "by_token",
            "--jwt",
            DEMO_TOKEN,
        ],
        t.home.path(),
    );
    let profiles = std::fs::read_to_string(t.home.path().join("profiles")).unwrap();
    assert!(
        profiles.contains("[demo]") && profiles.contains("[by_token]"),
        "{profiles}"
    );
    assert!(
        profiles.contains(&format!("user_upload_token = {DEMO_TOKEN}")),
        "{profiles}"
    );
    assert_eq!(
        profiles.matches("MAPSettingsUserKey = 100001").count(),
        2,
        "{profiles}"
    );
    let stats = t.server.stats();
    assert_eq!(stats.requests["login"], 1);
    assert!(stats.requests["me"] >= 1);
}

#[test]
fn two_folders_then_a_second_run_that_sends_nothing() {
    let Some(t) = Official::start() else { return };
    t.authenticate();
    let work = tempfile::tempdir().unwrap();
    let (a, b) = (work.path().join("walk_a"), work.path().join("walk_b"));
    photo_folder(&a, 3, 10, 52.5, 13.4);
    photo_folder(&b, 4, 12, 52.52, 13.41);
    let run = t.run(
        &[
            "process_and_upload",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
        ],
        work.path(),
    );
    let mut sizes: Vec<usize> = t
        .server
        .sequences()
        .iter()
        .map(|s| s.images.len())
        .collect();
    sizes.sort();
    assert_eq!(sizes, [3, 4], "{}", run.output);
    for seq in t.server.sequences() {
        assert_eq!(seq.file_type, "mly_bundle_manifest");
        for img in &seq.images {
            // The upload form of the description: no sequence key.
            let d = img.description.as_object().unwrap();
            assert!(d.contains_key("MAPCaptureTime") && !d.contains_key("MAPSequenceUUID"));
        }
    }
    t.assert_stored_equals_sent();
    // The client reported its upload, and got an answer.
    assert_eq!(t.server.stats().logged_events["upload_finished_upload"], 1);

    let before = t.server.stats();
    let run = t.run(
        &[
            "process_and_upload",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
        ],
        work.path(),
    );
    let after = t.server.stats();
    assert_eq!(after.upload_posts, before.upload_posts, "{}", run.output);
    assert_eq!(
        after.requests.get("finish_upload"),
        before.requests.get("finish_upload")
    );
    assert_eq!(t.server.sequences().len(), 2);
    assert!(run.output.contains("already uploaded"), "{}", run.output);
}

#[test]
fn a_zip_the_client_made() {
    let Some(t) = Official::start() else { return };
    t.authenticate();
    let work = tempfile::tempdir().unwrap();
    let photos = work.path().join("walk");
    photo_folder(&photos, 3, 9, 48.85, 2.35);
    let zips = work.path().join("zips");
    t.run(&["process", photos.to_str().unwrap()], work.path());
    t.run(
        &["zip", photos.to_str().unwrap(), zips.to_str().unwrap()],
        work.path(),
    );
    let made: Vec<PathBuf> = mapillary_testkit::files_with_extension(&zips, &["zip"]);
    assert_eq!(made.len(), 1, "{made:?}");
    t.run(&["process_and_upload", zips.to_str().unwrap()], work.path());
    let seqs = t.server.sequences();
    assert_eq!(seqs.len(), 1);
    assert_eq!(
        (seqs[0].file_type.as_str(), seqs[0].images.len()),
        ("zip", 3)
    );
    // The zip on the server is the zip the client made, byte for byte.
    let key = seqs[0].file_handle.strip_prefix("h.").unwrap();
    assert_eq!(
        std::fs::read(t.server.data_dir().join("uploads").join(key)).unwrap(),
        std::fs::read(&made[0]).unwrap()
    );
    t.assert_stored_equals_sent();
}

/// An MP4 with one CAMM track of GPS samples (type 5: latitude, longitude,
/// altitude), one a second: the kind of video the official client reads
/// natively.
fn camm_video(points: &[(f64, f64, f64)]) -> Vec<u8> {
    fn mp4_box(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        [
            &((payload.len() + 8) as u32).to_be_bytes()[..],
            kind,
            payload,
        ]
        .concat()
    }
    fn full_box(kind: &[u8; 4], flags: u32, payload: &[u8]) -> Vec<u8> {
        mp4_box(kind, &[&flags.to_be_bytes()[..], payload].concat())
    }
    let be = |v: &[u32]| -> Vec<u8> { v.iter().flat_map(|x| x.to_be_bytes()).collect() };
    let samples: Vec<Vec<u8>> = points
        .iter()
        .map(|(lat, lon, alt)| {
            let mut s = vec![0, 0, 5, 0];
            for v in [lat, lon, alt] {
                s.extend_from_slice(&v.to_le_bytes());
            }
            s
        })
        .collect();
    let n = samples.len() as u32;
    let (timescale, duration) = (1000u32, 1000 * n);
    let matrix = be(&[0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x4000_0000]);
    let mvhd = full_box(
        b"mvhd",
        0,
        &[
            be(&[0, 0, timescale, duration, 0x10000]),
            vec![1, 0],
            vec![0; 10],
            matrix.clone(),
            vec![0; 24],
            be(&[2]),
        ]
        .concat(),
    );
    let tkhd = full_box(
        b"tkhd",
        3,
        &[be(&[0, 0, 1, 0, duration, 0, 0, 0, 0]), matrix, be(&[0, 0])].concat(),
    );
    let mdhd = full_box(
        b"mdhd",
        0,
        &[be(&[0, 0, timescale, duration]), vec![0x55, 0xC4, 0, 0]].concat(),
    );
    let hdlr = full_box(
        b"hdlr",
        0,
        &[
            &[0u8; 4][..],
            b"camm",
            &[0u8; 12],
            b"CameraMetadataMotionHandler\0",
        ]
        .concat(),
    );
    let dinf = mp4_box(
        b"dinf",
        &full_box(b"dref", 0, &[be(&[1]), full_box(b"url ", 1, &[])].concat()),
    );
    let stsd = full_box(
        b"stsd",
        0,
        &[be(&[1]), mp4_box(b"camm", &[0, 0, 0, 0, 0, 0, 0, 1])].concat(),
    );
    let stts = full_box(b"stts", 0, &be(&[1, n, 1000]));
    let stsc = full_box(b"stsc", 0, &be(&[1, 1, n, 1]));
    let sizes: Vec<u32> = samples.iter().map(|s| s.len() as u32).collect();
    let stsz = full_box(b"stsz", 0, &[be(&[0, n]), be(&sizes)].concat());
    let mut ftyp = b"isom".to_vec();
    ftyp.extend_from_slice(&512u32.to_be_bytes());
    ftyp.extend_from_slice(b"isomiso2mp41");
    let ftyp = mp4_box(b"ftyp", &ftyp);
    let moov = |mdat_data_at: u32| {
        let stco = full_box(b"stco", 0, &be(&[1, mdat_data_at]));
        let stbl = mp4_box(
            b"stbl",
            &[stsd.clone(), stts.clone(), stsc.clone(), stsz.clone(), stco].concat(),
        );
        let minf = mp4_box(
            b"minf",
            &[full_box(b"nmhd", 0, &[]), dinf.clone(), stbl].concat(),
        );
        let mdia = mp4_box(b"mdia", &[mdhd.clone(), hdlr.clone(), minf].concat());
        let trak = mp4_box(b"trak", &[tkhd.clone(), mdia].concat());
        mp4_box(b"moov", &[mvhd.clone(), trak].concat())
    };
    // The chunk offset depends on the moov's size, which does not depend on
    // the offset's value.
    let at = (ftyp.len() + moov(0).len() + 8) as u32;
    [ftyp, moov(at), mp4_box(b"mdat", &samples.concat())].concat()
}

#[test]
fn a_video_is_accepted_and_stored_as_sent() {
    let Some(t) = Official::start() else { return };
    t.authenticate();
    let work = tempfile::tempdir().unwrap();
    let videos = work.path().join("videos");
    std::fs::create_dir_all(&videos).unwrap();
    let points: Vec<(f64, f64, f64)> = (0..10)
        .map(|i| {
            (
                52.5 + f64::from(i) * 0.0001,
                13.4 + f64::from(i) * 0.0001,
                40.0,
            )
        })
        .collect();
    std::fs::write(videos.join("ride.mp4"), camm_video(&points)).unwrap();
    let run = t.run(
        &["process_and_upload", videos.to_str().unwrap()],
        work.path(),
    );
    let seqs = t.server.sequences();
    assert_eq!(seqs.len(), 1, "{}", run.output);
    // What 0.14.7 sends for every video: an MP4 with a CAMM track.
    assert_eq!(seqs[0].file_type, "mly_camm_video");
    assert!(seqs[0].video.is_some());
    t.assert_stored_equals_sent();
}

#[test]
fn a_request_to_any_other_host_would_be_caught() {
    let Some(t) = Official::start() else { return };
    // The graph endpoint left pointing elsewhere (a name that can never
    // resolve, in case the proxy variables were ignored): the request goes
    // to the trap, which is what every other test checks never happens.
    let run = t.run_against(
        "http://graph.example.invalid",
        &["authenticate", "--user_name", "x", "--jwt", DEMO_TOKEN],
        t.home.path(),
    );
    assert_ne!(run.code, 0, "{}", run.output);
    let seen = t.trap.seen();
    assert!(
        seen.iter().any(|l| l.contains("graph.example.invalid")),
        "{seen:?}\n{}",
        run.output
    );
    let counts: BTreeMap<String, u64> = t.server.stats().requests;
    assert!(counts.is_empty(), "{counts:?}");
}
