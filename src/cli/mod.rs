//! The command line: one binary, several roles.

mod discover;
// Issue 16, accounts.
mod reset_password;

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{ConfigError, Settings};
use crate::identity::{ClientInfo, NewUserRequest};
use crate::services::{Services, StartError};
use crate::vault::{MasterKey, MasterKeySource, master};

#[derive(Parser, Debug)]
#[command(
    name = "printpark",
    version,
    about = "Self-hosted secure pull printing: print, park, pull."
)]
pub struct Cli {
    /// Settings file (TOML). Default: ./printpark.toml when it exists.
    #[arg(long, short, global = true, env = "PRINTPARK_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server (web, API, IPP) on the TLS listener.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Operator tasks.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Exit 0 when the server answers /healthz (for Docker's HEALTHCHECK).
    Healthcheck {
        /// Default: https://127.0.0.1:<port of server.listen>/healthz
        #[arg(long)]
        url: Option<String>,
    },
    /// Find printers on the network by SNMP (one scan, with a progress bar).
    Discover(discover::DiscoverArgs),
    /// The on-site agent: serves the printers an admin assigns to it, keeping only
    /// outbound HTTPS to the server (enrol once with --server and --enrol).
    Agent(crate::agent::AgentArgs),
    /// Internal: the sandboxed PDF analyser the server starts (reads its pipe).
    #[command(hide = true)]
    AnalysePdf,
    /// Internal: the sandboxed document converter delivery starts (reads its pipe).
    #[command(hide = true)]
    Convert,
}

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Create a user. The password comes from --password or standard input.
    #[command(alias = "create")]
    CreateUser(CreateUserArgs),
    /// Set an account's password (read from standard input), clear its sign-in
    /// lock-out and end its sessions: for the last admin locked out. Works while the
    /// server runs.
    ResetPassword {
        /// The account's username or e-mail.
        username: String,
    },
    /// Re-wrap every data key under a new master key (documents are not re-encrypted).
    RotateMasterKey {
        /// Where to write the new key. Default: replace the key file in use. Required
        /// when the current key comes from vault.master_key or vault.master_password.
        #[arg(long)]
        new_key_file: Option<PathBuf>,
    },
}

#[derive(Args, Debug)]
pub struct CreateUserArgs {
    #[arg(long)]
    pub username: String,
    #[arg(long)]
    pub email: String,
    #[arg(long, default_value = "")]
    pub name: String,
    #[arg(long, default_value = "")]
    pub department: String,
    #[arg(long)]
    pub admin: bool,
    /// Prefer standard input: arguments are visible to other local users.
    #[arg(long)]
    pub password: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Start(#[from] StartError),
    #[error("{0}")]
    Failed(String),
}

impl CliError {
    /// 2 for bad settings, 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Config(_) | CliError::Start(StartError::Config(_)) => 2,
            _ => 1,
        }
    }
}

pub async fn run(cli: Cli) -> Result<(), CliError> {
    let settings = Settings::load(cli.config.as_deref())?;
    let agent = matches!(cli.command, Command::Agent(_));
    crate::telemetry::init_logging(&settings.log, agent);
    match cli.command {
        Command::Serve => serve(settings).await,
        Command::Migrate => {
            let services = Services::start(settings).await?;
            println!("migrations applied ({})", services.db.backend_name());
            Ok(())
        }
        Command::Admin(AdminCommand::CreateUser(args)) => create_user(settings, args).await,
        Command::Admin(AdminCommand::ResetPassword { username }) => {
            reset_password::reset_password(settings, &username).await
        }
        Command::Admin(AdminCommand::RotateMasterKey { new_key_file }) => {
            rotate(settings, new_key_file).await
        }
        Command::Discover(args) => discover::discover(settings, args).await,
        Command::Agent(args) => crate::agent::main(args)
            .await
            .map_err(|e| CliError::Failed(e.to_string())),
        Command::Convert => Err(CliError::Failed(
            "convert is started by the server and the agent, not by hand".into(),
        )),
        Command::AnalysePdf => Err(CliError::Failed(
            "analyse-pdf is started by the server, not by hand".into(),
        )),
        Command::Healthcheck { url } => {
            let url = match url {
                Some(url) => url,
                None => format!(
                    "https://127.0.0.1:{}/healthz",
                    settings.listen_addr()?.port()
                ),
            };
            healthcheck(&settings, &url).await
        }
    }
}

fn bind(addr: std::net::SocketAddr) -> Result<std::net::TcpListener, StartError> {
    std::net::TcpListener::bind(addr).map_err(|e| StartError::Listen {
        addr: addr.to_string(),
        reason: e.to_string(),
    })
}

/// Announces the queue by DNS-SD when enabled. Printing works without it (clients
/// then add the queue by its URL), so a failure is a warning.
fn announce(services: &Services, ports: crate::dnssd::Ports) -> Option<crate::dnssd::Announcement> {
    if !services.settings.dnssd.enabled {
        return None;
    }
    let uuid = crate::web::ipp::queue::queue_uuid(&services.vault);
    crate::dnssd::Announcement::start(&services.settings, &uuid, ports)
        .inspect_err(|e| tracing::warn!(error = %e, "the queue is not announced on the network"))
        .ok()
}

async fn serve(settings: Settings) -> Result<(), CliError> {
    let listener = bind(settings.listen_addr()?)?;
    let plain = settings.plain_ipp_addr()?.map(bind).transpose()?;
    let services = Services::start(settings).await?;
    let db = services.db.clone();
    let first_run = services.identity.needs_first_admin().await.unwrap_or(false);
    let maintenance = services.spawn_maintenance();
    let deliveries = services.release.spawn_workers();
    let monitoring = crate::devices::monitor::spawn(services.devices.clone());
    let plain = match plain {
        Some(listener) => {
            let (server, bound) = crate::web::serve_plain_ipp_on(services.clone(), listener)?;
            tracing::warn!(address = %bound, "plain IPP listening (no TLS: passwords cross it in clear)");
            Some((server, bound))
        }
        None => None,
    };
    let (server, bound) = crate::web::serve_on(services.clone(), listener)?;
    tracing::info!(address = %bound, "PrintPark listening (HTTPS)");
    let announcement = announce(
        &services,
        crate::dnssd::Ports {
            ipps: bound.port(),
            ipp: plain.as_ref().map(|(_, a)| a.port()),
        },
    );
    // Issue 20: the log's advice names an address other machines can use too.
    let setup_url = services
        .site
        .usable_address()
        .map(|a| a.url("/setup"))
        .or_else(|| {
            services
                .site
                .proposals()
                .first()
                .map(|p| format!("{p}/setup"))
        })
        .unwrap_or_else(|| format!("https://localhost:{}/setup", bound.port()));
    drop(services);
    let plain_handle = plain.map(|(server, _)| {
        let handle = server.handle();
        tokio::spawn(server);
        handle
    });
    if first_run {
        tracing::info!(
            "first run: open {setup_url} to create the first admin and set the public address"
        );
    }
    let served = server.await.map_err(|e| CliError::Failed(e.to_string()));
    if let Some(announcement) = announcement {
        tokio::task::spawn_blocking(move || announcement.stop())
            .await
            .ok();
    }
    if let Some(handle) = plain_handle {
        handle.stop(true).await;
    }
    served?;
    maintenance.abort();
    // A delivery cut off here is found by the lease sweep of the next start (or of
    // another server): back to the queue if nothing was sent, else needs-attention.
    for worker in deliveries {
        worker.abort();
    }
    monitoring.abort();
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}

fn read_password_from_stdin() -> Result<String, CliError> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Password for the new user: ");
        std::io::stderr().flush().ok();
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::Failed(e.to_string()))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

async fn create_user(settings: Settings, args: CreateUserArgs) -> Result<(), CliError> {
    let password = match args.password {
        Some(p) => p,
        None => read_password_from_stdin()?,
    };
    let services = Services::start(settings).await?;
    let request = NewUserRequest {
        username: args.username,
        email: args.email,
        name: args.name,
        department: args.department,
        admin: args.admin,
        password: Some(password),
    };
    let client = ClientInfo {
        addr: "cli".into(),
        user_agent: "printpark admin".into(),
    };
    let user = services
        .identity
        .create_user(None, &request, &client)
        .await
        .map_err(|e| CliError::Failed(format!("cannot create user: {e}")))?;
    println!(
        "created {} {} <{}> (id {})",
        user.role.as_str(),
        user.username,
        user.email,
        user.id
    );
    Ok(())
}

async fn rotate(settings: Settings, new_key_file: Option<PathBuf>) -> Result<(), CliError> {
    let services = Services::start(settings).await?;
    let new = MasterKey::generate();
    let fail = |e: crate::vault::VaultError| {
        CliError::Failed(format!("rotation failed, nothing changed: {e}"))
    };
    let target = match (&services.master_source, new_key_file) {
        (_, Some(path)) => {
            crate::vault::write_key_file(&path, &new).map_err(fail)?;
            let n = services.vault.rewrap_all(&new).await.map_err(fail)?;
            println!(
                "re-wrapped {n} data key(s); the new master key is in {}",
                path.display()
            );
            println!(
                "now set vault.master_key_file = \"{}\" (and remove the old key setting) before the next start",
                path.display()
            );
            path
        }
        (MasterKeySource::File(path), None) => {
            // Write the new key beside the old one first: if we stop after the database
            // commit, the next start finds it and finishes the rename.
            let next = master::next_key_path(path);
            crate::vault::write_key_file(&next, &new).map_err(fail)?;
            let n = services.vault.rewrap_all(&new).await.map_err(fail)?;
            std::fs::rename(&next, path).map_err(|e| {
                CliError::Failed(format!(
                    "re-wrapped, but could not rename {} to {}: {e}; the next start will finish it",
                    next.display(),
                    path.display()
                ))
            })?;
            println!(
                "re-wrapped {n} data key(s); {} now holds the new master key",
                path.display()
            );
            path.clone()
        }
        _ => {
            return Err(CliError::Failed(
                "the master key comes from a setting: pass --new-key-file PATH".into(),
            ));
        }
    };
    println!(
        "new key id {} — back up {} now; the old key no longer opens anything",
        new.id(),
        target.display()
    );
    Ok(())
}

async fn healthcheck(settings: &Settings, url: &str) -> Result<(), CliError> {
    // Trust exactly the certificate this installation serves (usually self-signed).
    let (cert_path, _) = crate::tls::certificate_paths(settings);
    let pinned = crate::tls::load_first_certificate(&cert_path)
        .map_err(|e| StartError::Tls(e.to_string()))?;
    let (host, port, path) = {
        let parsed = url::Url::parse(url).map_err(|e| CliError::Failed(e.to_string()))?;
        (
            parsed.host_str().unwrap_or("127.0.0.1").to_owned(),
            parsed.port_or_known_default().unwrap_or(8443),
            parsed.path().to_owned(),
        )
    };
    let stream = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await
    .map_err(|_| CliError::Failed("timed out".into()))?
    .map_err(|e| CliError::Failed(e.to_string()))?;
    let status = healthcheck_tls(stream, pinned, &host, &path).await?;
    if status.starts_with("HTTP/1.1 200") {
        Ok(())
    } else {
        Err(CliError::Failed(format!("unhealthy: {status}")))
    }
}

async fn healthcheck_tls(
    stream: tokio::net::TcpStream,
    pinned: rustls::pki_types::CertificateDer<'static>,
    host: &str,
    path: &str,
) -> Result<String, CliError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let config = crate::tls::pinned_client_config(pinned);
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let name = rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|e| CliError::Failed(e.to_string()))?;
    let mut tls = connector
        .connect(name, stream)
        .await
        .map_err(|e| CliError::Failed(e.to_string()))?;
    tls.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .map_err(|e| CliError::Failed(e.to_string()))?;
    let mut buf = vec![0u8; 256];
    let n = tls
        .read(&mut buf)
        .await
        .map_err(|e| CliError::Failed(e.to_string()))?;
    Ok(String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned())
}
