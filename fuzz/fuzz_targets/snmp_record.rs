//! Fuzz target `snmp_record`: see `printpark::fuzzing::snmp_record` for what it drives.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| printpark::fuzzing::snmp_record(data));
