//! See mapillary_core::fuzz_checks::gpx_load for what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mapillary_core::fuzz_checks::gpx_load(data));
