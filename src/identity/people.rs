//! People (local accounts): creating them, changing their credentials, disabling and
//! deleting them. Every change is audited with the admin who made it.

use super::login::SessionToken;
use super::secrets::{hash_secret, new_pin};
use super::{
    AuditAction, AuditEvent, AuditOutcome, ClientInfo, Identity, IdentityError, IdentityResult,
    Role, User, normalize_login,
};
use crate::db::{AuditRecord, DbError, NewUser};

pub mod edit;
pub mod password;

pub const MIN_PASSWORD_LEN: usize = 10;

/// What an admin (or the first-run page, or the CLI) asks to create.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
pub struct NewUserRequest {
    pub username: String,
    pub email: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub department: String,
    #[serde(default)]
    pub admin: bool,
    /// Optional: a user without a password signs in only once one is set.
    #[serde(default)]
    pub password: Option<String>,
}

impl std::fmt::Debug for UserUpdate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UserUpdate")
    }
}

/// Changes an admin may make to a user.
pub enum UserUpdate {
    Disable,
    Enable,
}

pub(super) fn validate_username(username: &str) -> IdentityResult<()> {
    let ok = (1..=64).contains(&username.len())
        && username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        && !username.contains('@');
    if ok {
        Ok(())
    } else {
        Err(IdentityError::Invalid {
            field: "username",
            reason: "use 1 to 64 letters, digits, dots, dashes or underscores".into(),
        })
    }
}

pub(super) fn validate_email(email: &str) -> IdentityResult<()> {
    let mut parts = email.split('@');
    let ok = matches!((parts.next(), parts.next(), parts.next()), (Some(l), Some(d), None) if !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.'))
        && email.len() <= 254
        && !email.chars().any(char::is_whitespace);
    if ok {
        Ok(())
    } else {
        Err(IdentityError::Invalid {
            field: "email",
            reason: "enter an address like name@example.org".into(),
        })
    }
}

pub fn validate_password(password: &str) -> IdentityResult<()> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(IdentityError::Invalid {
            field: "password",
            reason: format!("use at least {MIN_PASSWORD_LEN} characters"),
        });
    }
    if password.len() > 1024 {
        return Err(IdentityError::Invalid {
            field: "password",
            reason: "use at most 1024 bytes".into(),
        });
    }
    Ok(())
}

/// The longest PIN a person may set.
pub const MAX_PIN_DIGITS: usize = 12;

/// A PIN a person sets: digits only, `min_digits` (`security.pin_min_digits`) to 12 of
/// them, and not one a guesser tries first. Older, shorter PINs still verify; only
/// setting one is refused.
pub fn validate_pin(pin: &str, min_digits: u32) -> IdentityResult<()> {
    let min = min_digits as usize;
    if !(min..=MAX_PIN_DIGITS).contains(&pin.len()) || !pin.chars().all(|c| c.is_ascii_digit()) {
        return Err(IdentityError::Invalid {
            field: "pin",
            reason: format!("use {min} to {MAX_PIN_DIGITS} digits"),
        });
    }
    if is_trivial_pin(pin) {
        return Err(IdentityError::Invalid {
            field: "pin",
            reason: "too easy to guess (one digit repeated, or a run such as 123456 or 654321): choose another".into(),
        });
    }
    Ok(())
}

/// One digit repeated (000000, 777777) or a run up or down, wrapping (123456, 890123,
/// 654321): what a guesser tries first.
pub fn is_trivial_pin(pin: &str) -> bool {
    let digits: Vec<i16> = pin
        .bytes()
        .map(|b| i16::from(b) - i16::from(b'0'))
        .collect();
    let steps: Vec<i16> = digits
        .windows(2)
        .map(|w| (w[1] - w[0]).rem_euclid(10))
        .collect();
    steps
        .first()
        .is_none_or(|first| matches!(first, 0 | 1 | 9) && steps.iter().all(|step| step == first))
}

impl Identity {
    /// Creates a user. `actor` is the admin (None for the CLI and the first-run page).
    pub async fn create_user(
        &self,
        actor: Option<&User>,
        request: &NewUserRequest,
        client: &ClientInfo,
    ) -> IdentityResult<User> {
        let username = normalize_login(&request.username);
        let email = normalize_login(&request.email);
        validate_username(&username)?;
        validate_email(&email)?;
        let hash = match &request.password {
            Some(password) => {
                validate_password(password)?;
                Some(hash_secret(self.cost(), password).await?)
            }
            None => None,
        };
        let role = if request.admin {
            Role::Admin
        } else {
            Role::User
        };
        let row = self
            .db
            .insert_user(&NewUser {
                username: &username,
                email: &email,
                name: request.name.trim(),
                department: request.department.trim(),
                role: role.as_str(),
                password_hash: hash.as_deref(),
            })
            .await
            .map_err(|e| match e {
                DbError::Conflict(c) if c.contains("email") => {
                    IdentityError::Conflict { field: "email" }
                }
                DbError::Conflict(_) => IdentityError::Conflict {
                    field: "username or email",
                },
                other => other.into(),
            })?;
        let user: User = row.into();
        self.audit(AuditEvent {
            actor,
            action: AuditAction::UserCreate,
            target: &user.username,
            outcome: AuditOutcome::Success,
            client,
            detail: role.as_str(),
        })
        .await?;
        Ok(user)
    }

    pub async fn list_users(&self) -> IdentityResult<Vec<User>> {
        Ok(self
            .db
            .list_users()
            .await?
            .into_iter()
            .map(User::from)
            .collect())
    }

    /// Disables (ending every session) or enables a person. The last enabled admin
    /// cannot be disabled: one conditional statement decides, committed with its audit
    /// row.
    pub async fn update_user(
        &self,
        actor: &User,
        user_id: i64,
        update: UserUpdate,
        client: &ClientInfo,
    ) -> IdentityResult<User> {
        require_admin(actor)?;
        let target = self.user(user_id).await?;
        let (disabled, action) = match update {
            UserUpdate::Disable => (true, AuditAction::UserDisable),
            UserUpdate::Enable => (false, AuditAction::UserEnable),
        };
        if disabled && target.id == actor.id {
            return Err(IdentityError::Invalid {
                field: "user",
                reason: "You cannot disable yourself".into(),
            });
        }
        let audit = AuditRecord {
            actor_id: Some(actor.id),
            actor: &actor.username,
            action: action.as_str(),
            target: &target.username,
            outcome: AuditOutcome::Success.as_str(),
            client_addr: &client.addr,
            detail: "",
        };
        let Some(row) = self
            .db
            .set_user_disabled_guarded(user_id, disabled, &audit)
            .await?
        else {
            return Err(last_admin());
        };
        if disabled {
            self.db.delete_sessions_of(user_id).await?;
        }
        Ok(row.into())
    }

    /// Sets how long this user's jobs are held (1 h to 30 days), or back to the default.
    pub async fn set_hold_hours(
        &self,
        actor: &User,
        user_id: i64,
        hours: Option<i64>,
        client: &ClientInfo,
    ) -> IdentityResult<User> {
        require_admin(actor)?;
        if let Some(h) = hours
            && !(1..=720).contains(&h)
        {
            return Err(IdentityError::Invalid {
                field: "hold",
                reason: "use 1 to 720 hours, or leave empty for the default".into(),
            });
        }
        let target = self.user(user_id).await?;
        self.db.set_hold_hours(user_id, hours).await?;
        let detail = hours
            .map(|h| format!("{h} h"))
            .unwrap_or_else(|| "default".into());
        self.audit(AuditEvent {
            actor: Some(actor),
            action: AuditAction::UserSetHold,
            target: &target.username,
            outcome: AuditOutcome::Success,
            client,
            detail: &detail,
        })
        .await?;
        self.user(user_id).await
    }

    /// Sets a fresh random PIN (at least `security.pin_min_digits` digits, never a
    /// trivial one) and returns it once, for the admin to hand over.
    pub async fn reset_pin(
        &self,
        actor: &User,
        user_id: i64,
        client: &ClientInfo,
    ) -> IdentityResult<String> {
        require_admin(actor)?;
        let target = self.user(user_id).await?;
        let digits = self.security.pin_min_digits.max(6);
        let pin = loop {
            let pin = new_pin(digits);
            if !is_trivial_pin(&pin) {
                break pin;
            }
        };
        let hash = hash_secret(self.cost(), &pin).await?;
        self.db.set_pin_hash(user_id, Some(&hash)).await?;
        self.audit(AuditEvent {
            actor: Some(actor),
            action: AuditAction::UserResetPin,
            target: &target.username,
            outcome: AuditOutcome::Success,
            client,
            detail: "",
        })
        .await?;
        Ok(pin)
    }

    /// A user changes their own password, proving the current one under the same
    /// sign-in limits as the login form. Every other session of theirs ends (other
    /// browsers, phones, stations); `keep` is the browser session that asked.
    pub async fn change_password(
        &self,
        user: &User,
        current: &str,
        new: &str,
        client: &ClientInfo,
        keep: Option<&SessionToken>,
    ) -> IdentityResult<()> {
        // A directory person's password is the directory's: a hash kept here would
        // never be checked (sign-in binds), so setting one would only mislead.
        if user.source == super::UserSource::Ldap {
            return Err(IdentityError::Invalid {
                field: "password",
                reason:
                    "your password is managed by your organisation's directory; change it there"
                        .into(),
            });
        }
        self.check_password(
            &user.username,
            current,
            client,
            AuditAction::UserChangePassword,
        )
        .await?;
        validate_password(new)?;
        if user.must_change_password
            && bool::from(subtle::ConstantTimeEq::ct_eq(
                current.as_bytes(),
                new.as_bytes(),
            ))
        {
            return Err(IdentityError::Invalid {
                field: "new password",
                reason: "choose one that differs from the temporary password".into(),
            });
        }
        let hash = hash_secret(self.cost(), new).await?;
        self.db.set_password_hash(user.id, &hash, false).await?;
        let ended = self.end_other_sessions(user, keep).await?;
        self.audit(AuditEvent {
            actor: Some(user),
            action: AuditAction::UserChangePassword,
            target: &user.username,
            outcome: AuditOutcome::Success,
            client,
            detail: &format!("{ended} other session(s) ended"),
        })
        .await
    }

    /// Ends every session of the user but `keep`; returns how many ended.
    async fn end_other_sessions(
        &self,
        user: &User,
        keep: Option<&SessionToken>,
    ) -> IdentityResult<u64> {
        let keep = keep.map(|token| self.session_hash(&token.0));
        Ok(self
            .db
            .delete_other_sessions_of(user.id, keep.as_deref())
            .await?)
    }

    /// A user sets their own PIN (for release at the printer), proving their password;
    /// see [`Identity::set_own_pin_from`].
    pub async fn set_own_pin(
        &self,
        user: &User,
        password: &str,
        pin: &str,
        client: &ClientInfo,
    ) -> IdentityResult<()> {
        self.set_own_pin_from(user, password, pin, client, None)
            .await
    }

    /// A user sets their own PIN, proving their password under the sign-in limits.
    /// Every other session of theirs ends; `keep` is the browser session that asked.
    pub async fn set_own_pin_from(
        &self,
        user: &User,
        password: &str,
        pin: &str,
        client: &ClientInfo,
        keep: Option<&SessionToken>,
    ) -> IdentityResult<()> {
        self.check_password(&user.username, password, client, AuditAction::UserSetPin)
            .await?;
        validate_pin(pin, self.security.pin_min_digits)?;
        let hash = hash_secret(self.cost(), pin).await?;
        self.db.set_pin_hash(user.id, Some(&hash)).await?;
        let ended = self.end_other_sessions(user, keep).await?;
        self.audit(AuditEvent {
            actor: Some(user),
            action: AuditAction::UserSetPin,
            target: &user.username,
            outcome: AuditOutcome::Success,
            client,
            detail: &format!("{ended} other session(s) ended"),
        })
        .await
    }

    /// Deletes the account (sessions and app passwords go with it). The caller purges
    /// the user's jobs first: see `jobs::Jobs::delete_user_with_jobs`.
    pub async fn delete_user(
        &self,
        actor: &User,
        user_id: i64,
        client: &ClientInfo,
        detail: &str,
    ) -> IdentityResult<()> {
        require_admin(actor)?;
        let target = self.user(user_id).await?;
        if target.id == actor.id {
            return Err(IdentityError::Invalid {
                field: "user",
                reason: "You cannot delete yourself".into(),
            });
        }
        self.db.delete_user(user_id).await?;
        self.audit(AuditEvent {
            actor: Some(actor),
            action: AuditAction::UserDelete,
            target: &target.username,
            outcome: AuditOutcome::Success,
            client,
            detail,
        })
        .await
    }

    pub async fn user_by_login(&self, login: &str) -> IdentityResult<User> {
        Ok(self.db.user_by_login(&normalize_login(login)).await?.into())
    }
}

/// The refusal of a change that would leave no enabled admin.
pub(super) fn last_admin() -> IdentityError {
    IdentityError::Invalid {
        field: "role",
        reason: "This is the last enabled admin: make another admin first".into(),
    }
}

pub fn require_admin(actor: &User) -> IdentityResult<()> {
    if actor.is_admin() && !actor.disabled {
        Ok(())
    } else {
        Err(IdentityError::Forbidden)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_emails_passwords_and_pins_are_validated() {
        assert!(validate_username("ada.lovelace").is_ok());
        assert!(validate_username("ada lovelace").is_err());
        assert!(validate_username("ada@x").is_err());
        assert!(validate_email("ada@example.org").is_ok());
        assert!(validate_email("ada@localhost").is_err());
        assert!(validate_email("a@b@c.org").is_err());
        assert!(validate_password("short").is_err());
        assert!(validate_password("long enough!").is_ok());
        assert!(validate_pin("4829", 4).is_ok());
        assert!(validate_pin("4829", 6).is_err());
        assert!(validate_pin("48a916", 6).is_err());
        assert!(validate_pin("482916", 6).is_ok());
        assert!(
            validate_pin("4829164829164", 6).is_err(),
            "more than 12 digits"
        );
    }

    #[test]
    fn trivial_pins_are_the_repeated_and_the_runs() {
        for pin in [
            "000000", "777777", "123456", "654321", "890123", "210987", "1234",
        ] {
            assert!(is_trivial_pin(pin), "{pin}");
            assert!(validate_pin(pin, 4).is_err(), "{pin}");
        }
        for pin in ["482916", "135791", "112233", "121212"] {
            assert!(!is_trivial_pin(pin), "{pin}");
        }
    }
}
