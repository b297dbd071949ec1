//! What this machine is called on the network: its host name and its non-loopback
//! addresses, read from the kernel (`getifaddrs` through `if-addrs`). The first-run
//! and settings pages propose them as the public address, and the self-signed
//! certificate names them, so a phone that opens `https://192.168.1.20:8443` sees a
//! certificate made for that address.

use std::net::IpAddr;

/// The machine's host name as the kernel knows it (`None` when unreadable or empty).
pub fn host_name() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty() && s != "localhost")
}

/// Addresses other machines may reach this one at: up, not loopback, not link-local
/// (an IPv6 `fe80::` address needs a zone no URL can carry), not unspecified.
pub fn addresses() -> Vec<IpAddr> {
    let mut found: Vec<IpAddr> = match if_addrs::get_if_addrs() {
        Ok(interfaces) => interfaces
            .into_iter()
            .filter(|i| !i.is_loopback() && !i.is_link_local() && i.is_oper_up())
            .map(|i| i.ip())
            .filter(|ip| !ip.is_unspecified() && !ip.is_multicast())
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "the machine's network addresses could not be listed");
            Vec::new()
        }
    };
    // IPv4 first (what people type), then IPv6; no duplicates.
    found.sort_by_key(|ip| (ip.is_ipv6(), *ip));
    found.dedup();
    found
}

/// `https://…:port` candidates for the public address, most likely first: the host
/// name (and its `.local` mDNS form, which phones and Macs resolve), then each address.
pub fn proposals(port: u16) -> Vec<String> {
    let with_port = |host: &str| {
        if port == 443 {
            format!("https://{host}")
        } else {
            format!("https://{host}:{port}")
        }
    };
    let mut out = Vec::new();
    if let Some(host) = host_name() {
        out.push(with_port(&host));
        if !host.contains('.') {
            out.push(with_port(&format!("{host}.local")));
        }
    }
    for ip in addresses() {
        out.push(match ip {
            IpAddr::V4(v4) => with_port(&v4.to_string()),
            IpAddr::V6(v6) => with_port(&format!("[{v6}]")),
        });
    }
    out
}

/// Names a self-signed certificate of this machine carries besides the public name:
/// localhost and the loopback addresses (the health check, an admin on the machine),
/// the host name, its `.local` form, and every address of [`addresses`].
pub fn certificate_names() -> Vec<String> {
    let mut names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    if let Some(host) = host_name() {
        if !host.contains('.') {
            names.push(format!("{host}.local"));
        }
        names.push(host);
    }
    names.extend(addresses().into_iter().map(|ip| ip.to_string()));
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| seen.insert(n.clone()));
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proposals_carry_the_port_and_no_loopback() {
        for p in proposals(8443) {
            assert!(p.starts_with("https://") && p.ends_with(":8443"), "{p}");
            let a = crate::config::PublicAddress::parse(&p).unwrap();
            assert!(!a.is_loopback(), "{p}");
        }
        assert!(proposals(443).iter().all(|p| !p.ends_with(":443")));
        assert!(certificate_names().contains(&"localhost".to_string()));
    }
}
