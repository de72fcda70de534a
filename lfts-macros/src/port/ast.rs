//! The `#[port]` model: a trait, its methods, their arguments and `#[lfts(...)]` attributes.
//! Parsing records every problem in the context and keeps going, so all are reported at once.

use proc_macro2::Span;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{
    FnArg, GenericArgument, Ident, LitStr, Meta, Pat, PathArguments, ReturnType, TraitItem, Type,
};

use crate::ctxt::Ctxt;

pub struct Port {
    pub item: syn::ItemTrait,
    pub methods: Vec<Method>,
}

pub struct Method {
    pub ident: Ident,
    pub attrs: Vec<syn::Attribute>,
    pub args: Vec<Arg>,
    pub ok: Type,
    pub err: Type,
    pub idempotent: bool,
    pub http: Option<Http>,
    pub span: Span,
}

pub struct Arg {
    pub ident: Ident,
    pub ty: Type,
    /// `#[lfts(rename = "wireName")]`: the argument's key in the arguments object, in a REST
    /// path template and in a query string. `None`: the Rust name.
    pub rename: Option<LitStr>,
    /// The argument's refinements (`email`, `min_len = 1`, …), as written: they go verbatim
    /// onto the wire arguments struct's field, so `derive(Schema)` checks their values (spanned
    /// on the user's tokens) and they reach the arguments schema, the descriptor, the client's
    /// check and the server's validation.
    pub refinements: Vec<Meta>,
    /// `#[lfts(body)]`: on a REST-mapped `POST`/`PUT`/`PATCH` method, this argument's JSON is
    /// the whole request body. The span of the `body` key.
    pub body: Option<Span>,
}

impl Arg {
    /// The argument's name on the wire.
    pub fn wire_name(&self) -> String {
        match &self.rename {
            Some(lit) => lit.value(),
            None => self.ident.to_string(),
        }
    }
}

pub struct Http {
    /// `get`, `post`, `put`, `patch` or `delete`.
    pub method: Ident,
    pub path: LitStr,
}

impl Port {
    pub fn parse(cx: &Ctxt, mut item: syn::ItemTrait) -> Port {
        if !item.generics.params.is_empty() {
            cx.error_spanned(
                &item.generics,
                "#[port] traits cannot be generic: a port is one wire contract",
            );
        }
        let mut methods = Vec::new();
        for trait_item in &mut item.items {
            match trait_item {
                TraitItem::Fn(f) => {
                    if let Some(m) = Method::parse(cx, f) {
                        methods.push(m);
                    }
                    // `#[lfts(...)]` is ours; the trait the user sees must not carry it.
                    strip_attrs(f);
                }
                other => cx.error_spanned(
                    &*other,
                    "#[port] traits hold only `async fn` methods; move constants and types elsewhere",
                ),
            }
        }
        Port { item, methods }
    }
}

/// Removes our attributes from a method and every attribute from its arguments (`Method::parse`
/// has refused any that are not ours), so the trait can be emitted as written.
pub fn strip_attrs(f: &mut syn::TraitItemFn) {
    f.attrs.retain(|a| !a.path().is_ident("lfts"));
    for input in &mut f.sig.inputs {
        if let FnArg::Typed(pt) = input {
            pt.attrs.clear();
        }
    }
}

impl Method {
    fn parse(cx: &Ctxt, f: &syn::TraitItemFn) -> Option<Method> {
        let sig = &f.sig;
        let mut ok = true;
        if sig.asyncness.is_none() {
            cx.error(
                sig.fn_token.span,
                format!(
                    "port methods must be `async fn`: write `async fn {}(&self, …)`",
                    sig.ident
                ),
            );
            ok = false;
        }
        if !sig.generics.params.is_empty() {
            cx.error_spanned(
                &sig.generics,
                "port methods cannot be generic: each method is one wire contract",
            );
            ok = false;
        }
        if let Some(body) = &f.default {
            cx.error_spanned(body, "port methods cannot have a default body");
            ok = false;
        }
        let mut inputs = sig.inputs.iter();
        match inputs.next() {
            Some(FnArg::Receiver(r))
                if r.reference.is_some() && r.mutability.is_none() && r.colon_token.is_none() => {}
            Some(FnArg::Receiver(r)) => {
                cx.error_spanned(r, "port methods take `&self` (a shared reference), so one client serves many calls at once");
                ok = false;
            }
            _ => {
                cx.error(
                    sig.ident.span(),
                    format!(
                        "port methods take `&self` first: `async fn {}(&self, …)`",
                        sig.ident
                    ),
                );
                ok = false;
            }
        }
        let mut args = Vec::new();
        for input in inputs {
            match input {
                FnArg::Typed(pt) => match &*pt.pat {
                    Pat::Ident(pi) if pi.by_ref.is_none() && pi.subpat.is_none() => {
                        if matches!(&*pt.ty, Type::Reference(_)) {
                            cx.error_spanned(
                                &pt.ty,
                                "port method arguments are owned values (they cross the network and a retry replays them); take `String`, not `&str`",
                            );
                            ok = false;
                        }
                        let (rename, refinements, body) = parse_arg_attrs(cx, &pt.attrs);
                        args.push(Arg {
                            ident: pi.ident.clone(),
                            ty: (*pt.ty).clone(),
                            rename,
                            refinements,
                            body,
                        });
                    }
                    other => {
                        cx.error_spanned(other, "port method arguments need plain names: they are the JSON field names on the wire");
                        ok = false;
                    }
                },
                FnArg::Receiver(r) => {
                    cx.error_spanned(r, "unexpected receiver");
                    ok = false;
                }
            }
        }
        let result = match &sig.output {
            ReturnType::Type(_, ty) => result_types(ty),
            ReturnType::Default => None,
        };
        let Some((ok_ty, err_ty)) = result else {
            let span = match &sig.output {
                ReturnType::Type(_, ty) => ty.span(),
                ReturnType::Default => sig.ident.span(),
            };
            cx.error(
                span,
                "port methods return `Result<T, E>`, where `E` can hold an `lfts::NetworkError`: a remote call can fail",
            );
            return None;
        };
        let (idempotent, http) = parse_attrs(cx, &f.attrs);
        if let Some(http) = &http {
            check_path(cx, http, &args);
        }
        check_body(cx, http.as_ref(), &args);
        ok.then(|| Method {
            ident: sig.ident.clone(),
            attrs: f
                .attrs
                .iter()
                .filter(|a| !a.path().is_ident("lfts"))
                .cloned()
                .collect(),
            args,
            ok: ok_ty,
            err: err_ty,
            idempotent,
            http,
            span: sig.ident.span(),
        })
    }
}

/// `Result<T, E>` (any path ending in `Result` with two type arguments).
fn result_types(ty: &Type) -> Option<(Type, Type)> {
    let Type::Path(p) = ty else { return None };
    let seg = p.path.segments.last()?;
    if seg.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &seg.arguments else {
        return None;
    };
    let mut types = args.args.iter().filter_map(|a| match a {
        GenericArgument::Type(t) => Some(t.clone()),
        _ => None,
    });
    let ok = types.next()?;
    let err = types.next()?;
    types.next().is_none().then_some((ok, err))
}

/// `#[lfts(idempotent)]`, `#[lfts(http(get = "/users/{id}"))]`.
fn parse_attrs(cx: &Ctxt, attrs: &[syn::Attribute]) -> (bool, Option<Http>) {
    let mut idempotent = false;
    let mut http = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("lfts")) {
        let result = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("idempotent") {
                idempotent = true;
                Ok(())
            } else if meta.path.is_ident("http") {
                meta.parse_nested_meta(|route| {
                    let Some(verb) = route.path.get_ident().cloned() else {
                        return Err(route.error("expected get, post, put, patch or delete"));
                    };
                    if !["get", "post", "put", "patch", "delete"].contains(&verb.to_string().as_str()) {
                        return Err(route.error(
                            "expected get, post, put, patch or delete: #[lfts(http(get = \"/users/{id}\"))]",
                        ));
                    }
                    let path: LitStr = route.value()?.parse()?;
                    if !path.value().starts_with('/') {
                        return Err(syn::Error::new(path.span(), "an HTTP path starts with `/`"));
                    }
                    http = Some(Http { method: verb, path });
                    Ok(())
                })
            } else {
                Err(meta.error("unknown lfts method attribute; expected `idempotent` or `http(get = \"/path\")`"))
            }
        });
        if let Err(e) = result {
            cx.syn_error(e);
        }
    }
    (idempotent, http)
}

/// The refinement keys a parameter takes: those `derive(Schema)` takes on a field, less the
/// ones that only mean something on a type (`brand`) or an error variant (`network`,
/// `status`). `derive(Schema)` checks their values.
const REFINEMENTS: &[&str] = &[
    "email",
    "url",
    "uuid",
    "pattern",
    "min_len",
    "max_len",
    "min",
    "max",
    "integer",
    "positive",
    "negative",
    "non_empty",
    "min_items",
    "max_items",
];

/// A parameter's attributes: `#[lfts(rename = "wireName")]` and refinements such as
/// `#[lfts(email)]` or `#[lfts(min_len = 1, max_len = 100)]`. Any other attribute is an
/// error: the parameter is a field of the wire arguments struct, and an attribute that did not
/// reach it would be silently ignored.
fn parse_arg_attrs(
    cx: &Ctxt,
    attrs: &[syn::Attribute],
) -> (Option<LitStr>, Vec<Meta>, Option<Span>) {
    let mut rename: Option<LitStr> = None;
    let mut body: Option<Span> = None;
    let mut refinements = Vec::new();
    for attr in attrs {
        if !attr.path().is_ident("lfts") {
            cx.error_spanned(
                attr,
                "port method arguments take only `#[lfts(...)]` attributes: a refinement such as \
                 #[lfts(email)] or #[lfts(rename = \"wireName\")]",
            );
            continue;
        }
        let metas = match attr.parse_args_with(Punctuated::<Meta, syn::Token![,]>::parse_terminated)
        {
            Ok(metas) => metas,
            Err(e) => {
                cx.syn_error(e);
                continue;
            }
        };
        for meta in metas {
            let key = meta.path().get_ident().map(Ident::to_string);
            match key.as_deref() {
                // #[lfts(rename = "wireName")]
                Some("rename") => match rename_value(&meta) {
                    Ok(lit) if rename.is_some() => {
                        cx.error(
                            lit.span(),
                            "duplicate #[lfts(rename = ...)] on this argument",
                        );
                    }
                    Ok(lit) => rename = Some(lit),
                    Err(e) => cx.syn_error(e),
                },
                // #[lfts(body)]
                Some("body") if matches!(meta, Meta::Path(_)) => {
                    if body.is_some() {
                        cx.error_spanned(meta.path(), "duplicate #[lfts(body)] on this argument");
                    }
                    body = Some(meta.path().span());
                }
                // #[lfts(email)], #[lfts(min_len = 1)], …: checked by `derive(Schema)`.
                Some(k) if REFINEMENTS.contains(&k) => refinements.push(meta),
                _ => cx.error_spanned(
                    meta.path(),
                    format!(
                        "unknown lfts argument attribute `{}`; expected `rename = \"wireName\"`, \
                         `body` or a refinement: {}",
                        quote::ToTokens::to_token_stream(meta.path()),
                        REFINEMENTS.join(", "),
                    ),
                ),
            }
        }
    }
    (rename, refinements, body)
}

/// `#[lfts(body)]` is on at most one argument, of a REST-mapped `post`, `put` or `patch`
/// method, and not on a path parameter.
fn check_body(cx: &Ctxt, http: Option<&Http>, args: &[Arg]) {
    let mut bodies = args.iter().filter_map(|a| a.body.map(|span| (a, span)));
    let Some((arg, span)) = bodies.next() else {
        return;
    };
    for (_, again) in bodies {
        cx.error(
            again,
            "only one argument of a method can be its #[lfts(body)]",
        );
    }
    match http {
        None => cx.error(
            span,
            "#[lfts(body)] needs a REST mapping with a body, such as \
             #[lfts(http(post = \"/items\"))]: the default protocol's body is the object of all \
             arguments",
        ),
        Some(http) if !matches!(http.method.to_string().as_str(), "post" | "put" | "patch") => {
            cx.error(
                span,
                format!(
                    "#[lfts(body)] needs `post`, `put` or `patch`: a `{}` request has no body",
                    http.method
                ),
            );
        }
        Some(http)
            if http
                .path
                .value()
                .contains(&format!("{{{}}}", arg.wire_name())) =>
        {
            cx.error(
                span,
                "an argument cannot be both a path parameter and the #[lfts(body)]",
            )
        }
        Some(_) => {}
    }
}

/// The string of `rename = "wireName"`, which must be a non-empty name.
fn rename_value(meta: &Meta) -> syn::Result<LitStr> {
    let syntax = "expected a string: #[lfts(rename = \"wireName\")]";
    let Meta::NameValue(nv) = meta else {
        return Err(syn::Error::new_spanned(meta, syntax));
    };
    let syn::Expr::Lit(syn::ExprLit {
        lit: syn::Lit::Str(lit),
        ..
    }) = &nv.value
    else {
        return Err(syn::Error::new_spanned(&nv.value, syntax));
    };
    if lit.value().is_empty() {
        return Err(syn::Error::new(
            lit.span(),
            "an argument's wire name cannot be empty",
        ));
    }
    Ok(lit.clone())
}

/// Every `{name}` in a REST path names an argument (by its wire name).
fn check_path(cx: &Ctxt, http: &Http, args: &[Arg]) {
    let path = http.path.value();
    let mut rest = path.as_str();
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            cx.error(http.path.span(), "unclosed `{` in the HTTP path");
            return;
        };
        let name = &rest[start + 1..start + len];
        if !args.iter().any(|a| a.wire_name() == name) {
            let renamed = args
                .iter()
                .find(|a| a.rename.is_some() && a.ident == name)
                .map(|a| format!("; `{name}` is renamed, write `{{{}}}`", a.wire_name()))
                .unwrap_or_default();
            cx.error(
                http.path.span(),
                format!(
                    "path parameter `{{{name}}}` does not name an argument of this method{renamed}"
                ),
            );
        }
        rest = &rest[start + len + 1..];
    }
}
