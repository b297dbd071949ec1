//! The strict IPP request decoder, from outside: a table of malformed requests built
//! byte by byte, each sent over HTTPS (signed in) to the secure queue's `/ipp/print`
//! or, as an output device, to `/ipp/system` and `/ipp/infra/{guid}`. Each must be
//! refused with the status RFC 8010/8011 name (or HTTP 400 when the bytes cannot be
//! read as IPP at all), the answer must echo the request-id and a charset, and no job
//! may exist afterwards. A second table holds unusual but valid requests that real
//! clients send, which must still be accepted.

use crate::support;

use printpark::identity::{ClientInfo, User};
use printpark::ipp::wire::{self, tag};
use printpark::ipp::{op, status};
use printpark::release::{NewOutputDevice, PrinterForm};
use support::{Backend, TestServer};

const PASSWORD: &str = "ann's long password";
const REQUEST_ID: u32 = 7;

/// A request built byte by byte, so that it can be wrong in any way.
#[derive(Clone)]
struct Ipp(Vec<u8>);

impl Ipp {
    fn head(version: (u8, u8), code: u16, request_id: u32) -> Self {
        let mut b = vec![version.0, version.1];
        b.extend_from_slice(&code.to_be_bytes());
        b.extend_from_slice(&request_id.to_be_bytes());
        Self(b)
    }
    fn group(mut self, tag: u8) -> Self {
        self.0.push(tag);
        self
    }
    /// One value: tag, name, value (lengths computed).
    fn attr(mut self, tag: u8, name: &str, value: &[u8]) -> Self {
        self.0.push(tag);
        self.0.extend_from_slice(&(name.len() as u16).to_be_bytes());
        self.0.extend_from_slice(name.as_bytes());
        self.0
            .extend_from_slice(&(value.len() as u16).to_be_bytes());
        self.0.extend_from_slice(value);
        self
    }
    fn end(mut self) -> Vec<u8> {
        self.0.push(0x03);
        self.0
    }
}

fn with_language(language: &str, text: &[u8]) -> Vec<u8> {
    let mut v = (language.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(language.as_bytes());
    v.extend_from_slice(&(text.len() as u16).to_be_bytes());
    v.extend_from_slice(text);
    v
}

fn long(n: usize) -> Vec<u8> {
    vec![b'a'; n]
}

fn int(n: i32) -> [u8; 4] {
    n.to_be_bytes()
}

/// The three attributes every request opens with, for `code` on `uri`.
fn opening(code: u16, uri: &str) -> Ipp {
    Ipp::head((2, 0), code, REQUEST_ID)
        .group(0x01)
        .attr(tag::CHARSET, "attributes-charset", b"utf-8")
        .attr(tag::LANGUAGE, "attributes-natural-language", b"en")
        .attr(tag::URI, "printer-uri", uri.as_bytes())
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Want {
    /// HTTP 200 with this IPP status.
    Status(u16),
    /// This HTTP status (the bytes are not IPP at all).
    Http(u16),
}

#[derive(Clone, Copy, Debug)]
enum Path {
    Print,
    System,
    Infra,
}

struct Case {
    name: &'static str,
    path: Path,
    body: Vec<u8>,
    want: Want,
}

/// What came back: HTTP status, IPP status, request-id, charset.
#[derive(Debug)]
struct Got {
    http: u16,
    ipp: Option<(u16, u32, Option<String>)>,
}

impl Got {
    fn accepted(&self) -> bool {
        self.http == 200 && self.ipp.as_ref().is_some_and(|(s, _, _)| *s < 0x0400)
    }
    fn matches(&self, want: Want) -> bool {
        match (want, &self.ipp) {
            (Want::Http(h), _) => self.http == h,
            (Want::Status(s), Some((code, id, charset))) => {
                self.http == 200
                    && *code == s
                    && *id == REQUEST_ID
                    && charset.as_deref() == Some("utf-8")
            }
            (Want::Status(_), None) => false,
        }
    }
    fn describe(&self) -> String {
        match &self.ipp {
            Some((code, id, charset)) => format!(
                "HTTP {} IPP 0x{code:04x} id {id} charset {}",
                self.http,
                charset.as_deref().unwrap_or("-")
            ),
            None => format!("HTTP {}", self.http),
        }
    }
}

async fn post(url: String, auth: (&str, &str), body: Vec<u8>) -> Got {
    let response = support::insecure_client()
        .post(url)
        .header("content-type", "application/ipp")
        .basic_auth(auth.0, Some(auth.1))
        .body(body)
        .send()
        .await
        .unwrap();
    let http = response.status().as_u16();
    let bytes = response.bytes().await.unwrap();
    let ipp = if http == 200 {
        wire::read_message(&mut bytes.as_ref(), wire::Limits::default())
            .await
            .ok()
            .map(|m| {
                let charset = m
                    .groups
                    .first()
                    .and_then(|g| g.attributes.first())
                    .filter(|a| a.name == "attributes-charset")
                    .and_then(|a| a.first())
                    .and_then(wire::Value::as_str)
                    .map(str::to_owned);
                (m.code, m.request_id, charset)
            })
    } else {
        None
    };
    Got { http, ipp }
}

struct World {
    server: TestServer,
    ann: User,
    device: NewOutputDevice,
    guid: String,
}

async fn world() -> World {
    let server = TestServer::start(Backend::Sqlite).await;
    let admin = support::create_admin(&server.services.identity).await;
    let ann = support::create_user(&server, "ann", PASSWORD).await;
    let printer = server
        .services
        .printers
        .add(
            &admin,
            &PrinterForm {
                name: "Pulled".into(),
                protocol: "infra".into(),
                ..Default::default()
            },
            &ClientInfo::default(),
        )
        .await
        .unwrap();
    let device = server
        .services
        .release
        .infra()
        .add_device(&admin, printer.id, "proxy", &ClientInfo::default())
        .await
        .unwrap();
    World {
        server,
        ann,
        device,
        guid: printer.guid,
    }
}

impl World {
    fn authority(&self) -> String {
        self.server.base.trim_start_matches("https://").to_owned()
    }
    fn print_uri(&self) -> String {
        format!("ipps://{}/ipp/print", self.authority())
    }
    fn system_uri(&self) -> String {
        format!("ipps://{}/ipp/system", self.authority())
    }
    fn infra_uri(&self) -> String {
        format!("ipps://{}/ipp/infra/{}", self.authority(), self.guid)
    }
    async fn send(&self, path: Path, body: Vec<u8>) -> Got {
        match path {
            Path::Print => post(self.server.url("/ipp/print"), ("ann", PASSWORD), body).await,
            Path::System => {
                post(
                    self.server.url("/ipp/system"),
                    (&self.device.login, &self.device.secret),
                    body,
                )
                .await
            }
            Path::Infra => {
                post(
                    self.server.url(&format!("/ipp/infra/{}", self.guid)),
                    (&self.device.login, &self.device.secret),
                    body,
                )
                .await
            }
        }
    }
    async fn jobs(&self) -> usize {
        self.server
            .services
            .jobs
            .all_jobs_of(&self.ann)
            .await
            .unwrap()
            .len()
    }
}

fn document() -> Vec<u8> {
    std::fs::read(support::fixture_path("document-a4.pdf")).unwrap()
}

/// Print-Job with the opening attributes, then `f`'s attributes, end, the document.
fn print_job(w: &World, f: impl FnOnce(Ipp) -> Ipp) -> Vec<u8> {
    let mut body = f(opening(op::PRINT_JOB, &w.print_uri())).end();
    body.extend_from_slice(&document());
    body
}

/// The malformed requests. Each is a Print-Job (or an output device's request) that
/// would create a job or change state if it were accepted.
fn malformed(w: &World) -> Vec<Case> {
    use Path::*;
    use Want::*;
    let bad = Status(status::BAD_REQUEST);
    let too_long = Status(status::REQUEST_VALUE_TOO_LONG);
    let unsupported = Status(status::ATTRIBUTES_OR_VALUES_NOT_SUPPORTED);
    let p = |name, f: &dyn Fn(Ipp) -> Ipp, want| Case {
        name,
        path: Print,
        body: print_job(w, f),
        want,
    };
    let job = |ipp: Ipp| ipp.group(0x02);
    let mut cases = vec![
        // An attribute given twice in one group (RFC 8011 §4.1.3).
        p(
            "duplicate operation attribute",
            &|i| {
                i.attr(tag::NAME, "job-name", b"a")
                    .attr(tag::NAME, "job-name", b"b")
            },
            bad,
        ),
        p(
            "duplicate job attribute",
            &|i| {
                job(i)
                    .attr(tag::INTEGER, "copies", &int(1))
                    .attr(tag::INTEGER, "copies", &int(2))
            },
            bad,
        ),
        p(
            "duplicate printer-uri",
            &|i| i.attr(tag::URI, "printer-uri", w.print_uri().as_bytes()),
            bad,
        ),
        p(
            "duplicate collection member",
            &|i| {
                job(i)
                    .attr(tag::BEGIN_COLLECTION, "media-col", b"")
                    .attr(tag::MEMBER_NAME, "", b"media-type")
                    .attr(tag::KEYWORD, "", b"stationery")
                    .attr(tag::MEMBER_NAME, "", b"media-type")
                    .attr(tag::KEYWORD, "", b"labels")
                    .attr(tag::END_COLLECTION, "", b"")
            },
            bad,
        ),
        // Values longer than their syntax allows (RFC 8011 §5.1).
        p(
            "text over 1023 octets",
            &|i| job(i).attr(tag::TEXT, "job-message-to-operator", &long(1024)),
            too_long,
        ),
        p(
            "name over 255 octets",
            &|i| i.attr(tag::NAME, "requesting-user-name", &long(256)),
            too_long,
        ),
        p(
            "job-name over 255 octets",
            &|i| i.attr(tag::NAME, "job-name", &long(256)),
            too_long,
        ),
        p(
            "keyword over 255 octets",
            &|i| job(i).attr(tag::KEYWORD, "print-color-mode", &long(256)),
            too_long,
        ),
        p(
            "uri over 1023 octets",
            &|i| {
                i.attr(
                    tag::URI,
                    "document-uri",
                    format!("https://{}/{}", w.authority(), "a".repeat(1024)).as_bytes(),
                )
            },
            too_long,
        ),
        p(
            "uriScheme over 63 octets",
            &|i| i.attr(tag::URI_SCHEME, "document-uri-scheme", &long(64)),
            too_long,
        ),
        p(
            "charset over 63 octets",
            &|i| i.attr(tag::CHARSET, "document-charset", &long(64)),
            too_long,
        ),
        p(
            "naturalLanguage over 63 octets",
            &|i| i.attr(tag::LANGUAGE, "document-natural-language", &long(64)),
            too_long,
        ),
        p(
            "mimeMediaType over 255 octets",
            &|i| {
                i.attr(
                    tag::MIME_TYPE,
                    "document-format",
                    format!("application/{}", "a".repeat(250)).as_bytes(),
                )
            },
            too_long,
        ),
        p(
            "octetString over 1023 octets",
            &|i| job(i).attr(tag::OCTET_STRING, "job-password", &long(1024)),
            too_long,
        ),
        p(
            "memberAttrName over 255 octets",
            &|i| {
                job(i)
                    .attr(tag::BEGIN_COLLECTION, "media-col", b"")
                    .attr(tag::MEMBER_NAME, "", &long(256))
                    .attr(tag::KEYWORD, "", b"stationery")
                    .attr(tag::END_COLLECTION, "", b"")
            },
            too_long,
        ),
        p(
            "textWithLanguage text over 1023",
            &|i| {
                job(i).attr(
                    tag::TEXT_WITH_LANGUAGE,
                    "job-message-to-operator",
                    &with_language("en", &long(1024)),
                )
            },
            too_long,
        ),
        p(
            "nameWithLanguage name over 255",
            &|i| {
                i.attr(
                    tag::NAME_WITH_LANGUAGE,
                    "job-name",
                    &with_language("en", &long(256)),
                )
            },
            too_long,
        ),
        p(
            "nameWithLanguage language over 63",
            &|i| {
                i.attr(
                    tag::NAME_WITH_LANGUAGE,
                    "job-name",
                    &with_language(&"a".repeat(64), b"x"),
                )
            },
            too_long,
        ),
        p(
            "textWithLanguage lengths disagree",
            &|i| {
                job(i).attr(
                    tag::TEXT_WITH_LANGUAGE,
                    "job-message-to-operator",
                    &[0, 2, b'e', b'n', 0, 9, b'h', b'i'],
                )
            },
            Http(400),
        ),
        p(
            "attribute name over 255 octets",
            &|i| i.attr(tag::KEYWORD, &"a".repeat(256), b"x"),
            bad,
        ),
        p(
            "attribute name with a space",
            &|i| i.attr(tag::KEYWORD, "job name", b"x"),
            bad,
        ),
        // Collections (RFC 8010 §3.1.6, §3.1.7).
        p(
            "member attribute outside a collection",
            &|i| {
                job(i).attr(tag::MEMBER_NAME, "", b"media-type").attr(
                    tag::KEYWORD,
                    "",
                    b"stationery",
                )
            },
            Http(400),
        ),
        p(
            "memberAttrName with a name",
            &|i| job(i).attr(tag::MEMBER_NAME, "media-col", b"media-type"),
            Http(400),
        ),
        p(
            "end-collection without a begin",
            &|i| job(i).attr(tag::END_COLLECTION, "", b""),
            Http(400),
        ),
        p(
            "end-collection with a name",
            &|i| {
                job(i)
                    .attr(tag::BEGIN_COLLECTION, "media-col", b"")
                    .attr(tag::MEMBER_NAME, "", b"media-type")
                    .attr(tag::KEYWORD, "", b"stationery")
                    .attr(tag::END_COLLECTION, "media-col", b"")
            },
            Http(400),
        ),
        p(
            "begin-collection with a value",
            &|i| {
                job(i)
                    .attr(tag::BEGIN_COLLECTION, "media-col", b"xyz")
                    .attr(tag::MEMBER_NAME, "", b"media-type")
                    .attr(tag::KEYWORD, "", b"stationery")
                    .attr(tag::END_COLLECTION, "", b"")
            },
            Http(400),
        ),
        p(
            "member value with a name",
            &|i| {
                job(i)
                    .attr(tag::BEGIN_COLLECTION, "media-col", b"")
                    .attr(tag::MEMBER_NAME, "", b"media-type")
                    .attr(tag::KEYWORD, "media-type", b"stationery")
                    .attr(tag::END_COLLECTION, "", b"")
            },
            Http(400),
        ),
        // Fixed-size values (RFC 8010 §3.9).
        p(
            "boolean 2",
            &|i| i.attr(tag::BOOLEAN, "ipp-attribute-fidelity", &[2]),
            bad,
        ),
        p(
            "boolean 0xff",
            &|i| i.attr(tag::BOOLEAN, "ipp-attribute-fidelity", &[0xff]),
            bad,
        ),
        p(
            "boolean of 2 octets",
            &|i| i.attr(tag::BOOLEAN, "ipp-attribute-fidelity", &[0, 1]),
            Http(400),
        ),
        p(
            "dateTime of 10 octets",
            &|i| {
                job(i).attr(
                    tag::DATE_TIME,
                    "job-hold-until-time",
                    &[7, 234, 12, 7, 13, 0, 0, 0, b'+', 0],
                )
            },
            Http(400),
        ),
        p(
            "dateTime of 12 octets",
            &|i| {
                job(i).attr(
                    tag::DATE_TIME,
                    "job-hold-until-time",
                    &[7, 234, 12, 7, 13, 0, 0, 0, b'+', 0, 0, 0],
                )
            },
            Http(400),
        ),
        p(
            "dateTime month 13",
            &|i| {
                job(i).attr(
                    tag::DATE_TIME,
                    "job-hold-until-time",
                    &[7, 234, 13, 7, 13, 0, 0, 0, b'+', 0, 0],
                )
            },
            bad,
        ),
        p(
            "integer of 2 octets",
            &|i| job(i).attr(tag::INTEGER, "copies", &[0, 1]),
            Http(400),
        ),
        p(
            "enum of 5 octets",
            &|i| job(i).attr(tag::ENUM, "orientation-requested", &[0, 0, 0, 0, 3]),
            Http(400),
        ),
        p(
            "rangeOfInteger of 7 octets",
            &|i| job(i).attr(tag::RANGE, "page-ranges", &[0, 0, 0, 1, 0, 0, 2]),
            Http(400),
        ),
        p(
            "rangeOfInteger lower above upper",
            &|i| {
                job(i).attr(
                    tag::RANGE,
                    "job-pages-per-set-range",
                    &[0, 0, 0, 5, 0, 0, 0, 2],
                )
            },
            unsupported,
        ),
        p(
            "resolution of 8 octets",
            &|i| {
                job(i).attr(
                    tag::RESOLUTION,
                    "printer-resolution",
                    &[0, 0, 1, 44, 0, 0, 1, 44],
                )
            },
            Http(400),
        ),
        p(
            "resolution units 5",
            &|i| {
                job(i).attr(
                    tag::RESOLUTION,
                    "printer-resolution",
                    &[0, 0, 1, 44, 0, 0, 1, 44, 5],
                )
            },
            bad,
        ),
        p(
            "enum 0",
            &|i| job(i).attr(tag::ENUM, "finishings", &int(0)),
            bad,
        ),
        p(
            "enum negative",
            &|i| job(i).attr(tag::ENUM, "finishings", &int(-5)),
            bad,
        ),
        p(
            "orientation-requested 99",
            &|i| job(i).attr(tag::ENUM, "orientation-requested", &int(99)),
            unsupported,
        ),
        p(
            "print-quality 2",
            &|i| job(i).attr(tag::ENUM, "print-quality", &int(2)),
            unsupported,
        ),
        // Tags (RFC 8010 §3.5).
        p(
            "delimiter tag 0x00",
            &|i| i.group(0x00).attr(tag::KEYWORD, "x", b"y"),
            bad,
        ),
        p(
            "delimiter tag 0x0b",
            &|i| i.group(0x0b).attr(tag::KEYWORD, "x", b"y"),
            bad,
        ),
        p(
            "delimiter tag 0x0f",
            &|i| i.group(0x0f).attr(tag::KEYWORD, "x", b"y"),
            bad,
        ),
        p(
            "unsupported-attributes group in a request",
            &|i| i.group(0x05).attr(tag::KEYWORD, "x", b"y"),
            bad,
        ),
        p(
            "value tag 0x11 (reserved)",
            &|i| job(i).attr(0x11, "copies", b""),
            bad,
        ),
        p(
            "value tag 0x1f (reserved)",
            &|i| job(i).attr(0x1f, "copies", b""),
            bad,
        ),
        p(
            "value tag 0x20 (reserved)",
            &|i| job(i).attr(0x20, "copies", &int(1)),
            bad,
        ),
        p(
            "value tag 0x24 (reserved)",
            &|i| job(i).attr(0x24, "copies", &int(1)),
            bad,
        ),
        p(
            "value tag 0x38 (reserved)",
            &|i| job(i).attr(0x38, "copies", &int(1)),
            bad,
        ),
        p(
            "value tag 0x40 (reserved)",
            &|i| job(i).attr(0x40, "job-message-to-operator", b"x"),
            bad,
        ),
        p(
            "value tag 0x43 (reserved)",
            &|i| job(i).attr(0x43, "job-message-to-operator", b"x"),
            bad,
        ),
        p(
            "value tag 0x4b (reserved)",
            &|i| job(i).attr(0x4b, "job-message-to-operator", b"x"),
            bad,
        ),
        p(
            "value tag 0x60 (reserved)",
            &|i| job(i).attr(0x60, "job-message-to-operator", b"x"),
            bad,
        ),
        p(
            "value tag 0x80 (reserved)",
            &|i| job(i).attr(0x80, "job-message-to-operator", b"x"),
            bad,
        ),
        p(
            "extension tag shorter than 4 octets",
            &|i| job(i).attr(0x7f, "x-ext", &[0, 0]),
            bad,
        ),
        p(
            "extension tag naming a one-octet tag",
            &|i| job(i).attr(0x7f, "copies", &[0, 0, 0, 0x21, 0, 0, 0, 1]),
            bad,
        ),
        p(
            "extension tag above 0x7fffffff",
            &|i| job(i).attr(0x7f, "x-ext", &[0x80, 0, 0, 0, 1]),
            bad,
        ),
        p(
            "extension tag, well formed but unknown",
            &|i| job(i).attr(0x7f, "x-ext", &[0x40, 0, 0, 1, 1]),
            unsupported,
        ),
        // Strings that are not their syntax.
        p(
            "keyword with a space",
            &|i| job(i).attr(tag::KEYWORD, "print-color-mode", b"mono chrome"),
            bad,
        ),
        p(
            "charset with a space",
            &|i| i.attr(tag::CHARSET, "document-charset", b"utf 8"),
            bad,
        ),
        p(
            "naturalLanguage with a space",
            &|i| i.attr(tag::LANGUAGE, "document-natural-language", b"en us"),
            bad,
        ),
        p(
            "mimeMediaType without a slash",
            &|i| i.attr(tag::MIME_TYPE, "document-format", b"pdf"),
            bad,
        ),
        p(
            "uri without a scheme",
            &|i| i.attr(tag::URI, "document-uri", b"no scheme here"),
            bad,
        ),
        p(
            "text that is not UTF-8",
            &|i| job(i).attr(tag::TEXT, "job-message-to-operator", &[0xff, 0xfe]),
            Http(400),
        ),
        // The header and the operation group (RFC 8011 §4.1.1–4.1.5).
        p(
            "additional value before any attribute",
            &|i| i.group(0x02).attr(tag::INTEGER, "", &int(1)),
            Http(400),
        ),
        // A request with the wrong printer-uri host.
        Case {
            name: "printer-uri naming another host",
            path: Print,
            body: {
                let mut b = opening(op::PRINT_JOB, "ipps://attacker.example/ipp/print").end();
                b.extend_from_slice(&document());
                b
            },
            want: bad,
        },
        Case {
            name: "printer-uri naming another host (Get-Printer-Attributes)",
            path: Print,
            body: opening(op::GET_PRINTER_ATTRIBUTES, "ipps://10.0.0.1:8631/ipp/print").end(),
            want: bad,
        },
        Case {
            name: "printer-uri with user info naming another host",
            path: Print,
            body: opening(
                op::CREATE_JOB,
                &format!("ipps://{}@attacker.example/ipp/print", w.authority()),
            )
            .end(),
            want: bad,
        },
        Case {
            name: "job-uri naming another host",
            path: Print,
            body: Ipp::head((2, 0), op::CANCEL_JOB, REQUEST_ID)
                .group(0x01)
                .attr(tag::CHARSET, "attributes-charset", b"utf-8")
                .attr(tag::LANGUAGE, "attributes-natural-language", b"en")
                .attr(tag::URI, "job-uri", b"ipps://attacker.example/ipp/print/1")
                .end(),
            want: bad,
        },
        Case {
            name: "version 3.0",
            path: Print,
            body: Ipp::head((3, 0), op::PRINT_JOB, REQUEST_ID)
                .group(0x01)
                .attr(tag::CHARSET, "attributes-charset", b"utf-8")
                .attr(tag::LANGUAGE, "attributes-natural-language", b"en")
                .attr(tag::URI, "printer-uri", w.print_uri().as_bytes())
                .end(),
            want: Status(status::VERSION_NOT_SUPPORTED),
        },
        Case {
            name: "version 0.0",
            path: Print,
            body: Ipp::head((0, 0), op::CREATE_JOB, REQUEST_ID)
                .group(0x01)
                .attr(tag::CHARSET, "attributes-charset", b"utf-8")
                .attr(tag::LANGUAGE, "attributes-natural-language", b"en")
                .attr(tag::URI, "printer-uri", w.print_uri().as_bytes())
                .end(),
            want: Status(status::VERSION_NOT_SUPPORTED),
        },
        Case {
            name: "request-id 0",
            path: Print,
            body: Ipp::head((2, 0), op::CREATE_JOB, 0)
                .group(0x01)
                .attr(tag::CHARSET, "attributes-charset", b"utf-8")
                .attr(tag::LANGUAGE, "attributes-natural-language", b"en")
                .attr(tag::URI, "printer-uri", w.print_uri().as_bytes())
                .end(),
            // The answer carries request-id 0 (what was sent): checked below.
            want: Http(200),
        },
        Case {
            name: "request-id above 2^31-1",
            path: Print,
            body: Ipp::head((2, 0), op::CREATE_JOB, 0x8000_0000)
                .group(0x01)
                .attr(tag::CHARSET, "attributes-charset", b"utf-8")
                .attr(tag::LANGUAGE, "attributes-natural-language", b"en")
                .attr(tag::URI, "printer-uri", w.print_uri().as_bytes())
                .end(),
            // Answered with request-id 0: checked below.
            want: Http(200),
        },
        Case {
            name: "first group is job attributes",
            path: Print,
            body: Ipp::head((2, 0), op::CREATE_JOB, REQUEST_ID)
                .group(0x02)
                .attr(tag::INTEGER, "copies", &int(1))
                .group(0x01)
                .attr(tag::CHARSET, "attributes-charset", b"utf-8")
                .attr(tag::LANGUAGE, "attributes-natural-language", b"en")
                .attr(tag::URI, "printer-uri", w.print_uri().as_bytes())
                .end(),
            want: bad,
        },
        Case {
            name: "attributes-charset missing",
            path: Print,
            body: Ipp::head((2, 0), op::CREATE_JOB, REQUEST_ID)
                .group(0x01)
                .attr(tag::LANGUAGE, "attributes-natural-language", b"en")
                .attr(tag::URI, "printer-uri", w.print_uri().as_bytes())
                .end(),
            want: bad,
        },
        Case {
            name: "natural-language before charset",
            path: Print,
            body: Ipp::head((2, 0), op::CREATE_JOB, REQUEST_ID)
                .group(0x01)
                .attr(tag::LANGUAGE, "attributes-natural-language", b"en")
                .attr(tag::CHARSET, "attributes-charset", b"utf-8")
                .attr(tag::URI, "printer-uri", w.print_uri().as_bytes())
                .end(),
            want: bad,
        },
        Case {
            name: "charset iso-8859-1",
            path: Print,
            body: Ipp::head((2, 0), op::CREATE_JOB, REQUEST_ID)
                .group(0x01)
                .attr(tag::CHARSET, "attributes-charset", b"iso-8859-1")
                .attr(tag::LANGUAGE, "attributes-natural-language", b"en")
                .attr(tag::URI, "printer-uri", w.print_uri().as_bytes())
                .end(),
            want: Status(status::CHARSET_NOT_SUPPORTED),
        },
        Case {
            name: "two operation groups",
            path: Print,
            body: opening(op::CREATE_JOB, &w.print_uri())
                .group(0x01)
                .attr(tag::NAME, "job-name", b"x")
                .end(),
            want: bad,
        },
        Case {
            name: "truncated header",
            path: Print,
            body: vec![2, 0, 0, 2],
            want: Http(400),
        },
        Case {
            name: "begin-collection without an end",
            path: Print,
            body: opening(op::CREATE_JOB, &w.print_uri())
                .group(0x02)
                .attr(tag::BEGIN_COLLECTION, "media-col", b"")
                .attr(tag::MEMBER_NAME, "", b"media-type")
                .attr(tag::KEYWORD, "", b"stationery")
                .0,
            want: Http(400),
        },
        Case {
            name: "collections nested 20 deep",
            path: Print,
            body: {
                let mut i = opening(op::CREATE_JOB, &w.print_uri()).group(0x02).attr(
                    tag::BEGIN_COLLECTION,
                    "media-col",
                    b"",
                );
                for _ in 0..20 {
                    i = i
                        .attr(tag::MEMBER_NAME, "", b"x")
                        .attr(tag::BEGIN_COLLECTION, "", b"");
                }
                for _ in 0..21 {
                    i = i.attr(tag::END_COLLECTION, "", b"");
                }
                i.end()
            },
            want: Http(413),
        },
    ];
    // The output device's side: the same decoder, the same rules.
    let system = |code: u16| {
        opening(code, &w.system_uri()).attr(
            tag::URI,
            "output-device-uuid",
            b"urn:uuid:00000000-0000-4000-8000-000000000001",
        )
    };
    let infra = |code: u16| opening(code, &w.infra_uri());
    cases.extend([
        Case {
            name: "system: duplicate attribute",
            path: System,
            body: system(op::REGISTER_OUTPUT_DEVICE)
                .attr(
                    tag::URI,
                    "output-device-uuid",
                    b"urn:uuid:00000000-0000-4000-8000-000000000002",
                )
                .end(),
            want: bad,
        },
        Case {
            name: "system: boolean 2",
            path: System,
            body: system(op::REGISTER_OUTPUT_DEVICE)
                .attr(tag::BOOLEAN, "ipp-attribute-fidelity", &[2])
                .end(),
            want: bad,
        },
        Case {
            name: "system: text over 1023 octets",
            path: System,
            body: system(op::REGISTER_OUTPUT_DEVICE)
                .attr(tag::TEXT, "output-device-name", &long(1024))
                .end(),
            want: too_long,
        },
        Case {
            name: "system: reserved delimiter 0x0c",
            path: System,
            body: system(op::REGISTER_OUTPUT_DEVICE)
                .group(0x0c)
                .attr(tag::KEYWORD, "x", b"y")
                .end(),
            want: bad,
        },
        Case {
            name: "system: system-uri naming another host",
            path: System,
            body: Ipp::head((2, 0), op::REGISTER_OUTPUT_DEVICE, REQUEST_ID)
                .group(0x01)
                .attr(tag::CHARSET, "attributes-charset", b"utf-8")
                .attr(tag::LANGUAGE, "attributes-natural-language", b"en")
                .attr(
                    tag::URI,
                    "system-uri",
                    b"ipps://attacker.example/ipp/system",
                )
                .attr(
                    tag::URI,
                    "output-device-uuid",
                    b"urn:uuid:00000000-0000-4000-8000-000000000001",
                )
                .end(),
            want: bad,
        },
        Case {
            name: "infra: printer-uri naming another host",
            path: Infra,
            body: opening(op::GET_JOBS, "ipps://attacker.example/ipp/infra/x").end(),
            want: bad,
        },
        Case {
            name: "infra: enum 0 in printer attributes",
            path: Infra,
            body: infra(op::UPDATE_OUTPUT_DEVICE_ATTRIBUTES)
                .group(0x04)
                .attr(tag::ENUM, "printer-state", &int(0))
                .end(),
            want: bad,
        },
        Case {
            name: "infra: printer-state 9",
            path: Infra,
            body: infra(op::UPDATE_OUTPUT_DEVICE_ATTRIBUTES)
                .group(0x04)
                .attr(tag::ENUM, "printer-state", &int(9))
                .end(),
            want: unsupported,
        },
        Case {
            name: "infra: dateTime of 3 octets",
            path: Infra,
            body: infra(op::UPDATE_OUTPUT_DEVICE_ATTRIBUTES)
                .group(0x04)
                .attr(tag::DATE_TIME, "printer-current-time", &[1, 2, 3])
                .end(),
            want: Http(400),
        },
    ]);
    cases
}

#[tokio::test]
async fn malformed_requests_are_refused_before_any_job_exists() {
    let w = world().await;
    let cases = malformed(&w);
    let mut table = String::new();
    let mut failures = Vec::new();
    let mut accepted = Vec::new();
    for case in &cases {
        let got = w.send(case.path, case.body.clone()).await;
        let ok = if case.name.starts_with("request-id") {
            // Refused, answered with request-id 0 (the one sent, or 0 for an impossible one).
            got.http == 200
                && matches!(&got.ipp, Some((s, 0, Some(c))) if *s == status::BAD_REQUEST && c == "utf-8")
        } else {
            got.matches(case.want)
        };
        if got.accepted() {
            accepted.push(case.name);
        }
        let line = format!(
            "{:<58} {:<12} {}\n",
            case.name,
            if got.accepted() {
                "ACCEPTED"
            } else {
                "refused"
            },
            got.describe()
        );
        table.push_str(&line);
        if !ok {
            failures.push(format!(
                "{}: wanted {:?}, got {}",
                case.name,
                case.want,
                got.describe()
            ));
        }
    }
    let jobs = w.jobs().await;
    println!(
        "{table}\n{} cases, {} accepted, {} not as expected, {jobs} jobs exist",
        cases.len(),
        accepted.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "not refused as expected:\n{}",
        failures.join("\n")
    );
    assert_eq!(jobs, 0, "a refused request left a job");
    w.server.stop().await;
}

/// Unusual but valid requests that real clients send: all accepted.
#[tokio::test]
async fn valid_requests_that_look_unusual_are_still_accepted() {
    let w = world().await;
    let authority = w.authority();
    let port = authority.rsplit_once(':').unwrap().1.to_owned();
    let get = |uri: &str| opening(op::GET_PRINTER_ATTRIBUTES, uri);
    let cases: Vec<(&str, Path, Vec<u8>)> = vec![
        (
            "printer-uri with localhost for 127.0.0.1",
            Path::Print,
            get(&format!("ipps://localhost:{port}/ipp/print")).end(),
        ),
        (
            "printer-uri host in capitals",
            Path::Print,
            get(&format!("IPPS://{}/ipp/print", authority.to_uppercase())).end(),
        ),
        (
            "printer-uri without a port",
            Path::Print,
            get("ipps://127.0.0.1/ipp/print").end(),
        ),
        (
            "same attribute name in two groups",
            Path::Print,
            get(&w.print_uri())
                .attr(tag::KEYWORD, "requested-attributes", b"all")
                .group(0x02)
                .attr(tag::KEYWORD, "requested-attributes", b"all")
                .end(),
        ),
        (
            "1setOf keyword",
            Path::Print,
            get(&w.print_uri())
                .attr(tag::KEYWORD, "requested-attributes", b"printer-name")
                .attr(tag::KEYWORD, "", b"media-col-database")
                .end(),
        ),
        (
            "IPP/1.1 request",
            Path::Print,
            Ipp::head((1, 1), op::GET_PRINTER_ATTRIBUTES, REQUEST_ID)
                .group(0x01)
                .attr(tag::CHARSET, "attributes-charset", b"UTF-8")
                .attr(tag::LANGUAGE, "attributes-natural-language", b"en-US")
                .attr(tag::URI, "printer-uri", w.print_uri().as_bytes())
                .end(),
        ),
        (
            "text of 1023 octets and name of 255",
            Path::Print,
            get(&w.print_uri())
                .attr(tag::NAME, "requesting-user-name", &long(255))
                .attr(tag::TEXT, "x-note", &long(1023))
                .end(),
        ),
        (
            "out-of-band no-value",
            Path::Print,
            get(&w.print_uri())
                .attr(tag::NO_VALUE, "document-format", b"")
                .end(),
        ),
        (
            "nameWithLanguage",
            Path::Print,
            get(&w.print_uri())
                .attr(
                    tag::NAME_WITH_LANGUAGE,
                    "requesting-user-name",
                    &with_language("de", "Jürgen".as_bytes()),
                )
                .end(),
        ),
        (
            "system: Get-System-Attributes",
            Path::System,
            opening(op::GET_SYSTEM_ATTRIBUTES, &w.system_uri()).end(),
        ),
        (
            "infra: Get-Printer-Attributes",
            Path::Infra,
            opening(op::GET_PRINTER_ATTRIBUTES, &w.infra_uri()).end(),
        ),
    ];
    let mut failures = Vec::new();
    for (name, path, body) in cases {
        let got = w.send(path, body).await;
        println!("{name:<50} {}", got.describe());
        if !got.accepted() {
            failures.push(format!("{name}: {}", got.describe()));
        }
    }
    // A Print-Job with a collection, 1setOf member, nameWithLanguage and a date.
    let body = print_job(&w, |i| {
        i.attr(
            tag::NAME_WITH_LANGUAGE,
            "job-name",
            &with_language("en", b"Report"),
        )
        .group(0x02)
        .attr(tag::BEGIN_COLLECTION, "media-col", b"")
        .attr(tag::MEMBER_NAME, "", b"media-size")
        .attr(tag::BEGIN_COLLECTION, "", b"")
        .attr(tag::MEMBER_NAME, "", b"x-dimension")
        .attr(tag::INTEGER, "", &int(21000))
        .attr(tag::MEMBER_NAME, "", b"y-dimension")
        .attr(tag::INTEGER, "", &int(29700))
        .attr(tag::END_COLLECTION, "", b"")
        .attr(tag::MEMBER_NAME, "", b"media-type")
        .attr(tag::KEYWORD, "", b"stationery")
        .attr(tag::END_COLLECTION, "", b"")
        .attr(tag::ENUM, "orientation-requested", &int(3))
        .attr(tag::ENUM, "finishings", &int(3))
        .attr(tag::ENUM, "", &int(4))
        .attr(
            tag::RESOLUTION,
            "printer-resolution",
            &[0, 0, 2, 88, 0, 0, 2, 88, 3],
        )
        .attr(tag::RANGE, "page-ranges", &[0, 0, 0, 1, 0, 0, 0, 1])
        .attr(tag::BOOLEAN, "x-flag", &[1])
        .attr(
            tag::DATE_TIME,
            "job-hold-until-time",
            &[7, 234, 12, 7, 13, 0, 0, 0, b'+', 0, 0],
        )
    });
    let got = w.send(Path::Print, body).await;
    println!("{:<50} {}", "Print-Job with collections", got.describe());
    if !got.accepted() {
        failures.push(format!("Print-Job with collections: {}", got.describe()));
    }
    assert!(failures.is_empty(), "refused:\n{}", failures.join("\n"));
    assert_eq!(w.jobs().await, 1);
    w.server.stop().await;
}
