//! Fuzz target `analyse_pdf`: see `printpark::fuzzing::analyse_pdf` for what it drives.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| printpark::fuzzing::analyse_pdf(data));
