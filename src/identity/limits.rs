//! Sign-in limits: every attempt to prove a secret counts, before the secret is
//! checked, against a few counters at once, and is refused (429, audited) while any
//! of them is locked.
//!
//! - the account, per kind of credential: a password (login form, phone, HTTP Basic,
//!   changing a credential) and a PIN (stations, device apps) count separately, so
//!   wrong PINs never lock someone's password or IPP printing;
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

use super::{AuditAction, AuditOutcome, ClientInfo, Identity, IdentityError, IdentityResult};
use crate::clock::now;
use crate::db::{AuditRecord, LockRule, Reservation};

/// An address that signed someone in at a printer this recently is that printer's own
/// (its station tablet, its device app) and is not held back by the ceiling.
pub const STATION_FAMILIAR_SECS: i64 = 30 * 24 * 3600;

/// A counter a sign-in attempt counts against.
#[derive(Debug, Clone)]
pub(super) enum Limit {
    /// An account's password (or an unknown login, so lockout does not reveal accounts).
    Password(String),
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
