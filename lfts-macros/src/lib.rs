//! Procedural macros for [lfts](https://docs.rs/lfts): `#[derive(Schema)]` and `#[port]`.
//!
//! Use them through the `lfts` crate, which re-exports both; the generated code refers to
//! `::lfts` paths only.

mod ctxt;
mod port;
mod schema;

use proc_macro::TokenStream;

/// Derives `lfts::Schema`: the schema of the type's serde wire format, and `check` for its
/// `#[lfts(...)]` refinements. See the `lfts` crate docs.
#[proc_macro_derive(Schema, attributes(lfts))]
pub fn derive_schema(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    schema::derive(&input).into()
}

/// Turns an async trait into a port: the trait with `Send` futures, an HTTP client
/// (`{Trait}Client`), a server (`{Trait}Server`), a mock (`Mock{Trait}`: behaviours,
/// expectations, a typed call log; an unexpected call panics), one `{Trait}{Method}Args` struct
/// per method (the typed arguments the mock records), a dyn-compatible form (`Dyn{Trait}`),
/// `impl {Trait} for lfts::Layered<P, L>` and the port descriptor. Names starting with `__lfts`
/// are reserved for the generated code. See the `lfts` crate docs and `lfts::mock`.
#[proc_macro_attribute]
pub fn port(args: TokenStream, item: TokenStream) -> TokenStream {
    port::port(args.into(), item.into()).into()
}
