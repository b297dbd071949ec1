//! The secure queue over IPPS: authentication, parking, isolation between users,
//! limits, compression and malformed requests.

use crate::support;

use std::io::Write;

use printpark::ipp::wire::{self, Attribute, Group, Message, Value, group, tag};
use printpark::ipp::{op, status};
use support::{Backend, TestServer};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(support::fixture_path(name)).unwrap()
}

async fn user(server: &TestServer, name: &str) {
    support::create_user(server, name, &format!("{name} password 1")).await;
}

fn request(server: &TestServer, code: u16, extra: Vec<Attribute>, job: Vec<Attribute>) -> Message {
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
    operation.push(Attribute::new(
        "requesting-user-name",
        Value::name("someone-else"),
    ));
    operation.attributes.extend(extra);
    let mut groups = vec![operation];
    if !job.is_empty() {
        groups.push(Group {
            tag: group::JOB,
            attributes: job,
        });
    }
    Message {
        version: (2, 0),
        code,
        request_id: 1,
        groups,
    }
}

struct Answer {
    http: u16,
    www_authenticate: Option<String>,
    message: Option<Message>,
}

async fn send(
    server: &TestServer,
    auth: Option<(&str, &str)>,
    message: &Message,
    document: &[u8],
) -> Answer {
    let mut body = wire::encode(message);
    body.extend_from_slice(document);
    send_raw(server, auth, body).await
}

async fn send_raw(server: &TestServer, auth: Option<(&str, &str)>, body: Vec<u8>) -> Answer {
    post_ipp(server.url("/ipp/print"), auth, body).await
}

async fn post_ipp(url: String, auth: Option<(&str, &str)>, body: Vec<u8>) -> Answer {
    let client = support::insecure_client();
    let mut req = client
        .post(url)
        .header("content-type", "application/ipp")
        .body(body);
    if let Some((user, password)) = auth {
        req = req.basic_auth(user, Some(password));
    }
    let response = req.send().await.unwrap();
    let http = response.status().as_u16();
    let www_authenticate = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = response.bytes().await.unwrap();
    let message = if http == 200 {
        Some(
            wire::read_message(&mut bytes.as_ref(), wire::Limits::default())
                .await
                .unwrap(),
        )
    } else {
        None
    };
    Answer {
        http,
        www_authenticate,
        message,
    }
}

/// An IPP operation with only operation attributes and no document; its answer.
async fn call(
    server: &TestServer,
    auth: Option<(&str, &str)>,
    code: u16,
    extra: Vec<Attribute>,
) -> Message {
    send(server, auth, &request(server, code, extra, vec![]), b"")
        .await
        .message
        .unwrap()
}

/// Create-Job with no attributes; the new job's id.
async fn create_job(server: &TestServer, auth: Option<(&str, &str)>) -> i32 {
    let created = call(server, auth, op::CREATE_JOB, vec![]).await;
    job_attr(&created, "job-id")
        .and_then(Value::as_int)
        .unwrap()
}

fn job_attr<'a>(m: &'a Message, name: &str) -> Option<&'a Value> {
    m.group(group::JOB)
        .and_then(|g| g.get(name))
        .and_then(|a| a.first())
}

async fn print(
    server: &TestServer,
    who: &str,
    name: &str,
    document: &[u8],
    compression: Option<&str>,
) -> Message {
    let mut extra = vec![
        Attribute::new("job-name", Value::name(name)),
        Attribute::new("document-format", Value::mime("application/octet-stream")),
    ];
    if let Some(c) = compression {
        extra.push(Attribute::new("compression", Value::keyword(c)));
    }
    let password = format!("{who} password 1");
    let answer = send(
        server,
        Some((who, &password)),
        &request(server, op::PRINT_JOB, extra, vec![]),
        document,
    )
    .await;
    assert_eq!(answer.http, 200);
    answer.message.unwrap()
}

#[tokio::test]
async fn printing_needs_credentials_and_parks_the_job_held_for_its_owner_only() {
    let server = TestServer::start(Backend::Sqlite).await;
    user(&server, "ann").await;
    user(&server, "bob").await;
    // Capabilities are public; printing is not.
    let attrs = send(
        &server,
        None,
        &request(&server, op::GET_PRINTER_ATTRIBUTES, vec![], vec![]),
        b"",
    )
    .await;
    assert_eq!(attrs.message.unwrap().code, status::OK);
    let anonymous = send(
        &server,
        None,
        &request(&server, op::PRINT_JOB, vec![], vec![]),
        b"%PDF-1.4",
    )
    .await;
    assert_eq!(anonymous.http, 401);
    assert!(
        anonymous
            .www_authenticate
            .unwrap()
            .starts_with("Basic realm=\"PrintPark\"")
    );
    let wrong = send(
        &server,
        Some(("ann", "nope nope nope")),
        &request(&server, op::PRINT_JOB, vec![], vec![]),
        b"%PDF-1.4",
    )
    .await;
    assert_eq!(wrong.http, 401);

    let answer = print(
        &server,
        "ann",
        "ann-report.pdf",
        &fixture("document-a4.pdf"),
        None,
    )
    .await;
    assert_eq!(answer.code, status::OK);
    assert_eq!(
        job_attr(&answer, "job-state"),
        Some(&Value::Enum(4)),
        "pending-held"
    );
    assert_eq!(
        job_attr(&answer, "job-state-reasons").and_then(Value::as_str),
        Some("job-hold-until-specified")
    );
    let ann_job = job_attr(&answer, "job-id").and_then(Value::as_int).unwrap();
    print(
        &server,
        "bob",
        "bob-notes.pdf",
        &fixture("document-letter.pdf"),
        None,
    )
    .await;

    // The job is Ann's (not "someone-else" from requesting-user-name), with its real format and pages.
    let ann = server.services.identity.user_by_login("ann").await.unwrap();
    let jobs = server.services.jobs.held_jobs_of(&ann).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        (
            jobs[0].name.as_str(),
            jobs[0].format.as_str(),
            jobs[0].pages,
            jobs[0].source.as_str()
        ),
        ("ann-report.pdf", "application/pdf", Some(2), "ipp")
    );

    // Bob sees only his job, and cannot read or cancel Ann's.
    let bob_auth = Some(("bob", "bob password 1"));
    let list = call(
        &server,
        bob_auth,
        op::GET_JOBS,
        vec![Attribute::new(
            "requested-attributes",
            Value::keyword("all"),
        )],
    )
    .await;
    let names: Vec<_> = list
        .groups
        .iter()
        .filter(|g| g.tag == group::JOB)
        .filter_map(|g| g.get("job-name"))
        .filter_map(|a| a.first())
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(names, ["bob-notes.pdf"]);
    let peek = call(
        &server,
        bob_auth,
        op::GET_JOB_ATTRIBUTES,
        vec![Attribute::new("job-id", Value::Integer(ann_job))],
    )
    .await;
    assert_eq!(peek.code, status::NOT_FOUND);
    let cancel = call(
        &server,
        bob_auth,
        op::CANCEL_JOB,
        vec![Attribute::new("job-id", Value::Integer(ann_job))],
    )
    .await;
    assert_eq!(cancel.code, status::NOT_FOUND);

    // Ann cancels hers: the document is purged at once.
    let ann_auth = Some(("ann@example.org", "ann password 1"));
    let cancel = call(
        &server,
        ann_auth,
        op::CANCEL_JOB,
        vec![Attribute::new("job-id", Value::Integer(ann_job))],
    )
    .await;
    assert_eq!(cancel.code, status::OK);
    assert!(
        server
            .services
            .jobs
            .held_jobs_of(&ann)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        server.services.db.sealed_blob_ids().await.unwrap().len(),
        1,
        "only Bob's document is left"
    );
    let again = call(
        &server,
        ann_auth,
        op::CANCEL_JOB,
        vec![Attribute::new("job-id", Value::Integer(ann_job))],
    )
    .await;
    assert_eq!(again.code, status::NOT_POSSIBLE);
    server.stop().await;
}

#[tokio::test]
async fn create_job_with_several_documents_parks_them_all_in_order_with_summed_pages() {
    let server = TestServer::start(Backend::Sqlite).await;
    user(&server, "ann").await;
    let auth = Some(("ann", "ann password 1"));
    let created = send(
        &server,
        auth,
        &request(
            &server,
            op::CREATE_JOB,
            vec![Attribute::new("job-name", Value::name("three-part"))],
            vec![Attribute::new("copies", Value::Integer(2))],
        ),
        b"",
    )
    .await
    .message
    .unwrap();
    assert_eq!(created.code, status::OK);
    assert_eq!(job_attr(&created, "job-state"), Some(&Value::Enum(3)));
    let id = job_attr(&created, "job-id")
        .and_then(Value::as_int)
        .unwrap();
    let send_doc = |last: bool, body: Vec<u8>| {
        let server = &server;
        async move {
            let attrs = vec![
                Attribute::new("job-id", Value::Integer(id)),
                Attribute::new("last-document", Value::Boolean(last)),
            ];
            send(
                server,
                auth,
                &request(server, op::SEND_DOCUMENT, attrs, vec![]),
                &body,
            )
            .await
            .message
            .unwrap()
        }
    };
    let ann = server.services.identity.user_by_login("ann").await.unwrap();
    // Two documents, the job still incoming: nothing is held yet.
    for name in ["gray.jpg", "document-a4.pdf"] {
        let sent = send_doc(false, fixture(name)).await;
        assert_eq!(sent.code, status::OK, "{name}");
        assert_eq!(
            job_attr(&sent, "job-state"),
            Some(&Value::Enum(3)),
            "{name}"
        );
    }
    assert!(
        server
            .services
            .jobs
            .held_jobs_of(&ann)
            .await
            .unwrap()
            .is_empty()
    );
    // The third is the last: the job is held with all three.
    let sent = send_doc(true, fixture("color.jpg")).await;
    assert_eq!(sent.code, status::OK);
    assert_eq!(job_attr(&sent, "job-state"), Some(&Value::Enum(4)));
    let jobs = server.services.jobs.held_jobs_of(&ann).await.unwrap();
    assert_eq!(
        (
            jobs[0].format.as_str(),
            jobs[0].pages,
            jobs[0].color,
            jobs[0].copies,
            jobs[0].documents
        ),
        ("image/jpeg", Some(1 + 2 + 1), Some(true), 2, 3)
    );
    for (number, name) in [(1, "gray.jpg"), (2, "document-a4.pdf"), (3, "color.jpg")] {
        let mut reader = server
            .services
            .jobs
            .document(&ann, jobs[0].id, number)
            .await
            .unwrap();
        let mut stored = Vec::new();
        reader.copy_to(&mut stored).await.unwrap();
        assert_eq!(stored, fixture(name), "document {number}");
    }
    let attrs = call(
        &server,
        auth,
        op::GET_JOB_ATTRIBUTES,
        vec![Attribute::new("job-id", Value::Integer(id))],
    )
    .await;
    assert_eq!(
        job_attr(&attrs, "number-of-documents"),
        Some(&Value::Integer(3))
    );
    // A complete job takes no more documents; an empty closing one is fine.
    assert_eq!(
        send_doc(true, fixture("gray.jpg")).await.code,
        status::NOT_POSSIBLE
    );
    assert_eq!(send_doc(true, Vec::new()).await.code, status::OK);
    assert_eq!(server.services.db.sealed_blob_ids().await.unwrap().len(), 3);
    // Cancelling purges every document.
    let cancelled = call(
        &server,
        auth,
        op::CANCEL_JOB,
        vec![Attribute::new("job-id", Value::Integer(id))],
    )
    .await;
    assert_eq!(cancelled.code, status::OK);
    assert!(
        server
            .services
            .db
            .sealed_blob_ids()
            .await
            .unwrap()
            .is_empty()
    );
    server.stop().await;
}

#[tokio::test]
async fn close_job_holds_a_job_whose_last_document_was_not_marked_last() {
    let server = TestServer::start(Backend::Postgres).await;
    user(&server, "ann").await;
    let auth = Some(("ann", "ann password 1"));
    let id = create_job(&server, auth).await;
    let job_id = || vec![Attribute::new("job-id", Value::Integer(id))];
    // Nothing to close yet.
    assert_eq!(
        call(&server, auth, op::CLOSE_JOB, job_id()).await.code,
        status::NOT_POSSIBLE
    );
    let mut attrs = job_id();
    attrs.push(Attribute::new("last-document", Value::Boolean(false)));
    let sent = send(
        &server,
        auth,
        &request(&server, op::SEND_DOCUMENT, attrs, vec![]),
        &fixture("document-a4.pdf"),
    )
    .await
    .message
    .unwrap();
    assert_eq!(job_attr(&sent, "job-state"), Some(&Value::Enum(3)));
    let closed = call(&server, auth, op::CLOSE_JOB, job_id()).await;
    assert_eq!(closed.code, status::OK);
    assert_eq!(job_attr(&closed, "job-state"), Some(&Value::Enum(4)));
    let ann = server.services.identity.user_by_login("ann").await.unwrap();
    let jobs = server.services.jobs.held_jobs_of(&ann).await.unwrap();
    assert_eq!((jobs[0].pages, jobs[0].documents), (Some(2), 1));
    server.stop().await;
}

#[tokio::test]
async fn gzip_and_deflate_documents_are_stored_decompressed_with_their_pages() {
    let server = TestServer::start(Backend::Sqlite).await;
    user(&server, "ann").await;
    let pdf = fixture("document-a4.pdf");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&pdf).unwrap();
    let mut deflate =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    deflate.write_all(&pdf).unwrap();
    for (name, body, compression) in [
        ("gz.pdf", gz.finish().unwrap(), "gzip"),
        ("deflate.pdf", deflate.finish().unwrap(), "deflate"),
    ] {
        let answer = print(&server, "ann", name, &body, Some(compression)).await;
        assert_eq!(answer.code, status::OK, "{compression}");
        let id = job_attr(&answer, "job-id").and_then(Value::as_int).unwrap();
        let ann = server.services.identity.user_by_login("ann").await.unwrap();
        let job = server
            .services
            .jobs
            .job_of(&ann, i64::from(id))
            .await
            .unwrap();
        assert_eq!(
            (job.format.as_str(), job.pages, job.size_bytes),
            ("application/pdf", Some(2), pdf.len() as i64),
            "{compression}"
        );
        let mut reader = server
            .services
            .jobs
            .document(&ann, job.id, 1)
            .await
            .unwrap();
        let mut stored = Vec::new();
        reader.copy_to(&mut stored).await.unwrap();
        assert_eq!(stored, pdf);
    }
    // Corrupt gzip: an IPP error, nothing kept.
    let answer = print(
        &server,
        "ann",
        "broken",
        b"\x1f\x8b\x08\x00garbage-garbage-garbage",
        Some("gzip"),
    )
    .await;
    assert_eq!(
        answer.code,
        status::COMPRESSION_ERROR,
        "{:?}",
        answer.operation_str("status-message")
    );
    let unknown = print(&server, "ann", "x", b"data", Some("lzma")).await;
    assert_eq!(unknown.code, status::COMPRESSION_NOT_SUPPORTED);
    assert_eq!(server.services.db.sealed_blob_ids().await.unwrap().len(), 2);
    server.stop().await;
}

#[tokio::test]
async fn an_oversized_job_is_refused_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(dir, |d| {
        let mut s = support::settings(d, &support::sqlite_url(d));
        s.queue.max_job_mib = 1;
        s
    })
    .await;
    user(&server, "ann").await;
    let big = vec![b'x'; 3 * 1024 * 1024];
    let answer = print(&server, "ann", "big", &big, None).await;
    assert_eq!(answer.code, status::REQUEST_ENTITY_TOO_LARGE);
    // A gzip bomb is measured after decompression.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&vec![0u8; 8 * 1024 * 1024]).unwrap();
    let bomb = gz.finish().unwrap();
    assert!(bomb.len() < 64 * 1024);
    let answer = print(&server, "ann", "bomb", &bomb, Some("gzip")).await;
    assert_eq!(answer.code, status::REQUEST_ENTITY_TOO_LARGE);
    assert!(
        server
            .services
            .db
            .sealed_blob_ids()
            .await
            .unwrap()
            .is_empty()
    );
    let blobs = server.dir.path().join("blobs");
    let files = support::files_under(&blobs);
    assert!(files.is_empty(), "no blob left: {files:?}");
    server.stop().await;
}

#[tokio::test]
async fn malformed_ipp_gets_an_error_and_the_server_keeps_serving() {
    let server = TestServer::start(Backend::Sqlite).await;
    user(&server, "ann").await;
    let auth = Some(("ann", "ann password 1"));
    let good = wire::encode(&request(
        &server,
        op::GET_PRINTER_ATTRIBUTES,
        vec![],
        vec![],
    ));
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated header", good[..5].to_vec()),
        ("truncated attributes", good[..good.len() / 2].to_vec()),
        ("length past the end", {
            let mut b = good[..good.len() - 1].to_vec();
            b.extend_from_slice(&[tag::KEYWORD, 0x00, 0x01, b'x', 0x7f, 0xff, b'y']);
            b
        }),
        ("bad tag where a value belongs", {
            let mut b = good[..9].to_vec();
            b.extend_from_slice(&[0x47, 0x00, 0x12]);
            b.extend_from_slice(b"attributes-charset");
            b.extend_from_slice(&[0x00, 0x05, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, group::END]);
            b
        }),
    ];
    let mut many = good[..good.len() - 1].to_vec();
    for i in 0..10_000 {
        let name = format!("x-{i}");
        many.push(tag::KEYWORD);
        many.extend_from_slice(&(name.len() as u16).to_be_bytes());
        many.extend_from_slice(name.as_bytes());
        many.extend_from_slice(&[0x00, 0x01, b'y']);
    }
    many.push(group::END);
    cases.push(("10 000 attributes", many));
    for (what, body) in cases {
        let answer = send_raw(&server, auth, body).await;
        assert!(
            matches!(answer.http, 400 | 413),
            "{what}: HTTP {}",
            answer.http
        );
    }
    let mut old = request(&server, op::GET_PRINTER_ATTRIBUTES, vec![], vec![]);
    old.version = (9, 9);
    let answer = send(&server, auth, &old, b"").await.message.unwrap();
    assert_eq!(answer.code, status::VERSION_NOT_SUPPORTED);
    let unknown = call(&server, auth, 0x4242, vec![]).await;
    assert_eq!(unknown.code, status::OPERATION_NOT_SUPPORTED);
    // Still serving.
    let answer = call(&server, auth, op::GET_PRINTER_ATTRIBUTES, vec![]).await;
    assert_eq!(answer.code, status::OK);
    let wrong_type = support::insecure_client()
        .post(server.url("/ipp/print"))
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_type.status(), 400);
    server.stop().await;
}

#[tokio::test]
async fn a_created_job_whose_document_never_comes_is_aborted_after_the_time_out() {
    let server = TestServer::start(Backend::Sqlite).await;
    user(&server, "ann").await;
    let auth = Some(("ann", "ann password 1"));
    let id = create_job(&server, auth).await;
    let jobs = &server.services.jobs;
    let now = printpark::clock::now();
    assert_eq!(
        jobs.expire_due(now).await.unwrap(),
        0,
        "within the time-out it waits"
    );
    assert_eq!(
        jobs.expire_due(now + printpark::jobs::INCOMING_TIMEOUT_SECS + 1)
            .await
            .unwrap(),
        1
    );
    let state = call(
        &server,
        auth,
        op::GET_JOB_ATTRIBUTES,
        vec![Attribute::new("job-id", Value::Integer(id))],
    )
    .await;
    assert_eq!(
        job_attr(&state, "job-state"),
        Some(&Value::Enum(7)),
        "canceled"
    );
    assert_eq!(
        jobs.abandoned_totals().await.unwrap(),
        (0, 0),
        "not a print avoided"
    );
    server.stop().await;
}

#[tokio::test]
async fn the_optional_plain_ipp_listener_serves_the_queue_only_and_describes_itself_as_ipp() {
    let server = TestServer::start(Backend::Sqlite).await;
    user(&server, "ann").await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (plain, addr) =
        printpark::web::serve_plain_ipp_on(server.services.clone(), listener).unwrap();
    let handle = plain.handle();
    tokio::spawn(plain);
    let url = format!("http://{addr}/ipp/print");
    let gpa = request(&server, op::GET_PRINTER_ATTRIBUTES, vec![], vec![]);
    let answer = post_ipp(url.clone(), None, wire::encode(&gpa)).await;
    let message = answer.message.expect("an IPP answer over plain HTTP");
    let printer = message
        .groups
        .iter()
        .find(|g| g.tag == group::PRINTER)
        .unwrap();
    let uri = printer
        .attributes
        .iter()
        .find(|a| a.name == "printer-uri-supported")
        .and_then(|a| a.first())
        .and_then(Value::as_str)
        .unwrap()
        .to_owned();
    assert_eq!(uri, format!("ipp://{addr}/ipp/print"));
    // Printing still needs credentials, and parks for the authenticated user.
    let mut print_job = request(&server, op::PRINT_JOB, vec![], vec![]);
    print_job.groups[0].push(Attribute::new("job-name", Value::name("plain")));
    let mut body = wire::encode(&print_job);
    body.extend_from_slice(&fixture("document-a4.pdf"));
    let refused = post_ipp(url.clone(), None, body.clone()).await;
    assert_eq!(refused.http, 401);
    let printed = post_ipp(url, Some(("ann", "ann password 1")), body).await;
    assert_eq!(printed.message.unwrap().code, status::OK);
    let ann = server.services.identity.user_by_login("ann").await.unwrap();
    let held = server.services.jobs.held_jobs_of(&ann).await.unwrap();
    assert_eq!((held[0].name.as_str(), held[0].pages), ("plain", Some(2)));
    // Nothing else is served there: no pages, no API.
    for path in ["/", "/login", "/portal", "/api/v1/openapi.json"] {
        let status = reqwest::get(format!("http://{addr}{path}"))
            .await
            .unwrap()
            .status();
        assert_eq!(status.as_u16(), 404, "{path}");
    }
    handle.stop(true).await;
    server.stop().await;
}

/// Prints `name` as ann and returns the parked job and the audit detail of its parking.
async fn park_fixture(
    server: &TestServer,
    name: &str,
    document: &[u8],
) -> (printpark::jobs::HeldJob, String) {
    let answer = print(server, "ann", name, document, None).await;
    assert_eq!(answer.code, status::OK, "{name}");
    let id = job_attr(&answer, "job-id").and_then(Value::as_int).unwrap();
    let ann = server.services.identity.user_by_login("ann").await.unwrap();
    let job = server
        .services
        .jobs
        .job_of(&ann, i64::from(id))
        .await
        .unwrap();
    let audit = server
        .services
        .db
        .audit_page(None, 50, Some("job.park"))
        .await
        .unwrap();
    let detail = audit
        .iter()
        .find(|e| e.target == id.to_string())
        .map(|e| e.detail.clone())
        .unwrap();
    (job, detail)
}

#[tokio::test]
async fn pdfs_are_parsed_in_the_sandboxed_analyser_for_pages_in_object_streams_and_colour() {
    let server = TestServer::start(Backend::Sqlite).await;
    user(&server, "ann").await;
    // Pages only inside compressed object streams (qpdf): invisible to the
    // streaming scan, read from the page tree by the analyser.
    let (job, detail) = park_fixture(&server, "objstm", &fixture("document-a4-objstm.pdf")).await;
    assert_eq!((job.pages, job.color), (Some(2), Some(true)), "{detail}");
    assert_eq!(detail, "ipp; application/pdf", "no warning");
    let (job, _) = park_fixture(&server, "grey", &fixture("document-a4-gray.pdf")).await;
    assert_eq!((job.pages, job.color), (Some(2), Some(false)));
    // Hostile: nesting two million deep, and a page tree that is not there. Parked,
    // pages unknown, with the reason; the server and the analyser go on.
    let mut deep = b"%PDF-1.4\n1 0 obj\n".to_vec();
    deep.extend(std::iter::repeat_n(b'[', 2_000_000));
    deep.extend_from_slice(b"\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n");
    let (job, detail) = park_fixture(&server, "deep", &deep).await;
    assert_eq!(
        (job.format.as_str(), job.pages, job.color),
        ("application/pdf", None, None)
    );
    assert!(detail.contains("page tree could not be read"), "{detail}");
    assert_eq!(job.analysis_note.as_deref(), detail.split("; ").nth(2));
    // A decompression bomb: one page whose content inflates to 256 MiB. The page tree
    // is read; the content stops at the analyser's limit, so the colour is unknown.
    let mut deflate = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    let zeros = vec![b' '; 1 << 20];
    for _ in 0..256 {
        deflate.write_all(&zeros).unwrap();
    }
    let bomb = pdf_with_one_page_content(&zlib_wrap(deflate.finish().unwrap()));
    let (job, detail) = park_fixture(&server, "bomb", &bomb).await;
    assert_eq!((job.pages, job.color), (Some(1), None), "{detail}");
    let (job, _) = park_fixture(&server, "after", &fixture("document-a4-objstm.pdf")).await;
    assert_eq!(job.pages, Some(2));
    server.stop().await;
}

/// A zlib stream (what PDF's FlateDecode means) around raw deflate data; the
/// checksum is left 0, which readers that stop at a size limit never reach.
fn zlib_wrap(deflate: Vec<u8>) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    out.extend(deflate);
    out.extend([0, 0, 0, 0]);
    out
}

/// A well-formed one-page PDF (with its xref table) whose page content is `content`,
/// FlateDecode-compressed.
fn pdf_with_one_page_content(content: &[u8]) -> Vec<u8> {
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    let objects: Vec<Vec<u8>> = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>".to_vec(),
        [
            format!(
                "<< /Length {} /Filter /FlateDecode >>\nstream\n",
                content.len()
            )
            .as_bytes(),
            content,
            b"\nendstream",
        ]
        .concat(),
    ];
    for (i, body) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend(format!("{} 0 obj\n", i + 1).as_bytes());
        pdf.extend(body);
        pdf.extend(b"\nendobj\n");
    }
    let xref = pdf.len();
    pdf.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for offset in offsets {
        pdf.extend(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

#[tokio::test]
async fn an_analyser_that_crashes_costs_only_itself_and_the_job_parks_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    // Stands in for a parser crash: the worker dies by SIGSEGV as it starts reading.
    let crash = dir.path().join("crashing-analyser");
    std::fs::write(&crash, "#!/bin/sh\nkill -SEGV $$\n").unwrap();
    let mut perms = std::fs::metadata(&crash).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&crash, perms).unwrap();
    let server = TestServer::start_with(dir, |d| {
        let mut s = support::settings(d, &support::sqlite_url(d));
        s.queue.analyser_exe = Some(crash.clone());
        s
    })
    .await;
    user(&server, "ann").await;
    for round in 0..3 {
        // The streaming count stands; the warning says why the full parse is missing.
        let (job, detail) = park_fixture(&server, "plain", &fixture("document-a4.pdf")).await;
        assert_eq!(job.pages, Some(2), "round {round}");
        assert_eq!(job.color, None);
        assert!(detail.contains("PDF analyser stopped"), "{detail}");
        // Pages in object streams: nothing to count without the parse.
        let (job, detail) =
            park_fixture(&server, "objstm", &fixture("document-a4-objstm.pdf")).await;
        assert_eq!(job.pages, None, "round {round}");
        assert!(detail.contains("PDF analyser stopped"), "{detail}");
    }
    let health = support::insecure_client()
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
    server.stop().await;
}

#[tokio::test]
async fn document_formats_are_matched_without_regard_to_case() {
    let server = TestServer::start(Backend::Sqlite).await;
    user(&server, "ann").await;
    let auth = Some(("ann", "ann password 1"));
    for (format, expected) in [
        ("application/vnd.hp-PCL", status::OK),
        ("APPLICATION/PDF", status::OK),
        (
            "application/x-unknown",
            status::DOCUMENT_FORMAT_NOT_SUPPORTED,
        ),
    ] {
        let answer = call(
            &server,
            auth,
            op::VALIDATE_JOB,
            vec![Attribute::new("document-format", Value::mime(format))],
        )
        .await;
        assert_eq!(answer.code, expected, "{format}");
    }
    // CUPS's spelling of PCL prints, and the pages are counted.
    let mut print_job = request(
        &server,
        op::PRINT_JOB,
        vec![Attribute::new(
            "document-format",
            Value::mime("application/vnd.hp-PCL"),
        )],
        vec![],
    );
    print_job.groups[0].push(Attribute::new("job-name", Value::name("pcl")));
    let answer = send(&server, auth, &print_job, &fixture("document-a4-ljet4.pcl"))
        .await
        .message
        .unwrap();
    assert_eq!(answer.code, status::OK);
    let ann = server.services.identity.user_by_login("ann").await.unwrap();
    let held = server.services.jobs.held_jobs_of(&ann).await.unwrap();
    assert_eq!(
        (held[0].format.as_str(), held[0].pages),
        ("application/vnd.hp-PCL", Some(2))
    );
    server.stop().await;
}

#[tokio::test]
async fn page_ranges_are_kept_with_the_job_and_bad_ones_are_refused() {
    let server = TestServer::start(Backend::Postgres).await;
    user(&server, "ann").await;
    let auth = Some(("ann", "ann password 1"));
    let print_with = |ranges: Vec<Value>| {
        let server = &server;
        async move {
            let message = request(
                server,
                op::PRINT_JOB,
                vec![Attribute::new("job-name", Value::name("ranges"))],
                vec![Attribute {
                    name: "page-ranges".into(),
                    values: ranges,
                }],
            );
            send(server, auth, &message, &fixture("document-a4.pdf"))
                .await
                .message
                .unwrap()
        }
    };
    let printed = print_with(vec![Value::Range(1, 1), Value::Range(2, 2)]).await;
    assert_eq!(printed.code, status::OK);
    let id = job_attr(&printed, "job-id")
        .and_then(Value::as_int)
        .unwrap();
    let ann = server.services.identity.user_by_login("ann").await.unwrap();
    let job = server
        .services
        .jobs
        .job_of(&ann, i64::from(id))
        .await
        .unwrap();
    assert_eq!(job.page_ranges.as_deref(), Some("1-1,2-2"));
    let attrs = call(
        &server,
        auth,
        op::GET_JOB_ATTRIBUTES,
        vec![Attribute::new("job-id", Value::Integer(id))],
    )
    .await;
    let ranges = attrs
        .groups
        .iter()
        .find(|g| g.tag == group::JOB)
        .and_then(|g| g.get("page-ranges"))
        .map(|a| a.values.clone());
    assert_eq!(ranges, Some(vec![Value::Range(1, 1), Value::Range(2, 2)]));
    for bad in [
        vec![Value::Range(3, 2)],
        vec![Value::Range(0, 1)],
        vec![Value::Range(2, 3), Value::Range(1, 1)],
        vec![Value::Integer(1)],
    ] {
        let refused = print_with(bad.clone()).await;
        assert_eq!(
            refused.code,
            status::ATTRIBUTES_OR_VALUES_NOT_SUPPORTED,
            "{bad:?}"
        );
    }
    // Refused before the document was read: only the one good job exists.
    assert_eq!(
        server.services.jobs.held_jobs_of(&ann).await.unwrap().len(),
        1
    );
    server.stop().await;
}
