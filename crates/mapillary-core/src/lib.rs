//! The library behind the Mapillary command-line tools.
//!
//! Everything a tool does lives here, testable without a terminal; the
//! binaries in `tools/` only parse arguments and report.

pub mod api;
pub mod auth;
pub mod batch;
pub mod capture_time;
pub mod description;
pub mod download;
pub mod exif;
pub mod files;
#[doc(hidden)]
pub mod fuzz_checks;
pub mod geo;
pub mod sequence;
pub mod shown;
pub mod track;
pub mod upload;

use std::io;

/// The time library the crate's types use (instants, durations, zones).
pub use jiff;

/// A short, user-facing reason for an I/O error ("permission denied", not
/// "Permission denied (os error 13)").
pub fn io_reason(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::NotFound => "no such file or folder".to_string(),
        io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        io::ErrorKind::UnexpectedEof => "unexpected end of file".to_string(),
        _ => {
            let text = error.to_string();
            // Drop the "(os error N)" suffix the OS errors carry.
            match text.find(" (os error") {
                Some(at) => text[..at].to_string(),
                None => text,
            }
        }
    }
}
