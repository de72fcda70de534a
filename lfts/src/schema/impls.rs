//! `Schema` for the standard types, matching serde_json's representation of each.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::rc::Rc;
use std::sync::Arc;

use super::{Defs, Node, NumberKind, Schema};
use crate::validate::{Path, ValidationErrors};

macro_rules! number {
    ($($t:ty => $kind:ident),* $(,)?) => {$(
        impl Schema for $t {
            const CHECKS: bool = false;
            fn describe(_: &mut Defs) -> Node {
                Node::Number(NumberKind::$kind)
            }
            fn type_name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($t))
            }
        }
    )*};
}

number! {
    u8 => U8, u16 => U16, u32 => U32, u64 => U64, usize => U64,
    i8 => I8, i16 => I16, i32 => I32, i64 => I64, isize => I64,
    f32 => F32, f64 => F64,
}

macro_rules! simple {
    ($($t:ty => $node:expr, $name:literal);* $(;)?) => {$(
        impl Schema for $t {
            const CHECKS: bool = false;
            fn describe(_: &mut Defs) -> Node {
                $node
            }
            fn type_name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }
        }
    )*};
}

simple! {
    String => Node::String, "String";
    str => Node::String, "str";
    bool => Node::Boolean, "bool";
    () => Node::Null, "()";
    serde_json::Value => Node::Any, "Value";
}

impl Schema for char {
    const CHECKS: bool = false;
    fn describe(_: &mut Defs) -> Node {
        // serde_json reads a `char` from a string of exactly one character.
        Node::String
            .refine(super::Refinement::MinLength(1))
            .refine(super::Refinement::MaxLength(1))
    }
    fn type_name() -> Cow<'static, str> {
        Cow::Borrowed("char")
    }
}

impl Schema for serde_json::Map<String, serde_json::Value> {
    const CHECKS: bool = false;
    fn describe(_: &mut Defs) -> Node {
        Node::Map {
            key: Box::new(Node::String),
            value: Box::new(Node::Any),
        }
    }
    fn type_name() -> Cow<'static, str> {
        Cow::Borrowed("Map<String, Value>")
    }
}

/// Checks every item of a sequence, with its index on the path.
fn check_items<'a, T: Schema + 'a>(
    items: impl IntoIterator<Item = &'a T>,
    errors: &mut ValidationErrors,
    path: &mut Path,
) {
    if !T::CHECKS {
        return;
    }
    for (i, item) in items.into_iter().enumerate() {
        if errors.truncated() {
            return;
        }
        path.push_index(i);
        item.check(errors, path);
        path.pop();
    }
}

macro_rules! sequence {
    ($($t:ident),*) => {$(
        impl<T: Schema> Schema for $t<T> {
            const CHECKS: bool = T::CHECKS;
            fn describe(defs: &mut Defs) -> Node {
                Node::Array(Box::new(T::describe(defs)))
            }
            fn type_name() -> Cow<'static, str> {
                Cow::Owned(format!("{}<{}>", stringify!($t), T::type_name()))
            }
            fn check(&self, errors: &mut ValidationErrors, path: &mut Path) {
                check_items(self.iter(), errors, path);
            }
        }
    )*};
}

sequence!(Vec, VecDeque, BTreeSet);

impl<T: Schema, S> Schema for HashSet<T, S> {
    const CHECKS: bool = T::CHECKS;
    fn describe(defs: &mut Defs) -> Node {
        Node::Array(Box::new(T::describe(defs)))
    }
    fn type_name() -> Cow<'static, str> {
        Cow::Owned(format!("HashSet<{}>", T::type_name()))
    }
    fn check(&self, errors: &mut ValidationErrors, path: &mut Path) {
        check_items(self.iter(), errors, path);
    }
}

impl<T: Schema> Schema for [T] {
    const CHECKS: bool = T::CHECKS;
    fn describe(defs: &mut Defs) -> Node {
        Node::Array(Box::new(T::describe(defs)))
    }
    fn type_name() -> Cow<'static, str> {
        Cow::Owned(format!("[{}]", T::type_name()))
    }
    fn check(&self, errors: &mut ValidationErrors, path: &mut Path) {
        check_items(self.iter(), errors, path);
    }
}

impl<T: Schema, const N: usize> Schema for [T; N] {
    const CHECKS: bool = T::CHECKS;
    fn describe(defs: &mut Defs) -> Node {
        // serde writes arrays as tuples of exactly N items.
        let item = T::describe(defs);
        Node::Tuple(vec![item; N])
    }
    fn type_name() -> Cow<'static, str> {
        Cow::Owned(format!("[{}; {N}]", T::type_name()))
    }
    fn check(&self, errors: &mut ValidationErrors, path: &mut Path) {
        check_items(self.iter(), errors, path);
    }
}

impl<T: Schema> Schema for Option<T> {
    const CHECKS: bool = T::CHECKS;
    fn describe(defs: &mut Defs) -> Node {
        Node::Optional(Box::new(T::describe(defs)))
    }
    fn type_name() -> Cow<'static, str> {
        Cow::Owned(format!("Option<{}>", T::type_name()))
    }
    fn check(&self, errors: &mut ValidationErrors, path: &mut Path) {
        if let Some(value) = self {
            value.check(errors, path);
        }
    }
}

macro_rules! pointer {
    ($($t:ident),*) => {$(
        impl<T: Schema + ?Sized> Schema for $t<T> {
            const CHECKS: bool = T::CHECKS;
            fn describe(defs: &mut Defs) -> Node {
                T::describe(defs)
            }
            fn type_name() -> Cow<'static, str> {
                T::type_name()
            }
            fn check(&self, errors: &mut ValidationErrors, path: &mut Path) {
                T::check(self, errors, path);
            }
        }
    )*};
}

pointer!(Box, Arc, Rc);

impl<T: Schema + ?Sized> Schema for &T {
    const CHECKS: bool = T::CHECKS;
    fn describe(defs: &mut Defs) -> Node {
        T::describe(defs)
    }
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }
    fn check(&self, errors: &mut ValidationErrors, path: &mut Path) {
        T::check(self, errors, path);
    }
}

impl<T: Schema + ToOwned + ?Sized> Schema for Cow<'_, T> {
    const CHECKS: bool = T::CHECKS;
    fn describe(defs: &mut Defs) -> Node {
        T::describe(defs)
    }
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }
    fn check(&self, errors: &mut ValidationErrors, path: &mut Path) {
        T::check(self.as_ref(), errors, path);
    }
}

/// A key type serde_json can use for a JSON object: strings, and integers written as strings.
pub trait MapKey: Schema {
    /// The key as it appears in a path.
    fn key_string(&self) -> Cow<'_, str>;
}

impl MapKey for String {
    fn key_string(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}

macro_rules! int_key {
    ($($t:ty),*) => {$(
        impl MapKey for $t {
            fn key_string(&self) -> Cow<'_, str> {
                Cow::Owned(self.to_string())
            }
        }
    )*};
}

int_key!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize);

fn check_entries<'a, K: MapKey + 'a, V: Schema + 'a>(
    entries: impl IntoIterator<Item = (&'a K, &'a V)>,
    errors: &mut ValidationErrors,
    path: &mut Path,
) {
    if !V::CHECKS {
        return;
    }
    for (k, v) in entries {
        if errors.truncated() {
            return;
        }
        path.push_key(k.key_string().into_owned());
        v.check(errors, path);
        path.pop();
    }
}

macro_rules! map {
    ($($t:ident [$($extra:ident),*]),*) => {$(
        impl<K: MapKey, V: Schema $(, $extra)*> Schema for $t<K, V $(, $extra)*> {
            const CHECKS: bool = V::CHECKS;
            fn describe(defs: &mut Defs) -> Node {
                Node::Map {
                    key: Box::new(K::describe(defs)),
                    value: Box::new(V::describe(defs)),
                }
            }
            fn type_name() -> Cow<'static, str> {
                Cow::Owned(format!("{}<{}, {}>", stringify!($t), K::type_name(), V::type_name()))
            }
            fn check(&self, errors: &mut ValidationErrors, path: &mut Path) {
                check_entries(self.iter(), errors, path);
            }
        }
    )*};
}

map!(HashMap[S], BTreeMap[]);

impl<T: Schema, E: Schema> Schema for Result<T, E> {
    const CHECKS: bool = T::CHECKS || E::CHECKS;
    fn describe(defs: &mut Defs) -> Node {
        Node::Union(vec![
            Node::ResultOk(Box::new(T::describe(defs))),
            Node::ResultErr(Box::new(E::describe(defs))),
        ])
    }
    fn type_name() -> Cow<'static, str> {
        Cow::Owned(format!("Result<{}, {}>", T::type_name(), E::type_name()))
    }
    fn check(&self, errors: &mut ValidationErrors, path: &mut Path) {
        match self {
            Ok(v) => {
                path.push_key("Ok");
                v.check(errors, path);
            }
            Err(e) => {
                path.push_key("Err");
                e.check(errors, path);
            }
        }
        path.pop();
    }
}

macro_rules! tuple {
    ($(($($name:ident . $idx:tt),+))*) => {$(
        impl<$($name: Schema),+> Schema for ($($name,)+) {
            const CHECKS: bool = false $(|| $name::CHECKS)+;
            fn describe(defs: &mut Defs) -> Node {
                Node::Tuple(vec![$($name::describe(defs)),+])
            }
            fn type_name() -> Cow<'static, str> {
                let names: Vec<Cow<'static, str>> = vec![$($name::type_name()),+];
                Cow::Owned(format!("({})", names.join(", ")))
            }
            fn check(&self, errors: &mut ValidationErrors, path: &mut Path) {
                $(
                    path.push_index($idx);
                    self.$idx.check(errors, path);
                    path.pop();
                )+
            }
        }
    )*};
}

tuple! {
    (A.0)
    (A.0, B.1)
    (A.0, B.1, C.2)
    (A.0, B.1, C.2, D.3)
    (A.0, B.1, C.2, D.3, E.4)
    (A.0, B.1, C.2, D.3, E.4, F.5)
    (A.0, B.1, C.2, D.3, E.4, F.5, G.6)
    (A.0, B.1, C.2, D.3, E.4, F.5, G.6, H.7)
}
