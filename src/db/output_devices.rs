//! Output devices of printers that pull their jobs (IPP INFRA), and the fetch side of
//! releases. Their ippget subscriptions and events are in `infra_events.rs`.

use super::infra_events::{FETCHABLE_JOB_STATE, emit_event};
use super::{Db, DbResult, ReleaseRow, on_backend, touched};
use crate::clock::now;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutputDeviceRow {
    pub id: i64,
    pub printer_id: i64,
    pub name: String,
    pub login: String,
    pub secret_hash: Vec<u8>,
    pub device_uuid: Option<String>,
    pub make_model: String,
    pub formats: String,
    pub state: String,
    pub state_reasons: String,
    pub state_message: String,
    pub attributes: String,
    pub revoked_at: Option<i64>,
    pub last_seen_at: Option<i64>,
    pub created_at: i64,
    /// The on-site agent this device row belongs to (it serves the printer for it).
    pub agent_id: Option<i64>,
}

pub(super) const DEVICE_SELECT: &str = "SELECT id, printer_id, name, login, secret_hash, device_uuid, make_model, formats, state, state_reasons, state_message, attributes, revoked_at, last_seen_at, created_at, agent_id FROM output_devices";

/// What a device says about its printer (Update-Output-Device-Attributes).
#[derive(Debug, Clone, Default)]
pub struct DeviceReportFields {
    pub make_model: String,
    pub formats: String,
    pub state: String,
    pub state_reasons: String,
    pub state_message: String,
    /// Every attribute it sent, one `name = value` per line, for the admin.
    pub attributes: String,
}

impl Db {
    pub async fn insert_output_device(
        &self,
        printer_id: i64,
        name: &str,
        login: &str,
        secret_hash: &[u8],
        agent_id: Option<i64>,
    ) -> DbResult<i64> {
        Ok(on_backend!(self, |pool| {
            sqlx::query_scalar(
                "INSERT INTO output_devices (printer_id, name, login, secret_hash, created_at, agent_id) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(printer_id)
            .bind(name)
            .bind(login)
            .bind(secret_hash)
            .bind(now())
            .bind(agent_id)
            .fetch_one(pool)
            .await?
        }))
    }

    pub async fn output_device_by_login(&self, login: &str) -> DbResult<OutputDeviceRow> {
        let sql = format!("{DEVICE_SELECT} WHERE login = $1");
        Ok(on_backend!(self, |pool| {
            sqlx::query_as::<_, OutputDeviceRow>(&sql)
                .bind(login)
                .fetch_one(pool)
                .await?
        }))
    }

    pub async fn output_device_by_id(&self, id: i64) -> DbResult<OutputDeviceRow> {
        let sql = format!("{DEVICE_SELECT} WHERE id = $1");
        Ok(on_backend!(self, |pool| {
            sqlx::query_as::<_, OutputDeviceRow>(&sql)
                .bind(id)
                .fetch_one(pool)
                .await?
        }))
    }

    /// A printer's output devices, revoked ones included, newest first.
    pub async fn output_devices_of(&self, printer_id: i64) -> DbResult<Vec<OutputDeviceRow>> {
        let sql = format!("{DEVICE_SELECT} WHERE printer_id = $1 ORDER BY id DESC");
        Ok(on_backend!(self, |pool| {
            sqlx::query_as::<_, OutputDeviceRow>(&sql)
                .bind(printer_id)
                .fetch_all(pool)
                .await?
        }))
    }

    /// Revokes a device: its credential stops working, its subscriptions end.
    pub async fn revoke_output_device(&self, id: i64) -> DbResult<()> {
        let at = now();
        let done = on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "UPDATE output_devices SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
            )
            .bind(at)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            sqlx::query("DELETE FROM infra_subscriptions WHERE device_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            done
        });
        touched(done)
    }

    /// A request from the device: it is alive, and so are the leases of what it fetched.
    /// Written only when it matters (last contact older than 5 s; a lease with less
    /// than `renew_before` left), so a busy device's requests cost no writes.
    pub async fn touch_output_device(
        &self,
        id: i64,
        lease_until: i64,
        renew_before: i64,
    ) -> DbResult<()> {
        let at = now();
        on_backend!(self, |pool| {
            sqlx::query(
                "UPDATE output_devices SET last_seen_at = $1 WHERE id = $2 AND (last_seen_at IS NULL OR last_seen_at <= $1 - 5)",
            )
            .bind(at)
            .bind(id)
            .execute(pool)
            .await?;
            sqlx::query(
                "UPDATE releases SET lease_until = $1 WHERE device_id = $2 AND state IN ('releasing', 'sent') AND lease_until < $3",
            )
            .bind(lease_until)
            .bind(id)
            .bind(renew_before)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Register-Output-Device: notes the device's uuid. A device that registers again
    /// has restarted: its old subscriptions go (it makes new ones).
    pub async fn register_output_device(&self, id: i64, uuid: &str) -> DbResult<()> {
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "UPDATE output_devices SET device_uuid = $1, last_seen_at = $2 WHERE id = $3",
            )
            .bind(uuid)
            .bind(now())
            .bind(id)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM infra_subscriptions WHERE device_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Deregister-Output-Device: the device leaves; its subscriptions end.
    pub async fn deregister_output_device(&self, id: i64) -> DbResult<()> {
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "UPDATE output_devices SET device_uuid = NULL, state = 'unknown' WHERE id = $1",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM infra_subscriptions WHERE device_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn update_output_device_report(
        &self,
        id: i64,
        report: &DeviceReportFields,
    ) -> DbResult<()> {
        let done = on_backend!(self, |pool| {
            sqlx::query(
                "UPDATE output_devices SET make_model = $1, formats = $2, state = $3, state_reasons = $4, \
                 state_message = $5, attributes = $6, last_seen_at = $7 WHERE id = $8",
            )
            .bind(&report.make_model)
            .bind(&report.formats)
            .bind(&report.state)
            .bind(&report.state_reasons)
            .bind(&report.state_message)
            .bind(&report.attributes)
            .bind(now())
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected()
        });
        touched(done)
    }

    /// Releases waiting to be fetched at a printer, oldest first.
    pub async fn fetchable_releases(&self, printer_id: i64) -> DbResult<Vec<ReleaseRow>> {
        let sql = format!(
            "{} WHERE r.printer_id = $1 AND r.state = 'queued' \
             AND r.job_id NOT IN (SELECT id FROM jobs WHERE held_by_agent IS NOT NULL) ORDER BY r.id",
            super::releases::RELEASE_SELECT
        );
        Ok(on_backend!(self, |pool| {
            sqlx::query_as::<_, ReleaseRow>(&sql)
                .bind(printer_id)
                .fetch_all(pool)
                .await?
        }))
    }

    /// Fetch-Job: the device takes a queued release of its printer under a lease.
    /// Fetching again what the same device already holds is allowed (a lost answer).
    /// `None`: not fetchable for this device.
    pub async fn fetch_release(
        &self,
        release_id: i64,
        printer_id: i64,
        device_id: i64,
        owner: &str,
        lease_until: i64,
    ) -> DbResult<Option<ReleaseRow>> {
        let at = now();
        let taken = on_backend!(self, |pool| {
            sqlx::query(
                "UPDATE releases SET state = 'releasing', lease_owner = $1, lease_until = $2, device_id = $3, \
                 attempts = attempts + 1, transmitting = FALSE, protocol = 'infra', updated_at = $4 \
                 WHERE id = $5 AND printer_id = $6 AND state = 'queued' \
                 AND job_id NOT IN (SELECT id FROM jobs WHERE held_by_agent IS NOT NULL)",
            )
            .bind(owner)
            .bind(lease_until)
            .bind(device_id)
            .bind(at)
            .bind(release_id)
            .bind(printer_id)
            .execute(pool)
            .await?
            .rows_affected()
        });
        let row = match self.release_by_id(release_id).await {
            Ok(row) => row,
            Err(super::DbError::NotFound) => return Ok(None),
            Err(e) => return Err(e),
        };
        let mine = row.printer_id == printer_id
            && row.lease_owner.as_deref() == Some(owner)
            && matches!(row.state.as_str(), "releasing" | "sent");
        Ok((taken > 0 || mine).then_some(row))
    }

    /// Puts releases back in the fetchable queue and tells the subscribers, in one
    /// transaction (a device went away before any byte left).
    pub async fn make_fetchable_again(&self, release_ids: &[i64], reason: &str) -> DbResult<()> {
        let at = now();
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            for id in release_ids {
                let printer: Option<i64> = sqlx::query_scalar(
                    "UPDATE releases SET state = 'queued', lease_owner = NULL, lease_until = NULL, device_id = NULL, \
                     transmitting = FALSE, reason = $1, updated_at = $2 WHERE id = $3 AND state = 'releasing' AND NOT transmitting \
                     RETURNING printer_id",
                )
                .bind(reason)
                .bind(at)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(printer) = printer {
                    emit_event!(tx, printer, *id, "job-fetchable", FETCHABLE_JOB_STATE, at);
                }
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Releases a device holds (fetched, not ended).
    pub async fn releases_held_by_device(&self, device_id: i64) -> DbResult<Vec<ReleaseRow>> {
        let sql = format!(
            "{} WHERE r.device_id = $1 AND r.state IN ('releasing', 'sent') ORDER BY r.id",
            super::releases::RELEASE_SELECT
        );
        Ok(on_backend!(self, |pool| {
            sqlx::query_as::<_, ReleaseRow>(&sql)
                .bind(device_id)
                .fetch_all(pool)
                .await?
        }))
    }
}
