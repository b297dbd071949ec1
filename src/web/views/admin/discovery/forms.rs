//! The discovery page's forms as posted, and its rows ready to lay out (a credential
//! never carries its secrets here).

use serde::Deserialize;

use crate::db::{CredentialRow, DiscoverySettingsRow, ScanRow};
use crate::devices::DeviceError;
use crate::web::extract::csrf_field;
use crate::web::views::when;

pub const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// The settings form as shown: from the stored row, or as the admin typed it.
#[derive(Deserialize, Default)]
pub struct SettingsInput {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub schedule: String,
    #[serde(default)]
    pub time: String,
    #[serde(default)]
    pub weekday: String,
    #[serde(default)]
    pub rate_pps: String,
    #[serde(default)]
    pub timeout_ms: String,
    #[serde(default)]
    pub retries: String,
    #[serde(default)]
    pub port: String,
    #[serde(default)]
    pub status_every_min: String,
}

csrf_field!(SettingsInput);

impl SettingsInput {
    pub fn of(s: &DiscoverySettingsRow) -> Self {
        Self {
            csrf: String::new(),
            schedule: s.schedule.clone(),
            time: format!("{:02}:{:02}", s.at_minute / 60, s.at_minute % 60),
            weekday: s.weekday.to_string(),
            rate_pps: s.rate_pps.to_string(),
            timeout_ms: s.timeout_ms.to_string(),
            retries: s.retries.to_string(),
            port: s.port.to_string(),
            status_every_min: s.status_every_min.to_string(),
        }
    }

    /// The row to save; the service checks the ranges of the numbers.
    pub fn to_row(
        &self,
        current: &DiscoverySettingsRow,
    ) -> Result<DiscoverySettingsRow, DeviceError> {
        let number = |text: &str, what: &str| {
            text.trim()
                .parse::<i64>()
                .map_err(|_| DeviceError::Invalid(format!("the {what} must be a whole number")))
        };
        let at_minute = self
            .time
            .trim()
            .split_once(':')
            .and_then(|(h, m)| Some((h.parse::<i64>().ok()?, m.parse::<i64>().ok()?)))
            .filter(|(h, m)| (0..24).contains(h) && (0..60).contains(m))
            .map(|(h, m)| h * 60 + m)
            .ok_or_else(|| {
                DeviceError::Invalid("the time must be HH:MM (UTC), e.g. 02:00".into())
            })?;
        Ok(DiscoverySettingsRow {
            schedule: self.schedule.trim().to_owned(),
            at_minute,
            weekday: number(&self.weekday, "weekday")?,
            rate_pps: number(&self.rate_pps, "rate limit")?,
            timeout_ms: number(&self.timeout_ms, "time-out")?,
            retries: number(&self.retries, "number of retries")?,
            port: number(&self.port, "port")?,
            status_every_min: number(&self.status_every_min, "status poll interval")?,
            last_scheduled_scan: current.last_scheduled_scan,
        })
    }
}

/// One choice of a select.
pub struct Choice {
    pub value: String,
    pub label: &'static str,
    pub selected: bool,
}

/// A configured range, ready to lay out.
pub struct RangeLine {
    pub id: i64,
    pub spec: String,
    pub exclude: bool,
    pub added: String,
}

/// A credential without any of its secrets.
pub struct CredentialLine {
    pub id: i64,
    pub name: String,
    pub version: String,
    pub user: String,
    pub security: String,
    pub added: String,
}

impl From<CredentialRow> for CredentialLine {
    fn from(c: CredentialRow) -> Self {
        Self {
            id: c.id,
            security: match c.version.as_str() {
                "3" => [
                    c.auth_proto.as_str(),
                    c.priv_proto.as_str(),
                    c.context.as_str(),
                ]
                .iter()
                .zip(["auth ", "privacy ", "context "])
                .filter(|(v, _)| !v.is_empty())
                .map(|(v, label)| format!("{label}{v}"))
                .collect::<Vec<_>>()
                .join(", "),
                _ => "community (sealed)".into(),
            },
            name: c.name,
            version: c.version,
            user: c.v3_user,
            added: when(c.created_at),
        }
    }
}

/// A scan, ready to lay out.
#[derive(Clone)]
pub struct ScanLine {
    pub id: i64,
    pub started: String,
    pub trigger: String,
    pub ranges: String,
    pub state: String,
    pub state_class: &'static str,
    pub total: i64,
    pub probed: i64,
    /// Whole percent probed, for the progress element.
    pub percent: i64,
    pub printers: i64,
    pub others: i64,
    pub packets: i64,
    pub duration: String,
    pub error: String,
    pub cancel_asked: bool,
}

fn duration(seconds: i64) -> String {
    match seconds.max(0) {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min {} s", s / 60, s % 60),
        s => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

impl From<ScanRow> for ScanLine {
    fn from(s: ScanRow) -> Self {
        let end = s.finished_at.unwrap_or_else(crate::clock::now);
        Self {
            id: s.id,
            started: when(s.started_at),
            trigger: s.trigger_source,
            ranges: s.ranges,
            state_class: match s.state.as_str() {
                "done" => "ok",
                "running" => "warn",
                "failed" | "interrupted" => "bad",
                _ => "",
            },
            state: s.state,
            percent: if s.total > 0 {
                (s.probed * 100 / s.total).clamp(0, 100)
            } else {
                0
            },
            total: s.total,
            probed: s.probed,
            printers: s.printers,
            others: s.others,
            packets: s.packets,
            duration: duration(end - s.started_at),
            error: s.error,
            cancel_asked: s.cancel,
        }
    }
}

#[derive(Deserialize)]
pub struct RangeInput {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub spec: String,
    pub exclude: Option<String>,
}

csrf_field!(RangeInput);

/// The credential form as posted. Secrets go to the service and are never echoed.
#[derive(Deserialize, Default)]
pub struct CredentialInput {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub community: String,
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub auth_proto: String,
    #[serde(default)]
    pub auth_key: String,
    #[serde(default)]
    pub priv_proto: String,
    #[serde(default)]
    pub priv_key: String,
    #[serde(default)]
    pub context: String,
}

csrf_field!(CredentialInput);

#[derive(Deserialize)]
pub struct ScanInput {
    #[serde(default)]
    pub csrf: String,
    pub confirm_large: Option<String>,
}

csrf_field!(ScanInput);
