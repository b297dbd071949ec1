//! The public address: the `https://name[:port]` people, phones, printing clients and
//! agents use to reach this server. It is parsed here once, for both places it can
//! come from (`server.public_url` in the settings, or the value an admin typed on the
//! first-run or settings page), so every link the server hands out is built from one
//! checked value.

use std::fmt;
use std::net::IpAddr;

/// Why a typed address is not one people can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("Type the address people use, such as https://print.example.org:8443.")]
    Empty,
    #[error("\"{0}\" is not a web address such as https://print.example.org:8443.")]
    NotAnAddress(String),
    #[error("PrintPark is reached over https://, not {0}://.")]
    NotHttps(String),
    #[error(
        "Give only the scheme, the name and the port (https://print.example.org:8443), without a path, user name or query."
    )]
    Extra,
}

/// A checked public address: `https`, a host, maybe a port; nothing else.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicAddress {
    /// `https://host[:port]`, no trailing slash (the port only when not 443).
    text: String,
    host: String,
}

impl PublicAddress {
    /// Parses what an admin typed or configured. A bare `name` or `name:port` is taken
    /// as `https://…`; a trailing `/` is dropped.
    pub fn parse(typed: &str) -> Result<Self, AddressError> {
        let typed = typed.trim();
        if typed.is_empty() {
            return Err(AddressError::Empty);
        }
        let with_scheme = if typed.contains("://") {
            typed.to_string()
        } else {
            format!("https://{typed}")
        };
        let url = url::Url::parse(&with_scheme)
            .map_err(|_| AddressError::NotAnAddress(typed.to_string()))?;
        if url.scheme() != "https" {
            return Err(AddressError::NotHttps(url.scheme().to_string()));
        }
        if !url.username().is_empty()
            || url.password().is_some()
            || url.query().is_some()
            || url.fragment().is_some()
            || url.path() != "/"
        {
            return Err(AddressError::Extra);
        }
        let host = match url.host() {
            Some(url::Host::Domain(d)) if !d.is_empty() => d.to_ascii_lowercase(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => format!("[{ip}]"),
            _ => return Err(AddressError::NotAnAddress(typed.to_string())),
        };
        let text = match url.port() {
            Some(port) => format!("https://{host}:{port}"),
            None => format!("https://{host}"),
        };
        Ok(Self { text, host })
    }

    /// `https://host[:port]`, without a trailing slash.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The host as written in a URL (an IPv6 address in brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The host as a certificate names it (an IPv6 address without brackets).
    pub fn certificate_name(&self) -> String {
        self.host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string()
    }

    /// A link on this server: `path` starts with `/`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.text)
    }

    /// True when only this machine can reach the address (localhost, 127.x, ::1, or
    /// the unspecified 0.0.0.0 / ::): a label or command carrying it fails elsewhere.
    pub fn is_loopback(&self) -> bool {
        let name = self.certificate_name();
        if name == "localhost" || name.ends_with(".localhost") {
            return true;
        }
        match name.parse::<IpAddr>() {
            Ok(ip) => ip.is_loopback() || ip.is_unspecified(),
            Err(_) => false,
        }
    }
}

impl fmt::Display for PublicAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for PublicAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicAddress({})", self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_addresses_are_normalised_or_refused_with_a_reason() {
        let a = PublicAddress::parse(" Print.Example.org:8443/ ").unwrap();
        assert_eq!(a.as_str(), "https://print.example.org:8443");
        assert_eq!(a.url("/r/x"), "https://print.example.org:8443/r/x");
        assert_eq!(
            PublicAddress::parse("https://print.example.org:443")
                .unwrap()
                .as_str(),
            "https://print.example.org"
        );
        let v6 = PublicAddress::parse("https://[fd00::5]:8443").unwrap();
        assert_eq!(v6.as_str(), "https://[fd00::5]:8443");
        assert_eq!(v6.certificate_name(), "fd00::5");
        assert_eq!(
            PublicAddress::parse("http://print:8443"),
            Err(AddressError::NotHttps("http".into()))
        );
        assert_eq!(
            PublicAddress::parse("https://print/x"),
            Err(AddressError::Extra)
        );
        assert_eq!(PublicAddress::parse("  "), Err(AddressError::Empty));
        assert!(PublicAddress::parse("https://").is_err());
    }

    #[test]
    fn loopback_names_are_recognised() {
        for local in [
            "localhost:8443",
            "https://127.0.0.1:8443",
            "127.1.2.3",
            "[::1]:8443",
            "0.0.0.0",
            "app.localhost",
        ] {
            assert!(
                PublicAddress::parse(local).unwrap().is_loopback(),
                "{local}"
            );
        }
        for public in ["print.example.org", "192.168.1.20:8443", "[fd00::5]"] {
            assert!(
                !PublicAddress::parse(public).unwrap().is_loopback(),
                "{public}"
            );
        }
    }
}
