//! The user directory: creating people, changing their credentials, disabling and
//! deleting them. Every change is audited with the admin who made it.

use super::secrets::{hash_secret, new_pin, verify_secret};
use super::{ClientInfo, Identity, IdentityError, IdentityResult, Role, User, normalize_login};
use crate::db::{DbError, NewUser};

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

pub fn validate_pin(pin: &str) -> IdentityResult<()> {
    if (4..=8).contains(&pin.len()) && pin.chars().all(|c| c.is_ascii_digit()) {
        Ok(())
    } else {
        Err(IdentityError::Invalid {
            field: "pin",
            reason: "use 4 to 8 digits".into(),
        })
    }
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
        self.audit(
            actor,
            "user.create",
            &user.username,
            "success",
            client,
            role.as_str(),
        )
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
            UserUpdate::Disable => (true, "user.disable"),
            UserUpdate::Enable => (false, "user.enable"),
        };
        if disabled && target.id == actor.id {
            return Err(IdentityError::Invalid {
                field: "user",
                reason: "you cannot disable yourself".into(),
            });
        }
        self.db.set_user_disabled(user_id, disabled).await?;
        if disabled {
            self.db.delete_sessions_of(user_id).await?;
        }
        self.audit(Some(actor), action, &target.username, "success", client, "")
            .await?;
        self.user(user_id).await
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
        self.audit(
            Some(actor),
            "user.set_hold",
            &target.username,
            "success",
            client,
            &detail,
        )
        .await?;
        self.user(user_id).await
    }

    /// Sets a fresh random 6-digit PIN and returns it once, for the admin to hand over.
    pub async fn reset_pin(
        &self,
        actor: &User,
        user_id: i64,
        client: &ClientInfo,
    ) -> IdentityResult<String> {
        require_admin(actor)?;
        let target = self.user(user_id).await?;
        let pin = new_pin(6);
        let hash = hash_secret(self.cost(), &pin).await?;
        self.db.set_pin_hash(user_id, Some(&hash)).await?;
        self.audit(
            Some(actor),
            "user.reset_pin",
            &target.username,
            "success",
            client,
            "",
        )
        .await?;
        Ok(pin)
    }

    /// A user changes their own password, proving the current one.
    pub async fn change_password(
        &self,
        user: &User,
        current: &str,
        new: &str,
        client: &ClientInfo,
    ) -> IdentityResult<()> {
        let row = self.db.user_by_id(user.id).await?;
        if !verify_secret(self.cost(), row.password_hash, current).await {
            self.audit(
                Some(user),
                "user.change_password",
                &user.username,
                "failure",
                client,
                "wrong current password",
            )
            .await?;
            return Err(IdentityError::InvalidCredentials);
        }
        validate_password(new)?;
        let hash = hash_secret(self.cost(), new).await?;
        self.db.set_password_hash(user.id, &hash).await?;
        self.audit(
            Some(user),
            "user.change_password",
            &user.username,
            "success",
            client,
            "",
        )
        .await
    }

    /// An admin sets someone's password (e.g. from the CLI).
    pub async fn set_password(
        &self,
        actor: Option<&User>,
        user_id: i64,
        new: &str,
        client: &ClientInfo,
    ) -> IdentityResult<()> {
        validate_password(new)?;
        let target = self.user(user_id).await?;
        let hash = hash_secret(self.cost(), new).await?;
        self.db.set_password_hash(user_id, &hash).await?;
        self.audit(
            actor,
            "user.set_password",
            &target.username,
            "success",
            client,
            "",
        )
        .await
    }

    /// A user sets their own PIN (for release at the printer), proving their password.
    pub async fn set_own_pin(
        &self,
        user: &User,
        password: &str,
        pin: &str,
        client: &ClientInfo,
    ) -> IdentityResult<()> {
        let row = self.db.user_by_id(user.id).await?;
        if !verify_secret(self.cost(), row.password_hash, password).await {
            self.audit(
                Some(user),
                "user.set_pin",
                &user.username,
                "failure",
                client,
                "wrong password",
            )
            .await?;
            return Err(IdentityError::InvalidCredentials);
        }
        validate_pin(pin)?;
        let hash = hash_secret(self.cost(), pin).await?;
        self.db.set_pin_hash(user.id, Some(&hash)).await?;
        self.audit(
            Some(user),
            "user.set_pin",
            &user.username,
            "success",
            client,
            "",
        )
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
                reason: "you cannot delete yourself".into(),
            });
        }
        self.db.delete_user(user_id).await?;
        self.audit(
            Some(actor),
            "user.delete",
            &target.username,
            "success",
            client,
            detail,
        )
        .await
    }

    pub async fn user_by_login(&self, login: &str) -> IdentityResult<User> {
        Ok(self.db.user_by_login(&normalize_login(login)).await?.into())
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
        assert!(validate_pin("1234").is_ok());
        assert!(validate_pin("12a4").is_err());
        assert!(validate_pin("123").is_err());
    }
}
