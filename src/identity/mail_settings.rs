//! The admin's side of e-mail: saving the relay settings of the admin page and sending
//! a test message, each audited (this room keeps the audit trail; `mail` sits below it).

use super::people::require_admin;
use super::{
    AuditAction, AuditEvent, AuditOutcome, ClientInfo, Identity, IdentityError, IdentityResult,
    User,
};
use crate::mail::{MailError, Mailer, OutgoingMail, PageSettings};

/// What the relay made of a test message: sent, or why not (shown to the admin).
pub type TestMailOutcome = Result<(), MailError>;

impl Identity {
    /// Saves the page's relay settings (an admin only; refused while `[smtp]` is in
    /// the settings file); audited without any secret.
    pub async fn save_mail_settings(
        &self,
        admin: &User,
        mailer: &Mailer,
        settings: &PageSettings,
        client: &ClientInfo,
    ) -> IdentityResult<()> {
        require_admin(admin)?;
        let summary = mailer
            .save_page_settings(settings)
            .await
            .map_err(mail_problem)?;
        self.audit(AuditEvent {
            actor: Some(admin),
            action: AuditAction::MailSettings,
            target: "smtp",
            outcome: AuditOutcome::Success,
            client,
            detail: &summary,
        })
        .await
    }

    /// Sends a test message to `to` and waits for the relay's answer; audited with it.
    /// The outer error is this server's (not allowed, database); the inner result is
    /// what happened at the relay.
    pub async fn send_test_mail(
        &self,
        admin: &User,
        mailer: &Mailer,
        to: &str,
        client: &ClientInfo,
    ) -> IdentityResult<TestMailOutcome> {
        require_admin(admin)?;
        let to = to.trim();
        let mail = OutgoingMail::text(
            to,
            "PrintPark test message",
            format!(
                "This is a test message from PrintPark, sent by {} from the E-mail settings page.\n\n\
                 If you can read it, PrintPark can send password reset links.\n",
                admin.username
            ),
        );
        let outcome = mailer.send(&mail).await;
        let detail = match &outcome {
            Ok(()) => "sent".to_owned(),
            Err(e) => e.to_string(),
        };
        self.audit(AuditEvent {
            actor: Some(admin),
            action: AuditAction::MailTest,
            target: to,
            outcome: if outcome.is_ok() {
                AuditOutcome::Success
            } else {
                AuditOutcome::Failure
            },
            client,
            detail: &detail,
        })
        .await?;
        Ok(outcome)
    }
}

/// A refused setting is the admin's to correct; storage failures stay this server's.
fn mail_problem(error: MailError) -> IdentityError {
    match error {
        MailError::Db(e) => e.into(),
        MailError::Vault(e) => IdentityError::Vault(e),
        other => IdentityError::Invalid {
            field: "e-mail settings",
            reason: other.to_string(),
        },
    }
}
