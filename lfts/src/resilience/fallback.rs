//! [`Fallback`]: a second implementation of the same port answers when the first fails on the
//! way.

/// `primary`, and `secondary` when the primary's call fails with a network error.
///
/// `#[lfts::port]` implements the port for `Fallback<P, S>` whenever both `P` and `S` do. Each
/// call goes to `primary`; only if it answers a [`NetworkError`](crate::NetworkError) (the
/// call did not get through: refused, timed out, an open circuit…) is the same call made on
/// `secondary`, whose answer is then the answer. A domain error from the primary is an answer,
/// not a failure: it is returned as it is. Build one with [`FallbackExt::fallback`]:
///
/// ```
/// use lfts::resilience::FallbackExt;
///
/// struct Remote;
/// struct Cache;
/// let prices = Remote.fallback(Cache);
/// let (_remote, _cache): (&Remote, &Cache) = (prices.primary(), prices.secondary());
/// ```
///
/// Layers compose around either side or around the pair: `client.layer(retry).fallback(cache)`
/// retries the primary before falling back; `client.fallback(cache).layer(timeout)` bounds
/// both together.
#[derive(Debug, Clone, Default)]
pub struct Fallback<P, S> {
    primary: P,
    secondary: S,
}

impl<P, S> Fallback<P, S> {
    /// `primary`, falling back on `secondary`.
    pub fn new(primary: P, secondary: S) -> Fallback<P, S> {
        Fallback { primary, secondary }
    }

    /// The implementation every call tries first.
    pub fn primary(&self) -> &P {
        &self.primary
    }

    /// The implementation that answers when the primary fails with a network error.
    pub fn secondary(&self) -> &S {
        &self.secondary
    }

    /// The two implementations.
    pub fn into_parts(self) -> (P, S) {
        (self.primary, self.secondary)
    }
}

/// Adds [`fallback`](FallbackExt::fallback) to every type.
pub trait FallbackExt: Sized {
    /// `self`, falling back on `secondary` when a call fails with a network error.
    fn fallback<S>(self, secondary: S) -> Fallback<Self, S> {
        Fallback::new(self, secondary)
    }
}

impl<T> FallbackExt for T {}
