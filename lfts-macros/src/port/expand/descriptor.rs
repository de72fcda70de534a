//! The port descriptor, built once and shared by the client, the server and the mock
//! (`lfts::Port::descriptor`).

use proc_macro2::TokenStream;
use quote::quote;

use crate::port::ast::Port;
use crate::port::names::Names;

pub fn expand(port: &Port, names: &Names) -> TokenStream {
    let (port_name, f) = (&names.port_name, names.descriptor_fn());
    let methods = port.methods.iter().map(|m| {
        let (info, args, ok, err) = (names.info(m), names.wire_args(m), &m.ok, &m.err);
        quote! { .method::<#args, #ok, #err>(&#info) }
    });
    quote! {
        fn #f() -> &'static ::lfts::port::PortDescriptor {
            static __LFTS_DESCRIPTOR: ::std::sync::OnceLock<::lfts::port::PortDescriptor> =
                ::std::sync::OnceLock::new();
            __LFTS_DESCRIPTOR.get_or_init(|| {
                ::lfts::port::PortDescriptor::builder(#port_name)
                    #(#methods)*
                    .build()
            })
        }
    }
}

/// `impl lfts::Port for {ty}`, with `generics` (`<…>` or nothing).
pub fn port_impl(names: &Names, ty: TokenStream, generics: TokenStream) -> TokenStream {
    let (port_name, f) = (&names.port_name, names.descriptor_fn());
    quote! {
        #[automatically_derived]
        impl #generics ::lfts::port::Port for #ty {
            const NAME: &'static str = #port_name;
            fn descriptor() -> &'static ::lfts::port::PortDescriptor {
                #f()
            }
        }
    }
}
