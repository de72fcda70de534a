//! Per method: the public arguments struct (`{Trait}{Method}Args`, the typed record of a mock
//! call), and, inside the `const _` block, the wire arguments struct and the `MethodInfo` static.
//!
//! The two structs have the same fields. They are two because the wire struct's name and docs
//! are part of the port's schema (and so of its fingerprint), while the public struct carries
//! docs for the user.

use proc_macro2::TokenStream;
use quote::quote;

use crate::port::ast::{Arg, Port};
use crate::port::names::{self, Names};

pub fn public(port: &Port, names: &Names) -> TokenStream {
    let (vis, trait_ident, mock) = (&names.vis, &names.trait_ident, &names.mock);
    let items = port.methods.iter().map(|m| {
        let args = names.args(m);
        let method = &m.ident;
        let doc = format!(
            " The arguments of one call of [`{trait_ident}::{method}`], as one value: what \
             [`{mock}::calls_to_{method}`] returns. Its JSON (`Serialize`) is the body the HTTP \
             client sends."
        );
        let fields = m.args.iter().map(|a| {
            let (i, t, rename) = (&a.ident, &a.ty, serde_rename(a));
            let doc = match &a.rename {
                Some(r) => format!(" The `{i}` argument (`{}` on the wire).", r.value()),
                None => format!(" The `{i}` argument."),
            };
            quote! { #[doc = #doc] #rename pub #i: #t }
        });
        let name = args.to_string();
        let f = names::local("f");
        quote! {
            #[doc = #doc]
            #[allow(non_camel_case_types)]
            #[derive(::core::clone::Clone, ::lfts::__private::serde::Serialize)]
            #[serde(crate = "::lfts::__private::serde")]
            #vis struct #args {
                #(#fields,)*
            }

            #[automatically_derived]
            impl ::core::fmt::Debug for #args {
                fn fmt(&self, #f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    ::lfts::__private::debug_args(#f, #name, self)
                }
            }
        }
    });
    quote! { #(#items)* }
}

pub fn wire(port: &Port, names: &Names) -> TokenStream {
    let port_name = &names.port_name;
    let items = port.methods.iter().map(|m| {
        let info = names.info(m);
        let args = names.wire_args(m);
        let name = m.ident.to_string();
        let params = m.args.iter().map(Arg::wire_name);
        let idempotent = m.idempotent;
        let http = match &m.http {
            Some(h) => {
                let verb = match h.method.to_string().as_str() {
                    "get" => quote!(Get),
                    "put" => quote!(Put),
                    "patch" => quote!(Patch),
                    "delete" => quote!(Delete),
                    _ => quote!(Post),
                };
                let path = &h.path;
                let body = match m.args.iter().find(|a| a.body.is_some()) {
                    Some(a) => {
                        let name = a.wire_name();
                        quote!(::core::option::Option::Some(#name))
                    }
                    None => quote!(::core::option::Option::None),
                };
                quote! {
                    ::core::option::Option::Some(::lfts::port::HttpMapping {
                        method: ::lfts::port::HttpMethod::#verb,
                        path: #path,
                        body: #body,
                    })
                }
            }
            None => quote!(::core::option::Option::None),
        };
        let fields = m.args.iter().map(|a| {
            let (i, t, rename) = (&a.ident, &a.ty, serde_rename(a));
            // The user's own tokens, so `derive(Schema)` reports a bad value at the attribute;
            // one attribute each, so it reports every bad value, not only the first.
            let refinements = &a.refinements;
            quote! { #rename #(#[lfts(#refinements)])* #i: #t }
        });
        quote! {
            #[allow(non_upper_case_globals)]
            static #info: ::lfts::port::MethodInfo = ::lfts::port::MethodInfo {
                port: #port_name,
                name: #name,
                params: &[#(#params),*],
                idempotent: #idempotent,
                http: #http,
            };

            #[allow(non_camel_case_types)]
            #[derive(::lfts::__private::serde::Serialize, ::lfts::__private::serde::Deserialize, ::lfts::Schema)]
            #[serde(crate = "::lfts::__private::serde", deny_unknown_fields)]
            struct #args {
                #(#fields,)*
            }
        }
    });
    quote! { #(#items)* }
}

/// `#[serde(rename = "wireName")]` for a renamed argument, on both structs: the public one's
/// JSON is documented as the body the client sends.
fn serde_rename(a: &Arg) -> Option<TokenStream> {
    a.rename.as_ref().map(|r| quote! { #[serde(rename = #r)] })
}
