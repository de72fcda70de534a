//! [`RedisStore`]: an [`IdempotencyStore`] in Redis, which server replicas share.

use std::fmt;
use std::sync::LazyLock;
use std::time::Duration;

use axum::body::Bytes;
use futures_util::future::BoxFuture;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{FromRedisValue, Script, ScriptInvocation};

use super::{Begin, IdempotencyStore, StoreError, StoredOutcome};

/// The key prefix unless [`RedisStore::prefix`] sets another.
const DEFAULT_PREFIX: &str = "lfts:idem:";
/// The bound on one operation unless [`RedisStore::command_timeout`] sets another.
const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
/// The bound on one connection attempt of a [`RedisStore::connect`]ed manager.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(1);
/// The longest expiry written (100 years), well inside what Redis accepts.
const MAX_EXPIRY_MS: u64 = 100 * 365 * 24 * 60 * 60 * 1000;

/// `KEYS[1]` the key, `ARGV[1]` the in-flight record, `ARGV[2]` the lease in ms. Returns nil
/// if the key is now in flight with this record (written now, or by an earlier attempt of this
/// same call), else the record found.
static BEGIN: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local current = redis.call('GET', KEYS[1])
if current == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return false
end
if current == ARGV[1] then
  return false
end
return current
",
    )
});

/// A Lua function shared by `complete` and `abandon`: if `current` is an in-flight record
/// owned by `token`, its `{n}:{fingerprint}` part, else nil.
const OWNED: &str = r"
local function owned(current, token)
  if current == false or string.sub(current, 1, 1) ~= 'I' then
    return nil
  end
  local len = string.match(current, '^I(%d+):')
  if len == nil then
    return nil
  end
  local head = 2 + #len + tonumber(len)
  if #current <= head or string.sub(current, head + 1) ~= token then
    return nil
  end
  return string.sub(current, 2, head)
end
";

/// `KEYS[1]` the key, `ARGV[1]` the token, `ARGV[2]` the outcome part of the completed record,
/// `ARGV[3]` the TTL in ms. Returns 1 if the outcome was recorded, 0 if the token no longer
/// owns the key.
static COMPLETE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{OWNED}
local head = owned(redis.call('GET', KEYS[1]), ARGV[1])
if head == nil then
  return 0
end
redis.call('SET', KEYS[1], 'D' .. head .. ARGV[2], 'PX', ARGV[3])
return 1
"
    ))
});

/// `KEYS[1]` the key, `ARGV[1]` the token, `ARGV[2]` the lease in ms. Returns 1 if the lease
/// was extended, 0 if the token no longer owns the key.
static RENEW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{OWNED}
if owned(redis.call('GET', KEYS[1]), ARGV[1]) == nil then
  return 0
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"
    ))
});

/// `KEYS[1]` the key, `ARGV[1]` the token. Returns 1 if the key was released, 0 if the token
/// no longer owns it.
static ABANDON: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{OWNED}
if owned(redis.call('GET', KEYS[1]), ARGV[1]) == nil then
  return 0
end
redis.call('DEL', KEYS[1])
return 1
"
    ))
});

/// An [`IdempotencyStore`] in Redis: replicas that share one Redis share their idempotency
/// keys. Cloning is cheap; clones share one connection.
///
/// # What is stored
///
/// One Redis string per idempotency key, under `{prefix}{key}` (the prefix defaults to
/// `lfts:idem:`; `key` is already a fixed-length hash of the port, the caller and the client's
/// key, so the store never sees a client's key). The value is one of two records, binary-safe
/// and compact:
///
/// | record | layout |
/// |---|---|
/// | in flight | `I{n}:{fingerprint}{token}` |
/// | completed | `D{n}:{fingerprint}{status, 3 digits}{0 or 1: protocol error}{body bytes}` |
///
/// where `n` is the fingerprint's length in bytes, in decimal (`64` for lfts's SHA-256
/// fingerprints), and the body is kept byte for byte. A value that is neither record (written
/// by something else under the prefix) makes `begin` fail with [`StoreError::Unavailable`],
/// never a panic.
///
/// Every operation is one Lua script, so it is atomic in Redis whichever replica runs it:
/// `begin` writes the in-flight record only if the key is absent, `complete` replaces the
/// in-flight record by the completed one only if it still holds the caller's token, and
/// `abandon` deletes it on the same condition. Expiry is Redis's own (`SET … PX`): the
/// in-flight record lives for the lease, the completed one for the TTL. Replicas that share one
/// Redis (or one primary) therefore see one view of every key.
///
/// # When Redis is down
///
/// Every Redis error, and every operation that has no answer within the
/// [command timeout](RedisStore::command_timeout) (default 2 s), is a
/// [`StoreError::Unavailable`]. The server fails closed: if `begin` fails it answers `503
/// idempotency_store_unavailable` without running the method; if `complete` fails, the caller
/// still gets its answer, the failure is logged, and the key stays in flight until its lease
/// ends.
///
/// The connection is a [`ConnectionManager`], which reconnects after a failure. [`connect`]
/// configures it to fail fast: a connection attempt times out after 1 s, a command after 2 s,
/// and a reconnection is one attempt. An operation that meets a broken connection tries once
/// more on a fresh one (all three scripts can safely run twice), so the first call after Redis
/// comes back succeeds, and a call during an outage fails within the command timeout, in
/// milliseconds when the connection is refused.
///
/// [`connect`]: RedisStore::connect
///
/// ```no_run
/// use std::time::Duration;
/// use lfts::http::idempotency::{Idempotency, RedisStore};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let store = RedisStore::connect("redis://127.0.0.1:6379/")
///     .await?
///     .prefix("orders:idem:")
///     .command_timeout(Duration::from_millis(500));
/// let idempotency = Idempotency::new().store(store);
/// # let _ = idempotency;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisStore {
    manager: ConnectionManager,
    prefix: String,
    command_timeout: Duration,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .field("command_timeout", &self.command_timeout)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects to the Redis at `url` (such as `redis://127.0.0.1:6379/`, or
    /// `redis://:password@host:6379/2` for a password and database 2), with a connection
    /// manager that fails fast (see [When Redis is down](RedisStore#when-redis-is-down)).
    /// Fails with [`StoreError::Unavailable`] if the URL is invalid or Redis cannot be reached
    /// within 2 s.
    pub async fn connect(url: &str) -> Result<RedisStore, StoreError> {
        let client =
            redis::Client::open(url).map_err(|e| unavailable(format!("invalid Redis URL: {e}")))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(CONNECTION_TIMEOUT)
            .set_response_timeout(DEFAULT_COMMAND_TIMEOUT)
            .set_number_of_retries(0);
        let connecting = ConnectionManager::new_with_config(client, config);
        match tokio::time::timeout(DEFAULT_COMMAND_TIMEOUT, connecting).await {
            Ok(Ok(manager)) => Ok(RedisStore::from_manager(manager)),
            Ok(Err(e)) => Err(unavailable(format!("cannot connect to Redis: {e}"))),
            Err(_) => Err(unavailable(format!(
                "cannot connect to Redis: no answer within {DEFAULT_COMMAND_TIMEOUT:?}"
            ))),
        }
    }

    /// A store over a connection manager configured by the caller (with
    /// [`ConnectionManagerConfig`]: its timeouts and reconnection policy). Bound its
    /// connection and response timeouts, and its reconnection retries, so that an outage is
    /// reported rather than waited out; the [command timeout](RedisStore::command_timeout)
    /// bounds every operation whatever the manager does.
    pub fn from_manager(manager: ConnectionManager) -> RedisStore {
        RedisStore {
            manager,
            prefix: DEFAULT_PREFIX.to_owned(),
            command_timeout: DEFAULT_COMMAND_TIMEOUT,
        }
    }

    /// Prefixes every key with `prefix` (default `lfts:idem:`). Servers that must not see each
    /// other's keys in one Redis use different prefixes (or databases).
    pub fn prefix(mut self, prefix: impl Into<String>) -> RedisStore {
        self.prefix = prefix.into();
        self
    }

    /// Bounds every operation, reconnection included (default 2 s): past it, the operation
    /// fails with [`StoreError::Unavailable`].
    pub fn command_timeout(mut self, timeout: Duration) -> RedisStore {
        self.command_timeout = timeout;
        self
    }

    fn key(&self, key: &str) -> String {
        let mut out = String::with_capacity(self.prefix.len() + key.len());
        out.push_str(&self.prefix);
        out.push_str(key);
        out
    }

    /// Runs `invocation`, once more if the connection broke (every script can safely run
    /// twice), all within the command timeout.
    async fn run<T: FromRedisValue>(
        &self,
        operation: &str,
        invocation: ScriptInvocation<'static>,
    ) -> Result<T, StoreError> {
        let mut connection = self.manager.clone();
        let attempts = async {
            match invocation.invoke_async(&mut connection).await {
                // The manager is reconnecting; the second attempt waits for that connection.
                Err(e) if e.is_unrecoverable_error() => {
                    invocation.invoke_async(&mut connection).await
                }
                other => other,
            }
        };
        match tokio::time::timeout(self.command_timeout, attempts).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(unavailable(format!("Redis {operation} failed: {e}"))),
            Err(_) => Err(unavailable(format!(
                "Redis {operation} had no answer within {:?}",
                self.command_timeout
            ))),
        }
    }
}

impl IdempotencyStore for RedisStore {
    fn begin<'a>(
        &'a self,
        key: &'a str,
        fingerprint: &'a str,
        token: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Begin, StoreError>> {
        Box::pin(async move {
            let mut invocation = BEGIN.prepare_invoke();
            invocation
                .key(self.key(key))
                .arg(in_flight_record(fingerprint, token))
                .arg(expiry_ms(lease));
            let found: Option<Vec<u8>> = self.run("begin", invocation).await?;
            match found {
                None => Ok(Begin::Started),
                Some(record) => classify(Bytes::from(record), fingerprint),
            }
        })
    }

    fn complete<'a>(
        &'a self,
        key: &'a str,
        token: &'a str,
        outcome: StoredOutcome,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            if token.is_empty() {
                return Ok(false);
            }
            let mut invocation = COMPLETE.prepare_invoke();
            invocation
                .key(self.key(key))
                .arg(token)
                .arg(outcome_part(&outcome)?)
                .arg(expiry_ms(ttl));
            let recorded: i64 = self.run("complete", invocation).await?;
            Ok(recorded == 1)
        })
    }

    fn renew<'a>(
        &'a self,
        key: &'a str,
        token: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            if token.is_empty() {
                return Ok(false);
            }
            let mut invocation = RENEW.prepare_invoke();
            invocation
                .key(self.key(key))
                .arg(token)
                .arg(expiry_ms(lease));
            let renewed: i64 = self.run("renew", invocation).await?;
            Ok(renewed == 1)
        })
    }

    fn abandon<'a>(
        &'a self,
        key: &'a str,
        token: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            if token.is_empty() {
                return Ok(());
            }
            let mut invocation = ABANDON.prepare_invoke();
            invocation.key(self.key(key)).arg(token);
            let _released: i64 = self.run("abandon", invocation).await?;
            Ok(())
        })
    }
}

fn unavailable(message: String) -> StoreError {
    StoreError::Unavailable { message }
}

/// A duration as a `PX` argument: whole milliseconds, at least 1, at most 100 years.
fn expiry_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .clamp(1, MAX_EXPIRY_MS)
}

/// `I{n}:{fingerprint}{token}`.
fn in_flight_record(fingerprint: &str, token: &str) -> Vec<u8> {
    format!("I{}:{fingerprint}{token}", fingerprint.len()).into_bytes()
}

/// The part of a completed record after the fingerprint: `{status:03}{0|1}{body}`.
fn outcome_part(outcome: &StoredOutcome) -> Result<Vec<u8>, StoreError> {
    if outcome.status > 999 {
        return Err(unavailable(format!(
            "status {} does not fit an idempotency record",
            outcome.status
        )));
    }
    let mut out = Vec::with_capacity(4 + outcome.body.len());
    out.extend_from_slice(format!("{:03}", outcome.status).as_bytes());
    out.push(if outcome.protocol_error { b'1' } else { b'0' });
    out.extend_from_slice(&outcome.body);
    Ok(out)
}

/// What a record found by `begin` means for a call with `fingerprint`.
fn classify(record: Bytes, fingerprint: &str) -> Result<Begin, StoreError> {
    let malformed =
        |why: &str| unavailable(format!("malformed idempotency record in Redis: {why}"));
    let tag = *record.first().ok_or_else(|| malformed("empty"))?;
    let rest = record.get(1..).unwrap_or_default();
    let colon = rest
        .iter()
        .take(8)
        .position(|&b| b == b':')
        .ok_or_else(|| malformed("no fingerprint length"))?;
    let digits = rest.get(..colon).unwrap_or_default();
    let len = parse_decimal(digits).ok_or_else(|| malformed("bad fingerprint length"))?;
    let start = 2 + colon;
    let end = start
        .checked_add(len)
        .filter(|&end| end <= record.len())
        .ok_or_else(|| malformed("truncated fingerprint"))?;
    let same = record.get(start..end) == Some(fingerprint.as_bytes());
    match tag {
        b'I' => {
            if record.len() == end {
                return Err(malformed("in-flight record without a token"));
            }
            Ok(if same {
                Begin::InProgress
            } else {
                Begin::Mismatch
            })
        }
        b'D' => {
            let head = record
                .get(end..)
                .and_then(|tail| tail.get(..4))
                .ok_or_else(|| malformed("truncated outcome"))?;
            let status = head
                .get(..3)
                .and_then(parse_decimal)
                .and_then(|s| u16::try_from(s).ok())
                .ok_or_else(|| malformed("bad status"))?;
            let protocol_error = match head.get(3) {
                Some(b'0') => false,
                Some(b'1') => true,
                _ => return Err(malformed("bad protocol flag")),
            };
            if !same {
                return Ok(Begin::Mismatch);
            }
            Ok(Begin::Completed(StoredOutcome {
                status,
                protocol_error,
                body: record.slice(end + 4..),
            }))
        }
        _ => Err(malformed("unknown tag")),
    }
}

/// 1 to 7 ASCII digits.
fn parse_decimal(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() || digits.len() > 7 {
        return None;
    }
    digits.iter().try_fold(0usize, |acc, &d| {
        d.is_ascii_digit().then(|| acc * 10 + usize::from(d - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FP: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn done(fp: &str, outcome: &StoredOutcome) -> Bytes {
        let mut record = format!("D{}:{fp}", fp.len()).into_bytes();
        record.extend_from_slice(&outcome_part(outcome).unwrap_or_default());
        Bytes::from(record)
    }

    #[test]
    fn records_round_trip() {
        let record = Bytes::from(in_flight_record(FP, "tok"));
        assert_eq!(classify(record.clone(), FP), Ok(Begin::InProgress));
        assert_eq!(classify(record, "other"), Ok(Begin::Mismatch));

        let outcome = StoredOutcome {
            status: 201,
            protocol_error: true,
            body: Bytes::from_static("{\"name\":\"é\"}\0\u{ff}".as_bytes()),
        };
        let record = done(FP, &outcome);
        assert_eq!(classify(record.clone(), FP), Ok(Begin::Completed(outcome)));
        assert_eq!(classify(record, &FP[1..]), Ok(Begin::Mismatch));

        let empty = StoredOutcome {
            status: 204,
            protocol_error: false,
            body: Bytes::new(),
        };
        assert_eq!(classify(done("", &empty), ""), Ok(Begin::Completed(empty)));
    }

    #[test]
    fn malformed_records_are_errors() {
        for bad in [
            &b""[..],
            b"X64:",
            b"I",
            b"I:",
            b"Ia:b",
            b"I99999999:x",
            b"I3:abc",
            b"I5:abc",
            b"D3:abc",
            b"D3:abc20",
            b"D3:abcxyz0",
            b"D3:abc2002",
        ] {
            let got = classify(Bytes::copy_from_slice(bad), "abc");
            assert!(
                matches!(got, Err(StoreError::Unavailable { .. })),
                "{bad:?} gave {got:?}"
            );
        }
    }

    #[test]
    fn statuses_and_expiries_are_bounded() {
        let outcome = StoredOutcome {
            status: 1000,
            protocol_error: false,
            body: Bytes::new(),
        };
        assert!(outcome_part(&outcome).is_err());
        assert_eq!(expiry_ms(Duration::ZERO), 1);
        assert_eq!(expiry_ms(Duration::from_micros(10)), 1);
        assert_eq!(expiry_ms(Duration::from_millis(1500)), 1500);
        assert_eq!(expiry_ms(Duration::MAX), MAX_EXPIRY_MS);
    }
}
