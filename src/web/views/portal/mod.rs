//! The user portal (`/portal/…`, templates in `templates/portal/`): my jobs and
//! releases, uploads, my account; and their route table.

use actix_web::web;

pub mod account;
pub mod jobs;
// Issue 16, accounts: changing one's password, and the forced change after a reset.
pub mod password;
// Issue 20: "Set up printing" — the queue's address, an app password, steps per platform.
pub mod setup;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/portal", web::get().to(jobs::my_jobs))
        .route("/portal/upload", web::post().to(jobs::upload))
        .route("/portal/releases", web::get().to(jobs::my_releases))
        .route("/portal/jobs/{id}/delete", web::post().to(jobs::delete_job))
        .route("/portal/account", web::get().to(account::account))
        .route("/portal/setup", web::get().to(setup::setup_page))
        .route("/portal/setup", web::post().to(setup::make_app_password))
        .route(
            "/portal/setup/printpark.mobileconfig",
            web::get().to(setup::apple_profile),
        )
        .route(
            "/portal/setup/printpark.crt",
            web::get().to(setup::certificate_der),
        )
        .route(
            "/portal/setup/printpark.pem",
            web::get().to(setup::certificate_pem),
        )
        .route(
            "/portal/account/password",
            web::get().to(password::password_page),
        )
        .route(
            "/portal/account/password",
            web::post().to(password::change_password),
        )
        .route("/portal/account/pin", web::post().to(account::set_pin))
        .route(
            "/portal/account/passcode",
            web::post().to(account::new_passcode),
        )
        .route(
            "/portal/account/badges/unlink",
            web::post().to(account::unlink_badges),
        )
        .route(
            "/portal/account/phones/{handle}/revoke",
            web::post().to(account::revoke_phone),
        )
        .route(
            "/portal/account/app-passwords",
            web::post().to(account::create_app_password),
        )
        .route(
            "/portal/account/app-passwords/{id}/revoke",
            web::post().to(account::revoke_app_password),
        );
}
