//! The station's "directory password" way (issue 16): username (or e-mail) and
//! password at a release station. A local person with a password signs in; a wrong
//! password is refused on the station page, counted and audited, and locks under the
//! station's limits like a PIN; a directory person whose directory does not answer
//! (a listener that accepts and never speaks) gets the station's clear "the directory
//! did not answer" within the time-out, is not counted as a failure, and a local
//! person still signs in at the same station.

use std::time::{Duration, Instant};

use crate::support;
use crate::support::sign_in::{audit, client_from, station_post, station_printer};
use crate::support::{Backend, TestServer};

use printpark::config::{LdapSecurity, LdapSettings, Secret};
use printpark::db::{LdapChange, LdapPersonFields};

const ANN_PASSWORD: &str = "ann's long password";

/// A "directory" that takes connections and never answers, until dropped.
async fn silent_directory() -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (port, task)
}

async fn server(backend: Backend, directory_port: u16) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let url = match backend {
        Backend::Sqlite => support::sqlite_url(dir.path()),
        Backend::Postgres => support::fresh_postgres_url().await,
    };
    TestServer::start_with(dir, |d| {
        let mut s = support::settings(d, &url);
        s.security.lockout_threshold = 3;
        s.ldap = LdapSettings {
            url: Some(format!("ldap://127.0.0.1:{directory_port}")),
            security: LdapSecurity::StartTls,
            bind_dn: Some("cn=printpark,dc=example,dc=org".into()),
            bind_password: Some(Secret::new("service password")),
            base_dn: "dc=example,dc=org".into(),
            timeout_secs: 1,
            sync_interval_minutes: 0,
            ..LdapSettings::default()
        };
        s
    })
    .await
}

async fn station_password(backend: Backend) {
    let (port, silent) = silent_directory().await;
    let server = server(backend, port).await;
    let admin = support::create_admin(&server.services.identity).await;
    support::create_user(&server, "ann", ANN_PASSWORD).await;
    // A directory person, as a sync would have stored them.
    server
        .services
        .db
        .apply_ldap_changes(&[(
            LdapChange::Create(LdapPersonFields {
                username: "dora".into(),
                email: "dora@example.org".into(),
                name: "Dora".into(),
                department: String::new(),
                role: "user".into(),
                external_id: "6f1c0a52-0000-4000-8000-000000000001".into(),
                dn: "uid=dora,ou=people,dc=example,dc=org".into(),
                card_hash: None,
            }),
            None,
        )])
        .await
        .unwrap();
    let printer = station_printer(&server, &admin, "Hall").await;
    let kiosk = client_from("127.0.0.1");

    // Local person, right password: signed in (the station page greets her).
    let ok = station_post(
        &server,
        &kiosk,
        &printer.guid,
        "password",
        &[("login", "ann"), ("password", ANN_PASSWORD)],
    )
    .await;
    assert_eq!(ok.status(), 303, "{}", ok.text().await.unwrap());
    let page = support::get_text(&kiosk, server.url(&format!("/station/{}", printer.guid))).await;
    assert!(page.contains("Hello"), "{page}");
    station_post(&server, &kiosk, &printer.guid, "logout", &[]).await;
    let rows = audit(&server, "station.password").await;
    assert!(
        rows.iter()
            .any(|r| r.outcome == "success" && r.actor == "ann" && r.target == "Hall"),
        "{rows:?}"
    );

    // The directory person while the directory does not answer: a clear refusal on
    // the station page, within the time-out (1 s per step, 2 s for the sign-in).
    let started = Instant::now();
    let down = station_post(
        &server,
        &kiosk,
        &printer.guid,
        "password",
        &[("login", "dora"), ("password", "whatever she typed")],
    )
    .await;
    let took = started.elapsed();
    assert_eq!(down.status(), 503);
    let page = down.text().await.unwrap();
    assert!(page.contains("directory did not answer"), "{page}");
    assert!(
        page.contains("action=\"/station/"),
        "shown on the station page: {page}"
    );
    assert!(took < Duration::from_secs(4), "took {took:?}");
    let rows = audit(&server, "station.password").await;
    assert!(
        rows.iter().any(|r| r.actor == "dora"
            && r.outcome == "failure"
            && r.detail
                .contains("did not answer within 1 s (TLS handshake)")),
        "{rows:?}"
    );
    assert!(
        !rows
            .iter()
            .any(|r| r.actor == "dora" && r.detail.contains("(failure")),
        "an unanswered directory is no wrong password: {rows:?}"
    );

    // Wrong local passwords: refused in place, counted, then locked (429).
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let wrong = station_post(
            &server,
            &kiosk,
            &printer.guid,
            "password",
            &[("login", "ann"), ("password", "not her password")],
        )
        .await;
        statuses.push(wrong.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 429], "threshold 3");
    let rows = audit(&server, "station.password").await;
    assert!(
        rows.iter()
            .any(|r| r.actor == "ann"
                && r.detail.contains("wrong login or password at printer Hall")),
        "{rows:?}"
    );
    // The password limit is ann's own: the lock holds at the portal too, as a PIN's
    // does not; another local person still signs in at the station.
    support::create_user(&server, "bob", "bob's long password").await;
    let bob = client_from("127.0.0.3");
    let ok = station_post(
        &server,
        &bob,
        &printer.guid,
        "password",
        &[("login", "bob"), ("password", "bob's long password")],
    )
    .await;
    assert_eq!(ok.status(), 303);
    silent.abort();
    server.stop().await;
}

mod sqlite {
    use super::*;

    #[tokio::test]
    async fn username_and_password_at_the_station() {
        super::station_password(Backend::Sqlite).await;
    }
}

mod postgres {
    use super::*;

    #[tokio::test]
    async fn username_and_password_at_the_station() {
        super::station_password(Backend::Postgres).await;
    }
}
