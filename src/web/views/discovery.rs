//! Admin page for SNMP discovery: schedule and limits, ranges, credentials (secrets are
//! sealed by the service and never shown), "Scan now" with the running scan's
//! progress, and the last scans.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::session::CsrfOnly;
use super::{Page, redirect, render, when};
use crate::db::{DiscoverySettingsRow, ScanRow};
use crate::devices::{DeviceError, NewCredential};
use crate::web::AppState;
use crate::web::auth::{Admin, check_form, client_info};
use crate::web::error::{PageError, Problem};

const WEEKDAYS: [&str; 7] = [
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
    csrf: String,
    #[serde(default)]
    schedule: String,
    #[serde(default)]
    time: String,
    #[serde(default)]
    weekday: String,
    #[serde(default)]
    rate_pps: String,
    #[serde(default)]
    timeout_ms: String,
    #[serde(default)]
    retries: String,
    #[serde(default)]
    port: String,
    #[serde(default)]
    status_every_min: String,
}

impl SettingsInput {
    fn of(s: &DiscoverySettingsRow) -> Self {
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
    fn to_row(&self, current: &DiscoverySettingsRow) -> Result<DiscoverySettingsRow, DeviceError> {
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
        let end = s.finished_at.unwrap_or_else(crate::db::now);
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

#[derive(Template)]
#[template(path = "admin/discovery.html")]
struct DiscoveryPage {
    page: Page,
    form: SettingsInput,
    schedules: Vec<Choice>,
    weekdays: Vec<Choice>,
    ranges: Vec<RangeLine>,
    credentials: Vec<CredentialLine>,
    /// Name, version, user and context of a refused credential, for correcting
    /// (never its secrets).
    credential: CredentialInput,
    running: Option<ScanLine>,
    scans: Vec<ScanLine>,
}

async fn discovery_page(
    state: &AppState,
    page: Page,
    typed: Option<SettingsInput>,
    credential: CredentialInput,
) -> Result<HttpResponse, PageError> {
    let d = &state.services.devices;
    let form = match typed {
        Some(typed) => typed,
        None => SettingsInput::of(&d.settings().await?),
    };
    let scans: Vec<ScanLine> = d
        .recent_scans(20)
        .await?
        .into_iter()
        .map(ScanLine::from)
        .collect();
    let running = scans.iter().find(|s| s.state == "running").cloned();
    render(&DiscoveryPage {
        page,
        schedules: [
            ("off", "Off"),
            ("daily", "Every day"),
            ("weekly", "Every week"),
        ]
        .into_iter()
        .map(|(value, label)| Choice {
            value: value.into(),
            label,
            selected: form.schedule == value,
        })
        .collect(),
        weekdays: WEEKDAYS
            .iter()
            .enumerate()
            .map(|(i, label)| Choice {
                value: i.to_string(),
                label,
                selected: form.weekday == i.to_string(),
            })
            .collect(),
        form,
        ranges: d
            .ranges()
            .await?
            .into_iter()
            .map(|r| RangeLine {
                id: r.id,
                spec: r.spec,
                exclude: r.exclude,
                added: when(r.created_at),
            })
            .collect(),
        credentials: d
            .credentials()
            .await?
            .into_iter()
            .map(|c| CredentialLine {
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
            })
            .collect(),
        credential,
        running,
        scans,
    })
}

/// `?done=…` after a change: a fixed sentence, so the query cannot put text on the page.
#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

fn done_notice(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "settings" => "Discovery settings saved.",
        "range" => "Range added.",
        "range-deleted" => "Range deleted.",
        "credential" => "Credential added. Its secrets are sealed and are not shown again.",
        "credential-deleted" => "Credential deleted.",
        "scan" => "Scan started.",
        "cancel" => "Cancel asked: the scan stops after the addresses it is probing now.",
        _ => return None,
    })
}

fn title_page(state: &AppState, who: &Admin) -> Page {
    Page::for_user("Discovery", &state.services.identity, &who.0)
}

pub async fn page(
    state: web::Data<AppState>,
    who: Admin,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, PageError> {
    let mut page = title_page(&state, &who);
    if let Some(notice) = done_notice(query.done.as_deref()) {
        page = page.with_notice(notice);
    }
    discovery_page(&state, page, None, CredentialInput::default()).await
}

/// After a change: back to the page with a notice, or the page with the message.
async fn outcome(
    state: &AppState,
    who: &Admin,
    result: Result<(), DeviceError>,
    done: &str,
    typed: Option<SettingsInput>,
    credential: CredentialInput,
) -> Result<HttpResponse, PageError> {
    match result.map_err(Problem::from) {
        Ok(()) => Ok(redirect(&format!("/admin/discovery?done={done}"))),
        Err(problem) if problem.status.is_server_error() => Err(PageError(problem)),
        Err(problem) => {
            let page = title_page(state, who).with_error(problem.message);
            discovery_page(state, page, typed, credential).await
        }
    }
}

pub async fn save_settings(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Admin,
    form: web::Form<SettingsInput>,
) -> Result<HttpResponse, PageError> {
    check_form(&req, &state, &form.csrf)?;
    let d = &state.services.devices;
    let current = d.settings().await?;
    let result = match form.to_row(&current) {
        Ok(row) => {
            d.save_settings(&who.0.principal.user, &row, &client_info(&req))
                .await
        }
        Err(e) => Err(e),
    };
    outcome(
        &state,
        &who,
        result,
        "settings",
        Some(form.into_inner()),
        CredentialInput::default(),
    )
    .await
}

#[derive(Deserialize)]
pub struct RangeInput {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    spec: String,
    exclude: Option<String>,
}

pub async fn add_range(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Admin,
    form: web::Form<RangeInput>,
) -> Result<HttpResponse, PageError> {
    check_form(&req, &state, &form.csrf)?;
    let result = state
        .services
        .devices
        .add_range(
            &who.0.principal.user,
            &form.spec,
            form.exclude.is_some(),
            &client_info(&req),
        )
        .await;
    outcome(
        &state,
        &who,
        result,
        "range",
        None,
        CredentialInput::default(),
    )
    .await
}

pub async fn delete_range(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Admin,
    path: web::Path<i64>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    check_form(&req, &state, &form.csrf)?;
    let result = state
        .services
        .devices
        .delete_range(&who.0.principal.user, path.into_inner(), &client_info(&req))
        .await;
    outcome(
        &state,
        &who,
        result,
        "range-deleted",
        None,
        CredentialInput::default(),
    )
    .await
}

/// The credential form as posted. Secrets go to the service and are never echoed.
#[derive(Deserialize, Default)]
pub struct CredentialInput {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    community: String,
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub auth_proto: String,
    #[serde(default)]
    auth_key: String,
    #[serde(default)]
    pub priv_proto: String,
    #[serde(default)]
    priv_key: String,
    #[serde(default)]
    pub context: String,
}

pub async fn add_credential(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Admin,
    form: web::Form<CredentialInput>,
) -> Result<HttpResponse, PageError> {
    check_form(&req, &state, &form.csrf)?;
    let form = form.into_inner();
    let new = NewCredential {
        name: form.name.clone(),
        version: form.version.clone(),
        community: form.community,
        user: form.user.clone(),
        auth_proto: form.auth_proto.clone(),
        auth_key: form.auth_key,
        priv_proto: form.priv_proto.clone(),
        priv_key: form.priv_key,
        context: form.context.clone(),
    };
    let result = state
        .services
        .devices
        .add_credential(&who.0.principal.user, &new, &client_info(&req))
        .await
        .map(|_| ());
    let kept = CredentialInput {
        name: new.name,
        version: new.version,
        user: new.user,
        auth_proto: new.auth_proto,
        priv_proto: new.priv_proto,
        context: new.context,
        ..Default::default()
    };
    outcome(&state, &who, result, "credential", None, kept).await
}

pub async fn delete_credential(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Admin,
    path: web::Path<i64>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    check_form(&req, &state, &form.csrf)?;
    let result = state
        .services
        .devices
        .delete_credential(&who.0.principal.user, path.into_inner(), &client_info(&req))
        .await;
    outcome(
        &state,
        &who,
        result,
        "credential-deleted",
        None,
        CredentialInput::default(),
    )
    .await
}

#[derive(Deserialize)]
pub struct ScanInput {
    #[serde(default)]
    csrf: String,
    confirm_large: Option<String>,
}

pub async fn scan_now(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Admin,
    form: web::Form<ScanInput>,
) -> Result<HttpResponse, PageError> {
    check_form(&req, &state, &form.csrf)?;
    let result = state
        .services
        .devices
        .start_scan(
            &who.0.principal.user,
            form.confirm_large.is_some(),
            &client_info(&req),
        )
        .await;
    outcome(
        &state,
        &who,
        result,
        "scan",
        None,
        CredentialInput::default(),
    )
    .await
}

pub async fn cancel_scan(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Admin,
    path: web::Path<i64>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    check_form(&req, &state, &form.csrf)?;
    let result = state
        .services
        .devices
        .cancel_scan(&who.0.principal.user, path.into_inner(), &client_info(&req))
        .await;
    outcome(
        &state,
        &who,
        result,
        "cancel",
        None,
        CredentialInput::default(),
    )
    .await
}
