//! Whom PrintPark trusts as the directory: the CA file, or the server certificate's
//! pinned SHA-256 instead; a server it cannot verify (the system's roots do not know
//! the test CA, a pin that does not match) is refused at the TLS step, and a bind
//! account with the wrong password at the bind step, each named in the error
//! ("Test connection" says what to fix).

use super::World;
use crate::support::Backend;
use crate::support::slapd::{Flavor, Group, Person};

use printpark::config::LdapSecurity;

async fn world(
    security: LdapSecurity,
    tune: impl FnOnce(&crate::support::slapd::Slapd, &mut printpark::config::LdapSettings),
) -> World {
    let people = [Person::new("ann", &[Group::PrintUsers])];
    World::start_tuned(
        Backend::Sqlite,
        Flavor::ActiveDirectory,
        security,
        &people,
        tune,
    )
    .await
}

#[tokio::test]
async fn a_pinned_certificate_is_trusted_without_the_ca() {
    for security in [LdapSecurity::Ldaps, LdapSecurity::StartTls] {
        let w = world(security, |slapd, s| {
            s.ca_file = None;
            // As an admin copies it: upper-case, with colons.
            let pin = slapd.server_cert_sha256.to_uppercase();
            let pairs: Vec<&str> = (0..pin.len()).step_by(2).map(|i| &pin[i..i + 2]).collect();
            s.pinned_sha256 = Some(pairs.join(":"));
        })
        .await;
        let found = w.server.services.directory.test_connection().await;
        assert_eq!(
            found.ok(),
            Some(2),
            "ann and the service account ({security:?})"
        );
        assert_eq!(w.sync().await.created, 1);
        w.stop().await;
    }
}

#[tokio::test]
async fn an_unverifiable_server_is_refused_at_the_tls_step() {
    // Another certificate's pin.
    let w = world(LdapSecurity::Ldaps, |_, s| {
        s.ca_file = None;
        s.pinned_sha256 = Some("ab".repeat(32));
    })
    .await;
    let refused = w.server.services.directory.test_connection().await;
    assert_eq!(
        refused.as_ref().map_err(|e| e.step()).err(),
        Some("TLS"),
        "{refused:?}"
    );
    assert!(
        w.server
            .services
            .directory
            .sync_now(Some(&w.admin), &Default::default())
            .await
            .is_err()
    );
    assert!(w.ldap_users().await.is_empty());
    w.stop().await;
    // No CA and no pin: the system's roots, which do not know the test CA.
    let w = world(LdapSecurity::StartTls, |_, s| s.ca_file = None).await;
    let refused = w.server.services.directory.test_connection().await;
    let err = refused.expect_err("the test CA is no system root");
    assert_eq!(err.step(), "TLS", "{err}");
    w.stop().await;
}

#[tokio::test]
async fn a_wrong_bind_password_is_refused_at_the_bind_step() {
    let w = world(LdapSecurity::Ldaps, |_, s| {
        s.bind_password = Some(printpark::config::Secret::new("not the service password"));
    })
    .await;
    let err = w
        .server
        .services
        .directory
        .test_connection()
        .await
        .expect_err("a wrong bind password");
    assert_eq!(err.step(), "bind", "{err}");
    w.stop().await;
}
