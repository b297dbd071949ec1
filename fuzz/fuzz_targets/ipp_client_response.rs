//! Fuzz target `ipp_client_response`: see `printpark::fuzzing::ipp_client_response` for what it drives.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| printpark::fuzzing::ipp_client_response(data));
