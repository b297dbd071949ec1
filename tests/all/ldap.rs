//! Item 1 of issue 16 (LDAP / Active Directory) against a real `slapd` started by the
//! tests (`tests/support/slapd.rs`), over StartTLS and over LDAPS: the fixture itself
//! checked with `ldapsearch` (`fixture`), the sync (`sync`), sign-in with the directory
//! password on the portal, the phone page, the station and through IPP (`sign_in`), a
//! directory that goes down or hangs mid-test (`outage`), whom PrintPark trusts as the
//! directory (`trust`).

mod fixture;
mod outage;
mod sign_in;
mod sync;
mod trust;
mod world;

pub use world::{World, holds};
