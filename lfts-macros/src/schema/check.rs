//! The rules a derive input must follow. Each rule is one function; all of them run, so every
//! problem is reported in one compile.

use proc_macro2::Span;
use quote::ToTokens;
use serde_derive_internals::ast::Style;
use serde_derive_internals::attr::Identifier;
use syn::spanned::Spanned;

use super::ast::{Data, Field, Input, Variant};
use super::attr::Family;
use crate::ctxt::Ctxt;

pub fn check(cx: &Ctxt, input: &Input) {
    check_generics(cx, input);
    check_container_serde(cx, input);
    check_container_lfts(cx, input);
    match &input.data {
        Data::Struct(_, fields) => {
            for field in fields {
                check_field(cx, field);
            }
        }
        Data::Enum(variants) => {
            check_network_variants(cx, input, variants);
            for variant in variants {
                check_variant(cx, variant);
                for field in &variant.fields {
                    check_field(cx, field);
                }
            }
        }
    }
}

/// Finds the span of `key` inside the item's `#[serde(...)]` attributes, so a message about
/// a serde attribute points at it. Falls back to `fallback`.
fn serde_key(attrs: &[syn::Attribute], key: &str) -> Option<Span> {
    let mut found = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let _ = attr.parse_nested_meta(|meta| {
            if found.is_none() && meta.path.is_ident(key) {
                found = Some(meta.path.span());
            }
            // Consume whatever value follows, so parsing goes on to the next key.
            if meta.input.peek(syn::Token![=]) {
                let _: syn::Expr = meta.value()?.parse()?;
            } else if meta.input.peek(syn::token::Paren) {
                let _ = meta.parse_nested_meta(|inner| {
                    if inner.input.peek(syn::Token![=]) {
                        let _: syn::Expr = inner.value()?.parse()?;
                    }
                    Ok(())
                });
            }
            Ok(())
        });
    }
    found
}

fn serde_key_span(attrs: &[syn::Attribute], key: &str, fallback: Span) -> Span {
    serde_key(attrs, key).unwrap_or(fallback)
}

/// Reports `serialize_with` / `deserialize_with` / `with` (which sets both) once each.
///
/// Only keys written in the source count: serde also sets `deserialize_with` itself for
/// `#[serde(borrow)]` on a `Cow<str>`, whose wire format is a plain string.
fn check_custom_with(cx: &Ctxt, orig: &[syn::Attribute], ser: bool, de: bool, what: &str) {
    let advice = "hand-written code decides its wire format; move that code into a newtype that \
                  implements Serialize, Deserialize and lfts::Schema";
    if let Some(with) = serde_key(orig, "with") {
        cx.error(
            with,
            format!("lfts cannot describe #[serde(with = ...)] on a {what}: {advice}"),
        );
        return;
    }
    for (key, present) in [("serialize_with", ser), ("deserialize_with", de)] {
        if let (true, Some(span)) = (present, serde_key(orig, key)) {
            cx.error(
                span,
                format!("lfts cannot describe #[serde({key} = ...)] on a {what}: {advice}"),
            );
        }
    }
}

/// Schemas are cached per type with `TypeId`, which needs `'static` types; a type that borrows
/// cannot be `DeserializeOwned` anyway.
fn check_generics(cx: &Ctxt, input: &Input) {
    if let Some(lt) = input.serde.generics.lifetimes().next() {
        cx.error_spanned(
            lt,
            "#[derive(Schema)] does not support lifetime parameters: lfts validates owned \
             (`DeserializeOwned`) types; use owned fields such as `String` instead of `&'a str`",
        );
    }
}

/// Container-level serde attributes that change the wire format in ways a schema of this
/// type cannot see (the format is another type's, or hand-written code decides it).
fn check_container_serde(cx: &Ctxt, input: &Input) {
    let attrs = &input.serde.attrs;
    let orig = &input.serde.original.attrs;
    let ident = input.serde.ident.span();
    let unsupported: [(&str, bool, &str); 5] = [
        (
            "from",
            attrs.type_from().is_some(),
            "the wire format is that of the `from` type",
        ),
        (
            "try_from",
            attrs.type_try_from().is_some(),
            "the wire format is that of the `try_from` type",
        ),
        (
            "into",
            attrs.type_into().is_some(),
            "the wire format is that of the `into` type",
        ),
        (
            "remote",
            attrs.remote().is_some(),
            "the wire format is described by another type",
        ),
        (
            "variant_identifier",
            !matches!(attrs.identifier(), Identifier::No),
            "identifier enums are deserializer internals",
        ),
    ];
    for (key, present, why) in unsupported {
        if present {
            let key =
                if key == "variant_identifier" && matches!(attrs.identifier(), Identifier::Field) {
                    "field_identifier"
                } else {
                    key
                };
            let syntax = if key.ends_with("identifier") {
                key.to_owned()
            } else {
                format!("{key} = ...")
            };
            cx.error(
                serde_key_span(orig, key, ident),
                format!("lfts cannot describe #[serde({syntax})]: {why}; derive Schema on a type without it"),
            );
        }
    }
}

/// `#[lfts]` on the container: refinements and brands belong on newtypes; `network` and
/// `status` belong on variants.
fn check_container_lfts(cx: &Ctxt, input: &Input) {
    let lfts = &input.lfts;
    let is_newtype = matches!(&input.data, Data::Struct(Style::Newtype, _))
        || (input.serde.attrs.transparent() && matches!(input.data, Data::Struct(..)));
    if !is_newtype {
        for r in &lfts.refinements {
            cx.error(
                r.span,
                format!(
                    "#[lfts({})] on a type applies to newtypes such as `struct Email(String)`; \
                     put it on a field instead",
                    r.kind.key()
                ),
            );
        }
        if let Some((_, span)) = &lfts.brand {
            cx.error(
                *span,
                "#[lfts(brand = ...)] applies to newtypes such as `struct UserId(String)`",
            );
        }
    }
    if let Some(span) = lfts.network {
        cx.error(
            span,
            "#[lfts(network)] goes on the enum variant that wraps `lfts::NetworkError`",
        );
    }
    if let Some((_, span)) = lfts.status {
        cx.error(span, "#[lfts(status = ...)] goes on an error-enum variant");
    }
    if let Data::Struct(Style::Newtype, fields) = &input.data
        && let Some(field) = fields.first()
    {
        check_refinement_types(cx, &lfts.refinements, field.serde.ty);
    }
}

fn check_variant(cx: &Ctxt, variant: &Variant) {
    let attrs = &variant.serde.attrs;
    let orig = &variant.serde.original.attrs;
    let span = variant.serde.ident.span();
    // A variant serialized under one name and read under another has two wire formats.
    if attrs.name().serialize_name() != attrs.name().deserialize_name() {
        cx.error(
            serde_key_span(orig, "rename", span),
            "lfts cannot describe a variant renamed differently for serialize and deserialize: \
             its wire format would depend on the direction; use one name, #[serde(rename = \"...\")]",
        );
    }
    for (key, present) in [("other", attrs.other()), ("untagged", attrs.untagged())] {
        if present {
            cx.error(
                serde_key_span(orig, key, span),
                format!(
                    "lfts does not support #[serde({key})] on a variant yet; remove it to derive \
                     Schema, or implement `lfts::Schema` by hand"
                ),
            );
        }
    }
    check_custom_with(
        cx,
        orig,
        attrs.serialize_with().is_some(),
        attrs.deserialize_with().is_some(),
        "variant",
    );
    for r in &variant.lfts.refinements {
        cx.error(
            r.span,
            format!(
                "#[lfts({})] goes on a field, not on a variant",
                r.kind.key()
            ),
        );
    }
    if let Some((_, span)) = &variant.lfts.brand {
        cx.error(
            *span,
            "#[lfts(brand = ...)] applies to newtype structs, not variants",
        );
    }
    if variant.lfts.network.is_some()
        && (variant.fields.len() != 1 || matches!(variant.serde.style, Style::Unit))
    {
        cx.error(
            variant.serde.ident.span(),
            "#[lfts(network)] goes on a variant with one field holding `lfts::NetworkError`, such as \
             `Network(NetworkError)` or `Network { error: NetworkError }`",
        );
    }
}

/// At most one variant carries network errors, and `status` needs a `RemoteError` impl.
fn check_network_variants(cx: &Ctxt, input: &Input, variants: &[Variant]) {
    let network: Vec<&Variant> = variants
        .iter()
        .filter(|v| v.lfts.network.is_some())
        .collect();
    for extra in network.iter().skip(1) {
        if let Some(span) = extra.lfts.network {
            cx.error(span, "only one variant can be #[lfts(network)]");
        }
    }
    if network.is_empty() {
        for v in variants {
            if let Some((_, span)) = v.lfts.status {
                cx.error(
                    span,
                    "#[lfts(status = ...)] sets the HTTP status of a port error; mark the variant \
                     that wraps `lfts::NetworkError` with #[lfts(network)] so the enum is a `RemoteError`",
                );
            }
        }
    }
    // `NetworkError` is itself tagged by `type`; an internally tagged enum using the same key
    // would write `{"type": "network", "type": "timeout", ...}`, which nothing can read back.
    if let (Some(v), serde_derive_internals::attr::TagType::Internal { tag }) =
        (network.first(), input.serde.attrs.tag())
        && tag == "type"
        && matches!(v.serde.style, Style::Newtype)
        && let Some(span) = v.lfts.network
    {
        cx.error(
            span,
            "`NetworkError` is tagged by \"type\" too: as a newtype variant of an enum with \
             #[serde(tag = \"type\")] both tags would collide on the wire; hold it in a field \
             instead, as in `Network { error: NetworkError }`",
        );
    }
    if !network.is_empty() && !input.serde.generics.params.is_empty() {
        cx.error_spanned(
            input.serde.generics,
            "#[lfts(network)] error enums cannot be generic; use concrete types in the variants",
        );
    }
}

fn check_field(cx: &Ctxt, field: &Field) {
    let attrs = &field.serde.attrs;
    let orig = &field.serde.original.attrs;
    let span = field.serde.original.span();
    if attrs.name().serialize_name() != attrs.name().deserialize_name() {
        cx.error(
            serde_key_span(orig, "rename", span),
            "lfts cannot describe a field renamed differently for serialize and deserialize: \
             its wire format would depend on the direction; use one name, #[serde(rename = \"...\")]",
        );
    }
    check_custom_with(
        cx,
        orig,
        attrs.serialize_with().is_some(),
        attrs.deserialize_with().is_some(),
        "field",
    );
    // `#[serde(getter = ...)]` needs `#[serde(remote = ...)]`, which is refused on the
    // container already; a second error for the getter would only repeat it.
    if let Some((_, span)) = &field.lfts.brand {
        cx.error(
            *span,
            "#[lfts(brand = ...)] goes on a newtype struct, not on a field",
        );
    }
    if let Some(span) = field.lfts.network {
        cx.error(
            span,
            "#[lfts(network)] goes on an enum variant, not on a field",
        );
    }
    if let Some((_, span)) = field.lfts.status {
        cx.error(
            span,
            "#[lfts(status = ...)] goes on an enum variant, not on a field",
        );
    }
    if attrs.flatten() && !field.lfts.refinements.is_empty() {
        cx.error(
            field.lfts.refinements[0].span,
            "refinements cannot apply to a #[serde(flatten)] field; refine the fields of the flattened type",
        );
    }
    if !field.on_wire() && !field.lfts.refinements.is_empty() {
        cx.error(
            field.lfts.refinements[0].span,
            "this field is skipped by serde, so it is never on the wire: its refinements would \
             never run; remove the #[lfts(...)] attribute",
        );
    }
    check_refinement_types(cx, &field.lfts.refinements, field.serde.ty);
}

/// The obvious mismatches, reported with a clear message: a string refinement on a numeric
/// primitive or a number refinement on `String`. Everything subtler is caught by the trait
/// bound of the generated call, which also points at the attribute.
fn check_refinement_types(cx: &Ctxt, refinements: &[super::attr::Refine], ty: &syn::Type) {
    let Some(name) = last_ident(ty) else { return };
    let numeric = matches!(
        name.as_str(),
        "u8" | "u16"
            | "u32"
            | "u64"
            | "u128"
            | "usize"
            | "i8"
            | "i16"
            | "i32"
            | "i64"
            | "i128"
            | "isize"
            | "f32"
            | "f64"
    );
    let string = matches!(name.as_str(), "String" | "str");
    for r in refinements {
        let family = r.kind.family();
        if numeric && matches!(family, Family::Str | Family::Items | Family::NonEmpty) {
            cx.error(
                r.span,
                format!(
                    "#[lfts({})] applies to strings or collections, but this is `{name}`",
                    r.kind.key()
                ),
            );
        } else if (string || name == "bool") && family == Family::Num {
            cx.error(
                r.span,
                format!(
                    "#[lfts({})] applies to numbers, but this is `{name}`",
                    r.kind.key()
                ),
            );
        } else if (string || name == "bool") && family == Family::Items {
            cx.error(
                r.span,
                format!(
                    "#[lfts({})] applies to collections, but this is `{name}`",
                    r.kind.key()
                ),
            );
        }
    }
}

fn last_ident(ty: &syn::Type) -> Option<String> {
    match ty {
        syn::Type::Path(p) if p.qself.is_none() => {
            let seg = p.path.segments.last()?;
            seg.arguments.is_none().then(|| seg.ident.to_string())
        }
        syn::Type::Reference(r) => last_ident(&r.elem),
        syn::Type::Group(g) => last_ident(&g.elem),
        syn::Type::Paren(p) => last_ident(&p.elem),
        _ => None,
    }
    .filter(|_| ty.to_token_stream().to_string() != "Self")
}
