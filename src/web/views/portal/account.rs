//! My account: password, release PIN, app passwords for devices. Changing the
//! password or PIN proves the current password under the sign-in limits and ends
//! every other session of the person. A change that went through answers with a
//! redirect to the page, which shows a new secret (app password, passcode) once: a
//! refresh makes no second one (issue 20, `web/flash.rs`); a refusal stays in place.

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::identity::ClientInfo;
use crate::web::AppState;
use crate::web::auth::SignedIn;
use crate::web::error::{PageError, Problem, refused_in_place};
use crate::web::extract::{CsrfOnly, SignedForm, UserForm, csrf_field};
use crate::web::flash::Flash;
use crate::web::views::{Page, render, when};

/// Where the account's forms answer to.
const ACCOUNT_PATH: &str = "/portal/account";
/// The one-time slot of a new passcode (beside the page's own, which may carry an
/// app password: a device named "passcode" stays an app password).
const PASSCODE_SLOT: &str = "/portal/account passcode";

pub struct AppPasswordLine {
    pub id: i64,
    pub label: String,
    pub created: String,
    pub last_used: String,
    pub revoked: bool,
}

/// A phone signed in for QR release.
pub struct PhoneLine {
    /// Names the session for the revoke button (hex of its keyed hash; not the token).
    pub handle: String,
    pub device: String,
    pub signed_in: String,
    pub last_used: String,
}

#[derive(Template)]
#[template(path = "portal/account.html")]
struct AccountPage {
    page: Page,
    app_passwords: Vec<AppPasswordLine>,
    /// A just-made app password, shown this once.
    new_secret: Option<(String, String)>,
    /// A just-made release passcode, shown this once.
    new_passcode: Option<String>,
    has_passcode: bool,
    badges: i64,
    phones: Vec<PhoneLine>,
}

async fn show(
    state: &AppState,
    who: &SignedIn,
    page: Page,
    new_secret: Option<(String, String)>,
) -> Result<HttpResponse, PageError> {
    show_with(state, who, page, new_secret, None).await
}

async fn show_with(
    state: &AppState,
    who: &SignedIn,
    page: Page,
    new_secret: Option<(String, String)>,
    new_passcode: Option<String>,
) -> Result<HttpResponse, PageError> {
    let identity = &state.services.identity;
    let user = &who.principal.user;
    let phones = identity
        .devices(user)
        .await?
        .into_iter()
        .map(|d| PhoneLine {
            handle: hex::encode(&d.token_hash),
            device: short_agent(&d.user_agent),
            signed_in: when(d.created_at),
            last_used: when(d.last_seen_at),
        })
        .collect();
    let rows = state
        .services
        .identity
        .app_passwords(&who.principal.user)
        .await?;
    let app_passwords = rows
        .into_iter()
        .map(|r| AppPasswordLine {
            id: r.id,
            label: r.label,
            created: when(r.created_at),
            last_used: r.last_used_at.map(when).unwrap_or_else(|| "never".into()),
            revoked: r.revoked_at.is_some(),
        })
        .collect();
    render(&AccountPage {
        page,
        app_passwords,
        new_secret,
        new_passcode,
        has_passcode: identity.has_passcode(user).await?,
        badges: identity.badge_count(user).await?,
        phones,
    })
}

/// A browser's user agent, cut to what tells phones apart.
fn short_agent(agent: &str) -> String {
    let inside = agent
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(inside, _)| inside)
        .unwrap_or(agent);
    inside.chars().take(60).collect()
}

/// `POST /portal/account/passcode`: a new personal release passcode, shown once.
pub async fn new_passcode(
    state: web::Data<AppState>,
    client: ClientInfo,
    SignedForm { who, .. }: UserForm<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    let passcode = state
        .services
        .identity
        .new_passcode(&who.principal.user, &client)
        .await?;
    let flash = Flash {
        secret: Some((String::new(), passcode)),
        ..Flash::default()
    };
    state.flash.put(&who.token, PASSCODE_SLOT, flash);
    Ok(crate::web::views::redirect(ACCOUNT_PATH))
}

/// `POST /portal/account/badges/unlink`: a lost card.
pub async fn unlink_badges(
    state: web::Data<AppState>,
    client: ClientInfo,
    SignedForm { who, .. }: UserForm<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    let result = state
        .services
        .identity
        .unlink_badges(&who.principal.user, &client)
        .await;
    outcome(
        &state,
        &who,
        result
            .map(|_| "Badge unlinked. Swipe a new one at any release station to link it.")
            .map_err(Problem::from),
    )
    .await
}

/// `POST /portal/account/phones/{handle}/revoke`: sign a phone out.
pub async fn revoke_phone(
    state: web::Data<AppState>,
    path: web::Path<String>,
    client: ClientInfo,
    SignedForm { who, .. }: UserForm<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    let result = state
        .services
        .identity
        .revoke_device(&who.principal.user, &path, &client)
        .await;
    outcome(
        &state,
        &who,
        result
            .map(|()| "The phone is signed out.")
            .map_err(Problem::from),
    )
    .await
}

fn page(state: &AppState, who: &SignedIn) -> Page {
    Page::for_user("My account", &state.services.identity, who)
}

pub async fn account(state: web::Data<AppState>, who: SignedIn) -> Result<HttpResponse, PageError> {
    let flash = state.flash.take(&who.token, ACCOUNT_PATH);
    let passcode = state
        .flash
        .take(&who.token, PASSCODE_SLOT)
        .and_then(|f| f.secret)
        .map(|(_, passcode)| passcode);
    let page = page(&state, &who).with_flash(flash.as_ref());
    let secret = flash.and_then(|f| f.secret);
    show_with(&state, &who, page, secret, passcode).await
}

/// Shows the account page with the outcome of a change.
async fn outcome(
    state: &AppState,
    who: &SignedIn,
    result: Result<&str, Problem>,
) -> Result<HttpResponse, PageError> {
    // Done: back to the page, which says so once. Refused: shown in place (a
    // lock-out keeps its 429).
    if let Ok(notice) = result {
        return Ok(state
            .flash
            .redirect(&who.token, ACCOUNT_PATH, Flash::notice(notice)));
    }
    let refusal = result.as_ref().err().cloned();
    let page = page(state, who).with_outcome(result)?;
    let response = show(state, who, page, None).await?;
    Ok(match refusal {
        Some(problem) => refused_in_place(response, &problem),
        None => response,
    })
}

#[derive(Deserialize)]
pub struct PinForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    pin: String,
}

csrf_field!(PinForm);

pub async fn set_pin(
    state: web::Data<AppState>,
    client: ClientInfo,
    SignedForm { who, form }: UserForm<PinForm>,
) -> Result<HttpResponse, PageError> {
    let result = state
        .services
        .identity
        .set_own_pin_from(
            &who.principal.user,
            &form.password,
            &form.pin,
            &client,
            Some(&who.token),
        )
        .await;
    outcome(
        &state,
        &who,
        result
            .map(|()| "PIN saved. Use it with your e-mail or username at a printer. You are signed out everywhere else.")
            .map_err(Problem::from),
    )
    .await
}

#[derive(Deserialize)]
pub struct AppPasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    label: String,
}

csrf_field!(AppPasswordForm);

pub async fn create_app_password(
    state: web::Data<AppState>,
    client: ClientInfo,
    SignedForm { who, form }: UserForm<AppPasswordForm>,
) -> Result<HttpResponse, PageError> {
    match state
        .services
        .identity
        .create_app_password(&who.principal.user, &form.label, &client)
        .await
    {
        Ok(made) => {
            let flash = Flash {
                secret: Some((made.label, made.secret)),
                ..Flash::default()
            };
            Ok(state.flash.redirect(&who.token, ACCOUNT_PATH, flash))
        }
        Err(e) => outcome(&state, &who, Err(e.into())).await,
    }
}

pub async fn revoke_app_password(
    state: web::Data<AppState>,
    path: web::Path<i64>,
    client: ClientInfo,
    SignedForm { who, .. }: UserForm<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    let result = state
        .services
        .identity
        .revoke_app_password(&who.principal.user, path.into_inner(), &client)
        .await;
    outcome(
        &state,
        &who,
        result
            .map(|()| "App password revoked.")
            .map_err(Problem::from),
    )
    .await
}
