//! upload_with_authentication against the local server.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mapillary_local_server::Seed;
use mapillary_testkit::sandbox::{DEMO_TOKEN, Sandbox};
use mapillary_testkit::{
    args, assert_line, assert_only_line, line_starting, photo_edits, run_tool, screen_lines,
    tagged_photo, workspace_root, write_photo,
};

const BIN: &str = env!("CARGO_BIN_EXE_upload_with_authentication");

/// Photos from another camera: position and time, no description.
fn camera_photos(dir: &Path, n: u32) -> Vec<PathBuf> {
    fs::create_dir_all(dir).unwrap();
    (0..n)
        .map(|i| {
            let p = dir.join(format!("cam{i}.jpg"));
            let time = format!("2021:06:01 12:00:{:02}", i * 3);
            write_photo(
                &p,
                i,
                &photo_edits(
                    &time,
                    Some("+02:00"),
                    Some((48.0 + f64::from(i) * 1e-4, 11.0)),
                ),
            );
            p
        })
        .collect()
}

fn snapshot(files: &[PathBuf]) -> Vec<Vec<u8>> {
    files.iter().map(|f| fs::read(f).unwrap()).collect()
}

#[test]
fn without_a_terminal_it_needs_yes_and_sends_nothing() {
    let sandbox = Sandbox::start(Seed::default(), &[]);
    let work = tempfile::tempdir().unwrap();
    camera_photos(work.path(), 2);
    let (code, stdout, stderr) = sandbox.run(BIN, args![work.path()], &[DEMO_TOKEN], work.path());
    assert_eq!(code, 1);
    assert!(stdout.is_empty());
    assert_eq!(
        stderr.trim(),
        "upload_with_authentication: there is no terminal to ask 'Finalize upload? [y/n]' on: pass --yes (or set MAPILLARY_TOOLS_PROMPT_DISABLED=YES) to finalize without asking"
    );
    assert_eq!(sandbox.server.stats().upload_posts, 0);
}

#[test]
fn uploads_one_new_sequence_without_changing_the_photos() {
    let sandbox = Sandbox::start(Seed::default(), &[]);
    let work = tempfile::tempdir().unwrap();
    let files = camera_photos(&work.path().join("day"), 4);
    let before = snapshot(&files);
    let vars = [
        DEMO_TOKEN,
        ("MAPILLARY_TOOLS_PROMPT_DISABLED", "YES"),
        ("MAPILLARY_PERMISSION_HASH", "legacy-permission-hash-value"),
        ("MAPILLARY_SIGNATURE_HASH", "legacy-signature-hash-value"),
    ];
    let (code, stdout, stderr) = sandbox.run(BIN, args![work.path()], &vars, work.path());
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_line(
        &stderr,
        "upload_with_authentication: MAPILLARY_PERMISSION_HASH and MAPILLARY_SIGNATURE_HASH were upload policies of the retired 2015 service; they are ignored and never sent (today an access token is used)",
    );
    assert!(!format!("{stdout}{stderr}").contains("hash-value"));
    assert_eq!(snapshot(&files), before, "the photos are not changed");
    assert!(files.iter().all(|f| f.exists()), "nor moved");
    let seqs = sandbox.server.sequences();
    assert_eq!(seqs.len(), 1);
    let times: Vec<&str> = seqs[0]
        .images
        .iter()
        .map(|i| i.description["MAPCaptureTime"].as_str().unwrap())
        .collect();
    assert_eq!(
        times,
        [
            "2021_06_01_10_00_00_000",
            "2021_06_01_10_00_03_000",
            "2021_06_01_10_00_06_000",
            "2021_06_01_10_00_09_000"
        ]
    );
    assert_eq!(seqs[0].images[0].description["MAPFilename"], "cam0.jpg");
    // A second run sends nothing and says so.
    let posts = sandbox.server.stats().upload_posts;
    let (code, stdout, _) =
        sandbox.run(BIN, args![work.path(), "--yes"], &[DEMO_TOKEN], work.path());
    assert_eq!(code, 0);
    // The sequence is named by the UUID the first run made up for it.
    let line = line_starting(&stdout, "sequence ");
    let uuid = line
        .strip_prefix("sequence ")
        .and_then(|rest| {
            rest.strip_suffix(&format!(
                ": already uploaded (cluster {}); nothing sent",
                seqs[0].cluster_id
            ))
        })
        .unwrap_or_else(|| panic!("{stdout}"));
    assert_eq!(
        uuid.split('-').map(str::len).collect::<Vec<_>>(),
        [8, 4, 4, 4, 12],
        "{line}"
    );
    assert_line(
        &stdout,
        "0 sequences uploaded, 1 skipped (already uploaded), 0 failed; 0.0 MB sent",
    );
    assert_eq!(sandbox.server.stats().upload_posts, posts);
    assert_eq!(sandbox.server.sequences().len(), 1);
}

#[test]
fn refuses_photos_that_already_hold_a_description() {
    let sandbox = Sandbox::start(Seed::default(), &[]);
    let work = tempfile::tempdir().unwrap();
    camera_photos(work.path(), 1);
    tagged_photo(&work.path().join("app.jpg"), "S", 1, 1.0, 1.0, None);
    let (code, _, stderr) = sandbox.run(BIN, args![work.path(), "-y"], &[DEMO_TOKEN], work.path());
    assert_eq!(code, 1);
    assert_line(
        &stderr,
        &format!(
            "upload_with_authentication: {}: skipped: already holds a Mapillary description: use upload",
            work.path().join("app.jpg").display()
        ),
    );
    assert_eq!(sandbox.server.sequences()[0].images.len(), 1);
}

/// Whether util-linux `script` is there to give the tool a terminal.
fn have_script() -> bool {
    if Command::new("script").arg("--version").output().is_ok() {
        return true;
    }
    eprintln!("skipped: `script` (util-linux) is not installed");
    false
}

const PROMPT: &str = "Finalize upload? [y/n] ";

/// Runs the tool (with `extra` arguments) on a pseudo-terminal
/// (util-linux `script`), typing each of `answers` once the prompt has
/// appeared one more time. Returns everything the terminal showed.
fn on_terminal(sandbox: &Sandbox, dir: &Path, extra: &str, answers: &[&str]) -> String {
    let mut child = sandbox
        .command("script", &[DEMO_TOKEN])
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TERM", "xterm")
        .args([
            "-qfec",
            &format!("{BIN} {extra} {}", dir.display()),
            "/dev/null",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let shown = Arc::new(Mutex::new(Vec::new()));
    let mut stdout = child.stdout.take().unwrap();
    let reader = {
        let shown = Arc::clone(&shown);
        std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                shown.lock().unwrap().extend_from_slice(&chunk[..n]);
            }
        })
    };
    let mut stdin = child.stdin.take().unwrap();
    let started = Instant::now();
    for (k, answer) in answers.iter().enumerate() {
        loop {
            let text = String::from_utf8_lossy(&shown.lock().unwrap()).into_owned();
            if text.matches(PROMPT).count() > k {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "no prompt {}: {text:?}",
                k + 1
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        stdin.write_all(answer.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    }
    // Wait for the tool to end before the input does, so that `script`
    // does not end it early.
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the tool hangs"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(stdin);
    reader.join().unwrap();
    assert!(status.code().is_some(), "{status:?}");
    let out = shown.lock().unwrap().clone();
    String::from_utf8_lossy(&out).into_owned()
}

/// The prompt begins a line of its own (the bar cleared before it) and
/// nothing overdraws it before the answer: what follows it is the
/// answer the terminal echoes.
fn assert_prompts_stand_alone(out: &str, answers: &[&str]) {
    let starts: Vec<usize> = out.match_indices(PROMPT).map(|(i, _)| i).collect();
    assert_eq!(starts.len(), answers.len(), "{out:?}");
    let question = "3 photos of sequence ";
    for (start, answer) in starts.iter().zip(answers) {
        let line_start = out[..*start]
            .rfind(question)
            .unwrap_or_else(|| panic!("{out:?}"));
        let before = &out[..line_start];
        assert!(
            before.is_empty()
                || before.ends_with('\n')
                || before.ends_with('\r')
                || before.ends_with("\x1b[2K")
                || before.ends_with("\x1b[K")
                || before.ends_with("\x1b[0J"),
            "the prompt does not start a line: {:?}",
            &before[before.len().saturating_sub(40)..]
        );
        let line = &out[line_start..start + PROMPT.len()];
        assert!(
            line.starts_with(question) && line.ends_with(" uploaded. Finalize upload? [y/n] "),
            "{line:?}"
        );
        assert!(!line.contains(['\r', '\x1b']), "{line:?}");
        let after = &out[start + PROMPT.len()..];
        assert!(
            after.starts_with(&format!("{answer}\r\n")),
            "the prompt was overdrawn before the answer: {:?}",
            &after[..after.len().min(40)]
        );
    }
}

/// Asserts that some line on the screen is `sequence UUID: ` and then
/// `rest`, with a sequence UUID made by the tool.
fn assert_sequence_line(out: &str, rest: &str) {
    let found = screen_lines(out).into_iter().any(|line| {
        line.strip_prefix("sequence ")
            .and_then(|l| l.strip_suffix(rest))
            .and_then(|l| l.strip_suffix(": "))
            .is_some_and(|uuid| {
                uuid.len() == 36 && uuid.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
            })
    });
    assert!(found, "no line 'sequence UUID: {rest}' in {out:?}");
}

#[test]
fn asks_three_times_before_finalizing() {
    if !have_script() {
        return;
    }
    // Slow uploads, so that the bar is drawn when the question comes.
    let sandbox = Sandbox::start(Seed::default(), &["slow=100ms@upload"]);
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("p");
    camera_photos(&dir, 3);
    // Three answers that are neither yes nor no: not finalized.
    let answers = ["maybe", "later", "?"];
    let out = on_terminal(&sandbox, &dir, "", &answers);
    assert_prompts_stand_alone(&out, &answers);
    assert_sequence_line(
        &out,
        "3 photos uploaded but not finalized; run again to finalize (nothing will be sent twice)",
    );
    // The bar was drawn before the question, and comes back after the
    // answer.
    let first = out.find(PROMPT).unwrap();
    assert!(out[..first].contains("uploading "), "{out:?}");
    let answered = first + PROMPT.len() + "maybe\r\n".len();
    assert!(out[answered..].starts_with("uploading "), "{out:?}");
    assert!(sandbox.server.sequences().is_empty());
    let sent = sandbox.server.stats().upload_bytes_received;
    assert!(sent > 0);
    // A plain no: not finalized either.
    let out = on_terminal(&sandbox, &dir, "", &["n"]);
    assert_prompts_stand_alone(&out, &["n"]);
    assert!(sandbox.server.sequences().is_empty());
    // Yes: finalized, and the photos are not sent again; the output goes
    // on after the answer.
    let out = on_terminal(&sandbox, &dir, "-v", &["y"]);
    assert_prompts_stand_alone(&out, &["y"]);
    let after = &out[out.find(PROMPT).unwrap()..];
    assert_eq!(sandbox.server.sequences().len(), 1);
    let cluster = &sandbox.server.sequences()[0].cluster_id;
    assert_sequence_line(after, &format!("3 photos uploaded, cluster {cluster}"));
    let stats = sandbox.server.stats();
    let images: u64 = stats
        .upload_bytes_by_key
        .iter()
        .filter(|(k, _)| k.starts_with("mly_tools_"))
        .map(|(_, v)| v)
        .sum();
    let on_server: u64 = stats
        .upload_bytes_by_key
        .keys()
        .filter(|k| k.starts_with("mly_tools_"))
        .map(|k| {
            fs::metadata(sandbox.server.data_dir().join("uploads").join(k))
                .unwrap()
                .len()
        })
        .sum();
    assert_eq!(images, on_server, "no photo was sent twice");
}

#[test]
fn the_end_of_the_input_is_no() {
    if !have_script() {
        return;
    }
    let sandbox = Sandbox::start(Seed::default(), &[]);
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("p");
    camera_photos(&dir, 3);
    // ^D at the question.
    let out = on_terminal(&sandbox, &dir, "", &["\x04"]);
    assert_eq!(out.matches(PROMPT).count(), 1, "{out:?}");
    assert_sequence_line(
        &out,
        "3 photos uploaded but not finalized; run again to finalize (nothing will be sent twice)",
    );
    assert!(sandbox.server.sequences().is_empty());
}

#[test]
fn man_page_is_current() {
    let (_, man, _) = run_tool(BIN, args!["--generate-man"], None);
    let committed =
        fs::read_to_string(workspace_root().join("docs/man/upload_with_authentication.1"))
            .unwrap_or_default();
    assert_eq!(
        man, committed,
        "docs/man/upload_with_authentication.1 is out of date: run `make man`"
    );
}

#[test]
fn a_pause_makes_a_new_sequence_and_a_duplicate_is_left_out() {
    let sandbox = Sandbox::start(Seed::default(), &[]);
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("walk");
    camera_photos(&dir, 3);
    // Ten minutes later, further on; then a photo taken standing still.
    for (name, time, north) in [
        ("later0.jpg", "2021:06:01 12:10:00", 48.001),
        ("later1.jpg", "2021:06:01 12:10:03", 48.0011),
        ("still.jpg", "2021:06:01 12:10:04", 48.0011),
    ] {
        write_photo(
            &dir.join(name),
            7,
            &photo_edits(time, Some("+02:00"), Some((north, 11.0))),
        );
    }
    let (code, stdout, stderr) = sandbox.run(BIN, args![&dir, "--yes"], &[DEMO_TOKEN], work.path());
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert_line(
        &stderr,
        &format!(
            "upload_with_authentication: 1 photo left out (not uploaded): each a duplicate of the photo kept before it (within 0.1 m and 5°): {}",
            dir.join("still.jpg").display()
        ),
    );
    let mut sizes: Vec<usize> = sandbox
        .server
        .sequences()
        .iter()
        .map(|s| s.images.len())
        .collect();
    sizes.sort();
    assert_eq!(sizes, [2, 3]);
    assert_line(
        &stdout,
        "2 sequences uploaded, 0 skipped (already uploaded), 0 failed; 0.0 MB sent",
    );
}

#[test]
fn each_case_has_its_exit_status() {
    let sandbox = Sandbox::start(Seed::default(), &[]);
    let work = tempfile::tempdir().unwrap();
    // A path that is not there: 2, one line (with or without --yes).
    let missing = work.path().join("missing");
    for a in [&args![&missing][..], &args![&missing, "--yes"][..]] {
        let (code, stdout, stderr) = sandbox.run(BIN, a, &[DEMO_TOKEN], work.path());
        assert_eq!((code, stdout.as_str()), (2, ""));
        assert_only_line(
            &stderr,
            &format!(
                "upload_with_authentication: {}: no such file or folder",
                missing.display()
            ),
        );
    }
    // A folder without photos: 1, with a message.
    let empty = work.path().join("empty");
    fs::create_dir(&empty).unwrap();
    let (code, _, stderr) = sandbox.run(BIN, args![&empty, "-y"], &[DEMO_TOKEN], work.path());
    assert_eq!(code, 1);
    assert_only_line(
        &stderr,
        &format!(
            "upload_with_authentication: no photos (.jpg, .jpeg) under {}",
            empty.display()
        ),
    );
    // Usage errors: 2, with the usage line.
    for (bad, message) in [
        (
            &args![&empty, "--cutoff-distance", "-5"][..],
            "upload_with_authentication: --cutoff-distance must be a number of metres, 0 or more (or inf), not '-5'",
        ),
        (
            args![&empty, "--cutoff-time", "NaN"],
            "upload_with_authentication: --cutoff-time must be a number of seconds, 0 or more (or inf), not 'NaN'",
        ),
        (
            &args![&empty, "--frobnicate"][..],
            "upload_with_authentication: unknown option --frobnicate",
        ),
    ] {
        let (code, _, stderr) = sandbox.run(BIN, bad, &[DEMO_TOKEN], work.path());
        assert_eq!(code, 2, "{stderr}");
        assert_eq!(
            stderr.lines().collect::<Vec<_>>(),
            [
                message,
                "Usage: upload_with_authentication [options] path (see upload_with_authentication --help)"
            ]
        );
    }
    assert!(sandbox.server.stats().requests.is_empty());
    // Everything uploaded: 0 (--yes with --dry-run is fine: nothing asked).
    let dir = work.path().join("day");
    camera_photos(&dir, 2);
    let (code, stdout, stderr) =
        sandbox.run(BIN, args![&dir, "-y", "-n"], &[DEMO_TOKEN], work.path());
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout.lines().last(),
        Some("1 sequence would be uploaded, 0 skipped (already uploaded), 0 failed")
    );
    let (code, _, stderr) = sandbox.run(BIN, args![&dir, "-y"], &[DEMO_TOKEN], work.path());
    assert_eq!(code, 0, "{stderr}");
    // A photo skipped: 1.
    let blank = dir.join("blank.jpg");
    fs::write(&blank, mapillary_testkit::plain_jpeg(8, 8, 1)).unwrap();
    let (code, _, stderr) = sandbox.run(BIN, args![&dir, "--yes"], &[DEMO_TOKEN], work.path());
    assert_eq!(code, 1);
    assert_only_line(
        &stderr,
        &format!(
            "upload_with_authentication: {}: skipped: no GPSLatitude",
            blank.display()
        ),
    );
}
