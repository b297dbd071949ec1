//! "Forgot password" against a real SMTP server on loopback (aiosmtpd with STARTTLS
//! under a CA made by the test, and AUTH): the reset link received by mail, used once,
//! then refused; the same answer for an unknown address; an expired link; directory
//! people; the per-account limit; a relay that is down.

use crate::support;

use support::smtp::{
    RELAY_PASSWORD, RELAY_USER, SmtpSink, ask_reset, audit, reset_token_in, server_with_relay, sql,
    use_link, wait_audit,
};
use support::{Backend, get_text, login};

const ADA_PASSWORD: &str = "ada's old password";
const ADA_NEW: &str = "ada's brand new password";

async fn forgot_password_link_works_once(backend: Backend) {
    let sink = SmtpSink::start(Some((RELAY_USER, RELAY_PASSWORD)));
    let server = server_with_relay(backend, &sink).await;
    let url = |p: &str| server.url(p);
    support::create_admin(&server.services.identity).await;
    let ada = support::create_user(&server, "ada", ADA_PASSWORD).await;
    // An admin had asked Ada to choose a new password; a browser of hers is signed in.
    sql(
        &server.services.db,
        "UPDATE users SET must_change_password = TRUE WHERE username = 'ada'",
    )
    .await;
    let her_laptop = server.client();
    assert_eq!(
        login(&server, &her_laptop, "ada", ADA_PASSWORD)
            .await
            .status(),
        303
    );

    // The sign-in page offers the way; the answer names no account.
    assert!(
        get_text(&server.client(), url("/login"))
            .await
            .contains("href=\"/forgot-password\"")
    );
    let stranger = server.client();
    let known = ask_reset(&url, &stranger, "ADA@example.org").await;
    assert!(known.contains("id=\"reset-sent\""), "{known}");
    let mail = sink.wait_for_message(1).await;
    assert!(mail.contains("X-Envelope-To: ada@example.org"), "{mail}");
    assert!(
        mail.contains("Subject: Reset your PrintPark password"),
        "{mail}"
    );
    let token = reset_token_in(&mail);

    // The link's page: a form, and no referrer but its origin leaves it.
    let page = stranger
        .get(url(&format!("/reset-password?token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["referrer-policy"], "strict-origin");
    assert!(page.text().await.unwrap().contains("id=\"reset-form\""));

    // Mismatched or short passwords are refused and the link stays usable.
    let short = use_link(&url, &stranger, &token, "short").await;
    assert_eq!(short.status(), 422);
    let done = use_link(&url, &stranger, &token, ADA_NEW).await;
    assert_eq!(done.status(), 200);
    assert!(done.text().await.unwrap().contains("id=\"reset-done\""));

    // The new password works, the old one not; her other session ended; the flag is gone.
    assert_eq!(
        login(&server, &server.client(), "ada", ADA_NEW)
            .await
            .status(),
        303
    );
    assert_eq!(
        login(&server, &server.client(), "ada", ADA_PASSWORD)
            .await
            .status(),
        401
    );
    let portal = her_laptop.get(url("/portal")).send().await.unwrap();
    assert_eq!(
        portal.headers()["location"],
        "/login",
        "her old session ended"
    );
    assert!(
        !server
            .services
            .identity
            .user(ada.id)
            .await
            .unwrap()
            .must_change_password
    );

    // The same link again: refused, clearly, on the page and on the form.
    let again = stranger
        .get(url(&format!("/reset-password?token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 410);
    assert!(
        again
            .text()
            .await
            .unwrap()
            .contains("This link has expired or was used; ask for a new one.")
    );
    let replay = use_link(&url, &stranger, &token, "yet another password").await;
    assert_eq!(replay.status(), 410);
    assert_eq!(
        login(&server, &server.client(), "ada", ADA_NEW)
            .await
            .status(),
        303
    );

    // An unknown address: the very same page, and no mail (a later one arrives second).
    let started = std::time::Instant::now();
    let unknown = ask_reset(&url, &stranger, "nobody@example.org").await;
    let unknown_took = started.elapsed();
    assert_eq!(
        unknown, known,
        "the same answer whether or not the account exists"
    );
    wait_audit(&server, "password_reset.request", "no such account").await;
    let started = std::time::Instant::now();
    ask_reset(&url, &stranger, "ada").await;
    let known_took = started.elapsed();
    eprintln!(
        "forgot-password answer ({backend:?}): unknown address {unknown_took:?}, existing account {known_took:?}"
    );
    let second = sink.wait_for_message(2).await;
    assert!(second.contains("X-Envelope-To: ada@example.org"));

    // An expired link is refused.
    let expired = reset_token_in(&second);
    sql(
        &server.services.db,
        "UPDATE password_reset_tokens SET expires_at = 1 WHERE used_at IS NULL",
    )
    .await;
    assert_eq!(
        use_link(&url, &stranger, &expired, "expired link password")
            .await
            .status(),
        410
    );
    assert_eq!(
        login(&server, &server.client(), "ada", ADA_NEW)
            .await
            .status(),
        303
    );

    let uses = audit(&server, "password_reset.use").await;
    assert_eq!(uses.iter().filter(|r| r.outcome == "success").count(), 1);
    assert_eq!(uses.iter().filter(|r| r.outcome == "denied").count(), 2);
    assert!(
        uses.iter().any(|r| r.detail.contains("1 session(s) ended")),
        "{uses:?}"
    );
    assert_eq!(sink.messages().len(), 2);
    server.stop().await;
}

#[tokio::test]
async fn directory_people_are_told_to_use_the_directory_and_an_account_gets_three_mails_an_hour() {
    let mut sink = SmtpSink::start(Some((RELAY_USER, RELAY_PASSWORD)));
    let server = server_with_relay(Backend::Sqlite, &sink).await;
    let url = |p: &str| server.url(p);
    support::create_user(&server, "dora", "dora's password!").await;
    sql(
        &server.services.db,
        "UPDATE users SET source = 'ldap' WHERE username = 'dora'",
    )
    .await;
    let mail = {
        ask_reset(&url, &server.client(), "dora").await;
        sink.wait_for_message(1).await
    };
    assert!(
        mail.contains("managed by your organisation's directory"),
        "{mail}"
    );
    assert!(
        !mail.contains("reset-password"),
        "no link for a directory account"
    );

    // Three mails an hour for one account, from any address; the fourth is not sent.
    support::create_user(&server, "bob", "bob's password!!").await;
    for _ in 0..4 {
        ask_reset(&url, &server.client(), "bob@example.org").await;
    }
    wait_audit(
        &server,
        "password_reset.request",
        "too many reset mails for this account",
    )
    .await;
    sink.wait_for_message(4).await;
    let sent = audit(&server, "password_reset.request").await;
    assert_eq!(
        sent.iter()
            .filter(|r| r.target == "bob" && r.outcome == "success")
            .count(),
        3
    );

    // The relay is gone: the page answers the same, the failure is audited (no token).
    sink.stop();
    support::create_user(&server, "carl", "carl's password!").await;
    let answer = ask_reset(&url, &server.client(), "carl").await;
    assert!(answer.contains("id=\"reset-sent\""));
    let failed = wait_audit(&server, "password_reset.request", "mail not sent").await;
    assert_eq!(
        (failed.target.as_str(), failed.outcome.as_str()),
        ("carl", "failure")
    );
    assert!(
        failed
            .detail
            .contains("could not connect to the mail relay"),
        "{failed:?}"
    );
    assert!(!failed.detail.contains("token"), "{failed:?}");
    server.stop().await;
}

mod sqlite {
    use super::*;

    #[tokio::test]
    async fn forgot_password_sends_a_link_that_works_once() {
        super::forgot_password_link_works_once(Backend::Sqlite).await;
    }
}

mod postgres {
    use super::*;

    #[tokio::test]
    async fn forgot_password_sends_a_link_that_works_once() {
        super::forgot_password_link_works_once(Backend::Postgres).await;
    }
}
