//! The web flows in a real browser (headless chromium): first run, admin creates a
//! user, the user signs in on a phone-sized screen and sees their (empty) portal.

mod support;

use support::browser::Browser;
use support::{Backend, TestServer};

#[tokio::test]
async fn a_new_admin_sets_up_the_server_and_a_user_signs_in_on_a_phone() {
    let server = TestServer::start(Backend::Sqlite).await;
    let desktop = Browser::start(1280, 900).await;

    desktop.goto(&server.url("/")).await;
    desktop.wait_for_path("/setup").await;
    let key = desktop.text_of("#master-key").await;
    assert_eq!(
        key,
        std::fs::read_to_string(server.services.settings.master_key_path())
            .unwrap()
            .trim()
    );
    desktop.screenshot("first-run").await;
    desktop.fill("input[name=name]", "Ada Admin").await;
    desktop.fill("input[name=username]", "ada").await;
    desktop.fill("input[name=email]", "ada@example.org").await;
    desktop
        .fill("input[name=password]", "correct horse battery")
        .await;
    desktop
        .fill("input[name=password_again]", "correct horse battery")
        .await;
    desktop.click("input[name=key_saved]").await;
    desktop
        .click("form[action='/setup'] button[type=submit]")
        .await;
    desktop.wait_for_path("/admin").await;
    desktop.wait_for_text("Recent activity").await;
    desktop.screenshot("admin-dashboard").await;

    desktop.goto(&server.url("/admin/users")).await;
    desktop
        .fill("form[action='/admin/users'] input[name=username]", "bob")
        .await;
    desktop
        .fill(
            "form[action='/admin/users'] input[name=email]",
            "bob@example.org",
        )
        .await;
    desktop
        .fill(
            "form[action='/admin/users'] input[name=name]",
            "Bob Builder",
        )
        .await;
    desktop
        .fill(
            "form[action='/admin/users'] input[name=password]",
            "bobs long password",
        )
        .await;
    desktop
        .click("form[action='/admin/users'] button[type=submit]")
        .await;
    desktop.wait_for_text("User bob created.").await;
    desktop.screenshot("admin-users").await;
    desktop.goto(&server.url("/admin/audit")).await;
    desktop.wait_for_text("user.create").await;
    desktop.screenshot("admin-audit").await;
    desktop.close().await;

    let phone = Browser::start(390, 844).await;
    phone.goto(&server.url("/portal")).await;
    phone.wait_for_path("/login").await;
    phone.fill("input[name=login]", "bob@example.org").await;
    phone
        .fill("input[name=password]", "bobs long password")
        .await;
    phone
        .click("form[action='/login'] button[type=submit]")
        .await;
    phone.wait_for_path("/portal").await;
    phone
        .wait_for_text("No documents are waiting for you.")
        .await;
    phone.screenshot("portal-phone").await;
    phone.goto(&server.url("/portal/account")).await;
    phone
        .fill(
            "form[action='/portal/account/app-passwords'] input[name=label]",
            "Bob's phone",
        )
        .await;
    phone
        .click("form[action='/portal/account/app-passwords'] button[type=submit]")
        .await;
    phone.wait_for_text("new-app-password").await;
    let secret = phone.text_of("#new-app-password").await;
    assert!(secret.starts_with("pp-"), "{secret}");
    phone.screenshot("account-phone").await;
    phone
        .click("form[action='/logout'] button[type=submit]")
        .await;
    phone.wait_for_path("/login").await;
    phone.close().await;
    server.stop().await;
}
