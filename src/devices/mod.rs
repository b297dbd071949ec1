//! Devices: printers found on the network by SNMP (discovery), what they report
//! (status, supplies, meters, alerts) and its history (monitoring).

pub mod collect;
pub mod discovery;
pub mod mib;
pub mod monitor;
pub mod pace;
pub mod ranges;
pub mod settings;
pub mod snmp;

pub use settings::{DeviceError, Devices, NewCredential};

/// Below this percentage a supply is "low" (devices list, dashboard).
pub const LOW_SUPPLY_PERCENT: i64 = 15;
