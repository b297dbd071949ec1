//! Admin: single sign-on providers. Those of the settings file are listed read-only;
//! the page adds, edits and deletes its own (the client secret is write-only: sealed,
//! never shown again), and "Check" fetches a provider's discovery document and says
//! what it found. The redirect URI to register at the provider is shown.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::public_base;
use crate::config::{OidcMatchClaim, Secret};
use crate::identity::ClientInfo;
use crate::identity::oidc::{OidcError, Provider, ProviderForm, ProviderOrigin};
use crate::web::AppState;
use crate::web::auth::Admin;
use crate::web::error::{PageError, Problem};
use crate::web::extract::{AdminForm, CsrfOnly, SignedForm, csrf_field};
use crate::web::views::{Page, redirect, render};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/sso", web::get().to(list))
        .route("/admin/sso", web::post().to(add))
        .route("/admin/sso/check", web::post().to(check))
        .route("/admin/sso/{id}", web::get().to(edit))
        .route("/admin/sso/{id}", web::post().to(update))
        .route("/admin/sso/{id}/delete", web::post().to(delete));
}

/// One provider, ready to lay out.
pub struct ProviderLine {
    pub name: String,
    pub label: String,
    pub issuer: String,
    pub client_id: String,
    pub secret: &'static str,
    pub matching: String,
    pub admin_groups: String,
    /// The e-mail domains that may sign in (empty = any).
    pub allowed_domains: String,
    /// `Some(id)` for a page provider (editable).
    pub page_id: Option<i64>,
    pub redirect_uri: String,
}

/// The provider form as shown or as typed (never a secret).
#[derive(Deserialize, Default)]
pub struct ProviderInput {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub label: String,
    #[serde(default)]
    pub issuer: String,
    #[serde(default)]
    pub client_id: String,
    #[serde(default)]
    client_secret: String,
    #[serde(default)]
    pub ca_file: String,
    #[serde(default)]
    pub match_claim: String,
    #[serde(default)]
    pub create_users: Option<String>,
    #[serde(default)]
    pub groups_claim: String,
    #[serde(default)]
    pub admin_groups: String,
    #[serde(default)]
    pub scopes: String,
    #[serde(default)]
    pub trust_unverified_email: Option<String>,
    #[serde(default)]
    pub allowed_domains: String,
}

csrf_field!(ProviderInput);

impl ProviderInput {
    fn of(p: &Provider) -> Self {
        Self {
            name: p.name.clone(),
            label: p.label.clone(),
            issuer: p.issuer.clone(),
            client_id: p.client_id.clone(),
            ca_file: p
                .ca_file
                .as_ref()
                .map(|f| f.display().to_string())
                .unwrap_or_default(),
            match_claim: match p.match_claim {
                OidcMatchClaim::Email => "email".into(),
                OidcMatchClaim::PreferredUsername => "preferred_username".into(),
            },
            create_users: p.create_users.then(|| "yes".into()),
            groups_claim: p.groups_claim.clone(),
            admin_groups: p.admin_groups.join("\n"),
            scopes: p.scopes.join(" "),
            trust_unverified_email: p.trust_unverified_email.then(|| "yes".into()),
            allowed_domains: p.allowed_domains.join(" "),
            ..Self::default()
        }
    }

    fn blank() -> Self {
        Self {
            match_claim: "email".into(),
            groups_claim: "groups".into(),
            scopes: "email profile".into(),
            ..Self::default()
        }
    }

    fn form(&self) -> ProviderForm {
        ProviderForm {
            name: self.name.clone(),
            label: self.label.clone(),
            issuer: self.issuer.clone(),
            client_id: self.client_id.clone(),
            client_secret: Secret::new(self.client_secret.clone()),
            ca_file: self.ca_file.clone(),
            match_claim: match self.match_claim.as_str() {
                "preferred_username" => OidcMatchClaim::PreferredUsername,
                _ => OidcMatchClaim::Email,
            },
            create_users: self.create_users.is_some(),
            groups_claim: self.groups_claim.clone(),
            admin_groups: self
                .admin_groups
                .lines()
                .map(str::trim)
                .filter(|g| !g.is_empty())
                .map(str::to_owned)
                .collect(),
            scopes: self.scopes.split_whitespace().map(str::to_owned).collect(),
            trust_unverified_email: self.trust_unverified_email.is_some(),
            allowed_domains: self
                .allowed_domains
                .split(|c: char| c.is_whitespace() || c == ',')
                .filter(|d| !d.is_empty())
                .map(str::to_lowercase)
                .collect(),
        }
    }

    pub fn by_username(&self) -> bool {
        self.match_claim == "preferred_username"
    }
}

#[derive(Template)]
#[template(path = "admin/sso.html")]
struct SsoPage {
    page: Page,
    providers: Vec<ProviderLine>,
    form: ProviderInput,
    /// The page provider being edited, if any.
    editing: Option<i64>,
    /// What "Check" found: the provider's name and (what, value) lines.
    check: Option<(String, Vec<(String, String)>)>,
    redirect_base: String,
}

fn line(p: Provider, base: &str) -> ProviderLine {
    ProviderLine {
        redirect_uri: format!("{base}/sso/{}/callback", p.name),
        label: p.shown_label().to_owned(),
        secret: if p.client_secret.is_some() {
            "set (sealed)"
        } else {
            "none"
        },
        matching: format!(
            "{}{}{}",
            match p.match_claim {
                OidcMatchClaim::Email => "e-mail",
                OidcMatchClaim::PreferredUsername => "preferred username",
            },
            if p.create_users {
                ", creates people"
            } else {
                ""
            },
            if p.trust_unverified_email {
                ", trusts unverified e-mail"
            } else {
                ""
            }
        ),
        admin_groups: p.admin_groups.join(", "),
        allowed_domains: p.allowed_domains.join(", "),
        page_id: match p.origin {
            ProviderOrigin::Page(id) => Some(id),
            ProviderOrigin::Settings => None,
        },
        name: p.name,
        issuer: p.issuer,
        client_id: p.client_id,
    }
}

struct Shown {
    form: ProviderInput,
    editing: Option<i64>,
    check: Option<(String, Vec<(String, String)>)>,
}

async fn show(
    req: &HttpRequest,
    state: &AppState,
    page: Page,
    shown: Shown,
) -> Result<HttpResponse, PageError> {
    let base = public_base(req, state);
    let providers = state
        .services
        .sso
        .providers()
        .await
        .map_err(|e| PageError(Problem::from(e)))?
        .into_iter()
        .map(|p| line(p, &base))
        .collect();
    render(&SsoPage {
        page,
        providers,
        form: shown.form,
        editing: shown.editing,
        check: shown.check,
        redirect_base: base,
    })
}

fn title(state: &AppState, who: &Admin) -> Page {
    Page::for_user("Single sign-on", &state.services.identity, &who.0)
}

#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Admin,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, PageError> {
    let mut page = title(&state, &who);
    let notice = match query.done.as_deref() {
        Some("added") => Some("Provider added. Its client secret is sealed and not shown again."),
        Some("saved") => Some("Provider saved."),
        Some("deleted") => Some("Provider deleted."),
        _ => None,
    };
    if let Some(notice) = notice {
        page = page.with_notice(notice);
    }
    let shown = Shown {
        form: ProviderInput::blank(),
        editing: None,
        check: None,
    };
    show(&req, &state, page, shown).await
}

pub async fn edit(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Admin,
    id: web::Path<i64>,
) -> Result<HttpResponse, PageError> {
    let provider = state
        .services
        .sso
        .page_provider(&who.0.principal.user, *id)
        .await
        .map_err(|e| PageError(Problem::from(e)))?;
    let page = title(&state, &who);
    let shown = Shown {
        form: ProviderInput::of(&provider),
        editing: Some(*id),
        check: None,
    };
    show(&req, &state, page, shown).await
}

/// After a change: back to the list with a notice, or the form again with the reason.
async fn outcome(
    req: &HttpRequest,
    state: &AppState,
    who: &Admin,
    result: Result<(), OidcError>,
    done: &str,
    typed: ProviderInput,
    editing: Option<i64>,
) -> Result<HttpResponse, PageError> {
    match result.map_err(Problem::from) {
        Ok(()) => Ok(redirect(&format!("/admin/sso?done={done}"))),
        Err(problem) if problem.status.is_server_error() => Err(PageError(problem)),
        Err(problem) => {
            let page = title(state, who).with_error(problem.message);
            let shown = Shown {
                form: typed,
                editing,
                check: None,
            };
            let mut response = show(req, state, page, shown).await?;
            *response.status_mut() = problem.status;
            Ok(response)
        }
    }
}

pub async fn add(
    req: HttpRequest,
    state: web::Data<AppState>,
    client: ClientInfo,
    SignedForm { who, form }: AdminForm<ProviderInput>,
) -> Result<HttpResponse, PageError> {
    let result = state
        .services
        .sso
        .add_provider(&who.0.principal.user, &form.form(), &client)
        .await
        .map(|_| ());
    outcome(&req, &state, &who, result, "added", form, None).await
}

pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    client: ClientInfo,
    SignedForm { who, form }: AdminForm<ProviderInput>,
) -> Result<HttpResponse, PageError> {
    let result = state
        .services
        .sso
        .update_provider(&who.0.principal.user, *id, &form.form(), &client)
        .await;
    outcome(&req, &state, &who, result, "saved", form, Some(*id)).await
}

pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    client: ClientInfo,
    SignedForm { who, .. }: AdminForm<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    let result = state
        .services
        .sso
        .delete_provider(&who.0.principal.user, *id, &client)
        .await;
    outcome(
        &req,
        &state,
        &who,
        result,
        "deleted",
        ProviderInput::blank(),
        None,
    )
    .await
}

#[derive(Deserialize)]
pub struct CheckInput {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
}

csrf_field!(CheckInput);

/// `POST /admin/sso/check`: fetches the discovery document now and shows what it says
/// (or why it could not be read).
pub async fn check(
    req: HttpRequest,
    state: web::Data<AppState>,
    SignedForm { who, form }: AdminForm<CheckInput>,
) -> Result<HttpResponse, PageError> {
    let found = state
        .services
        .sso
        .check_provider(&who.0.principal.user, &form.name)
        .await;
    let mut page = title(&state, &who);
    let check = match found {
        Ok(found) => {
            page = page.with_notice(format!("{}: the discovery document was read.", form.name));
            Some((form.name.clone(), found.lines))
        }
        Err(OidcError::Provider(reason)) => {
            page = page.with_error(format!("{}: {reason}", form.name));
            None
        }
        Err(e) => return Err(PageError(Problem::from(e))),
    };
    let shown = Shown {
        form: ProviderInput::blank(),
        editing: None,
        check,
    };
    show(&req, &state, page, shown).await
}
