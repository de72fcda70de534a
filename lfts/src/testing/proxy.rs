//! The listener: accepts connections on 127.0.0.1, numbers them, asks the plan for their fault,
//! and runs each one as its own task (at most [`MAX_OPEN_CONNECTIONS`] at once).

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot};
use tokio::task::{JoinHandle, JoinSet};

use super::connection;
use super::plan::FaultPlan;

/// Connections open at once; further accepts wait until one closes.
const MAX_OPEN_CONNECTIONS: usize = 1024;

/// Pause after a failed `accept` (for example when out of file descriptors) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(10);

/// A TCP proxy on 127.0.0.1 that injects [`Fault`](super::Fault)s into the connections it
/// forwards to one or more loopback HTTP/1.1 servers.
///
/// Dropping the proxy stops it as well: the listener closes and every connection task is aborted.
/// [`FaultProxy::shutdown`] does the same and waits for the tasks to finish.
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    accept: Option<JoinHandle<()>>,
}

/// Counts of what the proxy did, by fault; a snapshot taken by [`FaultProxy::stats`].
///
/// Every accepted connection is counted once in `connections` as soon as it is accepted, and once
/// in exactly one of the other fields when its fault is applied; a connection whose upstream
/// cannot be reached is closed and counted as `passed` (a delayed one stays `delayed`).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultStats {
    /// Connections accepted.
    pub connections: u64,
    /// Connections forwarded untouched (including those whose upstream could not be reached).
    pub passed: u64,
    /// Connections reset right after accept ([`Fault::Refuse`](super::Fault::Refuse)).
    pub refused: u64,
    /// Connections forwarded after a delay ([`Fault::Delay`](super::Fault::Delay)).
    pub delayed: u64,
    /// Connections whose response was swallowed
    /// ([`Fault::DropResponse`](super::Fault::DropResponse)).
    pub dropped_responses: u64,
    /// Connections reset halfway through the response
    /// ([`Fault::ResetMidResponse`](super::Fault::ResetMidResponse)).
    pub reset_mid_response: u64,
    /// Connections answered with 503 ([`Fault::Unavailable`](super::Fault::Unavailable)).
    pub unavailable: u64,
}

/// What the listener and the connection tasks share with the [`FaultProxy`] handle.
struct Shared {
    upstreams: Vec<SocketAddr>,
    plan: Mutex<FaultPlan>,
    counters: Counters,
}

/// The live counters behind [`FaultStats`].
#[derive(Default)]
pub(super) struct Counters {
    connections: AtomicU64,
    pub(super) passed: AtomicU64,
    pub(super) refused: AtomicU64,
    pub(super) delayed: AtomicU64,
    pub(super) dropped_responses: AtomicU64,
    pub(super) reset_mid_response: AtomicU64,
    pub(super) unavailable: AtomicU64,
}

/// Adds one to a counter. Release, so a client that saw the fault's effect and then reads the
/// stats (Acquire) sees the count.
pub(super) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Release);
}

impl Counters {
    fn snapshot(&self) -> FaultStats {
        let read = |counter: &AtomicU64| counter.load(Ordering::Acquire);
        FaultStats {
            connections: read(&self.connections),
            passed: read(&self.passed),
            refused: read(&self.refused),
            delayed: read(&self.delayed),
            dropped_responses: read(&self.dropped_responses),
            reset_mid_response: read(&self.reset_mid_response),
            unavailable: read(&self.unavailable),
        }
    }
}

impl Shared {
    fn plan(&self) -> std::sync::MutexGuard<'_, FaultPlan> {
        // The lock only guards a clone or a lookup, which cannot leave the plan half-written, so a
        // poisoned lock still holds a valid plan.
        self.plan.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Round robin by connection index, so a retry on a new connection lands on another replica.
    fn upstream_for(&self, connection: u64) -> Option<SocketAddr> {
        let count = u64::try_from(self.upstreams.len()).ok()?;
        let slot = usize::try_from(connection.checked_rem(count)?).ok()?;
        self.upstreams.get(slot).copied()
    }
}

impl FaultProxy {
    /// Starts a proxy on `127.0.0.1:0` in front of `upstream`.
    ///
    /// Fails with [`io::ErrorKind::InvalidInput`] if `upstream` is not a loopback address.
    pub async fn start(upstream: SocketAddr, plan: FaultPlan) -> io::Result<FaultProxy> {
        FaultProxy::start_many(vec![upstream], plan).await
    }

    /// Starts a proxy on `127.0.0.1:0` in front of several replicas: connection `n` goes to
    /// `upstreams[n % upstreams.len()]`, so a retry on a new connection lands on another replica.
    ///
    /// Fails with [`io::ErrorKind::InvalidInput`] if the list is empty or any address in it is not
    /// a loopback address.
    pub async fn start_many(upstreams: Vec<SocketAddr>, plan: FaultPlan) -> io::Result<FaultProxy> {
        if upstreams.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "FaultProxy needs at least one upstream",
            ));
        }
        if let Some(outside) = upstreams
            .iter()
            .find(|upstream| !upstream.ip().to_canonical().is_loopback())
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("FaultProxy only forwards to loopback addresses, and {outside} is not one"),
            ));
        }
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            upstreams,
            plan: Mutex::new(plan),
            counters: Counters::default(),
        });
        let (stop, stopped) = oneshot::channel();
        let accept = tokio::spawn(accept_loop(listener, Arc::clone(&shared), stopped));
        Ok(FaultProxy {
            addr,
            shared,
            stop: Some(stop),
            accept: Some(accept),
        })
    }

    /// The address the proxy listens on (always on 127.0.0.1).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The proxy's base URL, `http://{addr}`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The upstream addresses, in round-robin order.
    pub fn upstreams(&self) -> &[SocketAddr] {
        &self.shared.upstreams
    }

    /// Replaces the plan. It applies to connections accepted from now on; the connection index
    /// keeps counting, so a [`FaultPlan::schedule`] set now starts at the current index, not at 0.
    pub fn set_plan(&self, plan: FaultPlan) {
        *self.shared.plan() = plan;
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> FaultStats {
        self.shared.counters.snapshot()
    }

    /// Stops accepting, aborts the connection tasks and waits until they are gone.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            // The listener may have stopped already; then there is nobody to tell.
            let _ = stop.send(());
        }
        if let Some(accept) = self.accept.take() {
            // A cancelled or panicked listener has nothing left to wait for either.
            let _ = accept.await;
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        // Dropping the listener task drops its `JoinSet`, which aborts every connection task.
        if let Some(accept) = self.accept.take() {
            accept.abort();
        }
    }
}

impl fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultProxy")
            .field("addr", &self.addr)
            .field("upstreams", &self.shared.upstreams)
            .field("plan", &*self.shared.plan())
            .field("stats", &self.stats())
            .finish()
    }
}

/// Accepts until told to stop (or until the [`FaultProxy`] is dropped, which drops `stop`'s
/// sender), then aborts and awaits every connection task.
async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut stop: oneshot::Receiver<()>) {
    let open = Arc::new(Semaphore::new(MAX_OPEN_CONNECTIONS));
    let mut tasks = JoinSet::new();
    let mut next_index: u64 = 0;
    loop {
        // Reap finished tasks so the set holds at most the open connections.
        while tasks.try_join_next().is_some() {}
        let permit = tokio::select! {
            biased;
            _ = &mut stop => break,
            permit = Arc::clone(&open).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_closed) => break,
            },
        };
        let client = tokio::select! {
            biased;
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((client, _peer)) => client,
                Err(_) => {
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        let index = next_index;
        next_index = next_index.wrapping_add(1);
        bump(&shared.counters.connections);
        let fault = shared.plan().fault_for(index);
        let Some(upstream) = shared.upstream_for(index) else {
            // Unreachable: `start_many` refuses an empty list. Closing is the safe answer.
            continue;
        };
        let shared = Arc::clone(&shared);
        tasks.spawn(async move {
            let _permit = permit;
            connection::serve(client, upstream, fault, &shared.counters).await;
        });
    }
    tasks.shutdown().await;
}
