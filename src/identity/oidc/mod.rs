//! OpenID Connect single sign-on: people sign in at their organisation's provider
//! (Entra ID, Google, Okta, Keycloak, Authentik…) with the authorization code flow
//! and PKCE, and come back with a browser session like the password sign-in's.
//!
//! `providers.rs` knows the effective providers and caches their discovery
//! documents, `http.rs` is the HTTP client the `openidconnect` crate talks through,
//! `flow.rs` runs a sign-in (start, callback, the ID token's checks), `people.rs`
//! finds or creates the person and their role, `admin.rs` holds the page's changes and
//! `logout.rs` ends the provider's session with the local one.

use crate::config::OidcSettings;
use crate::db::DbError;
use crate::vault::VaultError;

use super::{Identity, IdentityError};

pub mod admin;
pub mod flow;
mod http;
pub mod logout;
pub mod people;
pub mod providers;

pub use admin::{ProviderCheck, ProviderForm};
pub use flow::{SignInPurpose, SsoSignIn, StartedSignIn};
pub use providers::{Provider, ProviderOrigin};

/// Why a sign-in through a provider was refused. Each is audited (`sso.refused`) with
/// [`Refusal::reason`] as the detail, and shown to the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The callback has no `state`, or one this server never issued.
    UnknownState,
    /// The `state` was used already: a replayed callback (or a reloaded one).
    ReplayedState,
    /// The sign-in took longer than its pending time.
    ExpiredState,
    /// The callback came to another browser than the one that started the sign-in.
    OtherBrowser,
    /// The callback names another provider than the one the sign-in went to.
    WrongProvider,
    /// The provider answered with an error (`access_denied`, …) instead of a code.
    ProviderError(String),
    /// The callback has no code.
    MissingCode,
    /// The token endpoint refused the code (expired, used, or not ours).
    CodeRefused(String),
    /// The token answer held no ID token.
    NoIdToken,
    WrongIssuer,
    WrongAudience,
    WrongNonce,
    BadSignature(String),
    TokenExpired,
    /// Another defect of the ID token.
    BadToken(String),
    /// The claim used to find people is missing.
    MissingClaim(&'static str),
    /// The e-mail address is not `email_verified`.
    EmailUnverified,
    /// No account matches and the provider may not create one.
    UnknownPerson,
    /// The account is linked to another subject of the same provider.
    LinkedElsewhere,
    /// A person would be created but the name or address is taken or unusable.
    CannotCreate(String),
    /// The account is disabled.
    Disabled,
    /// The provider may sign in only chosen e-mail domains, and this is not one.
    DomainNotAllowed(String),
}

impl Refusal {
    /// The audit detail, and what the person reads.
    pub fn reason(&self) -> String {
        match self {
            Refusal::UnknownState => "unknown state (this sign-in was not started here)".into(),
            Refusal::ReplayedState => "replayed state: this sign-in was already used".into(),
            Refusal::ExpiredState => {
                "expired state: the sign-in took longer than 10 minutes".into()
            }
            Refusal::OtherBrowser => "the sign-in was started in another browser".into(),
            Refusal::WrongProvider => "the sign-in was started with another provider".into(),
            Refusal::ProviderError(e) => format!("the provider refused the sign-in: {e}"),
            Refusal::MissingCode => "the provider sent no authorization code".into(),
            Refusal::CodeRefused(e) => {
                format!("the provider refused the code (expired or replayed code): {e}")
            }
            Refusal::NoIdToken => "the provider sent no ID token".into(),
            Refusal::WrongIssuer => "ID token with a wrong issuer".into(),
            Refusal::WrongAudience => "ID token with a wrong audience".into(),
            Refusal::WrongNonce => "ID token with a wrong nonce".into(),
            Refusal::BadSignature(e) => format!("ID token with a bad signature: {e}"),
            Refusal::TokenExpired => "expired ID token".into(),
            Refusal::BadToken(e) => format!("invalid ID token: {e}"),
            Refusal::MissingClaim(c) => format!("the ID token has no {c} claim"),
            Refusal::EmailUnverified => "the provider has not verified this e-mail address".into(),
            Refusal::DomainNotAllowed(domain) => {
                format!("people of {domain} may not sign in through this provider")
            }
            Refusal::UnknownPerson => {
                "unknown person: no account matches and none may be created here".into()
            }
            Refusal::LinkedElsewhere => {
                "this account is linked to another person at this provider".into()
            }
            Refusal::CannotCreate(e) => format!("cannot create the account: {e}"),
            Refusal::Disabled => "account disabled".into(),
        }
    }

    /// A protocol defect (400) rather than a person this server refuses (403).
    pub fn is_protocol(&self) -> bool {
        !matches!(
            self,
            Refusal::EmailUnverified
                | Refusal::UnknownPerson
                | Refusal::LinkedElsewhere
                | Refusal::CannotCreate(_)
                | Refusal::Disabled
                | Refusal::DomainNotAllowed(_)
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("no single sign-on provider is named {0}")]
    UnknownProvider(String),
    /// The provider could not be reached or answered nonsense (not audited as a
    /// refusal: nothing was refused).
    #[error("the provider cannot be used now: {0}")]
    Provider(String),
    #[error("sign-in refused: {}", .0.reason())]
    Refused(Refusal),
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("this provider is set in the settings file; change it there")]
    ReadOnly,
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

impl From<DbError> for OidcError {
    fn from(error: DbError) -> Self {
        OidcError::Identity(error.into())
    }
}

/// The single sign-on service. Cheap to clone.
#[derive(Clone, Debug)]
pub struct SingleSignOn {
    identity: Identity,
    settings: OidcSettings,
    cache: providers::DiscoveryCache,
}

impl SingleSignOn {
    pub fn new(identity: Identity, settings: OidcSettings) -> Self {
        Self {
            identity,
            settings,
            cache: providers::DiscoveryCache::default(),
        }
    }
}

/// The `openidconnect` client as this room builds it: the authorization endpoint from
/// discovery, the token endpoint and the user-info endpoint maybe.
pub(super) type SsoClient = openidconnect::core::CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// A callback that did not end in a session: refused (with the person, when known)
/// or failed for another reason.
pub(super) enum Failed {
    Refused(Refusal, Option<String>),
    Other(OidcError),
}

impl From<Refusal> for Failed {
    fn from(refusal: Refusal) -> Self {
        Failed::Refused(refusal, None)
    }
}

impl From<OidcError> for Failed {
    fn from(error: OidcError) -> Self {
        match error {
            OidcError::Refused(refusal) => Failed::Refused(refusal, None),
            other => Failed::Other(other),
        }
    }
}

impl From<crate::vault::VaultError> for Failed {
    fn from(error: crate::vault::VaultError) -> Self {
        Failed::Other(error.into())
    }
}
