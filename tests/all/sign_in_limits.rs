//! Sign-in limits (issue 14, findings 1, 2, 3 and 10): badge guessing is refused per
//! station and address, attempts are counted before the slow hash check so a burst
//! cannot exceed the threshold, a stranger at another address cannot lock the station
//! or a person's other ways in, "badge + PIN", PIN rules, and sessions that end when
//! the password changes and after an absolute lifetime.

use crate::support;

use printpark::clock::now;
use printpark::identity::{BadgeOutcome, ClientInfo, User};
use support::sign_in::{
    audit, client_from, from, ipp_basic_status, pulled_printer, station_post, station_printer,
};
use support::{Backend, TestServer, csrf_of, get_text, login};

const ANN_PASSWORD: &str = "ann's long password";
const PIN: &str = "48291637";
const KIOSK: &str = "127.0.0.1";
const STRANGER: &str = "127.0.0.2";

struct World {
    server: TestServer,
    admin: User,
    ann: User,
}

async fn world_with(
    backend: Backend,
    tune: impl FnOnce(&mut printpark::config::Settings),
) -> World {
    let dir = tempfile::tempdir().unwrap();
    let url = match backend {
        Backend::Sqlite => support::sqlite_url(dir.path()),
        Backend::Postgres => support::fresh_postgres_url().await,
    };
    let server = TestServer::start_with(dir, |d| {
        let mut s = support::settings(d, &url);
        tune(&mut s);
        s
    })
    .await;
    let identity = &server.services.identity;
    let admin = support::create_admin(identity).await;
    let ann = support::create_user(&server, "ann", ANN_PASSWORD).await;
    identity
        .set_own_pin(&ann, ANN_PASSWORD, PIN, &ClientInfo::default())
        .await
        .unwrap();
    World { server, admin, ann }
}

async fn world(backend: Backend) -> World {
    world_with(backend, |_| {}).await
}

impl World {
    /// Links `badge` to ann at the printer, from the kiosk address.
    async fn link_badge(&self, guid: &str, name: &str, badge: &str) {
        let identity = &self.server.services.identity;
        let at = printpark::identity::AtPrinter { guid, name };
        let pending = match identity.badge_login(badge, at, &from(KIOSK)).await.unwrap() {
            BadgeOutcome::Unknown(pending) => pending,
            other => panic!("a new badge is unknown: {other:?}"),
        };
        identity
            .link_badge(&pending, "ann", PIN, at, &from(KIOSK))
            .await
            .unwrap();
    }
}

/// Finding 1: one client guessing badge numbers at one station is refused with 429
/// (Retry-After, a human message) after the threshold, and the audit log says so.
#[tokio::test]
async fn guessing_badges_at_a_station_is_refused_after_the_threshold_and_audited() {
    let w = world(Backend::Sqlite).await;
    let printer = station_printer(&w.server, &w.admin, "Corridor").await;
    let guesser = client_from(KIOSK);
    let threshold = w.server.services.settings.security.lockout_threshold as usize;
    let mut refused_at = None;
    for i in 0..40 {
        let badge = format!("{:08}", 10_000 + i);
        let response = station_post(
            &w.server,
            &guesser,
            &printer.guid,
            "badge",
            &[("badge", &badge)],
        )
        .await;
        if response.status() == 429 {
            let retry: i64 = response.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(retry >= 1, "{retry}");
            let page = response.text().await.unwrap();
            assert!(page.contains("Too many failed attempts"), "{page}");
            refused_at = Some(i);
            break;
        }
        assert_eq!(response.status(), 200);
    }
    assert_eq!(
        refused_at,
        Some(threshold),
        "the guess after {threshold} unknown badges is refused"
    );
    let rows = audit(&w.server, "station.badge").await;
    assert_eq!(
        rows.iter().filter(|r| r.outcome == "failure").count(),
        threshold,
        "{rows:?}"
    );
    assert!(
        rows.iter()
            .any(|r| r.outcome == "denied" && r.detail.contains("too many failed sign-ins")),
        "{rows:?}"
    );
    // The device-app API of another printer shares the address limit's view of this
    // client but has its own station limit: its guesses are refused too once locked.
    let pulled = pulled_printer(&w.server, &w.admin, "Panel").await;
    let device = w
        .server
        .services
        .release
        .infra()
        .add_device(&w.admin, pulled.id, "proxy", &ClientInfo::default())
        .await
        .unwrap();
    let api = w.server.url("/api/v1/output-device/session");
    let mut statuses = Vec::new();
    for i in 0..threshold + 1 {
        let badge = format!("{:08}", 20_000 + i);
        let response = support::insecure_client()
            .post(&api)
            .basic_auth(&device.login, Some(&device.secret))
            .json(&serde_json::json!({ "badge": badge }))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    w.server.stop().await;
}

/// Finding 2: a burst of wrong passwords is counted before Argon2 runs: at most
/// `threshold` of them are evaluated and the right password right after is refused.
async fn a_burst_of_wrong_passwords_is_evaluated_at_most_threshold_times(backend: Backend) {
    let w = world(backend).await;
    let threshold = w.server.services.settings.security.lockout_threshold as usize;
    let client = w.server.client();
    let page = get_text(&client, w.server.url("/login")).await;
    let csrf = csrf_of(&page);
    // Forty different guesses (copies of one would count once: issue 20).
    let attempts = (0..40).map(|i| {
        let client = client.clone();
        let url = w.server.url("/login");
        let csrf = csrf.clone();
        let guess = format!("not ann's password {i}");
        async move {
            client
                .post(url)
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("login", "ann"),
                    ("password", guess.as_str()),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    });
    let statuses = futures_util::future::join_all(attempts).await;
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 429),
        "{statuses:?}"
    );
    let right = login(&w.server, &client, "ann", ANN_PASSWORD).await;
    assert_eq!(right.status(), 429, "locked after the burst");
    let rows = audit(&w.server, "auth.password").await;
    let evaluated = rows.iter().filter(|r| r.outcome == "failure").count();
    assert!(
        evaluated <= threshold,
        "{evaluated} wrong passwords were evaluated, more than the threshold {threshold}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        evaluated,
        "every 401 is an audited evaluation"
    );
    w.server.stop().await;
}

/// Counting before the check must not refuse a burst of *right* passwords (CUPS sends
/// credentials with every request): attempts beyond those in flight wait, then pass.
#[tokio::test]
async fn a_burst_of_right_passwords_all_signs_in() {
    let w = world(Backend::Sqlite).await;
    let statuses = futures_util::future::join_all(
        (0..12).map(|_| ipp_basic_status(&w.server, "ann", ANN_PASSWORD)),
    )
    .await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    w.server.stop().await;
}

mod sqlite {
    use super::*;

    #[tokio::test]
    async fn a_burst_of_wrong_passwords_is_evaluated_at_most_threshold_times() {
        super::a_burst_of_wrong_passwords_is_evaluated_at_most_threshold_times(Backend::Sqlite)
            .await;
    }
}

mod postgres {
    use super::*;

    #[tokio::test]
    async fn a_burst_of_wrong_passwords_is_evaluated_at_most_threshold_times() {
        super::a_burst_of_wrong_passwords_is_evaluated_at_most_threshold_times(Backend::Postgres)
            .await;
    }
}

/// Finding 2: many accounts from one address (password spraying) lock the address.
#[tokio::test]
async fn spraying_one_password_over_many_accounts_locks_the_address() {
    let w = world_with(Backend::Sqlite, |s| {
        s.security.lockout_threshold_per_address = 6
    })
    .await;
    for i in 0..8 {
        support::create_user(&w.server, &format!("user{i}"), "some long password").await;
    }
    let sprayer = client_from(STRANGER);
    let mut statuses = Vec::new();
    for i in 0..8 {
        statuses.push(
            login(&w.server, &sprayer, &format!("user{i}"), "Summer2026!!")
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(&statuses[..6], &[401; 6], "{statuses:?}");
    assert_eq!(&statuses[6..], &[429, 429], "{statuses:?}");
    // Another address is not held back.
    let other = client_from(KIOSK);
    assert_eq!(
        login(&w.server, &other, "ann", ANN_PASSWORD).await.status(),
        303
    );
    w.server.stop().await;
}

/// Finding 3: wrong passcodes from another address do not lock the station for the
/// person at it; wrong PINs lock neither the password nor IPP printing.
#[tokio::test]
async fn a_stranger_locks_neither_the_station_nor_the_persons_other_ways_in() {
    let w = world_with(Backend::Sqlite, |s| {
        s.security.lockout_threshold_per_station = 8
    })
    .await;
    let printer = station_printer(&w.server, &w.admin, "Lobby").await;
    let identity = &w.server.services.identity;
    let passcode = identity.new_passcode(&w.ann, &from(KIOSK)).await.unwrap();
    w.link_badge(&printer.guid, &printer.name, "0099887766")
        .await;
    let wrong = if passcode == "00000000" {
        "11111111"
    } else {
        "00000000"
    };
    // The stranger guesses passcodes until refused.
    let stranger = client_from(STRANGER);
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let response = station_post(
            &w.server,
            &stranger,
            &printer.guid,
            "passcode",
            &[("passcode", wrong)],
        )
        .await;
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    // The person at the kiosk still signs in with passcode and badge.
    let kiosk = client_from(KIOSK);
    let ok = station_post(
        &w.server,
        &kiosk,
        &printer.guid,
        "passcode",
        &[("passcode", &passcode)],
    )
    .await;
    assert_eq!(ok.status(), 303, "{}", ok.text().await.unwrap());
    station_post(&w.server, &kiosk, &printer.guid, "logout", &[]).await;
    let ok = station_post(
        &w.server,
        &kiosk,
        &printer.guid,
        "badge",
        &[("badge", "0099887766")],
    )
    .await;
    assert_eq!(ok.status(), 303, "{}", ok.text().await.unwrap());
    station_post(&w.server, &kiosk, &printer.guid, "logout", &[]).await;

    // More strangers (other addresses) reach the station's ceiling: a new address is
    // refused there, the kiosk, which signed people in there, is not.
    for n in 3..=6 {
        let other = client_from(&format!("127.0.0.{n}"));
        for _ in 0..3 {
            station_post(
                &w.server,
                &other,
                &printer.guid,
                "passcode",
                &[("passcode", wrong)],
            )
            .await;
        }
    }
    let newcomer = client_from("127.0.0.9");
    let refused = station_post(
        &w.server,
        &newcomer,
        &printer.guid,
        "passcode",
        &[("passcode", &passcode)],
    )
    .await;
    assert_eq!(refused.status(), 429, "the station's ceiling holds");
    let ok = station_post(
        &w.server,
        &kiosk,
        &printer.guid,
        "passcode",
        &[("passcode", &passcode)],
    )
    .await;
    assert_eq!(
        ok.status(),
        303,
        "the kiosk is not held back by the ceiling"
    );

    // Wrong PINs for ann from a stranger's address (at another printer, whose ceiling
    // is not reached): her PIN locks, her password and IPP printing do not.
    let second = station_printer(&w.server, &w.admin, "Lobby 2").await;
    let threshold = w.server.services.settings.security.lockout_threshold;
    let at = printpark::identity::AtPrinter {
        guid: &second.guid,
        name: &second.name,
    };
    for _ in 0..threshold {
        let wrong_pin = identity
            .pin_login("ann", "000000", at, &from("127.0.0.20"))
            .await;
        assert!(wrong_pin.is_err());
    }
    let pin_locked = identity
        .pin_login("ann", PIN, at, &from("127.0.0.22"))
        .await;
    assert!(
        matches!(
            pin_locked,
            Err(printpark::identity::IdentityError::Locked { .. })
        ),
        "{pin_locked:?}"
    );
    assert_eq!(
        login(&w.server, &client_from(KIOSK), "ann", ANN_PASSWORD)
            .await
            .status(),
        303,
        "wrong PINs do not lock the password"
    );
    assert_eq!(
        ipp_basic_status(&w.server, "ann", ANN_PASSWORD).await,
        200,
        "wrong PINs do not lock IPP printing"
    );
    // Wrong passwords at the login form lock the password there, by their own counter;
    // printing has its own (issue 20: one way in does not lock another).
    for i in 0..threshold {
        login(
            &w.server,
            &client_from("127.0.0.21"),
            "ann",
            &format!("wrong password!! {i}"),
        )
        .await;
    }
    assert_eq!(
        login(&w.server, &client_from(KIOSK), "ann", ANN_PASSWORD)
            .await
            .status(),
        429,
        "the password is locked now"
    );
    assert_eq!(
        ipp_basic_status(&w.server, "ann", ANN_PASSWORD).await,
        200,
        "printing has its own counter"
    );
    w.server.stop().await;
}

/// Finding 1: with `security.badge_requires_pin`, a known badge asks for the PIN at the
/// station and through the device-app API.
#[tokio::test]
async fn with_badge_requires_pin_a_known_badge_asks_for_the_pin() {
    let w = world_with(Backend::Sqlite, |s| s.security.badge_requires_pin = true).await;
    let printer = station_printer(&w.server, &w.admin, "Annex").await;
    let badge = "0012345678";
    w.link_badge(&printer.guid, &printer.name, badge).await;
    let kiosk = client_from(KIOSK);
    let swiped = station_post(
        &w.server,
        &kiosk,
        &printer.guid,
        "badge",
        &[("badge", badge)],
    )
    .await;
    assert_eq!(swiped.status(), 200, "not signed in by the badge alone");
    let page = swiped.text().await.unwrap();
    assert!(page.contains("Enter your PIN"), "{page}");
    assert!(!page.contains("Hello"), "{page}");
    let wrong = station_post(
        &w.server,
        &kiosk,
        &printer.guid,
        "badge-pin",
        &[("pin", "000000")],
    )
    .await;
    assert!(wrong.text().await.unwrap().contains("class=\"error\""));
    let swiped = station_post(
        &w.server,
        &kiosk,
        &printer.guid,
        "badge",
        &[("badge", badge)],
    )
    .await;
    assert_eq!(swiped.status(), 200);
    let ok = station_post(
        &w.server,
        &kiosk,
        &printer.guid,
        "badge-pin",
        &[("pin", PIN)],
    )
    .await;
    assert_eq!(ok.status(), 303);
    let page = get_text(&kiosk, w.server.url(&format!("/station/{}", printer.guid))).await;
    assert!(page.contains("Hello ann"), "{page}");

    // The device API: the badge alone is answered "PIN required", badge + PIN signs in.
    let pulled = pulled_printer(&w.server, &w.admin, "Panel").await;
    let device = w
        .server
        .services
        .release
        .infra()
        .add_device(&w.admin, pulled.id, "proxy", &ClientInfo::default())
        .await
        .unwrap();
    let api = w.server.url("/api/v1/output-device/session");
    let send = |body: serde_json::Value| {
        support::insecure_client()
            .post(&api)
            .basic_auth(&device.login, Some(&device.secret))
            .json(&body)
            .send()
    };
    let alone = send(serde_json::json!({ "badge": badge })).await.unwrap();
    assert_eq!(alone.status(), 401);
    let body: serde_json::Value = alone.json().await.unwrap();
    assert_eq!(body["error"]["code"], "pin_required", "{body}");
    let both = send(serde_json::json!({ "badge": badge, "pin": PIN }))
        .await
        .unwrap();
    assert_eq!(both.status(), 200);
    w.server.stop().await;
}

/// Finding 2: PINs shorter than `security.pin_min_digits` or trivial are refused when
/// set; the admin's generated PIN honours the minimum; an older short PIN still works.
#[tokio::test]
async fn short_or_trivial_pins_are_refused_and_generated_pins_honour_the_minimum() {
    let w = world_with(Backend::Sqlite, |s| s.security.pin_min_digits = 8).await;
    let identity = &w.server.services.identity;
    let client = ClientInfo::default();
    for pin in [
        "4829", "482916", "00000000", "12345678", "87654321", "55555555", "34567890",
    ] {
        let result = identity
            .set_own_pin(&w.ann, ANN_PASSWORD, pin, &client)
            .await;
        assert!(result.is_err(), "{pin} was accepted");
    }
    identity
        .set_own_pin(&w.ann, ANN_PASSWORD, "59302748", &client)
        .await
        .unwrap();
    let generated = identity
        .reset_pin(&w.admin, w.ann.id, &client)
        .await
        .unwrap();
    assert!(generated.len() >= 8, "{generated}");
    // A 4-digit PIN set before the rule keeps working until changed.
    let old = printpark::identity::secrets::hash_secret(
        printpark::identity::HashCost {
            memory_kib: 8 * 1024,
            iterations: 1,
        },
        "2468",
    )
    .await
    .unwrap();
    w.server
        .services
        .db
        .set_pin_hash(w.ann.id, Some(&old))
        .await
        .unwrap();
    let printer = station_printer(&w.server, &w.admin, "Old PIN").await;
    let at = printpark::identity::AtPrinter {
        guid: &printer.guid,
        name: &printer.name,
    };
    identity
        .pin_login("ann", "2468", at, &from(KIOSK))
        .await
        .unwrap();
    w.server.stop().await;
}

/// Finding 10: changing the password ends the person's other sessions (browser, phone,
/// station), goes through the lock-out, and every session has an absolute end.
#[tokio::test]
async fn changing_the_password_ends_other_sessions_and_sessions_have_an_absolute_end() {
    let w = world(Backend::Sqlite).await;
    let printer = station_printer(&w.server, &w.admin, "Phone desk").await;
    let here = w.server.client();
    let other = w.server.client();
    assert_eq!(
        login(&w.server, &here, "ann", ANN_PASSWORD).await.status(),
        303
    );
    assert_eq!(
        login(&w.server, &other, "ann", ANN_PASSWORD).await.status(),
        303
    );
    // A phone signs in for QR release.
    let phone = w.server.client();
    let qr = w.server.url(&format!("/r/{}", printer.guid));
    let page = get_text(&phone, qr.clone()).await;
    let signed = phone
        .post(format!("{qr}/login"))
        .form(&[
            ("csrf", csrf_of(&page).as_str()),
            ("login", "ann"),
            ("password", ANN_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 303);
    assert!(get_text(&phone, qr.clone()).await.contains("Hello"));
    let station = w
        .server
        .services
        .identity
        .open_session(&w.ann, "station", &from(KIOSK))
        .await
        .unwrap();

    // Wrong current passwords count toward the lock-out like sign-ins.
    let account = get_text(&here, w.server.url("/portal/account")).await;
    let csrf = csrf_of(&account);
    let change = |current: String| {
        let here = here.clone();
        let url = w.server.url("/portal/account/password");
        let csrf = csrf.clone();
        async move {
            here.post(url)
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("current", current.as_str()),
                    ("new", "a brand new passphrase"),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let threshold = w.server.services.settings.security.lockout_threshold;
    for i in 0..threshold {
        change(format!("not the password {i}")).await;
    }
    let locked = change(ANN_PASSWORD.into()).await.text().await.unwrap();
    assert!(locked.contains("Too many failed attempts"), "{locked}");
    w.server
        .services
        .db
        .clear_login_failures("password:ann")
        .await
        .unwrap();

    let changed = change(ANN_PASSWORD.into()).await.text().await.unwrap();
    assert!(changed.contains("Password changed."), "{changed}");
    // This browser stays signed in; the other one, the phone and the station do not.
    assert_eq!(
        here.get(w.server.url("/portal"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        other
            .get(w.server.url("/portal"))
            .send()
            .await
            .unwrap()
            .status(),
        303
    );
    assert!(!get_text(&phone, qr.clone()).await.contains("Hello"));
    assert!(
        w.server
            .services
            .identity
            .session_of(&station, "station")
            .await
            .is_err()
    );
    let rows = audit(&w.server, "user.change_password").await;
    assert!(
        rows.iter()
            .any(|r| r.outcome == "success" && r.detail.contains("other session")),
        "{rows:?}"
    );

    // A session older than `security.session_max_hours` is refused however recently used.
    let pool = sqlx::SqlitePool::connect(&support::sqlite_url(w.server.dir.path()))
        .await
        .unwrap();
    sqlx::query(
        "UPDATE sessions SET created_at = $1, absolute_expires_at = $2 WHERE kind = 'browser'",
    )
    .bind(now() - 13 * 3600)
    .bind(now() - 3600)
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(
        here.get(w.server.url("/portal"))
            .send()
            .await
            .unwrap()
            .status(),
        303,
        "past its absolute end"
    );
    // A phone's idle slide never passes its absolute end.
    let page = get_text(&phone, qr.clone()).await;
    phone
        .post(format!("{qr}/login"))
        .form(&[
            ("csrf", csrf_of(&page).as_str()),
            ("login", "ann"),
            ("password", "a brand new passphrase"),
        ])
        .send()
        .await
        .unwrap();
    sqlx::query("UPDATE sessions SET absolute_expires_at = $1 WHERE kind = 'device'")
        .bind(now() + 100)
        .execute(&pool)
        .await
        .unwrap();
    assert!(get_text(&phone, qr.clone()).await.contains("Hello"));
    let phones = w.server.services.identity.devices(&w.ann).await.unwrap();
    assert_eq!(phones.len(), 1);
    assert!(phones[0].expires_at <= now() + 100, "{:?}", phones[0]);
    pool.close().await;
    w.server.stop().await;
}
