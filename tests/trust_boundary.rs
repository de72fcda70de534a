//! The trust boundary, attacked from both sides on loopback: hostile servers against the
//! generated client (redirects, forged network failures, protocol errors dressed as domain
//! errors, duplicate keys) and hostile clients against the generated server.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{any, post};
use lfts::http::{HttpConfig, ServerHandle, serve};
use lfts::resilience::{LayerExt, Retry};
use lfts::{NetworkError, Schema};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
pub struct Item {
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ItemError {
    #[lfts(status = 404)]
    NotFound,
    #[lfts(status = 410)]
    Gone { id: String },
    #[lfts(network)]
    Network { error: NetworkError },
}

/// A value whose `Serialize` panics.
#[derive(Debug, Clone, PartialEq, Deserialize, Schema)]
pub struct Boom {
    pub x: u8,
}

impl Serialize for Boom {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        panic!("Serialize panics on purpose")
    }
}

#[lfts::port]
pub trait Items: Send + Sync {
    async fn put(&self, id: String) -> Result<Item, ItemError>;
    async fn fetch(&self, id: String) -> Result<Item, ItemError>;
    async fn boom(&self) -> Result<Boom, ItemError>;
}

/// An honest implementation whose `fetch` depends on a service that is down.
struct Honest;

impl Items for Honest {
    async fn put(&self, id: String) -> Result<Item, ItemError> {
        Ok(Item { id })
    }
    async fn fetch(&self, id: String) -> Result<Item, ItemError> {
        let error = if id == "slow" {
            NetworkError::Timeout {
                service: "Inventory".into(),
                ms: 250,
            }
        } else {
            NetworkError::HttpError {
                service: "Inventory".into(),
                status: 500,
                body: "db at 10.1.2.3:5432 said: password authentication failed".into(),
            }
        };
        Err(ItemError::Network { error })
    }
    async fn boom(&self) -> Result<Boom, ItemError> {
        Ok(Boom { x: 1 })
    }
}

/// Serves a hand-written (hostile) router, counting requests and recording their headers.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<HeaderMap>>>);

async fn hostile(router: Router) -> ServerHandle {
    serve(router, "127.0.0.1:0").await.unwrap()
}

fn json(status: StatusCode, body: &'static str) -> axum::response::Response {
    (status, [("content-type", "application/json")], body).into_response()
}

fn client(url: &str) -> ItemsClient {
    ItemsClient::with_config(HttpConfig::new(url).header("x-api-key", "s3cret")).unwrap()
}

// ----- client ----------------------------------------------------------------------------------

#[tokio::test]
async fn redirects_to_another_origin_are_never_followed() {
    let elsewhere_seen = Seen::default();
    let elsewhere = hostile(Router::new().fallback(any({
        let seen = elsewhere_seen.clone();
        move |headers: HeaderMap| {
            seen.0.lock().unwrap().push(headers);
            async { json(StatusCode::OK, r#"{"id":"from elsewhere"}"#) }
        }
    })))
    .await;
    let target = format!("{}/steal", elsewhere.url());
    for status in [301u16, 302, 303, 307, 308] {
        let target = target.clone();
        let evil = hostile(Router::new().fallback(any(move || {
            let target = target.clone();
            async move {
                (
                    StatusCode::from_u16(status).unwrap(),
                    [("location", target)],
                    "",
                )
                    .into_response()
            }
        })))
        .await;
        for config in [
            HttpConfig::new(evil.url()),
            HttpConfig::new(evil.url()).follow_same_origin_redirects(5),
        ] {
            let items = ItemsClient::with_config(config.header("x-api-key", "s3cret")).unwrap();
            let error = items.put("a".into()).await.unwrap_err();
            assert!(
                matches!(&error, ItemError::Network { error: NetworkError::HttpError { status: s, .. } } if *s == status),
                "{status}: {error:?}"
            );
        }
    }
    assert!(
        elsewhere_seen.0.lock().unwrap().is_empty(),
        "arguments or headers left the origin"
    );
}

#[tokio::test]
async fn same_origin_redirects_are_opt_in_and_keep_the_method() {
    let hits = Arc::new(AtomicUsize::new(0));
    let seen = Seen::default();
    let server = hostile(
        Router::new()
            .route(
                "/Items/put",
                post(|| async { (StatusCode::TEMPORARY_REDIRECT, [("location", "/v2/put")]) }),
            )
            .route(
                "/v2/put",
                post({
                    let seen = seen.clone();
                    move |headers: HeaderMap, body: String| {
                        seen.0.lock().unwrap().push(headers);
                        async move {
                            let id = if body.contains("\"a\"") {
                                "moved"
                            } else {
                                "lost body"
                            };
                            (
                                [("content-type", "application/json")],
                                format!(r#"{{"id":"{id}"}}"#),
                            )
                        }
                    }
                }),
            )
            .route(
                "/Items/fetch",
                post({
                    let hits = Arc::clone(&hits);
                    move || {
                        hits.fetch_add(1, Ordering::SeqCst);
                        async {
                            (
                                StatusCode::TEMPORARY_REDIRECT,
                                [("location", "/Items/fetch")],
                            )
                        }
                    }
                }),
            ),
    )
    .await;
    // By default a 307 is an `http_error`.
    let error = client(&server.url()).put("a".into()).await.unwrap_err();
    assert!(matches!(
        error,
        ItemError::Network {
            error: NetworkError::HttpError { status: 307, .. }
        }
    ));
    let follow =
        ItemsClient::with_config(HttpConfig::new(server.url()).follow_same_origin_redirects(3))
            .unwrap();
    assert_eq!(follow.put("a".into()).await.unwrap().id, "moved");
    assert!(seen.0.lock().unwrap()[0].get("referer").is_none());
    // A loop stops after the bound: 1 request + 3 redirects followed.
    let error = follow.fetch("x".into()).await.unwrap_err();
    assert!(matches!(
        error,
        ItemError::Network {
            error: NetworkError::HttpError { status: 307, .. }
        }
    ));
    assert_eq!(hits.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn a_forged_network_failure_is_a_serialization_error_and_is_not_retried() {
    let hits = Arc::new(AtomicUsize::new(0));
    let evil = hostile(Router::new().fallback(any({
        let hits = Arc::clone(&hits);
        move || {
            hits.fetch_add(1, Ordering::SeqCst);
            async {
                json(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    r#"{"type":"network","error":{"type":"timeout","service":"Chosen","ms":1}}"#,
                )
            }
        }
    })))
    .await;
    let items = client(&evil.url()).layer(Retry::exponential().max_attempts(5));
    let error = items.put("a".into()).await.unwrap_err();
    match &error {
        ItemError::Network {
            error: NetworkError::SerializationError { service, .. },
        } => assert_eq!(service, "Items"),
        other => panic!("{other:?}"),
    }
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_upstream_failure_is_a_gateway_status_naming_nothing_upstream() {
    let server = serve(ItemsServer::new(Honest).router(), "127.0.0.1:0")
        .await
        .unwrap();
    let items = client(&server.url());
    for (id, expected) in [("x", 502), ("slow", 504)] {
        let error = items.fetch(id.into()).await.unwrap_err();
        match &error {
            ItemError::Network {
                error:
                    NetworkError::HttpError {
                        service,
                        status,
                        body,
                    },
            } => {
                assert_eq!((service.as_str(), *status), ("Items", expected));
                assert!(
                    !body.contains("10.1.2.3") && !body.contains("Inventory"),
                    "{body}"
                );
            }
            other => panic!("{other:?}"),
        }
    }
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn protocol_errors_never_become_domain_errors() {
    // A wrong base URL: lfts's own 404 is not the domain's `NotFound`.
    let server = serve(ItemsServer::new(Honest).router(), "127.0.0.1:0")
        .await
        .unwrap();
    let lost = client(&format!("{}/nowhere", server.url()));
    let error = lost.put("a".into()).await.unwrap_err();
    assert!(
        matches!(
            &error,
            ItemError::Network {
                error: NetworkError::HttpError { status: 404, .. }
            }
        ),
        "{error:?}"
    );
    // A REST server's bare 404 still maps to the domain variant through `from_status`.
    let rest = hostile(Router::new().fallback(any(|| async { StatusCode::NOT_FOUND }))).await;
    assert_eq!(
        client(&rest.url()).put("a".into()).await,
        Err(ItemError::NotFound)
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn duplicate_keys_in_a_response_are_refused() {
    let evil = hostile(
        Router::new()
            .route(
                "/Items/put",
                post(|| async { json(StatusCode::OK, r#"{"id":"a","id":"b"}"#) }),
            )
            .route(
                "/Items/fetch",
                post(|| async {
                    json(
                        StatusCode::NOT_FOUND,
                        r#"{"type":"not_found","type":"network"}"#,
                    )
                }),
            ),
    )
    .await;
    let items = client(&evil.url());
    let error = items.put("a".into()).await.unwrap_err();
    assert!(
        matches!(&error, ItemError::Network { error: NetworkError::SerializationError { message, .. } } if message.contains("duplicate")),
        "{error:?}"
    );
    // A duplicate-keyed error body is not read as a domain error (the bare status still is).
    assert_eq!(items.fetch("a".into()).await, Err(ItemError::NotFound));
}

// ----- server ----------------------------------------------------------------------------------

async fn post_raw(url: &str, path: &str, body: &str) -> (u16, HeaderMap, String) {
    let response = reqwest::Client::new()
        .post(format!("{url}{path}"))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

#[tokio::test]
async fn duplicate_keys_in_a_request_are_refused() {
    let server = serve(ItemsServer::new(Honest).router(), "127.0.0.1:0")
        .await
        .unwrap();
    let (status, headers, body) =
        post_raw(&server.url(), "/Items/put", r#"{"id":"a","id":"b"}"#).await;
    assert_eq!(status, 400, "{body}");
    assert!(headers.contains_key("x-lfts-error"));
    assert!(body.contains("duplicate"), "{body}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_panic_while_serializing_the_result_is_a_500_and_the_server_keeps_serving() {
    let server = serve(ItemsServer::new(Honest).router(), "127.0.0.1:0")
        .await
        .unwrap();
    let (status, headers, body) = post_raw(&server.url(), "/Items/boom", "{}").await;
    assert_eq!(status, 500);
    assert_eq!(headers["x-lfts-error"], "internal");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"], "internal");
    // Through the client: a non-transient `http_error`, not a lost connection.
    let error = client(&server.url()).boom().await.unwrap_err();
    match error {
        ItemError::Network { error } => {
            assert!(matches!(error, NetworkError::HttpError { status: 500, .. }));
            assert!(!error.is_transient());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        client(&server.url()).put("ok".into()).await.unwrap().id,
        "ok"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_404_does_not_echo_a_long_path() {
    let server = serve(ItemsServer::new(Honest).router(), "127.0.0.1:0")
        .await
        .unwrap();
    let long = "a".repeat(60_000);
    let response = reqwest::get(format!("{}/{long}", server.url()))
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let body = response.text().await.unwrap();
    assert!(body.len() < 512, "{} bytes", body.len());
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_descriptor_can_be_hidden_and_follows_the_auth_hook() {
    let hidden = serve(
        ItemsServer::new(Honest)
            .port_router()
            .publish_descriptor(false)
            .into_router(),
        "127.0.0.1:0",
    )
    .await
    .unwrap();
    let response = reqwest::get(format!("{}/Items", hidden.url()))
        .await
        .unwrap();
    assert_eq!(response.status(), 404);

    let guarded = serve(
        ItemsServer::new(Honest)
            .port_router()
            .authenticate(|h| h.get("x-api-key").map(|_| "someone".to_owned()))
            .into_router(),
        "127.0.0.1:0",
    )
    .await
    .unwrap();
    let anonymous = reqwest::get(format!("{}/Items", guarded.url()))
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let report = client(&guarded.url()).check_contract().await.unwrap();
    assert!(report.matches);
    hidden.shutdown().await.unwrap();
    guarded.shutdown().await.unwrap();
}

#[tokio::test]
async fn unknown_argument_keys_are_refused_unless_the_method_is_lenient() {
    let strict = serve(ItemsServer::new(Honest).router(), "127.0.0.1:0")
        .await
        .unwrap();
    let (status, headers, body) =
        post_raw(&strict.url(), "/Items/put", r#"{"id":"a","dryRun":true}"#).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(headers["x-lfts-error"], "invalid_arguments");
    assert!(body.contains("dryRun"), "{body}");

    let lenient = serve(
        ItemsServer::new(Honest)
            .port_router()
            .method_lenient_arguments("put")
            .into_router(),
        "127.0.0.1:0",
    )
    .await
    .unwrap();
    let (status, _, body) =
        post_raw(&lenient.url(), "/Items/put", r#"{"id":"a","dryRun":true}"#).await;
    assert_eq!((status, body.as_str()), (200, r#"{"id":"a"}"#));
    // Only `put` is lenient.
    let (status, _, _) = post_raw(&lenient.url(), "/Items/fetch", r#"{"id":"a","extra":1}"#).await;
    assert_eq!(status, 400);
    strict.shutdown().await.unwrap();
    lenient.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_bare_status_takes_the_variant_fields_from_the_body() {
    let rest = hostile(
        Router::new()
            .route(
                "/Items/put",
                post(|| async { json(StatusCode::GONE, r#"{"id":"u1"}"#) }),
            )
            .route(
                "/Items/fetch",
                post(|| async { json(StatusCode::GONE, r#"{"reason":"no id here"}"#) }),
            ),
    )
    .await;
    let items = client(&rest.url());
    assert_eq!(
        items.put("x".into()).await,
        Err(ItemError::Gone { id: "u1".into() })
    );
    let error = items.fetch("x".into()).await.unwrap_err();
    assert!(
        matches!(
            &error,
            ItemError::Network {
                error: NetworkError::HttpError { status: 410, .. }
            }
        ),
        "{error:?}"
    );
}

/// Sets its flag when dropped: proves a handler future was cancelled.
struct DropFlag(Arc<std::sync::atomic::AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SlowError {
    #[lfts(network)]
    Network { error: NetworkError },
}

#[lfts::port]
pub trait Slow: Send + Sync {
    #[lfts(idempotent)]
    async fn wait(&self, ms: u64) -> Result<u64, SlowError>;
}

struct Sleeper(Arc<std::sync::atomic::AtomicBool>);

impl Slow for Sleeper {
    async fn wait(&self, ms: u64) -> Result<u64, SlowError> {
        let _flag = DropFlag(Arc::clone(&self.0));
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        Ok(ms)
    }
}

#[tokio::test]
async fn the_server_drops_a_handler_at_the_callers_deadline() {
    use std::time::Duration;
    let dropped = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let server = serve(
        SlowServer::new(Sleeper(Arc::clone(&dropped))).router(),
        "127.0.0.1:0",
    )
    .await
    .unwrap();
    let slow = SlowClient::new(server.url()).unwrap();
    let started = std::time::Instant::now();
    let error = lfts::Context::new()
        .with_timeout(Duration::from_millis(300))
        .scope(slow.wait(10_000))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &error,
            SlowError::Network {
                error: NetworkError::HttpError { status: 504, .. }
            }
        ),
        "{error:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        dropped.load(Ordering::SeqCst),
        "the handler was not cancelled"
    );
    // Without a deadline the call completes.
    assert_eq!(slow.wait(10).await, Ok(10));
    server.shutdown().await.unwrap();
}
