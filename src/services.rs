//! Start-up wiring shared by `serve` and the operator commands: settings → database
//! (with retry and migrations) → master key → vault → identity → jobs → release.

use std::path::PathBuf;
use std::time::Duration;

use zeroize::Zeroizing;

use crate::config::{Settings, StorageBackend};
use crate::db::{Db, DbError};
use crate::devices::Devices;
use crate::identity::Identity;
use crate::identity::first_run::SETUP_CODE_FILE;
use crate::jobs::Jobs;
use crate::mail::Mailer;
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
    #[error("first run: {0}")]
    FirstRun(String),
    #[error("public address: {0}")]
    Site(#[from] crate::site::SiteError),
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
    /// Issue 16, e-mail: the mail relay (`[smtp]` or the admin page's).
    pub mailer: Mailer,
    /// Single sign-on (issue 16, oidc).
    pub sso: crate::identity::oidc::SingleSignOn,
    // Issue 16: the organisation's directory (LDAP / Active Directory).
    pub directory: crate::identity::ldap::Directory,
    pub master_source: vault::MasterKeySource,
    /// Issue 20: the public address every link is built from.
    pub site: crate::site::Site,
}

impl Services {
    pub async fn start(mut settings: Settings) -> Result<Self, StartError> {
        // The token file is read once, here; the web layer sees only the token.
        settings.operations.token = settings.operations.bearer_token()?;
        settings.operations.token_file = None;
        let private_dir = |dir: &std::path::Path, key: &str| {
            crate::private_files::create_private_dir(dir)
                .map_err(|e| std::io::Error::new(e.kind(), format!("{key} {}: {e}", dir.display())))
        };
        private_dir(&settings.data_dir, "data_dir")?;
        if settings.server.tls_cert.is_none() {
            // Made private before the certificate code fills it on first start.
            private_dir(&settings.tls_dir(), "data_dir")?;
        }
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
        let identity = Identity::new(db.clone(), vault.clone(), settings.security.clone())
            .with_ldap_settings(&settings.ldap);
        let directory = crate::identity::ldap::Directory::new(identity.clone());
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
            // The same binary as the PDF analyser's workers (tests point both at it).
            crate::convert::Converter::new(settings.queue.analyser_exe.clone()),
        );
        // Said once at start: without Ghostscript every release to a printer that does
        // not take the job's format fails (with this reason), and the admin should know.
        if let Err(e) = release.converter().check() {
            tracing::warn!(error = %e, "printers that do not take a job's format cannot be served: install Ghostscript (Debian: apt install ghostscript)");
        }
        let devices = Devices::new(
            db.clone(),
            vault.clone(),
            identity.clone(),
            printers.clone(),
        );
        let mailer = Mailer::new(db.clone(), vault.clone(), settings.smtp.clone());
        let foreign = vault.foreign_key_count().await?;
        if foreign > 0 {
            tracing::error!(
                blobs = foreign,
                "documents are wrapped under another master key (was the key rotated while a server ran?); they cannot be opened"
            );
        }
        // Single sign-on (issue 16, oidc).
        let sso = crate::identity::oidc::SingleSignOn::new(identity.clone(), settings.oidc.clone());
        let site = crate::site::Site::load(db.clone(), identity.clone(), &settings).await?;
        first_run_code(&identity, &settings).await?;
        crate::private_files::warn_if_loose(&private_paths(&settings));
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
            mailer,
            sso,
            directory,
            master_source: source,
            site,
        })
    }
}

/// Where this server keeps its setup code while the first run is open.
pub fn setup_code_path(settings: &Settings) -> PathBuf {
    settings.data_dir.join(SETUP_CODE_FILE)
}

/// While the first run is open: the setup code (kept from the last start when still
/// valid) goes to a 0600 file in the data folder and, once per start, to the log.
/// Once it is done, a code file left behind is removed.
async fn first_run_code(identity: &Identity, settings: &Settings) -> Result<(), StartError> {
    let path = setup_code_path(settings);
    let kept = std::fs::read_to_string(&path).ok().map(Zeroizing::new);
    let code = identity
        .issue_setup_code(kept.as_deref().map(String::as_str))
        .await
        .map_err(|e| StartError::FirstRun(e.to_string()))?;
    match code {
        Some(code) => {
            crate::private_files::write_private_file(
                &path,
                format!("{}\n", code.as_str()).as_bytes(),
            )
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
            tracing::warn!(
                file = %path.display(),
                "FIRST RUN: open /setup and enter the setup code {} to create the first administrator (the code is also in the file named here, readable by this account only)",
                code.as_str()
            );
        }
        None => {
            if path.exists() {
                std::fs::remove_file(&path)?;
            }
        }
    }
    Ok(())
}

/// Removes this server's setup-code file once the first run is done (other servers
/// on the same database remove theirs at their next start).
pub fn forget_setup_code(settings: &Settings) {
    let path = setup_code_path(settings);
    if let Err(e) = std::fs::remove_file(&path)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(file = %path.display(), error = %e, "cannot remove the used setup code file");
    }
}

/// Paths that must stay private to the server's account, as far as this server's
/// settings say where they are (paths that do not exist are skipped by the check).
pub fn private_paths(settings: &Settings) -> Vec<PathBuf> {
    let mut paths = vec![settings.data_dir.clone()];
    if settings.storage.backend == StorageBackend::Local {
        paths.push(settings.blob_dir());
    }
    paths.extend(crate::db::sqlite_files(&settings.database_url()));
    paths.push(settings.master_key_path());
    match &settings.server.tls_key {
        Some(key) => paths.push(key.clone()),
        None => {
            paths.push(settings.tls_dir());
            paths.push(settings.tls_dir().join("key.pem"));
        }
    }
    paths.push(setup_code_path(settings));
    paths
}

impl Services {
    /// Periodic chores, safe to run from several processes at once: expired sessions,
    /// stale failure counters, blobs left by crashes (unindexed, or unrecorded objects).
    pub async fn maintain(&self) {
        let now = crate::clock::now();
        let sessions = self.db.delete_expired_sessions().await;
        let failures = self.db.delete_stale_login_failures(now - 24 * 3600).await;
        // Addresses that signed someone in at a station are "familiar" (exempt from the
        // printer-wide ceiling) for a while; older ones are forgotten.
        if let Err(e) = self
            .db
            .delete_stale_station_sign_ins(now - crate::identity::limits::STATION_FAMILIAR_SECS)
            .await
        {
            tracing::warn!(error = %e, "forgetting old station sign-ins failed; will retry");
        }
        // The public address another server process may have changed (issue 20).
        if let Err(e) = self.site.reload().await {
            tracing::warn!(error = %e, "reading the public address failed; will retry");
        }
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
            // Issue 16: the directory's scheduled sync runs beside the chores (and
            // stops with them).
            let directory = services.directory.clone().run_schedule();
            let chores = async {
                let mut every = tokio::time::interval(Duration::from_secs(600));
                loop {
                    every.tick().await;
                    services.maintain().await;
                }
            };
            tokio::join!(chores, directory);
        })
    }
}
