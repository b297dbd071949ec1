//! What every IPP server front answers with, whatever it serves: the response with its
//! leading operation group, the checks every request passes before dispatch (RFC 8010,
//! RFC 8011 §4.1.1–4.1.5), the choice of job attributes by `requested-attributes`,
//! and the small accessors the fronts and the client read attributes with.
//!
//! The secure queue, the INFRA printer and the agent's workstation queue all answer
//! through these, so they refuse and echo alike.

use super::wire::{self, Attribute, Group, Message, Value, WireError, group, tag};
use super::{op, status};

/// Operations that need no credentials (capability discovery).
pub fn is_anonymous(code: u16) -> bool {
    code == op::GET_PRINTER_ATTRIBUTES
}

/// A response with the operation group every response starts with.
pub fn response(request: &Message, code: u16, message: &str) -> Message {
    let version = if request.version.0 == 1 || request.version.0 == 2 {
        request.version
    } else {
        (1, 1)
    };
    let mut operation = Group::new(group::OPERATION);
    operation.push(Attribute::new(
        "attributes-charset",
        Value::String(tag::CHARSET, "utf-8".into()),
    ));
    operation.push(Attribute::new(
        "attributes-natural-language",
        Value::String(tag::LANGUAGE, "en".into()),
    ));
    if !message.is_empty() {
        operation.push(Attribute::new("status-message", Value::text(message)));
    }
    Message {
        version,
        code,
        // RFC 8010 §3.1.1: 1 to 2^31-1; an impossible one is answered with 0.
        request_id: if request.request_id <= 0x7fff_ffff {
            request.request_id
        } else {
            0
        },
        groups: vec![operation],
    }
}

/// Checks that hold for every request (RFC 8010, RFC 8011 §4.1.1–4.1.5) before
/// dispatch: the version, request-id, the operation group first with
/// attributes-charset and attributes-natural-language leading it, every attribute
/// (`wire::validate_request`), and a target URI naming one of `own_uris`' hosts.
pub fn check_request(request: &Message, own_uris: &[&str]) -> Result<(), (u16, String)> {
    if !(request.version.0 == 1 || request.version.0 == 2) {
        return Err((
            status::VERSION_NOT_SUPPORTED,
            format!(
                "IPP version {}.{} is not supported",
                request.version.0, request.version.1
            ),
        ));
    }
    if request.request_id == 0 || request.request_id > 0x7fff_ffff {
        return Err((
            status::BAD_REQUEST,
            "request-id must be 1 to 2147483647".into(),
        ));
    }
    let Some(first) = request.groups.first().filter(|g| g.tag == group::OPERATION) else {
        return Err((
            status::BAD_REQUEST,
            "the operation attributes group must come first".into(),
        ));
    };
    if request
        .groups
        .iter()
        .filter(|g| g.tag == group::OPERATION)
        .count()
        > 1
    {
        return Err((
            status::BAD_REQUEST,
            "more than one operation attributes group".into(),
        ));
    }
    let names: Vec<&str> = first.attributes.iter().map(|a| a.name.as_str()).collect();
    if names.first() != Some(&"attributes-charset")
        || names.get(1) != Some(&"attributes-natural-language")
    {
        return Err((
            status::BAD_REQUEST,
            "attributes-charset and attributes-natural-language must come first".into(),
        ));
    }
    for (attribute, syntax) in [
        (&first.attributes[0], tag::CHARSET),
        (&first.attributes[1], tag::LANGUAGE),
    ] {
        if !matches!(attribute.values.as_slice(), [Value::String(t, _)] if *t == syntax) {
            return Err((
                status::BAD_REQUEST,
                format!("{} must be one value of its syntax", attribute.name),
            ));
        }
    }
    let charset = first.attributes[0]
        .first()
        .and_then(Value::as_str)
        .unwrap_or("");
    if !charset.eq_ignore_ascii_case("utf-8") && !charset.eq_ignore_ascii_case("us-ascii") {
        return Err((
            status::CHARSET_NOT_SUPPORTED,
            format!(
                "charset {} is not supported",
                charset
                    .chars()
                    .filter(char::is_ascii_graphic)
                    .take(63)
                    .collect::<String>()
            ),
        ));
    }
    wire::validate_request(request).map_err(|e| match e {
        WireError::Refused { status, message } => (status, message),
        other => (status::BAD_REQUEST, other.to_string()),
    })?;
    let targets: Vec<&Attribute> = ["printer-uri", "job-uri", "system-uri"]
        .iter()
        .filter_map(|name| request.operation_attr(name))
        .collect();
    if targets.is_empty() {
        return Err((
            status::BAD_REQUEST,
            "printer-uri (or job-uri, system-uri) is required".into(),
        ));
    }
    for target in targets {
        let Some(Value::String(t, uri)) = target.first() else {
            return Err((
                status::BAD_REQUEST,
                format!("{} has the wrong syntax", target.name),
            ));
        };
        if *t != tag::URI || target.values.len() != 1 {
            return Err((
                status::BAD_REQUEST,
                format!("{} has the wrong syntax", target.name),
            ));
        }
        check_host(&target.name, uri, own_uris)?;
    }
    Ok(())
}

/// A target URI must name this server: the host the request came to, or the public
/// URL's (ports aside: `ipps://host/` means 631 where the request came to 443).
/// Loopback names stand for each other (`localhost` for 127.0.0.1).
fn check_host(name: &str, uri: &str, own_uris: &[&str]) -> Result<(), (u16, String)> {
    let Some(host) = uri_host(uri) else {
        return Err((status::BAD_REQUEST, format!("{name} names no host")));
    };
    let ours: Vec<String> = own_uris.iter().filter_map(|u| uri_host(u)).collect();
    if ours.iter().any(|own| same_host(own, &host)) {
        return Ok(());
    }
    Err((
        status::BAD_REQUEST,
        format!(
            "{name} names host {host}, not this server ({})",
            ours.first().map_or("unknown", String::as_str)
        ),
    ))
}

/// The host of `scheme://[user@]host[:port]/…`, lower case, without brackets or a
/// trailing dot.
fn uri_host(uri: &str) -> Option<String> {
    let (_, rest) = uri.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next()?,
        None => host_port.split(':').next()?,
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    (!host.is_empty()).then_some(host)
}

fn same_host(a: &str, b: &str) -> bool {
    let loopback = |h: &str| {
        h == "localhost"
            || h.parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    };
    a == b || (loopback(a) && loopback(b))
}

/// The job attributes named in `requested-attributes` (groups `all`,
/// `job-description`, `job-status` and `job-template` mean everything here).
pub fn select_job_attributes(all: Vec<Attribute>, names: &[&str]) -> Vec<Attribute> {
    if names.iter().any(|n| {
        matches!(
            *n,
            "all" | "job-description" | "job-status" | "job-template"
        )
    }) {
        return all;
    }
    all.into_iter()
        .filter(|a| names.contains(&a.name.as_str()))
        .collect()
}

impl Value {
    /// The values that are strings (keywords, names, text, URIs…), others skipped.
    pub fn strings(values: &[Value]) -> Vec<&str> {
        values.iter().filter_map(Value::as_str).collect()
    }
}

impl Attribute {
    /// The attribute's values that are strings, others skipped.
    pub fn strings(&self) -> Vec<&str> {
        Value::strings(&self.values)
    }
}

impl Group {
    /// The strings of the attribute `name`; none when it is absent.
    pub fn strings(&self, name: &str) -> Vec<&str> {
        self.get(name).map(Attribute::strings).unwrap_or_default()
    }

    /// The first value of `name` as an integer (or enum).
    pub fn find_int(&self, name: &str) -> Option<i32> {
        self.get(name)
            .and_then(Attribute::first)
            .and_then(Value::as_int)
    }
}

impl Message {
    /// The first value of `name` as an integer (or enum), in whichever group it comes.
    pub fn find_int(&self, name: &str) -> Option<i32> {
        self.groups
            .iter()
            .find_map(|g| g.get(name))
            .and_then(Attribute::first)
            .and_then(Value::as_int)
    }

    /// The first value of the job template attribute `name` as a string.
    pub fn job_str(&self, name: &str) -> Option<&str> {
        self.job_attr(name)
            .and_then(Attribute::first)
            .and_then(Value::as_str)
    }

    /// The first value of the job template attribute `name` as an integer (or enum).
    pub fn job_int(&self, name: &str) -> Option<i32> {
        self.job_attr(name)
            .and_then(Attribute::first)
            .and_then(Value::as_int)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(target: (&str, &str)) -> Message {
        let mut operation = Group::new(group::OPERATION);
        operation.push(Attribute::new(
            "attributes-charset",
            Value::String(tag::CHARSET, "utf-8".into()),
        ));
        operation.push(Attribute::new(
            "attributes-natural-language",
            Value::String(tag::LANGUAGE, "en".into()),
        ));
        operation.push(Attribute::new(target.0, Value::uri(target.1)));
        Message {
            version: (2, 0),
            code: op::GET_PRINTER_ATTRIBUTES,
            request_id: 1,
            groups: vec![operation],
        }
    }

    #[test]
    fn uri_hosts_are_read_without_user_port_brackets_case_or_trailing_dot() {
        for (uri, host) in [
            ("ipps://Print.Example.:631/ipp/print", Some("print.example")),
            ("ipps://[::1]:8631/ipp/print", Some("::1")),
            (
                "ipps://127.0.0.1:8631@evil.example/ipp/print",
                Some("evil.example"),
            ),
            ("ipp://h?x", Some("h")),
            ("https://print.example.org", Some("print.example.org")),
            ("mailto:someone@example.org", None),
            ("ipps:///ipp/print", None),
        ] {
            assert_eq!(uri_host(uri).as_deref(), host, "{uri}");
        }
    }

    #[test]
    fn a_target_uri_must_name_the_host_the_request_came_to_or_the_public_one() {
        let own = [
            "ipps://127.0.0.1:8631/ipp/print",
            "https://print.example.org",
        ];
        for (name, uri, ok) in [
            ("printer-uri", "ipps://127.0.0.1:8631/ipp/print", true),
            ("printer-uri", "ipps://localhost/ipp/print", true),
            ("printer-uri", "ipps://[::1]:8631/ipp/print", true),
            ("printer-uri", "ipps://PRINT.example.org/ipp/print", true),
            ("printer-uri", "ipps://evil.example/ipp/print", false),
            ("printer-uri", "ipps://10.0.0.1:8631/ipp/print", false),
            ("job-uri", "ipps://evil.example/ipp/print/3", false),
            (
                "system-uri",
                "ipps://print.example.org.evil.example/ipp/system",
                false,
            ),
        ] {
            let result = check_request(&request((name, uri)), &own);
            assert_eq!(result.is_ok(), ok, "{name} {uri}: {result:?}");
            if let Err((code, _)) = result {
                assert_eq!(code, status::BAD_REQUEST);
            }
        }
        // Without a public URL, only the host the request came to.
        assert!(
            check_request(
                &request(("printer-uri", "ipps://print.example.org/ipp/print")),
                &["ipps://127.0.0.1:8631/ipp/print", ""]
            )
            .is_err()
        );
    }

    #[test]
    fn refusals_echo_a_possible_request_id_and_the_charset() {
        let mut bad = request(("printer-uri", "ipps://evil.example/"));
        bad.request_id = 0x8000_0001;
        let answer = response(&bad, status::BAD_REQUEST, "no");
        assert_eq!(answer.request_id, 0);
        assert_eq!(
            answer.groups[0].attributes[0].first(),
            Some(&Value::String(tag::CHARSET, "utf-8".into()))
        );
        bad.request_id = 9;
        assert_eq!(response(&bad, status::BAD_REQUEST, "no").request_id, 9);
    }
}
