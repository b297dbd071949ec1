//! "Forgot password": a person asks by e-mail address or username and gets a link
//! that works once, for 30 minutes; the link lets them choose a new password.
//!
//! - The answer is the same, and as quick, whether or not the account exists: the
//!   mail goes out from a background task, whose failure is logged and audited (the
//!   token never is).
//! - Requests are counted per source address and per account in one conditional SQL
//!   statement each, so nobody can flood a mailbox.
//! - A person from the organisation's directory (`ldap`) gets a mail saying their
//!   password is managed there, with no link.
//! - Only the keyed hash of a token is stored; using it is one conditional UPDATE in
//!   the transaction that sets the password, clears `must_change_password` and ends
//!   every session of the person.

use super::people::validate_password;
use super::secrets::{hash_secret, new_token};
use super::{
    AuditAction, AuditEvent, AuditOutcome, ClientInfo, Identity, IdentityError, IdentityResult,
    User, UserSource, normalize_login,
};
use crate::clock::now;
use crate::db::DbError;
use crate::mail::{Mailer, OutgoingMail};

/// How long a reset link works.
pub const RESET_LINK_MINUTES: i64 = 30;
/// Reset mails per account, and requests per source address, in one window.
const PER_ACCOUNT: i64 = 3;
const PER_ADDRESS: i64 = 10;
const WINDOW_SECS: i64 = 3600;
/// The vault purpose of a reset token's keyed hash.
const RESET_PURPOSE: &str = "password-reset";

impl Identity {
    fn reset_hash(&self, token: &str) -> Vec<u8> {
        self.vault.keyed_hash(RESET_PURPOSE, token.as_bytes())
    }

    /// Asks for a reset mail for `login` (username or e-mail). Answers `Ok` whatever
    /// happened to the account (unknown, disabled, over its limit), so the page says
    /// the same thing; only a failure of the database is an error. `base_url` is where
    /// the link points (`https://print.example.org`).
    pub async fn request_password_reset(
        &self,
        mailer: &Mailer,
        login: &str,
        base_url: &str,
        client: &ClientInfo,
    ) -> IdentityResult<()> {
        let typed = normalize_login(login);
        if typed.is_empty() || typed.len() > 254 {
            return Ok(());
        }
        let at = now();
        self.db.delete_stale_mail_rows(at - 24 * 3600).await?;
        let audit = |target: String, outcome, detail: &'static str| async move {
            self.audit(AuditEvent {
                actor: None,
                action: AuditAction::PasswordResetRequest,
                target: &target,
                outcome,
                client,
                detail,
            })
            .await
        };
        let address_key = format!("address:{}", client.addr);
        if !self
            .db
            .count_mail_request(&address_key, at, at - WINDOW_SECS, PER_ADDRESS)
            .await?
        {
            return audit(
                typed,
                AuditOutcome::Denied,
                "too many reset requests from this address",
            )
            .await;
        }
        let user: User = match self.db.user_by_login(&typed).await {
            Ok(row) => row.into(),
            Err(DbError::NotFound) => {
                return audit(typed, AuditOutcome::Failure, "no such account").await;
            }
            Err(e) => return Err(e.into()),
        };
        if user.disabled {
            return audit(user.username, AuditOutcome::Denied, "account disabled").await;
        }
        let account_key = format!("account:{}", user.id);
        if !self
            .db
            .count_mail_request(&account_key, at, at - WINDOW_SECS, PER_ACCOUNT)
            .await?
        {
            return audit(
                user.username,
                AuditOutcome::Denied,
                "too many reset mails for this account",
            )
            .await;
        }
        let (mail, detail) = if user.source == UserSource::Ldap {
            (
                directory_mail(&user),
                "directory account: told to use the directory",
            )
        } else {
            let token = new_token();
            self.db
                .insert_reset_token(
                    &self.reset_hash(&token),
                    user.id,
                    at,
                    at + RESET_LINK_MINUTES * 60,
                )
                .await?;
            let link = format!(
                "{}/reset-password?token={token}",
                base_url.trim_end_matches('/')
            );
            (reset_mail(&user, &link), "link sent")
        };
        audit(user.username.clone(), AuditOutcome::Success, detail).await?;
        // The page answers now; the relay may take seconds (or its time-out).
        let identity = self.clone();
        let mailer = mailer.clone();
        let client = client.clone();
        tokio::spawn(async move {
            if let Err(e) = mailer.send(&mail).await {
                tracing::warn!(user = %user.username, error = %e, "password reset mail not sent");
                let detail = format!("mail not sent: {e}");
                let _ = identity
                    .audit(AuditEvent {
                        actor: None,
                        action: AuditAction::PasswordResetRequest,
                        target: &user.username,
                        outcome: AuditOutcome::Failure,
                        client: &client,
                        detail: &detail,
                    })
                    .await;
            }
        });
        Ok(())
    }

    /// Whether a reset link can still be used (the page that asks for the new password).
    pub async fn reset_link_valid(&self, token: &str) -> IdentityResult<bool> {
        if !looks_like_token(token) {
            return Ok(false);
        }
        match self
            .db
            .reset_token_user(&self.reset_hash(token), now())
            .await
        {
            Ok(_) => Ok(true),
            Err(DbError::NotFound) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Uses a reset link: sets the new password, clears `must_change_password`, ends
    /// every session of the person; audited. A used or expired link is
    /// [`IdentityError::ResetLinkExpired`].
    pub async fn reset_password_with_link(
        &self,
        token: &str,
        new_password: &str,
        client: &ClientInfo,
    ) -> IdentityResult<User> {
        // A cheap check first: a made-up token costs no Argon2 work.
        if !self.reset_link_valid(token).await? {
            return Err(self.refuse_reset_link(client).await?);
        }
        validate_password(new_password)?;
        let hash = hash_secret(self.cost(), new_password).await?;
        let done = match self
            .db
            .reset_password_with_token(&self.reset_hash(token), &hash, now())
            .await
        {
            Ok(done) => done,
            Err(DbError::NotFound) => return Err(self.refuse_reset_link(client).await?),
            Err(e) => return Err(e.into()),
        };
        let user = self.user(done.user_id).await?;
        self.audit(AuditEvent {
            actor: Some(&user),
            action: AuditAction::PasswordResetUse,
            target: &user.username,
            outcome: AuditOutcome::Success,
            client,
            detail: &format!("new password set; {} session(s) ended", done.sessions_ended),
        })
        .await?;
        Ok(user)
    }

    async fn refuse_reset_link(&self, client: &ClientInfo) -> IdentityResult<IdentityError> {
        self.audit(AuditEvent {
            actor: None,
            action: AuditAction::PasswordResetUse,
            target: "",
            outcome: AuditOutcome::Denied,
            client,
            detail: "expired, used or unknown link",
        })
        .await?;
        Ok(IdentityError::ResetLinkExpired)
    }
}

/// 43 base64url characters, as [`new_token`] makes them.
fn looks_like_token(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn reset_mail(user: &User, link: &str) -> OutgoingMail {
    let text = format!(
        "Hello {name},\n\n\
         someone (hopefully you) asked to reset the password of your PrintPark account \
         \"{username}\".\n\n\
         Choose a new password here. The link works once, for {RESET_LINK_MINUTES} minutes:\n\n\
         {link}\n\n\
         If you did not ask for this, ignore this message: your password stays as it is.\n",
        name = user.display_name(),
        username = user.username,
    );
    let html = format!(
        "<p>Hello {name},</p>\
         <p>someone (hopefully you) asked to reset the password of your PrintPark account \
         “{username}”.</p>\
         <p><a href=\"{link}\">Choose a new password</a>. The link works once, for \
         {RESET_LINK_MINUTES} minutes.</p>\
         <p>If you did not ask for this, ignore this message: your password stays as it is.</p>",
        name = escape(user.display_name()),
        username = escape(&user.username),
        link = escape(link),
    );
    OutgoingMail::text(&user.email, "Reset your PrintPark password", text).with_html(html)
}

fn directory_mail(user: &User) -> OutgoingMail {
    let text = format!(
        "Hello {name},\n\n\
         someone (hopefully you) asked to reset the password of your PrintPark account \
         \"{username}\".\n\n\
         Your password is managed by your organisation's directory: it is the password \
         you use to sign in to your computer and other services. Change it there, or ask \
         your IT help desk; PrintPark cannot reset it.\n\n\
         If you did not ask for this, ignore this message.\n",
        name = user.display_name(),
        username = user.username,
    );
    OutgoingMail::text(&user.email, "Your PrintPark password", text)
}

/// Text for an HTML body.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tokens_of_the_made_shape_are_looked_up() {
        assert!(looks_like_token(&new_token()));
        assert!(!looks_like_token("short"));
        assert!(!looks_like_token(&format!("{}=", &new_token()[..42])));
    }
}
