//! One accepted connection: apply its fault, forwarding with fixed buffers.
//!
//! Only the `AsyncRead`/`AsyncWrite` traits are used (through `poll_fn`), not tokio's `io-util`
//! extension traits, so this module needs no tokio feature beyond `net` and `time`.

use std::future::{Future, poll_fn};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::timeout;

use super::plan::Fault;
use super::proxy::{Counters, bump};

/// Size of each copy buffer; a connection holds at most two.
const BUFFER: usize = 16 * 1024;

/// Longest request head read before answering [`Fault::Unavailable`] anyway.
const HEAD_LIMIT: usize = 64 * 1024;

/// Bound on connecting to the upstream.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Bound on waiting for the upstream's first response byte, and on reading the request head.
const FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(30);

/// After the first response byte, the upstream counts as done once it is quiet this long.
const QUIET_PERIOD: Duration = Duration::from_millis(50);

/// Bound on reading the rest of a response that is being dropped.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);

/// Bound on draining the client after the 503, so closing sends FIN rather than RST.
const LINGER_LIMIT: Duration = Duration::from_secs(2);

/// The JSON body of the injected 503.
const UNAVAILABLE_BODY: &str =
    r#"{"error":"unavailable","message":"injected by lfts::testing::FaultProxy"}"#;

/// Applies `fault` to `client`, whose requests belong to `upstream`.
pub(super) async fn serve(
    client: TcpStream,
    upstream: SocketAddr,
    fault: Fault,
    counters: &Counters,
) {
    // Best effort: the proxy must not add Nagle delays on top of the injected ones.
    let _ = client.set_nodelay(true);
    match fault {
        Fault::Pass => {
            bump(&counters.passed);
            if let Some(upstream) = connect(upstream).await {
                pipe(client, upstream).await;
            }
        }
        Fault::Refuse => {
            bump(&counters.refused);
            reset(client);
        }
        Fault::Delay(delay) => {
            bump(&counters.delayed);
            tokio::time::sleep(delay).await;
            if let Some(upstream) = connect(upstream).await {
                pipe(client, upstream).await;
            }
        }
        Fault::DropResponse => match connect(upstream).await {
            Some(upstream) => {
                bump(&counters.dropped_responses);
                drop_response(client, upstream).await;
            }
            None => bump(&counters.passed),
        },
        Fault::ResetMidResponse => match connect(upstream).await {
            Some(upstream) => {
                bump(&counters.reset_mid_response);
                reset_mid_response(client, upstream).await;
            }
            None => bump(&counters.passed),
        },
        Fault::Unavailable => {
            bump(&counters.unavailable);
            unavailable(client).await;
        }
    }
}

/// Connects to the upstream; `None` (and the caller drops the client) if that fails.
async fn connect(upstream: SocketAddr) -> Option<TcpStream> {
    let stream = timeout(CONNECT_TIMEOUT, TcpStream::connect(upstream))
        .await
        .ok()?
        .ok()?;
    let _ = stream.set_nodelay(true);
    Some(stream)
}

/// Closes with a TCP RST instead of a FIN.
fn reset(stream: TcpStream) {
    // If the option cannot be set the close is a FIN, which still ends the connection.
    let _ = stream.set_zero_linger();
    drop(stream);
}

/// Copies both ways until both sides are done, or either fails.
async fn pipe(mut client: TcpStream, mut upstream: TcpStream) {
    let (mut client_read, mut client_write) = client.split();
    let (mut upstream_read, mut upstream_write) = upstream.split();
    // An error on either side ends both: there is no one left to talk to.
    let _ = tokio::try_join!(
        forward(&mut client_read, &mut upstream_write),
        forward(&mut upstream_read, &mut client_write),
    );
}

/// Forwards the request and swallows the response, then resets the client.
async fn drop_response(mut client: TcpStream, mut upstream: TcpStream) {
    {
        let (mut client_read, _) = client.split();
        let (mut upstream_read, mut upstream_write) = upstream.split();
        let mut scratch = vec![0; BUFFER];
        let request = forward(&mut client_read, &mut upstream_write);
        let response = drain_response(&mut upstream_read, &mut scratch);
        // Whether the client left early or the response was read, the client gets a reset.
        let _ = alongside(request, response).await;
    }
    reset(client);
}

/// Forwards the request and half of the first response chunk, then resets the client.
async fn reset_mid_response(mut client: TcpStream, mut upstream: TcpStream) {
    {
        let (mut client_read, mut client_write) = client.split();
        let (mut upstream_read, mut upstream_write) = upstream.split();
        let mut chunk = vec![0; BUFFER];
        let request = forward(&mut client_read, &mut upstream_write);
        let response = first_chunk(&mut upstream_read, &mut chunk);
        if let Some(received) = alongside(request, response).await {
            // At least one byte and never the whole chunk; a 1-byte chunk cannot be split, so
            // nothing of it is sent.
            let keep = if received >= 2 { received / 2 } else { 0 };
            let half = chunk.get(..keep).unwrap_or_default();
            // The reset follows whether or not the half arrived.
            let _ = write_all(&mut client_write, half).await;
        }
    }
    reset(client);
}

/// Answers 503 without contacting the upstream, then closes cleanly.
async fn unavailable(mut client: TcpStream) {
    let mut scratch = vec![0; BUFFER];
    // A head that is too long, too slow or cut short still gets the 503.
    let _ = timeout(FIRST_BYTE_TIMEOUT, read_head(&mut client, &mut scratch)).await;
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\n\
         content-type: application/json\r\n\
         content-length: {}\r\n\
         connection: close\r\n\
         retry-after: 0\r\n\
         \r\n\
         {UNAVAILABLE_BODY}",
        UNAVAILABLE_BODY.len()
    );
    if write_all(&mut client, response.as_bytes()).await.is_err() {
        return;
    }
    let _ = shutdown(&mut client).await;
    // Closing a socket with unread input (say, a request body) sends RST, which can destroy the
    // 503 before the client reads it. Read until the client closes, within a bound.
    let _ = timeout(LINGER_LIMIT, async {
        while let Ok(1..) = read_some(&mut client, &mut scratch).await {}
    })
    .await;
}

/// Runs `request` (forwarding the client's bytes) alongside `response` until `response`
/// completes; `None` if the client side failed first.
async fn alongside<T>(
    request: impl Future<Output = io::Result<()>>,
    response: impl Future<Output = T>,
) -> Option<T> {
    tokio::pin!(request, response);
    let mut request_open = true;
    loop {
        tokio::select! {
            biased;
            done = &mut response => return Some(done),
            sent = &mut request, if request_open => match sent {
                // The client half-closed; keep waiting for the upstream.
                Ok(()) => request_open = false,
                Err(_) => return None,
            },
        }
    }
}

/// Reads the upstream's response and discards it: waits (bounded) for the first byte, then reads
/// until EOF or [`QUIET_PERIOD`] without data (bounded by [`DRAIN_LIMIT`]).
async fn drain_response<R: AsyncRead + Unpin>(upstream: &mut R, scratch: &mut [u8]) {
    match timeout(FIRST_BYTE_TIMEOUT, read_some(upstream, scratch)).await {
        Ok(Ok(1..)) => {}
        _ => return,
    }
    let _ = timeout(DRAIN_LIMIT, async {
        while let Ok(Ok(1..)) = timeout(QUIET_PERIOD, read_some(upstream, scratch)).await {}
    })
    .await;
}

/// Reads the first response chunk into `chunk` (bounded wait) and returns its length; a 1-byte
/// first read gets one more short read so there is something to cut in half.
async fn first_chunk<R: AsyncRead + Unpin>(upstream: &mut R, chunk: &mut [u8]) -> usize {
    let first = match timeout(FIRST_BYTE_TIMEOUT, read_some(upstream, chunk)).await {
        Ok(Ok(read)) => read,
        _ => return 0,
    };
    if first != 1 {
        return first;
    }
    let Some(rest) = chunk.get_mut(1..) else {
        return first;
    };
    match timeout(QUIET_PERIOD, read_some(upstream, rest)).await {
        Ok(Ok(more)) => first + more,
        _ => first,
    }
}

/// Reads until the end of an HTTP head (`\r\n\r\n`), EOF, or [`HEAD_LIMIT`] bytes.
async fn read_head<R: AsyncRead + Unpin>(client: &mut R, scratch: &mut [u8]) -> io::Result<()> {
    // How much of "\r\n\r\n" the bytes read so far end with.
    let mut matched = 0;
    let mut total = 0;
    while total < HEAD_LIMIT {
        let room = scratch.len().min(HEAD_LIMIT - total);
        let Some(window) = scratch.get_mut(..room) else {
            return Ok(());
        };
        let read = read_some(client, window).await?;
        if read == 0 {
            return Ok(());
        }
        total += read;
        for &byte in window.iter().take(read) {
            matched = match (matched, byte) {
                (0 | 2, b'\r') | (1 | 3, b'\n') => matched + 1,
                (_, b'\r') => 1,
                _ => 0,
            };
            if matched == 4 {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Copies `from` into `to` until EOF, then half-closes `to`.
async fn forward<R, W>(from: &mut R, to: &mut W) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buffer = vec![0; BUFFER];
    loop {
        let read = read_some(from, &mut buffer).await?;
        if read == 0 {
            // The peer may be gone already; the copy itself is complete.
            let _ = shutdown(to).await;
            return Ok(());
        }
        write_all(to, buffer.get(..read).unwrap_or_default()).await?;
    }
}

/// One read into `buffer`; 0 means EOF.
async fn read_some<R: AsyncRead + Unpin>(reader: &mut R, buffer: &mut [u8]) -> io::Result<usize> {
    poll_fn(|cx| {
        let mut filled = ReadBuf::new(&mut *buffer);
        ready!(Pin::new(&mut *reader).poll_read(cx, &mut filled))?;
        Poll::Ready(Ok(filled.filled().len()))
    })
    .await
}

/// Writes all of `data`.
async fn write_all<W: AsyncWrite + Unpin>(writer: &mut W, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        let written = poll_fn(|cx| Pin::new(&mut *writer).poll_write(cx, data)).await?;
        if written == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        data = data.get(written..).unwrap_or_default();
    }
    Ok(())
}

/// Sends FIN (shuts down the write half).
async fn shutdown<W: AsyncWrite + Unpin>(writer: &mut W) -> io::Result<()> {
    poll_fn(|cx| Pin::new(&mut *writer).poll_shutdown(cx)).await
}
