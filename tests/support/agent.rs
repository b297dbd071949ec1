//! On-site agents for tests: one that speaks the agent's control channel directly
//! over HTTPS (`ApiAgent`: enrol, heartbeat with a chosen site key id, park, upload a
//! failover copy, claim), and the real `printpark agent --workstation` binary
//! (`WorkstationProcess`), for what only the binary does (its local IPP queue).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use printpark::db::AgentRow;
use printpark::identity::{ClientInfo, User};

use super::TestServer;

/// An agent that talks to the server's agent API itself.
pub struct ApiAgent {
    pub base: String,
    pub id: i64,
    pub login: String,
    pub secret: String,
    client: reqwest::Client,
}

impl ApiAgent {
    /// Enrols with a fresh code made by `admin` (the agent is then pending).
    pub async fn enrol(server: &TestServer, admin: &User, name: &str) -> ApiAgent {
        let code = server
            .services
            .release
            .infra()
            .new_enrolment_code(admin, &ClientInfo::default())
            .await
            .unwrap();
        let client = super::insecure_client();
        let credential: serde_json::Value = client
            .post(server.url("/api/v1/agent/enrol"))
            .json(&serde_json::json!({"code": code, "name": name, "hostname": name}))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap();
        let login = credential["login"].as_str().unwrap().to_string();
        let id = server.services.db.agent_by_login(&login).await.unwrap().id;
        ApiAgent {
            base: server.base.clone(),
            id,
            login,
            secret: credential["secret"].as_str().unwrap().to_string(),
            client,
        }
    }

    pub async fn row(&self, server: &TestServer) -> AgentRow {
        server.services.db.agent_by_id(self.id).await.unwrap()
    }

    fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client
            .post(format!("{}{path}", self.base))
            .basic_auth(&self.login, Some(&self.secret))
    }

    /// A heartbeat saying it holds the site key `site_key_id`.
    pub async fn heartbeat(&self, site_key_id: &str) -> reqwest::Response {
        self.post("/api/v1/agent/heartbeat")
            .json(&serde_json::json!({"hostname": "test", "version": "test", "site_key_id": site_key_id}))
            .send()
            .await
            .unwrap()
    }

    /// Parks a workstation job owned by `owner` (metadata only, as the agent does).
    pub async fn park(&self, owner: &str) -> reqwest::Response {
        let reference = uuid::Uuid::new_v4().simple().to_string();
        self.post("/api/v1/agent/jobs")
            .json(&serde_json::json!({
                "agent_ref": reference,
                "owner": owner,
                "name": "report.pdf",
                "format": "application/pdf",
                "pages": 2,
                "size_bytes": 1234,
            }))
            .send()
            .await
            .unwrap()
    }

    /// Parks for `owner` and returns the job id (it must be allowed).
    pub async fn park_ok(&self, owner: &str) -> i64 {
        let response = self.park(owner).await;
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(status, 200, "parking for {owner}: {body}");
        body["job_id"].as_i64().unwrap()
    }

    /// Uploads a (pretend) sealed failover copy of a job it keeps.
    pub async fn upload_copy(&self, job_id: i64) -> reqwest::Response {
        self.client
            .put(format!("{}/api/v1/agent/jobs/{job_id}/copy", self.base))
            .basic_auth(&self.login, Some(&self.secret))
            .header("x-wrapped-key", "d3JhcHBlZCBrZXk=")
            .body(vec![7u8; 4096])
            .send()
            .await
            .unwrap()
    }

    /// Tries to take a release (`claim`); the server's answer.
    pub async fn claim(&self, release_id: i64) -> reqwest::Response {
        self.post(&format!("/api/v1/agent/orders/{release_id}/claim"))
            .send()
            .await
            .unwrap()
    }

    /// Its orders (the server answers at once when there is one, else after 25 s).
    pub async fn orders(&self) -> serde_json::Value {
        self.post("/api/v1/agent/orders")
            .json(&serde_json::json!({"refs": []}))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// The real `printpark agent --workstation` on the host, its queue on 127.0.0.1.
pub struct WorkstationProcess {
    pub child: tokio::process::Child,
    pub state_dir: PathBuf,
    pub log: PathBuf,
    /// The local queue, `127.0.0.1:port`.
    pub listen: String,
}

impl WorkstationProcess {
    /// Enrols with a fresh code and the site password `password`, under `dir`.
    pub async fn start(
        server: &TestServer,
        admin: &User,
        dir: &Path,
        name: &str,
        password: &str,
    ) -> WorkstationProcess {
        let code = server
            .services
            .release
            .infra()
            .new_enrolment_code(admin, &ClientInfo::default())
            .await
            .unwrap();
        let password_file = dir.join(format!("{name}.password"));
        std::fs::write(&password_file, format!("{password}\n")).unwrap();
        let state_dir = dir.join(name);
        let log = dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let listen = format!("127.0.0.1:{}", super::free_port());
        let child = tokio::process::Command::new(super::binary())
            .arg("agent")
            .arg("--state-dir")
            .arg(&state_dir)
            .args([
                "--server",
                &server.base,
                "--enrol",
                &code,
                "--name",
                name,
                "--workstation",
                "--listen",
                &listen,
                "--site-password-file",
                password_file.to_str().unwrap(),
            ])
            .env("PRINTPARK_LOG__LEVEL", "info,printpark=debug")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .kill_on_drop(true)
            .spawn()
            .expect("printpark agent");
        WorkstationProcess {
            child,
            state_dir,
            log,
            listen,
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Its row once it enrolled and reported its site key id (waiting for approval).
    pub async fn reported(&self, server: &TestServer, name: &str) -> AgentRow {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let rows = server.services.db.agents().await.unwrap();
            if let Some(row) = rows
                .into_iter()
                .find(|a| a.name == name && !a.site_key_reported.is_empty())
            {
                return row;
            }
            assert!(
                Instant::now() < deadline,
                "{name} did not enrol and report its site key:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until its local queue accepts connections.
    pub async fn wait_for_queue(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while tokio::net::TcpStream::connect(&self.listen).await.is_err() {
            assert!(
                Instant::now() < deadline,
                "the queue did not open:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A raw HTTP/1.1 POST to `addr` with exactly these extra headers (a browser's, say):
/// the status code and the body.
pub async fn raw_post(
    addr: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut head = format!("POST {path} HTTP/1.1\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    stream.write_all(head.as_bytes()).await.unwrap();
    // The server may answer (and close) before taking the body.
    let _ = stream.write_all(body).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut answer))
        .await
        .expect("an answer");
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {text:?}"));
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(answer.len(), |p| p + 4);
    (status, answer[split..].to_vec())
}

/// An IPP Print-Job request for `user` carrying `document` (a PDF).
pub fn print_job_request(uri: &str, user: &str, document: &[u8]) -> Vec<u8> {
    use printpark::ipp::wire::{Attribute, Group, Message, Value, encode, group, tag};
    let mut operation = Group::new(group::OPERATION);
    operation.push(Attribute::new(
        "attributes-charset",
        Value::String(tag::CHARSET, "utf-8".into()),
    ));
    operation.push(Attribute::new(
        "attributes-natural-language",
        Value::String(tag::LANGUAGE, "en".into()),
    ));
    operation.push(Attribute::new("printer-uri", Value::uri(uri)));
    operation.push(Attribute::new("requesting-user-name", Value::name(user)));
    operation.push(Attribute::new("job-name", Value::name("rebinding test")));
    operation.push(Attribute::new(
        "document-format",
        Value::mime("application/pdf"),
    ));
    let message = Message {
        version: (2, 0),
        code: printpark::ipp::op::PRINT_JOB,
        request_id: 1,
        groups: vec![operation],
    };
    let mut bytes = encode(&message);
    bytes.extend_from_slice(document);
    bytes
}

/// The admin approves agent `id`, confirming `site_key` (the id it reported), to park
/// for `people` and, with `failover`, to deliver other workstations' failover copies.
pub async fn approve(
    server: &TestServer,
    admin: &User,
    id: i64,
    site_key: &str,
    people: &[&str],
    failover: bool,
) {
    server
        .services
        .release
        .infra()
        .approve_agent(
            admin,
            id,
            site_key,
            &printpark::release::AgentTrust {
                failover_deliverer: failover,
                ..printpark::release::AgentTrust::people(people)
            },
            &ClientInfo::default(),
        )
        .await
        .unwrap();
}
