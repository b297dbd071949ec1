//! Doors of issue 14 a stranger reaches first: the first run (one admin, once, only
//! with the setup code), CSRF bindings of signed-in and anonymous forms, the
//! operations endpoints' token, and the modes of the files the server makes.

use crate::support;

use std::path::Path;
use std::sync::Arc;

use printpark::config::Settings;
use support::doors::{Serving, mode_of, setup_code};
use support::{Backend, TestServer, csrf_of, first_admin, get_text, login};

/// A first-run form as a browser would post it (its own pre-session cookie and token).
async fn post_setup(
    server: &TestServer,
    client: &reqwest::Client,
    code: Option<&str>,
    username: &str,
) -> reqwest::Response {
    // Once the first run is done /setup redirects: take a token from the sign-in page.
    let mut page = get_text(client, server.url("/setup")).await;
    if page.is_empty() {
        page = get_text(client, server.url("/login")).await;
    }
    let csrf = csrf_of(&page);
    let email = format!("{username}@example.org");
    let mut form = vec![
        ("csrf", csrf.as_str()),
        ("username", username),
        ("email", email.as_str()),
        ("password", "correct horse battery"),
        ("password_again", "correct horse battery"),
        ("key_saved", "yes"),
    ];
    if let Some(code) = code {
        form.push(("setup_code", code));
    }
    client
        .post(server.url("/setup"))
        .form(&form)
        .send()
        .await
        .unwrap()
}

async fn audit_count(server: &TestServer, action: &str, outcome: &str) -> usize {
    server
        .services
        .db
        .audit_page(None, 1000, Some(action))
        .await
        .unwrap()
        .iter()
        .filter(|e| e.action == action && e.outcome == outcome)
        .count()
}

async fn location_of(client: &reqwest::Client, url: String) -> String {
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 303);
    response.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn six_racing_first_runs_make_one_admin_and_the_page_never_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let url = support::sqlite_url(dir.path());
    racing_first_runs(dir, url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn six_racing_first_runs_make_one_admin_on_postgres_too() {
    let url = support::fresh_postgres_url().await;
    racing_first_runs(tempfile::tempdir().unwrap(), url).await;
}

async fn racing_first_runs(dir: tempfile::TempDir, url: String) {
    let server = TestServer::start_with(dir, |d| support::settings(d, &url)).await;
    let code_file = server.services.settings.data_dir.join("setup-code");
    // Read tolerantly: without a code file every submission below is a wrong code.
    let code = std::fs::read_to_string(&code_file).unwrap_or_default();
    let server = Arc::new(server);
    let start = Arc::new(tokio::sync::Barrier::new(6));
    let mut racers = Vec::new();
    for i in 0..6 {
        let (server, start, code) = (server.clone(), start.clone(), code.clone());
        racers.push(tokio::spawn(async move {
            let client = server.client();
            // Each racer its own browser and its own name, as an attacker would.
            let page = get_text(&client, server.url("/setup")).await;
            let csrf = csrf_of(&page);
            let username = format!("racer{i}");
            let email = format!("racer{i}@example.org");
            start.wait().await;
            let response = client
                .post(server.url("/setup"))
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("setup_code", code.trim()),
                    ("username", username.as_str()),
                    ("email", email.as_str()),
                    ("password", "correct horse battery"),
                    ("password_again", "correct horse battery"),
                    ("key_saved", "yes"),
                ])
                .send()
                .await
                .unwrap();
            response
                .headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_owned())
        }));
    }
    let mut to_admin = 0;
    for racer in racers {
        if racer.await.unwrap().as_deref() == Some("/admin") {
            to_admin += 1;
        }
    }
    let server = Arc::into_inner(server).expect("racers done");
    let db = &server.services.db;
    assert_eq!(db.count_admins().await.unwrap(), 1, "exactly one admin");
    assert_eq!(db.count_users().await.unwrap(), 1);
    assert_eq!(to_admin, 1, "exactly one racer signed in as admin");
    assert!(!code_file.exists(), "the used code file is removed");

    // Disabled, then deleted: no admin left, and still no first-run page.
    let admin = db.list_users().await.unwrap().remove(0);
    db.set_user_disabled(admin.id, true).await.unwrap();
    let client = server.client();
    assert_eq!(location_of(&client, server.url("/setup")).await, "/login");
    db.delete_user(admin.id).await.unwrap();
    assert_eq!(db.count_admins().await.unwrap(), 0);
    assert_eq!(location_of(&client, server.url("/")).await, "/login");
    assert_eq!(location_of(&client, server.url("/setup")).await, "/login");
    let late = post_setup(&server, &server.client(), Some(code.trim()), "late").await;
    assert_eq!(late.status(), 303);
    assert_eq!(db.count_users().await.unwrap(), 0, "nothing made after");

    // Nor after a restart over the same data: no new code, the page stays gone.
    let dir = server.stop_keeping_data().await;
    let server = TestServer::start_with(dir, |d| support::settings(d, &url)).await;
    assert!(
        !code_file.exists(),
        "no setup code once the first run is done"
    );
    assert_eq!(
        location_of(&server.client(), server.url("/setup")).await,
        "/login"
    );
    server.stop().await;
}

#[tokio::test]
async fn setup_without_the_code_or_with_a_wrong_one_is_refused_audited_and_limited() {
    let server = TestServer::start(Backend::Sqlite).await;
    let code_file = server.services.settings.data_dir.join("setup-code");
    assert!(code_file.exists(), "the code is written to the data folder");
    #[cfg(unix)]
    assert_eq!(
        mode_of(&code_file),
        0o600,
        "the code file is the server's own"
    );
    let code = setup_code(&server);
    assert!(code.len() >= 20, "a long code: {code}");

    let client = server.client();
    let missing = post_setup(&server, &client, None, "nocode").await;
    assert_eq!(missing.status(), 403);
    let wrong = post_setup(&server, &client, Some("aaaaa-bbbbb-ccccc-ddddd"), "wrong").await;
    assert_eq!(wrong.status(), 403);
    // Issue 20: errors are sentences ("Setup code is not the one ...").
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("Setup code is not the one this server printed")
    );
    assert_eq!(server.services.db.count_users().await.unwrap(), 0);
    assert_eq!(audit_count(&server, "setup.code", "failure").await, 2);

    // Guessing is limited: after ten wrong codes even the right one waits.
    for _ in 0..8 {
        let r = post_setup(&server, &client, Some("wrong-code"), "guess").await;
        assert_eq!(r.status(), 403);
    }
    let limited = post_setup(&server, &client, Some(&code), "late").await;
    assert_eq!(limited.status(), 429);
    assert!(limited.headers().contains_key("retry-after"));
    assert_eq!(audit_count(&server, "setup.code", "denied").await, 1);
    assert_eq!(server.services.db.count_users().await.unwrap(), 0);

    // A restart (only the operator can) gives a fresh window; the kept code works.
    let dir = server.stop_keeping_data().await;
    let url = support::sqlite_url(dir.path());
    let server = TestServer::start_with(dir, |d| support::settings(d, &url)).await;
    assert_eq!(setup_code(&server), code, "the same code after a restart");
    first_admin(&server, &server.client()).await;
    assert_eq!(audit_count(&server, "setup.complete", "success").await, 1);
    server.stop().await;
}

#[tokio::test]
async fn a_pre_sign_in_token_opens_only_anonymous_forms() {
    let server = TestServer::start(Backend::Sqlite).await;
    let client = server.client();
    first_admin(&server, &client).await;

    // The sign-in page's token is bound to this browser's pre-session cookie.
    let pre_token = csrf_of(&get_text(&client, server.url("/login")).await);
    let response = client
        .post(server.url("/admin/users"))
        .form(&[
            ("csrf", pre_token.as_str()),
            ("username", "eve"),
            ("email", "eve@example.org"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403, "pre-session token on an admin form");
    assert!(server.services.identity.user_by_login("eve").await.is_err());

    // The session's token does not open the sign-in form either.
    let session_token = csrf_of(&get_text(&client, server.url("/admin/users")).await);
    let response = client
        .post(server.url("/login"))
        .form(&[
            ("csrf", session_token.as_str()),
            ("login", "admin"),
            ("password", "correct horse battery"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403, "session token on the sign-in form");

    // Each where it belongs.
    let response = client
        .post(server.url("/login"))
        .form(&[
            ("csrf", pre_token.as_str()),
            ("login", "admin"),
            ("password", "correct horse battery"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "pre-session token signs in");
    let session_token = csrf_of(&get_text(&client, server.url("/admin/users")).await);
    let response = client
        .post(server.url("/admin/users"))
        .form(&[
            ("csrf", session_token.as_str()),
            ("username", "eve"),
            ("email", "eve@example.org"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        303,
        "issue 20: the form answers with a redirect"
    );
    assert!(server.services.identity.user_by_login("eve").await.is_ok());
    let again = login(&server, &server.client(), "eve", "no password yet").await;
    assert_ne!(again.status(), 403, "a fresh browser's sign-in form works");

    // Both cookies are host-only and HTTPS-only: a sibling subdomain cannot plant them.
    let fresh = server.client();
    let page = fresh.get(server.url("/login")).send().await.unwrap();
    let pre = page.headers()["set-cookie"].to_str().unwrap().to_owned();
    let signed_in = login(&server, &fresh, "admin", "correct horse battery").await;
    let session = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    for cookie in [pre, session] {
        assert!(cookie.starts_with("__Host-"), "{cookie}");
        assert!(
            cookie.contains("Path=/") && cookie.contains("Secure") && !cookie.contains("Domain"),
            "{cookie}"
        );
    }
    server.stop().await;
}

/// Test settings plus `[operations] token`, as a config file would give them
/// (through serde, like the TOML file).
fn with_operations_token(settings: Settings, token: &str) -> Settings {
    let mut value = serde_json::to_value(&settings).unwrap();
    value["operations"] = serde_json::json!({ "token": token });
    serde_json::from_value(value).expect("the operations.token setting exists")
}

#[tokio::test]
async fn with_an_operations_token_metrics_and_readiness_need_it_and_health_does_not() {
    const TOKEN: &str = "ops-0123456789-abcdef";
    let dir = tempfile::tempdir().unwrap();
    let url = support::sqlite_url(dir.path());
    let server = TestServer::start_with(dir, |d| {
        with_operations_token(support::settings(d, &url), TOKEN)
    })
    .await;
    let client = support::insecure_client();
    let status = |path: &'static str, token: Option<&'static str>| {
        let mut request = client.get(server.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(status("/healthz", None).await, 200);
    for path in ["/metrics", "/readyz"] {
        assert_eq!(status(path, None).await, 401, "{path} without the token");
        assert_eq!(
            status(path, Some("ops-0123456789-abcdeX")).await,
            401,
            "{path} with a wrong token"
        );
        assert_eq!(status(path, Some(TOKEN)).await, 200, "{path} with it");
    }
    let unauthorized = client.get(server.url("/metrics")).send().await.unwrap();
    assert!(unauthorized.headers().contains_key("www-authenticate"));
    server.stop().await;
}

/// The server's log lines of one start (up to "storage ready", logged after the
/// first-run code and the permission check).
fn one_start(data: &Path) -> Vec<String> {
    Serving::start(data).log_until("storage ready")
}

#[test]
fn the_setup_code_is_logged_once_per_start_as_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for start in ["first", "second"] {
        let log = one_start(&data);
        let code = std::fs::read_to_string(data.join("setup-code")).unwrap();
        let lines: Vec<&String> = log.iter().filter(|l| l.contains("FIRST RUN")).collect();
        assert_eq!(lines.len(), 1, "{start} start: {log:#?}");
        assert!(
            lines[0].contains("WARN") && lines[0].contains(code.trim()),
            "{start} start: {log:#?}"
        );
    }
}

#[cfg(unix)]
#[test]
fn the_server_makes_its_folders_and_files_private_and_warns_about_loose_ones() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = one_start(&data);
    let loose = |log: &[String]| -> Vec<String> {
        log.iter()
            .filter(|l| l.contains("WARN") && l.contains("other local users"))
            .cloned()
            .collect()
    };
    assert_eq!(
        loose(&log),
        Vec::<String>::new(),
        "a fresh start warns of nothing"
    );
    assert_eq!(format!("{:o}", mode_of(&data)), "700", "data folder");
    let db = data.join("printpark.db");
    assert_eq!(format!("{:o}", mode_of(&db)), "600", "SQLite database");
    for file in ["printpark.db-wal", "printpark.db-shm"] {
        if data.join(file).exists() {
            assert_eq!(format!("{:o}", mode_of(&data.join(file))), "600", "{file}");
        }
    }
    for folder in ["blobs", "tls"] {
        assert_eq!(
            format!("{:o}", mode_of(&data.join(folder))),
            "700",
            "{folder}"
        );
    }
    assert_eq!(format!("{:o}", mode_of(&data.join("master.key"))), "600");

    // A start over a folder others can read says so, once, naming it.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let warnings = loose(&one_start(&data));
    assert_eq!(
        warnings.len(),
        1,
        "one line for the data folder: {warnings:#?}"
    );
    assert!(
        warnings[0].contains(&data.display().to_string()) && warnings[0].contains("755"),
        "{warnings:#?}"
    );
    assert_eq!(mode_of(&data), 0o755, "an existing folder is not changed");
}
