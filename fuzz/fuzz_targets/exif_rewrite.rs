//! See mapillary_core::fuzz_checks::exif_rewrite for what is checked.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

/// A scratch folder of this process's own, in memory where possible.
fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("mapillary-fuzz-rewrite-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch folder");
        dir
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| mapillary_core::fuzz_checks::exif_rewrite(data, scratch()));
