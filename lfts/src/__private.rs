//! Helpers that generated code calls. Not public API: names and signatures change freely.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::{Arc, OnceLock};

pub use serde;
pub use serde_json;

use crate::schema::{Pattern, Refinement};
use crate::validate::refine::{self, View};
use crate::validate::{Path, ValidationErrors};

pub use crate::schema::{
    DUnion, Defs, Literal, Metadata, Node, NumberKind, Object, Property, Tagging, Variant,
};

/// Values whose string a string refinement (`email`, `min_len`, `pattern`…) constrains.
#[diagnostic::on_unimplemented(
    message = "a string refinement (email, url, uuid, pattern, min_len, max_len) needs a string, not `{Self}`",
    label = "not a string",
    note = "to refine the items of a collection, refine a newtype such as `#[lfts(email)] struct Email(String);` and use `Vec<Email>`"
)]
pub trait RefineStr {
    /// The string, or `None` when there is nothing to check (an absent `Option`).
    fn refine_str(&self) -> Option<&str>;
}

/// Values whose number a numeric refinement (`min`, `max`, `positive`…) constrains.
#[diagnostic::on_unimplemented(
    message = "a numeric refinement (min, max, positive, negative, integer) needs a number, not `{Self}`",
    label = "not a number",
    note = "to refine a newtype, put the refinement on its field or on the newtype itself: `#[lfts(min = 0)] struct Age(u8);`"
)]
pub trait RefineNum {
    /// The number as `f64`, or `None` when there is nothing to check.
    fn refine_num(&self) -> Option<f64>;
}

/// Values whose item count an items refinement (`min_items`, `max_items`) constrains.
#[diagnostic::on_unimplemented(
    message = "an items refinement (min_items, max_items) needs a collection, not `{Self}`",
    label = "not a collection",
    note = "min_items and max_items apply to `Vec`, sets and maps; for strings use min_len and max_len"
)]
pub trait RefineItems {
    /// The number of items, or `None` when there is nothing to check.
    fn refine_items(&self) -> Option<usize>;
}

/// Values `non_empty` applies to: strings and collections.
#[diagnostic::on_unimplemented(
    message = "`non_empty` needs a string or a collection, not `{Self}`",
    label = "neither a string nor a collection",
    note = "non_empty applies to strings, `Vec`, sets and maps; for numbers use `positive` or `min`"
)]
pub trait RefineNonEmpty {
    /// The view `non_empty` looks at.
    fn refine_view(&self) -> Option<View<'_>>;
}

impl RefineStr for str {
    fn refine_str(&self) -> Option<&str> {
        Some(self)
    }
}
impl RefineStr for String {
    fn refine_str(&self) -> Option<&str> {
        Some(self)
    }
}
impl RefineStr for Cow<'_, str> {
    fn refine_str(&self) -> Option<&str> {
        Some(self)
    }
}
impl RefineNonEmpty for str {
    fn refine_view(&self) -> Option<View<'_>> {
        Some(View::Str(self))
    }
}
impl RefineNonEmpty for String {
    fn refine_view(&self) -> Option<View<'_>> {
        Some(View::Str(self))
    }
}

macro_rules! num {
    ($($t:ty),*) => {$(
        impl RefineNum for $t {
            #[allow(clippy::cast_lossless, clippy::cast_precision_loss)]
            fn refine_num(&self) -> Option<f64> {
                Some(*self as f64)
            }
        }
    )*};
}
num!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize, f32, f64);

macro_rules! items {
    ($($t:ty => [$($g:tt)*]),*) => {$(
        impl<$($g)*> RefineItems for $t {
            fn refine_items(&self) -> Option<usize> {
                Some(self.len())
            }
        }
        impl<$($g)*> RefineNonEmpty for $t {
            fn refine_view(&self) -> Option<View<'_>> {
                Some(View::Items(self.len()))
            }
        }
    )*};
}
items! {
    Vec<T> => [T], [T] => [T], VecDeque<T> => [T], BTreeSet<T> => [T],
    HashSet<T, S> => [T, S], HashMap<K, V, S> => [K, V, S], BTreeMap<K, V> => [K, V]
}

macro_rules! forward {
    ($($w:ident),*) => {$(
        impl<T: RefineStr + ?Sized> RefineStr for $w<T> {
            fn refine_str(&self) -> Option<&str> {
                (**self).refine_str()
            }
        }
        impl<T: RefineNum + ?Sized> RefineNum for $w<T> {
            fn refine_num(&self) -> Option<f64> {
                (**self).refine_num()
            }
        }
        impl<T: RefineItems + ?Sized> RefineItems for $w<T> {
            fn refine_items(&self) -> Option<usize> {
                (**self).refine_items()
            }
        }
        impl<T: RefineNonEmpty + ?Sized> RefineNonEmpty for $w<T> {
            fn refine_view(&self) -> Option<View<'_>> {
                (**self).refine_view()
            }
        }
    )*};
}
forward!(Box, Arc);

impl<T: RefineStr> RefineStr for Option<T> {
    fn refine_str(&self) -> Option<&str> {
        self.as_ref().and_then(T::refine_str)
    }
}
impl<T: RefineNum> RefineNum for Option<T> {
    fn refine_num(&self) -> Option<f64> {
        self.as_ref().and_then(T::refine_num)
    }
}
impl<T: RefineItems> RefineItems for Option<T> {
    fn refine_items(&self) -> Option<usize> {
        self.as_ref().and_then(T::refine_items)
    }
}
impl<T: RefineNonEmpty> RefineNonEmpty for Option<T> {
    fn refine_view(&self) -> Option<View<'_>> {
        self.as_ref().and_then(T::refine_view)
    }
}

fn report(r: &Refinement, view: View<'_>, errors: &mut ValidationErrors, path: &Path) {
    if let Some(f) = refine::check(r, view) {
        errors.add(path, f.expected, f.found, f.message);
    }
}

/// Checks a string refinement on a typed value.
#[inline]
pub fn refine_str<T: RefineStr + ?Sized>(
    value: &T,
    r: &Refinement,
    errors: &mut ValidationErrors,
    path: &Path,
) {
    if let Some(s) = value.refine_str() {
        report(r, View::Str(s), errors, path);
    }
}

/// Checks a numeric refinement on a typed value.
#[inline]
pub fn refine_num<T: RefineNum + ?Sized>(
    value: &T,
    r: &Refinement,
    errors: &mut ValidationErrors,
    path: &Path,
) {
    if let Some(x) = value.refine_num() {
        report(r, View::Num(x), errors, path);
    }
}

/// Checks an items refinement on a typed value.
#[inline]
pub fn refine_items<T: RefineItems + ?Sized>(
    value: &T,
    r: &Refinement,
    errors: &mut ValidationErrors,
    path: &Path,
) {
    if let Some(n) = value.refine_items() {
        report(r, View::Items(n), errors, path);
    }
}

/// Checks `non_empty` on a typed value.
#[inline]
pub fn refine_non_empty<T: RefineNonEmpty + ?Sized>(
    value: &T,
    errors: &mut ValidationErrors,
    path: &Path,
) {
    if let Some(v) = value.refine_view() {
        report(&Refinement::NonEmpty, v, errors, path);
    }
}

/// A `pattern` refinement compiled on first use. The derive checks the regex at compile
/// time, so compiling it here succeeds for derived schemas.
pub struct LazyRefinement {
    source: &'static str,
    cell: OnceLock<Option<Refinement>>,
}

impl LazyRefinement {
    /// A pattern refinement for `source`, not yet compiled.
    pub const fn pattern(source: &'static str) -> LazyRefinement {
        LazyRefinement {
            source,
            cell: OnceLock::new(),
        }
    }

    /// The compiled refinement; `None` only for a pattern the derive would have refused.
    pub fn get(&self) -> Option<&Refinement> {
        self.cell
            .get_or_init(|| Pattern::new(self.source).ok().map(Refinement::Pattern))
            .as_ref()
    }
}

/// Checks a lazily compiled `pattern` refinement on a typed value.
#[inline]
pub fn refine_pattern<T: RefineStr + ?Sized>(
    value: &T,
    lazy: &LazyRefinement,
    errors: &mut ValidationErrors,
    path: &Path,
) {
    if let Some(r) = lazy.get() {
        refine_str(value, r, errors, path);
    }
}

/// The schema node of a `pattern` refinement over `node`.
pub fn refine_pattern_node(node: Node, lazy: &LazyRefinement) -> Node {
    match lazy.get() {
        Some(r) => node.refine_inner(r.clone()),
        None => node,
    }
}

/// Enters a field, runs `f`, leaves it.
#[inline]
pub fn at_key(path: &mut Path, key: &'static str, f: impl FnOnce(&mut Path)) {
    path.push_key(key);
    f(path);
    path.pop();
}

/// Enters an index, runs `f`, leaves it.
#[inline]
pub fn at_index(path: &mut Path, index: usize, f: impl FnOnce(&mut Path)) {
    path.push_index(index);
    f(path);
    path.pop();
}

// ---------------------------------------------------------------------------------------------
// Schema builders for derived `describe` bodies.

/// A property of a derived struct. It is optional on the wire when serde fills it in: it has
/// a `default`, or its type is an `Option` (serde reads a missing `Option` field as `None`).
pub fn property(name: &str, aliases: &[&str], node: Node, has_default: bool) -> Property {
    let required = !has_default && !matches!(node, Node::Optional(_));
    Property {
        name: name.to_owned(),
        aliases: aliases.iter().map(|a| (*a).to_owned()).collect(),
        required,
        node,
    }
}

/// An object from a derived struct's properties and its `#[serde(flatten)]` fields.
///
/// Every flattened field stays a flattened node, a plain struct included: serde reads
/// flattened fields from a buffer of the object's leftover entries, which reads differently
/// from the object itself (no integer map keys; `()` from `{}`), and the interpreter applies
/// those rules only to flattened members. Inlining a flattened struct's properties into the
/// parent would describe the parent's rules instead.
pub fn object(properties: Vec<Property>, strict: bool, flatten: Vec<Node>, defs: &Defs) -> Node {
    let _ = defs;
    Node::Object(Object {
        properties,
        strict,
        flatten,
    })
}

/// A branded newtype.
pub fn brand(name: &str, node: Node) -> Node {
    Node::Brand(name.to_owned(), Box::new(node))
}

/// A node with the type's doc comment attached.
pub fn documented(node: Node, name: &str, docs: &str) -> Node {
    Node::Metadata(
        Metadata {
            name: Some(name.to_owned()),
            description: Some(docs.to_owned()),
        },
        Box::new(node),
    )
}

/// A variant of a derived enum.
pub fn variant(name: &str, aliases: &[&str], node: Option<Node>) -> Variant {
    Variant {
        name: name.to_owned(),
        aliases: aliases.iter().map(|a| (*a).to_owned()).collect(),
        node,
    }
}

/// An externally tagged enum (serde's default).
pub fn external(variants: Vec<Variant>) -> Node {
    Node::DUnion(DUnion {
        tagging: Tagging::External,
        variants,
        strict: false,
    })
}

/// An internally tagged enum (`#[serde(tag = "...")]`).
pub fn internal(tag: &str, strict: bool, variants: Vec<Variant>) -> Node {
    Node::DUnion(DUnion {
        tagging: Tagging::Internal {
            tag: tag.to_owned(),
        },
        variants,
        strict,
    })
}

/// An adjacently tagged enum (`#[serde(tag = "...", content = "...")]`).
pub fn adjacent(tag: &str, content: &str, strict: bool, variants: Vec<Variant>) -> Node {
    Node::DUnion(DUnion {
        tagging: Tagging::Adjacent {
            tag: tag.to_owned(),
            content: content.to_owned(),
        },
        variants,
        strict,
    })
}

/// An untagged enum: a union of the variants' payloads, a unit variant being `null`.
pub fn untagged(variants: Vec<Variant>) -> Node {
    Node::Union(
        variants
            .into_iter()
            .map(|v| v.node.unwrap_or(Node::Null))
            .collect(),
    )
}
// ---------------------------------------------------------------------------------------------
// Support for `#[port]`.

/// The future type of mock behaviours.
pub type BoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'static>>;

/// A port method's error type can hold the network failures of a remote call.
///
/// The `#[port]` expansion names this trait once per method, spanned on the error type in the
/// signature, so a type without a `#[lfts(network)]` variant gets this one message there. The
/// generated client, server and layered impls state `E: RemoteError` as a bound of their own
/// (`where for<'__lfts> E: lfts::RemoteError`, which the compiler checks where the impl is used
/// rather than where it is written), so they add no error of their own.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is a port error type but cannot hold a `NetworkError`: add a variant `#[lfts(network)] Network {{ error: lfts::NetworkError }}`",
    label = "a remote call can fail with an `lfts::NetworkError`, which `{Self}` cannot hold",
    note = "`#[lfts(network)]` on a variant that wraps `lfts::NetworkError` makes `#[derive(lfts::Schema)]` implement `From<NetworkError>` and `lfts::RemoteError` for `{Self}`"
)]
pub trait PortError {
    /// Compiles only for an error type that implements `RemoteError`.
    fn assert_port_error() {}
}

impl<E: crate::port::RemoteError> PortError for E {}

/// `Debug` for a generated arguments struct: its name and its JSON.
pub fn debug_args<A: serde::Serialize>(
    f: &mut std::fmt::Formatter<'_>,
    name: &str,
    args: &A,
) -> std::fmt::Result {
    match serde_json::to_string(args) {
        Ok(json) => write!(f, "{name} {json}"),
        Err(_) => write!(f, "{name} {{ .. }}"),
    }
}

/// A port method's success type crosses the wire.
pub fn assert_wire_type<T>()
where
    T: crate::Schema + serde::Serialize + serde::de::DeserializeOwned + Send + 'static,
{
}

/// A port method's arguments cross the wire and are replayed by retries.
pub fn assert_argument<T>()
where
    T: crate::Schema
        + serde::Serialize
        + serde::de::DeserializeOwned
        + Clone
        + Send
        + Sync
        + 'static,
{
}

/// `from_status_body` for the variant `variant` of the error type `E`: `body` as that variant's
/// payload, written in `E`'s own tagging, then validated as `E`; `None` when it does not fit or
/// is `E`'s network variant (a peer never makes a `NetworkError`).
pub fn variant_from_body<E>(variant: &str, body: &serde_json::Value) -> Option<E>
where
    E: crate::Schema + serde::de::DeserializeOwned + crate::RemoteError + 'static,
{
    use serde_json::{Map, Value};
    let schema = E::schema();
    let crate::schema::Node::DUnion(union) = schema.resolve(schema.root()) else {
        return None;
    };
    let wrapped = match &union.tagging {
        crate::schema::Tagging::External => {
            let mut map = Map::new();
            map.insert(variant.to_owned(), body.clone());
            Value::Object(map)
        }
        crate::schema::Tagging::Internal { tag } => {
            let Value::Object(fields) = body else {
                return None;
            };
            let mut map = fields.clone();
            map.insert(tag.clone(), Value::String(variant.to_owned()));
            Value::Object(map)
        }
        crate::schema::Tagging::Adjacent { tag, content } => {
            let mut map = Map::new();
            map.insert(tag.clone(), Value::String(variant.to_owned()));
            map.insert(content.clone(), body.clone());
            Value::Object(map)
        }
    };
    crate::validate::<E>(&wrapped)
        .ok()
        .filter(|e| e.network().is_none())
}
