//! The directory goes away mid-test, stopped (connections refused) or hung (SIGSTOP:
//! the kernel still accepts connections, nothing answers): a sign-in through it fails
//! clearly within seconds, on the portal, at the station and over IPP; the local break-glass admin
//! still signs in; a sync fails and disables nobody. Back up, it works again.

use std::time::{Duration, Instant};

use super::World;
use crate::support::sign_in::{ipp_basic_status, station_post, station_printer};
use crate::support::slapd::{Flavor, Group, Person};
use crate::support::{Backend, login};

use printpark::config::LdapSecurity;
use printpark::identity::ClientInfo;

mod sqlite {
    use super::*;

    #[tokio::test]
    async fn directory_stopped_mid_test() {
        super::directory_down_mid_test(Backend::Sqlite, LdapSecurity::StartTls, How::Stopped).await;
    }

    #[tokio::test]
    async fn directory_hung_mid_test() {
        super::directory_down_mid_test(Backend::Sqlite, LdapSecurity::Ldaps, How::Hung).await;
    }
}

mod postgres {
    use super::*;

    #[tokio::test]
    async fn directory_stopped_mid_test() {
        super::directory_down_mid_test(Backend::Postgres, LdapSecurity::Ldaps, How::Stopped).await;
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum How {
    Stopped,
    Hung,
}

/// `timeout_secs` in the fixture's settings is 3: everything that waits on the
/// directory must give up well within this.
const CLEARLY_WITHIN: Duration = Duration::from_secs(8);

async fn directory_down_mid_test(backend: Backend, security: LdapSecurity, how: How) {
    let people = [
        Person::new("ann", &[Group::PrintUsers]),
        Person::new("bob", &[Group::PrintUsers]),
        Person::new("carol", &[Group::PrintUsers, Group::PrintAdmins]),
    ];
    let (ann, bob) = (&people[0], &people[1]);
    let mut w = World::start(backend, Flavor::ActiveDirectory, security, &people).await;
    assert_eq!(w.sync().await.created, 3);
    assert_eq!(
        login(&w.server, &w.server.client(), "ann", &ann.password)
            .await
            .status(),
        303
    );

    match how {
        How::Stopped => w.slapd.stop(),
        How::Hung => w.slapd.freeze(),
    }

    // The portal: a clear answer, not a hang. bob has not signed in before: the 60 s
    // cache of good binds (identity/ldap/bind.rs) cannot answer for him, as it does
    // for ann, who signed in a moment ago.
    let started = Instant::now();
    let answer = login(&w.server, &w.server.client(), "bob", &bob.password).await;
    let took = started.elapsed();
    let status = answer.status().as_u16();
    let page = answer.text().await.unwrap();
    assert!(
        took < CLEARLY_WITHIN,
        "the portal sign-in took {took:?} with the directory {how:?}"
    );
    assert_ne!(status, 303, "no session without the directory");
    assert!(
        page.to_lowercase().contains("directory"),
        "the answer says the directory is the problem ({status}): {page}"
    );

    // IPP: refused within seconds too (no 200, no hang).
    let started = Instant::now();
    let ipp = ipp_basic_status(&w.server, "bob", &bob.password).await;
    assert!(
        started.elapsed() < CLEARLY_WITHIN,
        "IPP sign-in took {:?}",
        started.elapsed()
    );
    assert_ne!(ipp, 200);

    // The release station: the same clear answer.
    let printer = station_printer(&w.server, &w.admin, "Hall").await;
    let started = Instant::now();
    let fields = [("login", "bob"), ("password", bob.password.as_str())];
    let station = station_post(
        &w.server,
        &w.server.client(),
        &printer.guid,
        "password",
        &fields,
    )
    .await;
    assert!(
        started.elapsed() < CLEARLY_WITHIN,
        "station sign-in took {:?}",
        started.elapsed()
    );
    assert_ne!(station.status(), 303);
    let page = station.text().await.unwrap();
    assert!(page.to_lowercase().contains("directory"), "{page}");

    // The local admin signs in as if nothing happened.
    let started = Instant::now();
    let local = login(
        &w.server,
        &w.server.client(),
        "boss",
        "correct horse battery",
    )
    .await;
    assert_eq!(local.status(), 303, "the break-glass admin signs in");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    // A sync fails, within seconds, and disables nobody.
    let before = w.ldap_users().await;
    let started = Instant::now();
    let failed = w
        .server
        .services
        .directory
        .sync_now(Some(&w.admin), &ClientInfo::default())
        .await;
    assert!(
        started.elapsed() < CLEARLY_WITHIN,
        "the sync took {:?}",
        started.elapsed()
    );
    assert!(
        failed.is_err(),
        "a sync against a {how:?} directory: {failed:?}"
    );
    let after = w.ldap_users().await;
    assert_eq!(
        format!("{after:?}"),
        format!("{before:?}"),
        "a failed sync changed people"
    );
    assert!(after.iter().all(|u| !u.disabled), "{after:?}");
    let test = w.server.services.directory.test_connection().await;
    assert!(test.is_err(), "{test:?}");

    // Back up: sign-in and sync work again, and the sync finds nothing to change.
    match how {
        How::Stopped => w.slapd.start_again(),
        How::Hung => w.slapd.thaw(),
    }
    assert_eq!(
        login(&w.server, &w.server.client(), "ann", &ann.password)
            .await
            .status(),
        303
    );
    let report = w.sync().await;
    assert_eq!(
        (report.created, report.updated, report.disabled),
        (0, 0, 0),
        "{report:?}"
    );
    // "Test connection" counts what the preset's filter finds, as ldapsearch does.
    let found = w
        .slapd
        .search("(&(objectCategory=person)(objectClass=user))", &["1.1"]);
    let expected = found.lines().filter(|l| l.starts_with("dn:")).count() as u64;
    assert_eq!(
        w.server.services.directory.test_connection().await.ok(),
        Some(expected)
    );
    w.stop().await;
}
