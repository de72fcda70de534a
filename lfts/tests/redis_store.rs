//! `RedisStore` against a real `redis-server` (Debian's `redis-server` package, or the binary
//! named by `LFTS_REDIS_SERVER`): run with `cargo test -p lfts --features redis,testing --test
//! redis_store`.
#![cfg(all(feature = "redis", feature = "testing"))]

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use lfts::http::idempotency::{Begin, IdempotencyStore, RedisStore, StoreError, StoredOutcome};
use lfts::testing::RedisServer;

const FP: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const OTHER_FP: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const LEASE: Duration = Duration::from_secs(60);
const TTL: Duration = Duration::from_secs(3600);

type TestResult = Result<(), Box<dyn std::error::Error>>;

async fn setup() -> Result<(RedisServer, RedisStore), Box<dyn std::error::Error>> {
    let server = RedisServer::start().await?;
    let store = RedisStore::connect(&server.url()).await?;
    Ok((server, store))
}

/// A plain connection, to look at what the store wrote.
async fn raw(server: &RedisServer) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
    redis::Client::open(server.url())?
        .get_multiplexed_async_connection()
        .await
}

async fn started(store: &RedisStore, key: &str, fp: &str, lease: Duration) -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let token = format!("token-{key}-{n}");
    match store.begin(key, fp, &token, lease).await {
        Ok(Begin::Started) => token,
        other => panic!("expected Started for {key}, got {other:?}"),
    }
}

fn outcome(status: u16, body: impl Into<Bytes>) -> StoredOutcome {
    StoredOutcome {
        status,
        protocol_error: false,
        body: body.into(),
    }
}

#[tokio::test]
async fn begin_starts_then_reports_in_progress_or_mismatch() -> TestResult {
    let (server, store) = setup().await?;
    assert!(server.url().contains(&server.port().to_string()));

    let token = started(&store, "k1", FP, LEASE).await;
    assert!(token.starts_with("token-k1-"));
    assert_eq!(
        store.begin("k1", FP, "probe", LEASE).await,
        Ok(Begin::InProgress)
    );
    assert_eq!(
        store.begin("k1", OTHER_FP, "probe", LEASE).await,
        Ok(Begin::Mismatch)
    );

    // The key layout and the in-flight record, with the lease as Redis's own expiry.
    let mut conn = raw(&server).await?;
    let value: Vec<u8> = redis::cmd("GET")
        .arg("lfts:idem:k1")
        .query_async(&mut conn)
        .await?;
    assert_eq!(value, format!("I64:{FP}{token}").into_bytes());
    let pttl: i64 = redis::cmd("PTTL")
        .arg("lfts:idem:k1")
        .query_async(&mut conn)
        .await?;
    assert!((59_000..=60_000).contains(&pttl), "pttl {pttl}");
    Ok(())
}

#[tokio::test]
async fn a_token_that_does_not_own_the_key_changes_nothing() -> TestResult {
    let (_server, store) = setup().await?;
    let token = started(&store, "k", FP, LEASE).await;

    assert!(
        !store
            .complete("k", "wrong", outcome(200, "{}"), TTL)
            .await?
    );
    assert!(!store.complete("k", "", outcome(200, "{}"), TTL).await?);
    store.abandon("k", "wrong").await?;
    store.abandon("k", "").await?;
    assert_eq!(
        store.begin("k", FP, "probe", LEASE).await,
        Ok(Begin::InProgress)
    );

    // A key that was never begun stays absent.
    store
        .complete("absent", &token, outcome(200, "{}"), TTL)
        .await?;
    started(&store, "absent", FP, LEASE).await;

    // Once completed, neither a second completion nor an abandon changes the outcome.
    assert!(
        store
            .complete("k", &token, outcome(201, "\"first\""), TTL)
            .await?
    );
    assert!(
        !store
            .complete("k", &token, outcome(500, "\"second\""), TTL)
            .await?
    );
    store.abandon("k", &token).await?;
    assert_eq!(
        store.begin("k", FP, "probe", LEASE).await,
        Ok(Begin::Completed(outcome(201, "\"first\"")))
    );
    Ok(())
}

#[tokio::test]
async fn completed_outcomes_are_replayed_byte_for_byte() -> TestResult {
    let (server, store) = setup().await?;

    let unicode = StoredOutcome {
        status: 201,
        protocol_error: false,
        body: Bytes::from("{\"name\":\"é\",\"emoji\":\"🦀\",\"nul\":\"\\u0000\"}"),
    };
    let every_byte: Vec<u8> = (0..=255u8).cycle().take(1024).collect();
    let binary = StoredOutcome {
        status: 422,
        protocol_error: true,
        body: Bytes::from(every_byte),
    };
    let large_body: String = format!(
        "[{}\"end\"]",
        "\"0123456789abcdé\",".repeat(100 * 1024 / 18)
    );
    assert!(large_body.len() >= 100 * 1024);
    let large = outcome(200, large_body);
    let empty = outcome(204, Bytes::new());

    for (key, expected) in [
        ("unicode", &unicode),
        ("binary", &binary),
        ("large", &large),
        ("empty", &empty),
    ] {
        let token = started(&store, key, FP, LEASE).await;
        store.complete(key, &token, expected.clone(), TTL).await?;
        assert_eq!(
            store.begin(key, FP, "probe", LEASE).await,
            Ok(Begin::Completed(expected.clone())),
            "{key}"
        );
        assert_eq!(
            store.begin(key, OTHER_FP, "probe", LEASE).await,
            Ok(Begin::Mismatch),
            "{key}"
        );
    }

    // The completed record, kept for the TTL by Redis itself.
    let mut conn = raw(&server).await?;
    let value: Vec<u8> = redis::cmd("GET")
        .arg("lfts:idem:unicode")
        .query_async(&mut conn)
        .await?;
    let mut expected = format!("D64:{FP}2010").into_bytes();
    expected.extend_from_slice(&unicode.body);
    assert_eq!(value, expected);
    let pttl: i64 = redis::cmd("PTTL")
        .arg("lfts:idem:unicode")
        .query_async(&mut conn)
        .await?;
    assert!((3_599_000..=3_600_000).contains(&pttl), "pttl {pttl}");
    Ok(())
}

#[tokio::test]
async fn abandon_frees_the_key() -> TestResult {
    let (_server, store) = setup().await?;
    let first = started(&store, "k", FP, LEASE).await;
    store.abandon("k", &first).await?;
    // Free for any call, even one with other arguments.
    let second = started(&store, "k", OTHER_FP, LEASE).await;
    assert_ne!(first, second);
    Ok(())
}

#[tokio::test]
async fn leases_and_ttls_expire_in_redis() -> TestResult {
    let (_server, store) = setup().await?;
    let short = Duration::from_millis(200);

    let stale = started(&store, "leased", FP, short).await;
    let token = started(&store, "kept", FP, LEASE).await;
    store
        .complete("kept", &token, outcome(200, "\"done\""), short)
        .await?;
    assert_eq!(
        store.begin("kept", FP, "probe", LEASE).await,
        Ok(Begin::Completed(outcome(200, "\"done\"")))
    );

    // Redis's clock is real: the one real sleep of this file.
    tokio::time::sleep(Duration::from_millis(400)).await;

    // The lease ended: the key is free, and the crashed owner's token no longer owns it.
    let fresh = started(&store, "leased", FP, LEASE).await;
    store
        .complete("leased", &stale, outcome(200, "\"stale\""), TTL)
        .await?;
    store.abandon("leased", &stale).await?;
    assert_eq!(
        store.begin("leased", FP, "probe", LEASE).await,
        Ok(Begin::InProgress)
    );
    store
        .complete("leased", &fresh, outcome(200, "\"fresh\""), TTL)
        .await?;
    assert_eq!(
        store.begin("leased", FP, "probe", LEASE).await,
        Ok(Begin::Completed(outcome(200, "\"fresh\"")))
    );

    // The outcome's TTL ended: the key is new again.
    started(&store, "kept", FP, LEASE).await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_begins_on_two_replicas_start_once() -> TestResult {
    let (server, first) = setup().await?;
    let second = RedisStore::connect(&server.url()).await?;
    let replicas = [Arc::new(first), Arc::new(second)];

    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let store = Arc::clone(&replicas[i % 2]);
            tokio::spawn(async move {
                let token = format!("token-{i}");
                store.begin("contended", FP, &token, LEASE).await
            })
        })
        .collect();
    let mut started = 0;
    let mut in_progress = 0;
    for task in tasks {
        match task.await? {
            Ok(Begin::Started) => started += 1,
            Ok(Begin::InProgress) => in_progress += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((started, in_progress), (1, 49));
    Ok(())
}

#[tokio::test]
async fn prefixes_separate_stores() -> TestResult {
    let (server, store) = setup().await?;
    let other = RedisStore::connect(&server.url()).await?.prefix("other:");
    started(&store, "k", FP, LEASE).await;
    started(&other, "k", OTHER_FP, LEASE).await;

    let mut conn = raw(&server).await?;
    let exists: i64 = redis::cmd("EXISTS")
        .arg("lfts:idem:k")
        .arg("other:k")
        .query_async(&mut conn)
        .await?;
    assert_eq!(exists, 2);
    Ok(())
}

#[tokio::test]
async fn malformed_records_are_unavailable_not_panics() -> TestResult {
    let (server, store) = setup().await?;
    let mut conn = raw(&server).await?;
    for (key, value) in [
        ("empty", &b""[..]),
        ("junk", b"hello"),
        ("short", b"D64:abc"),
        ("status", b"D1:axyz0{}"),
    ] {
        let () = redis::cmd("SET")
            .arg(format!("lfts:idem:{key}"))
            .arg(value)
            .query_async(&mut conn)
            .await?;
        let got = store.begin(key, FP, "probe", LEASE).await;
        assert!(
            matches!(got, Err(StoreError::Unavailable { .. })),
            "{key}: {got:?}"
        );
        // complete and abandon leave a record they do not own alone.
        store.complete(key, "t", outcome(200, "{}"), TTL).await?;
        store.abandon(key, "t").await?;
    }
    // A key of another type is a Redis error, reported the same way.
    let () = redis::cmd("HSET")
        .arg("lfts:idem:hash")
        .arg("f")
        .arg("v")
        .query_async(&mut conn)
        .await?;
    let got = store.begin("hash", FP, "probe", LEASE).await;
    assert!(
        matches!(got, Err(StoreError::Unavailable { .. })),
        "{got:?}"
    );
    Ok(())
}

#[tokio::test]
async fn an_outage_fails_fast_and_the_store_recovers() -> TestResult {
    let (mut server, store) = setup().await?;
    let token = started(&store, "before", FP, LEASE).await;

    server.stop().await;
    for attempt in 0..3 {
        let at = Instant::now();
        let got = store.begin("during", FP, "probe", LEASE).await;
        let elapsed = at.elapsed();
        eprintln!("begin during the outage #{attempt}: {elapsed:?}: {got:?}");
        assert!(
            matches!(got, Err(StoreError::Unavailable { .. })),
            "{got:?}"
        );
        assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    }
    let at = Instant::now();
    let completed = store
        .complete("before", &token, outcome(200, "{}"), TTL)
        .await;
    assert!(
        matches!(completed, Err(StoreError::Unavailable { .. })),
        "{completed:?}"
    );
    let abandoned = store.abandon("before", &token).await;
    assert!(
        matches!(abandoned, Err(StoreError::Unavailable { .. })),
        "{abandoned:?}"
    );
    assert!(at.elapsed() < Duration::from_secs(10), "{:?}", at.elapsed());

    // Back, empty, on the same port: the very first call reconnects and succeeds.
    server.restart().await?;
    let at = Instant::now();
    let token = started(&store, "after", FP, LEASE).await;
    eprintln!("first begin after the restart: {:?}", at.elapsed());
    store
        .complete("after", &token, outcome(200, "{}"), TTL)
        .await?;
    assert_eq!(
        store.begin("after", FP, "probe", LEASE).await,
        Ok(Begin::Completed(outcome(200, "{}")))
    );
    // The restarted server is empty.
    started(&store, "before", FP, LEASE).await;
    Ok(())
}

#[tokio::test]
async fn a_stalled_redis_hits_the_command_timeout() -> TestResult {
    let (server, store) = setup().await?;
    let store = store.command_timeout(Duration::from_millis(300));
    let mut conn = raw(&server).await?;
    let () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(1500)
        .arg("ALL")
        .query_async(&mut conn)
        .await?;

    let at = Instant::now();
    let got = store.begin("k", FP, "probe", LEASE).await;
    let elapsed = at.elapsed();
    eprintln!("begin on a paused Redis: {elapsed:?}: {got:?}");
    assert!(
        matches!(got, Err(StoreError::Unavailable { .. })),
        "{got:?}"
    );
    assert!(
        elapsed >= Duration::from_millis(250) && elapsed < Duration::from_millis(1200),
        "{elapsed:?}"
    );
    Ok(())
}

#[tokio::test]
async fn connect_fails_fast() -> TestResult {
    // Nothing listens on a port just freed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let at = Instant::now();
    let got = RedisStore::connect(&format!("redis://127.0.0.1:{port}/")).await;
    assert!(
        matches!(got, Err(StoreError::Unavailable { .. })),
        "{got:?}"
    );
    assert!(at.elapsed() < Duration::from_secs(3), "{:?}", at.elapsed());

    // A server that accepts but never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("redis://{}/", silent.local_addr()?);
    let at = Instant::now();
    let got = RedisStore::connect(&url).await;
    let elapsed = at.elapsed();
    eprintln!("connect to a silent server: {elapsed:?}: {got:?}");
    assert!(
        matches!(got, Err(StoreError::Unavailable { .. })),
        "{got:?}"
    );
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    drop(silent);

    let got = RedisStore::connect("not a url").await;
    assert!(
        matches!(got, Err(StoreError::Unavailable { .. })),
        "{got:?}"
    );
    Ok(())
}

#[test]
fn a_missing_binary_is_not_found() -> TestResult {
    // Setting the variable here would race with the tests running in other threads: run
    // `missing_binary_child` in a process of its own, with the variable set there.
    let output = std::process::Command::new(std::env::current_exe()?)
        .args(["--exact", "missing_binary_child", "--include-ignored"])
        .env("LFTS_REDIS_SERVER", "/nonexistent/redis-server")
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("1 passed"), "{stdout}");
    Ok(())
}

#[tokio::test]
#[ignore = "run by a_missing_binary_is_not_found with LFTS_REDIS_SERVER set"]
async fn missing_binary_child() {
    let path = std::env::var_os("LFTS_REDIS_SERVER").unwrap_or_default();
    assert!(
        path.to_string_lossy().starts_with("/nonexistent/"),
        "{path:?}"
    );
    let err = match RedisServer::start().await {
        Ok(_) => panic!("started a nonexistent binary"),
        Err(e) => e,
    };
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    assert!(err.to_string().contains("redis-server"), "{err}");
    assert!(err.to_string().contains("apt-get install"), "{err}");
}

#[tokio::test]
async fn a_renewed_lease_outlives_its_first_term_and_a_repeated_begin_is_idempotent()
-> Result<(), Box<dyn std::error::Error>> {
    let (_server, store) = setup().await?;
    let lease = Duration::from_millis(300);
    let token = started(&store, "renewed", FP, lease).await;
    // The same token beginning again (a retried `begin` whose answer was lost) owns it still.
    assert_eq!(
        store.begin("renewed", FP, &token, lease).await,
        Ok(Begin::Started)
    );
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert!(store.renew("renewed", &token, lease).await?);
    }
    // 450 ms after it began, past its first lease: still in flight.
    assert_eq!(
        store.begin("renewed", FP, "probe", LEASE).await,
        Ok(Begin::InProgress)
    );
    assert!(!store.renew("renewed", "stranger", lease).await?);
    assert!(!store.renew("absent", &token, lease).await?);
    Ok(())
}
