//! See mapillary_core::fuzz_checks::server_json for what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mapillary_core::fuzz_checks::server_json(data));
