//! A driver for instruction counts of the deduplicating server, which wall-clock runs on a
//! noisy 2-core machine cannot resolve to a few percent:
//!
//! ```sh
//! cargo bench --bench dedup_instructions --no-run
//! B=$(ls -t target/release/deps/dedup_instructions-* | grep -v '\.d$' | head -1)
//! for mode in off memory; do for n in 0 2000; do
//!   valgrind --tool=callgrind --callgrind-out-file=/dev/null $B $mode $n 2>&1 | grep refs
//! done; done
//! ```
//!
//! `(refs(2000) - refs(0)) / 2000` is the instructions of one call (client and server, one
//! process, the same `create_user` as `benches/remote.rs`' loopback groups), each call with a
//! fresh idempotency key; `off` is the server with deduplication off, `memory` the default
//! in-memory store. Not a criterion bench: it prints nothing but what it did.

use std::sync::atomic::{AtomicU64, Ordering};

use lfts::http::idempotency::Idempotency;
use lfts::{Context, NetworkError, Schema};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
pub struct User {
    pub id: u64,
    pub name: String,
    pub email: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CreateUserError {
    #[lfts(network)]
    Network { error: NetworkError },
}

#[lfts::port]
pub trait UserService: Send + Sync {
    async fn create_user(&self, name: String, email: String) -> Result<User, CreateUserError>;
}

#[derive(Default)]
struct InMemory {
    next: AtomicU64,
}

impl UserService for InMemory {
    async fn create_user(&self, name: String, email: String) -> Result<User, CreateUserError> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        Ok(User { id, name, email })
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "off".to_owned());
    let calls: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(1000);
    let idempotency = match mode.as_str() {
        "memory" => Idempotency::new(),
        _ => Idempotency::off(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let router = UserServiceServer::new(InMemory::default())
            .port_router()
            .idempotency(idempotency)
            .into_router();
        let server = lfts::http::serve(router, "127.0.0.1:0")
            .await
            .expect("the server starts");
        let client = UserServiceClient::new(server.url()).expect("a client");
        // One warm-up call opens the connection and fills the lazy statics, in both runs.
        let warm = Context::new()
            .with_idempotency_key(lfts::context::new_idempotency_key())
            .scope(client.create_user("Ada".into(), "ada@example.com".into()))
            .await;
        assert!(warm.is_ok(), "{warm:?}");
        for _ in 0..calls {
            let user = Context::new()
                .with_idempotency_key(lfts::context::new_idempotency_key())
                .scope(client.create_user("Ada".into(), "ada@example.com".into()))
                .await;
            assert!(user.is_ok(), "{user:?}");
        }
        println!("{mode}: {calls} calls");
        server.shutdown().await.expect("the server stops");
    });
}
