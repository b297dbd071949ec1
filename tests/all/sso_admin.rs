//! Single sign-on without a provider: the admin page adds, lists, checks and deletes a
//! provider (the client secret sealed, never shown again, every change audited), the
//! sign-in page offers it, and what needs no provider is refused and audited — a
//! made-up `state`, an unknown provider, an unreachable issuer. The flow against a
//! real provider is in `oidc.rs`.

use crate::support::{Backend, TestServer, csrf_of, first_admin, get_text};

const SECRET: &str = "the-client-secret-4711";

async fn admin_page_and_refusals(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.client();
    first_admin(&server, &admin).await;

    let page = get_text(&admin, server.url("/admin/sso")).await;
    assert!(page.contains("No single sign-on provider yet"), "{page}");
    assert!(page.contains("href=\"/admin/sso\""), "nav link");

    // A bad issuer is refused with the reason, and nothing is stored.
    let csrf = csrf_of(&page);
    let form = |issuer: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("name", "corp".to_owned()),
            ("label", "Corp".to_owned()),
            ("issuer", issuer.to_owned()),
            ("client_id", "printpark".to_owned()),
            ("client_secret", SECRET.to_owned()),
            ("match_claim", "email".to_owned()),
            ("groups_claim", "groups".to_owned()),
            ("admin_groups", "admins\nprint-admins".to_owned()),
            ("scopes", "email profile".to_owned()),
        ]
    };
    let refused = admin
        .post(server.url("/admin/sso"))
        .form(&form("http://idp.example.org/"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    let text = refused.text().await.unwrap();
    assert!(text.contains("Issuer must be the provider"), "{text}");
    assert!(!text.contains(SECRET), "the secret is not echoed");
    assert!(
        server
            .services
            .db
            .oidc_providers()
            .await
            .unwrap()
            .is_empty()
    );

    // Added: 303, listed with its redirect URI, the secret sealed and never shown.
    let added = admin
        .post(server.url("/admin/sso"))
        .form(&form("https://127.0.0.1:9/realms/staff"))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 303);
    assert_eq!(added.headers()["location"], "/admin/sso?done=added");
    let page = get_text(&admin, server.url("/admin/sso")).await;
    assert!(page.contains("https://127.0.0.1:9/realms/staff"), "{page}");
    assert!(page.contains(&server.url("/sso/corp/callback")), "{page}");
    assert!(page.contains("set (sealed)"));
    assert!(!page.contains(SECRET));
    let rows = server.services.db.oidc_providers().await.unwrap();
    assert_eq!(rows.len(), 1);
    let sealed = rows[0].client_secret_sealed.clone().expect("sealed secret");
    assert!(
        !sealed.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
        "the database holds the secret sealed"
    );
    let providers = server.services.sso.providers().await.unwrap();
    assert_eq!(
        providers[0].client_secret.as_ref().unwrap().expose(),
        SECRET
    );
    assert_eq!(providers[0].admin_groups, vec!["admins", "print-admins"]);
    let edit = get_text(&admin, server.url(&format!("/admin/sso/{}", rows[0].id))).await;
    assert!(edit.contains("unchanged when empty") && !edit.contains(SECRET));

    // The sign-in page offers it; the phone page of a printer would too.
    let anonymous = server.client();
    let login = get_text(&anonymous, server.url("/login")).await;
    assert!(login.contains("href=\"/sso/corp/start\""), "{login}");
    assert!(login.contains("Sign in with Corp"));

    // No provider needed to refuse these.
    let made_up = anonymous
        .get(server.url("/sso/corp/callback?code=abc&state=made-up-state"))
        .send()
        .await
        .unwrap();
    assert_eq!(made_up.status(), 400);
    let text = made_up.text().await.unwrap();
    assert!(
        text.contains("Single sign-on refused: unknown state"),
        "{text}"
    );
    let unknown = anonymous
        .get(server.url("/sso/nobody/start"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let unreachable = anonymous
        .get(server.url("/sso/corp/start?next=/portal"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        unreachable.status(),
        502,
        "an unreachable issuer is said so"
    );
    assert!(
        unreachable
            .text()
            .await
            .unwrap()
            .contains("cannot be reached")
    );

    // Check says what failed.
    let page = get_text(&admin, server.url("/admin/sso")).await;
    let checked = admin
        .post(server.url("/admin/sso/check"))
        .form(&[("csrf", csrf_of(&page).as_str()), ("name", "corp")])
        .send()
        .await
        .unwrap();
    assert_eq!(checked.status(), 200);
    let text = checked.text().await.unwrap();
    assert!(
        text.contains("corp: discovery of https://127.0.0.1:9/realms/staff"),
        "{text}"
    );

    // Deleted.
    let deleted = admin
        .post(server.url(&format!("/admin/sso/{}/delete", rows[0].id)))
        .form(&[("csrf", csrf_of(&page).as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 303);
    assert!(server.services.sso.providers().await.unwrap().is_empty());
    let login = get_text(&anonymous, server.url("/login")).await;
    assert!(!login.contains("/sso/corp/start"));

    let audit = server
        .services
        .db
        .audit_page(None, 100, Some("sso."))
        .await
        .unwrap();
    let actions: Vec<(&str, &str, &str)> = audit
        .iter()
        .map(|e| (e.action.as_str(), e.outcome.as_str(), e.detail.as_str()))
        .collect();
    assert!(
        actions.iter().any(|(a, _, d)| *a == "sso.provider.add"
            && d.contains("secret set")
            && !d.contains(SECRET)),
        "{actions:?}"
    );
    assert!(actions.iter().any(|(a, _, _)| *a == "sso.provider.delete"));
    assert!(
        actions.iter().any(|(a, o, d)| *a == "sso.refused"
            && *o == "failure"
            && d.starts_with("unknown state")),
        "{actions:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn admin_page_and_refusals_sqlite() {
    admin_page_and_refusals(Backend::Sqlite).await;
}

#[tokio::test]
async fn admin_page_and_refusals_postgres() {
    admin_page_and_refusals(Backend::Postgres).await;
}
