//! The IPP/1.1–2.0 binary encoding (RFC 8010): our own small codec, so that request
//! attributes are read with hard limits from a stream and the document that follows
//! them is left unread for intake to stream.
//!
//! Two levels of strictness. `read_message` refuses what cannot be read as IPP at all,
//! in requests and in printers' replies alike, and no more than CUPS's own reader
//! refuses (so a reply any CUPS client reads, we read): fixed-size values of the wrong
//! length, a broken textWithLanguage, collections framed wrongly (a member or an
//! end-collection outside a collection, a begin without an end, names where none
//! belong). `validate_request` then applies what RFC 8010/8011 ask of a printer
//! reading a request: no attribute twice in a group, strings within their syntax's
//! length and form, booleans 0 or 1, dates, ranges, resolutions and enums in range,
//! no reserved tags. The server runs it on every request before any operation; the
//! client never does, because real printers' replies break these rules (duplicate
//! attributes, over-long text, vendor enums) and a reply is not an attack surface for
//! anything we store.

use tokio::io::{AsyncRead, AsyncReadExt};

mod validate;

pub use validate::{max_octets, validate_request};

/// Delimiter tags (RFC 8010 §3.5.1).
pub mod group {
    pub const OPERATION: u8 = 0x01;
    pub const JOB: u8 = 0x02;
    pub const END: u8 = 0x03;
    pub const PRINTER: u8 = 0x04;
    pub const UNSUPPORTED: u8 = 0x05;
    pub const SUBSCRIPTION: u8 = 0x06;
    pub const EVENT_NOTIFICATION: u8 = 0x07;
    pub const DOCUMENT: u8 = 0x09;
    pub const SYSTEM: u8 = 0x0A;
}

/// Value tags (RFC 8010 §3.5.2).
pub mod tag {
    pub const UNSUPPORTED: u8 = 0x10;
    pub const UNKNOWN: u8 = 0x12;
    pub const NO_VALUE: u8 = 0x13;
    pub const INTEGER: u8 = 0x21;
    pub const BOOLEAN: u8 = 0x22;
    pub const ENUM: u8 = 0x23;
    pub const OCTET_STRING: u8 = 0x30;
    pub const DATE_TIME: u8 = 0x31;
    pub const RESOLUTION: u8 = 0x32;
    pub const RANGE: u8 = 0x33;
    pub const BEGIN_COLLECTION: u8 = 0x34;
    pub const TEXT_WITH_LANGUAGE: u8 = 0x35;
    pub const NAME_WITH_LANGUAGE: u8 = 0x36;
    pub const END_COLLECTION: u8 = 0x37;
    pub const TEXT: u8 = 0x41;
    pub const NAME: u8 = 0x42;
    pub const KEYWORD: u8 = 0x44;
    pub const URI: u8 = 0x45;
    pub const URI_SCHEME: u8 = 0x46;
    pub const CHARSET: u8 = 0x47;
    pub const LANGUAGE: u8 = 0x48;
    pub const MIME_TYPE: u8 = 0x49;
    pub const MEMBER_NAME: u8 = 0x4A;
}

/// One attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Integer(i32),
    Enum(i32),
    Boolean(bool),
    /// text, name, keyword, uri, uriScheme, charset, naturalLanguage, mimeMediaType.
    String(u8, String),
    Resolution {
        x: i32,
        y: i32,
        units: u8,
    },
    Range(i32, i32),
    Collection(Vec<Attribute>),
    /// Out-of-band values (unsupported, unknown, no-value) and anything else kept raw.
    Other(u8, Vec<u8>),
}

impl Value {
    pub fn keyword(s: &str) -> Self {
        Value::String(tag::KEYWORD, s.to_owned())
    }
    pub fn text(s: &str) -> Self {
        Value::String(tag::TEXT, s.to_owned())
    }
    pub fn name(s: &str) -> Self {
        Value::String(tag::NAME, s.to_owned())
    }
    pub fn uri(s: &str) -> Self {
        Value::String(tag::URI, s.to_owned())
    }
    pub fn mime(s: &str) -> Self {
        Value::String(tag::MIME_TYPE, s.to_owned())
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(_, s) => Some(s),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i32> {
        match self {
            Value::Integer(n) | Value::Enum(n) => Some(*n),
            _ => None,
        }
    }

    /// A boolean; one that came as neither 0 nor 1 (kept raw for `validate_request`
    /// to refuse in a request) reads as true in a printer's reply, as CUPS reads it.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Boolean(b) => Some(*b),
            Value::Other(tag::BOOLEAN, data) => data.first().map(|b| *b != 0),
            _ => None,
        }
    }

    fn tag(&self) -> u8 {
        match self {
            Value::Integer(_) => tag::INTEGER,
            Value::Enum(_) => tag::ENUM,
            Value::Boolean(_) => tag::BOOLEAN,
            Value::String(t, _) => *t,
            Value::Resolution { .. } => tag::RESOLUTION,
            Value::Range(..) => tag::RANGE,
            Value::Collection(_) => tag::BEGIN_COLLECTION,
            Value::Other(t, _) => *t,
        }
    }
}

/// A named attribute with one or more values (a "1setOf" when more than one).
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    pub name: String,
    pub values: Vec<Value>,
}

impl Attribute {
    pub fn new(name: &str, value: Value) -> Self {
        Self {
            name: name.to_owned(),
            values: vec![value],
        }
    }
    pub fn many(name: &str, values: Vec<Value>) -> Self {
        Self {
            name: name.to_owned(),
            values,
        }
    }
    pub fn first(&self) -> Option<&Value> {
        self.values.first()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub tag: u8,
    pub attributes: Vec<Attribute>,
}

impl Group {
    pub fn new(tag: u8) -> Self {
        Self {
            tag,
            attributes: Vec::new(),
        }
    }
    pub fn get(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }
    pub fn push(&mut self, attribute: Attribute) {
        self.attributes.push(attribute);
    }
}

/// A request or response: version, operation or status code, request id, groups.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub version: (u8, u8),
    pub code: u16,
    pub request_id: u32,
    pub groups: Vec<Group>,
}

impl Message {
    pub fn group(&self, tag: u8) -> Option<&Group> {
        self.groups.iter().find(|g| g.tag == tag)
    }

    /// An attribute of the operation group.
    pub fn operation_attr(&self, name: &str) -> Option<&Attribute> {
        self.group(group::OPERATION).and_then(|g| g.get(name))
    }

    pub fn operation_str(&self, name: &str) -> Option<&str> {
        self.operation_attr(name)
            .and_then(|a| a.first())
            .and_then(Value::as_str)
    }

    pub fn operation_int(&self, name: &str) -> Option<i32> {
        self.operation_attr(name)
            .and_then(|a| a.first())
            .and_then(Value::as_int)
    }

    /// An attribute of the job template (job group), falling back to the operation group
    /// where some clients put them.
    pub fn job_attr(&self, name: &str) -> Option<&Attribute> {
        self.group(group::JOB)
            .and_then(|g| g.get(name))
            .or_else(|| self.operation_attr(name))
    }
}

/// Bounds on what a request may carry before its document.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_bytes: usize,
    pub max_attributes: usize,
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 256 * 1024,
            max_attributes: 2000,
            max_depth: 8,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("malformed IPP message: {0}")]
    Malformed(String),
    #[error("IPP request attributes exceed {0}")]
    TooLarge(String),
    #[error("reading the request failed: {0}")]
    Io(#[from] std::io::Error),
    /// A request RFC 8010/8011 tell a printer to refuse, with the status to answer.
    #[error("{message}")]
    Refused { status: u16, message: String },
}

impl WireError {
    fn bad(message: String) -> Self {
        WireError::Refused {
            status: crate::ipp::status::BAD_REQUEST,
            message,
        }
    }
}

/// Reads exactly what the attribute section needs, counting bytes against the limit.
struct Counted<'a, R> {
    reader: &'a mut R,
    read: usize,
    limits: Limits,
    attributes: usize,
}

impl<R: AsyncRead + Unpin> Counted<'_, R> {
    async fn bytes(&mut self, n: usize) -> Result<Vec<u8>, WireError> {
        if self.read + n > self.limits.max_bytes {
            return Err(WireError::TooLarge(format!(
                "{} bytes",
                self.limits.max_bytes
            )));
        }
        let mut buf = vec![0u8; n];
        self.reader
            .read_exact(&mut buf)
            .await
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::UnexpectedEof => {
                    WireError::Malformed("message ends inside the attributes".into())
                }
                _ => WireError::Io(e),
            })?;
        self.read += n;
        Ok(buf)
    }

    async fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.bytes(1).await?[0])
    }

    async fn u16(&mut self) -> Result<u16, WireError> {
        let b = self.bytes(2).await?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn count_attribute(&mut self) -> Result<(), WireError> {
        self.attributes += 1;
        if self.attributes > self.limits.max_attributes {
            return Err(WireError::TooLarge(format!(
                "{} attributes",
                self.limits.max_attributes
            )));
        }
        Ok(())
    }
}

fn be_i32(b: &[u8]) -> i32 {
    i32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn decode_value(value_tag: u8, data: Vec<u8>) -> Result<Value, WireError> {
    let need = |n: usize| -> Result<(), WireError> {
        if data.len() == n {
            Ok(())
        } else {
            Err(WireError::Malformed(format!(
                "value tag 0x{value_tag:02x} needs {n} bytes, has {}",
                data.len()
            )))
        }
    };
    Ok(match value_tag {
        tag::INTEGER => {
            need(4)?;
            Value::Integer(be_i32(&data))
        }
        tag::ENUM => {
            need(4)?;
            Value::Enum(be_i32(&data))
        }
        tag::BOOLEAN => {
            need(1)?;
            // Anything but 0 and 1 is kept as it came, for `validate_request` to refuse.
            match data[0] {
                0 => Value::Boolean(false),
                1 => Value::Boolean(true),
                _ => Value::Other(tag::BOOLEAN, data),
            }
        }
        tag::DATE_TIME => {
            need(11)?;
            Value::Other(tag::DATE_TIME, data)
        }
        tag::TEXT_WITH_LANGUAGE | tag::NAME_WITH_LANGUAGE => {
            if with_language(&data).is_none() {
                return Err(WireError::Malformed(format!(
                    "value tag 0x{value_tag:02x}: the language and text lengths do not add up"
                )));
            }
            Value::Other(value_tag, data)
        }
        tag::MEMBER_NAME => {
            return Err(WireError::Malformed(
                "a member attribute outside a collection".into(),
            ));
        }
        tag::END_COLLECTION => {
            return Err(WireError::Malformed(
                "an end-collection without a begin-collection".into(),
            ));
        }
        tag::RESOLUTION => {
            need(9)?;
            Value::Resolution {
                x: be_i32(&data[0..4]),
                y: be_i32(&data[4..8]),
                units: data[8],
            }
        }
        tag::RANGE => {
            need(8)?;
            Value::Range(be_i32(&data[0..4]), be_i32(&data[4..8]))
        }
        tag::TEXT
        | tag::NAME
        | tag::KEYWORD
        | tag::URI
        | tag::URI_SCHEME
        | tag::CHARSET
        | tag::LANGUAGE
        | tag::MIME_TYPE => {
            let text = String::from_utf8(data).map_err(|_| {
                WireError::Malformed(format!("value tag 0x{value_tag:02x} is not UTF-8"))
            })?;
            Value::String(value_tag, text)
        }
        0x00..=0x0f => {
            return Err(WireError::Malformed(format!(
                "delimiter 0x{value_tag:02x} where a value tag belongs"
            )));
        }
        other => Value::Other(other, data),
    })
}

/// Reads a request's header and attribute groups, leaving `reader` at the first byte
/// of the document (if any). Refuses anything malformed or past `limits`.
pub async fn read_message<R: AsyncRead + Unpin>(
    reader: &mut R,
    limits: Limits,
) -> Result<Message, WireError> {
    let mut r = Counted {
        reader,
        read: 0,
        limits,
        attributes: 0,
    };
    let head = r.bytes(8).await?;
    let version = (head[0], head[1]);
    let code = u16::from_be_bytes([head[2], head[3]]);
    let request_id = u32::from_be_bytes([head[4], head[5], head[6], head[7]]);
    let mut groups: Vec<Group> = Vec::new();
    let mut current: Option<Group> = None;
    loop {
        let t = r.u8().await?;
        match t {
            group::END => {
                groups.extend(current.take());
                return Ok(Message {
                    version,
                    code,
                    request_id,
                    groups,
                });
            }
            0x00..=0x0f => {
                groups.extend(current.take());
                current = Some(Group::new(t));
            }
            value_tag => {
                let group = current
                    .as_mut()
                    .ok_or_else(|| WireError::Malformed("attribute before any group".into()))?;
                let (name, value) = read_attribute(&mut r, value_tag).await?;
                if name.is_empty() {
                    let last = group.attributes.last_mut().ok_or_else(|| {
                        WireError::Malformed("additional value without an attribute".into())
                    })?;
                    last.values.push(value);
                } else {
                    r.count_attribute()?;
                    group.attributes.push(Attribute {
                        name,
                        values: vec![value],
                    });
                }
            }
        }
    }
}

async fn read_attribute<R: AsyncRead + Unpin>(
    r: &mut Counted<'_, R>,
    value_tag: u8,
) -> Result<(String, Value), WireError> {
    let name_len = r.u16().await? as usize;
    let name = String::from_utf8(r.bytes(name_len).await?)
        .map_err(|_| WireError::Malformed("attribute name is not UTF-8".into()))?;
    let value_len = r.u16().await? as usize;
    let data = r.bytes(value_len).await?;
    if value_tag == tag::BEGIN_COLLECTION {
        if !data.is_empty() {
            return Err(WireError::Malformed(
                "a begin-collection value must be empty".into(),
            ));
        }
        let members = Box::pin(read_collection(r, 1)).await?;
        return Ok((name, Value::Collection(members)));
    }
    Ok((name, decode_value(value_tag, data)?))
}

/// Reads collection members up to the matching endCollection (RFC 8010 §3.1.6).
async fn read_collection<R: AsyncRead + Unpin>(
    r: &mut Counted<'_, R>,
    depth: usize,
) -> Result<Vec<Attribute>, WireError> {
    if depth > r.limits.max_depth {
        return Err(WireError::TooLarge(format!(
            "collections nested deeper than {}",
            r.limits.max_depth
        )));
    }
    let mut members: Vec<Attribute> = Vec::new();
    let mut pending_name: Option<String> = None;
    loop {
        let value_tag = r.u8().await?;
        if value_tag <= 0x0f {
            return Err(WireError::Malformed(
                "group delimiter inside a collection".into(),
            ));
        }
        let name_len = r.u16().await? as usize;
        let name = r.bytes(name_len).await?;
        let value_len = r.u16().await? as usize;
        let data = r.bytes(value_len).await?;
        // Inside a collection only the memberAttrName carries a name, as its value
        // (RFC 8010 §3.1.6–3.1.7); every other name field is empty.
        if !name.is_empty() {
            return Err(WireError::Malformed(
                "a name inside a collection (members are named by memberAttrName)".into(),
            ));
        }
        match value_tag {
            tag::END_COLLECTION => {
                if pending_name.is_some() {
                    return Err(WireError::Malformed("member name without a value".into()));
                }
                if !data.is_empty() {
                    return Err(WireError::Malformed(
                        "an end-collection value must be empty".into(),
                    ));
                }
                return Ok(members);
            }
            tag::MEMBER_NAME => {
                if pending_name.is_some() {
                    return Err(WireError::Malformed("member name without a value".into()));
                }
                if data.is_empty() {
                    return Err(WireError::Malformed("an empty member name".into()));
                }
                r.count_attribute()?;
                let name = String::from_utf8(data)
                    .map_err(|_| WireError::Malformed("member name is not UTF-8".into()))?;
                pending_name = Some(name);
            }
            tag::BEGIN_COLLECTION => {
                if !data.is_empty() {
                    return Err(WireError::Malformed(
                        "a begin-collection value must be empty".into(),
                    ));
                }
                let inner = Box::pin(read_collection(r, depth + 1)).await?;
                push_member(&mut members, &mut pending_name, Value::Collection(inner))?;
            }
            other => push_member(&mut members, &mut pending_name, decode_value(other, data)?)?,
        }
    }
}

/// A value after a member name starts that member; a value without one adds to the
/// previous member (a 1setOf member, which some decoders lose).
fn push_member(
    members: &mut Vec<Attribute>,
    pending: &mut Option<String>,
    value: Value,
) -> Result<(), WireError> {
    match pending.take() {
        Some(name) => members.push(Attribute {
            name,
            values: vec![value],
        }),
        None => members
            .last_mut()
            .ok_or_else(|| WireError::Malformed("collection value without a member name".into()))?
            .values
            .push(value),
    }
    Ok(())
}

/// Splits a textWithLanguage or nameWithLanguage value (RFC 8010 §3.9) into its
/// language and text octets; `None` when the lengths inside do not add up.
pub fn with_language(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let language_len = usize::from(u16::from_be_bytes([*data.first()?, *data.get(1)?]));
    let rest = data.get(2..)?;
    let language = rest.get(..language_len)?;
    let rest = rest.get(language_len..)?;
    let text_len = usize::from(u16::from_be_bytes([*rest.first()?, *rest.get(1)?]));
    let text = rest.get(2..)?;
    (text.len() == text_len).then_some((language, text))
}

fn put_str(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len().min(u16::MAX as usize) as u16).to_be_bytes());
    out.extend_from_slice(&bytes[..bytes.len().min(u16::MAX as usize)]);
}

fn encode_value(out: &mut Vec<u8>, name: &str, value: &Value) {
    out.push(value.tag());
    put_str(out, name.as_bytes());
    match value {
        Value::Integer(n) | Value::Enum(n) => put_str(out, &n.to_be_bytes()),
        Value::Boolean(b) => put_str(out, &[u8::from(*b)]),
        Value::String(_, s) => put_str(out, s.as_bytes()),
        Value::Resolution { x, y, units } => {
            let mut b = Vec::with_capacity(9);
            b.extend_from_slice(&x.to_be_bytes());
            b.extend_from_slice(&y.to_be_bytes());
            b.push(*units);
            put_str(out, &b);
        }
        Value::Range(lo, hi) => {
            let mut b = lo.to_be_bytes().to_vec();
            b.extend_from_slice(&hi.to_be_bytes());
            put_str(out, &b);
        }
        Value::Collection(members) => {
            put_str(out, &[]);
            for member in members {
                out.push(tag::MEMBER_NAME);
                put_str(out, &[]);
                put_str(out, member.name.as_bytes());
                for (i, v) in member.values.iter().enumerate() {
                    let _ = i;
                    encode_value(out, "", v);
                }
            }
            out.push(tag::END_COLLECTION);
            put_str(out, &[]);
            put_str(out, &[]);
        }
        Value::Other(_, data) => put_str(out, data),
    }
}

/// Encodes a message (header, groups, end-of-attributes).
pub fn encode(message: &Message) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024);
    out.push(message.version.0);
    out.push(message.version.1);
    out.extend_from_slice(&message.code.to_be_bytes());
    out.extend_from_slice(&message.request_id.to_be_bytes());
    for group in &message.groups {
        out.push(group.tag);
        for attribute in &group.attributes {
            for (i, value) in attribute.values.iter().enumerate() {
                encode_value(&mut out, if i == 0 { &attribute.name } else { "" }, value);
            }
        }
    }
    out.push(group::END);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Message {
        let mut op = Group::new(group::OPERATION);
        op.push(Attribute::new(
            "attributes-charset",
            Value::String(tag::CHARSET, "utf-8".into()),
        ));
        op.push(Attribute::many(
            "requested-attributes",
            vec![Value::keyword("all"), Value::keyword("media-col-database")],
        ));
        let mut job = Group::new(group::JOB);
        job.push(Attribute::new("copies", Value::Integer(2)));
        job.push(Attribute::new(
            "media-col",
            Value::Collection(vec![
                Attribute::new(
                    "media-size",
                    Value::Collection(vec![
                        Attribute::new("x-dimension", Value::Integer(21000)),
                        Attribute::new("y-dimension", Value::Integer(29700)),
                    ]),
                ),
                Attribute::many(
                    "media-source-properties",
                    vec![Value::keyword("one"), Value::keyword("two")],
                ),
            ]),
        ));
        job.push(Attribute::new(
            "printer-resolution",
            Value::Resolution {
                x: 300,
                y: 300,
                units: 3,
            },
        ));
        Message {
            version: (2, 0),
            code: 0x0002,
            request_id: 7,
            groups: vec![op, job],
        }
    }

    fn attr(value_tag: u8, name: &str, value: &[u8]) -> Vec<u8> {
        let mut b = vec![value_tag];
        b.extend_from_slice(&(name.len() as u16).to_be_bytes());
        b.extend_from_slice(name.as_bytes());
        b.extend_from_slice(&(value.len() as u16).to_be_bytes());
        b.extend_from_slice(value);
        b
    }

    /// A request: header, the operation group's charset and language, `body`, end.
    fn request(body: &[u8]) -> Vec<u8> {
        let mut b = vec![2, 0, 0, 2, 0, 0, 0, 1, group::OPERATION];
        b.extend(attr(tag::CHARSET, "attributes-charset", b"utf-8"));
        b.extend(attr(tag::LANGUAGE, "attributes-natural-language", b"en"));
        b.extend_from_slice(body);
        b.push(group::END);
        b
    }

    fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
        parts.concat()
    }

    #[derive(Debug, PartialEq)]
    enum Outcome {
        Accepted,
        Malformed,
        Refused(u16),
    }

    async fn strict(body: &[u8]) -> Outcome {
        match read_message(&mut request(body).as_slice(), Limits::default()).await {
            Err(WireError::Malformed(_)) => Outcome::Malformed,
            Err(e) => panic!("unexpected {e}"),
            Ok(message) => match validate_request(&message) {
                Ok(()) => Outcome::Accepted,
                Err(WireError::Refused { status, .. }) => Outcome::Refused(status),
                Err(e) => panic!("unexpected {e}"),
            },
        }
    }

    fn with_lang(language: &[u8], text: &[u8]) -> Vec<u8> {
        let mut v = (language.len() as u16).to_be_bytes().to_vec();
        v.extend_from_slice(language);
        v.extend_from_slice(&(text.len() as u16).to_be_bytes());
        v.extend_from_slice(text);
        v
    }

    fn collection(members: &[Vec<u8>]) -> Vec<u8> {
        let mut b = attr(tag::BEGIN_COLLECTION, "media-col", b"");
        for m in members {
            b.extend_from_slice(m);
        }
        b.extend(attr(tag::END_COLLECTION, "", b""));
        b
    }

    #[tokio::test]
    async fn the_decoder_refuses_what_cannot_be_read_as_ipp_in_requests_and_replies() {
        use Outcome::Malformed;
        let member = |name: &[u8]| attr(tag::MEMBER_NAME, "", name);
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("boolean of 2 octets", attr(tag::BOOLEAN, "b", &[0, 1])),
            ("integer of 3 octets", attr(tag::INTEGER, "i", &[0, 0, 1])),
            ("enum of 5 octets", attr(tag::ENUM, "e", &[0, 0, 0, 0, 3])),
            ("rangeOfInteger of 7", attr(tag::RANGE, "r", &[0; 7])),
            ("resolution of 8", attr(tag::RESOLUTION, "r", &[0; 8])),
            ("dateTime of 10", attr(tag::DATE_TIME, "d", &[0; 10])),
            ("dateTime of 12", attr(tag::DATE_TIME, "d", &[0; 12])),
            (
                "textWithLanguage of 3",
                attr(tag::TEXT_WITH_LANGUAGE, "t", &[0, 0, 0]),
            ),
            (
                "textWithLanguage lengths",
                attr(
                    tag::TEXT_WITH_LANGUAGE,
                    "t",
                    &[0, 2, b'e', b'n', 0, 5, b'x'],
                ),
            ),
            (
                "member outside a collection",
                cat(&[attr(tag::KEYWORD, "k", b"v"), member(b"m")]),
            ),
            (
                "end-collection without a begin",
                attr(tag::END_COLLECTION, "", b""),
            ),
            (
                "begin-collection with a value",
                attr(tag::BEGIN_COLLECTION, "c", b"x"),
            ),
            (
                "begin without an end",
                cat(&[
                    attr(tag::BEGIN_COLLECTION, "c", b""),
                    member(b"m"),
                    attr(tag::KEYWORD, "", b"v"),
                ]),
            ),
            (
                "member value with a name",
                collection(&[member(b"m"), attr(tag::KEYWORD, "m", b"v")]),
            ),
            (
                "memberAttrName with a name",
                collection(&[
                    attr(tag::MEMBER_NAME, "m", b"m"),
                    attr(tag::KEYWORD, "", b"v"),
                ]),
            ),
            (
                "empty memberAttrName",
                collection(&[member(b""), attr(tag::KEYWORD, "", b"v")]),
            ),
            (
                "two member names in a row",
                collection(&[member(b"a"), member(b"b"), attr(tag::KEYWORD, "", b"v")]),
            ),
            (
                "end-collection with a value",
                cat(&[
                    attr(tag::BEGIN_COLLECTION, "c", b""),
                    member(b"m"),
                    attr(tag::KEYWORD, "", b"v"),
                    attr(tag::END_COLLECTION, "", b"x"),
                ]),
            ),
            (
                "value without a member name",
                collection(&[attr(tag::KEYWORD, "", b"v")]),
            ),
            ("text not UTF-8", attr(tag::TEXT, "t", &[0xff])),
            (
                "additional value first",
                cat(&[vec![group::JOB], attr(tag::KEYWORD, "", b"v")]),
            ),
        ];
        for (name, body) in cases {
            assert_eq!(strict(&body).await, Malformed, "{name}");
        }
    }

    #[tokio::test]
    async fn requests_are_refused_as_rfc_8010_and_8011_say() {
        use crate::ipp::status::{
            ATTRIBUTES_OR_VALUES_NOT_SUPPORTED as UNSUPPORTED, BAD_REQUEST as BAD,
            REQUEST_VALUE_TOO_LONG as LONG,
        };
        use Outcome::Refused;
        let long = |n: usize| vec![b'a'; n];
        let member = |name: &[u8]| attr(tag::MEMBER_NAME, "", name);
        let date = |month: u8| [7, 234, month, 7, 13, 0, 0, 0, b'+', 0, 0];
        let cases: Vec<(&str, Vec<u8>, Outcome)> = vec![
            (
                "duplicate attribute",
                cat(&[
                    attr(tag::NAME, "job-name", b"a"),
                    attr(tag::NAME, "job-name", b"b"),
                ]),
                Refused(BAD),
            ),
            (
                "duplicate in the job group",
                cat(&[
                    vec![group::JOB],
                    attr(tag::INTEGER, "copies", &1i32.to_be_bytes()),
                    attr(tag::INTEGER, "copies", &2i32.to_be_bytes()),
                ]),
                Refused(BAD),
            ),
            (
                "duplicate member",
                collection(&[
                    member(b"m"),
                    attr(tag::KEYWORD, "", b"v"),
                    member(b"m"),
                    attr(tag::KEYWORD, "", b"w"),
                ]),
                Refused(BAD),
            ),
            (
                "text 1024",
                attr(tag::TEXT, "t", &long(1024)),
                Refused(LONG),
            ),
            ("name 256", attr(tag::NAME, "n", &long(256)), Refused(LONG)),
            (
                "keyword 256",
                attr(tag::KEYWORD, "k", &long(256)),
                Refused(LONG),
            ),
            (
                "uri 1024",
                attr(
                    tag::URI,
                    "u",
                    &[b"https://h/".as_slice(), &long(1014)].concat(),
                ),
                Refused(LONG),
            ),
            (
                "uriScheme 64",
                attr(tag::URI_SCHEME, "s", &long(64)),
                Refused(LONG),
            ),
            (
                "charset 64",
                attr(tag::CHARSET, "c", &long(64)),
                Refused(LONG),
            ),
            (
                "naturalLanguage 64",
                attr(tag::LANGUAGE, "l", &long(64)),
                Refused(LONG),
            ),
            (
                "mimeMediaType 256",
                attr(
                    tag::MIME_TYPE,
                    "m",
                    &[b"a/".as_slice(), &long(254)].concat(),
                ),
                Refused(LONG),
            ),
            (
                "octetString 1024",
                attr(tag::OCTET_STRING, "o", &long(1024)),
                Refused(LONG),
            ),
            (
                "memberAttrName 256",
                collection(&[member(&long(256)), attr(tag::KEYWORD, "", b"v")]),
                Refused(LONG),
            ),
            (
                "textWithLanguage text 1024",
                attr(tag::TEXT_WITH_LANGUAGE, "t", &with_lang(b"en", &long(1024))),
                Refused(LONG),
            ),
            (
                "nameWithLanguage name 256",
                attr(tag::NAME_WITH_LANGUAGE, "n", &with_lang(b"en", &long(256))),
                Refused(LONG),
            ),
            (
                "nameWithLanguage language 64",
                attr(tag::NAME_WITH_LANGUAGE, "n", &with_lang(&long(64), b"x")),
                Refused(LONG),
            ),
            (
                "attribute name 256",
                attr(tag::KEYWORD, &"a".repeat(256), b"v"),
                Refused(BAD),
            ),
            (
                "attribute name with a space",
                attr(tag::KEYWORD, "job name", b"v"),
                Refused(BAD),
            ),
            ("boolean 2", attr(tag::BOOLEAN, "b", &[2]), Refused(BAD)),
            (
                "dateTime month 13",
                attr(tag::DATE_TIME, "d", &date(13)),
                Refused(BAD),
            ),
            (
                "dateTime month 0",
                attr(tag::DATE_TIME, "d", &date(0)),
                Refused(BAD),
            ),
            (
                "range 5-2",
                attr(tag::RANGE, "r", &[0, 0, 0, 5, 0, 0, 0, 2]),
                Refused(UNSUPPORTED),
            ),
            (
                "resolution units 5",
                attr(tag::RESOLUTION, "r", &[0, 0, 1, 44, 0, 0, 1, 44, 5]),
                Refused(BAD),
            ),
            (
                "resolution 0 dpi",
                attr(tag::RESOLUTION, "r", &[0, 0, 0, 0, 0, 0, 1, 44, 3]),
                Refused(BAD),
            ),
            (
                "enum 0",
                attr(tag::ENUM, "finishings", &0i32.to_be_bytes()),
                Refused(BAD),
            ),
            (
                "enum -1",
                attr(tag::ENUM, "x-enum", &(-1i32).to_be_bytes()),
                Refused(BAD),
            ),
            (
                "orientation-requested 99",
                attr(tag::ENUM, "orientation-requested", &99i32.to_be_bytes()),
                Refused(UNSUPPORTED),
            ),
            (
                "printer-state 6",
                attr(tag::ENUM, "printer-state", &6i32.to_be_bytes()),
                Refused(UNSUPPORTED),
            ),
            (
                "delimiter 0x00",
                cat(&[vec![0x00], attr(tag::KEYWORD, "k", b"v")]),
                Refused(BAD),
            ),
            (
                "delimiter 0x0b",
                cat(&[vec![0x0b], attr(tag::KEYWORD, "k", b"v")]),
                Refused(BAD),
            ),
            (
                "delimiter 0x0f",
                cat(&[vec![0x0f], attr(tag::KEYWORD, "k", b"v")]),
                Refused(BAD),
            ),
            (
                "unsupported group in a request",
                cat(&[vec![group::UNSUPPORTED], attr(tag::KEYWORD, "k", b"v")]),
                Refused(BAD),
            ),
            (
                "event group in a request",
                cat(&[
                    vec![group::EVENT_NOTIFICATION],
                    attr(tag::KEYWORD, "k", b"v"),
                ]),
                Refused(BAD),
            ),
            ("value tag 0x11", attr(0x11, "v", b""), Refused(BAD)),
            ("value tag 0x20", attr(0x20, "v", &[0; 4]), Refused(BAD)),
            ("value tag 0x2f", attr(0x2f, "v", &[0; 4]), Refused(BAD)),
            ("value tag 0x38", attr(0x38, "v", b"x"), Refused(BAD)),
            ("value tag 0x40", attr(0x40, "v", b"x"), Refused(BAD)),
            ("value tag 0x43", attr(0x43, "v", b"x"), Refused(BAD)),
            ("value tag 0x4b", attr(0x4b, "v", b"x"), Refused(BAD)),
            ("value tag 0x7e", attr(0x7e, "v", b"x"), Refused(BAD)),
            ("value tag 0xff", attr(0xff, "v", b"x"), Refused(BAD)),
            (
                "extension of 3 octets",
                attr(0x7f, "v", &[0, 0, 1]),
                Refused(BAD),
            ),
            (
                "extension naming tag 0x21",
                attr(0x7f, "v", &[0, 0, 0, 0x21, 0, 0, 0, 1]),
                Refused(BAD),
            ),
            (
                "extension 0x80000000",
                attr(0x7f, "v", &[0x80, 0, 0, 0]),
                Refused(BAD),
            ),
            (
                "extension 0x40000001",
                attr(0x7f, "v", &[0x40, 0, 0, 1, 9]),
                Refused(UNSUPPORTED),
            ),
            (
                "keyword with a space",
                attr(tag::KEYWORD, "k", b"two words"),
                Refused(BAD),
            ),
            ("empty keyword", attr(tag::KEYWORD, "k", b""), Refused(BAD)),
            (
                "uri without a scheme",
                attr(tag::URI, "u", b"no-scheme"),
                Refused(BAD),
            ),
            (
                "uri with a space",
                attr(tag::URI, "u", b"ipp://h/a b"),
                Refused(BAD),
            ),
            (
                "uriScheme with a slash",
                attr(tag::URI_SCHEME, "s", b"ip/p"),
                Refused(BAD),
            ),
            (
                "charset with a space",
                attr(tag::CHARSET, "c", b"utf 8"),
                Refused(BAD),
            ),
            (
                "naturalLanguage with a space",
                attr(tag::LANGUAGE, "l", b"en us"),
                Refused(BAD),
            ),
            (
                "mimeMediaType without a slash",
                attr(tag::MIME_TYPE, "m", b"pdf"),
                Refused(BAD),
            ),
            (
                "1setOf integer and keyword",
                cat(&[
                    attr(tag::INTEGER, "copies", &1i32.to_be_bytes()),
                    attr(tag::KEYWORD, "", b"v"),
                ]),
                Refused(BAD),
            ),
        ];
        for (name, body, want) in cases {
            assert_eq!(strict(&body).await, want, "{name}");
        }
    }

    #[tokio::test]
    async fn valid_requests_pass_the_strict_checks() {
        let long = |n: usize| vec![b'a'; n];
        let member = |name: &[u8]| attr(tag::MEMBER_NAME, "", name);
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("text 1023", attr(tag::TEXT, "t", &long(1023))),
            ("name 255", attr(tag::NAME, "n", &long(255))),
            (
                "the same name in two groups",
                cat(&[
                    attr(tag::KEYWORD, "k", b"v"),
                    vec![group::JOB],
                    attr(tag::KEYWORD, "k", b"v"),
                ]),
            ),
            (
                "the same member name in two collections",
                cat(&[
                    collection(&[member(b"m"), attr(tag::KEYWORD, "", b"v")]),
                    attr(tag::BEGIN_COLLECTION, "", b""),
                    member(b"m"),
                    attr(tag::KEYWORD, "", b"v"),
                    attr(tag::END_COLLECTION, "", b""),
                ]),
            ),
            (
                "name and nameWithLanguage in one 1setOf",
                cat(&[
                    attr(tag::NAME, "n", b"a"),
                    attr(
                        tag::NAME_WITH_LANGUAGE,
                        "",
                        &with_lang(b"de-CH", "Zürich".as_bytes()),
                    ),
                ]),
            ),
            (
                "integer and range in one 1setOf",
                cat(&[
                    attr(tag::INTEGER, "i", &1i32.to_be_bytes()),
                    attr(tag::RANGE, "", &[0, 0, 0, 1, 0, 0, 0, 3]),
                ]),
            ),
            ("no-value", attr(tag::NO_VALUE, "document-format", b"")),
            (
                "dateTime",
                attr(
                    tag::DATE_TIME,
                    "d",
                    &[7, 234, 12, 7, 13, 0, 0, 0, b'-', 5, 0],
                ),
            ),
            (
                "mime with a parameter",
                attr(tag::MIME_TYPE, "m", b"text/plain;charset=utf-8"),
            ),
            (
                "vendor attribute name",
                attr(tag::TEXT, "com.apple.print.JobInfo.PMJobName", b"x"),
            ),
            (
                "subscription group",
                cat(&[
                    vec![group::SUBSCRIPTION],
                    attr(tag::KEYWORD, "notify-pull-method", b"ippget"),
                ]),
            ),
            (
                "finishings vendor value",
                attr(tag::ENUM, "finishings", &0x4000_0001i32.to_be_bytes()),
            ),
        ];
        for (name, body) in cases {
            assert_eq!(strict(&body).await, Outcome::Accepted, "{name}");
        }
        assert_eq!(validate_request(&sample()).ok(), Some(()));
    }

    /// Printers' replies are read without the request rules: duplicates (CUPS itself
    /// sends them), over-long text, odd booleans and reserved tags do not stop a
    /// delivery.
    #[tokio::test]
    async fn replies_that_break_request_rules_still_decode() {
        let body = cat(&[
            vec![group::PRINTER],
            attr(tag::KEYWORD, "printer-state-reasons", b"none"),
            attr(tag::KEYWORD, "printer-state-reasons", b"none"),
            attr(tag::TEXT, "printer-state-message", &vec![b'a'; 4000]),
            attr(tag::BOOLEAN, "color-supported", &[2]),
            attr(0x4b, "vendor-thing", b"x"),
            attr(tag::ENUM, "printer-state", &0i32.to_be_bytes()),
        ]);
        let message = read_message(&mut request(&body).as_slice(), Limits::default())
            .await
            .unwrap();
        let printer = message.group(group::PRINTER).unwrap();
        assert_eq!(printer.attributes.len(), 6);
        assert_eq!(
            printer.attributes[3].first().and_then(Value::as_bool),
            Some(true)
        );
        assert!(validate_request(&message).is_err());
    }

    #[tokio::test]
    async fn messages_round_trip_including_multi_valued_collection_members() {
        let message = sample();
        let mut bytes = encode(&message);
        bytes.extend_from_slice(b"%PDF-document");
        let mut reader = bytes.as_slice();
        let parsed = read_message(&mut reader, Limits::default()).await.unwrap();
        assert_eq!(parsed, message);
        assert_eq!(reader, b"%PDF-document", "the document is left unread");
    }

    #[tokio::test]
    async fn truncated_and_oversized_requests_are_refused() {
        let bytes = encode(&sample());
        for cut in [3, 8, 9, 20, bytes.len() - 1] {
            let err = read_message(&mut &bytes[..cut], Limits::default())
                .await
                .unwrap_err();
            assert!(matches!(err, WireError::Malformed(_)), "cut {cut}: {err}");
        }
        let err = read_message(
            &mut bytes.as_slice(),
            Limits {
                max_attributes: 2,
                ..Limits::default()
            },
        )
        .await
        .unwrap_err();
        assert!(matches!(err, WireError::TooLarge(_)));
        let err = read_message(
            &mut bytes.as_slice(),
            Limits {
                max_depth: 1,
                ..Limits::default()
            },
        )
        .await
        .unwrap_err();
        assert!(matches!(err, WireError::TooLarge(_)));
        // A length pointing past the end.
        let mut bad = bytes[..9].to_vec();
        bad.extend_from_slice(&[tag::KEYWORD, 0x00, 0x04, b'a', b'b', b'c', b'd', 0xff, 0xff]);
        assert!(
            read_message(&mut bad.as_slice(), Limits::default())
                .await
                .is_err()
        );
        // An integer with the wrong length.
        let mut bad = bytes[..9].to_vec();
        bad.extend_from_slice(&[tag::INTEGER, 0x00, 0x01, b'n', 0x00, 0x02, 0, 1, group::END]);
        assert!(matches!(
            read_message(&mut bad.as_slice(), Limits::default()).await,
            Err(WireError::Malformed(_))
        ));
    }
}
