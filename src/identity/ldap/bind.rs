//! Signing in with the directory's password: the person's DN (the one the last sync
//! saw, else found with the bind account), then a bind as them. The password is
//! never stored nor logged; a directory that is down or slow fails within the
//! settings' time-out with [`IdentityError::DirectoryUnavailable`], and local accounts
//! never touch the directory.
//!
//! IPP clients send HTTP Basic with every request (a print job is several), so a good
//! bind is remembered for [`BIND_CACHE_SECS`] in memory, keyed by a keyed hash of
//! (username, password): a job is one bind, not many. Nothing of it reaches the disk,
//! a wrong password is never remembered, and the sign-in limits count every attempt
//! before this cache is looked at.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::connect;
use super::settings::{self, DirectorySettings};
use crate::config::LdapSettings;
use crate::db::UserRow;
use crate::identity::limits::{Attempt, AttemptAudit};
use crate::identity::{
    AuditAction, AuditEvent, AuditOutcome, ClientInfo, Identity, IdentityError, IdentityResult,
    User,
};

/// How long a good directory bind is remembered (see the module comment).
pub const BIND_CACHE_SECS: u64 = 60;
/// The cache forgets everything beyond this many entries (a flood of sign-ins).
const BIND_CACHE_MAX: usize = 10_000;
const CACHE_PURPOSE: &str = "ldap-bind-cache";

/// What `Identity` holds of the directory: the settings file's `[ldap]` and the cache
/// of good binds. Shared by every clone of `Identity`.
#[derive(Debug, Default)]
pub struct DirectoryLink {
    pub(super) file: Option<LdapSettings>,
    good_binds: Mutex<HashMap<Vec<u8>, Instant>>,
}

impl DirectoryLink {
    pub fn new(file: &LdapSettings) -> Self {
        Self {
            file: file
                .url
                .as_deref()
                .is_some_and(|u| !u.trim().is_empty())
                .then(|| file.clone()),
            good_binds: Mutex::default(),
        }
    }

    fn remembered(&self, key: &[u8]) -> bool {
        let binds = self.good_binds.lock().unwrap_or_else(|p| p.into_inner());
        binds
            .get(key)
            .is_some_and(|at| at.elapsed() < Duration::from_secs(BIND_CACHE_SECS))
    }

    fn remember(&self, key: Vec<u8>) {
        let mut binds = self.good_binds.lock().unwrap_or_else(|p| p.into_inner());
        if binds.len() >= BIND_CACHE_MAX {
            binds.retain(|_, at| at.elapsed() < Duration::from_secs(BIND_CACHE_SECS));
            if binds.len() >= BIND_CACHE_MAX {
                binds.clear();
            }
        }
        binds.insert(key, Instant::now());
    }

    /// Forgets every remembered bind (settings changed).
    pub fn forget(&self) {
        self.good_binds
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

impl Identity {
    /// The directory settings in force (file, else page), if any.
    pub(crate) async fn directory_settings(
        &self,
    ) -> Result<Option<DirectorySettings>, super::LdapError> {
        settings::effective(self.ldap.file.as_ref(), &self.db, &self.vault).await
    }

    /// `check_password`'s step for an `ldap` person, after the attempt was counted:
    /// whether the directory takes the password. A directory that does not answer
    /// gives the attempt back (it is not a wrong password) and is audited.
    pub(in crate::identity) async fn directory_password_attempt(
        &self,
        row: &UserRow,
        password: &str,
        attempt: Attempt,
        audit: &AttemptAudit<'_>,
    ) -> IdentityResult<(bool, Attempt)> {
        match self.directory_password(row, password, audit.client).await {
            Ok(verified) => Ok((verified, attempt)),
            Err(e) => {
                self.abandon_attempt(attempt).await?;
                if let IdentityError::DirectoryUnavailable(reason) = &e {
                    let user: User = row.clone().into();
                    self.audit(AuditEvent {
                        actor: Some(&user),
                        action: audit.action,
                        target: &row.username,
                        outcome: AuditOutcome::Failure,
                        client: audit.client,
                        detail: &format!("directory unavailable: {reason}"),
                    })
                    .await?;
                }
                Err(e)
            }
        }
    }

    /// Whether `password` is the directory password of this `ldap` person (a good
    /// bind is remembered briefly; see the module comment).
    async fn directory_password(
        &self,
        row: &UserRow,
        password: &str,
        client: &ClientInfo,
    ) -> IdentityResult<bool> {
        let key = self.vault.keyed_hash(
            CACHE_PURPOSE,
            &[row.username.as_bytes(), b"\0", password.as_bytes()].concat(),
        );
        if self.ldap.remembered(&key) {
            return Ok(true);
        }
        let unavailable = |e: super::LdapError| IdentityError::DirectoryUnavailable(e.to_string());
        let Some(s) = self.directory_settings().await.map_err(unavailable)? else {
            return Err(IdentityError::DirectoryUnavailable(
                "no directory is configured".into(),
            ));
        };
        // Each step has the time-out; the whole sign-in gets at most two of them.
        let limit = s.timeout * 2;
        let stored_dn = self.db.ldap_dn_of(row.id).await?;
        let bound =
            tokio::time::timeout(limit, bind_person(&s, &row.username, stored_dn, password))
                .await
                .map_err(|_| super::LdapError::Timeout {
                    step: "sign-in",
                    secs: limit.as_secs(),
                })
                .and_then(|r| r)
                .map_err(unavailable)?;
        if bound {
            self.ldap.remember(key);
            let user: User = row.clone().into();
            self.audit(AuditEvent {
                actor: Some(&user),
                action: AuditAction::DirectorySignIn,
                target: &row.username,
                outcome: AuditOutcome::Success,
                client,
                detail: "bind as the person",
            })
            .await?;
        }
        Ok(bound)
    }
}

/// Binds as the person: the stored DN first; when the directory refuses it (or none
/// is stored) the DN is looked up with the bind account, in case the person moved.
async fn bind_person(
    s: &DirectorySettings,
    username: &str,
    stored_dn: Option<String>,
    password: &str,
) -> Result<bool, super::LdapError> {
    if password.is_empty() {
        return Ok(false);
    }
    let mut ldap = connect::open(s).await?;
    if let Some(dn) = &stored_dn
        && connect::bind(&mut ldap, dn, password, s.timeout).await?
    {
        let _ = ldap.unbind().await;
        return Ok(true);
    }
    let service = s.bind_password.as_ref().map(|p| p.as_str()).unwrap_or("");
    if !connect::bind(&mut ldap, &s.bind_dn, service, s.timeout).await? {
        return Err(super::LdapError::Bind(
            "the directory refused the bind account's DN or password".into(),
        ));
    }
    let found = super::sync::find_dn(&mut ldap, s, username).await?;
    let bound = match found {
        Some(dn) if Some(&dn) != stored_dn.as_ref() => {
            connect::bind(&mut ldap, &dn, password, s.timeout).await?
        }
        _ => false,
    };
    let _ = ldap.unbind().await;
    Ok(bound)
}
