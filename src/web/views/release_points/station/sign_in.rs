//! The station's sign-in steps, one handler each: a badge (and its PIN, or linking a
//! new badge with login + PIN), login + PIN, a personal passcode; and signing out.

use actix_web::{HttpRequest, HttpResponse, web};

use super::{BADGE_COOKIE, STATION_COOKIE, View, cookie_path, person, show, signin_error};
use crate::db::PrinterRow;
use crate::identity::{AtPrinter, BadgeOutcome, ClientInfo, IdentityError, SessionToken, User};
use crate::web::AppState;
use crate::web::error::{PageError, Problem, refused_in_place, wrong_at_station};
use crate::web::extract::{AnonymousForm, CsrfOnly, csrf_field};
use crate::web::views::redirect;
use crate::web::views::release_points::{cleared_cookie, scoped_cookie};

// What a refused sign-in says, in the words of the form used (issue 20).
const WRONG_BADGE: &str = "This badge was not accepted.";
const WRONG_BADGE_PIN: &str = "Wrong PIN for this badge. Try again.";
const WRONG_PIN: &str = "Wrong username or PIN. Try again.";
const WRONG_PASSWORD: &str = "Wrong username, e-mail or password. Try again.";
const WRONG_PASSCODE: &str = "Wrong passcode. Try again.";

/// The response that signs a person in at this station: back to the station page,
/// with the station session cookie, and any pending badge forgotten.
fn signed_in(here: &str, token: &SessionToken) -> HttpResponse {
    let mut response = redirect(here);
    response
        .add_cookie(&scoped_cookie(STATION_COOKIE, &token.0, here.into(), None))
        .ok();
    response
        .add_cookie(&cleared_cookie(BADGE_COOKIE, here.into()))
        .ok();
    response
}

/// Ends a sign-in step: a session for the person, or the sign-in screen again with
/// why not.
async fn sign_in_outcome(
    req: &HttpRequest,
    state: &AppState,
    printer: &PrinterRow,
    client: &ClientInfo,
    outcome: Result<User, IdentityError>,
    login: String,
    wrong: &str,
) -> Result<HttpResponse, PageError> {
    match outcome {
        Ok(user) => {
            let token = state
                .services
                .identity
                .open_session(&user, "station", client)
                .await?;
            Ok(signed_in(&cookie_path(&printer.guid), &token))
        }
        Err(e) => refused(req, state, printer, e, login, wrong).await,
    }
}

fn at(printer: &PrinterRow) -> AtPrinter<'_> {
    AtPrinter {
        guid: &printer.guid,
        name: &printer.name,
    }
}

/// The badge waiting for its PIN or its link (set by the `badge` step).
fn pending_badge(req: &HttpRequest) -> String {
    req.cookie(BADGE_COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default()
}

#[derive(serde::Deserialize)]
pub struct BadgeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    badge: String,
}

#[derive(serde::Deserialize)]
pub struct BadgePinForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    pin: String,
}

/// Login (username or e-mail) and PIN: the `pin` step, and the `link` step that ties
/// a new badge to its owner.
#[derive(serde::Deserialize)]
pub struct LoginPinForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    login: String,
    #[serde(default)]
    pin: String,
}

#[derive(serde::Deserialize)]
pub struct PasscodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    passcode: String,
}

/// Login (username or e-mail) and password: the "directory password" way.
#[derive(serde::Deserialize)]
pub struct LoginPasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
}

csrf_field!(
    BadgeForm,
    BadgePinForm,
    LoginPinForm,
    PasscodeForm,
    LoginPasswordForm
);

/// `POST /station/{guid}/badge`: a card reader typed a badge number. A known badge
/// signs in (or asks for the PIN first); an unknown one is kept for linking.
pub async fn badge(
    req: HttpRequest,
    state: web::Data<AppState>,
    guid: web::Path<String>,
    client: ClientInfo,
    AnonymousForm(form): AnonymousForm<BadgeForm>,
) -> Result<HttpResponse, PageError> {
    let printer = state.services.printers.by_guid(&guid).await?;
    let identity = &state.services.identity;
    let here = cookie_path(&printer.guid);
    let (mode, notice, pending) = match identity
        .badge_login(&form.badge, at(&printer), &client)
        .await
    {
        Ok(BadgeOutcome::Known(user)) => {
            let token = identity.open_session(&user, "station", &client).await?;
            return Ok(signed_in(&here, &token));
        }
        Ok(BadgeOutcome::Unknown(pending)) => (
            "link",
            Some("This badge is not linked to anyone yet. Sign in once with your username or e-mail and PIN to link it.".into()),
            pending,
        ),
        Ok(BadgeOutcome::NeedsPin(pending)) => ("badge-pin", None, pending),
        Err(e) => {
            return refused(&req, &state, &printer, e, String::new(), WRONG_BADGE).await;
        }
    };
    let view = View {
        printer: &printer,
        mode,
        user: None,
        notice,
        error: None,
        login: String::new(),
    };
    let mut response = show(&req, &state, view).await?;
    response
        .add_cookie(&scoped_cookie(BADGE_COOKIE, &pending, here, Some(300)))
        .ok();
    Ok(response)
}

/// `POST /station/{guid}/badge-pin`: the PIN for the badge just read.
pub async fn badge_pin(
    req: HttpRequest,
    state: web::Data<AppState>,
    guid: web::Path<String>,
    client: ClientInfo,
    AnonymousForm(form): AnonymousForm<BadgePinForm>,
) -> Result<HttpResponse, PageError> {
    let printer = state.services.printers.by_guid(&guid).await?;
    let outcome = state
        .services
        .identity
        .badge_pin_login(&pending_badge(&req), &form.pin, at(&printer), &client)
        .await;
    sign_in_outcome(
        &req,
        &state,
        &printer,
        &client,
        outcome,
        String::new(),
        WRONG_BADGE_PIN,
    )
    .await
}

/// `POST /station/{guid}/link`: login and PIN that link the badge just read to its
/// owner, and sign them in.
pub async fn link(
    req: HttpRequest,
    state: web::Data<AppState>,
    guid: web::Path<String>,
    client: ClientInfo,
    AnonymousForm(form): AnonymousForm<LoginPinForm>,
) -> Result<HttpResponse, PageError> {
    let printer = state.services.printers.by_guid(&guid).await?;
    let pending = pending_badge(&req);
    let identity = &state.services.identity;
    match identity
        .link_badge(&pending, &form.login, &form.pin, at(&printer), &client)
        .await
    {
        Ok(user) => {
            let token = identity.open_session(&user, "station", &client).await?;
            Ok(signed_in(&cookie_path(&printer.guid), &token))
        }
        Err(e) => {
            let problem = wrong_at_station(Problem::from(e), WRONG_PIN);
            let mut view = signin_error(&printer, problem.message.clone(), form.login);
            view.mode = if pending.is_empty() { "signin" } else { "link" };
            Ok(refused_in_place(show(&req, &state, view).await?, &problem))
        }
    }
}

/// `POST /station/{guid}/pin`: login (username or e-mail) and PIN.
pub async fn pin(
    req: HttpRequest,
    state: web::Data<AppState>,
    guid: web::Path<String>,
    client: ClientInfo,
    AnonymousForm(form): AnonymousForm<LoginPinForm>,
) -> Result<HttpResponse, PageError> {
    let printer = state.services.printers.by_guid(&guid).await?;
    let outcome = state
        .services
        .identity
        .pin_login(&form.login, &form.pin, at(&printer), &client)
        .await;
    sign_in_outcome(
        &req, &state, &printer, &client, outcome, form.login, WRONG_PIN,
    )
    .await
}

/// `POST /station/{guid}/password`: login and password (the directory's for a
/// directory person, else the local one).
pub async fn password(
    req: HttpRequest,
    state: web::Data<AppState>,
    guid: web::Path<String>,
    client: ClientInfo,
    AnonymousForm(form): AnonymousForm<LoginPasswordForm>,
) -> Result<HttpResponse, PageError> {
    let printer = state.services.printers.by_guid(&guid).await?;
    let outcome = state
        .services
        .identity
        .station_password_login(&form.login, &form.password, at(&printer), &client)
        .await;
    sign_in_outcome(
        &req,
        &state,
        &printer,
        &client,
        outcome,
        form.login,
        WRONG_PASSWORD,
    )
    .await
}

/// `POST /station/{guid}/passcode`: a personal passcode.
pub async fn passcode(
    req: HttpRequest,
    state: web::Data<AppState>,
    guid: web::Path<String>,
    client: ClientInfo,
    AnonymousForm(form): AnonymousForm<PasscodeForm>,
) -> Result<HttpResponse, PageError> {
    let printer = state.services.printers.by_guid(&guid).await?;
    let outcome = state
        .services
        .identity
        .passcode_login(&form.passcode, at(&printer), &client)
        .await;
    sign_in_outcome(
        &req,
        &state,
        &printer,
        &client,
        outcome,
        String::new(),
        WRONG_PASSCODE,
    )
    .await
}

/// `POST /station/{guid}/logout`.
pub async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    guid: web::Path<String>,
    _: AnonymousForm<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    let printer = state.services.printers.by_guid(&guid).await?;
    if let Some((_, token)) = person(&req, &state).await {
        state.services.identity.end_session(&token).await?;
    }
    let here = cookie_path(&printer.guid);
    let mut response = redirect(&here);
    response
        .add_cookie(&cleared_cookie(STATION_COOKIE, here.clone()))
        .ok();
    Ok(response)
}

/// The sign-in screen again with why the attempt was refused (429 and `Retry-After`
/// when the station's limits hold this address back).
async fn refused(
    req: &HttpRequest,
    state: &AppState,
    printer: &PrinterRow,
    error: IdentityError,
    login: String,
    wrong: &str,
) -> Result<HttpResponse, PageError> {
    let problem = wrong_at_station(Problem::from(error), wrong);
    if !problem.shown_in_place() {
        return Err(PageError(problem));
    }
    let response = show(
        req,
        state,
        signin_error(printer, problem.message.clone(), login),
    )
    .await?;
    Ok(refused_in_place(response, &problem))
}
