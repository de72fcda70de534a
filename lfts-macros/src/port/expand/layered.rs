//! `impl {Trait} for lfts::Layered<P, L>`: every method runs through the layer, with a closure
//! that clones the arguments and calls the inner implementation (a layer may start it again).

use proc_macro2::TokenStream;
use quote::quote;

use super::{arg_idents, remote_error_bounds, signature};
use crate::port::ast::Port;
use crate::port::names::{self, Names};

/// Methods on `Layered` itself (`LayerExt::layer` included): a port method of the same name
/// would be shadowed by, or ambiguous with, one of them.
pub const INHERENT: &[&str] = &[
    "new",
    "inner",
    "policy",
    "into_parts",
    "call_layer",
    "layer",
];

pub fn expand(port: &Port, names: &Names) -> TokenStream {
    let trait_ident = &names.trait_ident;
    let (p, l) = (names::ty("P"), names::ty("L"));
    let inner = names::local("inner");
    let methods = port.methods.iter().map(|m| {
        let sig = signature(m);
        let info = names.info(m);
        let ident = &m.ident;
        let idents = arg_idents(m);
        quote! {
            #sig {
                let #inner = ::lfts::Layered::inner(self);
                ::lfts::resilience::Layer::call(::lfts::Layered::policy(self), &#info, move || {
                    #trait_ident::#ident(#inner, #(::core::clone::Clone::clone(&#idents)),*)
                })
            }
        }
    });
    let bounds = remote_error_bounds(port);
    quote! {
        #[automatically_derived]
        impl<#p: #trait_ident, #l: ::lfts::resilience::Layer> #trait_ident for ::lfts::Layered<#p, #l>
        where
            #bounds
        {
            #(#methods)*
        }
    }
}
