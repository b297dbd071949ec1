//! The test OpenID provider checked on its own, with an independent relying party
//! (`openidconnect`'s verifier, driven by hand): if these fail, the single sign-on tests
//! would prove nothing. Discovery, PKCE required, a code flow whose ID token verifies,
//! codes that work once, and each tamper mode breaking exactly the check it names.

use openidconnect::core::{CoreIdToken, CoreIdTokenVerifier, CoreJsonWebKeySet};
use openidconnect::{
    ClaimsVerificationError, ClientId, ClientSecret, IssuerUrl, Nonce, SignatureVerificationError,
};

use crate::support::oidc::{
    Account, OidcProvider, ProviderSetup, Tamper, pkce_pair, sign_in_at_provider,
};

const REDIRECT: &str = "https://127.0.0.1:9/sso/test/callback";
const AFTER_LOGOUT: &str = "https://127.0.0.1:9/login";

async fn provider(accounts: Vec<Account>) -> OidcProvider {
    OidcProvider::start(ProviderSetup {
        redirect_uris: vec![REDIRECT.into()],
        post_logout_redirect_uris: vec![AFTER_LOGOUT.into()],
        accounts,
        groups_always: false,
    })
    .await
}

/// What a relying party holds during one sign-in.
struct Attempt {
    authorize_url: String,
    state: String,
    nonce: String,
    verifier: String,
}

fn attempt(provider: &OidcProvider, with_pkce: bool) -> Attempt {
    let (verifier, challenge) = pkce_pair();
    let state = uuid::Uuid::new_v4().simple().to_string();
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let mut url = url::Url::parse(&format!("{}/auth", provider.issuer)).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", &provider.client_id)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid email profile groups")
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("state", &state)
        .append_pair("nonce", &nonce);
    if with_pkce {
        url.query_pairs_mut()
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
    }
    Attempt {
        authorize_url: url.to_string(),
        state,
        nonce,
        verifier,
    }
}

fn cookie_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .tls_danger_accept_invalid_certs(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn query(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

async fn exchange(provider: &OidcProvider, code: &str, verifier: &str) -> reqwest::Response {
    provider
        .http
        .post(format!("{}/token", provider.issuer))
        .basic_auth(&provider.client_id, Some(&provider.client_secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap()
}

/// Signs `account` in and returns (the attempt, the code).
async fn code_for(provider: &OidcProvider, account: &Account) -> (Attempt, String) {
    code_with(&cookie_client(), provider, account).await
}

/// Signs `account` in with `client` (which keeps the provider's session cookie).
async fn code_with(
    client: &reqwest::Client,
    provider: &OidcProvider,
    account: &Account,
) -> (Attempt, String) {
    let attempt = attempt(provider, true);
    let back = sign_in_at_provider(
        client,
        &attempt.authorize_url,
        &account.preferred_username,
        &account.password,
    )
    .await;
    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(
        query(&back, "state").as_deref(),
        Some(attempt.state.as_str())
    );
    let code = query(&back, "code").unwrap_or_else(|| panic!("no code in {back}"));
    (attempt, code)
}

async fn id_token_of(response: reqwest::Response) -> CoreIdToken {
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    body["id_token"].as_str().unwrap().parse().unwrap()
}

async fn verifier(provider: &OidcProvider) -> CoreIdTokenVerifier<'static> {
    let jwks_uri = provider.discovery().await["jwks_uri"]
        .as_str()
        .unwrap()
        .to_owned();
    let jwks: CoreJsonWebKeySet = provider
        .http
        .get(jwks_uri)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    CoreIdTokenVerifier::new_confidential_client(
        ClientId::new(provider.client_id.clone()),
        ClientSecret::new(provider.client_secret.clone()),
        IssuerUrl::new(provider.issuer.clone()).unwrap(),
        jwks,
    )
}

#[tokio::test]
async fn provider_code_flow_with_pkce_gives_an_id_token_that_verifies() {
    let ann = Account::new("ann", &["staff", "admins"]);
    let provider = provider(vec![ann.clone()]).await;

    let discovery = provider.discovery().await;
    assert_eq!(discovery["issuer"], provider.issuer.as_str());
    assert_eq!(
        discovery["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert!(discovery["end_session_endpoint"].is_string(), "{discovery}");

    // Without a code challenge the provider sends the client back with an error.
    let plain = attempt(&provider, false);
    let refused = cookie_client()
        .get(&plain.authorize_url)
        .send()
        .await
        .unwrap();
    let back = crate::support::oidc::location(&refused);
    assert_eq!(
        query(&back, "error").as_deref(),
        Some("invalid_request"),
        "{back}"
    );

    // A wrong password at the provider's form is refused there.
    let client = cookie_client();
    let wrong = attempt(&provider, true);
    let page = client.get(&wrong.authorize_url).send().await.unwrap();
    let form_url = crate::support::oidc::location(&page);
    let form = client
        .get(&form_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let action = crate::support::between(&form, "action=\"", "\"").to_owned();
    let posted = client
        .post(url::Url::parse(&form_url).unwrap().join(&action).unwrap())
        .form(&[("login", "ann"), ("password", "not it")])
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 401);

    let (attempt, code) = code_for(&provider, &ann).await;
    // The code needs the verifier of its challenge.
    let (other_verifier, _) = pkce_pair();
    let mismatch = exchange(&provider, &code, &other_verifier).await;
    assert_eq!(mismatch.status(), 400);
    let (attempt2, code2) = code_for(&provider, &ann).await;
    let token = id_token_of(exchange(&provider, &code2, &attempt2.verifier).await).await;
    let claims = token
        .claims(
            &verifier(&provider).await,
            &Nonce::new(attempt2.nonce.clone()),
        )
        .unwrap();
    assert_eq!(claims.subject().as_str(), ann.sub);
    assert_eq!(claims.email().unwrap().as_str(), "ann@example.org");
    assert_eq!(claims.email_verified(), Some(true));
    assert_eq!(claims.preferred_username().unwrap().as_str(), "ann");
    let raw: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            token.to_string().split('.').nth(1).unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(raw["groups"], serde_json::json!(["staff", "admins"]));

    // A code works once; a replay and a made-up code are refused.
    let replay = exchange(&provider, &code2, &attempt2.verifier).await;
    assert_eq!(replay.status(), 400);
    let body: serde_json::Value = replay.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    let unknown = exchange(&provider, "made-up-code", &attempt.verifier).await;
    assert_eq!(unknown.status(), 400);
    assert_eq!(provider.stats().await.token_responses, 1);
}

#[tokio::test]
async fn provider_tamper_modes_each_break_the_check_they_name() {
    let bob = Account::new("bob", &["staff"]);
    let provider = provider(vec![bob.clone()]).await;
    let verifier = verifier(&provider).await;
    let cases = [
        (Tamper::WrongIssuer, "issuer"),
        (Tamper::WrongAudience, "audience"),
        (Tamper::WrongNonce, "nonce"),
        (Tamper::Expired, "expired"),
        (Tamper::BadSignature, "signature"),
        (Tamper::None, "none"),
    ];
    for (n, (mode, check)) in cases.into_iter().enumerate() {
        provider.tamper(mode).await;
        let (attempt, code) = code_for(&provider, &bob).await;
        let token = id_token_of(exchange(&provider, &code, &attempt.verifier).await).await;
        let result = token.claims(&verifier, &Nonce::new(attempt.nonce.clone()));
        let as_named = matches!(
            (&result, check),
            (Ok(_), "none")
                | (Err(ClaimsVerificationError::InvalidIssuer(_)), "issuer")
                | (Err(ClaimsVerificationError::InvalidAudience(_)), "audience")
                | (Err(ClaimsVerificationError::InvalidNonce(_)), "nonce")
                | (Err(ClaimsVerificationError::Expired(_)), "expired")
                | (
                    Err(ClaimsVerificationError::SignatureVerification(
                        SignatureVerificationError::CryptoError(_),
                    )),
                    "signature",
                )
        );
        assert!(
            as_named,
            "{mode:?}: {:?}",
            result.map(|c| c.subject().clone())
        );
        let stats = provider.stats().await;
        assert_eq!(stats.token_responses, n as u64 + 1);
        assert_eq!(
            stats.tampered,
            n.min(5) as u64 + u64::from(mode != Tamper::None)
        );
    }
}

#[tokio::test]
async fn provider_ends_its_session_for_rp_initiated_logout() {
    let cy = Account::new("cy", &[]);
    let provider = provider(vec![cy.clone()]).await;
    let client = cookie_client();
    let (attempt, code) = code_with(&client, &provider, &cy).await;
    let token = id_token_of(exchange(&provider, &code, &attempt.verifier).await).await;

    // Signed in at the provider: a second sign-in needs no form.
    let again = crate::support::oidc::location(
        &client
            .get(self::attempt(&provider, true).authorize_url)
            .send()
            .await
            .unwrap(),
    );
    assert!(again.starts_with(REDIRECT), "silently back: {again}");

    let end_session = provider.discovery().await["end_session_endpoint"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut url = url::Url::parse(&end_session).unwrap();
    url.query_pairs_mut()
        .append_pair("id_token_hint", &token.to_string())
        .append_pair("post_logout_redirect_uri", AFTER_LOGOUT)
        .append_pair("client_id", &provider.client_id);
    let page = client.get(url).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("id=\"sign-out\""), "{page}");
    let action = crate::support::between(&page, "action=\"", "\"").to_owned();
    let xsrf = crate::support::between(&page, "name=\"xsrf\" value=\"", "\"").to_owned();
    let confirmed = client
        .post(
            url::Url::parse(&end_session)
                .unwrap()
                .join(&action)
                .unwrap(),
        )
        .form(&[("xsrf", xsrf.as_str()), ("logout", "yes")])
        .send()
        .await
        .unwrap();
    assert_eq!(confirmed.status(), 303);
    assert!(
        crate::support::oidc::location(&confirmed).starts_with(AFTER_LOGOUT),
        "back to the client after sign-out"
    );
    assert_eq!(provider.stats().await.ended_sessions, 1);

    // Signed out at the provider: the next sign-in shows its form again.
    let fresh = client
        .get(self::attempt(&provider, true).authorize_url)
        .send()
        .await
        .unwrap();
    assert!(crate::support::oidc::location(&fresh).contains("/interaction/"));
}
