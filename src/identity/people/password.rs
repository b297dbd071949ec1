//! Passwords set by someone else: an admin's reset (a temporary password the person
//! must replace at their next sign-in) and the operator's `printpark admin
//! reset-password` (for the last admin locked out), and the refusal of a temporary
//! password anywhere but the page that replaces it.
//!
//! A reset ends every session of the person (browsers, phones, stations): whoever held
//! the old password loses what it opened. App passwords are separate credentials the
//! person made for their devices; they keep working unless the admin ticks "revoke
//! app passwords too" (a suspected compromise), so printers do not stop for a
//! forgotten password.

use zeroize::Zeroizing;

use super::super::secrets::hash_secret;
use super::super::{
    AuditAction, AuditEvent, AuditOutcome, ClientInfo, Identity, IdentityError, IdentityResult,
    User, UserSource, normalize_login,
};
use super::{require_admin, validate_password};
use crate::db::AuditRecord;

/// Letters and digits nobody misreads (no 0/O, 1/l/I).
const READABLE: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// What an admin's reset did; `shown` is the server-made password, shown once.
pub struct PasswordReset {
    pub shown: Option<Zeroizing<String>>,
    pub sessions_ended: u64,
    pub app_passwords_revoked: u64,
}

impl std::fmt::Debug for PasswordReset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordReset")
            .field("sessions_ended", &self.sessions_ended)
            .field("app_passwords_revoked", &self.app_passwords_revoked)
            .finish_non_exhaustive()
    }
}

/// A temporary password: four groups of five readable characters (about 99 bits).
fn temporary_password() -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(23));
    let mut picked = 0;
    while picked < 20 {
        let mut bytes = [0u8; 32];
        rand::fill(&mut bytes);
        // Rejection keeps every character equally likely (31 × 8 = 248).
        for b in bytes.iter().copied().filter(|b| *b < 248) {
            if picked == 20 {
                break;
            }
            if picked > 0 && picked % 5 == 0 {
                out.push('-');
            }
            out.push(char::from(READABLE[usize::from(b) % READABLE.len()]));
            picked += 1;
        }
    }
    out
}

impl Identity {
    /// An admin resets a person's password: `temporary` (checked like any password) or
    /// one the server makes (returned once). The next sign-in must choose a new one.
    pub async fn reset_password(
        &self,
        actor: &User,
        user_id: i64,
        temporary: Option<&str>,
        revoke_app_passwords: bool,
        client: &ClientInfo,
    ) -> IdentityResult<PasswordReset> {
        require_admin(actor)?;
        let target = self.user(user_id).await?;
        if target.source == UserSource::Ldap {
            return Err(IdentityError::Invalid {
                field: "password",
                reason: "managed by the directory: reset it there".into(),
            });
        }
        if target.id == actor.id {
            return Err(IdentityError::Invalid {
                field: "password",
                reason: "change your own password on your account page".into(),
            });
        }
        let shown = match temporary {
            Some(password) => {
                validate_password(password)?;
                None
            }
            None => Some(temporary_password()),
        };
        let password = temporary
            .or(shown.as_ref().map(|s| s.as_str()))
            .unwrap_or_default();
        let hash = hash_secret(self.cost(), password).await?;
        self.db.set_password_hash(user_id, &hash, true).await?;
        let sessions_ended = self.db.delete_sessions_of(user_id).await?;
        let app_passwords_revoked = if revoke_app_passwords {
            self.db.revoke_app_passwords_of(user_id).await?
        } else {
            0
        };
        let detail = format!(
            "{} temporary password; {sessions_ended} session(s) ended; {}",
            if shown.is_some() {
                "server-made"
            } else {
                "admin-set"
            },
            if revoke_app_passwords {
                format!("{app_passwords_revoked} app password(s) revoked")
            } else {
                "app passwords kept".into()
            }
        );
        self.audit(AuditEvent {
            actor: Some(actor),
            action: AuditAction::UserResetPassword,
            target: &target.username,
            outcome: AuditOutcome::Success,
            client,
            detail: &detail,
        })
        .await?;
        Ok(PasswordReset {
            shown,
            sessions_ended,
            app_passwords_revoked,
        })
    }

    /// The operator at the server (`printpark admin reset-password`): sets the
    /// password of `login` with no change required next time (it is the operator's own
    /// account, usually), clears its sign-in lock-out and ends its sessions. Audited as
    /// the system.
    pub async fn reset_password_by_operator(&self, login: &str, new: &str) -> IdentityResult<User> {
        validate_password(new)?;
        let user: User = self.db.user_by_login(&normalize_login(login)).await?.into();
        if user.source == UserSource::Ldap {
            return Err(IdentityError::Invalid {
                field: "password",
                reason: "managed by the directory: reset it there".into(),
            });
        }
        let hash = hash_secret(self.cost(), new).await?;
        self.db.set_password_hash(user.id, &hash, false).await?;
        // Every way in (browser, phone, printing) starts afresh (issue 20).
        for key in crate::identity::limits::password_limit_keys(&user.username) {
            self.db.clear_login_failures(&key).await?;
        }
        let ended = self.db.delete_sessions_of(user.id).await?;
        self.db
            .append_audit(&AuditRecord {
                actor_id: None,
                actor: "system",
                action: AuditAction::UserResetPassword.as_str(),
                target: &user.username,
                outcome: AuditOutcome::Success.as_str(),
                client_addr: "cli",
                detail: &format!(
                    "printpark admin reset-password; lock-out cleared; {ended} session(s) ended"
                ),
            })
            .await?;
        self.user(user.id).await
    }

    /// Refuses (and audits) a password that an admin reset and the person has not
    /// replaced yet, where it would open more than the page that replaces it (IPP and
    /// API Basic, the phone page).
    pub(crate) async fn refuse_until_changed(
        &self,
        user: &User,
        action: AuditAction,
        client: &ClientInfo,
    ) -> IdentityResult<()> {
        if !user.must_change_password {
            return Ok(());
        }
        self.audit(AuditEvent {
            actor: Some(user),
            action,
            target: &user.username,
            outcome: AuditOutcome::Denied,
            client,
            detail: "temporary password: a new one must be chosen in the portal first",
        })
        .await?;
        Err(IdentityError::PasswordChangeRequired)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_passwords_are_long_readable_and_differ() {
        let a = temporary_password();
        let b = temporary_password();
        assert_eq!(a.len(), 23);
        assert!(validate_password(&a).is_ok());
        assert_ne!(*a, *b);
        assert!(a.chars().all(|c| c == '-' || READABLE.contains(&(c as u8))));
    }
}
