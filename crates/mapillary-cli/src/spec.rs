//! A tool's interface described once: the same description parses the
//! arguments, prints `--help` and generates the man page, so the three
//! cannot drift apart.

use crate::text::{paragraphs, roff, wrap};
pub use crate::tool::{GENERATE_MAN, REWRITTEN_PHOTOS};
use std::fmt::Write as _;

/// A positional argument.
#[derive(Debug, Clone, Copy)]
pub struct Positional {
    /// Its name in the usage line, e.g. `path`.
    pub name: &'static str,
    /// Whether it may be left out.
    pub optional: bool,
    /// What it means (one or two sentences).
    pub doc: &'static str,
}

/// An option (`--long`, maybe with a short form and a value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opt {
    /// The long name without dashes.
    pub long: &'static str,
    /// The short form, if any.
    pub short: Option<char>,
    /// The value's name in help, when the option takes one.
    pub value: Option<&'static str>,
    /// What it does.
    pub doc: &'static str,
}

/// `-n, --dry-run`, shared by every tool that changes files.
pub const DRY_RUN: Opt = Opt {
    long: "dry-run",
    short: Some('n'),
    value: None,
    doc: "Show what would be done; change nothing.",
};

/// `--sync`, shared by every tool that rewrites photos.
pub const SYNC: Opt = Opt {
    long: "sync",
    short: None,
    value: None,
    doc: "Flush each rewritten photo to the disk before it replaces the original (slower; a power cut then cannot harm a photo on any file system).",
};

/// `--force`, shared by every tool that rewrites photos.
pub const FORCE: Opt = Opt {
    long: "force",
    short: None,
    value: None,
    doc: "Also rewrite photos that are read-only, or another user's (as root, keeping their owner); without it they are refused and left alone.",
};

/// `--keep-mtime`, shared by every tool that rewrites photos.
pub const KEEP_MTIME: Opt = Opt {
    long: "keep-mtime",
    short: None,
    value: None,
    doc: "Give each rewritten photo the modification time it had (as exiftool -P). Without it the photo's modification time is the time it was rewritten, so backup and sync programs see the change.",
};

/// `-j, --jobs N`.
pub const JOBS: Opt = Opt {
    long: "jobs",
    short: Some('j'),
    value: Some("N"),
    doc: "Work on N files at a time (default: the number of CPU cores).",
};

/// `--timezone ZONE`, for tools that turn camera times into instants.
pub const TIMEZONE: Opt = Opt {
    long: "timezone",
    short: None,
    value: Some("ZONE"),
    doc: "The zone of every capture time (UTC, +02:00, or a name such as Europe/Berlin), overriding OffsetTimeOriginal and the computer's zone.",
};

/// `-j, --jobs N` for the upload tools.
pub const UPLOAD_JOBS: Opt = Opt {
    long: "jobs",
    short: Some('j'),
    value: Some("N"),
    doc: "Upload N photos at a time (default 4, as the 2015 tool and the official client).",
};

/// The options every tool has.
pub const COMMON: &[Opt] = &[
    Opt {
        long: "quiet",
        short: Some('q'),
        value: None,
        doc: "Print only errors and the summary.",
    },
    Opt {
        long: "verbose",
        short: Some('v'),
        value: None,
        doc: "Explain each step.",
    },
    Opt {
        long: "help",
        short: Some('h'),
        value: None,
        doc: "Print this help and exit.",
    },
    Opt {
        long: "version",
        short: Some('V'),
        value: None,
        doc: "Print the version and exit.",
    },
];

/// Everything about a tool's interface.
#[derive(Debug, Clone, Copy)]
pub struct Tool {
    /// The binary's name.
    pub name: &'static str,
    /// The version (the workspace version).
    pub version: &'static str,
    /// One line: what the tool does.
    pub about: &'static str,
    /// Positional arguments, in order.
    pub positionals: &'static [Positional],
    /// The tool's own options (the common ones are added).
    pub options: &'static [Opt],
    /// Paragraphs explaining the behaviour, separated by blank lines.
    pub description: &'static str,
    /// Environment variables the tool reads, with their meaning.
    pub environment: &'static [(&'static str, &'static str)],
    /// Example command lines with what they do.
    pub examples: &'static [(&'static str, &'static str)],
    /// What the tool promises about the files it writes (paragraphs; empty
    /// for tools that write none): the FILES section of help and man page.
    pub files: &'static str,
    /// The legacy script this tool replaces.
    pub replaces: &'static str,
}

impl Tool {
    /// All options: the tool's own, then the common ones.
    pub fn all_options(&self) -> impl Iterator<Item = &'static Opt> {
        self.options.iter().chain(COMMON.iter())
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
        for o in self.all_options() {
            let label = option_label(o);
            // A label too long for the column gets a line of its own.
            if label.len() >= 22 {
                let _ = writeln!(s, "  {label}\n  {:<22}{}", "", o.doc);
            } else {
                let _ = writeln!(s, "  {label:<22}{}", o.doc);
            }
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
        if !self.environment.is_empty() {
            s.push_str("\nEnvironment:\n");
            for (name, doc) in self.environment {
                let _ = writeln!(s, "  {name}\n      {doc}");
            }
        }
        if !self.examples.is_empty() {
            s.push_str("\nExamples:\n");
            for (cmd, doc) in self.examples {
                let _ = writeln!(s, "  {cmd}\n      {doc}");
            }
        }
        let _ = write!(
            s,
            "\nExit status: 0 when everything was done, 1 when some file failed or was skipped, 2 on a usage error.\nReplaces {}. See man {}(1).\n",
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
        for o in self.all_options() {
            let _ = writeln!(s, ".TP\n.B {}\n{}", roff(&option_label(o)), roff(o.doc));
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
        if !self.environment.is_empty() {
            s.push_str(".SH ENVIRONMENT\n");
            for (name, doc) in self.environment {
                let _ = writeln!(s, ".TP\n.B {}\n{}", roff(name), roff(doc));
            }
        }
        s.push_str(".SH EXIT STATUS\n0 when everything was done, 1 when some file failed or was skipped, 2 on a usage error.\n");
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

#[cfg(test)]
mod tests {
    use super::*;

    const TOOL: Tool = Tool {
        name: "demo_tool",
        version: "1.2.3",
        about: "Does a demo.",
        positionals: &[
            Positional {
                name: "path",
                optional: false,
                doc: "Where.",
            },
            Positional {
                name: "offset",
                optional: true,
                doc: "How much.",
            },
        ],
        options: &[DRY_RUN],
        description: "First paragraph\nwraps here.\n\n.Second starts with a dot.",
        environment: &[("DEMO_VAR", "A variable.")],
        examples: &[("demo_tool photos 3", "Demo.")],
        files: "",
        replaces: "demo_tool.py (2015)",
    };

    #[test]
    fn help_lists_everything() {
        let h = TOOL.help();
        assert!(h.starts_with(
            "demo_tool 1.2.3\nDoes a demo.\n\nUsage: demo_tool [options] path [offset]\n"
        ));
        for needle in [
            "-n, --dry-run",
            "-V, --version",
            "DEMO_VAR",
            "First paragraph wraps here.",
            "Exit status",
        ] {
            assert!(h.contains(needle), "{needle} missing from\n{h}");
        }
    }

    #[test]
    fn man_page_is_roff() {
        let m = TOOL.man_page();
        assert!(m.starts_with(".TH DEMO\\_TOOL 1"));
        assert!(m.contains(".SH OPTIONS\n.TP\n.B \\-n, \\-\\-dry\\-run\n"));
        assert!(m.contains("\\&.Second starts with a dot."));
        assert!(m.contains("[\\fIoffset\\fR]"));
    }
}
