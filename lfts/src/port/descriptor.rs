//! [`PortDescriptor`]: the schema of a whole port, its fingerprints, its JSON form, and the
//! [`ContractDiff`] between two versions of it.
//!
//! # Two fingerprints
//!
//! - The **fingerprint** ([`PortDescriptor::fingerprint`], [`TypeObject::fingerprint`]) is the
//!   SHA-256 of the schema's binary encoding: it identifies one exact schema version,
//!   documentation, brand names and Rust type names included.
//! - The **wire fingerprint** ([`PortDescriptor::wire_fingerprint`],
//!   [`TypeObject::wire_fingerprint`]) hashes only what the JSON on the wire and its validation
//!   depend on (see [`schema::wire`](crate::schema::wire)): rewording a doc comment or renaming
//!   a Rust type keeps it, any change of wire names, required flags, tagging, number kinds,
//!   refinements or structure changes it.
//!
//! Contract comparison ([`PortDescriptor::diff`], [`ContractDiff::fingerprints_match`], and so
//! a client's `check_contract`) uses the wire fingerprints, so that only a change of the wire
//! is drift.

use std::fmt;

use serde::Serialize;
use serde_json::{Value, json};

use super::method::MethodInfo;
use crate::schema::{Defs, Fingerprint, HttpRoute, Node, PortMethod, PortNode, Schema, TypeObject};

/// The schema's fingerprint as lowercase hex, as it travels in descriptors and headers.
fn fingerprint_hex(schema: &TypeObject) -> String {
    schema.fingerprint().to_string()
}

/// The schema's wire fingerprint as lowercase hex.
fn wire_fingerprint_hex(schema: &TypeObject) -> String {
    schema.wire_fingerprint().to_string()
}

/// One method of a [`PortDescriptor`]: its [`MethodInfo`] and the schemas of its arguments
/// object, success type and error type.
#[derive(Debug)]
pub struct MethodDescriptor {
    info: &'static MethodInfo,
    args: &'static TypeObject,
    ok: &'static TypeObject,
    err: &'static TypeObject,
    fingerprints: MethodFingerprints,
    wire_fingerprints: MethodFingerprints,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct MethodFingerprints {
    args: String,
    ok: String,
    err: String,
}

impl MethodDescriptor {
    /// The method's static facts.
    pub fn info(&self) -> &'static MethodInfo {
        self.info
    }

    /// The method's name.
    pub fn name(&self) -> &'static str {
        self.info.name
    }

    /// The schema of the arguments object (`{"param": value, …}`).
    pub fn args_schema(&self) -> &'static TypeObject {
        self.args
    }

    /// The schema of the success type.
    pub fn ok_schema(&self) -> &'static TypeObject {
        self.ok
    }

    /// The schema of the error type.
    pub fn err_schema(&self) -> &'static TypeObject {
        self.err
    }

    fn to_json(&self) -> Value {
        json!({
            "name": self.info.name,
            "params": self.info.params,
            "idempotent": self.info.idempotent,
            "http": self.info.http.map(|h| json!({"method": h.method.as_str(), "path": h.path})),
            "fingerprints": self.fingerprints,
            "wireFingerprints": self.wire_fingerprints,
        })
    }
}

/// The schema of a whole port: its methods with their argument, success and error schemas,
/// the `PORT` tree that holds them all, its fingerprint and its JSON form.
///
/// `#[lfts::port]` builds one per port, once, in a `static OnceLock`:
///
/// ```
/// use lfts::port::{MethodInfo, PortDescriptor};
///
/// static PING: MethodInfo = MethodInfo {
///     port: "Health", name: "ping", params: &[], idempotent: true, http: None,
/// };
/// // A method without arguments takes `()` as its arguments type here; generated code
/// // passes a struct with one field per parameter.
/// let d = PortDescriptor::builder("Health").method::<(), String, lfts::NetworkError>(&PING).build();
/// assert_eq!(d.name(), "Health");
/// assert_eq!(d.methods().len(), 1);
/// assert_eq!(d.fingerprint().len(), 64);
/// assert_eq!(d.wire_fingerprint().len(), 64);
/// assert!(d.diff(&d.to_json()).is_empty());
/// ```
#[derive(Debug)]
pub struct PortDescriptor {
    name: &'static str,
    methods: Vec<MethodDescriptor>,
    type_object: TypeObject,
    fingerprint: Fingerprint,
    fingerprint_hex: String,
    wire_fingerprint: Fingerprint,
    wire_fingerprint_hex: String,
    json: Value,
}

impl PortDescriptor {
    /// Starts a descriptor for the port `name`.
    pub fn builder(name: &'static str) -> PortDescriptorBuilder {
        PortDescriptorBuilder {
            name,
            defs: Defs::new(),
            methods: Vec::new(),
        }
    }

    /// The port's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The methods, in declaration order.
    pub fn methods(&self) -> &[MethodDescriptor] {
        &self.methods
    }

    /// The method called `name`.
    pub fn method(&self, name: &str) -> Option<&MethodDescriptor> {
        self.methods.iter().find(|m| m.info.name == name)
    }

    /// The port's schema: a root `PORT` node whose `PORT_METHOD`s share one definition table.
    pub fn type_object(&self) -> &TypeObject {
        &self.type_object
    }

    /// The fingerprint of [`type_object`](PortDescriptor::type_object) (the SHA-256 of its
    /// binary encoding), as lowercase hex, the form it takes in the descriptor JSON and the
    /// `x-lfts-fingerprint` header. It identifies one exact version of the port's schema:
    /// two builds agree on it exactly when their schemas are identical, documentation and
    /// Rust type names included. To decide whether two builds can talk to each other, compare
    /// [`wire_fingerprint`](PortDescriptor::wire_fingerprint)s instead.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint_hex
    }

    /// The fingerprint as a [`Fingerprint`] value.
    pub fn fingerprint_value(&self) -> Fingerprint {
        self.fingerprint
    }

    /// The [wire fingerprint](TypeObject::wire_fingerprint) of
    /// [`type_object`](PortDescriptor::type_object), as lowercase hex (`"wireFingerprint"` in
    /// the descriptor JSON): it covers the port and method names, parameters, idempotency,
    /// REST mappings and everything in the argument, success and error schemas that shapes
    /// their JSON, and ignores documentation, brand names, Rust type names and the order of
    /// the definition table. Two builds agree on it exactly when they agree on the contract.
    pub fn wire_fingerprint(&self) -> &str {
        &self.wire_fingerprint_hex
    }

    /// The wire fingerprint as a [`Fingerprint`] value.
    pub fn wire_fingerprint_value(&self) -> Fingerprint {
        self.wire_fingerprint
    }

    /// The descriptor as a server publishes it at `GET /{Port}`:
    ///
    /// ```json
    /// {"port": "UserService", "fingerprint": "…", "wireFingerprint": "…",
    ///  "bytecode": […], "jsonSchema": {…},
    ///  "methods": [{"name": "get_user", "params": ["id"], "idempotent": true,
    ///               "http": {"method": "GET", "path": "/users/{id}"},
    ///               "fingerprints": {"args": "…", "ok": "…", "err": "…"},
    ///               "wireFingerprints": {"args": "…", "ok": "…", "err": "…"}}]}
    /// ```
    ///
    /// `fingerprint` and `fingerprints` are the exact-version fingerprints;
    /// `wireFingerprint` and `wireFingerprints` the [wire](PortDescriptor::wire_fingerprint)
    /// ones that contract comparison uses.
    pub fn to_json(&self) -> Value {
        self.json.clone()
    }

    /// The JSON form, borrowed.
    pub fn json(&self) -> &Value {
        &self.json
    }

    /// What differs between this descriptor and another one in its JSON form (typically the
    /// remote side's `GET /{Port}`): methods missing on either side, and methods whose
    /// parameter names, argument/success/error schemas, idempotency or REST mapping differ.
    ///
    /// Only the wire counts: schemas are compared by [wire
    /// fingerprint](PortDescriptor::wire_fingerprint) (`"wireFingerprints"`), so a reworded
    /// doc comment or a renamed Rust type is not a difference, and parameters are compared as
    /// a set of names (the arguments travel as a JSON object). A remote document from a
    /// version of lfts that publishes no wire fingerprints is compared by its exact
    /// `"fingerprints"`, which may report documentation changes as differences.
    pub fn diff(&self, other: &Value) -> ContractDiff {
        let remote_methods: Vec<&Value> = other
            .get("methods")
            .and_then(Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        let remote_name = |m: &Value| m.get("name").and_then(Value::as_str).map(str::to_owned);

        let mut diff = ContractDiff {
            local_port: self.name.to_owned(),
            remote_port: other.get("port").and_then(Value::as_str).map(str::to_owned),
            local_fingerprint: self.fingerprint_hex.clone(),
            remote_fingerprint: other
                .get("fingerprint")
                .and_then(Value::as_str)
                .map(str::to_owned),
            local_wire_fingerprint: self.wire_fingerprint_hex.clone(),
            remote_wire_fingerprint: other
                .get("wireFingerprint")
                .and_then(Value::as_str)
                .map(str::to_owned),
            missing_remote: Vec::new(),
            missing_local: Vec::new(),
            changed: Vec::new(),
        };

        for local in &self.methods {
            let Some(remote) = remote_methods
                .iter()
                .find(|m| remote_name(m).as_deref() == Some(local.info.name))
            else {
                diff.missing_remote.push(local.info.name.to_owned());
                continue;
            };
            let local_json = local.to_json();
            let mut parts = Vec::new();
            let differs = |key: &str| local_json.get(key) != remote.get(key);
            // Wire fingerprints when the remote side publishes them, else the exact ones.
            let fingerprints = if remote.get("wireFingerprints").is_some() {
                "wireFingerprints"
            } else {
                "fingerprints"
            };
            let fp_differs = |key: &str| {
                local_json.get(fingerprints).and_then(|f| f.get(key))
                    != remote.get(fingerprints).and_then(|f| f.get(key))
            };
            if param_names(local_json.get("params")) != param_names(remote.get("params")) {
                parts.push(MethodPart::Params);
            }
            if fp_differs("args") {
                parts.push(MethodPart::Args);
            }
            if fp_differs("ok") {
                parts.push(MethodPart::Ok);
            }
            if fp_differs("err") {
                parts.push(MethodPart::Err);
            }
            if differs("idempotent") {
                parts.push(MethodPart::Idempotent);
            }
            if differs("http") {
                parts.push(MethodPart::Http);
            }
            if !parts.is_empty() {
                diff.changed.push(MethodChange {
                    method: local.info.name.to_owned(),
                    parts,
                });
            }
        }
        for remote in &remote_methods {
            if let Some(name) = remote_name(remote)
                && self.method(&name).is_none()
            {
                diff.missing_local.push(name);
            }
        }
        diff
    }
}

/// A method's parameter names as a sorted set (`None` when `params` is not an array of
/// strings), so that reordering parameters, which does not change the arguments object on
/// the wire, is not a difference.
fn param_names(params: Option<&Value>) -> Option<Vec<&str>> {
    let mut names = params?
        .as_array()?
        .iter()
        .map(Value::as_str)
        .collect::<Option<Vec<&str>>>()?;
    names.sort_unstable();
    Some(names)
}

/// Builds a [`PortDescriptor`]; see [`PortDescriptor::builder`].
#[derive(Debug)]
pub struct PortDescriptorBuilder {
    name: &'static str,
    defs: Defs,
    methods: Vec<Pending>,
}

#[derive(Debug)]
struct Pending {
    info: &'static MethodInfo,
    args_node: Node,
    ok_node: Node,
    err_node: Node,
    args: &'static TypeObject,
    ok: &'static TypeObject,
    err: &'static TypeObject,
}

impl PortDescriptorBuilder {
    /// Adds a method whose arguments object is `Args` (a struct with one field per parameter,
    /// named as the parameters), whose success type is `T` and whose error type is `E`.
    ///
    /// `Args` should describe itself inline (an `OBJECT`, not a named definition): its
    /// properties become the `PORT_METHOD`'s parameters. A named one works too, but leaves
    /// its definition in the port's table.
    pub fn method<Args, T, E>(mut self, info: &'static MethodInfo) -> PortDescriptorBuilder
    where
        Args: Schema + 'static,
        T: Schema + 'static,
        E: Schema + 'static,
    {
        let args_node = Args::describe(&mut self.defs);
        let ok_node = T::describe(&mut self.defs);
        let err_node = E::describe(&mut self.defs);
        self.methods.push(Pending {
            info,
            args_node,
            ok_node,
            err_node,
            args: Args::schema(),
            ok: T::schema(),
            err: E::schema(),
        });
        self
    }

    /// Finishes the descriptor.
    pub fn build(self) -> PortDescriptor {
        // Finish the table once to resolve each arguments node to its object's properties.
        let table = self.defs.finish(Node::Null);
        let mut port_methods = Vec::with_capacity(self.methods.len());
        let mut methods = Vec::with_capacity(self.methods.len());
        for p in self.methods {
            let params = match table.resolve(&p.args_node) {
                Node::Object(obj) => obj
                    .properties
                    .iter()
                    .map(|prop| {
                        let node = match (&prop.node, prop.required) {
                            (node @ Node::Optional(_), _) | (node, true) => node.clone(),
                            (node, false) => Node::Optional(Box::new(node.clone())),
                        };
                        (prop.name.clone(), node)
                    })
                    .collect(),
                _ => Vec::new(),
            };
            port_methods.push(PortMethod {
                name: p.info.name.to_owned(),
                params,
                ok: p.ok_node,
                err: p.err_node,
                idempotent: p.info.idempotent,
                http: p.info.http.map(|h| HttpRoute {
                    method: h.method.as_str().to_owned(),
                    path: h.path.to_owned(),
                }),
            });
            methods.push(MethodDescriptor {
                info: p.info,
                args: p.args,
                ok: p.ok,
                err: p.err,
                fingerprints: MethodFingerprints {
                    args: fingerprint_hex(p.args),
                    ok: fingerprint_hex(p.ok),
                    err: fingerprint_hex(p.err),
                },
                wire_fingerprints: MethodFingerprints {
                    args: wire_fingerprint_hex(p.args),
                    ok: wire_fingerprint_hex(p.ok),
                    err: wire_fingerprint_hex(p.err),
                },
            });
        }
        let type_object = TypeObject::from_parts(
            Node::Port(PortNode {
                name: self.name.to_owned(),
                methods: port_methods,
            }),
            table.defs().to_vec(),
        );
        let fingerprint = type_object.fingerprint();
        let fingerprint_hex = fingerprint.to_string();
        let wire_fingerprint = type_object.wire_fingerprint();
        let wire_fingerprint_hex = wire_fingerprint.to_string();
        let json = json!({
            "port": self.name,
            "fingerprint": fingerprint_hex,
            "wireFingerprint": wire_fingerprint_hex,
            "bytecode": type_object.to_json(),
            "jsonSchema": type_object.to_json_schema(),
            "methods": methods.iter().map(MethodDescriptor::to_json).collect::<Vec<_>>(),
        });
        PortDescriptor {
            name: self.name,
            methods,
            type_object,
            fingerprint,
            fingerprint_hex,
            wire_fingerprint,
            wire_fingerprint_hex,
            json,
        }
    }
}

/// A part of a method that can differ between two versions of a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MethodPart {
    /// The parameter names (their order is not part of the wire: arguments travel as a JSON
    /// object).
    Params,
    /// The arguments object's schema.
    Args,
    /// The success type's schema.
    Ok,
    /// The error type's schema.
    Err,
    /// Whether the method is idempotent.
    Idempotent,
    /// The REST mapping.
    Http,
}

impl fmt::Display for MethodPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MethodPart::Params => "parameters",
            MethodPart::Args => "argument types",
            MethodPart::Ok => "success type",
            MethodPart::Err => "error type",
            MethodPart::Idempotent => "idempotency",
            MethodPart::Http => "REST mapping",
        })
    }
}

/// A method present on both sides whose contract differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MethodChange {
    /// The method's name.
    pub method: String,
    /// What differs.
    pub parts: Vec<MethodPart>,
}

/// What differs between a local [`PortDescriptor`] and a remote one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContractDiff {
    /// The local port's name.
    pub local_port: String,
    /// The remote port's name, if the remote document names one.
    pub remote_port: Option<String>,
    /// The local (exact-version) fingerprint.
    pub local_fingerprint: String,
    /// The remote (exact-version) fingerprint, if the remote document has one.
    pub remote_fingerprint: Option<String>,
    /// The local wire fingerprint (see [`PortDescriptor::wire_fingerprint`]).
    pub local_wire_fingerprint: String,
    /// The remote wire fingerprint, if the remote document has one (`"wireFingerprint"`;
    /// descriptors from versions of lfts before it have none).
    pub remote_wire_fingerprint: Option<String>,
    /// Methods the local side has and the remote side lacks: calls to them will fail.
    pub missing_remote: Vec<String>,
    /// Methods the remote side has and the local side lacks (harmless to a client).
    pub missing_local: Vec<String>,
    /// Methods on both sides whose contract differs.
    pub changed: Vec<MethodChange>,
}

impl ContractDiff {
    /// Whether the two sides name the same port and agree on every method. (They may still
    /// differ in what the wire does not see, such as documentation; compare
    /// [`exact_fingerprints_match`](ContractDiff::exact_fingerprints_match) for identity.)
    pub fn is_empty(&self) -> bool {
        self.remote_port.as_deref() == Some(self.local_port.as_str())
            && self.missing_remote.is_empty()
            && self.missing_local.is_empty()
            && self.changed.is_empty()
    }

    /// Whether both sides have the same port contract: the same wire fingerprint (see
    /// [`PortDescriptor::wire_fingerprint`]), so documentation and Rust type names may differ.
    /// Against a remote document without a wire fingerprint (an older lfts), the exact
    /// fingerprints are compared instead.
    pub fn fingerprints_match(&self) -> bool {
        match &self.remote_wire_fingerprint {
            Some(remote) => *remote == self.local_wire_fingerprint,
            None => self.exact_fingerprints_match(),
        }
    }

    /// Whether both sides have the same exact-version fingerprint: the very same schemas,
    /// documentation and Rust type names included.
    pub fn exact_fingerprints_match(&self) -> bool {
        self.remote_fingerprint.as_deref() == Some(self.local_fingerprint.as_str())
    }
}

impl fmt::Display for ContractDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return write!(f, "{}: contracts agree", self.local_port);
        }
        write!(f, "{}: contracts differ", self.local_port)?;
        match &self.remote_port {
            Some(remote) if *remote != self.local_port => {
                write!(f, "\n  remote port is named {remote}")?;
            }
            Some(_) => {}
            None => write!(f, "\n  remote document names no port")?,
        }
        for m in &self.missing_remote {
            write!(f, "\n  {m}: missing on the remote side")?;
        }
        for m in &self.missing_local {
            write!(f, "\n  {m}: only on the remote side")?;
        }
        for c in &self.changed {
            write!(f, "\n  {}: ", c.method)?;
            for (i, part) in c.parts.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{part}")?;
            }
            f.write_str(" differ")?;
        }
        Ok(())
    }
}

/// The outcome of a contract check: a local descriptor against the one a server publishes
/// (see `lfts::http::Client::check_contract`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContractReport {
    /// Whether the remote port has the same wire contract
    /// ([`ContractDiff::fingerprints_match`]) and no method differs.
    pub matches: bool,
    /// What differs, method by method.
    pub diff: ContractDiff,
}
