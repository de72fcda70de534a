//! Compile-time checks spanned on the user's types, so that a type missing a trait gets one
//! error, at the type in the method signature, saying what to add.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use crate::port::ast::Port;

pub fn expand(port: &Port) -> TokenStream {
    let checks = port.methods.iter().map(|m| {
        let (ok, err) = (&m.ok, &m.err);
        // `<E as PortError>::f()`, not `f::<E>()` with a bound: the trait's
        // `#[diagnostic::on_unimplemented]` message is then the whole error, with no "required
        // by a bound in" note pointing into lfts.
        let err_check = quote_spanned! {err.span()=>
            <#err as ::lfts::__private::PortError>::assert_port_error();
            ::lfts::__private::assert_wire_type::<#err>();
        };
        let ok_check = quote_spanned! {ok.span()=>
            ::lfts::__private::assert_wire_type::<#ok>();
        };
        let arg_checks = m.args.iter().map(|a| {
            let ty = &a.ty;
            quote_spanned! {ty.span()=> ::lfts::__private::assert_argument::<#ty>(); }
        });
        quote! { #err_check #ok_check #(#arg_checks)* }
    });
    quote! {
        const _: fn() = || {
            #(#checks)*
        };
    }
}
