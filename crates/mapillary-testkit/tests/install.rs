//! `make install` and `make uninstall` into a staging folder (DESTDIR), with
//! the binaries `cargo test --workspace` built beside this test (BUILD=no,
//! BUILT=): eleven binaries, their man pages and 33 completion scripts, all
//! renamed with PROGRAM_PREFIX, and removed again by uninstall.

#![allow(clippy::unwrap_used)] // test code

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use mapillary_testkit::{Missing, missing, workspace_root};

const SHELLS: [&str; 3] = ["bash", "zsh", "fish"];

/// The ten tools and the local server.
fn programs() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(workspace_root().join("tools"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names.push("mapillary-local-server".to_string());
    names
}

/// Where cargo put the binaries it built for this test run.
fn built() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

/// `make` with these arguments in the workspace; its stdout.
fn make(args: &[String]) -> String {
    let out = Command::new("make")
        .arg("--no-print-directory")
        .arg("-C")
        .arg(workspace_root())
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "make {}:\n{stdout}{stderr}",
        args.join(" ")
    );
    stdout
}

fn variables(dest: &Path, prefix: &str) -> Vec<String> {
    vec![
        format!("DESTDIR={}", dest.display()),
        "PREFIX=/usr".to_string(),
        format!("PROGRAM_PREFIX={prefix}"),
        "PROFILE=debug".to_string(),
        "BUILD=no".to_string(),
        format!("BUILT={}", built().display()),
    ]
}

/// Every file under `dir`, relative to it.
fn files(dir: &Path) -> BTreeSet<String> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for e in entries {
            let path = e.unwrap().path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                out.insert(path.strip_prefix(base).unwrap().display().to_string());
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

/// The files install puts for `programs` renamed with `prefix`.
fn expected(programs: &[String], prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for t in programs {
        let n = format!("{prefix}{t}");
        out.insert(format!("usr/bin/{n}"));
        out.insert(format!("usr/share/man/man1/{n}.1"));
        out.insert(format!("usr/share/bash-completion/completions/{n}"));
        out.insert(format!("usr/share/zsh/site-functions/_{n}"));
        out.insert(format!("usr/share/fish/vendor_completions.d/{n}.fish"));
    }
    out
}

fn completion_path(dest: &Path, shell: &str, name: &str) -> PathBuf {
    dest.join(match shell {
        "bash" => format!("usr/share/bash-completion/completions/{name}"),
        "zsh" => format!("usr/share/zsh/site-functions/_{name}"),
        _ => format!("usr/share/fish/vendor_completions.d/{name}.fish"),
    })
}

/// What the built binary generates for `shell`.
fn generated(program: &str, shell: &str) -> String {
    let out = Command::new(built().join(program))
        .args(["--generate-completions", shell])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{program} --generate-completions {shell}"
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The lines of a completion script that name the command it completes.
fn names_the_command(line: &str) -> bool {
    line.starts_with("# ")
        || line.starts_with("#compdef ")
        || line.starts_with("complete -F ")
        || line.starts_with("complete -c ")
        || (line.starts_with('_') && line.ends_with("() {"))
}

fn version_line(binary: &Path) -> String {
    let out = Command::new(binary).arg("--version").output().unwrap();
    assert!(out.status.success(), "{} --version", binary.display());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn make_install_puts_binaries_man_pages_and_completions_and_uninstall_removes_them() {
    if Command::new("make").arg("--version").output().is_err() {
        missing(&Missing {
            what: "make is not installed".to_string(),
            how: "apt-get install make".to_string(),
        });
        return;
    }
    let programs = programs();
    assert_eq!(programs.len(), 11, "{programs:?}");
    let unbuilt: Vec<&String> = programs
        .iter()
        .filter(|p| !built().join(p).is_file())
        .collect();
    if !unbuilt.is_empty() {
        missing(&Missing {
            what: format!("{unbuilt:?} are not built in {}", built().display()),
            how: "run cargo test --workspace, which builds every binary".to_string(),
        });
        return;
    }
    let root = workspace_root();
    let stage = tempfile::tempdir().unwrap();
    let plain = stage.path().join("plain");
    let renamed = stage.path().join("renamed");

    // Without a prefix: the names as built.
    let mut args = vec!["install".to_string()];
    args.extend(variables(&plain, ""));
    let out = make(&args);
    assert_eq!(
        out,
        format!(
            "installed 11 programs with their man pages and completions under {}/usr\n",
            plain.display()
        )
    );
    assert_eq!(files(&plain), expected(&programs, ""));
    for t in &programs {
        let bin = plain.join("usr/bin").join(t);
        assert_eq!(fs::read(&bin).unwrap(), fs::read(built().join(t)).unwrap());
        assert_eq!(
            fs::metadata(&bin).unwrap().permissions().mode() & 0o777,
            0o755
        );
        assert_eq!(
            fs::read(plain.join(format!("usr/share/man/man1/{t}.1"))).unwrap(),
            fs::read(root.join(format!("docs/man/{t}.1"))).unwrap()
        );
        for shell in SHELLS {
            assert_eq!(
                fs::read_to_string(completion_path(&plain, shell, t)).unwrap(),
                generated(t, shell),
                "{t} {shell}"
            );
        }
    }
    assert_eq!(
        version_line(&plain.join("usr/bin/time_split")),
        "time_split 0.1.0\n"
    );

    // With PROGRAM_PREFIX=mly-: every name renamed, and the completions
    // complete the renamed command; nothing else in them changes.
    let mut args = vec!["install".to_string()];
    args.extend(variables(&renamed, "mly-"));
    make(&args);
    assert_eq!(files(&renamed), expected(&programs, "mly-"));
    for t in &programs {
        let n = format!("mly-{t}");
        let function = format!("_{}", n.replace('-', "_"));
        for shell in SHELLS {
            let script = fs::read_to_string(completion_path(&renamed, shell, &n)).unwrap();
            let original = generated(t, shell);
            let lines: Vec<&str> = script.lines().collect();
            let before: Vec<&str> = original.lines().collect();
            assert_eq!(lines.len(), before.len(), "{n} {shell}");
            for (now, was) in lines.iter().zip(&before) {
                if now != was {
                    assert!(names_the_command(was), "{n} {shell}: {was} became {now}");
                }
            }
            assert_eq!(
                lines.iter().find(|l| l.starts_with("# ")).copied().unwrap(),
                format!(
                    "# {shell} completion for {n}; generated by {t} --generate-completions {shell}"
                )
            );
            match shell {
                "bash" => {
                    assert!(lines.contains(&format!("{function}() {{").as_str()));
                    assert_eq!(
                        lines.last().copied().unwrap(),
                        format!("complete -F {function} {n}")
                    );
                }
                "zsh" => assert_eq!(lines[0], format!("#compdef {n}")),
                _ => {
                    let registrations: Vec<&&str> = lines
                        .iter()
                        .filter(|l| l.starts_with("complete "))
                        .collect();
                    assert!(!registrations.is_empty());
                    for l in registrations {
                        assert!(l.starts_with(&format!("complete -c {n} ")), "{l}");
                    }
                }
            }
        }
    }
    // bash itself registers the renamed commands, and only those.
    if Command::new("bash").arg("--version").output().is_ok() {
        let dir = renamed.join("usr/share/bash-completion/completions");
        let out = Command::new("bash")
            .arg("-c")
            .arg("for f in \"$0\"/*; do . \"$f\"; done; complete -p")
            .arg(&dir)
            .output()
            .unwrap();
        assert!(out.status.success());
        let registered: BTreeSet<String> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        let wanted: BTreeSet<String> = programs
            .iter()
            .map(|t| {
                let n = format!("mly-{t}");
                format!("complete -F _{} {n}", n.replace('-', "_"))
            })
            .collect();
        assert_eq!(registered, wanted);
    }
    assert_eq!(
        version_line(&renamed.join("usr/bin/mly-upload")),
        "upload 0.1.0\n"
    );

    // uninstall removes what install put, with the same variables: the
    // prefixed installation beside the plain one leaves the plain one whole.
    let mut args = vec!["install".to_string()];
    args.extend(variables(&plain, "mly-"));
    make(&args);
    let mut args = vec!["uninstall".to_string()];
    args.extend(variables(&plain, "mly-"));
    assert_eq!(make(&args), "");
    assert_eq!(files(&plain), expected(&programs, ""));
    let mut args = vec!["uninstall".to_string()];
    args.extend(variables(&plain, ""));
    make(&args);
    assert_eq!(files(&plain), BTreeSet::new());
    let mut args = vec!["uninstall".to_string()];
    args.extend(variables(&renamed, "mly-"));
    make(&args);
    assert_eq!(files(&renamed), BTreeSet::new());
}

#[test]
fn a_program_prefix_that_is_not_a_plain_name_is_refused() {
    if Command::new("make").arg("--version").output().is_err() {
        missing(&Missing {
            what: "make is not installed".to_string(),
            how: "apt-get install make".to_string(),
        });
        return;
    }
    let stage = tempfile::tempdir().unwrap();
    for bad in ["a/b", "x y", "a&b"] {
        let out = Command::new("make")
            .arg("--no-print-directory")
            .arg("-C")
            .arg(workspace_root())
            .arg("install")
            .args(variables(stage.path(), bad))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "PROGRAM_PREFIX={bad}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            stderr.lines().next(),
            Some("PROGRAM_PREFIX may hold only letters, digits, '.', '_' and '-'"),
            "{stderr}"
        );
        assert_eq!(files(stage.path()), BTreeSet::new());
    }
}
