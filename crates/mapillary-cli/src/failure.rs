//! Errors that end a run, as types that carry their exit status: a tool's
//! body returns `Result<Status, Failure>`, uses `?` on the core's errors,
//! and one place ([`crate::tool::main`]) prints the failure and exits with
//! its code. Photos that fail or are skipped are not failures of the run:
//! they are reported as they happen and make the status
//! [`crate::Status::Incomplete`].

use std::fmt;

use mapillary_core::api::ApiError;
use mapillary_core::api::graph::OrganizationError;
use mapillary_core::auth::AuthError;
use mapillary_core::files::FindError;
use mapillary_core::sequence::rules::RulesError;
use mapillary_core::track::TrackError;
use mapillary_core::upload::RunError;
use mapillary_core::upload::history::HistoryError;

use crate::flags::UsageError;

/// An error that ends a run, with the exit status it gives.
pub trait ToolError: fmt::Display + fmt::Debug + Send + Sync {
    /// The exit status: 1 unless the error says otherwise.
    fn code(&self) -> u8 {
        1
    }
    /// Whether the usage line goes with the message.
    fn is_usage(&self) -> bool {
        false
    }
    /// A short machine-readable name of the kind of error, for `--json`.
    fn kind(&self) -> &'static str {
        "error"
    }
}

/// Why a run could not go on.
#[derive(Debug)]
pub struct Failure(Box<dyn ToolError>);

impl Failure {
    /// The run cannot go on (the server refused, a file could not be
    /// written, ...): exit status 1.
    pub fn fatal(message: impl fmt::Display) -> Failure {
        Failure(Box::new(Fatal(message.to_string())))
    }

    /// An input named on the command line cannot be used (no such folder,
    /// a GPX file without points, ...): exit status 2.
    pub fn input(message: impl fmt::Display) -> Failure {
        Failure(Box::new(BadInput(message.to_string())))
    }

    /// A bad command line (found after parsing): printed with the usage
    /// line; exit status 2.
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure(Box::new(UsageError(message.into())))
    }

    /// Nothing was found to work on: exit status 1.
    pub fn nothing_to_do(message: impl fmt::Display) -> Failure {
        Failure(Box::new(NothingToDo(message.to_string())))
    }

    /// The exit status.
    pub fn code(&self) -> u8 {
        self.0.code()
    }

    /// Whether the usage line goes with the message.
    pub fn is_usage(&self) -> bool {
        self.0.is_usage()
    }

    /// The kind of error, for `--json`.
    pub fn kind(&self) -> &'static str {
        self.0.kind()
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<E: ToolError + 'static> From<E> for Failure {
    fn from(e: E) -> Failure {
        Failure(Box::new(e))
    }
}

#[derive(Debug)]
struct Fatal(String);

impl fmt::Display for Fatal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl ToolError for Fatal {}

#[derive(Debug)]
struct BadInput(String);

impl fmt::Display for BadInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl ToolError for BadInput {
    fn code(&self) -> u8 {
        2
    }
    fn kind(&self) -> &'static str {
        "input"
    }
}

#[derive(Debug)]
struct NothingToDo(String);

impl fmt::Display for NothingToDo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl ToolError for NothingToDo {
    fn kind(&self) -> &'static str {
        "nothing_to_do"
    }
}

impl ToolError for UsageError {
    fn code(&self) -> u8 {
        2
    }
    fn is_usage(&self) -> bool {
        true
    }
    fn kind(&self) -> &'static str {
        "usage"
    }
}

/// The path given on the command line cannot be read.
impl ToolError for FindError {
    fn code(&self) -> u8 {
        2
    }
    fn kind(&self) -> &'static str {
        "input"
    }
}

/// The GPX given on the command line cannot be used.
impl ToolError for TrackError {
    fn code(&self) -> u8 {
        2
    }
    fn kind(&self) -> &'static str {
        "input"
    }
}

impl ToolError for ApiError {
    fn kind(&self) -> &'static str {
        "server"
    }
}

impl ToolError for AuthError {
    fn kind(&self) -> &'static str {
        "credentials"
    }
}

impl ToolError for HistoryError {}

/// A variable of the sequence rules that is not a number.
impl ToolError for RulesError {
    fn kind(&self) -> &'static str {
        "environment"
    }
}

/// The organization (project) named cannot be found or used.
impl ToolError for OrganizationError {
    fn kind(&self) -> &'static str {
        match self {
            OrganizationError::Api(_) => "server",
            _ => "organization",
        }
    }
}

/// The upload could not start: signing in failed, or the history cannot
/// be used.
impl ToolError for RunError {
    fn kind(&self) -> &'static str {
        match self {
            RunError::SignIn(_) => "credentials",
            RunError::History(_) => "history",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_carries_its_exit_status() {
        assert_eq!(Failure::fatal("x").code(), 1);
        assert_eq!(Failure::input("x").code(), 2);
        assert_eq!(Failure::nothing_to_do("x").code(), 1);
        let usage = Failure::usage("bad");
        assert_eq!((usage.code(), usage.is_usage()), (2, true));
        let missing = Failure::from(FindError {
            path: "trip".into(),
            reason: "no such file or folder".into(),
        });
        assert_eq!(missing.code(), 2);
        assert_eq!(missing.to_string(), "trip: no such file or folder");
    }
}
