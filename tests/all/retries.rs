//! Issue 20, item 4: a client's retries are not five mistakes. A printing client (CUPS,
//! Windows, a phone) resends a request with the same stale password after each 401:
//! those copies count once, and a printing client's failures have their own counter,
//! so they never lock the person's browser or phone sign-in. Guessing stays throttled:
//! different wrong passwords over IPP all count, and lock IPP.

use crate::support;

use support::sign_in::{audit, ipp_basic_status};
use support::{Backend, TestServer, login};

const ANN_PASSWORD: &str = "ann's long password";
const STALE: &str = "ann's password of last year";

async fn server(backend: Backend) -> TestServer {
    let server = TestServer::start(backend).await;
    support::create_admin(&server.services.identity).await;
    support::create_user(&server, "ann", ANN_PASSWORD).await;
    server
}

/// The failures the counter `key` holds (0 when it has no row).
async fn failures(server: &TestServer, key: &str) -> i64 {
    server
        .services
        .db
        .login_failure(key)
        .await
        .unwrap()
        .map(|r| r.failures)
        .unwrap_or(0)
}

async fn five_identical_wrong_ipp_attempts_count_once(backend: Backend) {
    let server = server(backend).await;
    let threshold = server.services.settings.security.lockout_threshold;
    assert!(
        threshold <= 5,
        "the test needs 5 copies to reach the threshold"
    );
    // Five copies of one request with a stale password, all at once (as a client that
    // retries its 401 within 130 ms; sent together, they are checked side by side).
    let started = std::time::Instant::now();
    let statuses =
        futures_util::future::join_all((0..5).map(|_| ipp_basic_status(&server, "ann", STALE)))
            .await;
    println!("5 copies answered in {:?}", started.elapsed());
    assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
    // And once more right after, one by one, as a client's retries come.
    for _ in 0..3 {
        assert_eq!(ipp_basic_status(&server, "ann", STALE).await, 401);
    }
    assert_eq!(failures(&server, "printing:ann").await, 1, "counted once");
    assert_eq!(failures(&server, "address:127.0.0.1").await, 1);
    assert_eq!(failures(&server, "password:ann").await, 0);
    // Every copy is audited; one counted, the others said to be repeats.
    let rows = audit(&server, "auth.basic").await;
    let failed: Vec<_> = rows.iter().filter(|r| r.outcome == "failure").collect();
    assert_eq!(failed.len(), 8, "{rows:?}");
    assert_eq!(
        failed
            .iter()
            .filter(|r| r.detail.contains("(failure 1)"))
            .count(),
        1,
        "{failed:?}"
    );
    assert_eq!(
        failed
            .iter()
            .filter(|r| r.detail.contains("(not counted)"))
            .count(),
        7,
        "{failed:?}"
    );
    assert!(rows.iter().all(|r| !r.detail.contains(STALE)));
    // Nothing is locked: the browser and IPP with the right password work.
    assert_eq!(
        login(&server, &server.client(), "ann", ANN_PASSWORD)
            .await
            .status(),
        303,
        "the browser sign-in still works"
    );
    assert_eq!(ipp_basic_status(&server, "ann", ANN_PASSWORD).await, 200);
    server.stop().await;
}

async fn different_wrong_passwords_over_ipp_lock_ipp_only(backend: Backend) {
    let server = server(backend).await;
    let threshold = server.services.settings.security.lockout_threshold;
    for i in 0..threshold {
        assert_eq!(
            ipp_basic_status(&server, "ann", &format!("guess number {i}")).await,
            401
        );
    }
    assert_eq!(
        failures(&server, "printing:ann").await,
        i64::from(threshold),
        "each different guess counts"
    );
    assert_eq!(
        ipp_basic_status(&server, "ann", ANN_PASSWORD).await,
        429,
        "IPP is locked, even for the right password"
    );
    assert_eq!(
        ipp_basic_status(&server, "ann", "yet another guess").await,
        429
    );
    let refusals = audit(&server, "auth.basic").await;
    assert!(
        refusals
            .iter()
            .any(|r| r.outcome == "denied" && r.detail == "locked out (printing)"),
        "{refusals:?}"
    );
    // The person's browser sign-in is not locked by their printing client.
    assert_eq!(
        login(&server, &server.client(), "ann", ANN_PASSWORD)
            .await
            .status(),
        303,
        "the browser sign-in is not locked by IPP failures"
    );
    server.stop().await;
}

/// A password changed since the last failure makes the same text a new attempt: the
/// stored credential is part of what is compared.
async fn a_repeat_is_of_the_credential_as_it_was(backend: Backend) {
    let server = server(backend).await;
    assert_eq!(
        ipp_basic_status(&server, "ann", "the new password!").await,
        401
    );
    server
        .services
        .identity
        .reset_password_by_operator("ann", "the new password!")
        .await
        .unwrap();
    // Within the repeat window, yet checked afresh: it is right now.
    assert_eq!(
        ipp_basic_status(&server, "ann", "the new password!").await,
        200
    );
    server.stop().await;
}

mod sqlite {
    use super::*;

    #[tokio::test]
    async fn five_identical_wrong_ipp_attempts_count_once_and_the_browser_still_signs_in() {
        five_identical_wrong_ipp_attempts_count_once(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn many_different_wrong_passwords_over_ipp_lock_ipp_but_not_the_browser() {
        different_wrong_passwords_over_ipp_lock_ipp_only(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn a_repeat_is_of_the_credential_as_it_was() {
        super::a_repeat_is_of_the_credential_as_it_was(Backend::Sqlite).await;
    }
}

mod postgres {
    use super::*;

    #[tokio::test]
    async fn five_identical_wrong_ipp_attempts_count_once_and_the_browser_still_signs_in() {
        five_identical_wrong_ipp_attempts_count_once(Backend::Postgres).await;
    }

    #[tokio::test]
    async fn many_different_wrong_passwords_over_ipp_lock_ipp_but_not_the_browser() {
        different_wrong_passwords_over_ipp_lock_ipp_only(Backend::Postgres).await;
    }
}
