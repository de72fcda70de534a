//! [`serve`]: runs a router on a socket in a background task, with a [`ServerHandle`] to stop
//! it; [`serve_with`] does the same with the bounds of a [`ServerConfig`].
//!
//! # Bounds
//! A peer holds nothing on the server without a bound (DESIGN.md, "The trust boundary"):
//!
//! | Bound | Default | Past it |
//! |---|---|---|
//! | header read | 10 s, [`DEFAULT_HEADER_READ_TIMEOUT`] | the connection is closed, without an answer |
//! | body read | 30 s, [`DEFAULT_BODY_READ_TIMEOUT`] | `408 body_timeout`, then the connection is closed |
//! | request | 60 s, [`DEFAULT_REQUEST_TIMEOUT`] | the handler is dropped; `504 request_timeout` |
//! | idle | 60 s, [`DEFAULT_IDLE_TIMEOUT`] | the connection is closed (HTTP/2: `GOAWAY`) |
//! | write | 30 s, [`DEFAULT_WRITE_TIMEOUT`] | the connection is closed |
//! | connections | 1,024, [`DEFAULT_MAX_CONNECTIONS`] | accepting waits until one closes |
//! | requests in flight | 256, [`DEFAULT_MAX_CONCURRENT_REQUESTS`] | `503 overloaded` at once, `retry-after: 1` |
//! | shutdown | 30 s, [`DEFAULT_SHUTDOWN_TIMEOUT`] | every connection is aborted |
//! | request body | 1 MiB, in the router | `413 payload_too_large` |
//!
//! [`ServerConfig`] says how each bound is kept (this module is private; its docs are there).
//!
//! # Design
//! Each connection runs in one task beside a watchdog (`connection`): the socket (`Watched`),
//! the service and the response bodies (`InFlight`) tell a per-connection `Watch` when a head
//! begins, a request starts or ends and a write blocks, and the watchdog sleeps until the
//! earliest deadline that follows. Dropping the connection's future is what closes it. The
//! HTTP/2 stream tasks run on an executor (`Exec`) that drops them past the shutdown deadline.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::header::{CONNECTION, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderValue, Request, Response, StatusCode, Version};
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

use super::wire::PROTOCOL_ERROR;

/// The default [header-read timeout](ServerConfig::header_read_timeout): 10 s.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// The default [body-read timeout](ServerConfig::body_read_timeout): 30 s.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// The default [request timeout](ServerConfig::request_timeout): 60 s.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// The default [idle timeout](ServerConfig::idle_timeout) of a keep-alive connection: 60 s.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// The default [write timeout](ServerConfig::write_timeout): 30 s.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// The default [cap on open connections](ServerConfig::max_connections): 1,024.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// The default [limit on requests in flight](ServerConfig::max_concurrent_requests) across the
/// server: 256.
pub const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 256;
/// The default [shutdown deadline](ServerConfig::shutdown_timeout): 30 s.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the accept loop pauses after an error that is not a peer giving up.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// The HTTP/2 connection preface, to tell the protocols apart as the auto builder does.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The bounds of a server started by [`serve_with`] ([`serve`] uses the defaults).
///
/// A peer holds nothing on the server without a bound (DESIGN.md, "The trust boundary"):
///
/// | Bound | Default | Past it |
/// |---|---|---|
/// | [header read](ServerConfig::header_read_timeout) | 10 s, [`DEFAULT_HEADER_READ_TIMEOUT`] | the connection is closed, without an answer |
/// | [body read](ServerConfig::body_read_timeout) | 30 s, [`DEFAULT_BODY_READ_TIMEOUT`] | `408 body_timeout`, then the connection is closed |
/// | [request](ServerConfig::request_timeout) | 60 s, [`DEFAULT_REQUEST_TIMEOUT`] | the handler is dropped; `504 request_timeout` |
/// | [idle](ServerConfig::idle_timeout) | 60 s, [`DEFAULT_IDLE_TIMEOUT`] | the connection is closed (HTTP/2: `GOAWAY`) |
/// | [write](ServerConfig::write_timeout) | 30 s, [`DEFAULT_WRITE_TIMEOUT`] | the connection is closed |
/// | [connections](ServerConfig::max_connections) | 1,024, [`DEFAULT_MAX_CONNECTIONS`] | accepting waits until one closes |
/// | [requests in flight](ServerConfig::max_concurrent_requests) | 256, [`DEFAULT_MAX_CONCURRENT_REQUESTS`] | `503 overloaded` at once, `retry-after: 1` |
/// | [shutdown](ServerConfig::shutdown_timeout) | 30 s, [`DEFAULT_SHUTDOWN_TIMEOUT`] | every connection is aborted |
/// | request body | 1 MiB, [`DEFAULT_BODY_LIMIT`](super::DEFAULT_BODY_LIMIT), in the router ([`PortRouter::body_limit`](super::PortRouter::body_limit)) | `413 payload_too_large` |
///
/// Every answer the server itself gives is a protocol error: a JSON body
/// `{"error": code, "message": …}` and [`x-lfts-error: {code}`](super::PROTOCOL_ERROR).
///
/// # How each bound is kept
/// - **Header read**: the clock starts at the first byte of a request head read while the
///   connection has no request in flight (the bytes after a response, or the first bytes of a
///   connection), and stops when the head is complete. A head that trickles in (slowloris) or
///   stops halfway is cut off. For HTTP/2 it bounds the connection preface; the frames of an
///   HTTP/2 connection are then bounded by the idle timeout and the stream limits.
/// - **Body read**: the whole request body must arrive within the timeout, counted from the
///   first time the handler reads it. Past it the read fails, the answer is replaced by `408
///   body_timeout` and an HTTP/1 connection is closed after it (the rest of the body is never
///   read). A body the handler never reads costs nothing: it is not read.
/// - **Request**: from the complete request head to the handler's response (reading the body
///   included). Past it the handler's future is dropped and the client gets `504
///   request_timeout`.
/// - **Idle**: a connection with no request in flight (not even a head being read) is closed
///   once it has been so for the timeout, counted from the end of its last response or from
///   accepting it. HTTP/2 connections get a `GOAWAY` and, if they are not gone within the
///   header-read timeout, are dropped.
/// - **Write**: a response that the peer does not take — no byte of it could be written to the
///   socket, or (HTTP/2 flow control) no part of any response of the connection could be sent,
///   for the timeout — closes the connection. A slow reader cannot hold a connection forever.
/// - **Connections**: the accept loop holds a permit per open connection; at the cap it stops
///   calling `accept` until a connection closes, so further peers wait in the kernel's listen
///   backlog (and past that, their `SYN`s are dropped). Nothing is accepted only to be closed.
/// - **Requests in flight**: handlers running at once across the server, all connections and
///   HTTP/2 streams together. One past the limit is answered `503 overloaded` with
///   `retry-after: 1` at once, without running the handler and without waiting: a queue would
///   only add latency to work the server has no room for. A slot is freed when the handler
///   returns its response.
/// - **Shutdown**: [`ServerHandle::shutdown`] stops accepting (the socket is closed), lets
///   every request in flight finish and closes each connection once it is idle; at the
///   deadline it drops every connection and handler still running (a hung handler, a peer
///   that sent half a request head) and returns.
/// - **Memory**: nothing here buffers a body. A request body streams to the router, whose body
///   limit bounds it; an HTTP/1 head is bounded by hyper's read buffer (~400 KiB, 100
///   headers), an HTTP/2 header list by 16 KiB, and the unread request bodies of an HTTP/2
///   connection by its 1 MiB flow-control window.
///
/// # Known gaps
/// - A handler that blocks its thread (rather than awaiting) cannot be dropped: the request
///   timeout and the shutdown deadline only stop futures.
/// - Protocol upgrades (WebSocket, `CONNECT`) are not served: an upgraded connection would
///   escape these bounds.
/// - Accept errors other than a peer giving up (such as running out of file descriptors) pause
///   the accept loop for a second and are logged at `warn`.
///
/// # Example
/// ```
/// use std::time::Duration;
/// use lfts::http::ServerConfig;
///
/// let config = ServerConfig::default()
///     .request_timeout(Duration::from_secs(5))
///     .max_connections(64);
/// assert_eq!(config.get_request_timeout(), Duration::from_secs(5));
/// assert_eq!(config.get_idle_timeout(), lfts::http::DEFAULT_IDLE_TIMEOUT);
/// ```
#[derive(Debug, Clone)]
pub struct ServerConfig {
    header_read_timeout: Duration,
    body_read_timeout: Duration,
    request_timeout: Duration,
    idle_timeout: Duration,
    write_timeout: Duration,
    max_connections: usize,
    max_concurrent_requests: usize,
    shutdown_timeout: Duration,
}

impl Default for ServerConfig {
    /// Every bound at its `DEFAULT_*` value.
    fn default() -> ServerConfig {
        ServerConfig {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_concurrent_requests: DEFAULT_MAX_CONCURRENT_REQUESTS,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
        }
    }
}

impl ServerConfig {
    /// The time a request head may take, from its first byte to its last (default 10 s).
    /// Past it the connection is closed without an answer. It also bounds how long a
    /// connection told to close (idle, or shutting down) may take to go.
    pub fn header_read_timeout(mut self, timeout: Duration) -> ServerConfig {
        self.header_read_timeout = timeout;
        self
    }

    /// The time a request body may take to arrive, from the handler's first read of it
    /// (default 30 s). Past it the request is answered `408 body_timeout` and an HTTP/1
    /// connection is closed.
    pub fn body_read_timeout(mut self, timeout: Duration) -> ServerConfig {
        self.body_read_timeout = timeout;
        self
    }

    /// The time a handler may take, from the complete request head to its response (default
    /// 60 s). Past it the handler's future is dropped and the request is answered `504
    /// request_timeout`.
    pub fn request_timeout(mut self, timeout: Duration) -> ServerConfig {
        self.request_timeout = timeout;
        self
    }

    /// The time a connection may stay open with no request in flight (default 60 s).
    pub fn idle_timeout(mut self, timeout: Duration) -> ServerConfig {
        self.idle_timeout = timeout;
        self
    }

    /// The time a response may wait for the peer to take it — a write to the socket that
    /// cannot proceed, or an HTTP/2 response without flow-control window — before the
    /// connection is closed (default 30 s).
    pub fn write_timeout(mut self, timeout: Duration) -> ServerConfig {
        self.write_timeout = timeout;
        self
    }

    /// The most connections open at once (default 1,024; at least 1). At the cap the server
    /// stops accepting until one closes.
    pub fn max_connections(mut self, connections: usize) -> ServerConfig {
        self.max_connections = connections.clamp(1, Semaphore::MAX_PERMITS);
        self
    }

    /// The most requests in flight at once across the server (default 256; at least 1). One
    /// more is answered `503 overloaded` with `retry-after: 1`, at once.
    pub fn max_concurrent_requests(mut self, requests: usize) -> ServerConfig {
        self.max_concurrent_requests = requests.clamp(1, Semaphore::MAX_PERMITS);
        self
    }

    /// The time [`ServerHandle::shutdown`] lets requests in flight finish before it drops
    /// every connection (default 30 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> ServerConfig {
        self.shutdown_timeout = timeout;
        self
    }

    /// The [header-read timeout](ServerConfig::header_read_timeout).
    pub fn get_header_read_timeout(&self) -> Duration {
        self.header_read_timeout
    }

    /// The [body-read timeout](ServerConfig::body_read_timeout).
    pub fn get_body_read_timeout(&self) -> Duration {
        self.body_read_timeout
    }

    /// The [request timeout](ServerConfig::request_timeout).
    pub fn get_request_timeout(&self) -> Duration {
        self.request_timeout
    }

    /// The [idle timeout](ServerConfig::idle_timeout).
    pub fn get_idle_timeout(&self) -> Duration {
        self.idle_timeout
    }

    /// The [write timeout](ServerConfig::write_timeout).
    pub fn get_write_timeout(&self) -> Duration {
        self.write_timeout
    }

    /// The [cap on open connections](ServerConfig::max_connections).
    pub fn get_max_connections(&self) -> usize {
        self.max_connections
    }

    /// The [limit on requests in flight](ServerConfig::max_concurrent_requests).
    pub fn get_max_concurrent_requests(&self) -> usize {
        self.max_concurrent_requests
    }

    /// The [shutdown deadline](ServerConfig::shutdown_timeout).
    pub fn get_shutdown_timeout(&self) -> Duration {
        self.shutdown_timeout
    }
}

/// A running server started by [`serve`].
///
/// Dropping the handle shuts the server down gracefully, in the background (within the
/// [shutdown deadline](ServerConfig::shutdown_timeout)); [`shutdown`] does the same and waits
/// for it.
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
    /// server to stop. At the [shutdown deadline](ServerConfig::shutdown_timeout) it drops
    /// every connection and handler still running, so it returns even if a handler hangs or a
    /// peer never finishes its request.
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
/// tokio runtime, with the default bounds of [`ServerConfig::default`]:
///
/// | Bound | Default |
/// |---|---|
/// | header read timeout | 10 s |
/// | body read timeout | 30 s |
/// | request timeout | 60 s |
/// | idle timeout | 60 s |
/// | write timeout | 30 s |
/// | connections open | 1,024 |
/// | requests in flight | 256 |
/// | shutdown deadline | 30 s |
///
/// [`ServerConfig`] says what happens past each one.
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
    serve_with(router, addr, ServerConfig::default()).await
}

/// Serves `router` on `addr` like [`serve`], with the bounds of `config`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// use std::time::Duration;
/// use lfts::http::ServerConfig;
///
/// let config = ServerConfig::default()
///     .request_timeout(Duration::from_secs(5))
///     .shutdown_timeout(Duration::from_secs(2));
/// let server = lfts::http::serve_with(axum::Router::new(), "127.0.0.1:0", config).await?;
/// server.shutdown().await
/// # }
/// ```
pub async fn serve_with(
    router: Router,
    addr: impl ToSocketAddrs,
    config: ServerConfig,
) -> io::Result<ServerHandle> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let shared = Arc::new(Shared {
        router,
        requests: Arc::new(Semaphore::new(config.max_concurrent_requests)),
        config,
    });
    let task = tokio::spawn(accept_loop(listener, shared, stopped));
    Ok(ServerHandle {
        addr,
        stop: Some(stop),
        task: Some(task),
    })
}

/// What every connection of a server shares.
struct Shared {
    router: Router,
    config: ServerConfig,
    /// One permit per request in flight.
    requests: Arc<Semaphore>,
}

/// Where the server is in its life; every connection and HTTP/2 stream task watches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Serving,
    /// Not accepting; connections close once idle.
    Draining,
    /// Past the shutdown deadline: every task drops what it runs.
    Aborting,
}

/// Accepts connections until told to stop, then drains them within the shutdown deadline.
async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stopped: oneshot::Receiver<()>,
) -> io::Result<()> {
    let connections = Arc::new(Semaphore::new(shared.config.max_connections));
    let (phase_tx, phase) = watch::channel(Phase::Serving);
    // Every connection and stream task holds a sender; `recv` gives `None` once all are gone.
    let (alive, mut all_gone) = mpsc::channel::<Infallible>(1);
    loop {
        // At the cap, wait here rather than accept and close: see the module docs.
        let permit = tokio::select! {
            _ = &mut stopped => break,
            permit = Arc::clone(&connections).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            _ = &mut stopped => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) if is_peer_error(&error) => continue,
                Err(error) => {
                    tracing::warn!(%error, "lfts server: accept failed; pausing");
                    tokio::select! {
                        _ = &mut stopped => break,
                        () = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => continue,
                    }
                }
            },
        };
        tokio::spawn(connection(
            stream,
            permit,
            Arc::clone(&shared),
            phase.clone(),
            alive.clone(),
        ));
    }

    drop(listener);
    drop(alive);
    let _ = phase_tx.send(Phase::Draining);
    let drained = tokio::time::timeout(shared.config.shutdown_timeout, all_gone.recv()).await;
    if drained.is_err() {
        tracing::debug!("lfts server: shutdown deadline passed; aborting every connection");
        let _ = phase_tx.send(Phase::Aborting);
        all_gone.recv().await;
    }
    Ok(())
}

/// An accept error that only concerns the peer that gave up.
fn is_peer_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Why the watchdog of a connection acts.
#[derive(Debug, Clone, Copy)]
enum Expiry {
    /// Drop the connection now.
    Close(&'static str),
    /// No request in flight for the idle timeout: close gracefully.
    Idle,
}

/// Serves one connection, and watches it: the timers of the head, the idle time and the
/// writes run here, beside the connection, so that one `select!` can drop it.
async fn connection(
    stream: TcpStream,
    permit: OwnedSemaphorePermit,
    shared: Arc<Shared>,
    mut phase: watch::Receiver<Phase>,
    alive: mpsc::Sender<Infallible>,
) {
    let _permit = permit;
    // Answers are small and whole; do not let Nagle hold their last segment back.
    let _ = stream.set_nodelay(true);
    let watch = Arc::new(Watch::new());
    let io = TokioIo::new(Watched {
        inner: stream,
        watch: Arc::clone(&watch),
        write_blocked: false,
    });
    let service = {
        let shared = Arc::clone(&shared);
        let watch = Arc::clone(&watch);
        hyper::service::service_fn(move |request: Request<Incoming>| {
            // Called as soon as the head is complete: that stops the header-read clock.
            let in_flight = InFlight::begin(&watch);
            let shared = Arc::clone(&shared);
            async move { Ok::<_, Infallible>(shared.handle(request, in_flight).await) }
        })
    };
    let mut builder = auto::Builder::new(Exec {
        phase: phase.clone(),
        alive,
    });
    // The header-read timeout is ours: hyper's starts as soon as a connection is idle, which
    // would make it an idle timeout too.
    builder.http1().header_read_timeout(None);
    let conn = builder.serve_connection(io, service);
    let mut conn = std::pin::pin!(conn);

    let config = &shared.config;
    // Whether the connection was told to close gracefully, and by when it must be gone.
    let mut closing = false;
    let mut close_by: Option<Instant> = None;
    loop {
        let now = Instant::now();
        let mut due = watch.due(config, closing);
        if let Some(by) = close_by
            && due.is_none_or(|(at, _)| by < at)
        {
            due = Some((by, Expiry::Close("close deadline")));
        }
        match due {
            Some((at, Expiry::Close(reason))) if at <= now => {
                tracing::debug!(reason, "lfts server: dropping a connection");
                break;
            }
            Some((at, Expiry::Idle)) if at <= now => {
                conn.as_mut().graceful_shutdown();
                closing = true;
                close_by = now.checked_add(config.header_read_timeout);
                continue;
            }
            _ => {}
        }
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "lfts server: connection ended with an error");
                }
                break;
            }
            () = watch.changed.notified() => {}
            () = sleep_until(due.map(|(at, _)| at)) => {}
            changed = phase.changed() => match changed.map(|()| *phase.borrow_and_update()) {
                Ok(Phase::Serving) => {}
                Ok(Phase::Draining) => {
                    if !closing {
                        conn.as_mut().graceful_shutdown();
                        closing = true;
                    }
                }
                Ok(Phase::Aborting) | Err(_) => break,
            },
        }
    }
}

/// Sleeps until `at`, or forever.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Runs the HTTP/2 stream tasks of a connection; they too are dropped past the shutdown
/// deadline, and the server waits for them.
#[derive(Clone)]
struct Exec {
    phase: watch::Receiver<Phase>,
    alive: mpsc::Sender<Infallible>,
}

impl<F> hyper::rt::Executor<F> for Exec
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, future: F) {
        let mut phase = self.phase.clone();
        let alive = self.alive.clone();
        tokio::spawn(async move {
            let _alive = alive;
            tokio::select! {
                _ = future => {}
                _ = phase.wait_for(|phase| *phase == Phase::Aborting) => {}
            }
        });
    }
}

impl Shared {
    /// Answers one request: the concurrency limit, then the router under the request and
    /// body timeouts.
    async fn handle(&self, request: Request<Incoming>, in_flight: InFlight) -> Response<SendBody> {
        let response = match Arc::clone(&self.requests).try_acquire_owned() {
            Ok(permit) => {
                let response = self.run(request).await;
                drop(permit);
                response
            }
            Err(_) => {
                let mut response = protocol_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "overloaded",
                    format!(
                        "the server has {} requests in flight; try again",
                        self.config.max_concurrent_requests
                    ),
                );
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from_static("1"));
                response
            }
        };
        let in_flight = in_flight.sending();
        response.map(|body| SendBody {
            inner: body,
            in_flight,
        })
    }

    async fn run(&self, request: Request<Incoming>) -> Response<Body> {
        let version = request.version();
        let timed_out = Arc::new(AtomicBool::new(false));
        let limit = self.config.body_read_timeout;
        let request = request.map(|body| {
            Body::new(TimedBody {
                inner: body,
                limit,
                started: None,
                deadline: None,
                timed_out: Arc::clone(&timed_out),
            })
        });
        let call = self.router.clone().oneshot(request);
        let response = match tokio::time::timeout(self.config.request_timeout, call).await {
            Ok(Ok(response)) => response,
            Ok(Err(never)) => match never {},
            Err(_) => protocol_error(
                StatusCode::GATEWAY_TIMEOUT,
                "request_timeout",
                format!(
                    "the request did not complete within {:?}",
                    self.config.request_timeout
                ),
            ),
        };
        if !timed_out.load(Ordering::Acquire) {
            return response;
        }
        // The handler saw a failed read, whatever it answered; say what happened.
        let mut response = protocol_error(
            StatusCode::REQUEST_TIMEOUT,
            "body_timeout",
            format!("the request body did not arrive within {limit:?}"),
        );
        if version <= Version::HTTP_11 {
            // The rest of the body is never read, so the connection cannot carry another request.
            response
                .headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

/// A protocol error answered by the server itself: `{"error": code, "message": …}`, marked
/// with `x-lfts-error`.
fn protocol_error(status: StatusCode, code: &'static str, message: String) -> Response<Body> {
    let body = serde_json::json!({ "error": code, "message": message });
    let mut response = Response::new(Body::from(serde_json::to_vec(&body).unwrap_or_default()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(PROTOCOL_ERROR, HeaderValue::from_static(code));
    response
}

/// What the watchdog of one connection knows, kept by the socket, the service and the
/// response bodies.
struct Watch {
    state: Mutex<WatchState>,
    /// Woken when a deadline may have come closer.
    changed: Notify,
}

struct WatchState {
    protocol: Protocol,
    /// Requests dispatched whose response is not yet sent (or dropped).
    in_flight: usize,
    /// Of those, the ones whose handler answered, with a response body to send that has a
    /// frame ready (or had, when last asked): these wait on the peer.
    sending: usize,
    /// When `in_flight` last fell to 0 (or the connection was accepted).
    quiet_since: Instant,
    /// The first byte read since then: a request head has begun.
    head_since: Option<Instant>,
    /// Since when a write to the socket has been waiting.
    write_blocked_since: Option<Instant>,
    /// When a response body was last asked for a frame (or created).
    sent_at: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    /// This many bytes read so far match the HTTP/2 preface.
    Sniffing(usize),
    Http1,
    Http2,
}

impl Watch {
    fn new() -> Watch {
        let now = Instant::now();
        Watch {
            state: Mutex::new(WatchState {
                protocol: Protocol::Sniffing(0),
                in_flight: 0,
                sending: 0,
                quiet_since: now,
                head_since: None,
                write_blocked_since: None,
                sent_at: now,
            }),
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, WatchState> {
        // The state stays consistent at every step, so a panic elsewhere does not spoil it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next deadline of the connection and what to do at it.
    fn due(&self, config: &ServerConfig, closing: bool) -> Option<(Instant, Expiry)> {
        let state = self.lock();
        let mut due: Option<(Instant, Expiry)> = None;
        let mut consider = |since: Instant, timeout: Duration, expiry: Expiry| {
            if let Some(at) = since.checked_add(timeout)
                && due.is_none_or(|(earliest, _)| at < earliest)
            {
                due = Some((at, expiry));
            }
        };
        if let Some(since) = state.write_blocked_since {
            consider(since, config.write_timeout, Expiry::Close("write timeout"));
        }
        if state.sending > 0 {
            consider(
                state.sent_at,
                config.write_timeout,
                Expiry::Close("write timeout"),
            );
        }
        if state.in_flight == 0 {
            match state.head_since {
                Some(since) if state.protocol != Protocol::Http2 => consider(
                    since,
                    config.header_read_timeout,
                    Expiry::Close("header read timeout"),
                ),
                _ if !closing => consider(state.quiet_since, config.idle_timeout, Expiry::Idle),
                _ => {}
            }
        }
        due
    }

    /// Bytes arrived from the peer.
    fn read(&self, bytes: &[u8]) {
        let mut state = self.lock();
        if let Protocol::Sniffing(matched) = state.protocol {
            let more = bytes.len().min(H2_PREFACE.len() - matched);
            state.protocol = if bytes[..more] != H2_PREFACE[matched..matched + more] {
                Protocol::Http1
            } else if matched + more == H2_PREFACE.len() {
                Protocol::Http2
            } else {
                Protocol::Sniffing(matched + more)
            };
        }
        if state.in_flight == 0 && state.head_since.is_none() && state.protocol != Protocol::Http2 {
            state.head_since = Some(Instant::now());
            drop(state);
            self.changed.notify_one();
        }
    }

    /// A write to the socket has to wait (`true`), or went through again (`false`).
    fn write_blocked(&self, blocked: bool) {
        let mut state = self.lock();
        if blocked {
            state.write_blocked_since = Some(Instant::now());
            drop(state);
            self.changed.notify_one();
        } else {
            state.write_blocked_since = None;
        }
    }
}

/// A request in flight on a connection, from its complete head until its response is sent or
/// dropped.
struct InFlight {
    watch: Arc<Watch>,
    /// The handler answered; the response body is being sent.
    sending: bool,
    /// The response body had no frame ready when last asked.
    producing: bool,
}

impl InFlight {
    fn begin(watch: &Arc<Watch>) -> InFlight {
        let mut state = watch.lock();
        state.in_flight += 1;
        state.head_since = None;
        InFlight {
            watch: Arc::clone(watch),
            sending: false,
            producing: false,
        }
    }

    /// The handler answered: from now on the peer must take the response.
    fn sending(mut self) -> InFlight {
        let mut state = self.watch.lock();
        state.sending += 1;
        state.sent_at = Instant::now();
        drop(state);
        self.sending = true;
        self.watch.changed.notify_one();
        self
    }

    /// The response body was asked for a frame: the peer takes what it is sent. A body that
    /// has no frame ready (`producing`) waits on its handler, not on the peer, so the write
    /// timeout does not count for it until it has one.
    fn progress(&mut self, producing: bool) {
        let mut state = self.watch.lock();
        state.sent_at = Instant::now();
        if producing != self.producing {
            self.producing = producing;
            if producing {
                state.sending -= 1;
            } else {
                state.sending += 1;
            }
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut state = self.watch.lock();
        state.in_flight -= 1;
        if self.sending && !self.producing {
            state.sending -= 1;
        }
        if state.in_flight == 0 {
            state.quiet_since = Instant::now();
            // Bytes read while a request was in flight were its body, not a new head.
            state.head_since = None;
            drop(state);
            self.watch.changed.notify_one();
        }
    }
}

/// The socket of a connection, telling its [`Watch`] about reads and blocked writes.
struct Watched {
    inner: TcpStream,
    watch: Arc<Watch>,
    write_blocked: bool,
}

impl Watched {
    fn wrote<T>(&mut self, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        let blocked = poll.is_pending();
        if blocked != self.write_blocked {
            self.write_blocked = blocked;
            self.watch.write_blocked(blocked);
        }
        poll
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.inner).poll_read(cx, buf))?;
        let read = &buf.filled()[before..];
        if !read.is_empty() {
            self.watch.read(read);
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.wrote(poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.wrote(poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_flush(cx);
        self.wrote(poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.wrote(poll)
    }
}

/// A request body that must arrive within the body-read timeout of its first read.
struct TimedBody {
    inner: Incoming,
    limit: Duration,
    started: Option<Instant>,
    /// Armed the first time the body is not ready.
    deadline: Option<Pin<Box<Sleep>>>,
    /// Set when the deadline passed, for [`Shared::run`] to answer 408.
    timed_out: Arc<AtomicBool>,
}

/// The request body did not arrive in time.
#[derive(Debug)]
struct BodyTimeout(Duration);

impl fmt::Display for BodyTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the request body did not arrive within {:?}", self.0)
    }
}

impl std::error::Error for BodyTimeout {}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl HttpBody for TimedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if this.timed_out.load(Ordering::Acquire) {
            return Poll::Ready(Some(Err(BodyTimeout(this.limit).into())));
        }
        let started = *this.started.get_or_insert_with(Instant::now);
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|frame| frame.map_err(BoxError::from)));
        }
        let Some(at) = started.checked_add(this.limit) else {
            return Poll::Pending;
        };
        let deadline = this
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at)));
        ready!(deadline.as_mut().poll(cx));
        this.timed_out.store(true, Ordering::Release);
        Poll::Ready(Some(Err(BodyTimeout(this.limit).into())))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that keeps its request [in flight](InFlight) until it is sent or dropped.
struct SendBody {
    inner: Body,
    in_flight: InFlight,
}

impl HttpBody for SendBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let poll = Pin::new(&mut self.inner).poll_frame(cx);
        self.in_flight.progress(poll.is_pending());
        poll
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
