//! Parsing a tool's command line with lexopt, against its [`Tool`] spec.

use std::ffi::{OsStr, OsString};
use std::str::FromStr;

use crate::flags::{UsageError, is_negative_number, parse_finite, parse_number};
use crate::spec::{GENERATE_MAN, Opt, Tool};

/// The parsed command line.
#[derive(Debug, Clone, Default)]
pub struct Args {
    positionals: Vec<OsString>,
    options: Vec<(&'static str, Option<OsString>)>,
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Parsed {
    /// Run the tool.
    Run(Args),
    /// `--help`.
    Help,
    /// `--version`.
    Version,
    /// `--generate-man`.
    Man,
}

fn find_long(tool: &Tool, name: &str) -> Option<&'static Opt> {
    tool.all_options().find(|o| o.long == name)
}

fn find_short(tool: &Tool, c: char) -> Option<&'static Opt> {
    tool.all_options().find(|o| o.short == Some(c))
}

/// Parses `args` (without the program name) for `tool`.
pub fn parse<I>(tool: &Tool, args: I) -> Result<Parsed, UsageError>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    let mut parser = lexopt::Parser::from_args(args);
    let mut parsed = Args::default();
    loop {
        // Negative numbers are positionals, not options.
        if let Some(mut raw) = parser.try_raw_args()
            && let Some(number) = raw.next_if(is_negative_number)
        {
            parsed.positionals.push(number);
            continue;
        }
        let Some(arg) = parser.next()? else { break };
        let opt = match arg {
            lexopt::Arg::Value(v) => {
                parsed.positionals.push(v);
                continue;
            }
            lexopt::Arg::Long(GENERATE_MAN) => return Ok(Parsed::Man),
            lexopt::Arg::Long(name) => find_long(tool, name)
                .ok_or_else(|| UsageError(format!("unknown option --{name}")))?,
            lexopt::Arg::Short(c) => {
                find_short(tool, c).ok_or_else(|| UsageError(format!("unknown option -{c}")))?
            }
        };
        match opt.long {
            "help" => return Ok(Parsed::Help),
            "version" => return Ok(Parsed::Version),
            _ => {}
        }
        let value = match opt.value {
            Some(_) => Some(
                parser
                    .value()
                    .map_err(|_| UsageError(format!("--{} needs a value", opt.long)))?,
            ),
            None => None,
        };
        parsed.options.push((opt.long, value));
    }
    let required = tool.positionals.iter().filter(|p| !p.optional).count();
    let given = parsed.positionals.len();
    if given < required {
        let missing: Vec<_> = tool.positionals[given..]
            .iter()
            .filter(|p| !p.optional)
            .map(|p| p.name)
            .collect();
        return Err(UsageError(format!(
            "missing argument: {}",
            missing.join(", ")
        )));
    }
    if given > tool.positionals.len() {
        return Err(UsageError(format!(
            "unexpected argument '{}'",
            parsed.positionals[tool.positionals.len()].to_string_lossy()
        )));
    }
    Ok(Parsed::Run(parsed))
}

impl Args {
    /// The positional at `index`, if given.
    pub fn positional(&self, index: usize) -> Option<&OsStr> {
        self.positionals.get(index).map(OsString::as_os_str)
    }

    /// Whether the flag `--long` was given.
    pub fn flag(&self, long: &str) -> bool {
        self.options.iter().any(|(l, _)| *l == long)
    }

    /// The value of the last `--long VALUE`.
    pub fn value(&self, long: &str) -> Option<&OsStr> {
        self.options
            .iter()
            .rev()
            .find(|(l, _)| *l == long)
            .and_then(|(_, v)| v.as_deref())
    }

    /// Every value of a repeatable option, in order.
    pub fn values<'a>(&'a self, long: &'a str) -> impl Iterator<Item = &'a OsStr> + 'a {
        self.options
            .iter()
            .filter(move |(l, _)| *l == long)
            .filter_map(|(_, v)| v.as_deref())
    }

    /// `-q`.
    pub fn quiet(&self) -> bool {
        self.flag("quiet")
    }

    /// `-v`.
    pub fn verbose(&self) -> bool {
        self.flag("verbose")
    }

    /// The positional at `index` as text.
    pub fn text(&self, index: usize, name: &str) -> Result<Option<String>, UsageError> {
        self.positional(index)
            .map(|v| {
                v.to_str()
                    .map(str::to_string)
                    .ok_or_else(|| UsageError(format!("{name} is not valid UTF-8")))
            })
            .transpose()
    }

    /// The positional at `index` parsed as a number.
    pub fn number<T: FromStr>(&self, index: usize, name: &str) -> Result<Option<T>, UsageError> {
        self.positional(index)
            .map(|v| parse_number(v, name))
            .transpose()
    }

    /// The positional at `index` as a finite number of `unit` (seconds,
    /// degrees): anything else, `inf`, `-nan` and `1e999` included, is a
    /// usage error naming the argument.
    pub fn finite(&self, index: usize, name: &str, unit: &str) -> Result<Option<f64>, UsageError> {
        self.positional(index)
            .map(|v| parse_finite(v, name, unit))
            .transpose()
    }

    /// The value of `--long` parsed as a number.
    pub fn option_number<T: FromStr>(&self, long: &str) -> Result<Option<T>, UsageError> {
        self.value(long)
            .map(|v| parse_number(v, &format!("--{long}")))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{DRY_RUN, JOBS, Positional};

    const TOOL: Tool = Tool {
        name: "t",
        version: "0",
        about: "",
        positionals: &[
            Positional {
                name: "path",
                optional: false,
                doc: "",
            },
            Positional {
                name: "offset",
                optional: true,
                doc: "",
            },
        ],
        options: &[DRY_RUN, JOBS],
        description: "",
        environment: &[],
        examples: &[],
        files: "",
        replaces: "",
    };

    fn run(args: &[&str]) -> Result<Args, UsageError> {
        match parse(&TOOL, args.iter().copied())? {
            Parsed::Run(a) => Ok(a),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn positionals_and_options_in_any_order() {
        let a = run(&["-n", "photos", "--jobs", "3", "-3.5"]).unwrap();
        assert_eq!(a.positional(0), Some(OsStr::new("photos")));
        assert_eq!(a.number::<f64>(1, "offset").unwrap(), Some(-3.5));
        assert!(a.flag("dry-run"));
        assert_eq!(a.option_number::<usize>("jobs").unwrap(), Some(3));
        let a = run(&["photos", "--jobs=2", "-90"]).unwrap();
        assert_eq!(a.number::<f64>(1, "offset").unwrap(), Some(-90.0));
        assert_eq!(a.value("jobs"), Some(OsStr::new("2")));
        // After `--`, everything is positional.
        let a = run(&["--", "-photos"]).unwrap();
        assert_eq!(a.positional(0), Some(OsStr::new("-photos")));
    }

    #[test]
    fn usage_errors() {
        assert_eq!(run(&[]).unwrap_err().0, "missing argument: path");
        assert_eq!(
            run(&["a", "b", "c"]).unwrap_err().0,
            "unexpected argument 'c'"
        );
        assert_eq!(
            run(&["--frobnicate", "a"]).unwrap_err().0,
            "unknown option --frobnicate"
        );
        assert_eq!(run(&["-x", "a"]).unwrap_err().0, "unknown option -x");
        assert_eq!(run(&["a", "--jobs"]).unwrap_err().0, "--jobs needs a value");
        assert_eq!(
            run(&["a", "x1"])
                .unwrap()
                .number::<f64>(1, "offset")
                .unwrap_err()
                .0,
            "offset must be a number, not 'x1'"
        );
    }

    #[test]
    fn non_finite_numbers_are_numbers_refused_by_name() {
        for (arg, message) in [
            (
                "-inf",
                "offset must be a finite number of seconds, not '-inf'",
            ),
            (
                "-nan",
                "offset must be a finite number of seconds, not '-nan'",
            ),
            (
                "inf",
                "offset must be a finite number of seconds, not 'inf'",
            ),
            (
                "NaN",
                "offset must be a finite number of seconds, not 'NaN'",
            ),
            (
                "1e999",
                "offset must be a finite number of seconds, not '1e999'",
            ),
            (
                "-1e999",
                "offset must be a finite number of seconds, not '-1e999'",
            ),
            (
                "-Infinity",
                "offset must be a finite number of seconds, not '-Infinity'",
            ),
            ("soon", "offset must be a number of seconds, not 'soon'"),
        ] {
            let a = run(&["a", arg]).unwrap();
            assert_eq!(
                a.finite(1, "offset", "seconds").unwrap_err().0,
                message,
                "{arg}"
            );
        }
        let a = run(&["a", "-0.25"]).unwrap();
        assert_eq!(a.finite(1, "offset", "seconds").unwrap(), Some(-0.25));
        assert_eq!(
            run(&["a"]).unwrap().finite(1, "offset", "seconds").unwrap(),
            None
        );
        // Options are still options.
        assert!(run(&["-n", "a"]).unwrap().flag("dry-run"));
        assert_eq!(run(&["-i", "a"]).unwrap_err().0, "unknown option -i");
    }

    #[test]
    fn help_version_and_man() {
        assert!(matches!(parse(&TOOL, ["--help"]), Ok(Parsed::Help)));
        assert!(matches!(parse(&TOOL, ["x", "-V"]), Ok(Parsed::Version)));
        assert!(matches!(parse(&TOOL, ["--generate-man"]), Ok(Parsed::Man)));
    }
}
