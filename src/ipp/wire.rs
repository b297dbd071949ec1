//! The IPP/1.1–2.0 binary encoding (RFC 8010): our own small codec, so that request
//! attributes are read with hard limits from a stream and the document that follows
//! them is left unread for intake to stream.

use tokio::io::{AsyncRead, AsyncReadExt};

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

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Boolean(b) => Some(*b),
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
            Value::Boolean(data[0] != 0)
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
        let _ = r.bytes(name_len).await?;
        let value_len = r.u16().await? as usize;
        let data = r.bytes(value_len).await?;
        match value_tag {
            tag::END_COLLECTION => {
                if pending_name.is_some() {
                    return Err(WireError::Malformed("member name without a value".into()));
                }
                return Ok(members);
            }
            tag::MEMBER_NAME => {
                r.count_attribute()?;
                let name = String::from_utf8(data)
                    .map_err(|_| WireError::Malformed("member name is not UTF-8".into()))?;
                pending_name = Some(name);
            }
            tag::BEGIN_COLLECTION => {
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
