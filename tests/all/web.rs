//! The pages and the API of a real server over HTTPS: first run, sign-in, lockout,
//! CSRF, admin user management, account, API with bearer tokens, ops endpoints.

use crate::support;

use printpark::identity::ClientInfo;
use printpark::jobs::Submission;
use support::{Backend, TestServer, csrf_of, first_admin, login};

#[tokio::test]
async fn first_run_creates_the_admin_shows_the_master_key_once_then_closes() {
    let server = TestServer::start(Backend::Sqlite).await;
    let client = server.client();
    let home = client.get(server.url("/")).send().await.unwrap();
    assert_eq!(home.headers()["location"], "/setup");
    let page = support::get_text(&client, server.url("/setup")).await;
    let shown = support::between(&page, "id=\"master-key\">", "</code>");
    let on_disk = std::fs::read_to_string(server.services.settings.master_key_path()).unwrap();
    assert_eq!(shown, on_disk.trim());

    // Without ticking "I stored the key" nothing is created.
    let csrf = csrf_of(&page);
    let code = support::doors::setup_code(&server);
    let refused = support::post_text(
        &client,
        server.url("/setup"),
        &[
            ("csrf", csrf.as_str()),
            ("setup_code", code.as_str()),
            ("username", "admin"),
            ("email", "admin@example.org"),
            ("password", "correct horse battery"),
            ("password_again", "correct horse battery"),
        ],
    )
    .await;
    assert!(refused.contains("Confirm that you stored the master key"));
    assert_eq!(server.services.db.count_users().await.unwrap(), 0);

    first_admin(&server, &client).await;
    let dashboard = client.get(server.url("/admin")).send().await.unwrap();
    assert_eq!(dashboard.status(), 200);
    let text = dashboard.text().await.unwrap();
    assert!(text.contains("Recent activity") && text.contains("user.create"));

    // The first-run page is closed for good, and the key is not shown again.
    let again = server
        .client()
        .get(server.url("/setup"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.headers()["location"], "/login");
    assert!(
        printpark::vault::master::key_pending_backup(
            &server.services.db,
            &server.services.settings
        )
        .await
        .unwrap()
        .is_none()
    );
    server.stop().await;
}

#[tokio::test]
async fn five_wrong_passwords_lock_the_account_and_every_attempt_is_audited() {
    let server = TestServer::start(Backend::Sqlite).await;
    first_admin(&server, &server.client()).await;
    let client = server.client();
    // Five different wrong passwords (the same one again would be a retry, counted
    // once: issue 20).
    for i in 0..5 {
        let response = login(&server, &client, "admin", &format!("wrong password! {i}")).await;
        assert_eq!(response.status(), 401);
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("Wrong username, e-mail or password")
        );
    }
    // Locked now: even the right password is refused, with Retry-After.
    let locked = login(&server, &client, "admin", "correct horse battery").await;
    assert_eq!(locked.status(), 429);
    let retry: i64 = locked.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let rows = server
        .services
        .db
        .audit_page(None, 50, Some("auth.password"))
        .await
        .unwrap();
    assert_eq!(rows.iter().filter(|r| r.outcome == "failure").count(), 5);
    assert_eq!(
        rows.iter()
            .filter(|r| r.outcome == "denied" && r.detail == "locked out")
            .count(),
        1
    );
    assert!(rows.iter().all(|r| r.client_addr == "127.0.0.1"));
    assert!(rows.iter().any(|r| r.detail.contains("locked for 60 s")));
    // The e-mail address names the same account: it is locked too.
    assert_eq!(
        login(
            &server,
            &client,
            "ADMIN@example.org",
            "correct horse battery"
        )
        .await
        .status(),
        429
    );
    // No password ever reaches the audit log.
    assert!(
        rows.iter()
            .all(|r| !r.detail.contains("wrong password!") && !r.detail.contains("correct horse"))
    );
    // An unknown login is locked out the same way, so lockout does not reveal accounts.
    for i in 0..5 {
        assert_eq!(
            login(
                &server,
                &client,
                "nobody",
                &format!("guess guess guess {i}")
            )
            .await
            .status(),
            401
        );
    }
    assert_eq!(
        login(&server, &client, "nobody", "guess guess guess")
            .await
            .status(),
        429
    );
    server.stop().await;
}

#[tokio::test]
async fn a_form_post_without_a_valid_csrf_token_is_forbidden() {
    let server = TestServer::start(Backend::Sqlite).await;
    let client = server.client();
    first_admin(&server, &client).await;
    // No token at all.
    let response = client
        .post(server.url("/admin/users"))
        .form(&[("username", "eve"), ("email", "eve@example.org")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    // A token from another browser's session.
    let other = server.client();
    let page = support::get_text(&other, server.url("/login")).await;
    let foreign = csrf_of(&page);
    let response = client
        .post(server.url("/admin/users"))
        .form(&[
            ("csrf", foreign.as_str()),
            ("username", "eve"),
            ("email", "eve@example.org"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    // The right token, but sent from another site.
    let page = support::get_text(&client, server.url("/admin/users")).await;
    let csrf = csrf_of(&page);
    let response = client
        .post(server.url("/admin/users"))
        .header("Origin", "https://evil.example")
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", "eve"),
            ("email", "eve@example.org"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    // A login form post without the pre-session cookie's token.
    let bare = server.client();
    let response = bare
        .post(server.url("/login"))
        .form(&[("login", "admin"), ("password", "correct horse battery")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert!(server.services.identity.user_by_login("eve").await.is_err());
    // With the right token it works.
    let response = client
        .post(server.url("/admin/users"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", "eve"),
            ("email", "eve@example.org"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert!(server.services.identity.user_by_login("eve").await.is_ok());
    server.stop().await;
}

async fn admin_form(
    server: &TestServer,
    client: &reqwest::Client,
    path: &str,
    fields: &[(&str, &str)],
) -> String {
    let page = support::get_text(client, server.url("/admin/users")).await;
    let csrf = csrf_of(&page);
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    let response = client
        .post(server.url(path))
        .form(&form)
        .send()
        .await
        .unwrap();
    // Issue 20: every admin form answers with a redirect; its page says how it went.
    assert_eq!(response.status(), 303, "{path}");
    let to = response.headers()["location"].to_str().unwrap().to_owned();
    support::get_text(client, server.url(&to)).await
}

#[tokio::test]
async fn admins_create_disable_reset_pin_and_delete_users_with_their_jobs() {
    let server = TestServer::start(Backend::Sqlite).await;
    let admin = server.client();
    first_admin(&server, &admin).await;
    let page = admin_form(
        &server,
        &admin,
        "/admin/users",
        &[
            ("username", "Bob"),
            ("email", "Bob@Example.org"),
            ("name", "Bob B"),
            ("department", "Sales"),
            ("password", "bobs password 1"),
        ],
    )
    .await;
    assert!(
        page.contains("User bob created."),
        "usernames are stored lower-case"
    );
    let bob = server
        .services
        .identity
        .user_by_login("bob@example.org")
        .await
        .unwrap();
    assert_eq!(bob.department, "Sales");

    // Bob signs in; then he is disabled and his session ends at once.
    let bob_client = server.client();
    assert_eq!(
        login(&server, &bob_client, "bob", "bobs password 1")
            .await
            .status(),
        303
    );
    assert_eq!(
        bob_client
            .get(server.url("/portal"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // Bob is no admin.
    assert_eq!(
        bob_client
            .get(server.url("/admin/users"))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    let id = bob.id.to_string();
    admin_form(&server, &admin, &format!("/admin/users/{id}/disable"), &[]).await;
    assert_eq!(
        bob_client
            .get(server.url("/portal"))
            .send()
            .await
            .unwrap()
            .status(),
        303
    );
    assert_eq!(
        login(&server, &bob_client, "bob", "bobs password 1")
            .await
            .status(),
        403
    );
    admin_form(&server, &admin, &format!("/admin/users/{id}/enable"), &[]).await;
    assert_eq!(
        login(&server, &bob_client, "bob", "bobs password 1")
            .await
            .status(),
        303
    );

    // Reset PIN: shown once, stored only as an Argon2id hash.
    let page = admin_form(
        &server,
        &admin,
        &format!("/admin/users/{id}/reset-pin"),
        &[],
    )
    .await;
    let pin = support::between(&page, "id=\"new-pin\">", "</code>").to_owned();
    assert_eq!(pin.len(), 6);
    let row = server.services.db.user_by_id(bob.id).await.unwrap();
    let hash = row.pin_hash.unwrap();
    assert!(hash.starts_with("$argon2id$") && !hash.contains(&pin));

    // Bob parks a document; deleting Bob purges it.
    let client_info = ClientInfo::default();
    let job = server
        .services
        .jobs
        .park(
            &bob,
            &Submission {
                name: "payroll.pdf",
                format: "application/pdf",
                copies: 1,
                sides: printpark::jobs::Sides::OneSided,
                source: "portal",
                compression: printpark::jobs::Compression::None,
                color_mode: printpark::jobs::ColorMode::Auto,
                accept: None,
                page_ranges: None,
            },
            &mut &b"%PDF-1.7 secret"[..],
            &client_info,
        )
        .await
        .unwrap();
    let portal = support::get_text(&bob_client, server.url("/portal")).await;
    assert!(portal.contains("payroll.pdf"));
    assert_eq!(server.services.db.sealed_blob_ids().await.unwrap().len(), 1);
    let confirm = support::get_text(&admin, server.url(&format!("/admin/users/{id}/delete"))).await;
    assert!(
        confirm.contains("Delete bob?") && confirm.contains("1 held document(s)"),
        "{confirm}"
    );
    let page = admin_form(&server, &admin, &format!("/admin/users/{id}/delete"), &[]).await;
    assert!(page.contains("User deleted with 1 held job(s)."), "{page}");
    assert!(server.services.identity.user_by_login("bob").await.is_err());
    assert!(
        server
            .services
            .db
            .sealed_blob_ids()
            .await
            .unwrap()
            .is_empty()
    );
    assert!(server.services.db.job_by_id(job.id).await.is_err());
    let audit = server
        .services
        .db
        .audit_page(None, 100, Some("user."))
        .await
        .unwrap();
    for action in [
        "user.create",
        "user.disable",
        "user.enable",
        "user.reset_pin",
        "user.delete",
    ] {
        assert!(
            audit
                .iter()
                .any(|e| e.action == action && e.actor == "admin"),
            "{action} audited"
        );
    }
    // Admins cannot delete themselves.
    let me = server
        .services
        .identity
        .user_by_login("admin")
        .await
        .unwrap();
    let page = admin_form(
        &server,
        &admin,
        &format!("/admin/users/{}/delete", me.id),
        &[],
    )
    .await;
    assert!(page.contains("You cannot delete yourself."), "{page}");
    server.stop().await;
}

#[tokio::test]
async fn app_passwords_authenticate_the_api_until_revoked_and_errors_have_stable_codes() {
    let server = TestServer::start(Backend::Sqlite).await;
    let client = server.client();
    first_admin(&server, &client).await;
    let anonymous = server
        .client()
        .get(server.url("/api/v1/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(
        anonymous.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    let body: serde_json::Value = anonymous.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthenticated");

    let page = support::get_text(&client, server.url("/portal/account")).await;
    let csrf = csrf_of(&page);
    let made = support::post_text(
        &client,
        server.url("/portal/account/app-passwords"),
        &[("csrf", csrf.as_str()), ("label", "Work laptop")],
    )
    .await;
    // Issue 20: a redirect; the account page shows the secret once.
    assert!(made.is_empty(), "{made}");
    let made = support::get_text(&client, server.url("/portal/account")).await;
    let secret = support::between(&made, "id=\"new-app-password\">", "</code>").to_owned();
    assert!(secret.starts_with("pp-"));
    // Only a keyed hash is stored.
    let rows = server
        .services
        .identity
        .app_passwords(
            &server
                .services
                .identity
                .user_by_login("admin")
                .await
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);

    let api = support::insecure_client();
    let me: serde_json::Value = api
        .get(server.url("/api/v1/me"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"]["username"], "admin");
    assert_eq!(me["user"]["role"], "admin");
    let users: serde_json::Value = api
        .get(server.url("/api/v1/users"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(users.as_array().unwrap().len(), 1);
    let created = api
        .post(server.url("/api/v1/users"))
        .bearer_auth(&secret)
        .json(&serde_json::json!({"username": "carol", "email": "carol@example.org"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let dup = api
        .post(server.url("/api/v1/users"))
        .bearer_auth(&secret)
        .json(&serde_json::json!({"username": "carol", "email": "c2@example.org"}))
        .send()
        .await
        .unwrap();
    assert_eq!(dup.status(), 409);
    assert_eq!(
        dup.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "conflict"
    );
    let bad = api
        .post(server.url("/api/v1/users"))
        .bearer_auth(&secret)
        .json(&serde_json::json!({"username": "d d", "email": "d@example.org"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        bad.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "invalid"
    );
    let jobs: serde_json::Value = api
        .get(server.url("/api/v1/jobs"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jobs, serde_json::json!([]));
    let missing = api
        .delete(server.url("/api/v1/jobs/12345"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "not_found"
    );

    // Cookie-authenticated API writes need the CSRF header.
    let no_header = client
        .post(server.url("/api/v1/users"))
        .json(&serde_json::json!({"username": "dave", "email": "dave@example.org"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        no_header.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "csrf_failed"
    );
    let me: serde_json::Value = client
        .get(server.url("/api/v1/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = me["csrf_token"].as_str().unwrap();
    let with_header = client
        .post(server.url("/api/v1/users"))
        .header("x-csrf-token", token)
        .json(&serde_json::json!({"username": "dave", "email": "dave@example.org"}))
        .send()
        .await
        .unwrap();
    assert_eq!(with_header.status(), 201);

    // Revoked: refused at once.
    let id = rows[0].id;
    client
        .post(server.url(&format!("/portal/account/app-passwords/{id}/revoke")))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    let after = api
        .get(server.url("/api/v1/me"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401);
    assert_eq!(
        after.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "invalid_credentials"
    );
    server.stop().await;
}

#[tokio::test]
async fn users_change_their_password_and_set_a_pin_after_proving_their_password() {
    let server = TestServer::start(Backend::Sqlite).await;
    let client = server.client();
    first_admin(&server, &client).await;
    let page = support::get_text(&client, server.url("/portal/account")).await;
    let csrf = csrf_of(&page);
    let wrong = support::post_text(
        &client,
        server.url("/portal/account/pin"),
        &[
            ("csrf", csrf.as_str()),
            ("password", "not my password"),
            ("pin", "4321"),
        ],
    )
    .await;
    assert!(wrong.contains("Wrong username, e-mail or password"));
    let bad_pin = support::post_text(
        &client,
        server.url("/portal/account/pin"),
        &[
            ("csrf", csrf.as_str()),
            ("password", "correct horse battery"),
            ("pin", "12"),
        ],
    )
    .await;
    assert!(bad_pin.contains("use 6 to 12 digits"));
    let ok = support::post_text(
        &client,
        server.url("/portal/account/pin"),
        &[
            ("csrf", csrf.as_str()),
            ("password", "correct horse battery"),
            ("pin", "482916"),
        ],
    )
    .await;
    assert!(ok.is_empty(), "issue 20: a redirect");
    let ok = support::get_text(&client, server.url("/portal/account")).await;
    assert!(ok.contains("PIN saved"));
    let changed = support::post_text(
        &client,
        server.url("/portal/account/password"),
        &[
            ("csrf", csrf.as_str()),
            ("current", "correct horse battery"),
            ("new", "a brand new passphrase"),
        ],
    )
    .await;
    assert!(changed.contains("Password changed."));
    assert_eq!(
        login(&server, &server.client(), "admin", "correct horse battery")
            .await
            .status(),
        401
    );
    assert_eq!(
        login(
            &server,
            &server.client(),
            "admin@example.org",
            "a brand new passphrase"
        )
        .await
        .status(),
        303
    );
    // Sign out ends the session server-side.
    let page = support::get_text(&client, server.url("/portal")).await;
    let csrf = csrf_of(&page);
    assert_eq!(
        client
            .post(server.url("/logout"))
            .form(&[("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap()
            .status(),
        303
    );
    assert_eq!(
        client
            .get(server.url("/portal"))
            .send()
            .await
            .unwrap()
            .headers()["location"],
        "/login"
    );
    server.stop().await;
}

#[tokio::test]
async fn the_portal_lists_and_deletes_only_my_held_jobs() {
    let server = TestServer::start(Backend::Sqlite).await;
    let admin = server.client();
    first_admin(&server, &admin).await;
    let identity = &server.services.identity;
    let info = ClientInfo::default();
    let ann = identity
        .create_user(
            None,
            &printpark::identity::NewUserRequest {
                username: "ann".into(),
                email: "ann@example.org".into(),
                password: Some("anns password!".into()),
                ..Default::default()
            },
            &info,
        )
        .await
        .unwrap();
    let submission = Submission {
        name: "ann-contract.pdf",
        format: "application/pdf",
        copies: 2,
        sides: printpark::jobs::Sides::TwoSidedLongEdge,
        source: "portal",
        compression: printpark::jobs::Compression::None,
        color_mode: printpark::jobs::ColorMode::Auto,
        accept: None,
        page_ranges: None,
    };
    let anns = server
        .services
        .jobs
        .park(&ann, &submission, &mut &b"%PDF ann"[..], &info)
        .await
        .unwrap();
    let ann_client = server.client();
    login(&server, &ann_client, "ann", "anns password!").await;
    let page = support::get_text(&ann_client, server.url("/portal")).await;
    assert!(
        page.contains("ann-contract.pdf")
            && (page.contains("24 h 0 min") || page.contains("23 h 59 min")),
        "{page}"
    );
    // The admin's portal does not show Ann's job, and the admin cannot delete it.
    let admin_page = support::get_text(&admin, server.url("/portal")).await;
    assert!(!admin_page.contains("ann-contract.pdf"));
    let csrf = csrf_of(&admin_page);
    let response = admin
        .post(server.url(&format!("/portal/jobs/{}/delete", anns.id)))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    // Ann reads her document back, then deletes it; the blob is purged.
    let mut reader = server
        .services
        .jobs
        .document(&ann, anns.id, 1)
        .await
        .unwrap();
    let mut out = Vec::new();
    reader.copy_to(&mut out).await.unwrap();
    assert_eq!(out, b"%PDF ann");
    let csrf = csrf_of(&page);
    let response = ann_client
        .post(server.url(&format!("/portal/jobs/{}/delete", anns.id)))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert!(
        server
            .services
            .db
            .sealed_blob_ids()
            .await
            .unwrap()
            .is_empty()
    );
    let page = support::get_text(&ann_client, server.url("/portal")).await;
    assert!(page.contains("No documents are waiting for you."));
    server.stop().await;
}

#[tokio::test]
async fn pages_carry_security_headers_and_ops_endpoints_answer() {
    let server = TestServer::start(Backend::Sqlite).await;
    let client = server.client();
    let response = client.get(server.url("/setup")).send().await.unwrap();
    let h = response.headers();
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["cache-control"], "no-store");
    let cookie = h["set-cookie"].to_str().unwrap();
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    let page = response.text().await.unwrap();
    let css = support::between(&page, "<link rel=\"stylesheet\" href=\"", "\"").to_owned();
    assert!(css.starts_with("/static/app.css?v="));
    let asset = client.get(server.url(&css)).send().await.unwrap();
    assert_eq!(asset.status(), 200);
    assert!(
        asset.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert!(
        asset.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );

    assert_eq!(
        support::get_text(&client, server.url("/healthz")).await,
        "ok\n"
    );
    let ready: serde_json::Value = client
        .get(server.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["status"], "ready");
    let metrics = support::get_text(&client, server.url("/metrics")).await;
    assert!(
        metrics.contains("printpark_http_requests_total"),
        "{metrics}"
    );
    let spec: serde_json::Value = client
        .get(server.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/api/v1/me",
        "/api/v1/users",
        "/api/v1/jobs",
        "/api/v1/jobs/{id}",
    ] {
        assert!(spec["paths"].get(path).is_some(), "{path} documented");
    }
    let docs = client.get(server.url("/api/docs/")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await.unwrap().contains("swagger"));
    let missing = client
        .get(server.url("/no/such/page"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    server.stop().await;
}

#[tokio::test]
async fn sessions_work_across_two_servers_sharing_one_postgres() {
    // Two server processes on one database behave as one: a session made on one is
    // valid on the other, and a lockout counted on one holds on the other.
    let url = support::fresh_postgres_url().await;
    let one = TestServer::start_with(tempfile::tempdir().unwrap(), |dir| {
        support::settings(dir, &url)
    })
    .await;
    let key = std::fs::read_to_string(one.services.settings.master_key_path()).unwrap();
    let two = TestServer::start_with(tempfile::tempdir().unwrap(), |dir| {
        let mut s = support::settings(dir, &url);
        s.vault.master_key = Some(printpark::config::Secret::new(key.trim()));
        s
    })
    .await;
    let client = one.client();
    first_admin(&one, &client).await;
    let cookie = one
        .services
        .identity
        .login("admin", "correct horse battery", &ClientInfo::default())
        .await
        .unwrap()
        .1;
    let response = two
        .client()
        .get(two.url("/api/v1/me"))
        .header("cookie", format!("__Host-pp_session={}", cookie.0))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // Different guesses: the same one again would be a retry, counted once (issue 20).
    for i in 0..5 {
        login(
            &one,
            &one.client(),
            "admin",
            &format!("wrong wrong wrong {i}"),
        )
        .await;
    }
    assert_eq!(
        login(&two, &two.client(), "admin", "correct horse battery")
            .await
            .status(),
        429
    );
    one.stop().await;
    two.stop().await;
}

#[tokio::test]
async fn oversized_or_malformed_bodies_get_a_clear_error_and_change_nothing() {
    let server = TestServer::start(Backend::Sqlite).await;
    let client = server.client();
    first_admin(&server, &client).await;
    let page = support::get_text(&client, server.url("/admin/users")).await;
    let csrf = csrf_of(&page);
    let huge = "x".repeat(200 * 1024);
    let response = client
        .post(server.url("/admin/users"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", "big"),
            ("email", "big@example.org"),
            ("name", huge.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("larger than 64 KiB")
    );
    assert!(server.services.identity.user_by_login("big").await.is_err());

    let me: serde_json::Value = client
        .get(server.url("/api/v1/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = me["csrf_token"].as_str().unwrap().to_owned();
    let broken = client
        .post(server.url("/api/v1/users"))
        .header("x-csrf-token", &token)
        .header("content-type", "application/json")
        .body("{\"username\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(broken.status(), 400);
    assert_eq!(
        broken.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "bad_request"
    );
    let big = client
        .post(server.url("/api/v1/users"))
        .header("x-csrf-token", &token)
        .json(&serde_json::json!({"username": "big", "email": "big@example.org", "name": huge}))
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), 413);
    assert_eq!(
        big.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "too_large"
    );
    assert_eq!(server.services.db.count_users().await.unwrap(), 1);
    server.stop().await;
}

#[tokio::test]
async fn held_jobs_expire_after_the_queue_or_per_user_hold_time_and_count_as_avoided() {
    let server = TestServer::start(Backend::Sqlite).await;
    let admin = server.client();
    first_admin(&server, &admin).await;
    let identity = &server.services.identity;
    let info = ClientInfo::default();
    let new = |name: &str| printpark::identity::NewUserRequest {
        username: name.into(),
        email: format!("{name}@example.org"),
        ..Default::default()
    };
    let ann = identity
        .create_user(None, &new("ann"), &info)
        .await
        .unwrap();
    let bob = identity
        .create_user(None, &new("bob"), &info)
        .await
        .unwrap();
    // The admin gives Bob a 2-hour hold on the users page.
    let page = admin_form(
        &server,
        &admin,
        &format!("/admin/users/{}/hold", bob.id),
        &[("hours", "2")],
    )
    .await;
    assert!(page.contains("Jobs of bob are now held 2 h."), "{page}");
    let refused = admin_form(
        &server,
        &admin,
        &format!("/admin/users/{}/hold", bob.id),
        &[("hours", "9999")],
    )
    .await;
    assert!(refused.contains("use 1 to 720 hours"));
    let bob = identity.user(bob.id).await.unwrap();
    let jobs = &server.services.jobs;
    let submission = Submission {
        name: "doc.ps",
        format: "application/postscript",
        copies: 2,
        sides: printpark::jobs::Sides::OneSided,
        source: "portal",
        compression: printpark::jobs::Compression::None,
        color_mode: printpark::jobs::ColorMode::Auto,
        accept: None,
        page_ranges: None,
    };
    let doc = b"%!PS-Adobe-3.0\n%%Pages: 3\n%%EndComments\n";
    let anns = jobs
        .park(&ann, &submission, &mut &doc[..], &info)
        .await
        .unwrap();
    let bobs = jobs
        .park(&bob, &submission, &mut &doc[..], &info)
        .await
        .unwrap();
    assert_eq!(bobs.expires_at - bobs.submitted_at, 2 * 3600);
    assert_eq!(anns.expires_at - anns.submitted_at, 24 * 3600);
    let now = printpark::clock::now();
    assert_eq!(jobs.expire_due(now + 3 * 3600).await.unwrap(), 1);
    assert_eq!(jobs.held_jobs_of(&bob).await.unwrap().len(), 0);
    assert_eq!(jobs.held_jobs_of(&ann).await.unwrap().len(), 1);
    assert_eq!(
        server.services.db.sealed_blob_ids().await.unwrap().len(),
        1,
        "Bob's document is purged"
    );
    assert_eq!(
        jobs.abandoned_totals().await.unwrap(),
        (1, 6),
        "one job of 3 pages x 2 copies avoided"
    );
    assert_eq!(jobs.expire_due(now + 25 * 3600).await.unwrap(), 1);
    assert!(
        server
            .services
            .db
            .sealed_blob_ids()
            .await
            .unwrap()
            .is_empty()
    );
    let audit = server
        .services
        .db
        .audit_page(None, 10, Some("job.expire"))
        .await
        .unwrap();
    assert_eq!(audit.len(), 2);
    server.stop().await;
}

#[tokio::test]
async fn portal_upload_parks_pdf_jpeg_and_png_with_the_chosen_options_and_refuses_the_rest() {
    let server = TestServer::start(Backend::Sqlite).await;
    let client = server.client();
    first_admin(&server, &client).await;
    let page = support::get_text(&client, server.url("/portal")).await;
    assert!(page.contains("enctype=\"multipart/form-data\""));
    let csrf = csrf_of(&page);
    let fixtures =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/documents");
    let file = |name: &str, mime: &str| {
        reqwest::multipart::Part::bytes(std::fs::read(fixtures.join(name)).unwrap())
            .file_name(name.to_owned())
            .mime_str(mime)
            .unwrap()
    };
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf.clone())
        .text("copies", "2")
        .text("sides", "two-sided-long-edge")
        .text("color_mode", "monochrome")
        .part("files", file("document-a4.pdf", "application/pdf"))
        .part("files", file("color.jpg", "image/jpeg"))
        .part("files", file("gray.png", "image/png"))
        // A PDF whose page tree is missing: parked, pages unknown, and the owner told why.
        .part(
            "files",
            reqwest::multipart::Part::bytes(
                b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n".to_vec(),
            )
            .file_name("broken.pdf")
            .mime_str("application/pdf")
            .unwrap(),
        )
        // Declared as PDF, but it is PostScript: the sniffed format decides.
        .part("files", file("document-a4.ps", "application/pdf"));
    let response = client
        .post(server.url("/portal/upload"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    // Issue 20: the upload answers with a redirect; the list says once how it went.
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/portal");
    let page = support::get_text(&client, server.url("/portal")).await;
    assert!(
        page.contains("Parked 4 documents: document-a4.pdf, color.jpg, gray.png, broken.pdf."),
        "{page}"
    );
    assert!(
        page.contains(
            "document-a4.ps is a PostScript file; PrintPark takes PDF, JPEG and PNG files here."
        ),
        "{page}"
    );
    let admin = server
        .services
        .identity
        .user_by_login("admin")
        .await
        .unwrap();
    let jobs = server.services.jobs.held_jobs_of(&admin).await.unwrap();
    assert_eq!(jobs.len(), 4);
    let pdf = jobs.iter().find(|j| j.name == "document-a4.pdf").unwrap();
    assert_eq!(
        (
            pdf.pages,
            pdf.copies,
            pdf.sides.as_str(),
            pdf.color_mode.as_str(),
            pdf.source.as_str()
        ),
        (Some(2), 2, "two-sided-long-edge", "monochrome", "portal")
    );
    let jpg = jobs.iter().find(|j| j.name == "color.jpg").unwrap();
    assert_eq!((jpg.format.as_str(), jpg.color), ("image/jpeg", Some(true)));
    let png = jobs.iter().find(|j| j.name == "gray.png").unwrap();
    assert_eq!(
        (png.format.as_str(), png.pages, png.color),
        ("image/png", Some(1), Some(false))
    );
    let broken = jobs.iter().find(|j| j.name == "broken.pdf").unwrap();
    assert_eq!(broken.pages, None);
    assert!(
        broken
            .analysis_note
            .as_deref()
            .is_some_and(|n| n.contains("page tree could not be read")),
        "{broken:?}"
    );
    let portal = support::get_text(&client, server.url("/portal")).await;
    assert!(
        portal.contains("Not fully analysed: the PDF&#39;s page tree could not be read"),
        "{portal}"
    );
    assert_eq!(
        server.services.db.sealed_blob_ids().await.unwrap().len(),
        4,
        "the refused file left nothing"
    );
    // Without the form token: refused, nothing parked.
    let form = reqwest::multipart::Form::new().part("files", file("gray.jpg", "image/jpeg"));
    let response = client
        .post(server.url("/portal/upload"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(
        server
            .services
            .jobs
            .held_jobs_of(&admin)
            .await
            .unwrap()
            .len(),
        4
    );
    server.stop().await;
}
