//! The axum glue every generated `{Trait}Server` uses: [`PortRouter`].

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{self, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, RawPathParams, Request};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, request::Parts};
use axum::response::Response;
use axum::routing::{MethodFilter, MethodRouter};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tracing::Instrument;

use super::DEFAULT_BODY_LIMIT;
use super::idempotency::{self, Begin, Idempotency, IdempotencyStore, MemoryStore, StoredOutcome};
use super::wire;
use crate::context::{Context, TraceContext, instant_after};
use crate::port::{HttpMethod, MethodInfo, NetworkError, PortDescriptor, RemoteError};
use crate::schema::{Node, Schema, TypeObject};
use crate::validate::{ValidationError, ValidationErrors};

type Handler = Arc<dyn Fn(Request, Arc<Route>) -> BoxFuture<'static, Response> + Send + Sync>;

/// The auth hook: the caller's identity from the request headers, or `None` to refuse.
type AuthHook = Arc<dyn Fn(&HeaderMap) -> Option<String> + Send + Sync>;

/// What one route's handler needs besides the request, resolved when the router is built.
struct Route {
    body_limit: usize,
    /// Whether argument keys the method does not know are dropped rather than refused.
    lenient_args: bool,
    /// Deduplication for this method: `None` when it is off or the method is idempotent.
    idempotency: Option<Dedup>,
    auth: Option<AuthHook>,
}

/// An [`Idempotency`] setting with its store resolved.
struct Dedup {
    store: Arc<dyn IdempotencyStore>,
    ttl: Duration,
    lease: Duration,
    wait: Duration,
    max_outcome_bytes: usize,
    /// Keyed calls running at once (their tasks outlive a caller that went away).
    in_flight: Arc<Semaphore>,
}

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
    idempotency: Idempotency,
    method_idempotency: Vec<(&'static str, Idempotency)>,
    auth: Option<AuthHook>,
    publish_descriptor: bool,
    /// `None`: every method strict; `Some(empty)`: every method lenient; else those named.
    lenient_args: Option<Vec<&'static str>>,
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
            .field("idempotency", &self.idempotency)
            .field("method_idempotency", &self.method_idempotency)
            .field("auth", &self.auth.is_some())
            .field("publish_descriptor", &self.publish_descriptor)
            .field("lenient_args", &self.lenient_args)
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
            idempotency: Idempotency::new(),
            method_idempotency: Vec::new(),
            auth: None,
            publish_descriptor: true,
            lenient_args: None,
        }
    }

    /// Accepts, and drops, argument keys the port's methods do not know, instead of answering
    /// `400 invalid_arguments` naming them (the default). For rolling upgrades: a server that
    /// does not know a newer client's new optional argument yet can still serve it. Use it
    /// only when ignoring an argument is safe (a dropped `"dryRun": true` is not).
    pub fn lenient_arguments(mut self) -> PortRouter {
        self.lenient_args = Some(Vec::new());
        self
    }

    /// As [`lenient_arguments`](PortRouter::lenient_arguments), for the method named `method`
    /// only.
    pub fn method_lenient_arguments(mut self, method: &'static str) -> PortRouter {
        match &mut self.lenient_args {
            Some(names) if names.is_empty() => {}
            Some(names) => names.push(method),
            None => self.lenient_args = Some(vec![method]),
        }
        self
    }

    /// Whether `GET /{Port}` answers the port's descriptor (its schemas and fingerprint), which
    /// clients' [`check_contract`](crate::http::Client::check_contract) reads. On by default;
    /// with an [auth hook](PortRouter::authenticate) only authenticated callers get it. Turn it
    /// off where the port's schema is not for every caller to read (it is then `404`).
    pub fn publish_descriptor(mut self, publish: bool) -> PortRouter {
        self.publish_descriptor = publish;
        self
    }

    /// How every method that is not `#[lfts(idempotent)]` honours idempotency keys (on by
    /// default, with a [`MemoryStore`](super::idempotency::MemoryStore) of this router's own;
    /// see [`idempotency`](super::idempotency)).
    pub fn idempotency(mut self, idempotency: Idempotency) -> PortRouter {
        self.idempotency = idempotency;
        self
    }

    /// How the method named `method` (its name in the trait) honours idempotency keys,
    /// instead of the router's setting. A name that is not one of the port's methods changes
    /// nothing.
    pub fn method_idempotency(
        mut self,
        method: &'static str,
        idempotency: Idempotency,
    ) -> PortRouter {
        self.method_idempotency.push((method, idempotency));
        self
    }

    /// Authenticates every call: `hook` reads the request headers and returns the caller's
    /// identity, which the implementation reads with [`Context::caller`] (and which scopes
    /// its idempotency keys), or `None` to answer `401 unauthorized` without running the
    /// method.
    ///
    /// ```
    /// # use lfts::http::PortRouter;
    /// # fn with_auth(router: PortRouter) -> PortRouter {
    /// router.authenticate(|headers| {
    ///     let token = headers.get("authorization")?.to_str().ok()?;
    ///     token.strip_prefix("Bearer user:").map(str::to_owned)
    /// })
    /// # }
    /// ```
    pub fn authenticate<F>(mut self, hook: F) -> PortRouter
    where
        F: Fn(&HeaderMap) -> Option<String> + Send + Sync + 'static,
    {
        self.auth = Some(Arc::new(hook));
        self
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
        let erased: Handler = Arc::new(move |req, route| {
            Box::pin(handle::<Args, T, E, F, Fut>(
                method,
                fingerprint,
                handler.clone(),
                req,
                route,
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
        // One in-memory store for every method of this router that has none of its own.
        let mut default_store: Option<Arc<dyn IdempotencyStore>> = None;
        let in_flight = Arc::new(Semaphore::new(self.idempotency.max_in_flight));
        let mut dedup = |info: &MethodInfo| -> Option<Dedup> {
            let setting = self
                .method_idempotency
                .iter()
                .rev()
                .find(|(name, _)| *name == info.name)
                .map_or(&self.idempotency, |(_, s)| s);
            if info.idempotent || !setting.enabled {
                return None;
            }
            let store = match &setting.store {
                Some(store) => Arc::clone(store),
                None => {
                    Arc::clone(default_store.get_or_insert_with(|| Arc::new(MemoryStore::new())))
                }
            };
            Some(Dedup {
                store,
                ttl: setting.ttl,
                lease: setting.lease,
                wait: setting.wait,
                max_outcome_bytes: setting.max_outcome_bytes,
                in_flight: Arc::clone(&in_flight),
            })
        };
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
            let config = Arc::new(Route {
                body_limit: self.body_limit,
                lenient_args: self
                    .lenient_args
                    .as_ref()
                    .is_some_and(|names| names.is_empty() || names.contains(&info.name)),
                idempotency: dedup(info),
                auth: self.auth.clone(),
            });
            let route = axum::routing::on(method_filter(method), move |req: Request| {
                let handler = Arc::clone(&handler);
                let config = Arc::clone(&config);
                async move { handler(req, config).await }
            });
            add(path, method, route);
        }

        if self.publish_descriptor {
            let descriptor =
                Bytes::from(serde_json::to_vec(self.descriptor.json()).unwrap_or_default());
            let auth = self.auth.clone();
            let describe = axum::routing::get(move |headers: HeaderMap| {
                let body = descriptor.clone();
                let allowed = auth.as_ref().is_none_or(|hook| hook(&headers).is_some());
                async move {
                    if allowed {
                        json_bytes(StatusCode::OK, body)
                    } else {
                        unauthorized()
                    }
                }
            });
            add(format!("/{port}"), HttpMethod::Get, describe);
        }

        let mut router = Router::new();
        for (path, route, _) in paths {
            router = router.route(&path, route);
        }
        router.method_not_allowed_fallback(|method: Method, uri: Uri| async move {
            error_response(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("{} does not accept {method}", echoed_path(&uri)),
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
            format!("no route for {method} {}", echoed_path(&uri)),
        )
    })
}

/// The longest part of a request path an error message repeats.
const MAX_ECHOED_PATH: usize = 128;

/// The request path as an error message repeats it: cut to 128 bytes, so that a client cannot
/// make the server answer with more than a short message.
fn echoed_path(uri: &Uri) -> String {
    let mut path = uri.path().to_owned();
    if path.len() > MAX_ECHOED_PATH {
        wire::truncate_at_char_boundary(&mut path, MAX_ECHOED_PATH);
        path.push('…');
    }
    path
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

/// A protocol error: `{"error": code, "message": …, …extra}`, marked with
/// [`x-lfts-error`](wire::PROTOCOL_ERROR) so that no client maps it to a domain error.
fn protocol_error(status: StatusCode, code: &'static str, body: Value) -> Response {
    let mut response = json_value(status, &body);
    response
        .headers_mut()
        .insert(wire::PROTOCOL_ERROR, HeaderValue::from_static(code));
    response
}

fn error_response(status: StatusCode, code: &'static str, message: impl Into<String>) -> Response {
    protocol_error(
        status,
        code,
        json!({"error": code, "message": message.into()}),
    )
}

fn internal() -> Response {
    error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "the service failed to handle the request",
    )
}

fn unauthorized() -> Response {
    error_response(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "the caller could not be authenticated",
    )
}

fn invalid_arguments(errors: &ValidationErrors) -> Response {
    protocol_error(
        StatusCode::BAD_REQUEST,
        "invalid_arguments",
        json!({
            "error": "invalid_arguments",
            "message": "the arguments do not match the method's parameters",
            "errors": errors,
        }),
    )
}

/// What running a method gave: an answer (status and body), or a panic.
enum Ran {
    Answer(StoredOutcome),
    Panicked,
}

impl Ran {
    fn into_response(self) -> Response {
        match self {
            Ran::Answer(outcome) => outcome_response(&outcome),
            Ran::Panicked => internal(),
        }
    }
}

/// The response for an outcome, fresh or stored.
fn outcome_response(outcome: &StoredOutcome) -> Response {
    let status = StatusCode::from_u16(outcome.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = json_bytes(status, outcome.body.clone());
    if outcome.protocol_error {
        #[derive(serde::Deserialize)]
        struct Code<'a> {
            #[serde(borrow)]
            error: std::borrow::Cow<'a, str>,
        }
        let code = serde_json::from_slice::<Code<'_>>(&outcome.body)
            .ok()
            .and_then(|c| HeaderValue::from_str(&c.error).ok())
            .unwrap_or(HeaderValue::from_static("internal"));
        response.headers_mut().insert(wire::PROTOCOL_ERROR, code);
    }
    response
}

/// An outcome as bytes, for the protocol errors that are stored.
fn protocol_outcome(status: StatusCode, code: &'static str, message: &str) -> StoredOutcome {
    let body = json!({"error": code, "message": message});
    StoredOutcome {
        status: status.as_u16(),
        protocol_error: true,
        body: Bytes::from(serde_json::to_vec(&body).unwrap_or_default()),
    }
}

/// Starts and runs the method and serializes what it answers. A panic in the method is
/// [`Ran::Panicked`] (not recorded); a panic while serializing its answer is a `500` outcome.
async fn run<T, E, Fut>(start: impl FnOnce() -> Fut) -> Ran
where
    T: Serialize,
    E: Serialize + RemoteError,
    Fut: Future<Output = Result<T, E>>,
{
    // The method, with the call that starts it, may panic: then nothing is recorded.
    let Ok(result) = AssertUnwindSafe(async move { start().await })
        .catch_unwind()
        .await
    else {
        tracing::error!("lfts: the handler panicked");
        return Ran::Panicked;
    };
    let (status, serialized) = match &result {
        Ok(value) => (
            StatusCode::OK,
            std::panic::catch_unwind(AssertUnwindSafe(|| serde_json::to_vec(value))),
        ),
        Err(err) if err.network().is_some() => {
            // A service the implementation depends on failed. That failure belongs to this
            // server, not to its caller: answer as a gateway, naming nothing upstream.
            let network = err.network();
            tracing::warn!(error = ?network, "lfts: the implementation failed with a network error");
            let (status, code) = if matches!(network, Some(NetworkError::Timeout { .. })) {
                (StatusCode::GATEWAY_TIMEOUT, "upstream_timeout")
            } else {
                (StatusCode::BAD_GATEWAY, "upstream_unavailable")
            };
            return Ran::Answer(protocol_outcome(
                status,
                code,
                "a service this one depends on failed",
            ));
        }
        Err(err) => (
            StatusCode::from_u16(err.status())
                .ok()
                .filter(|s| s.is_client_error() || s.is_server_error())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            std::panic::catch_unwind(AssertUnwindSafe(|| serde_json::to_vec(err))),
        ),
    };
    match serialized {
        Ok(Ok(body)) => Ran::Answer(StoredOutcome {
            status: status.as_u16(),
            protocol_error: false,
            body: Bytes::from(body),
        }),
        // The method ran (its effects happened) but its answer cannot be written: that is
        // its outcome, recorded like any other, so a replay does not run it again.
        failed => {
            match failed {
                Ok(Err(e)) => tracing::error!(error = %e, "lfts: the answer cannot be serialized"),
                _ => tracing::error!("lfts: serializing the answer panicked"),
            }
            Ran::Answer(protocol_outcome(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the service failed to handle the request",
            ))
        }
    }
}

/// The parts of the context a request carries in its headers; the error is the response.
struct Received {
    key: Option<Arc<str>>,
    deadline: Option<Instant>,
    caller: Option<Arc<str>>,
}

/// The longest deadline a caller can ask for (`x-lfts-timeout-ms`): a day.
const MAX_CALLER_TIMEOUT: Duration = Duration::from_secs(86_400);

fn received(headers: &HeaderMap, route: &Route) -> Result<Received, Box<Response>> {
    let caller = match &route.auth {
        Some(hook) => match hook(headers) {
            Some(caller) => Some(Arc::from(caller)),
            None => return Err(Box::new(unauthorized())),
        },
        None => None,
    };
    let key = match headers.get(wire::IDEMPOTENCY_KEY) {
        None => None,
        Some(v) => match v.to_str() {
            Ok(key) if idempotency::valid_key(key.as_bytes()) => Some(Arc::from(key)),
            _ => {
                return Err(Box::new(error_response(
                    StatusCode::BAD_REQUEST,
                    "invalid_idempotency_key",
                    format!(
                        "an idempotency key is 1 to {} bytes of visible ASCII",
                        idempotency::MAX_KEY_LEN
                    ),
                )));
            }
        },
    };
    let deadline = headers
        .get(wire::TIMEOUT_MS)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|ms| Instant::now() + Duration::from_millis(ms).min(MAX_CALLER_TIMEOUT));
    Ok(Received {
        key,
        deadline,
        caller,
    })
}

async fn handle<Args, T, E, F, Fut>(
    info: &'static MethodInfo,
    fingerprint: &'static str,
    handler: F,
    req: Request,
    route: Arc<Route>,
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
    let mut response = async move {
        let (mut parts, body) = req.into_parts();
        if let Some(caller) = parts.headers.get(wire::FINGERPRINT)
            && caller.as_bytes() != fingerprint.as_bytes()
        {
            tracing::debug!(
                caller = ?caller,
                server = fingerprint,
                "lfts: the caller was built against another version of the port"
            );
        }
        let received = match received(&parts.headers, &route) {
            Ok(received) => received,
            Err(response) => return *response,
        };
        let (args, bytes) = match read_args::<Args>(info, &mut parts, body, &route).await {
            Ok(read) => read,
            Err(response) => return response,
        };
        let dedup = match (&route.idempotency, &received.key) {
            (Some(dedup), Some(key)) => Some((
                dedup,
                match received.caller.as_deref() {
                    Some(caller) => idempotency::digest(&[
                        info.port.as_bytes(),
                        b"caller",
                        caller.as_bytes(),
                        key.as_bytes(),
                    ]),
                    None => {
                        idempotency::digest(&[info.port.as_bytes(), b"anonymous", key.as_bytes()])
                    }
                },
                idempotency::digest(&[
                    info.name.as_bytes(),
                    parts.uri.path().as_bytes(),
                    parts.uri.query().unwrap_or("").as_bytes(),
                    &bytes,
                ]),
            )),
            _ => None,
        };
        let context = Context::received(
            received.key,
            received.deadline,
            trace,
            received.caller,
            std::mem::take(&mut parts.headers),
        );
        match dedup {
            // The caller's deadline bounds the call: past it the handler is dropped. A keyed
            // call is not cancelled: it runs to completion so that its outcome is recorded.
            None => {
                let deadline = context.deadline();
                let call = context.scope(run(move || handler(args)));
                match deadline {
                    Some(deadline) => match tokio::time::timeout_at(deadline, call).await {
                        Ok(ran) => ran.into_response(),
                        Err(_) => error_response(
                            StatusCode::GATEWAY_TIMEOUT,
                            "deadline_exceeded",
                            "the caller's deadline passed before the call completed",
                        ),
                    },
                    None => call.await.into_response(),
                }
            }
            Some((dedup, key, fingerprint)) => {
                exactly_once(dedup, key, fingerprint, context, handler, args).await
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

/// Runs a keyed call at most once: answers a stored outcome, waits for a duplicate in flight,
/// or runs the method in a task of its own (so that it completes and is recorded even if the
/// caller goes away), renewing its lease while it runs, and records what it answered.
async fn exactly_once<Args, T, E, F, Fut>(
    dedup: &Dedup,
    key: String,
    fingerprint: String,
    context: Context,
    handler: F,
    args: Args,
) -> Response
where
    Args: Send + 'static,
    T: Serialize + Send + 'static,
    E: Serialize + RemoteError + Send + 'static,
    F: Fn(Args) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
{
    let store = &dedup.store;
    let token = idempotency::new_token();
    // A duplicate waits at most the configured time, and never past its caller's deadline.
    let now = Instant::now();
    let mut wait_until = instant_after(now, dedup.wait);
    if let Some(deadline) = context.deadline() {
        wait_until = wait_until.min(deadline);
    }
    // Until the task below owns the key, leaving (an error, or this future dropped while a
    // `begin` may have been applied) releases whatever this token took.
    let mut guard = Release {
        store: Some((Arc::clone(store), key.clone(), token.clone())),
    };
    loop {
        match store.begin(&key, &fingerprint, &token, dedup.lease).await {
            Ok(Begin::Started) => break,
            Ok(Begin::Completed(outcome)) => {
                guard.disarm();
                let mut response = outcome_response(&outcome);
                response
                    .headers_mut()
                    .insert(wire::IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
                return response;
            }
            Ok(Begin::Mismatch) => {
                guard.disarm();
                return error_response(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "idempotency_key_reused",
                    "this idempotency key was used with other arguments",
                );
            }
            Ok(Begin::InProgress) => {
                if Instant::now() >= wait_until {
                    guard.disarm();
                    return error_response(
                        StatusCode::CONFLICT,
                        "idempotency_in_progress",
                        "a call with this idempotency key is still in progress",
                    );
                }
                let _ = tokio::time::timeout_at(wait_until, store.changed(&key)).await;
            }
            Err(e) => {
                tracing::error!(error = %e, "lfts: the idempotency store failed; refusing the call");
                return retry_later(
                    "idempotency_store_unavailable",
                    "the call cannot be recorded now; try again later",
                );
            }
        }
    }
    let Ok(permit) = Arc::clone(&dedup.in_flight).try_acquire_owned() else {
        return retry_later(
            "overloaded",
            "too many keyed calls are in progress; try again later",
        );
    };
    guard.disarm();

    let store = Arc::clone(store);
    let (ttl, lease, max_outcome_bytes) = (dedup.ttl, dedup.lease, dedup.max_outcome_bytes);
    // Runs in this request's task (no spawn on the way), and moves to a task of its own only
    // if the request is dropped first (the caller went away), so it still completes.
    let call = Detached::new(
        async move {
            let _permit = permit;
            let call = context.scope(run(move || handler(args)));
            tokio::pin!(call);
            let ran = loop {
                tokio::select! {
                    ran = &mut call => break ran,
                    () = tokio::time::sleep(lease / 3) => {
                        match store.renew(&key, &token, lease).await {
                            Ok(true) => {}
                            Ok(false) => tracing::error!(
                                "lfts: a keyed call lost its key while running; a replay may run it again"
                            ),
                            Err(e) => tracing::warn!(error = %e, "lfts: a keyed call's lease could not be renewed"),
                        }
                    }
                }
            };
            match &ran {
                Ran::Answer(outcome) => {
                    let stored = if outcome.body.len() > max_outcome_bytes {
                        idempotency::NOT_STORED.clone()
                    } else {
                        outcome.clone()
                    };
                    record(store, key, token, stored, ttl, lease).await;
                }
                Ran::Panicked => {
                    if let Err(e) = store.abandon(&key, &token).await {
                        tracing::error!(error = %e, "lfts: a panicked call's key could not be released");
                    }
                }
            }
            ran
        }
        .in_current_span(),
    );
    call.await.into_response()
}

/// A future that finishes even when dropped: polled in place, and on drop before completion
/// handed to the runtime to finish in the background.
struct Detached<F: Future<Output = Ran> + Send + 'static> {
    future: Option<Pin<Box<F>>>,
}

impl<F: Future<Output = Ran> + Send + 'static> Detached<F> {
    fn new(future: F) -> Detached<F> {
        Detached {
            future: Some(Box::pin(future)),
        }
    }
}

impl<F: Future<Output = Ran> + Send + 'static> Future for Detached<F> {
    type Output = Ran;

    fn poll(mut self: Pin<&mut Self>, cx: &mut task::Context<'_>) -> Poll<Ran> {
        let Some(future) = self.future.as_mut() else {
            return Poll::Ready(Ran::Panicked);
        };
        let ran = std::task::ready!(future.as_mut().poll(cx));
        self.future = None;
        Poll::Ready(ran)
    }
}

impl<F: Future<Output = Ran> + Send + 'static> Drop for Detached<F> {
    fn drop(&mut self) {
        if let Some(future) = self.future.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(future);
        }
    }
}

/// Records an outcome; if the store fails, tries again in the background, with a doubling
/// pause, for as long as the lease would hold the key anyway.
async fn record(
    store: Arc<dyn IdempotencyStore>,
    key: String,
    token: String,
    outcome: StoredOutcome,
    ttl: Duration,
    lease: Duration,
) {
    let first = store.complete(&key, &token, outcome.clone(), ttl).await;
    let failed = match first {
        Ok(true) => return,
        Ok(false) => {
            tracing::error!(
                "lfts: a keyed call's outcome came after its key was lost; not recorded"
            );
            return;
        }
        Err(e) => e,
    };
    tracing::warn!(error = %failed, "lfts: the outcome of a keyed call could not be recorded yet");
    tokio::spawn(
        async move {
            let give_up = Instant::now() + lease;
            let mut pause = Duration::from_millis(100);
            while Instant::now() + pause < give_up {
                tokio::time::sleep(pause).await;
                match store.complete(&key, &token, outcome.clone(), ttl).await {
                    Ok(_) => return,
                    Err(_) => pause = pause.saturating_mul(2),
                }
            }
            tracing::error!(
                "lfts: the outcome of a keyed call could not be recorded; its key stays in flight \
                 until its lease ends"
            );
        }
        .in_current_span(),
    );
}

/// Releases a key taken by `begin` unless disarmed (see [`exactly_once`]).
struct Release {
    store: Option<(Arc<dyn IdempotencyStore>, String, String)>,
}

impl Release {
    fn disarm(&mut self) {
        self.store = None;
    }
}

impl Drop for Release {
    fn drop(&mut self) {
        if let Some((store, key, token)) = self.store.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                let _ = store.abandon(&key, &token).await;
            });
        }
    }
}

/// A `503` the caller should retry: a protocol error with `retry-after: 1`.
fn retry_later(code: &'static str, message: &str) -> Response {
    let mut response = error_response(StatusCode::SERVICE_UNAVAILABLE, code, message);
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// Reads, merges, validates and decodes the arguments object of a request; also gives the
/// body bytes read (empty when the arguments travel in the URL).
async fn read_args<Args>(
    info: &MethodInfo,
    parts: &mut Parts,
    body: Body,
    route: &Route,
) -> Result<(Args, Bytes), Response>
where
    Args: DeserializeOwned + Schema + 'static,
{
    let schema = Args::schema();
    let in_query = info.http.is_some_and(|m| m.args_in_query());
    let mut bytes = Bytes::new();
    let mut args = if let Some(name) = info.http.and_then(|m| m.body) {
        // `#[lfts(body)]`: the whole body is that one argument (an empty body is `null`).
        bytes = read_body(parts, body, route.body_limit).await?;
        let value = body_value(parts, &bytes, route.body_limit)
            .map_err(|response| *response)?
            .unwrap_or(Value::Null);
        let mut args = Map::new();
        args.insert(name.to_owned(), value);
        args
    } else if in_query {
        Map::new()
    } else {
        bytes = read_body(parts, body, route.body_limit).await?;
        if info.http.is_none()
            && let Some(args) = decode_typed::<Args>(parts, &bytes)
        {
            return Ok((args, bytes));
        }
        body_object(parts, &bytes, route.body_limit).map_err(|response| *response)?
    };

    if info.http.is_some() {
        let params = RawPathParams::from_request_parts(parts, &())
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
            merge_query(schema, parts, &mut args);
        }
    }

    if route.lenient_args
        && let Node::Object(object) = schema.resolve(schema.root())
    {
        args.retain(|key, _| {
            object
                .properties
                .iter()
                .any(|p| p.name == *key || p.aliases.iter().any(|a| a == key))
        });
    }
    let value = if args.is_empty() && matches!(schema.resolve(schema.root()), Node::Null) {
        Value::Null
    } else {
        Value::Object(args)
    };
    crate::validate::<Args>(&value)
        .and_then(|a| crate::check(&a).map(|()| a))
        .map(|a| (a, bytes))
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
///
/// The parsed arguments may take at most the body limit in memory (at least 64 KiB), so a
/// request holds at most about four times the limit (the body as it arrived, the body, the
/// `Value`): a body whose `Value` would need more is `400 malformed_json`. A valid body takes
/// the typed path and never builds a `Value`, except for REST-mapped methods, whose bodies
/// are merged with path parameters: there a body of very many small values near the limit is
/// refused.
fn body_object(
    parts: &Parts,
    bytes: &[u8],
    limit: usize,
) -> Result<Map<String, Value>, Box<Response>> {
    match body_value(parts, bytes, limit)? {
        None => Ok(Map::new()),
        Some(Value::Object(map)) => Ok(map),
        Some(other) => Err(Box::new(invalid_arguments(&ValidationErrors::single(
            ValidationError::new(
                "",
                "an object of named arguments",
                wire::json_kind(&other),
                "the request body must be a JSON object of the named arguments",
            ),
        )))),
    }
}

/// The JSON of a request body, `None` for an empty one; a non-empty body needs a JSON
/// content type. Bounded in memory as [`body_object`] says.
fn body_value(parts: &Parts, bytes: &[u8], limit: usize) -> Result<Option<Value>, Box<Response>> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    if !parts.headers.contains_key(CONTENT_TYPE) {
        return Err(Box::new(unsupported_media_type()));
    }
    crate::validate::parse_value_within(bytes, limit.max(64 * 1024))
        .map(Some)
        .map_err(|e| {
            Box::new(error_response(
                StatusCode::BAD_REQUEST,
                "malformed_json",
                format!("the request body is not valid JSON: {e}"),
            ))
        })
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_detached_call_finishes_after_its_request_is_dropped() {
        let done = Arc::new(AtomicBool::new(false));
        let call = Detached::new({
            let done = Arc::clone(&done);
            async move {
                tokio::time::sleep(Duration::from_secs(1)).await;
                done.store(true, Ordering::SeqCst);
                Ran::Panicked
            }
        });
        // The request gives up after 10 ms: its future, and the call with it, is dropped.
        assert!(
            tokio::time::timeout(Duration::from_millis(10), call)
                .await
                .is_err()
        );
        assert!(!done.load(Ordering::SeqCst));
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(done.load(Ordering::SeqCst));
    }
}
