//! The station's "directory password" way (issue 16): username (or e-mail) and
//! password at a release station. A directory person's password is checked by a bind
//! (`ldap/bind.rs`), a local person's against their hash. Every attempt counts, before
//! any check, against the station's limits (as a PIN does) and the account's password
//! limit, and is audited with the printer.

use super::limits::{AttemptAudit, Limit};
use super::secrets::verify_secret;
use super::station::AtPrinter;
use super::{
    AuditAction, AuditEvent, AuditOutcome, ClientInfo, Identity, IdentityError, IdentityResult,
    User, normalize_login,
};
use crate::db::DbError;

impl Identity {
    /// Login (username or e-mail) and password at a station.
    pub async fn station_password_login(
        &self,
        login: &str,
        password: &str,
        at: AtPrinter<'_>,
        client: &ClientInfo,
    ) -> IdentityResult<User> {
        // Issue 20: an empty form is not a failed sign-in.
        super::station::require(login, "login", "Enter your username or e-mail")?;
        super::station::require(password, "password", "Enter your password")?;
        let typed = normalize_login(login);
        let row = match self.db.user_by_login(&typed).await {
            Ok(row) => Some(row),
            Err(DbError::NotFound) => None,
            Err(e) => return Err(e.into()),
        };
        let login = row.as_ref().map(|r| r.username.clone()).unwrap_or(typed);
        let audit = AttemptAudit {
            actor: &login,
            target: at.name,
            action: AuditAction::StationPassword,
            client,
        };
        let mut limits = self.station_limits(at.guid, at.name, client).await?;
        limits.push(Limit::Password(login.clone()));
        let attempt = self.begin_attempt(limits, &audit).await?;
        let (verified, attempt) = match row.as_ref().filter(|r| r.source == "ldap") {
            Some(r) => {
                self.directory_password_attempt(r, password, attempt, &audit)
                    .await?
            }
            None => {
                // Unknown logins spend the same work on a dummy hash.
                let stored = row.as_ref().and_then(|r| r.password_hash.clone());
                (verify_secret(self.cost(), stored, password).await, attempt)
            }
        };
        let user: User = match row {
            Some(row) if verified => row.into(),
            _ => {
                self.fail_attempt(
                    attempt,
                    &audit,
                    &format!("wrong login or password at printer {}", at.name),
                )
                .await?;
                return Err(IdentityError::InvalidCredentials);
            }
        };
        self.succeed_at_station(attempt, at, client).await?;
        self.refuse_disabled(&user, AuditAction::StationPassword, client)
            .await?;
        self.audit(AuditEvent {
            actor: Some(&user),
            action: AuditAction::StationPassword,
            target: at.name,
            outcome: AuditOutcome::Success,
            client,
            detail: &format!("login + password at printer {}", at.name),
        })
        .await?;
        Ok(user)
    }
}
