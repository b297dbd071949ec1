//! The sessions a person opens at a printer: a station's, short-lived and bound to
//! that station (also the printer-panel app's), and a phone's (QR release), long-lived
//! and revocable from the account page. Browser sessions are in `login.rs`.

use super::login::{Principal, SessionToken};
use super::secrets::new_token;
use super::{AuditAction, AuditEvent, AuditOutcome};
use super::{ClientInfo, Identity, IdentityError, IdentityResult, User};
use crate::clock::now;
use crate::db::DeviceSessionRow;

/// A station forgets its user this long after the last touch.
pub const STATION_IDLE_SECS: i64 = 90;
/// A station (or device-app) session ends this long after sign-in however it is used.
pub const STATION_MAX_SECS: i64 = 30 * 60;
/// A phone stays signed in at most this long from sign-in, however much it is used
/// (revocable any time; a password or PIN change ends it).
pub const DEVICE_SESSION_SECS: i64 = 90 * 24 * 3600;

impl Identity {
    /// Opens a session of `kind` for a user who just proved themselves (`station`:
    /// short-lived, bound to a station; `device`: a phone, long-lived and revocable).
    pub async fn open_session(
        &self,
        user: &User,
        kind: &str,
        client: &ClientInfo,
    ) -> IdentityResult<SessionToken> {
        let token = new_token();
        let at = now();
        let absolute = match kind {
            "device" => DEVICE_SESSION_SECS,
            "browser" => self.max_browser_secs(),
            _ => STATION_MAX_SECS,
        };
        self.db
            .insert_session_until(
                &self.session_hash(&token),
                user.id,
                kind,
                (at + session_secs(kind), at + absolute),
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
        self.audit(AuditEvent {
            actor: Some(user),
            action: AuditAction::PhoneRevoke,
            target: &user.username,
            outcome: AuditOutcome::Success,
            client,
            detail: "",
        })
        .await
    }
}

fn session_secs(kind: &str) -> i64 {
    match kind {
        "device" => DEVICE_SESSION_SECS,
        _ => STATION_IDLE_SECS,
    }
}
