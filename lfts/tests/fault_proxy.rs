//! `lfts::testing::FaultProxy` against a real axum server on loopback, one fault at a time.
//!
//! Run with `cargo test -p lfts --features testing --test fault_proxy`.
#![cfg(feature = "testing")]

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use lfts::testing::{Fault, FaultPlan, FaultProxy, FaultStats};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A tiny HTTP server on 127.0.0.1 that counts the requests it processed.
struct Upstream {
    addr: SocketAddr,
    hits: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl Upstream {
    async fn start(name: &'static str) -> Upstream {
        let hits = Arc::new(AtomicU64::new(0));
        let app = Router::new()
            .route("/orders", post(place_order))
            .with_state((name, Arc::clone(&hits)));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        Upstream { addr, hits, task }
    }

    fn hits(&self) -> u64 {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn place_order(State((name, hits)): State<(&'static str, Arc<AtomicU64>)>) -> Json<Value> {
    let count = hits.fetch_add(1, Ordering::SeqCst) + 1;
    Json(json!({ "server": name, "count": count }))
}

/// One TCP connection per request, and never a system proxy: traffic stays on 127.0.0.1.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

async fn order(client: &reqwest::Client, proxy: &FaultProxy) -> reqwest::Result<reqwest::Response> {
    client
        .post(format!("{}/orders", proxy.url()))
        .header("content-type", "application/json")
        .body(r#"{"item":"book"}"#)
        .send()
        .await
}

/// The whole exchange, body included, so a truncated body also counts as a failure.
async fn order_json(client: &reqwest::Client, proxy: &FaultProxy) -> reqwest::Result<(u16, Value)> {
    let response = order(client, proxy).await?;
    let status = response.status().as_u16();
    let bytes = response.bytes().await?;
    // A body that is not JSON would be a proxy bug: show it rather than turn it into an error.
    let body =
        serde_json::from_slice(&bytes).unwrap_or_else(|_| json!(String::from_utf8_lossy(&bytes)));
    Ok((status, body))
}

async fn proxy_with(upstream: &Upstream, plan: FaultPlan) -> FaultProxy {
    FaultProxy::start(upstream.addr, plan)
        .await
        .expect("start proxy")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pass_forwards_untouched() {
    let upstream = Upstream::start("a").await;
    let proxy = proxy_with(&upstream, FaultPlan::pass()).await;
    assert!(proxy.addr().ip().is_loopback());
    assert_eq!(proxy.url(), format!("http://{}", proxy.addr()));

    let client = client();
    for expected in 1..=3 {
        let (status, body) = order_json(&client, &proxy).await.expect("pass");
        assert_eq!(status, 200);
        assert_eq!(body, json!({ "server": "a", "count": expected }));
    }
    assert_eq!(upstream.hits(), 3);
    let stats = proxy.stats();
    assert_eq!((stats.connections, stats.passed), (3, 3));
    proxy.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuse_resets_without_reaching_the_server() {
    let upstream = Upstream::start("a").await;
    let proxy = proxy_with(&upstream, FaultPlan::schedule([Fault::Refuse])).await;

    let error = order(&client(), &proxy).await.expect_err("refused");
    assert!(!error.is_timeout(), "{error:?}");
    assert_eq!(upstream.hits(), 0);
    let stats = proxy.stats();
    assert_eq!((stats.connections, stats.refused, stats.passed), (1, 1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delay_adds_latency_then_passes() {
    let upstream = Upstream::start("a").await;
    let delay = Duration::from_millis(50);
    let proxy = proxy_with(&upstream, FaultPlan::schedule([Fault::Delay(delay)])).await;
    let client = client();

    let started = Instant::now();
    let (status, _) = order_json(&client, &proxy).await.expect("delayed");
    assert_eq!(status, 200);
    assert!(started.elapsed() >= delay, "{:?}", started.elapsed());
    assert_eq!(upstream.hits(), 1);
    assert_eq!(proxy.stats().delayed, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_response_processes_the_request_but_loses_the_answer() {
    let upstream = Upstream::start("a").await;
    let proxy = proxy_with(&upstream, FaultPlan::schedule([Fault::DropResponse])).await;
    let client = client();

    let error = order(&client, &proxy).await.expect_err("response dropped");
    assert!(!error.is_timeout(), "{error:?}");
    // The request was processed exactly once; only the answer was lost.
    assert_eq!(upstream.hits(), 1);
    assert_eq!(proxy.stats().dropped_responses, 1);

    // The retry (a new connection) passes and sees the first attempt's effect.
    let (status, body) = order_json(&client, &proxy).await.expect("retry");
    assert_eq!((status, &body["count"]), (200, &json!(2)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_mid_response_processes_the_request_and_truncates_the_answer() {
    let upstream = Upstream::start("a").await;
    let proxy = proxy_with(&upstream, FaultPlan::schedule([Fault::ResetMidResponse])).await;

    let error = order_json(&client(), &proxy)
        .await
        .expect_err("response cut");
    assert!(!error.is_timeout(), "{error:?}");
    assert_eq!(upstream.hits(), 1);
    assert_eq!(proxy.stats().reset_mid_response, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unavailable_answers_503_without_reaching_the_server() {
    let upstream = Upstream::start("a").await;
    let proxy = proxy_with(&upstream, FaultPlan::schedule([Fault::Unavailable])).await;

    let response = order(&client(), &proxy).await.expect("503 response");
    assert_eq!(response.status(), 503);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(header("content-type").as_deref(), Some("application/json"));
    assert_eq!(header("retry-after").as_deref(), Some("0"));
    assert_eq!(header("connection").as_deref(), Some("close"));
    let bytes = response.bytes().await.expect("body");
    let body: Value = serde_json::from_slice(&bytes).expect("json body");
    assert_eq!(
        body,
        json!({ "error": "unavailable", "message": "injected by lfts::testing::FaultProxy" })
    );
    assert_eq!(upstream.hits(), 0);
    assert_eq!(proxy.stats().unavailable, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedule_is_applied_in_accept_order_and_counted() {
    let upstream = Upstream::start("a").await;
    let plan = FaultPlan::schedule([
        Fault::Unavailable,
        Fault::Pass,
        Fault::Refuse,
        Fault::DropResponse,
        Fault::Delay(Duration::from_millis(1)),
        Fault::ResetMidResponse,
    ]);
    let proxy = proxy_with(&upstream, plan).await;
    let client = client();

    let mut outcomes = Vec::new();
    for _ in 0..8 {
        outcomes.push(
            order_json(&client, &proxy)
                .await
                .ok()
                .map(|(status, _)| status),
        );
    }
    assert_eq!(
        outcomes,
        [
            Some(503),
            Some(200),
            None,
            None,
            Some(200),
            None,
            Some(200),
            Some(200)
        ]
    );
    // Pass, DropResponse, Delay, ResetMidResponse, Pass, Pass reached the server.
    assert_eq!(upstream.hits(), 6);

    let mut expected = FaultStats::default();
    expected.connections = 8;
    expected.passed = 3;
    expected.refused = 1;
    expected.delayed = 1;
    expected.dropped_responses = 1;
    expected.reset_mid_response = 1;
    expected.unavailable = 1;
    assert_eq!(proxy.stats(), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_plan_applies_to_later_connections_and_the_index_keeps_counting() {
    let upstream = Upstream::start("a").await;
    let proxy = proxy_with(&upstream, FaultPlan::pass()).await;
    let client = client();

    for _ in 0..2 {
        assert_eq!(order_json(&client, &proxy).await.expect("pass").0, 200);
    }
    // Indices 0 and 1 are used up, so the plan's third entry is the next connection's.
    proxy.set_plan(FaultPlan::schedule([
        Fault::Refuse,
        Fault::Refuse,
        Fault::Unavailable,
    ]));
    assert_eq!(order_json(&client, &proxy).await.expect("503").0, 503);
    assert_eq!(order_json(&client, &proxy).await.expect("pass").0, 200);
    assert_eq!(upstream.hits(), 3);
}

#[test]
fn seeded_decisions_are_deterministic_and_follow_the_rate() {
    let plan = FaultPlan::seeded(42).rate(Fault::DropResponse, 0.2);
    let again = FaultPlan::seeded(42).rate(Fault::DropResponse, 0.2);
    let other = FaultPlan::seeded(43).rate(Fault::DropResponse, 0.2);

    let faults: Vec<Fault> = (0..10_000).map(|index| plan.fault_for(index)).collect();
    let replay: Vec<Fault> = (0..10_000).map(|index| again.fault_for(index)).collect();
    let elsewhere: Vec<Fault> = (0..10_000).map(|index| other.fault_for(index)).collect();
    assert_eq!(faults, replay);
    assert_ne!(faults, elsewhere);
    // Asking twice, or in another order, changes nothing: the decision is pure.
    assert_eq!(plan.fault_for(9_999), faults[9_999]);
    assert_eq!(plan.clone().fault_for(17), faults[17]);

    let dropped = faults.iter().filter(|&&f| f == Fault::DropResponse).count();
    assert!((1_700..=2_300).contains(&dropped), "{dropped}");
    assert!(
        faults
            .iter()
            .all(|&f| matches!(f, Fault::DropResponse | Fault::Pass))
    );
}

#[test]
fn rates_are_cumulative_and_clamped() {
    let plan = FaultPlan::seeded(7)
        .rate(Fault::Unavailable, 0.5)
        .rate(Fault::Refuse, 0.8);
    let count = |fault: Fault| (0..10_000).filter(|&i| plan.fault_for(i) == fault).count();
    let unavailable = count(Fault::Unavailable);
    let refused = count(Fault::Refuse);
    assert!((4_700..=5_300).contains(&unavailable), "{unavailable}");
    // Clamped to what is left of 1.
    assert!((4_700..=5_300).contains(&refused), "{refused}");
    assert_eq!(unavailable + refused, 10_000);

    let unseeded = FaultPlan::seeded(7);
    assert!((0..1_000).all(|i| unseeded.fault_for(i) == Fault::Pass));
    let replaced = FaultPlan::seeded(7)
        .rate(Fault::Refuse, 1.0)
        .rate(Fault::Refuse, 0.0);
    assert!((0..1_000).all(|i| replaced.fault_for(i) == Fault::Pass));
}

#[test]
fn bursts_are_deterministic_and_beat_rates() {
    let plan = FaultPlan::seeded(1)
        .rate(Fault::Refuse, 1.0)
        .burst(Fault::Unavailable, 10, 3);
    for index in 0..100 {
        let expected = if index % 10 < 3 {
            Fault::Unavailable
        } else {
            Fault::Refuse
        };
        assert_eq!(plan.fault_for(index), expected, "connection {index}");
    }
    // A schedule still comes first.
    let plan = FaultPlan::schedule([Fault::Pass]).burst(Fault::Unavailable, 2, 1);
    let faults: Vec<Fault> = (0..4).map(|index| plan.fault_for(index)).collect();
    assert_eq!(
        faults,
        [Fault::Pass, Fault::Pass, Fault::Unavailable, Fault::Pass]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_of_503s_through_the_proxy() {
    let upstream = Upstream::start("a").await;
    let proxy = proxy_with(&upstream, FaultPlan::pass().burst(Fault::Unavailable, 3, 1)).await;
    let client = client();

    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(order_json(&client, &proxy).await.expect("answer").0);
    }
    assert_eq!(statuses, [503, 200, 200, 503, 200, 200]);
    assert_eq!(upstream.hits(), 4);
    assert_eq!(proxy.stats().unavailable, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_many_alternates_between_replicas() {
    let a = Upstream::start("a").await;
    let b = Upstream::start("b").await;
    let proxy = FaultProxy::start_many(vec![a.addr, b.addr], FaultPlan::pass())
        .await
        .expect("start proxy");
    assert_eq!(proxy.upstreams(), [a.addr, b.addr]);
    let client = client();

    let mut servers = Vec::new();
    for _ in 0..4 {
        let (_, body) = order_json(&client, &proxy).await.expect("pass");
        servers.push(body["server"].as_str().unwrap_or_default().to_owned());
    }
    assert_eq!(servers, ["a", "b", "a", "b"]);
    assert_eq!((a.hits(), b.hits()), (2, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_response_is_retried_on_the_other_replica() {
    let a = Upstream::start("a").await;
    let b = Upstream::start("b").await;
    let plan = FaultPlan::schedule([Fault::DropResponse]);
    let proxy = FaultProxy::start_many(vec![a.addr, b.addr], plan)
        .await
        .expect("start proxy");
    let client = client();

    assert!(order(&client, &proxy).await.is_err());
    let (_, body) = order_json(&client, &proxy).await.expect("retry");
    assert_eq!(body["server"], "b");
    // Both replicas processed the order: what an idempotency key must prevent.
    assert_eq!((a.hits(), b.hits()), (1, 1));
}

#[tokio::test]
async fn only_loopback_upstreams_are_accepted() {
    let outside: SocketAddr = "10.0.0.1:80".parse().expect("address");
    let error = FaultProxy::start(outside, FaultPlan::pass())
        .await
        .expect_err("not loopback");
    assert_eq!(error.kind(), io::ErrorKind::InvalidInput);

    let local: SocketAddr = "127.0.0.1:9".parse().expect("address");
    let error = FaultProxy::start_many(vec![local, outside], FaultPlan::pass())
        .await
        .expect_err("one is not loopback");
    assert_eq!(error.kind(), io::ErrorKind::InvalidInput);

    let error = FaultProxy::start_many(Vec::new(), FaultPlan::pass())
        .await
        .expect_err("no upstream");
    assert_eq!(error.kind(), io::ErrorKind::InvalidInput);

    let ipv6: SocketAddr = "[::1]:9".parse().expect("address");
    let proxy = FaultProxy::start(ipv6, FaultPlan::pass())
        .await
        .expect("::1 is loopback");
    assert!(format!("{proxy:?}").contains("FaultProxy"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_upstream_closes_the_connection_and_counts_as_passed() {
    // A loopback port nobody listens on any more.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let gone = listener.local_addr().expect("local addr");
    drop(listener);

    let proxy = FaultProxy::start(
        gone,
        FaultPlan::schedule([Fault::Pass, Fault::DropResponse]),
    )
    .await
    .expect("start proxy");
    let client = client();
    assert!(order(&client, &proxy).await.is_err());
    assert!(order(&client, &proxy).await.is_err());
    let stats = proxy.stats();
    assert_eq!(
        (stats.connections, stats.passed, stats.dropped_responses),
        (2, 2, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_connections_each_get_their_fault() {
    let upstream = Upstream::start("a").await;
    let plan = FaultPlan::pass().burst(Fault::Unavailable, 2, 1);
    let proxy = Arc::new(proxy_with(&upstream, plan).await);
    let client = client();

    let calls = (0..20).map(|_| {
        let client = client.clone();
        let proxy = Arc::clone(&proxy);
        tokio::spawn(async move { order_json(&client, &proxy).await.map(|(status, _)| status) })
    });
    let mut statuses = Vec::new();
    for call in calls {
        statuses.push(call.await.expect("task").expect("answer"));
    }
    // Which request got which index depends on timing; how many got each fault does not.
    assert_eq!(statuses.iter().filter(|&&s| s == 503).count(), 10);
    assert_eq!(statuses.iter().filter(|&&s| s == 200).count(), 10);
    assert_eq!(upstream.hits(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_and_drop_stop_listening() {
    let upstream = Upstream::start("a").await;
    let client = client();

    let proxy = proxy_with(&upstream, FaultPlan::pass()).await;
    let addr = proxy.addr();
    assert_eq!(order_json(&client, &proxy).await.expect("pass").0, 200);
    proxy.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());

    let proxy = proxy_with(&upstream, FaultPlan::pass()).await;
    let addr = proxy.addr();
    // A connection left open (the server keeps it alive) is cut by the drop as well.
    let mut open = tokio::net::TcpStream::connect(addr).await.expect("connect");
    drop(proxy);
    let mut closed = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(closed, "the listener is still open after drop");
    let read = tokio::time::timeout(Duration::from_secs(5), read_one(&mut open))
        .await
        .expect("the open connection is closed by the drop");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
}

/// One read, without tokio's `io-util` extension traits.
async fn read_one(stream: &mut tokio::net::TcpStream) -> io::Result<usize> {
    let mut byte = [0; 1];
    loop {
        stream.readable().await?;
        match stream.try_read(&mut byte) {
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
            read => return read,
        }
    }
}

/// Sends one raw HTTP/1.1 request and collects what comes back until EOF or an error.
async fn raw_exchange(proxy: &FaultProxy) -> (Vec<u8>, Option<io::ErrorKind>) {
    // A refused connection can be reset before `connect` even returns.
    let stream = match tokio::net::TcpStream::connect(proxy.addr()).await {
        Ok(stream) => stream,
        Err(error) => return (Vec::new(), Some(error.kind())),
    };
    let request = b"POST /orders HTTP/1.1\r\nhost: localhost\r\ncontent-length: 0\r\n\r\n";
    let mut sent = 0;
    while sent < request.len() {
        stream.writable().await.expect("writable");
        match stream.try_write(&request[sent..]) {
            Ok(written) => sent += written,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            Err(error) => return (Vec::new(), Some(error.kind())),
        }
    }
    let mut received = Vec::new();
    let mut buffer = [0; 4096];
    let outcome = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            stream.readable().await?;
            match stream.try_read(&mut buffer) {
                Ok(0) => return Ok(()),
                Ok(read) => received.extend_from_slice(&buffer[..read]),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                Err(error) => return Err(error),
            }
        }
    })
    .await
    .expect("the proxy ends the exchange");
    (received, outcome.err().map(|error| error.kind()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_wire_faults_cut_where_they_say() {
    let upstream = Upstream::start("a").await;
    let plan = FaultPlan::schedule([Fault::ResetMidResponse, Fault::DropResponse, Fault::Refuse]);
    let proxy = proxy_with(&upstream, plan).await;

    // ResetMidResponse: the start of the status line, then a reset.
    let (partial, error) = raw_exchange(&proxy).await;
    assert!(!partial.is_empty(), "part of the response arrives");
    assert!(partial.starts_with(b"HTTP/1.1"), "{partial:?}");
    assert!(!partial.ends_with(b"}"), "the response is cut: {partial:?}");
    assert_eq!(error, Some(io::ErrorKind::ConnectionReset));

    // DropResponse: not a byte of the response, then a reset; the server did the work.
    let (nothing, error) = raw_exchange(&proxy).await;
    assert!(nothing.is_empty(), "{nothing:?}");
    assert_eq!(error, Some(io::ErrorKind::ConnectionReset));
    assert_eq!(upstream.hits(), 2);

    // Refuse: the reset may already hit the write.
    let (nothing, error) = raw_exchange(&proxy).await;
    assert!(nothing.is_empty(), "{nothing:?}");
    assert!(
        matches!(
            error,
            Some(io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe)
        ),
        "{error:?}"
    );
    assert_eq!(upstream.hits(), 2);
}
