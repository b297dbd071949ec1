//! Fuzz target `analyse_raster`: see `printpark::fuzzing::analyse_raster` for what it drives.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| printpark::fuzzing::analyse_raster(data));
