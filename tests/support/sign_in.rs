//! Helpers for the sign-in limit tests: clients bound to another loopback address
//! (the server keys limits by the peer address), station and IPP calls, audit rows.

use std::net::IpAddr;

use printpark::db::{AuditEntry, PrinterRow};
use printpark::identity::{ClientInfo, User};
use printpark::release::PrinterForm;

use super::{TestServer, csrf_of, get_text};

/// A browser-like client whose connections come from `addr` (127.0.0.x works on
/// Linux loopback without any set-up).
pub fn client_from(addr: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .tls_danger_accept_invalid_certs(true)
        .redirect(reqwest::redirect::Policy::none())
        .local_address(addr.parse::<IpAddr>().expect("an IP address"))
        .build()
        .expect("client")
}

/// The audit-log view of an address, for calling identity directly.
pub fn from(addr: &str) -> ClientInfo {
    ClientInfo {
        addr: addr.into(),
        user_agent: "test".into(),
    }
}

/// A printer whose station page the tests use (never delivered to).
pub async fn station_printer(server: &TestServer, admin: &User, name: &str) -> PrinterRow {
    server
        .services
        .printers
        .add(
            admin,
            &PrinterForm {
                name: name.into(),
                uri: super::printer::unreachable_uri(),
                ..Default::default()
            },
            &ClientInfo::default(),
        )
        .await
        .unwrap()
}

/// A printer served by an output-device app (INFRA), for the device API.
pub async fn pulled_printer(server: &TestServer, admin: &User, name: &str) -> PrinterRow {
    server
        .services
        .printers
        .add(
            admin,
            &PrinterForm {
                name: name.into(),
                protocol: "infra".into(),
                ..Default::default()
            },
            &ClientInfo::default(),
        )
        .await
        .unwrap()
}

/// Presses a station button (fetching the page first for its CSRF token).
pub async fn station_post(
    server: &TestServer,
    client: &reqwest::Client,
    guid: &str,
    step: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let page = get_text(client, server.url(&format!("/station/{guid}"))).await;
    let csrf = csrf_of(&page);
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    client
        .post(server.url(&format!("/station/{guid}/{step}")))
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// The HTTP status of an IPP Get-Printer-Attributes sent with HTTP Basic credentials
/// (401 wrong, 429 locked, 200 accepted).
pub async fn ipp_basic_status(server: &TestServer, login: &str, password: &str) -> u16 {
    use printpark::ipp::op;
    use printpark::ipp::wire::{self, Attribute, Group, Message, Value, group, tag};
    let mut operation = Group::new(group::OPERATION);
    operation.push(Attribute::new(
        "attributes-charset",
        Value::String(tag::CHARSET, "utf-8".into()),
    ));
    operation.push(Attribute::new(
        "attributes-natural-language",
        Value::String(tag::LANGUAGE, "en".into()),
    ));
    operation.push(Attribute::new(
        "printer-uri",
        Value::uri(&format!(
            "{}/ipp/print",
            server.base.replace("https", "ipps")
        )),
    ));
    let message = Message {
        version: (2, 0),
        code: op::GET_PRINTER_ATTRIBUTES,
        request_id: 1,
        groups: vec![operation],
    };
    super::insecure_client()
        .post(server.url("/ipp/print"))
        .header("content-type", "application/ipp")
        .basic_auth(login, Some(password))
        .body(wire::encode(&message))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Audit rows whose action starts with `prefix`, newest first.
pub async fn audit(server: &TestServer, prefix: &str) -> Vec<AuditEntry> {
    server
        .services
        .db
        .audit_page(None, 1000, Some(prefix))
        .await
        .unwrap()
}
