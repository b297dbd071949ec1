//! The discovery admin page of a real server: ranges (a bad one refused), SNMP
//! credentials whose secrets are never on the page nor in clear in the database files,
//! settings, and "Scan now" saying what is missing. No SNMP agent is contacted.

use crate::support;

use support::{Backend, TestServer, csrf_of, first_admin, get_text};

async fn admin_server() -> (TestServer, reqwest::Client) {
    let server = TestServer::start(Backend::Sqlite).await;
    let client = server.client();
    first_admin(&server, &client).await;
    (server, client)
}

/// Posts a form of the discovery page (with its CSRF token); returns the response.
async fn post(
    server: &TestServer,
    client: &reqwest::Client,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let csrf = csrf_of(&get_text(client, server.url("/admin/discovery")).await);
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    client
        .post(server.url(path))
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// Posts and expects the page again with an error message; returns the page.
async fn refused(
    server: &TestServer,
    client: &reqwest::Client,
    path: &str,
    fields: &[(&str, &str)],
) -> String {
    let response = post(server, client, path, fields).await;
    assert_eq!(
        response.status(),
        200,
        "{path}: the page again, with the message"
    );
    let page = response.text().await.unwrap();
    assert!(page.contains("class=\"error\""), "{page}");
    page
}

/// Posts and expects the redirect back with `?done=`.
async fn accepted(
    server: &TestServer,
    client: &reqwest::Client,
    path: &str,
    fields: &[(&str, &str)],
) -> String {
    let response = post(server, client, path, fields).await;
    let status = response.status();
    let body_or_location = match response.headers().get("location") {
        Some(to) => to.to_str().unwrap().to_owned(),
        None => response.text().await.unwrap(),
    };
    assert_eq!(status, 303, "{path}: {body_or_location}");
    assert!(
        body_or_location.starts_with("/admin/discovery?done="),
        "{body_or_location}"
    );
    get_text(client, server.url(&body_or_location)).await
}

#[tokio::test]
async fn discovery_ranges_credentials_and_settings() {
    let (server, client) = admin_server().await;
    let page = refused(
        &server,
        &client,
        "/admin/discovery/ranges",
        &[("spec", "10.0.0.0/33")],
    )
    .await;
    assert!(page.contains("the prefix length is over 32"), "{page}");
    assert!(server.services.devices.ranges().await.unwrap().is_empty());

    let page = accepted(
        &server,
        &client,
        "/admin/discovery/ranges",
        &[("spec", "10.1.0.0/24")],
    )
    .await;
    assert!(
        page.contains("Range added.") && page.contains("10.1.0.0/24"),
        "{page}"
    );
    let page = accepted(
        &server,
        &client,
        "/admin/discovery/ranges",
        &[("spec", "10.1.0.7"), ("exclude", "yes")],
    )
    .await;
    assert!(page.contains("never contacted"));
    let ranges = server.services.devices.ranges().await.unwrap();
    assert_eq!(ranges.len(), 2);
    assert!(ranges.iter().any(|r| r.spec == "10.1.0.7" && r.exclude));

    // A v2c community is sealed: never on the page, never in the database files.
    let community = "s3cret-Community-9f2c";
    let page = accepted(
        &server,
        &client,
        "/admin/discovery/credentials",
        &[
            ("name", "office"),
            ("version", "2c"),
            ("community", community),
        ],
    )
    .await;
    assert!(
        page.contains("Credential added.") && page.contains("office") && page.contains("v2c"),
        "{page}"
    );
    assert!(!page.contains(community));
    // SNMPv3 with SHA-256 and AES.
    let (auth_key, priv_key) = ("auth-Key-77aa1", "priv-Key-88bb2");
    let page = accepted(
        &server,
        &client,
        "/admin/discovery/credentials",
        &[
            ("name", "secure"),
            ("version", "3"),
            ("user", "monitor"),
            ("auth_proto", "sha256"),
            ("auth_key", auth_key),
            ("priv_proto", "aes"),
            ("priv_key", priv_key),
            ("context", "public"),
        ],
    )
    .await;
    let row = support::between(&page, "id=\"credential-", "</tr>");
    assert!(
        page.contains("monitor") && page.contains("auth sha256, privacy aes, context public"),
        "{row} {page}"
    );
    assert!(!page.contains(auth_key) && !page.contains(priv_key));
    let refused_v3 = refused(
        &server,
        &client,
        "/admin/discovery/credentials",
        &[
            ("name", "short"),
            ("version", "3"),
            ("user", "u"),
            ("auth_proto", "sha"),
            ("auth_key", "short"),
        ],
    )
    .await;
    assert!(
        refused_v3.contains("at least 8 characters") && refused_v3.contains("value=\"short\""),
        "{refused_v3}"
    );
    let credentials = server.services.devices.credentials().await.unwrap();
    assert_eq!(credentials.len(), 2);
    for file in support::files_under(server.dir.path()) {
        let bytes = std::fs::read(&file).unwrap();
        for secret in [community, auth_key, priv_key] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} in clear in {}",
                file.display()
            );
        }
    }

    // Settings: a bad rate is refused and kept for correcting; a good one is saved.
    let settings = [
        ("schedule", "weekly"),
        ("time", "03:30"),
        ("weekday", "2"),
        ("rate_pps", "0"),
        ("timeout_ms", "500"),
        ("retries", "2"),
        ("port", "1161"),
        ("status_every_min", "10"),
    ];
    let page = refused(&server, &client, "/admin/discovery/settings", &settings).await;
    assert!(page.contains("rate limit must be 1 to 10000"), "{page}");
    assert!(page.contains("name=\"rate_pps\" inputmode=\"numeric\" value=\"0\""));
    assert_eq!(
        server.services.devices.settings().await.unwrap().rate_pps,
        200
    );
    let mut good = settings;
    good[3] = ("rate_pps", "50");
    let page = accepted(&server, &client, "/admin/discovery/settings", &good).await;
    assert!(
        page.contains("Discovery settings saved.") && page.contains("value=\"03:30\""),
        "{page}"
    );
    assert!(page.contains("<option value=\"2\" selected>Wednesday"));
    let saved = server.services.devices.settings().await.unwrap();
    assert_eq!(
        (
            saved.schedule.as_str(),
            saved.at_minute,
            saved.weekday,
            saved.rate_pps,
            saved.timeout_ms,
            saved.retries,
            saved.port,
            saved.status_every_min
        ),
        ("weekly", 210, 2, 50, 500, 2, 1161, 10)
    );
    let mut late = good;
    late[1] = ("time", "25:00");
    let bad_time = refused(&server, &client, "/admin/discovery/settings", &late).await;
    assert!(bad_time.contains("HH:MM"), "{bad_time}");

    // Deleting a range; a form without its token changes nothing.
    let excluded = ranges.iter().find(|r| r.exclude).unwrap().id;
    let forged = client
        .post(server.url(&format!("/admin/discovery/ranges/{excluded}/delete")))
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let page = accepted(
        &server,
        &client,
        &format!("/admin/discovery/ranges/{excluded}/delete"),
        &[],
    )
    .await;
    assert!(page.contains("Range deleted.") && !page.contains(&format!("id=\"range-{excluded}\"")));
    assert_eq!(server.services.devices.ranges().await.unwrap().len(), 1);
    let v3 = credentials.iter().find(|c| c.version == "3").unwrap().id;
    accepted(
        &server,
        &client,
        &format!("/admin/discovery/credentials/{v3}/delete"),
        &[],
    )
    .await;
    assert_eq!(
        server.services.devices.credentials().await.unwrap().len(),
        1
    );
    server.stop().await;
}

#[tokio::test]
async fn scan_now_says_what_is_missing() {
    let (server, client) = admin_server().await;
    let page = refused(&server, &client, "/admin/discovery/scan", &[]).await;
    assert!(page.contains("no range to scan: add one first"), "{page}");
    accepted(
        &server,
        &client,
        "/admin/discovery/ranges",
        &[("spec", "10.2.0.0/24")],
    )
    .await;
    let page = refused(&server, &client, "/admin/discovery/scan", &[]).await;
    assert!(page.contains("no SNMP credential"), "{page}");
    // Too large without confirmation.
    accepted(
        &server,
        &client,
        "/admin/discovery/ranges",
        &[("spec", "10.4.0.0/19")],
    )
    .await;
    accepted(
        &server,
        &client,
        "/admin/discovery/credentials",
        &[("name", "p"), ("version", "2c"), ("community", "public")],
    )
    .await;
    let page = refused(&server, &client, "/admin/discovery/scan", &[]).await;
    assert!(
        page.contains("8444 addresses is a large scan") && page.contains("confirm it"),
        "{page}"
    );
    assert!(
        server
            .services
            .devices
            .recent_scans(5)
            .await
            .unwrap()
            .is_empty()
    );
    server.stop().await;
}
