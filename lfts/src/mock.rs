//! Support for the mocks `#[port]` generates (`Mock{Trait}`): the call log, expectations and
//! their verification.
//!
//! A generated mock answers each method with the behaviour set by `on_<method>`. Everything
//! else is a test failure that cannot be swallowed:
//!
//! - A call to a method without a behaviour **panics**, naming the port, the method and the
//!   arguments as JSON. It does not return an error value: a best-effort code path that
//!   ignores errors would hide it.
//! - An expectation (`expect_<method>().times(n)`, [`Expectation`]) is checked by `verify()`,
//!   and a call past its upper bound panics at once.
//! - A failure that happened where a panic is caught (a spawned task, a server that answers a
//!   panicking implementation with `500`) is remembered: `verify()` reports it, and so does
//!   dropping the last clone of a mock that was not verified since its last call (unless the
//!   thread is already panicking).
//!
//! Clones of a mock share its calls and expectations; behaviours are per value (set them
//! before cloning).
//!
//! ```
//! use lfts::{NetworkError, Schema};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, Clone, Serialize, Deserialize, Schema)]
//! pub enum SendError {
//!     #[lfts(network)]
//!     Network { error: NetworkError },
//! }
//!
//! #[lfts::port]
//! pub trait Mailer {
//!     async fn send(&self, to: String, body: String) -> Result<u64, SendError>;
//!     async fn ping(&self) -> Result<(), SendError>;
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let mailer = MockMailer::new()
//!     .on_send(|_to, body| async move { Ok(body.len() as u64) })
//!     .expect_send()
//!     .times(1);
//! assert_eq!(mailer.send("ada@example.com".into(), "hi".into()).await.unwrap(), 2);
//!
//! // Typed arguments, and the JSON the HTTP client would have sent.
//! let calls: Vec<MailerSendArgs> = mailer.calls_to_send();
//! assert_eq!(calls[0].to, "ada@example.com");
//! assert_eq!(mailer.calls()[0].args, serde_json::json!({"to": "ada@example.com", "body": "hi"}));
//! mailer.verify();
//! # });
//! ```

use std::any::Any;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// One recorded call to a mock.
#[derive(Debug, Clone, PartialEq)]
pub struct MockCall {
    /// The method name.
    pub method: &'static str,
    /// The arguments, as the JSON object the HTTP client would have sent.
    pub args: serde_json::Value,
}

/// How many calls an expectation allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Times {
    min: usize,
    max: Option<usize>,
}

impl Times {
    /// Exactly `n` calls.
    pub const fn exactly(n: usize) -> Times {
        Times {
            min: n,
            max: Some(n),
        }
    }

    /// `n` calls or more.
    pub const fn at_least(n: usize) -> Times {
        Times { min: n, max: None }
    }

    /// `n` calls or fewer.
    pub const fn at_most(n: usize) -> Times {
        Times {
            min: 0,
            max: Some(n),
        }
    }

    /// Whether `count` calls meet this expectation.
    pub fn allows(&self, count: usize) -> bool {
        count >= self.min && self.max.is_none_or(|max| count <= max)
    }
}

impl fmt::Display for Times {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let calls = |n: usize| if n == 1 { "time" } else { "times" };
        match (self.min, self.max) {
            (_, Some(0)) => f.write_str("never"),
            (min, Some(max)) if min == max => write!(f, "exactly {min} {}", calls(min)),
            (0, Some(max)) => write!(f, "at most {max} {}", calls(max)),
            (min, Some(max)) => write!(f, "between {min} and {max} times"),
            (min, None) => write!(f, "at least {min} {}", calls(min)),
        }
    }
}

/// An expectation being set on a mock: `mock.expect_<method>()` returns one, and
/// [`times`](Expectation::times) (or [`never`](Expectation::never),
/// [`at_least`](Expectation::at_least), [`at_most`](Expectation::at_most)) gives the mock back.
///
/// The expectation is shared by every clone of the mock and replaces an earlier one for the
/// same method. It counts calls; `on_<method>` still decides what a call returns.
#[must_use = "an expectation is set by `.times(n)`, `.never()`, `.at_least(n)` or `.at_most(n)`"]
pub struct Expectation<M> {
    mock: M,
    state: MockState,
    method: &'static str,
}

impl<M> Expectation<M> {
    /// Starts an expectation on `method` of `mock`, whose shared state is `state`.
    pub fn new(mock: M, state: MockState, method: &'static str) -> Expectation<M> {
        Expectation {
            mock,
            state,
            method,
        }
    }

    /// Expects exactly `n` calls.
    pub fn times(self, n: usize) -> M {
        self.expect(Times::exactly(n))
    }

    /// Expects no call.
    pub fn never(self) -> M {
        self.expect(Times::exactly(0))
    }

    /// Expects `n` calls or more.
    pub fn at_least(self, n: usize) -> M {
        self.expect(Times::at_least(n))
    }

    /// Expects `n` calls or fewer.
    pub fn at_most(self, n: usize) -> M {
        self.expect(Times::at_most(n))
    }

    /// Expects a number of calls that `times` allows.
    pub fn expect(self, times: Times) -> M {
        let mut log = self.state.lock();
        log.expectations.retain(|(m, _)| *m != self.method);
        log.expectations.push((self.method, times));
        log.verified = false;
        drop(log);
        self.mock
    }
}

impl<M> fmt::Debug for Expectation<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Expectation")
            .field("port", &self.state.shared.port)
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

/// The state a generated mock shares between its clones: the calls with their arguments
/// (typed and as JSON), the expectations, and the failures seen so far.
#[derive(Clone)]
pub struct MockState {
    shared: Arc<Shared>,
}

struct Shared {
    port: &'static str,
    log: Mutex<Log>,
}

#[derive(Default)]
struct Log {
    calls: Vec<Recorded>,
    expectations: Vec<(&'static str, Times)>,
    /// Unexpected calls, each already reported by a panic that may have been caught.
    failures: Vec<String>,
    /// Checked by `verify` since the last change.
    verified: bool,
}

struct Recorded {
    call: MockCall,
    typed: Box<dyn Any + Send>,
}

impl MockState {
    /// The state of a mock of the port called `port`.
    pub fn new(port: &'static str) -> MockState {
        MockState {
            shared: Arc::new(Shared {
                port,
                log: Mutex::new(Log::default()),
            }),
        }
    }

    /// Records a call of `method` with `args` and returns the behaviour to answer it with.
    ///
    /// # Panics
    /// When `behaviour` is `None` (an unexpected call), or when the call passes the upper bound
    /// of the method's expectation. The failure is remembered for [`verify`](MockState::verify)
    /// and the drop check, in case the panic is caught.
    #[track_caller]
    pub fn call<A, B>(&self, method: &'static str, args: A, behaviour: &Option<B>) -> B
    where
        A: serde::Serialize + Send + 'static,
        B: Clone,
    {
        let json = serde_json::to_value(&args).unwrap_or(serde_json::Value::Null);
        let mut log = self.lock();
        log.verified = false;
        let count = log.calls.iter().filter(|c| c.call.method == method).count() + 1;
        let over = log
            .expectations
            .iter()
            .find(|(m, t)| *m == method && t.max.is_some_and(|max| count > max))
            .map(|(_, t)| *t);
        let failure = match (behaviour, over) {
            (Some(behaviour), None) => {
                log.calls.push(Recorded {
                    call: MockCall { method, args: json },
                    typed: Box::new(args),
                });
                return behaviour.clone();
            }
            (_, Some(times)) => format!(
                "port `{port}`, method `{method}` was expected to be called {times}, but this \
                 is call {count}, with arguments {json}",
                port = self.shared.port,
            ),
            (None, None) => format!(
                "unexpected call to port `{port}`, method `{method}`, with arguments {json}: \
                 Mock{port} has no behaviour for `{method}`; set one with `.on_{method}(…)`",
                port = self.shared.port,
            ),
        };
        log.calls.push(Recorded {
            call: MockCall { method, args: json },
            typed: Box::new(args),
        });
        log.failures.push(failure.clone());
        drop(log);
        panic!("{failure}");
    }

    /// Every call so far, in order, with its arguments as JSON.
    pub fn calls(&self) -> Vec<MockCall> {
        self.lock().calls.iter().map(|r| r.call.clone()).collect()
    }

    /// How many calls `method` got.
    pub fn count(&self, method: &str) -> usize {
        self.lock()
            .calls
            .iter()
            .filter(|r| r.call.method == method)
            .count()
    }

    /// The arguments of every call to `method`, in order, as the `A` they were recorded as.
    pub fn calls_to<A: Clone + 'static>(&self, method: &str) -> Vec<A> {
        self.lock()
            .calls
            .iter()
            .filter(|r| r.call.method == method)
            .filter_map(|r| r.typed.downcast_ref::<A>().cloned())
            .collect()
    }

    /// Checks every expectation and that no unexpected call happened.
    ///
    /// # Panics
    /// With every problem found, when there is one.
    #[track_caller]
    pub fn verify(&self) {
        let mut log = self.lock();
        log.verified = true;
        let report = self.shared.report(&log);
        drop(log);
        if let Some(report) = report {
            panic!("{report}");
        }
    }

    fn lock(&self) -> MutexGuard<'_, Log> {
        self.shared.lock()
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Log> {
        // A panic while holding the lock leaves a consistent log; keep going.
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every unmet expectation and remembered failure, or `None` when all is well.
    fn report(&self, log: &Log) -> Option<String> {
        let mut problems = log.failures.clone();
        for (method, times) in &log.expectations {
            let count = log
                .calls
                .iter()
                .filter(|c| c.call.method == *method)
                .count();
            if !times.allows(count) {
                problems.push(format!(
                    "method `{method}` was expected to be called {times}, and was called {count} {}",
                    if count == 1 { "time" } else { "times" }
                ));
            }
        }
        if problems.is_empty() {
            return None;
        }
        let mut report = format!("Mock{} failed verification:", self.port);
        for problem in problems {
            report.push_str("\n  - ");
            report.push_str(&problem);
        }
        Some(report)
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let log = self.lock();
        if log.verified {
            return;
        }
        if let Some(report) = self.report(&log) {
            drop(log);
            panic!(
                "{report}\n(found when the last clone of the mock was dropped; call `verify()` to check earlier)"
            );
        }
    }
}

impl fmt::Debug for MockState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.lock().calls.iter().map(|r| &r.call))
            .finish()
    }
}
