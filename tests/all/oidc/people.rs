//! People follow what the provider says over time: a person found once by e-mail stays
//! linked by the provider's subject when the address changes there; another subject
//! claiming a linked address is refused; leaving the admin group at the provider
//! takes the admin role from a person single sign-on created, but not from an admin
//! made here.

use super::Sso;
use crate::support::oidc::Account;
use crate::support::{Backend, create_user};

async fn reaches_admin(sso: &Sso, account: &Account) -> bool {
    let client = sso.server.client();
    let answer = sso.sign_in(&client, account, Some("/admin")).await;
    assert_eq!(
        answer.status(),
        303,
        "{} signs in: {}",
        account.preferred_username,
        answer.text().await.unwrap()
    );
    let page = client.get(sso.server.url("/admin")).send().await.unwrap();
    page.status() == 200
}

#[tokio::test]
async fn people_stay_linked_and_roles_follow_the_group_claim() {
    let ann = Account::new("ann", &["staff"]);
    let ada = Account::new("ada", &["staff", "admins"]);
    // The provider's "boss" is the local admin (same verified address), not in `admins`.
    let boss = Account::new("boss", &["staff"]);
    let impostor = Account::new("impostor", &["staff"]);
    let impostor = Account {
        email: ann.email.clone(),
        ..impostor
    };
    let sso = Sso::start(
        Backend::Sqlite,
        vec![ann.clone(), ada.clone(), boss.clone(), impostor.clone()],
        |p| p.create_users = true,
    )
    .await;
    let local_ann = create_user(&sso.server, "ann", "a local password 1").await;
    let db = &sso.server.services.db;

    // Found by e-mail, then by the link: a new address at the provider is still ann.
    assert!(!reaches_admin(&sso, &ann).await);
    let moved = Account {
        email: "ann.moved@example.org".into(),
        ..ann.clone()
    };
    sso.provider.update_account(&moved).await;
    assert!(!reaches_admin(&sso, &moved).await);
    assert!(
        db.user_by_login("ann.moved@example.org").await.is_err(),
        "no second ann was made"
    );
    assert_eq!(db.user_by_login("ann").await.unwrap().id, local_ann.id);

    // Another subject with ann's (verified) address is not ann.
    let client = sso.server.client();
    let answer = sso.sign_in(&client, &impostor, None).await;
    assert_eq!(answer.status(), 403, "{}", answer.text().await.unwrap());
    assert!(!sso.signed_in(&client).await);

    // ada, created by single sign-on, is admin while the provider says so.
    assert!(reaches_admin(&sso, &ada).await);
    let demoted = Account {
        groups: vec!["staff".into()],
        ..ada.clone()
    };
    sso.provider.update_account(&demoted).await;
    assert!(
        !reaches_admin(&sso, &demoted).await,
        "ada left the admin group at the provider"
    );

    // The local admin signs in through the provider too, and stays admin.
    assert!(reaches_admin(&sso, &boss).await);
    let users = db.list_users().await.unwrap();
    assert_eq!(users.len(), 3, "boss, ann and ada: {users:?}");
}

/// `allowed_domains`: with people created at their first sign-in, only verified
/// addresses of the allowed domains get in; another domain gets the refusal page and
/// no account, and the audit names the domain.
#[tokio::test]
async fn only_the_allowed_domains_sign_in() {
    let ann = Account::new("ann", &["staff"]);
    let eve = Account {
        email: "eve@elsewhere.net".into(),
        ..Account::new("eve", &["staff"])
    };
    let sso = Sso::start(Backend::Sqlite, vec![ann.clone(), eve.clone()], |p| {
        p.create_users = true;
        p.allowed_domains = vec!["example.org".into()];
    })
    .await;
    let db = &sso.server.services.db;

    let client = sso.server.client();
    let answer = sso.sign_in(&client, &eve, None).await;
    assert_eq!(answer.status(), 403);
    let page = answer.text().await.unwrap();
    assert!(page.contains("elsewhere.net"), "{page}");
    assert!(!sso.signed_in(&client).await);
    assert!(
        db.user_by_login("eve@elsewhere.net").await.is_err(),
        "no account for eve"
    );
    let audit = db.audit_page(None, 50, Some("sso.")).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.action == "sso.refused" && a.detail.contains("elsewhere.net")),
        "{audit:?}"
    );

    let client = sso.server.client();
    let answer = sso.sign_in(&client, &ann, None).await;
    assert_eq!(answer.status(), 303, "{}", answer.text().await.unwrap());
    assert!(db.user_by_login("ann@example.org").await.is_ok());
}
