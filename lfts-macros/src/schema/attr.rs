//! `#[lfts(...)]` attributes, parsed into typed values.
//!
//! serde's own attributes are read by `serde_derive_internals`; this file handles only the
//! `lfts` namespace: refinements, brands, and the error-type markers used by ports.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, ExprLit, ExprUnary, Lit, LitStr, UnOp};

use crate::ctxt::Ctxt;

/// Which Rust values a refinement applies to; picks the `__private::refine_*` helper whose
/// trait bound turns "email on an integer" into a compile error at the attribute.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Family {
    Str,
    Num,
    Items,
    NonEmpty,
}

/// One refinement, with the span of the attribute that asked for it.
#[derive(Clone)]
pub struct Refine {
    pub kind: RefineKind,
    pub span: Span,
}

#[derive(Clone)]
pub enum RefineKind {
    Min(f64),
    Max(f64),
    Integer,
    MinLen(u64),
    MaxLen(u64),
    MinItems(u64),
    MaxItems(u64),
    Email,
    Url,
    Uuid,
    Pattern(String),
    NonEmpty,
    Positive,
    Negative,
}

impl RefineKind {
    pub fn family(&self) -> Family {
        match self {
            RefineKind::Min(_)
            | RefineKind::Max(_)
            | RefineKind::Integer
            | RefineKind::Positive
            | RefineKind::Negative => Family::Num,
            RefineKind::MinLen(_)
            | RefineKind::MaxLen(_)
            | RefineKind::Email
            | RefineKind::Url
            | RefineKind::Uuid
            | RefineKind::Pattern(_) => Family::Str,
            RefineKind::MinItems(_) | RefineKind::MaxItems(_) => Family::Items,
            RefineKind::NonEmpty => Family::NonEmpty,
        }
    }

    /// The attribute key, for messages.
    pub fn key(&self) -> &'static str {
        match self {
            RefineKind::Min(_) => "min",
            RefineKind::Max(_) => "max",
            RefineKind::Integer => "integer",
            RefineKind::MinLen(_) => "min_len",
            RefineKind::MaxLen(_) => "max_len",
            RefineKind::MinItems(_) => "min_items",
            RefineKind::MaxItems(_) => "max_items",
            RefineKind::Email => "email",
            RefineKind::Url => "url",
            RefineKind::Uuid => "uuid",
            RefineKind::Pattern(_) => "pattern",
            RefineKind::NonEmpty => "non_empty",
            RefineKind::Positive => "positive",
            RefineKind::Negative => "negative",
        }
    }
}

/// The `#[lfts(...)]` attributes of one item (container, variant or field).
#[derive(Default)]
pub struct Attrs {
    pub refinements: Vec<Refine>,
    /// `#[lfts(brand = "UserId")]` on a newtype.
    pub brand: Option<(String, Span)>,
    /// `#[lfts(network)]` on an error-enum variant that wraps `NetworkError`.
    pub network: Option<Span>,
    /// `#[lfts(status = 409)]` on an error-enum variant.
    pub status: Option<(u16, Span)>,
}

impl Attrs {
    /// Parses every `#[lfts(...)]` in `attrs`, reporting each malformed key to `cx`.
    pub fn parse(cx: &Ctxt, attrs: &[Attribute]) -> Attrs {
        let mut out = Attrs::default();
        for attr in attrs.iter().filter(|a| a.path().is_ident("lfts")) {
            let result = attr.parse_nested_meta(|meta| {
                let span = meta.path.span();
                let Some(ident) = meta.path.get_ident() else {
                    return Err(meta.error("expected an lfts attribute key"));
                };
                let key = ident.to_string();
                let mut push = |kind| out.refinements.push(Refine { kind, span });
                match key.as_str() {
                    // #[lfts(email)], #[lfts(url)], #[lfts(uuid)], #[lfts(non_empty)],
                    // #[lfts(positive)], #[lfts(negative)], #[lfts(integer)]
                    "email" => push(RefineKind::Email),
                    "url" => push(RefineKind::Url),
                    "uuid" => push(RefineKind::Uuid),
                    "non_empty" => push(RefineKind::NonEmpty),
                    "positive" => push(RefineKind::Positive),
                    "negative" => push(RefineKind::Negative),
                    "integer" => push(RefineKind::Integer),
                    // #[lfts(min = 0)], #[lfts(max = 1.5)], #[lfts(min = -3)]
                    "min" => push(RefineKind::Min(number(&meta.value()?.parse()?, "min")?)),
                    "max" => push(RefineKind::Max(number(&meta.value()?.parse()?, "max")?)),
                    // #[lfts(min_len = 1)], #[lfts(max_len = 100)]
                    "min_len" => push(RefineKind::MinLen(count(&meta.value()?.parse()?, "min_len")?)),
                    "max_len" => push(RefineKind::MaxLen(count(&meta.value()?.parse()?, "max_len")?)),
                    // #[lfts(min_items = 1)], #[lfts(max_items = 10)]
                    "min_items" => {
                        push(RefineKind::MinItems(count(&meta.value()?.parse()?, "min_items")?))
                    }
                    "max_items" => {
                        push(RefineKind::MaxItems(count(&meta.value()?.parse()?, "max_items")?))
                    }
                    // #[lfts(pattern = "^[a-z]+$")]
                    "pattern" => {
                        let lit: LitStr = meta.value()?.parse().map_err(|_| {
                            meta.error("expected a string: #[lfts(pattern = \"^[a-z]+$\")]")
                        })?;
                        let source = lit.value();
                        if let Err(e) = regex_syntax::Parser::new().parse(&source) {
                            return Err(syn::Error::new(
                                lit.span(),
                                format!("invalid regular expression in #[lfts(pattern)]: {e}"),
                            ));
                        }
                        push(RefineKind::Pattern(source));
                    }
                    // #[lfts(brand = "UserId")]
                    "brand" => {
                        let lit: LitStr = meta.value()?.parse().map_err(|_| {
                            meta.error("expected a string: #[lfts(brand = \"UserId\")]")
                        })?;
                        if lit.value().is_empty() {
                            return Err(syn::Error::new(lit.span(), "a brand name cannot be empty"));
                        }
                        out.brand = Some((lit.value(), lit.span()));
                    }
                    // #[lfts(network)]
                    "network" => out.network = Some(span),
                    // #[lfts(status = 409)]
                    "status" => {
                        let expr: Expr = meta.value()?.parse()?;
                        let status = match &expr {
                            Expr::Lit(ExprLit { lit: Lit::Int(i), .. }) => i.base10_parse::<u16>().ok(),
                            _ => None,
                        };
                        match status {
                            Some(s) if (400..=599).contains(&s) => out.status = Some((s, expr.span())),
                            _ => {
                                return Err(syn::Error::new(
                                    expr.span(),
                                    "#[lfts(status = ...)] takes an HTTP error status from 400 to 599",
                                ));
                            }
                        }
                    }
                    _ => {
                        return Err(meta.error(format!(
                            "unknown lfts attribute `{key}`; expected one of: email, url, uuid, \
                             pattern, min_len, max_len, min, max, integer, positive, negative, \
                             non_empty, min_items, max_items, brand, network, status"
                        )));
                    }
                }
                Ok(())
            });
            if let Err(e) = result {
                cx.syn_error(e);
            }
        }
        out.check_ranges(cx);
        out
    }

    /// `min > max`, `min_len > max_len` and `min_items > max_items` can accept nothing.
    fn check_ranges(&self, cx: &Ctxt) {
        let find = |f: &dyn Fn(&RefineKind) -> Option<f64>| {
            self.refinements
                .iter()
                .find_map(|r| f(&r.kind).map(|v| (v, r.span)))
        };
        type Bound = Option<(f64, Span)>;
        let pairs: [(&str, &str, Bound, Bound); 3] = [
            (
                "min",
                "max",
                find(&|k| {
                    if let RefineKind::Min(v) = k {
                        Some(*v)
                    } else {
                        None
                    }
                }),
                find(&|k| {
                    if let RefineKind::Max(v) = k {
                        Some(*v)
                    } else {
                        None
                    }
                }),
            ),
            (
                "min_len",
                "max_len",
                find(&|k| {
                    if let RefineKind::MinLen(v) = k {
                        Some(*v as f64)
                    } else {
                        None
                    }
                }),
                find(&|k| {
                    if let RefineKind::MaxLen(v) = k {
                        Some(*v as f64)
                    } else {
                        None
                    }
                }),
            ),
            (
                "min_items",
                "max_items",
                find(&|k| {
                    if let RefineKind::MinItems(v) = k {
                        Some(*v as f64)
                    } else {
                        None
                    }
                }),
                find(&|k| {
                    if let RefineKind::MaxItems(v) = k {
                        Some(*v as f64)
                    } else {
                        None
                    }
                }),
            ),
        ];
        for (lo_key, hi_key, lo, hi) in pairs {
            if let (Some((lo, span)), Some((hi, _))) = (lo, hi)
                && lo > hi
            {
                cx.error(
                    span,
                    format!("#[lfts({lo_key} = {lo})] is greater than #[lfts({hi_key} = {hi})]: no value can satisfy both"),
                );
            }
        }
    }
}

/// A numeric literal, possibly negated: `0`, `-3`, `1.5`.
fn number(expr: &Expr, key: &str) -> syn::Result<f64> {
    let (negative, inner) = match expr {
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr,
            ..
        }) => (true, &**expr),
        other => (false, other),
    };
    let value = match inner {
        Expr::Lit(ExprLit {
            lit: Lit::Int(i), ..
        }) => i.base10_parse::<f64>().ok(),
        Expr::Lit(ExprLit {
            lit: Lit::Float(f), ..
        }) => f.base10_parse::<f64>().ok(),
        _ => None,
    };
    match value {
        Some(v) if v.is_finite() => Ok(if negative { -v } else { v }),
        _ => Err(syn::Error::new(
            expr.span(),
            format!("#[lfts({key} = ...)] takes a number, such as #[lfts({key} = 0)]"),
        )),
    }
}

/// A non-negative integer literal.
fn count(expr: &Expr, key: &str) -> syn::Result<u64> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Int(i), ..
        }) => i.base10_parse::<u64>(),
        _ => Err(syn::Error::new(
            expr.span(),
            format!(
                "#[lfts({key} = ...)] takes a non-negative integer, such as #[lfts({key} = 1)]"
            ),
        )),
    }
}

/// The doc comment of an item, joined into one string.
pub fn docs(attrs: &[Attribute]) -> Option<String> {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                Expr::Lit(ExprLit {
                    lit: Lit::Str(s), ..
                }) => Some(s.value().trim().to_owned()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    let joined = lines.join("\n").trim().to_owned();
    (!joined.is_empty()).then_some(joined)
}
