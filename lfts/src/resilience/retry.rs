//! [`Retry`]: replays transient network failures with full-jitter exponential backoff.

use std::future::Future;
use std::time::Duration;

use super::Layer;
use crate::context::{Context, new_idempotency_key, random_u64};
use crate::port::{MethodInfo, NetworkError, RemoteError};

/// The default number of attempts, the first one included.
const DEFAULT_MAX_ATTEMPTS: u32 = 3;
/// The default base of the exponential backoff.
const DEFAULT_BASE_DELAY: Duration = Duration::from_millis(100);
/// The default cap on one backoff.
const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(10);

/// Replays a call that failed with a *transient* network error, waiting a full-jitter
/// exponential backoff between attempts.
///
/// ```
/// use std::time::Duration;
/// use lfts::resilience::{LayerExt, Retry, Timeout};
///
/// let retry = Retry::exponential()
///     .max_attempts(3)
///     .base_delay(Duration::from_millis(50))
///     .max_delay(Duration::from_secs(2));
/// assert_eq!(retry.backoff_ceiling(0), Duration::from_millis(50));
/// assert_eq!(retry.backoff_ceiling(1), Duration::from_millis(100));
/// assert_eq!(retry.backoff_ceiling(10), Duration::from_secs(2));
///
/// # struct UserServiceClient;
/// # let client = UserServiceClient;
/// // Each attempt bounded by the timeout; the retry outermost.
/// let users = client
///     .layer(Timeout::per_attempt(Duration::from_millis(500)))
///     .layer(retry);
/// # let _ = users;
/// ```
///
/// # What is retried
/// The layer decides from [`RemoteError::network`] and [`MethodInfo`], never from a message:
/// - `Ok` and a **domain error** (`network()` is `None`) are returned as they are, after the
///   first attempt;
/// - a network error that is **not transient** ([`NetworkError::is_transient`] is `false`:
///   a serialization error, an open circuit, an HTTP status such as `400` or `500`) is
///   returned as it is;
/// - a transient network error is retried until [`max_attempts`](Retry::max_attempts)
///   attempts have run; the last error is returned.
///
/// # Methods that are not idempotent
/// Replaying a call the server may already have acted on is only safe if the server can tell
/// the replay from a new call. So, by default, every attempt of one logical call carries the
/// same `idempotency-key` header (the key the caller set in its [`Context`], or a fresh one
/// pinned for the call), which a generated server honours: the first attempt to complete is
/// stored and every replay answered with it, and a method that is not `#[lfts(idempotent)]` is replayed after any transient
/// failure. With [`without_idempotency_keys`](Retry::without_idempotency_keys) no key is
/// pinned, and such a method is replayed only when the failure shows that the request never
/// reached the server ([`NetworkError::may_have_reached_server`] is `false`: a refused
/// connection, a failed DNS lookup); after a timeout or a broken connection its error is
/// returned.
///
/// # Backoff
/// Before retry number `n` (`n = 0` for the second attempt) the layer sleeps a uniformly
/// random duration in `[0, min(max_delay, base_delay * 2^n)]` ("full jitter", which spreads
/// the retries of many clients the most while keeping the expected wait low). The sleep uses
/// tokio's clock, so tests on a paused clock run instantly.
///
/// Defaults: 3 attempts, a 100 ms base and a 10 s cap.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Retry {
    max_attempts: u32,
    base_delay: Duration,
    max_delay: Duration,
    idempotency_keys: bool,
}

impl Default for Retry {
    fn default() -> Retry {
        Retry::exponential()
    }
}

impl Retry {
    /// Full-jitter exponential backoff with the default settings (3 attempts, a 100 ms base,
    /// a 10 s cap), pinning idempotency keys.
    pub fn exponential() -> Retry {
        Retry {
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            base_delay: DEFAULT_BASE_DELAY,
            max_delay: DEFAULT_MAX_DELAY,
            idempotency_keys: true,
        }
    }

    /// How many attempts a call gets in all, the first included (`1` never retries; `0` is
    /// taken as `1`).
    pub fn max_attempts(mut self, attempts: u32) -> Retry {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The backoff before the first retry; it doubles for each later one, up to
    /// [`max_delay`](Retry::max_delay).
    pub fn base_delay(mut self, delay: Duration) -> Retry {
        self.base_delay = delay;
        self
    }

    /// The cap on one backoff.
    pub fn max_delay(mut self, delay: Duration) -> Retry {
        self.max_delay = delay;
        self
    }

    /// Pins no idempotency key, so that a method that is not idempotent is replayed only when
    /// its request cannot have reached the server (see the type's documentation).
    pub fn without_idempotency_keys(mut self) -> Retry {
        self.idempotency_keys = false;
        self
    }

    /// The number of attempts a call gets in all.
    pub fn attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The longest backoff before retry number `retry` (`0` for the second attempt):
    /// `min(max_delay, base_delay * 2^retry)`. The actual sleep is uniform in `[0, this]`.
    pub fn backoff_ceiling(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry).unwrap_or(u32::MAX);
        self.base_delay
            .checked_mul(factor)
            .unwrap_or(Duration::MAX)
            .min(self.max_delay)
    }

    /// A full-jitter backoff before retry number `retry`.
    fn backoff(&self, retry: u32) -> Duration {
        let ceiling = u64::try_from(self.backoff_ceiling(retry).as_nanos()).unwrap_or(u64::MAX);
        let nanos = match ceiling.checked_add(1) {
            Some(span) => random_u64() % span,
            None => random_u64(),
        };
        Duration::from_nanos(nanos)
    }

    /// Whether a failed attempt is replayed, leaving aside the attempt count.
    fn replays(&self, method: &MethodInfo, error: &NetworkError, keyed: bool) -> bool {
        error.is_transient() && (method.idempotent || keyed || !error.may_have_reached_server())
    }
}

impl Layer for Retry {
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
        // Every attempt runs in the caller's context; with keys on, one key is pinned for the
        // whole logical call (the caller's outgoing key, or a fresh one).
        let context = Context::current();
        let keyed = self.idempotency_keys;
        let context = if keyed && context.outgoing_idempotency_key().is_none() {
            context.with_idempotency_key(new_idempotency_key())
        } else {
            context
        };
        let mut attempt: u32 = 0;
        loop {
            let outcome = context.clone().scope(call()).await;
            let error = match outcome {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            attempt = attempt.saturating_add(1);
            let retry = match error.network() {
                Some(network) => {
                    attempt < self.max_attempts && self.replays(method, network, keyed)
                }
                None => false,
            };
            if !retry {
                return Err(error);
            }
            let delay = self.backoff(attempt - 1);
            // The logical call's deadline bounds every retry: no attempt starts that could not
            // begin before it.
            if let Some(deadline) = context.deadline()
                && tokio::time::Instant::now() + delay >= deadline
            {
                tracing::debug!(%method, attempt, "lfts: no time left for a retry before the deadline");
                return Err(error);
            }
            if let Some(network) = error.network() {
                tracing::debug!(
                    %method,
                    attempt,
                    error = %network,
                    delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                    "lfts retrying"
                );
            }
            tokio::time::sleep(delay).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::time::Instant;

    use super::*;

    static GET: MethodInfo = MethodInfo {
        port: "Users",
        name: "get",
        params: &[],
        idempotent: true,
        http: None,
    };

    static CREATE: MethodInfo = MethodInfo {
        port: "Users",
        name: "create",
        params: &[],
        idempotent: false,
        http: None,
    };

    #[derive(Debug, Clone, PartialEq)]
    enum UsersError {
        Taken,
        Network(NetworkError),
    }

    impl From<NetworkError> for UsersError {
        fn from(e: NetworkError) -> UsersError {
            UsersError::Network(e)
        }
    }

    impl RemoteError for UsersError {
        fn network(&self) -> Option<&NetworkError> {
            match self {
                UsersError::Network(e) => Some(e),
                UsersError::Taken => None,
            }
        }
    }

    fn refused() -> UsersError {
        UsersError::Network(NetworkError::ConnectionRefused {
            service: "Users".to_owned(),
            host: "127.0.0.1:1".to_owned(),
        })
    }

    fn timed_out() -> UsersError {
        UsersError::Network(NetworkError::Timeout {
            service: "Users".to_owned(),
            ms: 500,
        })
    }

    /// Runs `retry` on `method` with attempts that answer `script[n]` (the last entry
    /// repeating); returns the outcome, the attempt count, and the clock and idempotency
    /// key each attempt saw.
    async fn run(
        retry: &Retry,
        method: &'static MethodInfo,
        script: Vec<Result<u32, UsersError>>,
    ) -> (
        Result<u32, UsersError>,
        usize,
        Vec<(Instant, Option<String>)>,
    ) {
        let count = AtomicUsize::new(0);
        let seen = Mutex::new(Vec::new());
        let outcome = retry
            .call(method, || {
                let n = count.fetch_add(1, Ordering::SeqCst);
                let answer = script[n.min(script.len() - 1)].clone();
                let seen = &seen;
                async move {
                    seen.lock().unwrap().push((
                        Instant::now(),
                        Context::current().idempotency_key().map(str::to_owned),
                    ));
                    answer
                }
            })
            .await;
        let seen = seen.into_inner().unwrap();
        (outcome, count.into_inner(), seen)
    }

    #[tokio::test(start_paused = true)]
    async fn retries_a_transient_failure_up_to_max_attempts() {
        let retry = Retry::exponential().max_attempts(4);
        let (outcome, attempts, _) = run(&retry, &GET, vec![Err(refused())]).await;
        assert_eq!(outcome, Err(refused()));
        assert_eq!(attempts, 4);

        let (outcome, attempts, _) =
            run(&retry, &GET, vec![Err(refused()), Err(timed_out()), Ok(7)]).await;
        assert_eq!(outcome, Ok(7));
        assert_eq!(attempts, 3);

        let once = Retry::exponential().max_attempts(0);
        assert_eq!(once.attempts(), 1);
        let (_, attempts, _) = run(&once, &GET, vec![Err(refused())]).await;
        assert_eq!(attempts, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn backoff_is_bounded_by_the_cap() {
        let retry = Retry::exponential()
            .max_attempts(8)
            .base_delay(Duration::from_millis(100))
            .max_delay(Duration::from_millis(300));
        let started = Instant::now();
        let (_, attempts, seen) = run(&retry, &GET, vec![Err(refused())]).await;
        assert_eq!(attempts, 8);
        let mut previous = started;
        for (n, (at, _)) in seen.iter().enumerate() {
            let gap = *at - previous;
            let ceiling = match n {
                0 => Duration::ZERO,
                n => retry.backoff_ceiling(u32::try_from(n - 1).unwrap()),
            };
            assert!(gap <= ceiling, "gap {n} was {gap:?}, over {ceiling:?}");
            previous = *at;
        }
        assert!(started.elapsed() <= Duration::from_millis(100 + 200 + 5 * 300));
    }

    #[test]
    fn backoff_ceiling_doubles_up_to_the_cap() {
        let retry = Retry::exponential()
            .base_delay(Duration::from_millis(100))
            .max_delay(Duration::from_millis(1000));
        let ceilings: Vec<u128> = (0..6)
            .map(|n| retry.backoff_ceiling(n).as_millis())
            .collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1000, 1000]);
        // No overflow for huge exponents or delays.
        assert_eq!(retry.backoff_ceiling(200), Duration::from_millis(1000));
        let huge = Retry::exponential()
            .base_delay(Duration::MAX)
            .max_delay(Duration::MAX);
        assert_eq!(huge.backoff_ceiling(3), Duration::MAX);
        let _ = huge.backoff(3);
    }

    #[test]
    fn jitter_stays_within_the_ceiling_and_varies() {
        let retry = Retry::exponential()
            .base_delay(Duration::from_millis(100))
            .max_delay(Duration::from_millis(250));
        let samples: Vec<Duration> = (0..500).map(|_| retry.backoff(2)).collect();
        assert!(samples.iter().all(|d| *d <= Duration::from_millis(250)));
        assert!(samples.iter().any(|d| *d < Duration::from_millis(125)));
        assert!(samples.iter().any(|d| *d > Duration::from_millis(125)));
        let zero = Retry::exponential().base_delay(Duration::ZERO);
        assert_eq!(zero.backoff(4), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_domain_error_passes_through_on_the_first_try() {
        let retry = Retry::exponential().max_attempts(5);
        let started = Instant::now();
        let (outcome, attempts, _) = run(&retry, &GET, vec![Err(UsersError::Taken)]).await;
        assert_eq!(outcome, Err(UsersError::Taken));
        assert_eq!(attempts, 1);
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_non_transient_network_error_is_not_retried() {
        let retry = Retry::exponential().max_attempts(5);
        let failures = [
            NetworkError::SerializationError {
                service: "Users".to_owned(),
                message: "bad".to_owned(),
            },
            NetworkError::HttpError {
                service: "Users".to_owned(),
                status: 500,
                body: String::new(),
            },
            NetworkError::CircuitOpen {
                service: "Users".to_owned(),
            },
        ];
        for failure in failures {
            let error = UsersError::Network(failure);
            let (outcome, attempts, _) = run(&retry, &GET, vec![Err(error.clone())]).await;
            assert_eq!(outcome, Err(error));
            assert_eq!(attempts, 1);
        }
        // A transient status is retried.
        let busy = UsersError::Network(NetworkError::HttpError {
            service: "Users".to_owned(),
            status: 503,
            body: String::new(),
        });
        let (_, attempts, _) = run(&retry, &GET, vec![Err(busy)]).await;
        assert_eq!(attempts, 5);
    }

    #[tokio::test(start_paused = true)]
    async fn a_non_idempotent_replay_carries_one_pinned_key() {
        let retry = Retry::exponential().max_attempts(3);
        let (outcome, attempts, seen) = run(
            &retry,
            &CREATE,
            vec![Err(timed_out()), Err(timed_out()), Ok(1)],
        )
        .await;
        assert_eq!(outcome, Ok(1));
        assert_eq!(attempts, 3);
        let keys: Vec<Option<String>> = seen.into_iter().map(|(_, k)| k).collect();
        assert!(keys[0].is_some());
        assert!(keys.iter().all(|k| *k == keys[0]), "{keys:?}");

        // A key the caller set is the one pinned.
        let (_, _, seen) = Context::new()
            .with_idempotency_key("caller-key")
            .scope(run(&retry, &CREATE, vec![Err(timed_out()), Ok(1)]))
            .await;
        assert!(seen.iter().all(|(_, k)| k.as_deref() == Some("caller-key")));

        // Two logical calls get two keys.
        let (_, _, first) = run(&retry, &CREATE, vec![Ok(1)]).await;
        let (_, _, second) = run(&retry, &CREATE, vec![Ok(1)]).await;
        assert_ne!(first[0].1, second[0].1);
    }

    #[tokio::test(start_paused = true)]
    async fn without_keys_a_non_idempotent_call_is_replayed_only_if_nothing_was_sent() {
        let retry = Retry::exponential()
            .max_attempts(3)
            .without_idempotency_keys();
        // A timeout may have reached the server: no replay.
        let (outcome, attempts, seen) = run(&retry, &CREATE, vec![Err(timed_out())]).await;
        assert_eq!(outcome, Err(timed_out()));
        assert_eq!(attempts, 1);
        assert_eq!(seen[0].1, None);
        // A refused connection never did: replayed.
        let (outcome, attempts, _) = run(&retry, &CREATE, vec![Err(refused()), Ok(2)]).await;
        assert_eq!(outcome, Ok(2));
        assert_eq!(attempts, 2);
        // An idempotent method is replayed after a timeout as well.
        let (outcome, attempts, _) = run(&retry, &GET, vec![Err(timed_out()), Ok(3)]).await;
        assert_eq!(outcome, Ok(3));
        assert_eq!(attempts, 2);
    }
}
