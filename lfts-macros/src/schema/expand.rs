//! Code generation for `#[derive(Schema)]`.
//!
//! Input:
//! ```ignore
//! #[derive(Schema)]
//! struct User { #[lfts(email)] email: String, age: Option<u8> }
//! ```
//! Output (abridged):
//! ```ignore
//! const _: () = {
//!     impl ::lfts::Schema for User {
//!         fn describe(defs) -> Node {
//!             Defs::named::<Self>(defs, "User", |defs| object([prop("email", refine(String)), prop("age", ..)]))
//!         }
//!         fn check(&self, errors, path) { path.push_key("email"); refine_str(&self.email, Email); .. }
//!     }
//! };
//! ```
//! Everything with logic lives in `::lfts::__private`, so the generated code stays small.

use proc_macro2::{Literal, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use serde_derive_internals::ast::Style;
use serde_derive_internals::attr::TagType;

use super::ast::{Data, Field, Input, Variant};
use super::attr::{Family, Refine, RefineKind};

/// A do-nothing impl emitted after errors, so the user sees the real errors and not a cascade
/// of "`Schema` is not implemented" follow-ons.
pub fn fallback(input: &syn::DeriveInput) -> TokenStream {
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    quote! {
        const _: () = {
            #[automatically_derived]
            impl #impl_generics ::lfts::Schema for #ident #ty_generics #where_clause {
                fn describe(_: &mut ::lfts::schema::Defs) -> ::lfts::schema::Node {
                    ::lfts::schema::Node::Any
                }
            }
        };
    }
}

pub fn expand(input: &Input) -> TokenStream {
    let ident = &input.serde.ident;
    let generics = with_bounds(input.serde.generics);
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let name = ident.to_string();

    let body = describe_body(input);
    let body = match &input.docs {
        Some(docs) => quote! { ::lfts::__private::documented(#body, #name, #docs) },
        None => body,
    };
    let type_name = type_name(input, &name);
    let check = check_body(input);
    let remote = remote_error(input);

    quote! {
        const _: () = {
            #[automatically_derived]
            impl #impl_generics ::lfts::Schema for #ident #ty_generics #where_clause {
                fn describe(defs: &mut ::lfts::schema::Defs) -> ::lfts::schema::Node {
                    ::lfts::schema::Defs::named::<Self>(
                        defs,
                        <Self as ::lfts::Schema>::type_name(),
                        |defs: &mut ::lfts::schema::Defs| #body,
                    )
                }

                fn type_name() -> ::std::borrow::Cow<'static, str> {
                    #type_name
                }

                #[allow(unused_variables)]
                fn check(
                    &self,
                    errors: &mut ::lfts::ValidationErrors,
                    path: &mut ::lfts::Path,
                ) {
                    #check
                }
            }

            #remote
        };
    }
}

/// Every type parameter must itself have a schema (and be `'static`: schemas are cached per
/// `TypeId`).
fn with_bounds(generics: &syn::Generics) -> syn::Generics {
    let mut generics = generics.clone();
    let params: Vec<syn::Ident> = generics.type_params().map(|p| p.ident.clone()).collect();
    let where_clause = generics.make_where_clause();
    for param in params {
        where_clause
            .predicates
            .push(syn::parse_quote!(#param: ::lfts::Schema + 'static));
    }
    generics
}

fn type_name(input: &Input, name: &str) -> TokenStream {
    let params: Vec<&syn::Ident> = input
        .serde
        .generics
        .type_params()
        .map(|p| &p.ident)
        .collect();
    if params.is_empty() {
        return quote! { ::std::borrow::Cow::Borrowed(#name) };
    }
    quote! {
        let args: ::std::vec::Vec<::std::borrow::Cow<'static, str>> =
            ::std::vec![#(<#params as ::lfts::Schema>::type_name()),*];
        ::std::borrow::Cow::Owned(::std::format!("{}<{}>", #name, args.join(", ")))
    }
}

// ---------------------------------------------------------------------------------------------
// describe

fn describe_body(input: &Input) -> TokenStream {
    let strict = input.serde.attrs.deny_unknown_fields();
    let container_default = !input.serde.attrs.default().is_none();
    match &input.data {
        Data::Struct(style, fields) => {
            if input.serde.attrs.transparent() {
                let Some(field) = fields.iter().find(|f| f.serde.attrs.transparent()) else {
                    return quote! { ::lfts::schema::Node::Any };
                };
                let node = refined(field_node(field), &input.lfts.refinements);
                return brand(input, node);
            }
            match style {
                Style::Struct => object(fields, strict, container_default),
                Style::Tuple => tuple(fields),
                Style::Newtype => match fields.first() {
                    Some(field) => {
                        let node = refined(field_node(field), &input.lfts.refinements);
                        brand(input, node)
                    }
                    None => quote! { ::lfts::schema::Node::Null },
                },
                Style::Unit => quote! { ::lfts::schema::Node::Null },
            }
        }
        Data::Enum(variants) => enum_body(input, variants, strict),
    }
}

fn brand(input: &Input, node: TokenStream) -> TokenStream {
    let name = match &input.lfts.brand {
        Some((name, _)) => name.clone(),
        None => input.serde.ident.to_string(),
    };
    quote! { ::lfts::__private::brand(#name, #node) }
}

/// The node of a field's type with the field's refinements applied.
fn field_node(field: &Field) -> TokenStream {
    let ty = field.serde.ty;
    refined(
        quote! { <#ty as ::lfts::Schema>::describe(defs) },
        &field.lfts.refinements,
    )
}

fn refined(node: TokenStream, refinements: &[Refine]) -> TokenStream {
    let steps = refinements.iter().map(|r| match &r.kind {
        RefineKind::Pattern(source) => quote! {
            let node = {
                static PATTERN: ::lfts::__private::LazyRefinement =
                    ::lfts::__private::LazyRefinement::pattern(#source);
                ::lfts::__private::refine_pattern_node(node, &PATTERN)
            };
        },
        kind => {
            let r = refinement(kind);
            quote! { let node = ::lfts::schema::Node::refine_inner(node, #r); }
        }
    });
    quote! {{
        let node = #node;
        #(#steps)*
        node
    }}
}

/// The `::lfts::schema::Refinement` value of a (non-pattern) refinement.
fn refinement(kind: &RefineKind) -> TokenStream {
    let r = quote! { ::lfts::schema::Refinement };
    match kind {
        RefineKind::Min(v) => {
            let v = Literal::f64_suffixed(*v);
            quote! { #r::Min(#v) }
        }
        RefineKind::Max(v) => {
            let v = Literal::f64_suffixed(*v);
            quote! { #r::Max(#v) }
        }
        RefineKind::Integer => quote! { #r::Integer },
        RefineKind::MinLen(n) => quote! { #r::MinLength(#n) },
        RefineKind::MaxLen(n) => quote! { #r::MaxLength(#n) },
        RefineKind::MinItems(n) => quote! { #r::MinItems(#n) },
        RefineKind::MaxItems(n) => quote! { #r::MaxItems(#n) },
        RefineKind::Email => quote! { #r::Email },
        RefineKind::Url => quote! { #r::Url },
        RefineKind::Uuid => quote! { #r::Uuid },
        RefineKind::NonEmpty => quote! { #r::NonEmpty },
        RefineKind::Positive => quote! { #r::Positive },
        RefineKind::Negative => quote! { #r::Negative },
        // Patterns are compiled lazily through a static; see `refined`.
        RefineKind::Pattern(_) => quote! { #r::NonEmpty },
    }
}

fn object(fields: &[Field], strict: bool, container_default: bool) -> TokenStream {
    let entries = fields.iter().filter(|f| f.on_wire()).map(|f| {
        let node = field_node(f);
        if f.serde.attrs.flatten() {
            quote! { flatten.push(#node); }
        } else {
            let name = f.wire_name();
            let aliases = f.aliases();
            let has_default = container_default || !f.serde.attrs.default().is_none();
            quote! {
                properties.push(::lfts::__private::property(#name, &[#(#aliases),*], #node, #has_default));
            }
        }
    });
    quote! {{
        #[allow(unused_mut)]
        let mut properties = ::std::vec::Vec::new();
        #[allow(unused_mut)]
        let mut flatten = ::std::vec::Vec::new();
        #(#entries)*
        ::lfts::__private::object(properties, #strict, flatten, defs)
    }}
}

fn tuple(fields: &[Field]) -> TokenStream {
    let nodes = fields.iter().filter(|f| f.on_wire()).map(field_node);
    quote! { ::lfts::schema::Node::Tuple(::std::vec![#(#nodes),*]) }
}

fn variant_payload(variant: &Variant, strict: bool) -> TokenStream {
    let payload = match variant.serde.style {
        Style::Unit => return quote! { ::core::option::Option::None },
        Style::Newtype => match variant.fields.first() {
            Some(f) => field_node(f),
            None => return quote! { ::core::option::Option::None },
        },
        Style::Tuple => tuple(&variant.fields),
        Style::Struct => object(&variant.fields, strict, false),
    };
    quote! { ::core::option::Option::Some(#payload) }
}

fn enum_body(input: &Input, variants: &[Variant], strict: bool) -> TokenStream {
    let entries = variants.iter().filter(|v| v.on_wire()).map(|v| {
        let name = v.wire_name();
        let aliases = v.aliases();
        let payload = variant_payload(v, strict);
        quote! {
            variants.push(::lfts::__private::variant(#name, &[#(#aliases),*], #payload));
        }
    });
    let finish = match input.serde.attrs.tag() {
        TagType::External => quote! { ::lfts::__private::external(variants) },
        TagType::Internal { tag } => {
            quote! { ::lfts::__private::internal(#tag, #strict, variants) }
        }
        TagType::Adjacent { tag, content } => {
            quote! { ::lfts::__private::adjacent(#tag, #content, #strict, variants) }
        }
        TagType::None => quote! { ::lfts::__private::untagged(variants) },
    };
    quote! {{
        #[allow(unused_mut)]
        let mut variants = ::std::vec::Vec::new();
        #(#entries)*
        #finish
    }}
}

// ---------------------------------------------------------------------------------------------
// check

/// The refinement calls and the recursive `check` for one value (`access` is an expression of
/// type `&T`).
fn check_value(access: &TokenStream, refinements: &[Refine], recurse: bool) -> TokenStream {
    let calls = refinements.iter().map(|r| check_refinement(access, r));
    let recurse = recurse.then(|| quote! { ::lfts::Schema::check(#access, errors, path); });
    quote! { #(#calls)* #recurse }
}

fn check_refinement(access: &TokenStream, r: &Refine) -> TokenStream {
    let span = r.span;
    // The value is bound to a local spanned on the attribute, so an unmet trait bound ("email
    // on a `Vec<String>`") is reported at `#[lfts(email)]`, not at the derive.
    let value = quote_spanned! {span=> __lfts_value };
    let call = if let RefineKind::Pattern(source) = &r.kind {
        quote_spanned! {span=>
            static PATTERN: ::lfts::__private::LazyRefinement =
                ::lfts::__private::LazyRefinement::pattern(#source);
            ::lfts::__private::refine_pattern(#value, &PATTERN, errors, path);
        }
    } else {
        let refinement = refinement(&r.kind);
        match r.kind.family() {
            Family::Str => {
                quote_spanned! {span=> ::lfts::__private::refine_str(#value, &#refinement, errors, path); }
            }
            Family::Num => {
                quote_spanned! {span=> ::lfts::__private::refine_num(#value, &#refinement, errors, path); }
            }
            Family::Items => {
                quote_spanned! {span=> ::lfts::__private::refine_items(#value, &#refinement, errors, path); }
            }
            Family::NonEmpty => {
                quote_spanned! {span=> ::lfts::__private::refine_non_empty(#value, errors, path); }
            }
        }
    };
    quote_spanned! {span=> {
        let #value = #access;
        #call
    }}
}

/// Where a field sits relative to its parent on the wire.
enum Step<'a> {
    Key(&'a str),
    Index(usize),
    Same,
}

fn at(step: Step, inner: TokenStream) -> TokenStream {
    match step {
        Step::Key(key) => quote! { path.push_key(#key); #inner path.pop(); },
        Step::Index(i) => quote! { path.push_index(#i); #inner path.pop(); },
        Step::Same => inner,
    }
}

/// Checks for the fields of a struct or variant; `access(i, field)` yields a `&T` expression.
fn check_fields(
    style: Style,
    fields: &[Field],
    access: impl Fn(usize, &Field) -> TokenStream,
) -> TokenStream {
    let mut wire_index = 0usize;
    let mut out = TokenStream::new();
    for (i, f) in fields.iter().enumerate() {
        if !f.on_wire() {
            continue;
        }
        let step = match style {
            Style::Struct if f.serde.attrs.flatten() => Step::Same,
            Style::Struct => Step::Key(f.wire_name()),
            Style::Tuple => Step::Index(wire_index),
            Style::Newtype | Style::Unit => Step::Same,
        };
        wire_index += 1;
        let value = access(i, f);
        out.extend(at(step, check_value(&value, &f.lfts.refinements, true)));
    }
    out
}

fn check_body(input: &Input) -> TokenStream {
    match &input.data {
        Data::Struct(style, fields) => {
            let style = if input.serde.attrs.transparent() {
                Style::Newtype
            } else {
                *style
            };
            let access = |_: usize, f: &Field| {
                let member = &f.serde.member;
                quote! { &self.#member }
            };
            let container = match (style, fields.iter().find(|f| f.on_wire())) {
                (Style::Newtype, Some(f)) => {
                    check_value(&access(0, f), &input.lfts.refinements, false)
                }
                _ => TokenStream::new(),
            };
            let fields = check_fields(style, fields, access);
            quote! { #container #fields }
        }
        Data::Enum(variants) => {
            let tag = input.serde.attrs.tag();
            let arms = variants.iter().filter(|v| v.on_wire()).map(|v| {
                let ident = &v.serde.ident;
                let bindings: Vec<syn::Ident> = (0..v.fields.len())
                    .map(|i| format_ident!("__lfts_f{}", i))
                    .collect();
                let members = v.fields.iter().map(|f| &f.serde.member);
                let pattern = quote! { Self::#ident { #(#members: #bindings,)* .. } };
                let fields = check_fields(v.serde.style, &v.fields, |i, _| {
                    let b = &bindings[i];
                    quote! { #b }
                });
                let body = match (tag, v.serde.style) {
                    (_, Style::Unit) => TokenStream::new(),
                    (TagType::External, _) => at(Step::Key(v.wire_name()), fields),
                    (TagType::Adjacent { content, .. }, _) => at(Step::Key(content), fields),
                    _ => fields,
                };
                quote! { #pattern => { #body } }
            });
            quote! {
                #[allow(unreachable_patterns)]
                match self {
                    #(#arms)*
                    _ => {}
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// RemoteError

/// For an error enum with a `#[lfts(network)]` variant: `From<NetworkError>` and
/// `lfts::RemoteError`, with the statuses set by `#[lfts(status = ...)]`.
fn remote_error(input: &Input) -> TokenStream {
    let Data::Enum(variants) = &input.data else {
        return TokenStream::new();
    };
    let Some(network) = variants.iter().find(|v| v.lfts.network.is_some()) else {
        return TokenStream::new();
    };
    let ident = &input.serde.ident;
    let net = &network.serde.ident;
    // `Network(NetworkError)` or `Network { error: NetworkError }`: one field either way.
    let Some(field) = network.fields.first() else {
        return TokenStream::new();
    };
    let member = &field.serde.member;
    let statuses = variants.iter().filter_map(|v| {
        let (status, _) = v.lfts.status?;
        let vi = &v.serde.ident;
        Some(quote! { Self::#vi { .. } => #status, })
    });
    let mut seen = Vec::new();
    let from_status = variants.iter().filter_map(|v| {
        let (status, _) = v.lfts.status?;
        if !matches!(v.serde.style, Style::Unit) || seen.contains(&status) {
            return None;
        }
        seen.push(status);
        let vi = &v.serde.ident;
        Some(quote! { #status => ::core::option::Option::Some(Self::#vi), })
    });
    // Variants with fields and a status: the body of a bare-status answer may supply them.
    let from_body = variants.iter().filter_map(|v| {
        let (status, _) = v.lfts.status?;
        if matches!(v.serde.style, Style::Unit) || v.lfts.network.is_some() {
            return None;
        }
        let name = v.wire_name();
        Some(quote! {
            if status == #status
                && let ::core::option::Option::Some(error) =
                    ::lfts::__private::variant_from_body::<Self>(#name, body)
            {
                return ::core::option::Option::Some(error);
            }
        })
    });
    let span = Span::call_site();
    quote_spanned! {span=>
        #[automatically_derived]
        impl ::core::convert::From<::lfts::NetworkError> for #ident {
            fn from(error: ::lfts::NetworkError) -> Self {
                Self::#net { #member: error }
            }
        }

        #[automatically_derived]
        impl ::lfts::RemoteError for #ident {
            fn network(&self) -> ::core::option::Option<&::lfts::NetworkError> {
                #[allow(unreachable_patterns)]
                match self {
                    Self::#net { #member: error } => ::core::option::Option::Some(error),
                    _ => ::core::option::Option::None,
                }
            }

            fn status(&self) -> u16 {
                #[allow(unreachable_patterns)]
                match self {
                    Self::#net { #member: error } => <::lfts::NetworkError as ::lfts::RemoteError>::status(error),
                    #(#statuses)*
                    _ => 422,
                }
            }

            fn from_status(status: u16) -> ::core::option::Option<Self> {
                match status {
                    #(#from_status)*
                    _ => ::core::option::Option::None,
                }
            }

            fn from_status_body(
                status: u16,
                body: &::lfts::__private::serde_json::Value,
            ) -> ::core::option::Option<Self> {
                #(#from_body)*
                <Self as ::lfts::RemoteError>::from_status(status)
            }
        }
    }
}
