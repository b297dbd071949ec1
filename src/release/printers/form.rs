//! What an admin types for a printer, checked: a name, a URI we can deliver to (or
//! none, for a printer whose output device pulls its jobs), a protocol, costs and the
//! language of a raw printer.

use crate::convert::PrinterLanguage;
use crate::release::ReleaseError;
use crate::release::push::Protocol;

/// What an admin submits for a printer.
#[derive(Debug, Clone, Default)]
pub struct PrinterForm {
    pub name: String,
    pub location: String,
    pub uri: String,
    pub protocol: String,
    /// Cost per page, in the currency's unit ("0.05"); empty = not charged.
    pub cost_mono: String,
    pub cost_color: String,
    /// What a raw (port 9100) printer speaks (`pcl5`, `pclxl`, `postscript`, `pdf`);
    /// empty = not set (jobs go as they are).
    pub language: String,
}

/// The printer language the admin chose, parsed at the edge: empty is none, anything
/// but the four languages a clear refusal.
pub(super) fn language(form: &PrinterForm) -> Result<Option<PrinterLanguage>, ReleaseError> {
    let text = form.language.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| {
        ReleaseError::NotAllowed(format!(
            "“{}” is not a printer language PrintPark can send: choose PCL 5, PCL XL, PostScript or PDF, or leave it unset",
            text.chars().take(40).collect::<String>()
        ))
    })
}

/// A printer form once checked: URI, protocol, cost per mono and per colour page.
type CheckedPrinter = (String, &'static str, Option<i64>, Option<i64>);

/// Checks what an admin typed: a printer URI we can deliver to, and costs.
/// The protocol is `infra` for a printer whose output device pulls its jobs (IPP
/// INFRA): the server never connects to it, and its URI (optional) only says where
/// the device prints.
pub(super) fn validate(form: &PrinterForm) -> Result<CheckedPrinter, ReleaseError> {
    let bad = |m: &str| Err(ReleaseError::NotAllowed(m.into()));
    let name = form.name.trim();
    if name.is_empty() || name.len() > 100 {
        return bad("a printer needs a name (at most 100 characters)");
    }
    let uri = form.uri.trim().to_string();
    let pulled = form.protocol.trim() == "infra";
    if pulled && uri.is_empty() {
        return Ok((
            uri,
            "infra",
            cost(&form.cost_mono)?,
            cost(&form.cost_color)?,
        ));
    }
    let parsed = match url::Url::parse(&uri) {
        Ok(u) => u,
        Err(_) => {
            return bad(
                "the URI must look like ipps://host/ipp/print, ipp://host:631/ipp/print or socket://host:9100",
            );
        }
    };
    if !matches!(parsed.scheme(), "ipps" | "ipp" | "socket")
        || parsed.host_str().is_none_or(str::is_empty)
    {
        return bad("the URI must start with ipps://, ipp:// or socket:// and name a host");
    }
    let protocol = match form.protocol.trim() {
        "" => Protocol::Auto.as_str(),
        "infra" => "infra",
        other => other
            .parse::<Protocol>()
            .map_err(|_| {
                ReleaseError::NotAllowed("protocol must be auto, ipps, ipp, raw or infra".into())
            })?
            .as_str(),
    };
    Ok((
        uri,
        protocol,
        cost(&form.cost_mono)?,
        cost(&form.cost_color)?,
    ))
}

/// "0.05" → 50 thousandths; empty → not charged.
fn cost(text: &str) -> Result<Option<i64>, ReleaseError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.0..1000.0).contains(&v) => {
            Ok(Some((v * 1000.0).round() as i64))
        }
        _ => Err(ReleaseError::NotAllowed(format!(
            "“{text}” is not a cost per page (like 0.05)"
        ))),
    }
}

/// Thousandths back to "0.050".
pub fn format_cost(milli: Option<i64>) -> String {
    milli
        .map(|m| format!("{}.{:03}", m / 1000, m % 1000))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_are_parsed_in_thousandths_and_refused_when_nonsense() {
        assert_eq!(cost("0.05").unwrap(), Some(50));
        assert_eq!(cost("").unwrap(), None);
        assert!(cost("abc").is_err());
        assert!(cost("-1").is_err());
        assert_eq!(format_cost(Some(50)), "0.050");
    }

    #[test]
    fn languages_are_one_of_four_or_unset() {
        let form = |language: &str| PrinterForm {
            language: language.into(),
            ..Default::default()
        };
        assert_eq!(language(&form("")).unwrap(), None);
        assert_eq!(
            language(&form("pclxl")).unwrap(),
            Some(PrinterLanguage::PclXl)
        );
        let refused = language(&form("pcl7")).unwrap_err().to_string();
        assert!(
            refused.contains("“pcl7” is not a printer language"),
            "{refused}"
        );
    }

    #[test]
    fn printer_uris_must_be_ipp_ipps_or_socket() {
        let form = |uri: &str| PrinterForm {
            name: "Hall".into(),
            uri: uri.into(),
            ..Default::default()
        };
        assert!(validate(&form("ipps://printer.local/ipp/print")).is_ok());
        assert!(validate(&form("socket://10.0.0.9:9100")).is_ok());
        assert!(validate(&form("http://printer/")).is_err());
        assert!(validate(&form("not a uri")).is_err());
    }
}
