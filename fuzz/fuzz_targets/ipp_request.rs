//! Fuzz target `ipp_request`: see `printpark::fuzzing::ipp_request` for what it drives.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| printpark::fuzzing::ipp_request(data));
