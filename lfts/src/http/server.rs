//! The axum glue every generated `{Trait}Server` uses: [`PortRouter`], and [`serve`] for tests
//! and examples.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, RawPathParams, Request};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderValue, Method, StatusCode, Uri, request::Parts};
use axum::response::Response;
use axum::routing::{MethodFilter, MethodRouter};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::Instrument;

use super::DEFAULT_BODY_LIMIT;
use super::wire::{self, TraceContext};
use crate::port::{HttpMethod, MethodInfo, PortDescriptor, RemoteError};
use crate::schema::{Node, Schema, TypeObject};
use crate::validate::{ValidationError, ValidationErrors};

type Handler = Arc<dyn Fn(Request, usize) -> BoxFuture<'static, Response> + Send + Sync>;

/// Builds the `axum::Router` that serves one port.
///
/// Generated `{Trait}Server`s add one handler per method, each a closure over an `Arc` of the
/// implementation:
///
/// ```
/// use lfts::port::{MethodInfo, PortDescriptor};
/// use lfts::http::PortRouter;
/// use std::sync::OnceLock;
///
/// static ECHO: MethodInfo = MethodInfo {
///     port: "Echo", name: "echo", params: &[], idempotent: true, http: None,
/// };
/// fn descriptor() -> &'static PortDescriptor {
///     static D: OnceLock<PortDescriptor> = OnceLock::new();
///     D.get_or_init(|| PortDescriptor::builder("Echo").method::<(), String, lfts::NetworkError>(&ECHO).build())
/// }
///
/// let router: axum::Router = PortRouter::new(descriptor())
///     .method(&ECHO, |(): ()| async { Ok::<_, lfts::NetworkError>("echo".to_owned()) })
///     .body_limit(64 * 1024)
///     .into_router();
/// ```
///
/// Behaviour, per request:
/// - a method's route is `POST /{Port}/{method}`, or its REST mapping's method and path (path
///   parameters and, for `GET`/`DELETE`, the query string are merged into the arguments object,
///   converted to numbers, booleans or JSON where the argument's schema asks for it; an array
///   argument takes every value of a repeated key, and an absent non-optional array is `[]`);
/// - `GET /{Port}` answers the port's descriptor;
/// - a body over the limit (default 1 MiB) is `413`; a non-empty body that is not
///   `application/json` (or `application/*+json`) is `415`; a body that is not JSON, or nests
///   deeper than 128, is `400 malformed_json`; arguments that fail their schema or refinements
///   are `400 invalid_arguments` with the [`ValidationErrors`];
/// - `Ok(t)` is `200` with `t`'s JSON; `Err(e)` is [`e.status()`](RemoteError::status) (a
///   status outside 400..=599 becomes 500) with `e`'s JSON; a panic is `500 internal` and the
///   server keeps serving;
/// - an unknown path is `404 not_found`, a known path with another HTTP method `405
///   method_not_allowed`; every error body is JSON `{"error": code, "message": text}`;
/// - each request runs in a `tracing` span `lfts.request` (port, method, trace id), with the
///   caller's `traceparent` continued (or a new trace), and calls made by the handler through
///   an lfts client continue the same trace.
pub struct PortRouter {
    descriptor: &'static PortDescriptor,
    routes: Vec<(&'static MethodInfo, Handler)>,
    body_limit: usize,
}

impl fmt::Debug for PortRouter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PortRouter")
            .field("port", &self.descriptor.name())
            .field(
                "methods",
                &self.routes.iter().map(|(m, _)| m.name).collect::<Vec<_>>(),
            )
            .field("body_limit", &self.body_limit)
            .finish()
    }
}

impl PortRouter {
    /// A router for the port `descriptor` describes, with no methods yet.
    pub fn new(descriptor: &'static PortDescriptor) -> PortRouter {
        PortRouter {
            descriptor,
            routes: Vec::new(),
            body_limit: DEFAULT_BODY_LIMIT,
        }
    }

    /// The largest request body accepted, in bytes (default 1 MiB); larger is `413`.
    pub fn body_limit(mut self, bytes: usize) -> PortRouter {
        self.body_limit = bytes;
        self
    }

    /// Serves `method` with `handler`, which receives the decoded, validated arguments object.
    pub fn method<Args, T, E, F, Fut>(
        mut self,
        method: &'static MethodInfo,
        handler: F,
    ) -> PortRouter
    where
        Args: DeserializeOwned + Schema + Send + 'static,
        T: Serialize + Send + 'static,
        E: Serialize + RemoteError + Send + 'static,
        F: Fn(Args) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        let fingerprint = self.descriptor.fingerprint();
        let erased: Handler = Arc::new(move |req, limit| {
            Box::pin(handle::<Args, T, E, F, Fut>(
                method,
                fingerprint,
                handler.clone(),
                req,
                limit,
            ))
        });
        self.routes.push((method, erased));
        self
    }

    /// The router: [`into_routes`](PortRouter::into_routes) with the JSON `404` fallback of
    /// [`json_fallback`].
    ///
    /// # Panics
    /// When two methods map to the same HTTP method and path, or to paths axum refuses
    /// (overlapping parameters such as `/users/{id}` and `/users/{name}`): a programming error
    /// that shows on the first start.
    pub fn into_router(self) -> Router {
        json_fallback(self.into_routes())
    }

    /// The port's routes without a fallback, so that several ports merge into one router
    /// (axum refuses to merge two routers that both have a fallback):
    ///
    /// ```ignore
    /// let app = lfts::http::json_fallback(
    ///     UserServiceServer::new(users).port_router().into_routes()
    ///         .merge(BillingServer::new(billing).port_router().into_routes()),
    /// );
    /// ```
    ///
    /// # Panics
    /// As [`into_router`](PortRouter::into_router).
    pub fn into_routes(self) -> Router {
        let port = self.descriptor.name();
        let limit = self.body_limit;
        let mut paths: Vec<(String, MethodRouter, Vec<HttpMethod>)> = Vec::new();
        let mut add = |path: String, method: HttpMethod, route: MethodRouter| match paths
            .iter_mut()
            .find(|(p, ..)| *p == path)
        {
            Some((_, existing, methods)) => {
                assert!(
                    !methods.contains(&method),
                    "lfts: port {port} maps two routes to {method} {path}"
                );
                methods.push(method);
                let merged = std::mem::take(existing).merge(route);
                *existing = merged;
            }
            None => paths.push((path, route, vec![method])),
        };

        for (info, handler) in self.routes {
            let (path, method) = match info.http {
                Some(m) if m.path.starts_with('/') => (m.path.to_owned(), m.method),
                Some(m) => (format!("/{}", m.path), m.method),
                None => (format!("/{port}/{}", info.name), HttpMethod::Post),
            };
            let route = axum::routing::on(method_filter(method), move |req: Request| {
                let handler = Arc::clone(&handler);
                async move { handler(req, limit).await }
            });
            add(path, method, route);
        }

        let descriptor =
            Bytes::from(serde_json::to_vec(self.descriptor.json()).unwrap_or_default());
        let describe = axum::routing::get(move || {
            let body = descriptor.clone();
            async move { json_bytes(StatusCode::OK, body) }
        });
        add(format!("/{port}"), HttpMethod::Get, describe);

        let mut router = Router::new();
        for (path, route, _) in paths {
            router = router.route(&path, route);
        }
        router.method_not_allowed_fallback(|method: Method, uri: Uri| async move {
            error_response(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("{} does not accept {method}", uri.path()),
            )
        })
    }
}

/// Adds the JSON `404` fallback (`{"error": "not_found", "message": …}`) that
/// [`PortRouter::into_router`] has, to a router merged from several ports'
/// [`into_routes`](PortRouter::into_routes).
pub fn json_fallback(router: Router) -> Router {
    router.fallback(|method: Method, uri: Uri| async move {
        error_response(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no route for {method} {}", uri.path()),
        )
    })
}

fn method_filter(method: HttpMethod) -> MethodFilter {
    match method {
        HttpMethod::Get => MethodFilter::GET,
        HttpMethod::Post => MethodFilter::POST,
        HttpMethod::Put => MethodFilter::PUT,
        HttpMethod::Patch => MethodFilter::PATCH,
        HttpMethod::Delete => MethodFilter::DELETE,
    }
}

fn json_bytes(status: StatusCode, body: impl Into<Body>) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn json_value(status: StatusCode, value: &Value) -> Response {
    json_bytes(status, serde_json::to_vec(value).unwrap_or_default())
}

fn error_response(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    json_value(status, &json!({"error": code, "message": message.into()}))
}

fn internal() -> Response {
    error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "the service failed to handle the request",
    )
}

fn invalid_arguments(errors: &ValidationErrors) -> Response {
    json_value(
        StatusCode::BAD_REQUEST,
        &json!({
            "error": "invalid_arguments",
            "message": "the arguments do not match the method's parameters",
            "errors": errors,
        }),
    )
}

async fn handle<Args, T, E, F, Fut>(
    info: &'static MethodInfo,
    fingerprint: &'static str,
    handler: F,
    req: Request,
    limit: usize,
) -> Response
where
    Args: DeserializeOwned + Schema + Send + 'static,
    T: Serialize + Send + 'static,
    E: Serialize + RemoteError + Send + 'static,
    F: Fn(Args) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
{
    let trace = req
        .headers()
        .get(wire::TRACEPARENT)
        .and_then(|v| v.to_str().ok())
        .and_then(TraceContext::parse)
        .map(|c| c.child())
        .unwrap_or_else(TraceContext::new_root);
    let span = tracing::info_span!(
        "lfts.request",
        port = info.port,
        method = info.name,
        trace_id = %trace.trace_id(),
    );
    let caller = req
        .headers()
        .get(wire::FINGERPRINT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut response = async move {
        if let Some(caller) = caller
            && caller != fingerprint
        {
            tracing::debug!(
                caller = %caller,
                server = fingerprint,
                "lfts: the caller was built against another version of the port"
            );
        }
        let args = match read_args::<Args>(info, req, limit).await {
            Ok(args) => args,
            Err(response) => return response,
        };
        let call = AssertUnwindSafe(async move { handler(args).await }).catch_unwind();
        match wire::with_trace_context(trace, call).await {
            Ok(Ok(value)) => match serde_json::to_vec(&value) {
                Ok(body) => json_bytes(StatusCode::OK, body),
                Err(e) => {
                    tracing::error!(error = %e, "lfts: the result cannot be serialized");
                    internal()
                }
            },
            Ok(Err(err)) => {
                let status = StatusCode::from_u16(err.status())
                    .ok()
                    .filter(|s| s.is_client_error() || s.is_server_error())
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                match serde_json::to_vec(&err) {
                    Ok(body) => json_bytes(status, body),
                    Err(e) => {
                        tracing::error!(error = %e, "lfts: the error cannot be serialized");
                        internal()
                    }
                }
            }
            Err(_) => {
                tracing::error!("lfts: the handler panicked");
                internal()
            }
        }
    }
    .instrument(span)
    .await;
    if let Ok(v) = HeaderValue::from_str(fingerprint) {
        response.headers_mut().insert(wire::FINGERPRINT, v);
    }
    response
}

/// Reads, merges, validates and decodes the arguments object of a request.
async fn read_args<Args>(info: &MethodInfo, req: Request, limit: usize) -> Result<Args, Response>
where
    Args: DeserializeOwned + Schema + 'static,
{
    let (mut parts, body) = req.into_parts();
    let schema = Args::schema();
    let in_query = info.http.is_some_and(|m| m.method.args_in_query());
    let mut args = if in_query {
        Map::new()
    } else {
        let bytes = read_body(&parts, body, limit).await?;
        if info.http.is_none()
            && let Some(args) = decode_typed::<Args>(&parts, &bytes)
        {
            return Ok(args);
        }
        body_object(&parts, &bytes).map_err(|response| *response)?
    };

    if info.http.is_some() {
        let params = RawPathParams::from_request_parts(&mut parts, &())
            .await
            .map_err(|rejection| {
                error_response(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    rejection.body_text(),
                )
            })?;
        for (name, text) in &params {
            let node = wire::property_node(schema, name);
            args.insert(name.to_owned(), wire::from_text(schema, node, text));
        }
        if in_query {
            merge_query(schema, &parts, &mut args);
        }
    }

    let value = if args.is_empty() && matches!(schema.resolve(schema.root()), Node::Null) {
        Value::Null
    } else {
        Value::Object(args)
    };
    crate::validate::<Args>(&value)
        .and_then(|a| crate::check(&a).map(|()| a))
        .map_err(|errors| invalid_arguments(&errors))
}

/// The fast path for a default-protocol call (the body is the whole arguments object, nothing
/// is merged into it): serde's typed decoder, then the refinements on the typed value, as in
/// [`crate::decode`]. `None` sends the request down the `Value` and interpreter path, which
/// reports every error; that path also decides every body that is not a JSON object or has no
/// content type.
fn decode_typed<Args>(parts: &Parts, bytes: &[u8]) -> Option<Args>
where
    Args: DeserializeOwned + Schema + 'static,
{
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace())?;
    if *first != b'{' || !parts.headers.contains_key(CONTENT_TYPE) {
        return None;
    }
    let args = serde_json::from_slice::<Args>(bytes).ok()?;
    crate::check(&args).ok()?;
    Some(args)
}

/// Reads the request body, within `limit`, after checking its declared length and content type.
async fn read_body(parts: &Parts, body: Body, limit: usize) -> Result<Bytes, Response> {
    let too_large = || {
        error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body exceeds {limit} bytes"),
        )
    };
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > u64::try_from(limit).unwrap_or(u64::MAX)) {
        return Err(too_large());
    }
    let content_type = parts
        .headers
        .get(CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or(""));
    if content_type.is_some_and(|ct| !wire::is_json_content_type(ct)) {
        return Err(unsupported_media_type());
    }
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        if is_length_limit(&e) {
            too_large()
        } else {
            error_response(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "the request body could not be read",
            )
        }
    })
}

/// The arguments object of a request body: empty for an empty body; a non-empty body needs a
/// JSON content type and must be a JSON object. The error is the response to send.
fn body_object(parts: &Parts, bytes: &[u8]) -> Result<Map<String, Value>, Box<Response>> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    if !parts.headers.contains_key(CONTENT_TYPE) {
        return Err(Box::new(unsupported_media_type()));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(Box::new(invalid_arguments(&ValidationErrors::single(
            ValidationError::new(
                "",
                "an object of named arguments",
                wire::json_kind(&other),
                "the request body must be a JSON object of the named arguments",
            ),
        )))),
        Err(e) => Err(Box::new(error_response(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("the request body is not valid JSON: {e}"),
        ))),
    }
}

fn unsupported_media_type() -> Response {
    error_response(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "the request body must be application/json",
    )
}

fn merge_query(schema: &TypeObject, parts: &Parts, args: &mut Map<String, Value>) {
    let mut grouped: Vec<(String, Vec<String>)> = Vec::new();
    for (key, value) in form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes()) {
        match grouped.iter_mut().find(|(k, _)| *k == key) {
            Some((_, values)) => values.push(value.into_owned()),
            None => grouped.push((key.into_owned(), vec![value.into_owned()])),
        }
    }
    for (key, values) in grouped {
        if args.contains_key(&key) {
            continue;
        }
        let node = wire::property_node(schema, &key);
        args.insert(key, wire::from_query_values(schema, node, &values));
    }
    // An empty array leaves no key behind: restore it.
    if let Node::Object(obj) = schema.resolve(schema.root()) {
        for p in &obj.properties {
            if p.required && !args.contains_key(&p.name) && wire::is_plain_array(schema, &p.node) {
                args.insert(p.name.clone(), Value::Array(Vec::new()));
            }
        }
    }
}

fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = err.source();
    }
    false
}

/// A running server started by [`serve`].
///
/// Dropping the handle shuts the server down gracefully, in the background; [`shutdown`]
/// does the same and waits for it.
///
/// [`shutdown`]: ServerHandle::shutdown
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl ServerHandle {
    /// The address the server listens on (with the port the OS chose for `:0`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://{addr}`, the base URL of a client for this server.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections, lets the requests in flight finish, and waits for the
    /// server to stop.
    pub async fn shutdown(mut self) -> io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.map_err(io::Error::other)?,
            None => Ok(()),
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Serves `router` on `addr` (such as `"127.0.0.1:0"`) in a background task of the current
/// tokio runtime.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let router = axum::Router::new();
/// let server = lfts::http::serve(router, "127.0.0.1:0").await?;
/// assert!(server.url().starts_with("http://127.0.0.1:"));
/// server.shutdown().await
/// # }
/// ```
pub async fn serve(router: Router, addr: impl ToSocketAddrs) -> io::Result<ServerHandle> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
    });
    Ok(ServerHandle {
        addr,
        stop: Some(stop),
        task: Some(task),
    })
}
