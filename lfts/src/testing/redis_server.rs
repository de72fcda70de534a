//! [`RedisServer`]: a private `redis-server` for one test (features `testing` and `redis`).

use std::ffi::OsString;
use std::io;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::net::TcpStream;

/// The environment variable that overrides the `redis-server` binary.
const BINARY_VAR: &str = "LFTS_REDIS_SERVER";
/// How long a started server has to answer `PING`.
const READY_TIMEOUT: Duration = Duration::from_secs(5);
/// How many free ports [`RedisServer::start`] tries.
const PORT_ATTEMPTS: usize = 5;

/// A `redis-server` of one test's own: on a free loopback port, without persistence, killed
/// when dropped.
///
/// It needs the `redis-server` binary: Debian's `redis-server` package (`apt-get install
/// redis-server`) puts it on `PATH`, or the environment variable `LFTS_REDIS_SERVER` names
/// it. [`stop`](RedisServer::stop) and [`restart`](RedisServer::restart) simulate an outage.
///
/// ```no_run
/// use lfts::http::idempotency::RedisStore;
/// use lfts::testing::RedisServer;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let mut redis = RedisServer::start().await?;
/// let store = RedisStore::connect(&redis.url()).await?;
/// redis.stop().await; // the store now answers StoreError::Unavailable
/// redis.restart().await?; // same port, empty; the store reconnects
/// # let _ = store;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct RedisServer {
    binary: OsString,
    port: u16,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a `redis-server` on a free port of 127.0.0.1 and waits until it answers `PING`
    /// (at most 5 s per port tried).
    ///
    /// Fails with [`io::ErrorKind::NotFound`] if there is no `redis-server` to run.
    pub async fn start() -> io::Result<RedisServer> {
        let binary = std::env::var_os(BINARY_VAR).unwrap_or_else(|| OsString::from("redis-server"));
        let mut last = None;
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port()?;
            match launch(&binary, port).await {
                Ok(child) => {
                    return Ok(RedisServer {
                        binary,
                        port,
                        child: Some(child),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(e),
                // Most likely the port was taken meanwhile: try another.
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("redis-server did not start")))
    }

    /// `redis://127.0.0.1:{port}/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The port it listens on (the same after a [`restart`](RedisServer::restart)).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server (`SIGKILL`, as a crash would) and waits for it to exit: connections to
    /// it are reset, new ones refused. Does nothing if it is stopped already.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            // Reaping a killed process takes a moment; poll rather than block the runtime.
            let deadline = Instant::now() + Duration::from_secs(5);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }

    /// Stops the server if it runs, then starts a new, empty one on the same port and waits
    /// until it answers `PING`.
    pub async fn restart(&mut self) -> io::Result<()> {
        self.stop().await;
        // The port is ours unless something took it in between; wait a little for it.
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            match launch(&self.binary, self.port).await {
                Ok(child) => {
                    self.child = Some(child);
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound || Instant::now() >= deadline => {
                    return Err(e);
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A port of 127.0.0.1 that was free a moment ago.
fn free_port() -> io::Result<u16> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    Ok(listener.local_addr()?.port())
}

/// Spawns `redis-server` on `port` and waits until it answers `PING`; kills it on failure.
async fn launch(binary: &OsString, port: u16) -> io::Result<Child> {
    let mut child = spawn(binary, port)?;
    match wait_ready(&mut child, port).await {
        Ok(()) => Ok(child),
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(e)
        }
    }
}

fn spawn(binary: &OsString, port: u16) -> io::Result<Child> {
    // A file name of its own, which does not exist, so the server starts empty even if the
    // directory holds some other dump (with `--save ""` it never writes one).
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let dump = format!(
        "lfts-test-{}-{port}-{nanos}-{}.rdb",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    Command::new(binary)
        .arg("--port")
        .arg(port.to_string())
        .args(["--bind", "127.0.0.1"])
        .args(["--save", ""])
        .args(["--appendonly", "no"])
        .args(["--protected-mode", "yes"])
        .args(["--daemonize", "no"])
        .args(["--loglevel", "warning"])
        .arg("--dir")
        .arg(std::env::temp_dir())
        .arg("--dbfilename")
        .arg(dump)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!(
                        "cannot run {}: not found; install Debian's `redis-server` package \
                         (apt-get install redis-server) or set {BINARY_VAR} to the binary",
                        binary.to_string_lossy()
                    ),
                )
            } else {
                io::Error::new(
                    e.kind(),
                    format!("cannot run {}: {e}", binary.to_string_lossy()),
                )
            }
        })
}

/// Waits until the server on `port` answers `PING` with `+PONG`, failing if `child` exits or
/// 5 s pass.
async fn wait_ready(child: &mut Child, port: u16) -> io::Result<()> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait()? {
            return Err(io::Error::other(format!(
                "redis-server on port {port} exited ({status}); is the port taken?"
            )));
        }
        let answer = tokio::time::timeout(Duration::from_millis(500), ping(port)).await;
        // Our server, not whoever else might hold the port, must be the one answering.
        if matches!(answer, Ok(Ok(true))) && child.try_wait()?.is_none() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("redis-server on port {port} did not answer PING within {READY_TIMEOUT:?}"),
            ));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Whether 127.0.0.1:`port` answers `PING` with `+PONG`.
async fn ping(port: u16) -> io::Result<bool> {
    let stream = TcpStream::connect(("127.0.0.1", port)).await?;
    let mut request: &[u8] = b"PING\r\n";
    while !request.is_empty() {
        stream.writable().await?;
        match stream.try_write(request) {
            Ok(n) => request = request.get(n..).unwrap_or_default(),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    let mut answer = Vec::new();
    let mut buf = [0u8; 64];
    while !answer.ends_with(b"\r\n") && answer.len() < 1024 {
        stream.readable().await?;
        match stream.try_read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(buf.get(..n).unwrap_or_default()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(answer == b"+PONG\r\n")
}
