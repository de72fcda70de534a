//! Async `Result` helpers the futures crates do not already give, for workflows that mix
//! critical calls (whose failure fails the workflow) with best-effort ones (whose failure is
//! reported and tolerated).
//!
//! ```
//! use lfts::result::{best_effort, settle};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! // Critical: `?` ends the workflow.
//! let user: u32 = async { Ok::<_, String>(7) }.await?;
//! // Best effort: a failed welcome email is a warning, not a failed registration.
//! let email = best_effort(async { Err::<(), _>("mail server down".to_owned()) }).await;
//! assert!(email.value.is_none());
//! assert_eq!(email.warning().as_deref(), Some("mail server down"));
//! // Several independent best-effort calls, all awaited, each outcome kept.
//! let channels = ["email", "sms"];
//! let notified = settle(channels.map(|channel| async move {
//!     match channel {
//!         "sms" => Err(format!("{channel} down")),
//!         _ => Ok(channel.len()),
//!     }
//! }))
//! .await;
//! assert_eq!(notified.ok, vec![(0, 5)]);
//! assert_eq!(notified.errors, vec![(1, "sms down".to_owned())]);
//! # Ok::<(), String>(()) }).unwrap();
//! ```

use std::fmt;
use std::future::Future;

/// The outcome of a best-effort call: the value, or the error that was tolerated.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a best-effort outcome carries the error to report"]
pub struct BestEffort<T, E> {
    /// The value, when the call succeeded.
    pub value: Option<T>,
    /// The error, when it failed.
    pub error: Option<E>,
}

impl<T, E> BestEffort<T, E> {
    /// Whether the call succeeded.
    pub fn succeeded(&self) -> bool {
        self.error.is_none()
    }

    /// The value, dropping the error.
    pub fn ok(self) -> Option<T> {
        self.value
    }

    /// The outcome as a `Result` again.
    pub fn into_result(self) -> Result<Option<T>, E> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.value),
        }
    }

    /// The error's message, for a response's list of warnings.
    pub fn warning(&self) -> Option<String>
    where
        E: fmt::Display,
    {
        self.error.as_ref().map(ToString::to_string)
    }
}

impl<T, E> From<Result<T, E>> for BestEffort<T, E> {
    fn from(result: Result<T, E>) -> BestEffort<T, E> {
        match result {
            Ok(v) => BestEffort {
                value: Some(v),
                error: None,
            },
            Err(e) => BestEffort {
                value: None,
                error: Some(e),
            },
        }
    }
}

/// Runs a call whose failure must not fail the caller: the error is kept (and logged at `warn`
/// through `tracing`) instead of propagated.
///
/// ```
/// use lfts::result::best_effort;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let sent = best_effort(async { Ok::<_, std::io::Error>("queued") }).await;
/// assert_eq!(sent.ok(), Some("queued"));
/// # });
/// ```
pub async fn best_effort<T, E, F>(call: F) -> BestEffort<T, E>
where
    F: Future<Output = Result<T, E>>,
    E: fmt::Display,
{
    let outcome = BestEffort::from(call.await);
    if let Some(e) = &outcome.error {
        tracing::warn!(error = %e, "best-effort call failed");
    }
    outcome
}

/// Every outcome of a set of calls run together: the successes and the failures, each with
/// the index of its call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled<T, E> {
    /// The values of the calls that succeeded, by index, in order.
    pub ok: Vec<(usize, T)>,
    /// The errors of the calls that failed, by index, in order.
    pub errors: Vec<(usize, E)>,
}

impl<T, E> Settled<T, E> {
    /// Whether every call succeeded.
    pub fn all_ok(&self) -> bool {
        self.errors.is_empty()
    }

    /// The values, without their indices.
    pub fn values(self) -> Vec<T> {
        self.ok.into_iter().map(|(_, v)| v).collect()
    }

    /// All values if every call succeeded, else every error.
    pub fn into_result(self) -> Result<Vec<T>, Vec<(usize, E)>> {
        if self.errors.is_empty() {
            Ok(self.values())
        } else {
            Err(self.errors)
        }
    }
}

/// Runs every call concurrently and waits for all of them, whatever fails (unlike
/// `try_join_all`, which drops the others at the first error), and sorts the outcomes.
///
/// ```
/// use lfts::result::settle;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let calls = (0..4).map(|i| async move { if i % 2 == 0 { Ok(i) } else { Err(i) } });
/// let settled = settle(calls).await;
/// assert_eq!(settled.ok, vec![(0, 0), (2, 2)]);
/// assert_eq!(settled.errors, vec![(1, 1), (3, 3)]);
/// assert!(settled.into_result().is_err());
/// # });
/// ```
pub async fn settle<I, F, T, E>(calls: I) -> Settled<T, E>
where
    I: IntoIterator<Item = F>,
    F: Future<Output = Result<T, E>>,
{
    let results = futures_util::future::join_all(calls).await;
    let mut settled = Settled {
        ok: Vec::new(),
        errors: Vec::new(),
    };
    for (i, r) in results.into_iter().enumerate() {
        match r {
            Ok(v) => settled.ok.push((i, v)),
            Err(e) => settled.errors.push((i, e)),
        }
    }
    settled
}
