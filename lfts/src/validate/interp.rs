//! The interpreter: walks a `serde_json::Value` against a [`TypeObject`] and reports every
//! place where `serde_json::from_value` would refuse it (plus every failed refinement).
//!
//! # Semantics
//!
//! The oracle is serde_json 1.x with serde's derive: a value is accepted exactly when
//! `serde_json::from_value::<T>` accepts it for the type `T` the schema describes. The rules
//! that are easy to get wrong, all checked against serde itself:
//!
//! * Integer kinds accept only JSON integers in range (`1.0` is a float and is refused, as is
//!   `-0`, which serde_json reads as the float `-0.0`); `f32`/`f64` accept every number.
//! * Number map keys are parsed as serde_json parses them: exactly a JSON number literal (no
//!   `+`, no whitespace, no leading zeros), integers in range for integer kinds, any finite
//!   number for float kinds. Inside data that serde buffers (untagged unions, internally
//!   tagged payloads, flattened fields, adjacently tagged content that precedes its tag) serde
//!   cannot read number or boolean keys at all, so any such key is refused there.
//! * Objects: a property found under its name or an alias is validated; both at once is a
//!   duplicate; a missing required property is an error; `strict` refuses unknown keys.
//!   Flattened members validate the same object: a flattened struct takes its own fields, a
//!   flattened map sees every key no earlier member took, a flattened `Option` never fails, a
//!   flattened externally tagged enum takes the first key naming one of its variants.
//! * Tagged unions follow serde's three representations, including aliases, `{"Unit": null}`
//!   for externally tagged unit variants, absent-or-null content for adjacently tagged unit
//!   variants, and an internally tagged payload read from the same object with the tag key
//!   removed (a newtype of `()` accepts only the bare tag there; a unit variant ignores
//!   every other key, even when the enum denies unknown fields, as serde does).
//! * In buffered data whose owner serde deserializes from an owned buffer (internally tagged
//!   payloads, flattened struct fields), `()` also accepts an empty object, as serde does.
//!
//! # Known differences from serde
//!
//! * A struct is never accepted from a JSON array (serde accepts a sequence of the fields in
//!   order, which no serializer produces); the interpreter refuses it on purpose.
//! * `()` versus a unit struct, and a flattened externally tagged enum given two variant keys,
//!   are approximated (the model does not tell them apart; serde keeps the second key for later
//!   flattened members, the interpreter treats it as taken).
//! * Nesting deeper than [`MAX_DEPTH`](super::MAX_DEPTH) is an error, even though
//!   `from_value` has no limit (serde_json's parser stops at 127 levels).
//!
//! # Cost
//!
//! The walk allocates nothing while the value is valid: the path is a linked list of borrowed
//! segments on the stack, rendered only when an error is kept, and untagged alternatives are
//! tried by counting errors rather than building them. (Past a million node visits the walk
//! measures the document once, with one allocation, to set its work budget.) Objects are
//! matched to their properties in one pass over their keys, remembering the key order of the
//! last few struct shapes; arrays of records touch the item two ahead so that its cache misses
//! overlap with the current item's checks; refinements that plainly hold (lengths on byte
//! counts, ranges, the email rule in one pass) skip [`refine::check`], which words every
//! failure.
//!
//! # Limits
//!
//! Hostile schemas and values are bounded three ways: nesting depth
//! ([`MAX_DEPTH`](super::MAX_DEPTH)), schema steps taken on one value without consuming input
//! (a reference cycle such as `defs[0] = Ref(0)`), and total work (untagged unions nested
//! inside each other can otherwise take exponential time), plus a cap on nested calls that
//! keeps the stack small. Each limit ends the walk with one error, never a panic or a stack
//! overflow.

use std::fmt::Write as _;

use serde_json::{Map, Number, Value};

use super::refine::{self, View};
use super::{MAX_DEPTH, MAX_ERRORS, ValidationError, ValidationErrors, push_escaped};
use crate::schema::{
    DUnion, Def, DefId, Literal, Node, NumberKind, Object, Refinement, Tagging, TypeObject, Variant,
};

type JsonMap = Map<String, Value>;

/// Schema steps (references, wrappers, alternatives, flattened members) taken on one value
/// without consuming any of it; more means the schema refers to itself in a cycle.
const MAX_CHAIN: u32 = 64;

/// Nested interpreter calls, a stack guard: legitimate schemas take a handful per level of
/// nesting, so this leaves room for [`MAX_DEPTH`] levels of heavily wrapped types.
const MAX_FRAMES: u32 = 1024;

/// Node visits allowed before the walk measures the document; after that, at most
/// [`STEPS_PER_VALUE`] visits per JSON value in it.
const STEP_BASE: u64 = 1 << 20;
const STEPS_PER_VALUE: u64 = 256;

/// The node a unit variant's payload must satisfy.
static UNIT: Node = Node::Null;

/// Validates `value` against `schema`, pushing every error into `errors`.
pub(crate) fn validate(schema: &TypeObject, value: &Value, errors: &mut ValidationErrors) {
    let mut walker = Walker {
        defs: schema.defs(),
        root: value,
        errors,
        fatal: None,
        halt: false,
        shapes: [None; SHAPES],
        next_shape: 0,
        reported: 0,
        trial: 0,
        count: 0,
        cap: 0,
        depth: 0,
        frames: 0,
        steps: 0,
        budget: STEP_BASE,
        sized: false,
        mode: Mode::Direct,
    };
    walker.node(schema.root(), value, None, 0);
    if let Some(fatal) = walker.fatal.take() {
        walker.errors.push(*fatal);
    }
}

/// One step of a path.
#[derive(Debug, Clone, Copy)]
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// The current path: a list linked through the walker's stack frames, innermost first.
struct Link<'a, 'p> {
    seg: Seg<'a>,
    parent: At<'a, 'p>,
}

/// Where the walk is; `None` is the document root.
type At<'a, 'p> = Option<&'p Link<'a, 'p>>;

fn child<'a, 'p>(parent: At<'a, 'p>, seg: Seg<'a>) -> Link<'a, 'p> {
    Link { seg, parent }
}

/// Renders a path as a JSON Pointer.
fn render(at: At<'_, '_>) -> String {
    let mut segs = Vec::new();
    let mut cur = at;
    while let Some(link) = cur {
        segs.push(link.seg);
        cur = link.parent;
    }
    let mut out = String::new();
    for seg in segs.iter().rev() {
        out.push('/');
        match seg {
            Seg::Key(k) => push_escaped(&mut out, k),
            Seg::Index(i) => {
                let _ = write!(out, "{i}");
            }
        }
    }
    out
}

/// How serde reaches the value: straight from the `Value`, or through its internal `Content`
/// buffer (owned or borrowed), which reads a few things differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Direct,
    Owned,
    Borrowed,
}

/// Keys of an object that an enclosing construct already consumed, so the node being checked
/// does not see them (the tag of an internally tagged enum, the fields of a struct that
/// flattens others).
#[derive(Clone, Copy)]
enum Excl<'a, 'x> {
    None,
    Key(&'a str, &'x Excl<'a, 'x>),
    /// The properties of the object, and the keys taken by its first `usize` flattened members.
    Props(&'a Object, usize, &'x Excl<'a, 'x>),
}

impl<'a> Excl<'a, '_> {
    fn is_none(&self) -> bool {
        matches!(self, Excl::None)
    }

    fn has(&self, defs: &'a [Def], key: &str) -> bool {
        let mut cur = self;
        loop {
            match cur {
                Excl::None => return false,
                Excl::Key(k, next) => {
                    if *k == key {
                        return true;
                    }
                    cur = next;
                }
                Excl::Props(obj, upto, next) => {
                    if names_property(obj, key)
                        || obj
                            .flatten
                            .iter()
                            .take(*upto)
                            .any(|member| takes(defs, member, key))
                    {
                        return true;
                    }
                    cur = next;
                }
            }
        }
    }
}

fn names_property(obj: &Object, key: &str) -> bool {
    obj.properties
        .iter()
        .any(|p| same(&p.name, key) || p.aliases.iter().any(|a| same(a, key)))
}

fn names_variant(v: &Variant, name: &str) -> bool {
    same(&v.name, name) || v.aliases.iter().any(|a| same(a, name))
}

fn find_variant<'a>(d: &'a DUnion, name: &str) -> Option<&'a Variant> {
    d.variants.iter().find(|v| names_variant(v, name))
}

/// Whether a flattened member takes `key` out of the object, as serde's flatten buffer does
/// for structs (their fields) and externally tagged enums (a variant key).
fn takes(defs: &[Def], member: &Node, key: &str) -> bool {
    match unwrap_names(defs, member, true) {
        Node::Object(o) if o.flatten.is_empty() => names_property(o, key),
        Node::DUnion(d) if d.tagging == Tagging::External => find_variant(d, key).is_some(),
        _ => false,
    }
}

/// Follows references and name-only wrappers (a bounded number of steps, so cycles end).
fn unwrap_names<'a>(defs: &'a [Def], mut node: &'a Node, through_optional: bool) -> &'a Node {
    for _ in 0..MAX_CHAIN {
        node = match node {
            Node::Ref(id) => match def(defs, *id) {
                Some(n) => n,
                None => return node,
            },
            Node::Metadata(_, inner) | Node::Brand(_, inner) => inner,
            Node::Optional(inner) if through_optional => inner,
            _ => return node,
        };
    }
    node
}

fn def(defs: &[Def], id: DefId) -> Option<&Node> {
    defs.get(id.0 as usize).map(|d| &d.node)
}

/// The value a union's alternatives are tried against.
#[derive(Clone, Copy)]
enum Target<'a, 'x> {
    Value(&'a Value),
    /// An object with some keys already consumed (a flattened or tagged payload).
    View(&'a JsonMap, &'x Excl<'a, 'x>),
}

/// One error, rendered only when it is kept.
struct Report {
    expected: String,
    found: String,
    message: String,
    closest: Option<String>,
}

impl Report {
    fn new(
        expected: impl Into<String>,
        found: impl Into<String>,
        message: impl Into<String>,
    ) -> Report {
        Report {
            expected: expected.into(),
            found: found.into(),
            message: message.into(),
            closest: None,
        }
    }
}

/// Why a map key was refused.
#[derive(Clone, Copy)]
enum KeyError<'a> {
    /// The key does not spell a value of this node.
    Spelling(&'a Node),
    /// serde cannot read this kind of key from buffered data.
    Buffered(&'a Node),
    /// A refinement on the key failed.
    Refine(&'a Refinement, KeyView),
    /// The node cannot be a map key.
    Unsupported(&'a Node),
}

#[derive(Clone, Copy)]
enum KeyView {
    Str,
    Num(f64),
}

/// Objects whose key order the walker remembers.
const SHAPES: usize = 4;

/// The key order of an object of a struct: key `j` (in map order) is property `perm[j]`.
#[derive(Clone, Copy)]
struct Shape<'a> {
    object: &'a Object,
    len: usize,
    perm: [u8; FAST_PROPS],
}

struct Walker<'a, 'e> {
    defs: &'a [Def],
    root: &'a Value,
    errors: &'e mut ValidationErrors,
    /// A limit was hit; the walk stops and this is the one error reported for it.
    fatal: Option<Box<ValidationError>>,
    /// Whether to stop walking: [`Walker::recompute_halt`] keeps it in step with `fatal`,
    /// the trial counts and the error list.
    halt: bool,
    /// How the keys of recently seen objects lined up with their properties: records in an
    /// array share a shape, so each key is then checked against one property, not searched.
    shapes: [Option<Shape<'a>>; SHAPES],
    next_shape: usize,
    /// Errors found so far in any mode (kept, counted in a trial, or dropped).
    reported: u64,
    /// Nesting of untagged-union trials; inside one, errors are only counted.
    trial: u32,
    count: usize,
    cap: usize,
    /// Arrays and objects entered.
    depth: usize,
    frames: u32,
    steps: u64,
    budget: u64,
    sized: bool,
    mode: Mode,
}

impl<'a> Walker<'a, '_> {
    // ----- bookkeeping -------------------------------------------------------------------

    /// Whether the walk should stop: a limit was hit, the current trial has seen enough, or
    /// the error list overflowed.
    #[inline]
    fn stop(&self) -> bool {
        self.halt
    }

    /// Brings `halt` up to date after a trial starts or ends.
    fn recompute_halt(&mut self) {
        self.halt = self.fatal.is_some()
            || if self.trial > 0 {
                self.count >= self.cap
            } else {
                self.errors.truncated()
            };
    }

    /// Counts one node visit; true when the work budget is spent.
    #[inline]
    fn tick(&mut self, at: At<'a, '_>) -> bool {
        self.steps += 1;
        self.steps > self.budget && self.over_budget(at)
    }

    #[cold]
    #[inline(never)]
    fn over_budget(&mut self, at: At<'a, '_>) -> bool {
        if !self.sized {
            self.sized = true;
            let size = count_values(self.root);
            self.budget = STEP_BASE.max(size.saturating_mul(STEPS_PER_VALUE));
            if self.steps <= self.budget {
                return false;
            }
        }
        let budget = self.budget;
        self.set_fatal(
            at,
            format!("at most {budget} validation steps"),
            "more",
            format!(
                "validation gave up after {budget} steps: untagged unions nest too deeply for \
                 this value, or the schema is malformed"
            ),
        );
        true
    }

    /// Counts a step taken on the same value; false (after recording the error) past
    /// [`MAX_CHAIN`].
    #[inline]
    fn chain_step(&mut self, chain: &mut u32, at: At<'a, '_>) -> bool {
        *chain += 1;
        if *chain > MAX_CHAIN {
            self.set_fatal(
                at,
                "a schema that consumes input when it recurses",
                "a reference cycle",
                format!(
                    "the schema takes more than {MAX_CHAIN} references, wrappers or \
                     alternatives in a row on this value without consuming it; it refers to \
                     itself in a cycle"
                ),
            );
            return false;
        }
        true
    }

    /// Enters a nested call; false (after recording the error) past [`MAX_FRAMES`].
    #[inline]
    fn push_frame(&mut self, at: At<'a, '_>) -> bool {
        if self.frames >= MAX_FRAMES {
            self.set_fatal(
                at,
                format!("at most {MAX_FRAMES} nested schema steps"),
                "deeper nesting",
                "the schema and value nest too deeply to validate",
            );
            return false;
        }
        self.frames += 1;
        true
    }

    #[cold]
    #[inline(never)]
    fn set_fatal(
        &mut self,
        at: At<'a, '_>,
        expected: impl Into<String>,
        found: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.halt = true;
        if self.fatal.is_none() {
            self.fatal = Some(Box::new(ValidationError::new(
                render(at),
                expected,
                found,
                message,
            )));
        }
    }

    /// Records one error; `make` runs only when the error is kept.
    #[inline]
    fn fail(&mut self, at: At<'a, '_>, make: impl FnOnce(&'a [Def]) -> Report) {
        self.reported += 1;
        if self.trial > 0 {
            self.count += 1;
            self.halt |= self.count >= self.cap;
            return;
        }
        self.fail_slow(at, make);
    }

    #[cold]
    #[inline(never)]
    fn fail_slow(&mut self, at: At<'a, '_>, make: impl FnOnce(&'a [Def]) -> Report) {
        if self.errors.is_full() {
            // Marks the list truncated; nothing worth rendering.
            self.errors.push(ValidationError::new(
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ));
            self.halt = true;
            return;
        }
        let report = make(self.defs);
        self.keep(at, report);
    }

    #[cold]
    #[inline(never)]
    fn keep(&mut self, at: At<'a, '_>, report: Report) {
        let mut error =
            ValidationError::new(render(at), report.expected, report.found, report.message);
        error.closest_variant = report.closest;
        self.errors.push(error);
    }

    fn mismatch(&mut self, node: &'a Node, value: &'a Value, at: At<'a, '_>) {
        self.fail(at, |defs| {
            let expected = describe(defs, node);
            let found = describe_value(value);
            let message = format!("expected {expected}, found {found}");
            Report::new(expected, found, message)
        });
    }

    /// One step through a wrapper that only names its inner node (`REF`, `METADATA`, `BRAND`,
    /// `OPTION_SOME`), counted against the chain budget. The three walks share it and differ
    /// only in what they do with `OPTIONAL`.
    #[inline]
    fn unwrap_named(&mut self, node: &'a Node, chain: &mut u32, at: At<'a, '_>) -> Unwrap<'a> {
        let inner = match node {
            Node::Ref(id) => match def(self.defs, *id) {
                Some(n) => n,
                None => {
                    if self.chain_step(chain, at) {
                        self.undefined(*id, at);
                    }
                    return Unwrap::Stop;
                }
            },
            Node::Metadata(_, inner) | Node::Brand(_, inner) | Node::OptionSome(inner) => inner,
            _ => return Unwrap::Plain,
        };
        if self.chain_step(chain, at) {
            Unwrap::Inner(inner)
        } else {
            Unwrap::Stop
        }
    }

    /// Enters an array or object; false (after one error) past [`MAX_DEPTH`].
    #[inline]
    fn enter(&mut self, at: At<'a, '_>) -> bool {
        if self.depth >= MAX_DEPTH {
            self.fail(at, |_| {
                Report::new(
                    format!("at most {MAX_DEPTH} levels of nesting"),
                    "deeper nesting",
                    format!("nesting deeper than {MAX_DEPTH}"),
                )
            });
            return false;
        }
        self.depth += 1;
        true
    }

    // ----- values ------------------------------------------------------------------------

    /// Validates `value` against `node`.
    #[inline]
    fn node(&mut self, node: &'a Node, value: &'a Value, at: At<'a, '_>, chain: u32) {
        match node {
            _ if leaf_accepts(node, value) => {}
            // Refinements over a plain leaf are checked in place; others recurse framed.
            Node::Refine(r, inner) => self.refine(r, inner, value, at, chain),
            _ => self.framed(node, value, at, chain),
        }
    }

    /// [`Walker::node_in`] as one counted level of recursion.
    fn framed(&mut self, node: &'a Node, value: &'a Value, at: At<'a, '_>, chain: u32) {
        if self.push_frame(at) {
            self.node_in(node, value, at, chain);
            self.frames -= 1;
        }
    }

    fn node_in(&mut self, mut node: &'a Node, value: &'a Value, at: At<'a, '_>, mut chain: u32) {
        // Wrappers that only name or unwrap are followed in place, without recursing.
        loop {
            if self.stop() || self.tick(at) {
                return;
            }
            node = match self.unwrap_named(node, &mut chain, at) {
                Unwrap::Inner(inner) => inner,
                Unwrap::Stop => return,
                Unwrap::Plain => match node {
                    Node::Optional(inner) => {
                        if value.is_null() || !self.chain_step(&mut chain, at) {
                            return;
                        }
                        inner
                    }
                    _ => break,
                },
            };
        }
        match (node, value) {
            // Any value is accepted, but not any depth: deserializing a deep `Value` recurses.
            (Node::Any, Value::Array(_) | Value::Object(_)) => {
                if nests_deeper(value, MAX_DEPTH.saturating_sub(self.depth)) {
                    self.fail(at, |_| {
                        Report::new(
                            format!("at most {MAX_DEPTH} levels of nesting"),
                            "deeper nesting",
                            format!("nesting deeper than {MAX_DEPTH}"),
                        )
                    });
                }
            }
            (Node::Any, _)
            | (Node::String, Value::String(_))
            | (Node::Boolean, Value::Bool(_))
            | (Node::Null | Node::OptionNone, Value::Null) => {}
            (Node::Null, Value::Object(map)) if map.is_empty() && self.mode == Mode::Owned => {}
            (Node::Number(kind), Value::Number(n)) => self.number(*kind, n, at),
            (Node::Literal(lit), _) => {
                if !literal_eq(lit, value) {
                    self.mismatch(node, value, at);
                }
            }
            (Node::Array(item), Value::Array(items)) => self.array(item, items, at),
            (Node::Tuple(types), Value::Array(items)) => self.tuple(types, items, at),
            (Node::Union(alts), _) => self.union(alts, Target::Value(value), at, chain),
            (Node::DUnion(d), Value::String(name)) => self.variant_name(d, name, at),
            (
                Node::Object(_)
                | Node::Map { .. }
                | Node::DUnion(_)
                | Node::ResultOk(_)
                | Node::ResultErr(_),
                Value::Object(map),
            ) => {
                if self.enter(at) {
                    self.view_node(node, map, &Excl::None, at, chain);
                    self.depth -= 1;
                }
            }
            (Node::Refine(r, inner), _) => self.refine(r, inner, value, at, chain),
            (Node::Port(_), _) => self.port(at),
            _ => self.mismatch(node, value, at),
        }
    }

    #[cold]
    fn undefined(&mut self, id: DefId, at: At<'a, '_>) {
        self.fail(at, |_| {
            Report::new(
                "a defined type",
                format!("a reference to definition #{}", id.0),
                format!(
                    "the schema refers to definition #{}, which it does not define",
                    id.0
                ),
            )
        });
    }

    fn port(&mut self, at: At<'a, '_>) {
        self.fail(at, |_| {
            Report::new("a value type", "a port", "a port is not a value")
        });
    }

    fn number(&mut self, kind: NumberKind, n: &'a Number, at: At<'a, '_>) {
        let Some((lo, hi)) = kind.int_range() else {
            return; // f32 and f64 accept every JSON number
        };
        if !number_fits(kind, n) {
            self.fail(at, |_| {
                let name = kind.name();
                let message = if n.is_f64() {
                    format!("{n} is not an integer; {name} accepts only whole numbers written without a fraction or exponent")
                } else {
                    format!("{n} is out of range for {name} ({lo} to {hi})")
                };
                Report::new(name, format!("number {n}"), message)
            });
        }
    }

    fn array(&mut self, item: &'a Node, items: &'a [Value], at: At<'a, '_>) {
        if !self.enter(at) {
            return;
        }
        let ahead = !matches!(item, Node::Any);
        for (i, value) in items.iter().enumerate() {
            if self.stop() {
                break;
            }
            if ahead {
                prefetch(items, i);
            }
            let here = child(at, Seg::Index(i));
            self.node(item, value, Some(&here), 0);
        }
        self.depth -= 1;
    }

    fn tuple(&mut self, types: &'a [Node], items: &'a [Value], at: At<'a, '_>) {
        if !self.enter(at) {
            return;
        }
        if types.len() != items.len() {
            self.fail(at, |_| {
                let want = types.len();
                let got = items.len();
                Report::new(
                    format!("array of {want} {}", plural(want, "item", "items")),
                    format!("array of {got} {}", plural(got, "item", "items")),
                    format!(
                        "expected exactly {want} {}, found {got}",
                        plural(want, "item", "items")
                    ),
                )
            });
        }
        for (i, (node, value)) in types.iter().zip(items).enumerate() {
            if self.stop() {
                break;
            }
            let here = child(at, Seg::Index(i));
            self.node(node, value, Some(&here), 0);
        }
        self.depth -= 1;
    }

    fn refine(
        &mut self,
        r: &'a Refinement,
        inner: &'a Node,
        value: &'a Value,
        at: At<'a, '_>,
        chain: u32,
    ) {
        if self.stop() {
            return;
        }
        // The commonest shapes first: one or two refinements on a string.
        if let Value::String(s) = value {
            match inner {
                Node::String => {
                    self.refine_check(r, View::Str(s), at);
                    return;
                }
                Node::Refine(first, base) if matches!(**base, Node::String) => {
                    if !self.refine_check(first, View::Str(s), at) {
                        self.refine_check(r, View::Str(s), at);
                    }
                    return;
                }
                _ => {}
            }
        }
        let view = match value {
            Value::String(s) => Some(View::Str(s)),
            Value::Number(n) => Some(View::Num(n.as_f64().unwrap_or(f64::NAN))),
            Value::Array(items) => Some(View::Items(items.len())),
            Value::Object(map) => Some(View::Items(map.len())),
            // An absent optional value, or a boolean: nothing a refinement constrains.
            Value::Null | Value::Bool(_) => None,
        };
        // The common case, refinements stacked on a string or number the value already is:
        // check them innermost first, in place.
        let mut base = inner;
        let mut stacked = 0;
        while let Node::Refine(_, next) = base {
            if stacked == MAX_CHAIN {
                break;
            }
            base = next;
            stacked += 1;
        }
        if matches!(base, Node::String | Node::Number(_)) && leaf_accepts(base, value) {
            let Some(view) = view else { return };
            for depth in (0..=stacked).rev() {
                if let Some(r) = nth_refinement(r, inner, depth)
                    && self.refine_check(r, view, at)
                {
                    return;
                }
            }
            return;
        }
        let mut chain = chain;
        if !self.chain_step(&mut chain, at) {
            return;
        }
        let before = self.reported;
        self.framed(inner, value, at, chain);
        if self.reported != before || self.stop() {
            return;
        }
        if let Some(view) = view {
            self.refine_check(r, view, at);
        }
    }

    /// Checks one refinement; true when it failed (and was reported).
    fn refine_check(&mut self, r: &'a Refinement, view: View<'a>, at: At<'a, '_>) -> bool {
        if plainly_holds(r, view) {
            return false;
        }
        match refine::check(r, view) {
            Some(failure) => {
                self.fail(at, |_| {
                    Report::new(failure.expected, failure.found, failure.message)
                });
                true
            }
            None => false,
        }
    }

    // ----- unions ------------------------------------------------------------------------

    /// An untagged union: accepted when any alternative accepts. Alternatives are tried in
    /// order with errors only counted; when none accepts, one error names the closest.
    fn union(&mut self, alts: &'a [Node], target: Target<'a, '_>, at: At<'a, '_>, chain: u32) {
        let saved = (self.trial, self.count, self.cap, self.mode);
        let outermost = self.trial == 0;
        self.trial += 1;
        // serde buffers the value and reads each alternative from a borrowed buffer.
        self.mode = Mode::Borrowed;
        let mut best: Option<(&'a Node, usize)> = None;
        let mut accepted = false;
        for alt in alts {
            self.count = 0;
            // The outermost trial counts errors to name the closest alternative, and stops an
            // alternative once it cannot beat the best so far; nested ones need only a verdict.
            self.cap = if outermost {
                best.map_or(MAX_ERRORS, |(_, n)| n)
            } else {
                1
            };
            self.recompute_halt();
            let n = if self.cheap_reject(alt, target) {
                1
            } else {
                match target {
                    Target::Value(value) => self.node(alt, value, at, chain + 1),
                    Target::View(map, excl) => self.view(alt, map, excl, at, chain + 1),
                }
                self.count
            };
            if self.fatal.is_some() {
                break;
            }
            if n == 0 {
                accepted = true;
                break;
            }
            if best.is_none_or(|(_, m)| n < m) {
                best = Some((alt, n));
            }
        }
        (self.trial, self.count, self.cap, self.mode) = saved;
        self.recompute_halt();
        if accepted || self.fatal.is_some() {
            return;
        }
        self.fail(at, |defs| {
            let expected = one_of_nodes(defs, alts);
            let found = match target {
                Target::Value(value) => describe_value(value),
                Target::View(..) => "object".to_owned(),
            };
            Report {
                message: format!("did not match any variant (expected {expected}, found {found})"),
                expected,
                found,
                closest: best.map(|(node, _)| short(defs, node)),
            }
        });
    }

    /// Whether `alt` refuses the target on its JSON type alone (exactly one error, as the full
    /// walk would report).
    fn cheap_reject(&self, alt: &'a Node, target: Target<'a, '_>) -> bool {
        let node = unwrap_names(self.defs, alt, false);
        let value = match target {
            Target::Value(value) => value,
            Target::View(..) => {
                return matches!(
                    node,
                    Node::String
                        | Node::Number(_)
                        | Node::Boolean
                        | Node::Null
                        | Node::OptionNone
                        | Node::Literal(_)
                        | Node::Array(_)
                        | Node::Tuple(_)
                );
            }
        };
        match node {
            Node::String => !value.is_string(),
            Node::Number(_) => !value.is_number(),
            Node::Boolean => !value.is_boolean(),
            Node::Null | Node::OptionNone => !value.is_null(),
            Node::Literal(lit) => !literal_eq(lit, value),
            Node::Array(_) | Node::Tuple(_) => !value.is_array(),
            Node::Object(_) | Node::Map { .. } | Node::ResultOk(_) | Node::ResultErr(_) => {
                !value.is_object()
            }
            Node::DUnion(_) => !value.is_object() && !value.is_string(),
            _ => false,
        }
    }

    // ----- objects -----------------------------------------------------------------------

    /// Validates `node` against an object (already entered) whose keys in `excl` are hidden.
    fn view(
        &mut self,
        node: &'a Node,
        map: &'a JsonMap,
        excl: &Excl<'a, '_>,
        at: At<'a, '_>,
        chain: u32,
    ) {
        if self.push_frame(at) {
            self.view_in(node, map, excl, at, chain);
            self.frames -= 1;
        }
    }

    fn view_in(
        &mut self,
        mut node: &'a Node,
        map: &'a JsonMap,
        excl: &Excl<'a, '_>,
        at: At<'a, '_>,
        mut chain: u32,
    ) {
        loop {
            if self.stop() || self.tick(at) {
                return;
            }
            node = match self.unwrap_named(node, &mut chain, at) {
                Unwrap::Inner(inner) => inner,
                Unwrap::Stop => return,
                Unwrap::Plain => match node {
                    Node::Optional(inner) => {
                        if !self.chain_step(&mut chain, at) {
                            return;
                        }
                        inner
                    }
                    _ => break,
                },
            };
        }
        self.view_node(node, map, excl, at, chain);
    }

    /// [`Walker::view_in`] once references and wrappers are followed.
    fn view_node(
        &mut self,
        node: &'a Node,
        map: &'a JsonMap,
        excl: &Excl<'a, '_>,
        at: At<'a, '_>,
        chain: u32,
    ) {
        match node {
            Node::Object(o) => self.object(o, o.strict, map, excl, at, chain),
            Node::Map { key, value } => self.entries(key, value, map, excl, at),
            Node::DUnion(d) => self.dunion(d, map, excl, at, chain),
            Node::Union(alts) => self.union(alts, Target::View(map, excl), at, chain),
            Node::ResultOk(inner) => self.single_key("Ok", inner, map, excl, at),
            Node::ResultErr(inner) => self.single_key("Err", inner, map, excl, at),
            Node::Refine(r, inner) => {
                let before = self.reported;
                self.view(inner, map, excl, at, chain + 1);
                if self.reported == before && !self.stop() {
                    self.refine_check(r, View::Items(visible(self.defs, map, excl).count()), at);
                }
            }
            Node::Any => {}
            Node::Null
                if self.mode == Mode::Owned && visible(self.defs, map, excl).next().is_none() => {}
            Node::Port(_) => self.port(at),
            _ => self.fail(at, |defs| {
                let expected = describe(defs, node);
                let message = format!("expected {expected}, found an object");
                Report::new(expected, "object", message)
            }),
        }
    }

    /// A struct: its properties, its flattened members, and (when strict) no unknown keys.
    fn object(
        &mut self,
        o: &'a Object,
        strict: bool,
        map: &'a JsonMap,
        excl: &Excl<'a, '_>,
        at: At<'a, '_>,
        chain: u32,
    ) {
        let hidden = !excl.is_none();
        // The common case (no aliases, few properties, nothing hidden but perhaps a tag)
        // matches every key to its property in one pass over the object, cheaper than one map
        // lookup per property. `matched` counts the keys accounted for.
        let (simple, skip) = match excl {
            Excl::None => (true, None),
            Excl::Key(tag, rest) if rest.is_none() => (true, Some(*tag)),
            _ => (false, None),
        };
        let fast = simple
            && o.properties.len() <= FAST_PROPS
            && o.properties.iter().all(|p| p.aliases.is_empty());
        let mut matched = 0usize;
        let mut slots: [Option<&'a Value>; FAST_PROPS] = [None; FAST_PROPS];
        if fast {
            if self.match_cached(o, map, skip, &mut slots) {
                matched = map.len();
            } else {
                slots = [None; FAST_PROPS];
                if let Some(perm) = match_keys(o, map, skip, &mut slots, &mut matched) {
                    self.remember(o, map.len(), perm);
                }
            }
        }
        for (i, p) in o.properties.iter().enumerate() {
            if self.stop() {
                return;
            }
            let found = if fast {
                slots
                    .get(i)
                    .copied()
                    .flatten()
                    .map(|value| (p.name.as_str(), value))
            } else {
                self.find_property(p, map, excl, at, &mut matched)
            };
            match found {
                Some((key, value)) => {
                    let here = child(at, Seg::Key(key));
                    self.node(&p.node, value, Some(&here), 0);
                }
                None if p.required => {
                    let here = child(at, Seg::Key(&p.name));
                    self.fail(Some(&here), |defs| {
                        Report::new(
                            describe(defs, &p.node),
                            "missing",
                            format!("missing required property \"{}\"", p.name),
                        )
                    });
                }
                None => {}
            }
        }
        for (i, member) in o.flatten.iter().enumerate() {
            if self.stop() {
                return;
            }
            let taken = Excl::Props(o, i, excl);
            self.flat(member, map, &taken, at, chain + 1);
        }
        if !strict || (o.flatten.is_empty() && (fast || !hidden) && matched == map.len()) {
            return;
        }
        let known = Excl::Props(o, o.flatten.len(), excl);
        for (key, value) in map {
            if self.stop() {
                return;
            }
            if known.has(self.defs, key) {
                continue;
            }
            let here = child(at, Seg::Key(key));
            self.fail(Some(&here), |_| {
                Report::new(
                    one_of_names(o.properties.iter().map(|p| p.name.as_str())),
                    format!(
                        "unknown property {} ({})",
                        quote(key),
                        describe_value(value)
                    ),
                    format!("unknown property {}", quote(key)),
                )
            });
        }
    }

    /// Fills `slots` from the remembered shape of `o`; false (slots partly filled) when there
    /// is none or this object does not have it.
    fn match_cached(
        &self,
        o: &'a Object,
        map: &'a JsonMap,
        skip: Option<&str>,
        slots: &mut [Option<&'a Value>; FAST_PROPS],
    ) -> bool {
        let Some(shape) = self
            .shapes
            .iter()
            .flatten()
            .find(|s| std::ptr::eq(s.object, o))
        else {
            return false;
        };
        if shape.len != map.len() {
            return false;
        }
        for ((key, value), &i) in map.iter().zip(&shape.perm) {
            if i == SKIPPED {
                if skip.is_some_and(|tag| same(tag, key)) {
                    continue;
                }
                return false;
            }
            let i = usize::from(i);
            match (o.properties.get(i), slots.get_mut(i)) {
                (Some(p), Some(slot)) if same(&p.name, key) => *slot = Some(value),
                _ => return false,
            }
        }
        true
    }

    fn remember(&mut self, o: &'a Object, len: usize, perm: [u8; FAST_PROPS]) {
        let shape = Some(Shape {
            object: o,
            len,
            perm,
        });
        match self
            .shapes
            .iter_mut()
            .find(|s| s.is_some_and(|s| std::ptr::eq(s.object, o)))
        {
            Some(slot) => *slot = shape,
            None => {
                if let Some(slot) = self.shapes.get_mut(self.next_shape % SHAPES) {
                    *slot = shape;
                }
                self.next_shape = self.next_shape.wrapping_add(1);
            }
        }
    }

    /// Looks a property up under its name and aliases; more than one present is a duplicate.
    fn find_property(
        &mut self,
        p: &'a crate::schema::Property,
        map: &'a JsonMap,
        excl: &Excl<'a, '_>,
        at: At<'a, '_>,
        matched: &mut usize,
    ) -> Option<(&'a str, &'a Value)> {
        let mut found: Option<(&'a str, &'a Value)> = None;
        for name in std::iter::once(&p.name).chain(&p.aliases) {
            let Some((key, value)) = lookup(map, name) else {
                continue;
            };
            if !excl.is_none() && excl.has(self.defs, key) {
                continue;
            }
            *matched += 1;
            match found {
                None => found = Some((key, value)),
                Some((first, _)) => {
                    let here = child(at, Seg::Key(key));
                    self.fail(Some(&here), |_| {
                        Report::new(
                            format!("\"{}\" at most once", p.name),
                            format!("both {} and {}", quote(first), quote(key)),
                            format!(
                                "property \"{}\" is given more than once (as {} and {})",
                                p.name,
                                quote(first),
                                quote(key)
                            ),
                        )
                    });
                }
            }
        }
        found
    }

    /// A flattened member: serde hands it the keys no one else took.
    fn flat(
        &mut self,
        node: &'a Node,
        map: &'a JsonMap,
        excl: &Excl<'a, '_>,
        at: At<'a, '_>,
        chain: u32,
    ) {
        if self.push_frame(at) {
            let saved = self.mode;
            self.flat_in(node, map, excl, at, chain);
            self.mode = saved;
            self.frames -= 1;
        }
    }

    fn flat_in(
        &mut self,
        mut node: &'a Node,
        map: &'a JsonMap,
        excl: &Excl<'a, '_>,
        at: At<'a, '_>,
        mut chain: u32,
    ) {
        loop {
            if self.stop() || self.tick(at) {
                return;
            }
            node = match self.unwrap_named(node, &mut chain, at) {
                Unwrap::Inner(inner) => inner,
                Unwrap::Stop => return,
                Unwrap::Plain => break,
            };
        }
        match node {
            // A plain struct takes its fields; unknown keys are left for others.
            Node::Object(o) if o.flatten.is_empty() => {
                self.mode = Mode::Owned;
                self.object(o, false, map, excl, at, chain);
            }
            // A struct that itself flattens reads the remaining keys as a map.
            Node::Object(o) => {
                self.mode = Mode::Borrowed;
                self.object(o, o.strict, map, excl, at, chain);
            }
            Node::Map { key, value } => {
                self.mode = Mode::Borrowed;
                self.entries(key, value, map, excl, at);
            }
            Node::DUnion(d) if d.tagging == Tagging::External => {
                self.mode = Mode::Owned;
                let hit = visible(self.defs, map, excl)
                    .find_map(|(key, value)| find_variant(d, key).map(|v| (key, value, v)));
                match hit {
                    Some((key, value, variant)) => {
                        let here = child(at, Seg::Key(key));
                        self.node(
                            variant.node.as_ref().unwrap_or(&UNIT),
                            value,
                            Some(&here),
                            0,
                        );
                    }
                    None => self.fail(at, |_| {
                        Report::new(
                            format!("a key naming a variant: {}", one_of_variants(d)),
                            "none",
                            "no variant of the flattened enum found in the object",
                        )
                    }),
                }
            }
            Node::DUnion(_) | Node::Union(_) | Node::Any => {
                self.mode = Mode::Borrowed;
                self.view(node, map, excl, at, chain);
            }
            // serde turns a failed flattened `Option` into `None`, and `()` reads anything.
            Node::Optional(_) | Node::Null | Node::OptionNone => {}
            Node::Refine(r, inner) => {
                let before = self.reported;
                self.flat(inner, map, excl, at, chain + 1);
                if self.reported == before && !self.stop() {
                    self.refine_check(r, View::Items(visible(self.defs, map, excl).count()), at);
                }
            }
            _ => self.fail(at, |defs| {
                Report::new(
                    "a struct or map (flattened)",
                    describe(defs, node),
                    format!(
                        "{} cannot be flattened; serde flattens only structs and maps",
                        describe(defs, node)
                    ),
                )
            }),
        }
    }

    /// A map: every visible entry's key and value.
    fn entries(
        &mut self,
        key: &'a Node,
        value: &'a Node,
        map: &'a JsonMap,
        excl: &Excl<'a, '_>,
        at: At<'a, '_>,
    ) {
        let hidden = !excl.is_none();
        let any_key = matches!(
            unwrap_names(self.defs, key, false),
            Node::String | Node::Any
        );
        for (k, v) in map {
            if self.stop() {
                return;
            }
            if hidden && excl.has(self.defs, k) {
                continue;
            }
            let here = child(at, Seg::Key(k));
            if !any_key && let Err(e) = self.key(key, k, 0) {
                self.key_error(e, k, Some(&here));
            }
            self.node(value, v, Some(&here), 0);
        }
    }

    /// Whether serde_json reads `k` as a key of type `node`.
    fn key(&mut self, node: &'a Node, k: &str, depth: u32) -> Result<(), KeyError<'a>> {
        let node = unwrap_names(self.defs, node, true);
        if depth > MAX_CHAIN {
            return Err(KeyError::Unsupported(node));
        }
        match node {
            Node::String | Node::Any => Ok(()),
            Node::Number(kind) => {
                if self.mode != Mode::Direct {
                    return Err(KeyError::Buffered(node));
                }
                match parse_key_number(k) {
                    Some(n) if n.fits(*kind) => Ok(()),
                    _ => Err(KeyError::Spelling(node)),
                }
            }
            Node::Boolean => {
                if self.mode != Mode::Direct {
                    Err(KeyError::Buffered(node))
                } else if k == "true" || k == "false" {
                    Ok(())
                } else {
                    Err(KeyError::Spelling(node))
                }
            }
            Node::Literal(Literal::Str(s)) if s == k => Ok(()),
            Node::Literal(_) => Err(KeyError::Spelling(node)),
            Node::DUnion(d) if d.tagging == Tagging::External => match find_variant(d, k) {
                Some(v) if v.node.is_none() => Ok(()),
                _ => Err(KeyError::Spelling(node)),
            },
            Node::Refine(r, inner) => {
                self.key(inner, k, depth + 1)?;
                let (view, kv) = match unwrap_names(self.defs, inner, true) {
                    Node::Number(_) => {
                        let x = parse_key_number(k).map_or(f64::NAN, KeyNumber::as_f64);
                        (View::Num(x), KeyView::Num(x))
                    }
                    _ => (View::Str(k), KeyView::Str),
                };
                match refine::check(r, view) {
                    None => Ok(()),
                    Some(_) => Err(KeyError::Refine(r, kv)),
                }
            }
            Node::Union(alts) => {
                let saved = self.mode;
                self.mode = Mode::Borrowed;
                let ok = alts.iter().any(|alt| self.key(alt, k, depth + 1).is_ok());
                self.mode = saved;
                if ok {
                    Ok(())
                } else {
                    Err(KeyError::Spelling(node))
                }
            }
            _ => Err(KeyError::Unsupported(node)),
        }
    }

    fn key_error(&mut self, error: KeyError<'a>, k: &'a str, at: At<'a, '_>) {
        self.fail(at, |defs| match error {
            KeyError::Spelling(node) => {
                let expected = format!("a key of type {}", describe(defs, node));
                let message = match node {
                    Node::Number(kind) if kind.is_integer() => format!(
                        "map key {} is not a {} written as a JSON integer",
                        quote(k),
                        kind.name()
                    ),
                    Node::Number(kind) => {
                        format!(
                            "map key {} is not a {} written as a JSON number",
                            quote(k),
                            kind.name()
                        )
                    }
                    _ => format!("map key {} is not {}", quote(k), describe(defs, node)),
                };
                Report::new(expected, format!("key {}", quote(k)), message)
            }
            KeyError::Buffered(node) => Report::new(
                "a string key",
                format!("key {}", quote(k)),
                format!(
                    "serde cannot read {} map keys inside untagged, internally tagged or \
                     flattened data",
                    describe(defs, node)
                ),
            ),
            KeyError::Refine(r, kv) => {
                let view = match kv {
                    KeyView::Str => View::Str(k),
                    KeyView::Num(x) => View::Num(x),
                };
                match refine::check(r, view) {
                    Some(f) => Report::new(
                        f.expected,
                        format!("key {}", quote(k)),
                        format!("map key {}: {}", quote(k), f.message),
                    ),
                    None => Report::new(
                        "a valid key",
                        format!("key {}", quote(k)),
                        "invalid map key",
                    ),
                }
            }
            KeyError::Unsupported(node) => Report::new(
                "a string or number key type",
                describe(defs, node),
                format!("{} cannot be a JSON map key", describe(defs, node)),
            ),
        });
    }

    /// `{"Ok": …}` / `{"Err": …}`: exactly one key.
    fn single_key(
        &mut self,
        name: &'static str,
        inner: &'a Node,
        map: &'a JsonMap,
        excl: &Excl<'a, '_>,
        at: At<'a, '_>,
    ) {
        let mut keys = visible(self.defs, map, excl);
        match (keys.next(), keys.next()) {
            (Some((key, value)), None) if key == name => {
                let here = child(at, Seg::Key(key));
                self.node(inner, value, Some(&here), 0);
            }
            _ => {
                let n = visible(self.defs, map, excl).count();
                self.fail(at, |_| {
                    Report::new(
                        format!("object with the single key \"{name}\""),
                        format!("object with {n} {}", plural(n, "key", "keys")),
                        format!("expected an object whose only key is \"{name}\""),
                    )
                });
            }
        }
    }

    // ----- tagged unions -----------------------------------------------------------------

    /// A tagged union given as a bare string: an externally tagged unit variant.
    fn variant_name(&mut self, d: &'a DUnion, name: &'a str, at: At<'a, '_>) {
        if d.tagging != Tagging::External {
            return self.fail(at, |_| {
                Report::new(
                    format!("object tagged by {}", tag_description(d)),
                    format!("string {}", brief(name)),
                    format!(
                        "expected an object tagged by {}, found a string",
                        tag_description(d)
                    ),
                )
            });
        }
        match find_variant(d, name) {
            Some(v) if v.node.is_none() => {}
            Some(v) => self.fail(at, |_| {
                Report::new(
                    format!("{{\"{}\": …}}", v.name),
                    format!("string {}", brief(name)),
                    format!(
                        "variant \"{}\" needs content: write {{\"{}\": …}}",
                        v.name, v.name
                    ),
                )
            }),
            None => self.unknown_variant(d, name, at),
        }
    }

    fn unknown_variant(&mut self, d: &'a DUnion, name: &'a str, at: At<'a, '_>) {
        self.fail(at, |_| {
            Report::new(
                one_of_variants(d),
                format!("string {}", brief(name)),
                format!("unknown variant {}", brief(name)),
            )
        });
    }

    /// A tagged union given as an object.
    fn dunion(
        &mut self,
        d: &'a DUnion,
        map: &'a JsonMap,
        excl: &Excl<'a, '_>,
        at: At<'a, '_>,
        chain: u32,
    ) {
        match &d.tagging {
            Tagging::External => {
                let mut keys = visible(self.defs, map, excl);
                let (Some((key, value)), None) = (keys.next(), keys.next()) else {
                    let n = visible(self.defs, map, excl).count();
                    return self.fail(at, |_| {
                        Report::new(
                            format!(
                                "a variant name, or an object with one key: {}",
                                one_of_variants(d)
                            ),
                            format!("object with {n} {}", plural(n, "key", "keys")),
                            "expected an object with exactly one key, the variant name",
                        )
                    });
                };
                let here = child(at, Seg::Key(key));
                match find_variant(d, key) {
                    Some(v) => self.node(v.node.as_ref().unwrap_or(&UNIT), value, Some(&here), 0),
                    None => self.unknown_variant(d, key, Some(&here)),
                }
            }
            Tagging::Internal { tag } => {
                let Some(variant) = self.tag(d, tag, map, excl, at) else {
                    return;
                };
                let Some(payload) = &variant.node else {
                    return; // serde reads a unit variant from the tag alone, ignoring the rest
                };
                let saved = self.mode;
                self.mode = Mode::Owned;
                let rest = Excl::Key(tag, excl);
                // A struct variant inherits the enum's `deny_unknown_fields`.
                match unwrap_metadata(payload) {
                    Node::Object(o) => {
                        self.object(o, o.strict || d.strict, map, &rest, at, chain + 1)
                    }
                    _ => self.view(payload, map, &rest, at, chain + 1),
                }
                self.mode = saved;
            }
            Tagging::Adjacent { tag, content } => {
                let variant = self.tag(d, tag, map, excl, at);
                let found =
                    lookup(map, content).filter(|(k, _)| excl.is_none() || !excl.has(self.defs, k));
                if let Some(variant) = variant {
                    match (&variant.node, found) {
                        (None, None) => {}
                        (payload, Some((key, value))) => {
                            // Content that comes before the tag is buffered by serde.
                            // A unit variant's content must be `null` either way: serde
                            // refuses `{}` for it even from its buffer.
                            let buffered = payload.is_some()
                                && map
                                    .keys()
                                    .find(|k| *k == tag || *k == content)
                                    .is_some_and(|k| k == content);
                            let saved = self.mode;
                            if buffered {
                                self.mode = Mode::Owned;
                            }
                            let here = child(at, Seg::Key(key));
                            self.node(payload.as_ref().unwrap_or(&UNIT), value, Some(&here), 0);
                            self.mode = saved;
                        }
                        (Some(payload), None) => {
                            let here = child(at, Seg::Key(content));
                            self.fail(Some(&here), |defs| {
                                Report::new(
                                    describe(defs, payload),
                                    "missing",
                                    format!(
                                        "missing the content \"{content}\" of variant \"{}\"",
                                        variant.name
                                    ),
                                )
                            });
                        }
                    }
                }
                if d.strict {
                    for (key, value) in visible(self.defs, map, excl) {
                        if self.stop() {
                            return;
                        }
                        if key == tag || key == content {
                            continue;
                        }
                        let here = child(at, Seg::Key(key));
                        self.fail(Some(&here), |_| {
                            Report::new(
                                format!("only \"{tag}\" and \"{content}\""),
                                format!(
                                    "unknown property {} ({})",
                                    quote(key),
                                    describe_value(value)
                                ),
                                format!("unknown property {}", quote(key)),
                            )
                        });
                    }
                }
            }
        }
    }

    /// Reads the tag of an internally or adjacently tagged union; errors are reported at the
    /// tag key's path.
    fn tag(
        &mut self,
        d: &'a DUnion,
        tag: &'a str,
        map: &'a JsonMap,
        excl: &Excl<'a, '_>,
        at: At<'a, '_>,
    ) -> Option<&'a Variant> {
        let here = child(at, Seg::Key(tag));
        let found = lookup(map, tag)
            .filter(|_| excl.is_none() || !excl.has(self.defs, tag))
            .map(|(_, v)| v);
        match found {
            Some(Value::String(name)) => {
                let variant = find_variant(d, name);
                if variant.is_none() {
                    self.unknown_variant(d, name, Some(&here));
                }
                variant
            }
            Some(other) => {
                self.fail(Some(&here), |_| {
                    Report::new(
                        one_of_variants(d),
                        describe_value(other),
                        format!("the tag \"{tag}\" must be a string naming a variant"),
                    )
                });
                None
            }
            None => {
                self.fail(Some(&here), |_| {
                    Report::new(
                        one_of_variants(d),
                        "missing",
                        format!("missing the tag \"{tag}\""),
                    )
                });
                None
            }
        }
    }
}

/// Software pipelining for arrays of records, which are memory-bound: every object node, key
/// and string of a `Value` is its own allocation, and the walk's comparisons wait on each load
/// in turn. Every [`BATCH`] items, the next batch is touched in one burst: its keys and, one
/// level down, its children's nodes, keys and strings are read without branching on what they
/// hold, so the cache misses of a whole batch overlap (a burst of independent loads is what
/// the memory system serves fastest), and the checks then run from cache. The sums are
/// meaningless; the work is bounded per item.
#[inline]
fn prefetch(items: &[Value], i: usize) {
    if !i.is_multiple_of(BATCH) {
        return;
    }
    let from = if i == 0 { 0 } else { i + BATCH };
    let to = items.len().min(i + 2 * BATCH);
    if let Some(batch) = items.get(from..to) {
        std::hint::black_box(batch.iter().map(touch).fold(0usize, usize::wrapping_add));
    }
}

/// Array items touched ahead in one burst.
const BATCH: usize = 8;

fn touch(value: &Value) -> usize {
    fn first(s: &str) -> usize {
        usize::from(s.as_bytes().first().copied().unwrap_or(0))
    }
    fn shallow(value: &Value) -> usize {
        match value {
            Value::String(s) => first(s),
            Value::Object(map) => map.iter().take(8).map(|(k, v)| first(k) + leaf(v)).sum(),
            Value::Array(items) => items.iter().take(4).map(leaf).sum(),
            _ => 0,
        }
    }
    fn leaf(value: &Value) -> usize {
        match value {
            Value::String(s) => s.len(),
            Value::Object(map) => map.len(),
            Value::Array(items) => items.len(),
            _ => 0,
        }
    }
    match value {
        Value::Object(map) => map
            .iter()
            .take(16)
            .map(|(k, v)| first(k) + shallow(v))
            .sum(),
        Value::Array(items) => items.iter().take(16).map(shallow).sum(),
        _ => 0,
    }
}

/// Whether a leaf node plainly accepts the value (the walk skips the call).
#[inline]
fn leaf_accepts(node: &Node, value: &Value) -> bool {
    match (node, value) {
        (Node::String, Value::String(_)) | (Node::Boolean, Value::Bool(_)) => true,
        // Containers under `ANY` still have their depth checked.
        (Node::Any, value) => !value.is_array() && !value.is_object(),
        (Node::Number(kind), Value::Number(n)) => number_fits(*kind, n),
        _ => false,
    }
}

/// Whether a JSON number is a value of the kind, as serde_json reads it.
#[inline]
fn number_fits(kind: NumberKind, n: &Number) -> bool {
    let Some((lo, hi)) = kind.int_range() else {
        return true;
    };
    if let Some(u) = n.as_u64() {
        i128::from(u) <= hi
    } else if let Some(i) = n.as_i64() {
        (lo..=hi).contains(&i128::from(i))
    } else {
        false
    }
}

/// The refinement `depth` steps down a stack `Refine(r, inner)` (0 is `r` itself).
fn nth_refinement<'a>(r: &'a Refinement, inner: &'a Node, depth: u32) -> Option<&'a Refinement> {
    if depth == 0 {
        return Some(r);
    }
    let mut node = inner;
    for _ in 1..depth {
        match node {
            Node::Refine(_, next) => node = next,
            _ => return None,
        }
    }
    match node {
        Node::Refine(r, _) => Some(r),
        _ => None,
    }
}

/// Whether a refinement plainly holds, decided inline; `false` means "ask
/// [`refine::check`]", which decides (and words the error). Every `true` here is a case where
/// `refine::check` returns `None`.
#[inline]
fn plainly_holds(r: &Refinement, view: View<'_>) -> bool {
    match (r, view) {
        (Refinement::MinLength(n), View::Str(s)) => {
            let len = s.len() as u64;
            // A character takes 1 to 4 bytes.
            len >= n.saturating_mul(4) || (len >= *n && char_count(s) >= *n)
        }
        (Refinement::MaxLength(n), View::Str(s)) => s.len() as u64 <= *n || char_count(s) <= *n,
        (Refinement::NonEmpty, View::Str(s)) => !s.is_empty(),
        (Refinement::Email, View::Str(s)) => is_plain_email(s),
        (Refinement::Min(min), View::Num(x)) => x >= *min,
        (Refinement::Max(max), View::Num(x)) => x <= *max,
        (Refinement::Positive, View::Num(x)) => x > 0.0,
        (Refinement::Negative, View::Num(x)) => x < 0.0,
        (Refinement::Integer, View::Num(x)) => x.is_finite() && x.fract() == 0.0,
        (Refinement::MinItems(n), View::Items(len)) => len as u64 >= *n,
        (Refinement::MaxItems(n), View::Items(len)) => len as u64 <= *n,
        (Refinement::NonEmpty, View::Items(len)) => len > 0,
        _ => false,
    }
}

/// Characters (Unicode scalar values) in a string: the bytes that do not continue one.
#[inline]
fn char_count(s: &str) -> u64 {
    if s.is_ascii() {
        s.len() as u64
    } else {
        s.bytes().filter(|&b| (b as i8) >= -0x40).count() as u64
    }
}

/// The rule of [`formats::is_email`](super::formats::is_email) (the HTML standard's) in one
/// pass over the bytes: `local@domain`, the local part from `A-Za-z0-9.!#$%&'*+/=?^_`{|}~-`,
/// the domain dot-separated labels of 1 to 63 alphanumerics and inner hyphens, at most 253
/// bytes.
fn is_plain_email(s: &str) -> bool {
    let b = s.as_bytes();
    let Some(at) = b.iter().position(|&c| c == b'@') else {
        return false;
    };
    let (Some(local), Some(domain)) = (b.get(..at), b.get(at + 1..)) else {
        return false;
    };
    if local.is_empty()
        || !local
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || b".!#$%&'*+/=?^_`{|}~-".contains(&c))
        || domain.is_empty()
        || domain.len() > 253
    {
        return false;
    }
    let mut label = 0usize;
    let mut prev = b'.';
    for &c in domain {
        if c == b'.' {
            if label == 0 || prev == b'-' {
                return false;
            }
            label = 0;
        } else if c.is_ascii_alphanumeric() || c == b'-' {
            if label == 0 && c == b'-' {
                return false;
            }
            label += 1;
            if label > 63 {
                return false;
            }
        } else {
            return false;
        }
        prev = c;
    }
    label > 0 && prev != b'-'
}

/// In a remembered shape, the key an enclosing tag consumed.
const SKIPPED: u8 = u8::MAX;

/// Properties matched in one pass over an object; larger structs use map lookups.
const FAST_PROPS: usize = 16;

/// Matches every key of `map` to the property of that name, filling `slots` (by property
/// index): one pass over the object instead of one lookup per property.
#[inline]
/// Returns which property each key matched (or [`SKIPPED`] for the `skip` key, a tag the
/// object does not see), when every key matched one.
fn match_keys<'a>(
    o: &Object,
    map: &'a JsonMap,
    skip: Option<&str>,
    slots: &mut [Option<&'a Value>; FAST_PROPS],
    matched: &mut usize,
) -> Option<[u8; FAST_PROPS]> {
    let mut perm = [0u8; FAST_PROPS];
    let mut complete = map.len() <= FAST_PROPS;
    for (j, (key, value)) in map.iter().enumerate() {
        if skip.is_some_and(|tag| same(tag, key)) {
            *matched += 1;
            match perm.get_mut(j) {
                Some(at) => *at = SKIPPED,
                None => complete = false,
            }
            continue;
        }
        let found = o.properties.iter().position(|p| same(&p.name, key));
        if let Some(slot) = found.and_then(|i| slots.get_mut(i)) {
            *slot = Some(value);
            *matched += 1;
        }
        match (found.and_then(|i| u8::try_from(i).ok()), perm.get_mut(j)) {
            (Some(i), Some(at)) => *at = i,
            _ => complete = false,
        }
    }
    complete.then_some(perm)
}

/// String equality for keys and names: short strings compare as a few overlapping words
/// (no byte loop, no call to `memcmp`).
#[inline]
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let n = a.len();
    if n != b.len() {
        return false;
    }
    match n {
        0 => true,
        1..=3 => {
            (byte(a, 0) == byte(b, 0))
                & (byte(a, n / 2) == byte(b, n / 2))
                & (byte(a, n - 1) == byte(b, n - 1))
        }
        4..=7 => (word32(a, 0) == word32(b, 0)) & (word32(a, n - 4) == word32(b, n - 4)),
        8..=16 => (word64(a, 0) == word64(b, 0)) & (word64(a, n - 8) == word64(b, n - 8)),
        _ => a == b,
    }
}

#[inline]
fn byte(s: &[u8], at: usize) -> u8 {
    s.get(at).copied().unwrap_or(0)
}

#[inline]
fn word32(s: &[u8], at: usize) -> u32 {
    s.get(at..at + 4)
        .and_then(|w| w.try_into().ok())
        .map_or(0, u32::from_ne_bytes)
}

#[inline]
fn word64(s: &[u8], at: usize) -> u64 {
    s.get(at..at + 8)
        .and_then(|w| w.try_into().ok())
        .map_or(0, u64::from_ne_bytes)
}

/// A key's entry: a linear scan for small objects (no ordered comparisons), else a lookup.
#[inline]
fn lookup<'m>(map: &'m JsonMap, key: &str) -> Option<(&'m str, &'m Value)> {
    if map.len() <= 12 {
        map.iter()
            .find(|(k, _)| same(k, key))
            .map(|(k, v)| (k.as_str(), v))
    } else {
        map.get_key_value(key).map(|(k, v)| (k.as_str(), v))
    }
}

/// Skips metadata only (a struct variant's inline object), not references (a newtype's).
fn unwrap_metadata(mut node: &Node) -> &Node {
    for _ in 0..MAX_CHAIN {
        match node {
            Node::Metadata(_, inner) => node = inner,
            _ => break,
        }
    }
    node
}

/// The entries of `map` not hidden by `excl`.
fn visible<'a, 'm>(
    defs: &'a [Def],
    map: &'a JsonMap,
    excl: &'m Excl<'a, '_>,
) -> impl Iterator<Item = (&'a str, &'a Value)> + 'm
where
    'a: 'm,
{
    let hidden = !excl.is_none();
    map.iter()
        .filter(move |(k, _)| !hidden || !excl.has(defs, k))
        .map(|(k, v)| (k.as_str(), v))
}

fn literal_eq(lit: &Literal, value: &Value) -> bool {
    match (lit, value) {
        (Literal::Str(s), Value::String(v)) => s == v,
        (Literal::Bool(b), Value::Bool(v)) => b == v,
        (Literal::Int(i), Value::Number(n)) => n.as_i64() == Some(*i),
        (Literal::Float(f), Value::Number(n)) => n.as_f64() == Some(*f),
        _ => false,
    }
}

/// Counts the values in a document, without recursion.
fn count_values(root: &Value) -> u64 {
    let mut count = 0u64;
    let mut stack = vec![root];
    while let Some(value) = stack.pop() {
        count += 1;
        match value {
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => stack.extend(map.values()),
            _ => {}
        }
    }
    count
}

// ----- map keys as serde_json reads them ---------------------------------------------------

/// A number map key as serde_json's parser reads it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum KeyNumber {
    U(u64),
    I(i64),
    F(f64),
}

impl KeyNumber {
    fn fits(self, kind: NumberKind) -> bool {
        match (kind.int_range(), self) {
            (None, _) => true,
            (Some((_, hi)), KeyNumber::U(u)) => i128::from(u) <= hi,
            (Some((lo, hi)), KeyNumber::I(i)) => (lo..=hi).contains(&i128::from(i)),
            (Some(_), KeyNumber::F(_)) => false,
        }
    }

    fn as_f64(self) -> f64 {
        match self {
            KeyNumber::U(u) => u as f64,
            KeyNumber::I(i) => i as f64,
            KeyNumber::F(f) => f,
        }
    }
}

/// Parses a map key the way serde_json does: the whole key must be one JSON number literal
/// (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`). Integers become `U`/`I`; `-0`, integers
/// outside `i64`/`u64` and anything with a fraction or exponent become `F`; a float that
/// overflows is refused, as serde_json refuses it.
fn parse_key_number(key: &str) -> Option<KeyNumber> {
    let b = key.as_bytes();
    let mut i = 0;
    let negative = b.first() == Some(&b'-');
    if negative {
        i += 1;
    }
    let int_start = i;
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        _ => return None,
    }
    let int_end = i;
    let mut float = false;
    if b.get(i) == Some(&b'.') {
        float = true;
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        float = true;
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    let as_float = || {
        key.parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(KeyNumber::F)
    };
    if float {
        return as_float();
    }
    let Some(Ok(magnitude)) = key.get(int_start..int_end).map(str::parse::<u64>) else {
        return as_float(); // too long for u64: serde_json falls back to a float
    };
    if !negative {
        return Some(KeyNumber::U(magnitude));
    }
    let neg = (magnitude as i64).wrapping_neg();
    if neg >= 0 {
        // `-0`, or below i64::MIN: serde_json reads a float.
        Some(KeyNumber::F(-(magnitude as f64)))
    } else {
        Some(KeyNumber::I(neg))
    }
}

// ----- descriptions ------------------------------------------------------------------------

fn plural(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

/// A string in quotes, JSON-escaped.
fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
}

/// A string in quotes, cut to about 40 characters.
fn brief(s: &str) -> String {
    const SHOWN: usize = 40;
    match s.char_indices().nth(SHOWN) {
        None => quote(s),
        Some((cut, _)) => format!("{}…", quote(s.get(..cut).unwrap_or(s))),
    }
}

/// What a JSON value is, briefly (`string "abc"`, `number 300`, `array of 3 items`).
fn describe_value(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) => format!("string {}", brief(s)),
        Value::Array(items) => format!(
            "array of {} {}",
            items.len(),
            plural(items.len(), "item", "items")
        ),
        Value::Object(_) => "object".to_owned(),
    }
}

fn literal(lit: &Literal) -> String {
    match lit {
        Literal::Str(s) => quote(s),
        Literal::Bool(b) => b.to_string(),
        Literal::Int(i) => i.to_string(),
        Literal::Float(f) => f.to_string(),
    }
}

/// What a schema node accepts, for `expected` (`"u8"`, `"string"`, `one of "A", "B"`).
fn describe(defs: &[Def], node: &Node) -> String {
    describe_at(defs, node, 0)
}

fn describe_at(defs: &[Def], node: &Node, level: u32) -> String {
    let mut node = node;
    // Refinements, metadata without a name and `Some` describe their inner type.
    for _ in 0..MAX_CHAIN {
        match node {
            Node::Refine(_, inner) | Node::OptionSome(inner) => node = inner,
            Node::Metadata(meta, inner) if meta.name.is_none() => node = inner,
            _ => break,
        }
    }
    match node {
        Node::String => "string".to_owned(),
        Node::Number(kind) => kind.name().to_owned(),
        Node::Boolean => "boolean".to_owned(),
        Node::Null | Node::OptionNone => "null".to_owned(),
        Node::Literal(lit) => literal(lit),
        Node::Array(_) => "array".to_owned(),
        Node::Tuple(items) => format!(
            "array of {} {}",
            items.len(),
            plural(items.len(), "item", "items")
        ),
        Node::Object(_) => "object".to_owned(),
        Node::Map { .. } => "object (map)".to_owned(),
        Node::Union(alts) if level == 0 => one_of_nodes(defs, alts),
        Node::Union(_) => "union".to_owned(),
        Node::DUnion(d) => match &d.tagging {
            Tagging::External => one_of_variants(d),
            Tagging::Internal { .. } | Tagging::Adjacent { .. } => {
                format!("object tagged by {}", tag_description(d))
            }
        },
        Node::Optional(inner) if level == 0 => format!("{} or null", describe_at(defs, inner, 1)),
        Node::Optional(_) => "optional value".to_owned(),
        Node::Brand(name, _) => name.clone(),
        Node::Ref(id) => match defs.get(id.0 as usize) {
            Some(d) => d.name.clone(),
            None => format!("undefined definition #{}", id.0),
        },
        Node::ResultOk(_) => "object with the single key \"Ok\"".to_owned(),
        Node::ResultErr(_) => "object with the single key \"Err\"".to_owned(),
        Node::Metadata(meta, _) => meta.name.clone().unwrap_or_default(),
        Node::Port(port) => format!("port {}", port.name),
        Node::Any => "any value".to_owned(),
        Node::Refine(..) | Node::OptionSome(_) => "refined value".to_owned(),
    }
}

/// A union alternative's short name, for `closest_variant`: a definition's name, a literal,
/// a brand, or the opcode name.
fn short(defs: &[Def], node: &Node) -> String {
    match node {
        Node::Ref(id) => match defs.get(id.0 as usize) {
            Some(d) => d.name.clone(),
            None => format!("#{}", id.0),
        },
        Node::Literal(lit) => literal(lit),
        Node::Brand(name, _) => name.clone(),
        Node::Metadata(meta, inner) => match &meta.name {
            Some(name) => name.clone(),
            None => short(defs, unwrap_metadata(inner)),
        },
        other => other.op().name().to_owned(),
    }
}

fn one_of_nodes(defs: &[Def], alts: &[Node]) -> String {
    let parts: Vec<String> = alts
        .iter()
        .take(8)
        .map(|a| describe_at(defs, a, 1))
        .collect();
    let more = if alts.len() > 8 { ", …" } else { "" };
    format!("one of {}{more}", parts.join(", "))
}

fn one_of_names<'n>(names: impl Iterator<Item = &'n str>) -> String {
    let mut out = String::from("one of ");
    for (i, name) in names.enumerate() {
        if i == 12 {
            out.push_str(", …");
            break;
        }
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&quote(name));
    }
    out
}

fn one_of_variants(d: &DUnion) -> String {
    one_of_names(d.variants.iter().map(|v| v.name.as_str()))
}

fn tag_description(d: &DUnion) -> String {
    match &d.tagging {
        Tagging::External => "its only key".to_owned(),
        Tagging::Internal { tag } | Tagging::Adjacent { tag, .. } => quote(tag),
    }
}

/// What [`Walker::unwrap_named`] found.
enum Unwrap<'a> {
    /// A naming wrapper: continue with this node.
    Inner(&'a Node),
    /// The walk must stop here (a limit was hit or an error reported).
    Stop,
    /// Not a naming wrapper.
    Plain,
}

/// Whether `value` nests arrays and objects more than `limit` levels deep (iteratively: the
/// value may be far deeper than the stack allows to recurse).
fn nests_deeper(value: &Value, limit: usize) -> bool {
    let mut stack: Vec<(&Value, usize)> = vec![(value, 1)];
    while let Some((value, depth)) = stack.pop() {
        let children: &mut dyn Iterator<Item = &Value> = match value {
            Value::Array(items) => &mut items.iter(),
            Value::Object(map) => &mut map.values(),
            _ => continue,
        };
        if depth > limit {
            return true;
        }
        stack.extend(children.map(|child| (child, depth + 1)));
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_numbers_follow_serde_json() {
        use KeyNumber::*;
        assert_eq!(parse_key_number("0"), Some(U(0)));
        assert_eq!(parse_key_number("255"), Some(U(255)));
        assert_eq!(parse_key_number("-1"), Some(I(-1)));
        assert_eq!(parse_key_number("-9223372036854775808"), Some(I(i64::MIN)));
        assert_eq!(parse_key_number("18446744073709551615"), Some(U(u64::MAX)));
        assert_eq!(
            parse_key_number("18446744073709551616"),
            Some(F(18446744073709551616.0))
        );
        assert!(matches!(parse_key_number("-0"), Some(F(f)) if f == 0.0 && f.is_sign_negative()));
        assert_eq!(parse_key_number("1.5"), Some(F(1.5)));
        assert_eq!(parse_key_number("1e3"), Some(F(1000.0)));
        assert_eq!(parse_key_number("1E+3"), Some(F(1000.0)));
        for bad in [
            "", "-", "+1", " 1", "1 ", "01", "1.", ".5", "1e", "1e+", "0x10", "1e400", "NaN",
            "inf", "--1",
        ] {
            assert_eq!(parse_key_number(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn key_numbers_fit_kinds() {
        assert!(KeyNumber::U(255).fits(NumberKind::U8));
        assert!(!KeyNumber::U(256).fits(NumberKind::U8));
        assert!(!KeyNumber::I(-1).fits(NumberKind::U64));
        assert!(KeyNumber::I(-128).fits(NumberKind::I8));
        assert!(!KeyNumber::F(1.0).fits(NumberKind::I32));
        assert!(KeyNumber::F(1.0).fits(NumberKind::F32));
    }

    #[test]
    fn paths_render_as_json_pointers() {
        assert_eq!(render(None), "");
        let a = child(None, Seg::Key("a/b"));
        let b = child(Some(&a), Seg::Index(3));
        let c = child(Some(&b), Seg::Key("~x"));
        assert_eq!(render(Some(&c)), "/a~1b/3/~0x");
    }

    #[test]
    fn values_are_described_briefly() {
        assert_eq!(describe_value(&Value::from("abc")), "string \"abc\"");
        assert_eq!(describe_value(&Value::from(300)), "number 300");
        assert_eq!(
            describe_value(&serde_json::json!([1, 2, 3])),
            "array of 3 items"
        );
        assert_eq!(describe_value(&serde_json::json!([1])), "array of 1 item");
        let long = "x".repeat(100);
        let shown = describe_value(&Value::from(long));
        assert!(shown.ends_with('…') && shown.len() < 60, "{shown}");
    }

    #[test]
    fn plain_email_is_the_formats_rule() {
        let mut cases: Vec<String> = [
            "",
            "@",
            "a@",
            "@b",
            "a@b",
            "a@b.c",
            "a.b@c-d.e",
            "a@-b",
            "a@b-",
            "a@b..c",
            "a@.b",
            "a@b.",
            "a@@b",
            "a@b@c",
            "a b@c",
            "ä@b",
            "a@ä",
            "x@a-b-c.d",
            "!#$%&'*+/=?^_`{|}~-@x",
            "a@b_c",
            "a@1.2.3.4",
            "a@b.c-",
            "a@-b.c",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        cases.push(format!("a@{}", "b".repeat(63)));
        cases.push(format!("a@{}", "b".repeat(64)));
        cases.push(format!("a@{}.{}", "b".repeat(63), "c".repeat(189)));
        cases.push(format!("a@{}.{}", "b".repeat(63), "c".repeat(190)));
        // A pseudo-random sweep over a small alphabet.
        let alphabet = b"a-.@_Z9 ";
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..20_000 {
            let mut s = String::new();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 9) as usize;
            let mut x = seed;
            for _ in 0..len {
                s.push(char::from(alphabet[(x % alphabet.len() as u64) as usize]));
                x /= alphabet.len() as u64;
            }
            cases.push(s);
        }
        for case in &cases {
            assert_eq!(
                is_plain_email(case),
                super::super::formats::is_email(case),
                "{case:?}"
            );
        }
    }

    #[test]
    fn same_compares_whole_strings() {
        let words = [
            "",
            "a",
            "ab",
            "abc",
            "abcd",
            "abcdefg",
            "abcdefgh",
            "abcdefghijklmnop",
            "abcdefghijklmnopq",
        ];
        for a in words {
            for b in words {
                assert_eq!(same(a, b), a == b, "{a:?} {b:?}");
            }
            for i in 0..a.len() {
                let mut c = a.as_bytes().to_vec();
                c[i] ^= 1;
                let c = String::from_utf8(c).unwrap();
                assert!(!same(a, &c), "{a:?} {c:?}");
            }
        }
    }

    #[test]
    fn refs_and_wrappers_unwrap_boundedly() {
        let defs = vec![Def {
            name: "Loop".into(),
            node: Node::Ref(DefId(0)),
        }];
        // Must return, not loop.
        let _ = unwrap_names(&defs, &Node::Ref(DefId(0)), true);
        let excl = Excl::None;
        assert!(!excl.has(&defs, "k"));
    }
}
