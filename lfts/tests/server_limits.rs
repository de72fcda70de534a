//! The bounds of `lfts::http::serve_with`, attacked over real sockets on 127.0.0.1.
//!
//! Each test configures short limits (a few hundred milliseconds) and measures, with raw
//! `TcpStream`s or reqwest, that the server gives up when it should and not before.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::routing::{get, post};
use lfts::http::{
    DEFAULT_BODY_READ_TIMEOUT, DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_CONCURRENT_REQUESTS, DEFAULT_MAX_CONNECTIONS, DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_SHUTDOWN_TIMEOUT, DEFAULT_WRITE_TIMEOUT, ServerConfig, ServerHandle, serve_with,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::{Instant, sleep, timeout};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The short limit each test configures.
const LIMIT: Duration = Duration::from_millis(300);
/// How late past a limit the server may act (a loaded CI machine).
const SLACK: Duration = Duration::from_millis(1500);
/// The most any single wait in these tests takes.
const BOUND: Duration = Duration::from_secs(5);

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// Counts handlers that started and handler futures that were dropped (finished or not).
#[derive(Default)]
struct Probe {
    entered: AtomicUsize,
    dropped: AtomicUsize,
}

/// Marks its handler's future as dropped, however it ends.
struct DropGuard(Arc<Probe>);

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

impl Probe {
    fn enter(self: &Arc<Self>) -> DropGuard {
        self.entered.fetch_add(1, Ordering::SeqCst);
        DropGuard(Arc::clone(self))
    }

    async fn wait(&self, what: &str, counter: impl Fn(&Probe) -> usize, n: usize) {
        let deadline = Instant::now() + BOUND;
        while counter(self) < n {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {n} {what}"
            );
            sleep(ms(5)).await;
        }
    }

    async fn entered(&self, n: usize) {
        self.wait("entered", |p| p.entered.load(Ordering::SeqCst), n)
            .await;
    }

    async fn dropped(&self, n: usize) {
        self.wait("dropped", |p| p.dropped.load(Ordering::SeqCst), n)
            .await;
    }
}

/// `GET /` answers "hello"; `POST /echo` reads its body; `GET /slow` takes 600 ms; `GET /hang`
/// never answers; `GET /big` answers 16 MiB.
fn router(probe: &Arc<Probe>) -> Router {
    let slow = Arc::clone(probe);
    let hang = Arc::clone(probe);
    Router::new()
        .route("/", get(|| async { "hello" }))
        .route("/echo", post(|body: Bytes| async move { body }))
        .route(
            "/slow",
            get(move || {
                let probe = Arc::clone(&slow);
                async move {
                    let _guard = probe.enter();
                    sleep(ms(600)).await;
                    "slow"
                }
            }),
        )
        .route(
            "/hang",
            get(move || {
                let probe = Arc::clone(&hang);
                async move {
                    let _guard = probe.enter();
                    std::future::pending::<()>().await;
                    "never"
                }
            }),
        )
        .route("/big", get(|| async { vec![b'x'; 16 << 20] }))
}

async fn start(config: ServerConfig) -> io::Result<(ServerHandle, Arc<Probe>)> {
    let probe = Arc::new(Probe::default());
    let server = serve_with(router(&probe), "127.0.0.1:0", config).await?;
    Ok((server, probe))
}

/// A response read off a raw HTTP/1.1 connection.
#[derive(Debug)]
struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// Reads one `content-length` response.
async fn read_response(stream: &mut (impl AsyncRead + Unpin)) -> io::Result<Raw> {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| io::Error::other(format!("bad status line in {head:?}")))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .ok_or_else(|| io::Error::other("no content-length"))?;
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok(Raw {
        status,
        headers,
        body,
    })
}

/// Reads until the server closes the connection (a FIN or a reset); the bytes read.
async fn read_to_close(stream: &mut (impl AsyncRead + Unpin)) -> usize {
    let mut total = 0;
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return total,
            Ok(n) => total += n,
        }
    }
}

/// Asserts that `elapsed` is at least `limit` (less a little: the server's clock may start
/// before the client's) and at most `limit + SLACK`.
fn assert_near(what: &str, elapsed: Duration, limit: Duration) {
    assert!(
        elapsed >= limit.saturating_sub(ms(60)),
        "{what} after {elapsed:?}, before the {limit:?} limit"
    );
    assert!(
        elapsed <= limit + SLACK,
        "{what} after {elapsed:?}, long past the {limit:?} limit"
    );
}

const GET: &[u8] = b"GET / HTTP/1.1\r\nhost: test\r\n\r\n";

#[tokio::test]
async fn a_slowloris_head_is_cut_off_after_the_header_read_timeout() -> TestResult {
    let (server, _) = start(ServerConfig::default().header_read_timeout(LIMIT)).await?;
    let (mut read, mut write) = TcpStream::connect(server.addr()).await?.into_split();
    let started = Instant::now();
    // One byte of a never-ending header every 100 ms.
    let trickle = tokio::spawn(async move {
        let head = b"GET / HTTP/1.1\r\nhost: test\r\nx-slow: ".iter();
        for &byte in head.chain(std::iter::repeat(&b'a')) {
            if write.write_all(&[byte]).await.is_err() {
                return;
            }
            sleep(ms(100)).await;
        }
    });
    let answered = timeout(BOUND, read_to_close(&mut read)).await?;
    let elapsed = started.elapsed();
    trickle.abort();
    assert_eq!(answered, 0, "a cut-off head gets no answer");
    assert_near("the slow head was cut off", elapsed, LIMIT);
    println!("slowloris: cut off after {elapsed:?} (header_read_timeout {LIMIT:?})");
    server.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn a_body_shorter_than_its_content_length_is_answered_408_after_the_body_timeout()
-> TestResult {
    let (server, _) = start(ServerConfig::default().body_read_timeout(LIMIT)).await?;
    let mut stream = TcpStream::connect(server.addr()).await?;
    stream
        .write_all(
            b"POST /echo HTTP/1.1\r\nhost: test\r\ncontent-type: application/octet-stream\r\n\
              content-length: 100\r\n\r\n0123456789",
        )
        .await?;
    let started = Instant::now();
    let response = timeout(BOUND, read_response(&mut stream)).await??;
    let elapsed = started.elapsed();
    assert_eq!(response.status, 408);
    assert_eq!(response.header("x-lfts-error"), Some("body_timeout"));
    assert_eq!(response.header("connection"), Some("close"));
    assert_eq!(response.json()["error"], "body_timeout");
    assert_near("the short body was answered", elapsed, LIMIT);
    // And the connection is closed after the answer.
    timeout(BOUND, read_to_close(&mut stream)).await?;
    println!("short body: 408 after {elapsed:?} (body_read_timeout {LIMIT:?}), then closed");

    // A body that arrives in time is served as usual.
    let mut stream = TcpStream::connect(server.addr()).await?;
    stream
        .write_all(b"POST /echo HTTP/1.1\r\nhost: test\r\ncontent-length: 4\r\n\r\nabcd")
        .await?;
    let response = timeout(BOUND, read_response(&mut stream)).await??;
    assert_eq!(
        (response.status, response.body.as_slice()),
        (200, &b"abcd"[..])
    );
    server.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn an_idle_connection_is_closed_after_the_idle_timeout() -> TestResult {
    let (server, _) = start(ServerConfig::default().idle_timeout(LIMIT)).await?;

    // A connection that never sends a byte.
    let mut silent = TcpStream::connect(server.addr()).await?;
    let started = Instant::now();
    timeout(BOUND, read_to_close(&mut silent)).await?;
    assert_near("a silent connection was closed", started.elapsed(), LIMIT);

    // A keep-alive connection: kept while it is used, closed once idle for the timeout.
    let mut stream = TcpStream::connect(server.addr()).await?;
    stream.write_all(GET).await?;
    assert_eq!(read_response(&mut stream).await?.status, 200);
    sleep(LIMIT / 2).await;
    stream.write_all(GET).await?;
    assert_eq!(read_response(&mut stream).await?.status, 200);
    let started = Instant::now();
    let more = timeout(BOUND, read_to_close(&mut stream)).await?;
    let elapsed = started.elapsed();
    assert_eq!(more, 0);
    assert_near("an idle keep-alive connection was closed", elapsed, LIMIT);
    println!("idle: keep-alive connection closed {elapsed:?} after its last response");
    server.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn a_hanging_handler_is_dropped_and_answered_504_after_the_request_timeout() -> TestResult {
    let (server, probe) = start(ServerConfig::default().request_timeout(LIMIT)).await?;
    let started = Instant::now();
    let response = reqwest::get(format!("{}/hang", server.url())).await?;
    let elapsed = started.elapsed();
    assert_eq!(response.status(), 504);
    assert_eq!(
        response.headers().get("x-lfts-error").map(|v| v.as_bytes()),
        Some(&b"request_timeout"[..])
    );
    let body: serde_json::Value = serde_json::from_slice(&response.bytes().await?)?;
    assert_eq!(body["error"], "request_timeout");
    assert!(body["message"].is_string(), "{body}");
    assert_near("the hanging handler was answered", elapsed, LIMIT);
    // The handler's future was dropped, not left running.
    probe.dropped(1).await;
    assert_eq!(probe.entered.load(Ordering::SeqCst), 1);
    println!("request timeout: 504 after {elapsed:?}, handler future dropped");
    server.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn past_the_connection_cap_a_connection_waits_until_one_closes() -> TestResult {
    let (server, _) = start(ServerConfig::default().max_connections(2)).await?;
    let mut first = TcpStream::connect(server.addr()).await?;
    let mut second = TcpStream::connect(server.addr()).await?;
    for stream in [&mut first, &mut second] {
        stream.write_all(GET).await?;
        assert_eq!(read_response(stream).await?.status, 200);
    }

    // The third connects (the kernel's backlog) but is not served while two are open.
    let mut third = TcpStream::connect(server.addr()).await?;
    third.write_all(GET).await?;
    let mut byte = [0u8; 1];
    let early = timeout(ms(500), third.read(&mut byte)).await;
    assert!(early.is_err(), "the third connection was served: {early:?}");

    let started = Instant::now();
    drop(first);
    let response = timeout(BOUND, read_response(&mut third)).await??;
    assert_eq!(response.status, 200);
    println!(
        "connection cap 2: the third waited, served {:?} after the first closed",
        started.elapsed()
    );
    drop(second);
    server.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn past_the_concurrency_limit_a_request_is_answered_503_overloaded() -> TestResult {
    let (server, probe) = start(ServerConfig::default().max_concurrent_requests(2)).await?;
    let client = reqwest::Client::new();
    let slow = format!("{}/slow", server.url());
    let running: Vec<_> = (0..2)
        .map(|_| tokio::spawn(client.get(&slow).send()))
        .collect();
    probe.entered(2).await;

    let started = Instant::now();
    let third = client.get(&slow).send().await?;
    let elapsed = started.elapsed();
    assert_eq!(third.status(), 503);
    let header = |name: &str| third.headers().get(name).map(|v| v.as_bytes().to_vec());
    assert_eq!(header("x-lfts-error"), Some(b"overloaded".to_vec()));
    assert_eq!(header("retry-after"), Some(b"1".to_vec()));
    let body: serde_json::Value = serde_json::from_slice(&third.bytes().await?)?;
    assert_eq!(body["error"], "overloaded");
    assert!(elapsed < ms(400), "the third waited {elapsed:?}");
    assert_eq!(probe.entered.load(Ordering::SeqCst), 2, "the third ran");

    for request in running {
        assert_eq!(request.await??.status(), 200);
    }
    // The slots are free again.
    assert_eq!(client.get(&slow).send().await?.status(), 200);
    println!("concurrency limit 2: the third of 3 slow requests got 503 in {elapsed:?}");
    server.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn shutdown_returns_at_its_deadline_despite_a_hung_handler_and_a_half_head() -> TestResult {
    let (server, probe) = start(ServerConfig::default().shutdown_timeout(LIMIT)).await?;
    let addr = server.addr();
    let hung = tokio::spawn(reqwest::get(format!("{}/hang", server.url())));
    let mut half = TcpStream::connect(addr).await?;
    half.write_all(b"GET / HTTP/1.1\r\nhost: te").await?;
    probe.entered(1).await;

    let started = Instant::now();
    timeout(BOUND, server.shutdown()).await??;
    let elapsed = started.elapsed();
    assert_near("shutdown returned", elapsed, LIMIT);
    // Everything was dropped: the handler, both connections, the listener.
    assert_eq!(probe.dropped.load(Ordering::SeqCst), 1);
    assert_eq!(timeout(ms(500), read_to_close(&mut half)).await?, 0);
    assert!(timeout(ms(500), hung).await??.is_err());
    assert!(TcpStream::connect(addr).await.is_err());
    println!("shutdown: returned after {elapsed:?} (deadline {LIMIT:?}), all dropped");
    Ok(())
}

#[tokio::test]
async fn shutdown_lets_requests_in_flight_finish() -> TestResult {
    let (server, probe) = start(ServerConfig::default()).await?;
    // An idle keep-alive connection does not hold the shutdown back.
    let mut idle = TcpStream::connect(server.addr()).await?;
    idle.write_all(GET).await?;
    assert_eq!(read_response(&mut idle).await?.status, 200);
    let slow = tokio::spawn(reqwest::get(format!("{}/slow", server.url())));
    probe.entered(1).await;

    let started = Instant::now();
    timeout(BOUND, server.shutdown()).await??;
    let elapsed = started.elapsed();
    assert_eq!(slow.await??.status(), 200);
    assert!(elapsed < ms(600) + SLACK, "shutdown took {elapsed:?}");
    assert_eq!(timeout(ms(500), read_to_close(&mut idle)).await?, 0);
    println!("graceful shutdown: the slow request finished, returned after {elapsed:?}");
    Ok(())
}

#[tokio::test]
async fn a_peer_that_does_not_read_its_response_is_cut_off_after_the_write_timeout() -> TestResult {
    let (server, _) = start(ServerConfig::default().write_timeout(LIMIT)).await?;
    let socket = TcpSocket::new_v4()?;
    socket.set_recv_buffer_size(4096)?;
    let mut stream = socket.connect(server.addr()).await?;
    stream
        .write_all(b"GET /big HTTP/1.1\r\nhost: test\r\n\r\n")
        .await?;
    // Read nothing for a while: the server's writes block.
    sleep(LIMIT + ms(700)).await;
    let read = timeout(BOUND, read_to_close(&mut stream)).await?;
    assert!(read < 16 << 20, "the whole 16 MiB response was sent");
    println!("write timeout: the peer got {read} bytes of 16 MiB before the server gave up");
    server.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn http2_is_served_and_bounded_too() -> TestResult {
    let (server, probe) = start(ServerConfig::default().request_timeout(LIMIT)).await?;
    let client = reqwest::Client::builder().http2_prior_knowledge().build()?;
    let response = client.get(server.url()).send().await?;
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    assert_eq!(response.text().await?, "hello");
    let response = client.get(format!("{}/hang", server.url())).send().await?;
    assert_eq!(response.status(), 504);
    probe.dropped(1).await;
    server.shutdown().await?;
    Ok(())
}

#[test]
fn the_defaults_are_the_documented_ones() {
    let config = ServerConfig::default();
    assert_eq!(config.get_header_read_timeout(), Duration::from_secs(10));
    assert_eq!(config.get_body_read_timeout(), Duration::from_secs(30));
    assert_eq!(config.get_request_timeout(), Duration::from_secs(60));
    assert_eq!(config.get_idle_timeout(), Duration::from_secs(60));
    assert_eq!(config.get_write_timeout(), Duration::from_secs(30));
    assert_eq!(config.get_max_connections(), 1024);
    assert_eq!(config.get_max_concurrent_requests(), 256);
    assert_eq!(config.get_shutdown_timeout(), Duration::from_secs(30));

    assert_eq!(
        config.get_header_read_timeout(),
        DEFAULT_HEADER_READ_TIMEOUT
    );
    assert_eq!(config.get_body_read_timeout(), DEFAULT_BODY_READ_TIMEOUT);
    assert_eq!(config.get_request_timeout(), DEFAULT_REQUEST_TIMEOUT);
    assert_eq!(config.get_idle_timeout(), DEFAULT_IDLE_TIMEOUT);
    assert_eq!(config.get_write_timeout(), DEFAULT_WRITE_TIMEOUT);
    assert_eq!(config.get_max_connections(), DEFAULT_MAX_CONNECTIONS);
    assert_eq!(
        config.get_max_concurrent_requests(),
        DEFAULT_MAX_CONCURRENT_REQUESTS
    );
    assert_eq!(config.get_shutdown_timeout(), DEFAULT_SHUTDOWN_TIMEOUT);

    // Caps below 1 would never serve anything.
    let config = config.max_connections(0).max_concurrent_requests(0);
    assert_eq!(config.get_max_connections(), 1);
    assert_eq!(config.get_max_concurrent_requests(), 1);
}
