//! Admin: on-site agents — make a one-time enrolment code, approve an enrolled agent
//! (confirming the site key id it reports, choosing whom it may park jobs for and
//! whether it delivers failover copies), assign printers to it, see its health,
//! version and last contact, revoke it.
//!
//! While the public address is unset or a loopback name the page warns (issue 20) but
//! still shows the enrolment command: an agent on this same machine can use it, and
//! one elsewhere fails at once and visibly (unlike a QR label, which `labels.rs`
//! refuses to print).

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::public_base;
use crate::identity::ClientInfo;
use crate::release::{AgentTrust, AgentView, ParkScope};
use crate::web::AppState;
use crate::web::auth::Admin;
use crate::web::error::{PageError, Problem};
use crate::web::extract::{AdminForm, CsrfOnly, SignedForm, csrf_field};
use crate::web::flash::Flash;
use crate::web::views::{Page, redirect, render, when};

/// One agent, ready to lay out.
pub struct AgentLine {
    pub id: i64,
    pub name: String,
    pub login: String,
    pub state: String,
    pub hostname: String,
    pub version: String,
    pub last_seen: String,
    /// (printer id, printer name, device id, its state as the agent reports it)
    pub printers: Vec<(i64, String, i64, String)>,
    /// Job outcomes the agent still has to report.
    pub unreported: u64,
    /// Pulled printers it does not serve yet.
    pub assignable: Vec<Assignable>,
    /// The public id of its site key the admin confirmed (a workstation agent);
    /// agents with the same id share a site password.
    pub site_key: String,
    /// The id the agent reports now (to confirm; a difference is flagged).
    pub site_key_reported: String,
    /// It may park jobs for any user of the site.
    pub park_anyone: bool,
    /// The people it may park for, comma-separated.
    pub people: String,
    /// It delivers other workstations' failover copies.
    pub failover: bool,
}

impl AgentLine {
    /// The agent reports a site key id other than the confirmed one.
    pub fn key_differs(&self) -> bool {
        !self.site_key_reported.is_empty() && self.site_key_reported != self.site_key
    }
}

impl From<AgentView> for AgentLine {
    fn from(v: AgentView) -> Self {
        let health = v.health.unwrap_or_default();
        let printers = v
            .printers
            .into_iter()
            .map(|(id, name, device, guid)| {
                let state = match health.printers.iter().find(|p| p.guid == guid) {
                    Some(p) => match &p.last_error {
                        Some(error) => format!("{} — {error}", p.state),
                        None => format!("{}, {} delivered", p.state, p.delivered),
                    },
                    None => "not reported yet".into(),
                };
                (id, name, device, state)
            })
            .collect();
        Self {
            id: v.agent.id,
            name: v.agent.name,
            login: v.agent.login,
            state: v.agent.state,
            hostname: v.agent.hostname,
            version: v.agent.version,
            last_seen: v
                .agent
                .last_seen_at
                .map(when)
                .unwrap_or_else(|| "never".into()),
            printers,
            unreported: health.unreported,
            assignable: Vec::new(),
            site_key: v.agent.site_key_id.clone(),
            site_key_reported: v.agent.site_key_reported.clone(),
            park_anyone: ParkScope::parse(&v.agent.park_scope) == Some(ParkScope::Anyone),
            people: v.people.join(", "),
            failover: v.agent.failover_deliverer,
        }
    }
}

/// A printer an agent can be given: pulled (`infra`) with a URI.
#[derive(Clone)]
pub struct Assignable {
    pub id: i64,
    pub name: String,
}

#[derive(Template)]
#[template(path = "admin/agents.html")]
struct AgentsPage {
    page: Page,
    agents: Vec<AgentLine>,
    assignable: Vec<Assignable>,
    /// A code just made, with the command to run (shown this once).
    code: Option<(String, String)>,
    /// SHA-256 of the server's certificate, for `--server-fingerprint`.
    fingerprint: String,
    /// Why the command's address may not work from other machines (issue 20).
    address_warning: Option<String>,
}

fn server_fingerprint(state: &AppState) -> String {
    let (cert, _) = crate::tls::certificate_paths(&state.services.settings);
    crate::tls::load_first_certificate(&cert)
        .map(|der| crate::tls::fingerprint(der.as_ref()))
        .unwrap_or_default()
}

async fn agents_page(
    req: &HttpRequest,
    state: &AppState,
    who: &Admin,
    page: Page,
    code: Option<String>,
) -> Result<HttpResponse, PageError> {
    let admin = &who.0.principal.user;
    let views = state
        .services
        .release
        .infra()
        .agents(admin)
        .await
        .map_err(|e| PageError(Problem::from(e)))?;
    let assignable: Vec<Assignable> = state
        .services
        .printers
        .list()
        .await?
        .into_iter()
        .filter(|p| p.protocol == "infra" && !p.uri.is_empty())
        .map(|p| Assignable {
            id: p.id,
            name: p.name,
        })
        .collect();
    let fingerprint = server_fingerprint(state);
    let code = code.map(|code| {
        let command = format!(
            "printpark agent --server {} --enrol {code} --server-fingerprint {fingerprint}",
            public_base(req, state)
        );
        (code, command)
    });
    render(&AgentsPage {
        page,
        agents: views
            .into_iter()
            .map(|v| {
                let mut line = AgentLine::from(v);
                line.assignable = assignable
                    .iter()
                    .filter(|p| !line.printers.iter().any(|(id, ..)| *id == p.id))
                    .cloned()
                    .collect();
                line
            })
            .collect(),
        assignable,
        code,
        fingerprint,
        address_warning: super::address::address_warning(state),
    })
}

pub async fn agents(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Admin,
) -> Result<HttpResponse, PageError> {
    let page = Page::for_user("Agents", &state.services.identity, &who.0);
    let page = match req.query_string() {
        "done=approved" => {
            page.with_notice("Agent approved: it starts serving its printers within seconds.")
        }
        "done=revoked" => page.with_notice("Agent revoked: its credentials stopped working."),
        "done=assigned" => page
            .with_notice("Printer assigned: the agent picks it up at its next heartbeat (15 s)."),
        "done=unassigned" => page.with_notice("Printer taken from the agent."),
        "done=trusted" => page.with_notice("Saved: whom the agent parks for, and failover."),
        "done=key_confirmed" => page.with_notice("Site key id confirmed."),
        _ => page,
    };
    // A code made by `new_code` is shown on this GET once: a refresh shows it no more
    // and makes no other (post/redirect/get).
    let flash = state.flash.take(&who.0.token, AGENTS_PATH);
    let page = page.with_flash(flash.as_ref());
    let code = flash.and_then(|f| f.secret).map(|(_, code)| code);
    agents_page(&req, &state, &who, page, code).await
}

/// Where the agents page lives (the redirect after a new enrolment code).
const AGENTS_PATH: &str = "/admin/agents";

/// Makes a one-time enrolment code and shows it once, on the page it redirects to.
pub async fn new_code(
    state: web::Data<AppState>,
    client: ClientInfo,
    SignedForm { who, .. }: AdminForm<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    let code = state
        .services
        .release
        .infra()
        .new_enrolment_code(&who.0.principal.user, &client)
        .await
        .map_err(|e| PageError(Problem::from(e)))?;
    let flash = Flash {
        notice: Some(
            "Enrolment code made: it works once, for 24 hours, and is not shown again.".into(),
        ),
        secret: Some(("enrolment code".into(), code)),
        ..Flash::default()
    };
    Ok(state.flash.redirect(&who.0.token, AGENTS_PATH, flash))
}

#[derive(Deserialize)]
pub struct AgentAction {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    printer_id: Option<i64>,
    #[serde(default)]
    device_id: Option<i64>,
    /// The site key id the page showed (approve, confirm_key).
    #[serde(default)]
    site_key_id: String,
    /// `people` | `anyone`
    #[serde(default)]
    scope: String,
    /// Usernames or e-mail addresses, separated by commas, spaces or lines.
    #[serde(default)]
    people: String,
    /// The failover checkbox.
    #[serde(default)]
    failover: Option<String>,
}

csrf_field!(AgentAction);

impl AgentAction {
    fn trust(&self) -> Result<AgentTrust, PageError> {
        let scope = match self.scope.as_str() {
            "" => ParkScope::People,
            other => ParkScope::parse(other).ok_or_else(|| {
                PageError(Problem::bad_request("choose whom the agent parks for"))
            })?,
        };
        Ok(AgentTrust {
            scope,
            people: self
                .people
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect(),
            failover_deliverer: self.failover.is_some(),
        })
    }
}

pub async fn action(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(i64, String)>,
    client: ClientInfo,
    SignedForm { who, form }: AdminForm<AgentAction>,
) -> Result<HttpResponse, PageError> {
    let (id, action) = path.into_inner();
    let infra = state.services.release.infra();
    let admin = &who.0.principal.user;
    let done = match action.as_str() {
        "approve" => infra
            .approve_agent(admin, id, &form.site_key_id, &form.trust()?, &client)
            .await
            .map(|()| "approved"),
        "trust" => infra
            .set_agent_trust(admin, id, &form.trust()?, &client)
            .await
            .map(|()| "trusted"),
        "confirm_key" => infra
            .confirm_site_key(admin, id, &form.site_key_id, &client)
            .await
            .map(|()| "key_confirmed"),
        "revoke" => infra
            .revoke_agent(admin, id, &client)
            .await
            .map(|()| "revoked"),
        "assign" => {
            let printer = form
                .printer_id
                .ok_or_else(|| PageError(Problem::bad_request("choose a printer")))?;
            infra
                .assign_printer(admin, id, printer, &client)
                .await
                .map(|()| "assigned")
        }
        "unassign" => {
            let device = form
                .device_id
                .ok_or_else(|| PageError(Problem::bad_request("choose a printer")))?;
            let owned = infra
                .agents(admin)
                .await
                .map_err(|e| PageError(Problem::from(e)))?
                .iter()
                .any(|a| a.agent.id == id && a.printers.iter().any(|(_, _, d, _)| *d == device));
            if !owned {
                return Err(PageError(Problem::not_found()));
            }
            infra
                .revoke_device(admin, device, &client)
                .await
                .map(|()| "unassigned")
        }
        _ => return Err(PageError(Problem::not_found())),
    };
    match done {
        Ok(done) => Ok(redirect(&format!("/admin/agents?done={done}"))),
        Err(e) => {
            let page = Page::for_user("Agents", &state.services.identity, &who.0)
                .with_outcome(Err::<String, _>(Problem::from(e)))?;
            agents_page(&req, &state, &who, page, None).await
        }
    }
}
