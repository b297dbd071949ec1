//! Sign-in limits: every attempt to prove a secret counts, before the secret is
//! checked, against a few counters at once, and is refused (429, audited) while any
//! of them is locked.
//!
//! - the account, per kind of credential and per way in ([`Channel`]): a password at
//!   the login form (and changing a credential), on a phone, and from a printing client
//!   (HTTP Basic: IPP, agents) count separately, and so do PINs (stations, device
//!   apps), so a laptop retrying a stale password never locks the person's browser or
//!   phone, and wrong PINs never lock someone's password or IPP printing;
//! - the source address, over every account and way in (password spraying, badge
//!   guessing over many stations);
//! - at a printer: the printer seen from one address (a stranger elsewhere does not
//!   lock the person standing at it), and a printer-wide ceiling for addresses that
//!   have not signed anyone in there lately, which the station's own tablet or device
//!   app, once it has, does not feel.
//!
//! Attempts are reserved before the check and failures plus attempts in flight never
//! pass a threshold (a burst waits for the outcome of those in flight). A success
//! clears the counters that are the prover's own (account, printer from this address)
//! and only gives its reservation back to the shared ones (address, printer-wide), so a
//! person with a valid account cannot wipe a sprayer's count.
//!
//! A client's retries are not new guesses: a wrong password is remembered for a few
//! seconds as a keyed hash of (way in, address, account, stored credential, secret) —
//! never the secret — and the same one again from the same address in that time is
//! answered as wrong without counting or checking it again (issue 20). Different
//! wrong passwords all count.

use super::{AuditAction, AuditOutcome, ClientInfo, Identity, IdentityError, IdentityResult};
use crate::clock::now;
use crate::db::{AuditRecord, LockRule, Reservation};

/// An address that signed someone in at a printer this recently is that printer's own
/// (its station tablet, its device app) and is not held back by the ceiling.
pub const STATION_FAMILIAR_SECS: i64 = 30 * 24 * 3600;

/// How a password reaches the server: each way has its own account counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Channel {
    /// The login form, a station's username + password, changing a credential.
    Browser,
    /// A phone signing in for QR release.
    Phone,
    /// HTTP Basic: a printing client (IPP), an agent, a panel.
    Printing,
}

impl Channel {
    /// The way in of a password check, from what it is audited as.
    pub(super) fn of(action: AuditAction) -> Self {
        match action {
            AuditAction::PhoneLogin => Channel::Phone,
            AuditAction::AuthBasic => Channel::Printing,
            _ => Channel::Browser,
        }
    }

    /// The account's password counter for this way in.
    pub(super) fn limit(self, login: &str) -> Limit {
        match self {
            Channel::Browser => Limit::Password(login.to_owned()),
            Channel::Phone => Limit::PhonePassword(login.to_owned()),
            Channel::Printing => Limit::PrintingPassword(login.to_owned()),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Channel::Browser => "browser",
            Channel::Phone => "phone",
            Channel::Printing => "printing",
        }
    }
}

/// The keys of an account's password counters on every way in (an admin's password
/// reset clears them all).
pub(super) fn password_limit_keys(login: &str) -> Vec<String> {
    [Channel::Browser, Channel::Phone, Channel::Printing]
        .into_iter()
        .map(|c| c.limit(login).key())
        .collect()
}

/// A wrong credential as remembered for a few seconds: a keyed hash, never the secret.
pub(super) struct Repeat(String);

/// The same wrong credential from the same address within this many seconds is a
/// client's retry (CUPS, Windows and phones resend after a 401), counted once.
pub const REPEAT_WINDOW_SECS: i64 = 10;
const REPEAT_PURPOSE: &str = "sign-in-repeat";

/// A counter a sign-in attempt counts against.
#[derive(Debug, Clone)]
pub(super) enum Limit {
    /// An account's password at the login form (or an unknown login, so lockout does
    /// not reveal accounts).
    Password(String),
    /// An account's password on a phone.
    PhonePassword(String),
    /// An account's password from a printing client (HTTP Basic).
    PrintingPassword(String),
    /// An account's PIN.
    Pin(String),
    /// Every sign-in from one source address.
    Address(String),
    /// One printer, from one address.
    StationAddress {
        guid: String,
        name: String,
        addr: String,
    },
    /// One printer, from addresses that have not signed anyone in there lately.
    Station { guid: String, name: String },
}

impl Limit {
    fn key(&self) -> String {
        match self {
            Limit::Password(login) => format!("password:{login}"),
            Limit::PhonePassword(login) => format!("phone:{login}"),
            Limit::PrintingPassword(login) => format!("printing:{login}"),
            Limit::Pin(login) => format!("pin:{login}"),
            Limit::Address(addr) => format!("address:{addr}"),
            Limit::StationAddress { guid, addr, .. } => format!("station:{guid}:{addr}"),
            Limit::Station { guid, .. } => format!("station:{guid}"),
        }
    }

    /// Cleared by a success (the prover's own), rather than given one attempt back.
    fn personal(&self) -> bool {
        !matches!(self, Limit::Address(_) | Limit::Station { .. })
    }

    /// What the audit log says when this limit refuses an attempt.
    fn refusal(&self) -> String {
        match self {
            // Kept word for word: the sign-in lockout has always been audited so.
            Limit::Password(_) => "locked out".into(),
            Limit::PhonePassword(_) => "locked out (phone)".into(),
            Limit::PrintingPassword(_) => "locked out (printing)".into(),
            Limit::Pin(_) => "locked out (PIN)".into(),
            Limit::Address(addr) => {
                format!("locked out: too many failed sign-ins from {addr}")
            }
            Limit::StationAddress { name, addr, .. } => {
                format!("locked out: too many failed sign-ins at printer {name} from {addr}")
            }
            Limit::Station { name, .. } => format!(
                "locked out: too many failed sign-ins at printer {name} from unfamiliar addresses"
            ),
        }
    }

    fn label(&self) -> String {
        match self {
            Limit::Password(_) => "password".into(),
            Limit::PhonePassword(_) => "phone password".into(),
            Limit::PrintingPassword(_) => "printing password".into(),
            Limit::Pin(_) => "PIN".into(),
            Limit::Address(addr) => format!("address {addr}"),
            Limit::StationAddress { name, addr, .. } => format!("printer {name} from {addr}"),
            Limit::Station { name, .. } => format!("printer {name}"),
        }
    }
}

/// Who an attempt's audit rows name.
pub(super) struct AttemptAudit<'a> {
    /// The login typed (or `anonymous` at a station before anyone is known).
    pub actor: &'a str,
    /// The account, or the printer's name at a station.
    pub target: &'a str,
    pub action: AuditAction,
    pub client: &'a ClientInfo,
}

/// The attempts reserved for one sign-in, most specific limit last.
#[must_use = "an attempt ends as failed, succeeded or abandoned"]
pub(super) struct Attempt {
    reserved: Vec<(Limit, LockRule)>,
    /// The credential tried, when a retry of it should not count again.
    repeat: Option<Repeat>,
}

impl Attempt {
    /// Remembers the credential tried, so its failure counts once for its retries.
    pub(super) fn repeating(mut self, repeat: Repeat) -> Self {
        self.repeat = Some(repeat);
        self
    }
}

/// A person's own counters forget failures a day after the last (as the stale sweep).
const PERSONAL_WINDOW_SECS: i64 = 24 * 3600;
/// Shared counters (address, printer-wide) forget them after a quiet quarter hour.
const SHARED_WINDOW_SECS: i64 = 15 * 60;

/// While as many attempts as may still fail are being checked, a new one waits for
/// them this long at most (doubling pauses from the first), then is refused.
const BUSY_FIRST_PAUSE_MS: u64 = 20;
const BUSY_WAIT_MS: u64 = 3000;

impl Identity {
    fn rule_for(&self, limit: &Limit) -> LockRule {
        let threshold = match limit {
            Limit::Address(_) => self.security.lockout_threshold_per_address,
            Limit::Station { .. } => self.security.lockout_threshold_per_station,
            _ => self.security.lockout_threshold,
        };
        // Shared counters (an office behind one address, a busy printer) forget their
        // failures after a quiet quarter of an hour, or typos would add up over a day
        // into a lock; a person's own counters count failures in a row.
        let window_secs = if limit.personal() {
            PERSONAL_WINDOW_SECS
        } else {
            SHARED_WINDOW_SECS
        };
        LockRule {
            threshold: i64::from(threshold),
            base_secs: i64::try_from(self.security.lockout_base_seconds).unwrap_or(i64::MAX),
            max_secs: i64::try_from(self.security.lockout_max_seconds).unwrap_or(i64::MAX),
            window_secs,
        }
    }

    /// The limits of an attempt at a printer: the address, the printer-wide ceiling
    /// (unless this address is the printer's own), the printer from this address.
    pub(super) async fn station_limits(
        &self,
        guid: &str,
        name: &str,
        client: &ClientInfo,
    ) -> IdentityResult<Vec<Limit>> {
        let mut limits = vec![Limit::Address(client.addr.clone())];
        let familiar = self
            .db
            .signed_in_at_station_since(guid, &client.addr, now() - STATION_FAMILIAR_SECS)
            .await?;
        if !familiar {
            limits.push(Limit::Station {
                guid: guid.to_owned(),
                name: name.to_owned(),
            });
        }
        limits.push(Limit::StationAddress {
            guid: guid.to_owned(),
            name: name.to_owned(),
            addr: client.addr.clone(),
        });
        Ok(limits)
    }

    /// Reserves the attempt against every limit, or refuses it (audited, nothing left
    /// reserved) when one is locked. While a limit has as many attempts in flight as
    /// may still fail, this one waits for their outcome (a burst queues; it does not
    /// get evaluated beside them).
    pub(super) async fn begin_attempt(
        &self,
        limits: Vec<Limit>,
        audit: &AttemptAudit<'_>,
    ) -> IdentityResult<Attempt> {
        let mut attempt = Attempt {
            reserved: Vec::with_capacity(limits.len()),
            repeat: None,
        };
        for limit in limits {
            let rule = self.rule_for(&limit);
            let key = limit.key();
            let mut pause = BUSY_FIRST_PAUSE_MS;
            let mut waited = 0;
            let refusal = loop {
                match self.db.reserve_sign_in_attempt(&key, rule).await? {
                    Reservation::Allowed => break None,
                    Reservation::Locked { locked_until } => break Some(locked_until - now()),
                    Reservation::Busy if waited >= BUSY_WAIT_MS => break Some(1),
                    Reservation::Busy => {
                        tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                        waited += pause;
                        pause = (pause * 2).min(400);
                    }
                }
            };
            match refusal {
                None => attempt.reserved.push((limit, rule)),
                Some(left) => {
                    self.abandon_attempt(attempt).await?;
                    self.audit_attempt(audit, AuditOutcome::Denied, &limit.refusal())
                        .await?;
                    metrics::counter!("printpark_sign_in_refused_total").increment(1);
                    return Err(IdentityError::Locked {
                        retry_after_secs: left.max(1),
                    });
                }
            }
        }
        Ok(attempt)
    }

    /// The secret was wrong: every reservation becomes a failure (locking from the
    /// threshold on). Audits it with the count of the most specific limit and any lock.
    pub(super) async fn fail_attempt(
        &self,
        attempt: Attempt,
        audit: &AttemptAudit<'_>,
        reason: &str,
    ) -> IdentityResult<()> {
        if let Some(repeat) = &attempt.repeat {
            // Several copies of one request checked side by side: the first to fail
            // counts, the others only give their reservations back.
            if !self
                .db
                .note_failed_secret(&repeat.0, REPEAT_WINDOW_SECS)
                .await?
            {
                self.abandon_attempt(attempt).await?;
                return self.audit_repeat(audit, reason).await;
            }
        }
        let last = attempt.reserved.len().saturating_sub(1);
        let mut count = 0;
        let mut locks = String::new();
        for (i, (limit, rule)) in attempt.reserved.iter().enumerate() {
            let failure = self.db.fail_sign_in_attempt(&limit.key(), *rule).await?;
            let locked = failure.locked_until > 0;
            let secs = rule.lock_secs(failure.failures);
            if i == last {
                count = failure.failures;
                if locked {
                    locks.insert_str(0, &format!("; locked for {secs} s"));
                }
            } else if locked {
                locks.push_str(&format!("; {} locked for {secs} s", limit.label()));
            }
        }
        self.audit_attempt(
            audit,
            AuditOutcome::Failure,
            &format!("{reason} (failure {count}){locks}"),
        )
        .await
    }

    /// The secret was right: the prover's own counters are cleared, the shared ones
    /// only get the reservation back.
    pub(super) async fn succeed_attempt(&self, attempt: Attempt) -> IdentityResult<()> {
        for (limit, _) in attempt.reserved.iter().rev() {
            self.db
                .end_sign_in_attempt(&limit.key(), limit.personal())
                .await?;
        }
        Ok(())
    }

    /// Neither success nor failure (refused by another limit, or a known badge that
    /// still needs its PIN): every counter gets the reservation back.
    pub(super) async fn abandon_attempt(&self, attempt: Attempt) -> IdentityResult<()> {
        for (limit, _) in attempt.reserved.iter().rev() {
            self.db.end_sign_in_attempt(&limit.key(), false).await?;
        }
        Ok(())
    }

    /// The keyed hash of a password tried on `channel` by `client` for `login`, with
    /// the stored credential it is checked against (a changed password makes the same
    /// text a new attempt).
    pub(super) fn repeat_of(
        &self,
        channel: Channel,
        client: &ClientInfo,
        login: &str,
        stored: &str,
        secret: &str,
    ) -> Repeat {
        let mut value = Vec::with_capacity(64 + secret.len());
        for part in [channel.as_str(), &client.addr, login, stored, secret] {
            value.extend_from_slice(part.as_bytes());
            value.push(0);
        }
        Repeat(format!(
            "repeat:{}",
            hex::encode(self.vault.keyed_hash(REPEAT_PURPOSE, &value))
        ))
    }

    /// Answers a credential that just failed from the same client as wrong, without
    /// counting or checking it again; `false` when it is not such a retry.
    pub(super) async fn refuse_repeat(
        &self,
        repeat: &Repeat,
        audit: &AttemptAudit<'_>,
        reason: &str,
    ) -> IdentityResult<bool> {
        if !self
            .db
            .failed_secret_since(&repeat.0, now() - REPEAT_WINDOW_SECS)
            .await?
        {
            return Ok(false);
        }
        self.audit_repeat(audit, reason).await?;
        Ok(true)
    }

    async fn audit_repeat(&self, audit: &AttemptAudit<'_>, reason: &str) -> IdentityResult<()> {
        self.audit_attempt(
            audit,
            AuditOutcome::Failure,
            &format!("{reason}, the same again within {REPEAT_WINDOW_SECS} s (not counted)"),
        )
        .await
    }

    async fn audit_attempt(
        &self,
        audit: &AttemptAudit<'_>,
        outcome: AuditOutcome,
        detail: &str,
    ) -> IdentityResult<()> {
        self.db
            .append_audit(&AuditRecord {
                actor: audit.actor,
                action: audit.action.as_str(),
                target: audit.target,
                outcome: outcome.as_str(),
                client_addr: &audit.client.addr,
                detail,
                ..Default::default()
            })
            .await?;
        Ok(())
    }
}
