//! [`Identity`]: the layer that changes nothing.

use std::future::Future;

use super::Layer;
use crate::port::{MethodInfo, RemoteError};

/// The layer that runs each call once, unchanged. Useful as a default and in tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Identity;

impl Layer for Identity {
    fn call<'a, T, E, F, Fut>(
        &'a self,
        method: &'static MethodInfo,
        mut call: F,
    ) -> impl Future<Output = Result<T, E>> + Send + 'a
    where
        T: Send + 'a,
        E: RemoteError + Send + 'a,
        F: FnMut() -> Fut + Send + 'a,
        Fut: Future<Output = Result<T, E>> + Send + 'a,
    {
        let _ = method;
        call()
    }
}
