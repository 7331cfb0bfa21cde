//! On a terminal: problems are marked in colour (the tool's name in red
//! or yellow), and not at all with NO_COLOR set (no-color.org) or when
//! stderr is not a terminal. Runs a tool built beside this test on a
//! pseudo-terminal made by util-linux `script`.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use mapillary_testkit::{built_tool, photo_edits, run_tool, screen_lines, write_photo};

fn tool(name: &str) -> PathBuf {
    built_tool(name)
}

/// Two photos with a capture time and no position: interpolate_direction
/// skips both, one line each.
fn unplaced_photos(dir: &Path) -> PathBuf {
    let trip = dir.join("trip");
    fs::create_dir_all(&trip).unwrap();
    for i in 0..2 {
        write_photo(
            &trip.join(format!("IMG_{i}.jpg")),
            i,
            &photo_edits(&format!("2021:06:01 10:00:0{i}"), Some("+00:00"), None),
        );
    }
    trip
}

/// What `command` printed on a pseudo-terminal (stdout and stderr both),
/// with `env` set; `None` when `script` is not installed.
fn on_terminal(command: &str, env: &[(&str, &str)]) -> Option<String> {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: `script` (util-linux) is not installed");
        return None;
    }
    let mut script = Command::new("script");
    script
        .args(["-qec", command, "/dev/null"])
        .env_remove("NO_COLOR")
        .env("TERM", "xterm");
    for (k, v) in env {
        script.env(k, v);
    }
    let out = script.output().unwrap();
    Some(screen_lines(&String::from_utf8_lossy(&out.stdout)).join("\n"))
}

const YELLOW: &str = "\x1b[1;33m";
const RESET: &str = "\x1b[0m";

#[test]
fn problems_are_coloured_on_a_terminal_unless_no_color_is_set() {
    let dir = tempfile::tempdir().unwrap();
    let trip = unplaced_photos(dir.path());
    let bin = tool("interpolate_direction");
    let command = format!("{} {}", bin.display(), trip.display());
    let skipped = |i: usize, coloured: bool| {
        let (start, end) = if coloured { (YELLOW, RESET) } else { ("", "") };
        format!(
            "{start}interpolate_direction:{end} {}: skipped: no GPS position",
            trip.join(format!("IMG_{i}.jpg")).display()
        )
    };

    let Some(coloured) = on_terminal(&command, &[]) else {
        return;
    };
    let lines: Vec<&str> = coloured.lines().collect();
    for i in 0..2 {
        assert!(lines.contains(&skipped(i, true).as_str()), "{coloured:?}");
    }

    // NO_COLOR set to anything: no colour at all.
    let plain = on_terminal(&command, &[("NO_COLOR", "1")]).unwrap();
    assert!(!plain.contains("\x1b[1;3"), "{plain:?}");
    let lines: Vec<&str> = plain.lines().collect();
    for i in 0..2 {
        assert!(lines.contains(&skipped(i, false).as_str()), "{plain:?}");
    }
    // A dumb terminal: none either.
    let dumb = on_terminal(&command, &[("TERM", "dumb")]).unwrap();
    assert!(!dumb.contains("\x1b[1;3"), "{dumb:?}");

    // Not a terminal: plain lines, no escape codes of any kind.
    let (code, stdout, stderr) = run_tool(bin.to_str().unwrap(), &[trip.as_os_str()], None);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        !stdout.contains('\x1b') && !stderr.contains('\x1b'),
        "{stderr:?}"
    );
    let lines: Vec<&str> = stderr.lines().collect();
    for i in 0..2 {
        assert!(lines.contains(&skipped(i, false).as_str()), "{stderr}");
    }
}
