//! Workstation agents are trusted only as far as the admin said when approving them
//! (issue 14, findings 6 and 11): an agent parks jobs only for the people it is bound
//! to; the site key id is fixed at approval and a heartbeat claiming another one
//! changes nothing (refused, audited); failover orders go only to agents the admin
//! designated; and the workstation's local queue takes jobs only from this computer's
//! IPP clients (no other `Host`, no `Origin`), so a web page using DNS rebinding
//! cannot print to it.
//!
//! The first three speak the agent API directly (fast); the last runs the real
//! `printpark agent --workstation`.

use crate::support;

use std::time::{Duration, Instant};

use printpark::identity::{ClientInfo, User};
use printpark::release::{PrinterForm, ReleaseVia};
use support::agent::{ApiAgent, WorkstationProcess, approve, print_job_request, raw_post};
use support::printer::{PrinterOptions, TestPrinter};
use support::{Backend, TestServer};

/// Two site key ids (16 hex digits, as `MasterKey::id` makes them).
const SITE_KEY: &str = "5e1f0a2b3c4d5e6f";
const OTHER_KEY: &str = "0badc0ffee123456";

struct World {
    server: TestServer,
    admin: User,
    alice: User,
    bob: User,
}

impl World {
    async fn start(backend: Backend, tweak: fn(&mut printpark::config::Settings)) -> World {
        let dir = tempfile::tempdir().unwrap();
        let url = match backend {
            Backend::Sqlite => support::sqlite_url(dir.path()),
            Backend::Postgres => support::fresh_postgres_url().await,
        };
        let server = TestServer::start_with(dir, move |d| {
            let mut settings = support::settings(d, &url);
            tweak(&mut settings);
            settings
        })
        .await;
        let admin = support::create_admin(&server.services.identity).await;
        let alice = support::create_user(&server, "alice", "alice's long password").await;
        let bob = support::create_user(&server, "bob", "bob's long password 2").await;
        World {
            server,
            admin,
            alice,
            bob,
        }
    }

    /// An agent that enrolled and reported `site_key` while pending, then was approved
    /// with it confirmed, for `people`, failover deliverer or not.
    async fn approved(
        &self,
        name: &str,
        site_key: &str,
        people: &[&str],
        failover: bool,
    ) -> ApiAgent {
        let agent = ApiAgent::enrol(&self.server, &self.admin, name).await;
        let pending = agent.heartbeat(site_key).await;
        assert_eq!(pending.status(), 403, "a pending agent waits");
        approve(
            &self.server,
            &self.admin,
            agent.id,
            site_key,
            people,
            failover,
        )
        .await;
        assert_eq!(agent.heartbeat(site_key).await.status(), 200);
        agent
    }

    async fn audit(&self, action: &str) -> Vec<printpark::db::AuditEntry> {
        self.server
            .services
            .db
            .audit_page(None, 100, Some(action))
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn a_workstation_agent_parks_only_for_the_people_the_admin_bound_it_to() {
    let w = World::start(Backend::Sqlite, |_| {}).await;
    let laptop = w
        .approved("alice laptop", SITE_KEY, &["alice"], false)
        .await;

    // The computer says the job is Bob's: refused, with a clear error, and audited.
    let refused = laptop.park("bob").await;
    let status = refused.status();
    let body = refused.text().await.unwrap();
    assert_eq!(
        status, 403,
        "parking for bob through alice's laptop: {body}"
    );
    assert!(body.contains("may not park jobs for bob"), "{body}");
    assert!(
        w.server
            .services
            .jobs
            .held_jobs_of(&w.bob)
            .await
            .unwrap()
            .is_empty(),
        "no job in bob's list"
    );
    let denied = w.audit("job.park").await;
    assert!(
        denied.iter().any(|a| a.outcome == "denied"
            && a.target == "bob"
            && a.detail.contains("alice laptop")),
        "the refusal is audited: {denied:?}"
    );

    // Alice's own job is taken.
    let job = laptop.park_ok("alice").await;
    let held = w.server.services.jobs.held_jobs_of(&w.alice).await.unwrap();
    assert!(held.iter().any(|j| j.id == job), "in alice's list");

    // Approved without choosing anyone: it parks for nobody.
    let unbound = w.approved("front desk", SITE_KEY, &[], false).await;
    assert_eq!(unbound.park("alice").await.status(), 403);
    assert_eq!(
        w.server
            .services
            .jobs
            .held_jobs_of(&w.alice)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn a_heartbeat_with_another_site_key_id_changes_nothing_and_is_audited() {
    let w = World::start(Backend::Sqlite, |_| {}).await;
    let laptop = w.approved("alice laptop", SITE_KEY, &["alice"], true).await;
    assert_eq!(laptop.row(&w.server).await.site_key_id, SITE_KEY);

    // Someone with the agent's credential claims another site's key (to be handed
    // that site's failover copies): refused, the confirmed id stays.
    let claimed = laptop.heartbeat(OTHER_KEY).await;
    let status = claimed.status();
    let body = claimed.text().await.unwrap();
    let row = laptop.row(&w.server).await;
    assert_eq!(
        row.site_key_id, SITE_KEY,
        "a heartbeat changed the confirmed site key id (answered {status}: {body})"
    );
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("site_key_mismatch"), "{body}");
    // Audited once, not on every heartbeat.
    assert_eq!(laptop.heartbeat(OTHER_KEY).await.status(), 403);
    let audit = w.audit("agent.site_key").await;
    let flagged: Vec<_> = audit
        .iter()
        .filter(|a| a.outcome == "denied" && a.detail.contains(OTHER_KEY))
        .collect();
    assert_eq!(flagged.len(), 1, "audited once: {audit:?}");
    // Flagged for the admin, who alone can change it.
    assert_eq!(row.site_key_reported, OTHER_KEY);
    // Back to the confirmed key: accepted again.
    assert_eq!(laptop.heartbeat(SITE_KEY).await.status(), 200);
    assert_eq!(laptop.row(&w.server).await.site_key_id, SITE_KEY);

    // Approval fixes what the admin saw: if the agent reports another id by then,
    // approving the old one fails.
    let desk = ApiAgent::enrol(&w.server, &w.admin, "front desk").await;
    assert_eq!(desk.heartbeat(SITE_KEY).await.status(), 403);
    assert_eq!(desk.heartbeat(OTHER_KEY).await.status(), 403);
    let stale = w
        .server
        .services
        .release
        .infra()
        .approve_agent(
            &w.admin,
            desk.id,
            SITE_KEY,
            &printpark::release::AgentTrust::default(),
            &ClientInfo::default(),
        )
        .await;
    assert!(stale.is_err(), "approved with an id it no longer reports");
    assert_eq!(desk.row(&w.server).await.state, "pending");
}

#[tokio::test]
async fn failover_orders_go_only_to_agents_the_admin_designated() {
    // On Postgres: the agents' queries run on both backends.
    let w = World::start(Backend::Postgres, |s| {
        s.release.agent_failover_copy = true;
        s.release.agent_offline_secs = 1;
    })
    .await;
    // An ordinary printer that answers (a release checks that it does); the server
    // never pushes a workstation job to it.
    let office = TestPrinter::start(PrinterOptions::named("office")).await;
    let printer = w
        .server
        .services
        .printers
        .add(
            &w.admin,
            &PrinterForm {
                name: "Office".into(),
                uri: office.uri(),
                ..Default::default()
            },
            &ClientInfo::default(),
        )
        .await
        .unwrap();
    let laptop = w
        .approved("alice laptop", SITE_KEY, &["alice"], false)
        .await;
    // Same site key, not designated.
    let plain = w.approved("meeting room", SITE_KEY, &[], false).await;
    // Designated, but another site's key.
    let elsewhere = w.approved("home office", OTHER_KEY, &[], true).await;
    // Designated, same site key.
    let deliverer = w.approved("front desk", SITE_KEY, &[], true).await;

    let job = laptop.park_ok("alice").await;
    assert_eq!(laptop.upload_copy(job).await.status(), 204);
    let release = w
        .server
        .services
        .release
        .release_all(
            &w.alice,
            &printer.guid,
            ReleaseVia::Station,
            &ClientInfo::default(),
        )
        .await
        .unwrap()[0];
    // The laptop goes away (no contact for longer than agent_offline_secs).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let seen = laptop.row(&w.server).await.last_seen_at.unwrap_or(0);
        if seen < printpark::clock::now() - 1 {
            break;
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let taken = plain.claim(release).await.status();
    let state = w.server.services.db.release_by_id(release).await.unwrap();
    assert_eq!(
        state.state,
        printpark::release::ReleaseState::Queued,
        "an agent the admin did not designate took the failover order (claim answered {taken})"
    );
    assert_ne!(taken, 204);
    assert_ne!(elsewhere.claim(release).await.status(), 204);
    assert_eq!(
        w.server
            .services
            .db
            .release_by_id(release)
            .await
            .unwrap()
            .state,
        printpark::release::ReleaseState::Queued
    );

    // The designated agent of the same site gets it.
    let orders = deliverer.orders().await;
    assert!(
        orders["orders"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["release_id"] == release && o["failover"] == true),
        "{orders}"
    );
    assert_eq!(deliverer.claim(release).await.status(), 204);
    let taken = w.server.services.db.release_by_id(release).await.unwrap();
    assert_eq!(
        (taken.state.as_str(), taken.lease_owner.as_deref()),
        (
            "releasing",
            Some(format!("agent:{}", deliverer.id).as_str())
        )
    );
}

#[tokio::test]
async fn the_workstation_queue_takes_jobs_only_from_this_computers_ipp_clients() {
    let w = World::start(Backend::Sqlite, |_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let mut agent = WorkstationProcess::start(
        &w.server,
        &w.admin,
        dir.path(),
        "alice-laptop",
        "the site password, never sent",
    )
    .await;
    let row = agent.reported(&w.server, "alice-laptop").await;
    approve(
        &w.server,
        &w.admin,
        row.id,
        &row.site_key_reported,
        &["alice"],
        false,
    )
    .await;
    agent.wait_for_queue().await;
    let port = agent.listen.rsplit(':').next().unwrap().to_string();
    let pdf = std::fs::read(support::fixture_path("document-a4.pdf")).unwrap();
    let uri = format!("ipp://{}/ipp/print", agent.listen);
    let body = print_job_request(&uri, "alice", &pdf);
    let parked = || support::files_under(&agent.state_dir.join("parked"));

    // A web page whose own name was rebound to 127.0.0.1: its Host is its name.
    let evil_host = format!("evil.example:{port}");
    let (status, answer) = raw_post(
        &agent.listen,
        "/ipp/print",
        &[("Host", &evil_host), ("Content-Type", "application/ipp")],
        &body,
    )
    .await;
    assert_eq!(
        status,
        403,
        "Host {evil_host} was served: {}",
        String::from_utf8_lossy(&answer)
    );
    // A cross-origin POST from a page (the browser adds Origin), even to 127.0.0.1.
    let loopback = format!("127.0.0.1:{port}");
    let (status, _) = raw_post(
        &agent.listen,
        "/ipp/print",
        &[
            ("Host", &loopback),
            ("Origin", "http://evil.example"),
            ("Content-Type", "application/ipp"),
        ],
        &body,
    )
    .await;
    assert_eq!(status, 403, "a request with an Origin was served");
    assert!(
        w.server
            .services
            .jobs
            .held_jobs_of(&w.alice)
            .await
            .unwrap()
            .is_empty(),
        "a refused request parked a job"
    );
    assert!(
        parked().is_empty(),
        "a refused request left a file: {:?}",
        parked()
    );

    // The computer's own IPP client (Host 127.0.0.1:port): the job is parked.
    let (status, answer) = raw_post(
        &agent.listen,
        "/ipp/print",
        &[("Host", &loopback), ("Content-Type", "application/ipp")],
        &body,
    )
    .await;
    assert_eq!(status, 200);
    // IPP status successful-ok (bytes 2..4 of the answer).
    assert_eq!(&answer[2..4], &[0, 0], "{}", agent.log_text());
    assert_eq!(
        w.server
            .services
            .jobs
            .held_jobs_of(&w.alice)
            .await
            .unwrap()
            .len(),
        1
    );
    let (status, _) = raw_post(
        &agent.listen,
        "/ipp/print",
        &[
            ("Host", &format!("localhost:{port}")),
            ("Content-Type", "application/ipp"),
        ],
        &body,
    )
    .await;
    assert_eq!(status, 200);
    let _ = agent.child.kill().await;
}

#[tokio::test]
async fn the_agents_page_approves_with_the_reported_site_key_people_and_failover() {
    let w = World::start(Backend::Sqlite, |_| {}).await;
    let agent = ApiAgent::enrol(&w.server, &w.admin, "alice laptop").await;
    assert_eq!(agent.heartbeat(SITE_KEY).await.status(), 403);
    let client = w.server.client();
    let signed_in = support::login(&w.server, &client, "boss", "correct horse battery").await;
    assert_eq!(signed_in.status(), 303);
    let page = support::get_text(&client, w.server.url("/admin/agents")).await;
    assert!(
        page.contains(&format!("id=\"approve-{}\"", agent.id)) && page.contains(SITE_KEY),
        "the page shows the reported id to confirm: {page}"
    );
    assert!(page.contains("can then put jobs in anyone") || page.contains("anyone's name"));
    let csrf = support::csrf_of(&page);
    let post = |action: &'static str, form: Vec<(&'static str, String)>| {
        let client = client.clone();
        let url = w
            .server
            .url(&format!("/admin/agents/{}/{action}", agent.id));
        async move { client.post(url).form(&form).send().await.unwrap() }
    };

    let approved = post(
        "approve",
        vec![
            ("csrf", csrf.clone()),
            ("site_key_id", SITE_KEY.into()),
            ("scope", "people".into()),
            ("people", "alice, bob@example.org".into()),
            ("failover", "on".into()),
        ],
    )
    .await;
    assert_eq!(approved.status(), 303);
    let row = agent.row(&w.server).await;
    assert_eq!(
        (
            row.state.as_str(),
            row.site_key_id.as_str(),
            row.failover_deliverer
        ),
        ("active", SITE_KEY, true)
    );
    let people = w.server.services.db.agent_people(agent.id).await.unwrap();
    assert_eq!(
        people.iter().map(|(_, n)| n.as_str()).collect::<Vec<_>>(),
        ["alice", "bob"]
    );
    assert_eq!(agent.park("bob").await.status(), 200);

    // Any user of the site, no failover.
    let saved = post(
        "trust",
        vec![
            ("csrf", csrf.clone()),
            ("scope", "anyone".into()),
            ("people", String::new()),
        ],
    )
    .await;
    assert_eq!(saved.status(), 303);
    let row = agent.row(&w.server).await;
    assert_eq!(
        (row.park_scope.as_str(), row.failover_deliverer),
        ("anyone", false)
    );

    // The site password was changed on purpose: the new id is flagged, then confirmed.
    assert_eq!(agent.heartbeat(OTHER_KEY).await.status(), 403);
    let page = support::get_text(&client, w.server.url("/admin/agents")).await;
    assert!(page.contains("reports another site key"), "{page}");
    let confirmed = post(
        "confirm_key",
        vec![("csrf", csrf.clone()), ("site_key_id", OTHER_KEY.into())],
    )
    .await;
    assert_eq!(confirmed.status(), 303);
    assert_eq!(agent.row(&w.server).await.site_key_id, OTHER_KEY);
    assert_eq!(agent.heartbeat(OTHER_KEY).await.status(), 200);
    let audit = w.audit("agent.").await;
    for action in ["agent.approve", "agent.trust", "agent.site_key"] {
        assert!(
            audit
                .iter()
                .any(|a| a.action == action && a.outcome == "success"),
            "{action}: {audit:?}"
        );
    }
}
