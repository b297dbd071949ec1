//! Which ways to try to reach a printer, in order of preference, and which of the
//! addresses a printer advertises may be tried at all.
//!
//! A printer's `printer-uri-supported` is only a hint from whoever answered on the
//! configured address: only URIs on that same host are ever tried. Another host
//! there could point deliveries (and the certificate pinned on first use) at an
//! attacker, or make the server POST to any internal host; such a URI is offered to
//! the admin on the printer's page and used only once they confirm it.

use super::{Protocol, PushTarget};

/// One way in: an IPP(S) printer URI, or a raw host and port.
pub(super) enum Candidate {
    Ipp(String, Protocol),
    Raw(String, u16),
}

/// The ways to try for `target`, best first (see [`super::connect`]).
pub(super) fn candidates(target: &PushTarget) -> Result<Vec<Candidate>, String> {
    let url = url::Url::parse(&target.uri)
        .map_err(|e| format!("the printer URI {:?} is not valid: {e}", target.uri))?;
    let scheme = url.scheme().to_ascii_lowercase();
    if !matches!(scheme.as_str(), "ipps" | "ipp" | "socket") {
        return Err(format!(
            "the printer URI {} is not ipps://, ipp:// or socket://",
            target.uri
        ));
    }
    let authority = url
        .host_str()
        .ok_or_else(|| format!("the printer URI {} has no host", target.uri))?;
    let host = match url.host() {
        Some(url::Host::Ipv6(a)) => a.to_string(),
        _ => authority.to_owned(),
    };
    let socket = scheme == "socket";
    let ipp_port = if socket {
        631
    } else {
        url.port().unwrap_or(631)
    };
    let path = if socket || url.path().is_empty() {
        "/ipp/print"
    } else {
        url.path()
    };
    let same_printer = |s: &str| format!("{s}://{authority}:{ipp_port}{path}");
    let raw_port = if socket {
        url.port().unwrap_or(9100)
    } else {
        9100
    };
    Ok(match target.protocol {
        Protocol::Ipps => vec![Candidate::Ipp(same_printer("ipps"), Protocol::Ipps)],
        Protocol::Ipp => vec![Candidate::Ipp(same_printer("ipp"), Protocol::Ipp)],
        Protocol::Raw => vec![Candidate::Raw(host, raw_port)],
        Protocol::Auto => {
            let mut list: Vec<Candidate> = Vec::new();
            for (prefix, protocol) in [("ipps://", Protocol::Ipps), ("ipp://", Protocol::Ipp)] {
                let mut uris: Vec<&str> = Vec::new();
                if !socket && target.uri.to_ascii_lowercase().starts_with(prefix) {
                    uris.push(&target.uri);
                }
                for uri in &target.uris_supported {
                    if uri.to_ascii_lowercase().starts_with(prefix)
                        && !uris.contains(&uri.as_str())
                        && same_host(uri, &target.uri)
                    {
                        uris.push(uri);
                    }
                }
                list.extend(
                    uris.into_iter()
                        .map(|u| Candidate::Ipp(u.to_owned(), protocol)),
                );
            }
            if socket {
                list.push(Candidate::Raw(host, raw_port));
            }
            // A printer that once proved itself over TLS is never reached in clear
            // again by fallback: that would let anyone on the path force a downgrade.
            if target.tls_pin.is_some()
                && list
                    .iter()
                    .any(|c| matches!(c, Candidate::Ipp(_, Protocol::Ipps)))
            {
                list.retain(|c| matches!(c, Candidate::Ipp(_, Protocol::Ipps)));
            }
            list
        }
    })
}

/// The host of a URI as a comparable key: lower case, no trailing dot, an IP address
/// (IPv4, or IPv6 with or without brackets) in its canonical form. `None` when the
/// URI does not parse or has no host.
pub fn host_key(uri: &str) -> Option<String> {
    let url = url::Url::parse(uri.trim()).ok()?;
    let host = match url.host()? {
        url::Host::Ipv4(a) => return Some(a.to_string()),
        url::Host::Ipv6(a) => return Some(canonical_ip(std::net::IpAddr::V6(a))),
        // ipp:// is not a "special" scheme: url keeps its host as written, IPv4
        // literals included.
        url::Host::Domain(d) => d.to_ascii_lowercase(),
    };
    let host = host.strip_suffix('.').unwrap_or(host.as_str());
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() {
        return None;
    }
    Some(match bare.parse::<std::net::IpAddr>() {
        Ok(ip) => canonical_ip(ip),
        Err(_) => host.to_owned(),
    })
}

/// An IPv4-mapped IPv6 address is the IPv4 address.
fn canonical_ip(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => v6.to_string(),
        },
        v4 => v4.to_string(),
    }
}

/// Whether two URIs name the same host (ports and paths may differ: a printer
/// offers IPPS and IPP on several ports). A URI whose host cannot be read is on no
/// one's host.
pub fn same_host(a: &str, b: &str) -> bool {
    matches!((host_key(a), host_key(b)), (Some(x), Some(y)) if x == y)
}

/// The IPP(S) URIs a printer advertised that are on another host than its
/// configured `uri`: never tried, shown to the admin to confirm or ignore. At most
/// `MAX_FOREIGN` (a printer has a few URIs; a hostile one could list thousands).
pub fn foreign_uris(uri: &str, advertised: &[String]) -> Vec<String> {
    const MAX_FOREIGN: usize = 8;
    let mut out: Vec<String> = Vec::new();
    for candidate in advertised {
        if out.len() == MAX_FOREIGN {
            break;
        }
        let lower = candidate.to_ascii_lowercase();
        if (lower.starts_with("ipps://") || lower.starts_with("ipp://"))
            && !same_host(candidate, uri)
            && !out.contains(candidate)
        {
            out.push(candidate.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auto(uri: &str, advertised: &[&str]) -> Vec<String> {
        let target = PushTarget {
            uri: uri.into(),
            uris_supported: advertised.iter().map(|u| u.to_string()).collect(),
            ..PushTarget::default()
        };
        candidates(&target)
            .unwrap()
            .into_iter()
            .map(|c| match c {
                Candidate::Ipp(u, _) => u,
                Candidate::Raw(h, p) => format!("raw {h}:{p}"),
            })
            .collect()
    }

    #[test]
    fn hosts_compare_without_case_brackets_trailing_dots_or_mapping() {
        assert!(same_host(
            "ipp://Printer.Example.ORG./ipp/print",
            "ipps://printer.example.org:443/x"
        ));
        assert!(same_host(
            "ipp://[::1]:631/ipp/print",
            "ipps://[0:0:0:0:0:0:0:1]/ipp/print"
        ));
        assert!(same_host("ipp://127.0.0.1:631/", "socket://127.0.0.1:9100"));
        assert!(same_host("ipp://[::ffff:10.0.0.5]/", "ipp://10.0.0.5/"));
        assert!(!same_host("ipp://127.0.0.2/", "ipp://127.0.0.1/"));
        assert!(!same_host("ipp://printer.evil/", "ipp://printer/"));
        // Spellings a resolver might take for 127.0.0.1 are not the configured host.
        assert!(!same_host("ipp://2130706433/", "ipp://127.0.0.1/"));
        assert!(!same_host("not a uri", "not a uri"));
    }

    #[test]
    fn only_advertised_uris_on_the_configured_host_are_tried() {
        let tried = auto(
            "ipp://10.0.0.5:631/ipp/print",
            &[
                "ipps://evil.example:443/ipp/print",
                "ipps://10.0.0.5:443/ipp/print",
                "ipp://192.168.1.9/ipp/print",
                "ipp://10.0.0.5./ipp/other",
            ],
        );
        assert_eq!(
            tried,
            [
                "ipps://10.0.0.5:443/ipp/print",
                "ipp://10.0.0.5:631/ipp/print",
                "ipp://10.0.0.5./ipp/other"
            ]
        );
        assert_eq!(
            foreign_uris(
                "ipp://10.0.0.5:631/ipp/print",
                &[
                    "ipps://evil.example:443/ipp/print".into(),
                    "ipps://10.0.0.5:443/ipp/print".into(),
                    "http://elsewhere/".into(),
                ]
            ),
            ["ipps://evil.example:443/ipp/print"]
        );
    }
}
