//! The devices found: listing and polling them, their supplies, meters and their
//! history, saving what a scan or poll reports (a linked printer's languages too), and
//! making a release printer of one.

use std::net::IpAddr;
use std::time::Duration;

use crate::db::{DeviceFields, DeviceRow, SupplyRow};
use crate::identity::{ClientInfo, User};
use crate::release::PrinterForm;

use super::collect::{DeviceReport, DeviceStatus};
use super::snmp::{ProbeAnswer, SnmpCredential, SnmpError, SnmpSettings};
use super::{DeviceError, Devices};

impl Devices {
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
        // The languages a release printer made of this device speaks: proposed on its
        // page as its printer language (kept when a poll says none).
        if let Some(printer_id) = existing.as_ref().and_then(|d| d.printer_id)
            && !r.languages.is_empty()
        {
            let text = crate::convert::PrinterLanguage::list_text(&r.languages);
            match self
                .db
                .set_printer_language_reported(printer_id, &text)
                .await
            {
                // The printer was deleted meanwhile.
                Err(crate::db::DbError::NotFound) => {}
                other => other?,
            }
        }
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
                .is_none_or(|at| crate::clock::now() - at >= 24 * 3600);
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
        if printer.uri.starts_with("socket://") {
            // A raw printer cannot be asked what it speaks over its port: the next
            // monitoring round (within a minute) polls the device, and the printer's
            // page then proposes a language.
            self.db.poll_device_soon(id).await?;
        }
        Ok(printer.id)
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
