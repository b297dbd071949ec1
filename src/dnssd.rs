//! Found by itself: the secure queue announced by DNS-SD over multicast DNS
//! (RFC 6762/6763), as IPP Everywhere (PWG 5100.14 §4.2) and AirPrint clients look for
//! it: `_ipps._tcp` with the `_print` and `_universal` subtypes, and the TXT keys they
//! read (rp, pdl, URF, Color, Duplex, UUID, TLS, adminurl, air…). With a plain-IPP
//! listener, `_ipp._tcp` is announced the same way.
//!
//! `mdns-sd` announces one subtype per registration (its registry is keyed by the
//! instance name), so each subtype has a responder of its own: both answer for the
//! base type with identical records (duplicate identical answers are normal in mDNS),
//! each for its subtype.

use std::collections::HashMap;
use std::time::Duration;

use mdns_sd::{ServiceDaemon, ServiceInfo};

use crate::config::Settings;
use crate::ipp::printer::{DOCUMENT_FORMATS, URF_SUPPORTED};

const SUBTYPES: &[&str] = &["_print", "_universal"];

#[derive(Debug, thiserror::Error)]
#[error("DNS-SD announcement failed: {0}")]
pub struct DnsSdError(String);

impl From<mdns_sd::Error> for DnsSdError {
    fn from(error: mdns_sd::Error) -> Self {
        DnsSdError(error.to_string())
    }
}

/// Where the queue listens, for the announcement.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub ipps: u16,
    pub ipp: Option<u16>,
}

/// The running announcement; `stop` sends the goodbyes.
pub struct Announcement {
    responders: Vec<(ServiceDaemon, Vec<String>)>,
}

/// The host name as one mDNS label under `.local.` (`print.example.org` → `print.local.`).
fn local_host_name(settings: &Settings) -> String {
    let raw = settings.dnssd.host_name.clone().unwrap_or_else(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_owned())
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "printpark".into())
    });
    let first = raw.split('.').next().unwrap_or_default();
    let label: String = first
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    format!("{label}.local.")
}

/// The TXT record (Bonjour Printing 1.2.1, PWG 5100.14 §4.2.3).
pub fn txt_record(
    settings: &Settings,
    uuid: &str,
    admin_url: &str,
    tls: bool,
) -> Vec<(String, String)> {
    let pdl: Vec<&str> = DOCUMENT_FORMATS
        .iter()
        .copied()
        .filter(|f| *f != "application/octet-stream")
        .collect();
    let mut txt = vec![
        ("txtvers", "1".to_owned()),
        ("qtotal", "1".to_owned()),
        ("rp", "ipp/print".to_owned()),
        ("ty", "PrintPark Secure Queue".to_owned()),
        ("product", "(PrintPark Secure Queue)".to_owned()),
        ("note", settings.queue.location.clone()),
        ("adminurl", admin_url.to_owned()),
        ("pdl", pdl.join(",")),
        ("URF", URF_SUPPORTED.join(",")),
        ("UUID", uuid.to_owned()),
        ("Color", "T".to_owned()),
        ("Duplex", "T".to_owned()),
        ("kind", "document".to_owned()),
        ("PaperMax", "legal-A4".to_owned()),
        ("priority", "0".to_owned()),
        // AirPrint: the queue asks for a user name and password.
        ("air", "username,password".to_owned()),
    ];
    if tls {
        txt.push(("TLS", "1.2".to_owned()));
    }
    txt.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

impl Announcement {
    /// Announces the queue on every interface until `stop`.
    pub fn start(settings: &Settings, uuid: &str, ports: Ports) -> Result<Self, DnsSdError> {
        let host = local_host_name(settings);
        let admin_url = match &settings.server.public_url {
            Some(url) => format!("{}/admin", url.trim_end_matches('/')),
            None => format!(
                "https://{}:{}/admin",
                host.trim_end_matches('.'),
                ports.ipps
            ),
        };
        let instance = settings.queue.name.as_str();
        let mut responders = Vec::new();
        for subtype in SUBTYPES {
            let daemon = ServiceDaemon::new()?;
            let mut names = Vec::new();
            let services = [
                ("_ipps._tcp", Some(ports.ipps), true),
                ("_ipp._tcp", ports.ipp, false),
            ];
            for (service, port, tls) in services {
                let Some(port) = port else { continue };
                let properties: HashMap<String, String> =
                    txt_record(settings, uuid, &admin_url, tls)
                        .into_iter()
                        .collect();
                let mut info = ServiceInfo::new(
                    &format!("{subtype}._sub.{service}.local."),
                    instance,
                    &host,
                    "",
                    port,
                    properties,
                )?
                .enable_addr_auto();
                // The two responders announce the same instance on purpose: without
                // this, each would take the other's answer for a name conflict.
                info.set_requires_probe(false);
                names.push(info.get_fullname().to_owned());
                daemon.register(info)?;
            }
            responders.push((daemon, names));
        }
        tracing::info!(instance, host = %host, subtypes = ?SUBTYPES, "queue announced by DNS-SD");
        Ok(Self { responders })
    }

    /// Says goodbye (records with TTL 0) and stops the responders.
    pub fn stop(self) {
        for (daemon, names) in self.responders {
            for name in names {
                if let Ok(done) = daemon.unregister(&name) {
                    let _ = done.recv_timeout(Duration::from_secs(2));
                }
            }
            if let Ok(done) = daemon.shutdown() {
                let _ = done.recv_timeout(Duration::from_secs(2));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn txt_record_names_the_formats_urf_uuid_and_tls_clients_need() {
        let settings = Settings::default();
        let txt: HashMap<String, String> =
            txt_record(&settings, "1234", "https://h.local:8443/admin", true)
                .into_iter()
                .collect();
        assert_eq!(txt["rp"], "ipp/print");
        assert!(txt["pdl"].contains("application/pdf") && txt["pdl"].contains("image/urf"));
        assert!(!txt["pdl"].contains("octet-stream"));
        assert_eq!(txt["URF"], URF_SUPPORTED.join(","));
        assert_eq!((txt["UUID"].as_str(), txt["TLS"].as_str()), ("1234", "1.2"));
        let plain: HashMap<String, String> = txt_record(&settings, "1234", "x", false)
            .into_iter()
            .collect();
        assert!(!plain.contains_key("TLS"));
        // Every key=value fits in one TXT string.
        assert!(txt.iter().all(|(k, v)| k.len() + 1 + v.len() <= 255));
    }

    #[test]
    fn host_names_become_one_local_name() {
        let mut settings = Settings::default();
        settings.dnssd.host_name = Some("Print_Server".into());
        assert_eq!(local_host_name(&settings), "print-server.local.");
        settings.dnssd.host_name = Some("printpark.example.org".into());
        assert_eq!(local_host_name(&settings), "printpark.local.");
    }
}
