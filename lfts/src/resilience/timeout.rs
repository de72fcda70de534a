//! [`Timeout`]: bounds each attempt of a call, or the whole logical call, with tokio's clock.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::Layer;
use crate::context::{Context, instant_after};
use crate::port::{MethodInfo, NetworkError, RemoteError};

/// Bounds a call with tokio's clock: each attempt ([`per_attempt`](Timeout::per_attempt)) or
/// the whole logical call, every retry included ([`overall`](Timeout::overall)). A call still
/// running at its limit is dropped (cancelled) and answers
/// `Err(E::from(NetworkError::Timeout { service, ms }))`, with the port's name as `service`
/// and the limit in milliseconds as `ms`.
///
/// Put a per-attempt timeout *inside* a retry layer so that each attempt gets the full limit
/// and a timed-out attempt can be retried (a timeout is transient), and an overall timeout
/// *outside* it:
///
/// ```
/// use std::time::Duration;
/// use lfts::resilience::{LayerExt, Retry, Timeout};
///
/// # struct UserServiceClient;
/// # let client = UserServiceClient;
/// let users = client
///     .layer(Timeout::per_attempt(Duration::from_millis(500)))
///     .layer(Retry::exponential().max_attempts(3))
///     .layer(Timeout::overall(Duration::from_secs(2)));
/// assert_eq!(users.inner().inner().policy().limit(), Duration::from_millis(500));
/// ```
///
/// # Deadlines
/// An overall timeout sets the deadline of the [`Context`] the call runs in (or keeps the
/// caller's, if that is earlier). Everything inside sees it: a per-attempt timeout never
/// outlasts it, [`Retry`](super::Retry) starts no attempt it could not begin before it, and the
/// client sends what is left of it (`x-lfts-timeout-ms`) so that the server stops waiting too.
/// A per-attempt timeout also respects a deadline the caller set with
/// [`Context::with_timeout`].
///
/// The clock is tokio's ([`tokio::time::timeout_at`]), so tests on a paused clock
/// (`#[tokio::test(start_paused = true)]`) see the timeout fire without waiting for it.
/// A limit of zero times out every attempt that does not complete on its first poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timeout {
    limit: Duration,
    overall: bool,
}

impl Timeout {
    /// A timeout of `limit` on each attempt.
    pub fn per_attempt(limit: Duration) -> Timeout {
        Timeout {
            limit,
            overall: false,
        }
    }

    /// A timeout of `limit` on the whole logical call, retries and backoffs included: the
    /// deadline of the call's [`Context`].
    pub fn overall(limit: Duration) -> Timeout {
        Timeout {
            limit,
            overall: true,
        }
    }

    /// The limit.
    pub fn limit(&self) -> Duration {
        self.limit
    }

    /// Whether the limit bounds the whole logical call rather than each attempt.
    pub fn is_overall(&self) -> bool {
        self.overall
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Layer for Timeout {
    async fn call<'a, T, E, F, Fut>(
        &'a self,
        method: &'static MethodInfo,
        mut call: F,
    ) -> Result<T, E>
    where
        T: Send + 'a,
        E: RemoteError + Send + 'a,
        F: FnMut() -> Fut + Send + 'a,
        Fut: Future<Output = Result<T, E>> + Send + 'a,
    {
        let context = Context::current();
        let now = Instant::now();
        let mine = instant_after(now, self.limit);
        // The earlier of this limit and the caller's deadline; an overall limit becomes the
        // deadline of everything inside.
        let (deadline, context) = if self.overall {
            let context = context.with_deadline(mine);
            (context.deadline().unwrap_or(mine), Some(context))
        } else {
            (context.deadline().map_or(mine, |d| d.min(mine)), None)
        };
        let attempt = async {
            match context {
                Some(context) => context.scope(call()).await,
                None => call().await,
            }
        };
        match tokio::time::timeout_at(deadline, attempt).await {
            Ok(outcome) => outcome,
            Err(_elapsed) => {
                let ms = millis(deadline.saturating_duration_since(now));
                tracing::debug!(%method, ms, overall = self.overall, "lfts call timed out");
                Err(E::from(NetworkError::Timeout {
                    service: method.port.to_owned(),
                    ms,
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::time::{Instant, sleep};

    use super::*;
    use crate::resilience::{Retry, Stack};

    static SLOW: MethodInfo = MethodInfo {
        port: "Slow",
        name: "work",
        params: &[],
        idempotent: true,
        http: None,
    };

    #[derive(Debug, PartialEq)]
    enum WorkError {
        Busy,
        Network(NetworkError),
    }

    impl From<NetworkError> for WorkError {
        fn from(e: NetworkError) -> WorkError {
            WorkError::Network(e)
        }
    }

    impl RemoteError for WorkError {
        fn network(&self) -> Option<&NetworkError> {
            match self {
                WorkError::Network(e) => Some(e),
                WorkError::Busy => None,
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn fires_on_the_paused_clock() {
        let timeout = Timeout::per_attempt(Duration::from_millis(500));
        let started = Instant::now();
        let outcome: Result<u32, WorkError> = timeout
            .call(&SLOW, || async {
                sleep(Duration::from_secs(60)).await;
                Ok(1)
            })
            .await;
        assert_eq!(
            outcome,
            Err(WorkError::Network(NetworkError::Timeout {
                service: "Slow".to_owned(),
                ms: 500
            }))
        );
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(500), "{waited:?}");
        assert!(waited < Duration::from_secs(1), "{waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_within_the_limit_passes_through() {
        let timeout = Timeout::per_attempt(Duration::from_millis(500));
        let ok: Result<u32, WorkError> = timeout
            .call(&SLOW, || async {
                sleep(Duration::from_millis(499)).await;
                Ok(7)
            })
            .await;
        assert_eq!(ok, Ok(7));
        let domain: Result<u32, WorkError> =
            timeout.call(&SLOW, || async { Err(WorkError::Busy) }).await;
        assert_eq!(domain, Err(WorkError::Busy));
    }

    #[tokio::test(start_paused = true)]
    async fn each_attempt_gets_its_own_limit_under_retry() {
        let attempts = AtomicUsize::new(0);
        let layers = Stack::new(
            Timeout::per_attempt(Duration::from_millis(200)),
            Retry::exponential()
                .max_attempts(3)
                .base_delay(Duration::from_millis(10)),
        );
        let outcome: Result<u32, WorkError> = layers
            .call(&SLOW, || {
                let n = attempts.fetch_add(1, Ordering::SeqCst);
                async move {
                    // The first two attempts hang; the third answers at once.
                    if n < 2 {
                        sleep(Duration::from_secs(60)).await;
                    }
                    Ok(42)
                }
            })
            .await;
        assert_eq!(outcome, Ok(42));
        assert_eq!(attempts.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn reports_its_limit_in_milliseconds() {
        let t = Timeout::per_attempt(Duration::from_micros(1_500_900));
        assert_eq!(t.limit(), Duration::from_micros(1_500_900));
        assert_eq!(millis(t.limit()), 1500);
        assert_eq!(millis(Duration::MAX), u64::MAX);
        assert!(!t.is_overall() && Timeout::overall(t.limit()).is_overall());
    }

    fn refused() -> WorkError {
        WorkError::Network(NetworkError::ConnectionRefused {
            service: "Slow".into(),
            host: "127.0.0.1:1".into(),
        })
    }

    #[tokio::test(start_paused = true)]
    async fn an_overall_timeout_bounds_every_retry_and_is_the_deadline_inside() {
        // Outermost: 1 s for the whole call. Each attempt takes 400 ms and fails transiently.
        let stack = Stack::new(
            Stack::new(
                Timeout::per_attempt(Duration::from_secs(5)),
                Retry::exponential()
                    .max_attempts(100)
                    .base_delay(Duration::from_millis(10))
                    .max_delay(Duration::from_millis(10)),
            ),
            Timeout::overall(Duration::from_secs(1)),
        );
        let started = Instant::now();
        let attempts = AtomicUsize::new(0);
        let seen_deadline = std::sync::Mutex::new(None);
        let outcome: Result<u32, WorkError> = stack
            .call(&SLOW, || {
                attempts.fetch_add(1, Ordering::SeqCst);
                *seen_deadline.lock().unwrap() = Context::current().remaining();
                async {
                    sleep(Duration::from_millis(400)).await;
                    Err(refused())
                }
            })
            .await;
        let elapsed = started.elapsed();
        assert!(
            matches!(
                outcome,
                Err(WorkError::Network(NetworkError::Timeout { .. }))
            ),
            "{outcome:?}"
        );
        assert!(elapsed <= Duration::from_secs(1), "{elapsed:?}");
        // 400 ms each, 10 ms apart: at most 3 attempts fit in a second.
        assert!(attempts.load(Ordering::SeqCst) <= 3);
        // Every attempt saw the deadline, never more than a second away.
        let remaining = seen_deadline.lock().unwrap().unwrap();
        assert!(remaining <= Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_caller_deadline_shortens_a_per_attempt_timeout() {
        let timeout = Timeout::per_attempt(Duration::from_secs(10));
        let started = Instant::now();
        let outcome: Result<u32, WorkError> = Context::new()
            .with_timeout(Duration::from_millis(300))
            .scope(timeout.call(&SLOW, || async {
                sleep(Duration::from_secs(5)).await;
                Ok(1)
            }))
            .await;
        assert_eq!(
            outcome,
            Err(WorkError::Network(NetworkError::Timeout {
                service: "Slow".into(),
                ms: 300
            }))
        );
        assert_eq!(started.elapsed(), Duration::from_millis(300));
    }

    #[tokio::test(start_paused = true)]
    async fn retry_starts_no_attempt_past_the_deadline() {
        let retry = Retry::exponential()
            .max_attempts(50)
            .base_delay(Duration::from_millis(100))
            .max_delay(Duration::from_millis(100));
        let attempts = AtomicUsize::new(0);
        let started = Instant::now();
        let outcome: Result<u32, WorkError> = Context::new()
            .with_timeout(Duration::from_millis(250))
            .scope(retry.call(&SLOW, || {
                attempts.fetch_add(1, Ordering::SeqCst);
                async { Err(refused()) }
            }))
            .await;
        assert_eq!(outcome, Err(refused()));
        assert!(started.elapsed() < Duration::from_millis(250));
        let n = attempts.load(Ordering::SeqCst);
        assert!((2..=50).contains(&n) && n < 50, "{n} attempts");
    }
}
