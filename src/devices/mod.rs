//! Devices: printers found on the network by SNMP (discovery), what they report
//! (status, supplies, meters, alerts) and its history (monitoring).
//!
//! The `Devices` service is this face; its methods live by concept: `settings.rs`
//! (discovery settings, address ranges, SNMP credentials), `scans.rs` (planning,
//! running and cancelling scans) and `inventory.rs` (the devices found, polling, their
//! supplies and meters, making a release printer of one).

pub mod collect;
pub mod discovery;
pub mod inventory;
pub mod mib;
pub mod monitor;
pub mod pace;
pub mod ranges;
pub mod scans;
pub mod settings;
pub mod snmp;

pub use inventory::status_name;
pub use settings::NewCredential;

use crate::db::{Db, DbError};
use crate::identity::{AuditAction, AuditEvent, AuditOutcome, ClientInfo, Identity, User};
use crate::release::Printers;
use crate::vault::Vault;
use snmp::SnmpError;

/// Below this percentage a supply is "low" (devices list, dashboard).
pub const LOW_SUPPLY_PERCENT: i64 = 15;

#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("{0}")]
    Invalid(String),
    #[error("not found")]
    NotFound,
    #[error("a scan is already running; wait for it or cancel it")]
    Busy,
    #[error("SNMP: {0}")]
    Snmp(#[from] SnmpError),
    #[error(transparent)]
    Identity(#[from] crate::identity::IdentityError),
    #[error(transparent)]
    Vault(#[from] crate::vault::VaultError),
    #[error(transparent)]
    Release(#[from] crate::release::ReleaseError),
    #[error(transparent)]
    Db(DbError),
}

impl From<DbError> for DeviceError {
    fn from(error: DbError) -> Self {
        match error {
            DbError::NotFound => DeviceError::NotFound,
            other => DeviceError::Db(other),
        }
    }
}

/// The devices service (discovery, inventory, monitoring). Cheap to clone.
#[derive(Clone, Debug)]
pub struct Devices {
    pub(super) db: Db,
    vault: Vault,
    identity: Identity,
    printers: Printers,
}

impl Devices {
    pub fn new(db: Db, vault: Vault, identity: Identity, printers: Printers) -> Self {
        Self {
            db,
            vault,
            identity,
            printers,
        }
    }

    fn admin(actor: &User) -> Result<(), DeviceError> {
        crate::identity::people::require_admin(actor)?;
        Ok(())
    }

    async fn audit(
        &self,
        actor: Option<&User>,
        action: AuditAction,
        target: &str,
        client: &ClientInfo,
        detail: &str,
    ) -> Result<(), DeviceError> {
        self.identity
            .audit(AuditEvent {
                actor,
                action,
                target,
                outcome: AuditOutcome::Success,
                client,
                detail,
            })
            .await?;
        Ok(())
    }
}
