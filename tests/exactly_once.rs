//! Exactly-once across the network: the server honours idempotency keys (replay, wait, reuse,
//! bounds), and under injected faults a non-idempotent method called through `Timeout` +
//! `Retry` creates exactly one record per logical call.
//!
//! The guarantee tests print their figures (`cargo test --test exactly_once -- --nocapture`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use lfts::http::idempotency::{
    Begin, Idempotency, IdempotencyStore, MemoryStore, RedisStore, StoreError, StoredOutcome,
};
use lfts::http::{HttpConfig, ServerHandle, serve};
use lfts::resilience::{LayerExt, Retry, Timeout};
use lfts::testing::{Fault, FaultPlan, FaultProxy, RedisServer};
use lfts::{Context, NetworkError, Schema};
use serde::{Deserialize, Serialize};

// ----- the port --------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
pub struct Order {
    pub id: String,
    pub request: String,
    pub qty: u32,
}

/// A value whose `Serialize` panics.
#[derive(Debug, Clone, PartialEq, Deserialize, Schema)]
pub struct Fragile {
    pub id: String,
}

impl Serialize for Fragile {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        panic!("Fragile cannot be serialized")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OrderError {
    #[lfts(status = 409)]
    OutOfStock { item: String },
    #[lfts(network)]
    Network { error: NetworkError },
}

#[lfts::port]
pub trait Orders: Send + Sync {
    /// Places an order: not idempotent.
    async fn place(&self, request: String, qty: u32) -> Result<Order, OrderError>;
    /// Reads the context the call arrived with.
    async fn whoami(&self) -> Result<Vec<String>, OrderError>;
    /// Answers `size` bytes.
    async fn big(&self, size: u32) -> Result<String, OrderError>;
    /// Panics the first time.
    async fn flaky(&self, request: String) -> Result<Order, OrderError>;
    /// Creates an order, then answers a value whose serialization panics.
    async fn fragile(&self, request: String) -> Result<Fragile, OrderError>;
    #[lfts(idempotent)]
    async fn count(&self) -> Result<u64, OrderError>;
}

/// An order book that remembers every order it created.
#[derive(Default)]
struct Book {
    next: AtomicU64,
    /// Calls of `place` that have started (before their delay).
    started: AtomicU64,
    orders: Mutex<Vec<Order>>,
    delay: Mutex<Duration>,
    panicked: AtomicBool,
}

impl Book {
    fn with_delay(delay: Duration) -> Book {
        let book = Book::default();
        *book.delay.lock().unwrap() = delay;
        book
    }

    fn create(&self, request: String, qty: u32) -> Order {
        let id = self.next.fetch_add(1, Ordering::SeqCst) + 1;
        let order = Order {
            id: format!("ord_{id}"),
            request,
            qty,
        };
        self.orders.lock().unwrap().push(order.clone());
        order
    }

    /// Waits (up to 10 s) until `n` calls of `place` have started.
    async fn until_started(&self, n: u64) {
        for _ in 0..1000 {
            if self.started.load(Ordering::SeqCst) >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{n} calls did not start");
    }

    fn created(&self) -> usize {
        self.orders.lock().unwrap().len()
    }
}

impl Orders for Arc<Book> {
    async fn place(&self, request: String, qty: u32) -> Result<Order, OrderError> {
        self.started.fetch_add(1, Ordering::SeqCst);
        if qty == 0 {
            return Err(OrderError::OutOfStock { item: request });
        }
        let delay = *self.delay.lock().unwrap();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        Ok(self.create(request, qty))
    }

    async fn whoami(&self) -> Result<Vec<String>, OrderError> {
        let ctx = Context::current();
        Ok(vec![
            ctx.caller().unwrap_or("-").to_owned(),
            ctx.idempotency_key().unwrap_or("-").to_owned(),
            ctx.outgoing_idempotency_key().unwrap_or("-").to_owned(),
            ctx.headers()
                .get("x-tenant")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-")
                .to_owned(),
            ctx.remaining().map_or(0, |d| d.as_millis()).to_string(),
            ctx.trace().map(|t| t.trace_id()).unwrap_or_default(),
        ])
    }

    async fn big(&self, size: u32) -> Result<String, OrderError> {
        self.create("big".into(), size);
        Ok("x".repeat(size as usize))
    }

    async fn flaky(&self, request: String) -> Result<Order, OrderError> {
        if !self.panicked.swap(true, Ordering::SeqCst) {
            panic!("the first call panics on purpose");
        }
        Ok(self.create(request, 1))
    }

    async fn fragile(&self, request: String) -> Result<Fragile, OrderError> {
        let order = self.create(request, 1);
        Ok(Fragile { id: order.id })
    }

    async fn count(&self) -> Result<u64, OrderError> {
        Ok(self.created() as u64)
    }
}

async fn start(book: &Arc<Book>, idempotency: Idempotency) -> ServerHandle {
    let router = OrdersServer::new(Arc::clone(book))
        .port_router()
        .idempotency(idempotency)
        .into_router();
    serve(router, "127.0.0.1:0").await.unwrap()
}

/// A plain reqwest client, for exact bytes and headers.
fn raw() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn post(
    url: &str,
    method: &str,
    key: Option<&str>,
    body: &str,
) -> (u16, reqwest::header::HeaderMap, String) {
    let mut request = raw()
        .post(format!("{url}/Orders/{method}"))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

// ----- server semantics ------------------------------------------------------------------------

#[tokio::test]
async fn a_replay_is_answered_byte_for_byte_without_running_the_method() {
    let book = Arc::new(Book::default());
    let server = start(&book, Idempotency::new()).await;
    let body = r#"{"request":"r1","qty":2}"#;
    let (s1, h1, b1) = post(&server.url(), "place", Some("key-1"), body).await;
    let (s2, h2, b2) = post(&server.url(), "place", Some("key-1"), body).await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(b1, b2);
    assert_eq!(book.created(), 1);
    assert!(h1.get("idempotent-replayed").is_none());
    assert_eq!(h2["idempotent-replayed"], "true");

    // A domain error is an outcome too: stored and replayed.
    let zero = r#"{"request":"r2","qty":0}"#;
    let (s1, _, b1) = post(&server.url(), "place", Some("key-2"), zero).await;
    let (s2, h2, b2) = post(&server.url(), "place", Some("key-2"), zero).await;
    assert_eq!((s1, s2, &b1), (409, 409, &b2));
    assert_eq!(h2["idempotent-replayed"], "true");

    // Without a key, every call runs.
    post(&server.url(), "place", None, body).await;
    post(&server.url(), "place", None, body).await;
    assert_eq!(book.created(), 3);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_key_reused_with_other_arguments_is_refused() {
    let book = Arc::new(Book::default());
    let server = start(&book, Idempotency::new()).await;
    post(
        &server.url(),
        "place",
        Some("k"),
        r#"{"request":"a","qty":1}"#,
    )
    .await;
    let (status, headers, body) = post(
        &server.url(),
        "place",
        Some("k"),
        r#"{"request":"a","qty":2}"#,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(headers["x-lfts-error"], "idempotency_key_reused");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"], "idempotency_key_reused");
    // Another method under the same key is another call too.
    let (status, _, _) = post(&server.url(), "flaky", Some("k"), r#"{"request":"a"}"#).await;
    assert_eq!(status, 422);
    assert_eq!(book.created(), 1);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn malformed_keys_are_refused_with_a_json_error() {
    let book = Arc::new(Book::default());
    let server = start(&book, Idempotency::new()).await;
    let body = r#"{"request":"a","qty":1}"#;
    let long = "k".repeat(256);
    for key in [long.as_str(), "with space", "tab\there", ""] {
        let (status, headers, text) = post(&server.url(), "place", Some(key), body).await;
        assert_eq!(status, 400, "{key:?}");
        assert_eq!(headers["x-lfts-error"], "invalid_idempotency_key");
        let text: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(text["error"], "invalid_idempotency_key");
    }
    let ok = "k".repeat(255);
    assert_eq!(post(&server.url(), "place", Some(&ok), body).await.0, 200);
    assert_eq!(book.created(), 1);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn outcomes_that_never_reached_the_method_are_not_stored() {
    let book = Arc::new(Book::default());
    let server = start(&book, Idempotency::new()).await;
    // 400: the arguments are invalid.
    let (status, _, _) = post(&server.url(), "place", Some("k"), r#"{"qty":"many"}"#).await;
    assert_eq!(status, 400);
    // The same key then runs the real call: nothing was stored.
    let (status, headers, _) = post(
        &server.url(),
        "place",
        Some("k"),
        r#"{"request":"a","qty":1}"#,
    )
    .await;
    assert_eq!(status, 200);
    assert!(headers.get("idempotent-replayed").is_none());
    assert_eq!(book.created(), 1);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_panic_is_not_stored_and_the_replay_runs_the_method() {
    let book = Arc::new(Book::default());
    let server = start(&book, Idempotency::new()).await;
    let (status, headers, _) = post(&server.url(), "flaky", Some("k"), r#"{"request":"p"}"#).await;
    assert_eq!(status, 500);
    assert_eq!(headers["x-lfts-error"], "internal");
    let (status, _, _) = post(&server.url(), "flaky", Some("k"), r#"{"request":"p"}"#).await;
    assert_eq!(status, 200);
    let (status, headers, _) = post(&server.url(), "flaky", Some("k"), r#"{"request":"p"}"#).await;
    assert_eq!(status, 200);
    assert_eq!(headers["idempotent-replayed"], "true");
    assert_eq!(book.created(), 1);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_outcome_over_the_bound_is_not_stored_but_never_runs_twice() {
    let book = Arc::new(Book::default());
    let server = start(&book, Idempotency::new().max_outcome_bytes(1024)).await;
    let (status, _, body) = post(&server.url(), "big", Some("k"), r#"{"size":4096}"#).await;
    assert_eq!(status, 200);
    assert_eq!(body.len(), 4096 + 2);
    let (status, headers, _) = post(&server.url(), "big", Some("k"), r#"{"size":4096}"#).await;
    assert_eq!(status, 409);
    assert_eq!(headers["x-lfts-error"], "idempotency_outcome_not_stored");
    // Small outcomes are stored as usual.
    post(&server.url(), "big", Some("s"), r#"{"size":10}"#).await;
    let (_, headers, _) = post(&server.url(), "big", Some("s"), r#"{"size":10}"#).await;
    assert_eq!(headers["idempotent-replayed"], "true");
    assert_eq!(book.created(), 2);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn deduplication_can_be_turned_off_per_server_and_per_method() {
    let book = Arc::new(Book::default());
    let router = OrdersServer::new(Arc::clone(&book))
        .port_router()
        .method_idempotency("place", Idempotency::off())
        .into_router();
    let server = serve(router, "127.0.0.1:0").await.unwrap();
    let body = r#"{"request":"a","qty":1}"#;
    post(&server.url(), "place", Some("k"), body).await;
    post(&server.url(), "place", Some("k"), body).await;
    assert_eq!(book.created(), 2);
    // `big` keeps the router's setting.
    post(&server.url(), "big", Some("k"), r#"{"size":1}"#).await;
    post(&server.url(), "big", Some("k"), r#"{"size":1}"#).await;
    assert_eq!(book.created(), 3);
    server.shutdown().await.unwrap();

    let book = Arc::new(Book::default());
    let server = start(&book, Idempotency::off()).await;
    post(&server.url(), "place", Some("k"), body).await;
    post(&server.url(), "place", Some("k"), body).await;
    assert_eq!(book.created(), 2);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn fifty_concurrent_calls_with_one_key_run_the_method_once() {
    let book = Arc::new(Book::with_delay(Duration::from_millis(200)));
    let server = start(&book, Idempotency::new()).await;
    let client = OrdersClient::new(server.url()).unwrap();
    let calls = (0..50).map(|_| {
        let client = client.clone();
        tokio::spawn(
            Context::new()
                .with_idempotency_key("one-key")
                .scope(async move { client.place("fifty".into(), 5).await }),
        )
    });
    let answers: Vec<Order> = futures_util::future::join_all(calls)
        .await
        .into_iter()
        .map(|r| r.unwrap().unwrap())
        .collect();
    assert_eq!(book.created(), 1);
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
    println!("50 concurrent calls, one key: 1 execution, 50 identical answers");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_duplicate_waits_a_bounded_time_then_gets_409() {
    let book = Arc::new(Book::with_delay(Duration::from_millis(800)));
    let server = start(&book, Idempotency::new().wait(Duration::from_millis(100))).await;
    let url = server.url();
    let body = r#"{"request":"slow","qty":1}"#;
    let first = tokio::spawn({
        let url = url.clone();
        async move { post(&url, "place", Some("k"), body).await }
    });
    book.until_started(1).await;
    let (status, headers, _) = post(&url, "place", Some("k"), body).await;
    assert_eq!(status, 409);
    assert_eq!(headers["x-lfts-error"], "idempotency_in_progress");
    assert_eq!(first.await.unwrap().0, 200);
    assert_eq!(book.created(), 1);
    // Through the generated client, the protocol 409 is an `http_error`, never the domain's
    // 409 variant (`OutOfStock`).
    let client = OrdersClient::new(&url).unwrap();
    let slow = tokio::spawn(Context::new().with_idempotency_key("k2").scope({
        let client = client.clone();
        async move { client.place("slow".into(), 1).await }
    }));
    book.until_started(2).await;
    let error = Context::new()
        .with_idempotency_key("k2")
        .scope(client.place("slow".into(), 1))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &error,
            OrderError::Network {
                error: NetworkError::HttpError { status: 409, .. }
            }
        ),
        "{error:?}"
    );
    slow.await.unwrap().unwrap();
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_implementation_sees_the_context_its_caller_set() {
    let book = Arc::new(Book::default());
    let router = OrdersServer::new(Arc::clone(&book))
        .port_router()
        .authenticate(|headers| {
            let auth = headers.get("authorization")?.to_str().ok()?;
            auth.strip_prefix("Bearer user:").map(str::to_owned)
        })
        .into_router();
    let server = serve(router, "127.0.0.1:0").await.unwrap();
    let client = OrdersClient::with_config(
        HttpConfig::new(server.url())
            .bearer_auth("user:alice")
            .header("x-tenant", "acme"),
    )
    .unwrap();
    let trace = lfts::context::TraceContext::new_root();
    let seen = Context::new()
        .with_idempotency_key("ctx-key")
        .with_timeout(Duration::from_secs(5))
        .with_trace(trace)
        .scope(client.whoami())
        .await
        .unwrap();
    assert_eq!(seen[0], "alice");
    assert_eq!(seen[1], "ctx-key");
    // The received key is not sent on by calls the implementation makes.
    assert_eq!(seen[2], "-");
    assert_eq!(seen[3], "acme");
    let remaining: u64 = seen[4].parse().unwrap();
    assert!((1..=5000).contains(&remaining), "{remaining}");
    assert_eq!(seen[5], trace.trace_id());

    // Without credentials: 401, and the method does not run.
    let anonymous = OrdersClient::new(server.url()).unwrap();
    let error = anonymous.place("x".into(), 1).await.unwrap_err();
    assert!(
        matches!(
            &error,
            OrderError::Network {
                error: NetworkError::HttpError { status: 401, .. }
            }
        ),
        "{error:?}"
    );
    assert_eq!(book.created(), 0);

    // In-process, through a layer, the implementation sees the same context.
    let local = Arc::clone(&book).layer(Retry::exponential());
    let seen = Context::new()
        .with_caller("bob")
        .with_idempotency_key("local-key")
        .scope(local.whoami())
        .await
        .unwrap();
    assert_eq!((seen[0].as_str(), seen[1].as_str()), ("bob", "local-key"));
    // And a retry layer pins one key when the caller set none.
    let seen = local.whoami().await.unwrap();
    assert_eq!(seen[1].len(), 36);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn keys_are_scoped_by_caller() {
    let book = Arc::new(Book::default());
    let router = OrdersServer::new(Arc::clone(&book))
        .port_router()
        .authenticate(|headers| Some(headers.get("x-user")?.to_str().ok()?.to_owned()))
        .into_router();
    let server = serve(router, "127.0.0.1:0").await.unwrap();
    for user in ["alice", "mallory", "alice"] {
        let client =
            OrdersClient::with_config(HttpConfig::new(server.url()).header("x-user", user))
                .unwrap();
        Context::new()
            .with_idempotency_key("shared-key")
            .scope(client.place("same".into(), 1))
            .await
            .unwrap();
    }
    // Mallory's call ran on its own: it neither read nor blocked Alice's outcome.
    assert_eq!(book.created(), 2);
    server.shutdown().await.unwrap();
}

/// A store that is down.
struct Down;

impl IdempotencyStore for Down {
    fn begin<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: &'a str,
        _: Duration,
    ) -> BoxFuture<'a, Result<Begin, StoreError>> {
        Box::pin(async {
            Err(StoreError::Unavailable {
                message: "down".into(),
            })
        })
    }
    fn complete<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: StoredOutcome,
        _: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async { Ok(false) })
    }
    fn renew<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async { Ok(false) })
    }
    fn abandon<'a>(&'a self, _: &'a str, _: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }
}

#[tokio::test]
async fn a_store_outage_fails_closed_with_a_transient_503() {
    let book = Arc::new(Book::default());
    let server = start(&book, Idempotency::new().store(Down)).await;
    let client = OrdersClient::new(server.url()).unwrap();
    let error = Context::new()
        .with_idempotency_key("k")
        .scope(client.place("x".into(), 1))
        .await
        .unwrap_err();
    match &error {
        OrderError::Network { error } => {
            assert!(
                matches!(error, NetworkError::HttpError { status: 503, .. }),
                "{error:?}"
            );
            assert!(error.is_transient());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(book.created(), 0);
    // Calls without a key, and idempotent methods, do not need the store.
    client.place("y".into(), 1).await.unwrap();
    client.count().await.unwrap();
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn keys_from_many_clients_stay_within_the_store_bounds() {
    let book = Arc::new(Book::default());
    let store = Arc::new(MemoryStore::new().max_entries(200).max_bytes(64 * 1024));
    let server = start(
        &book,
        Idempotency::new().shared_store(Arc::clone(&store) as Arc<dyn IdempotencyStore>),
    )
    .await;
    let client = raw();
    let url = format!("{}/Orders/place", server.url());
    for i in 0..1500 {
        let response = client
            .post(&url)
            .header("content-type", "application/json")
            .header("idempotency-key", format!("{i:0>200}"))
            .body(r#"{"request":"a","qty":1}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    assert!(store.len() <= 200, "{}", store.len());
    assert!(store.bytes() <= 64 * 1024, "{}", store.bytes());
    println!(
        "1,500 keys of 200 bytes: the store holds {} keys, {} bytes",
        store.len(),
        store.bytes()
    );
    server.shutdown().await.unwrap();
}

// ----- guarantees under injected faults --------------------------------------------------------

/// What a run of many logical calls gave.
#[derive(Debug, Default)]
struct Tally {
    ok: usize,
    failed: usize,
    records: usize,
    duplicates: usize,
    created_without_answer: usize,
    /// `Ok` calls whose answer is not the one record they created.
    ok_not_exactly_once: usize,
}

/// A client that opens one connection per request, so every attempt meets its own fault.
fn faulted_client(url: &str) -> OrdersClient {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .no_proxy()
        .build()
        .unwrap();
    OrdersClient::with_config(HttpConfig::new(url).client(http)).unwrap()
}

/// About 20% of connections faulted, seeded.
fn twenty_percent(seed: u64) -> FaultPlan {
    FaultPlan::seeded(seed)
        .rate(Fault::Refuse, 0.04)
        .rate(Fault::DropResponse, 0.06)
        .rate(Fault::ResetMidResponse, 0.04)
        .rate(Fault::Unavailable, 0.03)
        .rate(Fault::Delay(Duration::from_millis(400)), 0.03)
}

/// `calls` logical calls of `place` (each with its own request id) through `Timeout` +
/// `Retry`, `concurrency` at a time; then every record is matched to the answers.
async fn place_many(url: &str, books: &[Arc<Book>], calls: usize, concurrency: usize) -> Tally {
    let client = faulted_client(url)
        .layer(Timeout::per_attempt(Duration::from_millis(250)))
        .layer(
            Retry::exponential()
                .max_attempts(6)
                .base_delay(Duration::from_millis(2))
                .max_delay(Duration::from_millis(20)),
        );
    let client = Arc::new(client);
    let next = Arc::new(AtomicU64::new(0));
    let answers = Arc::new(Mutex::new(
        HashMap::<String, Result<Order, OrderError>>::new(),
    ));
    let workers = (0..concurrency).map(|_| {
        let (client, next, answers) =
            (Arc::clone(&client), Arc::clone(&next), Arc::clone(&answers));
        tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::SeqCst) as usize;
                if n >= calls {
                    break;
                }
                let request = format!("req-{n}");
                let answer = client.place(request.clone(), 1).await;
                answers.lock().unwrap().insert(request, answer);
            }
        })
    });
    for worker in futures_util::future::join_all(workers).await {
        worker.unwrap();
    }
    // Let late deliveries (delayed connections) land before counting.
    tokio::time::sleep(Duration::from_millis(600)).await;

    let answers = answers.lock().unwrap();
    let mut per_request: HashMap<String, Vec<Order>> = HashMap::new();
    let mut records = 0;
    for book in books {
        for order in book.orders.lock().unwrap().iter() {
            records += 1;
            per_request
                .entry(order.request.clone())
                .or_default()
                .push(order.clone());
        }
    }
    let mut tally = Tally {
        records,
        ..Tally::default()
    };
    for (request, answer) in answers.iter() {
        let created = per_request.get(request).map_or(0, Vec::len);
        tally.duplicates += created.saturating_sub(1);
        match answer {
            Ok(order) => {
                tally.ok += 1;
                let matches = per_request.get(request).is_some_and(|r| r.contains(order));
                if created != 1 || !matches {
                    tally.ok_not_exactly_once += 1;
                }
            }
            Err(_) => {
                tally.failed += 1;
                tally.created_without_answer += usize::from(created > 0);
            }
        }
    }
    // Every record belongs to some logical call.
    assert!(per_request.keys().all(|r| answers.contains_key(r)));
    tally
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_calls_through_faults_create_each_record_exactly_once() {
    let book = Arc::new(Book::default());
    let server = start(&book, Idempotency::new()).await;
    let proxy = FaultProxy::start(server.addr(), twenty_percent(6))
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let tally = place_many(&proxy.url(), std::slice::from_ref(&book), 2000, 16).await;
    let stats = proxy.stats();
    println!(
        "2,000 calls, one server, in-memory store, {:.1}% of {} connections faulted \
         (refused {}, delayed {}, response dropped {}, reset mid-response {}, 503 {}): \
         {} ok, {} failed, {} records, {} created without answer, {} duplicates, in {:.1?}",
        100.0 * (stats.connections - stats.passed) as f64 / stats.connections as f64,
        stats.connections,
        stats.refused,
        stats.delayed,
        stats.dropped_responses,
        stats.reset_mid_response,
        stats.unavailable,
        tally.ok,
        tally.failed,
        tally.records,
        tally.created_without_answer,
        tally.duplicates,
        started.elapsed(),
    );
    assert_eq!(tally.duplicates, 0);
    assert_eq!(tally.ok_not_exactly_once, 0);
    assert_eq!(tally.ok + tally.failed, 2000);
    assert_eq!(tally.records, tally.ok + tally.created_without_answer);
    assert!(stats.dropped_responses > 0 && stats.reset_mid_response > 0);
    assert!(tally.ok >= 1990, "{tally:?}");
    proxy.shutdown().await;
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_shared_store_replicas_do_duplicate() {
    // The control for the Redis test: two replicas with a store each, retries landing on the
    // other replica. Lost responses then do create second records.
    let books = [Arc::new(Book::default()), Arc::new(Book::default())];
    let a = start(&books[0], Idempotency::new()).await;
    let b = start(&books[1], Idempotency::new()).await;
    let plan = FaultPlan::seeded(11).rate(Fault::DropResponse, 0.2);
    let proxy = FaultProxy::start_many(vec![a.addr(), b.addr()], plan)
        .await
        .unwrap();
    let tally = place_many(&proxy.url(), &books, 300, 8).await;
    println!(
        "control: 300 calls, two replicas with separate in-memory stores, 20% responses \
         dropped: {} duplicates",
        tally.duplicates
    );
    assert!(tally.duplicates > 0, "{tally:?}");
    proxy.shutdown().await;
}

#[tokio::test]
async fn a_restart_forgets_the_in_memory_store() {
    // What lfts does not promise with the default store: a replay that arrives after the
    // server restarted runs the method again.
    let book = Arc::new(Book::default());
    let body = r#"{"request":"r","qty":1}"#;
    let server = start(&book, Idempotency::new()).await;
    post(&server.url(), "place", Some("k"), body).await;
    server.shutdown().await.unwrap();
    let server = start(&book, Idempotency::new()).await;
    let (_, headers, _) = post(&server.url(), "place", Some("k"), body).await;
    assert!(headers.get("idempotent-replayed").is_none());
    assert_eq!(book.created(), 2);
    server.shutdown().await.unwrap();
}

// ----- replicas sharing Redis ------------------------------------------------------------------

async fn redis_idempotency(redis: &RedisServer) -> Idempotency {
    let store = RedisStore::connect(&redis.url()).await.unwrap();
    Idempotency::new().store(store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_sharing_redis_create_each_record_exactly_once() {
    let redis = RedisServer::start()
        .await
        .expect("these tests start their own redis-server: install Debian's redis-server package");
    let books = [Arc::new(Book::default()), Arc::new(Book::default())];
    let a = start(&books[0], redis_idempotency(&redis).await).await;
    let b = start(&books[1], redis_idempotency(&redis).await).await;
    let proxy = FaultProxy::start_many(vec![a.addr(), b.addr()], twenty_percent(8))
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let tally = place_many(&proxy.url(), &books, 2000, 16).await;
    let stats = proxy.stats();
    println!(
        "2,000 calls, two replicas alternating, shared Redis store, {:.1}% of {} connections \
         faulted: {} ok, {} failed, {} records ({} on replica a, {} on b), {} created without \
         answer, {} duplicates, in {:.1?}",
        100.0 * (stats.connections - stats.passed) as f64 / stats.connections as f64,
        stats.connections,
        tally.ok,
        tally.failed,
        tally.records,
        books[0].created(),
        books[1].created(),
        tally.created_without_answer,
        tally.duplicates,
        started.elapsed(),
    );
    assert_eq!(tally.duplicates, 0);
    assert_eq!(tally.ok_not_exactly_once, 0);
    assert_eq!(tally.ok + tally.failed, 2000);
    assert_eq!(tally.records, tally.ok + tally.created_without_answer);
    assert!(books[0].created() > 0 && books[1].created() > 0);
    assert!(tally.ok >= 1990, "{tally:?}");
    proxy.shutdown().await;
}

#[tokio::test]
async fn a_redis_outage_refuses_keyed_calls_and_loses_nothing() {
    let mut redis = RedisServer::start().await.unwrap();
    let book = Arc::new(Book::default());
    let server = start(&book, redis_idempotency(&redis).await).await;
    let client = OrdersClient::new(server.url()).unwrap();
    let keyed = |key: &'static str| {
        Context::new()
            .with_idempotency_key(key)
            .scope(client.place(key.into(), 1))
    };
    let first = keyed("before").await.unwrap();

    redis.stop().await;
    let error = keyed("during").await.unwrap_err();
    match &error {
        OrderError::Network { error } => {
            assert!(matches!(error, NetworkError::HttpError { status: 503, .. }));
            assert!(error.is_transient());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(book.created(), 1, "nothing runs that could not be recorded");

    redis.restart().await.unwrap();
    keyed("during").await.unwrap();
    assert_eq!(book.created(), 2);
    // The restarted Redis is empty: what it held is gone (persistence is off in this test).
    let again = keyed("before").await.unwrap();
    assert_ne!(again, first);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_server_restart_keeps_outcomes_in_redis() {
    let redis = RedisServer::start().await.unwrap();
    let book = Arc::new(Book::default());
    let body = r#"{"request":"r","qty":1}"#;
    let server = start(&book, redis_idempotency(&redis).await).await;
    let (_, _, first) = post(&server.url(), "place", Some("k"), body).await;
    server.shutdown().await.unwrap();
    let server = start(&book, redis_idempotency(&redis).await).await;
    let (status, headers, replay) = post(&server.url(), "place", Some("k"), body).await;
    assert_eq!(
        (status, headers["idempotent-replayed"].to_str().unwrap()),
        (200, "true")
    );
    assert_eq!(replay, first);
    assert_eq!(book.created(), 1);
    server.shutdown().await.unwrap();
}

// ----- what a hostile review found -------------------------------------------------------------

#[tokio::test]
async fn a_call_longer_than_its_lease_keeps_its_key() {
    // The lease is renewed while the method runs: a duplicate waits and gets the replay.
    let book = Arc::new(Book::with_delay(Duration::from_millis(2500)));
    let server = start(
        &book,
        Idempotency::new()
            .lease(Duration::from_secs(1))
            .wait(Duration::from_secs(5)),
    )
    .await;
    let url = server.url();
    let body = r#"{"request":"long","qty":1}"#;
    let first = tokio::spawn({
        let url = url.clone();
        async move { post(&url, "place", Some("k"), body).await }
    });
    book.until_started(1).await;
    let (status, headers, second) = post(&url, "place", Some("k"), body).await;
    let (_, _, first) = first.await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(headers["idempotent-replayed"], "true");
    assert_eq!(first, second);
    assert_eq!(book.created(), 1);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn outcomes_evicted_under_memory_pressure_never_run_twice() {
    let book = Arc::new(Book::default());
    let store = MemoryStore::new().max_bytes(4096);
    let server = start(&book, Idempotency::new().store(store)).await;
    // A 5 KB answer does not fit the store at all; five 1 KB answers push each other out.
    let (status, _, _) = post(&server.url(), "big", Some("huge"), r#"{"size":5000}"#).await;
    assert_eq!(status, 200);
    for i in 0..5 {
        post(
            &server.url(),
            "big",
            Some(&format!("k{i}")),
            r#"{"size":1000}"#,
        )
        .await;
    }
    assert_eq!(book.created(), 6);
    for key in ["huge", "k0", "k1"] {
        let size = if key == "huge" { 5000 } else { 1000 };
        let (status, headers, _) = post(
            &server.url(),
            "big",
            Some(key),
            &format!(r#"{{"size":{size}}}"#),
        )
        .await;
        assert_eq!(status, 409, "{key}");
        assert_eq!(headers["x-lfts-error"], "idempotency_outcome_not_stored");
    }
    // The newest is still stored whole.
    let (_, headers, _) = post(&server.url(), "big", Some("k4"), r#"{"size":1000}"#).await;
    assert_eq!(headers["idempotent-replayed"], "true");
    assert_eq!(book.created(), 6);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_panic_while_serializing_after_the_effects_is_recorded() {
    let book = Arc::new(Book::default());
    let server = start(&book, Idempotency::new()).await;
    let body = r#"{"request":"f"}"#;
    let (s1, _, b1) = post(&server.url(), "fragile", Some("k"), body).await;
    let (s2, h2, b2) = post(&server.url(), "fragile", Some("k"), body).await;
    assert_eq!((s1, s2), (500, 500));
    assert_eq!(b1, b2);
    assert_eq!(h2["idempotent-replayed"], "true");
    assert_eq!(book.created(), 1);
    server.shutdown().await.unwrap();
}

/// A store whose `begin` is applied but whose answer is lost once (a Redis timeout after the
/// command ran).
struct LostAnswer {
    inner: MemoryStore,
    lose_next: AtomicBool,
}

impl IdempotencyStore for LostAnswer {
    fn begin<'a>(
        &'a self,
        key: &'a str,
        fingerprint: &'a str,
        token: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Begin, StoreError>> {
        Box::pin(async move {
            let begun = self.inner.begin(key, fingerprint, token, lease).await;
            if self.lose_next.swap(false, Ordering::SeqCst) {
                return Err(StoreError::Unavailable {
                    message: "no answer in time".into(),
                });
            }
            begun
        })
    }
    fn renew<'a>(
        &'a self,
        key: &'a str,
        token: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.inner.renew(key, token, lease)
    }
    fn complete<'a>(
        &'a self,
        key: &'a str,
        token: &'a str,
        outcome: StoredOutcome,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.inner.complete(key, token, outcome, ttl)
    }
    fn abandon<'a>(
        &'a self,
        key: &'a str,
        token: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.inner.abandon(key, token)
    }
    fn changed<'a>(&'a self, key: &'a str) -> BoxFuture<'a, ()> {
        self.inner.changed(key)
    }
}

#[tokio::test]
async fn a_begin_whose_answer_was_lost_does_not_block_the_key() {
    let book = Arc::new(Book::default());
    let store = LostAnswer {
        inner: MemoryStore::new(),
        lose_next: AtomicBool::new(true),
    };
    let server = start(&book, Idempotency::new().store(store)).await;
    let body = r#"{"request":"r","qty":1}"#;
    let (status, headers, _) = post(&server.url(), "place", Some("k"), body).await;
    assert_eq!(status, 503);
    assert_eq!(headers["retry-after"], "1");
    // The retry is not stuck behind an orphaned in-flight record.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (status, _, _) = post(&server.url(), "place", Some("k"), body).await;
    assert_eq!(status, 200);
    assert_eq!(book.created(), 1);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn keyed_calls_in_flight_are_bounded() {
    let book = Arc::new(Book::with_delay(Duration::from_millis(400)));
    let server = start(&book, Idempotency::new().max_in_flight(1)).await;
    let url = server.url();
    let slow = tokio::spawn({
        let url = url.clone();
        async move { post(&url, "place", Some("a"), r#"{"request":"a","qty":1}"#).await }
    });
    book.until_started(1).await;
    let (status, headers, _) = post(&url, "place", Some("b"), r#"{"request":"b","qty":1}"#).await;
    assert_eq!(status, 503);
    assert_eq!(headers["x-lfts-error"], "overloaded");
    assert_eq!(slow.await.unwrap().0, 200);
    // Nothing was recorded for "b": it runs now.
    let (status, _, _) = post(&url, "place", Some("b"), r#"{"request":"b","qty":1}"#).await;
    assert_eq!(status, 200);
    assert_eq!(book.created(), 2);
    server.shutdown().await.unwrap();
}
