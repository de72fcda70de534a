//! The wire fingerprint: a hash of only what a schema says about the JSON on the wire.
//!
//! [`TypeObject::fingerprint`] hashes the binary encoding, so it identifies one exact schema
//! version: documentation, Rust type names and the order in which named definitions were
//! registered are all part of it. Two builds that exchange exactly the same JSON can therefore
//! have different fingerprints. [`TypeObject::wire_fingerprint`] is the fingerprint to compare
//! contracts with: it changes exactly when what is accepted or produced on the wire may change.
//!
//! # What the wire fingerprint sees
//!
//! Everything that shapes the JSON or its validation:
//! - the node kinds and their structure (arrays, tuples, maps, unions and their order,
//!   optional values, results, `any`);
//! - object properties: wire names, required flags, aliases, strictness
//!   (`deny_unknown_fields`) and flattened members (in order: serde reads them in order);
//! - tagged unions: the tagging (external, internal with its tag, adjacent with tag and
//!   content keys), strictness, variant wire names, aliases and payloads;
//! - number kinds (`u8` … `i64`, `f32`, `f64`), literals and every refinement with its
//!   parameters;
//! - for a port: its name, and for each method its name, parameter names and types, success
//!   and error types, idempotency and REST mapping.
//!
//! # What it ignores
//!
//! - `METADATA`: doc comments and the Rust names they carry;
//! - `BRAND` names: a brand names a newtype in the LFTS contract vocabulary (and defaults to
//!   the Rust type's name) but does not change its JSON, so a branded node hashes as the node
//!   it wraps;
//! - the names of named definitions and their order in the table: a reference hashes as the
//!   definition it points to, so naming a type, renaming it, or moving a value into a named
//!   newtype does not change the hash. Definitions that no reference reaches are ignored;
//! - the order of what JSON does not order: object properties and union variants are hashed
//!   by wire name, aliases as a set, a chain of refinements on one node as a set, and port
//!   methods and parameters by name.
//!
//! # Recursive types
//!
//! A definition that is not recursive is hashed like its inlined body (a Merkle hash, so
//! shared definitions are hashed once, never expanded). A group of mutually recursive
//! definitions (a strongly connected component of the reference graph) is hashed, for each
//! entry into it, by walking the group from that entry and numbering its members in order of
//! first use; a reference back into the group hashes as that number. Renaming, reordering or
//! re-registering recursive types therefore keeps the hash, and a definition that only
//! forwards to another (a transparent newtype) is looked through. Two wire-identical recursive
//! shapes factored into a different number of distinct definitions (say `A → B → A` against
//! `A → A`, with `A` and `B` alike) still hash differently: the hash is exact for renaming,
//! not a decision procedure for equivalence of recursive types. Hashing a group costs its size
//! times the number of its members, which stays small for schemas derived from Rust types.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use super::{DefId, Literal, Node, NumberKind, Refinement, Tagging, TypeObject};
use crate::schema::Fingerprint;

/// The domain prefix of a wire fingerprint, so that it never equals a full fingerprint.
const DOMAIN: &[u8] = b"lfts wire fingerprint v1\0";

/// Tags for what is not a node op (above every op code).
const TAG_REFINE_CHAIN: u8 = 0xF0;
const TAG_BACK_REF: u8 = 0xF1;
const TAG_RECURSIVE: u8 = 0xF2;
const TAG_DANGLING: u8 = 0xF3;
const TAG_ALIAS_CYCLE: u8 = 0xF4;

type Hash = [u8; 32];

impl TypeObject {
    /// A fingerprint of the schema's wire contract: the SHA-256-based hash described in
    /// [`schema::wire`](crate::schema::wire), which covers the JSON structure, wire names,
    /// required flags, aliases, tagging, strictness, number kinds, literals and refinements,
    /// and ignores documentation, brand names, Rust type names and the order of the
    /// definition table.
    ///
    /// Compare wire fingerprints to decide whether two builds can talk to each other; compare
    /// [`fingerprint`](TypeObject::fingerprint)s to decide whether they hold the very same
    /// schema version (docs included).
    ///
    /// ```
    /// use lfts::TypeObject;
    /// use lfts::schema::{Metadata, Node};
    ///
    /// let plain = TypeObject::new(Node::String);
    /// let documented = TypeObject::new(Node::Metadata(
    ///     Metadata { name: Some("Name".into()), description: Some("A name.".into()) },
    ///     Box::new(Node::String),
    /// ));
    /// assert_ne!(plain.fingerprint(), documented.fingerprint());
    /// assert_eq!(plain.wire_fingerprint(), documented.wire_fingerprint());
    /// ```
    pub fn wire_fingerprint(&self) -> Fingerprint {
        let mut hasher = WireHasher::new(self);
        hasher.hash_defs();
        let root = hasher.digest(self.root(), &mut |h, id| h.outside(id));
        let mut out = Sha256::new();
        out.update(DOMAIN);
        out.update(root);
        Fingerprint(out.finalize().into())
    }
}

/// Where a reference leads once definitions that only forward to another are looked through.
#[derive(Clone, Copy)]
enum Target {
    Def(usize),
    Dangling(u32),
    AliasCycle,
}

struct WireHasher<'a> {
    schema: &'a TypeObject,
    /// Per definition, the strongly connected component it belongs to (reachable ones only).
    scc: Vec<Option<usize>>,
    /// Per definition, its hash as seen from outside its component (an inlined body, or the
    /// walk of its recursive group from it).
    hashes: Vec<Option<Hash>>,
}

impl<'a> WireHasher<'a> {
    fn new(schema: &'a TypeObject) -> WireHasher<'a> {
        let n = schema.defs().len();
        WireHasher {
            schema,
            scc: vec![None; n],
            hashes: vec![None; n],
        }
    }

    fn body(&self, def: usize) -> &'a Node {
        &self.schema.defs()[def].node
    }

    /// Follows definitions whose body (past metadata and brands) is a bare reference.
    fn target(&self, id: DefId) -> Target {
        let defs = self.schema.defs();
        let mut id = id;
        for _ in 0..=defs.len() {
            let Some(def) = defs.get(id.0 as usize) else {
                return Target::Dangling(id.0);
            };
            match strip(&def.node) {
                Node::Ref(next) => id = *next,
                _ => return Target::Def(id.0 as usize),
            }
        }
        Target::AliasCycle
    }

    /// The hash of a reference from outside the target's component (components are hashed
    /// sinks first, so the target's hash is known).
    fn outside(&self, id: DefId) -> Hash {
        match self.target(id) {
            Target::Def(d) => self.hashes[d].unwrap_or_else(|| token(TAG_DANGLING, &[])),
            Target::Dangling(i) => token(TAG_DANGLING, &i.to_be_bytes()),
            Target::AliasCycle => token(TAG_ALIAS_CYCLE, &[]),
        }
    }

    /// The definitions referenced directly from `node` (not following references).
    fn refs(node: &Node) -> Vec<usize> {
        let mut out = Vec::new();
        super::walk(node, &mut |n| {
            if let Node::Ref(id) = n {
                out.push(id.0 as usize);
            }
        });
        out
    }

    /// Computes the strongly connected components of the definitions reachable from the root
    /// (Tarjan's algorithm, iteratively) and hashes them, sinks first.
    fn hash_defs(&mut self) {
        let n = self.schema.defs().len();
        let edges: Vec<Vec<usize>> = (0..n)
            .map(|d| {
                Self::refs(self.body(d))
                    .into_iter()
                    .filter(|&e| e < n)
                    .collect()
            })
            .collect();
        let mut index = vec![usize::MAX; n];
        let mut low = vec![0usize; n];
        let mut on_stack = vec![false; n];
        let mut stack = Vec::new();
        let mut next_index = 0;
        let mut components = 0;

        let roots: Vec<usize> = Self::refs(self.schema.root())
            .into_iter()
            .filter(|&e| e < n)
            .collect();
        for start in roots {
            if index[start] != usize::MAX {
                continue;
            }
            // (node, next edge to look at)
            let mut call: Vec<(usize, usize)> = vec![(start, 0)];
            index[start] = next_index;
            low[start] = next_index;
            next_index += 1;
            stack.push(start);
            on_stack[start] = true;
            while let Some(top) = call.last_mut() {
                let v = top.0;
                if let Some(&w) = edges[v].get(top.1) {
                    top.1 += 1;
                    if index[w] == usize::MAX {
                        index[w] = next_index;
                        low[w] = next_index;
                        next_index += 1;
                        stack.push(w);
                        on_stack[w] = true;
                        call.push((w, 0));
                    } else if on_stack[w] {
                        low[v] = low[v].min(index[w]);
                    }
                    continue;
                }
                call.pop();
                if let Some(&(parent, _)) = call.last() {
                    low[parent] = low[parent].min(low[v]);
                }
                if low[v] == index[v] {
                    let mut members = Vec::new();
                    while let Some(w) = stack.pop() {
                        on_stack[w] = false;
                        self.scc[w] = Some(components);
                        members.push(w);
                        if w == v {
                            break;
                        }
                    }
                    let recursive = members.len() > 1 || edges[v].contains(&v);
                    self.hash_component(components, &members, recursive);
                    components += 1;
                }
            }
        }
    }

    fn hash_component(&mut self, component: usize, members: &[usize], recursive: bool) {
        if !recursive {
            for &d in members {
                let h = self.digest(self.body(d), &mut |h, id| h.outside(id));
                self.hashes[d] = Some(h);
            }
            return;
        }
        let entries: Vec<(usize, Hash)> = members
            .iter()
            .filter_map(|&d| match self.target(DefId(d as u32)) {
                Target::Def(t) if self.scc[t] == Some(component) => {
                    Some((d, self.walk_group(component, t)))
                }
                // A forwarding definition whose target lies elsewhere, or nowhere.
                _ => None,
            })
            .collect();
        for (d, h) in entries {
            self.hashes[d] = Some(h);
        }
        // Forwarding members leave the group; resolve them through `outside` when used.
        for &d in members {
            if self.hashes[d].is_none() {
                let h = self.outside(DefId(d as u32));
                self.hashes[d] = Some(h);
            }
        }
    }

    /// The hash of the recursive group `component` entered at `start`: its members' bodies in
    /// order of first use from `start`, references within the group as those positions.
    fn walk_group(&self, component: usize, start: usize) -> Hash {
        let mut order = vec![start];
        let mut position: HashMap<usize, u64> = HashMap::from([(start, 0)]);
        let mut out = Sha256::new();
        out.update([TAG_RECURSIVE]);
        let mut i = 0;
        while let Some(&d) = order.get(i) {
            let body = self.body(d);
            let h = self.digest(body, &mut |h, id| match h.target(id) {
                Target::Def(t) if h.scc[t] == Some(component) => {
                    let next = position.len() as u64;
                    let at = *position.entry(t).or_insert_with(|| {
                        order.push(t);
                        next
                    });
                    token(TAG_BACK_REF, &at.to_be_bytes())
                }
                _ => h.outside(id),
            });
            out.update(h);
            i += 1;
        }
        out.update((order.len() as u64).to_be_bytes());
        out.finalize().into()
    }

    /// The Merkle hash of `node`, children first in a canonical order; `reference` hashes a
    /// [`Node::Ref`] (the reference itself adds nothing, so a named type hashes as its body).
    fn digest(
        &self,
        node: &Node,
        reference: &mut dyn FnMut(&WireHasher<'a>, DefId) -> Hash,
    ) -> Hash {
        let node = strip(node);
        let mut h = Sha256::new();
        match node {
            Node::Ref(id) => return reference(self, *id),
            Node::Refine(..) => {
                let mut refinements = Vec::new();
                let mut inner = node;
                while let Node::Refine(r, next) = inner {
                    refinements.push(refinement_bytes(r));
                    inner = strip(next);
                }
                refinements.sort();
                h.update([TAG_REFINE_CHAIN]);
                put_count(&mut h, refinements.len());
                for r in &refinements {
                    put_bytes(&mut h, r);
                }
                h.update(self.digest(inner, reference));
                return h.finalize().into();
            }
            _ => {}
        }
        h.update([node.op().code()]);
        match node {
            Node::String
            | Node::Boolean
            | Node::Null
            | Node::OptionNone
            | Node::Any
            | Node::Ref(_)
            | Node::Refine(..)
            | Node::Metadata(..)
            | Node::Brand(..) => {}
            Node::Number(kind) => h.update([kind_code(*kind)]),
            Node::Literal(lit) => match lit {
                Literal::Str(s) => {
                    h.update([0]);
                    put_str(&mut h, s);
                }
                Literal::Bool(b) => h.update([1, u8::from(*b)]),
                Literal::Int(i) => {
                    h.update([2]);
                    h.update(i.to_be_bytes());
                }
                Literal::Float(x) => {
                    h.update([3]);
                    h.update(f64_bytes(*x));
                }
            },
            Node::Array(inner)
            | Node::Optional(inner)
            | Node::ResultOk(inner)
            | Node::ResultErr(inner)
            | Node::OptionSome(inner) => h.update(self.digest(inner, reference)),
            Node::Tuple(items) | Node::Union(items) => {
                put_count(&mut h, items.len());
                for item in items {
                    h.update(self.digest(item, reference));
                }
            }
            Node::Object(obj) => {
                h.update([u8::from(obj.strict)]);
                let mut props: Vec<_> = obj.properties.iter().collect();
                props.sort_by(|a, b| a.name.cmp(&b.name));
                put_count(&mut h, props.len());
                for p in props {
                    put_str(&mut h, &p.name);
                    h.update([u8::from(p.required)]);
                    put_set(&mut h, &p.aliases);
                    h.update(self.digest(&p.node, reference));
                }
                put_count(&mut h, obj.flatten.len());
                for f in &obj.flatten {
                    h.update(self.digest(f, reference));
                }
            }
            Node::Map { key, value } => {
                h.update(self.digest(key, reference));
                h.update(self.digest(value, reference));
            }
            Node::DUnion(d) => {
                match &d.tagging {
                    Tagging::External => h.update([0]),
                    Tagging::Internal { tag } => {
                        h.update([1]);
                        put_str(&mut h, tag);
                    }
                    Tagging::Adjacent { tag, content } => {
                        h.update([2]);
                        put_str(&mut h, tag);
                        put_str(&mut h, content);
                    }
                }
                h.update([u8::from(d.strict)]);
                let mut variants: Vec<_> = d.variants.iter().collect();
                variants.sort_by(|a, b| a.name.cmp(&b.name));
                put_count(&mut h, variants.len());
                for v in variants {
                    put_str(&mut h, &v.name);
                    put_set(&mut h, &v.aliases);
                    match &v.node {
                        Some(payload) => {
                            h.update([1]);
                            h.update(self.digest(payload, reference));
                        }
                        None => h.update([0]),
                    }
                }
            }
            Node::Port(port) => {
                put_str(&mut h, &port.name);
                let mut methods: Vec<_> = port.methods.iter().collect();
                methods.sort_by(|a, b| a.name.cmp(&b.name));
                put_count(&mut h, methods.len());
                for m in methods {
                    put_str(&mut h, &m.name);
                    let mut params: Vec<_> = m.params.iter().collect();
                    params.sort_by(|a, b| a.0.cmp(&b.0));
                    put_count(&mut h, params.len());
                    for (name, node) in params {
                        put_str(&mut h, name);
                        h.update(self.digest(node, reference));
                    }
                    h.update(self.digest(&m.ok, reference));
                    h.update(self.digest(&m.err, reference));
                    h.update([u8::from(m.idempotent)]);
                    match &m.http {
                        Some(route) => {
                            h.update([1]);
                            put_str(&mut h, &route.method);
                            put_str(&mut h, &route.path);
                        }
                        None => h.update([0]),
                    }
                }
            }
        }
        h.finalize().into()
    }
}

/// `node` past any `METADATA` and `BRAND` wrappers, which do not change the wire.
fn strip(mut node: &Node) -> &Node {
    while let Node::Metadata(_, inner) | Node::Brand(_, inner) = node {
        node = inner;
    }
    node
}

fn token(tag: u8, payload: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([tag]);
    h.update(payload);
    h.finalize().into()
}

fn kind_code(kind: NumberKind) -> u8 {
    NumberKind::ALL
        .iter()
        .position(|k| *k == kind)
        .and_then(|i| u8::try_from(i).ok())
        .unwrap_or(u8::MAX)
}

/// A float's bits, with `-0.0` read as `0.0` (they bound the same numbers).
fn f64_bytes(x: f64) -> [u8; 8] {
    let x = if x == 0.0 { 0.0 } else { x };
    x.to_bits().to_be_bytes()
}

fn refinement_bytes(r: &Refinement) -> Vec<u8> {
    let mut out = vec![r.op().code()];
    match r {
        Refinement::Min(x) | Refinement::Max(x) => out.extend(f64_bytes(*x)),
        Refinement::MinLength(n)
        | Refinement::MaxLength(n)
        | Refinement::MinItems(n)
        | Refinement::MaxItems(n) => out.extend(n.to_be_bytes()),
        Refinement::Pattern(p) => out.extend(p.as_str().as_bytes()),
        Refinement::Integer
        | Refinement::Email
        | Refinement::Url
        | Refinement::Uuid
        | Refinement::NonEmpty
        | Refinement::Positive
        | Refinement::Negative => {}
    }
    out
}

fn put_count(h: &mut Sha256, n: usize) {
    h.update((n as u64).to_be_bytes());
}

fn put_bytes(h: &mut Sha256, bytes: &[u8]) {
    put_count(h, bytes.len());
    h.update(bytes);
}

fn put_str(h: &mut Sha256, s: &str) {
    put_bytes(h, s.as_bytes());
}

/// Strings whose order does not matter (aliases), sorted and deduplicated.
fn put_set(h: &mut Sha256, items: &[String]) {
    let mut sorted: Vec<&str> = items.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    sorted.dedup();
    put_count(h, sorted.len());
    for s in sorted {
        put_str(h, s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Def, Metadata, Object, Property};

    fn tree(name: &str, child_ref: u32) -> Def {
        Def {
            name: name.into(),
            node: Node::Metadata(
                Metadata {
                    name: Some(name.into()),
                    description: Some(format!("A {name}.")),
                },
                Box::new(Node::Object(Object {
                    properties: vec![Property {
                        name: "children".into(),
                        aliases: vec![],
                        required: true,
                        node: Node::Array(Box::new(Node::Ref(DefId(child_ref)))),
                    }],
                    strict: false,
                    flatten: vec![],
                })),
            ),
        }
    }

    #[test]
    fn renamed_and_reordered_recursive_definitions_agree() {
        let a = TypeObject::from_parts(Node::Ref(DefId(0)), vec![tree("Tree", 0)]);
        let junk = Def {
            name: "Unused".into(),
            node: Node::Boolean,
        };
        let b = TypeObject::from_parts(Node::Ref(DefId(1)), vec![junk, tree("Node", 1)]);
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.wire_fingerprint(), b.wire_fingerprint());
    }

    #[test]
    fn forwarding_definitions_are_looked_through() {
        let direct = TypeObject::from_parts(Node::Ref(DefId(0)), vec![tree("Tree", 0)]);
        let forwarding = TypeObject::from_parts(
            Node::Ref(DefId(0)),
            vec![
                tree("Tree", 1),
                Def {
                    name: "Child".into(),
                    node: Node::Brand("Child".into(), Box::new(Node::Ref(DefId(0)))),
                },
            ],
        );
        assert_eq!(direct.wire_fingerprint(), forwarding.wire_fingerprint());
    }

    #[test]
    fn named_and_inline_agree_but_recursion_does_not_equal_its_unfolding() {
        let inline = TypeObject::new(Node::Array(Box::new(Node::String)));
        let named = TypeObject::from_parts(
            Node::Array(Box::new(Node::Ref(DefId(0)))),
            vec![Def {
                name: "Name".into(),
                node: Node::String,
            }],
        );
        assert_eq!(inline.wire_fingerprint(), named.wire_fingerprint());

        let recursive = TypeObject::from_parts(Node::Ref(DefId(0)), vec![tree("Tree", 0)]);
        let leaf = TypeObject::from_parts(
            Node::Ref(DefId(0)),
            vec![
                tree("Tree", 1),
                Def {
                    name: "Leaf".into(),
                    node: Node::Object(Object::default()),
                },
            ],
        );
        assert_ne!(recursive.wire_fingerprint(), leaf.wire_fingerprint());
    }

    #[test]
    fn dangling_and_cyclic_references_do_not_panic() {
        let dangling = TypeObject::from_parts(Node::Ref(DefId(7)), vec![]);
        let cycle = TypeObject::from_parts(
            Node::Ref(DefId(0)),
            vec![
                Def {
                    name: "A".into(),
                    node: Node::Ref(DefId(1)),
                },
                Def {
                    name: "B".into(),
                    node: Node::Ref(DefId(0)),
                },
            ],
        );
        assert_ne!(dangling.wire_fingerprint(), cycle.wire_fingerprint());
    }
}
