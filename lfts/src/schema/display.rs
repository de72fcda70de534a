//! A human-readable disassembly of schemas: `impl Display` for [`TypeObject`] and [`Node`].
//!
//! One op per line, indented two spaces per level, strings quoted and escaped:
//!
//! ```text
//! OBJECT strict=false
//!   PROPERTY "email" required
//!     REFINE_EMAIL
//!       STRING
//! defs:
//!   #0 Tree
//!     OBJECT strict=true
//! ```
//!
//! Children that are not nodes get a label line of their own (`KEY`, `VALUE`, `FLATTEN`,
//! `VARIANT`, `PARAM`, `OK`, `ERR`). The walk uses an explicit stack and stops descending at
//! [`MAX_DISPLAY_DEPTH`] levels, printing `…` in place of what lies below, so a deep schema
//! (say, one decoded from untrusted bytes) neither overflows the stack nor prints a wall of
//! indentation.

use std::fmt;

use super::{Def, Literal, Node, PortMethod, Property, Refinement, Tagging, TypeObject, Variant};

/// The deepest indentation level printed; deeper content is shown as `…`.
pub const MAX_DISPLAY_DEPTH: usize = 64;

impl fmt::Display for TypeObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let defs = self.defs();
        write_tree(f, vec![(0, Item::Node(self.root()))], Some(defs))?;
        if !defs.is_empty() {
            f.write_str("defs:\n")?;
            let items = defs
                .iter()
                .enumerate()
                .rev()
                .map(|(i, def)| (1, Item::Def(i, def)))
                .collect();
            write_tree(f, items, Some(defs))?;
        }
        Ok(())
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_tree(f, vec![(0, Item::Node(self))], None)
    }
}

/// One line of the listing.
enum Item<'a> {
    Node(&'a Node),
    Def(usize, &'a Def),
    Property(&'a Property),
    Variant(&'a Variant),
    Method(&'a PortMethod),
    Param(&'a str, &'a Node),
    Labeled(&'static str, &'a Node),
}

/// Prints the items on `stack` (popped from the end) and everything below them.
fn write_tree(
    f: &mut fmt::Formatter<'_>,
    mut stack: Vec<(usize, Item<'_>)>,
    defs: Option<&[Def]>,
) -> fmt::Result {
    while let Some((depth, item)) = stack.pop() {
        write!(
            f,
            "{:width$}",
            "",
            width = depth.min(MAX_DISPLAY_DEPTH + 1) * 2
        )?;
        if depth > MAX_DISPLAY_DEPTH {
            f.write_str("…\n")?;
            continue;
        }
        let child = depth + 1;
        match item {
            Item::Node(node) => {
                write_node(f, node, defs)?;
                push_children(&mut stack, child, node);
            }
            Item::Def(i, def) => {
                write!(f, "#{i} {}", def.name.escape_debug())?;
                stack.push((child, Item::Node(&def.node)));
            }
            Item::Property(p) => {
                write!(
                    f,
                    "PROPERTY {:?} {}",
                    p.name,
                    if p.required { "required" } else { "optional" }
                )?;
                write_aliases(f, &p.aliases)?;
                stack.push((child, Item::Node(&p.node)));
            }
            Item::Variant(v) => {
                write!(f, "VARIANT {:?}", v.name)?;
                write_aliases(f, &v.aliases)?;
                match &v.node {
                    Some(node) => stack.push((child, Item::Node(node))),
                    None => f.write_str(" unit")?,
                }
            }
            Item::Method(m) => {
                write!(f, "PORT_METHOD {:?}", m.name)?;
                if m.idempotent {
                    f.write_str(" idempotent")?;
                }
                if let Some(route) = &m.http {
                    write!(f, " http={:?} {:?}", route.method, route.path)?;
                }
                stack.push((child, Item::Labeled("ERR", &m.err)));
                stack.push((child, Item::Labeled("OK", &m.ok)));
                stack.extend(
                    m.params
                        .iter()
                        .rev()
                        .map(|(n, t)| (child, Item::Param(n, t))),
                );
            }
            Item::Param(name, node) => {
                write!(f, "PARAM {name:?}")?;
                stack.push((child, Item::Node(node)));
            }
            Item::Labeled(label, node) => {
                f.write_str(label)?;
                stack.push((child, Item::Node(node)));
            }
        }
        f.write_str("\n")?;
    }
    Ok(())
}

fn write_aliases(f: &mut fmt::Formatter<'_>, aliases: &[String]) -> fmt::Result {
    if !aliases.is_empty() {
        write!(f, " aliases={aliases:?}")?;
    }
    Ok(())
}

/// The text of a node's own line (its op and inline payload).
fn write_node(f: &mut fmt::Formatter<'_>, node: &Node, defs: Option<&[Def]>) -> fmt::Result {
    let op = node.op();
    match node {
        Node::Number(kind) => write!(f, "{op} {}", kind.name()),
        Node::Literal(lit) => match lit {
            Literal::Str(s) => write!(f, "{op} {s:?}"),
            Literal::Bool(b) => write!(f, "{op} {b}"),
            Literal::Int(n) => write!(f, "{op} {n}"),
            Literal::Float(x) => write!(f, "{op} {x:?}"),
        },
        Node::Tuple(items) | Node::Union(items) => write!(f, "{op} {}", items.len()),
        Node::Object(obj) => write!(f, "{op} strict={}", obj.strict),
        Node::DUnion(d) => {
            match &d.tagging {
                Tagging::External => write!(f, "{op} external")?,
                Tagging::Internal { tag } => write!(f, "{op} internal tag={tag:?}")?,
                Tagging::Adjacent { tag, content } => {
                    write!(f, "{op} adjacent tag={tag:?} content={content:?}")?;
                }
            }
            if d.strict {
                f.write_str(" strict")?;
            }
            Ok(())
        }
        Node::Brand(name, _) => write!(f, "{op} {name:?}"),
        Node::Ref(id) => {
            write!(f, "{op} #{}", id.0)?;
            match defs.map(|defs| defs.get(id.0 as usize)) {
                Some(Some(def)) => write!(f, " {}", def.name.escape_debug()),
                Some(None) => f.write_str(" (dangling)"),
                None => Ok(()),
            }
        }
        Node::Refine(r, _) => match r {
            Refinement::Min(x) | Refinement::Max(x) => write!(f, "{op} {x}"),
            Refinement::MinLength(n)
            | Refinement::MaxLength(n)
            | Refinement::MinItems(n)
            | Refinement::MaxItems(n) => write!(f, "{op} {n}"),
            Refinement::Pattern(p) => write!(f, "{op} {:?}", p.as_str()),
            Refinement::Integer
            | Refinement::Email
            | Refinement::Url
            | Refinement::Uuid
            | Refinement::NonEmpty
            | Refinement::Positive
            | Refinement::Negative => write!(f, "{op}"),
        },
        Node::Metadata(meta, _) => {
            write!(f, "{op}")?;
            if let Some(name) = &meta.name {
                write!(f, " name={name:?}")?;
            }
            if let Some(description) = &meta.description {
                write!(f, " description={description:?}")?;
            }
            Ok(())
        }
        Node::Port(port) => write!(f, "{op} {:?} {}", port.name, port.methods.len()),
        Node::String
        | Node::Boolean
        | Node::Null
        | Node::Array(_)
        | Node::Map { .. }
        | Node::Optional(_)
        | Node::ResultOk(_)
        | Node::ResultErr(_)
        | Node::OptionSome(_)
        | Node::OptionNone
        | Node::Any => write!(f, "{op}"),
    }
}

/// Pushes the lines below `node`, in reverse so that they pop in order.
fn push_children<'a>(stack: &mut Vec<(usize, Item<'a>)>, depth: usize, node: &'a Node) {
    match node {
        Node::Array(inner)
        | Node::Optional(inner)
        | Node::Brand(_, inner)
        | Node::Refine(_, inner)
        | Node::ResultOk(inner)
        | Node::ResultErr(inner)
        | Node::OptionSome(inner)
        | Node::Metadata(_, inner) => stack.push((depth, Item::Node(inner))),
        Node::Tuple(items) | Node::Union(items) => {
            stack.extend(items.iter().rev().map(|n| (depth, Item::Node(n))));
        }
        Node::Object(obj) => {
            stack.extend(
                obj.flatten
                    .iter()
                    .rev()
                    .map(|n| (depth, Item::Labeled("FLATTEN", n))),
            );
            stack.extend(
                obj.properties
                    .iter()
                    .rev()
                    .map(|p| (depth, Item::Property(p))),
            );
        }
        Node::Map { key, value } => {
            stack.push((depth, Item::Labeled("VALUE", value)));
            stack.push((depth, Item::Labeled("KEY", key)));
        }
        Node::DUnion(d) => {
            stack.extend(d.variants.iter().rev().map(|v| (depth, Item::Variant(v))));
        }
        Node::Port(port) => {
            stack.extend(port.methods.iter().rev().map(|m| (depth, Item::Method(m))));
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

#[cfg(test)]
mod tests {
    use super::super::{DefId, NumberKind, Object};
    use super::*;

    #[test]
    fn small_listing() {
        let root = Node::Object(Object {
            properties: vec![Property {
                name: "email".into(),
                aliases: vec![],
                required: true,
                node: Node::String.refine(Refinement::Email),
            }],
            strict: false,
            flatten: vec![],
        });
        let schema = TypeObject::from_parts(
            root,
            vec![Def {
                name: "Tree".into(),
                node: Node::Array(Box::new(Node::Ref(DefId(0)))),
            }],
        );
        assert_eq!(
            schema.to_string(),
            "OBJECT strict=false\n  PROPERTY \"email\" required\n    REFINE_EMAIL\n      STRING\n\
             defs:\n  #0 Tree\n    ARRAY\n      REF #0 Tree\n"
        );
        assert_eq!(
            Node::Map {
                key: Box::new(Node::String),
                value: Box::new(Node::Number(NumberKind::U8)),
            }
            .to_string(),
            "MAP\n  KEY\n    STRING\n  VALUE\n    NUMBER u8\n"
        );
    }

    #[test]
    fn deep_trees_are_cut() {
        let mut node = Node::String;
        for _ in 0..1000 {
            node = Node::Array(Box::new(node));
        }
        let text = node.to_string();
        assert_eq!(text.lines().count(), MAX_DISPLAY_DEPTH + 2);
        assert!(text.ends_with("…\n"));
        // Dropping a 1000-deep box chain recurses; keep it shallow enough for the test thread.
        drop(node);
    }
}
