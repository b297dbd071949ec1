//! Signing out of a session single sign-on opened: besides the local session, the
//! provider's own ends too when it offers RP-initiated logout (an
//! `end_session_endpoint`), with the sealed ID token as `id_token_hint`.

use super::SingleSignOn;
use crate::identity::login::SessionToken;
use crate::identity::{AuditAction, AuditEvent, AuditOutcome, ClientInfo, User};

const ID_TOKEN_PURPOSE: &str = "oidc-id-token";

impl SingleSignOn {
    /// Whether this browser session was opened by single sign-on.
    pub async fn signed_in_by_sso(&self, token: &SessionToken) -> bool {
        let hash = self.identity.session_hash(&token.0);
        matches!(self.identity.db.oidc_session(&hash).await, Ok(Some(_)))
    }

    /// The provider's end-session address and label for this session (call it before the local
    /// session ends), or `None` when the session was not single sign-on's, the
    /// provider offers no end-session endpoint, or it cannot be reached: then only
    /// the local session ends. `post_logout` is where the provider sends the browser
    /// back (`{public base}/login`, registered at the provider).
    pub async fn provider_logout_url(
        &self,
        token: &SessionToken,
        user: &User,
        client: &ClientInfo,
        post_logout: &str,
    ) -> Option<(String, String)> {
        let hash = self.identity.session_hash(&token.0);
        let (name, sealed) = self.identity.db.oidc_session(&hash).await.ok()??;
        let sealed = sealed?;
        let provider = self.provider(&name).await.ok()?;
        let discovered = self.discovered(&provider, false).await.ok()?;
        let endpoint = discovered
            .metadata
            .additional_metadata()
            .end_session_endpoint
            .clone()?;
        let id_token = self
            .identity
            .vault
            .open_secret(ID_TOKEN_PURPOSE, &sealed)
            .ok()?;
        let mut url = endpoint.url().clone();
        url.query_pairs_mut()
            .append_pair("id_token_hint", &String::from_utf8_lossy(&id_token))
            .append_pair("post_logout_redirect_uri", post_logout)
            .append_pair("client_id", &provider.client_id);
        let audited = self
            .identity
            .audit(AuditEvent {
                actor: Some(user),
                action: AuditAction::SsoLogout,
                target: &provider.name,
                outcome: AuditOutcome::Success,
                client,
                detail: "the provider's session is ended too",
            })
            .await;
        audited.ok()?;
        Some((url.to_string(), provider.shown_label().to_owned()))
    }
}
