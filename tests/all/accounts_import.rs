//! Accounts an admin manages (issue 16, item 3), continued: the CSV import of people
//! (dry run, per-row outcomes, import applied exactly as previewed, file limits) on
//! SQLite and Postgres, and the new pages in a real browser at desktop and phone width.

use crate::support;

use super::accounts::{ADMIN_PASSWORD, cli, signed_in, world};
use support::sign_in::audit;
use support::{Backend, TestServer, between, csrf_of, get_text};

macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $case() {
                super::$case(super::Backend::Sqlite).await;
            })*
        }
        mod postgres {
            $(#[tokio::test]
            async fn $case() {
                super::$case(super::Backend::Postgres).await;
            })*
        }
    };
}

on_both_backends!(a_csv_import_previews_every_row_then_applies_exactly_that);

/// Uploads a CSV file to the import page; returns the status and the page.
async fn upload(server: &TestServer, admin: &reqwest::Client, csv: Vec<u8>) -> (u16, String) {
    let page = get_text(admin, server.url("/admin/users/import")).await;
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf_of(&page))
        .part(
            "file",
            reqwest::multipart::Part::bytes(csv).file_name("people.csv"),
        );
    let response = admin
        .post(server.url("/admin/users/import"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// The "What happens" cell of the preview row of file line `line` (the cell after
/// the line number).
fn row_outcome(page: &str, line: usize) -> String {
    let marker = format!("<td>{line}</td>");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("line {line} in {page}"))
        + marker.len();
    between(&page[start..], "<td>", "</td>")
        .replace("<strong>", "")
        .replace("</strong>", "")
}

async fn apply(server: &TestServer, admin: &reqwest::Client, preview: &str) -> String {
    let action = between(
        preview,
        "<form method=\"post\" action=\"/admin/users/import/",
        "\"",
    );
    admin
        .post(server.url(&format!("/admin/users/import/{action}")))
        .form(&[("csrf", csrf_of(preview).as_str())])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn a_csv_import_previews_every_row_then_applies_exactly_that(backend: Backend) {
    let w = world(backend).await;
    let identity = &w.server.services.identity;
    let admin = signed_in(&w.server, "boss", ADMIN_PASSWORD).await;
    let csv = "Username;E-mail;Name;Department;Card_Number\r\n\
        carol;carol@example.org;Carol Cole;Sales;0099 1234\r\n\
        ann;;;Finance;\r\n\
        bob;;;;\r\n\
        dave;not-an-address;Dave;;\r\n\
        carol;carol2@example.org;;;\r\n\
        erin;bob@example.org;Erin;;\r\n\
        \"frank\";\"frank@example.org\";\"Frank; Jr.\";;\r\n";
    let (status, preview) = upload(&w.server, &admin, csv.as_bytes().to_vec()).await;
    assert_eq!(status, 200, "{preview}");
    let expected = [
        (2, "create"),
        (3, "update: department"),
        (4, "unchanged"),
        (5, "error: email: enter an address like name@example.org"),
        (6, "error: same username as line 2"),
        (7, "error: that e-mail belongs to another person"),
        (8, "create"),
    ];
    for (line, what) in expected {
        assert_eq!(row_outcome(&preview, line), what, "line {line}");
    }
    assert!(preview.contains("2 to create · 1 to update · 1 unchanged · 3 with errors"));
    assert!(!preview.contains("1234"), "no card number on the page");
    let users = identity.list_users().await.unwrap();
    assert_eq!(users.len(), 3, "the dry run created nobody");

    let done = apply(&w.server, &admin, &preview).await;
    assert!(done.contains("Imported: 2 created, 1 updated."), "{done}");
    let carol = identity.user_by_login("carol").await.unwrap();
    assert_eq!(
        (carol.name.as_str(), carol.department.as_str()),
        ("Carol Cole", "Sales")
    );
    assert_eq!(identity.badges_of(&carol).await.unwrap().len(), 1);
    assert_eq!(
        identity.user_by_login("frank").await.unwrap().name,
        "Frank; Jr."
    );
    assert_eq!(
        identity.user_by_login("ann").await.unwrap().department,
        "Finance"
    );
    let audited = audit(&w.server, "user.import").await;
    assert_eq!(audited.len(), 1);
    assert!(
        audited[0]
            .detail
            .contains("2 created, 1 updated, 1 unchanged, 3 row(s) in error")
    );
    // The same preview cannot be applied twice.
    let again = apply(&w.server, &admin, &preview).await;
    assert!(again.contains("imported already"), "{again}");

    // People changed between the preview and Import: nothing applied, the new plan shown.
    let (_, preview) = upload(
        &w.server,
        &admin,
        b"username,email\ngus,gus@example.org\nhal,hal@example.org\n".to_vec(),
    )
    .await;
    support::create_user(&w.server, "gus", "gus's long password").await;
    let changed = apply(&w.server, &admin, &preview).await;
    assert!(
        changed.contains("People changed since the preview"),
        "{changed}"
    );
    assert_eq!(row_outcome(&changed, 2), "unchanged");
    assert!(
        identity.user_by_login("hal").await.is_err(),
        "nothing applied"
    );
    let done = apply(&w.server, &admin, &changed).await;
    assert!(done.contains("Imported: 1 created, 0 updated."), "{done}");

    // Whole-file refusals: an unknown column, and a file over the size limit.
    let (status, page) = upload(&w.server, &admin, b"username,mail\nx,y\n".to_vec()).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("unknown column") && page.contains("mail"),
        "{page}"
    );
    let (status, _) = upload(&w.server, &admin, vec![b'a'; 3 * 1024 * 1024]).await;
    assert_eq!(status, 413);
    w.server.stop().await;
}

/// The new pages in a real browser, at desktop and phone width (screenshots under
/// `target/screenshots/`): a person's page, the import preview, the forced password
/// change.
#[tokio::test]
async fn the_account_pages_work_in_a_browser_at_desktop_and_phone_width() {
    use support::browser::Browser;
    let w = world(Backend::Sqlite).await;
    let csv = w.server.dir.path().join("people.csv");
    std::fs::write(
        &csv,
        "username,email,name,department,card_number\ncarol,carol@example.org,Carol Cole,Sales,0099 1234\nann,,,Finance,\ndave,not-an-address,Dave,,\n",
    )
    .unwrap();
    for (name, width, height) in [("desktop", 1280, 900), ("phone", 390, 844)] {
        let browser = Browser::start(width, height).await;
        browser.goto(&w.server.url("/login")).await;
        browser.fill("input[name=login]", "boss").await;
        browser.fill("input[name=password]", ADMIN_PASSWORD).await;
        browser
            .click("form[action='/login'] button[type=submit]")
            .await;
        browser.wait_for_path("/admin").await;
        browser
            .goto(&w.server.url(&format!("/admin/users/{}", w.ann.id)))
            .await;
        browser.wait_for_text("Reset password").await;
        browser.screenshot(&format!("admin-user-edit-{name}")).await;
        browser.goto(&w.server.url("/admin/users/import")).await;
        browser
            .fill("input[name=file]", csv.to_str().unwrap())
            .await;
        browser
            .click("form[action='/admin/users/import'] button[type=submit]")
            .await;
        browser
            .wait_for_text("Dry run: nothing has changed yet.")
            .await;
        browser
            .screenshot(&format!("admin-import-preview-{name}"))
            .await;
        browser.close().await;
    }
    // A person whose password was reset, on a phone.
    let identity = &w.server.services.identity;
    let reset = identity
        .reset_password(
            &w.boss,
            w.bob.id,
            Some("a temporary password"),
            false,
            &cli(),
        )
        .await
        .unwrap();
    assert!(reset.shown.is_none());
    let phone = Browser::start(390, 844).await;
    phone.goto(&w.server.url("/login")).await;
    phone.fill("input[name=login]", "bob").await;
    phone
        .fill("input[name=password]", "a temporary password")
        .await;
    phone
        .click("form[action='/login'] button[type=submit]")
        .await;
    phone.wait_for_path("/portal/account/password").await;
    phone
        .screenshot("portal-forced-password-change-phone")
        .await;
    phone
        .fill("input[name=current]", "a temporary password")
        .await;
    phone
        .fill("input[name=new]", "bob's own new password")
        .await;
    phone
        .fill("input[name=new_again]", "bob's own new password")
        .await;
    phone
        .click("form[action='/portal/account/password'] button[type=submit]")
        .await;
    phone.wait_for_path("/portal").await;
    phone.close().await;
    w.server.stop().await;
}
