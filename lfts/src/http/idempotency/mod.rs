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
//! - What is stored: every outcome the method produced (a value, a domain error, a result that
//!   failed to serialize). Outcomes that never reached the method (`400`, `401`, `413`, `415`)
//!   are not stored. A **panic is not stored**: the key is released and a replay runs the
//!   method again. An outcome larger than [`max_outcome_bytes`](Idempotency::max_outcome_bytes)
//!   (default 1 MiB) is not stored either; a marker is, so that a replay answers `409
//!   idempotency_outcome_not_stored` rather than run the method twice.
//! - Once started, a keyed call runs to completion in its own task and its outcome is stored
//!   even if the caller disconnects, so the caller's retry finds it.
//! - Keys are scoped by port and by the caller's identity (the auth hook's), so one caller can
//!   neither read nor block another's outcomes. The store sees only a SHA-256 of the scope and
//!   key, so its memory per key is fixed however long the key.
//! - Outcomes expire after [`ttl`](Idempotency::ttl) (default 24 h). A call still in flight
//!   holds its key for at most [`lease`](Idempotency::lease) (default 5 min): past that, a
//!   replica that crashed mid-call no longer blocks the key, and a replay runs the method.
//! - A call without a key runs as before. [`Idempotency::off`] turns the whole mechanism off,
//!   for a server or one method.
//! - **The store is down** (an [`IdempotencyStore`] answers an error): the server fails closed,
//!   `503 idempotency_store_unavailable`, without running the method. A client sees
//!   `http_error{status: 503}`, which is transient, so a retry layer tries again; no work is
//!   done that could not be recorded. If the store fails only when the outcome is recorded,
//!   the caller still gets its answer, the failure is logged at `error` level, and the key
//!   stays in flight until its lease ends.
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

/// What [`IdempotencyStore::begin`] found under a key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Begin {
    /// Nothing: the key is now in flight, owned by this call until its lease ends. The owner
    /// finishes with [`complete`](IdempotencyStore::complete) or
    /// [`abandon`](IdempotencyStore::abandon), passing `token`.
    Started {
        /// Proves ownership of the in-flight record.
        token: String,
    },
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
/// key); `fingerprint` is a hash of the method and its arguments. Every operation on one key
/// must be atomic with respect to the others: two concurrent `begin`s of a new key give one
/// `Started` and one `InProgress`, whichever replica they run on.
pub trait IdempotencyStore: Send + Sync + 'static {
    /// Looks `key` up and, if it is free, marks it in flight for `lease`.
    fn begin<'a>(
        &'a self,
        key: &'a str,
        fingerprint: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Begin, StoreError>>;

    /// Records the outcome of the call that owns `key` (`token` from [`Begin::Started`]),
    /// kept for `ttl`. A token that no longer owns the key (its lease ended) changes nothing.
    fn complete<'a>(
        &'a self,
        key: &'a str,
        token: &'a str,
        outcome: StoredOutcome,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

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

    /// How long a call in flight holds its key (default 5 min); set it above the longest a
    /// method runs.
    pub fn lease(mut self, lease: Duration) -> Idempotency {
        self.lease = lease;
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
    let a = crate::context::random_u64().to_be_bytes();
    let b = crate::context::random_u64().to_be_bytes();
    crate::context::push_hex(&mut out, &a);
    crate::context::push_hex(&mut out, &b);
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
