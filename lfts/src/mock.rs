//! Support for the mocks `#[port]` generates (`Mock{Trait}`): the call log.

use std::sync::{Arc, Mutex};

/// One recorded call to a mock.
#[derive(Debug, Clone, PartialEq)]
pub struct MockCall {
    /// The method name.
    pub method: &'static str,
    /// The arguments, as the JSON object the HTTP client would have sent.
    pub args: serde_json::Value,
}

/// The calls a mock has seen, shared between clones of the mock.
#[derive(Debug, Clone, Default)]
pub struct CallLog {
    calls: Arc<Mutex<Vec<MockCall>>>,
}

impl CallLog {
    /// Records a call; `args` is serialized to JSON (`null` if it cannot be).
    pub fn record<A: serde::Serialize>(&self, method: &'static str, args: &A) {
        let args = serde_json::to_value(args).unwrap_or(serde_json::Value::Null);
        self.lock().push(MockCall { method, args });
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<MockCall> {
        self.lock().clone()
    }

    /// How many calls `method` got.
    pub fn count(&self, method: &str) -> usize {
        self.lock().iter().filter(|c| c.method == method).count()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<MockCall>> {
        // A panic while holding the lock leaves a consistent Vec; keep going.
        self.calls.lock().unwrap_or_else(|p| p.into_inner())
    }
}
