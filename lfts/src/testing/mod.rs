//! Test helpers (feature `testing`): a fault-injecting TCP proxy for proving exactly-once
//! delivery.
//!
//! [`FaultProxy`] listens on 127.0.0.1 and forwards to one or more HTTP/1.1 servers on loopback.
//! A [`FaultPlan`] decides, for each accepted connection, which [`Fault`] it meets: passed
//! through, refused with a TCP reset, delayed, answered `503`, cut off halfway through the
//! response, or — the case exactly-once delivery is about — forwarded to the server and processed,
//! with the response thrown away. [`FaultProxy::stats`] counts what was done.
//!
//! # Faults apply per TCP connection
//!
//! The proxy does not parse HTTP (except to read the request head before an injected 503): a
//! fault applies to a whole TCP connection. An HTTP client that keeps connections alive sends
//! several requests over one connection, and they all meet that connection's fault. To fault
//! every request independently, make the client open one connection per request: with reqwest,
//! `reqwest::Client::builder().pool_max_idle_per_host(0)`.
//!
//! Connections are numbered from 0 in accept order, and the plan's decision depends only on that
//! index (and the seed), never on timing: [`FaultPlan::fault_for`] is that decision, so a test can
//! compute what each connection will meet. A client that retries opens a new connection, which
//! gets the next index.
//!
//! ```
//! use lfts::testing::{Fault, FaultPlan, FaultProxy};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! # let server = listener.local_addr()?;
//! # let app = axum::Router::new().route("/orders", axum::routing::post(|| async { "created" }));
//! # tokio::spawn(async move { axum::serve(listener, app).await });
//! // `server` is an HTTP server on 127.0.0.1. The first connection gets a 503, the next ones pass.
//! let proxy = FaultProxy::start(server, FaultPlan::schedule([Fault::Unavailable])).await?;
//!
//! // One connection per request, so each request meets its own fault.
//! let client = reqwest::Client::builder()
//!     .pool_max_idle_per_host(0)
//!     .no_proxy()
//!     .build()?;
//! let url = format!("{}/orders", proxy.url());
//!
//! let first = client.post(&url).send().await?;
//! assert_eq!(first.status(), 503);
//! let second = client.post(&url).send().await?;
//! assert_eq!(second.status(), 200);
//!
//! let stats = proxy.stats();
//! assert_eq!((stats.connections, stats.unavailable, stats.passed), (2, 1, 1));
//! proxy.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! Random faults are just as reproducible: `FaultPlan::seeded(7).rate(Fault::DropResponse, 0.2)`
//! drops the response of about one connection in five, and the same ones on every run.
//! [`FaultProxy::start_many`] spreads connections over replicas round robin, so a retry lands on
//! another replica, as it would behind a load balancer.
//!
//! # Limits
//!
//! - Loopback only: the proxy binds 127.0.0.1 and refuses upstreams that are not loopback
//!   addresses ([`std::io::ErrorKind::InvalidInput`]).
//! - Bounded: one task per connection, at most 1024 connections open at once (further accepts
//!   wait), two 16 KiB buffers per connection, every wait on the upstream bounded (30 s for the
//!   first response byte). A connection whose upstream cannot be reached is closed, and counted as
//!   passed.
//! - Delays and quiet periods use tokio's clock, so they follow a paused clock in tests that do
//!   no real IO. Real sockets do not: with loopback traffic, use short real durations.
//! - [`Fault::ResetMidResponse`] cuts the first chunk the upstream writes, wherever that chunk
//!   ends; the client sees a truncated response, but which part it gets depends on the server.

mod connection;
mod plan;
mod proxy;
#[cfg(feature = "redis")]
mod redis_server;

pub use plan::{Fault, FaultPlan};
pub use proxy::{FaultProxy, FaultStats};
#[cfg(feature = "redis")]
pub use redis_server::RedisServer;
