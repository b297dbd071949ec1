//! The directory's effective settings: a `[ldap]` section in the settings file (or
//! `PRINTPARK_LDAP__*`) wins; else the admin page's values stored in the database,
//! with the bind password sealed by the vault. The AD and OpenLDAP presets fill the
//! attribute names and the filter left empty.

use std::path::PathBuf;
use std::time::Duration;

use zeroize::Zeroizing;

use super::LdapError;
use crate::config::{LdapPreset, LdapSecurity, LdapSettings};
use crate::db::{Db, LdapSettingsRow};
use crate::vault::Vault;

/// The vault purpose of the sealed bind password.
pub(super) const BIND_PASSWORD_PURPOSE: &str = "ldap-bind-password";

/// Whom the TLS connection trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// The system's root certificates.
    System,
    /// A PEM file named in the settings file.
    CaFile(PathBuf),
    /// A PEM pasted on the admin page.
    CaPem(String),
    /// Exactly the certificate with this SHA-256 (hex).
    Pinned(String),
}

/// The attribute names in use (a preset's, or the admin's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attributes {
    pub username: String,
    pub email: String,
    pub name: String,
    pub department: String,
    pub card: String,
    pub unique_id: String,
}

/// Settings as the sync and the sign-in use them. The password is never printed.
#[derive(Clone)]
pub struct DirectorySettings {
    /// True when they come from the settings file (the page shows them read-only).
    pub from_file: bool,
    pub url: String,
    pub security: LdapSecurity,
    pub trust: Trust,
    pub bind_dn: String,
    pub bind_password: Option<Zeroizing<String>>,
    pub base_dn: String,
    /// The filter that selects people, with its parentheses.
    pub user_filter: String,
    pub preset: LdapPreset,
    pub attributes: Attributes,
    pub user_groups: Vec<String>,
    pub admin_groups: Vec<String>,
    pub sync_interval_minutes: u64,
    pub timeout: Duration,
}

impl std::fmt::Debug for DirectorySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectorySettings")
            .field("url", &self.url)
            .field("bind_dn", &self.bind_dn)
            .field("bind_password", &self.bind_password.as_ref().map(|_| "***"))
            .field("base_dn", &self.base_dn)
            .finish_non_exhaustive()
    }
}

/// The preset's attribute names, each replaced by the admin's when set.
pub fn preset_attributes(preset: LdapPreset, given: &[&str; 6]) -> Attributes {
    let defaults: [&str; 6] = match preset {
        LdapPreset::ActiveDirectory => [
            "sAMAccountName",
            "mail",
            "displayName",
            "department",
            "employeeID",
            "objectGUID",
        ],
        LdapPreset::OpenLdap => [
            "uid",
            "mail",
            "cn",
            "departmentNumber",
            "employeeNumber",
            "entryUUID",
        ],
    };
    let pick = |i: usize| {
        let typed = given[i].trim();
        if typed.is_empty() {
            defaults[i].to_owned()
        } else {
            typed.to_owned()
        }
    };
    Attributes {
        username: pick(0),
        email: pick(1),
        name: pick(2),
        department: pick(3),
        card: pick(4),
        unique_id: pick(5),
    }
}

/// The filter that selects people: the admin's (wrapped in parentheses when typed
/// without), else the preset's.
pub fn people_filter(preset: LdapPreset, typed: &str) -> String {
    let typed = typed.trim();
    if typed.is_empty() {
        return match preset {
            LdapPreset::ActiveDirectory => "(&(objectCategory=person)(objectClass=user))".into(),
            LdapPreset::OpenLdap => "(objectClass=inetOrgPerson)".into(),
        };
    }
    if typed.starts_with('(') {
        typed.to_owned()
    } else {
        format!("({typed})")
    }
}

/// The filter that finds one person by the name they sign in with (escaped: a login
/// is typed by a stranger).
pub fn person_filter(settings: &DirectorySettings, login: &str) -> String {
    format!(
        "(&{}({}={}))",
        settings.user_filter,
        settings.attributes.username,
        ldap3::ldap_escape(login)
    )
}

pub fn preset_name(preset: LdapPreset) -> &'static str {
    match preset {
        LdapPreset::ActiveDirectory => "active_directory",
        LdapPreset::OpenLdap => "open_ldap",
    }
}

pub fn parse_preset(text: &str) -> Result<LdapPreset, LdapError> {
    match text {
        "active_directory" | "" => Ok(LdapPreset::ActiveDirectory),
        "open_ldap" => Ok(LdapPreset::OpenLdap),
        _ => Err(LdapError::Invalid(
            "the preset is Active Directory or OpenLDAP".into(),
        )),
    }
}

pub fn security_name(security: LdapSecurity) -> &'static str {
    match security {
        LdapSecurity::StartTls => "start_tls",
        LdapSecurity::Ldaps => "ldaps",
        LdapSecurity::InsecurePlain => "insecure_plain",
    }
}

pub fn parse_security(text: &str) -> Result<LdapSecurity, LdapError> {
    match text {
        "start_tls" | "" => Ok(LdapSecurity::StartTls),
        "ldaps" => Ok(LdapSecurity::Ldaps),
        "insecure_plain" => Ok(LdapSecurity::InsecurePlain),
        _ => Err(LdapError::Invalid(
            "the security is StartTLS, LDAPS or insecure plain LDAP".into(),
        )),
    }
}

/// Group DNs, one a line (the page's textarea).
pub fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Checks what both sources share: the URL's scheme against the security, the
/// numbers' ranges, the DNs present.
pub fn check(s: &DirectorySettings) -> Result<(), LdapError> {
    let bad = |m: &str| Err(LdapError::Invalid(m.into()));
    let url = url::Url::parse(&s.url).map_err(|_| {
        LdapError::Invalid(
            "the URL must look like ldaps://dc1.example.org or ldap://dc1.example.org".into(),
        )
    })?;
    match (url.scheme(), s.security) {
        ("ldaps", LdapSecurity::Ldaps) => {}
        ("ldap", LdapSecurity::StartTls | LdapSecurity::InsecurePlain) => {}
        ("ldaps", _) => return bad("an ldaps:// URL goes with the LDAPS security"),
        ("ldap", _) => {
            return bad("an ldap:// URL goes with StartTLS (or, explicitly, insecure plain LDAP)");
        }
        _ => return bad("the URL must start with ldaps:// or ldap://"),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return bad("the URL must name the directory server");
    }
    if s.base_dn.trim().is_empty() {
        return bad("the base DN is required, e.g. DC=example,DC=org");
    }
    if s.bind_dn.trim().is_empty() || s.bind_password.as_ref().is_none_or(|p| p.is_empty()) {
        return bad("the bind account (DN and password) is required to search the directory");
    }
    if !(1..=60).contains(&s.timeout.as_secs()) {
        return bad("the time-out must be 1 to 60 seconds");
    }
    if s.sync_interval_minutes > 7 * 24 * 60 {
        return bad("the sync interval must be at most a week (10080 minutes); 0 = only Sync now");
    }
    if ldap3::parse_filter(&s.user_filter).is_err() {
        return bad("the user filter is not a valid LDAP filter");
    }
    Ok(())
}

/// From the settings file's `[ldap]` (its `url` set).
pub fn from_file(s: &LdapSettings) -> DirectorySettings {
    let a = &s.attributes;
    DirectorySettings {
        from_file: true,
        url: s.url.clone().unwrap_or_default(),
        security: s.security,
        trust: match (&s.pinned_sha256, &s.ca_file) {
            (Some(pin), _) if !pin.trim().is_empty() => {
                Trust::Pinned(crate::tls::normalize_pin(pin))
            }
            (_, Some(file)) => Trust::CaFile(file.clone()),
            _ => Trust::System,
        },
        bind_dn: s.bind_dn.clone().unwrap_or_default(),
        bind_password: s
            .bind_password
            .as_ref()
            .map(|p| Zeroizing::new(p.expose().to_owned())),
        base_dn: s.base_dn.clone(),
        user_filter: people_filter(s.preset, &s.user_filter),
        preset: s.preset,
        attributes: preset_attributes(
            s.preset,
            &[
                &a.username,
                &a.email,
                &a.name,
                &a.department,
                &a.card,
                &a.unique_id,
            ],
        ),
        user_groups: s.user_groups.clone(),
        admin_groups: s.admin_groups.clone(),
        sync_interval_minutes: s.sync_interval_minutes,
        timeout: Duration::from_secs(s.timeout_secs),
    }
}

/// From the admin page's row; `None` when no URL is saved.
pub fn from_row(
    row: &LdapSettingsRow,
    vault: &Vault,
) -> Result<Option<DirectorySettings>, LdapError> {
    if row.url.trim().is_empty() {
        return Ok(None);
    }
    let preset = parse_preset(&row.preset)?;
    let bind_password = match &row.bind_password_sealed {
        Some(sealed) => {
            let open = vault.open_secret(BIND_PASSWORD_PURPOSE, sealed)?;
            Some(Zeroizing::new(String::from_utf8_lossy(&open).into_owned()))
        }
        None => None,
    };
    Ok(Some(DirectorySettings {
        from_file: false,
        url: row.url.trim().to_owned(),
        security: parse_security(&row.security)?,
        trust: if !row.pinned_sha256.trim().is_empty() {
            Trust::Pinned(crate::tls::normalize_pin(&row.pinned_sha256))
        } else if !row.ca_pem.trim().is_empty() {
            Trust::CaPem(row.ca_pem.clone())
        } else {
            Trust::System
        },
        bind_dn: row.bind_dn.trim().to_owned(),
        bind_password,
        base_dn: row.base_dn.trim().to_owned(),
        user_filter: people_filter(preset, &row.user_filter),
        preset,
        attributes: preset_attributes(
            preset,
            &[
                &row.attr_username,
                &row.attr_email,
                &row.attr_name,
                &row.attr_department,
                &row.attr_card,
                &row.attr_unique_id,
            ],
        ),
        user_groups: lines(&row.user_groups),
        admin_groups: lines(&row.admin_groups),
        sync_interval_minutes: u64::try_from(row.sync_interval_minutes).unwrap_or(0),
        timeout: Duration::from_secs(u64::try_from(row.timeout_secs).unwrap_or(5)),
    }))
}

/// The settings in force: the file's, else the page's, else none.
pub async fn effective(
    file: Option<&LdapSettings>,
    db: &Db,
    vault: &Vault,
) -> Result<Option<DirectorySettings>, LdapError> {
    if let Some(file) = file.filter(|f| f.url.as_deref().is_some_and(|u| !u.trim().is_empty())) {
        return Ok(Some(from_file(file)));
    }
    match db.ldap_settings().await? {
        Some(row) => from_row(&row, vault),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(preset: LdapPreset) -> LdapSettings {
        LdapSettings {
            url: Some("ldaps://dc1.example.org".into()),
            security: LdapSecurity::Ldaps,
            bind_dn: Some("CN=svc,DC=example,DC=org".into()),
            bind_password: Some(crate::config::Secret::new("pw")),
            base_dn: "DC=example,DC=org".into(),
            preset,
            ..LdapSettings::default()
        }
    }

    #[test]
    fn presets_fill_what_is_left_empty() {
        let ad = from_file(&file(LdapPreset::ActiveDirectory));
        assert_eq!(ad.attributes.username, "sAMAccountName");
        assert_eq!(ad.attributes.unique_id, "objectGUID");
        assert_eq!(ad.attributes.card, "employeeID");
        assert_eq!(
            ad.user_filter,
            "(&(objectCategory=person)(objectClass=user))"
        );
        let mut open = file(LdapPreset::OpenLdap);
        open.attributes.card = "carLicense".into();
        let open = from_file(&open);
        assert_eq!(open.attributes.username, "uid");
        assert_eq!(open.attributes.unique_id, "entryUUID");
        assert_eq!(open.attributes.card, "carLicense", "the admin's name wins");
        assert_eq!(open.user_filter, "(objectClass=inetOrgPerson)");
        assert!(check(&ad).is_ok());
    }

    #[test]
    fn filters_are_wrapped_and_logins_escaped() {
        assert_eq!(
            people_filter(LdapPreset::OpenLdap, "objectClass=person"),
            "(objectClass=person)"
        );
        assert_eq!(people_filter(LdapPreset::OpenLdap, " (uid=*) "), "(uid=*)");
        let s = from_file(&file(LdapPreset::ActiveDirectory));
        assert_eq!(
            person_filter(&s, "ada*)(uid=*"),
            "(&(&(objectCategory=person)(objectClass=user))(sAMAccountName=ada\\2a\\29\\28uid=\\2a))"
        );
    }

    #[test]
    fn the_scheme_must_match_the_security() {
        let mut s = from_file(&file(LdapPreset::ActiveDirectory));
        s.security = LdapSecurity::StartTls;
        assert!(check(&s).is_err(), "ldaps:// with StartTLS");
        s.url = "ldap://dc1.example.org".into();
        assert!(check(&s).is_ok());
        s.user_filter = "(&(uid=a)".into();
        assert!(check(&s).is_err(), "a broken filter");
    }
}
