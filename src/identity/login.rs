//! Signing in: password checks under the sign-in limits (`limits.rs`), database-backed
//! sessions with an idle and an absolute end, HTTP Basic and bearer credentials, and
//! CSRF tokens bound to the browser.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;

use super::limits::{AttemptAudit, Channel, Limit};
use super::secrets::{self, looks_like_app_password, new_token, verify_secret};
use super::{
    AuditAction, AuditEvent, AuditOutcome, ClientInfo, Identity, IdentityError, IdentityResult,
    User, normalize_login,
};
use crate::clock::now;
use crate::db::DbError;

/// A browser session token as held in the cookie. Only its keyed hash is stored.
#[derive(Clone)]
pub struct SessionToken(pub String);

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionToken(***)")
    }
}

/// Who made a request, and how they proved it.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: User,
    pub via: AuthMethod,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMethod {
    Session,
    AppPassword { id: i64 },
    Password,
}

/// What a CSRF token is bound to: the session when signed in, else a random
/// pre-session cookie (login and first-run forms).
pub enum CsrfBinding<'a> {
    Session(&'a str),
    PreSession(&'a str),
}

const SESSION_PURPOSE: &str = "session";
const CSRF_PURPOSE: &str = "csrf";

impl Identity {
    /// Checks a login (username or e-mail) and password, then opens a browser session.
    pub async fn login(
        &self,
        login: &str,
        password: &str,
        client: &ClientInfo,
    ) -> IdentityResult<(User, SessionToken)> {
        let user = self
            .check_password(login, password, client, AuditAction::Login)
            .await?;
        let token = new_token();
        let at = now();
        self.db
            .insert_session_until(
                &self.session_hash(&token),
                user.id,
                "browser",
                (at + self.idle_secs(), at + self.max_browser_secs()),
                &client.addr,
                &client.user_agent,
            )
            .await?;
        self.audit(AuditEvent {
            actor: Some(&user),
            action: AuditAction::AuthLogin,
            target: &user.username,
            outcome: AuditOutcome::Success,
            client,
            detail: "password",
        })
        .await?;
        Ok((user, SessionToken(token)))
    }

    /// Checks a login and password for a phone that signs in to release at a printer
    /// (the caller opens a `device` session); same lockout as the login form.
    pub async fn login_device(
        &self,
        login: &str,
        password: &str,
        client: &ClientInfo,
    ) -> IdentityResult<User> {
        let user = self
            .check_password(login, password, client, AuditAction::PhoneLogin)
            .await?;
        // Issue 16, accounts: a temporary password opens only the page to replace it.
        self.refuse_until_changed(&user, AuditAction::PhoneLogin, client)
            .await?;
        self.audit(AuditEvent {
            actor: Some(&user),
            action: AuditAction::PhoneLogin,
            target: &user.username,
            outcome: AuditOutcome::Success,
            client,
            detail: "phone signed in for QR release",
        })
        .await?;
        Ok(user)
    }

    /// Password check with sign-in limits, shared by the login form, the phone, HTTP
    /// Basic and changing a credential. The attempt is counted (per account password
    /// and per address) before Argon2 runs, so a burst cannot get more than the
    /// threshold evaluated.
    pub(super) async fn check_password(
        &self,
        login: &str,
        password: &str,
        client: &ClientInfo,
        action: AuditAction,
    ) -> IdentityResult<User> {
        let typed = normalize_login(login);
        let row = match self.db.user_by_login(&typed).await {
            Ok(row) => Some(row),
            Err(DbError::NotFound) => None,
            Err(e) => return Err(e.into()),
        };
        // Count per account (username and e-mail share one counter), or per typed
        // login when no account matches.
        let login = row.as_ref().map(|r| r.username.clone()).unwrap_or(typed);
        let audit = AttemptAudit {
            actor: &login,
            target: &login,
            action,
            client,
        };
        // Issue 20: a client resending the same wrong password (after its 401) is
        // told so again without another count (or another Argon2 run).
        let channel = Channel::of(action);
        let stored = row
            .as_ref()
            .and_then(|r| r.password_hash.as_deref())
            .unwrap_or("");
        let repeat = self.repeat_of(channel, client, &login, stored, password);
        if self
            .refuse_repeat(&repeat, &audit, "wrong login or password")
            .await?
        {
            return Err(IdentityError::InvalidCredentials);
        }
        let attempt = self
            .begin_attempt(
                vec![Limit::Address(client.addr.clone()), channel.limit(&login)],
                &audit,
            )
            .await?
            .repeating(repeat);
        let (verified, attempt) = match row.as_ref().filter(|r| r.source == "ldap") {
            // Issue 16: a directory person proves the directory's password (a bind),
            // counted like any attempt; a directory that does not answer is no failure
            // of theirs (see `ldap/bind.rs`).
            Some(r) => {
                self.directory_password_attempt(r, password, attempt, &audit)
                    .await?
            }
            None => {
                let stored = row.as_ref().and_then(|r| r.password_hash.clone());
                // Unknown logins spend the same work on a dummy hash (timing reveals nothing).
                (verify_secret(self.cost(), stored, password).await, attempt)
            }
        };
        let user: User = match row {
            Some(row) if verified => row.into(),
            _ => {
                self.fail_attempt(attempt, &audit, "wrong login or password")
                    .await?;
                return Err(IdentityError::InvalidCredentials);
            }
        };
        self.succeed_attempt(attempt).await?;
        self.refuse_disabled(&user, action, client).await?;
        Ok(user)
    }

    /// Refuses (and audits) a disabled account that proved its credentials.
    pub(super) async fn refuse_disabled(
        &self,
        user: &User,
        action: AuditAction,
        client: &ClientInfo,
    ) -> IdentityResult<()> {
        if user.disabled {
            self.audit(AuditEvent {
                actor: Some(user),
                action,
                target: &user.username,
                outcome: AuditOutcome::Denied,
                client,
                detail: "account disabled",
            })
            .await?;
            return Err(IdentityError::Disabled);
        }
        Ok(())
    }

    fn idle_secs(&self) -> i64 {
        i64::try_from(self.security.session_idle_minutes.saturating_mul(60)).unwrap_or(i64::MAX)
    }

    /// A browser session's absolute lifetime (`security.session_max_hours`).
    pub(super) fn max_browser_secs(&self) -> i64 {
        i64::try_from(self.security.session_max_hours.saturating_mul(3600)).unwrap_or(i64::MAX)
    }

    pub(super) fn session_hash(&self, token: &str) -> Vec<u8> {
        self.vault.keyed_hash(SESSION_PURPOSE, token.as_bytes())
    }

    /// The signed-in user of a session cookie, sliding the session's idle expiry.
    pub async fn session_user(&self, token: &SessionToken) -> IdentityResult<Principal> {
        self.session_user_of_kind(token, "browser", self.idle_secs())
            .await
    }

    /// The user of a session of this kind (`browser`, `device` for a signed-in phone,
    /// `station` for a person at a release station), sliding its expiry by `slide_secs`
    /// but never past the session's absolute end.
    /// A token of another kind is refused, so a station or phone cookie never opens
    /// the portal.
    pub async fn session_user_of_kind(
        &self,
        token: &SessionToken,
        kind: &str,
        slide_secs: i64,
    ) -> IdentityResult<Principal> {
        let row = self
            .db
            .touch_session(&self.session_hash(&token.0), kind, Some(now() + slide_secs))
            .await
            .map_err(|_| IdentityError::Unauthenticated)?;
        let user: User = self.db.user_by_id(row.user_id).await?.into();
        if user.disabled {
            return Err(IdentityError::Disabled);
        }
        Ok(Principal {
            user,
            via: AuthMethod::Session,
        })
    }

    pub async fn logout(
        &self,
        token: &SessionToken,
        user: &User,
        client: &ClientInfo,
    ) -> IdentityResult<()> {
        self.db.delete_session(&self.session_hash(&token.0)).await?;
        self.audit(AuditEvent {
            actor: Some(user),
            action: AuditAction::AuthLogout,
            target: &user.username,
            outcome: AuditOutcome::Success,
            client,
            detail: "",
        })
        .await
    }

    /// HTTP Basic: login + password, or login + one of the user's app passwords.
    pub async fn authenticate_basic(
        &self,
        login: &str,
        secret: &str,
        client: &ClientInfo,
    ) -> IdentityResult<Principal> {
        if looks_like_app_password(secret) {
            let principal = self.authenticate_app_password(secret, client).await;
            let login = normalize_login(login);
            match principal {
                Ok(p) if p.user.username == login || p.user.email == login => return Ok(p),
                Ok(_) | Err(IdentityError::InvalidCredentials) => {
                    let login = match self.db.user_by_login(&login).await {
                        Ok(row) => row.username,
                        Err(_) => login,
                    };
                    let audit = AttemptAudit {
                        actor: &login,
                        target: &login,
                        action: AuditAction::AuthBasic,
                        client,
                    };
                    let repeat = self.repeat_of(Channel::Printing, client, &login, "", secret);
                    if self
                        .refuse_repeat(&repeat, &audit, "wrong app password")
                        .await?
                    {
                        return Err(IdentityError::InvalidCredentials);
                    }
                    let attempt = self
                        .begin_attempt(
                            vec![
                                Limit::Address(client.addr.clone()),
                                Channel::Printing.limit(&login),
                            ],
                            &audit,
                        )
                        .await?
                        .repeating(repeat);
                    self.fail_attempt(attempt, &audit, "wrong app password")
                        .await?;
                    return Err(IdentityError::InvalidCredentials);
                }
                Err(e) => return Err(e),
            }
        }
        let user = self
            .check_password(login, secret, client, AuditAction::AuthBasic)
            .await?;
        // Issue 16, accounts: a temporary password opens only the page to replace it.
        self.refuse_until_changed(&user, AuditAction::AuthBasic, client)
            .await?;
        Ok(Principal {
            user,
            via: AuthMethod::Password,
        })
    }

    /// A bearer token is an app password on its own (it names its user).
    pub async fn authenticate_bearer(
        &self,
        token: &str,
        client: &ClientInfo,
    ) -> IdentityResult<Principal> {
        if !looks_like_app_password(token) {
            self.audit(AuditEvent {
                actor: None,
                action: AuditAction::AuthBearer,
                target: "",
                outcome: AuditOutcome::Failure,
                client,
                detail: "malformed token",
            })
            .await?;
            return Err(IdentityError::InvalidCredentials);
        }
        self.authenticate_app_password(token, client).await
    }

    async fn authenticate_app_password(
        &self,
        secret: &str,
        client: &ClientInfo,
    ) -> IdentityResult<Principal> {
        let row = match self
            .db
            .use_app_password(&self.app_password_hash(secret))
            .await
        {
            Ok(row) => row,
            Err(DbError::NotFound) => {
                self.audit(AuditEvent {
                    actor: None,
                    action: AuditAction::AuthAppPassword,
                    target: "",
                    outcome: AuditOutcome::Failure,
                    client,
                    detail: "unknown or revoked app password",
                })
                .await?;
                return Err(IdentityError::InvalidCredentials);
            }
            Err(e) => return Err(e.into()),
        };
        let user: User = self.db.user_by_id(row.user_id).await?.into();
        self.refuse_disabled(&user, AuditAction::AuthAppPassword, client)
            .await?;
        Ok(Principal {
            user,
            via: AuthMethod::AppPassword { id: row.id },
        })
    }

    pub(super) fn app_password_hash(&self, secret: &str) -> Vec<u8> {
        self.vault
            .keyed_hash(secrets::APP_PASSWORD_PURPOSE, secret.as_bytes())
    }

    /// The CSRF token for a form, derived (not stored) from what it is bound to.
    pub fn csrf_token(&self, binding: CsrfBinding<'_>) -> String {
        let mac = match binding {
            CsrfBinding::Session(token) => self
                .vault
                .keyed_hash(CSRF_PURPOSE, format!("s:{token}").as_bytes()),
            CsrfBinding::PreSession(token) => self
                .vault
                .keyed_hash(CSRF_PURPOSE, format!("p:{token}").as_bytes()),
        };
        URL_SAFE_NO_PAD.encode(mac)
    }

    /// Constant-time comparison of a submitted CSRF token with the expected one.
    pub fn csrf_valid(&self, binding: CsrfBinding<'_>, submitted: &str) -> bool {
        let expected = self.csrf_token(binding);
        !submitted.is_empty() && bool::from(expected.as_bytes().ct_eq(submitted.as_bytes()))
    }
}

// Single sign-on (issue 16, oidc).
impl Identity {
    /// Opens a browser session, as [`Identity::login`] does after the password, for a
    /// person who proved themselves at an OpenID provider (the caller checked them).
    pub(super) async fn open_browser_session(
        &self,
        user: &User,
        client: &ClientInfo,
    ) -> IdentityResult<SessionToken> {
        let token = new_token();
        let at = now();
        self.db
            .insert_session_until(
                &self.session_hash(&token),
                user.id,
                "browser",
                (at + self.idle_secs(), at + self.max_browser_secs()),
                &client.addr,
                &client.user_agent,
            )
            .await?;
        Ok(SessionToken(token))
    }
}
