//! lfts: describe your domain once, in Rust, and get validators, a portable schema bytecode,
//! typed HTTP clients and servers, mocks and resilience layers from it.
//!
//! ```
//! use lfts::Schema;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, Serialize, Deserialize, Schema)]
//! #[serde(rename_all = "camelCase")]
//! struct NewUser {
//!     #[lfts(min_len = 1, max_len = 100)]
//!     display_name: String,
//!     #[lfts(email)]
//!     email: String,
//!     #[lfts(min = 13, max = 150)]
//!     age: u8,
//! }
//!
//! let ok = serde_json::json!({"displayName": "Ada", "email": "ada@example.com", "age": 36});
//! let user: NewUser = lfts::validate(&ok).unwrap();
//! assert_eq!(user.age, 36);
//!
//! let bad = serde_json::json!({"displayName": "", "email": "nope", "age": 300});
//! let errors = lfts::validate::<NewUser>(&bad).unwrap_err();
//! let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
//! assert_eq!(paths, ["/displayName", "/email", "/age"]);
//! ```
//!
//! # Schemas
//! `#[derive(Schema)]` on a serde type gives [`Schema::schema`], a [`TypeObject`] in the LFTS
//! opcode vocabulary that describes exactly the JSON serde reads and writes, with the
//! refinements of `#[lfts(...)]` (email, url, uuid, pattern, lengths, ranges, items). From it:
//! [`validate`](fn@validate) (every error, with its JSON Pointer path), [`decode`] (the fast path from
//! bytes), [`check`] (refinements of a typed value), the binary and JSON encodings, a
//! fingerprint and JSON Schema 2020-12. See [`schema`] and [`validate`](mod@validate).
//!
//! # Ports
//! `#[lfts::port]` on an async trait gives an HTTP client that implements the trait, a server
//! that exposes any implementation, a mock and a [`PortDescriptor`]. Failures on the way are
//! values: each method's error type holds a [`NetworkError`], made only by this process's
//! transport and layers. See [`port`](mod@port) and [`http`].
//!
//! ```
//! use lfts::{Context, NetworkError, Schema};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, Clone, Serialize, Deserialize, Schema)]
//! pub struct Order { pub id: u64, pub item: String }
//!
//! #[derive(Debug, Serialize, Deserialize, Schema)]
//! #[serde(tag = "type", rename_all = "snake_case")]
//! pub enum OrderError {
//!     #[lfts(network)]
//!     Network { error: NetworkError },
//! }
//!
//! #[lfts::port]
//! pub trait Orders: Send + Sync {
//!     async fn place(&self, item: String) -> Result<Order, OrderError>;
//! }
//!
//! #[derive(Default)]
//! struct Shop(std::sync::atomic::AtomicU64);
//!
//! impl Orders for Shop {
//!     async fn place(&self, item: String) -> Result<Order, OrderError> {
//!         // The call's context travelled over the wire with it.
//!         assert_eq!(Context::current().idempotency_key(), Some("order-42"));
//!         let id = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
//!         Ok(Order { id, item })
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = lfts::http::serve(OrdersServer::new(Shop::default()).router(), "127.0.0.1:0").await?;
//! let orders = OrdersClient::new(server.url())?;
//!
//! // Two attempts of one logical call, as a retry layer would make them: one order.
//! let call = || Context::new().with_idempotency_key("order-42").scope(orders.place("tea".into()));
//! let first = call().await.map_err(|e| format!("{e:?}"))?;
//! let replay = call().await.map_err(|e| format!("{e:?}"))?;
//! assert_eq!((first.id, replay.id), (1, 1));
//! server.shutdown().await?;
//! # Ok(())
//! # }
//! ```
//!
//! What `#[lfts::port]` generates for a trait `Orders`:
//!
//! | item | what it is |
//! |---|---|
//! | `OrdersClient` | the HTTP client (reqwest); implements `Orders`; `new(url)`, `with_config(HttpConfig)`, `check_contract()` |
//! | `OrdersServer<S>` | serves any `S: Orders`: `router()`, or `port_router()` to set limits, idempotency, auth |
//! | `MockOrders` | `on_<method>` behaviours, `calls_to_<method>()`, `expect_<method>().times(n)`, `verify()` |
//! | `OrdersPlaceArgs` | one call's arguments as a value (what a mock records) |
//! | `impl Orders for Layered<P, L>` | any [`Layer`] wraps any implementation, local or remote |
//! | `DynOrders` | the dyn-compatible form, for `Arc<dyn DynOrders>` wiring chosen at run time |
//! | `<OrdersServer<_> as Port>::descriptor()` | the [`PortDescriptor`]: bytecode, JSON Schema, fingerprints |
//!
//! Domain logic takes the trait, so a test runs it against the mock, and layers wrap any
//! implementation. A mock panics on a call it has no behaviour for, so a best-effort path
//! cannot swallow it:
//!
//! ```
//! use std::time::Duration;
//! use lfts::resilience::{LayerExt, Retry, Timeout};
//! use lfts::{NetworkError, Schema};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, Serialize, Deserialize, Schema)]
//! #[serde(tag = "type", rename_all = "snake_case")]
//! pub enum StockError {
//!     #[lfts(status = 404)]
//!     UnknownSku { sku: String },
//!     #[lfts(network)]
//!     Network { error: NetworkError },
//! }
//!
//! #[lfts::port]
//! pub trait Stock: Send + Sync {
//!     /// Mapped onto an existing REST API: `GET {base}/skus/{sku}?warehouse=…`.
//!     #[lfts(idempotent, http(get = "/skus/{sku}"))]
//!     async fn level(&self, sku: String, warehouse: Option<String>) -> Result<u32, StockError>;
//! }
//!
//! /// Domain logic: takes any implementation of the port.
//! async fn can_ship(stock: &impl Stock, sku: &str) -> bool {
//!     matches!(stock.level(sku.to_owned(), None).await, Ok(n) if n > 0)
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let mock = MockStock::new()
//!     .on_level(|sku, _| async move { if sku == "A-1" { Ok(3) } else { Ok(0) } })
//!     .expect_level()
//!     .times(2);
//! // The same mock behind the layers a remote client would have.
//! let stock = mock
//!     .clone()
//!     .layer(Timeout::per_attempt(Duration::from_millis(200)))
//!     .layer(Retry::exponential().max_attempts(3));
//! assert!(can_ship(&stock, "A-1").await);
//! assert!(!can_ship(&stock, "B-2").await);
//! assert_eq!(mock.calls_to_level()[1].sku, "B-2");
//! mock.verify();
//! # });
//! ```
//!
//! A REST-mapped method puts its path parameters in the path and, for `GET` and `DELETE`, the
//! other arguments in the query string; a bare error status maps to the variant with that
//! `#[lfts(status)]`, whose fields the body may supply. Protocol errors of lfts's own (no such
//! method, bad arguments, too large) are marked `x-lfts-error` and never become domain errors.
//!
//! # Context
//! One [`Context`] per logical call carries its idempotency key, deadline, W3C trace context,
//! the caller's identity and the request headers, from the caller through every layer and the
//! wire to the implementation, which reads it with [`Context::current`]. The port trait stays
//! the same for local, remote and mock implementations. See [`context`](mod@context).
//!
//! # Exactly-once
//! A generated server honours idempotency keys for every method that is not
//! `#[lfts(idempotent)]`: a replay is answered with the stored outcome, byte for byte; a
//! duplicate in flight waits for the first; a key reused with other arguments is refused. The
//! store is in memory by default and Redis (feature `redis`) when replicas share it. See
//! [`http::idempotency`]; the feature `testing` adds `lfts::testing`, the fault-injecting
//! proxy the guarantee tests drive.
//!
//! # Resilience
//! [`Layer`]s wrap any implementation of a port without changing it: [`resilience::Timeout`]
//! bounds each attempt or, with `Timeout::overall`, the whole call (the deadline every layer,
//! the client and the server then respect); [`resilience::Retry`] replays transient network
//! failures with one idempotency key per logical call and starts no attempt past the deadline;
//! `primary.fallback(secondary)` ([`resilience::Fallback`]) lets a second implementation of the
//! same port answer when the first fails on the way. See [`resilience`].
//!
//! # Interop
//! The JSON encoding of a [`TypeObject`] is nested `[op, payload…]` arrays in the LFTS
//! bytecode's opcode order, and [`TypeObject::to_json_schema`] gives JSON Schema 2020-12 for
//! any tool that reads it.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod context;
pub mod http;
pub mod mock;
pub mod port;
pub mod resilience;
pub mod result;
pub mod schema;
#[cfg(feature = "testing")]
pub mod testing;
pub mod validate;

#[doc(hidden)]
pub mod __private;

pub use context::Context;
pub use lfts_macros::{Schema, port};
pub use schema::{Schema, TypeObject};
pub use validate::{Path, ValidationError, ValidationErrors, check, decode, validate};

pub use port::{MethodInfo, NetworkError, Port, PortDescriptor, RemoteError};
pub use resilience::{Layer, LayerExt, Layered};
