//! A tool's interface described once, with its flags as types
//! ([`crate::flags`]): the same description parses the command line into
//! the tool's own arguments struct, prints `--help`, and generates the man
//! page and the bash, zsh and fish completions, so none of them can drift.
//! [`main`] is the whole `main` of every tool: parse, run, print, exit.

use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;

use crate::Status;
use crate::completion;
use crate::failure::Failure;
use crate::flags::{Complete, Flag, Json, Positional, Quiet, ToolArgs, UsageError, Verbose};
use crate::printer::Printer;
use crate::text::{paragraphs, roff, wrap};

/// The variables every tool reads.
const COMMON_ENVIRONMENT: &[(&str, &str)] = &[(
    "NO_COLOR",
    "When set (to anything but the empty string), problems are never coloured. Without it, the tool's name before a problem is red or yellow on a terminal (not with TERM=dumb, and never when stderr is not a terminal).",
)];

/// Hidden option that prints the man page (used to keep docs/man current).
pub const GENERATE_MAN: &str = "generate-man";

/// The FILES section of every tool that rewrites photos.
pub const REWRITTEN_PHOTOS: &str = "Each photo is rewritten into a temporary file beside it, which is created \
    readable by its owner only and then given the photo's owner, group, extended attributes and permissions \
    (so no one can read it who could not read the photo); it is read back and checked, and renamed over \
    the photo only if the photo is still the file that was read (same inode, size, modification and change \
    time); otherwise the photo is reported as changed meanwhile and left as the other program wrote it. \
    While a photo is read and rewritten it is locked (flock), so two of these tools never work on one photo \
    at once; an edit reported as written is never lost to another of these tools.\n\n\
    Refused and left byte for byte unchanged, each with a message: a photo that looks incomplete (its image \
    data does not end with an EOI marker: still being copied?); a read-only photo, and another user's photo, \
    unless --force (as root the owner is kept; anyone else is always refused another user's photo, which \
    would otherwise become theirs); a photo whose EXIF holds a value outside the EXIF block.\n\n\
    The modification time of a rewritten photo is the time of the rewrite, so that backup and sync \
    programs see the change; --keep-mtime keeps the old one. A symbolic link stays a link: the file it \
    points to is rewritten. A photo with several hard links: the name given (or found) gets the new file, \
    and the photo's other names keep the old content. Without --sync, a power cut shortly after a run can \
    leave a rewritten photo empty on some file systems (see docs/files.md).";

/// What the exit statuses mean; every help and man page says it.
pub const EXIT_STATUS: &str = "0 when everything was done; 1 when some photo (or other item) failed or was skipped, \
    when nothing was found to work on, or when the run could not go on (the server refused, ...); 2 on a usage error \
    or when an input named on the command line cannot be used (a missing folder or GPX file); 130 when interrupted \
    (Ctrl-C stops between two photos).";

/// Everything about a tool's interface.
pub struct Tool<A: 'static> {
    /// The binary's name.
    pub name: &'static str,
    /// The version (the workspace version).
    pub version: &'static str,
    /// One line: what the tool does.
    pub about: &'static str,
    /// Positional arguments, in order.
    pub positionals: &'static [Positional<A>],
    /// The tool's flags (`-q`, `-v`, `--json`, `--help` and `--version`
    /// are added).
    pub flags: &'static [&'static dyn Flag<A>],
    /// Paragraphs explaining the behaviour, separated by blank lines.
    pub description: &'static str,
    /// What the tool promises about the files it writes (paragraphs; empty
    /// for tools that write none).
    pub files: &'static str,
    /// Environment variables the tool reads, with their meaning.
    pub environment: &'static [(&'static str, &'static str)],
    /// Example command lines with what they do.
    pub examples: &'static [(&'static str, &'static str)],
    /// The legacy script this tool replaces.
    pub replaces: &'static str,
}

impl<A> std::fmt::Debug for Tool<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tool")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Parsed<A> {
    /// Run the tool with these arguments.
    Run(A),
    /// `--help`.
    Help,
    /// `--version`.
    Version,
    /// `--generate-man` (hidden).
    Man,
    /// `--generate-completions SHELL` (hidden).
    Completions(Shell),
}

pub use crate::completion::Shell;

/// A line of help: the flags every tool has, listed but handled here.
struct Listed {
    long: &'static str,
    short: Option<char>,
    value: Option<&'static str>,
    doc: &'static str,
    complete: Complete,
}

impl<A: ToolArgs> Tool<A> {
    fn common() -> [&'static dyn Flag<A>; 3] {
        [&Quiet, &Verbose, &Json]
    }

    /// Every flag, the tool's own first.
    pub fn all_flags(&self) -> impl Iterator<Item = &'static dyn Flag<A>> + '_ {
        self.flags.iter().copied().chain(Tool::<A>::common())
    }

    fn listed(&self) -> Vec<Listed> {
        let mut out: Vec<Listed> = self
            .all_flags()
            .map(|f| Listed {
                long: f.long(),
                short: f.short(),
                value: f.value_name(),
                doc: f.doc(),
                complete: f.complete(),
            })
            .collect();
        out.push(Listed {
            long: "help",
            short: Some('h'),
            value: None,
            doc: "Print this help and exit.",
            complete: Complete::Nothing,
        });
        out.push(Listed {
            long: "version",
            short: Some('V'),
            value: None,
            doc: "Print the version and exit.",
            complete: Complete::Nothing,
        });
        out
    }

    /// `name [options] path 'YYYY-mm-dd HH:MM:SS' increment [x]`.
    pub fn usage(&self) -> String {
        let mut s = format!("{} [options]", self.name);
        for p in self.positionals {
            if p.optional {
                let _ = write!(s, " [{}]", p.name);
            } else {
                let _ = write!(s, " {}", p.name);
            }
        }
        s
    }

    /// Parses `args` (without the program name).
    pub fn parse<I>(&self, args: I) -> Result<Parsed<A>, UsageError>
    where
        I: IntoIterator,
        I::Item: Into<OsString>,
    {
        let mut parser = lexopt::Parser::from_args(args);
        let mut parsed = A::default();
        for flag in self.all_flags() {
            flag.init(&mut parsed);
        }
        let mut given = 0;
        loop {
            // Negative numbers are positionals, not options.
            if let Some(mut raw) = parser.try_raw_args()
                && let Some(number) = raw.next_if(crate::flags::is_negative_number)
            {
                self.positional(&mut parsed, given, &number)?;
                given += 1;
                continue;
            }
            let Some(arg) = parser.next()? else { break };
            let flag = match arg {
                lexopt::Arg::Value(v) => {
                    self.positional(&mut parsed, given, &v)?;
                    given += 1;
                    continue;
                }
                lexopt::Arg::Long("help") | lexopt::Arg::Short('h') => return Ok(Parsed::Help),
                lexopt::Arg::Long("version") | lexopt::Arg::Short('V') => {
                    return Ok(Parsed::Version);
                }
                lexopt::Arg::Long(GENERATE_MAN) => return Ok(Parsed::Man),
                lexopt::Arg::Long("generate-completions") => {
                    let name = parser.value()?;
                    return Shell::ALL
                        .iter()
                        .find(|(_, n)| OsStr::new(n) == name)
                        .map(|(s, _)| Parsed::Completions(*s))
                        .ok_or_else(|| {
                            UsageError("--generate-completions: bash, zsh or fish".into())
                        });
                }
                lexopt::Arg::Long(name) => self
                    .all_flags()
                    .find(|f| f.long() == name)
                    .ok_or_else(|| UsageError(format!("unknown option --{name}")))?,
                lexopt::Arg::Short(c) => self
                    .all_flags()
                    .find(|f| f.short() == Some(c))
                    .ok_or_else(|| UsageError(format!("unknown option -{c}")))?,
            };
            let value = match flag.value_name() {
                Some(_) => Some(
                    parser
                        .value()
                        .map_err(|_| UsageError(format!("--{} needs a value", flag.long())))?,
                ),
                None => None,
            };
            flag.set(&mut parsed, value.as_deref())?;
        }
        let missing: Vec<&str> = self.positionals[given.min(self.positionals.len())..]
            .iter()
            .filter(|p| !p.optional)
            .map(|p| p.name)
            .collect();
        if !missing.is_empty() {
            return Err(UsageError(format!(
                "missing argument: {}",
                missing.join(", ")
            )));
        }
        parsed.check()?;
        Ok(Parsed::Run(parsed))
    }

    fn positional(&self, args: &mut A, index: usize, value: &OsStr) -> Result<(), UsageError> {
        match self.positionals.get(index) {
            Some(p) => (p.set)(args, value),
            None => Err(UsageError(format!(
                "unexpected argument '{}'",
                value.to_string_lossy()
            ))),
        }
    }

    /// The `--help` text.
    pub fn help(&self) -> String {
        let mut s = format!(
            "{} {}\n{}\n\nUsage: {}\n",
            self.name,
            self.version,
            self.about,
            self.usage()
        );
        if !self.positionals.is_empty() {
            s.push_str("\nArguments:\n");
            for p in self.positionals {
                let _ = writeln!(s, "  {:<22}{}", p.name, p.doc);
            }
        }
        s.push_str("\nOptions:\n");
        for f in self.listed() {
            let _ = writeln!(s, "  {:<22}{}", label(&f), f.doc);
        }
        for para in paragraphs(self.description) {
            s.push('\n');
            s.push_str(&wrap(&para, 78));
        }
        if !self.files.is_empty() {
            s.push_str("\nFiles:\n");
            for (i, para) in paragraphs(self.files).iter().enumerate() {
                if i > 0 {
                    s.push('\n');
                }
                s.push_str(&wrap(para, 78));
            }
        }
        // Every tool reads the common variables, so the section is always there.
        s.push_str("\nEnvironment:\n");
        for (name, doc) in self.environment.iter().chain(COMMON_ENVIRONMENT) {
            let _ = writeln!(s, "  {name}\n      {doc}");
        }
        if !self.examples.is_empty() {
            s.push_str("\nExamples:\n");
            for (cmd, doc) in self.examples {
                let _ = writeln!(s, "  {cmd}\n      {doc}");
            }
        }
        s.push_str("\nExit status:\n");
        s.push_str(&wrap(EXIT_STATUS, 78));
        let _ = write!(
            s,
            "\nReplaces {}. See man {}(1).\n",
            self.replaces, self.name
        );
        s
    }

    /// The man page, in roff.
    pub fn man_page(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            ".TH {} 1 \"\" \"{} {}\" \"Mapillary tools\"",
            self.name.to_uppercase().replace('_', "\\_"),
            self.name,
            self.version
        );
        let _ = writeln!(s, ".SH NAME\n{} \\- {}", roff(self.name), roff(self.about));
        let _ = writeln!(s, ".SH SYNOPSIS\n.B {}\n[\\fIoptions\\fR]", roff(self.name));
        for p in self.positionals {
            if p.optional {
                let _ = writeln!(s, "[\\fI{}\\fR]", roff(p.name));
            } else {
                let _ = writeln!(s, "\\fI{}\\fR", roff(p.name));
            }
        }
        s.push_str(".SH DESCRIPTION\n");
        for (i, para) in paragraphs(self.description).iter().enumerate() {
            if i > 0 {
                s.push_str(".PP\n");
            }
            let _ = writeln!(s, "{}", roff(para));
        }
        if !self.positionals.is_empty() {
            s.push_str(".SH ARGUMENTS\n");
            for p in self.positionals {
                let _ = writeln!(s, ".TP\n.I {}\n{}", roff(p.name), roff(p.doc));
            }
        }
        s.push_str(".SH OPTIONS\n");
        for f in self.listed() {
            let _ = writeln!(s, ".TP\n.B {}\n{}", roff(&label(&f)), roff(f.doc));
        }
        if !self.files.is_empty() {
            s.push_str(".SH FILES\n");
            for (i, para) in paragraphs(self.files).iter().enumerate() {
                if i > 0 {
                    s.push_str(".PP\n");
                }
                let _ = writeln!(s, "{}", roff(para));
            }
        }
        // Every tool reads the common variables, so the section is always there.
        s.push_str(".SH ENVIRONMENT\n");
        for (name, doc) in self.environment.iter().chain(COMMON_ENVIRONMENT) {
            let _ = writeln!(s, ".TP\n.B {}\n{}", roff(name), roff(doc));
        }
        let _ = writeln!(
            s,
            ".SH EXIT STATUS\n{}",
            roff(&paragraphs(EXIT_STATUS).join(" "))
        );
        if !self.examples.is_empty() {
            s.push_str(".SH EXAMPLES\n");
            for (cmd, doc) in self.examples {
                let _ = writeln!(s, ".TP\n.B {}\n{}", roff(cmd), roff(doc));
            }
        }
        let _ = writeln!(
            s,
            ".SH HISTORY\nReplaces {}, with the same positional arguments.",
            roff(self.replaces)
        );
        s
    }

    /// The completion script for `shell`.
    pub fn completions(&self, shell: Shell) -> String {
        let command = completion::Command {
            name: self.name,
            options: self
                .listed()
                .into_iter()
                .map(|l| completion::Opt {
                    long: l.long,
                    short: l.short,
                    value: l.value,
                    doc: l.doc,
                    complete: l.complete,
                })
                .collect(),
            positionals: self
                .positionals
                .iter()
                .map(|p| completion::Arg {
                    name: p.name,
                    optional: p.optional,
                    complete: p.complete,
                })
                .collect(),
        };
        completion::script(shell, &command)
    }
}

fn label(f: &Listed) -> String {
    let mut s = match f.short {
        Some(c) => format!("-{c}, --{}", f.long),
        None => format!("    --{}", f.long),
    };
    if let Some(v) = f.value {
        s.push(' ');
        s.push_str(v);
    }
    s
}

fn print_and_exit(text: &str) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::from(1),
    }
}

/// Prints a usage error with the usage line; exit status 2.
fn usage_error<A: ToolArgs>(tool: &Tool<A>, message: &str) -> ExitCode {
    let _ = writeln!(
        std::io::stderr().lock(),
        "{name}: {message}\nUsage: {usage} (see {name} --help)",
        name = tool.name,
        // The message may quote an argument, which may hold anything.
        message = mapillary_core::shown::escaped(message),
        usage = tool.usage()
    );
    ExitCode::from(2)
}

/// The whole `main` of a tool: parses the command line into `A`, answers
/// `--help`, `--version` and the hidden generators, runs `body` with a
/// [`Printer`], and turns the outcome into the exit status in one place
/// (see [`EXIT_STATUS`]).
pub fn main<A: ToolArgs>(
    tool: &Tool<A>,
    body: impl FnOnce(A, &Printer) -> Result<Status, Failure>,
) -> ExitCode {
    let mut args = match tool.parse(std::env::args_os().skip(1)) {
        Ok(Parsed::Run(a)) => a,
        Ok(Parsed::Help) => return print_and_exit(&tool.help()),
        Ok(Parsed::Version) => {
            return print_and_exit(&format!("{} {}\n", tool.name, tool.version));
        }
        Ok(Parsed::Man) => return print_and_exit(&tool.man_page()),
        Ok(Parsed::Completions(shell)) => return print_and_exit(&tool.completions(shell)),
        Err(e) => return usage_error(tool, &e.0),
    };
    let printer = Printer::new(tool.name, args.shared());
    crate::print_interrupts_with(&printer);
    let outcome = body(args, &printer);
    if let Some(shortfall) = mapillary_core::batch::thread_shortfall() {
        printer.warn(shortfall);
    }
    if let Err(failure) = &outcome
        && failure.is_usage()
    {
        printer.finish(&outcome);
        return usage_error(tool, &failure.to_string());
    }
    ExitCode::from(printer.finish(&outcome))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flags::{DryRun, JOBS, Shared, finite, path};
    use std::path::PathBuf;

    #[derive(Debug, Default)]
    struct Args {
        shared: Shared,
        path: PathBuf,
        offset: Option<f64>,
    }

    impl ToolArgs for Args {
        fn shared(&mut self) -> &mut Shared {
            &mut self.shared
        }
    }

    const TOOL: Tool<Args> = Tool {
        name: "demo_tool",
        version: "1.2.3",
        about: "Does a demo.",
        positionals: &[
            Positional {
                name: "path",
                doc: "Where.",
                optional: false,
                complete: Complete::Path,
                set: |a, v| {
                    a.path = path(v);
                    Ok(())
                },
            },
            Positional {
                name: "offset",
                doc: "How much.",
                optional: true,
                complete: Complete::Nothing,
                set: |a, v| {
                    a.offset = Some(finite(v, "offset", "seconds")?);
                    Ok(())
                },
            },
        ],
        flags: &[&DryRun, &JOBS],
        description: "First paragraph\nwraps here.\n\n.Second starts with a dot.",
        files: "",
        environment: &[("DEMO_VAR", "A variable.")],
        examples: &[("demo_tool photos 3", "Demo.")],
        replaces: "demo_tool.py (2015)",
    };

    fn run(args: &[&str]) -> Result<Args, UsageError> {
        match TOOL.parse(args.iter().copied())? {
            Parsed::Run(a) => Ok(a),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn positionals_and_flags_into_typed_fields() {
        let a = run(&["-n", "photos", "--jobs", "3", "-3.5"]).unwrap();
        assert_eq!(a.path, PathBuf::from("photos"));
        assert_eq!(a.offset, Some(-3.5));
        assert!(a.shared.dry_run);
        assert_eq!(a.shared.jobs, 3);
        let a = run(&["photos", "--jobs=2", "-90"]).unwrap();
        assert_eq!(a.offset, Some(-90.0));
        assert_eq!(a.shared.jobs, 2);
        let a = run(&["--", "-photos"]).unwrap();
        assert_eq!(a.path, PathBuf::from("-photos"));
        assert!(run(&["photos"]).unwrap().shared.jobs >= 1);
    }

    #[test]
    fn usage_errors_say_what_is_wrong() {
        let e = |args: &[&str]| run(args).unwrap_err().0;
        assert_eq!(e(&[]), "missing argument: path");
        assert_eq!(e(&["a", "1", "c"]), "unexpected argument 'c'");
        assert_eq!(e(&["--frobnicate", "a"]), "unknown option --frobnicate");
        assert_eq!(e(&["-x", "a"]), "unknown option -x");
        assert_eq!(e(&["a", "--jobs"]), "--jobs needs a value");
        assert_eq!(
            e(&["a", "x1"]),
            "offset must be a number of seconds, not 'x1'"
        );
        assert_eq!(
            e(&["a", "-inf"]),
            "offset must be a finite number of seconds, not '-inf'"
        );
        assert_eq!(e(&["a", "-q", "-v"]), "-q and -v cannot be used together");
        assert!(matches!(TOOL.parse(["--help"]), Ok(Parsed::Help)));
        assert!(matches!(TOOL.parse(["x", "-V"]), Ok(Parsed::Version)));
        assert!(matches!(
            TOOL.parse(["--generate-completions", "fish"]),
            Ok(Parsed::Completions(Shell::Fish))
        ));
    }

    #[test]
    fn non_finite_numbers_are_numbers_refused_by_name() {
        for arg in ["-inf", "-nan", "inf", "NaN", "1e999", "-1e999", "-Infinity"] {
            assert_eq!(
                run(&["a", arg]).unwrap_err().0,
                format!("offset must be a finite number of seconds, not '{arg}'"),
                "{arg}"
            );
        }
        assert_eq!(
            run(&["a", "soon"]).unwrap_err().0,
            "offset must be a number of seconds, not 'soon'"
        );
        assert_eq!(run(&["a", "-0.25"]).unwrap().offset, Some(-0.25));
        assert_eq!(run(&["a"]).unwrap().offset, None);
        // Options are still options.
        assert!(run(&["-n", "a"]).unwrap().shared.dry_run);
        assert_eq!(run(&["-i", "a"]).unwrap_err().0, "unknown option -i");
    }

    #[test]
    fn help_man_page_and_completions_come_from_the_flags() {
        let h = TOOL.help();
        assert!(h.starts_with(
            "demo_tool 1.2.3\nDoes a demo.\n\nUsage: demo_tool [options] path [offset]\n"
        ));
        for needle in [
            "  -n, --dry-run         Show what would be done; change nothing.\n",
            "  -j, --jobs N          Work on N files",
            "  -q, --quiet",
            "      --json",
            "  -V, --version",
            "DEMO_VAR",
            "First paragraph wraps here.",
            "Exit status:\n0 when everything was done;",
            "(Ctrl-C stops between two photos).\n",
        ] {
            assert!(h.contains(needle), "{needle} missing from\n{h}");
        }
        let m = TOOL.man_page();
        assert!(m.starts_with(".TH DEMO\\_TOOL 1"));
        assert!(m.contains(".SH OPTIONS\n.TP\n.B \\-n, \\-\\-dry\\-run\n"));
        assert!(m.contains("\\&.Second starts with a dot."));
        assert!(m.contains(".SH EXIT STATUS\n0 when everything was done;"));
        let bash = TOOL.completions(Shell::Bash);
        assert!(bash.contains("complete -F _demo_tool demo_tool"), "{bash}");
        assert!(bash.contains("--dry-run -n"), "{bash}");
        assert!(bash.contains("--jobs|-j) COMPREPLY=()"), "{bash}");
        let zsh = TOOL.completions(Shell::Zsh);
        assert!(zsh.starts_with("#compdef demo_tool\n"), "{zsh}");
        assert!(zsh.contains("'1:path:_files'"), "{zsh}");
        let fish = TOOL.completions(Shell::Fish);
        assert!(
            fish.lines()
                .any(|l| l
                    == "complete -c demo_tool -l jobs -s j -r -f -d 'Work on N files at a time'"),
            "{fish}"
        );
    }
}
