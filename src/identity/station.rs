//! Proving who you are at a printer: badge, login + PIN, or personal passcode at a
//! release station, and a long-lived, revocable session on a phone (QR release).
//!
//! Badge numbers and passcodes are stored only as keyed hashes (HMAC-SHA-256 with the
//! server's lookup secret): they can be looked up, never read back. Every attempt is
//! audited with the printer it came from; wrong PINs and passcodes count toward lockout.

use super::login::{Principal, SessionToken};
use super::secrets::{new_pin, new_token, verify_secret};
use super::{ClientInfo, Identity, IdentityError, IdentityResult, User, normalize_login};
use crate::db::{DbError, DeviceSessionRow, now};

const BADGE_PURPOSE: &str = "badge";
const PASSCODE_PURPOSE: &str = "passcode";
/// A station forgets its user this long after the last touch.
pub const STATION_IDLE_SECS: i64 = 90;
/// A phone stays signed in this long after its last use (revocable any time).
pub const DEVICE_SESSION_SECS: i64 = 90 * 24 * 3600;
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
    /// Not linked to anyone yet: the station offers to link it with login + PIN.
    /// Carries the badge's keyed hash (hex) for the link step, never the number.
    Unknown(String),
}

impl Identity {
    fn badge_hash(&self, badge: &str) -> Vec<u8> {
        self.vault
            .keyed_hash(BADGE_PURPOSE, normalize_badge(badge).as_bytes())
    }

    fn passcode_hash(&self, passcode: &str) -> Vec<u8> {
        self.vault
            .keyed_hash(PASSCODE_PURPOSE, passcode.trim().as_bytes())
    }

    /// A badge swipe at a station.
    pub async fn badge_login(
        &self,
        badge: &str,
        at: AtPrinter<'_>,
        client: &ClientInfo,
    ) -> IdentityResult<BadgeOutcome> {
        if normalize_badge(badge).is_empty() {
            return Err(IdentityError::Invalid {
                field: "badge",
                reason: "no badge number was read".into(),
            });
        }
        // Unknown badges are throttled like a wrong secret per station, so typing
        // badge numbers at a station cannot enumerate them.
        let station_key = format!("station:{}", at.guid);
        self.refuse_if_locked(&station_key, client, "station.badge")
            .await?;
        match self.db.user_by_badge(&self.badge_hash(badge)).await {
            Ok(row) => {
                let user: User = row.into();
                self.refuse_disabled(&user, "station.badge", client).await?;
                self.audit(
                    Some(&user),
                    "station.badge",
                    at.name,
                    "success",
                    client,
                    &format!("printer {}", at.name),
                )
                .await?;
                Ok(BadgeOutcome::Known(user))
            }
            Err(DbError::NotFound) => {
                self.audit(
                    None,
                    "station.badge",
                    at.name,
                    "unknown",
                    client,
                    &format!("unknown badge at printer {}", at.name),
                )
                .await?;
                Ok(BadgeOutcome::Unknown(hex::encode(self.badge_hash(badge))))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Login (username or e-mail) + PIN at a station. A wrong PIN counts toward the
    /// account's lockout and is audited with the printer.
    pub async fn pin_login(
        &self,
        login: &str,
        pin: &str,
        at: AtPrinter<'_>,
        client: &ClientInfo,
    ) -> IdentityResult<User> {
        let typed = normalize_login(login);
        let row = match self.db.user_by_login(&typed).await {
            Ok(row) => Some(row),
            Err(DbError::NotFound) => None,
            Err(e) => return Err(e.into()),
        };
        let key = row.as_ref().map(|r| r.username.clone()).unwrap_or(typed);
        self.refuse_if_locked(&key, client, "station.pin").await?;
        let stored = row.as_ref().and_then(|r| r.pin_hash.clone());
        if !verify_secret(self.cost(), stored, pin).await {
            self.record_failure(
                &key,
                client,
                "station.pin",
                &format!("wrong login or PIN at printer {}", at.name),
            )
            .await?;
            return Err(IdentityError::InvalidCredentials);
        }
        let user: User = row.ok_or(IdentityError::InvalidCredentials)?.into();
        self.refuse_disabled(&user, "station.pin", client).await?;
        self.db.clear_login_failures(&key).await?;
        self.audit(
            Some(&user),
            "station.pin",
            at.name,
            "success",
            client,
            &format!("printer {}", at.name),
        )
        .await?;
        Ok(user)
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
                    reason: "swipe the badge again".into(),
                })?;
        let user = self.pin_login(login, pin, at, client).await?;
        match self.db.insert_badge(&hash, user.id).await {
            Ok(()) => {}
            Err(DbError::Conflict(_)) => return Err(IdentityError::Conflict { field: "badge" }),
            Err(e) => return Err(e.into()),
        }
        self.audit(
            Some(&user),
            "badge.link",
            &user.username,
            "success",
            client,
            &format!("linked at printer {}", at.name),
        )
        .await?;
        Ok(user)
    }

    /// A personal passcode alone at a station. Wrong ones count toward the station's
    /// lockout (the passcode names no account).
    pub async fn passcode_login(
        &self,
        passcode: &str,
        at: AtPrinter<'_>,
        client: &ClientInfo,
    ) -> IdentityResult<User> {
        let station_key = format!("station:{}", at.guid);
        self.refuse_if_locked(&station_key, client, "station.passcode")
            .await?;
        match self
            .db
            .user_by_passcode(&self.passcode_hash(passcode))
            .await
        {
            Ok(row) => {
                let user: User = row.into();
                self.refuse_disabled(&user, "station.passcode", client)
                    .await?;
                self.audit(
                    Some(&user),
                    "station.passcode",
                    at.name,
                    "success",
                    client,
                    &format!("printer {}", at.name),
                )
                .await?;
                Ok(user)
            }
            Err(DbError::NotFound) => {
                self.record_failure(
                    &station_key,
                    client,
                    "station.passcode",
                    &format!("wrong passcode at printer {}", at.name),
                )
                .await?;
                Err(IdentityError::InvalidCredentials)
            }
            Err(e) => Err(e.into()),
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
                    self.audit(
                        Some(user),
                        "user.passcode",
                        &user.username,
                        "success",
                        client,
                        "",
                    )
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
        self.audit(
            Some(user),
            "badge.unlink",
            &user.username,
            "success",
            client,
            &format!("{n} badge(s)"),
        )
        .await?;
        Ok(n)
    }

    /// Opens a session of `kind` for a user who just proved themselves (`station`:
    /// short-lived, bound to a station; `device`: a phone, long-lived and revocable).
    pub async fn open_session(
        &self,
        user: &User,
        kind: &str,
        client: &ClientInfo,
    ) -> IdentityResult<SessionToken> {
        let token = new_token();
        let secs = session_secs(kind);
        self.db
            .insert_session(
                &self.session_hash(&token),
                user.id,
                kind,
                now() + secs,
                &client.addr,
                &client.user_agent,
            )
            .await?;
        Ok(SessionToken(token))
    }

    /// The user of a station or phone session.
    pub async fn session_of(&self, token: &SessionToken, kind: &str) -> IdentityResult<Principal> {
        self.session_user_of_kind(token, kind, session_secs(kind))
            .await
    }

    /// Ends a station or phone session (logout after printing, or idle).
    pub async fn end_session(&self, token: &SessionToken) -> IdentityResult<()> {
        Ok(self.db.delete_session(&self.session_hash(&token.0)).await?)
    }

    /// The user's signed-in phones.
    pub async fn devices(&self, user: &User) -> IdentityResult<Vec<DeviceSessionRow>> {
        Ok(self.db.sessions_of_kind(user.id, "device").await?)
    }

    /// Signs a phone out; `handle` is the hex of its session's keyed hash, as listed.
    pub async fn revoke_device(
        &self,
        user: &User,
        handle: &str,
        client: &ClientInfo,
    ) -> IdentityResult<()> {
        let hash = hex::decode(handle).map_err(|_| IdentityError::NotFound)?;
        self.db.delete_session_of(user.id, "device", &hash).await?;
        self.audit(
            Some(user),
            "device.revoke",
            &user.username,
            "success",
            client,
            "",
        )
        .await
    }
}

fn session_secs(kind: &str) -> i64 {
    match kind {
        "device" => DEVICE_SESSION_SECS,
        _ => STATION_IDLE_SECS,
    }
}

/// Card readers type the number, sometimes with spaces or a leading/trailing marker;
/// digits and letters are what identify the card.
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
