//! Fuzz target `analyse_postscript`: see `printpark::fuzzing::analyse_postscript` for what it drives.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| printpark::fuzzing::analyse_postscript(data));
