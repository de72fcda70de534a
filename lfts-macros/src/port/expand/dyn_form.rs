//! `Dyn{Trait}`: the dyn-compatible form, for wiring chosen at run time. Every implementation
//! of the trait implements it, `dyn Dyn{Trait}` implements the trait, and so do `Arc<T>`,
//! `Box<T>` and `&T` for any `T` that does.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::{arg_idents, signature, typed_args};
use crate::port::ast::{Method, Port};
use crate::port::names::{self, Names};

/// The boxed methods get their own names: sharing the port's names would make every call on a
/// type implementing both traits ambiguous. Port method names cannot start with `__`.
fn dyn_name(m: &Method) -> syn::Ident {
    format_ident!("__dyn_{}", m.ident)
}

fn boxed_sig(m: &Method) -> TokenStream {
    let ident = dyn_name(m);
    let args = typed_args(m);
    let (ok, err) = (&m.ok, &m.err);
    quote! {
        fn #ident(&self, #(#args),*) -> ::core::pin::Pin<::std::boxed::Box<
            dyn ::core::future::Future<Output = ::core::result::Result<#ok, #err>> + ::core::marker::Send + '_,
        >>
    }
}

pub fn item(port: &Port, names: &Names) -> TokenStream {
    let Names {
        vis,
        trait_ident,
        dyn_trait,
        ..
    } = names;
    let doc = format!(
        " The dyn-compatible form of [`{trait_ident}`], for wiring chosen at run time: \
         `Arc<dyn {dyn_trait}>` implements `{trait_ident}`, and every `{trait_ident}` implements this."
    );
    let decls = port.methods.iter().map(|m| {
        let sig = boxed_sig(m);
        // A port method's arity is the user's choice; the lint belongs on their trait.
        quote! { #[doc(hidden)] #[allow(clippy::too_many_arguments)] #sig; }
    });
    quote! {
        #[doc = #doc]
        #vis trait #dyn_trait: ::core::marker::Send + ::core::marker::Sync {
            #(#decls)*
        }
    }
}

pub fn impls(port: &Port, names: &Names) -> TokenStream {
    let Names {
        trait_ident,
        dyn_trait,
        ..
    } = names;
    let t = names::ty("T");
    let blanket = port.methods.iter().map(|m| {
        let sig = boxed_sig(m);
        let ident = &m.ident;
        let idents = arg_idents(m);
        quote! { #sig { ::std::boxed::Box::pin(#trait_ident::#ident(self, #(#idents),*)) } }
    });
    let forward_dyn = port.methods.iter().map(|m| {
        let sig = signature(m);
        let idents = arg_idents(m);
        let dyn_ident = dyn_name(m);
        quote! { #sig { #dyn_trait::#dyn_ident(self, #(#idents),*) } }
    });
    let forward = |ptr: TokenStream| {
        let methods = port.methods.iter().map(|m| {
            let sig = signature(m);
            let ident = &m.ident;
            let idents = arg_idents(m);
            quote! { #sig { #trait_ident::#ident(&**self, #(#idents),*) } }
        });
        quote! {
            #[automatically_derived]
            impl<#t: #trait_ident + ?::core::marker::Sized> #trait_ident for #ptr {
                #(#methods)*
            }
        }
    };
    let arc = forward(quote!(::std::sync::Arc<#t>));
    let boxed = forward(quote!(::std::boxed::Box<#t>));
    let reference = forward(quote!(&#t));
    quote! {
        #[automatically_derived]
        impl<#t: #trait_ident> #dyn_trait for #t {
            #(#blanket)*
        }

        #[automatically_derived]
        impl #trait_ident for dyn #dyn_trait {
            #(#forward_dyn)*
        }

        #arc
        #boxed
        #reference
    }
}
