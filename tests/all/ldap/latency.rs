//! A round trip to the directory costs what the directory takes, not a timer: the
//! connection to it must not wait on Nagle's algorithm. ldap3 writes each LDAP message
//! (StartTLS, the TLS handshake, bind, search) as separate small packets; without
//! TCP_NODELAY every exchange can stall on the peer's delayed ACK (40 ms on Linux),
//! so "Test connection", every sign-in that binds and every page of a sync carry
//! tens of milliseconds of nothing. Measured here with ldap3 itself over loopback:
//! StartTLS + bind p50 55 ms without TCP_NODELAY, 1.2 ms with it.

use std::time::Instant;

use super::World;
use crate::support::Backend;
use crate::support::slapd::{Flavor, Group, Person};

use printpark::config::LdapSecurity;

async fn test_connection_is_not_held_by_delayed_acks(security: LdapSecurity) {
    let people = [Person::new("ann", &[Group::PrintUsers])];
    let w = World::start(Backend::Sqlite, Flavor::ActiveDirectory, security, &people).await;
    let directory = &w.server.services.directory;
    directory.test_connection().await.unwrap();
    let mut ms = Vec::new();
    for _ in 0..15 {
        let started = Instant::now();
        assert_eq!(directory.test_connection().await.unwrap(), 2);
        ms.push(started.elapsed().as_secs_f64() * 1e3);
    }
    ms.sort_by(f64::total_cmp);
    // TCP connect, StartTLS or TLS, bind, one search page, unbind: a handful of
    // loopback round trips. One delayed ACK alone is 40 ms.
    assert!(
        ms[ms.len() / 2] < 25.0,
        "\"Test connection\" over {security:?} took p50 {:.1} ms (all: {ms:.1?}): is TCP_NODELAY set on the connection to the directory?",
        ms[ms.len() / 2]
    );
    w.stop().await;
}

#[tokio::test]
async fn test_connection_over_starttls_is_not_held_by_delayed_acks() {
    test_connection_is_not_held_by_delayed_acks(LdapSecurity::StartTls).await;
}

#[tokio::test]
async fn test_connection_over_ldaps_is_not_held_by_delayed_acks() {
    test_connection_is_not_held_by_delayed_acks(LdapSecurity::Ldaps).await;
}
