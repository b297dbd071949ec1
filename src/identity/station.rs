//! Proving who you are at a printer: badge, login + PIN, or personal passcode at a
//! release station (the sessions these open are in `station_sessions.rs`), and the
//! personal release credentials themselves: passcodes and linked badges.
//!
//! Badge numbers and passcodes are stored only as keyed hashes (HMAC-SHA-256 with the
//! server's lookup secret): they can be looked up, never read back. Every attempt is
//! audited with the printer it came from and counted, before any check, against the
//! sign-in limits (`limits.rs`): unknown badges, wrong PINs and passcodes all count.

use super::limits::{Attempt, AttemptAudit, Limit};
use super::secrets::{new_pin, verify_secret};
use super::{AuditAction, AuditEvent, AuditOutcome};
use super::{ClientInfo, Identity, IdentityError, IdentityResult, User, normalize_login};
use crate::db::DbError;

const BADGE_PURPOSE: &str = "badge";
const PASSCODE_PURPOSE: &str = "passcode";
/// Digits of a personal release passcode.
pub const PASSCODE_DIGITS: u32 = 8;

/// Where an attempt happened: the printer's name, for the audit log.
#[derive(Debug, Clone, Copy)]
pub struct AtPrinter<'a> {
    pub guid: &'a str,
    pub name: &'a str,
}

/// What a badge swipe found.
#[derive(Debug)]
pub enum BadgeOutcome {
    Known(User),
    /// Known, and the site wants the PIN too (`security.badge_requires_pin`). Carries
    /// the badge's keyed hash (hex) for the PIN step, never the number.
    NeedsPin(String),
    /// Not linked to anyone yet: the station offers to link it with login + PIN.
    /// Carries the badge's keyed hash (hex) for the link step, never the number.
    Unknown(String),
}

impl Identity {
    pub(super) fn badge_hash(&self, badge: &str) -> Vec<u8> {
        self.vault
            .keyed_hash(BADGE_PURPOSE, normalize_badge(badge).as_bytes())
    }

    fn passcode_hash(&self, passcode: &str) -> Vec<u8> {
        self.vault
            .keyed_hash(PASSCODE_PURPOSE, passcode.trim().as_bytes())
    }

    /// A badge swipe at a station. Every swipe counts against the station's limits
    /// before the badge is looked up; an unknown badge stays counted as a failure (card
    /// numbers come from small spaces), a known one is taken back. With
    /// `security.badge_requires_pin` a known badge asks for the PIN next.
    pub async fn badge_login(
        &self,
        badge: &str,
        at: AtPrinter<'_>,
        client: &ClientInfo,
    ) -> IdentityResult<BadgeOutcome> {
        self.badge_swipe(badge, at, client, self.security.badge_requires_pin)
            .await
    }

    async fn badge_swipe(
        &self,
        badge: &str,
        at: AtPrinter<'_>,
        client: &ClientInfo,
        pin_required: bool,
    ) -> IdentityResult<BadgeOutcome> {
        if normalize_badge(badge).is_empty() {
            return Err(IdentityError::Invalid {
                field: "badge",
                reason: "No badge number was read".into(),
            });
        }
        let audit = AttemptAudit {
            actor: "anonymous",
            target: at.name,
            action: AuditAction::StationBadge,
            client,
        };
        let limits = self.station_limits(at.guid, at.name, client).await?;
        let attempt = self.begin_attempt(limits, &audit).await?;
        let hash = self.badge_hash(badge);
        match self.db.user_by_badge(&hash).await {
            Ok(row) => {
                let user: User = row.into();
                if pin_required {
                    // Not yet a sign-in: the PIN decides, under its own limits.
                    self.abandon_attempt(attempt).await?;
                    self.audit(AuditEvent {
                        actor: Some(&user),
                        action: AuditAction::StationBadge,
                        target: at.name,
                        outcome: AuditOutcome::PinRequired,
                        client,
                        detail: &format!("printer {}; PIN asked", at.name),
                    })
                    .await?;
                    return Ok(BadgeOutcome::NeedsPin(hex::encode(hash)));
                }
                self.succeed_at_station(attempt, at, client).await?;
                self.refuse_disabled(&user, AuditAction::StationBadge, client)
                    .await?;
                self.audit(AuditEvent {
                    actor: Some(&user),
                    action: AuditAction::StationBadge,
                    target: at.name,
                    outcome: AuditOutcome::Success,
                    client,
                    detail: &format!("printer {}", at.name),
                })
                .await?;
                Ok(BadgeOutcome::Known(user))
            }
            Err(DbError::NotFound) => {
                self.fail_attempt(
                    attempt,
                    &audit,
                    &format!("unknown badge at printer {}", at.name),
                )
                .await?;
                Ok(BadgeOutcome::Unknown(hex::encode(hash)))
            }
            Err(e) => {
                self.abandon_attempt(attempt).await?;
                Err(e.into())
            }
        }
    }

    /// The PIN after a known badge (`BadgeOutcome::NeedsPin` gave `pending`, the
    /// badge's keyed hash), under the station's limits and the person's PIN limit.
    pub async fn badge_pin_login(
        &self,
        pending: &str,
        pin: &str,
        at: AtPrinter<'_>,
        client: &ClientInfo,
    ) -> IdentityResult<User> {
        let swipe_again = || IdentityError::Invalid {
            field: "badge",
            reason: "Swipe the badge again".into(),
        };
        let hash = hex::decode(pending)
            .ok()
            .filter(|h| h.len() == 32)
            .ok_or_else(swipe_again)?;
        require(pin, "pin", "Enter your PIN")?;
        let row = match self.db.user_by_badge(&hash).await {
            Ok(row) => row,
            Err(DbError::NotFound) => return Err(swipe_again()),
            Err(e) => return Err(e.into()),
        };
        self.pin_check(row, pin, at, client, "badge + PIN").await
    }

    /// A badge and PIN sent together (the device-app API): the PIN is checked whatever
    /// `security.badge_requires_pin` says. An unknown badge is `Unknown`, counted.
    pub async fn badge_with_pin_login(
        &self,
        badge: &str,
        pin: &str,
        at: AtPrinter<'_>,
        client: &ClientInfo,
    ) -> IdentityResult<BadgeOutcome> {
        match self.badge_swipe(badge, at, client, true).await? {
            BadgeOutcome::NeedsPin(pending) => Ok(BadgeOutcome::Known(
                self.badge_pin_login(&pending, pin, at, client).await?,
            )),
            other => Ok(other),
        }
    }

    /// Login (username or e-mail) + PIN at a station. A wrong PIN counts toward the
    /// account's PIN limit (never its password) and the station's limits, and is
    /// audited with the printer.
    pub async fn pin_login(
        &self,
        login: &str,
        pin: &str,
        at: AtPrinter<'_>,
        client: &ClientInfo,
    ) -> IdentityResult<User> {
        // Issue 20: an empty form is not a failed sign-in (nothing counted).
        require(login, "login", "Enter your username or e-mail")?;
        require(pin, "pin", "Enter your PIN")?;
        let typed = normalize_login(login);
        let row = match self.db.user_by_login(&typed).await {
            Ok(row) => Ok(row),
            Err(DbError::NotFound) => Err(typed),
            Err(e) => return Err(e.into()),
        };
        match row {
            Ok(row) => self.pin_check(row, pin, at, client, "login + PIN").await,
            Err(typed) => {
                // No such account: the same limits and work, then no.
                let audit = AttemptAudit {
                    actor: &typed,
                    target: at.name,
                    action: AuditAction::StationPin,
                    client,
                };
                let mut limits = self.station_limits(at.guid, at.name, client).await?;
                limits.push(Limit::Pin(typed.clone()));
                let attempt = self.begin_attempt(limits, &audit).await?;
                let _ = verify_secret(self.cost(), None, pin).await;
                self.fail_attempt(
                    attempt,
                    &audit,
                    &format!("wrong login or PIN at printer {}", at.name),
                )
                .await?;
                Err(IdentityError::InvalidCredentials)
            }
        }
    }

    /// Checks `row`'s PIN under the station's limits and the account's PIN limit.
    async fn pin_check(
        &self,
        row: crate::db::UserRow,
        pin: &str,
        at: AtPrinter<'_>,
        client: &ClientInfo,
        how: &str,
    ) -> IdentityResult<User> {
        let username = row.username.clone();
        let audit = AttemptAudit {
            actor: &username,
            target: at.name,
            action: AuditAction::StationPin,
            client,
        };
        let mut limits = self.station_limits(at.guid, at.name, client).await?;
        limits.push(Limit::Pin(username.clone()));
        let attempt = self.begin_attempt(limits, &audit).await?;
        if !verify_secret(self.cost(), row.pin_hash.clone(), pin).await {
            self.fail_attempt(
                attempt,
                &audit,
                &format!("wrong {how} at printer {}", at.name),
            )
            .await?;
            return Err(IdentityError::InvalidCredentials);
        }
        let user: User = row.into();
        self.succeed_at_station(attempt, at, client).await?;
        self.refuse_disabled(&user, AuditAction::StationPin, client)
            .await?;
        self.audit(AuditEvent {
            actor: Some(&user),
            action: AuditAction::StationPin,
            target: at.name,
            outcome: AuditOutcome::Success,
            client,
            detail: &format!("{how} at printer {}", at.name),
        })
        .await?;
        Ok(user)
    }

    /// A success at a printer: the counters are settled and this address becomes
    /// familiar there (the printer-wide ceiling no longer holds it back).
    pub(super) async fn succeed_at_station(
        &self,
        attempt: Attempt,
        at: AtPrinter<'_>,
        client: &ClientInfo,
    ) -> IdentityResult<()> {
        self.succeed_attempt(attempt).await?;
        self.db
            .record_station_sign_in(at.guid, &client.addr)
            .await?;
        Ok(())
    }

    /// Links an unknown badge (by the hash `badge_login` gave) to the account that
    /// proves itself with login + PIN.
    pub async fn link_badge(
        &self,
        pending: &str,
        login: &str,
        pin: &str,
        at: AtPrinter<'_>,
        client: &ClientInfo,
    ) -> IdentityResult<User> {
        let hash =
            hex::decode(pending)
                .ok()
                .filter(|h| h.len() == 32)
                .ok_or(IdentityError::Invalid {
                    field: "badge",
                    reason: "Swipe the badge again".into(),
                })?;
        let user = self.pin_login(login, pin, at, client).await?;
        match self.db.insert_badge(&hash, user.id).await {
            Ok(()) => {}
            Err(DbError::Conflict(_)) => return Err(IdentityError::Conflict { field: "badge" }),
            Err(e) => return Err(e.into()),
        }
        self.audit(AuditEvent {
            actor: Some(&user),
            action: AuditAction::BadgeLink,
            target: &user.username,
            outcome: AuditOutcome::Success,
            client,
            detail: &format!("linked at printer {}", at.name),
        })
        .await?;
        Ok(user)
    }

    /// A personal passcode alone at a station. The passcode names no account, so
    /// wrong ones count against the station's limits (this address at this printer,
    /// the printer-wide ceiling for unfamiliar addresses, the address).
    pub async fn passcode_login(
        &self,
        passcode: &str,
        at: AtPrinter<'_>,
        client: &ClientInfo,
    ) -> IdentityResult<User> {
        require(passcode, "passcode", "Enter your passcode")?;
        let audit = AttemptAudit {
            actor: "anonymous",
            target: at.name,
            action: AuditAction::StationPasscode,
            client,
        };
        let limits = self.station_limits(at.guid, at.name, client).await?;
        let attempt = self.begin_attempt(limits, &audit).await?;
        match self
            .db
            .user_by_passcode(&self.passcode_hash(passcode))
            .await
        {
            Ok(row) => {
                let user: User = row.into();
                self.succeed_at_station(attempt, at, client).await?;
                self.refuse_disabled(&user, AuditAction::StationPasscode, client)
                    .await?;
                self.audit(AuditEvent {
                    actor: Some(&user),
                    action: AuditAction::StationPasscode,
                    target: at.name,
                    outcome: AuditOutcome::Success,
                    client,
                    detail: &format!("printer {}", at.name),
                })
                .await?;
                Ok(user)
            }
            Err(DbError::NotFound) => {
                self.fail_attempt(
                    attempt,
                    &audit,
                    &format!("wrong passcode at printer {}", at.name),
                )
                .await?;
                Err(IdentityError::InvalidCredentials)
            }
            Err(e) => {
                self.abandon_attempt(attempt).await?;
                Err(e.into())
            }
        }
    }

    /// Makes a new personal passcode for the user (shown once), replacing any old one.
    pub async fn new_passcode(&self, user: &User, client: &ClientInfo) -> IdentityResult<String> {
        for _ in 0..5 {
            let passcode = new_pin(PASSCODE_DIGITS);
            match self
                .db
                .set_passcode_hash(user.id, Some(&self.passcode_hash(&passcode)))
                .await
            {
                Ok(()) => {
                    self.audit(AuditEvent {
                        actor: Some(user),
                        action: AuditAction::UserPasscode,
                        target: &user.username,
                        outcome: AuditOutcome::Success,
                        client,
                        detail: "",
                    })
                    .await?;
                    return Ok(passcode);
                }
                // Another user has this one: draw again.
                Err(DbError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(IdentityError::Internal(
            "could not draw a free passcode".into(),
        ))
    }

    pub async fn has_passcode(&self, user: &User) -> IdentityResult<bool> {
        Ok(self.db.has_passcode(user.id).await?)
    }

    pub async fn badge_count(&self, user: &User) -> IdentityResult<i64> {
        Ok(self.db.count_badges_of(user.id).await?)
    }

    /// The user forgets their badges (a lost card): it must be linked again.
    pub async fn unlink_badges(&self, user: &User, client: &ClientInfo) -> IdentityResult<u64> {
        let n = self.db.delete_badges_of(user.id).await?;
        self.audit(AuditEvent {
            actor: Some(user),
            action: AuditAction::BadgeUnlink,
            target: &user.username,
            outcome: AuditOutcome::Success,
            client,
            detail: &format!("{n} badge(s)"),
        })
        .await?;
        Ok(n)
    }
}

/// Card readers type the number, sometimes with spaces or a leading/trailing marker;
/// digits and letters are what identify the card.
/// An empty field of a sign-in form: said so, before any limit counts it (issue 20:
/// pressing "Sign in" on an empty form is not a wrong PIN).
pub(super) fn require(value: &str, field: &'static str, ask: &str) -> IdentityResult<()> {
    if value.trim().is_empty() {
        return Err(IdentityError::Invalid {
            field,
            reason: ask.into(),
        });
    }
    Ok(())
}

pub fn normalize_badge(badge: &str) -> String {
    badge
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::normalize_badge;

    #[test]
    fn badge_numbers_ignore_separators_and_case() {
        assert_eq!(normalize_badge(" 00-12 ab\n"), "0012AB");
        assert_eq!(normalize_badge(";1234?"), "1234");
        assert_eq!(normalize_badge("  "), "");
    }
}
