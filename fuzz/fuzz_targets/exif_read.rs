//! See mapillary_core::fuzz_checks::exif_read for what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mapillary_core::fuzz_checks::exif_read(data));
