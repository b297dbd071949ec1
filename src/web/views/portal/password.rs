//! Changing my password (`/portal/account/password`). After an admin reset it, this
//! page is the only one a signed-in person reaches (`web/auth.rs` sends every other
//! there) until they choose a new one. The current password is proven under the
//! sign-in limits; every other session of the person ends.

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::identity::ClientInfo;
use crate::web::AppState;
use crate::web::auth::SignedIn;
use crate::web::error::{PageError, Problem, refused_in_place};
use crate::web::extract::{SignedForm, UserForm, csrf_field};
use crate::web::views::{Page, redirect, render};

#[derive(Template)]
#[template(path = "portal/password.html")]
struct PasswordPage {
    page: Page,
    /// An admin reset the password: say why the person is here.
    forced: bool,
}

fn page(state: &AppState, who: &SignedIn) -> Page {
    Page::for_user("Change password", &state.services.identity, who)
}

pub async fn password_page(
    state: web::Data<AppState>,
    who: SignedIn,
) -> Result<HttpResponse, PageError> {
    render(&PasswordPage {
        forced: who.principal.user.must_change_password,
        page: page(&state, &who),
    })
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    /// Optional (the account page's short form has no second field).
    #[serde(default)]
    new_again: Option<String>,
}

csrf_field!(PasswordForm);

pub async fn change_password(
    state: web::Data<AppState>,
    client: ClientInfo,
    SignedForm { who, form }: UserForm<PasswordForm>,
) -> Result<HttpResponse, PageError> {
    let forced = who.principal.user.must_change_password;
    let result = match form.new_again.as_deref() {
        Some(again) if again != form.new => Err(Problem::bad_request(
            "The two new passwords differ: type the same one twice.",
        )),
        _ => state
            .services
            .identity
            .change_password(
                &who.principal.user,
                &form.current,
                &form.new,
                &client,
                Some(&who.token),
            )
            .await
            .map_err(Problem::from),
    };
    if forced && result.is_ok() {
        return Ok(redirect("/portal"));
    }
    let refusal = result.as_ref().err().cloned();
    let page = page(&state, &who).with_outcome(result.map(|()| {
        "Password changed. You are signed out everywhere else (other browsers, phones, printers)."
    }))?;
    let response = render(&PasswordPage { page, forced })?;
    Ok(match refusal {
        Some(problem) => refused_in_place(response, &problem),
        None => response,
    })
}
