//! Why a photo was skipped or failed, as values: each reason is a variant
//! of an enum of the concern it comes from (the track: before or after it,
//! in a gap; the description: a tag missing; ...), with a stable code for
//! scripts (`--json`) and its words for people, written once, in its
//! `Display`.

use std::fmt;

/// A reason a photo was skipped or failed.
pub trait Reason: fmt::Display + fmt::Debug + Send + Sync {
    /// A stable, machine-readable name (`before_track`, `no_capture_time`),
    /// the same for every photo skipped for this kind of reason.
    fn code(&self) -> &'static str;

    /// What photos skipped for this reason have in common, for one line
    /// about them all ("before the track starts"); by default the words of
    /// this photo's reason.
    fn group(&self) -> String {
        self.to_string()
    }
}

/// A reason given as words only (a tool's own decision that no enum
/// names yet), under a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plain {
    /// The code.
    pub code: &'static str,
    /// The words.
    pub text: String,
}

impl fmt::Display for Plain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Reason for Plain {
    fn code(&self) -> &'static str {
        self.code
    }
}
