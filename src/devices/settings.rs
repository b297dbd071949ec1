//! Discovery settings (schedule, rate, SNMP timing), the address ranges to scan and
//! the SNMP credentials to try, whose secrets the vault seals.

use std::time::Duration;

use crate::db::{CredentialRow, DbError, DiscoverySettingsRow, RangeRow};
use crate::identity::{AuditAction, ClientInfo, User};

use super::ranges::AddressRange;
use super::snmp::{AuthProto, PrivProto, SnmpCredential, SnmpSettings};
use super::{DeviceError, Devices};

/// What an admin submits for an SNMP credential.
#[derive(Debug, Clone, Default)]
pub struct NewCredential {
    pub name: String,
    /// `1`, `2c` or `3`.
    pub version: String,
    pub community: String,
    pub user: String,
    /// `sha` or `sha256` (empty: no authentication).
    pub auth_proto: String,
    pub auth_key: String,
    /// `aes` (empty: no privacy).
    pub priv_proto: String,
    pub priv_key: String,
    pub context: String,
}

const COMMUNITY: &str = "snmp-community";
const AUTH_KEY: &str = "snmp-auth-key";
const PRIV_KEY: &str = "snmp-priv-key";

impl Devices {
    // --- settings -------------------------------------------------------------------

    pub async fn settings(&self) -> Result<DiscoverySettingsRow, DeviceError> {
        Ok(self.db.discovery_settings().await?)
    }

    pub async fn save_settings(
        &self,
        admin: &User,
        s: &DiscoverySettingsRow,
        client: &ClientInfo,
    ) -> Result<(), DeviceError> {
        Self::admin(admin)?;
        let bad = |m: &str| Err(DeviceError::Invalid(m.into()));
        if !matches!(s.schedule.as_str(), "off" | "daily" | "weekly") {
            return bad("the schedule is off, daily or weekly");
        }
        if !(0..24 * 60).contains(&s.at_minute) || !(0..7).contains(&s.weekday) {
            return bad("the time must be HH:MM and the day Monday to Sunday");
        }
        if !(1..=10_000).contains(&s.rate_pps) {
            return bad("the rate limit must be 1 to 10000 packets per second");
        }
        if !(100..=10_000).contains(&s.timeout_ms) || !(0..=3).contains(&s.retries) {
            return bad("the time-out must be 100–10000 ms and the retries 0–3");
        }
        if !(1..=65_535).contains(&s.port) || !(1..=1440).contains(&s.status_every_min) {
            return bad("the port must be 1–65535 and the status poll 1–1440 minutes");
        }
        self.db.save_discovery_settings(s).await?;
        self.audit(
            Some(admin),
            AuditAction::DiscoverySettings,
            "",
            client,
            &format!("schedule {} rate {}/s", s.schedule, s.rate_pps),
        )
        .await
    }

    pub fn snmp_settings(s: &DiscoverySettingsRow) -> SnmpSettings {
        SnmpSettings {
            port: u16::try_from(s.port).unwrap_or(161),
            timeout: Duration::from_millis(s.timeout_ms.max(1) as u64),
            retries: s.retries.max(0) as u32,
            rate_pps: s.rate_pps.clamp(1, 10_000) as u32,
            ..SnmpSettings::default()
        }
    }

    // --- ranges ---------------------------------------------------------------------

    pub async fn ranges(&self) -> Result<Vec<RangeRow>, DeviceError> {
        Ok(self.db.ranges().await?)
    }

    pub async fn add_range(
        &self,
        admin: &User,
        spec: &str,
        exclude: bool,
        client: &ClientInfo,
    ) -> Result<(), DeviceError> {
        Self::admin(admin)?;
        AddressRange::parse(spec).map_err(DeviceError::Invalid)?;
        self.db.insert_range(spec.trim(), exclude).await?;
        let what = if exclude { "exclude" } else { "include" };
        self.audit(
            Some(admin),
            AuditAction::DiscoveryRangeAdd,
            spec.trim(),
            client,
            what,
        )
        .await
    }

    pub async fn delete_range(
        &self,
        admin: &User,
        id: i64,
        client: &ClientInfo,
    ) -> Result<(), DeviceError> {
        Self::admin(admin)?;
        self.db.delete_range(id).await?;
        self.audit(
            Some(admin),
            AuditAction::DiscoveryRangeDelete,
            &id.to_string(),
            client,
            "",
        )
        .await
    }

    // --- credentials ----------------------------------------------------------------

    /// The credentials, secrets left sealed (for listing).
    pub async fn credentials(&self) -> Result<Vec<CredentialRow>, DeviceError> {
        Ok(self.db.credentials().await?)
    }

    pub async fn add_credential(
        &self,
        admin: &User,
        c: &NewCredential,
        client: &ClientInfo,
    ) -> Result<i64, DeviceError> {
        Self::admin(admin)?;
        let bad = |m: &str| Err(DeviceError::Invalid(m.into()));
        let name = c.name.trim();
        if name.is_empty() || name.len() > 80 {
            return bad("a credential needs a name (at most 80 characters)");
        }
        let seal = |purpose: &str, secret: &str| -> Result<Option<Vec<u8>>, DeviceError> {
            if secret.is_empty() {
                Ok(None)
            } else {
                Ok(Some(self.vault.seal_secret(purpose, secret.as_bytes())?))
            }
        };
        let row = match c.version.as_str() {
            "1" | "2c" => {
                if c.community.is_empty() {
                    return bad("a v1/v2c credential needs a community");
                }
                CredentialRow {
                    name: name.into(),
                    version: c.version.clone(),
                    community: seal(COMMUNITY, &c.community)?,
                    ..blank_credential()
                }
            }
            "3" => {
                if c.user.trim().is_empty() {
                    return bad("an SNMPv3 credential needs a user name");
                }
                let auth = c.auth_proto.trim();
                let privacy = c.priv_proto.trim();
                if !auth.is_empty() && auth.parse::<AuthProto>().is_err() {
                    return bad("authentication is sha or sha256");
                }
                if !privacy.is_empty() && privacy.parse::<PrivProto>().is_err() {
                    return bad("privacy is aes");
                }
                if !privacy.is_empty() && auth.is_empty() {
                    return bad("privacy needs authentication too");
                }
                if (!auth.is_empty() && c.auth_key.len() < 8)
                    || (!privacy.is_empty() && c.priv_key.len() < 8)
                {
                    return bad("SNMPv3 keys are at least 8 characters");
                }
                CredentialRow {
                    name: name.into(),
                    version: "3".into(),
                    v3_user: c.user.trim().into(),
                    auth_proto: auth.into(),
                    auth_key: seal(AUTH_KEY, &c.auth_key)?,
                    priv_proto: privacy.into(),
                    priv_key: seal(PRIV_KEY, &c.priv_key)?,
                    context: c.context.trim().into(),
                    ..blank_credential()
                }
            }
            _ => return bad("the SNMP version is 1, 2c or 3"),
        };
        let id = match self.db.insert_credential(&row).await {
            Err(DbError::Conflict(_)) => return bad("a credential with this name exists"),
            other => other?,
        };
        self.audit(
            Some(admin),
            AuditAction::DiscoveryCredentialAdd,
            name,
            client,
            &format!("SNMP v{}", row.version),
        )
        .await?;
        Ok(id)
    }

    pub async fn delete_credential(
        &self,
        admin: &User,
        id: i64,
        client: &ClientInfo,
    ) -> Result<(), DeviceError> {
        Self::admin(admin)?;
        self.db.delete_credential(id).await?;
        self.audit(
            Some(admin),
            AuditAction::DiscoveryCredentialDelete,
            &id.to_string(),
            client,
            "",
        )
        .await
    }

    /// The credentials with their secrets opened, in the order they are tried.
    pub async fn open_credentials(&self) -> Result<Vec<(i64, SnmpCredential)>, DeviceError> {
        let mut out = Vec::new();
        for row in self.db.credentials().await? {
            out.push((row.id, self.open_credential(&row)?));
        }
        Ok(out)
    }

    fn open_credential(&self, row: &CredentialRow) -> Result<SnmpCredential, DeviceError> {
        let open = |purpose: &str, sealed: &Option<Vec<u8>>| -> Result<String, DeviceError> {
            match sealed {
                Some(bytes) => Ok(String::from_utf8_lossy(
                    &self.vault.open_secret(purpose, bytes)?,
                )
                .into_owned()),
                None => Ok(String::new()),
            }
        };
        Ok(match row.version.as_str() {
            "1" => SnmpCredential::V1 {
                community: open(COMMUNITY, &row.community)?,
            },
            "2c" => SnmpCredential::V2c {
                community: open(COMMUNITY, &row.community)?,
            },
            _ => SnmpCredential::V3 {
                user: row.v3_user.clone(),
                auth: match row.auth_proto.parse::<AuthProto>() {
                    Ok(p) => Some((p, open(AUTH_KEY, &row.auth_key)?)),
                    Err(_) => None,
                },
                privacy: match row.priv_proto.parse::<PrivProto>() {
                    Ok(p) => Some((p, open(PRIV_KEY, &row.priv_key)?)),
                    Err(_) => None,
                },
                context: row.context.clone(),
            },
        })
    }
}

fn blank_credential() -> CredentialRow {
    CredentialRow {
        id: 0,
        name: String::new(),
        version: String::new(),
        community: None,
        v3_user: String::new(),
        auth_proto: String::new(),
        auth_key: None,
        priv_proto: String::new(),
        priv_key: None,
        context: String::new(),
        position: 0,
        created_at: 0,
    }
}
