//! [`Timeout`]: bounds each attempt of a call with tokio's clock.

use std::future::Future;
use std::time::Duration;

use super::Layer;
use crate::port::{MethodInfo, NetworkError, RemoteError};

/// Bounds every attempt of a call: an attempt still running after the limit is dropped
/// (cancelled) and answers `Err(E::from(NetworkError::Timeout { service, ms }))`, with the
/// port's name as `service` and the limit in milliseconds as `ms`.
///
/// Put it *inside* a retry layer so that each attempt gets the full limit and a timed-out
/// attempt can be retried (a timeout is transient):
///
/// ```
/// use std::time::Duration;
/// use lfts::resilience::{LayerExt, Retry, Timeout};
///
/// # struct UserServiceClient;
/// # let client = UserServiceClient;
/// let users = client
///     .layer(Timeout::per_attempt(Duration::from_millis(500)))
///     .layer(Retry::exponential().max_attempts(3));
/// assert_eq!(users.inner().policy().limit(), Duration::from_millis(500));
/// ```
///
/// The clock is tokio's ([`tokio::time::timeout`]), so tests on a paused clock
/// (`#[tokio::test(start_paused = true)]`) see the timeout fire without waiting for it.
/// A limit of zero times out every attempt that does not complete on its first poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timeout {
    limit: Duration,
}

impl Timeout {
    /// A timeout of `limit` on each attempt.
    pub fn per_attempt(limit: Duration) -> Timeout {
        Timeout { limit }
    }

    /// The limit on each attempt.
    pub fn limit(&self) -> Duration {
        self.limit
    }

    /// The limit in whole milliseconds, as [`NetworkError::Timeout`] reports it.
    fn limit_ms(&self) -> u64 {
        u64::try_from(self.limit.as_millis()).unwrap_or(u64::MAX)
    }
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
        match tokio::time::timeout(self.limit, call()).await {
            Ok(outcome) => outcome,
            Err(_elapsed) => {
                tracing::debug!(%method, ms = self.limit_ms(), "lfts attempt timed out");
                Err(E::from(NetworkError::Timeout {
                    service: method.port.to_owned(),
                    ms: self.limit_ms(),
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
        assert_eq!(t.limit_ms(), 1500);
        assert_eq!(Timeout::per_attempt(Duration::MAX).limit_ms(), u64::MAX);
    }
}
