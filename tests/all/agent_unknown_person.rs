//! A print to a workstation agent's queue from someone PrintPark has no account for
//! (issue 20, item 9): the refusal is final — `client-error-not-authorized`, not a
//! temporary `server-error-service-unavailable` the computer would retry forever —
//! and says who is unknown, on the agent API and through the real
//! `printpark agent --workstation` queue.

use crate::support;

use printpark::ipp::wire::{Limits, read_message};
use support::agent::{ApiAgent, WorkstationProcess, approve, print_job_request, raw_post};
use support::{Backend, TestServer};

const SITE_KEY: &str = "5e1f0a2b3c4d5e6f";

fn expected(name: &str) -> String {
    format!("PrintPark has no account for the user name '{name}' on this computer")
}

async fn world(backend: Backend) -> (TestServer, printpark::identity::User) {
    let server = TestServer::start(backend).await;
    let admin = support::create_admin(&server.services.identity).await;
    support::create_user(&server, "alice", "alice's long password").await;
    (server, admin)
}

async fn the_agent_api_says_who_is_unknown(backend: Backend) {
    let (server, admin) = world(backend).await;
    let agent = ApiAgent::enrol(&server, &admin, "alice laptop").await;
    assert_eq!(agent.heartbeat(SITE_KEY).await.status(), 403);
    approve(&server, &admin, agent.id, SITE_KEY, &["alice"], false).await;
    assert_eq!(agent.heartbeat(SITE_KEY).await.status(), 200);

    let refused = agent.park("mallory").await;
    let status = refused.status();
    let body = refused.text().await.unwrap();
    assert_eq!(status, 403, "{body}");
    assert!(body.contains(&expected("mallory")), "{body}");
    assert!(!body.contains("Not found."), "{body}");
    // A known person is still taken.
    agent.park_ok("alice").await;
    server.stop().await;
}

#[tokio::test]
async fn the_agent_api_says_who_is_unknown_sqlite() {
    the_agent_api_says_who_is_unknown(Backend::Sqlite).await;
}

#[tokio::test]
async fn the_agent_api_says_who_is_unknown_postgres() {
    the_agent_api_says_who_is_unknown(Backend::Postgres).await;
}

#[tokio::test]
async fn the_workstation_queue_refuses_an_unknown_person_for_good() {
    let (server, admin) = world(Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let mut agent = WorkstationProcess::start(
        &server,
        &admin,
        dir.path(),
        "alice-laptop",
        "the site password, never sent",
    )
    .await;
    let row = agent.reported(&server, "alice-laptop").await;
    approve(
        &server,
        &admin,
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
    let (status, answer) = raw_post(
        &agent.listen,
        "/ipp/print",
        &[
            ("Host", &format!("127.0.0.1:{port}")),
            ("Content-Type", "application/ipp"),
        ],
        &print_job_request(&uri, "bob", &pdf),
    )
    .await;
    assert_eq!(status, 200);
    let message = read_message(&mut answer.as_slice(), Limits::default())
        .await
        .expect("an IPP answer");
    assert_eq!(
        message.code,
        printpark::ipp::status::NOT_AUTHORIZED,
        "status 0x{:04x}, log: {}",
        message.code,
        agent.log_text()
    );
    assert_eq!(
        message.operation_str("status-message"),
        Some(expected("bob").as_str())
    );
    // Nothing stays on the computer for a job the server will never take.
    assert!(
        support::files_under(&agent.state_dir.join("parked")).is_empty(),
        "the refused document stayed"
    );
    let _ = agent.child.kill().await;
    server.stop().await;
}
