//! The command line of `mapillary-local-server`, described once: the same
//! description parses the arguments, prints `--help` and generates the
//! man page (docs/man/mapillary-local-server.1) and the bash, zsh and fish
//! completions, so none of them can drift apart (a test compares the
//! committed page with `--generate-man`).

use std::ffi::OsString;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::PathBuf;

use mapillary_cli::text::{roff, wrap_indented};

use crate::limits::{
    self, DEFAULT_BODY_MIN_RATE, DEFAULT_BODY_TIMEOUT, DEFAULT_HEADER_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_UPLOAD_BYTES, MAX_JSON_BODY, MAX_SEQUENCE_BYTES,
    MAX_SEQUENCE_IMAGES, MAX_SEQUENCE_PIXELS, format_duration, format_size,
};
use crate::seed::{DEMO_CLIENT_TOKEN, DEMO_EMAIL, DEMO_PASSWORD, DEMO_TOKEN};
use crate::{Config, Seed, faults};

/// The binary's name.
pub const NAME: &str = "mapillary-local-server";

/// An option.
#[derive(Debug, Clone)]
pub struct Opt {
    /// The long name without dashes.
    pub long: &'static str,
    /// The short form, if any.
    pub short: Option<char>,
    /// The value's name, when it takes one.
    pub value: Option<&'static str>,
    /// What it does.
    pub doc: String,
}

/// A section of the help and the man page.
#[derive(Debug, Clone)]
pub struct Section {
    /// Its title (`LIMITS`; the help prints it as `Limits:`).
    pub title: &'static str,
    /// Paragraphs.
    pub paragraphs: Vec<String>,
    /// Terms with their explanation, after the paragraphs.
    pub entries: Vec<(String, String)>,
}

/// The one-line summary.
pub const ABOUT: &str = "A local server that speaks the Mapillary API v4 like the real service, for tests, the demo, and rehearsing uploads without an account.";

/// The options, in the order help lists them.
pub fn options() -> Vec<Opt> {
    let o = |long, short, value, doc: String| Opt {
        long,
        short,
        value,
        doc,
    };
    vec![
        o(
            "data",
            None,
            Some("DIR"),
            "Keep uploads and received sequences here (required; created if missing; sequences already there are shown again).".to_string(),
        ),
        o(
            "host",
            None,
            Some("ADDR"),
            "Listen on this address (default 127.0.0.1: this machine only).".to_string(),
        ),
        o(
            "port",
            None,
            Some("N"),
            "Listen on this port (default 0: any free one).".to_string(),
        ),
        o(
            "seed",
            None,
            Some("FILE"),
            "Users, organizations and images from a JSON file (default: one demo account, one organization, 60 images in Berlin).".to_string(),
        ),
        o(
            "fault",
            None,
            Some("SPEC"),
            "Inject a fault; repeatable. SPEC is WHAT[:OPTIONS][@SCOPE]: WHAT is an HTTP status (503), drop-after=SIZE (3MiB) or slow=DURATION (50ms); OPTIONS are first=N, every=N, retry-after=S; SCOPE is graph, upload, thumbnails or all. E.g. 503:first=1@graph, drop-after=3MiB@upload, 429:every=3@upload.".to_string(),
        ),
        o(
            "token-ttl",
            None,
            Some("DUR"),
            "Login tokens expire after DUR (e.g. 2s).".to_string(),
        ),
        o(
            "max-upload-size",
            None,
            Some("SIZE"),
            format!(
                "The most bytes one upload (one session key) may hold (default {}; e.g. 256MiB, 10GiB).",
                format_size(DEFAULT_MAX_UPLOAD_BYTES)
            ),
        ),
        o(
            "max-connections",
            None,
            Some("N"),
            format!(
                "Serve at most N connections at once (default {DEFAULT_MAX_CONNECTIONS})."
            ),
        ),
        o(
            "header-timeout",
            None,
            Some("DUR"),
            format!(
                "Close a connection whose request headers take longer than DUR, or that sends no request for DUR (default {}).",
                format_duration(DEFAULT_HEADER_TIMEOUT)
            ),
        ),
        o(
            "body-timeout",
            None,
            Some("DUR"),
            format!(
                "Refuse a request body that pauses for longer than DUR (default {}).",
                format_duration(DEFAULT_BODY_TIMEOUT)
            ),
        ),
        o(
            "body-min-rate",
            None,
            Some("SIZE"),
            format!(
                "Refuse a request body that, after its first --body-timeout, arrives slower than SIZE per second on average (default {}; 0: no minimum).",
                format_size(DEFAULT_BODY_MIN_RATE)
            ),
        ),
        o(
            "quiet",
            Some('q'),
            None,
            "Do not log requests.".to_string(),
        ),
        o("help", Some('h'), None, "Print this help and exit.".to_string()),
        o(
            "version",
            Some('V'),
            None,
            "Print the version and exit.".to_string(),
        ),
    ]
}

fn section(title: &'static str, paragraphs: &[&str], entries: &[(&str, &str)]) -> Section {
    Section {
        title,
        paragraphs: paragraphs.iter().map(|p| p.to_string()).collect(),
        entries: entries
            .iter()
            .map(|(t, d)| (t.to_string(), d.to_string()))
            .collect(),
    }
}

/// The sections after the options.
pub fn sections() -> Vec<Section> {
    let limits_text = vec![
        format!(
            "One upload (one session key) holds at most --max-upload-size bytes (default {}). A POST that would go beyond, with or without X-Entity-Length, is refused with 413 and nothing it sent is kept, so the disk never holds more than the limit for one key. The server reads on (at most that many bytes more, without keeping them) so that the client sees the refusal; a zip's images may add up to at most the same size.",
            format_size(DEFAULT_MAX_UPLOAD_BYTES)
        ),
        format!(
            "Request headers must arrive within --header-timeout (default {}); a connection that sends nothing, or nothing more after an answer, is closed after the same time. A request body may pause for at most --body-timeout (default {}) and must then average at least --body-min-rate per second (default {}): a client that sends a byte every few seconds is answered 408 and cut off. What an upload received before it was cut is kept, so the client can resume. JSON bodies (login, finish_upload, logging) may be at most {}.",
            format_duration(DEFAULT_HEADER_TIMEOUT),
            format_duration(DEFAULT_BODY_TIMEOUT),
            format_size(DEFAULT_BODY_MIN_RATE),
            format_size(MAX_JSON_BODY as u64)
        ),
        format!(
            "At most --max-connections connections are served at once (default {DEFAULT_MAX_CONNECTIONS}); more wait in the kernel's queue ({} long). When the server is full, or has no file descriptor left, it closes the connection that has been idle longest (no request in progress, nothing sent for {}) to make room, so that other clients are still answered; when none is idle it waits, and never spins.",
            limits::LISTEN_BACKLOG,
            format_duration(limits::SHED_AFTER_IDLE)
        ),
        format!(
            "At finish_upload a sequence may hold at most {MAX_SEQUENCE_IMAGES} images, {} of images (summed file sizes) and {} gigapixels (summed width x height from each JPEG's frame header), Mapillary's limits as the official client (0.14.7) states them; a larger one is refused with 400 naming the limit.",
            format_size(MAX_SEQUENCE_BYTES),
            MAX_SEQUENCE_PIXELS / 1_000_000_000
        ),
    ];
    vec![
        section(
            "DESCRIPTION",
            &[
                "Speaks the part of the Mapillary API v4 that the tools and the official client (mapillary_tools) use: login, me, organizations, images in a bounding box with thumbnails, the resumable upload service, finish_upload, and logging. It checks what it receives as strictly as the real service does, as far as the official client tells, keeps it in the --data folder, and shows it on a page.",
                "On start it prints one line, `listening on http://HOST:PORT`, then logs one line per request on stderr (never a token). Ctrl-C stops it cleanly (exit 0); another signal ends it at once, with what it had received already on the disk.",
            ],
            &[],
        ),
        section(
            "WHAT IT ACCEPTS",
            &[
                "finish_upload takes file_type zip (a zip of N.jpg entries with the sequence_md5sum comment), mly_bundle_manifest (a manifest of uploaded image handles; both clients' default), mly_camm_video (an MP4 with a CAMM track: what the official client makes of every video, CAMM, GoPro and BlackVue alike) and mly_blackvue_video (a BlackVue MP4 with its GPS box, as older official clients sent). Images are stored as received, one file per image; a video as received, as video.mp4.",
                "Every image must be a JPEG whose EXIF ImageDescription holds a description that the official schema for EXIF-embedded descriptions accepts (MAPLatitude, MAPLongitude and MAPCaptureTime required, no other keys than the schema's, each of the right type, e.g. MAPCompassHeading {\"TrueHeading\": n, \"MagneticHeading\": n}, MAPOrientation an integer). A refusal is a 400 naming the image (its index and handle, or its zip entry) and the field.",
                "Once finished, an upload can no longer be changed: its images are moved into the sequence's folder, and a POST that would add to its session key is refused with 409 (a POST with nothing to add, at the full offset, still gets the handle, as a client that resumes expects). POST /logging, where the official client reports each upload, is answered like the real graph API: {\"success\": true} for the app's client token or a user token.",
            ],
            &[],
        ),
        Section {
            title: "LIMITS",
            paragraphs: limits_text,
            entries: Vec::new(),
        },
        section(
            "POINTING A CLIENT AT IT",
            &[&format!(
                "Default account: email {DEMO_EMAIL}, password {DEMO_PASSWORD}, access token {DEMO_TOKEN}; client token {DEMO_CLIENT_TOKEN}. These tools read MAPILLARY_GRAPH_API_ENDPOINT=http://127.0.0.1:PORT, MAPILLARY_UPLOAD_ENDPOINT=http://127.0.0.1:PORT/mapillary_public_uploads and MAPILLARY_ACCESS_TOKEN. The official client reads the same two endpoints; also set MAPILLARY_CLIENT_TOKEN to the client token above (its logging call uses it), and give it a profiles file and an upload history of their own (MAPILLARY_CONFIG_PATH, MAPILLARY_UPLOAD_HISTORY_PATH), or a rehearsal is recorded as a real upload and later skipped."
            )],
            &[],
        ),
        section(
            "PAGES",
            &[],
            &[
                (
                    "/",
                    "The received sequences on a map (also at /local): each image at its MAPLatitude and MAPLongitude, looking its MAPCompassHeading, one colour per sequence and joined in capture-time order; hover over an image for its name (MAPFilename, else its file in the sequence), capture time (UTC) and position. Below the map, each sequence with its user, organization, photos and video (videos are listed, not drawn: the server does not read their GPS track). The page loads nothing but the server's own files, unless its OpenStreetMap background is turned on.",
                ),
                (
                    "/local/sequences",
                    "The received sequences as JSON, with each image's description.",
                ),
                (
                    "/local/stats",
                    "Counters: requests per endpoint, bytes received per session key, faults fired, logged events, connections shed.",
                ),
            ],
        ),
        section(
            "FILES",
            &[],
            &[
                (
                    "DIR/uploads/KEY",
                    "The bytes received under a session key (until an image or video is finished into a sequence).",
                ),
                (
                    "DIR/sequences/ID/",
                    "A finished sequence: its images 0.jpg, 1.jpg, ... or video.mp4, and sequence.json.",
                ),
            ],
        ),
        section(
            "EXIT STATUS",
            &[],
            &[
                ("0", "Stopped by Ctrl-C, or --help or --version."),
                (
                    "1",
                    "Could not start (the address is in use, the data folder cannot be made, signals cannot be handled).",
                ),
                (
                    "2",
                    "A usage error (an unknown option, a bad value, no --data).",
                ),
            ],
        ),
        section(
            "EXAMPLES",
            &[],
            &[
                (
                    "mapillary-local-server --data /tmp/mly --port 8080",
                    "Serve on http://127.0.0.1:8080, keeping what it receives in /tmp/mly.",
                ),
                (
                    "mapillary-local-server --data /tmp/mly --fault 503:first=2@graph --fault drop-after=3MiB@upload",
                    "Rehearse a bad day: the first two graph calls fail, every upload is cut after 3 MiB.",
                ),
                (
                    "mapillary-local-server --data /tmp/mly --max-upload-size 20GiB",
                    "Accept the official client's zips of large sequences.",
                ),
            ],
        ),
        section(
            "SEE ALSO",
            &[
                "upload(1), upload_with_authentication(1), download_images(1); docs/local-server.md.",
            ],
            &[],
        ),
    ]
}

fn option_label(o: &Opt) -> String {
    let mut s = match o.short {
        Some(c) => format!("-{c}, --{}", o.long),
        None => format!("    --{}", o.long),
    };
    if let Some(v) = o.value {
        s.push(' ');
        s.push_str(v);
    }
    s
}

fn title_case(t: &str) -> String {
    let lower = t.to_lowercase();
    let mut c = lower.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The `--help` text.
pub fn help() -> String {
    let mut s = format!(
        "{NAME} {}\n{ABOUT}\n\nUsage: {NAME} --data DIR [options]\n\nOptions:\n",
        env!("CARGO_PKG_VERSION")
    );
    for o in options() {
        let _ = writeln!(s, "  {}", option_label(&o));
        s.push_str(&wrap_indented(&o.doc, 72, "        "));
    }
    for sec in sections() {
        let _ = writeln!(s, "\n{}:", title_case(sec.title));
        for (i, p) in sec.paragraphs.iter().enumerate() {
            if i > 0 {
                s.push('\n');
            }
            s.push_str(&wrap_indented(p, 76, "  "));
        }
        for (term, doc) in &sec.entries {
            let _ = writeln!(s, "  {term}");
            s.push_str(&wrap_indented(doc, 72, "        "));
        }
    }
    s
}

/// The man page, in roff.
pub fn man_page() -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        ".TH MAPILLARY\\-LOCAL\\-SERVER 1 \"\" \"{NAME} {}\" \"Mapillary tools\"",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(s, ".SH NAME\n{} \\- {}", roff(NAME), roff(ABOUT));
    let _ = writeln!(
        s,
        ".SH SYNOPSIS\n.B {}\n\\fB\\-\\-data\\fR \\fIDIR\\fR\n[\\fIoptions\\fR]",
        roff(NAME)
    );
    let all = sections();
    let (description, rest) = all.split_at(1);
    let write_section = |s: &mut String, sec: &Section| {
        let _ = writeln!(s, ".SH {}", sec.title);
        for (i, p) in sec.paragraphs.iter().enumerate() {
            if i > 0 {
                s.push_str(".PP\n");
            }
            let _ = writeln!(s, "{}", roff(p));
        }
        for (term, doc) in &sec.entries {
            let _ = writeln!(s, ".TP\n.B {}\n{}", roff(term), roff(doc));
        }
    };
    for sec in description {
        write_section(&mut s, sec);
    }
    s.push_str(".SH OPTIONS\n");
    for o in options() {
        let _ = writeln!(
            s,
            ".TP\n.B {}\n{}",
            roff(option_label(&o).trim_start()),
            roff(&o.doc)
        );
    }
    for sec in rest {
        write_section(&mut s, sec);
    }
    s
}

pub use mapillary_cli::completion::Shell;

/// The completion script for `shell`, made as the tools' own (the same
/// generator), so that an installation that renames the commands rewrites
/// all of them alike.
pub fn completions(shell: Shell) -> String {
    use mapillary_cli::completion;
    use mapillary_cli::flags::Complete;
    let options = options();
    let command = completion::Command {
        name: NAME,
        options: options
            .iter()
            .map(|o| completion::Opt {
                long: o.long,
                short: o.short,
                value: o.value,
                doc: &o.doc,
                complete: match o.value {
                    Some("DIR") => Complete::Folder,
                    Some("FILE") => Complete::Path,
                    _ => Complete::Nothing,
                },
            })
            .collect(),
        positionals: Vec::new(),
    };
    completion::script(shell, &command)
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    /// Serve with this configuration.
    Serve(Box<Config>),
    /// Print this text and exit 0 (help, version, man page).
    Print(String),
}

/// Reads the command line (without the program name). `Err` is a usage
/// error (exit 2), one line.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, String> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_args(args);
    let mut data: Option<PathBuf> = None;
    let mut config = Config::new(PathBuf::new());
    config.log = true;
    fn value(parser: &mut lexopt::Parser) -> Result<String, String> {
        parser
            .value()
            .map(|v| v.to_string_lossy().into_owned())
            .map_err(|e| e.to_string())
    }
    while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
        match arg {
            Long("data") => data = Some(PathBuf::from(value(&mut parser)?)),
            Long("host") => {
                let v = value(&mut parser)?;
                config.host = v
                    .parse::<IpAddr>()
                    .map_err(|_| format!("--host: '{v}' is not an IP address"))?;
            }
            Long("port") => {
                config.port = value(&mut parser)?
                    .parse()
                    .map_err(|_| "--port must be a number from 0 to 65535".to_string())?;
            }
            Long("seed") => config.seed = Seed::from_file(&PathBuf::from(value(&mut parser)?))?,
            Long("fault") => config
                .faults
                .push(faults::parse(&value(&mut parser)?).map_err(|e| e.to_string())?),
            Long("token-ttl") => {
                config.token_ttl = Some(
                    faults::duration(&value(&mut parser)?)
                        .ok_or("--token-ttl: use a duration such as 2s or 500ms")?,
                );
            }
            Long("max-upload-size") => {
                config.limits.max_upload_bytes = limits::parse_size(&value(&mut parser)?)
                    .filter(|n| *n > 0)
                    .ok_or("--max-upload-size: use a size such as 256MiB or 10GiB")?;
            }
            Long("max-connections") => {
                config.limits.max_connections = value(&mut parser)?
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or("--max-connections must be a number of at least 1")?;
            }
            Long("header-timeout") => {
                config.limits.header_timeout = faults::duration(&value(&mut parser)?)
                    .filter(|d| !d.is_zero())
                    .ok_or("--header-timeout: use a duration such as 30s or 500ms")?;
            }
            Long("body-timeout") => {
                config.limits.body_timeout = faults::duration(&value(&mut parser)?)
                    .filter(|d| !d.is_zero())
                    .ok_or("--body-timeout: use a duration such as 30s or 500ms")?;
            }
            Long("body-min-rate") => {
                config.limits.body_min_rate = limits::parse_size(&value(&mut parser)?)
                    .ok_or("--body-min-rate: use a size per second such as 1KiB or 0")?;
            }
            Short('q') | Long("quiet") => config.log = false,
            Short('h') | Long("help") => return Ok(Command::Print(help())),
            Short('V') | Long("version") => {
                return Ok(Command::Print(format!(
                    "{NAME} {}\n",
                    env!("CARGO_PKG_VERSION")
                )));
            }
            Long("generate-man") => return Ok(Command::Print(man_page())),
            Long("generate-completions") => {
                let name = value(&mut parser)?;
                return Shell::ALL
                    .iter()
                    .find(|(_, n)| *n == name)
                    .map(|(shell, _)| Command::Print(completions(*shell)))
                    .ok_or_else(|| "--generate-completions: bash, zsh or fish".to_string());
            }
            other => return Err(other.unexpected().to_string()),
        }
    }
    config.data_dir = data.ok_or("--data DIR is required (where received uploads are kept)")?;
    Ok(Command::Serve(Box::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    #[test]
    fn limits_come_from_the_command_line() {
        let Ok(Command::Serve(c)) = parse(args(&[
            "--data",
            "d",
            "--max-upload-size",
            "256MiB",
            "--max-connections",
            "64",
            "--header-timeout",
            "2s",
            "--body-timeout",
            "500ms",
            "--body-min-rate",
            "0",
        ])) else {
            panic!("not a configuration");
        };
        assert_eq!(c.limits.max_upload_bytes, 256 << 20);
        assert_eq!(c.limits.max_connections, 64);
        assert_eq!(c.limits.header_timeout, std::time::Duration::from_secs(2));
        assert_eq!(c.limits.body_timeout, std::time::Duration::from_millis(500));
        assert_eq!(c.limits.body_min_rate, 0);
        for bad in [
            &["--data", "d", "--max-upload-size", "lots"][..],
            &["--data", "d", "--max-connections", "0"],
            &["--data", "d", "--header-timeout", "0s"],
            &["--data", "d", "--body-min-rate", "fast"],
        ] {
            let err = parse(args(bad)).unwrap_err();
            assert!(err.starts_with(bad[2]), "{err}");
        }
    }

    #[test]
    fn completions_offer_every_option_for_each_shell() {
        for (shell, name) in Shell::ALL {
            let Ok(Command::Print(text)) = parse(args(&["--generate-completions", name])) else {
                panic!("--generate-completions {name} prints no script");
            };
            assert_eq!(text, completions(shell));
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(
                lines.iter().find(|l| l.starts_with("# ")).copied(),
                Some(
                    format!(
                        "# {name} completion for {NAME}; generated by {NAME} --generate-completions {name}"
                    )
                    .as_str()
                )
            );
            for o in options() {
                let offered = match shell {
                    Shell::Bash => text
                        .lines()
                        .filter_map(|l| l.trim().strip_prefix("COMPREPLY=($(compgen -W \""))
                        .filter_map(|l| l.split('"').next())
                        .any(|words| words.split(' ').any(|w| w == format!("--{}", o.long))),
                    Shell::Zsh => {
                        text.contains(&format!("'--{}[", o.long))
                            || text.contains(&format!(",--{}}}'[", o.long))
                    }
                    Shell::Fish => text.contains(&format!("complete -c {NAME} -l {} ", o.long)),
                };
                assert!(offered, "{name} does not offer --{}", o.long);
            }
        }
        let bash = completions(Shell::Bash);
        let bash: Vec<&str> = bash.lines().collect();
        assert!(bash.contains(&"        --data) COMPREPLY=($(compgen -d -- \"$cur\")); return ;;"));
        assert!(bash.contains(&"        --seed) COMPREPLY=($(compgen -f -- \"$cur\")); return ;;"));
        assert_eq!(
            bash.last().copied(),
            Some("complete -F _mapillary_local_server mapillary-local-server")
        );
        let zsh = completions(Shell::Zsh);
        assert_eq!(zsh.lines().next(), Some("#compdef mapillary-local-server"));
        assert!(
            zsh.lines()
                .any(|l| l == "  '--host[Listen on this address]:ADDR: ' \\")
        );
        let fish = completions(Shell::Fish);
        assert!(fish.lines().any(|l| l
            == "complete -c mapillary-local-server -l max-upload-size -r -f -d 'The most bytes one upload (one session key) may hold'"));
        assert!(
            fish.lines().any(|l| l
                == "complete -c mapillary-local-server -l quiet -s q -d 'Do not log requests'")
        );
        let err = parse(args(&["--generate-completions", "ksh"])).unwrap_err();
        assert_eq!(err, "--generate-completions: bash, zsh or fish");
    }

    #[test]
    fn help_and_man_page_say_the_same() {
        let help = help();
        let man = man_page();
        for o in options() {
            assert!(help.contains(&format!("--{}", o.long)), "{}", o.long);
            assert!(man.contains(&roff(&format!("--{}", o.long))), "{}", o.long);
        }
        for needle in [
            "4 GiB",
            "30 s",
            "1 KiB",
            "512",
            "1000 images",
            "110 GiB",
            "6 gigapixels",
        ] {
            assert!(help.contains(needle), "help lacks {needle}");
            assert!(man.contains(needle), "man page lacks {needle}");
        }
        assert!(man.contains(".SH EXIT STATUS"));
        // roff and terminals without UTF-8 read plain ASCII best.
        assert!(man.is_ascii() && help.is_ascii());
        assert!(help.contains("Exit status:"));
    }
}
