//! Schemas: the [`Schema`] trait, the [`TypeObject`] tree and its encodings.
//!
//! A [`TypeObject`] is a root [`Node`] plus a table of named definitions that [`Node::Ref`]
//! points into, so recursive types (`Tree { children: Vec<Tree> }`) are finite trees.
//!
//! A schema has two fingerprints: [`TypeObject::fingerprint`] identifies one exact version
//! (documentation and Rust type names included), [`TypeObject::wire_fingerprint`] only its
//! wire contract (see [`wire`]); contract checks compare the latter.

pub mod binary;
mod display;
mod impls;
pub mod json;
pub mod json_schema;
mod node;
pub mod wire;

use std::any::TypeId;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};

pub use binary::{DecodeError, Fingerprint, Location, ParseFingerprintError};
pub use node::{
    DUnion, DefId, HttpRoute, Literal, Metadata, Node, NumberKind, Object, Op, Pattern, PortMethod,
    PortNode, Property, Refinement, Tagging, Variant,
};

use crate::validate::{Path, ValidationErrors};

/// A type whose JSON wire format lfts can describe and validate.
///
/// Derive it with `#[derive(Schema)]`; the derive reads the same `#[serde(...)]` attributes as
/// serde so that the schema describes exactly the JSON serde produces and accepts.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no lfts schema",
    label = "needs `lfts::Schema`",
    note = "derive it with `#[derive(lfts::Schema)]` next to serde's `Serialize`/`Deserialize`"
)]
pub trait Schema {
    /// Whether [`Schema::check`] can report anything for a value of this type. Types with
    /// nothing to check (strings, numbers, and containers of them) say `false`, so containers
    /// skip walking them; the default, `true`, is always correct.
    const CHECKS: bool = true;

    /// Describes the type, adding named definitions to `defs`; returns the node that stands
    /// for the type (a [`Node::Ref`] for named types).
    fn describe(defs: &mut Defs) -> Node;

    /// The short name of the type, used for definitions (`"User"`, `"Page<User>"`).
    fn type_name() -> Cow<'static, str> {
        Cow::Borrowed(std::any::type_name::<Self>())
    }

    /// The type's schema, built on first use and cached for the life of the process.
    fn schema() -> &'static TypeObject
    where
        Self: Sized + 'static,
    {
        cached::<Self>()
    }

    /// Checks the refinements (`#[lfts(email)]`, lengths, ranges…) of a typed value, pushing
    /// one error per failed constraint. Types without refinements keep the default, which
    /// accepts everything.
    fn check(&self, errors: &mut ValidationErrors, path: &mut Path) {
        let _ = (errors, path);
    }
}

/// The definition table that [`Schema::describe`] fills.
#[derive(Debug, Default)]
pub struct Defs {
    defs: Vec<Def>,
    by_type: HashMap<TypeId, DefId>,
}

/// A named definition: the target of a [`Node::Ref`].
#[derive(Debug, Clone, PartialEq)]
pub struct Def {
    /// The definition's name, unique within its [`TypeObject`].
    pub name: String,
    /// Its body.
    pub node: Node,
}

impl Defs {
    /// An empty table.
    pub fn new() -> Defs {
        Defs::default()
    }

    /// Describes `T` inline: the node for `T`, registering whatever `T` names.
    pub fn describe<T: Schema + ?Sized>(&mut self) -> Node {
        T::describe(self)
    }

    /// Registers `T` as a named definition, describing it with `build` the first time, and
    /// returns a [`Node::Ref`] to it. A type met again while it is being built (recursion) gets
    /// the same reference.
    pub fn named<T: ?Sized + 'static>(
        &mut self,
        name: Cow<'static, str>,
        build: impl FnOnce(&mut Defs) -> Node,
    ) -> Node {
        let key = TypeId::of::<T>();
        if let Some(id) = self.by_type.get(&key) {
            return Node::Ref(*id);
        }
        let id = DefId(u32::try_from(self.defs.len()).unwrap_or(u32::MAX));
        let name = self.unique_name(name);
        self.defs.push(Def {
            name,
            node: Node::Any,
        });
        self.by_type.insert(key, id);
        let node = build(self);
        if let Some(def) = self.defs.get_mut(id.0 as usize) {
            def.node = node;
        }
        Node::Ref(id)
    }

    /// The node behind a reference to a definition of this table (following references and
    /// metadata); `None` for a definition still being built.
    pub fn resolve<'a>(&'a self, mut node: &'a Node) -> Option<&'a Node> {
        for _ in 0..=self.defs.len() {
            match node {
                Node::Ref(id) => node = &self.defs.get(id.0 as usize)?.node,
                Node::Metadata(_, inner) | Node::Brand(_, inner) => node = inner,
                _ => return Some(node),
            }
        }
        None
    }

    fn unique_name(&self, name: Cow<'static, str>) -> String {
        let taken = |n: &str| self.defs.iter().any(|d| d.name == n);
        if !taken(&name) {
            return name.into_owned();
        }
        (2..)
            .map(|i| format!("{name}{i}"))
            .find(|n| !taken(n))
            .unwrap_or_else(|| name.into_owned())
    }

    /// Finishes the table with `root` as the described node.
    pub fn finish(self, root: Node) -> TypeObject {
        TypeObject {
            root,
            defs: self.defs,
        }
    }
}

/// A schema: a root node and the named definitions it refers to.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeObject {
    root: Node,
    defs: Vec<Def>,
}

impl TypeObject {
    /// A schema with no named definitions.
    pub fn new(root: Node) -> TypeObject {
        TypeObject {
            root,
            defs: Vec::new(),
        }
    }

    /// A schema from parts. Every [`Node::Ref`] in `root` and `defs` must index into `defs`;
    /// [`TypeObject::check_refs`] tells whether they do.
    pub fn from_parts(root: Node, defs: Vec<Def>) -> TypeObject {
        TypeObject { root, defs }
    }

    /// The schema of `T`, built afresh (uncached). Prefer [`Schema::schema`].
    pub fn of<T: Schema + ?Sized>() -> TypeObject {
        let mut defs = Defs::new();
        let root = T::describe(&mut defs);
        defs.finish(root)
    }

    /// The root node.
    pub fn root(&self) -> &Node {
        &self.root
    }

    /// The opcode of the root node.
    pub fn op(&self) -> Op {
        self.root.op()
    }

    /// The named definitions.
    pub fn defs(&self) -> &[Def] {
        &self.defs
    }

    /// The definition a [`Node::Ref`] points to.
    pub fn def(&self, id: DefId) -> Option<&Def> {
        self.defs.get(id.0 as usize)
    }

    /// The node behind `node`, following references and metadata (at most as many steps as
    /// there are definitions, so a cycle of bare references ends).
    pub fn resolve<'a>(&'a self, mut node: &'a Node) -> &'a Node {
        for _ in 0..=self.defs.len() {
            match node {
                Node::Ref(id) => match self.def(*id) {
                    Some(def) => node = &def.node,
                    None => return node,
                },
                Node::Metadata(_, inner) => node = inner,
                _ => return node,
            }
        }
        node
    }

    /// Whether every reference points at a definition.
    pub fn check_refs(&self) -> bool {
        let n = self.defs.len();
        let mut ok = true;
        let mut visit = |node: &Node| {
            if let Node::Ref(id) = node {
                ok &= (id.0 as usize) < n;
            }
        };
        walk(&self.root, &mut visit);
        for def in &self.defs {
            walk(&def.node, &mut visit);
        }
        ok
    }
}

/// Calls `f` on `node` and every node below it (not following references).
pub fn walk(node: &Node, f: &mut impl FnMut(&Node)) {
    // An explicit stack: schemas decoded from untrusted bytes may be deep.
    let mut stack = vec![node];
    while let Some(node) = stack.pop() {
        f(node);
        match node {
            Node::Array(inner)
            | Node::Optional(inner)
            | Node::Brand(_, inner)
            | Node::Refine(_, inner)
            | Node::ResultOk(inner)
            | Node::ResultErr(inner)
            | Node::OptionSome(inner)
            | Node::Metadata(_, inner) => stack.push(inner),
            Node::Tuple(items) | Node::Union(items) => stack.extend(items.iter()),
            Node::Object(obj) => {
                stack.extend(obj.properties.iter().map(|p| &p.node));
                stack.extend(obj.flatten.iter());
            }
            Node::Map { key, value } => {
                stack.push(key);
                stack.push(value);
            }
            Node::DUnion(d) => stack.extend(d.variants.iter().filter_map(|v| v.node.as_ref())),
            Node::Port(port) => {
                for m in &port.methods {
                    stack.extend(m.params.iter().map(|(_, n)| n));
                    stack.push(&m.ok);
                    stack.push(&m.err);
                }
            }
            Node::String
            | Node::Number(_)
            | Node::Boolean
            | Node::Null
            | Node::Literal(_)
            | Node::Ref(_)
            | Node::OptionNone
            | Node::Any => {}
        }
    }
}

/// Process-wide cache of built schemas, keyed by type. Generic types cannot use a `static`
/// inside a generic function (it would be shared by every instantiation), so the cache is a
/// map; each schema is built once and leaked, which bounds the leak by the number of types.
fn cached<T: Schema + 'static>() -> &'static TypeObject {
    static CACHE: OnceLock<RwLock<HashMap<TypeId, &'static TypeObject>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = TypeId::of::<T>();
    if let Some(found) = cache
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .get(&key)
    {
        return found;
    }
    // Build outside the lock: describing may ask for other schemas.
    let built = TypeObject::of::<T>();
    let mut map = cache
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    map.entry(key).or_insert_with(|| Box::leak(Box::new(built)))
}
