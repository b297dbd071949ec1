//! A provider that is down or hangs: single sign-on fails clearly within seconds (a
//! 502 page that says so), and the password sign-in still works (the break-glass admin).

use std::time::{Duration, Instant};

use super::{NAME, Sso};
use crate::support::oidc::Account;
use crate::support::{Backend, login};

/// `GET /sso/test/start` must answer 502 within `limit`; the page says why.
async fn start_fails_clearly(sso: &Sso, limit: Duration) {
    let client = sso.server.client();
    let began = Instant::now();
    let answer = client
        .get(sso.server.url(&format!("/sso/{NAME}/start")))
        .send()
        .await
        .unwrap();
    let took = began.elapsed();
    assert_eq!(answer.status(), 502);
    let page = answer.text().await.unwrap();
    assert!(page.contains("cannot be reached"), "{page}");
    assert!(took < limit, "took {took:?}");
    // The password still signs the admin in.
    let signed = login(&sso.server, &client, "boss", "correct horse battery").await;
    assert_eq!(signed.status(), 303);
    assert_eq!(signed.headers()["location"], "/admin");
}

#[tokio::test]
async fn a_stopped_provider_fails_at_once_and_passwords_still_work() {
    let mut sso = Sso::start(Backend::Sqlite, vec![Account::new("ann", &[])], |_| {}).await;
    sso.provider.stop();
    start_fails_clearly(&sso, Duration::from_secs(3)).await;
}

#[tokio::test]
async fn a_provider_that_never_answers_fails_within_the_time_out() {
    // Accepts connections and says nothing: TLS never completes.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            open.push(stream);
        }
    });
    let sso = Sso::start(Backend::Sqlite, vec![Account::new("ann", &[])], |p| {
        p.issuer = format!("https://localhost:{port}");
    })
    .await;
    start_fails_clearly(&sso, Duration::from_secs(15)).await;
    held.abort();
}
