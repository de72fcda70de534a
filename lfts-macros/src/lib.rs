//! Procedural macros for [lfts](https://docs.rs/lfts): `#[derive(Schema)]` and `#[port]`.
//!
//! Use them through the `lfts` crate, which re-exports both; the generated code refers to
//! `::lfts` paths only.

mod ctxt;
mod schema;

use proc_macro::TokenStream;

/// Derives `lfts::Schema`: the schema of the type's serde wire format, and `check` for its
/// `#[lfts(...)]` refinements. See the `lfts` crate docs.
#[proc_macro_derive(Schema, attributes(lfts))]
pub fn derive_schema(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    schema::derive(&input).into()
}
