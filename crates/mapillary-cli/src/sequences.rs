//! The sequence rules as the tools that form or upload sequences offer
//! them: the options and variables that change them, and what they found,
//! in words.

use std::ffi::OsStr;
use std::fmt::{self, Write as _};
use std::path::PathBuf;

use mapillary_core::auth::Environment;
use mapillary_core::reason::Reason;
use mapillary_core::sequence::rules::{Cut, Finding, LeftOut, Rules};

use crate::failure::Failure;
use crate::flags::{Flag, Shared, ToolArgs, UsageError};
use crate::printer::{Printer, plural};

/// The rule overrides a tool's command line gives: `--cutoff-time` and
/// `--cutoff-distance` (`None`: the variable, else the default).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Cutoffs {
    /// Seconds between two photos that start a new sequence.
    pub time: Option<f64>,
    /// Metres between two photos that start a new sequence.
    pub distance: Option<f64>,
}

/// The arguments of a tool that forms sequences: where its cutoffs go.
pub trait CutoffArgs: ToolArgs {
    /// The cutoffs of the command line.
    fn cutoffs(&mut self) -> &mut Cutoffs;
}

/// The arguments of a tool that forms sequences from the photos at a
/// path: the shared flags, the path, the cutoffs, and the tool's own
/// (`T`).
#[derive(Debug, Default)]
pub struct FormingArgs<T> {
    /// The shared flags' values.
    pub shared: Shared,
    /// The path given.
    pub path: PathBuf,
    /// `--cutoff-time`, `--cutoff-distance`.
    pub cutoffs: Cutoffs,
    /// The tool's own arguments.
    pub own: T,
}

impl<T: Default + 'static> ToolArgs for FormingArgs<T> {
    fn shared(&mut self) -> &mut Shared {
        &mut self.shared
    }
}

impl<T> crate::flags::PathArg for FormingArgs<T> {
    fn path_mut(&mut self) -> &mut PathBuf {
        &mut self.path
    }
}

impl<T: Default + 'static> CutoffArgs for FormingArgs<T> {
    fn cutoffs(&mut self) -> &mut Cutoffs {
        &mut self.cutoffs
    }
}

/// A cutoff value: a number, 0 or more (`inf`: never cut).
fn cutoff(value: &OsStr, flag: &str, unit: &str) -> Result<f64, UsageError> {
    let text = value.to_string_lossy();
    match text.trim().parse::<f64>() {
        Ok(x) if x >= 0.0 => Ok(x),
        _ => Err(UsageError(format!(
            "--{flag} must be a number of {unit}, 0 or more (or inf), not '{text}'"
        ))),
    }
}

/// `--cutoff-time SECONDS`.
#[derive(Debug)]
pub struct CutoffTime;

impl<A: CutoffArgs> Flag<A> for CutoffTime {
    fn long(&self) -> &'static str {
        "cutoff-time"
    }
    fn value_name(&self) -> Option<&'static str> {
        Some("SECONDS")
    }
    fn doc(&self) -> &'static str {
        "Start a new sequence where two photos are more than SECONDS apart (default 60, or MAPILLARY_TOOLS_CUTOFF_TIME; inf: never)."
    }
    fn set(&self, args: &mut A, value: Option<&OsStr>) -> Result<(), UsageError> {
        args.cutoffs().time = Some(cutoff(value.unwrap_or_default(), "cutoff-time", "seconds")?);
        Ok(())
    }
}

/// `--cutoff-distance METRES`.
#[derive(Debug)]
pub struct CutoffDistance;

impl<A: CutoffArgs> Flag<A> for CutoffDistance {
    fn long(&self) -> &'static str {
        "cutoff-distance"
    }
    fn value_name(&self) -> Option<&'static str> {
        Some("METRES")
    }
    fn doc(&self) -> &'static str {
        "Start a new sequence where two photos are more than METRES apart (default 100, or MAPILLARY_TOOLS_CUTOFF_DISTANCE; inf: never)."
    }
    fn set(&self, args: &mut A, value: Option<&OsStr>) -> Result<(), UsageError> {
        args.cutoffs().distance = Some(cutoff(
            value.unwrap_or_default(),
            "cutoff-distance",
            "metres",
        )?);
        Ok(())
    }
}

/// The variables of the cuts, for a tool's environment section.
pub const ENV_CUTOFFS: (&str, &str) = (
    "MAPILLARY_TOOLS_CUTOFF_TIME, MAPILLARY_TOOLS_CUTOFF_DISTANCE",
    "Seconds and metres between two photos that start a new sequence (60, 100), as the official client; the options win.",
);

/// The variables of the limits.
pub const ENV_LIMITS: (&str, &str) = (
    "MAPILLARY_TOOLS_MAX_SEQUENCE_LENGTH, MAPILLARY_TOOLS_MAX_SEQUENCE_FILESIZE, MAPILLARY_TOOLS_MAX_SEQUENCE_PIXELS",
    "Mapillary's limits per sequence (1000 photos, 110G bytes, 6G pixels); larger sequences may be refused.",
);

/// The variables of the checks.
pub const ENV_CHECKS: (&str, &str) = (
    "MAPILLARY_TOOLS_DUPLICATE_DISTANCE, MAPILLARY_TOOLS_DUPLICATE_ANGLE, MAPILLARY_TOOLS_MAX_CAPTURE_SPEED_KMH",
    "A photo within this many metres and degrees of the one kept before it is a duplicate (0.1, 5); a sequence faster than this many km/h is left out (400).",
);

/// The rules: the official client's defaults, its variables, then the
/// cutoffs of the command line (when the tool has them).
pub fn rules(cutoffs: Cutoffs) -> Result<Rules, Failure> {
    let mut rules = Rules::from_env(&Environment::from_process())?;
    if let Some(seconds) = cutoffs.time {
        rules.cutoff_time = seconds;
    }
    if let Some(metres) = cutoffs.distance {
        rules.cutoff_distance = metres;
    }
    Ok(rules)
}

/// 1050 as "1,050".
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Why a sequence was cut, in words.
pub fn cut_reason(reason: &Cut) -> String {
    match reason {
        Cut::TimeGap { seconds, cutoff } => {
            format!("taken {seconds:.1} s after the photo before it (more than {cutoff} s)")
        }
        Cut::DistanceGap { metres, cutoff } => {
            format!("{metres:.1} m from the photo before it (more than {cutoff} m)")
        }
        Cut::Images { limit } => format!(
            "Mapillary takes at most {} in one sequence",
            plural(*limit as usize, "photo", "photos").replacen(
                &limit.to_string(),
                &thousands(*limit),
                1
            )
        ),
        Cut::Bytes { limit } => {
            let size = if limit.is_multiple_of(1 << 30) {
                format!("{} GiB", thousands(limit >> 30))
            } else {
                format!("{} bytes", thousands(*limit))
            };
            format!("Mapillary takes at most {size} of photos in one sequence")
        }
        Cut::Pixels { limit } => format!(
            "Mapillary takes at most {} pixels in one sequence",
            thousands(*limit)
        ),
    }
}

/// Why photos were left out, in words that fit one or many photos.
pub fn left_out_reason(reason: &LeftOut) -> String {
    match reason {
        LeftOut::Duplicate { distance, angle } => format!(
            "each a duplicate of the photo kept before it (within {distance} m and {angle}°)"
        ),
        LeftOut::NullIsland => {
            "at latitude 0, longitude 0, where a camera without a GPS fix puts photos".to_string()
        }
        LeftOut::TooFast {
            sequences,
            speed_kmh,
            limit_kmh,
        } => {
            if *sequences == 1 {
                format!(
                    "their sequence is faster than {limit_kmh} km/h on average ({speed_kmh:.0} km/h: a GPS or clock error?)"
                )
            } else {
                format!(
                    "their {sequences} sequences are faster than {limit_kmh} km/h on average (up to {speed_kmh:.0} km/h: GPS or clock errors?)"
                )
            }
        }
    }
}

/// Why photos were left out, as a [`Reason`] (for `--json`, where each
/// photo left out is a `photo` object of its own).
#[derive(Debug, Clone)]
pub struct LeftOutReason(pub LeftOut);

impl fmt::Display for LeftOutReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&left_out_reason(&self.0))
    }
}

impl Reason for LeftOutReason {
    fn code(&self) -> &'static str {
        match self.0 {
            LeftOut::Duplicate { .. } => "duplicate",
            LeftOut::NullIsland => "null_island",
            LeftOut::TooFast { .. } => "too_fast",
        }
    }
}

/// Tells what the rules found: each reason photos were left out as one
/// error line naming every photo ("3 photos left out (not tagged): ...";
/// with `--json`, each photo a `skipped` object); cuts at Mapillary's
/// limits as a warning (`limit_cut` says what the cut means for this
/// tool, before the path of the photo it comes before: "new sequence
/// from"); cuts at gaps only with `-v`. Returns how many photos were left
/// out.
pub fn report_findings(
    printer: &Printer,
    findings: &[Finding],
    left_out_means: &str,
    limit_cut: &str,
) -> usize {
    let mut left_out = 0;
    for finding in findings {
        match finding {
            Finding::Cut { before, reason } if reason.is_limit() => printer.warn(format_args!(
                "{limit_cut} {}: {}",
                before.display(),
                cut_reason(reason)
            )),
            Finding::Cut { before, reason } => printer.explain(format_args!(
                "new sequence from {}: {}",
                before.display(),
                cut_reason(reason)
            )),
            Finding::LeftOut { photos, reason } => {
                left_out += photos.len();
                if printer.is_json() {
                    let why = LeftOutReason(*reason);
                    for photo in photos {
                        printer.skipped(photo, &why);
                    }
                    continue;
                }
                let mut line = format!(
                    "{} left out ({left_out_means}): {}:",
                    plural(photos.len(), "photo", "photos"),
                    left_out_reason(reason)
                );
                for (i, p) in photos.iter().enumerate() {
                    let _ = write!(line, "{} {}", if i > 0 { "," } else { "" }, p.display());
                }
                printer.error(line);
            }
        }
    }
    left_out
}

#[cfg(test)]
mod tests {
    use super::*;

    type Args = FormingArgs<()>;

    #[test]
    fn cutoffs_are_typed_flags_that_override_the_rules() {
        let mut a = Args::default();
        Flag::<Args>::set(&CutoffTime, &mut a, Some(OsStr::new("120"))).unwrap();
        Flag::<Args>::set(&CutoffDistance, &mut a, Some(OsStr::new("inf"))).unwrap();
        assert_eq!(a.cutoffs.time, Some(120.0));
        assert_eq!(a.cutoffs.distance, Some(f64::INFINITY));
        let r = rules(a.cutoffs).unwrap();
        assert_eq!((r.cutoff_time, r.cutoff_distance), (120.0, f64::INFINITY));
        let untouched = rules(Cutoffs::default()).unwrap();
        assert_eq!(
            (untouched.duplicate_distance, untouched.max_speed_kmh),
            (r.duplicate_distance, r.max_speed_kmh)
        );
        for bad in ["NaN", "-1", "soon", ""] {
            let e = Flag::<Args>::set(&CutoffTime, &mut a, Some(OsStr::new(bad))).unwrap_err();
            assert_eq!(
                e.0,
                format!(
                    "--cutoff-time must be a number of seconds, 0 or more (or inf), not '{bad}'"
                )
            );
        }
        assert_eq!(a.cutoffs.time, Some(120.0), "a bad value changes nothing");
    }

    #[test]
    fn photos_left_out_have_a_code_per_reason() {
        let codes: Vec<&str> = [
            LeftOut::NullIsland,
            LeftOut::Duplicate {
                distance: 0.1,
                angle: 5.0,
            },
        ]
        .into_iter()
        .map(|r| LeftOutReason(r).code())
        .collect();
        assert_eq!(codes, ["null_island", "duplicate"]);
        assert_eq!(
            LeftOutReason(LeftOut::NullIsland).to_string(),
            left_out_reason(&LeftOut::NullIsland)
        );
    }

    #[test]
    fn words() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(6_000_000_000), "6,000,000,000");
        assert_eq!(
            cut_reason(&Cut::Images { limit: 1000 }),
            "Mapillary takes at most 1,000 photos in one sequence"
        );
        assert_eq!(
            cut_reason(&Cut::Bytes { limit: 110 << 30 }),
            "Mapillary takes at most 110 GiB of photos in one sequence"
        );
        assert_eq!(
            cut_reason(&Cut::Bytes { limit: 1500 }),
            "Mapillary takes at most 1,500 bytes of photos in one sequence"
        );
        assert_eq!(
            cut_reason(&Cut::TimeGap {
                seconds: 600.0,
                cutoff: 60.0
            }),
            "taken 600.0 s after the photo before it (more than 60 s)"
        );
        assert_eq!(
            left_out_reason(&LeftOut::Duplicate {
                distance: 0.1,
                angle: 5.0
            }),
            "each a duplicate of the photo kept before it (within 0.1 m and 5°)"
        );
    }
}
