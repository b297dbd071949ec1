//! The print options a person chooses for a job: copies, sides and colour mode. Each is a
//! closed set of IPP keywords, parsed once where it comes in (the portal's upload
//! form, an IPP request, a workstation agent's API call) and carried as an enum from
//! there; the keyword is written back only at the edges (the job row, an IPP request
//! to a printer).

use serde::Serialize;

/// The most copies of one document PrintPark takes, on every way in (portal, IPP's
/// `copies-supported`, the workstation agents' API). Above it a job is refused with
/// the limit, never quietly cut down (issue 20).
pub const MAX_COPIES: i64 = 99;

/// Copies refused, in words the person who asked reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CopiesError {
    #[error("Copies must be a whole number from 1 to {MAX_COPIES}.")]
    NotANumber,
    #[error("At least 1 copy must be printed.")]
    TooFew,
    #[error("PrintPark prints at most {MAX_COPIES} copies of a document; {0} were asked for.")]
    TooMany(i64),
    /// More than a number holds.
    #[error("PrintPark prints at most {MAX_COPIES} copies of a document.")]
    FarTooMany,
}

/// Copies within 1 ..= `MAX_COPIES`, or why not.
pub fn check_copies(copies: i64) -> Result<i64, CopiesError> {
    match copies {
        n if n < 1 => Err(CopiesError::TooFew),
        n if n > MAX_COPIES => Err(CopiesError::TooMany(n)),
        n => Ok(n),
    }
}

/// Copies as typed in a form (empty: one copy).
pub fn parse_copies(text: &str) -> Result<i64, CopiesError> {
    match text.trim() {
        "" => Ok(1),
        text => check_copies(text.parse::<i64>().map_err(|_| {
            // All digits but too big for a number: still "too many".
            if text.bytes().all(|b| b.is_ascii_digit()) {
                CopiesError::FarTooMany
            } else {
                CopiesError::NotANumber
            }
        })?),
    }
}

/// One- or two-sided printing (IPP `sides`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Sides {
    #[default]
    OneSided,
    /// Turned along the long edge (portrait pages read like a book).
    TwoSidedLongEdge,
    TwoSidedShortEdge,
}

impl Sides {
    /// Every value, as the printer attributes announce them.
    pub const ALL: [Sides; 3] = [
        Sides::OneSided,
        Sides::TwoSidedLongEdge,
        Sides::TwoSidedShortEdge,
    ];

    /// The IPP keyword; `None` for any other text.
    pub fn parse(keyword: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == keyword)
    }

    /// The IPP keyword (and the job column's spelling).
    pub fn as_str(self) -> &'static str {
        match self {
            Sides::OneSided => "one-sided",
            Sides::TwoSidedLongEdge => "two-sided-long-edge",
            Sides::TwoSidedShortEdge => "two-sided-short-edge",
        }
    }

    pub fn is_two_sided(self) -> bool {
        self != Sides::OneSided
    }
}

impl std::fmt::Display for Sides {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Colour or black and white (IPP `print-color-mode`, the values PrintPark offers).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ColorMode {
    /// What the document has: the printer decides.
    #[default]
    Auto,
    Color,
    Monochrome,
}

impl ColorMode {
    pub const ALL: [ColorMode; 3] = [ColorMode::Auto, ColorMode::Color, ColorMode::Monochrome];

    /// The IPP keyword; `None` for any other text (IPP's other colour modes, such as
    /// `bi-level`, are not offered: callers fall back to `Auto`).
    pub fn parse(keyword: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == keyword)
    }

    /// The IPP keyword (and the job column's spelling).
    pub fn as_str(self) -> &'static str {
        match self {
            ColorMode::Auto => "auto",
            ColorMode::Color => "color",
            ColorMode::Monochrome => "monochrome",
        }
    }
}

impl std::fmt::Display for ColorMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_above_the_limit_are_refused_with_it() {
        assert_eq!(parse_copies(" 3 "), Ok(3));
        assert_eq!(parse_copies(""), Ok(1));
        assert_eq!(parse_copies("99"), Ok(99));
        assert_eq!(parse_copies("100"), Err(CopiesError::TooMany(100)));
        assert_eq!(parse_copies("0"), Err(CopiesError::TooFew));
        assert_eq!(parse_copies("-2"), Err(CopiesError::TooFew));
        assert_eq!(parse_copies("two"), Err(CopiesError::NotANumber));
        assert!(matches!(
            parse_copies("99999999999999999999999"),
            Err(CopiesError::FarTooMany)
        ));
        assert_eq!(
            CopiesError::TooMany(150).to_string(),
            "PrintPark prints at most 99 copies of a document; 150 were asked for."
        );
    }

    #[test]
    fn keywords_read_back() {
        for sides in Sides::ALL {
            assert_eq!(Sides::parse(sides.as_str()), Some(sides));
        }
        for mode in ColorMode::ALL {
            assert_eq!(ColorMode::parse(mode.as_str()), Some(mode));
        }
    }

    #[test]
    fn other_text_is_refused() {
        assert_eq!(Sides::parse("two-sided"), None);
        assert_eq!(Sides::parse("One-Sided"), None);
        assert_eq!(ColorMode::parse("bi-level"), None);
        assert_eq!(ColorMode::parse(""), None);
    }

    #[test]
    fn serialised_as_the_keyword() {
        assert_eq!(
            serde_json::to_string(&Sides::TwoSidedLongEdge).unwrap(),
            "\"two-sided-long-edge\""
        );
        assert_eq!(
            serde_json::to_string(&ColorMode::Monochrome).unwrap(),
            "\"monochrome\""
        );
        assert!(Sides::TwoSidedShortEdge.is_two_sided());
        assert!(!Sides::default().is_two_sided());
    }
}
