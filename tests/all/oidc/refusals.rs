//! Every bad way back from the provider is refused with a page that says why, leaves
//! no session, and lands in the audit log: a wrong `state`, a replayed code, a code the
//! provider does not know, and ID tokens with a wrong issuer, audience, nonce or
//! signature, or expired (re-signed by the provider's own key, so only that claim is
//! wrong); a person PrintPark does not know, and one whose e-mail is unverified. The
//! provider's counters show the token endpoint was reached where it must be.

use super::Sso;
use crate::support::oidc::{Account, Tamper};
use crate::support::{Backend, create_user};

/// Replaces one query parameter of `url`.
fn with_param(url: &str, name: &str, value: &str) -> String {
    let mut parsed = url::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == name {
                value.to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    parsed.query_pairs_mut().clear().extend_pairs(pairs);
    parsed.to_string()
}

/// The callback's answer must be a refusal page (400 or 403, HTML, saying something),
/// with no session (for `client`, when it had none before), and exactly one more `sso.` audit row that is not a success.
async fn assert_refused(
    sso: &Sso,
    case: &str,
    client: Option<&reqwest::Client>,
    answer: reqwest::Response,
    refusals_before: usize,
) -> usize {
    let status = answer.status().as_u16();
    let html = answer
        .headers()
        .get("content-type")
        .is_some_and(|t| t.to_str().unwrap().starts_with("text/html"));
    let cookies: Vec<String> = answer
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().to_owned())
        .collect();
    let page = answer.text().await.unwrap();
    assert!(
        status == 400 || status == 403,
        "{case}: answered {status}: {page}"
    );
    assert!(html, "{case}: not a page");
    assert!(
        !cookies.iter().any(|c| c
            .starts_with(&format!("{}=", printpark::web::auth::SESSION_COOKIE))
            && !c.contains("Max-Age=0")),
        "{case}: a session cookie was set: {cookies:?}"
    );
    if let Some(client) = client {
        assert!(!sso.signed_in(client).await, "{case}: signed in anyway");
    }
    let refusals: Vec<_> = sso
        .sso_audit()
        .await
        .into_iter()
        .filter(|e| e.outcome != "success")
        .collect();
    assert_eq!(
        refusals.len(),
        refusals_before + 1,
        "{case}: one refusal audited; the log holds {refusals:?}"
    );
    refusals.len()
}

async fn bad_callbacks_are_refused_and_audited(backend: Backend) {
    let ann = Account::new("ann", &["staff"]);
    let stranger = Account::new("stranger", &["staff"]);
    // Someone who typed ann's address at the provider but never proved it is theirs.
    let mallory = Account {
        email_verified: false,
        ..Account::new("mallory", &["staff"])
    };
    let mallory = Account {
        email: ann.email.clone(),
        ..mallory
    };
    let sso = Sso::start(
        backend,
        vec![ann.clone(), stranger.clone(), mallory.clone()],
        |_| {},
    )
    .await;
    create_user(&sso.server, "ann", "a local password 1").await;
    let mut refused = 0;
    let mut token_responses = 0;

    // A state this browser never started.
    let client = sso.server.client();
    let back = sso.callback_url(&client, &ann, None).await;
    let forged = with_param(&back, "state", "forged-state-value");
    let answer = client.get(forged).send().await.unwrap();
    refused = assert_refused(&sso, "wrong state", Some(&client), answer, refused).await;
    assert_eq!(sso.provider.stats().await.token_responses, token_responses);

    // The right state from another browser (one that did not start the sign-in).
    let client = sso.server.client();
    let back = sso.callback_url(&client, &ann, None).await;
    let thief = sso.server.client();
    let answer = thief.get(&back).send().await.unwrap();
    refused = assert_refused(
        &sso,
        "state of another browser",
        Some(&thief),
        answer,
        refused,
    )
    .await;

    // A code that works once: the sign-in succeeds, the same callback again does not.
    let client = sso.server.client();
    let back = sso.callback_url(&client, &ann, None).await;
    let first = client.get(&back).send().await.unwrap();
    assert_eq!(first.status(), 303, "{}", first.text().await.unwrap());
    token_responses += 1;
    assert!(sso.signed_in(&client).await);
    let answer = client.get(&back).send().await.unwrap();
    refused = assert_refused(&sso, "replayed callback", None, answer, refused).await;
    assert_eq!(sso.provider.stats().await.token_responses, token_responses);

    // A code the provider never issued (or one that expired: it answers the same).
    let client = sso.server.client();
    let back = sso.callback_url(&client, &ann, None).await;
    let unknown = with_param(&back, "code", "a-code-the-provider-never-issued");
    let answer = client.get(unknown).send().await.unwrap();
    refused = assert_refused(&sso, "unknown code", Some(&client), answer, refused).await;
    assert_eq!(sso.provider.stats().await.token_responses, token_responses);

    // The provider says no (the person cancelled, or may not use this client).
    let client = sso.server.client();
    let back = sso.callback_url(&client, &ann, None).await;
    let state = url::Url::parse(&back)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let mut denied =
        url::Url::parse(&sso.server.url(&format!("/sso/{}/callback", super::NAME))).unwrap();
    denied
        .query_pairs_mut()
        .append_pair("error", "access_denied")
        .append_pair("state", &state);
    let answer = client.get(denied).send().await.unwrap();
    refused = assert_refused(&sso, "provider error", Some(&client), answer, refused).await;

    // ID tokens that fail one check each; the provider did hand each one out.
    for mode in [
        Tamper::WrongIssuer,
        Tamper::WrongAudience,
        Tamper::WrongNonce,
        Tamper::Expired,
        Tamper::BadSignature,
    ] {
        sso.provider.tamper(mode).await;
        let client = sso.server.client();
        let answer = sso.sign_in(&client, &ann, None).await;
        token_responses += 1;
        refused = assert_refused(&sso, mode.as_str(), Some(&client), answer, refused).await;
        let stats = sso.provider.stats().await;
        assert_eq!(
            stats.token_responses, token_responses,
            "{mode:?} reached the token endpoint"
        );
    }
    sso.provider.tamper(Tamper::None).await;

    // A person the provider knows but PrintPark does not (no creation allowed).
    let client = sso.server.client();
    let answer = sso.sign_in(&client, &stranger, None).await;
    refused = assert_refused(&sso, "unknown person", Some(&client), answer, refused).await;
    assert!(
        sso.server
            .services
            .db
            .user_by_login(&stranger.email)
            .await
            .is_err(),
        "no account was made"
    );

    // An e-mail address the provider has not verified matches nobody.
    let client = sso.server.client();
    let answer = sso.sign_in(&client, &mallory, None).await;
    refused = assert_refused(&sso, "unverified e-mail", Some(&client), answer, refused).await;

    // And after all that, an honest sign-in still works.
    let client = sso.server.client();
    let answer = sso.sign_in(&client, &ann, None).await;
    assert_eq!(answer.status(), 303);
    assert!(sso.signed_in(&client).await);
    assert_eq!(refused, 12);
}

#[tokio::test]
async fn bad_callbacks_are_refused_and_audited_sqlite() {
    bad_callbacks_are_refused_and_audited(Backend::Sqlite).await;
}

#[tokio::test]
async fn bad_callbacks_are_refused_and_audited_postgres() {
    bad_callbacks_are_refused_and_audited(Backend::Postgres).await;
}
