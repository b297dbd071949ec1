//! `printpark discover RANGE…`: one discovery scan from the command line, with a
//! progress bar, stored like any other scan; then a table of what was found.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Instant;

use clap::Args;

use super::CliError;
use crate::config::Settings;
use crate::devices::discovery::ScanProgress;
use crate::devices::snmp::{AuthProto, PrivProto, SnmpCredential};
use crate::services::Services;

#[derive(Args, Debug)]
pub struct DiscoverArgs {
    /// Ranges: 10.0.0.0/24, 10.0.0.5-10.0.0.40 or one address. Default: the ranges
    /// configured in the admin pages (exclusions configured there always apply).
    pub ranges: Vec<String>,
    /// SNMP v2c community to try (repeatable). Default: the configured credentials.
    #[arg(long)]
    pub community: Vec<String>,
    /// SNMPv3 user to try (with --v3-auth/--v3-auth-key, --v3-priv/--v3-priv-key).
    #[arg(long)]
    pub v3_user: Option<String>,
    /// sha or sha256
    #[arg(long, default_value = "sha256")]
    pub v3_auth: String,
    #[arg(long, env = "PRINTPARK_V3_AUTH_KEY", hide_env_values = true)]
    pub v3_auth_key: Option<String>,
    /// aes, or none
    #[arg(long, default_value = "aes")]
    pub v3_priv: String,
    #[arg(long, env = "PRINTPARK_V3_PRIV_KEY", hide_env_values = true)]
    pub v3_priv_key: Option<String>,
    #[arg(long, default_value = "")]
    pub v3_context: String,
    /// Go ahead with a scan of more than 4096 addresses.
    #[arg(long)]
    pub yes: bool,
}

pub async fn discover(settings: Settings, args: DiscoverArgs) -> Result<(), CliError> {
    let services = Services::start(settings).await?;
    let devices = &services.devices;
    let mut credentials: Vec<(Option<i64>, SnmpCredential)> = args
        .community
        .iter()
        .map(|c| {
            (
                None,
                SnmpCredential::V2c {
                    community: c.clone(),
                },
            )
        })
        .collect();
    if let Some(user) = &args.v3_user {
        let auth = match &args.v3_auth_key {
            Some(key) => Some((
                args.v3_auth
                    .parse::<AuthProto>()
                    .map_err(|_| CliError::Failed("--v3-auth is sha or sha256".into()))?,
                key.clone(),
            )),
            None => None,
        };
        let privacy = match (&args.v3_priv_key, args.v3_priv.as_str()) {
            (Some(key), p) if p != "none" => Some((
                p.parse::<PrivProto>()
                    .map_err(|_| CliError::Failed("--v3-priv is aes or none".into()))?,
                key.clone(),
            )),
            _ => None,
        };
        credentials.push((
            None,
            SnmpCredential::V3 {
                user: user.clone(),
                auth,
                privacy,
                context: args.v3_context.clone(),
            },
        ));
    }
    if credentials.is_empty() {
        credentials = devices
            .open_credentials()
            .await
            .map_err(|e| CliError::Failed(e.to_string()))?
            .into_iter()
            .map(|(id, c)| (Some(id), c))
            .collect();
    }
    let specs = (!args.ranges.is_empty()).then_some(args.ranges.as_slice());
    let started = Instant::now();
    let since = crate::clock::now();
    let bar = ProgressBar::new();
    let end = devices
        .scan_with("cli", specs, args.yes, credentials, &|p| bar.show(p))
        .await
        .map_err(|e| CliError::Failed(e.to_string()))?;
    bar.finish();
    let found: Vec<_> = devices
        .list()
        .await
        .map_err(|e| CliError::Failed(e.to_string()))?
        .into_iter()
        .filter(|d| d.last_seen >= since)
        .collect();
    println!(
        "scan {}: {} of {} addresses probed in {:.1} s, {} packets; {} printer(s), {} other device(s){}",
        end.scan_id,
        end.probed,
        end.total,
        started.elapsed().as_secs_f64(),
        end.packets,
        end.printers,
        end.others,
        if end.state == "cancelled" {
            " (cancelled)"
        } else {
            ""
        }
    );
    for d in found {
        println!(
            "{:<15} {:<8} {:<7} {:<18} {:<16} {} {}",
            d.ip,
            d.kind,
            d.status,
            d.mac.as_deref().unwrap_or("-"),
            d.serial.as_deref().unwrap_or("-"),
            d.manufacturer,
            d.model
        );
    }
    Ok(())
}

/// A one-line bar on a terminal (redrawn), or a line every few seconds otherwise.
struct ProgressBar {
    tty: bool,
    last: Mutex<Option<Instant>>,
}

impl ProgressBar {
    fn new() -> Self {
        Self {
            tty: std::io::stderr().is_terminal(),
            last: Mutex::new(None),
        }
    }

    fn show(&self, p: &ScanProgress) {
        let mut last = match self.last.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let every = if self.tty { 0 } else { 2 };
        if !p.finished && last.is_some_and(|at| at.elapsed().as_secs() < every) {
            return;
        }
        *last = Some(Instant::now());
        let width = 30usize;
        let done = if p.total > 0 {
            (p.probed as usize * width) / p.total as usize
        } else {
            width
        };
        let line = format!(
            "[{}{}] {}/{} addresses · {} printer(s) · {} other · {} packets",
            "#".repeat(done.min(width)),
            ".".repeat(width - done.min(width)),
            p.probed,
            p.total,
            p.printers,
            p.others,
            p.packets
        );
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r{line}\x1b[K");
        } else {
            let _ = writeln!(err, "{line}");
        }
        let _ = err.flush();
    }

    fn finish(&self) {
        if self.tty {
            let _ = writeln!(std::io::stderr());
        }
    }
}
