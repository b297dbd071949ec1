//! Monitoring: every minute, whichever server process gets there polls the printers
//! whose status is due (`status_every_min`, 15 by default; meters once a day) and
//! starts the scheduled discovery when its time has come.

use std::time::Duration;

use time::OffsetDateTime;

use super::Devices;
use crate::clock::now;
use crate::db::DiscoverySettingsRow;

/// Polls due printers and runs due scheduled scans, until aborted.
pub fn spawn(devices: Devices) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        loop {
            every.tick().await;
            if let Err(e) = round(&devices).await {
                tracing::warn!(error = %e, "device monitoring round failed; will retry");
            }
        }
    })
}

async fn round(devices: &Devices) -> Result<(), super::DeviceError> {
    let settings = devices.settings().await?;
    devices.db.interrupt_stale_scans().await?;
    if let Some(due) = scheduled_due(&settings, now())
        && devices.db.claim_scheduled_scan(due).await?
    {
        let scan = devices.scan("schedule", None, true, &|_| {}).await;
        if let Err(e) = scan {
            tracing::warn!(error = %e, "scheduled discovery did not run");
        }
    }
    let snmp = Devices::snmp_settings(&settings);
    let stale_before = now() - settings.status_every_min * 60;
    for device in devices.list().await? {
        if device.kind == "printer"
            && device.last_polled.is_none_or(|at| at <= stale_before)
            && let Err(e) = devices.poll(&device, &snmp).await
        {
            tracing::info!(device = device.id, ip = %device.ip, error = %e, "polling a printer failed");
        }
    }
    Ok(())
}

/// The most recent scheduled time at or before `at` (UTC), if a schedule is on.
pub fn scheduled_due(s: &DiscoverySettingsRow, at: i64) -> Option<i64> {
    let day = 24 * 3600;
    let midnight = at - at.rem_euclid(day);
    let today = midnight + s.at_minute * 60;
    match s.schedule.as_str() {
        "daily" => Some(if today <= at { today } else { today - day }),
        "weekly" => {
            let weekday = OffsetDateTime::from_unix_timestamp(at)
                .ok()?
                .weekday()
                .number_days_from_monday() as i64;
            let back = (weekday - s.weekday).rem_euclid(7);
            let candidate = today - back * day;
            Some(if candidate <= at {
                candidate
            } else {
                candidate - 7 * day
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(schedule: &str, at_minute: i64, weekday: i64) -> DiscoverySettingsRow {
        DiscoverySettingsRow {
            schedule: schedule.into(),
            at_minute,
            weekday,
            rate_pps: 200,
            timeout_ms: 800,
            retries: 1,
            port: 161,
            status_every_min: 15,
            last_scheduled_scan: None,
        }
    }

    #[test]
    fn daily_and_weekly_schedules_fall_on_the_chosen_time() {
        // 2026-11-27 is a Friday; 10:00 UTC.
        let at = 1_795_773_600;
        assert_eq!(scheduled_due(&settings("off", 120, 0), at), None);
        // Daily at 02:00: today 02:00.
        assert_eq!(
            scheduled_due(&settings("daily", 120, 0), at),
            Some(at - 8 * 3600)
        );
        // Daily at 23:00: yesterday 23:00.
        assert_eq!(
            scheduled_due(&settings("daily", 23 * 60, 0), at),
            Some(at - 11 * 3600)
        );
        // Weekly on Monday (0) at 02:00: this Monday, four days and eight hours back.
        assert_eq!(
            scheduled_due(&settings("weekly", 120, 0), at),
            Some(at - 4 * 86400 - 8 * 3600)
        );
        // Weekly on Friday (4) at 12:00: last Friday.
        assert_eq!(
            scheduled_due(&settings("weekly", 12 * 60, 4), at),
            Some(at + 2 * 3600 - 7 * 86400)
        );
    }
}
