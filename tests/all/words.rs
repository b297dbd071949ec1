//! Issue 20 (screens): words a person understands, and forms that answer with a
//! redirect. Each refusal is checked with its exact sentence: uploads that are not a
//! document PrintPark takes, a wrong PIN or passcode at the station, an empty
//! sign-in (no failure counted), a printer added that did not answer (a warning, not
//! a green notice), copies above the limit (portal, agent API, IPP), refusals about
//! one's own account. A refresh after "Reset PIN" makes no second PIN.

use crate::screens::{ADMIN_PASSWORD, ANN_PASSWORD, ANN_PIN, World};
use crate::support;

use printpark::identity::ClientInfo;
use printpark::ipp::wire::{self, Attribute, Group, Message, Value, group, tag};
use printpark::ipp::{op, status};
use support::sign_in::{audit, station_post, station_printer};
use support::{Backend, TestServer, csrf_of, get_text};

/// A client signed in to the portal as `login`.
async fn signed_in(server: &TestServer, login: &str, password: &str) -> reqwest::Client {
    let client = server.client();
    let response = support::login(server, &client, login, password).await;
    assert_eq!(response.status(), 303, "{login} signs in");
    client
}

/// Posts a form of `page` (its CSRF token first) and follows the one redirect; the
/// page it lands on, and where.
async fn post_and_follow(
    server: &TestServer,
    client: &reqwest::Client,
    page: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> (String, String) {
    let csrf = csrf_of(&get_text(client, server.url(page)).await);
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    let response = client
        .post(server.url(path))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "{path} answers with a redirect");
    let to = response.headers()["location"].to_str().unwrap().to_owned();
    (get_text(client, server.url(&to)).await, to)
}

/// Uploads `files` (name, type, bytes) from the portal with `copies`; the portal page
/// the redirect leads to.
async fn upload(
    server: &TestServer,
    client: &reqwest::Client,
    copies: &str,
    files: &[(&str, &str, &[u8])],
) -> String {
    let csrf = csrf_of(&get_text(client, server.url("/portal")).await);
    let mut form = reqwest::multipart::Form::new()
        .text("csrf", csrf)
        .text("copies", copies.to_owned());
    for (name, mime, bytes) in files {
        form = form.part(
            "files",
            reqwest::multipart::Part::bytes(bytes.to_vec())
                .file_name(name.to_string())
                .mime_str(mime)
                .unwrap(),
        );
    }
    let response = client
        .post(server.url("/portal/upload"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "the upload answers with a redirect");
    assert_eq!(response.headers()["location"], "/portal");
    get_text(client, server.url("/portal")).await
}

#[tokio::test]
async fn portal_uploads_say_what_is_wrong_with_each_file() {
    let w = World::new(Backend::Sqlite).await;
    let client = signed_in(&w.server, "ann", ANN_PASSWORD).await;
    let pdf = std::fs::read(support::fixture_path("document-a4.pdf")).unwrap();
    let page = upload(
        &w.server,
        &client,
        "1",
        &[
            ("notes.txt", "text/plain", b"shopping list\n"),
            ("empty.pdf", "application/pdf", b""),
            ("fake.pdf", "application/pdf", b"this is not a PDF at all\n"),
            ("cv.docx", "application/octet-stream", b"PK\x03\x04 word"),
            ("report.pdf", "application/pdf", &pdf),
        ],
    )
    .await;
    for sentence in [
        "Parked 1 document: report.pdf. Release at any printer.",
        "notes.txt is a text file; PrintPark takes PDF, JPEG and PNG files here.",
        "empty.pdf is empty.",
        "fake.pdf is not a valid PDF; PrintPark takes PDF, JPEG and PNG files here.",
        "cv.docx is a Word or text-processor document; PrintPark takes PDF, JPEG and PNG files here.",
    ] {
        assert!(page.contains(sentence), "{sentence}\n{page}");
    }
    assert!(!page.contains("are not accepted here"), "{page}");
    assert!(!page.contains("application/octet-stream"), "{page}");
    // Said once: a refresh shows the list alone and parks nothing again.
    let again = get_text(&client, w.server.url("/portal")).await;
    assert!(!again.contains("empty.pdf is empty."), "{again}");
    let held = w.server.services.jobs.held_jobs_of(&w.ann).await.unwrap();
    assert_eq!(held.len(), 1);
    w.server.stop().await;
}

#[tokio::test]
async fn copies_above_the_limit_are_refused_with_it_in_portal_api_and_ipp() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let w = World::new(backend).await;
        let pdf = std::fs::read(support::fixture_path("document-a4.pdf")).unwrap();

        // The portal: refused with the limit, never clamped to 99.
        let client = signed_in(&w.server, "ann", ANN_PASSWORD).await;
        let page = upload(
            &w.server,
            &client,
            "150",
            &[("report.pdf", "application/pdf", &pdf)],
        )
        .await;
        assert!(
            page.contains(
                "Not parked: PrintPark prints at most 99 copies of a document; 150 were asked for."
            ),
            "{page}"
        );
        assert!(page.contains("1 to 99 copies."), "the form says the limit");
        assert!(
            w.server
                .services
                .jobs
                .held_jobs_of(&w.ann)
                .await
                .unwrap()
                .is_empty()
        );
        let page = upload(
            &w.server,
            &client,
            "99",
            &[("report.pdf", "application/pdf", &pdf)],
        )
        .await;
        assert!(page.contains("Parked 1 document"), "{page}");
        let held = w.server.services.jobs.held_jobs_of(&w.ann).await.unwrap();
        assert_eq!(held[0].copies, 99);

        // The agents' API.
        let agent = support::agent::ApiAgent::enrol(&w.server, &w.admin, "ws-1").await;
        assert_eq!(agent.heartbeat("site-1").await.status(), 403, "pending");
        support::agent::approve(&w.server, &w.admin, agent.id, "site-1", &["ann"], false).await;
        assert_eq!(agent.heartbeat("site-1").await.status(), 200);
        let response = support::insecure_client()
            .post(w.server.url("/api/v1/agent/jobs"))
            .basic_auth(&agent.login, Some(&agent.secret))
            .json(&serde_json::json!({
                "agent_ref": "ref-150",
                "owner": "ann",
                "name": "report.pdf",
                "format": "application/pdf",
                "pages": 2,
                "size_bytes": 1234,
                "copies": 150,
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "copies_out_of_range");
        assert_eq!(
            body["error"]["message"],
            "PrintPark prints at most 99 copies of a document; 150 were asked for."
        );

        // IPP: copies-supported says 1..99, and 150 is refused with
        // client-error-attributes-or-values-not-supported.
        let answer = ipp(&w.server, op::PRINT_JOB, 150, &pdf).await;
        assert_eq!(answer.code, status::ATTRIBUTES_OR_VALUES_NOT_SUPPORTED);
        let message = answer
            .group(group::OPERATION)
            .and_then(|g| g.get("status-message"))
            .and_then(|a| a.first())
            .map(|v| format!("{v:?}"))
            .unwrap_or_default();
        assert!(message.contains("at most 99 copies"), "{message}");
        let attributes = ipp(&w.server, op::GET_PRINTER_ATTRIBUTES, 0, b"").await;
        let supported = attributes
            .group(group::PRINTER)
            .and_then(|g| g.get("copies-supported"))
            .and_then(|a| a.first())
            .cloned();
        assert_eq!(supported, Some(Value::Range(1, 99)));
        assert_eq!(
            w.server
                .services
                .jobs
                .held_jobs_of(&w.ann)
                .await
                .unwrap()
                .len(),
            1,
            "nothing more was parked"
        );
        w.server.stop().await;
    }
}

/// An IPP request to the secure queue as ann (copies 0: none sent).
async fn ipp(server: &TestServer, code: u16, copies: i32, document: &[u8]) -> Message {
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
    operation.push(Attribute::new("requesting-user-name", Value::name("ann")));
    let mut groups = vec![operation];
    if copies > 0 {
        operation_document_format(&mut groups[0]);
        groups.push(Group {
            tag: group::JOB,
            attributes: vec![Attribute::new("copies", Value::Integer(copies))],
        });
    }
    let mut body = wire::encode(&Message {
        version: (2, 0),
        code,
        request_id: 1,
        groups,
    });
    body.extend_from_slice(document);
    let response = support::insecure_client()
        .post(server.url("/ipp/print"))
        .header("content-type", "application/ipp")
        .basic_auth("ann", Some(ANN_PASSWORD))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let bytes = response.bytes().await.unwrap();
    wire::read_message(&mut bytes.as_ref(), wire::Limits::default())
        .await
        .unwrap()
}

fn operation_document_format(operation: &mut Group) {
    operation.push(Attribute::new("job-name", Value::name("report.pdf")));
    operation.push(Attribute::new(
        "document-format",
        Value::mime("application/pdf"),
    ));
}

#[tokio::test]
async fn the_station_says_which_secret_was_wrong_and_an_empty_form_is_no_failure() {
    let w = World::new(Backend::Sqlite).await;
    let row = station_printer(&w.server, &w.admin, "Lobby").await;
    let client = w.server.client();
    let page = |r: reqwest::Response| async move {
        assert_eq!(r.status(), 200);
        r.text().await.unwrap()
    };

    let wrong_pin = page(
        station_post(
            &w.server,
            &client,
            &row.guid,
            "pin",
            &[("login", "ann"), ("pin", "111999")],
        )
        .await,
    )
    .await;
    assert!(
        wrong_pin.contains("Wrong username or PIN. Try again."),
        "{wrong_pin}"
    );
    assert!(
        !wrong_pin.contains("Wrong username, e-mail or password"),
        "a PIN is not a password"
    );
    let wrong_passcode = page(
        station_post(
            &w.server,
            &client,
            &row.guid,
            "passcode",
            &[("passcode", "12345678")],
        )
        .await,
    )
    .await;
    assert!(
        wrong_passcode.contains("Wrong passcode. Try again."),
        "{wrong_passcode}"
    );
    let failures_before = failures(&w.server).await;
    assert_eq!(failures_before, 2);

    // Empty forms: asked for what is missing, and nothing counted.
    for (step, fields, sentence) in [
        (
            "pin",
            vec![("login", "ann"), ("pin", "")],
            "Enter your PIN.",
        ),
        (
            "pin",
            vec![("login", ""), ("pin", "")],
            "Enter your username or e-mail.",
        ),
        ("passcode", vec![("passcode", "")], "Enter your passcode."),
        (
            "password",
            vec![("login", "ann"), ("password", "")],
            "Enter your password.",
        ),
    ] {
        let shown = page(station_post(&w.server, &client, &row.guid, step, &fields).await).await;
        assert!(shown.contains(sentence), "{step}: {sentence}\n{shown}");
        assert!(!shown.contains("Wrong"), "{shown}");
    }
    assert_eq!(failures(&w.server).await, failures_before);
    // The right PIN still signs in.
    let right = station_post(
        &w.server,
        &client,
        &row.guid,
        "pin",
        &[("login", "ann"), ("pin", ANN_PIN)],
    )
    .await;
    assert_eq!(right.status(), 303);
    w.server.stop().await;
}

/// Failed sign-in attempts at stations, as audited.
async fn failures(server: &TestServer) -> usize {
    audit(server, "station")
        .await
        .iter()
        .filter(|e| e.outcome == "failure")
        .count()
}

#[tokio::test]
async fn admin_pages_speak_in_sentences_and_offer_no_refused_action() {
    let w = World::new(Backend::Sqlite).await;
    let admin = signed_in(&w.server, "boss", ADMIN_PASSWORD).await;
    let users = get_text(&admin, w.server.url("/admin/users")).await;
    // Your own row offers neither Disable nor Delete; ann's offers both.
    let mine = support::between(&users, "boss</a>", "</tr>");
    assert!(!mine.contains("/disable"), "{mine}");
    assert!(!mine.contains("/delete"), "{mine}");
    let anns = support::between(&users, "ann</a>", "</tr>");
    assert!(anns.contains(&format!("/admin/users/{}/disable", w.ann.id)));
    assert!(anns.contains(&format!("/admin/users/{}/delete", w.ann.id)));
    // Forced anyway, the refusal is a sentence.
    let (page, to) = post_and_follow(
        &w.server,
        &admin,
        "/admin/users",
        &format!("/admin/users/{}/disable", w.admin.id),
        &[],
    )
    .await;
    assert_eq!(to, "/admin/users");
    assert!(page.contains("You cannot disable yourself."), "{page}");
    assert!(!page.contains("user: you"), "{page}");
    let (page, _) = post_and_follow(
        &w.server,
        &admin,
        "/admin/users",
        &format!("/admin/users/{}/delete", w.admin.id),
        &[],
    )
    .await;
    assert!(page.contains("You cannot delete yourself."), "{page}");

    // A printer that does not answer is added with a warning, not a green notice.
    let (page, to) = post_and_follow(
        &w.server,
        &admin,
        "/admin/printers",
        "/admin/printers",
        &[
            ("name", "Basement"),
            ("uri", &support::printer::unreachable_uri()),
            ("protocol", "auto"),
        ],
    )
    .await;
    assert!(to.ends_with("?done=added"), "{to}");
    let warning = support::between(&page, "<p class=\"notice warn\" role=\"status\">", "</p>");
    assert!(
        warning.starts_with("Printer added, but it did not answer at "),
        "{warning}"
    );
    assert!(
        !page.contains("<p class=\"notice\" role=\"status\">Printer added."),
        "{page}"
    );
    w.server.stop().await;
}

#[tokio::test]
async fn a_refresh_after_reset_pin_makes_no_second_pin() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let w = World::new(backend).await;
        let admin = signed_in(&w.server, "boss", ADMIN_PASSWORD).await;
        let csrf = csrf_of(&get_text(&admin, w.server.url("/admin/users")).await);
        let response = admin
            .post(
                w.server
                    .url(&format!("/admin/users/{}/reset-pin", w.ann.id)),
            )
            .form(&[("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303);
        let to = response.headers()["location"].to_str().unwrap().to_owned();
        assert_eq!(to, "/admin/users", "no PIN in the URL");
        let shown = get_text(&admin, w.server.url(&to)).await;
        let pin = support::between(&shown, "id=\"new-pin\">", "</code>").to_owned();
        assert!(
            pin.chars().all(|c| c.is_ascii_digit()) && pin.len() >= 4,
            "{pin}"
        );
        let hash = w
            .server
            .services
            .db
            .user_by_id(w.ann.id)
            .await
            .unwrap()
            .pin_hash;
        // The refresh: the list alone, and the PIN unchanged.
        for _ in 0..2 {
            let again = get_text(&admin, w.server.url(&to)).await;
            assert!(!again.contains("id=\"new-pin\""), "shown once");
            assert!(!again.contains(&pin), "shown once");
        }
        assert_eq!(
            w.server
                .services
                .db
                .user_by_id(w.ann.id)
                .await
                .unwrap()
                .pin_hash,
            hash
        );
        let row = station_printer(&w.server, &w.admin, "Hall").await;
        let at = printpark::identity::AtPrinter {
            guid: &row.guid,
            name: &row.name,
        };
        w.server
            .services
            .identity
            .pin_login("ann", &pin, at, &ClientInfo::default())
            .await
            .expect("the PIN shown still works");
        w.server.stop().await;
    }
}
