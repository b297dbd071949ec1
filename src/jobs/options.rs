//! The print options a person chooses for a job: sides and colour mode. Each is a
//! closed set of IPP keywords, parsed once where it comes in (the portal's upload
//! form, an IPP request, a workstation agent's API call) and carried as an enum from
//! there; the keyword is written back only at the edges (the job row, an IPP request
//! to a printer).

use serde::Serialize;

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
