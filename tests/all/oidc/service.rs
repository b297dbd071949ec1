//! The single sign-on service (`services.sso`) against the real provider, below the
//! web layer: each bad callback and each tampered ID token ends in exactly the refusal
//! that names it (the pages only show 400/403), and a good one opens a session.

use printpark::identity::ClientInfo;
use printpark::identity::oidc::flow::CallbackParams;
use printpark::identity::oidc::{OidcError, Refusal, SignInPurpose, SsoSignIn};

use super::{NAME, Sso};
use crate::support::oidc::{Account, Tamper, sign_in_at_provider};
use crate::support::{Backend, create_user};

/// What the provider sent back: (code, state).
async fn to_provider_and_back(sso: &Sso, account: &Account, browser: &str) -> (String, String) {
    let redirect = sso.server.url(&format!("/sso/{NAME}/callback"));
    let started = sso
        .server
        .services
        .sso
        .start(NAME, None, SignInPurpose::Browser, &redirect, browser)
        .await
        .unwrap();
    let back = sign_in_at_provider(
        &sso.server.client(),
        &started.authorize_url,
        &account.preferred_username,
        &account.password,
    )
    .await;
    let url = url::Url::parse(&back).unwrap();
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| panic!("no {name} in {back}"))
    };
    (param("code"), param("state"))
}

async fn callback(
    sso: &Sso,
    code: &str,
    state: &str,
    browser: &str,
) -> Result<SsoSignIn, OidcError> {
    sso.server
        .services
        .sso
        .callback(
            NAME,
            &CallbackParams {
                code: Some(code),
                state: Some(state),
                ..Default::default()
            },
            Some(browser),
            &ClientInfo::default(),
        )
        .await
}

fn refusal(result: Result<SsoSignIn, OidcError>) -> Refusal {
    match result {
        Err(OidcError::Refused(refusal)) => refusal,
        Err(other) => panic!("not a refusal: {other}"),
        Ok(signed_in) => panic!("signed in {}", signed_in.user.username),
    }
}

#[tokio::test]
async fn each_bad_callback_gets_the_refusal_that_names_it() {
    let ann = Account::new("ann", &["staff"]);
    let sso = Sso::start(Backend::Sqlite, vec![ann.clone()], |_| {}).await;
    let local = create_user(&sso.server, "ann", "a local password 1").await;

    let (code, state) = to_provider_and_back(&sso, &ann, "browser-1").await;
    let signed_in = callback(&sso, &code, &state, "browser-1").await.unwrap();
    assert_eq!(signed_in.user.id, local.id);
    assert_eq!(
        refusal(callback(&sso, &code, &state, "browser-1").await),
        Refusal::ReplayedState
    );

    let (code, _) = to_provider_and_back(&sso, &ann, "browser-1").await;
    assert_eq!(
        refusal(callback(&sso, &code, "never-issued", "browser-1").await),
        Refusal::UnknownState
    );
    let (code, state) = to_provider_and_back(&sso, &ann, "browser-1").await;
    assert_eq!(
        refusal(callback(&sso, &code, &state, "browser-2").await),
        Refusal::OtherBrowser
    );
    let (_, state) = to_provider_and_back(&sso, &ann, "browser-1").await;
    assert!(matches!(
        refusal(callback(&sso, "never-issued", &state, "browser-1").await),
        Refusal::CodeRefused(_)
    ));

    for (mode, expected) in [
        (Tamper::WrongIssuer, "wrong issuer"),
        (Tamper::WrongAudience, "wrong audience"),
        (Tamper::WrongNonce, "wrong nonce"),
        (Tamper::Expired, "expired"),
        (Tamper::BadSignature, "bad signature"),
    ] {
        sso.provider.tamper(mode).await;
        let (code, state) = to_provider_and_back(&sso, &ann, "browser-1").await;
        let got = refusal(callback(&sso, &code, &state, "browser-1").await);
        let named = matches!(
            (&got, expected),
            (Refusal::WrongIssuer, "wrong issuer")
                | (Refusal::WrongAudience, "wrong audience")
                | (Refusal::WrongNonce, "wrong nonce")
                | (Refusal::TokenExpired, "expired")
                | (Refusal::BadSignature(_), "bad signature")
        );
        assert!(named, "{mode:?} was refused as {got:?}");
    }
    assert_eq!(sso.provider.stats().await.tampered, 5);
}
