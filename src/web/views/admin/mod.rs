//! The admin pages (`/admin/…`, templates in `templates/admin/`): one file per page
//! group, and their route table.

pub use super::public_base;
use actix_web::web;

// Issue 20: the public address (warning, settings form).
pub mod address;
pub mod agents;
// Issue 20: the audit log's filters and CSV export.
pub mod audit;
pub mod dashboard;
pub mod devices;
// Issue 16: LDAP / Active Directory.
pub mod directory;
pub mod discovery;
pub mod labels;
// issue 16, e-mail
pub mod mail;
pub mod output_devices;
pub mod printer_page;
pub mod printers;
pub mod releases;
// Single sign-on (issue 16, oidc).
pub mod sso;
pub mod users;

/// Every admin URL. Where two patterns could match one request with the same method
/// the fixed one comes first (`labels` before `{id}`, `hold` and `devices` before
/// `{action}`): actix tries routes in the order they are registered.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin", web::get().to(dashboard::dashboard))
        .route("/admin/audit", web::get().to(audit::audit))
        .route("/admin/audit.csv", web::get().to(audit::audit_csv))
        .route("/admin/settings", web::get().to(dashboard::settings))
        .route("/admin/settings/address", web::post().to(address::save))
        .route("/admin/users", web::get().to(users::users))
        .route("/admin/users", web::post().to(users::create_user))
        // Issue 16, accounts: the import (before `{id}`), one person's page, password
        // reset and cards (before `{id}/{action}`).
        .route("/admin/users/import", web::get().to(users::import::form))
        .route("/admin/users/import", web::post().to(users::import::upload))
        .route(
            "/admin/users/import/{id}",
            web::post().to(users::import::apply),
        )
        .route("/admin/users/{id}", web::get().to(users::edit::edit_page))
        .route("/admin/users/{id}", web::post().to(users::edit::save))
        .route(
            "/admin/users/{id}/password",
            web::post().to(users::edit::reset_password),
        )
        .route(
            "/admin/users/{id}/badges",
            web::post().to(users::edit::add_card),
        )
        .route(
            "/admin/users/{id}/badges/{handle}/remove",
            web::post().to(users::edit::remove_card),
        )
        .route(
            "/admin/users/{id}/delete",
            web::get().to(users::confirm_delete),
        )
        .route("/admin/users/{id}/hold", web::post().to(users::set_hold))
        .route(
            "/admin/users/{id}/{action}",
            web::post().to(users::user_action),
        )
        .route("/admin/printers", web::get().to(printers::list))
        .route("/admin/printers", web::post().to(printers::add))
        .route("/admin/printers/labels", web::get().to(labels::labels))
        .route("/admin/printers/{id}", web::get().to(printers::detail))
        .route("/admin/printers/{id}", web::post().to(printers::update))
        .route(
            "/admin/printers/{id}/devices",
            web::post().to(output_devices::add),
        )
        .route(
            "/admin/printers/{id}/devices/{device}/revoke",
            web::post().to(output_devices::revoke),
        )
        .route(
            "/admin/printers/{id}/{action}",
            web::post().to(printers::action),
        )
        .route("/admin/releases", web::get().to(releases::releases))
        .route(
            "/admin/releases/{id}/{action}",
            web::post().to(releases::release_action),
        )
        .route("/admin/devices", web::get().to(devices::list))
        .route("/admin/devices/{id}", web::get().to(devices::detail))
        .route(
            "/admin/devices/{id}/make-printer",
            web::post().to(devices::make_printer),
        )
        .route("/admin/discovery", web::get().to(discovery::page))
        .route(
            "/admin/discovery/settings",
            web::post().to(discovery::save_settings),
        )
        .route(
            "/admin/discovery/ranges",
            web::post().to(discovery::add_range),
        )
        .route(
            "/admin/discovery/ranges/{id}/delete",
            web::post().to(discovery::delete_range),
        )
        .route(
            "/admin/discovery/credentials",
            web::post().to(discovery::add_credential),
        )
        .route(
            "/admin/discovery/credentials/{id}/delete",
            web::post().to(discovery::delete_credential),
        )
        .route("/admin/discovery/scan", web::post().to(discovery::scan_now))
        .route(
            "/admin/discovery/scans/{id}/cancel",
            web::post().to(discovery::cancel_scan),
        )
        // issue 16, e-mail
        .route("/admin/mail", web::get().to(mail::page))
        .route("/admin/mail", web::post().to(mail::save))
        .route("/admin/mail/test", web::post().to(mail::test))
        // Issue 16: LDAP / Active Directory.
        .route("/admin/directory", web::get().to(directory::page))
        .route("/admin/directory", web::post().to(directory::save))
        .route("/admin/directory/test", web::post().to(directory::test))
        .route("/admin/directory/sync", web::post().to(directory::sync))
        .route("/admin/agents", web::get().to(agents::agents))
        .route("/admin/agents/code", web::post().to(agents::new_code))
        .route(
            "/admin/agents/{id}/{action}",
            web::post().to(agents::action),
        );
    sso::routes(cfg); // single sign-on (issue 16, oidc)
}
