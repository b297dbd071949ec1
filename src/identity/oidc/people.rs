//! Who signed in: the ID token's checks (signature, issuer, audience, nonce, expiry,
//! access-token hash) turned into [`Claims`], then the person they name — by the
//! (issuer, subject) link of an earlier sign-in, else by the claim the provider
//! matches on (an e-mail must be verified unless the admin trusts the provider), else
//! created when the provider may create people — and the role its groups give.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{CoreIdToken, CoreTokenResponse};
use openidconnect::{
    AccessTokenHash, ClaimsVerificationError, Nonce, OAuth2TokenResponse,
    SignatureVerificationError,
};

use super::providers::Provider;
use super::{Failed, OidcError, Refusal, SingleSignOn, SsoClient};
use crate::config::OidcMatchClaim;
use crate::db::{DbError, NewOidcPerson};
use crate::identity::{
    AuditAction, AuditEvent, AuditOutcome, ClientInfo, Role, User, UserSource, normalize_login,
};

/// The refusal text when no key of the cached set matches (then the set is fetched
/// again once).
pub(super) const NO_MATCHING_KEY: &str = "no key of the provider matches the token's key id";

/// What a checked ID token says about the person.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claims {
    pub issuer: String,
    pub subject: String,
    /// Lower-case.
    pub email: Option<String>,
    pub email_verified: bool,
    /// Lower-case.
    pub preferred_username: Option<String>,
    pub name: Option<String>,
    /// Google's `hd` claim: the Workspace domain of the account (absent for a
    /// personal account), lower-case.
    pub hosted_domain: Option<String>,
}

impl Claims {
    /// Who to name in the audit log before an account is known.
    pub fn username_hint(&self) -> String {
        let hint = self
            .preferred_username
            .as_deref()
            .or(self.email.as_deref())
            .unwrap_or(&self.subject);
        hint.chars().take(100).collect()
    }
}

/// How the person is looked up when no link exists yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatchBy {
    Email(String),
    Username(String),
}

/// The value the provider's `match_claim` looks people up by.
pub fn match_by(provider: &Provider, claims: &Claims) -> Result<MatchBy, Refusal> {
    match provider.match_claim {
        OidcMatchClaim::Email => Ok(MatchBy::Email(usable_email(provider, claims)?)),
        OidcMatchClaim::PreferredUsername => claims
            .preferred_username
            .clone()
            .filter(|u| !u.is_empty())
            .map(MatchBy::Username)
            .ok_or(Refusal::MissingClaim("preferred_username")),
    }
}

/// The e-mail address, if present and verified (or trusted unverified).
fn usable_email(provider: &Provider, claims: &Claims) -> Result<String, Refusal> {
    let email = claims
        .email
        .clone()
        .filter(|e| !e.is_empty())
        .ok_or(Refusal::MissingClaim("email"))?;
    if !claims.email_verified && !provider.trust_unverified_email {
        return Err(Refusal::EmailUnverified);
    }
    Ok(email)
}

/// Google's issuer: its accounts may carry a verified address of any domain, so only
/// the `hd` claim says which Workspace an account belongs to.
const GOOGLE_ISSUER: &str = "https://accounts.google.com";

/// Whether the provider's `allowed_domains` let this person in: the verified (or
/// trusted) e-mail's domain must be one of them, and so must the `hd` claim when the
/// token has one (always, for Google). Empty = anyone.
pub fn domain_allowed(provider: &Provider, claims: &Claims) -> Result<(), Refusal> {
    if provider.allowed_domains.is_empty() {
        return Ok(());
    }
    let email = usable_email(provider, claims)?;
    let domain = email.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
    if !provider.allowed_domains.iter().any(|d| d == domain) {
        return Err(Refusal::DomainNotAllowed(domain.to_owned()));
    }
    let google = provider.issuer.trim_end_matches('/') == GOOGLE_ISSUER;
    match claims.hosted_domain.as_deref() {
        Some(hd) if !provider.allowed_domains.iter().any(|d| d == hd) => {
            Err(Refusal::DomainNotAllowed(hd.to_owned()))
        }
        None if google => Err(Refusal::DomainNotAllowed(format!(
            "{domain} (a personal Google account, not the Workspace's)"
        ))),
        _ => Ok(()),
    }
}

/// The role the groups give, or `None` when the provider maps no groups.
pub fn role_from_groups(groups: &[String], admin_groups: &[String]) -> Option<Role> {
    if admin_groups.is_empty() {
        return None;
    }
    Some(if groups.iter().any(|g| admin_groups.contains(g)) {
        Role::Admin
    } else {
        Role::User
    })
}

/// The role change a sign-in makes: groups may make anyone an admin, but take the
/// role away only from people single sign-on created (a local or directory admin's
/// role is managed where they come from).
pub fn role_change(current: Role, source: UserSource, mapped: Option<Role>) -> Option<Role> {
    match mapped? {
        Role::Admin if current != Role::Admin => Some(Role::Admin),
        Role::User if current == Role::Admin && source == UserSource::Oidc => Some(Role::User),
        _ => None,
    }
}

/// A username for a new person: the preferred username when it is one, else the
/// e-mail's local part with other characters dropped.
pub fn username_candidate(claims: &Claims, email: &str) -> Option<String> {
    let fits = |u: &str| crate::identity::people::validate_username(u).is_ok();
    if let Some(u) = claims.preferred_username.as_deref().filter(|u| fits(u)) {
        return Some(u.to_owned());
    }
    let local: String = email
        .split('@')
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "._-".contains(*c))
        .take(56)
        .collect::<String>()
        .to_lowercase();
    fits(&local).then_some(local)
}

/// The groups in the (already verified) token's payload: a list of strings, or one.
pub fn groups_of(raw_token: &str, claim: &str) -> Vec<String> {
    if claim.is_empty() {
        return Vec::new();
    }
    match payload(raw_token).as_ref().and_then(|p| p.get(claim)) {
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .filter_map(|g| g.as_str().map(str::to_owned))
            .collect(),
        Some(serde_json::Value::String(one)) => vec![one.clone()],
        _ => Vec::new(),
    }
}

/// A string claim of the (already verified) token's payload, lower-case.
pub fn string_claim(raw_token: &str, claim: &str) -> Option<String> {
    payload(raw_token)
        .as_ref()
        .and_then(|p| p.get(claim))
        .and_then(|v| v.as_str())
        .map(str::to_lowercase)
}

/// The JSON payload of a (verified) JWT: claims the typed token does not carry.
fn payload(raw_token: &str) -> Option<serde_json::Value> {
    raw_token
        .split('.')
        .nth(1)
        .and_then(|p| URL_SAFE_NO_PAD.decode(p.trim_end_matches('=')).ok())
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
}

/// Checks the ID token and reads its claims.
pub(super) fn check_token(
    client: &SsoClient,
    id_token: &CoreIdToken,
    nonce: &Nonce,
    response: &CoreTokenResponse,
) -> Result<Claims, Refusal> {
    let verifier = client.id_token_verifier();
    let claims = id_token.claims(&verifier, nonce).map_err(claims_refusal)?;
    if let Some(expected) = claims.access_token_hash() {
        let alg = id_token.signing_alg().map_err(signature_refusal)?;
        let key = id_token.signing_key(&verifier).map_err(signature_refusal)?;
        let actual = AccessTokenHash::from_token(response.access_token(), alg, key)
            .map_err(|e| Refusal::BadToken(format!("access token hash: {e}")))?;
        if actual != *expected {
            return Err(Refusal::BadToken(
                "the access token hash does not match".into(),
            ));
        }
    }
    let lower = |s: &str| normalize_login(s);
    Ok(Claims {
        issuer: claims.issuer().as_str().to_owned(),
        subject: claims.subject().as_str().to_owned(),
        email: claims.email().map(|e| lower(e.as_str())),
        email_verified: claims.email_verified().unwrap_or(false),
        preferred_username: claims.preferred_username().map(|u| lower(u.as_str())),
        name: claims
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().chars().take(200).collect()),
        // Read from the raw payload by the caller (the typed claims have no `hd`).
        hosted_domain: None,
    })
}

fn claims_refusal(error: ClaimsVerificationError) -> Refusal {
    use ClaimsVerificationError as E;
    match error {
        E::InvalidIssuer(_) => Refusal::WrongIssuer,
        E::InvalidAudience(_) => Refusal::WrongAudience,
        E::InvalidNonce(_) => Refusal::WrongNonce,
        E::Expired(_) => Refusal::TokenExpired,
        E::SignatureVerification(e) => signature_refusal(e),
        other => Refusal::BadToken(other.to_string()),
    }
}

fn signature_refusal(error: SignatureVerificationError) -> Refusal {
    match error {
        SignatureVerificationError::NoMatchingKey => Refusal::BadSignature(NO_MATCHING_KEY.into()),
        other => Refusal::BadSignature(other.to_string()),
    }
}

impl SingleSignOn {
    /// The person the claims name (linked, matched or created), with the role the
    /// groups give; a disabled person is refused.
    pub(super) async fn person(
        &self,
        provider: &Provider,
        claims: &Claims,
        groups: &[String],
        client: &ClientInfo,
    ) -> Result<User, Failed> {
        domain_allowed(provider, claims)?;
        let db = &self.identity.db;
        let mapped = role_from_groups(groups, &provider.admin_groups);
        let linked = db
            .oidc_linked_user(&claims.issuer, &claims.subject)
            .await
            .map_err(OidcError::from)?;
        let row = match linked {
            Some(id) => db.user_by_id(id).await.map_err(OidcError::from)?,
            None => {
                let found = match match_by(provider, claims)? {
                    MatchBy::Email(email) => db.user_by_email(&email).await,
                    MatchBy::Username(username) => db.user_by_username(&username).await,
                }
                .map_err(OidcError::from)?;
                match found {
                    Some(row) if row.disabled => {
                        return Err(Failed::Refused(Refusal::Disabled, Some(row.username)));
                    }
                    Some(row) => {
                        match db
                            .insert_oidc_link(&claims.issuer, &claims.subject, row.id)
                            .await
                        {
                            Ok(()) => row,
                            Err(DbError::Conflict(_)) => {
                                return Err(Failed::Refused(
                                    Refusal::LinkedElsewhere,
                                    Some(row.username),
                                ));
                            }
                            Err(e) => return Err(OidcError::from(e).into()),
                        }
                    }
                    None if provider.create_users => {
                        return self.create(provider, claims, mapped, client).await;
                    }
                    None => return Err(Refusal::UnknownPerson.into()),
                }
            }
        };
        let user: User = row.into();
        if user.disabled {
            return Err(Failed::Refused(Refusal::Disabled, Some(user.username)));
        }
        match role_change(user.role, user.source, mapped) {
            Some(role) => {
                db.set_user_role(user.id, role.as_str())
                    .await
                    .map_err(OidcError::from)?;
                Ok(db
                    .user_by_id(user.id)
                    .await
                    .map_err(OidcError::from)?
                    .into())
            }
            None => Ok(user),
        }
    }

    /// A person created at their first sign-in (no password: they sign in here with
    /// the provider, and make app passwords for IPP clients).
    async fn create(
        &self,
        provider: &Provider,
        claims: &Claims,
        mapped: Option<Role>,
        client: &ClientInfo,
    ) -> Result<User, Failed> {
        let db = &self.identity.db;
        let email = usable_email(provider, claims)?;
        if crate::identity::people::validate_email(&email).is_err() {
            return Err(Refusal::CannotCreate("the e-mail address is not usable".into()).into());
        }
        if db
            .user_by_email(&email)
            .await
            .map_err(OidcError::from)?
            .is_some()
        {
            return Err(
                Refusal::CannotCreate("another account has this e-mail address".into()).into(),
            );
        }
        let base = username_candidate(claims, &email)
            .ok_or_else(|| Refusal::CannotCreate("no usable username".into()))?;
        let mut username = None;
        for n in 1..=9 {
            let candidate = if n == 1 {
                base.clone()
            } else {
                format!("{base}-{n}")
            };
            if db
                .user_by_username(&candidate)
                .await
                .map_err(OidcError::from)?
                .is_none()
            {
                username = Some(candidate);
                break;
            }
        }
        let username =
            username.ok_or_else(|| Refusal::CannotCreate("the username is taken".into()))?;
        let role = mapped.unwrap_or(Role::User);
        let row = db
            .create_oidc_person(&NewOidcPerson {
                username: &username,
                email: &email,
                name: claims.name.as_deref().unwrap_or(""),
                role: role.as_str(),
                issuer: &claims.issuer,
                subject: &claims.subject,
            })
            .await
            .map_err(|e| match e {
                DbError::Conflict(_) => Failed::Refused(
                    Refusal::CannotCreate("the username or e-mail address is taken".into()),
                    Some(username.clone()),
                ),
                other => OidcError::from(other).into(),
            })?;
        let user: User = row.into();
        self.identity
            .audit(AuditEvent {
                actor: None,
                action: AuditAction::UserCreate,
                target: &user.username,
                outcome: AuditOutcome::Success,
                client,
                detail: &format!(
                    "{} at the first sign-in with {}",
                    role.as_str(),
                    provider.name
                ),
            })
            .await
            .map_err(OidcError::from)?;
        Ok(user)
    }
}

#[cfg(test)]
mod tests;
