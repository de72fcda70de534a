//! `#[derive(Schema)]`: parse (serde's model + our `#[lfts]` attributes) → check → expand.

mod ast;
mod attr;
mod check;
mod expand;

use proc_macro2::TokenStream;
use serde_derive_internals::{Ctxt as SerdeCtxt, Derive, ast::Container};

use crate::ctxt::Ctxt;

pub fn derive(input: &syn::DeriveInput) -> TokenStream {
    // serde's own attribute model gives us exactly serde's reading of `#[serde(...)]`.
    let serde_cx = SerdeCtxt::new();
    let container = Container::from_ast(&serde_cx, input, Derive::Deserialize);
    if serde_cx.check().is_err() {
        // serde's derive reports malformed `#[serde]` attributes itself; emitting them again
        // would show every error twice. Stay quiet and keep the type usable.
        return expand::fallback(input);
    }
    let Some(container) = container else {
        return expand::fallback(input);
    };

    let cx = Ctxt::new();
    let model = ast::Input::from_container(&cx, &container);
    check::check(&cx, &model);
    if cx.has_errors() {
        let mut out = cx.into_compile_errors();
        out.extend(expand::fallback(input));
        return out;
    }
    expand::expand(&model)
}
