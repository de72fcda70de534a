//! The reqwest transport every generated `{Trait}Client` wraps.

use std::error::Error as StdError;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Response, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::wire;
use super::{ConfigError, HttpConfig};
use crate::context::{Context, TraceContext, new_idempotency_key};
use crate::port::{
    ContractReport, HttpMethod, MethodInfo, NetworkError, PortDescriptor, RemoteError,
};
use crate::schema::Schema;

/// The HTTP transport of a port client: a base URL, a `reqwest::Client`, default headers,
/// timeouts and bounds. Cheap to clone (shared inside).
///
/// Generated clients call [`Client::call`] once per method; it can be used by hand too:
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use lfts::http::Client;
/// use lfts::port::MethodInfo;
///
/// #[derive(serde::Serialize)]
/// struct PingArgs {}
/// # impl lfts::Schema for PingArgs {
/// #     fn describe(_: &mut lfts::schema::Defs) -> lfts::schema::Node {
/// #         lfts::schema::Node::Object(Default::default())
/// #     }
/// # }
/// static PING: MethodInfo = MethodInfo {
///     port: "Health", name: "ping", params: &[], idempotent: true, http: None,
/// };
///
/// let client = Client::new("http://127.0.0.1:8080")?;
/// let pong: String = client.call::<_, String, lfts::NetworkError>(&PING, &PingArgs {}).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
    port: Option<&'static PortDescriptor>,
}

struct Inner {
    base: Url,
    http: reqwest::Client,
    headers: HeaderMap,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    max_error_body: usize,
    max_response_body: usize,
    /// Whether `http` resolves names through [`Resolver`], so a DNS failure is recognisable by
    /// type.
    own_resolver: bool,
}

impl Client {
    /// A client for the service at `base_url`, with the default configuration.
    pub fn new(base_url: impl AsRef<str>) -> Result<Client, ConfigError> {
        Client::with_config(HttpConfig::new(base_url.as_ref()))
    }

    /// A client from a full configuration.
    pub fn with_config(config: impl Into<HttpConfig>) -> Result<Client, ConfigError> {
        let config = config.into();
        let base = Url::parse(&config.base_url).map_err(|e| ConfigError::InvalidUrl {
            url: config.base_url.clone(),
            reason: e.to_string(),
        })?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(ConfigError::InvalidUrl {
                url: config.base_url.clone(),
                reason: "the scheme must be http or https".to_owned(),
            });
        }
        let mut headers = HeaderMap::new();
        for (name, value, sensitive) in &config.headers {
            let bad = || ConfigError::InvalidHeader { name: name.clone() };
            let header_name = HeaderName::try_from(name.as_str()).map_err(|_| bad())?;
            let mut header_value = HeaderValue::try_from(value.as_str()).map_err(|_| bad())?;
            header_value.set_sensitive(*sensitive);
            headers.append(header_name, header_value);
        }
        let (http, own_resolver) = match config.client {
            Some(shared) => (shared, false),
            None => {
                let mut builder = reqwest::Client::builder()
                    .dns_resolver(Arc::new(Resolver))
                    .redirect(redirect_policy(config.redirects))
                    .referer(false);
                if let Some(t) = config.connect_timeout {
                    builder = builder.connect_timeout(t);
                }
                let http = builder.build().map_err(|e| ConfigError::Client {
                    message: e.to_string(),
                })?;
                (http, true)
            }
        };
        Ok(Client {
            inner: Arc::new(Inner {
                base,
                http,
                headers,
                timeout: config.timeout,
                connect_timeout: config.connect_timeout,
                max_error_body: config.max_error_body,
                max_response_body: config.max_response_body,
                own_resolver,
            }),
            port: None,
        })
    }

    /// The same client, sending `descriptor`'s fingerprint (`x-lfts-fingerprint`) on calls to
    /// that port. Generated clients set it.
    pub fn with_port(mut self, descriptor: &'static PortDescriptor) -> Client {
        self.port = Some(descriptor);
        self
    }

    /// The base URL calls are made under.
    pub fn base_url(&self) -> &Url {
        &self.inner.base
    }

    /// The per-call timeout.
    pub fn timeout(&self) -> Option<Duration> {
        self.inner.timeout
    }

    /// Calls `method` with the arguments object `args` and decodes the answer.
    ///
    /// 1. The arguments' refinements are checked ([`crate::check`]); a failure is a
    ///    [`NetworkError::SerializationError`] and nothing is sent.
    /// 2. The request follows the wire protocol (see [`crate::http`]), with what the current
    ///    [`Context`] holds: `traceparent` (a child of its trace, or a new trace),
    ///    `x-lfts-timeout-ms` (what is left of its deadline; a call whose deadline has passed
    ///    is a [`NetworkError::Timeout`] and is not sent), and its outgoing idempotency key
    ///    (for an idempotent method without one, a fresh key); plus `x-lfts-fingerprint` (after
    ///    [`with_port`](Client::with_port)).
    /// 3. A 2xx body (empty reads as `null`) is validated against `T`'s schema, then decoded;
    ///    a mismatch is a `SerializationError`.
    /// 4. Any other status: a protocol error (marked [`x-lfts-error`](super::PROTOCOL_ERROR))
    ///    is [`NetworkError::HttpError`]; else a JSON body that validates as `E` is returned as
    ///    `Err(E)` (unless it is `E`'s network variant: a forged failure is a
    ///    `SerializationError`); else [`E::from_status_body`](RemoteError::from_status_body),
    ///    if it gives a value; else `HttpError` with the body cut to the configured bound.
    ///
    /// Transport failures map by type, never by message: a timeout is `Timeout` (with the
    /// per-call timeout, or the connect timeout if connecting timed out); a connect failure
    /// whose cause chain holds a name-resolution error is `DnsFailure` (see
    /// [`Client::with_config`] for how it is recognised), any other connect failure
    /// `ConnectionRefused` with the dialled `host:port`; a connection lost after it was
    /// established is `HttpError` with status `0`.
    ///
    /// Name resolution: a client built here resolves names through its own resolver, whose
    /// failures carry a private error type, so a DNS failure is recognised by that type. With
    /// a shared `reqwest::Client` the resolver is reqwest's; then a connect failure to a host
    /// name whose cause is an `io::Error` without an OS error code (what `getaddrinfo`
    /// failures are; socket errors always carry one) and that is not a timeout counts as a DNS
    /// failure.
    pub async fn call<A, T, E>(&self, method: &'static MethodInfo, args: &A) -> Result<T, E>
    where
        A: Serialize + Schema + ?Sized,
        T: DeserializeOwned + Schema + 'static,
        E: DeserializeOwned + Schema + RemoteError + 'static,
    {
        let service = method.port;
        if let Err(errors) = crate::check(args) {
            return Err(E::from(serialization(
                service,
                format!("the arguments of {method} fail their constraints: {errors}"),
            )));
        }
        let args = match serde_json::to_value(args) {
            Ok(Value::Object(map)) => map,
            Ok(Value::Null) => Map::new(),
            Ok(other) => {
                return Err(E::from(serialization(
                    service,
                    format!(
                        "the arguments of {method} must serialize to a JSON object, not {}",
                        wire::json_kind(&other)
                    ),
                )));
            }
            Err(e) => {
                return Err(E::from(serialization(
                    service,
                    format!("the arguments of {method} cannot be serialized: {e}"),
                )));
            }
        };
        let target = wire::target(&self.inner.base, method, args)
            .map_err(|message| E::from(serialization(service, message)))?;

        let mut headers = self.inner.headers.clone();
        if let Some(port) = self.port
            && port.name() == method.port
            && let Ok(v) = HeaderValue::try_from(port.fingerprint())
        {
            headers.insert(wire::FINGERPRINT, v);
        }
        let context = Context::current();
        let key = match context.outgoing_idempotency_key() {
            Some(key) => HeaderValue::try_from(key).ok(),
            None if method.idempotent => HeaderValue::try_from(new_idempotency_key()).ok(),
            None => None,
        };
        if let Some(key) = key {
            headers.insert(wire::IDEMPOTENCY_KEY, key);
        }
        if let Some(remaining) = context.remaining() {
            if remaining.is_zero() {
                return Err(E::from(NetworkError::Timeout {
                    service: service.to_owned(),
                    ms: 0,
                }));
            }
            let ms = u64::try_from(remaining.as_millis())
                .unwrap_or(u64::MAX)
                .max(1);
            headers.insert(wire::TIMEOUT_MS, HeaderValue::from(ms));
        }
        let body = match &target.body {
            Some(body) => Some(serde_json::to_vec(body).map_err(|e| {
                E::from(serialization(
                    service,
                    format!("the arguments of {method} cannot be serialized: {e}"),
                ))
            })?),
            None => None,
        };

        let response = self
            .send(
                service,
                method.http_method(),
                target.url,
                headers,
                body,
                context.trace(),
            )
            .await
            .map_err(E::from)?;
        let status = response.status().as_u16();
        let protocol_error = response.headers().contains_key(wire::PROTOCOL_ERROR);
        let limit = if response.status().is_success() {
            self.inner.max_response_body
        } else {
            self.inner
                .max_response_body
                .min(self.inner.max_error_body.max(64 * 1024))
        };
        let (bytes, complete) = self
            .read_body(service, response, limit)
            .await
            .map_err(E::from)?;

        if (200..300).contains(&status) {
            if !complete {
                return Err(E::from(serialization(
                    service,
                    format!("the response to {method} exceeds {limit} bytes"),
                )));
            }
            decode_ok::<T>(service, method, &bytes).map_err(E::from)
        } else if protocol_error {
            Err(E::from(self.http_error(service, status, bytes)))
        } else {
            Err(self.decode_err::<E>(service, status, bytes, complete))
        }
    }

    /// Fetches the descriptor the server publishes for `port` (`GET {base}/{port}`).
    pub async fn fetch_descriptor(&self, port: &str) -> Result<Value, NetworkError> {
        let mut url = self.inner.base.clone();
        url.path_segments_mut()
            .map_err(|()| serialization(port, "the base URL cannot take a path".to_owned()))?
            .pop_if_empty()
            .push(port);
        let response = self
            .send(
                port,
                HttpMethod::Get,
                url,
                self.inner.headers.clone(),
                None,
                Context::current().trace(),
            )
            .await?;
        let status = response.status();
        let limit = self.inner.max_response_body;
        let (bytes, complete) = self.read_body(port, response, limit).await?;
        if !status.is_success() {
            return Err(self.http_error(port, status.as_u16(), bytes));
        }
        if !complete {
            return Err(serialization(
                port,
                format!("the descriptor exceeds {limit} bytes"),
            ));
        }
        crate::validate::parse_value(&bytes)
            .map_err(|e| serialization(port, format!("the descriptor is not JSON: {e}")))
    }

    /// Compares `local` with the descriptor the server publishes for the same port.
    pub async fn check_contract(
        &self,
        local: &PortDescriptor,
    ) -> Result<ContractReport, NetworkError> {
        let remote = self.fetch_descriptor(local.name()).await?;
        let diff = local.diff(&remote);
        Ok(ContractReport {
            matches: diff.is_empty() && diff.fingerprints_match(),
            diff,
        })
    }

    async fn send(
        &self,
        service: &str,
        method: HttpMethod,
        url: Url,
        mut headers: HeaderMap,
        body: Option<Vec<u8>>,
        trace: Option<TraceContext>,
    ) -> Result<Response, NetworkError> {
        let trace = trace
            .map(|c| c.child())
            .unwrap_or_else(TraceContext::new_root);
        if let Ok(v) = HeaderValue::try_from(trace.to_string()) {
            headers.insert(wire::TRACEPARENT, v);
        }
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let mut request = self.inner.http.request(reqwest_method(method), url);
        if let Some(body) = body {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            request = request.body(body);
        }
        request = request.headers(headers);
        if let Some(t) = self.inner.timeout {
            request = request.timeout(t);
        }
        tracing::debug!(service, method = method.as_str(), trace_id = %trace.trace_id(), "lfts call");
        request
            .send()
            .await
            .map_err(|e| self.map_error(&e, service))
    }

    /// Reads up to `limit` bytes of the body; `false` when there was more.
    async fn read_body(
        &self,
        service: &str,
        mut response: Response,
        limit: usize,
    ) -> Result<(Vec<u8>, bool), NetworkError> {
        if response
            .content_length()
            .is_some_and(|n| n > u64::try_from(limit).unwrap_or(u64::MAX))
        {
            return Ok((Vec::new(), false));
        }
        let mut bytes = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let room = limit - bytes.len();
                    if chunk.len() > room {
                        bytes.extend_from_slice(&chunk[..room]);
                        return Ok((bytes, false));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok((bytes, true)),
                Err(e) => return Err(self.read_error(&e, service, response.url())),
            }
        }
    }

    fn decode_err<E>(&self, service: &str, status: u16, bytes: Vec<u8>, complete: bool) -> E
    where
        E: DeserializeOwned + Schema + RemoteError + 'static,
    {
        // Only an error status can carry a domain error; a 1xx or 3xx is the transport's.
        let error_status = (400..600).contains(&status);
        let value = if error_status && complete {
            crate::validate::parse_value_within(&bytes, explain_budget(bytes.len())).ok()
        } else {
            None
        };
        if let Some(value) = &value
            && let Ok(e) = crate::validate::<E>(value)
        {
            if e.network().is_some() {
                // Only this process's transport and layers make a `NetworkError`: a peer that
                // sends one is forging (or forwarding) a failure the caller did not have.
                return E::from(serialization(
                    service,
                    format!(
                        "the service answered status {status} with a network error as its \
                         domain error; network errors are made only by the caller"
                    ),
                ));
            }
            return e;
        }
        let from_status = match &value {
            Some(body) => E::from_status_body(status, body),
            None if error_status => E::from_status(status),
            None => None,
        };
        if let Some(e) = from_status {
            return e;
        }
        E::from(self.http_error(service, status, bytes))
    }

    /// [`NetworkError::HttpError`] with the body cut to the configured bound.
    fn http_error(&self, service: &str, status: u16, bytes: Vec<u8>) -> NetworkError {
        let mut body = match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        wire::truncate_at_char_boundary(&mut body, self.inner.max_error_body);
        NetworkError::HttpError {
            service: service.to_owned(),
            status,
            body,
        }
    }

    /// A failure while reading a response body: as [`map_error`](Client::map_error), except
    /// that a connect failure cannot happen any more, so no domain is reported.
    fn read_error(&self, e: &reqwest::Error, service: &str, url: &Url) -> NetworkError {
        self.map_error_with(e, service, host_port(url), None)
    }

    /// A failure of a request. Every URL this client dials is its base URL with another path
    /// and query, so the host, port and domain reported are the base URL's; they are built
    /// here, on failure, rather than on every call.
    fn map_error(&self, e: &reqwest::Error, service: &str) -> NetworkError {
        let base = &self.inner.base;
        self.map_error_with(
            e,
            service,
            host_port(base),
            base.domain().map(str::to_owned),
        )
    }

    fn map_error_with(
        &self,
        e: &reqwest::Error,
        service: &str,
        host: String,
        domain: Option<String>,
    ) -> NetworkError {
        let service = service.to_owned();
        if e.is_timeout() {
            let limit = if e.is_connect() {
                self.inner.connect_timeout.or(self.inner.timeout)
            } else {
                self.inner.timeout
            };
            let ms = limit.map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
            return NetworkError::Timeout { service, ms };
        }
        if e.is_connect() {
            let mut source: Option<&(dyn StdError + 'static)> = e.source();
            while let Some(err) = source {
                if let Some(dns) = err.downcast_ref::<DnsError>() {
                    return NetworkError::DnsFailure {
                        service,
                        domain: dns.domain.clone(),
                    };
                }
                if let Some(io) = err.downcast_ref::<std::io::Error>() {
                    if io.kind() == std::io::ErrorKind::ConnectionRefused {
                        break;
                    }
                    if !self.inner.own_resolver
                        && io.raw_os_error().is_none()
                        && io.kind() != std::io::ErrorKind::TimedOut
                        && let Some(domain) = domain
                    {
                        return NetworkError::DnsFailure { service, domain };
                    }
                }
                source = err.source();
            }
            return NetworkError::ConnectionRefused { service, host };
        }
        if e.is_builder() {
            return serialization(
                &service,
                format!("the request cannot be built: {}", chain(e)),
            );
        }
        NetworkError::HttpError {
            service,
            status: 0,
            body: chain(e),
        }
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base.as_str())
            .field("timeout", &self.inner.timeout)
            .field("port", &self.port.map(PortDescriptor::name))
            .finish_non_exhaustive()
    }
}

/// Follows at most `max` redirects, each a `307`/`308` to the origin of the request it
/// answers; stops (returning the 3xx) at anything else.
fn redirect_policy(max: usize) -> reqwest::redirect::Policy {
    if max == 0 {
        return reqwest::redirect::Policy::none();
    }
    reqwest::redirect::Policy::custom(move |attempt| {
        let same_origin = attempt
            .previous()
            .last()
            .is_some_and(|previous| previous.origin() == attempt.url().origin());
        let keeps_method = matches!(attempt.status().as_u16(), 307 | 308);
        if attempt.previous().len() > max || !same_origin || !keeps_method {
            attempt.stop()
        } else {
            attempt.follow()
        }
    })
}

fn serialization(service: &str, message: String) -> NetworkError {
    NetworkError::SerializationError {
        service: service.to_owned(),
        message,
    }
}

/// The memory a response's `Value` may take to explain a mismatch: twice the body, and at
/// least 64 KiB so that small bodies always parse.
fn explain_budget(body: usize) -> usize {
    body.saturating_mul(2).max(64 * 1024)
}

fn decode_ok<T>(service: &str, method: &MethodInfo, bytes: &[u8]) -> Result<T, NetworkError>
where
    T: DeserializeOwned + Schema + 'static,
{
    // The fast path, as in `crate::decode`: serde's typed decoder, then the refinements on the
    // typed value. Only when that fails is the body parsed to a `Value` and run through the
    // interpreter, so that a mismatch still reports every error.
    if let Ok(value) = serde_json::from_slice::<T>(bytes)
        && crate::check(&value).is_ok()
    {
        return Ok(value);
    }
    let value: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        crate::validate::parse_value_within(bytes, explain_budget(bytes.len())).map_err(|e| {
            serialization(
                service,
                format!("the response to {method} is not JSON: {e}"),
            )
        })?
    };
    crate::validate::<T>(&value).map_err(|errors| {
        serialization(
            service,
            format!(
                "the response to {method} does not match {}: {errors}",
                T::type_name()
            ),
        )
    })
}

/// An error and its causes, `: `-separated.
fn chain(e: &dyn StdError) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

fn host_port(url: &Url) -> String {
    match (url.host_str(), url.port_or_known_default()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        _ => url.as_str().to_owned(),
    }
}

fn reqwest_method(method: HttpMethod) -> reqwest::Method {
    match method {
        HttpMethod::Get => reqwest::Method::GET,
        HttpMethod::Post => reqwest::Method::POST,
        HttpMethod::Put => reqwest::Method::PUT,
        HttpMethod::Patch => reqwest::Method::PATCH,
        HttpMethod::Delete => reqwest::Method::DELETE,
    }
}

/// The client's resolver: the system's (`getaddrinfo`, through tokio), whose failures carry a
/// [`DnsError`] so that they are told apart from connection failures by type.
struct Resolver;

/// A name did not resolve.
#[derive(Debug)]
struct DnsError {
    domain: String,
    source: Option<std::io::Error>,
}

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "could not resolve {}", self.domain)
    }
}

impl StdError for DnsError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source.as_ref().map(|e| e as _)
    }
}

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let domain = name.as_str().to_owned();
        Box::pin(async move {
            let resolved = tokio::net::lookup_host((domain.as_str(), 0))
                .await
                .map(Iterator::collect::<Vec<SocketAddr>>);
            match resolved {
                Ok(addrs) => {
                    if addrs.is_empty() {
                        Err(Box::new(DnsError {
                            domain,
                            source: None,
                        })
                            as Box<dyn StdError + Send + Sync>)
                    } else {
                        Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
                    }
                }
                Err(e) => Err(Box::new(DnsError {
                    domain,
                    source: Some(e),
                }) as Box<dyn StdError + Send + Sync>),
            }
        })
    }
}
