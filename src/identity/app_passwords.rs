//! App passwords: one per device (phone, laptop), shown once, revocable. They work as
//! the password of HTTP Basic (IPP printing) and as API bearer tokens.

use super::secrets::new_app_password;
use super::{
    AuditAction, AuditEvent, AuditOutcome, ClientInfo, Identity, IdentityError, IdentityResult,
    User,
};
use crate::db::AppPasswordRow;

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
}
