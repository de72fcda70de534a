//! [`Context`]: the one value per logical call (idempotency key, deadline, trace, caller,
//! request headers) that travels from a caller, through every layer and the wire, to the
//! implementation that serves the call.
//!
//! # Where a context comes from
//! - **A caller** sets one with [`Context::scope`]: every call made inside the future, through
//!   any layer, to a local, remote or mock implementation, sees it.
//! - **A layer** refines it for the attempts it starts: [`Retry`](crate::resilience::Retry)
//!   pins one idempotency key for every attempt of a logical call.
//! - **The client transport** writes it to the wire: `idempotency-key`, `traceparent` (a child
//!   span of the context's trace) and `x-lfts-timeout-ms` (what is left of the deadline).
//! - **The server** reads those headers back, adds the caller's identity (from its
//!   [auth hook](crate::http::PortRouter::authenticate)) and the request headers, and runs the
//!   implementation inside that context, where [`Context::current`] reads it.
//!
//! So the port trait is the same for every implementation: nothing is passed as an argument.
//!
//! ```
//! use std::time::Duration;
//! use lfts::Context;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! async fn place_order() -> Option<String> {
//!     // Inside an implementation: the context of the call being served.
//!     Context::current().idempotency_key().map(str::to_owned)
//! }
//!
//! let ctx = Context::new()
//!     .with_idempotency_key("order-7f3a")
//!     .with_timeout(Duration::from_secs(2));
//! let seen = ctx.scope(place_order()).await;
//! assert_eq!(seen.as_deref(), Some("order-7f3a"));
//! // Outside the scope there is no context: an empty one.
//! assert_eq!(Context::current().idempotency_key(), None);
//! # });
//! ```
//!
//! # What is not forwarded
//! A server's context holds the key of the call it *received*; calls the implementation makes
//! to other services do not send that key on (two downstream calls under one key would collide
//! at the downstream's store). They get their own keys from a retry layer, or the key the
//! implementation sets with [`Context::with_idempotency_key`], for example one derived from the
//! received key. Request headers are likewise read-only: they are never sent on. The deadline
//! and the trace are forwarded.

mod trace;

use std::fmt;
use std::future::Future;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use axum::http::HeaderMap;
use tokio::time::Instant;

pub use trace::{TraceContext, new_idempotency_key};
pub(crate) use trace::{push_hex, random_bytes, random_u64};

tokio::task_local! {
    static CURRENT: Context;
}

/// The context of one logical call: see the [module documentation](self).
///
/// Cheap to clone (the strings and headers are shared).
#[derive(Clone, Default)]
pub struct Context {
    idempotency_key: Option<Arc<str>>,
    /// Whether `idempotency_key` is the key of a call this process received (a server sets
    /// it), which calls made inside must not send on.
    key_received: bool,
    deadline: Option<Instant>,
    trace: Option<TraceContext>,
    caller: Option<Arc<str>>,
    headers: Option<Arc<HeaderMap>>,
}

impl Context {
    /// An empty context: no key, no deadline, no trace, no caller, no headers.
    pub fn new() -> Context {
        Context::default()
    }

    /// The context of the running task (set by [`scope`](Context::scope), a layer or a
    /// server), or an empty one.
    pub fn current() -> Context {
        CURRENT.try_with(Clone::clone).unwrap_or_default()
    }

    /// Runs `fut` with this context as the current one: every call made inside, through any
    /// layer and transport, sees it.
    pub fn scope<F: Future>(self, fut: F) -> impl Future<Output = F::Output> {
        CURRENT.scope(self, fut)
    }

    /// The idempotency key of the call: the one a caller or a retry layer set, or, inside a
    /// server, the one the request carried.
    pub fn idempotency_key(&self) -> Option<&str> {
        self.idempotency_key.as_deref()
    }

    /// The key a call made inside this context sends: the key set by a caller or a layer, but
    /// not the key of a call this process received (see the [module docs](self)).
    pub fn outgoing_idempotency_key(&self) -> Option<&str> {
        if self.key_received {
            None
        } else {
            self.idempotency_key()
        }
    }

    /// This context with `key` as the idempotency key of the calls made inside it.
    pub fn with_idempotency_key(mut self, key: impl Into<Arc<str>>) -> Context {
        self.idempotency_key = Some(key.into());
        self.key_received = false;
        self
    }

    /// The instant the whole logical call must be finished by (tokio's clock), if any.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The time left before the deadline (zero once it has passed); `None` without one.
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// This context with a deadline at `deadline`, or the one it had if that is earlier: a
    /// callee never gets more time than its caller.
    pub fn with_deadline(mut self, deadline: Instant) -> Context {
        self.deadline = Some(match self.deadline {
            Some(existing) => existing.min(deadline),
            None => deadline,
        });
        self
    }

    /// This context with a deadline `timeout` from now (or the earlier one it had).
    pub fn with_timeout(self, timeout: Duration) -> Context {
        self.with_deadline(instant_after(Instant::now(), timeout))
    }

    /// The W3C trace context of the call, if any.
    pub fn trace(&self) -> Option<TraceContext> {
        self.trace
    }

    /// This context in the trace `trace`.
    pub fn with_trace(mut self, trace: TraceContext) -> Context {
        self.trace = Some(trace);
        self
    }

    /// The caller's identity, as the server's auth hook established it.
    pub fn caller(&self) -> Option<&str> {
        self.caller.as_deref()
    }

    /// This context with `caller` as the caller's identity (a server's auth hook sets it; a
    /// test may set it to call an implementation in-process as a given caller).
    pub fn with_caller(mut self, caller: impl Into<Arc<str>>) -> Context {
        self.caller = Some(caller.into());
        self
    }

    /// The headers of the request being served (empty outside a server).
    pub fn headers(&self) -> &HeaderMap {
        static EMPTY: LazyLock<HeaderMap> = LazyLock::new(HeaderMap::new);
        self.headers.as_deref().unwrap_or(&EMPTY)
    }

    /// The context a server builds for a request it serves.
    pub(crate) fn received(
        key: Option<Arc<str>>,
        deadline: Option<Instant>,
        trace: TraceContext,
        caller: Option<Arc<str>>,
        headers: HeaderMap,
    ) -> Context {
        Context {
            idempotency_key: key,
            key_received: true,
            deadline,
            trace: Some(trace),
            caller,
            headers: Some(Arc::new(headers)),
        }
    }
}

/// `now + span`, or, when that does not fit the clock (a `Duration::MAX` timeout), an instant
/// so far ahead that it never passes. Every deadline, lease and expiry lfts computes goes
/// through here.
pub(crate) fn instant_after(now: Instant, span: Duration) -> Instant {
    now.checked_add(span)
        .or_else(|| now.checked_add(Duration::from_secs(86_400 * 365 * 30)))
        .unwrap_or(now)
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("idempotency_key", &self.idempotency_key)
            .field("key_received", &self.key_received)
            .field("deadline", &self.deadline)
            .field("trace", &self.trace.map(|t| t.to_string()))
            .field("caller", &self.caller)
            .field(
                "headers",
                &self
                    .headers()
                    .keys()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn scope_sets_and_nests() {
        assert!(Context::current().idempotency_key().is_none());
        let outer = Context::new().with_idempotency_key("k1");
        outer
            .scope(async {
                assert_eq!(Context::current().idempotency_key(), Some("k1"));
                let inner = Context::current().with_timeout(Duration::from_secs(1));
                inner
                    .scope(async {
                        let c = Context::current();
                        assert_eq!(c.idempotency_key(), Some("k1"));
                        assert_eq!(c.remaining(), Some(Duration::from_secs(1)));
                    })
                    .await;
                assert_eq!(Context::current().deadline(), None);
            })
            .await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_deadline_only_shrinks() {
        let c = Context::new()
            .with_timeout(Duration::from_secs(1))
            .with_timeout(Duration::from_secs(5));
        assert_eq!(c.remaining(), Some(Duration::from_secs(1)));
        let huge = Context::new().with_timeout(Duration::MAX);
        assert!(huge.remaining().is_some());
    }

    #[test]
    fn a_received_key_is_not_sent_on() {
        let c = Context::received(
            Some("in".into()),
            None,
            TraceContext::new_root(),
            Some("alice".into()),
            HeaderMap::new(),
        );
        assert_eq!(c.idempotency_key(), Some("in"));
        assert_eq!(c.outgoing_idempotency_key(), None);
        let c = c.with_idempotency_key("out");
        assert_eq!(c.outgoing_idempotency_key(), Some("out"));
        assert_eq!(c.caller(), Some("alice"));
    }
}
