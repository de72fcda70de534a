//! Memory per request is bounded: a 1 MiB body that fails the typed decode at its last byte
//! must not make the server hold many times its size while explaining the failure. A counting
//! global allocator measures the peak (this file is its own test binary, one test, so nothing
//! else allocates meanwhile).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use lfts::{NetworkError, Schema};
use serde::{Deserialize, Serialize};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        // SAFETY: the caller's layout is passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` was allocated by `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[derive(Debug, Clone, Serialize, Deserialize, Schema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SumError {
    #[lfts(network)]
    Network { error: NetworkError },
}

#[lfts::port]
pub trait Summer: Send + Sync {
    async fn sum(&self, values: Vec<u8>) -> Result<u64, SumError>;
}

struct Impl;

impl Summer for Impl {
    async fn sum(&self, values: Vec<u8>) -> Result<u64, SumError> {
        Ok(values.iter().map(|v| u64::from(*v)).sum())
    }
}

#[tokio::test]
async fn a_body_that_fails_at_its_last_byte_stays_within_four_times_the_limit() {
    const MIB: usize = 1024 * 1024;
    let server = lfts::http::serve(SummerServer::new(Impl).router(), "127.0.0.1:0")
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let url = format!("{}/Summer/sum", server.url());
    // `{"values":[0,0,…,0,"x"]}`, just under 1 MiB: every value fine but the last.
    let mut body = String::from(r#"{"values":["#);
    while body.len() < MIB - 64 {
        body.push_str("0,");
    }
    body.push_str(r#""x"]}"#);
    let body = axum::body::Bytes::from(body);

    // Warm up (connection pool, lazy statics), then measure one request.
    let _ = client
        .post(&url)
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let response = client
        .post(&url)
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    let status = response.status();
    let _ = response.text().await.unwrap();
    let peak = PEAK.load(Ordering::Relaxed) - base;
    println!(
        "1 MiB body failing at its last byte: status {status}, peak {:.1} MiB over the baseline",
        peak as f64 / MIB as f64
    );
    assert_eq!(status, 400);
    assert!(peak <= 4 * MIB, "peak {peak} bytes");
    server.shutdown().await.unwrap();
}
