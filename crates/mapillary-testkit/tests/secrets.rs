//! No token or password appears in any output of any tool, even with -v,
//! in success and in failure; a login's cached profile has mode 0600.
//!
//! Runs the tools built beside this test (`cargo test --workspace` builds
//! them all before any test runs).

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::ffi::OsStr;
use std::fs;
use std::path::PathBuf;

use mapillary_local_server::Seed;
use mapillary_local_server::seed::SeedUser;
use mapillary_testkit::sandbox::Sandbox;
use mapillary_testkit::{photo_edits, tagged_photo, write_photo};

const PASSWORD: &str = "Pa55-word-XYZ-secret";
const ACCESS_TOKEN: &str = "SECRET-ACCESS-TOKEN-4242";
const EXPIRED_TOKEN: &str = "SECRET-EXPIRED-TOKEN-1717";
const CLIENT_TOKEN: &str = "MLY|77|CLIENT-SECRET-9999";

/// A tool, its arguments and its environment.
type Run<'a> = (PathBuf, Vec<std::ffi::OsString>, Vec<(&'a str, &'a str)>);

fn tool(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?.parent()?;
    let path = dir.join(name);
    path.exists().then_some(path)
}

fn seed() -> Seed {
    let mut seed = Seed {
        client_token: CLIENT_TOKEN.to_string(),
        ..Seed::default()
    };
    seed.users = vec![SeedUser {
        id: "100001".to_string(),
        username: "demo".to_string(),
        email: "me@example.com".to_string(),
        password: PASSWORD.to_string(),
        access_token: Some(ACCESS_TOKEN.to_string()),
        expired_tokens: vec![EXPIRED_TOKEN.to_string()],
    }];
    seed
}

#[test]
fn no_tool_prints_a_secret() {
    let names = [
        "add_project",
        "upload",
        "upload_with_authentication",
        "upload_each_folder_as_sequence",
        "download_images",
        "add_mapillary_tag_from_exif",
    ];
    let tools: Vec<Option<PathBuf>> = names.iter().map(|n| tool(n)).collect();
    if tools.iter().all(Option::is_none) {
        eprintln!("skipped: the tools are not built (run cargo test --workspace)");
        return;
    }
    let bin = |n: &str| {
        let i = names.iter().position(|x| *x == n).unwrap();
        tools[i]
            .clone()
            .unwrap_or_else(|| panic!("{n} is not built beside the test"))
    };
    let sandbox = Sandbox::start(
        seed(),
        &["503:first=1@graph", "drop-after=5kB:first=2@upload"],
    );
    let work = tempfile::tempdir().unwrap();
    let tagged = work.path().join("tagged");
    let camera = work.path().join("camera");
    fs::create_dir_all(&tagged).unwrap();
    fs::create_dir_all(&camera).unwrap();
    for i in 0..3 {
        tagged_photo(
            &tagged.join(format!("t{i}.jpg")),
            "S",
            i,
            5.0,
            5.0 + f64::from(i) * 1e-4,
            Some(120),
        );
        write_photo(
            &camera.join(format!("c{i}.jpg")),
            i,
            &photo_edits(
                &format!("2021:06:01 10:00:0{i}"),
                Some("Z"),
                Some((6.0, 6.0)),
            ),
        );
    }
    let login = [
        ("MAPILLARY_EMAIL", "me@example.com"),
        ("MAPILLARY_PASSWORD", PASSWORD),
        ("MAPILLARY_CLIENT_TOKEN", CLIENT_TOKEN),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut v: Vec<(&str, &str)> = login.to_vec();
        v.extend_from_slice(extra);
        v
    };
    let os = |items: &[&str]| {
        items
            .iter()
            .map(|s| OsStr::new(*s).to_os_string())
            .collect::<Vec<_>>()
    };
    let runs: Vec<Run<'_>> = vec![
        // A wrong password.
        (
            bin("add_project"),
            os(&["-v", tagged.to_str().unwrap(), "200001"]),
            vec![
                ("MAPILLARY_EMAIL", "me@example.com"),
                ("MAPILLARY_PASSWORD", "wrong-Pa55-word-XYZ-secret"),
                ("MAPILLARY_CLIENT_TOKEN", CLIENT_TOKEN),
            ],
        ),
        // An expired token, then a login that gets a new one.
        (
            bin("add_project"),
            os(&["-v", tagged.to_str().unwrap(), "Demo Mappers"]),
            with(&[("MAPILLARY_ACCESS_TOKEN", EXPIRED_TOKEN)]),
        ),
        // An expired token and nothing to log in with.
        (
            bin("add_project"),
            os(&["-v", tagged.to_str().unwrap(), "200001"]),
            vec![("MAPILLARY_ACCESS_TOKEN", EXPIRED_TOKEN)],
        ),
        (
            bin("upload"),
            os(&["-v", "--dry-run", tagged.to_str().unwrap()]),
            vec![("MAPILLARY_ACCESS_TOKEN", ACCESS_TOKEN)],
        ),
        (
            bin("upload"),
            os(&["-v", tagged.to_str().unwrap()]),
            vec![("MAPILLARY_ACCESS_TOKEN", ACCESS_TOKEN)],
        ),
        (
            bin("upload_with_authentication"),
            os(&["-v", "--yes", camera.to_str().unwrap()]),
            with(&[
                ("MAPILLARY_PERMISSION_HASH", "SECRET-PERMISSION-HASH"),
                ("MAPILLARY_SIGNATURE_HASH", "SECRET-SIGNATURE-HASH"),
            ]),
        ),
        (
            bin("upload_each_folder_as_sequence"),
            os(&["-v", camera.to_str().unwrap(), "200001"]),
            vec![("MAPILLARY_ACCESS_TOKEN", ACCESS_TOKEN)],
        ),
        (
            bin("download_images"),
            os(&["-v", "52.50", "52.52", "13.34", "13.38", "5"]),
            vec![("MAPILLARY_CLIENT_TOKEN", CLIENT_TOKEN)],
        ),
        (
            bin("download_images"),
            os(&["-v", "52.50", "52.52", "13.34", "13.38", "5"]),
            vec![("MAPILLARY_ACCESS_TOKEN", ACCESS_TOKEN)],
        ),
        (
            bin("add_mapillary_tag_from_exif"),
            os(&["-v", "--dry-run", camera.to_str().unwrap()]),
            with(&[("MAPILLARY_ACCESS_TOKEN", ACCESS_TOKEN)]),
        ),
    ];
    let mut everything = String::new();
    for (program, args, vars) in &runs {
        let out = sandbox
            .command(program.to_str().unwrap(), vars)
            .args(args)
            .current_dir(work.path())
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!text.contains("panicked"), "{text}");
        everything.push_str(&format!("== {} {args:?}\n{text}", program.display()));
    }
    // The token the login gave, from the profiles file it was cached in.
    let profiles = sandbox
        .home()
        .join(".config/mapillary/configs")
        .join(CLIENT_TOKEN.replace('|', "_"));
    let cached = fs::read_to_string(&profiles).unwrap();
    let issued = cached
        .lines()
        .find_map(|l| l.strip_prefix("user_upload_token = "))
        .unwrap()
        .to_string();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&profiles).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    for secret in [
        PASSWORD,
        ACCESS_TOKEN,
        EXPIRED_TOKEN,
        "CLIENT-SECRET-9999",
        "SECRET-PERMISSION-HASH",
        "SECRET-SIGNATURE-HASH",
        issued.as_str(),
    ] {
        assert!(
            !everything.contains(secret),
            "{secret} appears in the output:\n{everything}"
        );
    }
    // The runs did what they should (so the scan saw real output).
    assert!(everything.contains("login refused"), "{everything}");
    assert!(everything.contains("logging in again"), "{everything}");
    assert!(everything.contains("uploaded, cluster"), "{everything}");
    assert!(everything.contains("found 5, downloaded"), "{everything}");
    assert!(everything.contains("signed in as demo"), "{everything}");
}
