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
        let mut dec = Decoder {
            defs: 0,
            patterns: HashMap::new(),
            paths: Vec::new(),
        };
        let Some(doc) = value.as_object() else {
            return Err(dec.invalid(DOC, &[], "an object {\"lfts\", \"root\", \"defs\"}"));
        };
        for key in doc.keys() {
            if !matches!(key.as_str(), "lfts" | "root" | "defs") {
                return Err(dec.invalid(
                    DOC,
                    &[Seg::Key(key)],
                    "only the keys lfts, root and defs",
                ));
            }
        }
        match doc.get("lfts").map(Value::as_u64) {
            Some(Some(JSON_FORMAT_VERSION)) => {}
            Some(Some(version)) => return Err(DecodeError::UnsupportedVersion { version }),
            _ => return Err(dec.invalid(DOC, &[Seg::Key("lfts")], "the format version 1")),
        }
        let raw_defs: &[Value] = match doc.get("defs") {
            None => &[],
            Some(Value::Array(list)) => list,
            Some(_) => {
                return Err(dec.invalid(DOC, &[Seg::Key("defs")], "an array of definitions"));
            }
        };
        dec.defs = raw_defs.len();
        let mut defs = Vec::with_capacity(raw_defs.len());
        for (i, raw) in raw_defs.iter().enumerate() {
            let here = [Seg::Key("defs"), Seg::Index(i)];
            let Some(obj) = raw.as_object() else {
                return Err(dec.invalid(DOC, &here, "a definition {\"name\", \"node\"}"));
            };
            for key in obj.keys() {
                if !matches!(key.as_str(), "name" | "node") {
                    let at = [Seg::Key("defs"), Seg::Index(i), Seg::Key(key)];
                    return Err(dec.invalid(DOC, &at, "only the keys name and node"));
                }
            }
            let Some(name) = obj.get("name").and_then(Value::as_str) else {
                let at = [Seg::Key("defs"), Seg::Index(i), Seg::Key("name")];
                return Err(dec.invalid(DOC, &at, "the definition's name"));
            };
            let at = [Seg::Key("defs"), Seg::Index(i), Seg::Key("node")];
            let Some(node) = obj.get("node") else {
                return Err(dec.invalid(DOC, &at, "the definition's node"));
            };
            let at = dec.path(DOC, &at);
            let node = dec.tree(node, at)?;
            defs.push(Def {
                name: name.to_owned(),
                node,
            });
        }
        let Some(root) = doc.get("root") else {
            return Err(dec.invalid(DOC, &[Seg::Key("root")], "the root node"));
        };
        let at = dec.path(DOC, &[Seg::Key("root")]);
        let root = dec.tree(root, at)?;
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
//
// Iterative, so that the call stack stays flat whatever the input: `Decoder::tree` keeps an
// explicit stack of tasks. Each node array is parsed twice by the same code (`Decoder::parse`):
// first with a `Collect` sink that checks everything but the children and lists where the
// children are, then, once those are decoded, with a `Feed` sink that hands them over in the
// same order.

/// A position in the document: an index into the decoder's path arena, or [`DOC`].
type PathId = usize;

/// The document itself.
const DOC: PathId = usize::MAX;

/// One step of a JSON Pointer.
#[derive(Clone, Copy)]
enum Seg<'v> {
    Key(&'v str),
    Index(usize),
}

type Res<T> = Result<T, DecodeError>;

struct Decoder<'v> {
    defs: usize,
    patterns: HashMap<String, Pattern>,
    /// Where each visited child is: its parent and the step from it. Grows by a few entries
    /// per node, so it is bounded by the size of the document.
    paths: Vec<(PathId, Seg<'v>)>,
}

/// Receives the children a node array holds, in order.
trait Sink<'v> {
    fn child(
        &mut self,
        dec: &mut Decoder<'v>,
        value: &'v Value,
        parent: PathId,
        segs: &[Seg<'v>],
    ) -> Res<Node>;
}

/// First pass: remembers each child and where it is, and stands in for it with `ANY`.
struct Collect<'v> {
    children: Vec<(&'v Value, PathId)>,
}

impl<'v> Sink<'v> for Collect<'v> {
    fn child(
        &mut self,
        dec: &mut Decoder<'v>,
        value: &'v Value,
        parent: PathId,
        segs: &[Seg<'v>],
    ) -> Res<Node> {
        let at = dec.path(parent, segs);
        self.children.push((value, at));
        Ok(Node::Any)
    }
}

/// Second pass: hands over the decoded children.
struct Feed {
    children: std::vec::IntoIter<Node>,
}

impl<'v> Sink<'v> for Feed {
    fn child(
        &mut self,
        dec: &mut Decoder<'v>,
        _value: &'v Value,
        parent: PathId,
        segs: &[Seg<'v>],
    ) -> Res<Node> {
        // The first pass saw the same children, so there is always one.
        self.children
            .next()
            .ok_or_else(|| dec.invalid(parent, segs, "a node"))
    }
}

enum Task<'v> {
    /// Check a node array and schedule its children.
    Visit(&'v Value, PathId, usize),
    /// Build a node array from its `usize` decoded children, the last ones on the done stack.
    Build(&'v [Value], PathId, usize),
}

impl<'v> Decoder<'v> {
    /// Records the position `segs` below `parent`.
    fn path(&mut self, parent: PathId, segs: &[Seg<'v>]) -> PathId {
        let mut at = parent;
        for seg in segs {
            self.paths.push((at, *seg));
            at = self.paths.len() - 1;
        }
        at
    }

    /// The JSON Pointer of `segs` below `at`.
    fn location(&self, at: PathId, segs: &[Seg<'_>]) -> Location {
        let mut chain: Vec<String> = segs.iter().rev().map(seg_text).collect();
        let mut cur = at;
        // Each entry's parent was recorded before it, so the walk ends.
        while let Some((parent, seg)) = self.paths.get(cur) {
            chain.push(seg_text(seg));
            if *parent >= cur {
                break;
            }
            cur = *parent;
        }
        let mut out = String::new();
        for step in chain.iter().rev() {
            out.push('/');
            out.push_str(step);
        }
        Location::Pointer(out)
    }

    fn invalid(&self, at: PathId, segs: &[Seg<'_>], expected: &'static str) -> DecodeError {
        DecodeError::Invalid {
            at: self.location(at, segs),
            expected,
        }
    }

    /// Decodes a node and everything below it.
    fn tree(&mut self, value: &'v Value, at: PathId) -> Res<Node> {
        let mut tasks = vec![Task::Visit(value, at, 0)];
        let mut done: Vec<Node> = Vec::new();
        while let Some(task) = tasks.pop() {
            match task {
                Task::Visit(value, at, depth) => {
                    if depth >= MAX_DECODE_DEPTH {
                        return Err(DecodeError::TooDeep {
                            at: self.location(at, &[]),
                            limit: MAX_DECODE_DEPTH,
                        });
                    }
                    let Some(items) = value.as_array() else {
                        return Err(self.invalid(at, &[], NODE));
                    };
                    let mut sink = Collect {
                        children: Vec::new(),
                    };
                    self.parse(items, at, &mut sink)?;
                    tasks.push(Task::Build(items, at, sink.children.len()));
                    for (child, cat) in sink.children.into_iter().rev() {
                        tasks.push(Task::Visit(child, cat, depth + 1));
                    }
                }
                Task::Build(items, at, n) => {
                    let start = done.len().saturating_sub(n);
                    let children = done.split_off(start);
                    let mut sink = Feed {
                        children: children.into_iter(),
                    };
                    let node = self.parse(items, at, &mut sink)?;
                    done.push(node);
                }
            }
        }
        match (done.pop(), done.is_empty()) {
            (Some(node), true) => Ok(node),
            _ => Err(self.invalid(at, &[], NODE)),
        }
    }

    /// Parses one node array, getting its children from `sink`.
    fn parse<S: Sink<'v>>(&mut self, items: &'v [Value], at: PathId, sink: &mut S) -> Res<Node> {
        let mut c = Cursor { items, next: 0, at };
        let op = c.op(self, NODE)?;
        let node = self.payload(op, &mut c, sink)?;
        c.finish(self)?;
        Ok(node)
    }

    /// The next entry of `c`, as a child node.
    fn child<S: Sink<'v>>(
        &mut self,
        c: &mut Cursor<'v>,
        sink: &mut S,
        expected: &'static str,
    ) -> Res<Node> {
        let (v, i) = c.take(self, expected)?;
        sink.child(self, v, c.at, &[Seg::Index(i)])
    }

    fn boxed<S: Sink<'v>>(&mut self, c: &mut Cursor<'v>, sink: &mut S) -> Res<Box<Node>> {
        self.child(c, sink, "the inner node").map(Box::new)
    }

    fn payload<S: Sink<'v>>(&mut self, op: Op, c: &mut Cursor<'v>, sink: &mut S) -> Res<Node> {
        Ok(match op {
            Op::String => Node::String,
            Op::Boolean => Node::Boolean,
            Op::Null => Node::Null,
            Op::OptionNone => Node::OptionNone,
            Op::Any => Node::Any,
            Op::Number => match c.peek() {
                None => Node::Number(NumberKind::F64),
                Some(_) => {
                    let (v, i) = c.take(self, "a number kind")?;
                    let Some(name) = v.as_str() else {
                        return Err(self.invalid(c.at, &[Seg::Index(i)], "a number kind name"));
                    };
                    match NumberKind::from_name(name) {
                        Some(kind) => Node::Number(kind),
                        None => {
                            return Err(DecodeError::BadNumberKind {
                                at: self.location(c.at, &[Seg::Index(i)]),
                                kind: name.to_owned(),
                            });
                        }
                    }
                }
            },
            Op::Literal => {
                let (v, i) = c.take(self, "a literal value")?;
                match decode_literal(v) {
                    Some(lit) => Node::Literal(lit),
                    None => {
                        return Err(self.invalid(
                            c.at,
                            &[Seg::Index(i)],
                            "a literal string, boolean or number",
                        ));
                    }
                }
            }
            Op::Array => Node::Array(self.boxed(c, sink)?),
            Op::Optional => Node::Optional(self.boxed(c, sink)?),
            Op::ResultOk => Node::ResultOk(self.boxed(c, sink)?),
            Op::ResultErr => Node::ResultErr(self.boxed(c, sink)?),
            Op::OptionSome => Node::OptionSome(self.boxed(c, sink)?),
            Op::Tuple | Op::Union => {
                let n = c.count(self, 1, "an item count")?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.child(c, sink, "an item")?);
                }
                if op == Op::Tuple {
                    Node::Tuple(items)
                } else {
                    Node::Union(items)
                }
            }
            Op::Object => self.object(c, sink)?,
            Op::Map => {
                let key = Box::new(self.child(c, sink, "the key node")?);
                let value = Box::new(self.child(c, sink, "the value node")?);
                Node::Map { key, value }
            }
            Op::DUnion => self.dunion(c, sink)?,
            Op::Brand => {
                let name = c.string(self, "the brand name")?;
                Node::Brand(name.to_owned(), self.boxed(c, sink)?)
            }
            Op::Ref => {
                let i = c.next;
                let index = c.u64(self, "a definition index")?;
                match u32::try_from(index) {
                    Ok(id) if (id as usize) < self.defs => Node::Ref(DefId(id)),
                    _ => {
                        return Err(DecodeError::DanglingRef {
                            at: self.location(c.at, &[Seg::Index(i)]),
                            index,
                            defs: self.defs,
                        });
                    }
                }
            }
            Op::RefineMin | Op::RefineMax => {
                let (v, i) = c.take(self, "a bound")?;
                let x = match v {
                    Value::Number(n) => n.as_f64(),
                    Value::String(s) => parse_non_finite(s),
                    _ => None,
                };
                let Some(x) = x else {
                    return Err(self.invalid(c.at, &[Seg::Index(i)], "a number"));
                };
                let r = if op == Op::RefineMin {
                    Refinement::Min(x)
                } else {
                    Refinement::Max(x)
                };
                Node::Refine(r, self.boxed(c, sink)?)
            }
            Op::RefineMinLength | Op::RefineMaxLength | Op::RefineMinItems | Op::RefineMaxItems => {
                let n = c.u64(self, "a non-negative integer")?;
                let r = match op {
                    Op::RefineMinLength => Refinement::MinLength(n),
                    Op::RefineMaxLength => Refinement::MaxLength(n),
                    Op::RefineMinItems => Refinement::MinItems(n),
                    _ => Refinement::MaxItems(n),
                };
                Node::Refine(r, self.boxed(c, sink)?)
            }
            Op::RefinePattern => {
                let i = c.next;
                let source = c.string(self, "a pattern")?;
                let pattern = self.pattern(source, c.at, i)?;
                Node::Refine(Refinement::Pattern(pattern), self.boxed(c, sink)?)
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
                Node::Refine(r, self.boxed(c, sink)?)
            }
            Op::Metadata => {
                let (v, i) = c.take(self, "a metadata object")?;
                let Some(m) = v.as_object() else {
                    return Err(self.invalid(c.at, &[Seg::Index(i)], "a metadata object"));
                };
                let mut meta = Metadata::default();
                for (key, slot) in [
                    ("name", &mut meta.name),
                    ("description", &mut meta.description),
                ] {
                    match m.get(key) {
                        None | Some(Value::Null) => {}
                        Some(Value::String(s)) => *slot = Some(s.clone()),
                        Some(_) => {
                            let at = [Seg::Index(i), Seg::Key(key)];
                            return Err(self.invalid(c.at, &at, "a string"));
                        }
                    }
                }
                Node::Metadata(meta, self.boxed(c, sink)?)
            }
            Op::Port => self.port(c, sink)?,
            Op::Undefined | Op::Readonly | Op::Effect | Op::Property | Op::PortMethod => {
                return Err(DecodeError::UnexpectedOp {
                    at: self.location(c.at, &[Seg::Index(0)]),
                    op,
                });
            }
        })
    }

    /// A `REFINE_PATTERN`'s pattern: compiled once per distinct source.
    fn pattern(&mut self, source: &str, at: PathId, i: usize) -> Res<Pattern> {
        if let Some(p) = self.patterns.get(source) {
            return Ok(p.clone());
        }
        match Pattern::new(source) {
            Ok(p) => {
                self.patterns.insert(source.to_owned(), p.clone());
                Ok(p)
            }
            Err(e) => Err(DecodeError::BadPattern {
                at: self.location(at, &[Seg::Index(i)]),
                pattern: source.to_owned(),
                reason: e.to_string(),
            }),
        }
    }

    fn object<S: Sink<'v>>(&mut self, c: &mut Cursor<'v>, sink: &mut S) -> Res<Node> {
        let n = c.count(self, 4, "a property count")?;
        let strict = c.flag(self, "the strict flag (0 or 1)")?;
        let mut properties = Vec::with_capacity(n);
        for _ in 0..n {
            c.expect_op(self, Op::Property)?;
            let name = c.string(self, "a property name")?;
            let optional = c.flag(self, "the optional flag (0 or 1)")?;
            let node = self.child(c, sink, "the property's node")?;
            properties.push(Property {
                name: name.to_owned(),
                aliases: Vec::new(),
                required: !optional,
                node,
            });
        }
        let mut flatten = Vec::new();
        if let Some(Value::Object(ext)) = c.peek() {
            let (_, i) = c.take(self, "the extension object")?;
            for (key, v) in ext {
                let kat = [Seg::Index(i), Seg::Key(key)];
                match key.as_str() {
                    "aliases" => {
                        for (name, list) in self.aliases(v, c.at, &kat)? {
                            let Some(p) = properties.iter_mut().find(|p| p.name == name) else {
                                let at = [Seg::Index(i), Seg::Key(key), Seg::Key(name)];
                                return Err(self.invalid(c.at, &at, "the name of a property"));
                            };
                            p.aliases = list;
                        }
                    }
                    "flatten" => {
                        let Some(list) = v.as_array() else {
                            return Err(self.invalid(c.at, &kat, "an array of nodes"));
                        };
                        flatten.reserve(list.len());
                        for (j, item) in list.iter().enumerate() {
                            let at = [Seg::Index(i), Seg::Key(key), Seg::Index(j)];
                            flatten.push(sink.child(self, item, c.at, &at)?);
                        }
                    }
                    _ => {
                        return Err(self.invalid(c.at, &kat, "only the keys aliases and flatten"));
                    }
                }
            }
        }
        Ok(Node::Object(Object {
            properties,
            strict,
            flatten,
        }))
    }

    fn dunion<S: Sink<'v>>(&mut self, c: &mut Cursor<'v>, sink: &mut S) -> Res<Node> {
        let tag_at = c.next;
        let tag_key = c.string(self, "the tag key")?;
        let n = c.count(self, 2, "a variant count")?;
        let mut variants = Vec::with_capacity(n);
        let mut raw = Vec::with_capacity(n);
        for _ in 0..n {
            let name = c.string(self, "a variant name")?;
            let (v, i) = c.take(self, "the variant's schema")?;
            raw.push(v);
            let node = sink.child(self, v, c.at, &[Seg::Index(i)])?;
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
            let (_, i) = c.take(self, "the extension object")?;
            ext_at = Some(i);
            for (key, v) in ext {
                let kat = [Seg::Index(i), Seg::Key(key)];
                match key.as_str() {
                    "tagging" => match v.as_str() {
                        Some(t @ ("internal" | "external" | "adjacent")) => tagging = Some(t),
                        _ => {
                            let expected = "\"internal\", \"external\" or \"adjacent\"";
                            return Err(self.invalid(c.at, &kat, expected));
                        }
                    },
                    "content" => match v.as_str() {
                        Some(s) => content = Some(s),
                        None => return Err(self.invalid(c.at, &kat, "the content key")),
                    },
                    "strict" => match v {
                        Value::Bool(b) => strict = *b,
                        _ => return Err(self.invalid(c.at, &kat, "a boolean")),
                    },
                    "units" => {
                        let Some(list) = v.as_array() else {
                            return Err(self.invalid(c.at, &kat, "an array of variant names"));
                        };
                        for (j, name) in list.iter().enumerate() {
                            let uat = [Seg::Index(i), Seg::Key(key), Seg::Index(j)];
                            let unit = name.as_str().and_then(|name| {
                                variants.iter_mut().zip(&raw).find_map(|(v, raw)| {
                                    (v.name == name && v.node.is_some() && is_null_node(raw))
                                        .then_some(v)
                                })
                            });
                            let Some(unit) = unit else {
                                let expected = "the name of a variant whose schema is [3]";
                                return Err(self.invalid(c.at, &uat, expected));
                            };
                            unit.node = None;
                        }
                    }
                    "aliases" => {
                        for (name, list) in self.aliases(v, c.at, &kat)? {
                            let Some(var) = variants.iter_mut().find(|v| v.name == name) else {
                                let at = [Seg::Index(i), Seg::Key(key), Seg::Key(name)];
                                return Err(self.invalid(c.at, &at, "the name of a variant"));
                            };
                            var.aliases = list;
                        }
                    }
                    _ => {
                        let expected = "only the keys tagging, content, strict, units and aliases";
                        return Err(self.invalid(c.at, &kat, expected));
                    }
                }
            }
        }
        let content_at = match ext_at {
            Some(i) => self.location(c.at, &[Seg::Index(i), Seg::Key("content")]),
            None => self.location(c.at, &[]),
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
                let expected = "an empty tag key for external tagging";
                return Err(self.invalid(c.at, &[Seg::Index(tag_at)], expected));
            }
            (Some("adjacent"), None) => {
                return Err(DecodeError::Invalid {
                    at: content_at,
                    expected: "a content key for adjacent tagging",
                });
            }
            _ => {
                return Err(DecodeError::Invalid {
                    at: content_at,
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

    fn port<S: Sink<'v>>(&mut self, c: &mut Cursor<'v>, sink: &mut S) -> Res<Node> {
        let name = c.string(self, "the port name")?;
        // PORT_METHOD, name, param count, ok, err, meta.
        let n = c.count(self, 6, "a method count")?;
        let mut methods = Vec::with_capacity(n);
        for _ in 0..n {
            c.expect_op(self, Op::PortMethod)?;
            let mname = c.string(self, "the method name")?;
            let np = c.count(self, 4, "a parameter count")?;
            let mut params = Vec::with_capacity(np);
            for _ in 0..np {
                c.expect_op(self, Op::Property)?;
                let pname = c.string(self, "the parameter name")?;
                if c.flag(self, "0 (parameters are not optional)")? {
                    let at = [Seg::Index(c.next.saturating_sub(1))];
                    return Err(self.invalid(c.at, &at, "0 (parameters are not optional)"));
                }
                params.push((
                    pname.to_owned(),
                    self.child(c, sink, "the parameter's node")?,
                ));
            }
            let ok = self.wrapped(c, sink, Op::ResultOk, "a RESULT_OK node [28, ok]")?;
            let err = self.wrapped(c, sink, Op::ResultErr, "a RESULT_ERR node [29, err]")?;
            let (meta, i) = c.take(self, "the method's metadata object")?;
            let Some(meta) = meta.as_object() else {
                return Err(self.invalid(c.at, &[Seg::Index(i)], "the method's metadata object"));
            };
            let mut idempotent = false;
            let mut http = None;
            for (key, v) in meta {
                let kat = [Seg::Index(i), Seg::Key(key)];
                match (key.as_str(), v) {
                    ("idempotent", Value::Bool(b)) => idempotent = *b,
                    ("idempotent", _) => return Err(self.invalid(c.at, &kat, "a boolean")),
                    ("http", Value::Null) => http = None,
                    ("http", Value::Object(route)) => {
                        let field = |k: &str| route.get(k).and_then(Value::as_str);
                        match (field("method"), field("path"), route.len()) {
                            (Some(method), Some(path), 2) => {
                                http = Some(HttpRoute {
                                    method: method.to_owned(),
                                    path: path.to_owned(),
                                });
                            }
                            _ => {
                                let expected = "an object {\"method\": string, \"path\": string}";
                                return Err(self.invalid(c.at, &kat, expected));
                            }
                        }
                    }
                    ("http", _) => {
                        let expected = "an object {\"method\": string, \"path\": string}";
                        return Err(self.invalid(c.at, &kat, expected));
                    }
                    _ => {
                        let expected = "only the keys idempotent and http";
                        return Err(self.invalid(c.at, &kat, expected));
                    }
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

    /// A port method's `[28, ok]` / `[29, err]` entry: the inner node is the child.
    fn wrapped<S: Sink<'v>>(
        &mut self,
        c: &mut Cursor<'v>,
        sink: &mut S,
        op: Op,
        expected: &'static str,
    ) -> Res<Node> {
        let (v, i) = c.take(self, expected)?;
        match v.as_array().map(Vec::as_slice) {
            Some([code, inner]) if code.as_u64() == Some(u64::from(op.code())) => {
                sink.child(self, inner, c.at, &[Seg::Index(i), Seg::Index(1)])
            }
            _ => Err(self.invalid(c.at, &[Seg::Index(i)], expected)),
        }
    }

    /// An alias table `{"name": ["alias", …]}`, as (name, aliases) pairs.
    fn aliases(
        &self,
        v: &'v Value,
        at: PathId,
        segs: &[Seg<'v>],
    ) -> Res<Vec<(&'v str, Vec<String>)>> {
        let Some(table) = v.as_object() else {
            return Err(self.invalid(at, segs, "an object of alias lists"));
        };
        let mut out = Vec::with_capacity(table.len());
        for (name, list) in table {
            let names = list.as_array().and_then(|list| {
                list.iter()
                    .map(|a| a.as_str().map(str::to_owned))
                    .collect::<Option<Vec<String>>>()
            });
            let Some(names) = names else {
                let mut here = segs.to_vec();
                here.push(Seg::Key(name));
                return Err(self.invalid(at, &here, "an array of alias names"));
            };
            out.push((name.as_str(), names));
        }
        Ok(out)
    }
}

/// What a node must look like, for errors.
const NODE: &str = "a node: an array starting with an op code";

fn seg_text(seg: &Seg<'_>) -> String {
    match seg {
        Seg::Key(k) => k.replace('~', "~0").replace('/', "~1"),
        Seg::Index(i) => i.to_string(),
    }
}

/// Whether a raw node is exactly `[3]` (NULL).
fn is_null_node(v: &Value) -> bool {
    matches!(v.as_array().map(Vec::as_slice), Some([code]) if code.as_u64() == Some(u64::from(Op::Null.code())))
}

/// The entries of a node array, read front to back.
struct Cursor<'v> {
    items: &'v [Value],
    next: usize,
    at: PathId,
}

impl<'v> Cursor<'v> {
    fn remaining(&self) -> usize {
        self.items.len().saturating_sub(self.next)
    }

    fn peek(&self) -> Option<&'v Value> {
        self.items.get(self.next)
    }

    /// The next entry and its index; `expected` names it in the error when it is missing.
    fn take(&mut self, dec: &Decoder<'_>, expected: &'static str) -> Res<(&'v Value, usize)> {
        let i = self.next;
        match self.items.get(i) {
            Some(v) => {
                self.next += 1;
                Ok((v, i))
            }
            None => Err(dec.invalid(self.at, &[Seg::Index(i)], expected)),
        }
    }

    fn string(&mut self, dec: &Decoder<'_>, expected: &'static str) -> Res<&'v str> {
        let (v, i) = self.take(dec, expected)?;
        v.as_str()
            .ok_or_else(|| dec.invalid(self.at, &[Seg::Index(i)], expected))
    }

    fn u64(&mut self, dec: &Decoder<'_>, expected: &'static str) -> Res<u64> {
        let (v, i) = self.take(dec, expected)?;
        v.as_u64()
            .ok_or_else(|| dec.invalid(self.at, &[Seg::Index(i)], expected))
    }

    fn flag(&mut self, dec: &Decoder<'_>, expected: &'static str) -> Res<bool> {
        let i = self.next;
        match self.u64(dec, expected)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(dec.invalid(self.at, &[Seg::Index(i)], expected)),
        }
    }

    /// A count of entries that each take `width` array slots, checked against what is left.
    fn count(&mut self, dec: &Decoder<'_>, width: usize, expected: &'static str) -> Res<usize> {
        let i = self.next;
        let n = self.u64(dec, expected)?;
        match usize::try_from(n) {
            Ok(n) if n.saturating_mul(width) <= self.remaining() => Ok(n),
            _ => Err(DecodeError::CountTooLarge {
                at: dec.location(self.at, &[Seg::Index(i)]),
                count: n,
            }),
        }
    }

    /// The op code at the cursor.
    fn op(&mut self, dec: &Decoder<'_>, expected: &'static str) -> Res<Op> {
        let (v, i) = self.take(dec, expected)?;
        let Some(code) = v.as_u64() else {
            return Err(dec.invalid(self.at, &[Seg::Index(i)], "an op code"));
        };
        u8::try_from(code)
            .ok()
            .and_then(Op::from_code)
            .ok_or_else(|| DecodeError::UnknownOp {
                at: dec.location(self.at, &[Seg::Index(i)]),
                code,
            })
    }

    /// Reads the op code of a `PROPERTY` / `PORT_METHOD` entry.
    fn expect_op(&mut self, dec: &Decoder<'_>, expected: Op) -> Res<()> {
        let i = self.next;
        match self.op(dec, "an op code")? {
            op if op == expected => Ok(()),
            op => Err(DecodeError::UnexpectedOp {
                at: dec.location(self.at, &[Seg::Index(i)]),
                op,
            }),
        }
    }

    fn finish(&self, dec: &Decoder<'_>) -> Res<()> {
        if self.remaining() == 0 {
            Ok(())
        } else {
            Err(dec.invalid(self.at, &[Seg::Index(self.next)], "no further entries"))
        }
    }
}

fn decode_literal(v: &Value) -> Option<Literal> {
    match v {
        Value::String(s) => Some(Literal::Str(s.clone())),
        Value::Bool(b) => Some(Literal::Bool(*b)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Some(Literal::Int(i)),
            None => n.as_f64().map(Literal::Float),
        },
        Value::Object(m) if m.len() == 1 => m
            .get("float")
            .and_then(Value::as_str)
            .and_then(parse_non_finite)
            .map(Literal::Float),
        _ => None,
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
