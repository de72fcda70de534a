//! HTTP transport: the wire protocol, the reqwest client every generated `{Trait}Client`
//! wraps, and the axum glue every generated `{Trait}Server` uses.
//!
//! # Wire protocol
//! - `POST {base}/{Port}/{method}` with a JSON object of the named arguments; or, for a
//!   method with a REST mapping, its method and path, path parameters by argument name and the
//!   other arguments in the query string (`GET`, `DELETE`) or a JSON body object (with
//!   `#[lfts(body)]` on one argument, that argument's JSON is the whole body and the others go in
//!   the query string).
//! - `200`: JSON of `T`, validated by the client against `T`'s schema (a mismatch is
//!   [`NetworkError::SerializationError`](crate::NetworkError::SerializationError)).
//! - A domain error: its [`RemoteError::status`](crate::RemoteError::status) (422 by default),
//!   body the JSON of `E`.
//! - `400` `{"error": "invalid_arguments", "errors": ValidationErrors}` for arguments that fail
//!   their schema; `400` `malformed_json` for a body that is not JSON (or nests deeper than
//!   128); `404` `not_found`; `405` `method_not_allowed`; `413` `payload_too_large`; `415`
//!   `unsupported_media_type`; `500` `internal` for a panicking handler (the server keeps
//!   serving).
//! - `GET {base}/{Port}`: the [`PortDescriptor`](crate::PortDescriptor) JSON.
//! - Every error lfts itself answers (not one of the port's error type) carries
//!   [`x-lfts-error: {code}`](PROTOCOL_ERROR); a client never maps it to a domain error.
//! - Headers: [`traceparent`](TRACEPARENT), [`idempotency-key`](IDEMPOTENCY_KEY) (on idempotent
//!   methods, or when the [`Context`](crate::Context) has one, as inside a retry layer),
//!   [`x-lfts-timeout-ms`](TIMEOUT_MS) (what is left of the context's deadline),
//!   [`x-lfts-fingerprint`](FINGERPRINT); a replayed answer carries
//!   [`idempotent-replayed: true`](IDEMPOTENT_REPLAYED).

mod client;
pub mod idempotency;
mod serve;
mod server;
mod wire;

use std::fmt;
use std::time::Duration;

pub use crate::port::ContractReport;
/// The router type a port server produces (axum's).
pub use axum::Router;
pub use client::Client;
pub use serve::{
    DEFAULT_BODY_READ_TIMEOUT, DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_CONCURRENT_REQUESTS, DEFAULT_MAX_CONNECTIONS, DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_SHUTDOWN_TIMEOUT, DEFAULT_WRITE_TIMEOUT, ServerConfig, ServerHandle, serve, serve_with,
};
pub use server::{PortRouter, json_fallback};
pub use wire::{
    FINGERPRINT, IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED, PROTOCOL_ERROR, TIMEOUT_MS, TRACEPARENT,
};

/// The default per-call timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The default connect timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The default bound on the body kept in [`NetworkError::HttpError`](crate::NetworkError).
pub const DEFAULT_MAX_ERROR_BODY: usize = 4 * 1024;
/// The default bound on a response body the client reads.
pub const DEFAULT_MAX_RESPONSE_BODY: usize = 16 * 1024 * 1024;
/// The default bound on a request body the server reads.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// How a [`Client`] reaches its service.
///
/// ```
/// use std::time::Duration;
/// use lfts::http::{Client, HttpConfig};
///
/// let config = HttpConfig::new("http://127.0.0.1:8080")
///     .timeout(Duration::from_millis(500))
///     .bearer_auth("s3cret")
///     .header("x-tenant", "acme");
/// let client = Client::with_config(config).unwrap();
/// assert_eq!(client.base_url().as_str(), "http://127.0.0.1:8080/");
/// ```
#[derive(Clone)]
pub struct HttpConfig {
    base_url: String,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    headers: Vec<(String, String, bool)>,
    client: Option<reqwest::Client>,
    max_error_body: usize,
    max_response_body: usize,
    redirects: usize,
}

impl HttpConfig {
    /// A configuration for the service at `base_url` (`http` or `https`; a path is kept, so
    /// `http://host/api` puts calls under `/api/`), with the default timeouts and bounds.
    pub fn new(base_url: impl Into<String>) -> HttpConfig {
        HttpConfig {
            base_url: base_url.into(),
            timeout: Some(DEFAULT_TIMEOUT),
            connect_timeout: Some(DEFAULT_CONNECT_TIMEOUT),
            headers: Vec::new(),
            client: None,
            max_error_body: DEFAULT_MAX_ERROR_BODY,
            max_response_body: DEFAULT_MAX_RESPONSE_BODY,
            redirects: 0,
        }
    }

    /// The timeout of each call, from sending the request to reading the whole response
    /// (default 30 s). It elapses as [`NetworkError::Timeout`](crate::NetworkError::Timeout).
    pub fn timeout(mut self, timeout: Duration) -> HttpConfig {
        self.timeout = Some(timeout);
        self
    }

    /// No per-call timeout (a resilience layer may still bound the call).
    pub fn no_timeout(mut self) -> HttpConfig {
        self.timeout = None;
        self
    }

    /// The timeout for opening a connection (default 10 s). Ignored with a shared
    /// [`client`](HttpConfig::client), whose own setting applies.
    pub fn connect_timeout(mut self, timeout: Duration) -> HttpConfig {
        self.connect_timeout = Some(timeout);
        self
    }

    /// A header sent with every call (such as `authorization`). Checked when the client is
    /// built.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> HttpConfig {
        self.headers.push((name.into(), value.into(), false));
        self
    }

    /// `authorization: Bearer {token}` on every call, marked sensitive (never logged).
    pub fn bearer_auth(mut self, token: impl fmt::Display) -> HttpConfig {
        self.headers
            .push(("authorization".to_owned(), format!("Bearer {token}"), true));
        self
    }

    /// Uses a shared `reqwest::Client` (connection pool, TLS settings) instead of building
    /// one. Its own connect timeout and DNS resolver apply.
    pub fn client(mut self, client: reqwest::Client) -> HttpConfig {
        self.client = Some(client);
        self
    }

    /// The most bytes of an error response body kept in
    /// [`NetworkError::HttpError`](crate::NetworkError::HttpError) (default 4 KiB).
    pub fn max_error_body(mut self, bytes: usize) -> HttpConfig {
        self.max_error_body = bytes;
        self
    }

    /// Follows up to `max` redirects, but only `307` and `308` (which keep the method and the
    /// body) to the same origin (scheme, host and port) as the request; any other redirect is
    /// returned as [`NetworkError::HttpError`](crate::NetworkError::HttpError) with its 3xx
    /// status. By default (`0`) no redirect is followed: arguments and headers (an API key, a
    /// `traceparent`) are never sent anywhere but the configured service. No `Referer` is ever
    /// sent. Ignored with a shared [`client`](HttpConfig::client), whose own policy applies.
    pub fn follow_same_origin_redirects(mut self, max: usize) -> HttpConfig {
        self.redirects = max;
        self
    }

    /// The most bytes of a response body the client reads (default 16 MiB); a larger success
    /// body is a [`NetworkError::SerializationError`](crate::NetworkError::SerializationError).
    pub fn max_response_body(mut self, bytes: usize) -> HttpConfig {
        self.max_response_body = bytes;
        self
    }
}

impl fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpConfig")
            .field("base_url", &self.base_url)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field(
                "headers",
                &self.headers.iter().map(|(n, _, _)| n).collect::<Vec<_>>(),
            )
            .field("shared_client", &self.client.is_some())
            .field("max_error_body", &self.max_error_body)
            .field("max_response_body", &self.max_response_body)
            .field("redirects", &self.redirects)
            .finish()
    }
}

impl From<&str> for HttpConfig {
    fn from(base_url: &str) -> HttpConfig {
        HttpConfig::new(base_url)
    }
}

impl From<String> for HttpConfig {
    fn from(base_url: String) -> HttpConfig {
        HttpConfig::new(base_url)
    }
}

/// A [`Client`] could not be built from its configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// The base URL does not parse, or is not `http`/`https`.
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// A default header has an invalid name or value.
    InvalidHeader {
        /// The header's name as given.
        name: String,
    },
    /// The HTTP client could not be built (TLS backend initialisation).
    Client {
        /// What failed.
        message: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::InvalidUrl { url, reason } => {
                write!(f, "invalid base URL `{url}`: {reason}")
            }
            ConfigError::InvalidHeader { name } => write!(f, "invalid header `{name}`"),
            ConfigError::Client { message } => write!(f, "cannot build the HTTP client: {message}"),
        }
    }
}

impl std::error::Error for ConfigError {}
