//! The corpus and the oracles the comparison tests need: which of them
//! this machine lacks, said where `cargo test` shows it; with `CI=true`
//! a missing one fails the run instead of skipping tests silently.

#![allow(clippy::unwrap_used)] // test code

use std::process::Command;

use mapillary_testkit::{Oracle, corpus_dir, in_ci, tell};

#[test]
fn oracles_present() {
    let lacking: Vec<String> = Oracle::ALL
        .iter()
        .filter_map(|o| o.find().err())
        .map(|lack| lack.to_string())
        .collect();
    if lacking.is_empty() {
        return;
    }
    if in_ci() {
        panic!(
            "CI=true, and tests need what is missing:\n  {}",
            lacking.join("\n  ")
        );
    }
    for lack in &lacking {
        tell(&format!("MISSING (tests that need it skip): {lack}"));
    }
}

/// Run by the test below in a process of its own, with the environment it
/// chooses.
#[test]
#[ignore = "run by a_missing_corpus_skips_visibly_and_fails_in_ci"]
fn probe_corpus() {
    assert!(corpus_dir().is_none(), "the probe is run without a corpus");
}

#[test]
fn a_missing_corpus_skips_visibly_and_fails_in_ci() {
    let nowhere = tempfile::tempdir().unwrap();
    let absent = nowhere.path().join("corpus");
    let probe = |ci: Option<&str>| {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command
            .args(["--ignored", "--exact", "probe_corpus", "--test-threads=1"])
            .env("MAPILLARY_CORPUS", &absent)
            .env_remove("CI");
        if let Some(ci) = ci {
            command.env("CI", ci);
        }
        let out = command.output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let lack = format!(
        "the shared corpus is not at {} (MAPILLARY_CORPUS) (set MAPILLARY_CORPUS to the corpus folder)",
        absent.display()
    );

    // Outside CI the test passes, and its SKIPPED line is on stderr
    // although the harness captures the test's output.
    let (passed, stdout, stderr) = probe(None);
    assert!(passed, "{stdout}{stderr}");
    let skipped = format!("SKIPPED probe_corpus: {lack}");
    assert!(stderr.lines().any(|l| l == skipped), "{stderr}");

    // In CI it fails, saying what is missing.
    for ci in ["true", "1"] {
        let (passed, stdout, stderr) = probe(Some(ci));
        assert!(!passed, "CI={ci}: {stdout}{stderr}");
        let failure = format!("CI=true, and probe_corpus cannot run: {lack}");
        assert!(stdout.lines().any(|l| l == failure), "{stdout}{stderr}");
        assert!(!stderr.contains("SKIPPED"), "{stderr}");
    }

    // CI=false is not CI.
    let (passed, stdout, stderr) = probe(Some("false"));
    assert!(passed, "{stdout}{stderr}");
}
