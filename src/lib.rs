//! PrintPark: self-hosted secure pull printing. Print, park, pull.
//!
//! The crate is laid out in rooms with one job each; every arrow runs downwards (the
//! whole map, file by file, is in `docs/architecture.md`):
//!
//! - the faces: `cli` (subcommands) → `services` (start-up wiring) → `web` (pages, the
//!   JSON API, the IPP server fronts for the secure queue and IPP INFRA) and `agent`
//!   (the on-site agent role);
//! - the domain, top down: `devices` (SNMP) and `release` (printers, the release state
//!   machine, push and pull delivery) → `jobs` (parking) → `identity` (people,
//!   credentials, sessions, the audit trail) → `vault` (keys, sealed streams, blobs);
//! - the libraries: `ipp` (the protocol: codec, reply builders, client), `tls` (one
//!   rustls module, one pinning verifier), `dnssd`;
//! - the ground: `db` (every SQL statement), `config`, `clock`, `private_files`,
//!   `telemetry`.

#![forbid(unsafe_code)]

pub mod agent;
pub mod cli;
pub mod clock;
pub mod config;
// issue 17: conversion at delivery (below release and agent; above config)
pub mod convert;
pub mod db;
pub mod devices;
pub mod dnssd;
#[doc(hidden)]
pub mod fuzzing;
pub mod identity;
pub mod ipp;
pub mod jobs;
// issue 16: e-mail (above config, db and vault; below identity)
pub mod mail;
pub mod private_files;
pub mod release;
pub mod services;
// Issue 20: the public address people use, and the machine's names to propose.
pub mod site;
pub mod telemetry;
pub mod tls;
pub mod vault;
pub mod web;
