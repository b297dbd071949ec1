//! The device registry service: discovery settings, ranges and credentials (secrets
//! sealed by the vault), scans, the devices found and what they report.

use crate::identity::{AuditAction, AuditEvent, AuditOutcome};
use std::net::IpAddr;
use std::time::Duration;

use crate::db::{
    CredentialRow, Db, DbError, DeviceFields, DeviceRow, DiscoverySettingsRow, RangeRow, ScanRow,
    SupplyRow,
};
use crate::identity::{ClientInfo, Identity, User};
use crate::release::{PrinterForm, Printers};
use crate::vault::Vault;

use super::collect::{DeviceReport, DeviceStatus};
use super::discovery::{self, ScanProgress};
use super::ranges::{self, AddressRange};
use super::snmp::{AuthProto, PrivProto, ProbeAnswer, SnmpCredential, SnmpError, SnmpSettings};

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

/// What an admin submits for an SNMP credential.
#[derive(Debug, Clone, Default)]
pub struct NewCredential {
    pub name: String,
    /// `1`, `2c` or `3`.
    pub version: String,
    pub community: String,
    pub user: String,
    /// `sha` or `sha256` (empty: no authentication).
    pub auth_proto: String,
    pub auth_key: String,
    /// `aes` (empty: no privacy).
    pub priv_proto: String,
    pub priv_key: String,
    pub context: String,
}

/// The device registry. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Devices {
    pub(super) db: Db,
    vault: Vault,
    identity: Identity,
    printers: Printers,
}

const COMMUNITY: &str = "snmp-community";
const AUTH_KEY: &str = "snmp-auth-key";
const PRIV_KEY: &str = "snmp-priv-key";

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
        crate::identity::directory::require_admin(actor)?;
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

    // --- settings -------------------------------------------------------------------

    pub async fn settings(&self) -> Result<DiscoverySettingsRow, DeviceError> {
        Ok(self.db.discovery_settings().await?)
    }

    pub async fn save_settings(
        &self,
        admin: &User,
        s: &DiscoverySettingsRow,
        client: &ClientInfo,
    ) -> Result<(), DeviceError> {
        Self::admin(admin)?;
        let bad = |m: &str| Err(DeviceError::Invalid(m.into()));
        if !matches!(s.schedule.as_str(), "off" | "daily" | "weekly") {
            return bad("the schedule is off, daily or weekly");
        }
        if !(0..24 * 60).contains(&s.at_minute) || !(0..7).contains(&s.weekday) {
            return bad("the time must be HH:MM and the day Monday to Sunday");
        }
        if !(1..=10_000).contains(&s.rate_pps) {
            return bad("the rate limit must be 1 to 10000 packets per second");
        }
        if !(100..=10_000).contains(&s.timeout_ms) || !(0..=3).contains(&s.retries) {
            return bad("the time-out must be 100–10000 ms and the retries 0–3");
        }
        if !(1..=65_535).contains(&s.port) || !(1..=1440).contains(&s.status_every_min) {
            return bad("the port must be 1–65535 and the status poll 1–1440 minutes");
        }
        self.db.save_discovery_settings(s).await?;
        self.audit(
            Some(admin),
            AuditAction::DiscoverySettings,
            "",
            client,
            &format!("schedule {} rate {}/s", s.schedule, s.rate_pps),
        )
        .await
    }

    pub fn snmp_settings(s: &DiscoverySettingsRow) -> SnmpSettings {
        SnmpSettings {
            port: u16::try_from(s.port).unwrap_or(161),
            timeout: Duration::from_millis(s.timeout_ms.max(1) as u64),
            retries: s.retries.max(0) as u32,
            rate_pps: s.rate_pps.clamp(1, 10_000) as u32,
            ..SnmpSettings::default()
        }
    }

    // --- ranges ---------------------------------------------------------------------

    pub async fn ranges(&self) -> Result<Vec<RangeRow>, DeviceError> {
        Ok(self.db.ranges().await?)
    }

    pub async fn add_range(
        &self,
        admin: &User,
        spec: &str,
        exclude: bool,
        client: &ClientInfo,
    ) -> Result<(), DeviceError> {
        Self::admin(admin)?;
        AddressRange::parse(spec).map_err(DeviceError::Invalid)?;
        self.db.insert_range(spec.trim(), exclude).await?;
        let what = if exclude { "exclude" } else { "include" };
        self.audit(
            Some(admin),
            AuditAction::DiscoveryRangeAdd,
            spec.trim(),
            client,
            what,
        )
        .await
    }

    pub async fn delete_range(
        &self,
        admin: &User,
        id: i64,
        client: &ClientInfo,
    ) -> Result<(), DeviceError> {
        Self::admin(admin)?;
        self.db.delete_range(id).await?;
        self.audit(
            Some(admin),
            AuditAction::DiscoveryRangeDelete,
            &id.to_string(),
            client,
            "",
        )
        .await
    }

    // --- credentials ----------------------------------------------------------------

    /// The credentials, secrets left sealed (for listing).
    pub async fn credentials(&self) -> Result<Vec<CredentialRow>, DeviceError> {
        Ok(self.db.credentials().await?)
    }

    pub async fn add_credential(
        &self,
        admin: &User,
        c: &NewCredential,
        client: &ClientInfo,
    ) -> Result<i64, DeviceError> {
        Self::admin(admin)?;
        let bad = |m: &str| Err(DeviceError::Invalid(m.into()));
        let name = c.name.trim();
        if name.is_empty() || name.len() > 80 {
            return bad("a credential needs a name (at most 80 characters)");
        }
        let seal = |purpose: &str, secret: &str| -> Result<Option<Vec<u8>>, DeviceError> {
            if secret.is_empty() {
                Ok(None)
            } else {
                Ok(Some(self.vault.seal_secret(purpose, secret.as_bytes())?))
            }
        };
        let row = match c.version.as_str() {
            "1" | "2c" => {
                if c.community.is_empty() {
                    return bad("a v1/v2c credential needs a community");
                }
                CredentialRow {
                    name: name.into(),
                    version: c.version.clone(),
                    community: seal(COMMUNITY, &c.community)?,
                    ..blank_credential()
                }
            }
            "3" => {
                if c.user.trim().is_empty() {
                    return bad("an SNMPv3 credential needs a user name");
                }
                let auth = c.auth_proto.trim();
                let privacy = c.priv_proto.trim();
                if !auth.is_empty() && auth.parse::<AuthProto>().is_err() {
                    return bad("authentication is sha or sha256");
                }
                if !privacy.is_empty() && privacy.parse::<PrivProto>().is_err() {
                    return bad("privacy is aes");
                }
                if !privacy.is_empty() && auth.is_empty() {
                    return bad("privacy needs authentication too");
                }
                if (!auth.is_empty() && c.auth_key.len() < 8)
                    || (!privacy.is_empty() && c.priv_key.len() < 8)
                {
                    return bad("SNMPv3 keys are at least 8 characters");
                }
                CredentialRow {
                    name: name.into(),
                    version: "3".into(),
                    v3_user: c.user.trim().into(),
                    auth_proto: auth.into(),
                    auth_key: seal(AUTH_KEY, &c.auth_key)?,
                    priv_proto: privacy.into(),
                    priv_key: seal(PRIV_KEY, &c.priv_key)?,
                    context: c.context.trim().into(),
                    ..blank_credential()
                }
            }
            _ => return bad("the SNMP version is 1, 2c or 3"),
        };
        let id = match self.db.insert_credential(&row).await {
            Err(DbError::Conflict(_)) => return bad("a credential with this name exists"),
            other => other?,
        };
        self.audit(
            Some(admin),
            AuditAction::DiscoveryCredentialAdd,
            name,
            client,
            &format!("SNMP v{}", row.version),
        )
        .await?;
        Ok(id)
    }

    pub async fn delete_credential(
        &self,
        admin: &User,
        id: i64,
        client: &ClientInfo,
    ) -> Result<(), DeviceError> {
        Self::admin(admin)?;
        self.db.delete_credential(id).await?;
        self.audit(
            Some(admin),
            AuditAction::DiscoveryCredentialDelete,
            &id.to_string(),
            client,
            "",
        )
        .await
    }

    /// The credentials with their secrets opened, in the order they are tried.
    pub async fn open_credentials(&self) -> Result<Vec<(i64, SnmpCredential)>, DeviceError> {
        let mut out = Vec::new();
        for row in self.db.credentials().await? {
            out.push((row.id, self.open_credential(&row)?));
        }
        Ok(out)
    }

    fn open_credential(&self, row: &CredentialRow) -> Result<SnmpCredential, DeviceError> {
        let open = |purpose: &str, sealed: &Option<Vec<u8>>| -> Result<String, DeviceError> {
            match sealed {
                Some(bytes) => Ok(String::from_utf8_lossy(
                    &self.vault.open_secret(purpose, bytes)?,
                )
                .into_owned()),
                None => Ok(String::new()),
            }
        };
        Ok(match row.version.as_str() {
            "1" => SnmpCredential::V1 {
                community: open(COMMUNITY, &row.community)?,
            },
            "2c" => SnmpCredential::V2c {
                community: open(COMMUNITY, &row.community)?,
            },
            _ => SnmpCredential::V3 {
                user: row.v3_user.clone(),
                auth: match row.auth_proto.parse::<AuthProto>() {
                    Ok(p) => Some((p, open(AUTH_KEY, &row.auth_key)?)),
                    Err(_) => None,
                },
                privacy: match row.priv_proto.parse::<PrivProto>() {
                    Ok(p) => Some((p, open(PRIV_KEY, &row.priv_key)?)),
                    Err(_) => None,
                },
                context: row.context.clone(),
            },
        })
    }

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
        tracing::info!(scan = id, printers = end.printers, others = end.others, packets = end.packets, state = %end.state, "discovery scan ended");
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

    // --- devices --------------------------------------------------------------------

    pub async fn list(&self) -> Result<Vec<DeviceRow>, DeviceError> {
        Ok(self.db.devices().await?)
    }

    /// Polls one printer now (status, supplies; meters once a day). A printer that does
    /// not answer is marked offline.
    pub async fn poll(
        &self,
        device: &DeviceRow,
        settings: &SnmpSettings,
    ) -> Result<(), DeviceError> {
        let credentials = self.open_credentials().await?;
        let ip: IpAddr = device
            .ip
            .parse()
            .map_err(|_| DeviceError::Invalid(format!("{} is not an address", device.ip)))?;
        let prober = super::snmp::Prober::new(settings.clone()).await?;
        // Its own credential first, then the others.
        let mut ordered: Vec<&(i64, SnmpCredential)> = credentials
            .iter()
            .filter(|(id, _)| Some(*id) == device.credential_id)
            .collect();
        ordered.extend(
            credentials
                .iter()
                .filter(|(id, _)| Some(*id) != device.credential_id),
        );
        for (credential_id, credential) in ordered {
            let session = match prober.session(ip, credential).await {
                Ok(session) => session,
                Err(_) => continue,
            };
            match super::collect::collect(&session).await {
                Ok(report) => {
                    self.save_report(ip, Some(*credential_id), &report).await?;
                    return Ok(());
                }
                Err(SnmpError::Timeout) | Err(SnmpError::Refused(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        self.db.mark_device_offline(device.id).await?;
        Ok(())
    }

    pub async fn device(&self, id: i64) -> Result<DeviceRow, DeviceError> {
        Ok(self.db.device(id).await?)
    }

    /// Each device's lowest supply percentage (devices that report none are absent).
    pub async fn lowest_supplies(
        &self,
    ) -> Result<std::collections::HashMap<i64, i64>, DeviceError> {
        Ok(self.db.lowest_supplies().await?.into_iter().collect())
    }

    pub async fn supplies(&self, id: i64) -> Result<Vec<SupplyRow>, DeviceError> {
        Ok(self.db.supplies_of(id).await?)
    }

    /// Meter reads since `since` (Unix seconds), oldest first.
    pub async fn meters(
        &self,
        id: i64,
        since: i64,
    ) -> Result<Vec<crate::db::devices::MeterRow>, DeviceError> {
        Ok(self.db.meter_reads(id, since).await?)
    }

    /// Supply levels (percent) since `since`, oldest first.
    pub async fn supply_history(
        &self,
        id: i64,
        since: i64,
    ) -> Result<Vec<crate::db::devices::SupplyPoint>, DeviceError> {
        Ok(self.db.supply_history(id, since).await?)
    }

    /// Saves what a collection found (a new device, or the same device by serial or
    /// MAC even at a new address). Returns whether it is a printer.
    pub async fn save_report(
        &self,
        ip: IpAddr,
        credential_id: Option<i64>,
        r: &DeviceReport,
    ) -> Result<bool, DeviceError> {
        let existing = self
            .db
            .find_device(r.serial.as_deref(), r.mac.as_deref(), &ip.to_string())
            .await?;
        let fields = DeviceFields {
            ip: ip.to_string(),
            mac: r.mac.clone(),
            serial: r.serial.clone().filter(|s| !s.is_empty()),
            kind: if r.is_printer { "printer" } else { "other" }.into(),
            credential_id,
            manufacturer: r.manufacturer.clone(),
            model: r.model.clone(),
            description: r.description.clone(),
            sys_name: r.sys_name.clone(),
            sys_object_id: r.sys_object_id.clone(),
            asset: r.asset.clone().unwrap_or_default(),
            location: r.location.clone(),
            contact: r.contact.clone(),
            firmware: r.firmware.clone().unwrap_or_default(),
            color: r.color,
            status: status_name(&r.status).into(),
            error_state: r.error_state.join(","),
            display: r.display.join("\n"),
            alerts: r
                .alerts
                .iter()
                .map(|a| format!("{}: {} ({})", a.severity, a.description, a.code_name))
                .collect::<Vec<_>>()
                .join("\n"),
        };
        let id = self
            .db
            .save_device(existing.as_ref().map(|d| d.id), &fields)
            .await?;
        if r.is_printer {
            let supplies: Vec<SupplyRow> = r
                .supplies
                .iter()
                .map(|s| SupplyRow {
                    idx: s.index,
                    description: s.description.clone(),
                    kind: s.kind.clone(),
                    colorant: s.colorant.clone().unwrap_or_default(),
                    unit: s.unit.clone(),
                    max_capacity: s.max_capacity,
                    level: s.level,
                    percent: s.percent.map(i64::from),
                })
                .collect();
            self.db.record_supplies(id, &supplies).await?;
            let meters_due = existing
                .as_ref()
                .and_then(|d| d.last_meter_at)
                .is_none_or(|at| crate::db::now() - at >= 24 * 3600);
            if meters_due {
                self.db
                    .record_meters(id, r.meters.total, r.meters.mono, r.meters.color)
                    .await?;
            }
        }
        Ok(r.is_printer)
    }

    /// A device answered the probe but could not be collected: kept with what the
    /// probe said, so it is not lost.
    pub async fn save_answer(
        &self,
        ip: IpAddr,
        credential_id: Option<i64>,
        a: &ProbeAnswer,
        why: &SnmpError,
    ) -> Result<bool, DeviceError> {
        tracing::info!(%ip, error = %why, "a device answered but could not be read in full");
        let existing = self.db.find_device(None, None, &ip.to_string()).await?;
        let fields = DeviceFields {
            ip: ip.to_string(),
            kind: if a.is_printer { "printer" } else { "other" }.into(),
            credential_id,
            description: a.sys_descr.clone(),
            sys_object_id: a.sys_object_id.clone(),
            status: "unknown".into(),
            ..Default::default()
        };
        self.db.save_device(existing.map(|d| d.id), &fields).await?;
        Ok(a.is_printer)
    }

    /// Makes a release printer of a discovered device: IPPS if its port 631 speaks it,
    /// else IPP, else raw 9100 when that port is open.
    pub async fn make_printer(
        &self,
        admin: &User,
        id: i64,
        client: &ClientInfo,
    ) -> Result<i64, DeviceError> {
        Self::admin(admin)?;
        let device = self.db.device(id).await?;
        if let Some(printer) = device.printer_id {
            return Ok(printer);
        }
        let uri = release_uri(&device.ip).await.ok_or_else(|| {
            DeviceError::Invalid(format!(
                "{} has neither IPP (631) nor raw printing (9100) open",
                device.ip
            ))
        })?;
        let name = if device.sys_name.is_empty() {
            format!("{} {}", device.model, device.ip).trim().to_string()
        } else {
            device.sys_name.clone()
        };
        let form = PrinterForm {
            name,
            location: device.location.clone(),
            uri,
            ..Default::default()
        };
        let printer = self.printers.add(admin, &form, client).await?;
        self.db.set_device_printer(id, printer.id).await?;
        Ok(printer.id)
    }
}

fn blank_credential() -> CredentialRow {
    CredentialRow {
        id: 0,
        name: String::new(),
        version: String::new(),
        community: None,
        v3_user: String::new(),
        auth_proto: String::new(),
        auth_key: None,
        priv_proto: String::new(),
        priv_key: None,
        context: String::new(),
        position: 0,
        created_at: 0,
    }
}

pub fn status_name(status: &DeviceStatus) -> &'static str {
    match status {
        DeviceStatus::Ok => "ok",
        DeviceStatus::Warning => "warning",
        DeviceStatus::Error => "error",
        DeviceStatus::Offline => "offline",
        DeviceStatus::Unknown => "unknown",
    }
}

/// The URI to print to, found from the device's open ports.
async fn release_uri(ip: &str) -> Option<String> {
    let timeouts = crate::ipp::client::Timeouts {
        connect: Duration::from_secs(2),
        handshake: Duration::from_secs(3),
        response: Duration::from_secs(5),
        ..Default::default()
    };
    let host = if ip.contains(':') {
        format!("[{ip}]")
    } else {
        ip.to_string()
    };
    for scheme in ["ipps", "ipp"] {
        let uri = format!("{scheme}://{host}:631/ipp/print");
        if crate::ipp::client::get_printer_attributes(&uri, None, &timeouts)
            .await
            .is_ok()
        {
            return Some(uri);
        }
    }
    let raw = format!("{host}:9100");
    match tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(&raw)).await {
        Ok(Ok(_)) => Some(format!("socket://{raw}")),
        _ => None,
    }
}
