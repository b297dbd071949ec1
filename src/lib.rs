//! PrintPark: self-hosted secure pull printing. Print, park, pull.
//!
//! The crate is laid out in rooms with one job each (see `docs/architecture.md`):
//! `config` → `db`/`vault` (storage) → `identity`, `jobs` (domain) → `web` (HTTP).

#![forbid(unsafe_code)]

pub mod agent;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod devices;
pub mod dnssd;
#[doc(hidden)]
pub mod fuzzing;
pub mod identity;
pub mod ipp;
pub mod jobs;
pub mod private_files;
pub mod release;
pub mod services;
pub mod telemetry;
pub mod tls;
pub mod vault;
pub mod web;
