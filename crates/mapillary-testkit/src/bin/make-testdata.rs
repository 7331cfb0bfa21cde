//! Regenerates the sample trip in `testdata/` (or in the folder given).
//!
//!     cargo run -p mapillary-testkit --bin make-testdata [folder]

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let target = std::env::args_os()
        .nth(1)
        .map_or_else(mapillary_testkit::testdata, PathBuf::from);
    match mapillary_testkit::sample_trip::write(&target) {
        Ok(()) => {
            println!("sample trip written to {}", target.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("make-testdata: {}: {e}", target.display());
            ExitCode::FAILURE
        }
    }
}
