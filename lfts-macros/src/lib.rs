//! Procedural macros for lfts. Use them through the `lfts` crate.
use proc_macro::TokenStream;

/// Derives `lfts::Schema`.
#[proc_macro_derive(Schema, attributes(lfts))]
pub fn derive_schema(input: TokenStream) -> TokenStream {
    let _ = input;
    TokenStream::new()
}
