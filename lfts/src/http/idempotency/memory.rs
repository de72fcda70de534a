//! [`MemoryStore`]: the default idempotency store, in this process's memory.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::context::instant_after;

use super::{Begin, IdempotencyStore, NOT_STORED, StoreError, StoredOutcome};

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
/// body plus 256 bytes).
/// - Past the byte bound, the oldest outcomes are replaced by a marker first (about 350 bytes
///   each): a replay of such a key is answered `409 idempotency_outcome_not_stored` and never
///   runs the method again. Only when markers alone pass the bound are the oldest dropped.
/// - Past the key bound, the oldest completed keys are dropped (a replay of a dropped key runs
///   the method again: at the default bound that takes 100,000 newer keys first).
/// - Calls in flight are never evicted while their lease is renewed; when every entry is in
///   flight a new key is refused with [`StoreError::Full`] (the server answers `503`).
///
/// Expired outcomes are dropped as new ones arrive; calls in flight whose owner stopped
/// renewing are dropped when the store is full.
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
    /// The same for outcomes still kept whole (not yet replaced by a marker), oldest first.
    whole: VecDeque<(String, u64)>,
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
    fn owned_by(&self, token: &str) -> bool {
        matches!(&self.record, Record::InFlight { token: t, .. } if t == token)
    }

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
        token: &str,
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
                    Record::InFlight { token: t, .. } if t == token => Begin::Started,
                    Record::InFlight { .. } => Begin::InProgress,
                    Record::Done { outcome, .. } => Begin::Completed(outcome.clone()),
                });
            }
            state.remove(key);
        }
        state.drop_expired(now);
        while state.map.len() >= self.max_entries {
            if !state.evict_oldest() && !state.drop_expired_in_flight(now) {
                return Err(StoreError::Full);
            }
        }
        state.map.insert(
            key.to_owned(),
            Entry {
                fingerprint: fingerprint.to_owned(),
                until: instant_after(now, lease),
                record: Record::InFlight {
                    token: token.to_owned(),
                    notify: Arc::new(Notify::new()),
                },
            },
        );
        Ok(Begin::Started)
    }

    fn renew_now(&self, key: &str, token: &str, lease: Duration) -> bool {
        let now = Instant::now();
        let mut state = self.lock();
        match state.map.get_mut(key) {
            Some(entry) if entry.until > now && entry.owned_by(token) => {
                entry.until = instant_after(now, lease);
                true
            }
            _ => false,
        }
    }

    fn complete_now(&self, key: &str, token: &str, outcome: StoredOutcome, ttl: Duration) -> bool {
        let now = Instant::now();
        let mut state = self.lock();
        let seq = state.seq + 1;
        let notify = match state.map.get_mut(key) {
            Some(entry) if entry.owned_by(token) => {
                let Record::InFlight { notify, .. } =
                    std::mem::replace(&mut entry.record, Record::Done { outcome, seq })
                else {
                    return false;
                };
                entry.until = instant_after(now, ttl);
                notify
            }
            _ => return false,
        };
        state.seq = seq;
        let cost = state.map.get(key).map_or(0, Entry::cost);
        state.bytes += cost;
        state.completed.push_back((key.to_owned(), seq));
        state.whole.push_back((key.to_owned(), seq));
        if state.completed.len() > 2 * self.max_entries {
            // Keys removed on lookup (expired under a shorter TTL) leave stale positions
            // behind; keep the queues within a bound of the map.
            let State {
                map,
                completed,
                whole,
                ..
            } = &mut *state;
            let current = |(k, s): &(String, u64)| completed_under(map, k, *s);
            completed.retain(current);
            whole.retain(current);
        }
        state.shrink_to(self.max_bytes);
        drop(state);
        notify.notify_waiters();
        true
    }

    fn abandon_now(&self, key: &str, token: &str) {
        let mut state = self.lock();
        let owned = state.map.get(key).is_some_and(|e| e.owned_by(token));
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

/// Whether `key` completed under `seq` and has not changed since.
fn completed_under(map: &HashMap<String, Entry>, key: &str, seq: u64) -> bool {
    matches!(
        map.get(key).map(|e| &e.record),
        Some(Record::Done { seq: s, .. }) if *s == seq
    )
}

impl State {
    fn remove(&mut self, key: &str) -> Option<Entry> {
        let entry = self.map.remove(key)?;
        self.bytes = self.bytes.saturating_sub(entry.cost());
        Some(entry)
    }

    /// Whether `key` completed under `seq` and has not changed since.
    fn is_current(&self, key: &str, seq: u64) -> bool {
        completed_under(&self.map, key, seq)
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

    /// Brings the bytes held under `max`: the oldest whole outcomes first become markers (a
    /// replay of one is answered `409 idempotency_outcome_not_stored`, never run again); only
    /// when markers alone pass the bound are the oldest keys dropped.
    fn shrink_to(&mut self, max: usize) {
        while self.bytes > max {
            let Some((key, seq)) = self.whole.pop_front() else {
                break;
            };
            if !self.is_current(&key, seq) {
                continue;
            }
            if let Some(entry) = self.map.get_mut(&key) {
                let before = entry.cost();
                if let Record::Done { outcome, .. } = &mut entry.record {
                    *outcome = NOT_STORED.clone();
                }
                let after = entry.cost();
                self.bytes = self.bytes.saturating_sub(before) + after;
            }
        }
        while self.bytes > max {
            if !self.evict_oldest() {
                break;
            }
        }
    }

    /// Drops calls in flight whose lease ended without a renewal (their owner is gone); `false`
    /// when there was none. A scan of every key, so only done when the store is full.
    fn drop_expired_in_flight(&mut self, now: Instant) -> bool {
        let before = self.map.len();
        self.map
            .retain(|_, e| !(matches!(e.record, Record::InFlight { .. }) && e.until <= now));
        self.map.len() < before
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
        token: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Begin, StoreError>> {
        let result = self.begin_now(key, fingerprint, token, lease);
        Box::pin(async move { result })
    }

    fn renew<'a>(
        &'a self,
        key: &'a str,
        token: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let renewed = self.renew_now(key, token, lease);
        Box::pin(async move { Ok(renewed) })
    }

    fn complete<'a>(
        &'a self,
        key: &'a str,
        token: &'a str,
        outcome: StoredOutcome,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let recorded = self.complete_now(key, token, outcome, ttl);
        Box::pin(async move { Ok(recorded) })
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
        let token = super::super::new_token();
        match store.begin_now(key, "fp", &token, LEASE) {
            Ok(Begin::Started) => token,
            other => panic!("expected Started, got {other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn begin_complete_replay() {
        let store = MemoryStore::new();
        let token = started(&store, "k");
        assert_eq!(
            store.begin_now("k", "fp", "t", LEASE),
            Ok(Begin::InProgress)
        );
        assert_eq!(
            store.begin_now("k", "other", "t", LEASE),
            Ok(Begin::Mismatch)
        );
        // A stranger's token changes nothing.
        store.complete_now("k", "not-the-token", outcome("x"), TTL);
        assert_eq!(
            store.begin_now("k", "fp", "t", LEASE),
            Ok(Begin::InProgress)
        );
        store.complete_now("k", &token, outcome("{\"id\":1}"), TTL);
        assert_eq!(
            store.begin_now("k", "fp", "t", LEASE),
            Ok(Begin::Completed(outcome("{\"id\":1}")))
        );
        assert_eq!(
            store.begin_now("k", "other", "t", LEASE),
            Ok(Begin::Mismatch)
        );
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
                store.begin_now("k", "fp", "t", LEASE)
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
            store.begin_now("d", "fp", "t", LEASE),
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
        assert_eq!(
            store.begin_now("c", "fp", "t", LEASE),
            Err(StoreError::Full)
        );
        assert_eq!(
            store.begin_now("a", "fp", "t", LEASE),
            Ok(Begin::InProgress)
        );
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
