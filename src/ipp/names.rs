//! IPP's length limits on `name` and `text` values (RFC 8011 §5.1.2, §5.1.3:
//! name(MAX) is 255 octets, text(MAX) 1023). PrintPark keeps whatever name a person
//! gave a document; what it sends to a printer is shortened here, because a printer
//! refuses a longer value (ippeveprinter answers client-error-bad-request) and a
//! release would fail again and again on a 250-character file name.

use std::borrow::Cow;

/// name(MAX), in octets.
pub const NAME_MAX: usize = 255;
/// What marks a shortened value ("…", three octets in UTF-8).
const CUT: &str = "…";

/// `value` as an IPP name: itself when it fits in 255 octets, else cut at a UTF-8
/// character boundary with "…" so the whole is at most 255 octets.
pub fn ipp_name(value: &str) -> Cow<'_, str> {
    shorten(value, NAME_MAX)
}

fn shorten(value: &str, max: usize) -> Cow<'_, str> {
    if value.len() <= max {
        return Cow::Borrowed(value);
    }
    let mut end = max.saturating_sub(CUT.len());
    while end > 0 && !value.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}{CUT}", &value[..end]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_pass_and_long_ones_are_cut_on_a_character() {
        assert_eq!(ipp_name("report.pdf"), "report.pdf");
        let exact = "a".repeat(255);
        assert_eq!(ipp_name(&exact), exact.as_str());
        // 250 characters of three octets each: 750 octets.
        let long = "€".repeat(250);
        let cut = ipp_name(&long);
        assert!(cut.len() <= NAME_MAX, "{} octets", cut.len());
        assert!(cut.ends_with('…'));
        assert!(long.starts_with(cut.trim_end_matches('…')));
        // 84 euro signs (252 octets) + "…" (3) = 255.
        assert_eq!(cut.chars().count(), 85);
        // Two-octet characters at an odd boundary.
        let accents = "é".repeat(200);
        let cut = ipp_name(&accents);
        assert!(cut.len() <= NAME_MAX);
        assert_eq!(cut.chars().filter(|c| *c == 'é').count(), 126);
    }
}
