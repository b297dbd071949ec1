//! Scans: the addresses a scan covers (ranges or one-off targets), running one now or
//! in the background with each credential tried, cancelling it, and the recent ones.

use crate::db::ScanRow;
use crate::identity::{AuditAction, ClientInfo, User};

use super::discovery::{self, ScanProgress};
use super::ranges::{self, AddressRange};
use super::snmp::SnmpCredential;
use super::{DeviceError, Devices};

impl Devices {
    // --- scans ----------------------------------------------------------------------

    /// The addresses a scan of `specs` (or of the configured ranges) covers, minus the
    /// configured exclusions.
    pub async fn plan(
        &self,
        specs: Option<&[String]>,
        confirmed: bool,
    ) -> Result<(Vec<std::net::Ipv4Addr>, String), DeviceError> {
        let stored = self.db.ranges().await?;
        let include: Vec<String> = match specs {
            Some(specs) => specs.to_vec(),
            None => stored
                .iter()
                .filter(|r| !r.exclude)
                .map(|r| r.spec.clone())
                .collect(),
        };
        if include.is_empty() {
            return Err(DeviceError::Invalid(
                "no range to scan: add one first".into(),
            ));
        }
        let include: Vec<AddressRange> = include
            .iter()
            .map(|s| AddressRange::parse(s))
            .collect::<Result<_, _>>()
            .map_err(DeviceError::Invalid)?;
        let exclude: Vec<AddressRange> = stored
            .iter()
            .filter(|r| r.exclude)
            .filter_map(|r| AddressRange::parse(&r.spec).ok())
            .collect();
        let addresses =
            ranges::addresses(&include, &exclude, confirmed).map_err(DeviceError::Invalid)?;
        let text = include
            .iter()
            .map(|r| {
                if r.len() == 1 {
                    r.first.to_string()
                } else {
                    format!("{}-{}", r.first, r.last)
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        Ok((addresses, text))
    }

    /// Starts a scan and runs it to the end, reporting progress; for the CLI and the
    /// schedule. The admin page uses [`Devices::start_scan`].
    pub async fn scan(
        &self,
        trigger: &str,
        specs: Option<&[String]>,
        confirmed: bool,
        on_progress: &(dyn Fn(&ScanProgress) + Send + Sync),
    ) -> Result<ScanProgress, DeviceError> {
        let credentials = self
            .open_credentials()
            .await?
            .into_iter()
            .map(|(id, c)| (Some(id), c))
            .collect();
        self.scan_with(trigger, specs, confirmed, credentials, on_progress)
            .await
    }

    /// [`Devices::scan`] with credentials given for this scan only (the CLI's
    /// `--community`), not stored.
    pub async fn scan_with(
        &self,
        trigger: &str,
        specs: Option<&[String]>,
        confirmed: bool,
        credentials: Vec<(Option<i64>, SnmpCredential)>,
        on_progress: &(dyn Fn(&ScanProgress) + Send + Sync),
    ) -> Result<ScanProgress, DeviceError> {
        let (addresses, text) = self.plan(specs, confirmed).await?;
        if credentials.is_empty() {
            return Err(DeviceError::Invalid(
                "no SNMP credential: add one (e.g. v2c community “public”)".into(),
            ));
        }
        let settings = self.db.discovery_settings().await?;
        let id = self
            .db
            .insert_scan(trigger, &text, addresses.len() as i64)
            .await?
            .ok_or(DeviceError::Busy)?;
        tracing::info!(scan = id, addresses = addresses.len(), ranges = %text, "discovery scan started");
        let end = discovery::run(
            self,
            id,
            addresses,
            credentials,
            Self::snmp_settings(&settings),
            on_progress,
        )
        .await?;
        // The one line a scan leaves at INFO: silent addresses are counted, not listed.
        tracing::info!(scan = id, addresses = end.total, printers = end.printers, others = end.others, silent = end.silent, faults = end.faults, packets = end.packets, state = %end.state, "discovery scan ended");
        Ok(end)
    }

    /// An admin starts a scan of the configured ranges in the background.
    pub async fn start_scan(
        &self,
        admin: &User,
        confirmed: bool,
        client: &ClientInfo,
    ) -> Result<(), DeviceError> {
        Self::admin(admin)?;
        // Fail fast on what the admin can fix (no range, too large, no credential).
        let (addresses, _) = self.plan(None, confirmed).await?;
        if self.db.credentials().await?.is_empty() {
            return Err(DeviceError::Invalid(
                "no SNMP credential: add one (e.g. v2c community “public”)".into(),
            ));
        }
        let running = self.db.recent_scans(1).await?;
        if running.first().is_some_and(|s| s.state == "running") {
            return Err(DeviceError::Busy);
        }
        self.audit(
            Some(admin),
            AuditAction::DiscoveryScan,
            "",
            client,
            &format!("{} addresses", addresses.len()),
        )
        .await?;
        let me = self.clone();
        tokio::spawn(async move {
            if let Err(e) = me.scan("manual", None, confirmed, &|_| {}).await {
                tracing::warn!(error = %e, "discovery scan failed");
            }
        });
        Ok(())
    }

    pub async fn cancel_scan(
        &self,
        admin: &User,
        id: i64,
        client: &ClientInfo,
    ) -> Result<(), DeviceError> {
        Self::admin(admin)?;
        self.db.cancel_scan(id).await?;
        self.audit(
            Some(admin),
            AuditAction::DiscoveryCancel,
            &id.to_string(),
            client,
            "",
        )
        .await
    }

    pub async fn recent_scans(&self, limit: i64) -> Result<Vec<ScanRow>, DeviceError> {
        Ok(self.db.recent_scans(limit).await?)
    }
}
