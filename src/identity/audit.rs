//! The audit trail's vocabulary and its one writer: every authentication attempt and
//! every state change is an [`AuditEvent`] with a closed [`AuditAction`] and
//! [`AuditOutcome`], so a misspelt action cannot reach the log.
//!
//! The stored strings (`as_str`) are the contract with existing rows, the tests and
//! the audit page. They follow one scheme, checked by a test: lower-case `area.event`,
//! dots between levels (`discovery.range.add`), underscores inside words. Issue 20
//! renamed the three that did not (`login` → `auth.password`, `device.login` and
//! `device.revoke` → `phone.login` and `phone.revoke`, `printer.use-advertised-uri` →
//! `printer.use_advertised_uri`); migration 0023 rewrote the old rows.

use super::{ClientInfo, Identity, IdentityResult, User};
use crate::db::AuditRecord;

/// Declares the closed action set once, with each variant's stored string beside it.
macro_rules! audit_actions {
    ($($(#[$doc:meta])* $variant:ident => $text:literal,)*) => {
        /// What was done, in the audit log.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum AuditAction {
            $($(#[$doc])* $variant,)*
        }

        impl AuditAction {
            /// Every action, for checks over the whole set.
            pub const ALL: &'static [AuditAction] = &[$(AuditAction::$variant,)*];

            /// The string stored in the `action` column.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(AuditAction::$variant => $text,)*
                }
            }

            /// The action named by its stored string (the audit page's filter).
            pub fn parse(text: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|a| a.as_str() == text)
            }
        }
    };
}

audit_actions! {
    // Signing in and out.
    /// A password tried at the login form (the session it opens is `AuthLogin`).
    Login => "auth.password",
    AuthLogin => "auth.login",
    AuthLogout => "auth.logout",
    AuthBearer => "auth.bearer",
    AuthBasic => "auth.basic",
    AuthAppPassword => "auth.app_password",
    /// A phone signed in for QR release.
    PhoneLogin => "phone.login",
    /// A phone signed out by its owner.
    PhoneRevoke => "phone.revoke",
    SetupCode => "setup.code",
    SetupComplete => "setup.complete",
    // People and their credentials.
    UserCreate => "user.create",
    UserDisable => "user.disable",
    UserEnable => "user.enable",
    UserSetHold => "user.set_hold",
    UserResetPin => "user.reset_pin",
    UserChangePassword => "user.change_password",
    UserSetPassword => "user.set_password",
    UserSetPin => "user.set_pin",
    UserPasscode => "user.passcode",
    UserDelete => "user.delete",
    AppPasswordCreate => "app_password.create",
    AppPasswordRevoke => "app_password.revoke",
    // At a printer.
    StationBadge => "station.badge",
    StationPin => "station.pin",
    StationPasscode => "station.passcode",
    BadgeLink => "badge.link",
    BadgeUnlink => "badge.unlink",
    // Jobs.
    JobCreate => "job.create",
    JobPark => "job.park",
    JobDelete => "job.delete",
    JobAbort => "job.abort",
    JobExpire => "job.expire",
    QueueIdentify => "queue.identify",
    // Printers and releases.
    PrinterAdd => "printer.add",
    PrinterUpdate => "printer.update",
    PrinterDisable => "printer.disable",
    PrinterEnable => "printer.enable",
    PrinterDelete => "printer.delete",
    PrinterUseAdvertisedUri => "printer.use_advertised_uri",
    ReleaseRequest => "release.request",
    ReleaseRefused => "release.refused",
    ReleaseRetry => "release.retry",
    ReleaseConfirmPrinted => "release.confirm_printed",
    ReleasePrinted => "release.printed",
    ReleaseFailed => "release.failed",
    ReleaseNeedsAttention => "release.needs_attention",
    // IPP INFRA output devices and agents.
    OutputDeviceAdd => "output_device.add",
    OutputDeviceRevoke => "output_device.revoke",
    OutputDeviceLogin => "output_device.login",
    AgentEnrolmentCode => "agent.enrolment_code",
    AgentEnrol => "agent.enrol",
    AgentLogin => "agent.login",
    AgentApprove => "agent.approve",
    AgentTrust => "agent.trust",
    AgentSiteKey => "agent.site_key",
    AgentAssign => "agent.assign",
    AgentRevoke => "agent.revoke",
    AgentDeliver => "agent.deliver",
    // SNMP discovery.
    DiscoverySettings => "discovery.settings",
    DiscoveryRangeAdd => "discovery.range.add",
    DiscoveryRangeDelete => "discovery.range.delete",
    DiscoveryCredentialAdd => "discovery.credential.add",
    DiscoveryCredentialDelete => "discovery.credential.delete",
    DiscoveryScan => "discovery.scan",
    DiscoveryCancel => "discovery.cancel",
    // E-mail and "forgot password" (issue 16, mail).
    /// The admin page's mail relay settings saved.
    MailSettings => "mail.settings",
    /// A test message sent from the admin page (outcome: the relay's answer).
    MailTest => "mail.test",
    /// Someone asked for a reset mail (also its background send's failure).
    PasswordResetRequest => "password_reset.request",
    /// A reset link used (or refused: used, expired, unknown).
    PasswordResetUse => "password_reset.use",
    // Issue 16, accounts: an admin edits a person, resets a password, imports people.
    /// Detail: the names of the fields that changed (never a value of a secret).
    UserEdit => "user.edit",
    UserResetPassword => "user.reset_password",
    UserBadgeAdd => "user.badge_add",
    UserBadgeRemove => "user.badge_remove",
    UserImport => "user.import",
    // Single sign-on (issue 16, oidc).
    /// A person signed in through an OpenID provider.
    SsoLogin => "sso.login",
    /// A sign-in through a provider refused; the detail says why.
    SsoRefused => "sso.refused",
    /// A single sign-on session ended at the provider too.
    SsoLogout => "sso.logout",
    SsoProviderAdd => "sso.provider.add",
    SsoProviderUpdate => "sso.provider.update",
    SsoProviderDelete => "sso.provider.delete",
    // Issue 16: LDAP / Active Directory.
    /// The directory's settings saved on the admin page.
    DirectorySettings => "directory.settings",
    DirectoryTest => "directory.test",
    DirectorySyncStart => "directory.sync.start",
    DirectorySyncFinish => "directory.sync.finish",
    /// A person created, updated (or enabled again) or disabled by a sync.
    DirectoryUserCreate => "directory.user.create",
    DirectoryUserUpdate => "directory.user.update",
    DirectoryUserDisable => "directory.user.disable",
    /// A directory person signed in with the directory's password (a bind).
    DirectorySignIn => "directory.sign_in",
    /// Username and password at a release station (the "directory password" way).
    StationPassword => "station.password",
    // Issue 20: the public address set on the first-run or settings page.
    PublicAddress => "settings.public_address",
}

/// How it ended, in the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditOutcome {
    Success,
    /// A wrong secret or a failed step.
    Failure,
    /// Refused before anything was tried (locked, disabled, not allowed).
    Denied,
    /// A known badge that still needs its PIN.
    PinRequired,
    /// An agent's delivery report: printed.
    Printed,
    /// An agent's delivery report: not printed, the job is held again.
    NotPrinted,
    /// Whether it printed is not known (a cut-off delivery).
    Unknown,
}

impl AuditOutcome {
    pub const ALL: &'static [AuditOutcome] = &[
        AuditOutcome::Success,
        AuditOutcome::Failure,
        AuditOutcome::Denied,
        AuditOutcome::PinRequired,
        AuditOutcome::Printed,
        AuditOutcome::NotPrinted,
        AuditOutcome::Unknown,
    ];

    /// The string stored in the `outcome` column.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditOutcome::Success => "success",
            AuditOutcome::Failure => "failure",
            AuditOutcome::Denied => "denied",
            AuditOutcome::PinRequired => "pin_required",
            AuditOutcome::Printed => "printed",
            AuditOutcome::NotPrinted => "not-printed",
            AuditOutcome::Unknown => "unknown",
        }
    }

    /// The outcome named by its stored string (an agent reports its delivery so).
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|o| o.as_str() == text)
    }
}

/// One entry of the audit trail, as the domain modules write it.
#[derive(Debug, Clone, Copy)]
pub struct AuditEvent<'a> {
    /// The signed-in person who acted; `None` is written as `anonymous` (the system,
    /// a device, or someone not signed in).
    pub actor: Option<&'a User>,
    pub action: AuditAction,
    /// What it was done to: a username, a printer, a job id, a range.
    pub target: &'a str,
    pub outcome: AuditOutcome,
    pub client: &'a ClientInfo,
    pub detail: &'a str,
}

impl Identity {
    /// Appends to the audit log. An action whose audit row cannot be written fails.
    pub async fn audit(&self, event: AuditEvent<'_>) -> IdentityResult<()> {
        let actor = event.actor;
        self.db
            .append_audit(&AuditRecord {
                actor_id: actor.map(|u| u.id),
                actor: actor.map(|u| u.username.as_str()).unwrap_or("anonymous"),
                action: event.action.as_str(),
                target: event.target,
                outcome: event.outcome.as_str(),
                client_addr: &event.client.addr,
                detail: event.detail,
            })
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn stored_strings_are_distinct() {
        let actions: HashSet<_> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(actions.len(), AuditAction::ALL.len());
        let outcomes: HashSet<_> = AuditOutcome::ALL.iter().map(|o| o.as_str()).collect();
        assert_eq!(outcomes.len(), AuditOutcome::ALL.len());
    }

    #[test]
    fn action_names_follow_one_scheme() {
        for action in AuditAction::ALL {
            let name = action.as_str();
            let levels: Vec<&str> = name.split('.').collect();
            assert!(levels.len() >= 2, "{name}: area.event");
            for level in levels {
                assert!(
                    !level.is_empty()
                        && level.starts_with(|c: char| c.is_ascii_lowercase())
                        && level.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                    "{name}: lower-case words joined by underscores"
                );
            }
            assert_eq!(AuditAction::parse(name), Some(*action));
        }
        assert_eq!(AuditAction::parse("login"), None);
    }

    #[test]
    fn outcomes_parse_back() {
        for outcome in AuditOutcome::ALL {
            assert_eq!(AuditOutcome::parse(outcome.as_str()), Some(*outcome));
        }
        assert_eq!(AuditOutcome::parse("printed?"), None);
    }
}
