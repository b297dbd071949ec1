//! E-mail and "forgot password" against a real SMTP server on loopback (aiosmtpd with
//! STARTTLS under a CA made by the test, and AUTH): the admin's test message and what
//! a refusal, a wrong password, an untrusted certificate and a silent relay say; the
//! reset link received by mail, used once, then refused; the same answer for an
//! unknown address; an expired link; directory people; the per-account limit; and
//! the token never in the log nor in the database in clear.

use crate::support;

use printpark::db::Db;
use support::smtp::{ServeWithLog, SmtpSink, reset_token_in};
use support::{Backend, TestServer, csrf_of, first_admin, get_text, login};

const RELAY_USER: &str = "printpark";
const RELAY_PASSWORD: &str = "relay secret 7d1e";
const ADA_PASSWORD: &str = "ada's old password";
const ADA_NEW: &str = "ada's brand new password";

async fn server_with_relay(backend: Backend, sink: &SmtpSink) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let url = match backend {
        Backend::Sqlite => support::sqlite_url(dir.path()),
        Backend::Postgres => support::fresh_postgres_url().await,
    };
    let smtp = sink.settings(Some((RELAY_USER, RELAY_PASSWORD)));
    TestServer::start_with(dir, move |d| {
        let mut s = support::settings(d, &url);
        s.smtp = smtp;
        s
    })
    .await
}

/// Runs one SQL statement on whichever backend the server uses.
async fn sql(db: &Db, statement: &str) {
    match db {
        Db::Sqlite(pool) => sqlx::query(statement).execute(pool).await.map(|_| ()),
        Db::Postgres(pool) => sqlx::query(statement).execute(pool).await.map(|_| ()),
    }
    .unwrap();
}

async fn audit(server: &TestServer, action: &str) -> Vec<printpark::db::AuditEntry> {
    server
        .services
        .db
        .audit_page(None, 200, Some(action))
        .await
        .unwrap()
}

/// Waits for an audit row of `action` whose detail contains `needle`.
async fn wait_audit(server: &TestServer, action: &str, needle: &str) -> printpark::db::AuditEntry {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Some(row) = audit(server, action)
            .await
            .into_iter()
            .find(|r| r.detail.contains(needle))
        {
            return row;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no {action} with {needle}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Asks for a reset link as a stranger's browser does; returns the answer page.
async fn ask_reset(
    server_url: &dyn Fn(&str) -> String,
    client: &reqwest::Client,
    who: &str,
) -> String {
    let page = get_text(client, server_url("/forgot-password")).await;
    let csrf = csrf_of(&page);
    let response = client
        .post(server_url("/forgot-password"))
        .form(&[("csrf", csrf.as_str()), ("login", who)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

/// Opens a reset link and sets `password` through its form; returns the answer.
async fn use_link(
    server_url: &dyn Fn(&str) -> String,
    client: &reqwest::Client,
    token: &str,
    password: &str,
) -> reqwest::Response {
    let page = client
        .get(server_url(&format!("/reset-password?token={token}")))
        .send()
        .await
        .unwrap();
    let mut page = page.text().await.unwrap_or_default();
    if !page.contains("name=\"csrf\"") {
        // A used or expired link's page has no form: this browser's token is the same
        // on any page before sign-in.
        page = get_text(client, server_url("/forgot-password")).await;
    }
    let csrf = csrf_of(&page);
    client
        .post(server_url("/reset-password"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("token", token),
            ("password", password),
            ("password_again", password),
        ])
        .send()
        .await
        .unwrap()
}

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

    // The link's page: a form, and no referrer leaves it.
    let page = stranger
        .get(url(&format!("/reset-password?token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");
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

/// The admin page's relay (no `[smtp]` in the file): what the test message answers.
async fn test_message_answers_what_happened(backend: Backend) {
    let sink = SmtpSink::start(Some((RELAY_USER, RELAY_PASSWORD)));
    let server = TestServer::start(backend).await;
    let admin = server.client();
    first_admin(&server, &admin).await;
    let save = |password: &str, ca: &str, port: u16, timeout: &str| {
        let (admin, server, password, ca, timeout) = (
            &admin,
            &server,
            password.to_owned(),
            ca.to_owned(),
            timeout.to_owned(),
        );
        async move {
            let page = get_text(admin, server.url("/admin/mail")).await;
            let response = admin
                .post(server.url("/admin/mail"))
                .form(&[
                    ("csrf", csrf_of(&page).as_str()),
                    ("host", "127.0.0.1"),
                    ("port", &port.to_string()),
                    ("security", "start_tls"),
                    ("username", RELAY_USER),
                    ("password", &password),
                    ("from", "PrintPark <printpark@example.org>"),
                    ("ca_pem", &ca),
                    ("timeout_secs", &timeout),
                ])
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
        }
    };
    let test_to = |to: &str| {
        let (admin, server, to) = (&admin, &server, to.to_owned());
        async move {
            let page = get_text(admin, server.url("/admin/mail")).await;
            admin
                .post(server.url("/admin/mail/test"))
                .form(&[("csrf", csrf_of(&page).as_str()), ("to", &to)])
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    let ca = sink.ca.ca_pem.clone();

    // A wrong relay password: the relay's refusal, and nothing sent.
    save("not the relay password", &ca, sink.port, "10").await;
    let wrong = test_to("ops@example.org").await;
    assert!(
        wrong.contains("refused the user name or password"),
        "{wrong}"
    );
    assert!(wrong.contains("535"), "{wrong}");

    // The right one (typed once; the page never shows it again).
    save(RELAY_PASSWORD, &ca, sink.port, "10").await;
    let page = get_text(&admin, server.url("/admin/mail")).await;
    assert!(!page.contains(RELAY_PASSWORD) && page.contains("stored: leave empty to keep it"));
    let sent = test_to("ops@example.org").await;
    assert!(
        sent.contains("Test message sent to ops@example.org"),
        "{sent}"
    );
    let mail = sink.wait_for_message(1).await;
    assert!(
        mail.contains("Subject: PrintPark test message")
            && mail.contains("X-Envelope-To: ops@example.org")
    );

    // A refused recipient, with the relay's words.
    let refused = test_to("someone@refused.example.org").await;
    assert!(
        refused.contains("refused the recipient") && refused.contains("no such mailbox"),
        "{refused}"
    );

    // Saving with an empty password keeps the stored one.
    save("", "", sink.port, "10").await;
    // No CA pasted: the system's roots do not know the test CA.
    let untrusted = test_to("ops@example.org").await;
    assert!(
        untrusted.contains("TLS with the mail relay 127.0.0.1"),
        "{untrusted}"
    );

    // A relay that accepts the connection and never answers: a time-out.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            open.push(socket);
        }
    });
    save("", &ca, silent_port, "1").await;
    let timed_out = test_to("ops@example.org").await;
    assert!(
        timed_out.contains("did not answer within 1 s"),
        "{timed_out}"
    );
    held.abort();

    // Every attempt is audited with what happened; the password is in no audit row and
    // only sealed in the database.
    let tests = audit(&server, "mail.test").await;
    assert_eq!(tests.len(), 5);
    assert_eq!(tests.iter().filter(|r| r.outcome == "success").count(), 1);
    assert_eq!(audit(&server, "mail.settings").await.len(), 4);
    let all = audit(&server, "").await;
    assert!(all.iter().all(|r| !r.detail.contains(RELAY_PASSWORD)));
    let row = server.services.db.smtp_settings().await.unwrap();
    let sealed = row.password.unwrap();
    assert!(
        !sealed
            .windows(RELAY_PASSWORD.len())
            .any(|w| w == RELAY_PASSWORD.as_bytes())
    );
    assert_eq!(sink.messages().len(), 1);
    server.stop().await;
}

/// The reset token as a real operator's server handles it: not in its log (at debug
/// level, every request logged), not in its database files.
#[tokio::test]
async fn the_reset_token_never_reaches_the_log_or_the_database_in_clear() {
    let sink = SmtpSink::start(None);
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let env = vec![
        ("PRINTPARK_LOG__LEVEL", "debug".to_owned()),
        ("PRINTPARK_SMTP__HOST", "127.0.0.1".to_owned()),
        ("PRINTPARK_SMTP__PORT", sink.port.to_string()),
        ("PRINTPARK_SMTP__FROM", "printpark@example.org".to_owned()),
        (
            "PRINTPARK_SMTP__CA_FILE",
            sink.ca.ca_file().display().to_string(),
        ),
    ];
    ServeWithLog::run(
        &data,
        &env,
        &[
            "admin",
            "create-user",
            "--username",
            "ada",
            "--email",
            "ada@example.org",
            "--password",
            ADA_PASSWORD,
        ],
    );
    let server = ServeWithLog::start(&data, &env);
    let url = |p: &str| server.url(p);
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .tls_danger_accept_invalid_certs(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    ask_reset(&url, &client, "ada").await;
    let token = reset_token_in(&sink.wait_for_message(1).await);
    assert_eq!(use_link(&url, &client, &token, ADA_NEW).await.status(), 200);
    let log = server.log_text();
    assert!(
        log.contains("/reset-password"),
        "the requests are in the log:\n{log}"
    );
    assert!(!log.contains(&token), "the token is in the log");
    for file in support::files_under(&data) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
            "the token is in {} in clear",
            file.display()
        );
    }
}

mod sqlite {
    use super::*;

    #[tokio::test]
    async fn forgot_password_sends_a_link_that_works_once() {
        super::forgot_password_link_works_once(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn the_test_message_arrives_and_each_failure_says_what_happened() {
        super::test_message_answers_what_happened(Backend::Sqlite).await;
    }
}

mod postgres {
    use super::*;

    #[tokio::test]
    async fn forgot_password_sends_a_link_that_works_once() {
        super::forgot_password_link_works_once(Backend::Postgres).await;
    }

    #[tokio::test]
    async fn the_test_message_arrives_and_each_failure_says_what_happened() {
        super::test_message_answers_what_happened(Backend::Postgres).await;
    }
}
