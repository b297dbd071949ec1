//! Issue 20, item 2: "Set up printing". The portal page makes an app password for a
//! named device (post/redirect/get, shown once), shows this server's queue address and
//! the person's user name in the steps of every platform, serves the Apple
//! configuration profile and the server's certificate; and the README's Linux recipe,
//! read from README.md between its marker comments, is run with CUPS `lpadmin` and `lp`
//! exactly as written (only the address, port, user name, app password filled in)
//! against a private cupsd: the job arrives held for its owner, counted in colour.

use crate::support;

use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine;
use printpark::jobs::JobState;
use support::browser::Browser;
use support::sign_in::ipp_basic_status;
use support::{Backend, TestServer, csrf_of, get_text, login};

const OWNER: &str = "ada";
const OWNER_PASSWORD: &str = "ada's printing password";
const PLATFORMS: [&str; 6] = ["windows", "macos", "ios", "android", "linux", "chromeos"];

/// The text of the element with this `id` in a page (HTML entities of `&<>'"` undone).
fn by_id(html: &str, id: &str) -> Option<String> {
    let start = html.find(&format!("id=\"{id}\""))?;
    let rest = &html[start..];
    let inner = &rest[rest.find('>')? + 1..];
    let text = &inner[..inner.find("</")?];
    Some(
        text.replace("&#x27;", "'")
            .replace("&#39;", "'")
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

/// A signed-in browser-like client of `OWNER` on a server past its first run.
async fn owner_session(server: &TestServer) -> (printpark::identity::User, reqwest::Client) {
    support::first_admin(server, &server.client()).await;
    let owner = support::create_user(server, OWNER, OWNER_PASSWORD).await;
    let client = server.client();
    let response = login(server, &client, OWNER, OWNER_PASSWORD).await;
    assert_eq!(response.status(), 303);
    (owner, client)
}

/// Makes an app password on the page: POST, then the redirect's GET shows it once.
/// Returns it and that page.
async fn make_app_password(
    server: &TestServer,
    client: &reqwest::Client,
    device: &str,
) -> (String, String) {
    let page = get_text(client, server.url("/portal/setup")).await;
    let made = client
        .post(server.url("/portal/setup"))
        .form(&[("csrf", csrf_of(&page).as_str()), ("device", device)])
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), 303, "post/redirect/get");
    assert_eq!(made.headers()["location"], "/portal/setup#new-password");
    let shown = get_text(client, server.url("/portal/setup")).await;
    let secret = by_id(&shown, "new-app-password").expect("the new app password is shown");
    (secret, shown)
}

async fn the_page_makes_an_app_password_once_and_names_this_server(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (owner, client) = owner_session(&server).await;
    let address = server.base.trim_start_matches("https://").to_owned();

    let page = get_text(&client, server.url("/portal/setup")).await;
    assert_eq!(
        by_id(&page, "queue-ipps").as_deref(),
        Some(format!("ipps://{address}/ipp/print").as_str()),
        "the queue's address on this server"
    );
    assert_eq!(by_id(&page, "user-name").as_deref(), Some(OWNER));
    assert_eq!(
        by_id(&page, "windows-url").as_deref(),
        Some(format!("https://{address}/ipp/print").as_str())
    );
    for platform in PLATFORMS {
        assert!(
            page.contains(&format!(
                "<details class=\"card platform\" id=\"{platform}\">"
            )),
            "steps for {platform}"
        );
    }
    assert!(
        page.contains("APP-PASSWORD"),
        "a placeholder until one is made"
    );
    // The portal and the account page lead here.
    for from in ["/portal", "/portal/account"] {
        let linking = get_text(&client, server.url(from)).await;
        assert!(
            linking.contains("href=\"/portal/setup\""),
            "{from} links to the page"
        );
    }

    // A form without its CSRF token makes nothing.
    let forged = client
        .post(server.url("/portal/setup"))
        .form(&[("device", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    // No name: refused in place.
    let csrf = csrf_of(&page);
    let unnamed = client
        .post(server.url("/portal/setup"))
        .form(&[("csrf", csrf.as_str()), ("device", "  ")])
        .send()
        .await
        .unwrap();
    assert_eq!(unnamed.status(), 422);
    assert!(unnamed.text().await.unwrap().contains("1 to 80 characters"));
    assert!(
        server
            .services
            .identity
            .app_passwords(&owner)
            .await
            .unwrap()
            .is_empty()
    );

    let (secret, shown) = make_app_password(&server, &client, "Linux laptop").await;
    assert!(secret.starts_with("pp-"), "{secret}");
    let lpadmin = by_id(&shown, "cups-lpadmin").unwrap();
    assert!(lpadmin.contains(&format!("ipps://{OWNER}:{secret}@{address}/ipp/print")));
    // Shown once: the same page again (a refresh) has no secret, and made no other.
    let again = get_text(&client, server.url("/portal/setup")).await;
    assert!(!again.contains(&secret));
    assert!(by_id(&again, "new-app-password").is_none());
    let rows = server
        .services
        .identity
        .app_passwords(&owner)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].label, "Linux laptop");
    assert!(
        again.contains("Linux laptop"),
        "the device is listed as in use"
    );
    // It prints: IPP with the user name and the app password.
    assert_eq!(ipp_basic_status(&server, OWNER, &secret).await, 200);
    server.stop().await;
}

async fn the_apple_profile_and_the_certificate_download(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, client) = owner_session(&server).await;
    let address = server.base.trim_start_matches("https://").to_owned();
    let (host, port) = address.rsplit_once(':').unwrap();
    let pem_file = std::fs::read_to_string(server.dir.path().join("tls/cert.pem")).unwrap();
    let der_file = base64::engine::general_purpose::STANDARD
        .decode(
            pem_file
                .lines()
                .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE"))
                .skip(1)
                .take_while(|l| !l.starts_with("-----END"))
                .collect::<String>(),
        )
        .unwrap();

    let profile = client
        .get(server.url("/portal/setup/printpark.mobileconfig"))
        .send()
        .await
        .unwrap();
    assert_eq!(profile.status(), 200);
    assert_eq!(
        profile.headers()["content-type"],
        "application/x-apple-aspen-config"
    );
    let profile = profile.bytes().await.unwrap();
    // An independent reader of Apple property lists: Python's plistlib.
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("printpark.mobileconfig");
    std::fs::write(&file, &profile).unwrap();
    let output = Command::new("python3")
        .arg("-c")
        .arg(
            "import json, plistlib, sys, base64\n\
             p = plistlib.load(open(sys.argv[1], 'rb'))\n\
             out = {'type': p['PayloadType'], 'payloads': []}\n\
             for q in p['PayloadContent']:\n\
             \x20   d = {'type': q['PayloadType'], 'uuid': q['PayloadUUID']}\n\
             \x20   if 'AirPrint' in q: d['airprint'] = q['AirPrint']\n\
             \x20   if 'PayloadContent' in q: d['der'] = base64.b64encode(q['PayloadContent']).decode()\n\
             \x20   out['payloads'].append(d)\n\
             print(json.dumps(out))\n",
        )
        .arg(&file)
        .output()
        .expect("python3 reads the profile");
    assert!(
        output.status.success(),
        "plistlib: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let read: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(read["type"], "Configuration");
    let payloads = read["payloads"].as_array().unwrap();
    let airprint = payloads
        .iter()
        .find(|p| p["type"] == "com.apple.airprint")
        .unwrap_or_else(|| panic!("{read}"));
    assert_eq!(
        airprint["airprint"],
        serde_json::json!([{
            "ForceTLS": true,
            "IPAddress": host,
            "Port": port.parse::<u16>().unwrap(),
            "ResourcePath": "ipp/print",
        }])
    );
    let root = payloads
        .iter()
        .find(|p| p["type"] == "com.apple.security.root")
        .unwrap_or_else(|| panic!("the self-signed certificate is in the profile: {read}"));
    assert_eq!(
        root["der"],
        base64::engine::general_purpose::STANDARD.encode(&der_file)
    );
    assert_ne!(airprint["uuid"], root["uuid"]);

    let der = client
        .get(server.url("/portal/setup/printpark.crt"))
        .send()
        .await
        .unwrap();
    assert_eq!(der.status(), 200);
    assert_eq!(der.bytes().await.unwrap().as_ref(), der_file.as_slice());
    let pem = get_text(&client, server.url("/portal/setup/printpark.pem")).await;
    assert_eq!(
        pem.lines().collect::<Vec<_>>(),
        pem_file
            .lines()
            .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE"))
            .take_while(|l| !l.starts_with("-----END"))
            .chain(std::iter::once("-----END CERTIFICATE-----"))
            .collect::<Vec<_>>()
    );
    // Signed-in people only.
    let stranger = server.client();
    let refused = stranger
        .get(server.url("/portal/setup/printpark.mobileconfig"))
        .send()
        .await
        .unwrap();
    assert_ne!(refused.status(), 200);
    server.stop().await;
}

mod sqlite {
    use super::*;

    #[tokio::test]
    async fn the_page_makes_an_app_password_once_and_names_this_server() {
        super::the_page_makes_an_app_password_once_and_names_this_server(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn the_apple_profile_and_the_certificate_download() {
        super::the_apple_profile_and_the_certificate_download(Backend::Sqlite).await;
    }
}

mod postgres {
    use super::*;

    #[tokio::test]
    async fn the_page_makes_an_app_password_once_and_names_this_server() {
        super::the_page_makes_an_app_password_once_and_names_this_server(Backend::Postgres).await;
    }
}

/// The commands between `<!-- cups-recipe:begin` and `<!-- cups-recipe:end -->` in
/// README.md, one per line (the fenced block's lines).
fn readme_recipe() -> Vec<String> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("<!-- cups-recipe:begin")
        .expect("README.md marks the CUPS recipe");
    let end = readme[start..]
        .find("<!-- cups-recipe:end -->")
        .expect("the recipe's end marker")
        + start;
    readme[start..end]
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty() && !l.starts_with("```"))
        .map(str::to_owned)
        .collect()
}

/// Splits a command line as a POSIX shell does for what the recipe uses: words
/// separated by spaces, single-quoted parts taken as they are.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut in_word = false;
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                in_word = true;
            }
            ' ' | '\t' if !quoted => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '"' | '\\' | '$' | '`' | ';' | '&' | '|' | '<' | '>' if !quoted => {
                panic!("the recipe's test splits simple commands only: {line}")
            }
            _ => {
                word.push(c);
                in_word = true;
            }
        }
    }
    assert!(!quoted, "unbalanced quote in {line}");
    if in_word {
        words.push(word);
    }
    words
}

#[test]
fn the_recipe_is_two_plain_commands() {
    let recipe = readme_recipe();
    assert_eq!(recipe.len(), 2, "{recipe:?}");
    assert_eq!(
        shell_words(&recipe[0])[..5],
        ["lpadmin", "-p", "PrintPark", "-E", "-v"]
    );
    assert_eq!(shell_words("a 'b c' d"), ["a", "b c", "d"]);
}

#[tokio::test]
async fn the_readme_cups_recipe_parks_a_colour_pdf_held_for_its_owner() {
    use crate::cups::{Cups, run, text};
    let started = Instant::now();
    let server = TestServer::start(Backend::Sqlite).await;
    let (owner, client) = owner_session(&server).await;
    let address = server.base.trim_start_matches("https://").to_owned();
    let (host, port) = address.rsplit_once(':').unwrap();
    let (secret, shown) = make_app_password(&server, &client, "Linux laptop").await;

    // The recipe as the README writes it, with this server, user and app password.
    let fill = |line: &str| {
        line.replace("<user>", OWNER)
            .replace("<app-password>", &secret)
            .replace("<host>:8443", &format!("{host}:{port}"))
    };
    let recipe: Vec<String> = readme_recipe().iter().map(|l| fill(l)).collect();
    println!("recipe: {recipe:?}");
    // The page, right after making the password, shows the same commands.
    assert_eq!(
        by_id(&shown, "cups-lpadmin").as_deref(),
        Some(recipe[0].as_str())
    );
    assert_eq!(
        by_id(&shown, "cups-lp").as_deref(),
        Some(recipe[1].as_str())
    );
    let lpadmin = shell_words(&recipe[0]);
    let lp = shell_words(&recipe[1]);
    assert_eq!(lpadmin[0], "lpadmin");
    assert_eq!(lp[0], "lp");

    let cert = server.dir.path().join("tls/cert.pem");
    let cups = Cups::start(host, &cert).await;
    let mut command = cups.command(&support::sbin(&lpadmin[0]));
    command.args(&lpadmin[1..]);
    let output = run(command).await;
    assert!(
        output.status.success(),
        "{}: {}\n{}",
        recipe[0],
        text(&output),
        cups.diagnostics()
    );
    let queue = &lpadmin[2];
    // cupsd makes the IPP Everywhere PPD in the background: wait until it is served.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut lpoptions = cups.command("lpoptions");
        lpoptions.args(["-p", queue, "-l"]);
        let output = run(lpoptions).await;
        if output.status.success() && text(&output).contains("PageSize") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no PPD after 60 s\n{}",
            cups.diagnostics()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // `lp -d PrintPark document.pdf` in a folder holding a colour PDF by that name.
    let work = tempfile::tempdir().unwrap();
    let document = lp.last().unwrap().clone();
    std::fs::copy(
        support::fixture_path("document-a4.pdf"),
        work.path().join(&document),
    )
    .unwrap();
    let mut command = cups.command(&lp[0]);
    command.args(&lp[1..]).current_dir(work.path());
    let output = run(command).await;
    let said = text(&output);
    assert!(
        output.status.success(),
        "{}: {said}\n{}",
        recipe[1],
        cups.diagnostics()
    );

    // The job arrives, held for its owner.
    let deadline = Instant::now() + Duration::from_secs(90);
    let job = loop {
        let held = server.services.jobs.held_jobs_of(&owner).await.unwrap();
        if let Some(job) = held.into_iter().next() {
            break job;
        }
        let mut state = cups.command("lpstat");
        state.args(["-p", queue]);
        let state = text(&run(state).await);
        assert!(
            !state.contains("disabled"),
            "CUPS stopped the queue: {state}\n{}",
            cups.diagnostics()
        );
        assert!(
            Instant::now() < deadline,
            "no job held for {OWNER} after 90 s: {state}\n{}",
            cups.diagnostics()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    println!("held after {:?}: {job:?}", started.elapsed());
    assert_eq!(job.state, JobState::Held);
    assert_eq!(job.name, document);
    assert_eq!(job.source, "ipp");
    assert_eq!(job.pages, Some(2));
    // The app password signed it in, counted nowhere as a failure.
    let failures = support::sign_in::audit(&server, "auth.")
        .await
        .into_iter()
        .filter(|r| r.outcome != "success")
        .collect::<Vec<_>>();
    assert!(failures.is_empty(), "{failures:?}");
    // Colour: the PDF as CUPS's pdftopdf sends it (pages wrapped in form XObjects) is
    // colour (issue 20, item 3; helper "ipp" fixes the analyser).
    assert_eq!(job.color, Some(true), "a colour PDF printed through CUPS");
    drop(cups);
    server.stop().await;
}

/// The page in chromium at desktop, tablet and phone widths: every platform's steps
/// open (no JavaScript needed) and nothing widens the page, with a new app password
/// in the commands.
#[tokio::test]
async fn the_setup_page_fits_every_width_with_every_platform_open() {
    let server = TestServer::start(Backend::Sqlite).await;
    support::first_admin(&server, &server.client()).await;
    support::create_user(&server, OWNER, OWNER_PASSWORD).await;
    let browser = Browser::start(1280, 900).await;
    browser.goto(&server.url("/login")).await;
    browser.fill("input[name=login]", OWNER).await;
    browser.fill("input[name=password]", OWNER_PASSWORD).await;
    browser
        .click("form[action='/login'] button[type=submit]")
        .await;
    browser.wait_for_path("/portal").await;
    browser.click("#setup-link").await;
    browser.wait_for_path("/portal/setup").await;
    browser
        .fill("input[name=device]", "Ada's work laptop with a long name")
        .await;
    browser
        .click("#make-app-password button[type=submit]")
        .await;
    browser.wait_for_text("App password for").await;
    let secret = browser.text_of("#new-app-password").await;
    assert!(secret.starts_with("pp-"), "{secret}");
    // The Linux steps are folded away: read the command's text, not what is shown.
    let lpadmin = browser
        .execute(
            "return document.getElementById('cups-lpadmin').textContent;",
            vec![],
        )
        .await;
    assert!(lpadmin.as_str().unwrap().contains(&secret), "{lpadmin}");
    for (width, height) in [(1280, 900), (1024, 768), (390, 844)] {
        browser.resize(width, height).await;
        // Every platform is a <details>: open them all, the way a reader would.
        for platform in PLATFORMS {
            let open = browser
                .execute(
                    "var d = document.getElementById(arguments[0]); return d.open;",
                    vec![serde_json::json!(platform)],
                )
                .await;
            if open != serde_json::json!(true) {
                browser.click(&format!("#{platform} > summary")).await;
            }
        }
        browser
            .assert_no_horizontal_overflow(&format!("set-up page at {width} px"))
            .await;
        browser
            .execute("window.scrollTo(0, 0); return true;", vec![])
            .await;
        browser
            .screenshot(&format!("issue20-setup-setup-{width}"))
            .await;
        for platform in PLATFORMS {
            browser
                .execute(
                    "document.getElementById(arguments[0]).scrollIntoView(); return true;",
                    vec![serde_json::json!(platform)],
                )
                .await;
            browser
                .screenshot(&format!("issue20-setup-setup-{platform}-{width}"))
                .await;
        }
    }
    browser.close().await;
    server.stop().await;
}
