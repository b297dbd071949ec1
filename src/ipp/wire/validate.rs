//! The strict level of the codec (RFC 8010/8011 as a printer reads a request): what a
//! decoded request must also satisfy before any operation sees it. `read_message`
//! only refuses what cannot be read as IPP at all; this refuses what a conforming
//! client never sends (see the module comment of `wire`).

use super::{Attribute, Message, Value, WireError, group, tag, with_language};
use crate::ipp::status;

/// The most octets a value of a string syntax may have (RFC 8011 §5.1); for the
/// with-language syntaxes, the limit of their text.
pub fn max_octets(value_tag: u8) -> Option<usize> {
    match value_tag {
        tag::TEXT | tag::TEXT_WITH_LANGUAGE | tag::URI | tag::OCTET_STRING => Some(1023),
        tag::NAME | tag::NAME_WITH_LANGUAGE | tag::KEYWORD | tag::MIME_TYPE | tag::MEMBER_NAME => {
            Some(255)
        }
        tag::URI_SCHEME | tag::CHARSET | tag::LANGUAGE => Some(63),
        _ => None,
    }
}

/// Enums whose values the server knows, with the range it accepts; any other enum
/// takes 1 to 2^31-1 (RFC 8011 §5.1.5).
const ENUM_RANGES: &[(&str, i32, i32)] = &[
    ("orientation-requested", 3, 7),
    ("print-quality", 3, 5),
    ("job-state", 3, 9),
    ("printer-state", 3, 5),
    ("document-state", 3, 9),
    ("finishings", 3, i32::MAX),
];

/// Checks a decoded request as RFC 8010/8011 ask a printer to: refuses an attribute
/// given twice in one group (or collection), reserved or response-only group tags,
/// reserved value tags and extension tags, strings past their syntax's length or not
/// of its form, booleans other than 0 and 1, impossible dates, ranges whose lower
/// bound exceeds the upper, resolutions in unknown units, enums out of range, and
/// 1setOf values of incompatible syntaxes. The header and the operation group's
/// order are the operations' to check (`ipp::reply::check_request`).
pub fn validate_request(message: &Message) -> Result<(), WireError> {
    for group in &message.groups {
        match group.tag {
            group::OPERATION
            | group::JOB
            | group::PRINTER
            | group::SUBSCRIPTION
            | RESOURCE_GROUP
            | group::DOCUMENT
            | group::SYSTEM => {}
            group::UNSUPPORTED | group::EVENT_NOTIFICATION => {
                return Err(WireError::bad(format!(
                    "attribute group 0x{:02x} belongs in responses only",
                    group.tag
                )));
            }
            other => {
                return Err(WireError::bad(format!(
                    "reserved delimiter tag 0x{other:02x}"
                )));
            }
        }
        check_attributes(&group.attributes, false)?;
    }
    Ok(())
}

/// Resource attributes (PWG 5100.22), which a request may carry.
const RESOURCE_GROUP: u8 = 0x08;

fn check_attributes(attributes: &[Attribute], members: bool) -> Result<(), WireError> {
    let mut seen = std::collections::HashSet::new();
    for attribute in attributes {
        let name = attribute.name.as_str();
        if members {
            if name.len() > 255 {
                return Err(too_long("a memberAttrName", 255));
            }
        } else if name.len() > 255 {
            return Err(WireError::bad(
                "an attribute name is longer than 255 octets".into(),
            ));
        }
        if !is_keyword(name) {
            return Err(WireError::bad(format!(
                "attribute name {:?} is not a keyword",
                shorten(name)
            )));
        }
        if !seen.insert(name) {
            return Err(WireError::bad(format!(
                "attribute {name} is given more than once in one {}",
                if members { "collection" } else { "group" }
            )));
        }
        let Some(first) = attribute.values.first() else {
            return Err(WireError::bad(format!("attribute {name} has no value")));
        };
        for value in &attribute.values {
            if !compatible(first.tag(), value.tag()) {
                return Err(WireError::bad(format!(
                    "attribute {name} mixes value tags 0x{:02x} and 0x{:02x}",
                    first.tag(),
                    value.tag()
                )));
            }
            check_value(name, value)?;
        }
    }
    Ok(())
}

/// Values one 1setOf may mix (as CUPS's reader allows): the string syntaxes (with
/// and without language), integer with rangeOfInteger, and out-of-band values.
fn compatible(a: u8, b: u8) -> bool {
    let string = |t: u8| {
        matches!(t, tag::TEXT_WITH_LANGUAGE | tag::NAME_WITH_LANGUAGE)
            || (tag::TEXT..=tag::MIME_TYPE).contains(&t)
    };
    let number = |t: u8| matches!(t, tag::INTEGER | tag::RANGE);
    let out_of_band = |t: u8| (0x10..=0x1f).contains(&t);
    a == b
        || (string(a) && string(b))
        || (number(a) && number(b))
        || out_of_band(a)
        || out_of_band(b)
}

fn too_long(what: &str, max: usize) -> WireError {
    WireError::Refused {
        status: status::REQUEST_VALUE_TOO_LONG,
        message: format!("{what} value is longer than {max} octets"),
    }
}

/// The start of a peer's string, for a message.
fn shorten(s: &str) -> String {
    s.chars().take(40).collect()
}

fn check_value(name: &str, value: &Value) -> Result<(), WireError> {
    match value {
        Value::Integer(_) | Value::Boolean(_) => Ok(()),
        Value::Enum(n) => {
            if *n < 1 {
                return Err(WireError::bad(format!(
                    "{name}: enum value {n} is outside 1 to 2147483647"
                )));
            }
            match ENUM_RANGES.iter().find(|(known, _, _)| *known == name) {
                Some((_, low, high)) if !(*low..=*high).contains(n) => Err(WireError::Refused {
                    status: status::ATTRIBUTES_OR_VALUES_NOT_SUPPORTED,
                    message: format!("{name}: {n} is not one of its values ({low} to {high})"),
                }),
                _ => Ok(()),
            }
        }
        Value::Range(low, high) => {
            // RFC 8011 §5.1.14: lower ≤ upper. Answered as an unsupported value, as
            // `page-ranges` refusals are (`operations::page_ranges`).
            if low > high {
                return Err(WireError::Refused {
                    status: status::ATTRIBUTES_OR_VALUES_NOT_SUPPORTED,
                    message: format!(
                        "{name}: range {low}-{high} has its lower bound above its upper"
                    ),
                });
            }
            Ok(())
        }
        Value::Resolution { x, y, units } => {
            if *x <= 0 || *y <= 0 || !matches!(units, 3 | 4) {
                return Err(WireError::bad(format!(
                    "{name}: resolution {x}x{y} in units {units} (3 = per inch, 4 = per cm)"
                )));
            }
            Ok(())
        }
        Value::Collection(members) => check_attributes(members, true),
        Value::String(t, s) => check_string(name, *t, s),
        Value::Other(t, data) => check_other(name, *t, data),
    }
}

fn check_string(name: &str, value_tag: u8, s: &str) -> Result<(), WireError> {
    if let Some(max) = max_octets(value_tag)
        && s.len() > max
    {
        return Err(too_long(name, max));
    }
    let ok = match value_tag {
        tag::KEYWORD => is_keyword(s),
        tag::URI => is_uri(s),
        tag::URI_SCHEME => is_scheme(s),
        tag::CHARSET => !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic()),
        tag::LANGUAGE => is_language(s),
        tag::MIME_TYPE => is_mime_type(s),
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(WireError::bad(format!(
            "{name}: {:?} is not a valid value of its syntax (tag 0x{value_tag:02x})",
            shorten(s)
        )))
    }
}

fn check_other(name: &str, value_tag: u8, data: &[u8]) -> Result<(), WireError> {
    match value_tag {
        // Out-of-band values registered with IANA (RFC 8010 §3.5.2, RFC 3380).
        tag::UNSUPPORTED | tag::UNKNOWN | tag::NO_VALUE | 0x15..=0x17 => Ok(()),
        tag::BOOLEAN => Err(WireError::bad(format!("{name}: a boolean must be 0 or 1"))),
        tag::OCTET_STRING if data.len() > 1023 => Err(too_long(name, 1023)),
        tag::OCTET_STRING => Ok(()),
        tag::DATE_TIME => {
            // RFC 2579 DateAndTime: month, day, hour, minutes, seconds, deci-seconds,
            // direction from UTC, hours and minutes from UTC.
            let d = data;
            let valid = d.len() == 11
                && (1..=12).contains(&d[2])
                && (1..=31).contains(&d[3])
                && d[4] <= 23
                && d[5] <= 59
                && d[6] <= 60
                && d[7] <= 9
                && matches!(d[8], b'+' | b'-')
                && d[9] <= 14
                && d[10] <= 59;
            if valid {
                Ok(())
            } else {
                Err(WireError::bad(format!("{name}: not a valid dateTime")))
            }
        }
        tag::TEXT_WITH_LANGUAGE | tag::NAME_WITH_LANGUAGE => {
            let Some((language, text)) = with_language(data) else {
                return Err(WireError::bad(format!(
                    "{name}: a malformed value with language"
                )));
            };
            let language = std::str::from_utf8(language).ok();
            let text = std::str::from_utf8(text)
                .map_err(|_| WireError::bad(format!("{name}: the text is not UTF-8")))?;
            let Some(language) = language else {
                return Err(WireError::bad(format!("{name}: the language is not UTF-8")));
            };
            if language.len() > 63 {
                return Err(too_long(&format!("{name} (its language)"), 63));
            }
            if !is_language(language) {
                return Err(WireError::bad(format!(
                    "{name}: {:?} is not a natural language",
                    shorten(language)
                )));
            }
            let max = max_octets(value_tag).unwrap_or(1023);
            if text.len() > max {
                return Err(too_long(name, max));
            }
            Ok(())
        }
        0x7f => {
            // RFC 8010 §3.5.2: the first four octets are the type tag; types 0x00 to
            // 0xff have one-octet tags, and the sign bit is not part of the range.
            let Some(extended) = data.get(..4) else {
                return Err(WireError::bad(format!(
                    "{name}: an extension tag needs at least 4 octets"
                )));
            };
            let extended = u32::from_be_bytes([extended[0], extended[1], extended[2], extended[3]]);
            if extended > 0x7fff_ffff || extended <= 0xff {
                return Err(WireError::bad(format!(
                    "{name}: extended value tag 0x{extended:08x} is outside 0x100 to 0x7fffffff"
                )));
            }
            Err(WireError::Refused {
                status: status::ATTRIBUTES_OR_VALUES_NOT_SUPPORTED,
                message: format!("{name}: extended value tag 0x{extended:08x} is not supported"),
            })
        }
        other => Err(WireError::bad(format!(
            "{name}: reserved value tag 0x{other:02x}"
        ))),
    }
}

/// Keywords and attribute names, as CUPS checks them: letters, digits, `-`, `.`, `_`.
fn is_keyword(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
}

fn is_scheme(s: &str) -> bool {
    s.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// A URI (RFC 3986): a scheme, a colon, then printable ASCII without spaces.
fn is_uri(s: &str) -> bool {
    match s.split_once(':') {
        Some((scheme, rest)) => {
            is_scheme(scheme) && !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_graphic())
        }
        None => false,
    }
}

/// A language tag (RFC 5646): 1–8 letters, then `-` and 1–8 letters or digits.
fn is_language(s: &str) -> bool {
    let mut parts = s.split('-');
    let first = parts.next().unwrap_or("");
    (1..=8).contains(&first.len())
        && first.bytes().all(|b| b.is_ascii_alphabetic())
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// `type/subtype` with optional `;parameter=value` (RFC 2045 tokens).
fn is_mime_type(s: &str) -> bool {
    let token = |t: &str| {
        !t.is_empty()
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    let mut parts = s.split(';');
    let Some((kind, subtype)) = parts.next().and_then(|t| t.trim().split_once('/')) else {
        return false;
    };
    token(kind)
        && token(subtype)
        && parts.all(|p| {
            p.split_once('=').is_some_and(|(k, v)| {
                token(k.trim()) && !v.is_empty() && v.bytes().all(|b| b.is_ascii_graphic())
            })
        })
}
