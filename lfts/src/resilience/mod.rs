//! Resilience: [`Layer`]s that wrap any port implementation without changing it.
//!
//! A layer sees each call as the method's [`MethodInfo`] and a closure that starts the call
//! (again). It may run it once ([`Identity`]), several times (retry), never (an open circuit),
//! or race it against a clock (timeout). It reads [`MethodInfo::idempotent`] and
//! [`RemoteError::network`] to decide, never a message.
//!
//! [`Layered`] pairs an implementation with a layer; `#[lfts::port]` implements the port
//! trait for `Layered<P, L>` whenever `P` implements it, each method calling
//! [`Layered::call_layer`] with a closure that clones the arguments and calls the inner
//! implementation. [`LayerExt::layer`] stacks layers, the last one outermost:
//!
//! ```
//! use lfts::resilience::{Identity, LayerExt};
//!
//! struct Users;
//! let users = Users.layer(Identity).layer(Identity);
//! let _inner: &Users = users.inner().inner();
//! ```

mod fallback;
mod identity;
mod retry;
mod timeout;

use std::future::Future;
use std::sync::{Mutex, PoisonError};

pub use fallback::{Fallback, FallbackExt};
pub use identity::Identity;
pub use retry::Retry;
pub use timeout::Timeout;

use crate::port::{MethodInfo, RemoteError};

/// A decorator around every call of a port: the hook resilience policies implement.
///
/// `call` starts one attempt of the underlying call each time it is invoked; the layer may
/// invoke it several times (retry), once, or not at all (circuit open; it then answers
/// `Err(E::from(NetworkError::CircuitOpen { .. }))`).
///
/// ```
/// use std::future::Future;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use lfts::port::{MethodInfo, RemoteError};
/// use lfts::resilience::Layer;
///
/// /// Counts calls.
/// #[derive(Default)]
/// struct Count(AtomicUsize);
///
/// impl Layer for Count {
///     fn call<'a, T, E, F, Fut>(
///         &'a self,
///         _method: &'static MethodInfo,
///         mut call: F,
///     ) -> impl Future<Output = Result<T, E>> + Send + 'a
///     where
///         T: Send + 'a,
///         E: RemoteError + Send + 'a,
///         F: FnMut() -> Fut + Send + 'a,
///         Fut: Future<Output = Result<T, E>> + Send + 'a,
///     {
///         self.0.fetch_add(1, Ordering::Relaxed);
///         call()
///     }
/// }
/// ```
pub trait Layer: Send + Sync {
    /// Runs the call `method` through this layer.
    fn call<'a, T, E, F, Fut>(
        &'a self,
        method: &'static MethodInfo,
        call: F,
    ) -> impl Future<Output = Result<T, E>> + Send + 'a
    where
        T: Send + 'a,
        E: RemoteError + Send + 'a,
        F: FnMut() -> Fut + Send + 'a,
        Fut: Future<Output = Result<T, E>> + Send + 'a;
}

impl<L: Layer + ?Sized> Layer for &L {
    fn call<'a, T, E, F, Fut>(
        &'a self,
        method: &'static MethodInfo,
        call: F,
    ) -> impl Future<Output = Result<T, E>> + Send + 'a
    where
        T: Send + 'a,
        E: RemoteError + Send + 'a,
        F: FnMut() -> Fut + Send + 'a,
        Fut: Future<Output = Result<T, E>> + Send + 'a,
    {
        (**self).call(method, call)
    }
}

impl<L: Layer + ?Sized> Layer for std::sync::Arc<L> {
    fn call<'a, T, E, F, Fut>(
        &'a self,
        method: &'static MethodInfo,
        call: F,
    ) -> impl Future<Output = Result<T, E>> + Send + 'a
    where
        T: Send + 'a,
        E: RemoteError + Send + 'a,
        F: FnMut() -> Fut + Send + 'a,
        Fut: Future<Output = Result<T, E>> + Send + 'a,
    {
        (**self).call(method, call)
    }
}

/// An implementation `P` of a port wrapped in a layer `L`.
///
/// `#[lfts::port]` implements the port trait for it; a hand-written implementation of a port
/// method looks like this:
///
/// ```
/// use lfts::port::{MethodInfo, NetworkError};
/// use lfts::resilience::{Identity, Layer, LayerExt, Layered};
///
/// struct Greeter;
/// impl Greeter {
///     async fn greet(&self, name: String) -> Result<String, NetworkError> {
///         Ok(format!("hello {name}"))
///     }
/// }
///
/// static GREET: MethodInfo = MethodInfo {
///     port: "Greeter", name: "greet", params: &["name"], idempotent: true, http: None,
/// };
///
/// async fn greet<L: Layer>(this: &Layered<Greeter, L>, name: String) -> Result<String, NetworkError> {
///     let inner = this.inner();
///     this.call_layer(&GREET, || inner.greet(name.clone())).await
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let greeter = Greeter.layer(Identity);
/// assert_eq!(greet(&greeter, "Ada".into()).await.unwrap(), "hello Ada");
/// # });
/// ```
#[derive(Debug, Clone, Default)]
pub struct Layered<P, L> {
    inner: P,
    layer: L,
}

impl<P, L> Layered<P, L> {
    /// Wraps `inner` in `layer`.
    pub fn new(inner: P, layer: L) -> Layered<P, L> {
        Layered { inner, layer }
    }

    /// The wrapped implementation.
    pub fn inner(&self) -> &P {
        &self.inner
    }

    /// The layer (the resilience policy) wrapped around [`inner`](Layered::inner).
    ///
    /// Named `policy`, not `layer`, so that `x.layer(l)` always means [`LayerExt::layer`]
    /// (wrap again), on an owned `Layered` and on a reference alike.
    ///
    /// ```
    /// use lfts::resilience::{Identity, LayerExt, Timeout};
    /// use std::time::Duration;
    ///
    /// struct Users;
    /// let users = Users.layer(Timeout::per_attempt(Duration::from_millis(500))).layer(Identity);
    /// assert_eq!(users.inner().policy().limit(), Duration::from_millis(500));
    /// let _: &Identity = users.policy();
    /// ```
    pub fn policy(&self) -> &L {
        &self.layer
    }

    /// The implementation and the layer.
    pub fn into_parts(self) -> (P, L) {
        (self.inner, self.layer)
    }

    /// Runs one call of `method` through the layer; `call` starts an attempt on
    /// [`inner`](Layered::inner).
    pub fn call_layer<'a, T, E, F, Fut>(
        &'a self,
        method: &'static MethodInfo,
        call: F,
    ) -> impl Future<Output = Result<T, E>> + Send + 'a
    where
        L: Layer,
        T: Send + 'a,
        E: RemoteError + Send + 'a,
        F: FnMut() -> Fut + Send + 'a,
        Fut: Future<Output = Result<T, E>> + Send + 'a,
    {
        self.layer.call(method, call)
    }
}

/// Two layers as one: `outer` around `inner`. Every attempt `outer` starts goes through
/// `inner`.
///
/// `a.layer(x).layer(y)` is the same as `a.layer(Stack::new(x, y))`; a `Stack` is a value
/// that can be built once and shared.
#[derive(Debug, Clone, Default)]
pub struct Stack<Inner, Outer> {
    inner: Inner,
    outer: Outer,
}

impl<Inner, Outer> Stack<Inner, Outer> {
    /// `outer` around `inner`.
    pub fn new(inner: Inner, outer: Outer) -> Stack<Inner, Outer> {
        Stack { inner, outer }
    }

    /// The inner layer.
    pub fn inner(&self) -> &Inner {
        &self.inner
    }

    /// The outer layer.
    pub fn outer(&self) -> &Outer {
        &self.outer
    }
}

impl<Inner: Layer, Outer: Layer> Layer for Stack<Inner, Outer> {
    async fn call<'a, T, E, F, Fut>(&'a self, method: &'static MethodInfo, call: F) -> Result<T, E>
    where
        T: Send + 'a,
        E: RemoteError + Send + 'a,
        F: FnMut() -> Fut + Send + 'a,
        Fut: Future<Output = Result<T, E>> + Send + 'a,
    {
        // Both layers may start attempts; they share the one `call` behind a lock held only
        // while an attempt is started (not while it runs).
        let call = Mutex::new(call);
        let call = &call;
        let inner = &self.inner;
        self.outer
            .call(method, move || {
                inner.call(method, move || {
                    let mut start = call.lock().unwrap_or_else(PoisonError::into_inner);
                    (*start)()
                })
            })
            .await
    }
}

/// Adds [`layer`](LayerExt::layer) to every type, so that `client.layer(Identity)` works.
pub trait LayerExt: Sized {
    /// Wraps `self` in `layer`.
    fn layer<L: Layer>(self, layer: L) -> Layered<Self, L> {
        Layered::new(self, layer)
    }
}

impl<T> LayerExt for T {}
