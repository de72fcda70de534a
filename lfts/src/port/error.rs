//! [`NetworkError`] and [`RemoteError`].

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::schema::{DUnion, Defs, Node, NumberKind, Object, Property, Schema, Tagging, Variant};

/// How a remote call failed on the way: every failure a transport can report, as a value.
///
/// On the wire it is a JSON object tagged by `type`, as in the LFTS design:
///
/// ```
/// use lfts::NetworkError;
///
/// let e = NetworkError::Timeout { service: "UserService".into(), ms: 5000 };
/// assert_eq!(
///     serde_json::to_value(&e).unwrap(),
///     serde_json::json!({"type": "timeout", "service": "UserService", "ms": 5000}),
/// );
/// assert!(e.is_transient());
/// assert!(e.may_have_reached_server());
/// ```
///
/// Resilience layers decide from [`is_transient`](NetworkError::is_transient) and
/// [`may_have_reached_server`](NetworkError::may_have_reached_server), never from a message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum NetworkError {
    /// No complete response arrived within `ms` milliseconds (the per-call timeout, or the
    /// connect timeout when connecting took too long).
    Timeout {
        /// The port (service) that was called.
        service: String,
        /// The timeout that elapsed, in milliseconds.
        ms: u64,
    },
    /// No connection could be opened: the peer refused it, or it failed for another reason
    /// before any byte of the request was sent (TLS handshake, unreachable network).
    ConnectionRefused {
        /// The port (service) that was called.
        service: String,
        /// The `host:port` that was dialled.
        host: String,
    },
    /// The server answered with a status the caller's error type does not describe.
    ///
    /// `status` is `0` when the connection broke after it was established and before a
    /// complete response arrived (reset, closed mid-body); `body` then says what happened.
    HttpError {
        /// The port (service) that was called.
        service: String,
        /// The HTTP status, or `0` for a connection lost mid-exchange.
        status: u16,
        /// The response body, truncated to a bound (4 KiB by default) at a character boundary.
        body: String,
    },
    /// The domain name of the service did not resolve.
    DnsFailure {
        /// The port (service) that was called.
        service: String,
        /// The name that failed to resolve.
        domain: String,
    },
    /// A value could not be encoded or decoded: arguments that fail their own refinements
    /// (nothing is sent then), or a response that does not match the declared type.
    SerializationError {
        /// The port (service) that was called.
        service: String,
        /// What did not match, for a person to read.
        message: String,
    },
    /// A circuit breaker refused the call without sending it.
    CircuitOpen {
        /// The port (service) whose breaker is open.
        service: String,
    },
}

impl NetworkError {
    /// The port (service) the failed call was addressed to.
    pub fn service(&self) -> &str {
        match self {
            NetworkError::Timeout { service, .. }
            | NetworkError::ConnectionRefused { service, .. }
            | NetworkError::HttpError { service, .. }
            | NetworkError::DnsFailure { service, .. }
            | NetworkError::SerializationError { service, .. }
            | NetworkError::CircuitOpen { service } => service,
        }
    }

    /// The variant's wire name (`"timeout"`, `"http_error"`…).
    pub fn kind(&self) -> &'static str {
        match self {
            NetworkError::Timeout { .. } => "timeout",
            NetworkError::ConnectionRefused { .. } => "connection_refused",
            NetworkError::HttpError { .. } => "http_error",
            NetworkError::DnsFailure { .. } => "dns_failure",
            NetworkError::SerializationError { .. } => "serialization_error",
            NetworkError::CircuitOpen { .. } => "circuit_open",
        }
    }

    /// Whether trying the same call again later may succeed, so a retry layer may replay it.
    ///
    /// | variant | transient |
    /// |---|---|
    /// | `timeout` | yes |
    /// | `connection_refused` | yes: the service may be restarting or scaling up |
    /// | `dns_failure` | yes: resolvers fail transiently, and a record may appear |
    /// | `http_error` | for status `0` (connection lost), `408`, `425`, `429`, `502`, `503`, `504` |
    /// | `serialization_error` | no: the same bytes give the same mismatch |
    /// | `circuit_open` | no: the breaker, not a retry, decides when to try again |
    pub fn is_transient(&self) -> bool {
        match self {
            NetworkError::Timeout { .. }
            | NetworkError::ConnectionRefused { .. }
            | NetworkError::DnsFailure { .. } => true,
            NetworkError::HttpError { status, .. } => {
                matches!(status, 0 | 408 | 425 | 429 | 502 | 503 | 504)
            }
            NetworkError::SerializationError { .. } | NetworkError::CircuitOpen { .. } => false,
        }
    }

    /// Whether the server may have received (and acted on) the request, which matters before
    /// replaying a call that is not idempotent.
    ///
    /// | variant | may have reached the server |
    /// |---|---|
    /// | `timeout` | yes (also for a connect timeout: the variant cannot tell, so it errs safe) |
    /// | `http_error` | yes: the server answered, or the connection broke mid-exchange |
    /// | `serialization_error` | yes: a response that did not match was received (a request refused before sending is not transient, so it is never replayed either) |
    /// | `connection_refused`, `dns_failure`, `circuit_open` | no: nothing was sent |
    pub fn may_have_reached_server(&self) -> bool {
        match self {
            NetworkError::Timeout { .. }
            | NetworkError::HttpError { .. }
            | NetworkError::SerializationError { .. } => true,
            NetworkError::ConnectionRefused { .. }
            | NetworkError::DnsFailure { .. }
            | NetworkError::CircuitOpen { .. } => false,
        }
    }
}

impl fmt::Display for NetworkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetworkError::Timeout { service, ms } => {
                write!(f, "{service}: no response within {ms} ms")
            }
            NetworkError::ConnectionRefused { service, host } => {
                write!(f, "{service}: could not connect to {host}")
            }
            NetworkError::HttpError {
                service,
                status: 0,
                body,
            } => write!(f, "{service}: connection lost before a response: {body}"),
            NetworkError::HttpError {
                service,
                status,
                body,
            } => {
                write!(f, "{service}: HTTP status {status}")?;
                if !body.is_empty() {
                    write!(f, ": {body}")?;
                }
                Ok(())
            }
            NetworkError::DnsFailure { service, domain } => {
                write!(f, "{service}: could not resolve {domain}")
            }
            NetworkError::SerializationError { service, message } => {
                write!(f, "{service}: {message}")
            }
            NetworkError::CircuitOpen { service } => {
                write!(f, "{service}: circuit open, call not sent")
            }
        }
    }
}

impl std::error::Error for NetworkError {}

fn prop(name: &str, node: Node) -> Property {
    Property {
        name: name.to_owned(),
        aliases: Vec::new(),
        required: true,
        node,
    }
}

fn variant(name: &str, fields: Vec<Property>) -> Variant {
    Variant {
        name: name.to_owned(),
        aliases: Vec::new(),
        node: Some(Node::Object(Object {
            properties: fields,
            strict: false,
            flatten: Vec::new(),
        })),
    }
}

impl Schema for NetworkError {
    fn describe(defs: &mut Defs) -> Node {
        defs.named::<NetworkError>(Self::type_name(), |_| {
            let service = || prop("service", Node::String);
            Node::DUnion(DUnion {
                tagging: Tagging::Internal {
                    tag: "type".to_owned(),
                },
                variants: vec![
                    variant(
                        "timeout",
                        vec![service(), prop("ms", Node::Number(NumberKind::U64))],
                    ),
                    variant(
                        "connection_refused",
                        vec![service(), prop("host", Node::String)],
                    ),
                    variant(
                        "http_error",
                        vec![
                            service(),
                            prop("status", Node::Number(NumberKind::U16)),
                            prop("body", Node::String),
                        ],
                    ),
                    variant("dns_failure", vec![service(), prop("domain", Node::String)]),
                    variant(
                        "serialization_error",
                        vec![service(), prop("message", Node::String)],
                    ),
                    variant("circuit_open", vec![service()]),
                ],
                strict: false,
            })
        })
    }

    fn type_name() -> Cow<'static, str> {
        Cow::Borrowed("NetworkError")
    }
}

/// The error type of a port method: a domain error that can also hold a [`NetworkError`].
///
/// `#[lfts(network)]` on an enum variant wrapping `NetworkError` derives it; `#[lfts(status =
/// 409)]` on a variant sets [`status`](RemoteError::status) and
/// [`from_status`](RemoteError::from_status).
///
/// ```
/// use lfts::{NetworkError, RemoteError};
///
/// #[derive(Debug)]
/// enum GetUserError {
///     NotFound,
///     Network(NetworkError),
/// }
///
/// impl From<NetworkError> for GetUserError {
///     fn from(e: NetworkError) -> Self {
///         GetUserError::Network(e)
///     }
/// }
///
/// impl RemoteError for GetUserError {
///     fn network(&self) -> Option<&NetworkError> {
///         match self {
///             GetUserError::Network(e) => Some(e),
///             GetUserError::NotFound => None,
///         }
///     }
///     fn status(&self) -> u16 {
///         match self {
///             GetUserError::NotFound => 404,
///             GetUserError::Network(e) => e.status(),
///         }
///     }
///     fn from_status(status: u16) -> Option<Self> {
///         (status == 404).then_some(GetUserError::NotFound)
///     }
/// }
///
/// assert_eq!(GetUserError::NotFound.status(), 404);
/// assert!(GetUserError::NotFound.network().is_none());
/// ```
pub trait RemoteError: From<NetworkError> + Sized {
    /// The network failure this value holds, if it is one; `None` for a domain error.
    fn network(&self) -> Option<&NetworkError>;

    /// The HTTP status a server sends with this error value (422 unless the variant says
    /// otherwise).
    fn status(&self) -> u16 {
        422
    }

    /// The error value a bare status stands for, for REST APIs that answer an error with a
    /// status and a body that is not this type's JSON (a unit variant with
    /// `#[lfts(status = 409)]`). `None` leaves the status to become
    /// [`NetworkError::HttpError`].
    fn from_status(status: u16) -> Option<Self> {
        let _ = status;
        None
    }

    /// The error value a status and a JSON body that is not this type's JSON stand for: for a
    /// REST API that answers `404 {"id": "u1"}` where the variant is `#[lfts(status = 404)]
    /// NotFound { id: String }`, the body supplies the variant's fields. `#[lfts(status)]` on
    /// a variant with fields derives it; the default is [`from_status`](RemoteError::from_status).
    /// A variant read this way is validated like any error body, and is never the network one.
    fn from_status_body(status: u16, body: &serde_json::Value) -> Option<Self> {
        let _ = body;
        Self::from_status(status)
    }
}

impl RemoteError for NetworkError {
    fn network(&self) -> Option<&NetworkError> {
        Some(self)
    }

    /// `504` for a timeout, `503` for an open circuit, `502` (bad gateway) for the others:
    /// a server that answers with a network error is a gateway whose upstream failed.
    fn status(&self) -> u16 {
        match self {
            NetworkError::Timeout { .. } => 504,
            NetworkError::CircuitOpen { .. } => 503,
            _ => 502,
        }
    }
}
