//! The wire protocol's shared pieces: header names, how arguments map onto a URL, query string
//! and body, and back again on the server.

use reqwest::Url;
use serde_json::{Map, Value};

use crate::port::MethodInfo;
use crate::schema::{Literal, Node, TypeObject};

/// The header that carries the W3C trace context.
pub const TRACEPARENT: &str = "traceparent";
/// The header that carries an idempotency key on calls that may be replayed.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// The header that carries the caller's port fingerprint, so that a server can detect drift.
pub const FINGERPRINT: &str = "x-lfts-fingerprint";
/// The header that carries what is left of the caller's deadline, in whole milliseconds.
pub const TIMEOUT_MS: &str = "x-lfts-timeout-ms";
/// The header that marks a protocol error (an error of lfts's own, not of the port's error
/// type) and carries its code, such as `not_found` or `idempotency_key_reused`. A client never
/// maps a response that carries it to a domain error.
pub const PROTOCOL_ERROR: &str = "x-lfts-error";
/// The header a server adds to an answer replayed from its idempotency store.
pub const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";

// ----- client side: arguments to URL, query and body -----------------------------------------

/// Where a call goes and what it carries.
pub(crate) struct Target {
    pub url: Url,
    pub body: Option<Value>,
}

/// A scalar as text for a path segment or query value: strings as they are, numbers and
/// booleans in JSON spelling, anything else as its JSON text.
fn as_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Builds the URL (and JSON body, if any) of a call from the arguments object.
///
/// Default protocol: `POST {base}/{Port}/{method}` with the whole object as body. REST mapping:
/// each `{name}` in the path template is replaced by that argument (percent-encoded as a path
/// segment; it must be a string, number or boolean); the remaining arguments go in the query
/// string (`GET`, `DELETE`: `null` is left out, an array repeats its key, an object is sent as
/// its JSON text) or in a JSON body object (other methods).
pub(crate) fn target(
    base: &Url,
    method: &MethodInfo,
    mut args: Map<String, Value>,
) -> Result<Target, String> {
    let mut url = base.clone();
    let Some(mapping) = method.http else {
        {
            let mut segs = url
                .path_segments_mut()
                .map_err(|()| format!("base URL {base} cannot take a path"))?;
            segs.pop_if_empty().push(method.port).push(method.name);
        }
        return Ok(Target {
            url,
            body: Some(Value::Object(args)),
        });
    };

    {
        let mut segs = url
            .path_segments_mut()
            .map_err(|()| format!("base URL {base} cannot take a path"))?;
        segs.pop_if_empty();
        let template = mapping.path.trim_start_matches('/');
        let mut pieces = template.split('/').peekable();
        while let Some(piece) = pieces.next() {
            if piece.is_empty() && pieces.peek().is_some() {
                continue;
            }
            let segment = fill_segment(piece, &mut args)?;
            segs.push(&segment);
        }
    }

    // `#[lfts(body)]`: that argument's JSON is the whole body (`null` when it is absent).
    let body = mapping
        .body
        .map(|name| args.remove(name).unwrap_or(Value::Null));
    if mapping.args_in_query() {
        let pairs: Vec<(String, String)> = args
            .iter()
            .flat_map(|(k, v)| match v {
                Value::Null => Vec::new(),
                Value::Array(items) => items.iter().map(|i| (k.clone(), as_text(i))).collect(),
                other => vec![(k.clone(), as_text(other))],
            })
            .collect();
        if !pairs.is_empty() {
            let mut q = url.query_pairs_mut();
            for (k, v) in &pairs {
                q.append_pair(k, v);
            }
        }
        Ok(Target { url, body })
    } else {
        Ok(Target {
            url,
            body: Some(Value::Object(args)),
        })
    }
}

/// Replaces every `{name}` in one template segment with the argument of that name, removing
/// the argument from `args`.
fn fill_segment(piece: &str, args: &mut Map<String, Value>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = piece;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| format!("unclosed `{{` in path template segment `{piece}`"))?;
        let name = &after[..close];
        let value = args
            .remove(name)
            .ok_or_else(|| format!("path parameter `{name}` is not an argument"))?;
        match &value {
            Value::String(_) | Value::Number(_) | Value::Bool(_) => out.push_str(&as_text(&value)),
            other => {
                return Err(format!(
                    "path parameter `{name}` must be a string, number or boolean, not {}",
                    json_kind(other)
                ));
            }
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

pub(crate) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Cuts `text` to at most `max` bytes, at a character boundary.
pub(crate) fn truncate_at_char_boundary(text: &mut String, max: usize) {
    if text.len() > max {
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
}

/// Whether a `content-type` is JSON: `application/json` or `application/*+json`, any
/// parameters.
pub(crate) fn is_json_content_type(value: &str) -> bool {
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

// ----- server side: path and query strings back to JSON -------------------------------------

/// The node of the arguments object's property `name` (or of the property that has `name` as
/// an alias), if the arguments schema is an object that has one.
pub(crate) fn property_node<'a>(schema: &'a TypeObject, name: &str) -> Option<&'a Node> {
    match schema.resolve(schema.root()) {
        Node::Object(obj) => obj
            .properties
            .iter()
            .find(|p| p.name == name || p.aliases.iter().any(|a| a == name))
            .map(|p| &p.node),
        _ => None,
    }
}

/// The node under the wrappers that do not change how a value is spelled in a URL.
fn unwrap_node<'a>(schema: &'a TypeObject, mut node: &'a Node) -> &'a Node {
    for _ in 0..64 {
        node = match schema.resolve(node) {
            Node::Optional(inner)
            | Node::OptionSome(inner)
            | Node::Brand(_, inner)
            | Node::Refine(_, inner) => inner,
            other => return other,
        };
    }
    node
}

/// Whether a property is an array (its values come as repeated query keys).
pub(crate) fn is_array(schema: &TypeObject, node: &Node) -> bool {
    matches!(unwrap_node(schema, node), Node::Array(_))
}

/// Whether a property is a required-in-spirit array: an array that is not optional, so that an
/// empty one (which leaves no key in the query string) is restored as `[]`.
pub(crate) fn is_plain_array(schema: &TypeObject, node: &Node) -> bool {
    matches!(schema.resolve(node), Node::Array(_))
}

/// Turns a path or query string back into the JSON value the client encoded, as far as the
/// property's schema tells: numbers, booleans and `null` from their spelling, composite types
/// from their JSON text; anything that does not convert stays a string, for validation to
/// report.
pub(crate) fn from_text(schema: &TypeObject, node: Option<&Node>, text: &str) -> Value {
    let Some(node) = node else {
        return Value::String(text.to_owned());
    };
    let as_string = || Value::String(text.to_owned());
    match unwrap_node(schema, node) {
        Node::String => as_string(),
        Node::Number(kind) => {
            let parsed = if kind.is_integer() {
                text.parse::<i64>()
                    .map(Value::from)
                    .or_else(|_| text.parse::<u64>().map(Value::from))
                    .ok()
            } else {
                text.parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
            };
            parsed.unwrap_or_else(as_string)
        }
        Node::Boolean => match text {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => as_string(),
        },
        Node::Null | Node::OptionNone if text == "null" => Value::Null,
        Node::Literal(Literal::Str(_)) => as_string(),
        Node::Literal(_) | Node::Null | Node::OptionNone => {
            serde_json::from_str(text).unwrap_or_else(|_| as_string())
        }
        Node::Array(inner) => match serde_json::from_str::<Value>(text) {
            Ok(v @ Value::Array(_)) => v,
            // One item of a repeated key.
            _ => from_text(schema, Some(inner), text),
        },
        Node::Tuple(_)
        | Node::Object(_)
        | Node::Map { .. }
        | Node::Union(_)
        | Node::DUnion(_)
        | Node::ResultOk(_)
        | Node::ResultErr(_)
        | Node::Any => serde_json::from_str(text).unwrap_or_else(|_| as_string()),
        _ => as_string(),
    }
}

/// Turns the repeated values of one query key back into JSON: an array property takes them
/// all, any other the last one.
pub(crate) fn from_query_values(
    schema: &TypeObject,
    node: Option<&Node>,
    values: &[String],
) -> Value {
    match node {
        Some(n) if is_array(schema, n) => {
            let item = match unwrap_node(schema, n) {
                Node::Array(inner) => Some(&**inner),
                _ => None,
            };
            Value::Array(values.iter().map(|v| from_text(schema, item, v)).collect())
        }
        _ => values
            .last()
            .map(|v| from_text(schema, node, v))
            .unwrap_or(Value::Null),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::port::{HttpMapping, HttpMethod};

    static GET: MethodInfo = MethodInfo {
        port: "Users",
        name: "get",
        params: &["id", "q", "tags"],
        idempotent: true,
        http: Some(HttpMapping {
            method: HttpMethod::Get,
            path: "/users/{id}/items",
            body: None,
        }),
    };

    #[test]
    fn rest_target_substitutes_and_encodes() {
        let base = Url::parse("http://127.0.0.1:1/api/").unwrap();
        let args = serde_json::json!({"id": "a b/c", "q": 3, "tags": ["x", "y"], "none": null});
        let Value::Object(args) = args else {
            unreachable!()
        };
        let t = target(&base, &GET, args).unwrap();
        assert_eq!(
            t.url.as_str(),
            "http://127.0.0.1:1/api/users/a%20b%2Fc/items?q=3&tags=x&tags=y"
        );
        assert!(t.body.is_none());
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        let mut s = "héllo".to_owned();
        truncate_at_char_boundary(&mut s, 2);
        assert_eq!(s, "h");
    }
}
