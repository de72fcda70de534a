//! Export of a [`TypeObject`] as JSON Schema 2020-12.
//!
//! [`TypeObject::to_json_schema`] describes the JSON that the schema accepts, in the rules
//! serde_json applies (and the lfts interpreter with it): named definitions go in `"$defs"`,
//! keyed by definition name, and a `REF` is `{"$ref": "#/$defs/Name"}` (the name escaped as a
//! JSON Pointer and percent-encoded as a URI fragment; a name that is empty or taken by an
//! earlier definition gets a `_N` suffix, `N` its index).
//!
//! # Mapping
//!
//! - `NUMBER`: integer kinds are `{"type": "integer", "minimum": lo, "maximum": hi}` with the
//!   kind's range; `f32`/`f64` are `{"type": "number"}`.
//! - `STRING`, `BOOLEAN`, `NULL` by `"type"`; `LITERAL` is `{"const": v}`; `ANY` is `true`.
//! - `ARRAY` is `"items"`; `TUPLE` is `"prefixItems"` with `"items": false` and
//!   `minItems = maxItems = n`.
//! - `OBJECT`: `"properties"` and `"required"`; `strict` adds `"additionalProperties": false`.
//!   A property with aliases is listed under every name and, since serde rejects a field given
//!   under two of its names, exactly one of them must be present when it is required (`oneOf`
//!   of `required` alternatives) and at most one otherwise. Flattened members go in `"allOf"`,
//!   each read as the interpreter (and serde) reads it: a plain struct takes its own fields
//!   (never strict there); an externally tagged enum takes a key naming a variant; a map, an
//!   untagged or internally/adjacently tagged union, or a struct that flattens others, sees
//!   only the keys that no property and no earlier member took (those are listed as
//!   `true` properties of its subschema, so its `additionalProperties` skips them); a
//!   flattened `Option` or `()` accepts anything. A strict object refuses every key that
//!   neither it, its flattened members nor its enclosing object took.
//! - `MAP`: `{"type": "object", "additionalProperties": V}`; a key that is not a plain string
//!   adds `"propertyNames"`: for integer kinds a pattern of the JSON integers in the kind's
//!   range (serde_json parses map keys as JSON numbers, so `"01"`, `"+1"` and `"-0"` are
//!   refused, and so is `"256"` for a `u8`; see [`key_pattern`]), a JSON number pattern for
//!   floats, `"true"` / `"false"` for booleans, the names of the unit variants for an enum,
//!   and the key's own schema otherwise.
//! - `UNION` is `anyOf` (first-match acceptance is `anyOf` acceptance).
//! - `DUNION` is a `oneOf` of one alternative per variant name and alias:
//!   - external: `{"const": "Unit"}` and `{"Unit": null}` for unit variants,
//!     `{"Name": payload}` (exactly one property) for the others;
//!   - internal (tag `k`): `{"k": "Name", …}`. A unit variant is the tag object alone, and
//!     ignores every other key even when the enum is strict (as serde does). A struct
//!     variant is its object with the tag as one more required property, strict when either
//!     it or the enum is; any other payload (a newtype of a struct, a map, `()`…) is read
//!     from the object less the tag: `allOf [tag object, payload]`, with the payload's
//!     schema inlined (`$ref` resolved) and the tag key exempted from it;
//!   - adjacent (tag `t`, content `c`): `{"t": "Name", "c": payload}` with both required;
//!     for unit variants `c` may be omitted or `null`. A strict union closes the object.
//! - Buffered reads. serde reads some values through its internal buffer, and the
//!   interpreter follows: untagged union alternatives and most flattened members from a
//!   borrowed buffer; internally tagged payloads, flattened plain structs and externally
//!   tagged enums, and adjacently tagged content that precedes its tag, from an owned one.
//!   Below such a point, a map with number or boolean keys accepts no key at all, and (owned
//!   buffer only) `()` also accepts `{}`. Definitions whose schema changes this way get
//!   extra copies in `"$defs"`, `Name@owned` and `Name@borrowed`, referred to from inside
//!   such points. Adjacent content "precedes its tag" when its key sorts first: serde_json's
//!   maps are sorted unless its `preserve_order` feature is on.
//! - `OPTIONAL` is `anyOf [inner, {"type": "null"}]`; `OPTION_SOME` is the inner schema,
//!   `OPTION_NONE` is `{"type": "null"}`; `RESULT_OK` / `RESULT_ERR` are `{"Ok": T}` /
//!   `{"Err": E}` objects with exactly that property.
//! - `BRAND` adds `"title"`; `METADATA` adds `"title"` and `"description"`.
//! - Refinements become keywords on the inner schema (a bound the inner schema already has is
//!   tightened, so a `u8` with `min = 13` is `"minimum": 13`; other clashes, and a `$ref`
//!   inner schema, give `allOf [inner, {keywords}]`): `minimum`, `maximum`,
//!   `multipleOf: 1`, `minLength`, `maxLength`, `minItems`/`maxItems` (`minProperties`/
//!   `maxProperties` for maps, both when the inner type is not known to be either),
//!   `exclusiveMinimum: 0`, `exclusiveMaximum: 0`, `pattern`, and `minLength`/`minItems`/
//!   `minProperties: 1` for `NON_EMPTY`. `EMAIL`, `URL` and `UUID` give the JSON Schema
//!   `"format"` (`email`, `uri`, `uuid`) *and* a `"pattern"` that is exactly the rule the
//!   interpreter checks ([`EMAIL_PATTERN`], [`url_pattern`], [`UUID_PATTERN`]), because
//!   `"format"` only annotates unless a validator is told to assert it.
//! - `PORT` is `{"title": name, "x-lfts-port": {…}}`: a description of the methods and their
//!   parameter, success and error schemas. A port is not a value; the schema asserts nothing.
//!
//! # Known gaps
//!
//! JSON Schema compares numbers by value, while serde_json also looks at how a number is
//! written. So:
//!
//! - an integer kind (`u8` … `i64`) refuses `1.0`, `1e2` and `-0` in serde_json (and in the
//!   interpreter), but JSON Schema's `"integer"` accepts them (it means "a number with no
//!   fractional part"); the same holds for an integer `LITERAL` (`{"const": 1}` matches
//!   `1.0`). No JSON Schema keyword can tell these apart, so the exported schema accepts them.
//! - Refinements of number-kind `MAP` keys (`min`, `max`…) are not exported, and a float key
//!   too large for an `f64` (`"1e400"`, which serde_json refuses) matches the key pattern.
//! - serde_json also accepts a struct, and an internally or adjacently tagged enum, written as
//!   a JSON array (`[field1, field2]`, `["Variant", …]`); these sequence forms are not
//!   described.
//! - The email rule limits a domain to 253 bytes; the pattern does not (it has no look-ahead,
//!   so that every regex dialect reads it).
//! - `REFINE_PATTERN` is exported as written; the interpreter runs it with Rust's `regex`
//!   syntax, JSON Schema validators with ECMA-262. Common patterns mean the same in both.
//! - Refinements on flattened members are not exported; a flattened externally tagged enum
//!   given two variant keys has both checked (the interpreter checks the first).
//! - A `REF` to a definition that does not exist is `false`; a non-finite float `LITERAL`
//!   (which no JSON text can carry) is `false` as well.

use std::cell::RefCell;
use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::{
    DUnion, Def, DefId, Literal, Node, NumberKind, Object, PortNode, Refinement, Tagging,
    TypeObject,
};

/// The `"$schema"` of every exported document.
pub const DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

/// The interpreter's email rule as an anchored pattern (the HTML living standard's "valid
/// email address"; see [`crate::validate::formats::is_email`]).
pub const EMAIL_PATTERN: &str = concat!(
    "^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@",
    "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?",
    "(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
);

/// The interpreter's UUID rule (hyphenated, any version, either case) as an anchored pattern.
pub const UUID_PATTERN: &str =
    "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$";

/// What the interpreter treats as whitespace or control characters (Unicode `White_Space` and
/// `Cc`), as the body of a regex character class.
const SPACE_OR_CONTROL: &str =
    "\\x00-\\x20\\x7F-\\x9F\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000";

/// A port number of at most five digits whose value is at most 65535.
const PORT: &str =
    "(?:[0-9]{1,4}|[0-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])";

/// A hostname: dot-separated labels of 1 to 63 alphanumerics and inner hyphens.
const HOSTNAME: &str = concat!(
    "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?",
    "(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
);

/// The interpreter's URL rule (see [`crate::validate::formats::is_url`]) as an anchored
/// pattern: `http`/`https` in any case, optional userinfo, a hostname or bracketed IPv6
/// address, an optional port up to 65535, then anything after the authority, with no
/// whitespace or control character anywhere.
pub fn url_pattern() -> String {
    let ws = SPACE_OR_CONTROL;
    format!(
        "^[hH][tT][tT][pP][sS]?://(?:[^/?#{ws}]*@)?\
         (?:\\[[0-9A-Fa-f:.]+\\](?::{PORT}|[^:/?#@{ws}][^/?#@{ws}]*)?|{HOSTNAME}(?::{PORT})?)\
         (?:[/?#][^{ws}]*)?$"
    )
}

impl TypeObject {
    /// This schema as a JSON Schema 2020-12 document (see the [module docs](self) for the
    /// mapping and its known gaps).
    pub fn to_json_schema(&self) -> Value {
        let ex = Exporter::new(self);
        let mut doc = match ex.schema(self.root(), Mode::Direct) {
            Value::Object(m) => m,
            Value::Bool(false) => {
                let mut m = Map::new();
                m.insert("not".into(), json!({}));
                m
            }
            _ => Map::new(),
        };
        doc.insert("$schema".into(), json!(DIALECT));
        if !self.defs().is_empty() {
            let mut defs: Map<String, Value> = self
                .defs()
                .iter()
                .zip(&ex.keys)
                .map(|(def, key)| (key.clone(), ex.schema(&def.node, Mode::Direct)))
                .collect();
            // Copies of definitions read from serde's buffers, as they were asked for (each
            // copy may ask for more; there are at most two per definition).
            let mut done = BTreeSet::new();
            loop {
                let pending: Vec<(usize, Mode)> =
                    ex.used.borrow().difference(&done).copied().collect();
                if pending.is_empty() {
                    break;
                }
                for (i, mode) in pending {
                    done.insert((i, mode));
                    if let (Some(def), Some(key)) = (self.defs().get(i), ex.mode_key(i, mode)) {
                        defs.insert(key, ex.schema(&def.node, mode));
                    }
                }
            }
            doc.insert("$defs".into(), Value::Object(defs));
        }
        Value::Object(doc)
    }
}

/// How serde reaches a value, as the interpreter models it: straight from the JSON value, or
/// through serde's internal buffer, which reads a few things differently (no number or
/// boolean map keys at all; from an owned buffer, `()` also accepts `{}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Mode {
    Direct,
    /// Internally tagged payloads, flattened plain structs and externally tagged enums,
    /// adjacently tagged content that precedes its tag.
    Owned,
    /// Untagged union alternatives, other flattened members.
    Borrowed,
}

/// What a refinement's inner type is, to pick between `minItems` and `minProperties`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Str,
    Num,
    Items,
    Props,
    Unknown,
}

/// How an object is rendered: as a value, as the payload of an internal tag, as a flattened
/// member (keys others took are invisible to it).
struct ObjCtx<'x> {
    /// An internal tag `(key, variant name)` to require.
    tag: Option<(&'x str, &'x str)>,
    /// Whether unknown keys are refused.
    strict: bool,
    mode: Mode,
    /// Keys that the enclosing object (or tag) took: allowed, and not seen by this object.
    exempt: &'x [String],
}

struct Exporter<'a> {
    schema: &'a TypeObject,
    keys: Vec<String>,
    /// For each definition whose schema depends on the [`Mode`], its keys in `$defs` when read
    /// from an owned and from a borrowed buffer.
    mode_keys: Vec<Option<[String; 2]>>,
    /// Buffered copies referred to so far.
    used: RefCell<BTreeSet<(usize, Mode)>>,
}

impl<'a> Exporter<'a> {
    fn new(schema: &'a TypeObject) -> Exporter<'a> {
        let defs = schema.defs();
        let mut taken: BTreeSet<String> = BTreeSet::new();
        let mut unique = |wanted: String| {
            let mut key = wanted;
            while taken.contains(&key) {
                key.push('_');
            }
            taken.insert(key.clone());
            key
        };
        let mut keys: Vec<String> = Vec::with_capacity(defs.len());
        for (i, def) in defs.iter().enumerate() {
            let seen = keys.contains(&def.name);
            keys.push(unique(if def.name.is_empty() || seen {
                format!("{}_{i}", def.name)
            } else {
                def.name.clone()
            }));
        }
        let sensitive = mode_sensitive(defs);
        let mode_keys = keys
            .iter()
            .zip(&sensitive)
            .map(|(key, s)| {
                s.then(|| {
                    [
                        unique(format!("{key}@owned")),
                        unique(format!("{key}@borrowed")),
                    ]
                })
            })
            .collect();
        Exporter {
            schema,
            keys,
            mode_keys,
            used: RefCell::new(BTreeSet::new()),
        }
    }

    fn mode_key(&self, i: usize, mode: Mode) -> Option<String> {
        let [owned, borrowed] = self.mode_keys.get(i)?.as_ref()?;
        match mode {
            Mode::Direct => self.keys.get(i).cloned(),
            Mode::Owned => Some(owned.clone()),
            Mode::Borrowed => Some(borrowed.clone()),
        }
    }

    fn reference(&self, id: DefId, mode: Mode) -> Value {
        let i = id.0 as usize;
        let key = match (mode, self.mode_key(i, mode)) {
            (Mode::Direct, _) | (_, None) => self.keys.get(i).cloned(),
            (_, Some(key)) => {
                self.used.borrow_mut().insert((i, mode));
                Some(key)
            }
        };
        match key {
            Some(key) => json!({"$ref": format!("#/$defs/{}", fragment(&key))}),
            None => Value::Bool(false),
        }
    }

    /// `node` with references, metadata, brands (and, when asked, `OPTION_SOME` and
    /// `OPTIONAL`) looked through; a cycle of bare references ends after as many steps as
    /// there are definitions.
    fn resolve(&self, mut node: &'a Node, through_options: bool) -> &'a Node {
        let mut hops = 0;
        loop {
            match node {
                Node::Ref(id) if hops <= self.schema.defs().len() => {
                    hops += 1;
                    match self.schema.def(*id) {
                        Some(def) => node = &def.node,
                        None => return node,
                    }
                }
                Node::Metadata(_, inner) | Node::Brand(_, inner) => node = inner,
                Node::OptionSome(inner) | Node::Optional(inner) if through_options => {
                    node = inner;
                }
                _ => return node,
            }
        }
    }

    /// The kind of value a refinement on `node` sees.
    fn kind(&self, mut node: &'a Node) -> Kind {
        loop {
            match self.resolve(node, true) {
                Node::Refine(_, inner) => node = inner,
                Node::String | Node::Literal(Literal::Str(_)) => return Kind::Str,
                Node::Number(_) | Node::Literal(Literal::Int(_) | Literal::Float(_)) => {
                    return Kind::Num;
                }
                Node::Array(_) | Node::Tuple(_) => return Kind::Items,
                Node::Map { .. } => return Kind::Props,
                _ => return Kind::Unknown,
            }
        }
    }

    fn schema(&self, node: &'a Node, mode: Mode) -> Value {
        match node {
            Node::String => json!({"type": "string"}),
            Node::Number(kind) => number(*kind),
            Node::Boolean => json!({"type": "boolean"}),
            Node::Null if mode == Mode::Owned => {
                json!({"anyOf": [{"type": "null"}, {"type": "object", "maxProperties": 0}]})
            }
            Node::Null | Node::OptionNone => json!({"type": "null"}),
            Node::Literal(lit) => match lit {
                Literal::Str(s) => json!({"const": s}),
                Literal::Bool(b) => json!({"const": b}),
                Literal::Int(n) => json!({"const": n}),
                Literal::Float(x) if x.is_finite() => json!({"const": float(*x)}),
                Literal::Float(_) => Value::Bool(false),
            },
            Node::Any => Value::Bool(true),
            Node::Array(inner) => json!({"type": "array", "items": self.schema(inner, mode)}),
            Node::Tuple(items) if items.is_empty() => json!({"type": "array", "maxItems": 0}),
            Node::Tuple(items) => {
                let prefix: Vec<Value> = items.iter().map(|n| self.schema(n, mode)).collect();
                json!({
                    "type": "array",
                    "prefixItems": prefix,
                    "items": false,
                    "minItems": items.len(),
                    "maxItems": items.len(),
                })
            }
            Node::Object(obj) => self.object(
                obj,
                &ObjCtx {
                    tag: None,
                    strict: obj.strict,
                    mode,
                    exempt: &[],
                },
            ),
            Node::Map { key, value } => self.map(key, value, mode, &[]),
            Node::Union(alts) => any_of(alts.iter().map(|n| self.schema(n, Mode::Borrowed))),
            Node::DUnion(d) => self.dunion(d, mode, &[]),
            Node::Optional(inner) => {
                json!({"anyOf": [self.schema(inner, mode), {"type": "null"}]})
            }
            Node::Brand(name, inner) => annotate(
                self.schema(inner, mode),
                [("title", json!(name))].into_iter(),
            ),
            Node::Ref(id) => self.reference(*id, mode),
            Node::Refine(r, inner) => self.refine(r, inner, self.schema(inner, mode)),
            Node::ResultOk(inner) => tagged_object("Ok", self.schema(inner, mode)),
            Node::ResultErr(inner) => tagged_object("Err", self.schema(inner, mode)),
            Node::OptionSome(inner) => self.schema(inner, mode),
            Node::Metadata(meta, inner) => {
                let notes = meta
                    .name
                    .iter()
                    .map(|n| ("title", json!(n)))
                    .chain(meta.description.iter().map(|d| ("description", json!(d))));
                annotate(self.schema(inner, mode), notes)
            }
            Node::Port(port) => self.port(port),
        }
    }

    /// The schema of "the object, less the `exempt` keys, is a `node`": how serde reads an
    /// internally tagged payload (less the tag) or a flattened member (less what others took).
    fn view(&self, node: &'a Node, mode: Mode, exempt: &[String]) -> Value {
        if exempt.is_empty() {
            return self.schema(node, mode);
        }
        let mut base = node;
        let mut refinements = Vec::new();
        loop {
            match self.resolve(base, false) {
                Node::Refine(r, inner) => {
                    refinements.push(r);
                    base = inner;
                }
                Node::OptionSome(inner) => base = inner,
                _ => break,
            }
        }
        let closed = |props: Map<String, Value>, required: &[&str]| {
            let mut m = exempt_props(exempt);
            m.extend(props);
            json!({
                "type": "object",
                "properties": m,
                "required": required,
                "additionalProperties": false,
            })
        };
        let out = match self.resolve(base, false) {
            Node::Object(obj) => self.object(
                obj,
                &ObjCtx {
                    tag: None,
                    strict: obj.strict,
                    mode,
                    exempt,
                },
            ),
            Node::Map { key, value } => self.map(key, value, mode, exempt),
            Node::DUnion(d) => self.dunion(d, mode, exempt),
            Node::Union(alts) => any_of(alts.iter().map(|n| self.view(n, Mode::Borrowed, exempt))),
            Node::ResultOk(inner) | Node::ResultErr(inner) => {
                let key = if matches!(base, Node::ResultOk(_)) {
                    "Ok"
                } else {
                    "Err"
                };
                let mut props = Map::new();
                props.insert(key.to_owned(), self.schema(inner, mode));
                closed(props, &[key])
            }
            Node::Any => Value::Bool(true),
            Node::Null if mode == Mode::Owned => closed(Map::new(), &[]),
            Node::Port(port) => self.port(port),
            _ => Value::Bool(false),
        };
        refinements
            .into_iter()
            .rev()
            .fold(out, |s, r| self.refine(r, base, s))
    }

    /// An object schema (see [`ObjCtx`]), with the interpreter's reading of flattened members:
    /// a plain struct takes its fields (from an owned buffer, never strict); a struct that
    /// flattens others, a map, an untagged or internally/adjacently tagged union read what no
    /// earlier member took (from a borrowed buffer); an externally tagged enum takes the first
    /// key naming a variant; a flattened `Option` or `()` accepts anything. A strict object
    /// refuses every key that neither it, its members nor its enclosing object took.
    fn object(&self, obj: &'a Object, ctx: &ObjCtx<'_>) -> Value {
        let mut props = exempt_props(ctx.exempt);
        let mut required: Vec<Value> = Vec::new();
        let mut all_of: Vec<Value> = Vec::new();
        let mut taken: Vec<String> = ctx.exempt.to_vec();
        if let Some((key, name)) = ctx.tag {
            props.insert(key.to_owned(), json!({"const": name}));
            required.push(json!(key));
            taken.push(key.to_owned());
        }
        for p in &obj.properties {
            let s = self.schema(&p.node, ctx.mode);
            let names = std::iter::once(&p.name).chain(&p.aliases);
            for n in names.clone() {
                props.insert(n.clone(), s.clone());
                taken.push(n.clone());
            }
            if p.aliases.is_empty() {
                if p.required {
                    required.push(json!(p.name));
                }
                continue;
            }
            let mut alts: Vec<Value> = names.map(|n| json!({"required": [n]})).collect();
            if !p.required {
                let none = json!({"not": {"anyOf": alts.clone()}});
                alts.push(none);
            }
            all_of.push(json!({"oneOf": alts}));
        }
        for member in &obj.flatten {
            let mut node = member;
            while let Node::OptionSome(inner) | Node::Refine(_, inner) = self.resolve(node, false) {
                node = inner;
            }
            match self.resolve(node, false) {
                Node::Object(o) if o.flatten.is_empty() => {
                    all_of.push(self.object(
                        o,
                        &ObjCtx {
                            tag: None,
                            strict: false,
                            mode: Mode::Owned,
                            exempt: &[],
                        },
                    ));
                    for p in &o.properties {
                        taken.push(p.name.clone());
                        taken.extend(p.aliases.iter().cloned());
                    }
                }
                Node::DUnion(d) if d.tagging == Tagging::External => {
                    all_of.push(self.flat_external(d));
                    for v in &d.variants {
                        taken.push(v.name.clone());
                        taken.extend(v.aliases.iter().cloned());
                    }
                }
                Node::Optional(_) | Node::Null | Node::OptionNone => {}
                resolved @ (Node::Object(_)
                | Node::Map { .. }
                | Node::DUnion(_)
                | Node::Union(_)
                | Node::Any) => all_of.push(self.view(resolved, Mode::Borrowed, &taken)),
                _ => all_of.push(Value::Bool(false)),
            }
        }
        let mut m = Map::new();
        m.insert("type".into(), json!("object"));
        if ctx.strict {
            for key in &taken {
                if !props.contains_key(key) {
                    props.insert(key.clone(), Value::Bool(true));
                }
            }
            m.insert("additionalProperties".into(), Value::Bool(false));
        }
        if !props.is_empty() {
            m.insert("properties".into(), Value::Object(props));
        }
        if !required.is_empty() {
            m.insert("required".into(), Value::Array(required));
        }
        if !all_of.is_empty() {
            m.insert("allOf".into(), Value::Array(all_of));
        }
        Value::Object(m)
    }

    /// A flattened externally tagged enum: the first key naming a variant holds its payload.
    fn flat_external(&self, d: &'a DUnion) -> Value {
        let mut props = Map::new();
        let mut alts = Vec::new();
        for v in &d.variants {
            let payload = match &v.node {
                Some(p) => self.schema(p, Mode::Owned),
                None => self.schema(&Node::Null, Mode::Owned),
            };
            for name in std::iter::once(&v.name).chain(&v.aliases) {
                props.insert(name.clone(), payload.clone());
                alts.push(json!({"required": [name]}));
            }
        }
        if alts.is_empty() {
            return Value::Bool(false);
        }
        json!({"type": "object", "properties": props, "anyOf": alts})
    }

    /// A map (or, with `exempt` keys, the rest of an object read as a map).
    fn map(&self, key: &'a Node, value: &'a Node, mode: Mode, exempt: &[String]) -> Value {
        let mut m = Map::new();
        m.insert("type".into(), json!("object"));
        if !exempt.is_empty() {
            m.insert("properties".into(), Value::Object(exempt_props(exempt)));
        }
        match self.key_schema(key, mode) {
            // No key can be read: only the exempt keys may be there.
            Some(Value::Bool(false)) => {
                m.insert("additionalProperties".into(), Value::Bool(false));
                return Value::Object(m);
            }
            Some(rule) if exempt.is_empty() => {
                m.insert("propertyNames".into(), rule);
            }
            Some(rule) => {
                let names = json!({"anyOf": [{"enum": exempt}, rule]});
                m.insert("propertyNames".into(), names);
            }
            None => {}
        }
        m.insert("additionalProperties".into(), self.schema(value, mode));
        Value::Object(m)
    }

    /// What a map key must look like, as a schema on the key string; `None` for any string,
    /// `Some(false)` for none.
    fn key_schema(&self, key: &'a Node, mode: Mode) -> Option<Value> {
        match self.resolve(key, true) {
            Node::String | Node::Any => None,
            Node::Number(_) | Node::Boolean if mode != Mode::Direct => Some(Value::Bool(false)),
            Node::Number(kind) => Some(json!({"pattern": key_pattern(*kind)})),
            Node::Boolean => Some(json!({"enum": ["true", "false"]})),
            Node::Literal(Literal::Str(s)) => Some(json!({"const": s})),
            Node::DUnion(d) if d.tagging == Tagging::External => {
                let names: Vec<&String> = d
                    .variants
                    .iter()
                    .filter(|v| v.node.is_none())
                    .flat_map(|v| std::iter::once(&v.name).chain(&v.aliases))
                    .collect();
                Some(if names.is_empty() {
                    Value::Bool(false)
                } else {
                    json!({"enum": names})
                })
            }
            Node::Refine(r, inner) => {
                let base = self.key_schema(inner, mode);
                if base == Some(Value::Bool(false)) || self.kind(inner) != Kind::Str {
                    // Refinements of number keys are not exported.
                    return base;
                }
                let s = self.refine(r, inner, base.unwrap_or(json!({"type": "string"})));
                Some(s)
            }
            Node::Union(alts) => {
                let mut rules = Vec::new();
                for alt in alts {
                    match self.key_schema(alt, Mode::Borrowed) {
                        None => return None,
                        Some(rule) => rules.push(rule),
                    }
                }
                Some(any_of(rules.into_iter()))
            }
            _ => Some(Value::Bool(false)),
        }
    }

    /// A tagged union, as a value (`exempt` empty) or as a flattened member.
    fn dunion(&self, d: &'a DUnion, mode: Mode, exempt: &[String]) -> Value {
        let mut alts: Vec<Value> = Vec::new();
        for v in &d.variants {
            let names = || std::iter::once(&v.name).chain(&v.aliases);
            match &d.tagging {
                Tagging::External => {
                    let payload = match &v.node {
                        Some(p) => self.schema(p, mode),
                        None => self.schema(&Node::Null, mode),
                    };
                    for name in names() {
                        if v.node.is_none() && exempt.is_empty() {
                            alts.push(json!({"const": name}));
                        }
                        let mut props = exempt_props(exempt);
                        props.insert(name.clone(), payload.clone());
                        alts.push(json!({
                            "type": "object",
                            "properties": props,
                            "required": [name],
                            "additionalProperties": false,
                        }));
                    }
                }
                Tagging::Internal { tag } => {
                    for name in names() {
                        alts.push(self.internal_variant(d, tag, name, v.node.as_ref(), exempt));
                    }
                }
                Tagging::Adjacent { tag, content } => {
                    // serde_json's maps are sorted: content whose key sorts before the tag's
                    // is read before the tag, from serde's owned buffer.
                    let content_mode = if content < tag { Mode::Owned } else { mode };
                    let payload = match &v.node {
                        Some(p) => self.schema(p, content_mode),
                        None => self.schema(&Node::Null, content_mode),
                    };
                    for name in names() {
                        let mut props = exempt_props(exempt);
                        props.insert(tag.clone(), json!({"const": name}));
                        props.insert(content.clone(), payload.clone());
                        let required = if v.node.is_some() {
                            json!([tag, content])
                        } else {
                            json!([tag])
                        };
                        let mut m = Map::new();
                        m.insert("type".into(), json!("object"));
                        m.insert("properties".into(), Value::Object(props));
                        m.insert("required".into(), required);
                        if d.strict {
                            m.insert("additionalProperties".into(), Value::Bool(false));
                        }
                        alts.push(Value::Object(m));
                    }
                }
            }
        }
        if alts.is_empty() {
            Value::Bool(false)
        } else {
            json!({"oneOf": alts})
        }
    }

    /// One name of an internally tagged variant. serde reads a unit variant from the tag
    /// alone, ignoring every other key (even when the enum is strict); a payload is read from
    /// the same object less the tag, from an owned buffer, and a struct variant inherits the
    /// enum's strictness.
    fn internal_variant(
        &self,
        d: &'a DUnion,
        key: &str,
        name: &str,
        payload: Option<&'a Node>,
        exempt: &[String],
    ) -> Value {
        let tag_only = json!({
            "type": "object",
            "properties": {key: {"const": name}},
            "required": [key],
        });
        let Some(payload) = payload else {
            return tag_only;
        };
        let mut direct = payload;
        while let Node::Metadata(_, inner) = direct {
            direct = inner;
        }
        if let Node::Object(obj) = direct {
            return self.object(
                obj,
                &ObjCtx {
                    tag: Some((key, name)),
                    strict: obj.strict || d.strict,
                    mode: Mode::Owned,
                    exempt,
                },
            );
        }
        let mut rest = exempt.to_vec();
        rest.push(key.to_owned());
        json!({"allOf": [tag_only, self.view(payload, Mode::Owned, &rest)]})
    }

    /// The refinement `r` of `inner`, whose schema is `s`.
    fn refine(&self, r: &Refinement, inner: &'a Node, s: Value) -> Value {
        let kind = self.kind(inner);
        let mut kw: Vec<(&'static str, Value)> = Vec::new();
        let counts = |kw: &mut Vec<(&'static str, Value)>,
                      items: &'static str,
                      props: &'static str,
                      n: u64| {
            match kind {
                Kind::Items => kw.push((items, json!(n))),
                Kind::Props => kw.push((props, json!(n))),
                _ => {
                    kw.push((items, json!(n)));
                    kw.push((props, json!(n)));
                }
            }
        };
        match r {
            Refinement::Min(x) => match bound(*x, true) {
                Bound::None => {}
                Bound::Keyword(v) => kw.push(("minimum", v)),
                Bound::Nothing => kw.push(("not", json!({"type": "number"}))),
            },
            Refinement::Max(x) => match bound(*x, false) {
                Bound::None => {}
                Bound::Keyword(v) => kw.push(("maximum", v)),
                Bound::Nothing => kw.push(("not", json!({"type": "number"}))),
            },
            Refinement::Integer => kw.push(("multipleOf", json!(1))),
            Refinement::MinLength(n) => kw.push(("minLength", json!(n))),
            Refinement::MaxLength(n) => kw.push(("maxLength", json!(n))),
            Refinement::MinItems(n) => counts(&mut kw, "minItems", "minProperties", *n),
            Refinement::MaxItems(n) => counts(&mut kw, "maxItems", "maxProperties", *n),
            Refinement::Email => {
                kw.push(("format", json!("email")));
                kw.push(("pattern", json!(EMAIL_PATTERN)));
            }
            Refinement::Url => {
                kw.push(("format", json!("uri")));
                kw.push(("pattern", json!(url_pattern())));
            }
            Refinement::Uuid => {
                kw.push(("format", json!("uuid")));
                kw.push(("pattern", json!(UUID_PATTERN)));
            }
            Refinement::Pattern(p) => kw.push(("pattern", json!(p.as_str()))),
            Refinement::NonEmpty => match kind {
                Kind::Str => kw.push(("minLength", json!(1))),
                Kind::Items => kw.push(("minItems", json!(1))),
                Kind::Props => kw.push(("minProperties", json!(1))),
                Kind::Num | Kind::Unknown => {
                    kw.push(("minLength", json!(1)));
                    kw.push(("minItems", json!(1)));
                    kw.push(("minProperties", json!(1)));
                }
            },
            Refinement::Positive => kw.push(("exclusiveMinimum", json!(0))),
            Refinement::Negative => kw.push(("exclusiveMaximum", json!(0))),
        }
        constrain(s, kw)
    }

    fn port(&self, port: &'a PortNode) -> Value {
        let methods: Vec<Value> = port
            .methods
            .iter()
            .map(|m| {
                let params: Vec<Value> = m
                    .params
                    .iter()
                    .map(|(name, node)| {
                        json!({"name": name, "schema": self.schema(node, Mode::Direct)})
                    })
                    .collect();
                let mut out = Map::new();
                out.insert("name".into(), json!(m.name));
                out.insert("params".into(), Value::Array(params));
                out.insert("ok".into(), self.schema(&m.ok, Mode::Direct));
                out.insert("err".into(), self.schema(&m.err, Mode::Direct));
                out.insert("idempotent".into(), json!(m.idempotent));
                if let Some(route) = &m.http {
                    out.insert(
                        "http".into(),
                        json!({"method": route.method, "path": route.path}),
                    );
                }
                Value::Object(out)
            })
            .collect();
        json!({
            "title": port.name,
            "x-lfts-port": {"name": port.name, "methods": methods},
        })
    }
}

/// The pattern of a map key of a number kind. serde_json parses such a key as a JSON number:
/// integer kinds take JSON integers (no sign but `-`, no leading zero, not `-0`) within the
/// kind's range, float kinds any JSON number.
pub fn key_pattern(kind: NumberKind) -> String {
    match kind.int_range() {
        Some((lo, hi)) => {
            let mut alts = vec!["0".to_owned()];
            if hi > 0 {
                alts.push(one_to(hi.unsigned_abs()));
            }
            if lo < 0 {
                alts.push(format!("-(?:{})", one_to(lo.unsigned_abs())));
            }
            format!("^(?:{})$", alts.join("|"))
        }
        None => "^-?(?:0|[1-9][0-9]*)(?:\\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$".to_owned(),
    }
}

/// A regex alternation matching the decimal numbers `1..=n` written without leading zeros.
fn one_to(n: u128) -> String {
    let text = n.to_string();
    let digits: Vec<u8> = text.bytes().map(|b| b - b'0').collect();
    let len = digits.len();
    let repeat = |count: usize| match count {
        0 => String::new(),
        1 => "[0-9]".to_owned(),
        n => format!("[0-9]{{{n}}}"),
    };
    let mut alts = Vec::new();
    // Every number with fewer digits.
    match len {
        0 | 1 => {}
        2 => alts.push("[1-9]".to_owned()),
        _ => alts.push(format!("[1-9][0-9]{{0,{}}}", len - 2)),
    }
    // As many digits: equal to `n` up to position `i`, smaller there, anything after.
    for (i, &digit) in digits.iter().enumerate() {
        let low = u8::from(i == 0);
        if digit > low {
            let class = if digit - 1 == low {
                low.to_string()
            } else {
                format!("[{low}-{}]", digit - 1)
            };
            alts.push(format!("{}{class}{}", &text[..i], repeat(len - i - 1)));
        }
    }
    alts.push(text);
    alts.join("|")
}

fn number(kind: NumberKind) -> Value {
    match kind.int_range() {
        Some((lo, hi)) => json!({"type": "integer", "minimum": int(lo), "maximum": int(hi)}),
        None => json!({"type": "number"}),
    }
}

/// An `i128` bound as a JSON integer (every kind's bounds fit an `i64` or a `u64`).
fn int(n: i128) -> Value {
    if let Ok(n) = i64::try_from(n) {
        json!(n)
    } else if let Ok(n) = u64::try_from(n) {
        json!(n)
    } else {
        json!(n as f64)
    }
}

/// A finite float as JSON, written as an integer when it is one (`13`, not `13.0`).
fn float(x: f64) -> Value {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if x.fract() == 0.0 && x.abs() < EXACT {
        json!(x as i64)
    } else {
        json!(x)
    }
}

enum Bound {
    /// No constraint (`NaN`, or an infinity on the open side).
    None,
    /// A finite bound.
    Keyword(Value),
    /// No number passes (an infinity on the closed side).
    Nothing,
}

fn bound(x: f64, lower: bool) -> Bound {
    if x.is_nan() {
        Bound::None
    } else if x.is_finite() {
        Bound::Keyword(float(x))
    } else if (x > 0.0) == lower {
        Bound::Nothing
    } else {
        Bound::None
    }
}

/// `{"type": "object", "properties": {name: schema}, "required": [name],
/// "additionalProperties": false}`: serde's form of an enum variant with a payload.
fn tagged_object(name: &str, schema: Value) -> Value {
    let mut props = Map::new();
    props.insert(name.to_owned(), schema);
    json!({
        "type": "object",
        "properties": props,
        "required": [name],
        "additionalProperties": false,
    })
}

/// `anyOf` of the schemas, `false` for none.
fn any_of(list: impl Iterator<Item = Value>) -> Value {
    let list: Vec<Value> = list.collect();
    if list.is_empty() {
        Value::Bool(false)
    } else {
        json!({"anyOf": list})
    }
}

/// `{"key": true}` for every exempt key, so that they count as declared.
fn exempt_props(exempt: &[String]) -> Map<String, Value> {
    exempt
        .iter()
        .map(|k| (k.clone(), Value::Bool(true)))
        .collect()
}

/// Which definitions render differently when read from serde's buffers: those that contain
/// `()` or a map with number or boolean keys, directly or through other definitions.
fn mode_sensitive(defs: &[Def]) -> Vec<bool> {
    let mut refs: Vec<Vec<usize>> = vec![Vec::new(); defs.len()];
    let mut sensitive = vec![false; defs.len()];
    for (i, def) in defs.iter().enumerate() {
        let mut visit = |node: &Node| match node {
            Node::Null => sensitive[i] = true,
            Node::Map { key, .. } if !matches!(**key, Node::String | Node::Any) => {
                sensitive[i] = true;
            }
            Node::Ref(id) => refs[i].push(id.0 as usize),
            _ => {}
        };
        super::walk(&def.node, &mut visit);
    }
    // Propagate through references until nothing changes (at most one pass per definition).
    for _ in 0..defs.len() {
        let mut changed = false;
        for i in 0..defs.len() {
            if !sensitive[i] && refs[i].iter().any(|j| sensitive.get(*j) == Some(&true)) {
                sensitive[i] = true;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    sensitive
}

/// Adds assertion keywords to a schema: in place when it is an object without `$ref` and
/// each keyword is either new to it or a bound that can be tightened (`minimum: 0` and a new
/// `minimum: 13` make `minimum: 13`), else as `allOf [schema, {keywords}]`.
fn constrain(schema: Value, keywords: Vec<(&'static str, Value)>) -> Value {
    if keywords.is_empty() {
        return schema;
    }
    let mut extra = Map::new();
    let mut clash = false;
    for (k, v) in keywords {
        clash |= extra.insert(k.to_owned(), v).is_some();
    }
    match schema {
        Value::Bool(true) if !clash => Value::Object(extra),
        Value::Bool(false) => Value::Bool(false),
        Value::Object(mut m) if !clash && !m.contains_key("$ref") => {
            let merged: Option<Vec<(String, Value)>> = extra
                .iter()
                .map(|(k, v)| match m.get(k) {
                    None => Some((k.clone(), v.clone())),
                    Some(old) => tighter(k, old, v).map(|t| (k.clone(), t)),
                })
                .collect();
            match merged {
                Some(merged) => {
                    m.extend(merged);
                    Value::Object(m)
                }
                None => json!({"allOf": [Value::Object(m), extra]}),
            }
        }
        other => json!({"allOf": [other, extra]}),
    }
}

/// The stricter of two values of the same bound keyword, when the keyword is a bound.
fn tighter(key: &str, old: &Value, new: &Value) -> Option<Value> {
    let lower = match key {
        "minimum" | "minLength" | "minItems" | "minProperties" => true,
        "maximum" | "maxLength" | "maxItems" | "maxProperties" => false,
        _ => return None,
    };
    let (Value::Number(a), Value::Number(b)) = (old, new) else {
        return None;
    };
    let as_int = |n: &serde_json::Number| {
        n.as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
    };
    let new_is_stricter = match (as_int(a), as_int(b)) {
        (Some(a), Some(b)) => (b > a) == lower && a != b,
        _ => {
            let (a, b) = (a.as_f64()?, b.as_f64()?);
            (b > a) == lower && a != b
        }
    };
    Some(if new_is_stricter { new } else { old }.clone())
}

/// Adds annotation keywords (`title`, `description`) to a schema: in place when it is an
/// object without them (a `$ref` may have siblings in 2020-12), else as `allOf`.
fn annotate(schema: Value, notes: impl Iterator<Item = (&'static str, Value)>) -> Value {
    let notes: Map<String, Value> = notes.map(|(k, v)| (k.to_owned(), v)).collect();
    if notes.is_empty() {
        return schema;
    }
    match schema {
        Value::Bool(true) => Value::Object(notes),
        Value::Object(mut m) if notes.keys().all(|k| !m.contains_key(k)) => {
            m.extend(notes);
            Value::Object(m)
        }
        other => {
            let mut m = notes;
            m.insert("allOf".into(), json!([other]));
            Value::Object(m)
        }
    }
}

/// A `$defs` key as a URI fragment: escaped as a JSON Pointer token (`~0`, `~1`), then
/// percent-encoded outside RFC 3986's fragment characters.
fn fragment(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.replace('~', "~0").replace('/', "~1").bytes() {
        let keep = b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b);
        if keep {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::{Def, Pattern, Property, Variant};
    use super::*;
    use crate::validate::formats;

    fn prop(name: &str, required: bool, node: Node) -> Property {
        Property {
            name: name.into(),
            aliases: vec![],
            required,
            node,
        }
    }

    #[test]
    fn email_property() {
        let schema = TypeObject::new(Node::Object(Object {
            properties: vec![prop("email", true, Node::String.refine(Refinement::Email))],
            strict: true,
            flatten: vec![],
        }));
        let js = schema.to_json_schema();
        assert_eq!(js["$schema"], json!(DIALECT));
        assert_eq!(js["type"], json!("object"));
        assert_eq!(js["required"], json!(["email"]));
        assert_eq!(js["additionalProperties"], json!(false));
        assert_eq!(js["properties"]["email"]["type"], json!("string"));
        assert_eq!(js["properties"]["email"]["format"], json!("email"));
    }

    #[test]
    fn recursive_defs_use_ref() {
        let tree = Node::Object(Object {
            properties: vec![prop(
                "children",
                true,
                Node::Array(Box::new(Node::Ref(DefId(0)))),
            )],
            strict: false,
            flatten: vec![],
        });
        let schema = TypeObject::from_parts(
            Node::Ref(DefId(0)),
            vec![Def {
                name: "Tree<T>".into(),
                node: tree,
            }],
        );
        let js = schema.to_json_schema();
        assert_eq!(js["$ref"], json!("#/$defs/Tree%3CT%3E"));
        assert_eq!(
            js["$defs"]["Tree<T>"]["properties"]["children"]["items"],
            json!({"$ref": "#/$defs/Tree%3CT%3E"})
        );
    }

    #[test]
    fn numbers_and_refinements() {
        let js = TypeObject::new(Node::Number(NumberKind::U64)).to_json_schema();
        assert_eq!(js["minimum"], json!(0));
        assert_eq!(js["maximum"], json!(u64::MAX));
        let js = TypeObject::new(Node::Number(NumberKind::I64)).to_json_schema();
        assert_eq!(js["minimum"], json!(i64::MIN));
        let node = Node::Number(NumberKind::F64)
            .refine(Refinement::Min(13.0))
            .refine(Refinement::Positive);
        let js = TypeObject::new(node).to_json_schema();
        assert_eq!(
            js,
            json!({"$schema": DIALECT, "type": "number", "minimum": 13, "exclusiveMinimum": 0})
        );
    }

    #[test]
    fn bounds_tighten() {
        // The u8 range already has "minimum" and "maximum": the refinements tighten them.
        let node = Node::Number(NumberKind::U8)
            .refine(Refinement::Min(13.0))
            .refine(Refinement::Max(300.0));
        let js = TypeObject::new(node).to_json_schema();
        assert_eq!(js["minimum"], json!(13));
        assert_eq!(js["maximum"], json!(255));
        let node = Node::Number(NumberKind::U64).refine(Refinement::Max(1e30));
        let js = TypeObject::new(node).to_json_schema();
        assert_eq!(js["maximum"], json!(u64::MAX));
        let node = Node::Number(NumberKind::I64).refine(Refinement::Min(-0.5));
        let js = TypeObject::new(node).to_json_schema();
        assert_eq!(js["minimum"], json!(-0.5));
        // A pattern on a pattern cannot be merged.
        let p = |s: &str| Refinement::Pattern(Pattern::new(s).unwrap_or_else(|_| panic!("{s}")));
        let node = Node::String.refine(p("a")).refine(p("b"));
        let js = TypeObject::new(node).to_json_schema();
        assert_eq!(
            js["allOf"],
            json!([{"type": "string", "pattern": "a"}, {"pattern": "b"}])
        );
    }

    #[test]
    fn map_keys() {
        let node = Node::Map {
            key: Box::new(Node::Number(NumberKind::U32)),
            value: Box::new(Node::Boolean),
        };
        let js = TypeObject::new(node).to_json_schema();
        assert_eq!(
            js["propertyNames"],
            json!({"pattern": key_pattern(NumberKind::U32)})
        );
        assert_eq!(js["additionalProperties"], json!({"type": "boolean"}));
        let node = Node::Map {
            key: Box::new(Node::String),
            value: Box::new(Node::Any),
        };
        let js = TypeObject::new(node).to_json_schema();
        assert!(js.get("propertyNames").is_none());
    }

    #[test]
    fn external_units() {
        let node = Node::DUnion(DUnion {
            tagging: Tagging::External,
            variants: vec![Variant {
                name: "Unit".into(),
                aliases: vec![],
                node: None,
            }],
            strict: false,
        });
        let js = TypeObject::new(node).to_json_schema();
        assert_eq!(js["oneOf"][0], json!({"const": "Unit"}));
        assert_eq!(js["oneOf"][1]["required"], json!(["Unit"]));
    }

    #[test]
    fn key_patterns_match_serde_json() {
        fn accepts<K>(key: &str) -> bool
        where
            K: serde::de::DeserializeOwned + Eq + std::hash::Hash,
        {
            serde_json::from_value::<std::collections::HashMap<K, bool>>(json!({key: true})).is_ok()
        }
        let mut keys: Vec<String> = (-1100..1100).map(|n: i32| n.to_string()).collect();
        for edge in [
            i64::MIN as i128,
            i64::MAX as i128,
            u64::MAX as i128,
            1 << 64,
        ] {
            for delta in [-11, -1, 0, 1, 10] {
                keys.push((edge + delta).to_string());
            }
        }
        for n in [
            u8::MAX as i128,
            u16::MAX as i128,
            u32::MAX as i128,
            i32::MIN as i128,
        ] {
            for delta in [-1, 0, 1] {
                keys.push((n + delta).to_string());
            }
        }
        keys.extend(["-0", "01", "+1", "1.0", "1e2", " 1", "", "-", "00"].map(String::from));
        type Accepts = fn(&str) -> bool;
        let kinds: [(NumberKind, Accepts); 10] = [
            (NumberKind::U8, accepts::<u8>),
            (NumberKind::U16, accepts::<u16>),
            (NumberKind::U32, accepts::<u32>),
            (NumberKind::U64, accepts::<u64>),
            (NumberKind::I8, accepts::<i8>),
            (NumberKind::I16, accepts::<i16>),
            (NumberKind::I32, accepts::<i32>),
            (NumberKind::I64, accepts::<i64>),
            (NumberKind::F32, accepts::<ordered::F32>),
            (NumberKind::F64, accepts::<ordered::F64>),
        ];
        for (kind, serde_accepts) in kinds {
            let pattern = key_pattern(kind);
            let Ok(re) = regex::Regex::new(&pattern) else {
                panic!("{pattern} compiles")
            };
            for key in &keys {
                assert_eq!(re.is_match(key), serde_accepts(key), "{kind:?} key {key:?}");
            }
        }
    }

    /// Float keys for a `HashMap` (floats are not `Eq`): compared by bits.
    mod ordered {
        use serde::Deserialize;

        #[derive(Deserialize, PartialEq, Eq, Hash)]
        #[serde(from = "f32")]
        pub struct F32(u32);
        impl From<f32> for F32 {
            fn from(x: f32) -> F32 {
                F32(x.to_bits())
            }
        }

        #[derive(Deserialize, PartialEq, Eq, Hash)]
        #[serde(from = "f64")]
        pub struct F64(u64);
        impl From<f64> for F64 {
            fn from(x: f64) -> F64 {
                F64(x.to_bits())
            }
        }
    }

    #[test]
    fn buffered_reads() {
        // Unit { u: () } and Ids { ids: HashMap<u32, String> }, each the payload of an
        // internally tagged newtype variant, and flattened into an object.
        let unit = Def {
            name: "Unit".into(),
            node: Node::Object(Object {
                properties: vec![prop("u", true, Node::Null)],
                strict: false,
                flatten: vec![],
            }),
        };
        let ids = Node::Map {
            key: Box::new(Node::Number(NumberKind::U32)),
            value: Box::new(Node::String),
        };
        let variant = |name: &str, node| Variant {
            name: name.into(),
            aliases: vec![],
            node: Some(node),
        };
        let schema = TypeObject::from_parts(
            Node::Tuple(vec![
                Node::DUnion(DUnion {
                    tagging: Tagging::Internal { tag: "kind".into() },
                    variants: vec![variant("U", Node::Ref(DefId(0))), variant("I", ids.clone())],
                    strict: false,
                }),
                Node::Object(Object {
                    properties: vec![prop("id", true, Node::Number(NumberKind::U8))],
                    strict: false,
                    flatten: vec![ids.clone()],
                }),
                ids,
            ]),
            vec![unit],
        );
        let js = schema.to_json_schema();
        let [dunion, flat, plain] = [0, 1, 2].map(|i| js["prefixItems"][i].clone());
        // The struct read from the buffer accepts `{}` for `()`.
        assert_eq!(
            dunion["oneOf"][0]["allOf"][1]["properties"]["u"],
            json!({"anyOf": [{"type": "null"}, {"type": "object", "maxProperties": 0}]})
        );
        assert_eq!(
            dunion["oneOf"][0]["allOf"][1]["properties"]["kind"],
            json!(true)
        );
        // The u32-keyed map read from the buffer takes no key but the tag.
        assert_eq!(
            dunion["oneOf"][1]["allOf"][1],
            json!({"type": "object", "properties": {"kind": true}, "additionalProperties": false})
        );
        assert_eq!(
            flat["allOf"][0],
            json!({"type": "object", "properties": {"id": true}, "additionalProperties": false})
        );
        assert_eq!(
            plain["propertyNames"],
            json!({"pattern": key_pattern(NumberKind::U32)})
        );
        // The definition as read directly.
        assert_eq!(
            js["$defs"]["Unit"]["properties"]["u"],
            json!({"type": "null"})
        );
        // Referred to from an untagged union, a definition gets its buffered copy.
        let union = TypeObject::from_parts(
            Node::Union(vec![Node::Ref(DefId(0)), Node::String]),
            schema.defs().to_vec(),
        );
        let js = union.to_json_schema();
        assert_eq!(js["anyOf"][0], json!({"$ref": "#/$defs/Unit@borrowed"}));
        assert_eq!(
            js["$defs"]["Unit@borrowed"]["properties"]["u"],
            json!({"type": "null"})
        );
        assert!(js["$defs"].get("Unit@owned").is_none());
    }

    #[test]
    fn fragments() {
        assert_eq!(fragment("a/b~c d"), "a~1b~0c%20d");
        assert_eq!(fragment("Ünï"), "%C3%9Cn%C3%AF");
    }

    fn check_pattern(pattern: &str, rule: fn(&str) -> bool, samples: &[&str]) {
        let re = regex::Regex::new(pattern);
        let Ok(re) = re else {
            panic!("{pattern} compiles")
        };
        for s in samples {
            assert_eq!(re.is_match(s), rule(s), "{s:?} against {pattern}");
        }
    }

    const URLS: &[&str] = &[
        "http://a",
        "https://example.com/x?y#z",
        "HTTP://a.b:8080",
        "hTtPs://u:p@h.io",
        "http://[::1]:80/",
        "http://[::1]",
        "http://[::1]x",
        "http://[::1]:",
        "http://[::1]:99999",
        "http://[]",
        "http://[::1",
        "http://a@b@c",
        "http://a@",
        "http://@a",
        "",
        "ftp://a",
        "http://",
        "http:// a",
        "http://a b",
        "http://a/\u{a0}",
        "http://a/\u{feff}",
        "http://a/\u{85}",
        "http://a:99999",
        "http://a:65535",
        "http://a:65536",
        "http://a:00080",
        "http://a:",
        "http://a:x",
        "http://-a",
        "http://a-",
        "http://a..b",
        "http://a.b.",
        "http://a?q",
        "http://a#f",
        "http://a:1:2",
        "example.com",
        "http://xn--d1a.b/ü",
    ];

    #[test]
    fn url_pattern_matches_interpreter() {
        check_pattern(&url_pattern(), formats::is_url, URLS);
    }

    #[test]
    fn email_pattern_matches_interpreter() {
        let samples = [
            "a@b",
            "ada.lovelace+x@example.co.uk",
            "x_y@a-b.c",
            "",
            "@b",
            "a@",
            "a@b@c",
            "a b@c",
            "a@-b.c",
            "a@b-.c",
            "a@b..c",
            "ä@b.c",
            "a@b.",
            "{|}~@x",
            "a@b\n",
        ];
        check_pattern(EMAIL_PATTERN, formats::is_email, &samples);
    }

    #[test]
    fn uuid_pattern_matches_interpreter() {
        let samples = [
            "123e4567-e89b-12d3-a456-426614174000",
            "123E4567-E89B-12D3-A456-426614174000",
            "123e4567e89b12d3a456426614174000",
            "123e4567-e89b-12d3-a456-42661417400g",
            "123e4567-e89b-12d3-a456-4266141740000",
            "123e4567-e89b-12d3-a456-426614174000\n",
        ];
        check_pattern(UUID_PATTERN, formats::is_uuid, &samples);
    }

    proptest::proptest! {
        #[test]
        fn url_pattern_agrees(s in "[hH][tT]{2}[pP][sS]?://[a-z0-9@:.\\[\\]/?# \u{a0}-]{0,12}") {
            let re = regex::Regex::new(&url_pattern());
            proptest::prop_assert!(re.is_ok());
            if let Ok(re) = re {
                proptest::prop_assert_eq!(re.is_match(&s), formats::is_url(&s), "{:?}", s);
            }
        }

        #[test]
        fn email_pattern_agrees(s in "[a-z.+@-]{0,8}") {
            let re = regex::Regex::new(EMAIL_PATTERN);
            proptest::prop_assert!(re.is_ok());
            if let Ok(re) = re {
                proptest::prop_assert_eq!(re.is_match(&s), formats::is_email(&s), "{:?}", s);
            }
        }
    }
}
