//! Code generation for `#[port]`: one file per generated item, joined here.
//!
//! Input:
//! ```ignore
//! #[port]
//! pub trait UserService: Send + Sync {
//!     async fn get_user(&self, id: UserId) -> Result<User, GetUserError>;
//! }
//! ```
//! Output (abridged):
//! ```text
//! pub trait UserService: Send + Sync {
//!     fn get_user(&self, id: UserId) -> impl Future<Output = Result<User, GetUserError>> + Send;
//! }
//! pub struct UserServiceGetUserArgs { pub id: UserId }   // typed record of a mock call
//! pub struct UserServiceClient { … }
//! pub struct UserServiceServer<__LftsS> { … }
//! pub struct MockUserService { … }
//! pub trait DynUserService: Send + Sync { … }
//! const _: () = {
//!     static __LFTS_get_user: MethodInfo = …;
//!     struct __UserServiceGetUserArgs { id: UserId }       // the wire arguments
//!     fn __lfts_descriptor() -> &'static PortDescriptor { … }
//!     impl UserService for UserServiceClient where for<'__lfts> GetUserError: RemoteError { … }
//!     impl<__LftsP: UserService, __LftsL: Layer> UserService for Layered<__LftsP, __LftsL> … { … }
//!     // … the server, mock and dyn impls, and the compile-time checks
//! };
//! ```

mod args;
mod assertions;
pub mod client;
mod descriptor;
mod dyn_form;
pub mod fallback;
pub mod layered;
pub mod mock;
pub mod server;
mod the_trait;

use proc_macro2::TokenStream;
use quote::quote;

use super::ast::{Method, Port};
use super::names::{self, Names};

pub fn expand(port: &Port) -> TokenStream {
    let names = Names::new(port);
    let public = [
        the_trait::expand(port, &names),
        args::public(port, &names),
        client::item(&names),
        server::item(&names),
        mock::item(port, &names),
        dyn_form::item(port, &names),
    ];
    let hidden = [
        args::wire(port, &names),
        descriptor::expand(port, &names),
        client::impls(port, &names),
        server::impls(port, &names),
        mock::impls(port, &names),
        layered::expand(port, &names),
        fallback::expand(port, &names),
        dyn_form::impls(port, &names),
        assertions::expand(port),
    ];
    quote! {
        #(#public)*
        const _: () = {
            #(#hidden)*
        };
    }
}

/// `fn m(&self, a: A) -> impl Future<Output = Result<T, E>> + Send`, a method as every
/// implementation writes it.
fn signature(m: &Method) -> TokenStream {
    let ident = &m.ident;
    let args = typed_args(m);
    let (ok, err) = (&m.ok, &m.err);
    quote! {
        fn #ident(&self, #(#args),*) -> impl ::core::future::Future<
            Output = ::core::result::Result<#ok, #err>,
        > + ::core::marker::Send
    }
}

/// `a: A, b: B`.
fn typed_args(m: &Method) -> impl Iterator<Item = TokenStream> + '_ {
    m.args.iter().map(|a| {
        let (i, t) = (&a.ident, &a.ty);
        quote! { #i: #t }
    })
}

fn arg_idents(m: &Method) -> Vec<&syn::Ident> {
    m.args.iter().map(|a| &a.ident).collect()
}

/// `for<'__lfts> E: ::lfts::RemoteError` for each error type of the port, for the impls whose
/// bodies need it (client, server, layered).
///
/// The bound has a bound lifetime, so the compiler does not check it where the impl is written
/// (as it would `E: RemoteError` alone) but where the impl is used. An error type without
/// `#[lfts(network)]` is then reported once, by the check in `assertions`, instead of once per
/// generated impl (issue "A trustworthy boundary", item 14). For a correct error type the
/// bound always holds.
fn remote_error_bounds(port: &Port) -> TokenStream {
    let lt = names::lifetime();
    let mut seen = Vec::new();
    let bounds = port.methods.iter().filter_map(|m| {
        let err = &m.err;
        let key = quote!(#err).to_string();
        if seen.contains(&key) {
            return None;
        }
        seen.push(key);
        Some(quote! { for<#lt> #err: ::lfts::RemoteError })
    });
    quote! { #(#bounds,)* }
}
