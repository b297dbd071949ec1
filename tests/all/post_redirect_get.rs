//! Issue 20, item 8: forms that make a secret or send something answer with a redirect
//! (post/redirect/get), so a browser refresh of the answer makes nothing again. Here:
//! enrolling an output device on a printer's page (its secret shown once, on the GET).
//! The agents page's enrolment code and the e-mail test are checked in
//! `first_hour_address` and `mail_admin`; Reset PIN in `words`.

use crate::support;

use support::{Backend, TestServer, csrf_of, get_text};

async fn enrol_twice_refreshing(backend: Backend) {
    let server = TestServer::start(backend).await;
    let client = server.client();
    support::first_admin(&server, &client).await;
    let owner = support::create_admin(&server.services.identity).await;
    let printer = support::sign_in::pulled_printer(&server, &owner, "Pulled").await;
    let path = format!("/admin/printers/{}", printer.id);
    let page = get_text(&client, server.url(&path)).await;
    let answer = client
        .post(server.url(&format!("{path}/devices")))
        .form(&[("csrf", csrf_of(&page).as_str()), ("name", "proxy")])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 303, "enrolling redirects");
    assert_eq!(answer.headers()["location"], path.as_str());
    let shown = get_text(&client, server.url(&path)).await;
    assert!(shown.contains("id=\"device-secret\""), "{shown}");
    assert!(shown.contains("not shown again"));
    // A refresh: the secret is gone and no second device was enrolled.
    let refreshed = get_text(&client, server.url(&path)).await;
    assert!(!refreshed.contains("id=\"device-secret\""));
    let devices = server
        .services
        .release
        .infra()
        .devices_of(&owner, printer.id)
        .await
        .unwrap();
    assert_eq!(devices.len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn an_output_devices_secret_is_shown_once_after_a_redirect_sqlite() {
    enrol_twice_refreshing(Backend::Sqlite).await;
}

#[tokio::test]
async fn an_output_devices_secret_is_shown_once_after_a_redirect_postgres() {
    enrol_twice_refreshing(Backend::Postgres).await;
}
