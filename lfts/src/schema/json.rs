//! The JSON encoding of a [`TypeObject`]: LFTS nested arrays, `[op, payload…]`.
//!
//! Payloads follow the order of the LFTS TypeScript `enc` helpers, so a TypeScript LFTS
//! runtime reads what Rust writes for the ops both know; what LFTS has no form for is a Rust
//! extension, written so that a reader of the LFTS form sees either an op it does not know
//! (codes `36..=39`) or a trailing element it can ignore. `...[a, b]` below means the entries
//! are spread into the enclosing array, as in the TypeScript helpers.
//!
//! # Document
//!
//! ```json
//! {"lfts": 1, "root": <node>, "defs": [{"name": "Tree", "node": <node>}]}
//! ```
//!
//! `"defs"` may be omitted when empty; no other keys are allowed.
//!
//! # Nodes
//!
//! | node | encoding |
//! |---|---|
//! | `STRING`, `BOOLEAN`, `NULL` | `[0]`, `[2]`, `[3]` |
//! | `NUMBER` | `[1]` for `f64`; `[1, "u8"]` (the [`NumberKind`] name) for every other kind |
//! | `LITERAL` | `[5, value]`: a JSON string, boolean or number (an `i64` literal is a JSON integer, a float literal a JSON float); a non-finite float is `[5, {"float": "NaN" \| "Infinity" \| "-Infinity"}]` |
//! | `ARRAY` | `[6, elem]` |
//! | `TUPLE` | `[7, n, ...elems]` |
//! | `OBJECT` | `[8, n, strict01, ...[9, name, optional01, type], ext?]` |
//! | `OPTIONAL` | `[10, inner]` |
//! | `UNION` | `[11, n, ...alts]` |
//! | `DUNION` | `[13, tagKey, n, ...[name, schema], ext?]` |
//! | `BRAND` | `[14, name, inner]` |
//! | `REFINE_MIN` / `REFINE_MAX` | `[15, min, inner]` / `[16, max, inner]`; a non-finite bound is the string `"NaN"`, `"Infinity"` or `"-Infinity"` |
//! | `REFINE_INTEGER` | `[17, inner]` |
//! | `REFINE_MIN_LENGTH` … `REFINE_MAX_ITEMS` | `[18..=21, n, inner]` |
//! | `REFINE_EMAIL`, `REFINE_URL` | `[22, inner]`, `[23, inner]` |
//! | `REFINE_PATTERN` | `[24, pattern, inner]` |
//! | `REFINE_POSITIVE`, `REFINE_NEGATIVE`, `REFINE_NON_EMPTY` | `[25, inner]`, `[26, inner]`, `[27, inner]` |
//! | `RESULT_OK`, `RESULT_ERR`, `OPTION_SOME` | `[28, T]`, `[29, E]`, `[30, T]` |
//! | `OPTION_NONE` | `[31]` |
//! | `METADATA` | `[32, {"name": .., "description": ..}, inner]` (absent fields omitted) |
//! | `PORT` | `[34, name, n, ...method]` |
//! | `PORT_METHOD` | `35, name, nparams, ...[9, pname, 0, ptype], [28, ok], [29, err], {"idempotent": bool, "http": {"method": .., "path": ..}}` (`"http"` omitted when absent) |
//! | `MAP` | `[36, key, value]` |
//! | `REF` | `[37, defIndex]` |
//! | `REFINE_UUID` | `[38, inner]` |
//! | `ANY` | `[39]` |
//!
//! ## `OBJECT` extensions
//!
//! LFTS objects have neither serde aliases nor flattened members. When a schema has either, a
//! trailing JSON object follows the properties, with only the non-empty members:
//!
//! ```json
//! {"aliases": {"propName": ["alias1", "alias2"]}, "flatten": [<node>, ...]}
//! ```
//!
//! `"aliases"` is keyed by the property's wire name and applies to the first property of that
//! name (an object with two properties of the same name, which serde never produces, cannot
//! carry aliases on the second one). The trailing object is absent when no property has an
//! alias and nothing is flattened, so a plain object is exactly the LFTS form.
//!
//! ## `DUNION` tagging, units and aliases
//!
//! The LFTS form is internal tagging: `[13, tagKey, n, ...[name, schema]]`. Each variant's
//! `schema` is its payload node, or `[3]` (NULL) for a unit variant. Everything LFTS cannot
//! say goes in a trailing object, present only when one of its members is:
//!
//! ```json
//! {"tagging": "external" | "adjacent", "content": "c", "strict": true,
//!  "units": ["UnitVariant"], "aliases": {"Variant": ["alias"]}}
//! ```
//!
//! - `"tagging"` is absent for internal tagging (then `tagKey` is the tag). For
//!   `"external"`, `tagKey` is `""`. For `"adjacent"`, `tagKey` is the tag and `"content"`
//!   (required then, forbidden otherwise) the content key.
//! - `"strict"` is present (and `true`) only when the union is strict.
//! - `"units"` names the unit variants. A unit variant's schema is `[3]`; a variant whose
//!   payload *is* `NULL` (a newtype over `()`) is also written `[3]` but is not listed, which is
//!   how the two round-trip. A name applies to the first not-yet-unit variant of that name
//!   whose schema is `[3]`.
//! - `"aliases"` is keyed by variant name, applied to the first variant of that name.
//!
//! # Decoding
//!
//! [`TypeObject::from_json`] is as defensive as the binary decoder: every value's type and
//! every count is checked (a count must equal the number of entries that follow), nesting is
//! bounded by [`MAX_DECODE_DEPTH`], patterns must compile (each distinct one is compiled
//! once), references must point at a definition, unknown keys in the extension objects are
//! rejected (unknown keys in a `METADATA` object, such as LFTS's `"source"`, are ignored), and
//! errors carry a JSON Pointer to the offending value. It never panics.

use std::collections::HashMap;

use serde_json::{Map, Number, Value, json};

use super::binary::{MAX_DECODE_DEPTH, check_refs};
use super::{
    DUnion, DecodeError, Def, DefId, HttpRoute, Literal, Location, Metadata, Node, NumberKind,
    Object, Op, Pattern, PortMethod, PortNode, Property, Refinement, Tagging, TypeObject, Variant,
};

/// The JSON document format version this crate writes and reads (the `"lfts"` key).
pub const JSON_FORMAT_VERSION: u64 = 1;

impl TypeObject {
    /// The JSON nested-array encoding (see the [module docs](self)).
    ///
    /// Encoding recurses once per nesting level; decoded schemas are at most
    /// [`MAX_DECODE_DEPTH`] deep.
    pub fn to_json(&self) -> Value {
        let defs: Vec<Value> = self
            .defs()
            .iter()
            .map(|d| json!({"name": d.name, "node": encode(&d.node)}))
            .collect();
        json!({"lfts": JSON_FORMAT_VERSION, "root": encode(self.root()), "defs": defs})
    }

    /// Decodes the JSON encoding, rejecting anything malformed with a [`DecodeError`] whose
    /// location is a JSON Pointer; never panics.
    pub fn from_json(value: &Value) -> Result<TypeObject, DecodeError> {
        let top = At::ROOT;
        let Some(doc) = value.as_object() else {
            return Err(invalid(&top, "an object {\"lfts\", \"root\", \"defs\"}"));
        };
        for key in doc.keys() {
            if !matches!(key.as_str(), "lfts" | "root" | "defs") {
                return Err(invalid(&top.key(key), "only the keys lfts, root and defs"));
            }
        }
        match doc.get("lfts") {
            Some(v) if v.as_u64() == Some(JSON_FORMAT_VERSION) => {}
            Some(v) => {
                return match v.as_u64() {
                    Some(version) => Err(DecodeError::UnsupportedVersion { version }),
                    None => Err(invalid(&top.key("lfts"), "the format version 1")),
                };
            }
            None => return Err(invalid(&top.key("lfts"), "the format version 1")),
        }
        let defs_at = top.key("defs");
        let raw_defs: &[Value] = match doc.get("defs") {
            None => &[],
            Some(Value::Array(list)) => list,
            Some(_) => return Err(invalid(&defs_at, "an array of definitions")),
        };
        let mut dec = Decoder {
            defs: raw_defs.len(),
            patterns: HashMap::new(),
        };
        let mut defs = Vec::with_capacity(raw_defs.len());
        for (i, raw) in raw_defs.iter().enumerate() {
            let at = defs_at.index(i);
            let Some(obj) = raw.as_object() else {
                return Err(invalid(&at, "a definition {\"name\", \"node\"}"));
            };
            for key in obj.keys() {
                if !matches!(key.as_str(), "name" | "node") {
                    return Err(invalid(&at.key(key), "only the keys name and node"));
                }
            }
            let name_at = at.key("name");
            let name = string(obj.get("name"), &name_at, "the definition's name")?;
            let node_at = at.key("node");
            let Some(node) = obj.get("node") else {
                return Err(invalid(&node_at, "the definition's node"));
            };
            let node = dec.node(node, &node_at, 0)?;
            defs.push(Def {
                name: name.to_owned(),
                node,
            });
        }
        let root_at = top.key("root");
        let Some(root) = doc.get("root") else {
            return Err(invalid(&root_at, "the root node"));
        };
        let root = dec.node(root, &root_at, 0)?;
        let schema = TypeObject::from_parts(root, defs);
        check_refs(&schema, Location::Pointer(String::new()))?;
        Ok(schema)
    }
}

// ---------------------------------------------------------------------------------------------
// Encoding

fn encode(node: &Node) -> Value {
    match node {
        Node::String => json!([Op::String.code()]),
        Node::Number(NumberKind::F64) => json!([Op::Number.code()]),
        Node::Number(kind) => json!([Op::Number.code(), kind.name()]),
        Node::Boolean => json!([Op::Boolean.code()]),
        Node::Null => json!([Op::Null.code()]),
        Node::Literal(lit) => json!([Op::Literal.code(), literal(lit)]),
        Node::Array(inner)
        | Node::Optional(inner)
        | Node::ResultOk(inner)
        | Node::ResultErr(inner)
        | Node::OptionSome(inner) => json!([node.op().code(), encode(inner)]),
        Node::Tuple(items) | Node::Union(items) => {
            let mut out = Vec::with_capacity(items.len() + 2);
            out.push(json!(node.op().code()));
            out.push(json!(items.len()));
            out.extend(items.iter().map(encode));
            Value::Array(out)
        }
        Node::Object(obj) => encode_object(obj),
        Node::Map { key, value } => json!([Op::Map.code(), encode(key), encode(value)]),
        Node::DUnion(d) => encode_dunion(d),
        Node::Brand(name, inner) => json!([Op::Brand.code(), name, encode(inner)]),
        Node::Ref(id) => json!([Op::Ref.code(), id.0]),
        Node::Refine(r, inner) => {
            let code = r.op().code();
            match r {
                Refinement::Min(x) | Refinement::Max(x) => json!([code, float(*x), encode(inner)]),
                Refinement::MinLength(n)
                | Refinement::MaxLength(n)
                | Refinement::MinItems(n)
                | Refinement::MaxItems(n) => json!([code, n, encode(inner)]),
                Refinement::Pattern(p) => json!([code, p.as_str(), encode(inner)]),
                Refinement::Integer
                | Refinement::Email
                | Refinement::Url
                | Refinement::Uuid
                | Refinement::NonEmpty
                | Refinement::Positive
                | Refinement::Negative => json!([code, encode(inner)]),
            }
        }
        Node::OptionNone => json!([Op::OptionNone.code()]),
        Node::Metadata(meta, inner) => {
            let mut m = Map::new();
            if let Some(name) = &meta.name {
                m.insert("name".into(), json!(name));
            }
            if let Some(description) = &meta.description {
                m.insert("description".into(), json!(description));
            }
            json!([Op::Metadata.code(), m, encode(inner)])
        }
        Node::Port(port) => encode_port(port),
        Node::Any => json!([Op::Any.code()]),
    }
}

/// A float as a JSON number, or a string naming a non-finite one.
fn float(x: f64) -> Value {
    match Number::from_f64(x) {
        Some(n) => Value::Number(n),
        None => Value::String(non_finite_name(x).to_owned()),
    }
}

fn non_finite_name(x: f64) -> &'static str {
    if x.is_nan() {
        "NaN"
    } else if x > 0.0 {
        "Infinity"
    } else {
        "-Infinity"
    }
}

fn parse_non_finite(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

fn literal(lit: &Literal) -> Value {
    match lit {
        Literal::Str(s) => json!(s),
        Literal::Bool(b) => json!(b),
        Literal::Int(n) => json!(n),
        Literal::Float(x) => match Number::from_f64(*x) {
            Some(n) => Value::Number(n),
            None => json!({"float": non_finite_name(*x)}),
        },
    }
}

fn encode_object(obj: &Object) -> Value {
    let mut out = Vec::with_capacity(3 + 4 * obj.properties.len() + 1);
    out.push(json!(Op::Object.code()));
    out.push(json!(obj.properties.len()));
    out.push(json!(u8::from(obj.strict)));
    let mut aliases = Map::new();
    for p in &obj.properties {
        out.push(json!(Op::Property.code()));
        out.push(json!(p.name));
        out.push(json!(u8::from(!p.required)));
        out.push(encode(&p.node));
        if !p.aliases.is_empty() && !aliases.contains_key(&p.name) {
            aliases.insert(p.name.clone(), json!(p.aliases));
        }
    }
    let mut ext = Map::new();
    if !aliases.is_empty() {
        ext.insert("aliases".into(), Value::Object(aliases));
    }
    if !obj.flatten.is_empty() {
        ext.insert(
            "flatten".into(),
            Value::Array(obj.flatten.iter().map(encode).collect()),
        );
    }
    if !ext.is_empty() {
        out.push(Value::Object(ext));
    }
    Value::Array(out)
}

fn encode_dunion(d: &DUnion) -> Value {
    let mut out = Vec::with_capacity(3 + 2 * d.variants.len() + 1);
    out.push(json!(Op::DUnion.code()));
    let mut ext = Map::new();
    match &d.tagging {
        Tagging::External => {
            out.push(json!(""));
            ext.insert("tagging".into(), json!("external"));
        }
        Tagging::Internal { tag } => out.push(json!(tag)),
        Tagging::Adjacent { tag, content } => {
            out.push(json!(tag));
            ext.insert("tagging".into(), json!("adjacent"));
            ext.insert("content".into(), json!(content));
        }
    }
    out.push(json!(d.variants.len()));
    let mut units = Vec::new();
    let mut aliases = Map::new();
    for v in &d.variants {
        out.push(json!(v.name));
        match &v.node {
            Some(node) => out.push(encode(node)),
            None => {
                out.push(json!([Op::Null.code()]));
                units.push(json!(v.name));
            }
        }
        if !v.aliases.is_empty() && !aliases.contains_key(&v.name) {
            aliases.insert(v.name.clone(), json!(v.aliases));
        }
    }
    if d.strict {
        ext.insert("strict".into(), json!(true));
    }
    if !units.is_empty() {
        ext.insert("units".into(), Value::Array(units));
    }
    if !aliases.is_empty() {
        ext.insert("aliases".into(), Value::Object(aliases));
    }
    if !ext.is_empty() {
        out.push(Value::Object(ext));
    }
    Value::Array(out)
}

fn encode_port(port: &PortNode) -> Value {
    let mut out = vec![
        json!(Op::Port.code()),
        json!(port.name),
        json!(port.methods.len()),
    ];
    for m in &port.methods {
        out.push(json!(Op::PortMethod.code()));
        out.push(json!(m.name));
        out.push(json!(m.params.len()));
        for (name, node) in &m.params {
            out.push(json!(Op::Property.code()));
            out.push(json!(name));
            out.push(json!(0));
            out.push(encode(node));
        }
        out.push(json!([Op::ResultOk.code(), encode(&m.ok)]));
        out.push(json!([Op::ResultErr.code(), encode(&m.err)]));
        let mut meta = Map::new();
        meta.insert("idempotent".into(), json!(m.idempotent));
        if let Some(route) = &m.http {
            meta.insert(
                "http".into(),
                json!({"method": route.method, "path": route.path}),
            );
        }
        out.push(Value::Object(meta));
    }
    Value::Array(out)
}

// ---------------------------------------------------------------------------------------------
// Decoding

/// A position in the document, as a chain of segments on the stack; turned into a JSON
/// Pointer only when an error is reported.
#[derive(Clone, Copy)]
struct At<'p> {
    parent: Option<&'p At<'p>>,
    seg: Seg<'p>,
}

#[derive(Clone, Copy)]
enum Seg<'p> {
    Root,
    Key(&'p str),
    Index(usize),
}

impl<'p> At<'p> {
    const ROOT: At<'static> = At {
        parent: None,
        seg: Seg::Root,
    };

    fn key<'q>(&'q self, key: &'q str) -> At<'q> {
        At {
            parent: Some(self),
            seg: Seg::Key(key),
        }
    }

    fn index(&self, i: usize) -> At<'_> {
        At {
            parent: Some(self),
            seg: Seg::Index(i),
        }
    }

    fn location(&self) -> Location {
        let mut segs = Vec::new();
        let mut cur = Some(self);
        while let Some(at) = cur {
            segs.push(at.seg);
            cur = at.parent;
        }
        let mut out = String::new();
        for seg in segs.iter().rev() {
            match seg {
                Seg::Root => {}
                Seg::Key(k) => {
                    out.push('/');
                    out.push_str(&k.replace('~', "~0").replace('/', "~1"));
                }
                Seg::Index(i) => {
                    out.push('/');
                    out.push_str(&i.to_string());
                }
            }
        }
        Location::Pointer(out)
    }
}

type Res<T> = Result<T, DecodeError>;

fn invalid(at: &At<'_>, expected: &'static str) -> DecodeError {
    DecodeError::Invalid {
        at: at.location(),
        expected,
    }
}

fn string<'v>(v: Option<&'v Value>, at: &At<'_>, expected: &'static str) -> Res<&'v str> {
    v.and_then(Value::as_str)
        .ok_or_else(|| invalid(at, expected))
}

/// The entries of a node array, read front to back.
struct Cursor<'v, 'p> {
    items: &'v [Value],
    next: usize,
    at: &'p At<'p>,
}

impl<'v, 'p> Cursor<'v, 'p> {
    fn remaining(&self) -> usize {
        self.items.len().saturating_sub(self.next)
    }

    fn peek(&self) -> Option<&'v Value> {
        self.items.get(self.next)
    }

    /// The next entry and its position; `expected` names it in the error when it is missing.
    fn take(&mut self, expected: &'static str) -> Res<(&'v Value, usize)> {
        let i = self.next;
        match self.items.get(i) {
            Some(v) => {
                self.next += 1;
                Ok((v, i))
            }
            None => Err(invalid(&self.at.index(i), expected)),
        }
    }

    fn string(&mut self, expected: &'static str) -> Res<&'v str> {
        let (v, i) = self.take(expected)?;
        string(Some(v), &self.at.index(i), expected)
    }

    fn u64(&mut self, expected: &'static str) -> Res<u64> {
        let (v, i) = self.take(expected)?;
        v.as_u64()
            .ok_or_else(|| invalid(&self.at.index(i), expected))
    }

    fn flag(&mut self, expected: &'static str) -> Res<bool> {
        match self.u64(expected) {
            Ok(0) => Ok(false),
            Ok(1) => Ok(true),
            Ok(_) => Err(invalid(&self.at.index(self.next - 1), expected)),
            Err(e) => Err(e),
        }
    }

    /// A count of entries that each take `width` array slots, checked against what is left.
    fn count(&mut self, width: usize, expected: &'static str) -> Res<usize> {
        let i = self.next;
        let n = self.u64(expected)?;
        match usize::try_from(n) {
            Ok(n) if n.saturating_mul(width) <= self.remaining() => Ok(n),
            _ => Err(DecodeError::CountTooLarge {
                at: self.at.index(i).location(),
                count: n,
            }),
        }
    }

    /// Reads the op code of a `PROPERTY` / `PORT_METHOD` entry.
    fn expect_op(&mut self, expected: Op) -> Res<()> {
        let (v, i) = self.take("an op code")?;
        match op_of(v, &self.at.index(i))? {
            op if op == expected => Ok(()),
            op => Err(DecodeError::UnexpectedOp {
                at: self.at.index(i).location(),
                op,
            }),
        }
    }

    fn finish(&self) -> Res<()> {
        if self.remaining() == 0 {
            Ok(())
        } else {
            Err(invalid(&self.at.index(self.next), "no further entries"))
        }
    }
}

fn op_of(v: &Value, at: &At<'_>) -> Res<Op> {
    let Some(code) = v.as_u64() else {
        return Err(invalid(at, "an op code"));
    };
    u8::try_from(code)
        .ok()
        .and_then(Op::from_code)
        .ok_or_else(|| DecodeError::UnknownOp {
            at: at.location(),
            code,
        })
}

struct Decoder {
    defs: usize,
    patterns: HashMap<String, Pattern>,
}

impl Decoder {
    fn node(&mut self, v: &Value, at: &At<'_>, depth: usize) -> Res<Node> {
        if depth >= MAX_DECODE_DEPTH {
            return Err(DecodeError::TooDeep {
                at: at.location(),
                limit: MAX_DECODE_DEPTH,
            });
        }
        let Some(items) = v.as_array() else {
            return Err(invalid(at, "a node: an array starting with an op code"));
        };
        let mut c = Cursor { items, next: 0, at };
        let (code, i) = c.take("a node: an array starting with an op code")?;
        let op = op_of(code, &at.index(i))?;
        let node = self.payload(op, &mut c, depth)?;
        c.finish()?;
        Ok(node)
    }

    /// The next entry of `c`, decoded as a child node.
    fn child(&mut self, c: &mut Cursor<'_, '_>, depth: usize, expected: &'static str) -> Res<Node> {
        let (v, i) = c.take(expected)?;
        self.node(v, &c.at.index(i), depth + 1)
    }

    fn boxed(&mut self, c: &mut Cursor<'_, '_>, depth: usize) -> Res<Box<Node>> {
        self.child(c, depth, "the inner node").map(Box::new)
    }

    fn payload(&mut self, op: Op, c: &mut Cursor<'_, '_>, depth: usize) -> Res<Node> {
        Ok(match op {
            Op::String => Node::String,
            Op::Boolean => Node::Boolean,
            Op::Null => Node::Null,
            Op::OptionNone => Node::OptionNone,
            Op::Any => Node::Any,
            Op::Number => match c.peek() {
                None => Node::Number(NumberKind::F64),
                Some(_) => {
                    let (v, i) = c.take("a number kind")?;
                    let Some(name) = v.as_str() else {
                        return Err(invalid(&c.at.index(i), "a number kind name"));
                    };
                    match NumberKind::from_name(name) {
                        Some(kind) => Node::Number(kind),
                        None => {
                            return Err(DecodeError::BadNumberKind {
                                at: c.at.index(i).location(),
                                kind: name.to_owned(),
                            });
                        }
                    }
                }
            },
            Op::Literal => {
                let (v, i) = c.take("a literal value")?;
                Node::Literal(decode_literal(v, &c.at.index(i))?)
            }
            Op::Array => Node::Array(self.boxed(c, depth)?),
            Op::Optional => Node::Optional(self.boxed(c, depth)?),
            Op::ResultOk => Node::ResultOk(self.boxed(c, depth)?),
            Op::ResultErr => Node::ResultErr(self.boxed(c, depth)?),
            Op::OptionSome => Node::OptionSome(self.boxed(c, depth)?),
            Op::Tuple | Op::Union => {
                let n = c.count(1, "an item count")?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.child(c, depth, "an item")?);
                }
                if op == Op::Tuple {
                    Node::Tuple(items)
                } else {
                    Node::Union(items)
                }
            }
            Op::Object => self.object(c, depth)?,
            Op::Map => {
                let key = Box::new(self.child(c, depth, "the key node")?);
                let value = Box::new(self.child(c, depth, "the value node")?);
                Node::Map { key, value }
            }
            Op::DUnion => self.dunion(c, depth)?,
            Op::Brand => {
                let name = c.string("the brand name")?;
                Node::Brand(name.to_owned(), self.boxed(c, depth)?)
            }
            Op::Ref => {
                let i = c.next;
                let index = c.u64("a definition index")?;
                if usize::try_from(index).map_or(true, |n| n >= self.defs) {
                    return Err(DecodeError::DanglingRef {
                        at: c.at.index(i).location(),
                        index,
                        defs: self.defs,
                    });
                }
                let Ok(id) = u32::try_from(index) else {
                    return Err(invalid(&c.at.index(i), "a definition index"));
                };
                Node::Ref(DefId(id))
            }
            Op::RefineMin | Op::RefineMax => {
                let (v, i) = c.take("a bound")?;
                let x = match v {
                    Value::Number(n) => n.as_f64(),
                    Value::String(s) => parse_non_finite(s),
                    _ => None,
                };
                let Some(x) = x else {
                    return Err(invalid(&c.at.index(i), "a number"));
                };
                let r = if op == Op::RefineMin {
                    Refinement::Min(x)
                } else {
                    Refinement::Max(x)
                };
                Node::Refine(r, self.boxed(c, depth)?)
            }
            Op::RefineMinLength | Op::RefineMaxLength | Op::RefineMinItems | Op::RefineMaxItems => {
                let n = c.u64("a non-negative integer")?;
                let r = match op {
                    Op::RefineMinLength => Refinement::MinLength(n),
                    Op::RefineMaxLength => Refinement::MaxLength(n),
                    Op::RefineMinItems => Refinement::MinItems(n),
                    _ => Refinement::MaxItems(n),
                };
                Node::Refine(r, self.boxed(c, depth)?)
            }
            Op::RefinePattern => {
                let i = c.next;
                let source = c.string("a pattern")?;
                let pattern = match self.patterns.get(source) {
                    Some(p) => p.clone(),
                    None => {
                        let p = Pattern::new(source).map_err(|e| DecodeError::BadPattern {
                            at: c.at.index(i).location(),
                            pattern: source.to_owned(),
                            reason: e.to_string(),
                        })?;
                        self.patterns.insert(source.to_owned(), p.clone());
                        p
                    }
                };
                Node::Refine(Refinement::Pattern(pattern), self.boxed(c, depth)?)
            }
            Op::RefineInteger
            | Op::RefineEmail
            | Op::RefineUrl
            | Op::RefineUuid
            | Op::RefineNonEmpty
            | Op::RefinePositive
            | Op::RefineNegative => {
                let r = match op {
                    Op::RefineInteger => Refinement::Integer,
                    Op::RefineEmail => Refinement::Email,
                    Op::RefineUrl => Refinement::Url,
                    Op::RefineUuid => Refinement::Uuid,
                    Op::RefineNonEmpty => Refinement::NonEmpty,
                    Op::RefinePositive => Refinement::Positive,
                    _ => Refinement::Negative,
                };
                Node::Refine(r, self.boxed(c, depth)?)
            }
            Op::Metadata => {
                let (v, i) = c.take("a metadata object")?;
                let at = c.at.index(i);
                let Some(m) = v.as_object() else {
                    return Err(invalid(&at, "a metadata object"));
                };
                let field = |key: &'static str| -> Res<Option<String>> {
                    match m.get(key) {
                        None | Some(Value::Null) => Ok(None),
                        Some(Value::String(s)) => Ok(Some(s.clone())),
                        Some(_) => Err(invalid(&at.key(key), "a string")),
                    }
                };
                let meta = Metadata {
                    name: field("name")?,
                    description: field("description")?,
                };
                Node::Metadata(meta, self.boxed(c, depth)?)
            }
            Op::Port => self.port(c, depth)?,
            Op::Undefined | Op::Readonly | Op::Effect | Op::Property | Op::PortMethod => {
                return Err(DecodeError::UnexpectedOp {
                    at: c.at.index(0).location(),
                    op,
                });
            }
        })
    }

    fn object(&mut self, c: &mut Cursor<'_, '_>, depth: usize) -> Res<Node> {
        let n = c.count(4, "a property count")?;
        let strict = c.flag("the strict flag (0 or 1)")?;
        let mut properties = Vec::with_capacity(n);
        for _ in 0..n {
            c.expect_op(Op::Property)?;
            let name = c.string("a property name")?;
            let optional = c.flag("the optional flag (0 or 1)")?;
            let node = self.child(c, depth, "the property's node")?;
            properties.push(Property {
                name: name.to_owned(),
                aliases: Vec::new(),
                required: !optional,
                node,
            });
        }
        let mut flatten = Vec::new();
        if let Some(Value::Object(ext)) = c.peek() {
            let (_, i) = c.take("the extension object")?;
            let at = c.at.index(i);
            for (key, v) in ext {
                let kat = at.key(key);
                match key.as_str() {
                    "aliases" => {
                        let table = aliases(v, &kat)?;
                        for (name, list) in table {
                            let Some(p) = properties.iter_mut().find(|p| p.name == name) else {
                                return Err(invalid(&kat.key(name), "the name of a property"));
                            };
                            p.aliases = list;
                        }
                    }
                    "flatten" => {
                        let Some(list) = v.as_array() else {
                            return Err(invalid(&kat, "an array of nodes"));
                        };
                        flatten.reserve(list.len());
                        for (j, item) in list.iter().enumerate() {
                            flatten.push(self.node(item, &kat.index(j), depth + 1)?);
                        }
                    }
                    _ => return Err(invalid(&kat, "only the keys aliases and flatten")),
                }
            }
        }
        Ok(Node::Object(Object {
            properties,
            strict,
            flatten,
        }))
    }

    fn dunion(&mut self, c: &mut Cursor<'_, '_>, depth: usize) -> Res<Node> {
        let tag_at = c.next;
        let tag_key = c.string("the tag key")?;
        let n = c.count(2, "a variant count")?;
        let mut variants = Vec::with_capacity(n);
        for _ in 0..n {
            let name = c.string("a variant name")?;
            let node = self.child(c, depth, "the variant's schema")?;
            variants.push(Variant {
                name: name.to_owned(),
                aliases: Vec::new(),
                node: Some(node),
            });
        }
        let mut tagging = None;
        let mut content = None;
        let mut strict = false;
        let mut ext_at = None;
        if let Some(Value::Object(ext)) = c.peek() {
            let (_, i) = c.take("the extension object")?;
            let at = c.at.index(i);
            ext_at = Some(i);
            for (key, v) in ext {
                let kat = at.key(key);
                match key.as_str() {
                    "tagging" => match v.as_str() {
                        Some(t @ ("internal" | "external" | "adjacent")) => tagging = Some(t),
                        _ => {
                            return Err(invalid(
                                &kat,
                                "\"internal\", \"external\" or \"adjacent\"",
                            ));
                        }
                    },
                    "content" => content = Some(string(Some(v), &kat, "the content key")?),
                    "strict" => match v {
                        Value::Bool(b) => strict = *b,
                        _ => return Err(invalid(&kat, "a boolean")),
                    },
                    "units" => {
                        let Some(list) = v.as_array() else {
                            return Err(invalid(&kat, "an array of variant names"));
                        };
                        for (j, name) in list.iter().enumerate() {
                            let uat = kat.index(j);
                            let name = string(Some(name), &uat, "a variant name")?;
                            let unit = variants
                                .iter_mut()
                                .find(|v| v.name == name && v.node == Some(Node::Null));
                            let Some(unit) = unit else {
                                return Err(invalid(
                                    &uat,
                                    "the name of a variant whose schema is [3]",
                                ));
                            };
                            unit.node = None;
                        }
                    }
                    "aliases" => {
                        for (name, list) in aliases(v, &kat)? {
                            let Some(var) = variants.iter_mut().find(|v| v.name == name) else {
                                return Err(invalid(&kat.key(name), "the name of a variant"));
                            };
                            var.aliases = list;
                        }
                    }
                    _ => {
                        return Err(invalid(
                            &kat,
                            "only the keys tagging, content, strict, units and aliases",
                        ));
                    }
                }
            }
        }
        let ext_pos = |key: &'static str| match ext_at {
            Some(i) => c.at.index(i).key(key).location(),
            None => c.at.location(),
        };
        let tagging = match (tagging, content) {
            (None | Some("internal"), None) => Tagging::Internal {
                tag: tag_key.to_owned(),
            },
            (Some("adjacent"), Some(content)) => Tagging::Adjacent {
                tag: tag_key.to_owned(),
                content: content.to_owned(),
            },
            (Some("external"), None) if tag_key.is_empty() => Tagging::External,
            (Some("external"), None) => {
                return Err(DecodeError::Invalid {
                    at: c.at.index(tag_at).location(),
                    expected: "an empty tag key for external tagging",
                });
            }
            (Some("adjacent"), None) => {
                return Err(DecodeError::Invalid {
                    at: ext_pos("content"),
                    expected: "a content key for adjacent tagging",
                });
            }
            _ => {
                return Err(DecodeError::Invalid {
                    at: ext_pos("content"),
                    expected: "no content key unless the tagging is adjacent",
                });
            }
        };
        Ok(Node::DUnion(DUnion {
            tagging,
            variants,
            strict,
        }))
    }

    fn port(&mut self, c: &mut Cursor<'_, '_>, depth: usize) -> Res<Node> {
        let name = c.string("the port name")?;
        // PORT_METHOD, name, param count, ok, err, meta.
        let n = c.count(6, "a method count")?;
        let mut methods = Vec::with_capacity(n);
        for _ in 0..n {
            c.expect_op(Op::PortMethod)?;
            let mname = c.string("the method name")?;
            let np = c.count(4, "a parameter count")?;
            let mut params = Vec::with_capacity(np);
            for _ in 0..np {
                c.expect_op(Op::Property)?;
                let pname = c.string("the parameter name")?;
                if c.flag("0 (parameters are not optional)")? {
                    return Err(invalid(
                        &c.at.index(c.next - 1),
                        "0 (parameters are not optional)",
                    ));
                }
                params.push((
                    pname.to_owned(),
                    self.child(c, depth, "the parameter's node")?,
                ));
            }
            let ok_at = c.next;
            let ok = match self.child(c, depth, "the RESULT_OK node")? {
                Node::ResultOk(inner) => *inner,
                _ => return Err(invalid(&c.at.index(ok_at), "a RESULT_OK node")),
            };
            let err_at = c.next;
            let err = match self.child(c, depth, "the RESULT_ERR node")? {
                Node::ResultErr(inner) => *inner,
                _ => return Err(invalid(&c.at.index(err_at), "a RESULT_ERR node")),
            };
            let (meta, i) = c.take("the method's metadata object")?;
            let at = c.at.index(i);
            let Some(meta) = meta.as_object() else {
                return Err(invalid(&at, "the method's metadata object"));
            };
            let mut idempotent = false;
            let mut http = None;
            for (key, v) in meta {
                let kat = at.key(key);
                match key.as_str() {
                    "idempotent" => match v {
                        Value::Bool(b) => idempotent = *b,
                        _ => return Err(invalid(&kat, "a boolean")),
                    },
                    "http" => http = http_route(v, &kat)?,
                    _ => return Err(invalid(&kat, "only the keys idempotent and http")),
                }
            }
            methods.push(PortMethod {
                name: mname.to_owned(),
                params,
                ok,
                err,
                idempotent,
                http,
            });
        }
        Ok(Node::Port(PortNode {
            name: name.to_owned(),
            methods,
        }))
    }
}

fn http_route(v: &Value, at: &At<'_>) -> Res<Option<HttpRoute>> {
    let m = match v {
        Value::Null => return Ok(None),
        Value::Object(m) => m,
        _ => return Err(invalid(at, "an object {\"method\", \"path\"}")),
    };
    for key in m.keys() {
        if !matches!(key.as_str(), "method" | "path") {
            return Err(invalid(&at.key(key), "only the keys method and path"));
        }
    }
    Ok(Some(HttpRoute {
        method: string(m.get("method"), &at.key("method"), "the HTTP method")?.to_owned(),
        path: string(m.get("path"), &at.key("path"), "the path template")?.to_owned(),
    }))
}

/// An alias table `{"name": ["alias", …]}`, as (name, aliases) pairs.
fn aliases<'v>(v: &'v Value, at: &At<'_>) -> Res<Vec<(&'v str, Vec<String>)>> {
    let Some(table) = v.as_object() else {
        return Err(invalid(at, "an object of alias lists"));
    };
    let mut out = Vec::with_capacity(table.len());
    for (name, list) in table {
        let lat = at.key(name);
        let Some(list) = list.as_array() else {
            return Err(invalid(&lat, "an array of alias names"));
        };
        let mut names = Vec::with_capacity(list.len());
        for (j, alias) in list.iter().enumerate() {
            names.push(string(Some(alias), &lat.index(j), "an alias name")?.to_owned());
        }
        out.push((name.as_str(), names));
    }
    Ok(out)
}

fn decode_literal(v: &Value, at: &At<'_>) -> Res<Literal> {
    match v {
        Value::String(s) => Ok(Literal::Str(s.clone())),
        Value::Bool(b) => Ok(Literal::Bool(*b)),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Ok(Literal::Int(i)),
            (None, Some(x)) => Ok(Literal::Float(x)),
            (None, None) => Err(invalid(at, "a literal number")),
        },
        Value::Object(m) if m.len() == 1 => {
            match m
                .get("float")
                .and_then(Value::as_str)
                .and_then(parse_non_finite)
            {
                Some(x) => Ok(Literal::Float(x)),
                None => Err(invalid(
                    at,
                    "{\"float\": \"NaN\" | \"Infinity\" | \"-Infinity\"}",
                )),
            }
        }
        _ => Err(invalid(at, "a literal string, boolean or number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(schema: &TypeObject) {
        let json = schema.to_json();
        assert_eq!(TypeObject::from_json(&json).as_ref(), Ok(schema), "{json}");
        // And through text.
        let text = json.to_string();
        let reparsed: Value = serde_json::from_str(&text).unwrap_or_default();
        assert_eq!(
            TypeObject::from_json(&reparsed).as_ref(),
            Ok(schema),
            "{text}"
        );
    }

    #[test]
    fn lfts_forms() {
        let obj = Node::Object(Object {
            properties: vec![Property {
                name: "email".into(),
                aliases: vec![],
                required: true,
                node: Node::String.refine(Refinement::Email),
            }],
            strict: false,
            flatten: vec![],
        });
        let schema = TypeObject::new(obj);
        assert_eq!(
            schema.to_json(),
            json!({"lfts": 1, "root": [8, 1, 0, 9, "email", 0, [22, [0]]], "defs": []})
        );
        round_trip(&schema);
    }

    #[test]
    fn dunion_forms() {
        let variants = vec![
            Variant {
                name: "A".into(),
                aliases: vec!["a".into()],
                node: None,
            },
            Variant {
                name: "B".into(),
                aliases: vec![],
                node: Some(Node::Null),
            },
        ];
        for tagging in [
            Tagging::External,
            Tagging::Internal { tag: "t".into() },
            Tagging::Adjacent {
                tag: "t".into(),
                content: "c".into(),
            },
        ] {
            for strict in [false, true] {
                round_trip(&TypeObject::new(Node::DUnion(DUnion {
                    tagging: tagging.clone(),
                    variants: variants.clone(),
                    strict,
                })));
            }
        }
        let plain = TypeObject::new(Node::DUnion(DUnion {
            tagging: Tagging::Internal { tag: "kind".into() },
            variants: vec![Variant {
                name: "X".into(),
                aliases: vec![],
                node: Some(Node::Any),
            }],
            strict: false,
        }));
        assert_eq!(plain.to_json()["root"], json!([13, "kind", 1, "X", [39]]));
    }

    #[test]
    fn floats_and_literals() {
        for lit in [
            Literal::Int(-3),
            Literal::Float(2.0),
            Literal::Float(f64::INFINITY),
            Literal::Str("x".into()),
            Literal::Bool(true),
        ] {
            round_trip(&TypeObject::new(Node::Literal(lit)));
        }
        let inf = TypeObject::new(
            Node::Number(NumberKind::F64).refine(Refinement::Max(f64::NEG_INFINITY)),
        );
        round_trip(&inf);
        assert_eq!(inf.to_json()["root"], json!([16, "-Infinity", [1]]));
    }

    #[test]
    fn errors_have_pointers() {
        let doc = json!({"lfts": 1, "root": [6, [8, 1, 0, 9, "x", 0, [99]]]});
        assert_eq!(
            TypeObject::from_json(&doc),
            Err(DecodeError::UnknownOp {
                at: Location::Pointer("/root/1/6/0".into()),
                code: 99
            })
        );
        let doc = json!({"lfts": 2, "root": [0]});
        assert_eq!(
            TypeObject::from_json(&doc),
            Err(DecodeError::UnsupportedVersion { version: 2 })
        );
        let doc = json!({"lfts": 1, "root": [7, 5, [0]]});
        assert!(matches!(
            TypeObject::from_json(&doc),
            Err(DecodeError::CountTooLarge { count: 5, .. })
        ));
        let doc = json!({"lfts": 1, "root": [0, 1]});
        assert!(matches!(
            TypeObject::from_json(&doc),
            Err(DecodeError::Invalid { .. })
        ));
        let doc = json!({"lfts": 1, "root": [37, 0]});
        assert!(matches!(
            TypeObject::from_json(&doc),
            Err(DecodeError::DanglingRef { index: 0, .. })
        ));
        let doc = json!({"lfts": 1, "root": [12, [0]]});
        assert!(matches!(
            TypeObject::from_json(&doc),
            Err(DecodeError::UnexpectedOp {
                op: Op::Readonly,
                ..
            })
        ));
        let doc = json!({"lfts": 1, "root": [1, "u128"]});
        assert!(matches!(
            TypeObject::from_json(&doc),
            Err(DecodeError::BadNumberKind { .. })
        ));
        let doc = json!({"lfts": 1, "root": [24, "(", [0]]});
        assert!(matches!(
            TypeObject::from_json(&doc),
            Err(DecodeError::BadPattern { .. })
        ));
    }

    #[test]
    fn reads_typescript_output() {
        // What `enc.obj([{name: "id", type: enc.num()}, {name: "tags", type:
        // enc.arr(enc.str()), optional: true}], true)` produces, inside a metadata node.
        let doc = json!({"lfts": 1, "root":
            [32, {"name": "User", "source": "user.ts"},
                [8, 2, 1, 9, "id", 0, [1], 9, "tags", 1, [6, [0]]]]});
        let Ok(schema) = TypeObject::from_json(&doc) else {
            panic!("decodes")
        };
        let Node::Metadata(meta, inner) = schema.root() else {
            panic!("metadata")
        };
        assert_eq!(meta.name.as_deref(), Some("User"));
        let Node::Object(obj) = &**inner else {
            panic!("object")
        };
        assert!(obj.strict);
        assert!(obj.properties[0].required);
        assert!(!obj.properties[1].required);
    }
}
