//! The integration tests, as one test binary: `tests/support` (the peers and a real
//! server) and the printpark library are compiled and linked once, not once per file.
//!
//! Each file here is a module named after what it tests; pick tests with
//! `cargo test --test all agent::` (or `./tests/run.sh --test all agent::`).
//!
//! The tests run as threads of one process, so nothing here may change what the
//! process shares: no environment variables or current directory set (commands get
//! theirs with `Command::env`/`current_dir`), network namespaces entered only by a
//! thread of its own (`support::netns::within`), and a fixed address only where one
//! test alone uses it (`devices_admin`'s 127.0.0.78:9100; `dnssd`'s ports are in a
//! namespace of its own). What they do share: the metrics recorder and the log
//! subscriber (process-wide: a test reads no counter values from /metrics) and the
//! argon2 threads of `identity` (sign-ins of all tests queue there).
//!
//! Two files stay binaries of their own, `tests/hostile_http.rs` and
//! `tests/hostile_printer.rs`: they assert how much this process's resident memory
//! grows while the in-process server meets a hostile peer, which only holds while no
//! other test allocates in the same process.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test that cannot go on says where, by panicking"
)]

#[path = "../support/mod.rs"]
mod support;

mod accounts;
mod accounts_cli;
mod accounts_import;
mod agent;
mod agent_trust;
mod analysis;
mod browser;
mod cups;
mod devices_admin;
mod discovery;
mod discovery_admin;
// Issue 16: the Directory admin page (LDAP / AD) in a browser.
mod directory_page;
mod dnssd;
mod first_run_and_ops;
mod fuzz_replay;
mod infra;
mod ipp;
mod ipp_strict;
mod ipptool;
// issue 16, e-mail and forgot password
mod ldap;
mod mail;
mod mail_admin;
mod netns_site;
// Issue 16, single sign-on (oidc-peer): the OpenID provider and the sign-in tests.
mod oidc;
mod printers_admin;
mod push;
mod release;
mod repository;
mod sign_in_limits;
mod snmp_collect;
mod snmp_peer;
// Issue 16, single sign-on (oidc): the admin page and what needs no provider.
mod sso_admin;
mod startup;
// Issue 16: username + password at a release station.
mod station_password;
mod vault;
mod web;
// Issue 17, push: conversion at push delivery (IPP printers without PDF, raw PCL/PS).
mod convert_push;
// Issue 17 (printers helper): INFRA Fetch-Document converts; printer languages and
// what printers take, on the admin pages.
mod convert_infra;
mod printer_language;
// Issue 17: conversion at delivery (the convert worker and Ghostscript).
mod convert;
// Issue 20 (address): the public address, certificate names, http->https, shutdown.
mod first_hour_address;
// Issue 20 (ipp): colour of PDFs as CUPS and others make them, IPP job history,
// job names to printers, the workstation agent and unknown people.
mod agent_unknown_person;
mod colour;
mod ipp_history;
mod job_names;
// Issue 20 (screens): long names and small screens, words, the kiosk.
mod kiosk;
mod screens;
mod words;
// Issue 20 (lead): post/redirect/get for forms that make a secret.
mod post_redirect_get;
// Issue 20 (setup): a client's retries count once; a way in per counter.
mod retries;
// Issue 20 (setup): the "Set up printing" page and the README's CUPS recipe.
mod setup_printing;
// Issue 20 (setup): the audit log's filters, CSV export and action names.
mod audit_log;
