//! Start-up wiring shared by `serve` and the operator commands: settings → database
//! (with retry and migrations) → master key → vault → identity → jobs → release.

use std::time::Duration;

use crate::config::Settings;
use crate::db::{Db, DbError};
use crate::devices::Devices;
use crate::identity::Identity;
use crate::jobs::Jobs;
use crate::release::{Printers, Release};
use crate::vault::{self, BlobStore, ResolvedMasterKey, Vault, VaultError};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("database: {0}")]
    Db(#[from] DbError),
    #[error("vault: {0}")]
    Vault(#[from] VaultError),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("cannot listen on {addr}: {reason}")]
    Listen { addr: String, reason: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Everything a running server (or an operator command) works with. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Services {
    pub settings: Settings,
    pub db: Db,
    pub vault: Vault,
    pub identity: Identity,
    pub jobs: Jobs,
    pub printers: Printers,
    pub release: Release,
    pub devices: Devices,
    pub master_source: vault::MasterKeySource,
}

impl Services {
    pub async fn start(settings: Settings) -> Result<Self, StartError> {
        std::fs::create_dir_all(&settings.data_dir).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("data_dir {}: {e}", settings.data_dir.display()),
            )
        })?;
        let db = Db::connect_with_retry(
            &settings.database_url(),
            settings.database.max_connections,
            Duration::from_secs(settings.database.connect_timeout_secs),
        )
        .await?;
        db.migrate().await?;
        let ResolvedMasterKey { key, source, .. } = vault::master::resolve(&settings, &db).await?;
        let store = BlobStore::from_settings(&settings)?;
        store.check().await?;
        let vault = Vault::open(db.clone(), store, key, settings.vault.chunk_size).await?;
        let identity = Identity::new(db.clone(), vault.clone(), settings.security.clone());
        let jobs = Jobs::new(
            db.clone(),
            vault.clone(),
            identity.clone(),
            settings.queue.clone(),
        );
        let printers = Printers::new(
            db.clone(),
            identity.clone(),
            Duration::from_secs(settings.release.check_timeout_secs),
        );
        let release = Release::new(
            db.clone(),
            jobs.clone(),
            vault.clone(),
            identity.clone(),
            printers.clone(),
            settings.release.clone(),
        );
        let devices = Devices::new(
            db.clone(),
            vault.clone(),
            identity.clone(),
            printers.clone(),
        );
        let foreign = vault.foreign_key_count().await?;
        if foreign > 0 {
            tracing::error!(
                blobs = foreign,
                "documents are wrapped under another master key (was the key rotated while a server ran?); they cannot be opened"
            );
        }
        tracing::info!(
            database = db.backend_name(),
            store = vault.store().description(),
            master_key = %vault.master_key_id(),
            "storage ready"
        );
        Ok(Self {
            settings,
            db,
            vault,
            identity,
            jobs,
            printers,
            release,
            devices,
            master_source: source,
        })
    }
}

impl Services {
    /// Periodic chores, safe to run from several processes at once: expired sessions,
    /// stale failure counters, blobs left by crashes (unindexed, or unrecorded objects).
    pub async fn maintain(&self) {
        let now = crate::db::now();
        let sessions = self.db.delete_expired_sessions().await;
        let failures = self.db.delete_stale_login_failures(now - 24 * 3600).await;
        let expired = self.jobs.expire_due(now).await;
        if let Err(e) = &expired {
            tracing::warn!(error = %e, "expiring held jobs failed; will retry");
        }
        if let Ok(n @ 1..) = expired {
            tracing::info!(expired = n, "held jobs expired unreleased");
        }
        let min_age = self.settings.storage.sweep_min_age_secs;
        let unindexed = self.jobs.sweep_unindexed_blobs(min_age).await;
        let orphans = self.vault.sweep_orphans(min_age).await;
        match (sessions, failures, unindexed, orphans) {
            (Ok(s), Ok(f), Ok(u), Ok(o)) => {
                if s + f + u as u64 + o > 0 {
                    tracing::info!(
                        expired_sessions = s,
                        stale_failure_counters = f,
                        unindexed_blobs = u,
                        orphan_objects = o,
                        "maintenance"
                    );
                }
            }
            (s, f, u, o) => tracing::warn!(
                sessions = ?s.err(), failures = ?f.err(), unindexed = ?u.err(), orphans = ?o.err(),
                "maintenance failed; will retry"
            ),
        }
    }

    /// Runs [`Services::maintain`] now and every ten minutes.
    pub fn spawn_maintenance(&self) -> tokio::task::JoinHandle<()> {
        let services = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(600));
            loop {
                every.tick().await;
                services.maintain().await;
            }
        })
    }
}
