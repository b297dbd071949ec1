//! Whether a parsed PDF paints in colour, judged from what its pages draw: the page
//! contents and everything they call — form XObjects (CUPS' `pdftopdf` wraps every
//! page in one, Quartz and Microsoft Print to PDF nest them), images (ICCBased,
//! Indexed, Separation and DeviceN spaces; inline images), shadings (`sh`, shading
//! patterns) and tiling patterns. It runs only in the analyser worker (see pdf.rs).
//!
//! The rule is the one the analyser always had, and the one Ghostscript's `inkcov`
//! agrees with: grey is not colour, whatever space it is written in — r = g = b in RGB,
//! c = m = y = 0 in CMYK, a = b = 0 in Lab, a table of greys in Indexed, a black or
//! grey-alternate Separation. Setting a colour counts as painting it.
//!
//! Hostile files: forms may call each other in a loop (a path set stops it) or nest
//! without end (a depth limit), and a small file can inflate to gigabytes or hold
//! millions of operators (a budget of decoded bytes, operators and time). A budget
//! running out gives "unknown", never a guess.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use lopdf::content::Content;
use lopdf::{Dictionary, Document, Object, ObjectId, Stream};

/// Form and pattern nesting followed at most (a real document uses a few levels).
const MAX_DEPTH: usize = 24;
/// Page content decoded per page, at most (a content "bomb" stops here).
const MAX_PAGE_CONTENT: usize = 64 * 1024 * 1024;
/// Content and image bytes decoded for one document, in total.
const MAX_DECODED: usize = 256 * 1024 * 1024;
/// Content operators looked at for one document, in total.
const MAX_OPERATIONS: u64 = 20_000_000;
/// Time for one document (the parent gives up on the worker at 20 s).
const MAX_TIME: Duration = Duration::from_secs(12);
/// Colour-space definitions nest (Indexed over ICCBased, Pattern over a base): a few.
const MAX_SPACE_DEPTH: usize = 4;
/// Stitching functions nest.
const MAX_FUNCTION_DEPTH: usize = 8;
/// Graphics-state stack kept (deeper `q` are counted, not stored).
const MAX_STATE_STACK: usize = 64;

/// Why the walk stopped without a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// Decoded bytes, operators, time or depth ran out.
    Limit,
    /// A page's content could not be read at all.
    Unreadable,
}

/// Some(true) when any page paints in colour, Some(false) when every page was read
/// and none does, None when a page could not be read or a limit ran out.
pub(super) fn document_uses_color(doc: &Document) -> Option<bool> {
    let pages = doc.get_pages();
    if pages.is_empty() {
        return None;
    }
    let mut walker = Walker::new(doc);
    for page in pages.values() {
        match walker.page(*page) {
            Ok(true) => return Some(true),
            Ok(false) => {}
            Err(Stop::Limit | Stop::Unreadable) => return None,
        }
    }
    Some(false)
}

/// A colour space, as far as colour is concerned.
#[derive(Debug, Clone, PartialEq)]
enum Space {
    Gray,
    Rgb,
    Cmyk,
    Lab,
    /// Every colour in it is colour (true) or none is (false): Indexed, Separation,
    /// DeviceN, and unknown spaces (judged colour).
    Fixed(bool),
    /// A pattern; uncoloured patterns take their colour in the base space.
    Pattern(Option<Box<Space>>),
}

impl Space {
    /// Whether these components, in this space, are a colour (not a grey).
    fn judges(&self, c: &[f32]) -> bool {
        let close = |a: f32, b: f32| (a - b).abs() < 0.01;
        match self {
            Space::Gray => false,
            Space::Rgb => c.len() >= 3 && !(close(c[0], c[1]) && close(c[1], c[2])),
            Space::Cmyk => {
                c.len() >= 4 && !(close(c[0], 0.0) && close(c[1], 0.0) && close(c[2], 0.0))
            }
            Space::Lab => c.len() >= 3 && !(close(c[1], 0.0) && close(c[2], 0.0)),
            Space::Fixed(colour) => *colour,
            Space::Pattern(_) => false,
        }
    }

    /// Components of one colour in this space (for Indexed lookup tables).
    fn components(&self) -> usize {
        match self {
            Space::Gray | Space::Fixed(_) | Space::Pattern(_) => 1,
            Space::Rgb | Space::Lab => 3,
            Space::Cmyk => 4,
        }
    }
}

/// The colour spaces in force (the parts of the graphics state colour depends on).
#[derive(Debug, Clone)]
struct State {
    fill: Space,
    stroke: Space,
}

impl Default for State {
    fn default() -> Self {
        Self {
            fill: Space::Gray,
            stroke: Space::Gray,
        }
    }
}

struct Walker<'a> {
    doc: &'a Document,
    decoded: usize,
    operations: u64,
    started: Instant,
    /// Forms and tiling patterns being walked now (a loop back to one is skipped).
    path: HashSet<ObjectId>,
    /// Forms and patterns already found to paint no colour (walked once).
    mono: HashSet<ObjectId>,
}

impl<'a> Walker<'a> {
    fn new(doc: &'a Document) -> Self {
        Self {
            doc,
            decoded: 0,
            operations: 0,
            started: Instant::now(),
            path: HashSet::new(),
            mono: HashSet::new(),
        }
    }

    fn page(&mut self, page: ObjectId) -> Result<bool, Stop> {
        let room = MAX_DECODED
            .saturating_sub(self.decoded)
            .min(MAX_PAGE_CONTENT);
        let content = match self.doc.get_page_content_with_limit(page, room) {
            Ok(content) => content,
            Err(lopdf::Error::Decompress(_)) => return Err(Stop::Limit),
            Err(_) => return Err(Stop::Unreadable),
        };
        self.decoded += content.len();
        let resources = page_resources(self.doc, page);
        let decoded = Content::decode(&content).map_err(|_| Stop::Unreadable)?;
        self.content(&decoded, &content, resources, 0)
    }

    /// Whether `content` (decoded from `raw`) paints colour, with `resources`.
    fn content(
        &mut self,
        content: &Content,
        raw: &[u8],
        resources: Option<&'a Dictionary>,
        depth: usize,
    ) -> Result<bool, Stop> {
        let mut state = State::default();
        let mut stack: Vec<State> = Vec::new();
        let mut unstored_saves = 0usize;
        let mut inline_headers: Option<Vec<InlineHeader>> = None;
        let mut inline_seen = 0usize;
        for op in &content.operations {
            self.operations += 1;
            if self.operations > MAX_OPERATIONS
                || (self.operations.is_multiple_of(4096) && self.started.elapsed() > MAX_TIME)
            {
                return Err(Stop::Limit);
            }
            let numbers: Vec<f32> = op
                .operands
                .iter()
                .filter_map(|o| o.as_float().ok())
                .collect();
            let colour = match op.operator.as_str() {
                "q" => {
                    if stack.len() < MAX_STATE_STACK {
                        stack.push(state.clone());
                    } else {
                        unstored_saves += 1;
                    }
                    false
                }
                "Q" => {
                    if unstored_saves > 0 {
                        unstored_saves -= 1;
                    } else if let Some(saved) = stack.pop() {
                        state = saved;
                    }
                    false
                }
                "g" => {
                    state.fill = Space::Gray;
                    false
                }
                "G" => {
                    state.stroke = Space::Gray;
                    false
                }
                "rg" => {
                    state.fill = Space::Rgb;
                    Space::Rgb.judges(&numbers)
                }
                "RG" => {
                    state.stroke = Space::Rgb;
                    Space::Rgb.judges(&numbers)
                }
                "k" => {
                    state.fill = Space::Cmyk;
                    Space::Cmyk.judges(&numbers)
                }
                "K" => {
                    state.stroke = Space::Cmyk;
                    Space::Cmyk.judges(&numbers)
                }
                "cs" | "CS" => {
                    let space = match op.operands.first() {
                        Some(name) => self.space(name, resources, 0),
                        None => Space::Fixed(true),
                    };
                    if op.operator == "cs" {
                        state.fill = space;
                    } else {
                        state.stroke = space;
                    }
                    false
                }
                "sc" | "scn" | "SC" | "SCN" => {
                    let space = if op.operator.starts_with('s') {
                        state.fill.clone()
                    } else {
                        state.stroke.clone()
                    };
                    self.set_colour(&space, &numbers, op.operands.last(), resources, depth)?
                }
                "sh" => match op.operands.first().and_then(|o| o.as_name().ok()) {
                    Some(name) => match resource(self.doc, resources, b"Shading", name) {
                        Some(shading) => self.shading(shading, resources),
                        None => false,
                    },
                    None => false,
                },
                "Do" => match op.operands.first().and_then(|o| o.as_name().ok()) {
                    Some(name) => self.xobject(name, resources, depth)?,
                    None => false,
                },
                "BI" => {
                    let nth = inline_seen;
                    inline_seen += 1;
                    match op.operands.first() {
                        Some(Object::Stream(image)) => self.image(&image.dict, resources, None),
                        // lopdf skips inline images it cannot decode (filtered ones):
                        // their header is read from the raw content instead.
                        _ => {
                            let headers =
                                inline_headers.get_or_insert_with(|| inline_image_headers(raw));
                            match headers.get(nth) {
                                Some(header) => self.inline_header(header, resources),
                                None => true,
                            }
                        }
                    }
                }
                _ => false,
            };
            if colour {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// `sc`/`scn`: numbers in the current space, or a pattern name.
    fn set_colour(
        &mut self,
        space: &Space,
        numbers: &[f32],
        last: Option<&Object>,
        resources: Option<&'a Dictionary>,
        depth: usize,
    ) -> Result<bool, Stop> {
        let Space::Pattern(base) = space else {
            return Ok(space.judges(numbers));
        };
        let Some(name) = last.and_then(|o| o.as_name().ok()) else {
            return Ok(false);
        };
        let Some((id, pattern)) = resource_with_id(self.doc, resources, b"Pattern", name) else {
            return Ok(false);
        };
        let dict = match pattern {
            Object::Dictionary(d) => d,
            Object::Stream(s) => &s.dict,
            _ => return Ok(false),
        };
        match dict.get(b"PatternType").and_then(Object::as_i64) {
            Ok(2) => Ok(dict
                .get(b"Shading")
                .ok()
                .is_some_and(|shading| self.shading(shading, resources))),
            Ok(1) => {
                // Uncoloured (PaintType 2): the colour is the components given here.
                if dict.get(b"PaintType").and_then(Object::as_i64).ok() == Some(2) {
                    return Ok(base.as_ref().is_some_and(|base| base.judges(numbers)));
                }
                match pattern {
                    Object::Stream(stream) => self.form(id, stream, resources, depth),
                    _ => Ok(false),
                }
            }
            _ => Ok(false),
        }
    }

    fn xobject(
        &mut self,
        name: &[u8],
        resources: Option<&'a Dictionary>,
        depth: usize,
    ) -> Result<bool, Stop> {
        let Some((id, Object::Stream(stream))) =
            resource_with_id(self.doc, resources, b"XObject", name)
        else {
            return Ok(false);
        };
        match stream.dict.get(b"Subtype").and_then(Object::as_name) {
            Ok(b"Image") => Ok(self.image(&stream.dict, resources, Some(stream))),
            Ok(b"Form") => self.form(id, stream, resources, depth),
            _ => Ok(false),
        }
    }

    /// A form XObject or a tiling pattern: its content with its own resources (or the
    /// caller's, which older files rely on).
    fn form(
        &mut self,
        id: Option<ObjectId>,
        stream: &'a Stream,
        inherited: Option<&'a Dictionary>,
        depth: usize,
    ) -> Result<bool, Stop> {
        if depth + 1 > MAX_DEPTH {
            return Err(Stop::Limit);
        }
        if let Some(id) = id {
            if self.mono.contains(&id) || self.path.contains(&id) {
                return Ok(false);
            }
            self.path.insert(id);
        }
        let outcome = self.form_content(stream, inherited, depth);
        if let Some(id) = id {
            self.path.remove(&id);
            if outcome == Ok(false) {
                self.mono.insert(id);
            }
        }
        outcome
    }

    fn form_content(
        &mut self,
        stream: &'a Stream,
        inherited: Option<&'a Dictionary>,
        depth: usize,
    ) -> Result<bool, Stop> {
        let room = MAX_DECODED.saturating_sub(self.decoded);
        let raw = match stream.decompressed_content_with_limit(room) {
            Ok(raw) => raw,
            Err(lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded {
                ..
            })) => return Err(Stop::Limit),
            // A broken form paints nothing a printer shows either.
            Err(_) => return Ok(false),
        };
        self.decoded += raw.len();
        let resources = stream
            .dict
            .get(b"Resources")
            .ok()
            .and_then(|r| self.doc.dereference(r).ok())
            .and_then(|(_, r)| r.as_dict().ok())
            .or(inherited);
        let Ok(content) = Content::decode(&raw) else {
            return Ok(false);
        };
        self.content(&content, &raw, resources, depth + 1)
    }

    /// An image XObject's or inline image's dictionary (`stream` when its pixels can
    /// be looked at).
    fn image(
        &mut self,
        dict: &Dictionary,
        resources: Option<&'a Dictionary>,
        stream: Option<&Stream>,
    ) -> bool {
        let mask = dict
            .get(b"ImageMask")
            .or_else(|_| dict.get(b"IM"))
            .and_then(Object::as_bool)
            .unwrap_or(false);
        if mask {
            // Painted in the fill colour, judged when it was set.
            return false;
        }
        let Ok(space) = dict.get(b"ColorSpace").or_else(|_| dict.get(b"CS")) else {
            // JPEG 2000 carries its space inside; without one there is nothing to judge.
            return false;
        };
        let space = self.space(space, resources, 0);
        match space {
            Space::Rgb | Space::Cmyk => match stream {
                Some(stream) => self.pixels_are_colour(dict, stream, &space),
                None => true,
            },
            other => other.judges(&[1.0, 0.0, 0.0, 0.0]) || matches!(other, Space::Lab),
        }
    }

    /// An RGB or CMYK image: grey pixels written in colour spaces are common (phones,
    /// Quartz), so 8-bit images this side can decode are looked at pixel by pixel;
    /// others (JPEG) count as colour.
    fn pixels_are_colour(&mut self, dict: &Dictionary, stream: &Stream, space: &Space) -> bool {
        let eight_bits = dict.get(b"BitsPerComponent").and_then(Object::as_i64).ok() == Some(8);
        let decodable = stream
            .filters()
            .map(|f| {
                f.iter()
                    .all(|f| matches!(*f, b"FlateDecode" | b"LZWDecode"))
            })
            // No filter: the pixels as they are.
            .unwrap_or(true);
        if !eight_bits || !decodable || dict.has(b"Decode") {
            return true;
        }
        let room = MAX_DECODED.saturating_sub(self.decoded);
        let Ok(pixels) = stream.decompressed_content_with_limit(room) else {
            return true;
        };
        self.decoded += pixels.len();
        let n = space.components();
        pixels.chunks_exact(n).any(|px| {
            let c: Vec<f32> = px.iter().map(|b| f32::from(*b) / 255.0).collect();
            space.judges(&c)
        })
    }

    /// An inline image whose header came from the raw content.
    fn inline_header(&mut self, header: &InlineHeader, resources: Option<&'a Dictionary>) -> bool {
        if header.mask {
            return false;
        }
        match &header.space {
            Some(space) => {
                let space = self.space(space, resources, 0);
                // Filtered pixels are not decoded here: an RGB/CMYK one counts as colour.
                match space {
                    Space::Rgb | Space::Cmyk | Space::Lab => true,
                    other => other.judges(&[1.0, 0.0, 0.0, 0.0]),
                }
            }
            None => false,
        }
    }

    /// A shading dictionary or stream (`sh`, shading patterns).
    fn shading(&mut self, shading: &'a Object, resources: Option<&'a Dictionary>) -> bool {
        let Ok((_, shading)) = self.doc.dereference(shading) else {
            return false;
        };
        let dict = match shading {
            Object::Dictionary(d) => d,
            Object::Stream(s) => &s.dict,
            _ => return false,
        };
        let Ok(space) = dict.get(b"ColorSpace") else {
            return false;
        };
        let space = self.space(space, resources, 0);
        match space {
            Space::Rgb | Space::Cmyk | Space::Lab => match dict.get(b"Function") {
                Ok(function) => self.function_is_colour(function, &space, 0),
                // Mesh shadings carry colours per vertex: not decoded, counted colour.
                Err(_) => true,
            },
            other => other.judges(&[1.0, 0.0, 0.0, 0.0]),
        }
    }

    /// Whether a shading function's outputs in `space` are colour. Exponential
    /// functions (the usual gradient) are judged by both ends; stitching functions by
    /// their parts; sampled and PostScript functions count as colour.
    fn function_is_colour(&self, function: &Object, space: &Space, depth: usize) -> bool {
        if depth > MAX_FUNCTION_DEPTH {
            return true;
        }
        let Ok((_, function)) = self.doc.dereference(function) else {
            return true;
        };
        let dict = match function {
            Object::Dictionary(d) => d,
            Object::Stream(s) => &s.dict,
            // One function per component: not judged.
            _ => return true,
        };
        match dict.get(b"FunctionType").and_then(Object::as_i64) {
            Ok(2) => {
                let end = |key: &[u8], default: f32| -> Vec<f32> {
                    match dict.get(key).and_then(Object::as_array) {
                        Ok(values) => values.iter().filter_map(|v| v.as_float().ok()).collect(),
                        Err(_) => vec![default],
                    }
                };
                space.judges(&end(b"C0", 0.0)) || space.judges(&end(b"C1", 1.0))
            }
            Ok(3) => match dict.get(b"Functions").and_then(Object::as_array) {
                Ok(parts) => parts
                    .iter()
                    .any(|part| self.function_is_colour(part, space, depth + 1)),
                Err(_) => true,
            },
            _ => true,
        }
    }

    /// A colour space from its name (a device space, or an entry of the resources'
    /// ColorSpace dictionary) or its array.
    fn space(&self, object: &Object, resources: Option<&'a Dictionary>, depth: usize) -> Space {
        if depth > MAX_SPACE_DEPTH {
            return Space::Fixed(true);
        }
        let Ok((_, object)) = self.doc.dereference(object) else {
            return Space::Fixed(true);
        };
        match object {
            Object::Name(name) => match name.as_slice() {
                b"DeviceGray" | b"G" | b"CalGray" => Space::Gray,
                b"DeviceRGB" | b"RGB" => Space::Rgb,
                b"DeviceCMYK" | b"CMYK" => Space::Cmyk,
                b"Pattern" => Space::Pattern(None),
                other => match resource(self.doc, resources, b"ColorSpace", other) {
                    Some(defined) => self.space(defined, resources, depth + 1),
                    None => Space::Fixed(true),
                },
            },
            Object::Array(parts) => self.space_array(parts, resources, depth),
            _ => Space::Fixed(true),
        }
    }

    fn space_array(
        &self,
        parts: &[Object],
        resources: Option<&'a Dictionary>,
        depth: usize,
    ) -> Space {
        let family = parts
            .first()
            .and_then(|f| f.as_name().ok())
            .unwrap_or_default();
        match family {
            b"DeviceGray" | b"G" | b"CalGray" => Space::Gray,
            b"DeviceRGB" | b"RGB" | b"CalRGB" => Space::Rgb,
            b"DeviceCMYK" | b"CMYK" => Space::Cmyk,
            b"Lab" => Space::Lab,
            b"ICCBased" => {
                let stream = parts
                    .get(1)
                    .and_then(|s| self.doc.dereference(s).ok())
                    .and_then(|(_, s)| s.as_stream().ok());
                match stream.and_then(|s| s.dict.get(b"N").and_then(Object::as_i64).ok()) {
                    Some(1) => Space::Gray,
                    Some(3) => Space::Rgb,
                    Some(4) => Space::Cmyk,
                    _ => match stream.and_then(|s| s.dict.get(b"Alternate").ok()) {
                        Some(alternate) => self.space(alternate, resources, depth + 1),
                        None => Space::Fixed(true),
                    },
                }
            }
            b"Indexed" | b"I" => {
                let base = match parts.get(1) {
                    Some(base) => self.space(base, resources, depth + 1),
                    None => return Space::Fixed(true),
                };
                match base {
                    Space::Gray => Space::Fixed(false),
                    Space::Rgb | Space::Cmyk => {
                        let table = parts.get(3).and_then(|t| self.lookup_table(t));
                        match table {
                            Some(table) => Space::Fixed(
                                table
                                    .chunks_exact(base.components())
                                    .map(|entry| {
                                        entry
                                            .iter()
                                            .map(|b| f32::from(*b) / 255.0)
                                            .collect::<Vec<_>>()
                                    })
                                    .any(|entry| base.judges(&entry)),
                            ),
                            None => Space::Fixed(true),
                        }
                    }
                    Space::Fixed(colour) => Space::Fixed(colour),
                    Space::Lab | Space::Pattern(_) => Space::Fixed(true),
                }
            }
            b"Separation" => {
                let name = parts
                    .get(1)
                    .and_then(|n| n.as_name().ok())
                    .unwrap_or_default();
                let alternate = parts.get(2).map(|a| self.space(a, resources, depth + 1));
                Space::Fixed(match name {
                    b"Black" | b"None" => false,
                    b"All" => true,
                    _ => alternate != Some(Space::Gray),
                })
            }
            b"DeviceN" => {
                let names = parts.get(1).and_then(|n| n.as_array().ok());
                let only_black = names.is_some_and(|names| {
                    names
                        .iter()
                        .all(|n| matches!(n.as_name(), Ok(b"Black" | b"None")))
                });
                let alternate = parts.get(2).map(|a| self.space(a, resources, depth + 1));
                Space::Fixed(!only_black && alternate != Some(Space::Gray))
            }
            b"Pattern" => Space::Pattern(
                parts
                    .get(1)
                    .map(|base| Box::new(self.space(base, resources, depth + 1))),
            ),
            _ => Space::Fixed(true),
        }
    }

    /// An Indexed space's table (a string or a stream), at most 256 × 4 bytes.
    fn lookup_table(&self, table: &Object) -> Option<Vec<u8>> {
        let (_, table) = self.doc.dereference(table).ok()?;
        match table {
            Object::String(bytes, _) => Some(bytes.iter().take(1024).copied().collect()),
            Object::Stream(stream) => {
                stream
                    .decompressed_content_with_limit(1024)
                    .ok()
                    .or_else(|| {
                        stream
                            .filters()
                            .ok()
                            .filter(|f| f.is_empty())
                            .map(|_| stream.content.iter().take(1024).copied().collect())
                    })
            }
            _ => None,
        }
    }
}

/// A page's resources: its own dictionary or the nearest inherited one.
fn page_resources(doc: &Document, page: ObjectId) -> Option<&Dictionary> {
    let (direct, referenced) = doc.get_page_resources(page).ok()?;
    direct.or_else(|| {
        referenced
            .iter()
            .find_map(|id| doc.get_dictionary(*id).ok())
    })
}

/// `resources[category][name]`, dereferenced.
fn resource<'a>(
    doc: &'a Document,
    resources: Option<&'a Dictionary>,
    category: &[u8],
    name: &[u8],
) -> Option<&'a Object> {
    resource_with_id(doc, resources, category, name).map(|(_, o)| o)
}

/// `resources[category][name]`, dereferenced, with its object id when it has one.
fn resource_with_id<'a>(
    doc: &'a Document,
    resources: Option<&'a Dictionary>,
    category: &[u8],
    name: &[u8],
) -> Option<(Option<ObjectId>, &'a Object)> {
    let (_, entries) = doc.dereference(resources?.get(category).ok()?).ok()?;
    let entry = entries.as_dict().ok()?.get(name).ok()?;
    doc.dereference(entry).ok()
}

/// What colour needs from an inline image header lopdf could not decode.
#[derive(Debug, Clone, PartialEq)]
struct InlineHeader {
    mask: bool,
    space: Option<Object>,
}

/// The headers (`BI … ID`) of the inline images in raw content, in order. The image
/// data after `ID` is skipped to the first `EI` between white space, as lopdf does.
fn inline_image_headers(raw: &[u8]) -> Vec<InlineHeader> {
    let white = |b: u8| matches!(b, b' ' | b'\n' | b'\r' | b'\t' | b'\x0c' | b'\0');
    let delimiter = |b: u8| white(b) || matches!(b, b'/' | b'[' | b']' | b'<' | b'>' | b'(' | b')');
    let mut headers = Vec::new();
    let mut i = 0;
    while i + 2 <= raw.len() {
        let starts = (i == 0 || delimiter(raw[i - 1]))
            && raw[i..].starts_with(b"BI")
            && raw.get(i + 2).is_none_or(|b| delimiter(*b));
        if !starts {
            i += 1;
            continue;
        }
        let Some(id_at) = find_token(raw, i + 2, b"ID") else {
            break;
        };
        headers.push(parse_inline_header(&raw[i + 2..id_at]));
        let data = id_at + 3;
        let mut j = data;
        while j + 3 <= raw.len() {
            if white(raw[j])
                && &raw[j + 1..j + 3] == b"EI"
                && raw.get(j + 3).is_none_or(|b| white(*b))
            {
                break;
            }
            j += 1;
        }
        i = j + 3;
    }
    headers
}

/// Where the token `token` (between delimiters) next starts at or after `from`.
fn find_token(raw: &[u8], from: usize, token: &[u8]) -> Option<usize> {
    let white = |b: u8| matches!(b, b' ' | b'\n' | b'\r' | b'\t' | b'\x0c' | b'\0');
    (from..raw.len().saturating_sub(token.len() - 1)).find(|&k| {
        raw[k..].starts_with(token)
            && (k == 0 || white(raw[k - 1]) || raw[k - 1] == b'>' || raw[k - 1] == b']')
            && raw.get(k + token.len()).is_none_or(|b| white(*b))
    })
}

/// The `/IM` and `/CS` entries of an inline image header (names and a flat array of
/// names and numbers are all colour needs; an Indexed table string is not kept).
fn parse_inline_header(header: &[u8]) -> InlineHeader {
    let text = String::from_utf8_lossy(header);
    let spaced = text
        .replace('[', " [ ")
        .replace(']', " ] ")
        .replace('/', " /");
    let tokens: Vec<&str> = spaced.split_whitespace().collect();
    let mut out = InlineHeader {
        mask: false,
        space: None,
    };
    let mut k = 0;
    while k < tokens.len() {
        match tokens[k] {
            "/IM" | "/ImageMask" => {
                out.mask = tokens.get(k + 1) == Some(&"true");
            }
            "/CS" | "/ColorSpace" => match tokens.get(k + 1) {
                Some(&"[") => {
                    let mut parts = Vec::new();
                    let mut m = k + 2;
                    while m < tokens.len() && tokens[m] != "]" {
                        if let Some(name) = tokens[m].strip_prefix('/') {
                            parts.push(Object::Name(name.as_bytes().to_vec()));
                        } else if let Ok(n) = tokens[m].parse::<i64>() {
                            parts.push(Object::Integer(n));
                        }
                        m += 1;
                    }
                    out.space = Some(Object::Array(parts));
                }
                Some(name) => {
                    if let Some(name) = name.strip_prefix('/') {
                        out.space = Some(Object::Name(name.as_bytes().to_vec()));
                    }
                }
                None => {}
            },
            _ => {}
        }
        k += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use lopdf::dictionary;

    /// A one-page document whose page draws `content` with `resources`.
    fn page_doc(build: impl FnOnce(&mut Document) -> (Vec<u8>, Dictionary)) -> Document {
        let mut doc = Document::with_version("1.7");
        let pages_id = doc.new_object_id();
        let (content, resources) = build(&mut doc);
        let content_id = doc.add_object(Stream::new(dictionary! {}, content));
        let resources_id = doc.add_object(resources);
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page",
            "Parent" => pages_id,
            "Contents" => content_id,
            "Resources" => resources_id,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        });
        doc.objects.insert(
            pages_id,
            Object::Dictionary(dictionary! {
                "Type" => "Pages",
                "Kids" => vec![page_id.into()],
                "Count" => 1,
            }),
        );
        let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
        doc.trailer.set("Root", catalog_id);
        doc
    }

    fn form(doc: &mut Document, content: &[u8], resources: Dictionary) -> ObjectId {
        doc.add_object(Stream::new(
            dictionary! {
                "Type" => "XObject", "Subtype" => "Form",
                "BBox" => vec![0.into(), 0.into(), 10.into(), 10.into()],
                "Resources" => resources,
            },
            content.to_vec(),
        ))
    }

    #[test]
    fn grey_in_any_space_is_not_colour() {
        assert!(!Space::Rgb.judges(&[0.5, 0.5, 0.5]));
        assert!(Space::Rgb.judges(&[1.0, 0.0, 0.0]));
        assert!(!Space::Cmyk.judges(&[0.0, 0.0, 0.0, 1.0]));
        assert!(Space::Cmyk.judges(&[0.0, 1.0, 0.0, 0.0]));
        assert!(!Space::Lab.judges(&[50.0, 0.0, 0.0]));
        assert!(Space::Lab.judges(&[50.0, 60.0, 0.0]));
        assert!(!Space::Gray.judges(&[0.2]));
    }

    #[test]
    fn colour_inside_a_form_counts_as_cups_wraps_pages() {
        let doc = page_doc(|doc| {
            let inner = form(doc, b"1 0 0 rg 0 0 5 5 re f", dictionary! {});
            (
                b"q /Fm0 Do Q".to_vec(),
                dictionary! { "XObject" => dictionary! { "Fm0" => inner } },
            )
        });
        assert_eq!(document_uses_color(&doc), Some(true));
        let doc = page_doc(|doc| {
            let inner = form(doc, b"0.5 0.5 0.5 rg 0 0 5 5 re f", dictionary! {});
            (
                b"q /Fm0 Do Q".to_vec(),
                dictionary! { "XObject" => dictionary! { "Fm0" => inner } },
            )
        });
        assert_eq!(document_uses_color(&doc), Some(false));
    }

    #[test]
    fn forms_calling_each_other_in_a_loop_end() {
        let doc = page_doc(|doc| {
            let a = doc.new_object_id();
            let b = form(
                doc,
                b"/A Do 0 g",
                dictionary! { "XObject" => dictionary! { "A" => a } },
            );
            doc.objects.insert(
                a,
                Object::Stream(Stream::new(
                    dictionary! { "Subtype" => "Form", "Resources" => dictionary! { "XObject" => dictionary! { "B" => b } } },
                    b"/B Do".to_vec(),
                )),
            );
            (
                b"/A Do".to_vec(),
                dictionary! { "XObject" => dictionary! { "A" => a } },
            )
        });
        assert_eq!(document_uses_color(&doc), Some(false));
    }

    #[test]
    fn nesting_without_end_is_unknown_not_a_crash() {
        let doc = page_doc(|doc| {
            let mut inner = form(doc, b"0 g", dictionary! {});
            for _ in 0..(MAX_DEPTH + 5) {
                inner = form(
                    doc,
                    b"/X Do",
                    dictionary! { "XObject" => dictionary! { "X" => inner } },
                );
            }
            (
                b"/X Do".to_vec(),
                dictionary! { "XObject" => dictionary! { "X" => inner } },
            )
        });
        assert_eq!(document_uses_color(&doc), None);
    }

    #[test]
    fn spaces_are_judged_by_what_they_can_show() {
        let doc = page_doc(|doc| {
            let icc = doc.add_object(Stream::new(dictionary! { "N" => 3 }, vec![]));
            let gray_table = Object::String(
                vec![0, 0, 0, 128, 128, 128],
                lopdf::StringFormat::Hexadecimal,
            );
            (
                b"/Cs1 cs 0.3 0.3 0.3 sc /Ix cs 1 sc /Blk cs 1 sc 0 0 5 5 re f".to_vec(),
                dictionary! { "ColorSpace" => dictionary! {
                    "Cs1" => vec!["ICCBased".into(), icc.into()],
                    "Ix" => vec!["Indexed".into(), "DeviceRGB".into(), 1.into(), gray_table],
                    "Blk" => vec!["Separation".into(), "Black".into(), "DeviceCMYK".into(), Object::Null],
                } },
            )
        });
        assert_eq!(document_uses_color(&doc), Some(false));
        let doc = page_doc(|doc| {
            let icc = doc.add_object(Stream::new(dictionary! { "N" => 3 }, vec![]));
            (
                b"/Cs1 cs 0.1 0.5 0.3 sc 0 0 5 5 re f".to_vec(),
                dictionary! { "ColorSpace" => dictionary! { "Cs1" => vec!["ICCBased".into(), icc.into()] } },
            )
        });
        assert_eq!(document_uses_color(&doc), Some(true));
        let doc = page_doc(|_| {
            (
                b"/Spot cs 1 sc 0 0 5 5 re f".to_vec(),
                dictionary! { "ColorSpace" => dictionary! {
                    "Spot" => vec!["Separation".into(), "PANTONE 185 C".into(), "DeviceCMYK".into(), Object::Null],
                } },
            )
        });
        assert_eq!(document_uses_color(&doc), Some(true));
    }

    #[test]
    fn shadings_and_patterns_are_looked_into() {
        let gradient = |c1: Vec<Object>| {
            dictionary! {
                "ShadingType" => 2, "ColorSpace" => "DeviceRGB",
                "Coords" => vec![0.into(), 0.into(), 1.into(), 0.into()],
                "Function" => dictionary! { "FunctionType" => 2, "Domain" => vec![0.into(), 1.into()],
                    "C0" => vec![0.into(), 0.into(), 0.into()], "C1" => c1, "N" => 1 },
            }
        };
        let red = vec![1.into(), 0.into(), 0.into()];
        let grey = vec![1.into(), 1.into(), 1.into()];
        for (c1, expected) in [(red.clone(), true), (grey, false)] {
            let shading = gradient(c1);
            let doc = page_doc(|_| {
                (
                    b"/Sh0 sh".to_vec(),
                    dictionary! { "Shading" => dictionary! { "Sh0" => shading } },
                )
            });
            assert_eq!(document_uses_color(&doc), Some(expected), "sh");
        }
        // A shading pattern, and a tiling pattern painting red.
        let shading = gradient(red);
        let doc = page_doc(|_| {
            (
                b"/Pattern cs /P0 scn 0 0 5 5 re f".to_vec(),
                dictionary! { "Pattern" => dictionary! { "P0" => dictionary! { "PatternType" => 2, "Shading" => shading } } },
            )
        });
        assert_eq!(document_uses_color(&doc), Some(true));
        let doc = page_doc(|doc| {
            let tile = doc.add_object(Stream::new(
                dictionary! { "PatternType" => 1, "PaintType" => 1, "TilingType" => 1,
                "BBox" => vec![0.into(), 0.into(), 2.into(), 2.into()], "XStep" => 2, "YStep" => 2,
                "Resources" => dictionary! {} },
                b"0 0 1 rg 0 0 1 1 re f".to_vec(),
            ));
            (
                b"/Pattern cs /P1 scn 0 0 5 5 re f".to_vec(),
                dictionary! { "Pattern" => dictionary! { "P1" => tile } },
            )
        });
        assert_eq!(document_uses_color(&doc), Some(true));
    }

    #[test]
    fn images_grey_in_rgb_are_grey_and_inline_headers_are_read() {
        for (pixels, expected) in [
            (vec![9u8, 9, 9, 200, 200, 200], false),
            (vec![9, 9, 9, 200, 0, 0], true),
        ] {
            let doc = page_doc(|doc| {
                let mut image = Stream::new(
                    dictionary! { "Subtype" => "Image", "Width" => 2, "Height" => 1,
                    "ColorSpace" => "DeviceRGB", "BitsPerComponent" => 8 },
                    pixels,
                );
                image.compress().unwrap();
                let image = doc.add_object(image);
                (
                    b"/Im0 Do".to_vec(),
                    dictionary! { "XObject" => dictionary! { "Im0" => image } },
                )
            });
            assert_eq!(document_uses_color(&doc), Some(expected));
        }
        let raw = b"q BI /W 2 /H 1 /CS /RGB /BPC 8 /F /AHx ID 00ff00ff0000> EI Q BI /IM true /W 1 /H 1 ID \x01 EI";
        assert_eq!(
            inline_image_headers(raw),
            vec![
                InlineHeader {
                    mask: false,
                    space: Some(Object::Name(b"RGB".to_vec()))
                },
                InlineHeader {
                    mask: true,
                    space: None
                },
            ]
        );
        let doc = page_doc(|_| (raw.to_vec(), dictionary! {}));
        assert_eq!(document_uses_color(&doc), Some(true));
    }
}
