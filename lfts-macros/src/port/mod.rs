//! `#[port]`: parse the trait (`ast`) → check its names (`check`) → generate the trait with
//! `Send` futures, the arguments structs, the HTTP client, the server, the mock, the
//! descriptor, the layered impl and the dyn-compatible form (`expand`, one file per item).
//! `names` holds every name the expansion introduces.

mod ast;
mod check;
mod expand;
mod names;

use proc_macro2::TokenStream;

use crate::ctxt::Ctxt;

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
    check::check(&cx, &port);
    if cx.has_errors() {
        // Emit the trait as written (less our attributes) so uses of it do not cascade.
        let mut out = cx.into_compile_errors();
        let mut item = port.item;
        for it in &mut item.items {
            if let syn::TraitItem::Fn(f) = it {
                ast::strip_attrs(f);
            }
        }
        out.extend(quote::quote!(#item));
        return out;
    }
    expand::expand(&port)
}
