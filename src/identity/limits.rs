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
//! A success clears the counters that are the prover's own (account, printer from
//! this address) and takes its one attempt back from the shared ones (address,
//! printer-wide), so a person with a valid account cannot wipe a sprayer's count.

use super::{ClientInfo, Identity, IdentityError, IdentityResult};
use crate::db::{AuditRecord, LockRule, Reservation, now};

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
    pub action: &'a str,
    pub client: &'a ClientInfo,
}

/// The attempts reserved for one sign-in, most specific limit last.
#[must_use = "an attempt ends as failed, succeeded or abandoned"]
pub(super) struct Attempt {
    reserved: Vec<Reserved>,
}

struct Reserved {
    limit: Limit,
    rule: LockRule,
    count: i64,
    /// The lock this attempt set by reaching the threshold (0: none).
    own_lock: i64,
}

impl Identity {
    fn rule_for(&self, limit: &Limit) -> LockRule {
        let threshold = match limit {
            Limit::Address(_) => self.security.lockout_threshold_per_address,
            Limit::Station { .. } => self.security.lockout_threshold_per_station,
            _ => self.security.lockout_threshold,
        };
        LockRule {
            threshold: i64::from(threshold),
            base_secs: i64::try_from(self.security.lockout_base_seconds).unwrap_or(i64::MAX),
            max_secs: i64::try_from(self.security.lockout_max_seconds).unwrap_or(i64::MAX),
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

    /// Counts the attempt against every limit, or refuses it (audited, nothing left
    /// counted) when one is locked.
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
            match self.db.reserve_sign_in_attempt(&limit.key(), rule).await? {
                Reservation::Allowed {
                    count,
                    locked_until,
                } => attempt.reserved.push(Reserved {
                    limit,
                    rule,
                    count,
                    own_lock: locked_until,
                }),
                Reservation::Refused { locked_until } => {
                    self.abandon_attempt(attempt).await?;
                    self.audit_attempt(audit, "denied", &limit.refusal())
                        .await?;
                    metrics::counter!("printpark_sign_in_refused_total").increment(1);
                    return Err(IdentityError::Locked {
                        retry_after_secs: (locked_until - now()).max(1),
                    });
                }
            }
        }
        Ok(attempt)
    }

    /// The secret was wrong: the attempt stays counted. Audits it with the count of the
    /// most specific limit and any lock it set.
    pub(super) async fn fail_attempt(
        &self,
        attempt: Attempt,
        audit: &AttemptAudit<'_>,
        reason: &str,
    ) -> IdentityResult<()> {
        let count = attempt.reserved.last().map(|r| r.count).unwrap_or(0);
        let mut detail = format!("{reason} (failure {count})");
        let last = attempt.reserved.len().saturating_sub(1);
        for (i, reserved) in attempt.reserved.iter().enumerate() {
            if reserved.own_lock > 0 {
                let secs = reserved.rule.lock_secs(reserved.count);
                if i == last {
                    detail.push_str(&format!("; locked for {secs} s"));
                } else {
                    detail.push_str(&format!("; {} locked for {secs} s", reserved.limit.label()));
                }
            }
        }
        self.audit_attempt(audit, "failure", &detail).await
    }

    /// The secret was right: the prover's own counters are cleared, the shared ones
    /// get this attempt back.
    pub(super) async fn succeed_attempt(&self, attempt: Attempt) -> IdentityResult<()> {
        for reserved in attempt.reserved.iter().rev() {
            let key = reserved.limit.key();
            if reserved.limit.personal() {
                self.db.clear_login_failures(&key).await?;
            } else {
                self.db
                    .release_sign_in_attempt(&key, reserved.rule.threshold, reserved.own_lock)
                    .await?;
            }
        }
        Ok(())
    }

    /// Neither success nor failure (refused by another limit, or a known badge that
    /// still needs its PIN): every counter gets the attempt back.
    pub(super) async fn abandon_attempt(&self, attempt: Attempt) -> IdentityResult<()> {
        for reserved in attempt.reserved.iter().rev() {
            self.db
                .release_sign_in_attempt(
                    &reserved.limit.key(),
                    reserved.rule.threshold,
                    reserved.own_lock,
                )
                .await?;
        }
        Ok(())
    }

    async fn audit_attempt(
        &self,
        audit: &AttemptAudit<'_>,
        outcome: &str,
        detail: &str,
    ) -> IdentityResult<()> {
        self.db
            .append_audit(&AuditRecord {
                actor: audit.actor,
                action: audit.action,
                target: audit.target,
                outcome,
                client_addr: &audit.client.addr,
                detail,
                ..Default::default()
            })
            .await?;
        Ok(())
    }
}
