//! One sign-in through a provider: the authorization code flow with PKCE (S256).
//!
//! `start` makes a random `state`, `nonce` and PKCE verifier, stores the pending
//! sign-in (found by the keyed hash of `state`, bound to the browser by the keyed
//! hash of a cookie, its secrets sealed by the vault) for ten minutes, and gives the
//! provider's address. `callback` consumes that pending sign-in in one statement (a
//! replay finds it used), exchanges the code, checks the ID token (signature against
//! the provider's keys, issuer, audience, nonce, expiry), finds the person and opens
//! the session. Every refusal counts against the address's sign-in limit and is
//! audited with its reason.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope,
};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::people::Claims;
use super::providers::{Discovered, Provider};
use super::{Failed, OidcError, Refusal, SingleSignOn, SsoClient};
use crate::clock::now;
use crate::db::PendingLogin;
use crate::identity::limits::{AttemptAudit, Limit};
use crate::identity::login::SessionToken;
use crate::identity::{AuditAction, AuditEvent, AuditOutcome, ClientInfo, User};

/// A pending sign-in lives this long (the person types their password at the
/// provider meanwhile).
pub const PENDING_SECS: i64 = 10 * 60;
/// Used pending sign-ins are kept this long after they expire, so a replay is told
/// apart from a made-up state.
const KEEP_USED_SECS: i64 = 24 * 3600;
const STATE_PURPOSE: &str = "oidc-state";
const BROWSER_PURPOSE: &str = "oidc-browser";
const ID_TOKEN_PURPOSE: &str = "oidc-id-token";

/// Where the session goes: a browser (portal, admin pages) or a phone's QR release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SignInPurpose {
    Browser,
    /// The phone page of the printer with this guid (a `device` session).
    Phone {
        guid: String,
    },
}

/// What is sealed in the pending sign-in.
#[derive(Serialize, Deserialize)]
struct PendingSecrets {
    verifier: String,
    nonce: String,
    next: Option<String>,
    purpose: SignInPurpose,
    redirect_uri: String,
}

/// Where to send the browser to sign in.
#[derive(Debug)]
pub struct StartedSignIn {
    pub authorize_url: String,
}

/// What the provider's redirect brought back.
#[derive(Debug, Default)]
pub struct CallbackParams<'a> {
    pub code: Option<&'a str>,
    pub state: Option<&'a str>,
    pub error: Option<&'a str>,
    pub error_description: Option<&'a str>,
}

/// A signed-in person and their new session.
#[derive(Debug)]
pub struct SsoSignIn {
    pub user: User,
    pub token: SessionToken,
    /// The local path asked for at the start, if any.
    pub next: Option<String>,
    pub purpose: SignInPurpose,
}

/// `next` if it is a path on this server (no scheme, no `//host`, no backslash or
/// control character), else `None`: the sign-in cannot be used as an open redirect.
pub fn local_path(next: &str) -> Option<String> {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && next.len() <= 512
        && !next.chars().any(|c| c == '\\' || c.is_control());
    ok.then(|| next.to_owned())
}

impl SingleSignOn {
    /// Starts a sign-in with `name`: the provider's authorization address to send the
    /// browser to. `browser` is the value of the browser's binding cookie.
    pub async fn start(
        &self,
        name: &str,
        next: Option<String>,
        purpose: SignInPurpose,
        redirect_uri: &str,
        browser: &str,
    ) -> Result<StartedSignIn, OidcError> {
        let provider = self.provider(name).await?;
        let discovered = self.discovered(&provider, false).await?;
        let client = client(&provider, &discovered, redirect_uri)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for scope in provider.scopes.iter().filter(|s| s.as_str() != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        let vault = &self.identity.vault;
        let state_hash = vault.keyed_hash(STATE_PURPOSE, state.secret().as_bytes());
        let secrets = Zeroizing::new(
            serde_json::to_vec(&PendingSecrets {
                verifier: verifier.secret().clone(),
                nonce: nonce.secret().clone(),
                next: next.as_deref().and_then(local_path),
                purpose,
                redirect_uri: redirect_uri.to_owned(),
            })
            .map_err(|e| OidcError::Provider(e.to_string()))?,
        );
        let sealed = vault.seal_secret(&pending_purpose(&state_hash), &secrets)?;
        let db = &self.identity.db;
        let at = now();
        db.insert_oidc_pending(
            &state_hash,
            &provider.name,
            &vault.keyed_hash(BROWSER_PURPOSE, browser.as_bytes()),
            &sealed,
            at + PENDING_SECS,
        )
        .await?;
        // Cheap and indexed: old pending sign-ins go as new ones come.
        db.sweep_oidc_pending(at - KEEP_USED_SECS).await?;
        Ok(StartedSignIn {
            authorize_url: url.to_string(),
        })
    }

    /// The provider sent the browser back: checks everything, then opens the session.
    pub async fn callback(
        &self,
        name: &str,
        params: &CallbackParams<'_>,
        browser: Option<&str>,
        client: &ClientInfo,
    ) -> Result<SsoSignIn, OidcError> {
        let provider = self.provider(name).await?;
        let identity = &self.identity;
        let anonymous = AttemptAudit {
            actor: "anonymous",
            target: &provider.name,
            action: AuditAction::SsoRefused,
            client,
        };
        let attempt = identity
            .begin_attempt(vec![Limit::Address(client.addr.clone())], &anonymous)
            .await?;
        let (user, secrets, id_token) = match self.verify(&provider, params, browser, client).await
        {
            Ok(found) => found,
            Err(Failed::Refused(refusal, actor)) => {
                let actor = actor.as_deref().unwrap_or("anonymous");
                let audit = AttemptAudit { actor, ..anonymous };
                identity
                    .fail_attempt(attempt, &audit, &refusal.reason())
                    .await?;
                return Err(OidcError::Refused(refusal));
            }
            Err(Failed::Other(error)) => {
                identity.abandon_attempt(attempt).await?;
                identity
                    .audit(AuditEvent {
                        actor: None,
                        action: AuditAction::SsoRefused,
                        target: &provider.name,
                        outcome: AuditOutcome::Failure,
                        client,
                        detail: &error.to_string(),
                    })
                    .await?;
                return Err(error);
            }
        };
        identity.succeed_attempt(attempt).await?;
        let token = match secrets.purpose {
            SignInPurpose::Browser => identity.open_browser_session(&user, client).await?,
            SignInPurpose::Phone { .. } => identity.open_session(&user, "device", client).await?,
        };
        let sealed_id_token = match id_token {
            Some(raw) => Some(
                identity
                    .vault
                    .seal_secret(ID_TOKEN_PURPOSE, raw.as_bytes())?,
            ),
            None => None,
        };
        identity
            .db
            .insert_oidc_session(
                &identity.session_hash(&token.0),
                &provider.name,
                sealed_id_token.as_deref(),
            )
            .await?;
        let how = match &secrets.purpose {
            SignInPurpose::Browser => format!("signed in with {}", provider.shown_label()),
            SignInPurpose::Phone { guid } => {
                format!(
                    "phone signed in with {} for printer {guid}",
                    provider.shown_label()
                )
            }
        };
        identity
            .audit(AuditEvent {
                actor: Some(&user),
                action: AuditAction::SsoLogin,
                target: &provider.name,
                outcome: AuditOutcome::Success,
                client,
                detail: &how,
            })
            .await?;
        Ok(SsoSignIn {
            user,
            token,
            next: secrets.next,
            purpose: secrets.purpose,
        })
    }

    /// Everything between the callback and the session; the raw ID token comes back
    /// only when the provider can end its session with it.
    async fn verify(
        &self,
        provider: &Provider,
        params: &CallbackParams<'_>,
        browser: Option<&str>,
        from: &ClientInfo,
    ) -> Result<(User, PendingSecrets, Option<String>), Failed> {
        let secrets = self.consume(provider, params.state, browser).await?;
        if let Some(error) = params.error {
            let description = params.error_description.unwrap_or("");
            let text: String = format!("{error} {description}")
                .trim()
                .chars()
                .filter(|c| !c.is_control())
                .take(200)
                .collect();
            return Err(Refusal::ProviderError(text).into());
        }
        let code = params.code.ok_or(Refusal::MissingCode)?;
        let mut discovered = self.discovered(provider, false).await?;
        let client = client(provider, &discovered, &secrets.redirect_uri)?;
        let exchange = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| OidcError::Provider(format!("no token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(secrets.verifier.clone()));
        let response = exchange
            .request_async(&discovered.http)
            .await
            .map_err(token_error)?;
        let id_token =
            openidconnect::TokenResponse::id_token(&response).ok_or(Refusal::NoIdToken)?;
        let nonce = Nonce::new(secrets.nonce.clone());
        let mut checked = super::people::check_token(&client, id_token, &nonce, &response);
        if matches!(checked, Err(Refusal::BadSignature(ref e)) if e == super::people::NO_MATCHING_KEY)
        {
            // The provider may have rotated its keys since the cache was filled.
            discovered = self.discovered(provider, true).await?;
            let client = self::client(provider, &discovered, &secrets.redirect_uri)?;
            checked = super::people::check_token(&client, id_token, &nonce, &response);
        }
        let mut claims: Claims = checked?;
        let raw = id_token.to_string();
        claims.hosted_domain = super::people::string_claim(&raw, "hd");
        let groups = super::people::groups_of(&raw, &provider.groups_claim);
        let user = self
            .person(provider, &claims, &groups, from)
            .await
            .map_err(|failed| match failed {
                Failed::Refused(r, None) => {
                    let actor = claims.username_hint();
                    Failed::Refused(r, Some(actor))
                }
                other => other,
            })?;
        let ends_at_provider = discovered
            .metadata
            .additional_metadata()
            .end_session_endpoint
            .is_some();
        Ok((user, secrets, ends_at_provider.then_some(raw)))
    }

    /// Consumes the pending sign-in of `state` (exactly once) and opens its secrets.
    async fn consume(
        &self,
        provider: &Provider,
        state: Option<&str>,
        browser: Option<&str>,
    ) -> Result<PendingSecrets, Failed> {
        let state = state.filter(|s| !s.is_empty() && s.len() <= 256);
        let Some(state) = state else {
            return Err(Refusal::UnknownState.into());
        };
        let vault = &self.identity.vault;
        let state_hash = vault.keyed_hash(STATE_PURPOSE, state.as_bytes());
        let row = match self.identity.db.consume_oidc_pending(&state_hash).await {
            Ok(PendingLogin::Fresh(row)) => row,
            Ok(PendingLogin::Used) => return Err(Refusal::ReplayedState.into()),
            Ok(PendingLogin::Unknown) => return Err(Refusal::UnknownState.into()),
            Err(e) => return Err(OidcError::from(e).into()),
        };
        if row.provider != provider.name {
            return Err(Refusal::WrongProvider.into());
        }
        let same_browser = browser.is_some_and(|b| {
            let hash = vault.keyed_hash(BROWSER_PURPOSE, b.as_bytes());
            bool::from(hash.ct_eq(&row.browser_hash))
        });
        if !same_browser {
            return Err(Refusal::OtherBrowser.into());
        }
        if row.expires_at < now() {
            return Err(Refusal::ExpiredState.into());
        }
        let opened = vault
            .open_secret(&pending_purpose(&state_hash), &row.sealed)
            .map_err(OidcError::from)?;
        serde_json::from_slice(&opened)
            .map_err(|e| OidcError::Provider(format!("pending sign-in unreadable: {e}")).into())
    }
}

/// The sealed pending secrets are bound to their row.
fn pending_purpose(state_hash: &[u8]) -> String {
    format!("oidc-pending:{}", URL_SAFE_NO_PAD.encode(state_hash))
}

/// The client for one provider and redirect address.
pub(super) fn client(
    provider: &Provider,
    discovered: &Discovered,
    redirect_uri: &str,
) -> Result<SsoClient, OidcError> {
    let redirect = RedirectUrl::new(redirect_uri.to_owned()).map_err(|e| OidcError::Invalid {
        field: "redirect URI",
        reason: e.to_string(),
    })?;
    Ok(CoreClient::from_provider_metadata(
        discovered.metadata.clone(),
        ClientId::new(provider.client_id.clone()),
        provider
            .client_secret
            .as_ref()
            .map(|s| ClientSecret::new(s.expose().to_owned())),
    )
    .set_redirect_uri(redirect))
}

/// How the token endpoint's failure reads.
fn token_error<RE: std::error::Error + 'static>(
    error: openidconnect::RequestTokenError<
        RE,
        openidconnect::StandardErrorResponse<openidconnect::core::CoreErrorResponseType>,
    >,
) -> Failed {
    use openidconnect::RequestTokenError as E;
    match error {
        E::ServerResponse(answer) => Refusal::CodeRefused(answer.error().to_string()).into(),
        E::Parse(e, _) => Refusal::BadToken(format!("token answer: {e}")).into(),
        E::Other(e) => Refusal::BadToken(format!("token answer: {e}")).into(),
        E::Request(e) => {
            OidcError::Provider(format!("token endpoint: {}", super::providers::chain(&e))).into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_destinations() {
        assert_eq!(local_path("/portal").as_deref(), Some("/portal"));
        assert_eq!(local_path("/r/abc?x=1").as_deref(), Some("/r/abc?x=1"));
        for bad in [
            "https://evil.example/",
            "//evil.example/x",
            "/\\evil.example",
            "evil",
            "",
            "/a\nb",
            "javascript:alert(1)",
        ] {
            assert_eq!(local_path(bad), None, "{bad:?}");
        }
        assert_eq!(local_path(&format!("/{}", "a".repeat(600))), None);
    }
}
