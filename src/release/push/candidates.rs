//! Which ways to try to reach a printer, in order of preference.

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
                    if uri.to_ascii_lowercase().starts_with(prefix) && !uris.contains(&uri.as_str())
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
