//! Issue 20 (address): the public address people use. Plain `http://` on the TLS port
//! is redirected; the self-signed certificate names the public address and the
//! machine's addresses, and is made again (live) when the address changes, but an
//! admin's own certificate never is; the labels page refuses and the Agents page warns
//! while the address is unset or a loopback name, and both carry the public address
//! once set; `printpark serve` stops at once with an agent's long-poll open; and the
//! first run in a browser, at three widths.

use crate::support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use printpark::identity::{ClientInfo, User};
use support::browser::Browser;
use support::{Backend, TestServer, csrf_of, get_text, login};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PASSWORD: &str = "correct horse battery";

/// An admin ("boss") made in-process, and a client signed in as them.
async fn signed_in_admin(server: &TestServer) -> (User, reqwest::Client) {
    let admin = support::create_admin(&server.services.identity).await;
    let client = server.client();
    assert_eq!(login(server, &client, "boss", PASSWORD).await.status(), 303);
    (admin, client)
}

/// Sets the public address through Admin → Settings; returns the page it leads to.
pub async fn set_public_address(
    server: &TestServer,
    client: &reqwest::Client,
    address: &str,
) -> String {
    let page = get_text(client, server.url("/admin/settings")).await;
    let response = client
        .post(server.url("/admin/settings/address"))
        .form(&[
            ("csrf", csrf_of(&page).as_str()),
            ("public_address", address),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "saving {address}");
    let to = response.headers()["location"].to_str().unwrap().to_owned();
    get_text(client, server.url(&to)).await
}

/// The subjectAltName line of a PEM certificate, as `openssl x509` prints it.
fn alt_names(cert: &std::path::Path) -> String {
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-ext", "subjectAltName", "-in"])
        .arg(cert)
        .output()
        .expect("openssl is installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The fingerprint of the certificate the listener shows on a new connection.
async fn presented_fingerprint(server: &TestServer) -> String {
    let (config, seen) = printpark::tls::client_config(None);
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let addr = server.base.trim_start_matches("https://");
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let _tls = connector.connect(name, tcp).await.unwrap();
    printpark::tls::read_seen(&seen).unwrap()
}

fn file_fingerprint(path: &std::path::Path) -> String {
    let der = printpark::tls::load_first_certificate(path).unwrap();
    printpark::tls::fingerprint(der.as_ref())
}

#[tokio::test]
async fn plain_http_on_the_tls_port_is_redirected_to_https_on_the_same_host_and_path() {
    let server = TestServer::start(Backend::Sqlite).await;
    let addr = server.base.trim_start_matches("https://").to_owned();
    let port = addr.rsplit(':').next().unwrap();

    // As a browser sends it: a raw request over plain TCP.
    let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    tcp.write_all(
        format!("GET /admin/printers?tab=all HTTP/1.1\r\nHost: print.example.test:{port}\r\n\r\n")
            .as_bytes(),
    )
    .await
    .unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), tcp.read_to_string(&mut answer))
        .await
        .expect("the redirect comes at once")
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 301 "), "{answer}");
    assert!(
        answer.contains(&format!(
            "\r\nLocation: https://print.example.test:{port}/admin/printers?tab=all\r\n"
        )),
        "{answer}"
    );

    // An HTTP client: GET is 301, a POST (an IPP client) 308 so it stays a POST.
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let get = plain
        .get(format!("http://{addr}/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 301);
    assert_eq!(get.headers()["location"], format!("https://{addr}/login"));
    let post = plain
        .post(format!("http://{addr}/ipp/print"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 308);
    assert_eq!(
        post.headers()["location"],
        format!("https://{addr}/ipp/print")
    );

    // Following it lands on the real page over TLS.
    let follows = reqwest::Client::builder()
        .tls_danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let landed = follows
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(landed.status(), 200);
    assert_eq!(landed.url().scheme(), "https");
    server.stop().await;
}

#[tokio::test]
async fn the_certificate_names_the_machine_and_is_made_again_live_for_a_new_public_address() {
    let server = TestServer::start(Backend::Sqlite).await;
    let cert = server.services.settings.tls_dir().join("cert.pem");
    let names = alt_names(&cert);
    assert!(
        names.contains("DNS:localhost") && names.contains("IP Address:127.0.0.1"),
        "{names}"
    );
    let lan = printpark::site::lan::addresses();
    for ip in &lan {
        let shown = match ip {
            std::net::IpAddr::V4(v4) => v4.to_string(),
            // openssl prints IPv6 addresses in full upper-case groups; compare loosely.
            std::net::IpAddr::V6(_) => continue,
        };
        assert!(
            names.contains(&format!("IP Address:{shown}")),
            "{shown} in {names}"
        );
    }
    let before = file_fingerprint(&cert);
    assert_eq!(presented_fingerprint(&server).await, before);

    let (_, client) = signed_in_admin(&server).await;
    let port = server.base.rsplit(':').next().unwrap().to_owned();
    let page = set_public_address(&server, &client, &format!("print-test.example:{port}")).await;
    assert!(page.contains("certificate was made again"), "{page}");
    let names = alt_names(&cert);
    assert!(
        names.contains("DNS:print-test.example") && names.contains("DNS:localhost"),
        "{names}"
    );
    if let Some(std::net::IpAddr::V4(v4)) = lan.first() {
        assert!(names.contains(&format!("IP Address:{v4}")), "{names}");
    }
    let after = file_fingerprint(&cert);
    assert_ne!(after, before);
    // Live: the next connection already gets the new certificate, no restart.
    assert_eq!(presented_fingerprint(&server).await, after);
    // The same address again changes nothing.
    let page = set_public_address(
        &server,
        &client,
        &format!("https://print-test.example:{port}"),
    )
    .await;
    assert!(page.contains("Public address saved"), "{page}");
    assert!(!page.contains("certificate was made again"), "{page}");
    assert_eq!(file_fingerprint(&cert), after);
    let audit = support::sign_in::audit(&server, "settings.public_address").await;
    assert_eq!(audit.len(), 2, "{audit:?}");
    server.stop().await;
}

#[tokio::test]
async fn an_admins_own_certificate_is_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let own = rcgen::generate_simple_self_signed(vec!["own.example".to_string()]).unwrap();
    let (cert, key) = (dir.path().join("own.pem"), dir.path().join("own.key"));
    std::fs::write(&cert, own.cert.pem()).unwrap();
    std::fs::write(&key, own.signing_key.serialize_pem()).unwrap();
    let url = support::sqlite_url(dir.path());
    let (c, k) = (cert.clone(), key.clone());
    let server = TestServer::start_with(dir, move |d| {
        let mut s = support::settings(d, &url);
        s.server.tls_cert = Some(c);
        s.server.tls_key = Some(k);
        s
    })
    .await;
    let before = std::fs::read(&cert).unwrap();
    let (_, client) = signed_in_admin(&server).await;
    let page = set_public_address(&server, &client, "https://elsewhere.example:8443").await;
    assert!(!page.contains("certificate was made again"), "{page}");
    assert_eq!(std::fs::read(&cert).unwrap(), before);
    assert_eq!(
        presented_fingerprint(&server).await,
        file_fingerprint(&cert)
    );
    server.stop().await;
}

async fn labels_and_agents_follow_the_public_address(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (admin, client) = signed_in_admin(&server).await;
    let printer = support::sign_in::station_printer(&server, &admin, "Hall printer").await;

    // Unset: the labels page refuses (HTML and SVG) and says how to fix it.
    let labels = client
        .get(server.url("/admin/printers/labels"))
        .send()
        .await
        .unwrap();
    assert_eq!(labels.status(), 409);
    let labels = labels.text().await.unwrap();
    assert!(labels.contains("Set the public address first"), "{labels}");
    assert!(labels.contains("/admin/settings#public-address"));
    assert!(!labels.contains("<svg") && !labels.contains(&printer.guid));
    let svg = client
        .get(server.url("/admin/printers/labels?format=svg"))
        .send()
        .await
        .unwrap();
    assert_eq!(svg.status(), 409);
    // The dashboard says what to do next.
    let dashboard = get_text(&client, server.url("/admin")).await;
    assert!(dashboard.contains("Next steps"), "{dashboard}");
    assert!(dashboard.contains("Set the public address"));

    // The agents page warns but shows the command (an agent on this machine can use it).
    let agents = get_text(&client, server.url("/admin/agents")).await;
    let command = new_agent_command(&server, &client, &agents).await;
    assert!(command.0.contains("Set the public address first"));
    assert!(
        command.1.contains(&format!("--server {}", server.base)),
        "{}",
        command.1
    );

    // A loopback name is refused like no address.
    let port = server.base.rsplit(':').next().unwrap().to_owned();
    set_public_address(&server, &client, &format!("https://localhost:{port}")).await;
    let labels = client
        .get(server.url("/admin/printers/labels"))
        .send()
        .await
        .unwrap();
    assert_eq!(labels.status(), 409);
    assert!(
        labels
            .text()
            .await
            .unwrap()
            .contains("only this machine can reach")
    );

    // Set: every link carries it, not the Host this client used (127.0.0.1).
    let public = format!("https://print-test.example:{port}");
    set_public_address(&server, &client, &public).await;
    let labels = get_text(&client, server.url("/admin/printers/labels")).await;
    assert!(
        labels.contains(&format!("{public}/r/{}", printer.guid)),
        "{labels}"
    );
    assert!(!labels.contains("Set the public address first"));
    let svg = get_text(&client, server.url("/admin/printers/labels?format=svg")).await;
    // (The SVG prints the URL shortened under the code; the code carries it whole.)
    assert!(
        svg.contains(&format!("https://print-test.example:{port}/r/")),
        "{svg}"
    );
    assert!(!svg.contains("127.0.0.1"));
    let agents = get_text(&client, server.url("/admin/agents")).await;
    let (page, command) = new_agent_command(&server, &client, &agents).await;
    assert!(!page.contains("Set the public address first"));
    assert!(
        command.starts_with(&format!("printpark agent --server {public} --enrol ")),
        "{command}"
    );
    assert!(page.contains("data-copy=\"#enrolment-command\""));
    // The code came on the GET after a redirect: a refresh shows it no more.
    let refreshed = get_text(&client, server.url("/admin/agents")).await;
    assert!(!refreshed.contains("enrolment-command"), "shown twice");
    // Stored: a restart of the site's memory (another process) reads it back.
    server.services.site.reload().await.unwrap();
    assert_eq!(
        server.services.site.public_address().unwrap().as_str(),
        public
    );
    server.stop().await;
}

/// Makes an enrolment code on the Agents page; returns the page and its command.
async fn new_agent_command(
    server: &TestServer,
    client: &reqwest::Client,
    agents_page: &str,
) -> (String, String) {
    // The code is made by a POST and shown on the GET it redirects to (once).
    let made = client
        .post(server.url("/admin/agents/code"))
        .form(&[("csrf", csrf_of(agents_page).as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), 303);
    let page = get_text(client, server.url("/admin/agents")).await;
    let command = support::between(&page, "<pre id=\"enrolment-command\">", "</pre>").to_owned();
    (page, command)
}

#[tokio::test]
async fn labels_and_agents_follow_the_public_address_sqlite() {
    labels_and_agents_follow_the_public_address(Backend::Sqlite).await;
}

#[tokio::test]
async fn labels_and_agents_follow_the_public_address_postgres() {
    labels_and_agents_follow_the_public_address(Backend::Postgres).await;
}

#[tokio::test]
async fn a_configured_public_url_wins_and_the_page_cannot_change_it() {
    let dir = tempfile::tempdir().unwrap();
    let url = support::sqlite_url(dir.path());
    let server = TestServer::start_with(dir, move |d| {
        let mut s = support::settings(d, &url);
        s.server.public_url = Some("https://print.configured.example:8443/".into());
        s
    })
    .await;
    let names = alt_names(&server.services.settings.tls_dir().join("cert.pem"));
    assert!(names.contains("DNS:print.configured.example"), "{names}");
    let (admin, client) = signed_in_admin(&server).await;
    let printer = support::sign_in::station_printer(&server, &admin, "Annex").await;
    let settings = get_text(&client, server.url("/admin/settings")).await;
    assert!(settings.contains("https://print.configured.example:8443"));
    assert!(!settings.contains("action=\"/admin/settings/address\""));
    let refused = client
        .post(server.url("/admin/settings/address"))
        .form(&[
            ("csrf", csrf_of(&settings).as_str()),
            ("public_address", "https://other.example"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    let labels = get_text(&client, server.url("/admin/printers/labels")).await;
    assert!(labels.contains(&format!(
        "https://print.configured.example:8443/r/{}",
        printer.guid
    )));
    server.stop().await;
}

/// The binary, as `printpark serve` runs for an operator (no PRINTPARK_* from the
/// test environment).
fn printpark(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(support::binary());
    cmd.current_dir(dir)
        .env("PRINTPARK_LOG__FORMAT", "text")
        .env("NO_COLOR", "1");
    for (key, _) in std::env::vars() {
        if key.starts_with("PRINTPARK_") && key != "PRINTPARK_LOG__FORMAT" {
            cmd.env_remove(key);
        }
    }
    cmd
}

struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn serve_stops_at_once_on_sigterm_while_an_agent_long_polls() {
    use printpark::release::{AgentEnrolment, AgentTrust};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // An approved agent, made in-process on the data folder the binary then serves.
    let (agent_id, credential) = {
        let mut settings = printpark::config::Settings {
            data_dir: data.clone(),
            ..Default::default()
        };
        settings.queue.analyser_exe = Some(support::binary());
        let services = printpark::services::Services::start(settings)
            .await
            .unwrap();
        let admin = support::create_admin(&services.identity).await;
        let infra = services.release.infra();
        let code = infra
            .new_enrolment_code(&admin, &ClientInfo::default())
            .await
            .unwrap();
        let credential = infra
            .enrol_agent(
                &AgentEnrolment {
                    code,
                    name: "site".into(),
                    hostname: "site".into(),
                    version: "test".into(),
                },
                &ClientInfo::default(),
            )
            .await
            .unwrap();
        let id = services
            .db
            .agent_by_login(&credential.login)
            .await
            .unwrap()
            .id;
        infra
            .approve_agent(
                &admin,
                id,
                "",
                &AgentTrust::people::<&str>(&[]),
                &ClientInfo::default(),
            )
            .await
            .unwrap();
        services.db.close().await;
        (id, credential)
    };
    let port = support::free_port();
    let mut server = Running(
        printpark(dir.path())
            .arg("serve")
            .env("PRINTPARK_SERVER__LISTEN", format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let client = support::insecure_client();
    let mut healthy = false;
    for _ in 0..300 {
        if let Ok(r) = client
            .get(format!("https://127.0.0.1:{port}/healthz"))
            .send()
            .await
            && r.status() == 200
        {
            healthy = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(healthy, "the server did not start");

    // The agent's long-poll: held up to 25 s while there is nothing to deliver.
    let poll = {
        let client = client.clone();
        let credential = (credential.login.clone(), credential.secret.clone());
        tokio::spawn(async move {
            client
                .post(format!("https://127.0.0.1:{port}/api/v1/agent/orders"))
                .basic_auth(&credential.0, Some(&credential.1))
                .json(&serde_json::json!({"refs": []}))
                .send()
                .await
        })
    };
    // In flight once the server noted the agent's contact.
    let database_url = printpark::config::Settings {
        data_dir: data.clone(),
        ..Default::default()
    }
    .database_url();
    let db = printpark::db::Db::connect(&database_url, 1).await.unwrap();
    let started = Instant::now();
    while db
        .agent_by_id(agent_id)
        .await
        .unwrap()
        .last_seen_at
        .is_none()
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the poll never arrived"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    db.close().await;
    assert!(!poll.is_finished(), "the poll is held");

    let pid = server.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let signalled = Instant::now();
    let status = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(10),
            "still running 10 s after SIGTERM (the long-poll holds the shutdown)"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    // The poll was answered (empty) or cut; either way it did not hold the stop.
    let answered = tokio::time::timeout(Duration::from_secs(5), poll)
        .await
        .expect("the poll ended with the server")
        .unwrap();
    if let Ok(response) = answered {
        assert_eq!(response.status(), 200);
    }
}

/// Brings the part of the page a screenshot is about into view (screenshots show the
/// viewport only).
async fn scroll_to(browser: &Browser, css: &str) {
    browser
        .execute(
            "document.querySelector(arguments[0]).scrollIntoView({block: 'center'});",
            vec![serde_json::json!(css)],
        )
        .await;
}

#[tokio::test]
async fn first_run_asks_for_the_public_address_and_the_labels_carry_it_at_three_widths() {
    let server = TestServer::start(Backend::Sqlite).await;
    let browser = Browser::start(1280, 900).await;
    browser.goto(&server.url("/setup")).await;
    browser.wait_for_text("Public address").await;
    // The field proposes this machine's name or address, never localhost.
    let proposed = browser
        .execute(
            "return document.querySelector('#public-address-input').value;",
            vec![],
        )
        .await;
    let proposed = proposed.as_str().unwrap().to_owned();
    if let Some(first) = printpark::site::lan::proposals(8443).first() {
        assert!(
            proposed.starts_with(first.trim_end_matches(":8443")),
            "{proposed}"
        );
    }
    assert!(!proposed.contains("localhost") && !proposed.contains("127.0.0.1"));
    for (width, height) in [(1280, 900), (1024, 768), (390, 844)] {
        browser.resize(width, height).await;
        browser
            .assert_no_horizontal_overflow(&format!("setup at {width}"))
            .await;
        scroll_to(&browser, "#public-address").await;
        browser
            .screenshot(&format!("issue20-address-setup-{width}"))
            .await;
    }
    browser.resize(1280, 900).await;
    let port = server.base.rsplit(':').next().unwrap().to_owned();
    let public = format!("https://print-test.example:{port}");
    browser
        .fill(
            "input[name=setup_code]",
            &support::doors::setup_code(&server),
        )
        .await;
    browser
        .execute(
            "document.querySelector('#public-address-input').value = arguments[0];",
            vec![serde_json::json!(public)],
        )
        .await;
    browser.fill("input[name=name]", "Ada Admin").await;
    browser.fill("input[name=username]", "ada").await;
    browser.fill("input[name=email]", "ada@example.org").await;
    browser.fill("input[name=password]", PASSWORD).await;
    browser.fill("input[name=password_again]", PASSWORD).await;
    browser.click("input[name=key_saved]").await;
    browser
        .click("form[action='/setup'] button[type=submit]")
        .await;
    browser.wait_for_path("/admin").await;
    browser.wait_for_text("Next steps").await;
    for (width, height) in [(1280, 900), (1024, 768), (390, 844)] {
        browser.resize(width, height).await;
        browser
            .assert_no_horizontal_overflow(&format!("dashboard at {width}"))
            .await;
        browser
            .screenshot(&format!("issue20-address-dashboard-{width}"))
            .await;
    }
    assert_eq!(
        server.services.site.public_address().unwrap().as_str(),
        public
    );

    let admin = server.services.identity.user_by_login("ada").await.unwrap();
    let printer = support::sign_in::station_printer(&server, &admin, "Second floor").await;
    browser.resize(1280, 900).await;
    browser.goto(&server.url("/admin/printers/labels")).await;
    browser.wait_for_text("Second floor").await;
    let url = browser.text_of(".label-url").await;
    assert_eq!(url, format!("{public}/r/{}", printer.guid));
    for (width, height) in [(1280, 900), (1024, 768), (390, 844)] {
        browser.resize(width, height).await;
        browser
            .assert_no_horizontal_overflow(&format!("labels at {width}"))
            .await;
        scroll_to(&browser, ".label").await;
        browser
            .screenshot(&format!("issue20-address-labels-{width}"))
            .await;
    }
    for (path, name) in [("/admin/settings", "settings"), ("/admin/agents", "agents")] {
        browser.goto(&server.url(path)).await;
        if name == "agents" {
            // With a code made: the command and its copy button.
            browser
                .click("form[action='/admin/agents/code'] button[type=submit]")
                .await;
            browser.wait_for_text("enrolment-command").await;
            assert!(
                browser
                    .text_of("#enrolment-command")
                    .await
                    .starts_with(&format!("printpark agent --server {public} "))
            );
        } else {
            browser.wait_for_text("Save the public address").await;
        }
        for (width, height) in [(1280, 900), (1024, 768), (390, 844)] {
            browser.resize(width, height).await;
            browser
                .assert_no_horizontal_overflow(&format!("{name} at {width}"))
                .await;
            scroll_to(
                &browser,
                if name == "agents" {
                    "#enrolment-command"
                } else {
                    "#public-address"
                },
            )
            .await;
            browser
                .screenshot(&format!("issue20-address-{name}-{width}"))
                .await;
        }
        browser.resize(1280, 900).await;
    }
    browser.close().await;
    server.stop().await;
}

/// The IPP queue takes a `printer-uri` naming the public address set on the page (a
/// client behind a proxy or a DNS name the server does not see in Host), not only one
/// set in the configuration; another host is still refused.
#[tokio::test]
async fn the_queue_accepts_the_public_address_set_on_the_page_as_its_own() {
    let server = TestServer::start(Backend::Sqlite).await;
    let (_admin, client) = signed_in_admin(&server).await;
    support::create_user(&server, "tester", "tester password").await;
    let port = url::Url::parse(&server.base).unwrap().port().unwrap();
    set_public_address(
        &server,
        &client,
        &format!("https://print.example.org:{port}"),
    )
    .await;
    let work = tempfile::tempdir().unwrap();
    let test_file = |name: &str, host: &str, status: &str| {
        std::fs::write(
            work.path().join(name),
            format!(
                "{{\n NAME \"Get-Printer-Attributes naming {host}\"\n \
                 OPERATION Get-Printer-Attributes\n GROUP operation-attributes-tag\n \
                 ATTR charset attributes-charset utf-8\n \
                 ATTR naturalLanguage attributes-natural-language en\n \
                 ATTR uri printer-uri ipps://{host}:{port}/ipp/print\n \
                 STATUS {status}\n}}\n"
            ),
        )
        .unwrap();
    };
    test_file("public.test", "print.example.org", "successful-ok");
    test_file("other.test", "attacker.example", "client-error-bad-request");
    let uri = format!(
        "{}/ipp/print",
        server
            .base
            .replace("https://", "ipps://tester:tester%20password@")
    );
    let dir = work.path().to_owned();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("ipptool")
            .current_dir(&dir)
            .args(["-t", "-T", "20", &uri, "public.test", "other.test"])
            .output()
            .expect("ipptool is installed by tests/run.sh")
    })
    .await
    .unwrap();
    let report = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{report}");
    server.stop().await;
}
