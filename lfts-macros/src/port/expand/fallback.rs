//! `impl {Trait} for lfts::resilience::Fallback<P, S>`: every method calls the primary, and
//! the secondary with the same arguments when the primary fails with a network error.

use proc_macro2::TokenStream;
use quote::quote;

use super::{arg_idents, remote_error_bounds, signature};
use crate::port::ast::Port;
use crate::port::names::{self, Names};

/// Methods on `Fallback` itself: a port method of the same name would be shadowed by one of
/// them.
pub const INHERENT: &[&str] = &["new", "primary", "secondary", "into_parts", "fallback"];

pub fn expand(port: &Port, names: &Names) -> TokenStream {
    let trait_ident = &names.trait_ident;
    let (p, s) = (names::ty("P"), names::ty("S"));
    let (primary, secondary, outcome, error) = (
        names::local("primary"),
        names::local("secondary"),
        names::local("outcome"),
        names::local("error"),
    );
    let methods = port.methods.iter().map(|m| {
        let sig = signature(m);
        let ident = &m.ident;
        let idents = arg_idents(m);
        quote! {
            #sig {
                let #primary = ::lfts::resilience::Fallback::primary(self);
                let #secondary = ::lfts::resilience::Fallback::secondary(self);
                async move {
                    let #outcome = #trait_ident::#ident(
                        #primary,
                        #(::core::clone::Clone::clone(&#idents)),*
                    ).await;
                    match #outcome {
                        ::core::result::Result::Err(ref #error)
                            if ::lfts::RemoteError::network(#error).is_some() =>
                        {
                            #trait_ident::#ident(#secondary, #(#idents),*).await
                        }
                        #outcome => #outcome,
                    }
                }
            }
        }
    });
    let bounds = remote_error_bounds(port);
    quote! {
        #[automatically_derived]
        impl<#p: #trait_ident, #s: #trait_ident> #trait_ident for ::lfts::resilience::Fallback<#p, #s>
        where
            #bounds
        {
            #(#methods)*
        }
    }
}
