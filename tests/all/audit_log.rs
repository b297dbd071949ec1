//! Issue 20, item 8: the admin's audit log filters by person, action, outcome and date
//! (GET parameters; unknown actions and outcomes refused), exports the filtered rows
//! as CSV with formula-looking cells made text, and names actions in one scheme.

use crate::support;

use support::browser::Browser;
use support::{Backend, TestServer, get_text, login};

/// A formula a spreadsheet would run, typed as a login (it reaches the log as actor).
const FORMULA_LOGIN: &str = "=hyperlink(\"http://evil.example\";\"x\")";

fn today() -> String {
    let now = time::OffsetDateTime::from_unix_timestamp(printpark::clock::now()).unwrap();
    now.date().to_string()
}

fn day_from_today(days: i64) -> String {
    let now = time::OffsetDateTime::from_unix_timestamp(printpark::clock::now()).unwrap();
    (now.date() + time::Duration::days(days)).to_string()
}

/// The rows of the audit table: (actor, action, target, outcome).
fn rows(html: &str) -> Vec<[String; 4]> {
    html.split("<tr class=\"outcome-")
        .skip(1)
        .map(|row| {
            let cells: Vec<String> = row
                .split("<td>")
                .skip(1)
                .map(|c| c.split("</td>").next().unwrap_or("").to_owned())
                .collect();
            [
                cells[1].clone(),
                cells[2].clone(),
                cells[3].clone(),
                cells[4].clone(),
            ]
        })
        .collect()
}

/// Signs the admin in and makes a few entries: ann fails twice and signs in, bob
/// signs in, a formula is typed as a login.
async fn world(backend: Backend) -> (TestServer, reqwest::Client) {
    let server = TestServer::start(backend).await;
    let admin = server.client();
    support::first_admin(&server, &admin).await;
    support::create_user(&server, "ann", "ann's long password").await;
    support::create_user(&server, "bob", "bob's long password").await;
    for wrong in ["not it 1", "not it 2"] {
        assert_eq!(
            login(&server, &server.client(), "ann", wrong)
                .await
                .status(),
            401
        );
    }
    for (who, password) in [
        ("ann", "ann's long password"),
        ("bob", "bob's long password"),
    ] {
        assert_eq!(
            login(&server, &server.client(), who, password)
                .await
                .status(),
            303
        );
    }
    login(&server, &server.client(), FORMULA_LOGIN, "whatever it is").await;
    (server, admin)
}

async fn the_audit_log_filters_and_exports(backend: Backend) {
    let (server, admin) = world(backend).await;
    let page = |query: &'static str| {
        let url = server.url(&format!("/admin/audit{query}"));
        let admin = admin.clone();
        async move { get_text(&admin, url).await }
    };

    // By person: rows where ann acted or was acted on (her account's creation too).
    let ann = rows(&page("?person=ann").await);
    assert!(ann.len() >= 4, "{ann:?}");
    assert!(
        ann.iter().all(|r| r[0] == "ann" || r[2] == "ann"),
        "{ann:?}"
    );
    assert!(ann.iter().any(|r| r[1] == "user.create"), "{ann:?}");
    // By action and outcome: ann's two wrong passwords, and nothing else.
    let failed = rows(&page("?action=auth.password&outcome=failure").await);
    assert_eq!(failed.len(), 3, "two of ann's, one formula: {failed:?}");
    assert!(
        failed
            .iter()
            .all(|r| r[1] == "auth.password" && r[3] == "failure")
    );
    let ann_failed = rows(&page("?person=ann&action=auth.password&outcome=failure").await);
    assert_eq!(ann_failed.len(), 2, "{ann_failed:?}");
    let signed_in = rows(&page("?action=auth.login").await);
    assert!(signed_in.iter().all(|r| r[1] == "auth.login"));
    let mut who: Vec<_> = signed_in
        .iter()
        .map(|r| r[0].clone())
        .filter(|w| w != "admin")
        .collect();
    who.sort();
    assert_eq!(who, ["ann", "bob"], "{signed_in:?}");
    // By date: today holds them all, tomorrow on and up to yesterday none.
    let url = |q: String| server.url(&format!("/admin/audit?{q}"));
    let today_rows = rows(&get_text(&admin, url(format!("from={0}&to={0}", today()))).await);
    assert_eq!(today_rows.len(), rows(&page("").await).len());
    let tomorrow = get_text(&admin, url(format!("from={}", day_from_today(1)))).await;
    assert!(rows(&tomorrow).is_empty());
    assert!(tomorrow.contains("No entries match these filters."));
    let before = get_text(&admin, url(format!("to={}", day_from_today(-1)))).await;
    assert!(rows(&before).is_empty());
    // The form keeps what was chosen.
    let kept = page("?person=ann&action=auth.password&outcome=failure").await;
    assert!(kept.contains("value=\"ann\""));
    assert!(kept.contains("<option value=\"auth.password\" selected>"));
    assert!(kept.contains("<option value=\"failure\" selected>"));
    let csv_href = kept
        .split("id=\"audit-csv\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .replace("&#38;", "&")
        .replace("&amp;", "&");
    assert_eq!(
        csv_href,
        "/admin/audit.csv?person=ann&action=auth.password&outcome=failure"
    );
    // Closed sets and dates are checked at the edge.
    for bad in [
        "?action=login",
        "?action=auth.",
        "?outcome=fine",
        "?from=yesterday",
        "?from=2026-12-02&to=2026-12-01",
    ] {
        let response = admin
            .get(server.url(&format!("/admin/audit{bad}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{bad}");
    }
    // Admins only.
    let ann_client = server.client();
    login(&server, &ann_client, "ann", "ann's long password").await;
    for path in ["/admin/audit", "/admin/audit.csv"] {
        let response = ann_client.get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 403, "{path}");
    }

    // CSV of the filtered rows.
    let csv = admin
        .get(server.url("/admin/audit.csv?action=auth.password&outcome=failure"))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(
        csv.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("printpark-audit.csv")
    );
    let csv = csv.text().await.unwrap();
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(
        lines[0],
        "id,time,actor,action,target,outcome,client,detail"
    );
    assert_eq!(lines.len(), 1 + failed.len(), "{csv}");
    assert!(lines[1..].iter().all(|l| l.contains(",auth.password,")));
    // The formula typed as a login is text: quoted, with a leading '.
    let formula = lines
        .iter()
        .find(|l| l.contains("hyperlink"))
        .unwrap_or_else(|| panic!("{csv}"));
    assert!(
        formula.contains(",\"'=hyperlink(\"\"http://evil.example\"\";\"\"x\"\")\","),
        "{formula}"
    );
    assert!(
        !csv.split(['\n', ','])
            .any(|cell| cell.starts_with('=') || cell.starts_with("\"=")),
        "{csv}"
    );
    // Every row of the unfiltered export, the same count as the log.
    let all = get_text(&admin, server.url("/admin/audit.csv")).await;
    let count = server
        .services
        .db
        .audit_page(None, 10_000, None)
        .await
        .unwrap()
        .len();
    assert_eq!(
        all.split("\r\n").filter(|l| !l.is_empty()).count(),
        1 + count
    );
    server.stop().await;
}

mod sqlite {
    use super::*;

    #[tokio::test]
    async fn the_audit_log_filters_by_person_action_outcome_and_date_and_exports_csv() {
        super::the_audit_log_filters_and_exports(Backend::Sqlite).await;
    }
}

mod postgres {
    use super::*;

    #[tokio::test]
    async fn the_audit_log_filters_by_person_action_outcome_and_date_and_exports_csv() {
        super::the_audit_log_filters_and_exports(Backend::Postgres).await;
    }
}

/// Rows written under the old names read under the new ones after migration 0023.
#[tokio::test]
async fn old_action_names_are_rewritten_by_the_migration() {
    let sql = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/migrations/sqlite/0023_audit_action_names.sql"
    ))
    .unwrap();
    let server = TestServer::start(Backend::Sqlite).await;
    let db = &server.services.db;
    for old in [
        "login",
        "device.login",
        "device.revoke",
        "printer.use-advertised-uri",
    ] {
        db.append_audit(&printpark::db::AuditRecord {
            actor: "ann",
            action: old,
            outcome: "success",
            ..Default::default()
        })
        .await
        .unwrap();
    }
    let printpark::db::Db::Sqlite(pool) = db else {
        panic!("a SQLite server")
    };
    sqlx::raw_sql(&sql).execute(pool).await.unwrap();
    let mut actions: Vec<String> = db
        .audit_page(None, 100, None)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    actions.sort();
    assert_eq!(
        actions,
        [
            "auth.password",
            "phone.login",
            "phone.revoke",
            "printer.use_advertised_uri"
        ]
    );
    for action in &actions {
        assert!(printpark::identity::AuditAction::parse(action).is_some());
    }
    server.stop().await;
}

/// The filter page in chromium at desktop, tablet and phone widths.
#[tokio::test]
async fn the_audit_page_fits_every_width() {
    let (server, _) = world(Backend::Sqlite).await;
    let browser = Browser::start(1280, 900).await;
    browser.goto(&server.url("/login")).await;
    browser.fill("input[name=login]", "admin").await;
    browser
        .fill("input[name=password]", "correct horse battery")
        .await;
    browser
        .click("form[action='/login'] button[type=submit]")
        .await;
    browser.wait_for_path("/admin").await;
    browser.goto(&server.url("/admin/audit")).await;
    browser.fill("input[name=person]", "ann").await;
    browser
        .execute(
            "document.querySelector('select[name=outcome]').value = 'failure'; return true;",
            vec![],
        )
        .await;
    browser.click("#audit-filters button[type=submit]").await;
    browser.wait_for_text("Clear").await;
    assert!(browser.current_path().await.starts_with("/admin/audit"));
    let csv = browser
        .execute(
            "return document.getElementById('audit-csv').getAttribute('href');",
            vec![],
        )
        .await;
    assert_eq!(csv, "/admin/audit.csv?person=ann&outcome=failure");
    for (width, height) in [(1280, 900), (1024, 768), (390, 844)] {
        browser.resize(width, height).await;
        browser
            .assert_no_horizontal_overflow(&format!("audit page at {width} px"))
            .await;
        browser
            .screenshot(&format!("issue20-setup-audit-{width}"))
            .await;
    }
    browser.close().await;
    server.stop().await;
}
