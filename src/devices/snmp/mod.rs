//! SNMP for discovery and polling. Everything that touches the `async-snmp` crate stays in
//! this folder (it is pre-1.0 and pinned: an upgrade should be this folder only); the rest of
//! `devices` sees plain OIDs (`&[u32]`), [`SnmpValue`] and [`SnmpError`].
//!
//! One [`Prober`] owns one UDP socket shared by every target of a scan and counts the
//! datagrams it sends. A silent address costs `retries + 1` packets and
//! `(retries + 1) × timeout` of time; a wrong community gets no answer at all, so it is
//! a [`SnmpError::Timeout`] too, never an error report.
//!
//! Here: the vocabulary (credentials, settings, values, errors); `session.rs`: the
//! prober, the sessions and the counting transport.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use async_snmp::{ErrorKind, Value};

mod session;

pub use session::{Prober, Session};

/// How to talk to a device: a community (v1, v2c) or an SNMPv3 USM user.
#[derive(Clone, PartialEq, Eq)]
pub enum SnmpCredential {
    /// SNMPv1 with a community string.
    V1 {
        /// The community (a shared secret).
        community: String,
    },
    /// SNMPv2c with a community string.
    V2c {
        /// The community (a shared secret).
        community: String,
    },
    /// SNMPv3 USM: no auth, auth, or auth and privacy.
    V3 {
        /// USM user name.
        user: String,
        /// Authentication protocol and password (`None`: noAuthNoPriv).
        auth: Option<(AuthProto, String)>,
        /// Privacy protocol and password (needs `auth`).
        privacy: Option<(PrivProto, String)>,
        /// Context name (often empty; snmpsim serves its recordings as `public`).
        context: String,
    },
}

impl fmt::Debug for SnmpCredential {
    // Communities and keys are secrets: never in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnmpCredential::V1 { .. } => f.write_str("V1 { community: *** }"),
            SnmpCredential::V2c { .. } => f.write_str("V2c { community: *** }"),
            SnmpCredential::V3 {
                user,
                auth,
                privacy,
                context,
            } => f
                .debug_struct("V3")
                .field("user", user)
                .field("auth", &auth.as_ref().map(|(p, _)| p.as_str()))
                .field("privacy", &privacy.as_ref().map(|(p, _)| p.as_str()))
                .field("context", context)
                .finish(),
        }
    }
}

/// SNMPv3 authentication protocols PrintPark offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthProto {
    /// HMAC-SHA-96 (RFC 3414), `sha`.
    Sha1,
    /// HMAC-SHA-256 (RFC 7860), `sha256`.
    Sha256,
}

impl AuthProto {
    /// The stored name: `sha` or `sha256`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthProto::Sha1 => "sha",
            AuthProto::Sha256 => "sha256",
        }
    }
}

impl FromStr for AuthProto {
    type Err = SnmpError;

    /// Accepts `sha`, `sha1`, `sha-1`, `sha256`, `sha-256` (any case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "sha" | "sha1" | "sha-1" => Ok(AuthProto::Sha1),
            "sha256" | "sha-256" => Ok(AuthProto::Sha256),
            other => Err(SnmpError::Config(format!(
                "unknown SNMPv3 auth protocol {other:?} (sha, sha256)"
            ))),
        }
    }
}

/// SNMPv3 privacy protocols PrintPark offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrivProto {
    /// AES-128 CFB (RFC 3826), `aes`.
    Aes128,
}

impl PrivProto {
    /// The stored name: `aes`.
    pub fn as_str(self) -> &'static str {
        match self {
            PrivProto::Aes128 => "aes",
        }
    }
}

impl FromStr for PrivProto {
    type Err = SnmpError;

    /// Accepts `aes`, `aes128`, `aes-128` (any case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "aes" | "aes128" | "aes-128" => Ok(PrivProto::Aes128),
            other => Err(SnmpError::Config(format!(
                "unknown SNMPv3 privacy protocol {other:?} (aes)"
            ))),
        }
    }
}

/// Time and size limits for talking to devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnmpSettings {
    /// UDP port of the agents (161).
    pub port: u16,
    /// Wait for one answer (800 ms).
    pub timeout: Duration,
    /// Resends after a timeout (1: at most 2 packets to a silent address).
    pub retries: u32,
    /// A walk stops after this many rows (2000), however many the agent offers.
    pub max_walk_rows: usize,
    /// A walk stops after this long (10 s), however long the agent goes on.
    pub max_walk_time: Duration,
    /// Datagrams per second over everything a `Prober` sends (200; 0 = no limit).
    pub rate_pps: u32,
}

impl Default for SnmpSettings {
    fn default() -> Self {
        Self {
            port: 161,
            timeout: Duration::from_millis(800),
            retries: 1,
            max_walk_rows: 2000,
            max_walk_time: Duration::from_secs(10),
            rate_pps: 200,
        }
    }
}

/// Why talking to a device failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnmpError {
    /// No answer (silent address, wrong community, v2c to a v3-only agent).
    #[error("no SNMP answer")]
    Timeout,
    /// The agent refused us: SNMPv3 authentication or privacy failed (a Report).
    #[error("the device refused the credential: {0}")]
    Refused(String),
    /// The answer is not SNMP, or not a well-formed one.
    #[error("the device answered something that is not SNMP: {0}")]
    Garbage(String),
    /// A walk could not go on (the agent broke the ordering rules).
    #[error("walk failed: {0}")]
    Walk(String),
    /// The agent answered with an SNMP error status.
    #[error("the device answered with an error: {0}")]
    Agent(String),
    /// A local network failure.
    #[error("network error: {0}")]
    Io(String),
    /// Settings or a credential that cannot work (bad protocol name, short password).
    #[error("invalid SNMP configuration: {0}")]
    Config(String),
}

impl SnmpError {
    fn from_crate(error: &async_snmp::Error) -> Self {
        let text = error.to_string();
        match error.kind() {
            ErrorKind::Timeout | ErrorKind::ConstructionTimeout => SnmpError::Timeout,
            ErrorKind::Auth | ErrorKind::Report | ErrorKind::Privacy => SnmpError::Refused(text),
            ErrorKind::Decode
            | ErrorKind::MalformedResponse
            | ErrorKind::ResponseShape
            | ErrorKind::InvalidMessage => SnmpError::Garbage(text),
            ErrorKind::WalkAborted => SnmpError::Walk(text),
            ErrorKind::Snmp => SnmpError::Agent(text),
            ErrorKind::Config | ErrorKind::InvalidOid => SnmpError::Config(text),
            _ => SnmpError::Io(text),
        }
    }
}

fn crate_error(error: Box<async_snmp::Error>) -> SnmpError {
    SnmpError::from_crate(&error)
}

/// A value read from a device, decoupled from the SNMP crate's types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnmpValue {
    /// INTEGER (Integer32, enumerations).
    Integer(i64),
    /// OCTET STRING: text or binary (MAC addresses, bit strings).
    Bytes(Vec<u8>),
    /// OBJECT IDENTIFIER.
    Oid(Vec<u32>),
    /// Counter32, Gauge32, Unsigned32, TimeTicks, Counter64.
    Unsigned(u64),
    /// IpAddress.
    IpAddress([u8; 4]),
    /// Any other type (Opaque, NSAP, NULL).
    Other,
}

impl SnmpValue {
    /// A number, from an INTEGER or a counter/gauge; other types count as missing.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            SnmpValue::Integer(n) => Some(*n),
            SnmpValue::Unsigned(n) => i64::try_from(*n).ok(),
            _ => None,
        }
    }

    /// Text from an OCTET STRING (lossy UTF-8, trailing NULs and spaces dropped).
    pub fn as_text(&self) -> Option<String> {
        match self {
            SnmpValue::Bytes(bytes) => {
                let text = String::from_utf8_lossy(bytes);
                Some(text.trim_end_matches(['\0', ' ', '\r', '\n']).to_owned())
            }
            _ => None,
        }
    }

    /// The raw bytes of an OCTET STRING.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            SnmpValue::Bytes(bytes) => Some(bytes),
            _ => None,
        }
    }

    /// The arcs of an OBJECT IDENTIFIER.
    pub fn as_oid(&self) -> Option<&[u32]> {
        match self {
            SnmpValue::Oid(arcs) => Some(arcs),
            _ => None,
        }
    }

    /// `None` for the exceptions (noSuchObject, noSuchInstance, endOfMibView).
    pub(crate) fn from_crate(value: &Value) -> Option<Self> {
        Some(match value {
            Value::Integer(n) => SnmpValue::Integer(i64::from(*n)),
            Value::OctetString(bytes) => SnmpValue::Bytes(bytes.to_vec()),
            Value::ObjectIdentifier(oid) => SnmpValue::Oid(oid.arcs().to_vec()),
            Value::Counter32(n) | Value::Gauge32(n) | Value::UInteger32(n) => {
                SnmpValue::Unsigned(u64::from(*n))
            }
            Value::TimeTicks(n) => SnmpValue::Unsigned(u64::from(*n)),
            Value::Counter64(n) => SnmpValue::Unsigned(*n),
            Value::IpAddress(octets) => SnmpValue::IpAddress(*octets),
            other if other.is_exception() => return None,
            _ => SnmpValue::Other,
        })
    }
}

/// One row of a walk: the full OID and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarBinding {
    /// The instance OID.
    pub oid: Vec<u32>,
    /// Its value.
    pub value: SnmpValue,
}

/// The rows of a walk, and why it stopped early if it did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Walk {
    /// Rows in the order the agent gave them.
    pub rows: Vec<VarBinding>,
    /// Set when the walk was cut (row or time limit, an agent breaking the rules, a lost
    /// answer midway): the rows are what arrived until then.
    pub cut: Option<String>,
}

/// What a probe learns: enough to tell a printer from anything else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeAnswer {
    /// sysDescr.0.
    pub sys_descr: String,
    /// sysObjectID.0, dotted.
    pub sys_object_id: String,
    /// hrDeviceType printer in hrDeviceTable, or a prtGeneralTable present.
    pub is_printer: bool,
}
