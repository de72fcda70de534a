//! [`MemoryStore`]: the default idempotency store, in this process's memory.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::{Begin, IdempotencyStore, StoreError, StoredOutcome, new_token};

/// The default bound on keys held (in flight and completed).
pub const DEFAULT_MAX_ENTRIES: usize = 100_000;
/// The default bound on the bytes of stored outcomes (bodies plus a fixed cost per key).
pub const DEFAULT_MAX_BYTES: usize = 64 * 1024 * 1024;
/// What one key costs beside its body: the 64-byte key, the 64-byte fingerprint, the
/// record and the map's own overhead, rounded up.
const ENTRY_OVERHEAD: usize = 256;

/// An [`IdempotencyStore`] in this process's memory: the default for every generated server.
///
/// Bounded: at most [`max_entries`](MemoryStore::max_entries) keys (default 100,000) and
/// [`max_bytes`](MemoryStore::max_bytes) of outcomes (default 64 MiB, each key counting its
/// body plus 256 bytes). Past either bound the oldest completed outcomes are evicted first
/// (a replay of an evicted key runs the method again); calls in flight are never evicted, and
/// when every entry is in flight a new key is refused with [`StoreError::Full`] (the server
/// answers `503`). Expired outcomes are dropped as new ones arrive.
///
/// Not shared: replicas behind a load balancer each have their own, and a restart forgets
/// every key. Use `RedisStore` (feature `redis`) where that matters.
///
/// Waiting duplicates are woken when the call they wait for completes, without polling.
pub struct MemoryStore {
    state: Mutex<State>,
    max_entries: usize,
    max_bytes: usize,
}

#[derive(Default)]
struct State {
    map: HashMap<String, Entry>,
    /// Completed keys in the order they completed, with the sequence number they completed
    /// under (an entry whose number differs was replaced or removed since).
    completed: VecDeque<(String, u64)>,
    bytes: usize,
    seq: u64,
}

struct Entry {
    fingerprint: String,
    until: Instant,
    record: Record,
}

enum Record {
    InFlight { token: String, notify: Arc<Notify> },
    Done { outcome: StoredOutcome, seq: u64 },
}

impl Entry {
    fn cost(&self) -> usize {
        match &self.record {
            Record::InFlight { .. } => 0,
            Record::Done { outcome, .. } => ENTRY_OVERHEAD + outcome.body.len(),
        }
    }
}

impl Default for MemoryStore {
    fn default() -> MemoryStore {
        MemoryStore::new()
    }
}

impl MemoryStore {
    /// An empty store with the default bounds.
    pub fn new() -> MemoryStore {
        MemoryStore {
            state: Mutex::new(State::default()),
            max_entries: DEFAULT_MAX_ENTRIES,
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }

    /// The most keys held at once, in flight and completed (at least 1).
    pub fn max_entries(mut self, entries: usize) -> MemoryStore {
        self.max_entries = entries.max(1);
        self
    }

    /// The most bytes of completed outcomes held.
    pub fn max_bytes(mut self, bytes: usize) -> MemoryStore {
        self.max_bytes = bytes;
        self
    }

    /// The number of keys held (in flight and completed, expired ones not yet dropped
    /// included).
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes the completed outcomes held account for.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn begin_now(
        &self,
        key: &str,
        fingerprint: &str,
        lease: Duration,
    ) -> Result<Begin, StoreError> {
        let now = Instant::now();
        let mut state = self.lock();
        if let Some(entry) = state.map.get(key) {
            if entry.until > now {
                if entry.fingerprint != fingerprint {
                    return Ok(Begin::Mismatch);
                }
                return Ok(match &entry.record {
                    Record::InFlight { .. } => Begin::InProgress,
                    Record::Done { outcome, .. } => Begin::Completed(outcome.clone()),
                });
            }
            state.remove(key);
        }
        state.drop_expired(now);
        while state.map.len() >= self.max_entries {
            if !state.evict_oldest() {
                return Err(StoreError::Full);
            }
        }
        let token = new_token();
        let until = now
            .checked_add(lease)
            .unwrap_or(now + Duration::from_secs(86_400));
        state.map.insert(
            key.to_owned(),
            Entry {
                fingerprint: fingerprint.to_owned(),
                until,
                record: Record::InFlight {
                    token: token.clone(),
                    notify: Arc::new(Notify::new()),
                },
            },
        );
        Ok(Begin::Started { token })
    }

    fn complete_now(&self, key: &str, token: &str, outcome: StoredOutcome, ttl: Duration) {
        let now = Instant::now();
        let mut state = self.lock();
        let seq = state.seq + 1;
        let notify = match state.map.get_mut(key) {
            Some(entry) => match &entry.record {
                Record::InFlight { token: t, notify } if t == token => {
                    let notify = Arc::clone(notify);
                    entry.record = Record::Done { outcome, seq };
                    entry.until = now
                        .checked_add(ttl)
                        .unwrap_or(now + Duration::from_secs(86_400 * 365));
                    notify
                }
                _ => return,
            },
            None => return,
        };
        state.seq = seq;
        let cost = state.map.get(key).map_or(0, Entry::cost);
        state.bytes += cost;
        state.completed.push_back((key.to_owned(), seq));
        if state.completed.len() > 2 * self.max_entries {
            // Keys removed on lookup (expired under a shorter TTL) leave stale positions
            // behind; keep the queue within a bound of the map.
            let State { map, completed, .. } = &mut *state;
            completed.retain(|(k, s)| {
                matches!(map.get(k).map(|e| &e.record), Some(Record::Done { seq, .. }) if seq == s)
            });
        }
        while state.bytes > self.max_bytes {
            if !state.evict_oldest() {
                break;
            }
        }
        drop(state);
        notify.notify_waiters();
    }

    fn abandon_now(&self, key: &str, token: &str) {
        let mut state = self.lock();
        let owned = matches!(
            state.map.get(key).map(|e| &e.record),
            Some(Record::InFlight { token: t, .. }) if t == token
        );
        if owned && let Some(entry) = state.remove(key) {
            drop(state);
            if let Record::InFlight { notify, .. } = entry.record {
                notify.notify_waiters();
            }
        }
    }

    /// The notifier of `key`'s in-flight record, if it is in flight.
    fn in_flight(&self, key: &str) -> Option<Arc<Notify>> {
        match self.lock().map.get(key).map(|e| &e.record) {
            Some(Record::InFlight { notify, .. }) => Some(Arc::clone(notify)),
            _ => None,
        }
    }
}

impl State {
    fn remove(&mut self, key: &str) -> Option<Entry> {
        let entry = self.map.remove(key)?;
        self.bytes = self.bytes.saturating_sub(entry.cost());
        Some(entry)
    }

    /// Whether `key` completed under `seq` and has not changed since.
    fn is_current(&self, key: &str, seq: u64) -> bool {
        matches!(
            self.map.get(key).map(|e| &e.record),
            Some(Record::Done { seq: s, .. }) if *s == seq
        )
    }

    /// Drops expired outcomes from the front of the completion order. Outcomes share one TTL
    /// per store user in practice, so the front is the first to expire; a later one that has
    /// expired is dropped when its key is next looked up.
    fn drop_expired(&mut self, now: Instant) {
        while let Some((key, seq)) = self.completed.front() {
            if !self.is_current(key, *seq) {
                self.completed.pop_front();
                continue;
            }
            if self.map.get(key).is_some_and(|e| e.until <= now) {
                if let Some((key, _)) = self.completed.pop_front() {
                    self.remove(&key);
                }
                continue;
            }
            break;
        }
    }

    /// Evicts the oldest completed outcome; `false` when there is none.
    fn evict_oldest(&mut self) -> bool {
        while let Some((key, seq)) = self.completed.pop_front() {
            if self.is_current(&key, seq) {
                self.remove(&key);
                return true;
            }
        }
        false
    }
}

impl IdempotencyStore for MemoryStore {
    fn begin<'a>(
        &'a self,
        key: &'a str,
        fingerprint: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Begin, StoreError>> {
        let result = self.begin_now(key, fingerprint, lease);
        Box::pin(async move { result })
    }

    fn complete<'a>(
        &'a self,
        key: &'a str,
        token: &'a str,
        outcome: StoredOutcome,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.complete_now(key, token, outcome, ttl);
        Box::pin(async { Ok(()) })
    }

    fn abandon<'a>(
        &'a self,
        key: &'a str,
        token: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.abandon_now(key, token);
        Box::pin(async { Ok(()) })
    }

    fn changed<'a>(&'a self, key: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let Some(notify) = self.in_flight(key) else {
                return;
            };
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            // Registered before looking again, so a completion in between is not missed.
            match self.in_flight(key) {
                Some(now) if Arc::ptr_eq(&now, &notify) => {}
                _ => return,
            }
            // The lease may end without a completion: wake then too.
            let until = self.lock().map.get(key).map(|e| e.until);
            match until {
                Some(until) => {
                    let _ = tokio::time::timeout_at(until, notified).await;
                }
                None => notified.await,
            }
        })
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("MemoryStore")
            .field("entries", &state.map.len())
            .field("bytes", &state.bytes)
            .field("max_entries", &self.max_entries)
            .field("max_bytes", &self.max_bytes)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Bytes;

    use super::*;

    const LEASE: Duration = Duration::from_secs(60);
    const TTL: Duration = Duration::from_secs(3600);

    fn outcome(body: &'static str) -> StoredOutcome {
        StoredOutcome {
            status: 200,
            protocol_error: false,
            body: Bytes::from_static(body.as_bytes()),
        }
    }

    fn started(store: &MemoryStore, key: &str) -> String {
        match store.begin_now(key, "fp", LEASE) {
            Ok(Begin::Started { token }) => token,
            other => panic!("expected Started, got {other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn begin_complete_replay() {
        let store = MemoryStore::new();
        let token = started(&store, "k");
        assert_eq!(store.begin_now("k", "fp", LEASE), Ok(Begin::InProgress));
        assert_eq!(store.begin_now("k", "other", LEASE), Ok(Begin::Mismatch));
        // A stranger's token changes nothing.
        store.complete_now("k", "not-the-token", outcome("x"), TTL);
        assert_eq!(store.begin_now("k", "fp", LEASE), Ok(Begin::InProgress));
        store.complete_now("k", &token, outcome("{\"id\":1}"), TTL);
        assert_eq!(
            store.begin_now("k", "fp", LEASE),
            Ok(Begin::Completed(outcome("{\"id\":1}")))
        );
        assert_eq!(store.begin_now("k", "other", LEASE), Ok(Begin::Mismatch));
        assert_eq!(store.bytes(), ENTRY_OVERHEAD + 8);
    }

    #[tokio::test(start_paused = true)]
    async fn outcomes_expire_and_leases_end() {
        let store = MemoryStore::new();
        let token = started(&store, "k");
        store.complete_now("k", &token, outcome("1"), Duration::from_secs(10));
        tokio::time::advance(Duration::from_secs(11)).await;
        started(&store, "k");
        // The lease ends: the key is free again.
        tokio::time::advance(LEASE).await;
        started(&store, "k");
        assert_eq!(store.len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn abandon_frees_the_key_and_wakes_waiters() {
        let store = Arc::new(MemoryStore::new());
        let token = started(&store, "k");
        let waiter = {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.changed("k").await })
        };
        tokio::task::yield_now().await;
        store.abandon_now("k", &token);
        waiter.await.unwrap();
        started(&store, "k");
    }

    #[tokio::test(start_paused = true)]
    async fn completion_wakes_a_waiter_without_polling() {
        let store = Arc::new(MemoryStore::new());
        let token = started(&store, "k");
        let waiter = {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                store.changed("k").await;
                store.begin_now("k", "fp", LEASE)
            })
        };
        tokio::task::yield_now().await;
        let at = Instant::now();
        store.complete_now("k", &token, outcome("7"), TTL);
        assert_eq!(waiter.await.unwrap(), Ok(Begin::Completed(outcome("7"))));
        assert_eq!(at.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn bounded_in_entries_and_bytes_oldest_first() {
        let store = MemoryStore::new().max_entries(3);
        for key in ["a", "b", "c", "d"] {
            let token = started(&store, key);
            store.complete_now(key, &token, outcome("1"), TTL);
        }
        assert_eq!(store.len(), 3);
        // "a" was the oldest: evicted, so it starts again.
        started(&store, "a");
        assert_eq!(
            store.begin_now("d", "fp", LEASE),
            Ok(Begin::Completed(outcome("1")))
        );

        let store = MemoryStore::new().max_bytes(3 * (ENTRY_OVERHEAD + 1));
        for key in ["a", "b", "c", "d"] {
            let token = started(&store, key);
            store.complete_now(key, &token, outcome("1"), TTL);
        }
        assert!(store.bytes() <= 3 * (ENTRY_OVERHEAD + 1));
        started(&store, "a");
    }

    #[tokio::test(start_paused = true)]
    async fn calls_in_flight_are_never_evicted() {
        let store = MemoryStore::new().max_entries(2);
        started(&store, "a");
        started(&store, "b");
        assert_eq!(store.begin_now("c", "fp", LEASE), Err(StoreError::Full));
        assert_eq!(store.begin_now("a", "fp", LEASE), Ok(Begin::InProgress));
    }

    #[tokio::test(start_paused = true)]
    async fn many_keys_stay_within_the_bounds() {
        let store = MemoryStore::new().max_entries(1000).max_bytes(1 << 20);
        for i in 0..20_000 {
            let key = format!("{i:064}");
            let token = started(&store, &key);
            store.complete_now(&key, &token, outcome("{\"ok\":true}"), TTL);
        }
        assert_eq!(store.len(), 1000);
        assert!(store.lock().completed.len() <= 1000);
    }
}
