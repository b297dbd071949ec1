//! Devices found by SNMP discovery: the devices, their supplies and meters with
//! history. Discovery's settings, ranges, credentials and scans are in `discovery.rs`.

use super::{Db, DbResult, on_backend, touched};
use crate::clock::now;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeviceRow {
    pub id: i64,
    pub ip: String,
    pub mac: Option<String>,
    pub serial: Option<String>,
    pub kind: String,
    pub credential_id: Option<i64>,
    pub manufacturer: String,
    pub model: String,
    pub description: String,
    pub sys_name: String,
    pub sys_object_id: String,
    pub asset: String,
    pub location: String,
    pub contact: String,
    pub firmware: String,
    pub color: Option<bool>,
    pub status: String,
    pub error_state: String,
    pub display: String,
    pub alerts: String,
    pub printer_id: Option<i64>,
    pub first_seen: i64,
    pub last_seen: i64,
    pub last_polled: Option<i64>,
    pub last_meter_at: Option<i64>,
}

const DEVICE_COLUMNS: &str = "id, ip, mac, serial, kind, credential_id, manufacturer, model, description, sys_name, sys_object_id, asset, location, contact, firmware, color, status, error_state, display, alerts, printer_id, first_seen, last_seen, last_polled, last_meter_at";

/// What a collection found, as stored.
#[derive(Debug, Clone, Default)]
pub struct DeviceFields {
    pub ip: String,
    pub mac: Option<String>,
    pub serial: Option<String>,
    pub kind: String,
    pub credential_id: Option<i64>,
    pub manufacturer: String,
    pub model: String,
    pub description: String,
    pub sys_name: String,
    pub sys_object_id: String,
    pub asset: String,
    pub location: String,
    pub contact: String,
    pub firmware: String,
    pub color: Option<bool>,
    pub status: String,
    pub error_state: String,
    pub display: String,
    pub alerts: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SupplyRow {
    pub idx: i64,
    pub description: String,
    pub kind: String,
    pub colorant: String,
    pub unit: String,
    pub max_capacity: Option<i64>,
    pub level: Option<i64>,
    pub percent: Option<i64>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MeterRow {
    pub at: i64,
    pub total: Option<i64>,
    pub mono: Option<i64>,
    pub color: Option<i64>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SupplyPoint {
    pub at: i64,
    pub idx: i64,
    pub percent: Option<i64>,
}

impl Db {
    // --- devices --------------------------------------------------------------------

    /// The device a report belongs to: same serial, else same MAC, else (for devices
    /// without either) same address.
    pub async fn find_device(
        &self,
        serial: Option<&str>,
        mac: Option<&str>,
        ip: &str,
    ) -> DbResult<Option<DeviceRow>> {
        for (column, value) in [("serial", serial), ("mac", mac)] {
            if let Some(value) = value.filter(|v| !v.is_empty()) {
                let sql = format!(
                    "SELECT {DEVICE_COLUMNS} FROM devices WHERE {column} = $1 ORDER BY last_seen DESC LIMIT 1"
                );
                let row = on_backend!(self, |pool| {
                    sqlx::query_as::<_, DeviceRow>(&sql)
                        .bind(value)
                        .fetch_optional(pool)
                        .await?
                });
                if row.is_some() {
                    return Ok(row);
                }
            }
        }
        let sql = format!(
            "SELECT {DEVICE_COLUMNS} FROM devices WHERE ip = $1 AND serial IS NULL AND mac IS NULL LIMIT 1"
        );
        Ok(on_backend!(self, |pool| {
            sqlx::query_as::<_, DeviceRow>(&sql)
                .bind(ip)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// Inserts (`id` = None) or updates a device with what was just collected.
    pub async fn save_device(&self, id: Option<i64>, d: &DeviceFields) -> DbResult<i64> {
        let at = now();
        let id = on_backend!(self, |pool| {
            let q = match id {
                None => sqlx::query_scalar::<_, i64>(
                    "INSERT INTO devices (ip, mac, serial, kind, credential_id, manufacturer, model, description, sys_name, sys_object_id, asset, location, contact, firmware, color, status, error_state, display, alerts, first_seen, last_seen, last_polled) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $20, $20) RETURNING id",
                ),
                Some(_) => sqlx::query_scalar::<_, i64>(
                    "UPDATE devices SET ip = $1, mac = COALESCE($2, mac), serial = COALESCE($3, serial), kind = $4, credential_id = $5, manufacturer = $6, model = $7, description = $8, \
                     sys_name = $9, sys_object_id = $10, asset = $11, location = $12, contact = $13, firmware = $14, color = $15, status = $16, error_state = $17, display = $18, alerts = $19, \
                     last_seen = $20, last_polled = $20 WHERE id = $21 RETURNING id",
                ),
            };
            q.bind(&d.ip)
                .bind(d.mac.as_deref())
                .bind(d.serial.as_deref())
                .bind(&d.kind)
                .bind(d.credential_id)
                .bind(&d.manufacturer)
                .bind(&d.model)
                .bind(&d.description)
                .bind(&d.sys_name)
                .bind(&d.sys_object_id)
                .bind(&d.asset)
                .bind(&d.location)
                .bind(&d.contact)
                .bind(&d.firmware)
                .bind(d.color)
                .bind(&d.status)
                .bind(&d.error_state)
                .bind(&d.display)
                .bind(&d.alerts)
                .bind(at)
                .bind(id)
                .fetch_one(pool)
                .await?
        });
        Ok(id)
    }

    /// A device that stopped answering a status poll.
    pub async fn mark_device_offline(&self, id: i64) -> DbResult<()> {
        let done = on_backend!(self, |pool| {
            sqlx::query("UPDATE devices SET status = 'offline', last_polled = $1 WHERE id = $2")
                .bind(now())
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        touched(done)
    }

    pub async fn devices(&self) -> DbResult<Vec<DeviceRow>> {
        let sql = format!("SELECT {DEVICE_COLUMNS} FROM devices ORDER BY kind DESC, ip");
        Ok(on_backend!(self, |pool| {
            sqlx::query_as::<_, DeviceRow>(&sql).fetch_all(pool).await?
        }))
    }

    pub async fn device(&self, id: i64) -> DbResult<DeviceRow> {
        let sql = format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE id = $1");
        Ok(on_backend!(self, |pool| {
            sqlx::query_as::<_, DeviceRow>(&sql)
                .bind(id)
                .fetch_one(pool)
                .await?
        }))
    }

    pub async fn set_device_printer(&self, id: i64, printer_id: i64) -> DbResult<()> {
        let done = on_backend!(self, |pool| {
            sqlx::query("UPDATE devices SET printer_id = $1 WHERE id = $2")
                .bind(printer_id)
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        touched(done)
    }

    /// Makes the device due for the next monitoring round (within a minute): a printer
    /// just linked to it learns what it reported (issue 17: its languages).
    pub async fn poll_device_soon(&self, id: i64) -> DbResult<()> {
        let done = on_backend!(self, |pool| {
            sqlx::query("UPDATE devices SET last_polled = NULL WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        touched(done)
    }

    /// Replaces the current supplies of a device and appends them to the history.
    pub async fn record_supplies(&self, device_id: i64, supplies: &[SupplyRow]) -> DbResult<()> {
        let at = now();
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM device_supplies WHERE device_id = $1")
                .bind(device_id)
                .execute(&mut *tx)
                .await?;
            for s in supplies {
                sqlx::query(
                    "INSERT INTO device_supplies (device_id, idx, description, kind, colorant, unit, max_capacity, level, percent) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(device_id)
                .bind(s.idx)
                .bind(&s.description)
                .bind(&s.kind)
                .bind(&s.colorant)
                .bind(&s.unit)
                .bind(s.max_capacity)
                .bind(s.level)
                .bind(s.percent)
                .execute(&mut *tx)
                .await?;
                sqlx::query("INSERT INTO supply_history (device_id, at, idx, percent) VALUES ($1, $2, $3, $4)")
                    .bind(device_id)
                    .bind(at)
                    .bind(s.idx)
                    .bind(s.percent)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// The lowest known supply percentage of every device that reports one (one query
    /// for the devices list and the dashboard).
    pub async fn lowest_supplies(&self) -> DbResult<Vec<(i64, i64)>> {
        Ok(on_backend!(self, |pool| {
            sqlx::query_as::<_, (i64, i64)>(
                "SELECT device_id, MIN(percent) FROM device_supplies WHERE percent IS NOT NULL GROUP BY device_id",
            )
            .fetch_all(pool)
            .await?
        }))
    }

    pub async fn supplies_of(&self, device_id: i64) -> DbResult<Vec<SupplyRow>> {
        Ok(on_backend!(self, |pool| {
            sqlx::query_as::<_, SupplyRow>(
                "SELECT idx, description, kind, colorant, unit, max_capacity, level, percent FROM device_supplies WHERE device_id = $1 ORDER BY idx",
            )
            .bind(device_id)
            .fetch_all(pool)
            .await?
        }))
    }

    pub async fn supply_history(&self, device_id: i64, since: i64) -> DbResult<Vec<SupplyPoint>> {
        Ok(on_backend!(self, |pool| {
            sqlx::query_as::<_, SupplyPoint>(
                "SELECT at, idx, percent FROM supply_history WHERE device_id = $1 AND at >= $2 ORDER BY at",
            )
            .bind(device_id)
            .bind(since)
            .fetch_all(pool)
            .await?
        }))
    }

    pub async fn record_meters(
        &self,
        device_id: i64,
        total: Option<i64>,
        mono: Option<i64>,
        color: Option<i64>,
    ) -> DbResult<()> {
        let at = now();
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query("INSERT INTO meter_reads (device_id, at, total, mono, color) VALUES ($1, $2, $3, $4, $5)")
                .bind(device_id)
                .bind(at)
                .bind(total)
                .bind(mono)
                .bind(color)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE devices SET last_meter_at = $1 WHERE id = $2")
                .bind(at)
                .bind(device_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn meter_reads(&self, device_id: i64, since: i64) -> DbResult<Vec<MeterRow>> {
        Ok(on_backend!(self, |pool| {
            sqlx::query_as::<_, MeterRow>(
                "SELECT at, total, mono, color FROM meter_reads WHERE device_id = $1 AND at >= $2 ORDER BY at",
            )
            .bind(device_id)
            .bind(since)
            .fetch_all(pool)
            .await?
        }))
    }
}
