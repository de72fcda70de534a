//! The port runtime end to end: what `#[lfts::port]` would generate for two tiny ports, written
//! by hand, against real axum servers on 127.0.0.1.

use std::borrow::Cow;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::extract::{Path as AxumPath, RawQuery};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use lfts::Context;
use lfts::context::TraceContext;
use lfts::http::{Client, HttpConfig, PortRouter, ServerHandle};
use lfts::port::{HttpMapping, HttpMethod, MethodInfo, MethodPart, Port, PortDescriptor};
use lfts::resilience::{Identity, Layer, LayerExt, Layered, Stack};
use lfts::schema::{Defs, Node, NumberKind, Object, Property, Refinement, Tagging, Variant};
use lfts::{NetworkError, Path, RemoteError, Schema, ValidationErrors};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Hand-written schemas

fn prop(name: &str, node: Node) -> Property {
    Property {
        name: name.to_owned(),
        aliases: Vec::new(),
        required: true,
        node,
    }
}

fn object(properties: Vec<Property>) -> Node {
    Node::Object(Object {
        properties,
        strict: false,
        flatten: Vec::new(),
    })
}

/// `greet(name: String)`; the name must not be empty.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct GreetArgs {
    name: String,
}

impl Schema for GreetArgs {
    fn describe(_: &mut Defs) -> Node {
        object(vec![prop(
            "name",
            Node::String.refine(Refinement::MinLength(1)),
        )])
    }
    fn check(&self, errors: &mut ValidationErrors, path: &mut Path) {
        if self.name.is_empty() {
            path.push_key("name");
            errors.add(
                path,
                "string (min length 1)",
                "\"\"",
                "name must not be empty",
            );
            path.pop();
        }
    }
}

/// `slow(ms: u64)`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SlowArgs {
    ms: u64,
}

impl Schema for SlowArgs {
    fn describe(_: &mut Defs) -> Node {
        object(vec![prop("ms", Node::Number(NumberKind::U64))])
    }
}

/// Arguments of a method without parameters.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct NoArgs {}

impl Schema for NoArgs {
    fn describe(_: &mut Defs) -> Node {
        object(Vec::new())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Greeting {
    message: String,
}

impl Schema for Greeting {
    fn describe(defs: &mut Defs) -> Node {
        defs.named::<Greeting>(Cow::Borrowed("Greeting"), |_| {
            object(vec![prop("message", Node::String)])
        })
    }
    fn type_name() -> Cow<'static, str> {
        Cow::Borrowed("Greeting")
    }
}

/// The error of every `Greeter` method: externally tagged, as serde does by default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum GreetError {
    Banned { reason: String },
    Busy,
    Network(NetworkError),
}

impl Schema for GreetError {
    fn describe(defs: &mut Defs) -> Node {
        defs.named::<GreetError>(Cow::Borrowed("GreetError"), |defs| {
            Node::DUnion(lfts::schema::DUnion {
                tagging: Tagging::External,
                variants: vec![
                    Variant {
                        name: "Banned".into(),
                        aliases: Vec::new(),
                        node: Some(object(vec![prop("reason", Node::String)])),
                    },
                    Variant {
                        name: "Busy".into(),
                        aliases: Vec::new(),
                        node: None,
                    },
                    Variant {
                        name: "Network".into(),
                        aliases: Vec::new(),
                        node: Some(NetworkError::describe(defs)),
                    },
                ],
                strict: false,
            })
        })
    }
    fn type_name() -> Cow<'static, str> {
        Cow::Borrowed("GreetError")
    }
}

impl From<NetworkError> for GreetError {
    fn from(e: NetworkError) -> Self {
        GreetError::Network(e)
    }
}

impl RemoteError for GreetError {
    fn network(&self) -> Option<&NetworkError> {
        match self {
            GreetError::Network(e) => Some(e),
            _ => None,
        }
    }
    fn status(&self) -> u16 {
        match self {
            GreetError::Busy => 409,
            GreetError::Network(e) => e.status(),
            GreetError::Banned { .. } => 422,
        }
    }
    fn from_status(status: u16) -> Option<Self> {
        (status == 409).then_some(GreetError::Busy)
    }
}

impl GreetError {
    fn network_error(self) -> NetworkError {
        match self {
            GreetError::Network(e) => e,
            other => panic!("expected a network error, got {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The `Greeter` port, as `#[lfts::port]` would generate it

trait Greeter: Send + Sync {
    fn greet(&self, name: String) -> impl Future<Output = Result<Greeting, GreetError>> + Send;
    fn slow(&self, ms: u64) -> impl Future<Output = Result<Greeting, GreetError>> + Send;
    fn boom(&self) -> impl Future<Output = Result<Greeting, GreetError>> + Send;
    fn trace(&self) -> impl Future<Output = Result<String, GreetError>> + Send;
}

static GREET: MethodInfo = MethodInfo {
    port: "Greeter",
    name: "greet",
    params: &["name"],
    idempotent: false,
    http: None,
};
static SLOW: MethodInfo = MethodInfo {
    port: "Greeter",
    name: "slow",
    params: &["ms"],
    idempotent: true,
    http: None,
};
static BOOM: MethodInfo = MethodInfo {
    port: "Greeter",
    name: "boom",
    params: &[],
    idempotent: true,
    http: None,
};
static TRACE: MethodInfo = MethodInfo {
    port: "Greeter",
    name: "trace",
    params: &[],
    idempotent: true,
    http: None,
};

fn greeter_descriptor() -> &'static PortDescriptor {
    static D: OnceLock<PortDescriptor> = OnceLock::new();
    D.get_or_init(|| {
        PortDescriptor::builder("Greeter")
            .method::<GreetArgs, Greeting, GreetError>(&GREET)
            .method::<SlowArgs, Greeting, GreetError>(&SLOW)
            .method::<NoArgs, Greeting, GreetError>(&BOOM)
            .method::<NoArgs, String, GreetError>(&TRACE)
            .build()
    })
}

#[derive(Debug, Clone)]
struct GreeterClient {
    transport: Client,
}

impl GreeterClient {
    fn new(config: impl Into<HttpConfig>) -> GreeterClient {
        GreeterClient {
            transport: Client::with_config(config)
                .unwrap()
                .with_port(greeter_descriptor()),
        }
    }
}

impl Port for GreeterClient {
    const NAME: &'static str = "Greeter";
    fn descriptor() -> &'static PortDescriptor {
        greeter_descriptor()
    }
}

impl Greeter for GreeterClient {
    fn greet(&self, name: String) -> impl Future<Output = Result<Greeting, GreetError>> + Send {
        let args = GreetArgs { name };
        async move { self.transport.call(&GREET, &args).await }
    }
    fn slow(&self, ms: u64) -> impl Future<Output = Result<Greeting, GreetError>> + Send {
        let args = SlowArgs { ms };
        async move { self.transport.call(&SLOW, &args).await }
    }
    async fn boom(&self) -> Result<Greeting, GreetError> {
        self.transport.call(&BOOM, &NoArgs {}).await
    }
    async fn trace(&self) -> Result<String, GreetError> {
        self.transport.call(&TRACE, &NoArgs {}).await
    }
}

impl<P: Greeter, L: Layer> Greeter for Layered<P, L> {
    fn greet(&self, name: String) -> impl Future<Output = Result<Greeting, GreetError>> + Send {
        let inner = self.inner();
        Layer::call(self.policy(), &GREET, move || inner.greet(name.clone()))
    }
    fn slow(&self, ms: u64) -> impl Future<Output = Result<Greeting, GreetError>> + Send {
        let inner = self.inner();
        Layer::call(self.policy(), &SLOW, move || inner.slow(ms))
    }
    fn boom(&self) -> impl Future<Output = Result<Greeting, GreetError>> + Send {
        let inner = self.inner();
        self.call_layer(&BOOM, move || inner.boom())
    }
    fn trace(&self) -> impl Future<Output = Result<String, GreetError>> + Send {
        let inner = self.inner();
        self.call_layer(&TRACE, move || inner.trace())
    }
}

/// The in-process implementation.
#[derive(Default)]
struct Impl {
    calls: AtomicUsize,
}

impl Greeter for Impl {
    async fn greet(&self, name: String) -> Result<Greeting, GreetError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match name.as_str() {
            "Mallory" => Err(GreetError::Banned {
                reason: "known troublemaker".into(),
            }),
            "busy" => Err(GreetError::Busy),
            _ => Ok(Greeting {
                message: format!("Hello, {name}!"),
            }),
        }
    }
    async fn slow(&self, ms: u64) -> Result<Greeting, GreetError> {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        Ok(Greeting {
            message: "finally".into(),
        })
    }
    async fn boom(&self) -> Result<Greeting, GreetError> {
        panic!("the implementation panicked on purpose")
    }
    async fn trace(&self) -> Result<String, GreetError> {
        Ok(Context::current()
            .trace()
            .map(|c| c.trace_id())
            .unwrap_or_default())
    }
}

/// What `GreeterServer::new(service).port_router()` would build.
fn greeter_router(service: Arc<Impl>) -> PortRouter {
    let s1 = Arc::clone(&service);
    let s2 = Arc::clone(&service);
    let s3 = Arc::clone(&service);
    let s4 = service;
    PortRouter::new(greeter_descriptor())
        .method::<GreetArgs, Greeting, GreetError, _, _>(&GREET, move |args: GreetArgs| {
            let s = Arc::clone(&s1);
            async move { s.greet(args.name).await }
        })
        .method::<SlowArgs, Greeting, GreetError, _, _>(&SLOW, move |args: SlowArgs| {
            let s = Arc::clone(&s2);
            async move { s.slow(args.ms).await }
        })
        .method::<NoArgs, Greeting, GreetError, _, _>(&BOOM, move |_: NoArgs| {
            let s = Arc::clone(&s3);
            async move { s.boom().await }
        })
        .method::<NoArgs, String, GreetError, _, _>(&TRACE, move |_: NoArgs| {
            let s = Arc::clone(&s4);
            async move { s.trace().await }
        })
}

struct Fixture {
    server: ServerHandle,
    service: Arc<Impl>,
    client: GreeterClient,
}

async fn greeter_server() -> Fixture {
    let service = Arc::new(Impl::default());
    let router = greeter_router(Arc::clone(&service))
        .body_limit(4096)
        .into_router();
    let server = lfts::http::serve(router, "127.0.0.1:0").await.unwrap();
    let client = GreeterClient::new(server.url().as_str());
    Fixture {
        server,
        service,
        client,
    }
}

async fn json_body(response: reqwest::Response) -> Value {
    let bytes = response.bytes().await.unwrap();
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

async fn raw_post(url: &str, content_type: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = json_body(response).await;
    (status, body)
}

// ---------------------------------------------------------------------------------------------
// Default protocol

#[tokio::test]
async fn success_domain_errors_and_statuses() {
    let f = greeter_server().await;
    let hello = f.client.greet("Ada".into()).await.unwrap();
    assert_eq!(hello.message, "Hello, Ada!");

    let banned = f.client.greet("Mallory".into()).await.unwrap_err();
    assert_eq!(
        banned,
        GreetError::Banned {
            reason: "known troublemaker".into()
        }
    );
    assert_eq!(
        f.client.greet("busy".into()).await.unwrap_err(),
        GreetError::Busy
    );

    let url = format!("{}/Greeter/greet", f.server.url());
    let (status, body) = raw_post(&url, "application/json", r#"{"name":"Mallory"}"#).await;
    assert_eq!(status, 422);
    assert_eq!(body, json!({"Banned": {"reason": "known troublemaker"}}));
    let (status, body) = raw_post(&url, "application/json", r#"{"name":"busy"}"#).await;
    assert_eq!(status, 409);
    assert_eq!(body, json!("Busy"));
    f.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn refinement_failure_is_caught_before_sending() {
    let f = greeter_server().await;
    let err = f
        .client
        .greet(String::new())
        .await
        .unwrap_err()
        .network_error();
    match &err {
        NetworkError::SerializationError { service, message } => {
            assert_eq!(service, "Greeter");
            assert!(message.contains("/name"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(!err.is_transient());
    assert_eq!(f.service.calls.load(Ordering::SeqCst), 0);

    // Against no server at all: still a serialization error, so nothing was dialled.
    let nowhere = GreeterClient::new(format!("http://{}", closed_port_addr()).as_str());
    assert!(matches!(
        nowhere
            .greet(String::new())
            .await
            .unwrap_err()
            .network_error(),
        NetworkError::SerializationError { .. }
    ));
}

#[tokio::test]
async fn server_rejects_bad_requests_with_json() {
    let f = greeter_server().await;
    let base = f.server.url();
    let greet = format!("{base}/Greeter/greet");

    // Arguments of the wrong type.
    let (status, body) = raw_post(&greet, "application/json", r#"{"name": 5}"#).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_arguments");
    assert!(
        !body["errors"]["errors"].as_array().unwrap().is_empty(),
        "{body}"
    );

    // Arguments that fail a refinement, checked on the server too.
    let (status, body) = raw_post(&greet, "application/json", r#"{"name": ""}"#).await;
    assert_eq!(status, 400);
    assert_eq!(body["errors"]["errors"][0]["path"], "/name");

    // A body that is not an object.
    let (status, body) = raw_post(&greet, "application/json", "[1]").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_arguments"))
    );

    // Unknown method, unknown port, wrong HTTP method.
    let (status, body) = raw_post(&format!("{base}/Greeter/nope"), "application/json", "{}").await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));
    let (status, body) = raw_post(&format!("{base}/Nope"), "application/json", "{}").await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));
    let response = reqwest::get(&greet).await.unwrap();
    assert_eq!(response.status().as_u16(), 405);
    assert_eq!(json_body(response).await["error"], "method_not_allowed");

    // Oversized body (the fixture's limit is 4 KiB).
    let big = format!(r#"{{"name": "{}"}}"#, "x".repeat(10_000));
    let (status, body) = raw_post(&greet, "application/json", big).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (413, Some("payload_too_large"))
    );

    // Wrong content type, and no content type with a body.
    let (status, body) = raw_post(&greet, "text/plain", r#"{"name":"Ada"}"#).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (415, Some("unsupported_media_type"))
    );
    let response = reqwest::Client::new()
        .post(&greet)
        .body(r#"{"name":"Ada"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 415);
    // A JSON content type with parameters is fine.
    let (status, _) = raw_post(
        &greet,
        "application/json; charset=utf-8",
        r#"{"name":"Ada"}"#,
    )
    .await;
    assert_eq!(status, 200);

    // Malformed JSON.
    let (status, body) = raw_post(&greet, "application/json", r#"{"name": "#).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("malformed_json"))
    );

    // Nesting deeper than serde_json's limit of 128.
    let deep = format!(r#"{{"name": {}{}}}"#, "[".repeat(200), "]".repeat(200));
    let (status, body) = raw_post(&greet, "application/json", deep).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("malformed_json"))
    );

    assert_eq!(f.service.calls.load(Ordering::SeqCst), 1);
    f.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_panicking_handler_is_a_500_and_the_server_keeps_serving() {
    let f = greeter_server().await;
    let (status, body) = raw_post(
        &format!("{}/Greeter/boom", f.server.url()),
        "application/json",
        "{}",
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (500, Some("internal")));

    // Through the client, a 500 that is not a `GreetError` is an http_error.
    match f.client.boom().await.unwrap_err().network_error() {
        NetworkError::HttpError { status, body, .. } => {
            assert_eq!(status, 500);
            assert!(body.contains("internal"), "{body}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        f.client.greet("Ada".into()).await.unwrap().message,
        "Hello, Ada!"
    );
    f.server.shutdown().await.unwrap();
}

/// An address where nothing listens: bind, read the port, close.
fn closed_port_addr() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    addr
}

#[tokio::test]
async fn connection_refused() {
    let addr = closed_port_addr();
    let client = GreeterClient::new(format!("http://{addr}").as_str());
    let err = client
        .greet("Ada".into())
        .await
        .unwrap_err()
        .network_error();
    assert_eq!(
        err,
        NetworkError::ConnectionRefused {
            service: "Greeter".into(),
            host: addr.to_string(),
        }
    );
    assert!(err.is_transient());
    assert!(!err.may_have_reached_server());
}

#[tokio::test(start_paused = true)]
async fn timeout_on_a_paused_clock() {
    let f = greeter_server().await;
    let client =
        GreeterClient::new(HttpConfig::new(f.server.url()).timeout(Duration::from_millis(200)));
    let started = tokio::time::Instant::now();
    let err = client.slow(60_000).await.unwrap_err().network_error();
    assert_eq!(
        err,
        NetworkError::Timeout {
            service: "Greeter".into(),
            ms: 200
        }
    );
    assert!(started.elapsed() < Duration::from_secs(60));
    // The handler is still sleeping on the server: do not wait for a graceful shutdown.
    drop(f);
}

#[tokio::test]
async fn trace_context_flows_from_client_to_handler() {
    let f = greeter_server().await;
    let ctx = TraceContext::new_root();
    let seen = Context::new()
        .with_trace(ctx)
        .scope(f.client.trace())
        .await
        .unwrap();
    assert_eq!(seen, ctx.trace_id());
    // Outside a context, each call starts a new trace.
    let a = f.client.trace().await.unwrap();
    let b = f.client.trace().await.unwrap();
    assert_eq!(a.len(), 32);
    assert_ne!(a, b);
    f.server.shutdown().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// Odd servers: answers the client must survive

#[derive(Default, Clone)]
struct Seen(Arc<Mutex<Vec<HeaderMap>>>);

async fn odd_server(seen: Seen) -> ServerHandle {
    let big = "ü".repeat(5000);
    let router = Router::new()
        .route(
            "/Greeter/greet",
            post(move |headers: HeaderMap| {
                let seen = seen.clone();
                async move {
                    seen.0.lock().unwrap().push(headers);
                    Json(json!({"message": "hi"}))
                }
            }),
        )
        // 200, but not a `Greeting`.
        .route("/Greeter/slow", post(|| async { Json(json!({"msg": 1})) }))
        // 500 with a large body that is not JSON.
        .route(
            "/Greeter/boom",
            post(move || {
                let big = big.clone();
                async move { (StatusCode::INTERNAL_SERVER_ERROR, big) }
            }),
        )
        // 503 whose body is `GreetError`'s network variant: a forged failure.
        .route(
            "/Greeter/trace",
            post(|| async {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Json(json!({"Network": {"type": "circuit_open", "service": "Upstream"}})),
                )
            }),
        );
    lfts::http::serve(router, "127.0.0.1:0").await.unwrap()
}

#[tokio::test]
async fn responses_that_do_not_match() {
    let seen = Seen::default();
    let server = odd_server(seen.clone()).await;
    let client = GreeterClient::new(HttpConfig::new(server.url()).max_error_body(100));

    match client.slow(1).await.unwrap_err().network_error() {
        NetworkError::SerializationError { message, .. } => {
            assert!(message.contains("Greeting"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }

    match client.boom().await.unwrap_err().network_error() {
        NetworkError::HttpError { status, body, .. } => {
            assert_eq!(status, 500);
            assert!(body.len() <= 100 && body.len() >= 98, "{}", body.len());
            assert!(body.chars().all(|c| c == 'ü'));
        }
        other => panic!("unexpected {other:?}"),
    }

    // An error body that validates as `E`'s network variant is a forged network failure: only
    // this process makes `NetworkError`s, so it is a serialization error, never `circuit_open`.
    match client.trace().await.unwrap_err().network_error() {
        NetworkError::SerializationError { service, message } => {
            assert_eq!(service, "Greeter");
            assert!(message.contains("network error"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn request_headers() {
    let seen = Seen::default();
    let server = odd_server(seen.clone()).await;
    let client = GreeterClient::new(
        HttpConfig::new(server.url())
            .bearer_auth("t0ken")
            .header("x-tenant", "acme"),
    );
    client.greet("Ada".into()).await.unwrap();
    Context::new()
        .with_idempotency_key("key-1")
        .scope(client.greet("Ada".into()))
        .await
        .unwrap();

    let seen = seen.0.lock().unwrap().clone();
    let (first, second) = (&seen[0], &seen[1]);
    assert_eq!(first["content-type"], "application/json");
    assert_eq!(first["authorization"], "Bearer t0ken");
    assert_eq!(first["x-tenant"], "acme");
    assert_eq!(
        first["x-lfts-fingerprint"],
        greeter_descriptor().fingerprint()
    );
    let trace = first["traceparent"].to_str().unwrap();
    assert!(TraceContext::parse(trace).is_some(), "{trace}");
    // `greet` is not idempotent: a key only when one is set for the task.
    assert!(first.get("idempotency-key").is_none());
    assert_eq!(second["idempotency-key"], "key-1");
    server.shutdown().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// Descriptor and contract

#[tokio::test]
async fn descriptor_and_contract_check() {
    let f = greeter_server().await;
    let published = f
        .client
        .transport
        .fetch_descriptor("Greeter")
        .await
        .unwrap();
    assert_eq!(published, greeter_descriptor().to_json());
    assert_eq!(published["port"], "Greeter");
    assert_eq!(published["fingerprint"], greeter_descriptor().fingerprint());
    assert_eq!(published["bytecode"]["root"][0], 34, "a PORT root");
    assert!(published["jsonSchema"].is_object());
    assert_eq!(published["methods"][0]["name"], "greet");
    assert_eq!(published["methods"][0]["params"], json!(["name"]));

    let report = f
        .client
        .transport
        .check_contract(greeter_descriptor())
        .await
        .unwrap();
    assert!(report.matches, "{}", report.diff);

    // A client built from another version of the port sees what differs.
    static GREET_V2: MethodInfo = MethodInfo {
        port: "Greeter",
        name: "greet",
        params: &["ms"],
        idempotent: true,
        http: None,
    };
    static WAVE: MethodInfo = MethodInfo {
        port: "Greeter",
        name: "wave",
        params: &[],
        idempotent: true,
        http: None,
    };
    let v2 = PortDescriptor::builder("Greeter")
        .method::<SlowArgs, String, GreetError>(&GREET_V2)
        .method::<NoArgs, Greeting, GreetError>(&SLOW)
        .method::<NoArgs, Greeting, GreetError>(&WAVE)
        .build();
    let report = f.client.transport.check_contract(&v2).await.unwrap();
    assert!(!report.matches);
    let diff = &report.diff;
    assert_eq!(diff.missing_remote, vec!["wave".to_owned()]);
    assert_eq!(
        diff.missing_local,
        vec!["boom".to_owned(), "trace".to_owned()]
    );
    let greet = diff.changed.iter().find(|c| c.method == "greet").unwrap();
    assert_eq!(
        greet.parts,
        vec![
            MethodPart::Params,
            MethodPart::Args,
            MethodPart::Ok,
            MethodPart::Idempotent
        ]
    );
    let slow = diff.changed.iter().find(|c| c.method == "slow").unwrap();
    assert_eq!(slow.parts, vec![MethodPart::Args]);
    assert!(
        diff.to_string()
            .contains("wave: missing on the remote side")
    );

    // The port tree holds every method with its parameters.
    match greeter_descriptor().type_object().root() {
        Node::Port(port) => {
            assert_eq!(port.name, "Greeter");
            assert_eq!(port.methods.len(), 4);
            assert_eq!(port.methods[0].params[0].0, "name");
        }
        other => panic!("unexpected {other:?}"),
    }
    f.server.shutdown().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// Layers

/// Counts calls and attempts, and retries a transient network failure once.
#[derive(Default)]
struct RetryOnce {
    calls: AtomicUsize,
    attempts: Arc<AtomicUsize>,
}

impl Layer for RetryOnce {
    fn call<'a, T, E, F, Fut>(
        &'a self,
        _method: &'static MethodInfo,
        mut call: F,
    ) -> impl Future<Output = Result<T, E>> + Send + 'a
    where
        T: Send + 'a,
        E: RemoteError + Send + 'a,
        F: FnMut() -> Fut + Send + 'a,
        Fut: Future<Output = Result<T, E>> + Send + 'a,
    {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let attempts = Arc::clone(&self.attempts);
        async move {
            attempts.fetch_add(1, Ordering::SeqCst);
            match call().await {
                Err(e) if e.network().is_some_and(NetworkError::is_transient) => {
                    attempts.fetch_add(1, Ordering::SeqCst);
                    call().await
                }
                other => other,
            }
        }
    }
}

#[tokio::test]
async fn layers_wrap_any_implementation() {
    // In process, through Identity.
    let local = Impl::default().layer(Identity);
    assert_eq!(
        local.greet("Ada".into()).await.unwrap().message,
        "Hello, Ada!"
    );
    assert_eq!(local.inner().calls.load(Ordering::SeqCst), 1);

    // Over HTTP, a domain error passes through once; a network failure is retried.
    let f = greeter_server().await;
    let client = f.client.clone().layer(RetryOnce::default());
    assert_eq!(
        client.greet("Mallory".into()).await.unwrap_err(),
        GreetError::Banned {
            reason: "known troublemaker".into()
        }
    );
    assert_eq!(Layered::policy(&client).attempts.load(Ordering::SeqCst), 1);

    let down = GreeterClient::new(format!("http://{}", closed_port_addr()).as_str())
        .layer(RetryOnce::default())
        .layer(Identity);
    let err = down.greet("Ada".into()).await.unwrap_err().network_error();
    assert!(matches!(err, NetworkError::ConnectionRefused { .. }));
    let retry = down.inner().policy();
    assert_eq!(retry.calls.load(Ordering::SeqCst), 1);
    assert_eq!(retry.attempts.load(Ordering::SeqCst), 2);

    // A stack of two retrying layers: every outer attempt runs through the inner layer.
    let stacked = Impl::default().layer(Stack::new(RetryOnce::default(), RetryOnce::default()));
    assert!(stacked.greet("Ada".into()).await.is_ok());
    let down = GreeterClient::new(format!("http://{}", closed_port_addr()).as_str())
        .layer(Stack::new(RetryOnce::default(), RetryOnce::default()));
    assert!(down.greet("Ada".into()).await.is_err());
    let stack = Layered::policy(&down);
    assert_eq!(stack.outer().attempts.load(Ordering::SeqCst), 2);
    assert_eq!(stack.inner().calls.load(Ordering::SeqCst), 2);
    assert_eq!(stack.inner().attempts.load(Ordering::SeqCst), 4);
    f.server.shutdown().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// REST mapping

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct User {
    id: u64,
    name: String,
    verbose: bool,
}

impl Schema for User {
    fn describe(defs: &mut Defs) -> Node {
        defs.named::<User>(Cow::Borrowed("User"), |_| {
            object(vec![
                prop("id", Node::Number(NumberKind::U64)),
                prop("name", Node::String),
                prop("verbose", Node::Boolean),
            ])
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum UserError {
    NotFound,
    Conflict,
    Network(NetworkError),
}

impl Schema for UserError {
    fn describe(defs: &mut Defs) -> Node {
        defs.named::<UserError>(Cow::Borrowed("UserError"), |defs| {
            let unit = |name: &str| Variant {
                name: name.into(),
                aliases: Vec::new(),
                node: None,
            };
            Node::DUnion(lfts::schema::DUnion {
                tagging: Tagging::External,
                variants: vec![
                    unit("NotFound"),
                    unit("Conflict"),
                    Variant {
                        name: "Network".into(),
                        aliases: Vec::new(),
                        node: Some(NetworkError::describe(defs)),
                    },
                ],
                strict: false,
            })
        })
    }
}

impl From<NetworkError> for UserError {
    fn from(e: NetworkError) -> Self {
        UserError::Network(e)
    }
}

impl RemoteError for UserError {
    fn network(&self) -> Option<&NetworkError> {
        match self {
            UserError::Network(e) => Some(e),
            _ => None,
        }
    }
    fn status(&self) -> u16 {
        match self {
            UserError::NotFound => 404,
            UserError::Conflict => 409,
            UserError::Network(e) => e.status(),
        }
    }
    fn from_status(status: u16) -> Option<Self> {
        match status {
            404 => Some(UserError::NotFound),
            409 => Some(UserError::Conflict),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct GetUserArgs {
    id: u64,
    verbose: bool,
    tags: Vec<String>,
}

impl Schema for GetUserArgs {
    fn describe(_: &mut Defs) -> Node {
        object(vec![
            prop("id", Node::Number(NumberKind::U64)),
            prop("verbose", Node::Boolean),
            prop("tags", Node::Array(Box::new(Node::String))),
        ])
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CreateUserArgs {
    name: String,
    team: String,
}

impl Schema for CreateUserArgs {
    fn describe(_: &mut Defs) -> Node {
        object(vec![prop("name", Node::String), prop("team", Node::String)])
    }
}

static GET_USER: MethodInfo = MethodInfo {
    port: "Users",
    name: "get_user",
    params: &["id", "verbose", "tags"],
    idempotent: true,
    http: Some(HttpMapping {
        method: HttpMethod::Get,
        path: "/users/{id}",
        body: None,
    }),
};
static CREATE_USER: MethodInfo = MethodInfo {
    port: "Users",
    name: "create_user",
    params: &["name", "team"],
    idempotent: false,
    http: Some(HttpMapping {
        method: HttpMethod::Post,
        path: "/teams/{team}/users",
        body: None,
    }),
};

fn users_descriptor() -> &'static PortDescriptor {
    static D: OnceLock<PortDescriptor> = OnceLock::new();
    D.get_or_init(|| {
        PortDescriptor::builder("Users")
            .method::<GetUserArgs, User, UserError>(&GET_USER)
            .method::<CreateUserArgs, User, UserError>(&CREATE_USER)
            .build()
    })
}

async fn get_user(
    client: &Client,
    id: u64,
    verbose: bool,
    tags: Vec<String>,
) -> Result<User, UserError> {
    client
        .call(&GET_USER, &GetUserArgs { id, verbose, tags })
        .await
}

async fn create_user(client: &Client, name: &str, team: &str) -> Result<User, UserError> {
    let args = CreateUserArgs {
        name: name.into(),
        team: team.into(),
    };
    client.call(&CREATE_USER, &args).await
}

#[derive(Deserialize)]
struct CreateBody {
    name: String,
}

#[tokio::test]
async fn rest_mapping_against_a_plain_axum_server() {
    // A REST API that knows nothing of lfts.
    let router = Router::new()
        .route(
            "/api/users/{id}",
            get(
                |AxumPath(id): AxumPath<u64>, RawQuery(q): RawQuery| async move {
                    if id == 404 {
                        return Err(StatusCode::NOT_FOUND);
                    }
                    let verbose = q.as_deref() == Some("verbose=true");
                    Ok(Json(json!({"id": id, "name": "Ada", "verbose": verbose})))
                },
            ),
        )
        .route(
            "/api/teams/{team}/users",
            post(
                |AxumPath(team): AxumPath<String>, Json(body): Json<CreateBody>| async move {
                    if body.name == "taken" {
                        return Err((StatusCode::CONFLICT, "name already taken".to_owned()));
                    }
                    Ok((
                        StatusCode::CREATED,
                        Json(json!({"id": team.len(), "name": body.name, "verbose": false})),
                    ))
                },
            ),
        );
    let server = lfts::http::serve(router, "127.0.0.1:0").await.unwrap();
    let client = Client::new(format!("{}/api/", server.url())).unwrap();

    let user = get_user(&client, 7, true, Vec::new()).await.unwrap();
    assert_eq!(
        user,
        User {
            id: 7,
            name: "Ada".into(),
            verbose: true
        }
    );
    assert_eq!(
        get_user(&client, 404, false, Vec::new()).await.unwrap_err(),
        UserError::NotFound
    );

    let created = create_user(&client, "Grace", "core team").await.unwrap();
    assert_eq!(created.name, "Grace");
    assert_eq!(created.id, "core team".len() as u64);
    assert_eq!(
        create_user(&client, "taken", "core").await.unwrap_err(),
        UserError::Conflict
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn rest_mapping_served_by_a_port_router() {
    let router = PortRouter::new(users_descriptor())
        .method::<GetUserArgs, User, UserError, _, _>(&GET_USER, |args: GetUserArgs| async move {
            if args.id == 404 {
                return Err(UserError::NotFound);
            }
            Ok(User {
                id: args.id,
                name: args.tags.join(","),
                verbose: args.verbose,
            })
        })
        .method::<CreateUserArgs, User, UserError, _, _>(
            &CREATE_USER,
            |args: CreateUserArgs| async move {
                if args.name == "taken" {
                    return Err(UserError::Conflict);
                }
                Ok(User {
                    id: 1,
                    name: format!("{}@{}", args.name, args.team),
                    verbose: false,
                })
            },
        )
        .into_router();
    let server = lfts::http::serve(router, "127.0.0.1:0").await.unwrap();
    let client = Client::new(server.url())
        .unwrap()
        .with_port(users_descriptor());

    // Path and query strings come back as the numbers, booleans and arrays the schema says.
    let user = get_user(&client, 9, true, vec!["a".into(), "b c".into()])
        .await
        .unwrap();
    assert_eq!(
        user,
        User {
            id: 9,
            name: "a,b c".into(),
            verbose: true
        }
    );
    // An empty array leaves no query key; the server restores it.
    assert_eq!(
        get_user(&client, 9, false, Vec::new()).await.unwrap().name,
        ""
    );
    assert_eq!(
        get_user(&client, 404, false, Vec::new()).await.unwrap_err(),
        UserError::NotFound
    );
    let created = create_user(&client, "Grace", "core/team").await.unwrap();
    assert_eq!(created.name, "Grace@core/team");
    assert_eq!(
        create_user(&client, "taken", "x").await.unwrap_err(),
        UserError::Conflict
    );

    // A path parameter that is not a number is a 400 with the validation errors.
    let response = reqwest::get(format!("{}/users/abc?verbose=true", server.url()))
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let body = json_body(response).await;
    assert_eq!(body["error"], "invalid_arguments");

    // The descriptor is published under the port's name.
    let published = client.fetch_descriptor("Users").await.unwrap();
    assert_eq!(
        published["methods"][0]["http"],
        json!({"method": "GET", "path": "/users/{id}"})
    );
    server.shutdown().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// NetworkError

#[test]
fn network_error_wire_form_and_schema() {
    let all = [
        NetworkError::Timeout {
            service: "S".into(),
            ms: 5,
        },
        NetworkError::ConnectionRefused {
            service: "S".into(),
            host: "h:1".into(),
        },
        NetworkError::HttpError {
            service: "S".into(),
            status: 503,
            body: "b".into(),
        },
        NetworkError::DnsFailure {
            service: "S".into(),
            domain: "d".into(),
        },
        NetworkError::SerializationError {
            service: "S".into(),
            message: "m".into(),
        },
        NetworkError::CircuitOpen {
            service: "S".into(),
        },
    ];
    let kinds: Vec<Value> = all
        .iter()
        .map(|e| serde_json::to_value(e).unwrap()["type"].clone())
        .collect();
    assert_eq!(
        kinds,
        [
            "timeout",
            "connection_refused",
            "http_error",
            "dns_failure",
            "serialization_error",
            "circuit_open"
        ]
    );
    for e in &all {
        let json = serde_json::to_value(e).unwrap();
        assert_eq!(&lfts::validate::<NetworkError>(&json).unwrap(), e);
        assert_eq!(e.service(), "S");
        assert_eq!(json["type"], e.kind());
        assert!(!e.to_string().is_empty());
    }
    let transient: Vec<bool> = all.iter().map(NetworkError::is_transient).collect();
    assert_eq!(transient, [true, true, true, true, false, false]);
    let reached: Vec<bool> = all
        .iter()
        .map(NetworkError::may_have_reached_server)
        .collect();
    assert_eq!(reached, [true, false, true, false, true, false]);
    match NetworkError::schema().root() {
        Node::Ref(_) => {}
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn several_ports_share_one_router() {
    let users = PortRouter::new(users_descriptor())
        .method::<GetUserArgs, User, UserError, _, _>(&GET_USER, |args: GetUserArgs| async move {
            Ok(User {
                id: args.id,
                name: "Ada".into(),
                verbose: args.verbose,
            })
        })
        .into_routes();
    let greeter = greeter_router(Arc::new(Impl::default())).into_routes();
    let app = lfts::http::json_fallback(greeter.merge(users));
    let server = lfts::http::serve(app, "127.0.0.1:0").await.unwrap();

    let client = GreeterClient::new(server.url().as_str());
    assert_eq!(
        client.greet("Ada".into()).await.unwrap().message,
        "Hello, Ada!"
    );
    let users = Client::new(server.url()).unwrap();
    assert_eq!(get_user(&users, 3, false, Vec::new()).await.unwrap().id, 3);

    // The server answers with its own fingerprint, so a caller can detect drift.
    let response = reqwest::Client::new()
        .post(format!("{}/Greeter/greet", server.url()))
        .header("content-type", "application/json")
        .body(r#"{"name":"Ada"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["x-lfts-fingerprint"],
        greeter_descriptor().fingerprint()
    );
    let response = reqwest::get(format!("{}/nowhere", server.url()))
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
    assert_eq!(json_body(response).await["error"], "not_found");
    server.shutdown().await.unwrap();
}
