//! The secure queue's job history over IPP (issue 20, item 9; RFC 8011 §4.2.6.1):
//! jobs that were cancelled, printed or expired stay visible for
//! `queue.history_minutes` — `Get-Jobs which-jobs=completed` lists them and
//! Get-Job-Attributes answers with their final state — while the held lists never
//! show them; Cancel-Job on one answers client-error-not-possible; after the history
//! period they are gone for IPP.

use crate::support;

use printpark::ipp::wire::{self, Attribute, Group, Message, Value, group, tag};
use printpark::ipp::{op, status};
use support::{Backend, TestServer};

const WHO: (&str, &str) = ("ada", "ada password 1");

fn request(server: &TestServer, code: u16, extra: Vec<Attribute>) -> Message {
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
    operation.push(Attribute::new("requesting-user-name", Value::name(WHO.0)));
    operation.attributes.extend(extra);
    Message {
        version: (2, 0),
        code,
        request_id: 1,
        groups: vec![operation],
    }
}

async fn call(server: &TestServer, code: u16, extra: Vec<Attribute>, document: &[u8]) -> Message {
    let mut body = wire::encode(&request(server, code, extra));
    body.extend_from_slice(document);
    let response = support::insecure_client()
        .post(server.url("/ipp/print"))
        .header("content-type", "application/ipp")
        .basic_auth(WHO.0, Some(WHO.1))
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

async fn print(server: &TestServer, name: &str) -> i32 {
    let pdf = std::fs::read(support::fixture_path("document-a4.pdf")).unwrap();
    let answer = call(
        server,
        op::PRINT_JOB,
        vec![
            Attribute::new("job-name", Value::name(name)),
            Attribute::new("document-format", Value::mime("application/pdf")),
        ],
        &pdf,
    )
    .await;
    assert_eq!(answer.code, status::OK);
    job_value(&answer, "job-id")
        .and_then(Value::as_int)
        .unwrap()
}

fn job_value<'a>(m: &'a Message, name: &str) -> Option<&'a Value> {
    m.group(group::JOB)
        .and_then(|g| g.get(name))
        .and_then(|a| a.first())
}

fn job_id(id: i32) -> Attribute {
    Attribute::new("job-id", Value::Integer(id))
}

/// (job-id, job-state) of every job Get-Jobs lists for `which`.
async fn get_jobs(server: &TestServer, which: &str) -> Vec<(i32, i32)> {
    let answer = call(
        server,
        op::GET_JOBS,
        vec![
            Attribute::new("which-jobs", Value::keyword(which)),
            Attribute::many(
                "requested-attributes",
                vec![Value::keyword("job-id"), Value::keyword("job-state")],
            ),
        ],
        b"",
    )
    .await;
    assert_eq!(answer.code, status::OK);
    answer
        .groups
        .iter()
        .filter(|g| g.tag == group::JOB)
        .map(|g| {
            let int = |n: &str| {
                g.get(n)
                    .and_then(|a| a.first())
                    .and_then(Value::as_int)
                    .unwrap()
            };
            (int("job-id"), int("job-state"))
        })
        .collect()
}

/// (status, job-state, job-state-reasons, time-at-completed is a number)
async fn job_attributes(server: &TestServer, id: i32) -> (u16, Option<i32>, Option<String>, bool) {
    let answer = call(server, op::GET_JOB_ATTRIBUTES, vec![job_id(id)], b"").await;
    (
        answer.code,
        job_value(&answer, "job-state").and_then(Value::as_int),
        job_value(&answer, "job-state-reasons")
            .and_then(Value::as_str)
            .map(str::to_owned),
        job_value(&answer, "time-at-completed")
            .and_then(Value::as_int)
            .is_some(),
    )
}

async fn sql(server: &TestServer, statement: &str, id: i32) {
    match &server.services.db {
        printpark::db::Db::Sqlite(pool) => {
            sqlx::query(statement)
                .bind(i64::from(id))
                .execute(pool)
                .await
                .unwrap();
        }
        printpark::db::Db::Postgres(pool) => {
            sqlx::query(statement)
                .bind(i64::from(id))
                .execute(pool)
                .await
                .unwrap();
        }
    }
}

async fn finished_jobs_are_history_for_a_while(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ada = support::create_user(&server, WHO.0, WHO.1).await;
    let cancelled = print(&server, "cancelled").await;
    let kept = print(&server, "kept").await;
    let expiring = print(&server, "expiring").await;

    let cancel = call(&server, op::CANCEL_JOB, vec![job_id(cancelled)], b"").await;
    assert_eq!(cancel.code, status::OK);
    // History: listed as completed with its final state, not among the unfinished.
    assert_eq!(get_jobs(&server, "completed").await, [(cancelled, 7)]);
    let mut open: Vec<i32> = get_jobs(&server, "not-completed")
        .await
        .into_iter()
        .map(|(id, state)| {
            assert_eq!(state, 4, "held");
            id
        })
        .collect();
    open.sort();
    assert_eq!(open, [kept, expiring]);
    assert_eq!(
        job_attributes(&server, cancelled).await,
        (
            status::OK,
            Some(7),
            Some("job-canceled-by-user".into()),
            true
        )
    );
    // A finished job cannot be cancelled again.
    let again = call(&server, op::CANCEL_JOB, vec![job_id(cancelled)], b"").await;
    assert_eq!(again.code, status::NOT_POSSIBLE, "0x{:04x}", again.code);

    // Expired: aborted by the system, in the history too.
    sql(
        &server,
        "UPDATE jobs SET expires_at = 0 WHERE id = $1",
        expiring,
    )
    .await;
    assert_eq!(
        server
            .services
            .jobs
            .expire_due(printpark::clock::now())
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        job_attributes(&server, expiring).await,
        (status::OK, Some(8), Some("aborted-by-system".into()), true)
    );
    let mut history = get_jobs(&server, "completed").await;
    history.sort();
    assert_eq!(history, [(cancelled, 7), (expiring, 8)]);

    // The held lists (portal, station, phone) and counts never show finished jobs.
    let held: Vec<i64> = server
        .services
        .jobs
        .held_jobs_of(&ada)
        .await
        .unwrap()
        .iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(held, [i64::from(kept)]);
    assert_eq!(server.services.jobs.count_held().await.unwrap(), 1);

    // Past the history period (60 minutes by default), a finished job is gone for IPP.
    sql(
        &server,
        "UPDATE jobs SET finished_at = finished_at - 7200 WHERE id = $1",
        cancelled,
    )
    .await;
    assert_eq!(get_jobs(&server, "completed").await, [(expiring, 8)]);
    assert_eq!(
        job_attributes(&server, cancelled).await.0,
        status::NOT_FOUND
    );
    let gone = call(&server, op::CANCEL_JOB, vec![job_id(cancelled)], b"").await;
    assert_eq!(gone.code, status::NOT_FOUND);
    let all: Vec<i32> = get_jobs(&server, "all").await.iter().map(|j| j.0).collect();
    assert!(!all.contains(&cancelled), "{all:?}");
    server.stop().await;
}

#[tokio::test]
async fn finished_jobs_are_history_for_a_while_sqlite() {
    finished_jobs_are_history_for_a_while(Backend::Sqlite).await;
}

#[tokio::test]
async fn finished_jobs_are_history_for_a_while_postgres() {
    finished_jobs_are_history_for_a_while(Backend::Postgres).await;
}
