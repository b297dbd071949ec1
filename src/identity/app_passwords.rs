//! App passwords: one per device (phone, laptop), shown once, revocable. They work as
//! the password of HTTP Basic (IPP printing) and as API bearer tokens.
//!
//! Shown once after a redirect (issue 20, "Set up printing"): the page that makes one
//! answers its POST with a redirect, so a refresh makes nothing; the new secret
//! travels to the GET sealed (encrypted and authenticated under the server's key, bound
//! to its owner, dated) in a short-lived cookie the GET reads and deletes. Neither the
//! database nor a log ever holds it in clear.

use super::secrets::new_app_password;
use super::{
    AuditAction, AuditEvent, AuditOutcome, ClientInfo, Identity, IdentityError, IdentityResult,
    User,
};
use crate::clock::now;
use crate::db::AppPasswordRow;

/// A sealed new app password is shown if its page is reached within this time.
const SHOWN_ONCE_SECS: i64 = 5 * 60;
const SHOWN_ONCE_PURPOSE: &str = "app-password-shown-once";

/// A freshly made app password: `secret` is shown to its owner once and never again.
pub struct NewAppPassword {
    pub id: i64,
    pub label: String,
    pub secret: String,
}

impl Identity {
    pub async fn create_app_password(
        &self,
        user: &User,
        label: &str,
        client: &ClientInfo,
    ) -> IdentityResult<NewAppPassword> {
        let label = label.trim();
        if label.is_empty() || label.chars().count() > 80 {
            return Err(IdentityError::Invalid {
                field: "label",
                reason: "give the device a name of 1 to 80 characters".into(),
            });
        }
        let secret = new_app_password();
        let row = self
            .db
            .insert_app_password(user.id, label, &self.app_password_hash(&secret))
            .await?;
        self.audit(AuditEvent {
            actor: Some(user),
            action: AuditAction::AppPasswordCreate,
            target: label,
            outcome: AuditOutcome::Success,
            client,
            detail: "",
        })
        .await?;
        Ok(NewAppPassword {
            id: row.id,
            label: row.label,
            secret,
        })
    }

    pub async fn app_passwords(&self, user: &User) -> IdentityResult<Vec<AppPasswordRow>> {
        Ok(self.db.app_passwords_of(user.id).await?)
    }

    pub async fn revoke_app_password(
        &self,
        user: &User,
        id: i64,
        client: &ClientInfo,
    ) -> IdentityResult<()> {
        self.db.revoke_app_password(user.id, id).await?;
        self.audit(AuditEvent {
            actor: Some(user),
            action: AuditAction::AppPasswordRevoke,
            target: &id.to_string(),
            outcome: AuditOutcome::Success,
            client,
            detail: "",
        })
        .await
    }

    /// Seals a new app password for the page that shows it once (see the module doc).
    pub fn seal_to_show(&self, user: &User, made: &NewAppPassword) -> IdentityResult<String> {
        use base64::Engine;
        let text = format!("{}\n{}\n{}", now(), made.secret, made.label);
        let sealed = self
            .vault
            .seal_secret(&shown_once_purpose(user), text.as_bytes())?;
        Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed))
    }

    /// The label and secret sealed by [`Identity::seal_to_show`] for this person, if
    /// still fresh; `None` for anything else (another person's, old, tampered with).
    pub fn open_to_show(&self, user: &User, sealed: &str) -> Option<(String, String)> {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(sealed)
            .ok()?;
        let opened = self
            .vault
            .open_secret(&shown_once_purpose(user), &bytes)
            .ok()?;
        let text = std::str::from_utf8(&opened).ok()?;
        let mut parts = text.splitn(3, '\n');
        let made: i64 = parts.next()?.parse().ok()?;
        let secret = parts.next()?.to_owned();
        let label = parts.next()?.to_owned();
        (now() - made <= SHOWN_ONCE_SECS).then_some((label, secret))
    }
}

/// Binds a sealed secret to its owner (a new account with a reused id does not open
/// it: its creation time differs).
fn shown_once_purpose(user: &User) -> String {
    format!("{SHOWN_ONCE_PURPOSE}:{}:{}", user.id, user.created_at)
}
