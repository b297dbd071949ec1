//! Accounts an admin manages (issue 16, item 3): editing a person (conflicts, cards,
//! the last-admin rule, directory fields), the admin's password reset and the change
//! it forces at the next sign-in (IPP Basic refused meanwhile), the operator's
//! Each case runs on SQLite and on Postgres. The operator's `printpark admin
//! reset-password` is in `accounts_cli.rs`; the CSV import and the pages in a browser
//! are in `accounts_import.rs`.

use crate::support;

use printpark::identity::{ClientInfo, IdentityError, User, UserEdit};
use support::sign_in::{audit, ipp_basic_status};
use support::{Backend, TestServer, between, csrf_of, get_text, login};

pub(crate) const ADMIN_PASSWORD: &str = "correct horse battery";
const ANN_PASSWORD: &str = "ann's long password";

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

on_both_backends!(
    admins_edit_people_with_clear_conflicts_and_never_demote_the_last_admin,
    a_reset_password_opens_only_the_change_page_and_ipp_refuses_it,
);

pub(crate) fn cli() -> ClientInfo {
    ClientInfo {
        addr: "127.0.0.1".into(),
        user_agent: "test".into(),
    }
}

pub(crate) struct World {
    pub server: TestServer,
    pub boss: User,
    pub ann: User,
    pub bob: User,
}

pub(crate) async fn world(backend: Backend) -> World {
    let server = TestServer::start(backend).await;
    let boss = support::create_admin(&server.services.identity).await;
    let ann = support::create_user(&server, "ann", ANN_PASSWORD).await;
    let bob = support::create_user(&server, "bob", "bob's long password").await;
    World {
        server,
        boss,
        ann,
        bob,
    }
}

/// A browser client signed in as `login`.
pub(crate) async fn signed_in(server: &TestServer, who: &str, password: &str) -> reqwest::Client {
    let client = server.client();
    let response = login(server, &client, who, password).await;
    assert_eq!(response.status(), 303, "{who} signs in");
    client
}

pub(crate) fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

async fn admins_edit_people_with_clear_conflicts_and_never_demote_the_last_admin(backend: Backend) {
    let w = world(backend).await;
    let identity = &w.server.services.identity;
    let edit = UserEdit {
        username: Some("Ann.Other".into()),
        email: Some("ann.other@example.org".into()),
        name: Some("Ann Other".into()),
        department: Some("Finance".into()),
        hold_hours: Some(Some(48)),
        add_cards: vec!["0012 3456".into()],
        ..UserEdit::default()
    };
    let ann = identity
        .edit_user(&w.boss, w.ann.id, &edit, &cli())
        .await
        .unwrap();
    assert_eq!(
        (ann.username.as_str(), ann.email.as_str(), ann.name.as_str()),
        ("ann.other", "ann.other@example.org", "Ann Other")
    );
    assert_eq!(
        (ann.department.as_str(), ann.hold_hours),
        ("Finance", Some(48))
    );
    assert_eq!(identity.badges_of(&ann).await.unwrap().len(), 1);
    let edits = audit(&w.server, "user.edit").await;
    assert_eq!(edits.len(), 1);
    assert_eq!(
        edits[0].detail,
        "changed: username, email, name, department, hold_hours, cards added"
    );
    assert!(
        !edits[0].detail.contains("3456"),
        "no card number in the audit"
    );

    // Conflicts and invalid values name the field, and change nothing.
    let taken = |field: &str, value: &str| {
        let mut edit = UserEdit::default();
        match field {
            "username" => edit.username = Some(value.into()),
            "email" => edit.email = Some(value.into()),
            _ => edit.add_cards = vec![value.into()],
        }
        edit
    };
    for (edit, expected) in [
        (taken("username", "ANN.OTHER"), "username is already taken"),
        (
            taken("email", "Ann.Other@example.org"),
            "email is already taken",
        ),
        (taken("card", "00123456"), "card number is already taken"),
        (taken("email", "not-an-address"), "enter an address like"),
        (taken("username", "a b"), "use 1 to 64 letters"),
    ] {
        let error = identity
            .edit_user(&w.boss, w.bob.id, &edit, &cli())
            .await
            .unwrap_err();
        assert!(error.to_string().contains(expected), "{error} / {expected}");
    }
    let bob = identity.user(w.bob.id).await.unwrap();
    assert_eq!(
        (bob.username.as_str(), bob.email.as_str()),
        ("bob", "bob@example.org")
    );
    assert!(identity.badges_of(&bob).await.unwrap().is_empty());

    // The last enabled admin is never demoted nor disabled.
    let demote = UserEdit {
        admin: Some(false),
        ..UserEdit::default()
    };
    let refused = identity
        .edit_user(&w.boss, w.boss.id, &demote, &cli())
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("last enabled admin"),
        "{refused}"
    );
    let promote = UserEdit {
        admin: Some(true),
        ..UserEdit::default()
    };
    let ann = identity
        .edit_user(&w.boss, ann.id, &promote, &cli())
        .await
        .unwrap();
    // Two admins demoting each other at once: exactly one of them succeeds.
    let here = cli();
    let (a, b) = tokio::join!(
        identity.edit_user(&w.boss, ann.id, &demote, &here),
        identity.edit_user(&ann, w.boss.id, &demote, &here),
    );
    assert_eq!(
        usize::from(a.is_ok()) + usize::from(b.is_ok()),
        1,
        "{a:?} / {b:?}"
    );
    assert_eq!(w.server.services.db.count_admins().await.unwrap(), 1);
    let admin = if a.is_ok() {
        w.boss.clone()
    } else {
        ann.clone()
    };
    let other = identity
        .user(if a.is_ok() { ann.id } else { w.boss.id })
        .await
        .unwrap();
    // Re-promoted, the other admin is disabled: then the one left cannot go either.
    identity
        .edit_user(&admin, other.id, &promote, &cli())
        .await
        .unwrap();
    identity
        .update_user(
            &admin,
            other.id,
            printpark::identity::UserUpdate::Disable,
            &cli(),
        )
        .await
        .unwrap();
    let refused = identity
        .edit_user(&admin, admin.id, &demote, &cli())
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("last enabled admin"),
        "{refused}"
    );
    identity
        .update_user(
            &admin,
            other.id,
            printpark::identity::UserUpdate::Enable,
            &cli(),
        )
        .await
        .unwrap();

    // The page: a refused edit comes back as it was typed, with the reason.
    let browser = signed_in(
        &w.server,
        &admin.username,
        if admin.id == w.boss.id {
            ADMIN_PASSWORD
        } else {
            ANN_PASSWORD
        },
    )
    .await;
    let page = get_text(
        &browser,
        w.server.url(&format!("/admin/users/{}", w.bob.id)),
    )
    .await;
    assert!(page.contains("value=\"bob@example.org\""), "{page}");
    let refused = browser
        .post(w.server.url(&format!("/admin/users/{}", w.bob.id)))
        .form(&[
            ("csrf", csrf_of(&page).as_str()),
            ("username", "bob"),
            ("email", "ann.other@example.org"),
            ("name", "Typed Name"),
            ("department", "Typed Department"),
            ("role", "user"),
            ("hold", "12"),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        refused.contains("That email is already taken."),
        "{refused}"
    );
    assert!(refused.contains("value=\"Typed Name\"") && refused.contains("value=\"12\""));
    assert_eq!(
        identity.user(w.bob.id).await.unwrap().name,
        "",
        "nothing saved"
    );

    // The API: PATCH with an app password.
    let token = identity
        .create_app_password(&admin, "script", &cli())
        .await
        .unwrap()
        .secret;
    let api = support::insecure_client();
    let patched = api
        .patch(w.server.url(&format!("/api/v1/users/{}", w.bob.id)))
        .bearer_auth(&token)
        .json(&serde_json::json!({"department": "Sales", "hold_hours": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    let body: serde_json::Value = patched.json().await.unwrap();
    assert_eq!(body["department"], "Sales");
    let clash = api
        .patch(w.server.url(&format!("/api/v1/users/{}", w.bob.id)))
        .bearer_auth(&token)
        .json(&serde_json::json!({"username": "ann.other"}))
        .send()
        .await
        .unwrap();
    assert_eq!(clash.status(), 409);
    let body: serde_json::Value = clash.json().await.unwrap();
    assert_eq!(body["error"]["code"], "conflict");

    // Directory people: the directory's fields are its own, and so is the password.
    set_source(&w.server, w.bob.id, "ldap").await;
    let error = identity
        .edit_user(
            &admin,
            w.bob.id,
            &taken("email", "robert@example.org"),
            &cli(),
        )
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("managed by the directory"),
        "{error}"
    );
    let hold = UserEdit {
        hold_hours: Some(Some(24)),
        ..UserEdit::default()
    };
    identity
        .edit_user(&admin, w.bob.id, &hold, &cli())
        .await
        .unwrap();
    assert!(matches!(
        identity
            .reset_password(&admin, w.bob.id, None, false, &cli())
            .await,
        Err(IdentityError::Invalid { .. })
    ));
    let page = get_text(
        &browser,
        w.server.url(&format!("/admin/users/{}", w.bob.id)),
    )
    .await;
    assert!(page.contains("managed by the directory") && !page.contains("name=\"email\""));
    w.server.stop().await;
}

async fn set_source(server: &TestServer, user_id: i64, source: &str) {
    let sql = "UPDATE users SET source = $1, external_id = $2 WHERE id = $3";
    let external = format!("x{user_id}");
    match &server.services.db {
        printpark::db::Db::Sqlite(pool) => {
            let q = sqlx::query(sql).bind(source).bind(&external).bind(user_id);
            q.execute(pool).await.unwrap();
        }
        printpark::db::Db::Postgres(pool) => {
            let q = sqlx::query(sql).bind(source).bind(&external).bind(user_id);
            q.execute(pool).await.unwrap();
        }
    }
}

async fn a_reset_password_opens_only_the_change_page_and_ipp_refuses_it(backend: Backend) {
    let w = world(backend).await;
    let identity = &w.server.services.identity;
    let ann_before = signed_in(&w.server, "ann", ANN_PASSWORD).await;
    let app_password = identity
        .create_app_password(&w.ann, "laptop", &cli())
        .await
        .unwrap()
        .secret;
    let admin = signed_in(&w.server, "boss", ADMIN_PASSWORD).await;
    let page = get_text(&admin, w.server.url(&format!("/admin/users/{}", w.ann.id))).await;
    let posted = admin
        .post(w.server.url(&format!("/admin/users/{}/password", w.ann.id)))
        .form(&[("csrf", csrf_of(&page).as_str()), ("temporary", "")])
        .send()
        .await
        .unwrap();
    // Issue 20: a redirect; the person's page shows the password once.
    assert_eq!(posted.status(), 303);
    let reset = get_text(&admin, w.server.url(&location(&posted))).await;
    let temporary = between(&reset, "id=\"temporary-password\">", "<").to_owned();
    assert_eq!(temporary.len(), 23, "{reset}");
    assert!(
        reset.contains("1 session(s) ended; app passwords kept"),
        "{reset}"
    );
    let audited = audit(&w.server, "user.reset_password").await;
    assert!(
        audited[0]
            .detail
            .starts_with("server-made temporary password")
    );
    assert!(!audited[0].detail.contains(&temporary));

    // Her old browser session is gone; the old password no longer opens anything.
    let gone = ann_before
        .get(w.server.url("/portal"))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&gone), "/login");
    assert_eq!(
        login(&w.server, &w.server.client(), "ann", ANN_PASSWORD)
            .await
            .status(),
        401
    );

    // The temporary password signs in, but every page leads to the change page.
    let ann = signed_in(&w.server, "ann", &temporary).await;
    for path in ["/portal", "/portal/account", "/admin"] {
        let response = ann.get(w.server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 303, "{path}");
        assert_eq!(location(&response), "/portal/account/password", "{path}");
    }
    let me = ann.get(w.server.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(me.status(), 403);
    let body: serde_json::Value = me.json().await.unwrap();
    assert_eq!(body["error"]["code"], "password_change_required");
    // IPP Basic with it is refused with the reason; the app password still prints.
    assert_eq!(ipp_basic_status(&w.server, "ann", &temporary).await, 403);
    assert_eq!(ipp_basic_status(&w.server, "ann", &app_password).await, 200);
    let denied = audit(&w.server, "auth.basic").await;
    assert!(
        denied
            .iter()
            .any(|e| e.outcome == "denied" && e.detail.contains("temporary password")),
        "{denied:?}"
    );

    // Choosing the same one again is refused; a new one opens everything.
    let page = get_text(&ann, w.server.url("/portal/account/password")).await;
    assert!(
        page.contains("An administrator reset your password"),
        "{page}"
    );
    let csrf = csrf_of(&page);
    let change = |new: String| {
        let ann = ann.clone();
        let url = w.server.url("/portal/account/password");
        let csrf = csrf.clone();
        let temporary = temporary.clone();
        async move {
            ann.post(url)
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("current", temporary.as_str()),
                    ("new", new.as_str()),
                    ("new_again", new.as_str()),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let same = change(temporary.clone()).await.text().await.unwrap();
    assert!(
        same.contains("differs from the temporary password"),
        "{same}"
    );
    let changed = change("ann's very own password".into()).await;
    assert_eq!(location(&changed), "/portal");
    assert_eq!(
        ann.get(w.server.url("/portal"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert!(!identity.user(w.ann.id).await.unwrap().must_change_password);
    assert_eq!(
        ipp_basic_status(&w.server, "ann", "ann's very own password").await,
        200
    );
    w.server.stop().await;
}
