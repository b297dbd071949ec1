//! The sections that tie PrintPark to an organisation: `[ldap]` (LDAP / Active
//! Directory), `[oidc]` (OpenID Connect single sign-on providers) and `[smtp]` (the
//! mail relay). Each is optional: an unset section leaves the admin pages in charge
//! (their values are stored in the database, secrets sealed by the vault); a section
//! set here wins over the page, which then shows it read-only (configuration as code).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Secret;

/// Which directory's attribute names the defaults follow.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LdapPreset {
    /// `sAMAccountName`, `mail`, `displayName`, `department`, `employeeID`, `memberOf`.
    #[default]
    ActiveDirectory,
    /// `uid`, `mail`, `cn`, `departmentNumber`, `employeeNumber`, groups by `member`.
    OpenLdap,
}

/// How the connection to the directory is protected.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LdapSecurity {
    /// `ldap://` upgraded with StartTLS before anything is sent.
    #[default]
    StartTls,
    /// `ldaps://`: TLS from the first byte.
    Ldaps,
    /// Plain `ldap://`: passwords cross the network in clear. Only when asked for.
    InsecurePlain,
}

/// Attribute names; an empty value means the preset's.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct LdapAttributes {
    pub username: String,
    pub email: String,
    pub name: String,
    pub department: String,
    /// The badge / card number (stored only as a keyed hash).
    pub card: String,
    /// A stable identifier (`objectGUID`, `entryUUID`): a renamed person stays one person.
    pub unique_id: String,
}

/// `[ldap]`: the organisation's directory. `url` unset = not configured here.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LdapSettings {
    /// `ldaps://dc1.example.org` or `ldap://dc1.example.org` (with StartTLS).
    pub url: Option<String>,
    pub security: LdapSecurity,
    /// PEM file with the CA (or the server certificate itself) to trust.
    pub ca_file: Option<PathBuf>,
    /// SHA-256 fingerprint (hex, colons allowed) of the server certificate to pin
    /// instead of a CA.
    pub pinned_sha256: Option<String>,
    /// The account that searches the directory, e.g. `CN=printpark,OU=Service,DC=example,DC=org`.
    pub bind_dn: Option<String>,
    pub bind_password: Option<Secret>,
    /// Where people are searched, e.g. `DC=example,DC=org`.
    pub base_dn: String,
    /// Which entries are people; empty = the preset's
    /// (`(&(objectCategory=person)(objectClass=user))` or `(objectClass=inetOrgPerson)`).
    pub user_filter: String,
    pub preset: LdapPreset,
    pub attributes: LdapAttributes,
    /// Group DNs whose members may use PrintPark; empty = everyone the filter finds.
    pub user_groups: Vec<String>,
    /// Group DNs whose members are admins.
    pub admin_groups: Vec<String>,
    /// Minutes between scheduled syncs; 0 = only "Sync now".
    pub sync_interval_minutes: u64,
    /// Connect, bind and search each give up after this many seconds.
    pub timeout_secs: u64,
}

impl Default for LdapSettings {
    fn default() -> Self {
        Self {
            url: None,
            security: LdapSecurity::default(),
            ca_file: None,
            pinned_sha256: None,
            bind_dn: None,
            bind_password: None,
            base_dn: String::new(),
            user_filter: String::new(),
            preset: LdapPreset::default(),
            attributes: LdapAttributes::default(),
            user_groups: Vec::new(),
            admin_groups: Vec::new(),
            sync_interval_minutes: 60,
            timeout_secs: 5,
        }
    }
}

/// Which claim of the ID token finds the person in PrintPark.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OidcMatchClaim {
    #[default]
    Email,
    PreferredUsername,
}

/// One OpenID provider (`[[oidc.providers]]`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OidcProviderSettings {
    /// Short name used in addresses (`/sso/{name}/start`): letters, digits, `-`.
    pub name: String,
    /// The button's words: "Sign in with {label}".
    pub label: String,
    /// The issuer URL (`https://`); its `/.well-known/openid-configuration` is read.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<Secret>,
    /// PEM file with a CA to trust for this provider (a private CA); else the system's.
    pub ca_file: Option<PathBuf>,
    pub match_claim: OidcMatchClaim,
    /// Create a person at their first sign-in when no account matches.
    pub create_users: bool,
    /// The claim that lists the person's groups.
    pub groups_claim: String,
    /// Groups (values of `groups_claim`) whose members are admins.
    pub admin_groups: Vec<String>,
    /// Scopes asked for besides `openid`.
    pub scopes: Vec<String>,
    /// Match (or create) people by an e-mail address the provider has not marked
    /// `email_verified` (only for a provider that verifies addresses some other way).
    pub trust_unverified_email: bool,
    /// When set, only people whose verified e-mail address is in one of these domains
    /// may sign in through this provider (and, for Google, whose Workspace domain, the
    /// `hd` claim, is one of them: a personal Google account can carry a verified
    /// address of any domain). Empty = anyone the provider signs in.
    pub allowed_domains: Vec<String>,
}

impl Default for OidcProviderSettings {
    fn default() -> Self {
        Self {
            name: String::new(),
            label: String::new(),
            issuer: String::new(),
            client_id: String::new(),
            client_secret: None,
            ca_file: None,
            match_claim: OidcMatchClaim::default(),
            create_users: false,
            groups_claim: "groups".into(),
            admin_groups: Vec::new(),
            scopes: vec!["email".into(), "profile".into()],
            trust_unverified_email: false,
            allowed_domains: Vec::new(),
        }
    }
}

/// `[oidc]`: single sign-on providers.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OidcSettings {
    pub providers: Vec<OidcProviderSettings>,
}

impl OidcProviderSettings {
    /// What types cannot say: a name fit for an address, an `https://` issuer, a
    /// client id. Shared by the start-up check and the admin page. Returns the field
    /// and the reason.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        let name_ok = (1..=32).contains(&self.name.len())
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !name_ok {
            return Err((
                "name",
                "use 1 to 32 lower-case letters, digits or dashes (it appears in addresses)".into(),
            ));
        }
        if self.label.chars().count() > 80 {
            return Err(("label", "at most 80 characters".into()));
        }
        match url::Url::parse(&self.issuer) {
            Ok(url) if url.scheme() == "https" && url.host().is_some() && url.query().is_none() => {
            }
            _ => {
                return Err((
                    "issuer",
                    "must be the provider's https:// issuer URL, e.g. https://login.microsoftonline.com/TENANT/v2.0".into(),
                ));
            }
        }
        if self.client_id.trim().is_empty() || self.client_id.len() > 256 {
            return Err((
                "client_id",
                "the client id the provider gave (required)".into(),
            ));
        }
        if self.groups_claim.len() > 128
            || self
                .scopes
                .iter()
                .any(|s| s.is_empty() || s.contains(char::is_whitespace))
        {
            return Err((
                "scopes",
                "scopes are single words; the groups claim a claim name".into(),
            ));
        }
        if self.allowed_domains.iter().any(|d| {
            d.is_empty()
                || d.len() > 253
                || d.contains('@')
                || !d.contains('.')
                || d.chars()
                    .any(|c| c.is_whitespace() || c.is_ascii_uppercase())
        }) {
            return Err((
                "allowed_domains",
                "domains such as example.org, lower-case, without @".into(),
            ));
        }
        Ok(())
    }
}

/// How the connection to the mail relay is protected.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS (port 587).
    #[default]
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No TLS: only for a relay on this machine or a trusted segment.
    InsecurePlain,
}

/// `[smtp]`: the mail relay. `host` unset = not configured here.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpSettings {
    pub host: Option<String>,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// The sender, e.g. `PrintPark <print@example.org>`.
    pub from: Option<String>,
    /// PEM file with a CA to trust for the relay; else the system's.
    pub ca_file: Option<PathBuf>,
    pub timeout_secs: u64,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        Self {
            host: None,
            port: 587,
            security: SmtpSecurity::default(),
            username: None,
            password: None,
            from: None,
            ca_file: None,
            timeout_secs: 10,
        }
    }
}
