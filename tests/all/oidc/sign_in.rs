//! Signing in through the provider end to end: a real browser from PrintPark's sign-in
//! page through the provider's form back to the portal and out again; roles from the
//! group claim; a `next` that would lead off-site; and a phone at a printer's QR page.

use super::{NAME, Sso};
use crate::support::browser::Browser;
use crate::support::oidc::Account;
use crate::support::{Backend, create_user, get_text};

#[tokio::test]
async fn a_browser_signs_in_through_the_provider_and_lands_on_the_portal() {
    let ann = Account::new("ann", &["staff"]);
    let ada = Account::new("ada", &["admins"]);
    let sso = Sso::start(Backend::Sqlite, vec![ann.clone(), ada.clone()], |_| {}).await;
    // Matched by e-mail to the accounts an admin made; ada is admin by her group.
    let local = create_user(&sso.server, "ann", "a local password 1").await;
    create_user(&sso.server, "ada", "a local password 2").await;

    let browser = Browser::start(390, 844).await;
    browser.goto(&sso.server.url("/login")).await;
    let link = format!("a[href^='/sso/{NAME}/start']");
    browser.wait_for_text("Test Provider").await;
    browser.screenshot("sso-login-page").await;
    browser.click(&link).await;
    // The provider's own page, on its own site.
    browser.wait_for_text("Test provider").await;
    browser.fill("#login", "ann").await;
    browser.fill("#password", &ann.password).await;
    browser.click("#sign-in").await;
    browser.wait_for_path("/portal").await;
    browser.wait_for_text("Sign out").await;
    browser.screenshot("sso-signed-in-portal").await;
    assert!(
        browser.source().await.contains(&local.username),
        "the portal is ann's"
    );
    let stats = sso.provider.stats().await;
    assert_eq!(stats.token_responses, 1);
    let audit = sso.sso_audit().await;
    assert!(
        !audit.is_empty() && audit.iter().all(|e| e.outcome == "success"),
        "the sign-in audited, and only successes: {audit:?}"
    );

    // Signing out ends the provider's session too (RP-initiated logout): the provider
    // asks, then sends the browser back to PrintPark's sign-in page.
    browser.click("form[action='/logout'] button").await;
    browser.wait_for_text("Yes, sign me out").await;
    browser.click("#sign-out").await;
    browser.wait_for_path("/login").await;
    assert_eq!(sso.provider.stats().await.ended_sessions, 1);
    assert!(
        !browser.source().await.contains("Sign out"),
        "signed out here"
    );
    // So the next single sign-on asks for the password again.
    browser.click(&link).await;
    browser.wait_for_text("Sign in to continue").await;

    // ada signs in there instead and lands on the admin pages, which list the provider.
    browser.fill("#login", "ada").await;
    browser.fill("#password", &ada.password).await;
    browser.click("#sign-in").await;
    browser.wait_for_path("/admin").await;
    browser.goto(&sso.server.url("/admin/sso")).await;
    browser.wait_for_text(&sso.provider.issuer).await;
    browser.screenshot("sso-admin-providers").await;

    // A made-up callback: the refusal page says why.
    browser
        .goto(
            &sso.server
                .url(&format!("/sso/{NAME}/callback?code=x&state=made-up")),
        )
        .await;
    browser.wait_for_text("refused").await;
    browser.screenshot("sso-refused").await;
    browser.close().await;
}

async fn admins_come_from_the_group_claim(backend: Backend) {
    let ada = Account::new("ada", &["staff", "admins"]);
    let bob = Account::new("bob", &["staff"]);
    let sso = Sso::start(backend, vec![ada.clone(), bob.clone()], |p| {
        p.create_users = true;
    })
    .await;

    // The sign-in page offers the provider.
    let anonymous = sso.server.client();
    let login = get_text(&anonymous, sso.server.url("/login")).await;
    assert!(
        login.contains(&format!("href=\"/sso/{NAME}/start")),
        "no provider link on /login:\n{login}"
    );

    for (account, admin) in [(&ada, true), (&bob, false)] {
        let client = sso.server.client();
        let answer = sso.sign_in(&client, account, Some("/admin")).await;
        assert_eq!(answer.status(), 303, "{}", answer.text().await.unwrap());
        assert_eq!(answer.headers()["location"], "/admin");
        assert!(sso.signed_in(&client).await, "{} signed in", account.name);
        let page = client.get(sso.server.url("/admin")).send().await.unwrap();
        assert_eq!(
            page.status() == 200,
            admin,
            "{} at /admin: {}",
            account.preferred_username,
            page.status()
        );
        // Created at the first sign-in, as a person of the provider.
        let user = sso
            .server
            .services
            .db
            .user_by_login(&account.email)
            .await
            .unwrap_or_else(|e| panic!("{} was not created: {e}", account.email));
        assert_eq!(user.source, "oidc");
        // A second sign-in finds the same person rather than making another.
        let again = sso.server.client();
        assert_eq!(sso.sign_in(&again, account, None).await.status(), 303);
    }
    let people = sso.server.services.db.list_users().await.unwrap();
    assert_eq!(people.len(), 3, "boss, ada and bob once each");
}

#[tokio::test]
async fn admins_come_from_the_group_claim_sqlite() {
    admins_come_from_the_group_claim(Backend::Sqlite).await;
}

#[tokio::test]
async fn admins_come_from_the_group_claim_postgres() {
    admins_come_from_the_group_claim(Backend::Postgres).await;
}

#[tokio::test]
async fn next_never_leads_off_site() {
    let ann = Account::new("ann", &["staff"]);
    let sso = Sso::start(Backend::Sqlite, vec![ann.clone()], |_| {}).await;
    create_user(&sso.server, "ann", "a local password 1").await;
    let origin = url::Url::parse(&sso.server.base).unwrap().origin();

    for next in [
        "https://evil.example/steal",
        "//evil.example/steal",
        "/\\evil.example/steal",
        "/%2F%2Fevil.example",
        "https:evil.example",
        "javascript:alert(1)",
        " //evil.example",
    ] {
        let client = sso.server.client();
        let mut start = url::Url::parse(&sso.server.url(&format!("/sso/{NAME}/start"))).unwrap();
        start.query_pairs_mut().append_pair("next", next);
        let first = client.get(start).send().await.unwrap();
        if first.status() == 400 {
            continue; // refused outright: nowhere to go
        }
        assert_eq!(first.status(), 303, "start with next={next:?}");
        let answer = sso.sign_in(&client, &ann, Some(next)).await;
        assert_eq!(answer.status(), 303, "next={next:?}");
        let to = answer.headers()["location"].to_str().unwrap().to_owned();
        let resolved = url::Url::parse(&sso.server.base)
            .unwrap()
            .join(&to)
            .unwrap();
        assert!(
            to.starts_with('/') && !to.starts_with("//") && !to.starts_with("/\\"),
            "next={next:?} sent the browser to {to:?}"
        );
        assert_eq!(resolved.origin(), origin, "next={next:?} -> {to:?}");
    }
    // A local path is kept.
    let client = sso.server.client();
    let answer = sso.sign_in(&client, &ann, Some("/portal/account")).await;
    assert_eq!(answer.headers()["location"], "/portal/account");
}

#[tokio::test]
async fn a_phone_signs_in_at_the_printer_through_the_provider() {
    let ann = Account::new("ann", &["staff"]);
    let sso = Sso::start(Backend::Sqlite, vec![ann.clone()], |_| {}).await;
    create_user(&sso.server, "ann", "a local password 1").await;
    // A printer nobody prints to here: only its QR page is used.
    let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let printer = sso
        .server
        .services
        .printers
        .add(
            &sso.admin,
            &printpark::release::PrinterForm {
                name: "Lobby".into(),
                uri: format!("socket://{}", socket.local_addr().unwrap()),
                ..Default::default()
            },
            &printpark::identity::ClientInfo::default(),
        )
        .await
        .unwrap();
    let here = format!("/r/{}", printer.guid);

    let phone = sso.server.client();
    let page = get_text(&phone, sso.server.url(&here)).await;
    let start = format!("/sso/{NAME}/start?phone={}", printer.guid);
    assert!(
        page.contains(&start),
        "no provider button on {here}:\n{page}"
    );
    let first = phone.get(sso.server.url(&start)).send().await.unwrap();
    assert_eq!(first.status(), 303);
    let authorize = crate::support::oidc::location(&first);
    let back = crate::support::oidc::sign_in_at_provider(
        &phone,
        &authorize,
        &ann.preferred_username,
        &ann.password,
    )
    .await;
    let answer = phone.get(back).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    let cookies: Vec<String> = answer
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().to_owned())
        .collect();
    assert!(
        cookies.iter().any(|c| c.starts_with("pp_device=")),
        "the phone's cookie: {cookies:?}"
    );
    let signed = answer.text().await.unwrap();
    assert!(signed.contains(&format!("url={here}")), "{signed}");
    let page = get_text(&phone, sso.server.url(&here)).await;
    assert!(page.contains("You have no documents waiting."), "{page}");
    // The phone's session opens the printer's page only, not the portal.
    assert!(!sso.signed_in(&phone).await);
}
