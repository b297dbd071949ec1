//! Fuzz target `multipart_upload`: see `printpark::fuzzing::multipart_upload` for what it drives.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| printpark::fuzzing::multipart_upload(data));
