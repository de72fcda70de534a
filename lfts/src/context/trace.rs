//! [`TraceContext`]: the W3C trace context (`traceparent`) a call carries, and the random ids
//! it and idempotency keys are made of.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// 64 unpredictable-enough bits for ids and jitter: std's randomly keyed SipHash over a
/// process-wide counter. Not for cryptography.
pub(crate) fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.finish()
}

pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    for chunk in out.chunks_mut(8) {
        let bytes = random_u64().to_be_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
    out
}

pub(crate) fn push_hex(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
}

fn parse_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let s = s.as_bytes();
    if s.len() != 2 * N {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = (nibble(s[2 * i])? << 4) | nibble(s[2 * i + 1])?;
    }
    Some(out)
}

/// A fresh random idempotency key, formatted as a version-4 UUID.
pub fn new_idempotency_key() -> String {
    let mut b: [u8; 16] = random_bytes();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let mut s = String::with_capacity(36);
    for (i, range) in [0..4, 4..6, 6..8, 8..10, 10..16].into_iter().enumerate() {
        if i > 0 {
            s.push('-');
        }
        push_hex(&mut s, &b[range]);
    }
    s
}

/// A W3C trace context (`traceparent: 00-{trace id}-{parent span id}-{flags}`).
///
/// A server runs each handler inside the context of the request it serves (a child span of the
/// caller's), and the client sends a child of the current [`Context`](crate::Context)'s trace,
/// so a trace follows a call through every service. Outside any trace the client starts a new
/// one.
///
/// ```
/// use lfts::context::TraceContext;
///
/// let ctx = TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
/// assert_eq!(ctx.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// let child = ctx.child();
/// assert_eq!(child.trace_id(), ctx.trace_id());
/// assert_ne!(child.span_id(), ctx.span_id());
/// assert!(TraceContext::parse("garbage").is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceContext {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    flags: u8,
}

impl TraceContext {
    /// A new trace with a random trace id and span id, sampled.
    pub fn new_root() -> TraceContext {
        let mut trace_id: [u8; 16] = random_bytes();
        if trace_id == [0; 16] {
            trace_id[15] = 1;
        }
        TraceContext {
            trace_id,
            span_id: new_span_id(),
            flags: 0x01,
        }
    }

    /// Parses a `traceparent` header; `None` when it is malformed or uses the all-zero ids the
    /// standard forbids. Versions other than `00` are read by their first four fields, as the
    /// standard asks.
    pub fn parse(header: &str) -> Option<TraceContext> {
        let mut parts = header.trim().split('-');
        let version = parts.next()?;
        let trace_id = parts.next()?;
        let span_id = parts.next()?;
        let flags = parts.next()?;
        let version: [u8; 1] = parse_hex(version)?;
        if version[0] == 0xff || (version[0] == 0 && parts.next().is_some()) {
            return None;
        }
        let trace_id: [u8; 16] = parse_hex(trace_id)?;
        let span_id: [u8; 8] = parse_hex(span_id)?;
        let flags: [u8; 1] = parse_hex(flags)?;
        if trace_id == [0; 16] || span_id == [0; 8] {
            return None;
        }
        Some(TraceContext {
            trace_id,
            span_id,
            flags: flags[0],
        })
    }

    /// The context of a new span in the same trace, whose parent is this span.
    pub fn child(&self) -> TraceContext {
        TraceContext {
            span_id: new_span_id(),
            ..*self
        }
    }

    /// The trace id as 32 hex digits.
    pub fn trace_id(&self) -> String {
        let mut s = String::with_capacity(32);
        push_hex(&mut s, &self.trace_id);
        s
    }

    /// The span id as 16 hex digits.
    pub fn span_id(&self) -> String {
        let mut s = String::with_capacity(16);
        push_hex(&mut s, &self.span_id);
        s
    }

    /// Whether the caller sampled this trace.
    pub fn sampled(&self) -> bool {
        self.flags & 0x01 != 0
    }
}

fn new_span_id() -> [u8; 8] {
    loop {
        let id = random_u64().to_be_bytes();
        if id != [0; 8] {
            return id;
        }
    }
}

impl fmt::Display for TraceContext {
    /// The `traceparent` header value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::with_capacity(55);
        s.push_str("00-");
        push_hex(&mut s, &self.trace_id);
        s.push('-');
        push_hex(&mut s, &self.span_id);
        s.push('-');
        push_hex(&mut s, &[self.flags]);
        f.write_str(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_keys_look_like_uuids() {
        let k = new_idempotency_key();
        assert_eq!(k.len(), 36);
        assert!(crate::validate::formats::is_uuid(&k));
        assert_ne!(k, new_idempotency_key());
    }

    #[test]
    fn traceparent_round_trips() {
        let root = TraceContext::new_root();
        assert_eq!(TraceContext::parse(&root.to_string()), Some(root));
        assert!(
            TraceContext::parse("00-00000000000000000000000000000000-00f067aa0ba902b7-01")
                .is_none()
        );
    }
}
