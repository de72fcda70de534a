//! The binary encoding of a [`TypeObject`], the shared [`DecodeError`], and the schema
//! [`Fingerprint`].
//!
//! # Format (version 1)
//!
//! All integers are big-endian.
//!
//! ```text
//! magic      b"LFTS"
//! version    u16 = 1
//! strings    u32 count, then each string as u32 byte length + UTF-8 bytes
//! defs       u32 count, then each definition as: name (string index) + node
//! root       node
//! ```
//!
//! Nothing may follow the root. A *string* below is a `u32` index into the string table (each
//! distinct string is stored once, in order of first use); a *count* is a `u32`; a *flag* is one
//! byte, `0` or `1`; an *optional string* is a flag followed, when it is `1`, by a string.
//!
//! A node is its [`Op`] code byte followed by its payload:
//!
//! | op | payload |
//! |---|---|
//! | `STRING`, `BOOLEAN`, `NULL`, `OPTION_NONE`, `ANY` | none |
//! | `NUMBER` | kind byte: the index in [`NumberKind::ALL`] (`u8`=0 … `f64`=9) |
//! | `LITERAL` | kind byte: `0` string (+ string), `1` boolean (+ flag), `2` integer (+ `i64`), `3` float (+ `f64` bits) |
//! | `ARRAY`, `OPTIONAL`, `RESULT_OK`, `RESULT_ERR`, `OPTION_SOME` | node |
//! | `TUPLE`, `UNION` | count + nodes |
//! | `OBJECT` | strict flag, count + properties, count + flattened nodes |
//! | `PROPERTY` (only inside `OBJECT`) | name, required flag, count + alias strings, node |
//! | `MAP` | key node, value node |
//! | `DUNION` | tagging byte (`0` external; `1` internal + tag string; `2` adjacent + tag string + content string), strict flag, count + variants: name, count + alias strings, payload flag (+ node) |
//! | `BRAND` | name, node |
//! | `REF` | `u32` definition index |
//! | `REFINE_MIN`, `REFINE_MAX` | `f64`, node |
//! | `REFINE_MIN_LENGTH`, `REFINE_MAX_LENGTH`, `REFINE_MIN_ITEMS`, `REFINE_MAX_ITEMS` | `u64`, node |
//! | `REFINE_PATTERN` | string, node |
//! | other `REFINE_*` | node |
//! | `METADATA` | optional name, optional description, node |
//! | `PORT` | name, count + methods |
//! | `PORT_METHOD` (only inside `PORT`) | name, count + params (name + node), ok node, err node, idempotent flag, HTTP flag (+ method string + path string) |
//!
//! # Decoding untrusted bytes
//!
//! [`TypeObject::from_bytes`] never panics and rejects malformed input with a [`DecodeError`]:
//! every count is checked against the bytes that remain before anything is allocated for it,
//! nesting is bounded by [`MAX_DECODE_DEPTH`], the text materialised from the string table is
//! bounded by [`MAX_STRING_AMPLIFICATION`] times the input length (a string is stored once but
//! may be referenced many times), each distinct pattern is compiled once, and every `REF` must
//! point at a definition. Ops that have no [`Node`] (`UNDEFINED`, `READONLY`, `EFFECT`) and
//! `PROPERTY` / `PORT_METHOD` outside their parents are [`DecodeError::UnexpectedOp`].
//!
//! A tree deeper than [`MAX_DECODE_DEPTH`] encodes but does not decode.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

use super::{
    DUnion, Def, DefId, HttpRoute, Literal, Metadata, Node, NumberKind, Object, Op, Pattern,
    PortMethod, PortNode, Property, Refinement, Tagging, TypeObject, Variant,
};

/// The four bytes every binary encoding starts with.
pub const MAGIC: [u8; 4] = *b"LFTS";

/// The binary format version this crate writes and reads.
pub const FORMAT_VERSION: u16 = 1;

/// The deepest nesting of nodes the decoders (binary and JSON) accept.
pub const MAX_DECODE_DEPTH: usize = 256;

/// The text a binary decoding may materialise from its string table, as a multiple of the
/// input's length.
pub const MAX_STRING_AMPLIFICATION: usize = 64;

/// Where in the input a [`DecodeError`] was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A byte offset into a binary encoding.
    Offset(usize),
    /// A JSON Pointer into a JSON encoding (`""` is the whole document).
    Pointer(String),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Offset(n) => write!(f, "byte {n}"),
            Location::Pointer(p) if p.is_empty() => f.write_str("the document root"),
            Location::Pointer(p) => write!(f, "{p}"),
        }
    }
}

/// Why a binary or JSON encoding of a schema could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input does not start with [`MAGIC`].
    BadMagic,
    /// The format version is not one this crate reads.
    UnsupportedVersion {
        /// The version found.
        version: u64,
    },
    /// The input ends in the middle of a field.
    Truncated {
        /// Where the field that runs past the end starts.
        offset: usize,
    },
    /// A string in the string table is not UTF-8.
    InvalidUtf8 {
        /// Where the string's bytes start.
        offset: usize,
    },
    /// A string index points past the string table.
    BadStringIndex {
        /// Where the index is.
        offset: usize,
        /// The index found.
        index: u32,
        /// How many strings the table has.
        count: usize,
    },
    /// A code that is no [`Op`].
    UnknownOp {
        /// Where the code is.
        at: Location,
        /// The code found.
        code: u64,
    },
    /// An [`Op`] that cannot appear here (`UNDEFINED`, `READONLY`, `EFFECT`, or `PROPERTY` /
    /// `PORT_METHOD` outside their parents).
    UnexpectedOp {
        /// Where the op is.
        at: Location,
        /// The op found.
        op: Op,
    },
    /// A `NUMBER` kind that is no [`NumberKind`].
    BadNumberKind {
        /// Where the kind is.
        at: Location,
        /// The kind found, as written.
        kind: String,
    },
    /// A `REFINE_PATTERN` that does not compile.
    BadPattern {
        /// Where the pattern is.
        at: Location,
        /// The pattern.
        pattern: String,
        /// The compiler's reason.
        reason: String,
    },
    /// A `REF` to a definition that does not exist.
    DanglingRef {
        /// Where the reference is.
        at: Location,
        /// The index found.
        index: u64,
        /// How many definitions there are.
        defs: usize,
    },
    /// Nodes nested deeper than [`MAX_DECODE_DEPTH`].
    TooDeep {
        /// Where the limit was passed.
        at: Location,
        /// The limit.
        limit: usize,
    },
    /// Bytes after the root node.
    TrailingBytes {
        /// Where they start.
        offset: usize,
    },
    /// A count larger than the rest of the input could hold.
    CountTooLarge {
        /// Where the count is.
        at: Location,
        /// The count found.
        count: u64,
    },
    /// The text referenced through the string table exceeds [`MAX_STRING_AMPLIFICATION`] times
    /// the input length.
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// A field holds a value its position does not allow (a flag that is not `0`/`1`, an
    /// unknown literal or tagging kind, a JSON value of the wrong type or shape…).
    Invalid {
        /// Where the value is.
        at: Location,
        /// What was expected there.
        expected: &'static str,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::BadMagic => f.write_str("not an lfts schema: bad magic bytes"),
            DecodeError::UnsupportedVersion { version } => {
                write!(f, "unsupported schema format version {version}")
            }
            DecodeError::Truncated { offset } => write!(f, "input truncated at byte {offset}"),
            DecodeError::InvalidUtf8 { offset } => {
                write!(f, "string at byte {offset} is not valid UTF-8")
            }
            DecodeError::BadStringIndex {
                offset,
                index,
                count,
            } => write!(
                f,
                "string index {index} at byte {offset} is out of range (the table has {count})"
            ),
            DecodeError::UnknownOp { at, code } => write!(f, "unknown op code {code} at {at}"),
            DecodeError::UnexpectedOp { at, op } => write!(f, "unexpected op {op} at {at}"),
            DecodeError::BadNumberKind { at, kind } => {
                write!(f, "unknown number kind {kind:?} at {at}")
            }
            DecodeError::BadPattern {
                at,
                pattern,
                reason,
            } => write!(f, "pattern {pattern:?} at {at} does not compile: {reason}"),
            DecodeError::DanglingRef { at, index, defs } => write!(
                f,
                "reference to definition {index} at {at}, but there are only {defs}"
            ),
            DecodeError::TooDeep { at, limit } => {
                write!(f, "schema nested deeper than {limit} at {at}")
            }
            DecodeError::TrailingBytes { offset } => {
                write!(f, "trailing bytes after the schema at byte {offset}")
            }
            DecodeError::CountTooLarge { at, count } => {
                write!(f, "count {count} at {at} is larger than the input can hold")
            }
            DecodeError::TooLarge { limit } => {
                write!(f, "the schema's strings would exceed {limit} bytes")
            }
            DecodeError::Invalid { at, expected } => write!(f, "expected {expected} at {at}"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// A stable identifier of a schema version: the SHA-256 of its binary encoding.
///
/// Displays, serializes and parses as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// The digest bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

/// A string that is not 64 hex digits, given where a [`Fingerprint`] was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseFingerprintError;

impl fmt::Display for ParseFingerprintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a fingerprint is 64 hex digits")
    }
}

impl std::error::Error for ParseFingerprintError {}

impl FromStr for Fingerprint {
    type Err = ParseFingerprintError;

    fn from_str(s: &str) -> Result<Fingerprint, ParseFingerprintError> {
        let bytes = s.as_bytes();
        if bytes.len() != 64 {
            return Err(ParseFingerprintError);
        }
        let mut out = [0u8; 32];
        for (slot, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
            let hi = hex_digit(pair[0]).ok_or(ParseFingerprintError)?;
            let lo = hex_digit(pair[1]).ok_or(ParseFingerprintError)?;
            *slot = (hi << 4) | lo;
        }
        Ok(Fingerprint(out))
    }
}

fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

impl serde::Serialize for Fingerprint {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Fingerprint {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Fingerprint, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl TypeObject {
    /// The binary encoding (see the [module docs](self) for the format).
    ///
    /// Deterministic: equal schemas give equal bytes. Counts and lengths are `u32`; a
    /// collection or string longer than `u32::MAX` (which no real schema has) is not
    /// representable and would not decode.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.count(self.defs().len());
        for def in self.defs() {
            w.str(&def.name);
            w.node(&def.node);
        }
        w.node(self.root());

        let mut out = Vec::with_capacity(
            10 + w.strings.iter().map(|s| 4 + s.len()).sum::<usize>() + w.body.len(),
        );
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_be_bytes());
        out.extend_from_slice(&len_u32(w.strings.len()).to_be_bytes());
        for s in &w.strings {
            out.extend_from_slice(&len_u32(s.len()).to_be_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        out.extend_from_slice(&w.body);
        out
    }

    /// Decodes a binary encoding, rejecting anything malformed (see the
    /// [module docs](self)); never panics.
    pub fn from_bytes(bytes: &[u8]) -> Result<TypeObject, DecodeError> {
        let mut r = Reader {
            buf: bytes,
            pos: 0,
            strings: Vec::new(),
            defs: 0,
            budget: bytes.len().saturating_mul(MAX_STRING_AMPLIFICATION),
            limit: bytes.len().saturating_mul(MAX_STRING_AMPLIFICATION),
            patterns: HashMap::new(),
        };
        if r.take(4).map_err(|_| DecodeError::BadMagic)? != MAGIC {
            return Err(DecodeError::BadMagic);
        }
        let version = r.u16()?;
        if version != FORMAT_VERSION {
            return Err(DecodeError::UnsupportedVersion {
                version: u64::from(version),
            });
        }
        let count = r.count(4)?;
        let mut strings = Vec::with_capacity(count);
        for _ in 0..count {
            let len = r.u32()? as usize;
            let start = r.pos;
            let raw = r.take(len)?;
            let s =
                std::str::from_utf8(raw).map_err(|_| DecodeError::InvalidUtf8 { offset: start })?;
            strings.push(s);
        }
        r.strings = strings;

        let ndefs = r.count(5)?;
        r.defs = ndefs;
        let mut defs = Vec::with_capacity(ndefs);
        for _ in 0..ndefs {
            let name = r.string()?;
            let node = r.node()?;
            defs.push(Def { name, node });
        }
        let root = r.node()?;
        if r.pos != bytes.len() {
            return Err(DecodeError::TrailingBytes { offset: r.pos });
        }
        let schema = TypeObject::from_parts(root, defs);
        check_refs(&schema, Location::Offset(0))?;
        Ok(schema)
    }

    /// A stable identifier of this schema: the SHA-256 of [`TypeObject::to_bytes`]. Equal
    /// schemas have equal fingerprints on every platform and in every run.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint(Sha256::digest(self.to_bytes()).into())
    }
}

/// Re-checks every reference after a decoding (the decoders check them as they go; this is
/// the last line of defence), naming the first dangling one.
pub(super) fn check_refs(schema: &TypeObject, at: Location) -> Result<(), DecodeError> {
    if schema.check_refs() {
        return Ok(());
    }
    let defs = schema.defs().len();
    let mut bad = None;
    let mut visit = |node: &Node| {
        if let Node::Ref(id) = node
            && id.0 as usize >= defs
            && bad.is_none()
        {
            bad = Some(id.0);
        }
    };
    super::walk(schema.root(), &mut visit);
    for def in schema.defs() {
        super::walk(&def.node, &mut visit);
    }
    Err(DecodeError::DanglingRef {
        at,
        index: u64::from(bad.unwrap_or(u32::MAX)),
        defs,
    })
}

/// A `usize` length as the format's `u32`, saturating (see [`TypeObject::to_bytes`]).
fn len_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// One step of the encoder's explicit stack.
enum Item<'a> {
    Node(&'a Node),
    Property(&'a Property),
    Count(usize),
    Variant(&'a Variant),
    Method(&'a PortMethod),
    Param(&'a str, &'a Node),
    MethodTail(&'a PortMethod),
}

#[derive(Default)]
struct Writer<'a> {
    strings: Vec<&'a str>,
    index: HashMap<&'a str, u32>,
    body: Vec<u8>,
}

impl<'a> Writer<'a> {
    fn u8(&mut self, b: u8) {
        self.body.push(b);
    }

    fn flag(&mut self, b: bool) {
        self.body.push(u8::from(b));
    }

    fn u32(&mut self, n: u32) {
        self.body.extend_from_slice(&n.to_be_bytes());
    }

    fn count(&mut self, n: usize) {
        self.u32(len_u32(n));
    }

    fn u64(&mut self, n: u64) {
        self.body.extend_from_slice(&n.to_be_bytes());
    }

    fn f64(&mut self, x: f64) {
        self.u64(x.to_bits());
    }

    fn str(&mut self, s: &'a str) {
        let index = match self.index.get(s) {
            Some(i) => *i,
            None => {
                let i = len_u32(self.strings.len());
                self.strings.push(s);
                self.index.insert(s, i);
                i
            }
        };
        self.u32(index);
    }

    fn opt_str(&mut self, s: Option<&'a str>) {
        self.flag(s.is_some());
        if let Some(s) = s {
            self.str(s);
        }
    }

    fn strs(&mut self, list: &'a [String]) {
        self.count(list.len());
        for s in list {
            self.str(s);
        }
    }

    /// Writes `node` and everything below it, pre-order, with an explicit stack so that a deep
    /// tree cannot overflow the call stack.
    fn node(&mut self, node: &'a Node) {
        let mut stack = vec![Item::Node(node)];
        while let Some(item) = stack.pop() {
            match item {
                Item::Node(node) => self.node_head(node, &mut stack),
                Item::Property(p) => {
                    self.u8(Op::Property.code());
                    self.str(&p.name);
                    self.flag(p.required);
                    self.strs(&p.aliases);
                    stack.push(Item::Node(&p.node));
                }
                Item::Count(n) => self.count(n),
                Item::Variant(v) => {
                    self.str(&v.name);
                    self.strs(&v.aliases);
                    self.flag(v.node.is_some());
                    if let Some(node) = &v.node {
                        stack.push(Item::Node(node));
                    }
                }
                Item::Method(m) => {
                    self.u8(Op::PortMethod.code());
                    self.str(&m.name);
                    self.count(m.params.len());
                    stack.push(Item::MethodTail(m));
                    stack.push(Item::Node(&m.err));
                    stack.push(Item::Node(&m.ok));
                    stack.extend(m.params.iter().rev().map(|(n, t)| Item::Param(n, t)));
                }
                Item::Param(name, node) => {
                    self.str(name);
                    stack.push(Item::Node(node));
                }
                Item::MethodTail(m) => {
                    self.flag(m.idempotent);
                    self.flag(m.http.is_some());
                    if let Some(route) = &m.http {
                        self.str(&route.method);
                        self.str(&route.path);
                    }
                }
            }
        }
    }

    /// Writes a node's op and inline payload, pushing what follows it (children, in reverse).
    fn node_head(&mut self, node: &'a Node, stack: &mut Vec<Item<'a>>) {
        self.u8(node.op().code());
        match node {
            Node::String | Node::Boolean | Node::Null | Node::OptionNone | Node::Any => {}
            Node::Number(kind) => self.u8(kind_code(*kind)),
            Node::Literal(lit) => match lit {
                Literal::Str(s) => {
                    self.u8(0);
                    self.str(s);
                }
                Literal::Bool(b) => {
                    self.u8(1);
                    self.flag(*b);
                }
                Literal::Int(n) => {
                    self.u8(2);
                    self.body.extend_from_slice(&n.to_be_bytes());
                }
                Literal::Float(x) => {
                    self.u8(3);
                    self.f64(*x);
                }
            },
            Node::Array(inner)
            | Node::Optional(inner)
            | Node::ResultOk(inner)
            | Node::ResultErr(inner)
            | Node::OptionSome(inner) => stack.push(Item::Node(inner)),
            Node::Tuple(items) | Node::Union(items) => {
                self.count(items.len());
                stack.extend(items.iter().rev().map(Item::Node));
            }
            Node::Object(obj) => {
                self.flag(obj.strict);
                self.count(obj.properties.len());
                stack.extend(obj.flatten.iter().rev().map(Item::Node));
                stack.push(Item::Count(obj.flatten.len()));
                stack.extend(obj.properties.iter().rev().map(Item::Property));
            }
            Node::Map { key, value } => {
                stack.push(Item::Node(value));
                stack.push(Item::Node(key));
            }
            Node::DUnion(d) => {
                match &d.tagging {
                    Tagging::External => self.u8(0),
                    Tagging::Internal { tag } => {
                        self.u8(1);
                        self.str(tag);
                    }
                    Tagging::Adjacent { tag, content } => {
                        self.u8(2);
                        self.str(tag);
                        self.str(content);
                    }
                }
                self.flag(d.strict);
                self.count(d.variants.len());
                stack.extend(d.variants.iter().rev().map(Item::Variant));
            }
            Node::Brand(name, inner) => {
                self.str(name);
                stack.push(Item::Node(inner));
            }
            Node::Ref(id) => self.u32(id.0),
            Node::Refine(r, inner) => {
                match r {
                    Refinement::Min(x) | Refinement::Max(x) => self.f64(*x),
                    Refinement::MinLength(n)
                    | Refinement::MaxLength(n)
                    | Refinement::MinItems(n)
                    | Refinement::MaxItems(n) => self.u64(*n),
                    Refinement::Pattern(p) => self.str(p.as_str()),
                    Refinement::Integer
                    | Refinement::Email
                    | Refinement::Url
                    | Refinement::Uuid
                    | Refinement::NonEmpty
                    | Refinement::Positive
                    | Refinement::Negative => {}
                }
                stack.push(Item::Node(inner));
            }
            Node::Metadata(meta, inner) => {
                self.opt_str(meta.name.as_deref());
                self.opt_str(meta.description.as_deref());
                stack.push(Item::Node(inner));
            }
            Node::Port(port) => {
                self.str(&port.name);
                self.count(port.methods.len());
                stack.extend(port.methods.iter().rev().map(Item::Method));
            }
        }
    }
}

/// The byte a [`NumberKind`] is written as: its index in [`NumberKind::ALL`].
fn kind_code(kind: NumberKind) -> u8 {
    NumberKind::ALL
        .iter()
        .position(|k| *k == kind)
        .and_then(|i| u8::try_from(i).ok())
        .unwrap_or(u8::MAX)
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    strings: Vec<&'a str>,
    defs: usize,
    budget: usize,
    limit: usize,
    patterns: HashMap<u32, Pattern>,
}

type Res<T> = Result<T, DecodeError>;

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn at(&self, offset: usize) -> Location {
        Location::Offset(offset)
    }

    fn take(&mut self, n: usize) -> Res<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len());
        match end.and_then(|end| self.buf.get(self.pos..end).map(|s| (s, end))) {
            Some((slice, end)) => {
                self.pos = end;
                Ok(slice)
            }
            None => Err(DecodeError::Truncated { offset: self.pos }),
        }
    }

    fn array<const N: usize>(&mut self) -> Res<[u8; N]> {
        let slice = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    fn u8(&mut self) -> Res<u8> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Res<u16> {
        self.array().map(u16::from_be_bytes)
    }

    fn u32(&mut self) -> Res<u32> {
        self.array().map(u32::from_be_bytes)
    }

    fn u64(&mut self) -> Res<u64> {
        self.array().map(u64::from_be_bytes)
    }

    fn i64(&mut self) -> Res<i64> {
        self.array().map(i64::from_be_bytes)
    }

    fn f64(&mut self) -> Res<f64> {
        self.u64().map(f64::from_bits)
    }

    fn flag(&mut self) -> Res<bool> {
        let at = self.pos;
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError::Invalid {
                at: self.at(at),
                expected: "a flag byte (0 or 1)",
            }),
        }
    }

    /// Reads a count of items each at least `min_size` bytes long, rejecting one the rest of
    /// the input cannot hold (so that `Vec::with_capacity(count)` is justified by the input).
    fn count(&mut self, min_size: usize) -> Res<usize> {
        let at = self.pos;
        let count = self.u32()?;
        let n = count as usize;
        if n.saturating_mul(min_size) > self.remaining() {
            return Err(DecodeError::CountTooLarge {
                at: self.at(at),
                count: u64::from(count),
            });
        }
        Ok(n)
    }

    fn string_ref(&mut self) -> Res<(u32, &'a str)> {
        let at = self.pos;
        let index = self.u32()?;
        match self.strings.get(index as usize) {
            Some(s) => Ok((index, s)),
            None => Err(DecodeError::BadStringIndex {
                offset: at,
                index,
                count: self.strings.len(),
            }),
        }
    }

    fn string(&mut self) -> Res<String> {
        let (_, s) = self.string_ref()?;
        self.spend(s.len())?;
        Ok(s.to_owned())
    }

    fn spend(&mut self, n: usize) -> Res<()> {
        match self.budget.checked_sub(n) {
            Some(left) => {
                self.budget = left;
                Ok(())
            }
            None => Err(DecodeError::TooLarge { limit: self.limit }),
        }
    }

    fn opt_string(&mut self) -> Res<Option<String>> {
        if self.flag()? {
            self.string().map(Some)
        } else {
            Ok(None)
        }
    }

    fn strings_list(&mut self) -> Res<Vec<String>> {
        let n = self.count(4)?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(self.string()?);
        }
        Ok(out)
    }

    /// Reads the op byte at the cursor, which must be `expected` (`PROPERTY`, `PORT_METHOD`).
    fn expect_op(&mut self, expected: Op) -> Res<()> {
        let at = self.pos;
        let code = self.u8()?;
        match Op::from_code(code) {
            Some(op) if op == expected => Ok(()),
            Some(op) => Err(DecodeError::UnexpectedOp {
                at: self.at(at),
                op,
            }),
            None => Err(DecodeError::UnknownOp {
                at: self.at(at),
                code: u64::from(code),
            }),
        }
    }

    /// Reads one node and everything below it.
    ///
    /// Iterative: composite nodes under construction live on an explicit stack of [`Frame`]s,
    /// so the call stack stays flat whatever the input; the stack's height is the nesting
    /// depth, bounded by [`MAX_DECODE_DEPTH`].
    fn node(&mut self) -> Res<Node> {
        let mut stack: Vec<Frame> = Vec::new();
        'read: loop {
            if stack.len() >= MAX_DECODE_DEPTH {
                return Err(DecodeError::TooDeep {
                    at: self.at(self.pos),
                    limit: MAX_DECODE_DEPTH,
                });
            }
            let mut done = match self.head()? {
                Head::Leaf(node) => Some(node),
                Head::Open(frame) => {
                    stack.push(frame);
                    None
                }
            };
            loop {
                if let Some(node) = done.take() {
                    match stack.last_mut() {
                        Some(top) => top.feed(node),
                        None => return Ok(node),
                    }
                }
                let Some(top) = stack.last_mut() else {
                    // Unreachable: a frame was pushed or fed just above.
                    return Err(DecodeError::Truncated { offset: self.pos });
                };
                match top.next(self)? {
                    Step::Child => continue 'read,
                    Step::Done(node) => {
                        stack.pop();
                        done = Some(node);
                    }
                }
            }
        }
    }

    /// Reads a node's op and inline payload: a whole leaf, or a frame awaiting children.
    fn head(&mut self) -> Res<Head> {
        let at = self.pos;
        let code = self.u8()?;
        let Some(op) = Op::from_code(code) else {
            return Err(DecodeError::UnknownOp {
                at: self.at(at),
                code: u64::from(code),
            });
        };
        let wrap = |wrap: Wrap| Ok(Head::Open(Frame::One { wrap, child: None }));
        match op {
            Op::String => Ok(Head::Leaf(Node::String)),
            Op::Boolean => Ok(Head::Leaf(Node::Boolean)),
            Op::Null => Ok(Head::Leaf(Node::Null)),
            Op::OptionNone => Ok(Head::Leaf(Node::OptionNone)),
            Op::Any => Ok(Head::Leaf(Node::Any)),
            Op::Number => {
                let kat = self.pos;
                let k = self.u8()?;
                match NumberKind::ALL.get(usize::from(k)) {
                    Some(kind) => Ok(Head::Leaf(Node::Number(*kind))),
                    None => Err(DecodeError::BadNumberKind {
                        at: self.at(kat),
                        kind: k.to_string(),
                    }),
                }
            }
            Op::Literal => {
                let kat = self.pos;
                let lit = match self.u8()? {
                    0 => Literal::Str(self.string()?),
                    1 => Literal::Bool(self.flag()?),
                    2 => Literal::Int(self.i64()?),
                    3 => Literal::Float(self.f64()?),
                    _ => {
                        return Err(DecodeError::Invalid {
                            at: self.at(kat),
                            expected: "a literal kind (0 to 3)",
                        });
                    }
                };
                Ok(Head::Leaf(Node::Literal(lit)))
            }
            Op::Ref => {
                let index = self.u32()?;
                if index as usize >= self.defs {
                    return Err(DecodeError::DanglingRef {
                        at: self.at(at),
                        index: u64::from(index),
                        defs: self.defs,
                    });
                }
                Ok(Head::Leaf(Node::Ref(DefId(index))))
            }
            Op::Array => wrap(Wrap::Array),
            Op::Optional => wrap(Wrap::Optional),
            Op::ResultOk => wrap(Wrap::ResultOk),
            Op::ResultErr => wrap(Wrap::ResultErr),
            Op::OptionSome => wrap(Wrap::OptionSome),
            Op::Brand => {
                let name = self.string()?;
                wrap(Wrap::Brand(name))
            }
            Op::Metadata => {
                let name = self.opt_string()?;
                let description = self.opt_string()?;
                wrap(Wrap::Metadata(Metadata { name, description }))
            }
            Op::RefineMin => {
                let x = self.f64()?;
                wrap(Wrap::Refine(Refinement::Min(x)))
            }
            Op::RefineMax => {
                let x = self.f64()?;
                wrap(Wrap::Refine(Refinement::Max(x)))
            }
            Op::RefineMinLength => {
                let n = self.u64()?;
                wrap(Wrap::Refine(Refinement::MinLength(n)))
            }
            Op::RefineMaxLength => {
                let n = self.u64()?;
                wrap(Wrap::Refine(Refinement::MaxLength(n)))
            }
            Op::RefineMinItems => {
                let n = self.u64()?;
                wrap(Wrap::Refine(Refinement::MinItems(n)))
            }
            Op::RefineMaxItems => {
                let n = self.u64()?;
                wrap(Wrap::Refine(Refinement::MaxItems(n)))
            }
            Op::RefinePattern => {
                let pattern = self.pattern()?;
                wrap(Wrap::Refine(Refinement::Pattern(pattern)))
            }
            Op::RefineInteger => wrap(Wrap::Refine(Refinement::Integer)),
            Op::RefineEmail => wrap(Wrap::Refine(Refinement::Email)),
            Op::RefineUrl => wrap(Wrap::Refine(Refinement::Url)),
            Op::RefineUuid => wrap(Wrap::Refine(Refinement::Uuid)),
            Op::RefineNonEmpty => wrap(Wrap::Refine(Refinement::NonEmpty)),
            Op::RefinePositive => wrap(Wrap::Refine(Refinement::Positive)),
            Op::RefineNegative => wrap(Wrap::Refine(Refinement::Negative)),
            Op::Map => Ok(Head::Open(Frame::Map {
                key: None,
                value: None,
            })),
            Op::Tuple | Op::Union => {
                let n = self.count(1)?;
                Ok(Head::Open(Frame::Seq {
                    union: op == Op::Union,
                    n,
                    items: Vec::with_capacity(prealloc(n)),
                }))
            }
            Op::Object => {
                let strict = self.flag()?;
                // PROPERTY op, name, required, alias count, node.
                let n = self.count(11)?;
                Ok(Head::Open(Frame::Object {
                    strict,
                    n,
                    properties: Vec::with_capacity(prealloc(n)),
                    pending: None,
                    flatten: None,
                }))
            }
            Op::DUnion => {
                let tat = self.pos;
                let tagging = match self.u8()? {
                    0 => Tagging::External,
                    1 => Tagging::Internal {
                        tag: self.string()?,
                    },
                    2 => Tagging::Adjacent {
                        tag: self.string()?,
                        content: self.string()?,
                    },
                    _ => {
                        return Err(DecodeError::Invalid {
                            at: self.at(tat),
                            expected: "a tagging kind (0 to 2)",
                        });
                    }
                };
                let strict = self.flag()?;
                // name, alias count, payload flag.
                let n = self.count(9)?;
                Ok(Head::Open(Frame::DUnion {
                    tagging,
                    strict,
                    n,
                    variants: Vec::with_capacity(prealloc(n)),
                    pending: None,
                }))
            }
            Op::Port => {
                let name = self.string()?;
                // PORT_METHOD op, name, param count, ok, err, idempotent, http flag.
                let n = self.count(13)?;
                Ok(Head::Open(Frame::Port {
                    name,
                    n,
                    methods: Vec::with_capacity(prealloc(n)),
                    current: None,
                }))
            }
            Op::Undefined | Op::Readonly | Op::Effect | Op::Property | Op::PortMethod => {
                Err(DecodeError::UnexpectedOp {
                    at: self.at(at),
                    op,
                })
            }
        }
    }

    /// A `REFINE_PATTERN`'s pattern: compiled once per distinct string.
    fn pattern(&mut self) -> Res<Pattern> {
        let at = self.pos;
        let (index, source) = self.string_ref()?;
        self.spend(source.len())?;
        if let Some(p) = self.patterns.get(&index) {
            return Ok(p.clone());
        }
        let p = Pattern::new(source).map_err(|e| DecodeError::BadPattern {
            at: self.at(at),
            pattern: source.to_owned(),
            reason: e.to_string(),
        })?;
        self.patterns.insert(index, p.clone());
        Ok(p)
    }
}

/// Room reserved up front for a counted collection. The count has been checked against the
/// bytes left, but nested collections share those bytes, so only a little is reserved ahead;
/// the rest grows with what is actually decoded.
fn prealloc(n: usize) -> usize {
    n.min(16)
}

/// What [`Reader::head`] read.
enum Head {
    /// A node with no children.
    Leaf(Node),
    /// A composite node whose children follow.
    Open(Frame),
}

/// What a [`Frame`] needs next.
enum Step {
    /// A child node (read it, then [`Frame::feed`] it).
    Child,
    /// Nothing more: the frame is the finished node.
    Done(Node),
}

/// A node with one child.
enum Wrap {
    Array,
    Optional,
    ResultOk,
    ResultErr,
    OptionSome,
    Brand(String),
    Refine(Refinement),
    Metadata(Metadata),
}

impl Wrap {
    fn build(self, child: Node) -> Node {
        let inner = Box::new(child);
        match self {
            Wrap::Array => Node::Array(inner),
            Wrap::Optional => Node::Optional(inner),
            Wrap::ResultOk => Node::ResultOk(inner),
            Wrap::ResultErr => Node::ResultErr(inner),
            Wrap::OptionSome => Node::OptionSome(inner),
            Wrap::Brand(name) => Node::Brand(name, inner),
            Wrap::Refine(r) => Node::Refine(r, inner),
            Wrap::Metadata(m) => Node::Metadata(m, inner),
        }
    }
}

/// A port method under construction.
struct MethodFrame {
    name: String,
    n: usize,
    params: Vec<(String, Node)>,
    pending: Option<String>,
    ok: Option<Node>,
    err: Option<Node>,
}

/// A composite node under construction on the decoder's stack.
enum Frame {
    One {
        wrap: Wrap,
        child: Option<Node>,
    },
    Map {
        key: Option<Node>,
        value: Option<Node>,
    },
    Seq {
        union: bool,
        n: usize,
        items: Vec<Node>,
    },
    Object {
        strict: bool,
        n: usize,
        properties: Vec<Property>,
        /// The property whose node is being read: name, required, aliases.
        pending: Option<(String, bool, Vec<String>)>,
        /// Once the properties are read: how many flattened nodes, and those read so far.
        flatten: Option<(usize, Vec<Node>)>,
    },
    DUnion {
        tagging: Tagging,
        strict: bool,
        n: usize,
        variants: Vec<Variant>,
        /// The variant whose payload is being read: name, aliases.
        pending: Option<(String, Vec<String>)>,
    },
    Port {
        name: String,
        n: usize,
        methods: Vec<PortMethod>,
        current: Option<Box<MethodFrame>>,
    },
}

impl Frame {
    /// Stores a finished child where the last [`Step::Child`] asked for it.
    fn feed(&mut self, node: Node) {
        match self {
            Frame::One { child, .. } => *child = Some(node),
            Frame::Map { key, value } => {
                if key.is_none() {
                    *key = Some(node);
                } else {
                    *value = Some(node);
                }
            }
            Frame::Seq { items, .. } => items.push(node),
            Frame::Object {
                properties,
                pending,
                flatten,
                ..
            } => match (pending.take(), flatten) {
                (Some((name, required, aliases)), _) => properties.push(Property {
                    name,
                    aliases,
                    required,
                    node,
                }),
                (None, Some((_, nodes))) => nodes.push(node),
                (None, None) => {}
            },
            Frame::DUnion {
                variants, pending, ..
            } => {
                if let Some((name, aliases)) = pending.take() {
                    variants.push(Variant {
                        name,
                        aliases,
                        node: Some(node),
                    });
                }
            }
            Frame::Port {
                current: Some(m), ..
            } => {
                if let Some(name) = m.pending.take() {
                    m.params.push((name, node));
                } else if m.ok.is_none() {
                    m.ok = Some(node);
                } else {
                    m.err = Some(node);
                }
            }
            Frame::Port { current: None, .. } => {}
        }
    }

    /// Reads whatever precedes the next child, and says whether a child or nothing follows.
    fn next(&mut self, r: &mut Reader<'_>) -> Res<Step> {
        match self {
            Frame::One { wrap, child } => Ok(match child.take() {
                None => Step::Child,
                Some(child) => Step::Done(std::mem::replace(wrap, Wrap::Array).build(child)),
            }),
            Frame::Map { key, value } => Ok(match (key.take(), value.take()) {
                (Some(key), Some(value)) => Step::Done(Node::Map {
                    key: Box::new(key),
                    value: Box::new(value),
                }),
                (k, _) => {
                    *key = k;
                    Step::Child
                }
            }),
            Frame::Seq { union, n, items } => Ok(if items.len() < *n {
                Step::Child
            } else {
                let items = std::mem::take(items);
                Step::Done(if *union {
                    Node::Union(items)
                } else {
                    Node::Tuple(items)
                })
            }),
            Frame::Object {
                strict,
                n,
                properties,
                pending,
                flatten,
            } => {
                if properties.len() < *n {
                    r.expect_op(Op::Property)?;
                    let name = r.string()?;
                    let required = r.flag()?;
                    let aliases = r.strings_list()?;
                    *pending = Some((name, required, aliases));
                    return Ok(Step::Child);
                }
                let (count, nodes) = match flatten {
                    Some(f) => f,
                    None => {
                        let count = r.count(1)?;
                        flatten.insert((count, Vec::with_capacity(prealloc(count))))
                    }
                };
                if nodes.len() < *count {
                    return Ok(Step::Child);
                }
                Ok(Step::Done(Node::Object(Object {
                    properties: std::mem::take(properties),
                    strict: *strict,
                    flatten: std::mem::take(nodes),
                })))
            }
            Frame::DUnion {
                tagging,
                strict,
                n,
                variants,
                pending,
            } => {
                while variants.len() < *n {
                    let name = r.string()?;
                    let aliases = r.strings_list()?;
                    if r.flag()? {
                        *pending = Some((name, aliases));
                        return Ok(Step::Child);
                    }
                    variants.push(Variant {
                        name,
                        aliases,
                        node: None,
                    });
                }
                Ok(Step::Done(Node::DUnion(DUnion {
                    tagging: std::mem::replace(tagging, Tagging::External),
                    variants: std::mem::take(variants),
                    strict: *strict,
                })))
            }
            Frame::Port {
                name,
                n,
                methods,
                current,
            } => loop {
                let m = match current {
                    Some(m) => m,
                    None => {
                        if methods.len() >= *n {
                            return Ok(Step::Done(Node::Port(PortNode {
                                name: std::mem::take(name),
                                methods: std::mem::take(methods),
                            })));
                        }
                        r.expect_op(Op::PortMethod)?;
                        let name = r.string()?;
                        // name + node.
                        let np = r.count(5)?;
                        current.insert(Box::new(MethodFrame {
                            name,
                            n: np,
                            params: Vec::with_capacity(prealloc(np)),
                            pending: None,
                            ok: None,
                            err: None,
                        }))
                    }
                };
                if m.params.len() < m.n {
                    m.pending = Some(r.string()?);
                    return Ok(Step::Child);
                }
                if m.ok.is_none() || m.err.is_none() {
                    return Ok(Step::Child);
                }
                let (Some(ok), Some(err)) = (m.ok.take(), m.err.take()) else {
                    return Ok(Step::Child);
                };
                let idempotent = r.flag()?;
                let http = if r.flag()? {
                    Some(HttpRoute {
                        method: r.string()?,
                        path: r.string()?,
                    })
                } else {
                    None
                };
                methods.push(PortMethod {
                    name: std::mem::take(&mut m.name),
                    params: std::mem::take(&mut m.params),
                    ok,
                    err,
                    idempotent,
                    http,
                });
                *current = None;
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> TypeObject {
        let tree = Node::Object(Object {
            properties: vec![
                Property {
                    name: "value".into(),
                    aliases: vec!["v".into()],
                    required: true,
                    node: Node::Number(NumberKind::I32),
                },
                Property {
                    name: "children".into(),
                    aliases: vec![],
                    required: false,
                    node: Node::Array(Box::new(Node::Ref(DefId(0)))),
                },
            ],
            strict: true,
            flatten: vec![],
        });
        TypeObject::from_parts(
            Node::Ref(DefId(0)),
            vec![Def {
                name: "Tree".into(),
                node: tree,
            }],
        )
    }

    #[test]
    fn round_trip() {
        let s = sample();
        let bytes = s.to_bytes();
        assert_eq!(&bytes[..4], b"LFTS");
        assert_eq!(&bytes[4..6], &[0, 1]);
        assert_eq!(TypeObject::from_bytes(&bytes), Ok(s));
    }

    #[test]
    fn strings_are_interned() {
        let node = Node::Tuple(vec![
            Node::Brand("Same".into(), Box::new(Node::String)),
            Node::Brand("Same".into(), Box::new(Node::String)),
        ]);
        let bytes = TypeObject::new(node).to_bytes();
        // One string in the table.
        assert_eq!(&bytes[6..10], &1u32.to_be_bytes());
    }

    #[test]
    fn rejects_bad_headers() {
        assert_eq!(TypeObject::from_bytes(b""), Err(DecodeError::BadMagic));
        assert_eq!(
            TypeObject::from_bytes(b"LFTX\0\x01"),
            Err(DecodeError::BadMagic)
        );
        assert_eq!(
            TypeObject::from_bytes(b"LFTS\0\x02"),
            Err(DecodeError::UnsupportedVersion { version: 2 })
        );
        assert_eq!(
            TypeObject::from_bytes(b"LFTS\0\x01"),
            Err(DecodeError::Truncated { offset: 6 })
        );
    }

    #[test]
    fn rejects_unexpected_and_unknown_ops() {
        let mut bytes = TypeObject::new(Node::String).to_bytes();
        let last = bytes.len() - 1;
        bytes[last] = Op::Readonly.code();
        assert!(matches!(
            TypeObject::from_bytes(&bytes),
            Err(DecodeError::UnexpectedOp {
                op: Op::Readonly,
                ..
            })
        ));
        bytes[last] = 200;
        assert!(matches!(
            TypeObject::from_bytes(&bytes),
            Err(DecodeError::UnknownOp { code: 200, .. })
        ));
    }

    #[test]
    fn rejects_trailing_bytes_and_dangling_refs() {
        let mut bytes = TypeObject::new(Node::Any).to_bytes();
        bytes.push(0);
        assert!(matches!(
            TypeObject::from_bytes(&bytes),
            Err(DecodeError::TrailingBytes { .. })
        ));
        let bytes = TypeObject::new(Node::Ref(DefId(3))).to_bytes();
        assert!(matches!(
            TypeObject::from_bytes(&bytes),
            Err(DecodeError::DanglingRef { index: 3, .. })
        ));
    }

    #[test]
    fn rejects_bad_patterns() {
        let pattern = Pattern::new("a").map(Refinement::Pattern);
        let Ok(pattern) = pattern else {
            panic!("pattern compiles")
        };
        let mut bytes = TypeObject::new(Node::String.refine(pattern)).to_bytes();
        // The pattern "a" is the only string: replace it with "(".
        let pos = bytes.iter().position(|b| *b == b'a').unwrap_or(0);
        bytes[pos] = b'(';
        assert!(matches!(
            TypeObject::from_bytes(&bytes),
            Err(DecodeError::BadPattern { .. })
        ));
    }

    #[test]
    fn string_amplification_is_bounded() {
        // One 4 KiB string referenced by many BRAND nodes.
        let big = "x".repeat(4096);
        let items = (0..2000)
            .map(|_| Node::Brand(big.clone(), Box::new(Node::Any)))
            .collect();
        let bytes = TypeObject::new(Node::Tuple(items)).to_bytes();
        assert!(matches!(
            TypeObject::from_bytes(&bytes),
            Err(DecodeError::TooLarge { .. })
        ));
    }

    #[test]
    fn fingerprint_hex() {
        let fp = TypeObject::new(Node::String).fingerprint();
        let hex = fp.to_string();
        assert_eq!(hex.len(), 64);
        assert!(
            hex.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        assert_eq!(hex.parse::<Fingerprint>(), Ok(fp));
        assert_eq!("zz".parse::<Fingerprint>(), Err(ParseFingerprintError));
        let json = serde_json::to_value(fp).unwrap_or_default();
        assert_eq!(json, serde_json::Value::String(hex));
        let back: Result<Fingerprint, _> = serde_json::from_value(json);
        assert_eq!(back.ok(), Some(fp));
    }

    #[test]
    fn fingerprint_is_sha256_of_bytes() {
        // Pinned: a change here is a change of the binary format.
        let fp = TypeObject::new(Node::String).fingerprint();
        assert_eq!(
            fp.to_string(),
            "e8d9c8fc310b019e54a6fa0dcb32e3048e38d4b2c76297f92ccafa16adb3cbcc"
        );
    }
}
