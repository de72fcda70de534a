//! Names: of the items `#[port]` generates, and of the generic parameters, lifetimes and locals
//! inside them.
//!
//! Generated code shares its scope with the user's names: the user's types appear inside
//! generated impls, and the user's trait may be called `S` or `T`. Generic parameters cannot be
//! made hygienic by spans (only locals can), so every generic parameter, lifetime and local that
//! generated code introduces is spelled with the reserved prefix `__lfts` (`__LftsS`,
//! `'__lfts`, `__lfts_inner`), which `check` refuses anywhere in a port trait. Every other path
//! in generated code is absolute (`::core::…`, `::lfts::…`).

use proc_macro2::Span;
use quote::format_ident;
use syn::Ident;

use super::ast::{Method, Port};

/// The reserved prefix, compared without regard to case.
pub const RESERVED_PREFIX: &str = "__lfts";

/// Whether `ident` starts with the reserved prefix.
pub fn is_reserved(ident: &str) -> bool {
    ident
        .get(..RESERVED_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(RESERVED_PREFIX))
}

/// A generated generic type parameter: `ty("S")` is `__LftsS`.
pub fn ty(name: &str) -> Ident {
    format_ident!("__Lfts{}", name)
}

/// A generated local or parameter binding: `local("inner")` is `__lfts_inner`.
pub fn local(name: &str) -> Ident {
    format_ident!("__lfts_{}", name)
}

/// The lifetime of the higher-ranked bounds (`for<'__lfts> E: RemoteError`).
pub fn lifetime() -> syn::Lifetime {
    syn::Lifetime::new("'__lfts", Span::call_site())
}

/// The names of one port's generated items.
pub struct Names {
    pub vis: syn::Visibility,
    pub trait_ident: Ident,
    pub port_name: String,
    pub client: Ident,
    pub server: Ident,
    pub mock: Ident,
    pub dyn_trait: Ident,
}

impl Names {
    pub fn new(port: &Port) -> Names {
        let t = &port.item.ident;
        Names {
            vis: port.item.vis.clone(),
            trait_ident: t.clone(),
            port_name: t.to_string(),
            client: format_ident!("{}Client", t),
            server: format_ident!("{}Server", t),
            mock: format_ident!("Mock{}", t),
            dyn_trait: format_ident!("Dyn{}", t),
        }
    }

    /// The method's `MethodInfo` static (inside the expansion's `const _` block).
    pub fn info(&self, m: &Method) -> Ident {
        format_ident!("__LFTS_{}", m.ident)
    }

    /// The method's wire arguments struct (inside the `const _` block). Its name is the type
    /// name in the port's schema, so it is part of the fingerprint: keep it stable.
    pub fn wire_args(&self, m: &Method) -> Ident {
        format_ident!("__{}{}Args", self.trait_ident, camel(&m.ident.to_string()))
    }

    /// The method's public arguments struct, the typed record of a mock call.
    pub fn args(&self, m: &Method) -> Ident {
        format_ident!("{}{}Args", self.trait_ident, camel(&m.ident.to_string()))
    }

    /// The function that builds the port's descriptor once (inside the `const _` block).
    pub fn descriptor_fn(&self) -> Ident {
        local("descriptor")
    }
}

/// `get_user` → `GetUser`.
pub fn camel(s: &str) -> String {
    s.split('_')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_uppercase().chain(c).collect(),
                None => String::new(),
            }
        })
        .collect()
}
