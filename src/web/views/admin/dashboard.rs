//! The admin's first page and the read-only ones: dashboard, settings (the audit log
//! is `audit.rs`, whose rows are shown as [`AuditLine`] here too).

use actix_web::{HttpResponse, web};
use askama::Template;

use crate::db::AuditEntry;
use crate::web::AppState;
use crate::web::auth::Admin;
use crate::web::error::PageError;
use crate::web::views::{Page, render, when};

pub struct AuditLine {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub outcome: String,
    pub client: String,
    pub detail: String,
}

impl From<AuditEntry> for AuditLine {
    fn from(e: AuditEntry) -> Self {
        Self {
            at: when(e.at),
            actor: e.actor,
            action: e.action,
            target: e.target,
            outcome: e.outcome,
            client: e.client_addr,
            detail: e.detail,
        }
    }
}

#[derive(Template)]
#[template(path = "admin/dashboard.html")]
struct DashboardPage {
    page: Page,
    users: i64,
    held_jobs: i64,
    /// Releases that need attention (outcome unknown) or failed.
    attention: usize,
    /// Printers whose last check found them stopped or unreachable.
    printers_down: usize,
    /// Discovered printers in error, offline, or with a supply under 15 %.
    devices_error: usize,
    devices_offline: usize,
    devices_low: usize,
    entries: Vec<AuditLine>,
    /// Issue 20: what a new installation still needs, while anything does.
    next_steps: Vec<NextStep>,
}

/// One step of setting PrintPark up, on a fresh dashboard.
pub struct NextStep {
    pub done: bool,
    pub text: &'static str,
    pub href: &'static str,
    pub link: &'static str,
}

/// The first steps, in the order an admin takes them; empty once the address is
/// usable, printers exist and people besides the admin do.
fn next_steps(address_usable: bool, printers: usize, users: i64) -> Vec<NextStep> {
    let steps = vec![
        NextStep {
            done: address_usable,
            text: "Set the public address people and phones reach this server at.",
            href: "/admin/settings#public-address",
            link: "Set the public address",
        },
        NextStep {
            done: printers > 0,
            text: "Add your printers (or let discovery find them).",
            href: "/admin/printers",
            link: "Add printers",
        },
        NextStep {
            done: users > 1,
            text: "Add the people who print: one by one, from a CSV file, or from your directory.",
            href: "/admin/users",
            link: "Add people",
        },
        NextStep {
            done: false,
            text: "Print the QR labels and stick one on each printer, so phones can release jobs there.",
            href: "/admin/printers/labels",
            link: "Print QR labels",
        },
    ];
    if steps.iter().take(3).all(|s| s.done) {
        Vec::new()
    } else {
        steps
    }
}

pub async fn dashboard(state: web::Data<AppState>, who: Admin) -> Result<HttpResponse, PageError> {
    let s = &state.services;
    let page = Page::for_user("Dashboard", &s.identity, &who.0);
    let entries =
        s.db.audit_page(None, 10, None)
            .await?
            .into_iter()
            .map(AuditLine::from)
            .collect();
    let devices: Vec<_> = s
        .devices
        .list()
        .await?
        .into_iter()
        .filter(|d| d.kind == "printer")
        .collect();
    let lowest = s.devices.lowest_supplies().await?;
    let low = devices
        .iter()
        .filter(|d| {
            lowest
                .get(&d.id)
                .is_some_and(|p| *p < crate::devices::LOW_SUPPLY_PERCENT)
        })
        .count();
    let printers = s.printers.list().await?;
    let users = s.db.count_users().await?;
    render(&DashboardPage {
        page,
        users,
        held_jobs: s.jobs.count_held().await?,
        attention: s.release.problems(&who.0.principal.user).await?.len(),
        printers_down: printers
            .iter()
            .filter(|p| !p.disabled && matches!(p.state.as_str(), "stopped" | "unreachable"))
            .count(),
        next_steps: next_steps(s.site.usable_address().is_some(), printers.len(), users),
        devices_error: devices.iter().filter(|d| d.status == "error").count(),
        devices_offline: devices.iter().filter(|d| d.status == "offline").count(),
        devices_low: low,
        entries,
    })
}

#[derive(Template)]
#[template(path = "admin/settings.html")]
struct SettingsPage {
    page: Page,
    rows: Vec<(&'static str, String)>,
    /// Issue 20: the public address, changeable here unless `server.public_url` sets it.
    address: super::address::AddressView,
}

/// The effective settings, secrets redacted. Changing them is done in the TOML file
/// or environment (they are read at start), except the public address (issue 20).
pub async fn settings(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    who: Admin,
) -> Result<HttpResponse, PageError> {
    let s = &state.services;
    let page = Page::for_user("Settings", &s.identity, &who.0);
    let page = match req.query_string() {
        "done=address" => page.with_notice("Public address saved: links, labels and the agent command use it from now on."),
        "done=address_certificate" => page.with_notice("Public address saved, and the self-signed certificate was made again for it (in use from the next connection). Agents enrolled before pin the old certificate: enrol them again."),
        _ => page,
    };
    let set = &s.settings;
    let rows = vec![
        ("data_dir", set.data_dir.display().to_string()),
        ("server.listen", set.server.listen.clone()),
        (
            "server.public_url",
            set.server
                .public_url
                .clone()
                .unwrap_or_else(|| "(not set)".into()),
        ),
        (
            "server.plain_ipp_listen",
            set.server
                .plain_ipp_listen
                .clone()
                .unwrap_or_else(|| "off (IPPS only)".into()),
        ),
        (
            "dnssd",
            if set.dnssd.enabled {
                format!(
                    "announced as \"{}\" (_ipps._tcp, subtypes _print and _universal)",
                    set.queue.name
                )
            } else {
                "off".into()
            },
        ),
        (
            "server.tls_cert",
            set.server
                .tls_cert
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "self-signed, under data_dir/tls".into()),
        ),
        (
            "database",
            format!(
                "{} — {}",
                s.db.backend_name(),
                crate::config::redact_url(&set.database_url())
            ),
        ),
        ("storage", s.vault.store().description().to_owned()),
        (
            "vault.master_key",
            format!(
                "{} (id {})",
                match &s.master_source {
                    crate::vault::MasterKeySource::Setting =>
                        "from setting vault.master_key".to_string(),
                    crate::vault::MasterKeySource::Password =>
                        "derived from vault.master_password".to_string(),
                    crate::vault::MasterKeySource::File(p) => format!("file {}", p.display()),
                },
                s.vault.master_key_id()
            ),
        ),
        ("vault.chunk_size", set.vault.chunk_size.to_string()),
        (
            "security.session_idle_minutes",
            set.security.session_idle_minutes.to_string(),
        ),
        (
            "security.lockout_threshold",
            set.security.lockout_threshold.to_string(),
        ),
        (
            "security.lockout_base_seconds",
            set.security.lockout_base_seconds.to_string(),
        ),
        (
            "security.lockout_max_seconds",
            set.security.lockout_max_seconds.to_string(),
        ),
        ("log.level", set.log.level.clone()),
    ];
    render(&SettingsPage {
        page,
        rows,
        address: super::address::AddressView::of(&state),
    })
}
