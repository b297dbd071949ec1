//! Fuzz target `analyse_pcl`: see `printpark::fuzzing::analyse_pcl` for what it drives.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| printpark::fuzzing::analyse_pcl(data));
