//! Every section of the settings, each with its embedded defaults: what an empty
//! TOML file and no environment give.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Secret;
use super::identity::{LdapSettings, OidcSettings, SmtpSettings};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Where the SQLite file, sealed blobs, TLS certificate and master key live by default.
    pub data_dir: PathBuf,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub storage: StorageSettings,
    pub vault: VaultSettings,
    pub security: SecuritySettings,
    pub queue: QueueSettings,
    pub dnssd: DnsSdSettings,
    pub release: ReleaseSettings,
    pub log: LogSettings,
    pub operations: OperationsSettings,
    pub ldap: LdapSettings,
    pub oidc: OidcSettings,
    pub smtp: SmtpSettings,
}

/// Delivering released jobs to printers.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReleaseSettings {
    /// Deliveries that may run at once in this process (each printer takes one job
    /// at a time whatever this says).
    pub workers: usize,
    /// How long to follow a printer's job to completion before its outcome is called
    /// unknown (needs attention).
    pub follow_timeout_secs: u64,
    /// How long a busy or unreachable printer is retried before the release fails
    /// and the job is held again.
    pub retry_for_secs: u64,
    /// How long a printer has to answer the state check before a release.
    pub check_timeout_secs: u64,
    /// A delivery's database lease; renewed every third of it while the delivery runs.
    /// After a crash, another process (or the restarted one) takes over after this.
    pub lease_secs: u64,
    /// Workstation agents also upload each job, sealed with the site key (the server
    /// cannot open it), so another agent of the site can deliver it while the
    /// workstation is asleep or offline.
    pub agent_failover_copy: bool,
    /// A workstation agent not heard from for this long is away: another agent of the
    /// site delivers its jobs from their failover copies.
    pub agent_offline_secs: u64,
}

impl Default for ReleaseSettings {
    fn default() -> Self {
        Self {
            workers: 4,
            follow_timeout_secs: 600,
            retry_for_secs: 300,
            check_timeout_secs: 5,
            lease_secs: 60,
            agent_failover_copy: false,
            agent_offline_secs: 45,
        }
    }
}

/// Announcing the queue on the local network (DNS-SD over multicast DNS), so phones
/// and laptops find it with no setup.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnsSdSettings {
    pub enabled: bool,
    /// The `.local` host name announced; defaults to this machine's host name.
    pub host_name: Option<String>,
}

impl Default for DnsSdSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            host_name: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueSettings {
    /// Queue name shown to clients (IPP printer-name, DNS-SD instance name).
    pub name: String,
    pub location: String,
    /// Largest document accepted, in MiB (after decompression).
    pub max_job_mib: u64,
    /// Held jobs a user may have at once.
    pub max_held_per_user: u32,
    /// Bytes (MiB, after decompression) one user may have stored at once: documents of
    /// unfinished jobs plus documents still arriving. Reserved in the database as the
    /// bytes arrive, so parallel uploads cannot overshoot it.
    pub max_user_mib: u64,
    /// Unfinished jobs (being received, held, being released) one user may have at once,
    /// counted atomically with the jobs still arriving.
    pub max_pending_per_user: u32,
    /// Documents one IPP job may carry (Send-Document).
    pub max_documents_per_job: u32,
    /// How long a job waits for release before it is purged.
    pub hold_hours: u64,
    /// How long a finished job (printed, cancelled, expired) stays visible over IPP as
    /// job history (RFC 8011 §4.2.6.1 which-jobs=completed); its documents are gone.
    pub history_minutes: u64,
    /// The printpark binary that runs the sandboxed PDF analyser; this program when
    /// unset. Not a setting: tests that run the server in-process point it at the
    /// built binary.
    #[serde(skip)]
    pub analyser_exe: Option<PathBuf>,
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self {
            name: "PrintPark".into(),
            location: String::new(),
            max_job_mib: 512,
            max_held_per_user: 200,
            max_user_mib: 1024,
            max_pending_per_user: 200,
            max_documents_per_job: 100,
            hold_hours: 24,
            history_minutes: 60,
            analyser_exe: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// The one TLS listener (web, API, IPP).
    pub listen: String,
    /// How users reach the server, e.g. `https://print.example.org:8443`; used in every
    /// link handed out (QR labels, station links, the agent command). When set it wins
    /// over the address typed on the first-run / Admin → Settings page, which then
    /// shows it read-only (issue 20).
    pub public_url: Option<String>,
    /// PEM certificate chain and key; a self-signed pair is made under `data_dir/tls` when unset.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Worker threads for HTTP; 0 = one per core.
    pub workers: usize,
    /// How long an idle connection (also a new one before its first request) stays
    /// open. Printing clients (CUPS, ipptool) hold a connection through long pauses and
    /// write into it without checking whether the server closed it meanwhile, which
    /// fails their next request.
    pub keep_alive_secs: u64,
    /// A second listener for IPP without TLS (e.g. `0.0.0.0:631`), for old clients
    /// on a trusted network. Off unless set: passwords cross it in clear.
    pub plain_ipp_listen: Option<String>,
    /// How long a client may take to send a request head, from its first byte to its
    /// end (and, on a new connection, to finish the TLS handshake) before it is
    /// answered 408 and closed. A silent connection waits `keep_alive_secs`.
    pub request_head_timeout_secs: u64,
    /// A client that sends nothing for this long in the middle of a request body is
    /// cut off; a document half-received is discarded.
    pub body_idle_timeout_secs: u64,
    /// Open connections one source address may hold; more are closed at accept.
    pub max_connections_per_address: u32,
    /// Open connections in total; more are closed at accept.
    pub max_connections: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// `sqlite://…` or `postgres://…`; defaults to `sqlite://<data_dir>/printpark.db`.
    pub url: Option<Secret>,
    pub max_connections: u32,
    /// How long start-up keeps retrying an unreachable database before giving up.
    pub connect_timeout_secs: u64,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StorageBackend {
    Local,
    S3,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageSettings {
    pub backend: StorageBackend,
    /// Local blob folder; defaults to `<data_dir>/blobs`.
    pub path: Option<PathBuf>,
    /// Blobs and upload leftovers without a record are swept once this old (seconds),
    /// so uploads in flight are spared.
    pub sweep_min_age_secs: i64,
    pub s3: S3Settings,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct S3Settings {
    pub endpoint: Option<String>,
    pub region: String,
    pub bucket: String,
    pub access_key_id: Option<Secret>,
    pub secret_access_key: Option<Secret>,
    /// Path-style addressing (`https://host/bucket/key`), needed by most S3-compatible servers.
    pub path_style: bool,
    /// Key prefix inside the bucket.
    pub prefix: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct VaultSettings {
    /// File holding the 32-byte master key (base64). Made on first start when missing
    /// and neither `master_key` nor `master_password` is set.
    pub master_key_file: Option<PathBuf>,
    /// The master key itself, base64 (prefer the file or a secret store).
    pub master_key: Option<Secret>,
    /// A password the master key is derived from with Argon2id.
    pub master_password: Option<Secret>,
    /// Plaintext bytes per sealed chunk.
    pub chunk_size: usize,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecuritySettings {
    /// A browser session ends after this much inactivity.
    pub session_idle_minutes: u64,
    /// Failed sign-ins in a row before an account identifier is locked.
    pub lockout_threshold: u32,
    /// First lock duration; it doubles with each further failure, up to `lockout_max_seconds`.
    pub lockout_base_seconds: u64,
    pub lockout_max_seconds: u64,
    /// Argon2id memory cost in KiB for passwords and PINs.
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    /// Failed sign-ins from one source address (any account, any way in) before that
    /// address is locked: stops password spraying over many accounts and badge
    /// guessing over many stations.
    pub lockout_threshold_per_address: u32,
    /// Failed sign-ins at one printer from addresses that have not signed anyone in
    /// there lately, before the printer refuses such addresses; the station's own
    /// tablet (an address that recently signed someone in there) is not held back.
    pub lockout_threshold_per_station: u32,
    /// A known badge also asks for the person's PIN (for sites whose card numbers are
    /// guessable, such as 26-bit cards).
    pub badge_requires_pin: bool,
    /// Fewest digits of a PIN a person sets (4 to 12). Shorter PINs set earlier keep
    /// working until changed.
    pub pin_min_digits: u32,
    /// A browser session ends this many hours after sign-in however much it is used.
    pub session_max_hours: u64,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    pub format: LogFormat,
    /// A tracing filter, e.g. `info` or `printpark=debug,info`.
    pub level: String,
}

/// The operations endpoints. `/healthz` always answers (container health checks);
/// with a token, `/metrics` and `/readyz` answer only `Authorization: Bearer <token>`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OperationsSettings {
    /// The bearer token for `/metrics` and `/readyz` (at least 16 characters).
    pub token: Option<Secret>,
    /// A file whose first line is the token (a container secret); instead of `token`.
    pub token_file: Option<PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
            server: ServerSettings::default(),
            database: DatabaseSettings::default(),
            storage: StorageSettings::default(),
            vault: VaultSettings::default(),
            security: SecuritySettings::default(),
            queue: QueueSettings::default(),
            dnssd: DnsSdSettings::default(),
            release: ReleaseSettings::default(),
            log: LogSettings::default(),
            operations: OperationsSettings::default(),
            ldap: LdapSettings::default(),
            oidc: OidcSettings::default(),
            smtp: SmtpSettings::default(),
        }
    }
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: "0.0.0.0:8443".into(),
            public_url: None,
            tls_cert: None,
            tls_key: None,
            workers: 0,
            keep_alive_secs: 300,
            plain_ipp_listen: None,
            request_head_timeout_secs: 10,
            body_idle_timeout_secs: 30,
            max_connections_per_address: 64,
            max_connections: 1024,
        }
    }
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: None,
            max_connections: 10,
            connect_timeout_secs: 60,
        }
    }
}

impl Default for StorageSettings {
    fn default() -> Self {
        Self {
            backend: StorageBackend::Local,
            path: None,
            sweep_min_age_secs: 3600,
            s3: S3Settings {
                region: "us-east-1".into(),
                ..S3Settings::default()
            },
        }
    }
}

impl Default for VaultSettings {
    fn default() -> Self {
        Self {
            master_key_file: None,
            master_key: None,
            master_password: None,
            chunk_size: 64 * 1024,
        }
    }
}

impl Default for SecuritySettings {
    fn default() -> Self {
        Self {
            session_idle_minutes: 8 * 60,
            lockout_threshold: 5,
            lockout_base_seconds: 60,
            lockout_max_seconds: 3600,
            argon2_memory_kib: 19 * 1024,
            argon2_iterations: 2,
            lockout_threshold_per_address: 20,
            lockout_threshold_per_station: 20,
            badge_requires_pin: false,
            pin_min_digits: 6,
            session_max_hours: 12,
        }
    }
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            level: "info".into(),
        }
    }
}
