//! The Directory admin page in a real browser (headless chromium), with the settings
//! kept on the page (no `[ldap]` in the settings file): saved, the bind password
//! sealed in the database and never shown again; "Test connection" names the step
//! that failed (TCP, for a directory that is not there); "Sync now" fails and
//! disables nobody; each is audited. Screenshots at desktop and phone width.

use crate::support;

use printpark::identity::ClientInfo;
use printpark::identity::ldap::LdapError;
use support::browser::Browser;
use support::sign_in::audit;
use support::{Backend, TestServer};

const BIND_PASSWORD: &str = "service account secret 42";

#[tokio::test]
async fn directory_settings_on_the_page_test_and_sync() {
    let server = TestServer::start(Backend::Sqlite).await;
    let admin = support::create_admin(&server.services.identity).await;
    // A local person the failed sync must leave alone.
    support::create_user(&server, "ann", "ann's long password").await;
    let closed = support::free_port();

    let desktop = Browser::start(1280, 1000).await;
    desktop.goto(&server.url("/login")).await;
    desktop.fill("input[name=login]", "boss").await;
    desktop
        .fill("input[name=password]", "correct horse battery")
        .await;
    desktop
        .click("form[action='/login'] button[type=submit]")
        .await;
    desktop.wait_for_path("/admin").await;
    desktop.goto(&server.url("/admin/directory")).await;
    desktop.wait_for_text("No sync yet.").await;
    let form = "form[action='/admin/directory']";
    desktop
        .fill(
            &format!("{form} input[name=url]"),
            &format!("ldap://127.0.0.1:{closed}"),
        )
        .await;
    desktop
        .fill(
            &format!("{form} input[name=bind_dn]"),
            "CN=printpark,OU=Service,DC=example,DC=org",
        )
        .await;
    desktop
        .fill(&format!("{form} input[name=bind_password]"), BIND_PASSWORD)
        .await;
    desktop
        .fill(&format!("{form} input[name=base_dn]"), "DC=example,DC=org")
        .await;
    desktop
        .fill(
            &format!("{form} textarea[name=user_groups]"),
            "CN=PrintUsers,OU=Groups,DC=example,DC=org",
        )
        .await;
    desktop.click(&format!("{form} button[type=submit]")).await;
    desktop.wait_for_text("Directory settings saved.").await;
    let page = desktop.source().await;
    assert!(!page.contains(BIND_PASSWORD), "the password is never shown");
    assert!(page.contains("stored (sealed)"), "{page}");
    let row = server.services.db.ldap_settings().await.unwrap().unwrap();
    let sealed = row.bind_password_sealed.expect("sealed password stored");
    assert!(
        !sealed
            .windows(BIND_PASSWORD.len())
            .any(|w| w == BIND_PASSWORD.as_bytes()),
        "never in clear in the database"
    );
    assert_eq!(row.user_groups, "CN=PrintUsers,OU=Groups,DC=example,DC=org");

    desktop
        .click("form[action='/admin/directory/test'] button")
        .await;
    desktop.wait_for_text("Test failed at TCP").await;
    desktop.screenshot("admin-directory").await;

    desktop
        .click("form[action='/admin/directory/sync'] button")
        .await;
    desktop.wait_for_text("cannot reach the directory").await;
    let page = desktop.source().await;
    assert!(page.contains("failed"), "{page}");
    desktop.close().await;

    // Through the service too: the error names the step; nobody was disabled.
    match server.services.directory.test_connection().await {
        Err(e @ LdapError::Connect(_)) => assert_eq!(e.step(), "TCP"),
        other => panic!("a closed port fails at TCP: {other:?}"),
    }
    assert!(matches!(
        server
            .services
            .directory
            .sync_now(Some(&admin), &ClientInfo::default())
            .await,
        Err(LdapError::Connect(_))
    ));
    let users = server.services.identity.list_users().await.unwrap();
    assert!(
        users.iter().all(|u| !u.disabled),
        "a failed sync disables nobody"
    );
    for action in [
        "directory.settings",
        "directory.test",
        "directory.sync.start",
        "directory.sync.finish",
    ] {
        let rows = audit(&server, action).await;
        assert!(!rows.is_empty(), "{action} audited");
        assert!(
            rows.iter().all(|r| !r.detail.contains(BIND_PASSWORD)),
            "{rows:?}"
        );
    }

    let phone = Browser::start(390, 844).await;
    phone.goto(&server.url("/login")).await;
    phone.fill("input[name=login]", "boss").await;
    phone
        .fill("input[name=password]", "correct horse battery")
        .await;
    phone
        .click("form[action='/login'] button[type=submit]")
        .await;
    phone.wait_for_path("/admin").await;
    phone.goto(&server.url("/admin/directory")).await;
    phone.wait_for_text("Last syncs").await;
    phone.screenshot("admin-directory-phone").await;
    phone.close().await;
    server.stop().await;
}
