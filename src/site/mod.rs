//! The site: how people reach this server. Its public address (`https://name:port`)
//! comes from `server.public_url` in the settings, which wins, or else from the value
//! an admin typed on the first-run page or Admin → Settings (stored in the database).
//! Every link the server hands out is built from [`Site::public_address`]; when it
//! changes, a self-made certificate is made again for the new name and served from
//! the next handshake on. `lan` lists the machine's names and addresses to propose.
//!
//! The stored address is read at start and kept in memory; a change made through
//! another server process sharing the database is seen here within ten minutes (the
//! maintenance task reloads it) or at the next start.

pub mod lan;

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use crate::config::{AddressError, PublicAddress, Settings};
use crate::db::{Db, DbError};
use crate::identity::{AuditAction, AuditEvent, AuditOutcome, ClientInfo, Identity, User};
use crate::tls::LiveCertificate;

#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    /// What was typed is not a usable address (the message says why, for the page).
    #[error("{0}")]
    Invalid(#[from] AddressError),
    /// `server.public_url` is set: the page cannot change it.
    #[error(
        "The public address is set in the configuration (server.public_url); change it there and restart."
    )]
    Configured,
    /// Only an admin sets it (after the first run).
    #[error("only an administrator can change the public address")]
    Forbidden,
    #[error("database: {0}")]
    Db(#[from] DbError),
    #[error("audit: {0}")]
    Audit(String),
}

/// Where the address in use came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressSource {
    /// `server.public_url`.
    Settings,
    /// Typed on the first-run or settings page.
    Page,
    /// Nowhere yet.
    Unset,
}

/// The site service. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Site {
    db: Db,
    identity: Identity,
    configured: Option<PublicAddress>,
    stored: Arc<RwLock<Option<PublicAddress>>>,
    /// The listener's certificate, once a listener serves (operator commands have none).
    certificate: Arc<OnceLock<Arc<LiveCertificate>>>,
    /// The port people connect to, for the proposals: `server.listen`'s, then the
    /// one the listener bound (they differ when the setting says port 0).
    port: Arc<AtomicU16>,
}

impl Site {
    pub async fn load(db: Db, identity: Identity, settings: &Settings) -> Result<Self, SiteError> {
        let configured = settings
            .server
            .public_url
            .as_deref()
            .map(PublicAddress::parse)
            .transpose()?;
        let site = Self {
            db,
            identity,
            configured,
            stored: Arc::default(),
            certificate: Arc::default(),
            port: Arc::new(AtomicU16::new(
                settings.listen_addr().map(|a| a.port()).unwrap_or(8443),
            )),
        };
        site.reload().await?;
        Ok(site)
    }

    /// Reads the stored address again (another server process may have changed it).
    pub async fn reload(&self) -> Result<(), SiteError> {
        let stored = match self.db.public_address().await? {
            Some(text) => match PublicAddress::parse(&text) {
                Ok(address) => Some(address),
                Err(e) => {
                    tracing::warn!(stored = %text, error = %e, "the stored public address is not usable; set it again in Admin → Settings");
                    None
                }
            },
            None => None,
        };
        *self.stored.write().unwrap_or_else(|p| p.into_inner()) = stored;
        Ok(())
    }

    /// The address people use: `server.public_url`, else the one typed on a page.
    pub fn public_address(&self) -> Option<PublicAddress> {
        self.configured.clone().or_else(|| {
            self.stored
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
        })
    }

    /// The address, only when other machines can use it (set and not a loopback name).
    pub fn usable_address(&self) -> Option<PublicAddress> {
        self.public_address().filter(|a| !a.is_loopback())
    }

    pub fn source(&self) -> AddressSource {
        if self.configured.is_some() {
            AddressSource::Settings
        } else if self.public_address().is_some() {
            AddressSource::Page
        } else {
            AddressSource::Unset
        }
    }

    /// `https://…` candidates for the pages to propose (host name, LAN addresses).
    pub fn proposals(&self) -> Vec<String> {
        lan::proposals(self.port.load(Ordering::Relaxed))
    }

    /// The names a self-made certificate carries besides the public one.
    pub fn machine_names(&self) -> Vec<String> {
        lan::certificate_names()
    }

    /// Called once by the listener: the certificate to make again when the address
    /// changes, and the port it listens on.
    pub fn attach_listener(&self, certificate: Arc<LiveCertificate>, port: u16) {
        let _ = self.certificate.set(certificate);
        self.port.store(port, Ordering::Relaxed);
    }

    /// Stores a typed address (an admin, or the first run's new admin) and makes a
    /// self-made certificate again for it. Returns the address and whether the
    /// certificate was made again (agents pinned to the old one must be told).
    pub async fn set(
        &self,
        typed: &str,
        actor: &User,
        client: &ClientInfo,
    ) -> Result<(PublicAddress, bool), SiteError> {
        if crate::identity::people::require_admin(actor).is_err() {
            return Err(SiteError::Forbidden);
        }
        if self.configured.is_some() {
            return Err(SiteError::Configured);
        }
        let address = PublicAddress::parse(typed)?;
        self.db
            .set_public_address(address.as_str(), &actor.username)
            .await?;
        *self.stored.write().unwrap_or_else(|p| p.into_inner()) = Some(address.clone());
        let renewed = match self.certificate.get() {
            Some(certificate) => {
                let certificate = certificate.clone();
                let name = address.certificate_name();
                let machine = self.machine_names();
                // Key generation and file writes: off the async workers.
                match tokio::task::spawn_blocking(move || certificate.renew_for(&name, &machine))
                    .await
                {
                    Ok(Ok(renewed)) => renewed,
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "the certificate could not be made again for the new public address");
                        false
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "the certificate renewal stopped");
                        false
                    }
                }
            }
            None => false,
        };
        let detail = if renewed {
            format!("{address}; self-signed certificate made again for it")
        } else {
            address.to_string()
        };
        self.identity
            .audit(AuditEvent {
                actor: Some(actor),
                action: AuditAction::PublicAddress,
                target: "public_address",
                outcome: AuditOutcome::Success,
                client,
                detail: &detail,
            })
            .await
            .map_err(|e| SiteError::Audit(e.to_string()))?;
        tracing::info!(address = %address, certificate_renewed = renewed, "public address set");
        Ok((address, renewed))
    }
}
