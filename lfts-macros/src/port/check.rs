//! The rules on names, one function each: a port's names must not collide with the names of
//! the generated items, nor with the reserved prefix of generated parameters and locals.

use proc_macro2::{TokenStream, TokenTree};
use quote::ToTokens;

use super::ast::Port;
use super::expand::{client, fallback, layered, mock, server};
use super::names::{self, RESERVED_PREFIX};
use crate::ctxt::Ctxt;

pub fn check(cx: &Ctxt, port: &Port) {
    inherent_names(cx, port);
    mock_names(cx, port);
    args_struct_names(cx, port);
    reserved_prefix(cx, port);
    wire_names(cx, port);
}

/// Two arguments of one method cannot share a wire name (`#[lfts(rename = "…")]`): they would
/// be one key of the arguments object.
fn wire_names(cx: &Ctxt, port: &Port) {
    for m in &port.methods {
        for (i, a) in m.args.iter().enumerate() {
            let name = a.wire_name();
            if let Some(earlier) = m.args[..i].iter().find(|o| o.wire_name() == name) {
                let span = a.rename.as_ref().map_or(a.ident.span(), |r| r.span());
                cx.error(
                    span,
                    format!(
                        "arguments `{}` and `{}` would both be `{name}` on the wire; rename one",
                        earlier.ident, a.ident
                    ),
                );
            }
        }
    }
}

/// A method named like an inherent method of a generated type (`new`, `verify`…) or of
/// `Layered` or `Fallback` would be shadowed by it; `__…` is reserved for generated methods (`__dyn_m`).
fn inherent_names(cx: &Ctxt, port: &Port) {
    let inherent = [
        client::INHERENT,
        server::INHERENT,
        mock::INHERENT,
        layered::INHERENT,
        fallback::INHERENT,
    ];
    for m in &port.methods {
        let name = m.ident.to_string();
        if inherent.iter().any(|list| list.contains(&name.as_str())) {
            cx.error(
                m.span,
                format!(
                    "`{name}` is a name the generated client, server or mock already uses; rename the method"
                ),
            );
        }
        if name.starts_with("__") {
            cx.error(
                m.span,
                "port method names cannot start with `__` (reserved for generated code)",
            );
        }
    }
}

/// `on_get`, `expect_get` and `calls_to_get` are the mock's methods for `get`.
fn mock_names(cx: &Ctxt, port: &Port) {
    for m in &port.methods {
        let name = m.ident.to_string();
        for (prefix, what) in mock::PER_METHOD {
            if let Some(target) = name.strip_prefix(prefix)
                && port.methods.iter().any(|o| o.ident == target)
            {
                cx.error(
                    m.span,
                    format!(
                        "`{name}` collides with the mock's `{name}` {what} for method `{target}`; rename it"
                    ),
                );
            }
        }
    }
}

/// `get_a` and `getA` would both give `{Trait}GetAArgs`.
fn args_struct_names(cx: &Ctxt, port: &Port) {
    for (i, m) in port.methods.iter().enumerate() {
        let camel = names::camel(&m.ident.to_string());
        if let Some(earlier) = port.methods[..i]
            .iter()
            .find(|o| names::camel(&o.ident.to_string()) == camel)
        {
            cx.error(
                m.span,
                format!(
                    "`{}` and `{}` would both name the arguments struct `{}{camel}Args`; rename one",
                    earlier.ident, m.ident, port.item.ident
                ),
            );
        }
    }
}

/// Generated generic parameters, lifetimes and locals are spelled `__lfts…`/`__Lfts…`
/// (`names`), so no identifier in the trait may start with that: it could be captured by one.
fn reserved_prefix(cx: &Ctxt, port: &Port) {
    fn walk(cx: &Ctxt, tokens: TokenStream, port: &Port) {
        for tt in tokens {
            match tt {
                TokenTree::Ident(ident) => {
                    let name = ident.to_string();
                    // Method names get the `__` error above.
                    let is_method = port.methods.iter().any(|m| m.ident == name);
                    if names::is_reserved(name.trim_start_matches("r#")) && !is_method {
                        cx.error(
                            ident.span(),
                            format!(
                                "`{name}`: names starting with `{RESERVED_PREFIX}` are reserved for the code `#[port]` generates; rename it"
                            ),
                        );
                    }
                }
                TokenTree::Group(g) => walk(cx, g.stream(), port),
                TokenTree::Punct(_) | TokenTree::Literal(_) => {}
            }
        }
    }
    walk(cx, port.item.to_token_stream(), port);
}
