//! `#[port]`: parse the trait → check it → generate the trait with `Send` futures, the HTTP
//! client, the server, the mock, the descriptor, the layered impl and the dyn-compatible form.

mod ast;
mod expand;

use proc_macro2::TokenStream;

use crate::ctxt::Ctxt;

/// Inherent names of the generated types; a port method with one of these names would be
/// shadowed by them, so it is refused.
const RESERVED: &[&str] = &[
    "new",
    "with_config",
    "descriptor",
    "check_contract",
    "transport",
    "layer",
    "calls",
    "call_count",
    "router",
    "port_router",
    "into_inner",
    "from_arc",
    "inner",
];

pub fn port(args: TokenStream, item: TokenStream) -> TokenStream {
    let cx = Ctxt::new();
    if !args.is_empty() {
        cx.error_spanned(&args, "#[port] takes no arguments");
    }
    let item: syn::ItemTrait = match syn::parse2(item.clone()) {
        Ok(item) => item,
        Err(e) => {
            let mut out = syn::Error::new(e.span(), "#[port] goes on a trait").to_compile_error();
            out.extend(item);
            return out;
        }
    };
    let port = ast::Port::parse(&cx, item);
    check_names(&cx, &port);
    if cx.has_errors() {
        // Emit the trait as written (less our attributes) so uses of it do not cascade.
        let mut out = cx.into_compile_errors();
        let mut item = port.item;
        for it in &mut item.items {
            if let syn::TraitItem::Fn(f) = it {
                f.attrs.retain(|a| !a.path().is_ident("lfts"));
            }
        }
        out.extend(quote::quote!(#item));
        return out;
    }
    expand::expand(&port)
}

/// Method names that collide with generated items.
fn check_names(cx: &Ctxt, port: &ast::Port) {
    for m in &port.methods {
        let name = m.ident.to_string();
        if RESERVED.contains(&name.as_str()) {
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
        if let Some(target) = name.strip_prefix("on_")
            && port.methods.iter().any(|o| o.ident == target)
        {
            cx.error(
                m.span,
                format!("`{name}` collides with the mock's `on_{target}` setter for method `{target}`; rename it"),
            );
        }
    }
}
