//! Exactly-once execution of calls that are not idempotent: the server side of idempotency
//! keys.
//!
//! Every attempt of one logical call carries the same `idempotency-key` (a
//! [`Retry`](crate::resilience::Retry) layer pins it). A generated server honours it for every
//! method that is not `#[lfts(idempotent)]`, with Stripe's semantics:
//!
//! | the key is… | the server… |
//! |---|---|
//! | new | runs the method, stores its outcome (status and body) under the key, answers |
//! | stored, same arguments | answers the stored outcome byte for byte, with `idempotent-replayed: true`, without running the method |
//! | in flight, same arguments | waits for the first call to finish (up to [`wait`](Idempotency::wait), default 10 s) and answers its outcome; past that, `409 idempotency_in_progress` |
//! | used with other arguments | `422 idempotency_key_reused` |
//! | malformed (empty, over 255 bytes, not visible ASCII) | `400 invalid_idempotency_key` |
//!
//! - What is stored: every outcome the method produced (a value, a domain error, a `502`/`504`
//!   for a service it depends on, an answer that failed, or panicked, while being serialized:
//!   the method's effects happened, so a replay must not repeat them). Outcomes that never
//!   reached the method (`400`, `401`, `413`, `415`, `503`) are not stored. A **panic in the
//!   method is not stored**: the key is released and a replay runs the method again. An outcome
//!   larger than [`max_outcome_bytes`](Idempotency::max_outcome_bytes) (default 1 MiB) is not
//!   stored either; a marker is, so that a replay answers `409 idempotency_outcome_not_stored`
//!   rather than run the method twice.
//! - Once started, a keyed call runs to completion in its own task and its outcome is stored
//!   even if the caller disconnects, so the caller's retry finds it. At most
//!   [`max_in_flight`](Idempotency::max_in_flight) such tasks (default 1,024 per router) run
//!   at once; past that a keyed call is `503 overloaded`, without running.
//! - Keys are scoped by port and by the caller's identity (the auth hook's), so one caller can
//!   neither read nor block another's outcomes. **Without an auth hook every caller shares
//!   one namespace**: a key is then a secret between a client and the server, and clients must
//!   make keys no one else can guess (the random UUIDs [`Retry`](crate::resilience::Retry)
//!   makes are). The store sees only a SHA-256 of the scope and key, so its memory per key is
//!   fixed however long the key.
//! - Outcomes expire after [`ttl`](Idempotency::ttl) (default 24 h). A call in flight holds
//!   its key while its lease is renewed (every third of [`lease`](Idempotency::lease), default
//!   5 min, while the method runs), so a long call keeps its key; a replica that crashed
//!   mid-call stops renewing, and after one lease a replay runs the method.
//! - The token that owns a key is made before the store is asked, so a `begin` whose answer
//!   was lost (a store timeout) is undone rather than leaving the key blocked.
//! - A call without a key runs as before. [`Idempotency::off`] turns the whole mechanism off,
//!   for a server or one method.
//! - **The store is down** (an [`IdempotencyStore`] answers an error): the server fails closed,
//!   `503 idempotency_store_unavailable`, without running the method. A client sees
//!   `http_error{status: 503}`, which is transient, so a retry layer tries again; no work is
//!   done that could not be recorded. If the store fails only when the outcome is recorded,
//!   the caller still gets its answer, the server keeps trying to record it in the background
//!   (with a doubling pause, for up to one lease), and logs an error if it never can; the key
//!   then stays in flight until its lease ends, after which a replay runs the method again.
//! - A Redis used as the store must not evict keys on its own (`maxmemory-policy
//!   noeviction`): an evicted in-flight record lets a duplicate run.
//!
//! Stores: [`MemoryStore`] (the default, one per router, bounded and lost on restart) and,
//! with the `redis` feature, `RedisStore`, which replicas behind a load balancer share.

mod memory;
#[cfg(feature = "redis")]
mod redis;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use futures_util::future::BoxFuture;

pub use memory::MemoryStore;
#[cfg(feature = "redis")]
pub use redis::RedisStore;

/// The default time a stored outcome is kept.
pub const DEFAULT_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// The default time a call in flight holds its key.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(5 * 60);
/// The default time a duplicate waits for the call in flight before `409`.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(10);
/// The default largest outcome body stored.
pub const DEFAULT_MAX_OUTCOME_BYTES: usize = 1024 * 1024;
/// The default bound on keyed calls running at once, per router.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 1024;
/// The longest idempotency key accepted, in bytes.
pub const MAX_KEY_LEN: usize = 255;

/// The outcome of a call as stored and replayed: its status and exact body bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredOutcome {
    /// The HTTP status.
    pub status: u16,
    /// Whether it is a protocol error of lfts's own (answered with
    /// [`x-lfts-error`](crate::http::PROTOCOL_ERROR)) rather than the method's outcome.
    pub protocol_error: bool,
    /// The JSON body, byte for byte.
    pub body: Bytes,
}

/// The marker stored instead of an outcome that is not kept (too large, or evicted under
/// memory pressure): a replay gets `409 idempotency_outcome_not_stored`, never a second run.
pub(crate) static NOT_STORED: StoredOutcome = StoredOutcome {
    status: 409,
    protocol_error: true,
    body: Bytes::from_static(
        br#"{"error":"idempotency_outcome_not_stored","message":"this call completed, but its answer was not kept for a replay"}"#,
    ),
};

/// What [`IdempotencyStore::begin`] found under a key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Begin {
    /// Nothing: the key is now in flight, owned by the caller's token until its lease ends.
    /// The owner keeps it with [`renew`](IdempotencyStore::renew) and finishes with
    /// [`complete`](IdempotencyStore::complete) or [`abandon`](IdempotencyStore::abandon).
    Started,
    /// A completed call with the same fingerprint: its outcome.
    Completed(StoredOutcome),
    /// A call with the same fingerprint is in flight.
    InProgress,
    /// The key was used with another fingerprint (other arguments, or another method).
    Mismatch,
}

/// An [`IdempotencyStore`] could not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreError {
    /// The store is unreachable or failed (a Redis outage).
    Unavailable {
        /// What failed.
        message: String,
    },
    /// The store is full of calls in flight and can take no new key.
    Full,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Unavailable { message } => {
                write!(f, "the idempotency store is unavailable: {message}")
            }
            StoreError::Full => f.write_str("the idempotency store is full of calls in flight"),
        }
    }
}

impl std::error::Error for StoreError {}

/// Where a server keeps the outcomes of keyed calls. Dyn-compatible: a server holds an
/// `Arc<dyn IdempotencyStore>`.
///
/// `key` is an opaque fixed-length string (a hash of the port, the caller and the client's
/// key); `fingerprint` is a hash of the method and its arguments; `token` is a random string
/// the server makes for each call before `begin`, so that a `begin` whose answer was lost (a
/// timeout) can still be undone with `abandon`. Every operation on one key must be atomic with
/// respect to the others: two concurrent `begin`s of a new key give one `Started` and one
/// `InProgress`, whichever replica they run on; a `begin` repeated with the same token gives
/// `Started` again.
pub trait IdempotencyStore: Send + Sync + 'static {
    /// Looks `key` up and, if it is free, marks it in flight, owned by `token`, for `lease`.
    fn begin<'a>(
        &'a self,
        key: &'a str,
        fingerprint: &'a str,
        token: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Begin, StoreError>>;

    /// Extends the lease of the call that owns `key` to `lease` from now; `false` when `token`
    /// no longer owns it. The server renews while the method runs, so a call that runs longer
    /// than one lease never loses its key.
    fn renew<'a>(
        &'a self,
        key: &'a str,
        token: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Records the outcome of the call that owns `key`, kept for `ttl`; `false` (and nothing
    /// changes) when `token` no longer owns the key.
    fn complete<'a>(
        &'a self,
        key: &'a str,
        token: &'a str,
        outcome: StoredOutcome,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Releases `key` without an outcome (the call panicked), so that a replay runs it again.
    fn abandon<'a>(&'a self, key: &'a str, token: &'a str)
    -> BoxFuture<'a, Result<(), StoreError>>;

    /// Resolves when the record under `key` may have changed (a waiting duplicate then calls
    /// `begin` again). The default polls every 20 ms; a store that can be notified does better.
    fn changed<'a>(&'a self, key: &'a str) -> BoxFuture<'a, ()> {
        let _ = key;
        Box::pin(tokio::time::sleep(Duration::from_millis(20)))
    }
}

/// How a server deduplicates keyed calls: on (the default, with a [`MemoryStore`]) or off,
/// with its store and bounds. Set it for a whole port with
/// [`PortRouter::idempotency`](crate::http::PortRouter::idempotency) or for one method with
/// [`PortRouter::method_idempotency`](crate::http::PortRouter::method_idempotency).
///
/// ```
/// use std::time::Duration;
/// use lfts::http::idempotency::{Idempotency, MemoryStore};
///
/// let shared = Idempotency::new()
///     .store(MemoryStore::new().max_entries(10_000))
///     .ttl(Duration::from_secs(3600))
///     .wait(Duration::from_secs(2));
/// assert!(shared.is_enabled());
/// assert!(!Idempotency::off().is_enabled());
/// ```
#[derive(Clone)]
pub struct Idempotency {
    pub(crate) enabled: bool,
    pub(crate) store: Option<Arc<dyn IdempotencyStore>>,
    pub(crate) ttl: Duration,
    pub(crate) lease: Duration,
    pub(crate) wait: Duration,
    pub(crate) max_outcome_bytes: usize,
    pub(crate) max_in_flight: usize,
}

impl Default for Idempotency {
    fn default() -> Idempotency {
        Idempotency::new()
    }
}

impl Idempotency {
    /// Deduplication on, with the defaults: a [`MemoryStore`] of the router's own, a 24 h
    /// TTL, a 5 min lease, a 10 s wait and a 1 MiB outcome bound.
    pub fn new() -> Idempotency {
        Idempotency {
            enabled: true,
            store: None,
            ttl: DEFAULT_TTL,
            lease: DEFAULT_LEASE,
            wait: DEFAULT_WAIT,
            max_outcome_bytes: DEFAULT_MAX_OUTCOME_BYTES,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
        }
    }

    /// Deduplication off: keyed calls run as calls without a key.
    pub fn off() -> Idempotency {
        Idempotency {
            enabled: false,
            ..Idempotency::new()
        }
    }

    /// Keeps outcomes in `store`.
    pub fn store(self, store: impl IdempotencyStore) -> Idempotency {
        self.shared_store(Arc::new(store))
    }

    /// Keeps outcomes in a store shared with other routers (or replicas).
    pub fn shared_store(mut self, store: Arc<dyn IdempotencyStore>) -> Idempotency {
        self.store = Some(store);
        self
    }

    /// How long an outcome is kept (default 24 h).
    pub fn ttl(mut self, ttl: Duration) -> Idempotency {
        self.ttl = ttl;
        self
    }

    /// How long a call in flight holds its key without a sign of life (default 5 min, at
    /// least 1 s). The server renews it every third of a lease while the method runs, so the
    /// lease bounds how long a replica that crashed mid-call blocks the key, not how long a
    /// method may run.
    pub fn lease(mut self, lease: Duration) -> Idempotency {
        self.lease = lease.max(Duration::from_secs(1));
        self
    }

    /// How long a duplicate waits for the call in flight before `409
    /// idempotency_in_progress` (default 10 s).
    pub fn wait(mut self, wait: Duration) -> Idempotency {
        self.wait = wait;
        self
    }

    /// The largest outcome body stored (default 1 MiB); a larger one leaves a marker (see the
    /// [module docs](self)).
    pub fn max_outcome_bytes(mut self, bytes: usize) -> Idempotency {
        self.max_outcome_bytes = bytes;
        self
    }

    /// The most keyed calls of one router running at once (default 1,024); past it a new
    /// keyed call is answered `503 overloaded` with `retry-after: 1`, without running. Keyed
    /// calls run in tasks of their own that finish even when their caller goes away, so this
    /// bounds them where a server's own concurrency limit cannot.
    pub fn max_in_flight(mut self, calls: usize) -> Idempotency {
        self.max_in_flight = calls;
        self
    }

    /// Whether deduplication is on.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }
}

impl fmt::Debug for Idempotency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Idempotency")
            .field("enabled", &self.enabled)
            .field("shared_store", &self.store.is_some())
            .field("ttl", &self.ttl)
            .field("lease", &self.lease)
            .field("wait", &self.wait)
            .field("max_outcome_bytes", &self.max_outcome_bytes)
            .field("max_in_flight", &self.max_in_flight)
            .finish()
    }
}

/// Whether a client's key is acceptable: 1 to 255 bytes of visible ASCII.
pub(crate) fn valid_key(key: &[u8]) -> bool {
    !key.is_empty() && key.len() <= MAX_KEY_LEN && key.iter().all(|b| (0x21..=0x7e).contains(b))
}

/// SHA-256 of `parts`, each length-prefixed so that no two lists hash alike, as 64 hex digits.
pub(crate) fn digest(parts: &[&[u8]]) -> String {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    for part in parts {
        hasher.update(u64::try_from(part.len()).unwrap_or(u64::MAX).to_be_bytes());
        hasher.update(part);
    }
    let mut out = String::with_capacity(64);
    crate::context::push_hex(&mut out, &hasher.finalize());
    out
}

/// A fresh ownership token.
pub(crate) fn new_token() -> String {
    let mut out = String::with_capacity(32);
    crate::context::push_hex(&mut out, &crate::context::random_bytes::<16>());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked() {
        assert!(valid_key(b"order-1"));
        assert!(valid_key(&[b'a'; 255]));
        assert!(!valid_key(&[b'a'; 256]));
        assert!(!valid_key(b""));
        assert!(!valid_key(b"a b"));
        assert!(!valid_key(b"a\x01"));
        assert!(!valid_key("é".as_bytes()));
    }

    #[test]
    fn digests_are_length_prefixed() {
        assert_ne!(digest(&[b"ab", b"c"]), digest(&[b"a", b"bc"]));
        assert_eq!(digest(&[b"x"]).len(), 64);
        assert_ne!(new_token(), new_token());
    }
}
