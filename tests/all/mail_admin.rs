//! The admin's side of e-mail against a real SMTP server on loopback: the test
//! message and what a wrong relay password, a refused recipient, an untrusted
//! certificate and a silent relay answer; the reset token kept out of a real server's
//! log and database; the pages in a real browser (screenshots).

use crate::support;

use support::browser::Browser;
use support::smtp::{
    RELAY_PASSWORD, RELAY_USER, ServeWithLog, SmtpSink, ask_reset, audit, reset_token_in, use_link,
};
use support::{Backend, TestServer, csrf_of, first_admin, get_text};

const ADA_PASSWORD: &str = "ada's old password";
const ADA_NEW: &str = "ada's brand new password";

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
            let sent = admin
                .post(server.url("/admin/mail/test"))
                .form(&[("csrf", csrf_of(&page).as_str()), ("to", &to)])
                .send()
                .await
                .unwrap();
            // Post/redirect/get: the outcome is on the page the answer leads to, once.
            assert_eq!(sent.status(), 303);
            let shown = get_text(admin, server.url("/admin/mail")).await;
            let again = get_text(admin, server.url("/admin/mail")).await;
            assert!(
                !again.contains("Test message"),
                "a refresh repeats the outcome"
            );
            shown
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
    async fn the_test_message_arrives_and_each_failure_says_what_happened() {
        super::test_message_answers_what_happened(Backend::Sqlite).await;
    }
}

mod postgres {
    use super::*;

    #[tokio::test]
    async fn the_test_message_arrives_and_each_failure_says_what_happened() {
        super::test_message_answers_what_happened(Backend::Postgres).await;
    }
}

/// The pages in a real browser (chromium): on a phone, "Forgot your password?" from the
/// sign-in page, the link from the mail, the new password, the used link; then the
/// admin's E-mail page and its test message. Screenshots go to `target/screenshots/`.
#[tokio::test]
async fn the_reset_pages_and_the_mail_page_in_a_browser() {
    let sink = SmtpSink::start(Some((RELAY_USER, RELAY_PASSWORD)));
    let server = support::smtp::server_with_relay(Backend::Sqlite, &sink).await;
    support::create_admin(&server.services.identity).await;
    support::create_user(&server, "ada", ADA_PASSWORD).await;

    let phone = Browser::start(390, 844).await;
    phone.goto(&server.url("/login")).await;
    phone.click("a[href='/forgot-password']").await;
    phone.wait_for_path("/forgot-password").await;
    phone.screenshot("mail-forgot-password").await;
    phone.fill("input[name=login]", "ada").await;
    phone
        .click("form[action='/forgot-password'] button[type=submit]")
        .await;
    phone.wait_for_text("a message with a link").await;
    phone.screenshot("mail-forgot-password-sent").await;
    let link = format!(
        "/reset-password?token={}",
        reset_token_in(&sink.wait_for_message(1).await)
    );
    phone.goto(&server.url(&link)).await;
    phone.fill("input[name=password]", ADA_NEW).await;
    phone.fill("input[name=password_again]", ADA_NEW).await;
    phone.screenshot("mail-reset-password").await;
    phone.click("#reset-form button[type=submit]").await;
    phone.wait_for_text("Your password is changed").await;
    phone.screenshot("mail-reset-password-done").await;
    phone.goto(&server.url(&link)).await;
    phone
        .wait_for_text("This link has expired or was used; ask for a new one.")
        .await;
    phone.screenshot("mail-reset-password-used").await;
    phone.close().await;

    let desktop = Browser::start(1280, 900).await;
    desktop.goto(&server.url("/login")).await;
    desktop.fill("input[name=login]", "boss").await;
    desktop
        .fill("input[name=password]", "correct horse battery")
        .await;
    desktop
        .click("form[action='/login'] button[type=submit]")
        .await;
    desktop.wait_for_path("/admin").await;
    desktop.goto(&server.url("/admin/mail")).await;
    desktop.wait_for_text("Mail relay").await;
    desktop.click("#test-message button[type=submit]").await;
    desktop
        .wait_for_text("Test message sent to boss@example.org")
        .await;
    desktop.screenshot("mail-admin-page").await;
    desktop.close().await;
    assert_eq!(sink.messages().len(), 2);
    server.stop().await;
}
