//! The first run: one admin made once, by whoever holds the setup code the server
//! printed at start. The page is open until the first admin exists and never again
//! (recovery is `printpark admin create-user --admin`); wrong codes are audited and
//! limited; only keyed hashes of codes are stored.

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::people::{validate_email, validate_password, validate_username};
use super::secrets::hash_secret;
use super::{
    AuditAction, AuditEvent, AuditOutcome, ClientInfo, Identity, IdentityError, IdentityResult,
    NewUserRequest, Role, User,
};
use super::{normalize_login, secrets};
use crate::db::{AuditRecord, DbError, NewUser};

/// Name of the file in the data folder that holds this server's setup code.
pub const SETUP_CODE_FILE: &str = "setup-code";
const SETUP_CODE_PURPOSE: &str = "setup-code";
/// Setup-code attempts allowed per window; the code has 100 random bits, so this
/// only keeps a flood out of the audit log and the CPU.
const SETUP_ATTEMPTS: i64 = 10;
const SETUP_WINDOW_SECS: i64 = 600;

/// A setup code as shown to the operator: `xxxxx-xxxxx-xxxxx-xxxxx`.
pub struct SetupCode(Zeroizing<String>);

impl SetupCode {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SetupCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SetupCode(***)")
    }
}

/// What is compared: lower case, without spaces and dashes (people retype it).
fn normalize_code(code: &str) -> Zeroizing<String> {
    Zeroizing::new(
        code.chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .flat_map(char::to_lowercase)
            .collect(),
    )
}

impl Identity {
    fn setup_code_hash(&self, code: &str) -> Vec<u8> {
        self.vault
            .keyed_hash(SETUP_CODE_PURPOSE, normalize_code(code).as_bytes())
    }

    /// True in constant time per stored code when `code` is one of the valid ones.
    async fn setup_code_valid(&self, code: &str) -> IdentityResult<bool> {
        let wanted = self.setup_code_hash(code);
        let stored = self.db.setup_code_hashes().await?;
        let found = stored.iter().fold(subtle::Choice::from(0), |found, hash| {
            found | hash.as_slice().ct_eq(wanted.as_slice())
        });
        Ok(!normalize_code(code).is_empty() && bool::from(found))
    }

    /// True until the first admin exists; once closed, closed for good.
    pub async fn setup_open(&self) -> IdentityResult<bool> {
        Ok(self.db.first_run_open().await?)
    }

    /// The setup code this server prints at start while the first run is open: the
    /// one it `kept` (from its data folder) if still valid, else a new one (the codes
    /// of other servers on the same database stay valid). `None` when the first run
    /// is done.
    pub async fn issue_setup_code(&self, kept: Option<&str>) -> IdentityResult<Option<SetupCode>> {
        if !self.setup_open().await? {
            return Ok(None);
        }
        // A start gives the operator a fresh window of attempts; a stranger who
        // used up the last one cannot restart the server.
        self.db.reset_setup_code_attempts().await?;
        if let Some(kept) = kept
            && self.setup_code_valid(kept).await?
        {
            return Ok(Some(SetupCode(Zeroizing::new(kept.trim().to_owned()))));
        }
        let code = Zeroizing::new(secrets::new_app_password()[3..].to_owned());
        self.db
            .insert_setup_code(&self.setup_code_hash(&code))
            .await?;
        Ok(Some(SetupCode(code)))
    }

    /// Checks a setup code typed on the first-run page. Every attempt is counted
    /// before the check (a right one is given back), so concurrent guesses cannot
    /// slip past the limit; wrong and refused ones are audited.
    pub async fn check_setup_code(&self, code: &str, client: &ClientInfo) -> IdentityResult<()> {
        let (attempts, window_start) = self.db.count_setup_code_attempt(SETUP_WINDOW_SECS).await?;
        if attempts > SETUP_ATTEMPTS {
            let retry_after_secs = (window_start + SETUP_WINDOW_SECS - crate::clock::now())
                .clamp(1, SETUP_WINDOW_SECS);
            self.audit(AuditEvent {
                actor: None,
                action: AuditAction::SetupCode,
                target: "first run",
                outcome: AuditOutcome::Denied,
                client,
                detail: "too many wrong setup codes",
            })
            .await?;
            return Err(IdentityError::Locked { retry_after_secs });
        }
        if self.setup_code_valid(code).await? {
            self.db.refund_setup_code_attempt().await?;
            return Ok(());
        }
        let detail = if code.trim().is_empty() {
            "no setup code"
        } else {
            "wrong setup code"
        };
        self.audit(AuditEvent {
            actor: None,
            action: AuditAction::SetupCode,
            target: "first run",
            outcome: AuditOutcome::Failure,
            client,
            detail,
        })
        .await?;
        Err(IdentityError::Invalid {
            field: "setup code",
            reason: "is not the one this server printed; find it in the server's log or in the file setup-code in its data folder".into(),
        })
    }

    /// Creates the first admin with a setup code, all at once in the database: the
    /// first run closes, every setup code is used up, the admin and the audit rows are
    /// written. `Forbidden` when the first run was already done (or the code went).
    pub async fn complete_first_run(
        &self,
        request: &NewUserRequest,
        code: &str,
        client: &ClientInfo,
    ) -> IdentityResult<User> {
        let username = normalize_login(&request.username);
        let email = normalize_login(&request.email);
        validate_username(&username)?;
        validate_email(&email)?;
        let Some(password) = &request.password else {
            return Err(IdentityError::Invalid {
                field: "password",
                reason: "is required".into(),
            });
        };
        validate_password(password)?;
        let hash = hash_secret(self.cost(), password).await?;
        let role = Role::Admin.as_str();
        let audit = [
            AuditRecord {
                action: AuditAction::UserCreate.as_str(),
                target: &username,
                outcome: AuditOutcome::Success.as_str(),
                client_addr: &client.addr,
                detail: role,
                ..Default::default()
            },
            AuditRecord {
                action: AuditAction::SetupComplete.as_str(),
                target: "first run",
                outcome: AuditOutcome::Success.as_str(),
                client_addr: &client.addr,
                detail: "first admin created with the setup code",
                ..Default::default()
            },
        ];
        let row = self
            .db
            .complete_first_run(
                &self.setup_code_hash(code),
                &NewUser {
                    username: &username,
                    email: &email,
                    name: request.name.trim(),
                    department: request.department.trim(),
                    role,
                    password_hash: Some(hash.as_str()),
                },
                &audit,
            )
            .await
            .map_err(|e| match e {
                DbError::NotFound => IdentityError::Forbidden,
                DbError::Conflict(c) if c.contains("email") => {
                    IdentityError::Conflict { field: "email" }
                }
                DbError::Conflict(_) => IdentityError::Conflict {
                    field: "username or email",
                },
                other => other.into(),
            })?;
        Ok(row.into())
    }
}

#[cfg(test)]
mod tests {
    use super::normalize_code;

    #[test]
    fn codes_compare_without_case_spaces_or_dashes() {
        assert_eq!(
            normalize_code(" AbCde-fghij klmno-pqrst\n").as_str(),
            "abcdefghijklmnopqrst"
        );
    }
}
