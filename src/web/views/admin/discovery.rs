//! Admin page for SNMP discovery: schedule and limits, ranges, credentials (secrets are
//! sealed by the service and never shown), "Scan now" with the running scan's
//! progress, and the last scans.

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::devices::{DeviceError, NewCredential};
use crate::identity::ClientInfo;
use crate::web::AppState;
use crate::web::auth::Admin;
use crate::web::error::{PageError, Problem};
use crate::web::extract::{AdminForm, CsrfOnly, SignedForm};
use crate::web::views::{Page, redirect, render, when};

mod forms;

use forms::{
    Choice, CredentialInput, CredentialLine, RangeInput, RangeLine, ScanInput, ScanLine,
    SettingsInput, WEEKDAYS,
};

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
            .map(CredentialLine::from)
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
    state: web::Data<AppState>,
    client: ClientInfo,
    SignedForm { who, form }: AdminForm<SettingsInput>,
) -> Result<HttpResponse, PageError> {
    let d = &state.services.devices;
    let current = d.settings().await?;
    let result = match form.to_row(&current) {
        Ok(row) => d.save_settings(&who.0.principal.user, &row, &client).await,
        Err(e) => Err(e),
    };
    outcome(
        &state,
        &who,
        result,
        "settings",
        Some(form),
        CredentialInput::default(),
    )
    .await
}

pub async fn add_range(
    state: web::Data<AppState>,
    client: ClientInfo,
    SignedForm { who, form }: AdminForm<RangeInput>,
) -> Result<HttpResponse, PageError> {
    let result = state
        .services
        .devices
        .add_range(
            &who.0.principal.user,
            &form.spec,
            form.exclude.is_some(),
            &client,
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
    state: web::Data<AppState>,
    path: web::Path<i64>,
    client: ClientInfo,
    SignedForm { who, .. }: AdminForm<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    let result = state
        .services
        .devices
        .delete_range(&who.0.principal.user, path.into_inner(), &client)
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

pub async fn add_credential(
    state: web::Data<AppState>,
    client: ClientInfo,
    SignedForm { who, form }: AdminForm<CredentialInput>,
) -> Result<HttpResponse, PageError> {
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
        .add_credential(&who.0.principal.user, &new, &client)
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
    state: web::Data<AppState>,
    path: web::Path<i64>,
    client: ClientInfo,
    SignedForm { who, .. }: AdminForm<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    let result = state
        .services
        .devices
        .delete_credential(&who.0.principal.user, path.into_inner(), &client)
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

pub async fn scan_now(
    state: web::Data<AppState>,
    client: ClientInfo,
    SignedForm { who, form }: AdminForm<ScanInput>,
) -> Result<HttpResponse, PageError> {
    let result = state
        .services
        .devices
        .start_scan(&who.0.principal.user, form.confirm_large.is_some(), &client)
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
    state: web::Data<AppState>,
    path: web::Path<i64>,
    client: ClientInfo,
    SignedForm { who, .. }: AdminForm<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    let result = state
        .services
        .devices
        .cancel_scan(&who.0.principal.user, path.into_inner(), &client)
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
