//! Remote-call overhead, each lfts path beside its hand-written baseline in the same run.
//!
//! Workload: `create_user(name, email) -> User {id, name, email}`, a small JSON body, served by
//! a trivial in-memory implementation, over 127.0.0.1 (ephemeral ports, servers started here, one
//! multi-thread tokio runtime for servers and clients).
//!
//! - `loopback_sequential` (wall time): one call at a time, the generated `UserServiceClient` →
//!   `UserServiceServer` against a hand-written reqwest client → axum handler doing the same work
//!   (one shared `reqwest::Client`, `POST` JSON, serde_json decode; `Json<Args>` → `Json<User>`).
//! - `loopback_in_flight_32` (wall time): the same pairs, 32 calls in flight (`join_all` of 32
//!   calls per iteration; the throughput is per call).
//! - `loopback_cpu_sequential`, `loopback_cpu_in_flight_32`: the same, measured in CPU time of the
//!   whole process ([`ProcessCpu`]), with the mixed pairs that split the overhead into client and
//!   server shares and the experiments that add lfts's headers or timeout to the baseline.
//! - `in_process`: a direct call to a local `impl UserService` against the same call through
//!   `Layered<_, Identity>`, on a current-thread runtime.
//! - `decode_user_body`: the response decode alone: serde_json, lfts's former `Value` +
//!   interpreter path, and `lfts::decode` (the typed fast path the client now takes).
//! - `dedup_sequential` (wall time) and `dedup_cpu_sequential` (CPU time of this process, so
//!   not of `redis-server`): exactly-once servers. The generated pair, one call at a time, every
//!   call carrying an `idempotency-key`, against the same server with deduplication off (the
//!   baseline), with the default in-memory store, and with a `RedisStore` (one private
//!   `redis-server`, skipped with a note if it cannot start). Fresh keys take the store's
//!   begin + complete path; one fixed key per shape measures the replay path. Two shapes: the
//!   small body above, and a ~10 KB `name` (echoed, so ~10 KB each way).
//!
//! Run: `cargo bench --bench remote`; pinned to one CPU: `taskset -c 0 cargo bench --bench remote
//! -- loopback` (or `-- dedup`). Interleaved A/B outside criterion (see [`ab`]): `REMOTE_AB=20 cargo bench --bench
//! remote`. Figures in BENCHMARKS.md.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{Json, State};
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use futures_util::future::join_all;
use lfts::http::idempotency::{Idempotency, RedisStore};
use lfts::resilience::Identity;
use lfts::{LayerExt, NetworkError, Schema};
use serde::{Deserialize, Serialize};
use tokio::runtime::Runtime;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
pub struct User {
    pub id: u64,
    pub name: String,
    pub email: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CreateUserError {
    #[lfts(status = 409)]
    UserAlreadyExists,
    #[lfts(network)]
    Network { error: NetworkError },
}

#[lfts::port]
pub trait UserService: Send + Sync {
    async fn create_user(&self, name: String, email: String) -> Result<User, CreateUserError>;
}

/// The trivial in-memory implementation both servers (and the in-process pair) run.
#[derive(Default)]
struct InMemory {
    next: AtomicU64,
}

impl InMemory {
    fn create(&self, name: String, email: String) -> User {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        User { id, name, email }
    }
}

impl UserService for InMemory {
    async fn create_user(&self, name: String, email: String) -> Result<User, CreateUserError> {
        Ok(self.create(name, email))
    }
}

/// The hand-written baseline's request body.
#[derive(Serialize, Deserialize)]
struct CreateUserArgs {
    name: String,
    email: String,
}

/// The hand-written baseline's handler: `Json<Args>` → `Json<User>`.
async fn baseline_handler(
    State(store): State<Arc<InMemory>>,
    Json(args): Json<CreateUserArgs>,
) -> Json<User> {
    Json(store.create(args.name, args.email))
}

/// The hand-written baseline's client: one shared `reqwest::Client`, `POST` JSON, serde_json
/// decode. `headers` and `timeout` are for the experiments that add what the lfts client adds.
#[derive(Clone)]
struct BaselineClient {
    http: reqwest::Client,
    url: String,
    headers: reqwest::header::HeaderMap,
    timeout: Option<Duration>,
}

impl BaselineClient {
    fn new(base: &str) -> BaselineClient {
        BaselineClient {
            http: reqwest::Client::new(),
            url: format!("{base}/UserService/create_user"),
            headers: reqwest::header::HeaderMap::new(),
            timeout: None,
        }
    }

    /// The headers an lfts client sends besides `content-type`: `accept`, `traceparent` and
    /// the port's fingerprint.
    fn with_lfts_headers(mut self) -> BaselineClient {
        let fingerprint = UserServiceClient::descriptor().fingerprint();
        for (name, value) in [
            ("accept", "application/json"),
            (
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
            ("x-lfts-fingerprint", fingerprint),
        ] {
            let value = reqwest::header::HeaderValue::from_str(value).expect("header value");
            self.headers.insert(name, value);
        }
        self
    }

    async fn create_user(&self, name: String, email: String) -> Result<User, String> {
        let body =
            serde_json::to_vec(&CreateUserArgs { name, email }).map_err(|e| e.to_string())?;
        let mut request = self
            .http
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        if !self.headers.is_empty() {
            request = request.headers(self.headers.clone());
        }
        if let Some(timeout) = self.timeout {
            request = request.timeout(timeout);
        }
        let response = request.body(body).send().await.map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("status {}", response.status()));
        }
        let bytes = response.bytes().await.map_err(|e| e.to_string())?;
        serde_json::from_slice(&bytes).map_err(|e| e.to_string())
    }
}

const NAME: &str = "Ada Lovelace";
const EMAIL: &str = "ada@example.com";
const IN_FLIGHT: usize = 32;

/// Which client talks to which server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pair {
    /// The hand-written pair.
    Baseline,
    /// The generated pair.
    Lfts,
    /// The generated client against the hand-written server: the client's share.
    LftsClientAxumServer,
    /// The hand-written client against the generated server: the server's share.
    ReqwestClientLftsServer,
    /// Experiment: the hand-written pair, the client sending the headers lfts adds.
    ReqwestLftsHeaders,
    /// Experiment: the hand-written pair, the client setting lfts's default 30 s timeout.
    ReqwestTimeout,
    /// Experiment: the generated client with `HttpConfig::no_timeout()`, against the
    /// hand-written server.
    LftsNoTimeoutAxumServer,
}

const ALL_PAIRS: [Pair; 7] = [
    Pair::Baseline,
    Pair::Lfts,
    Pair::LftsClientAxumServer,
    Pair::ReqwestClientLftsServer,
    Pair::ReqwestLftsHeaders,
    Pair::ReqwestTimeout,
    Pair::LftsNoTimeoutAxumServer,
];

impl Pair {
    fn name(self) -> &'static str {
        match self {
            Pair::Baseline => "reqwest -> axum (baseline)",
            Pair::Lfts => "lfts client -> lfts server",
            Pair::LftsClientAxumServer => "lfts client -> axum handler",
            Pair::ReqwestClientLftsServer => "reqwest -> lfts server",
            Pair::ReqwestLftsHeaders => "reqwest + lfts headers -> axum",
            Pair::ReqwestTimeout => "reqwest + 30 s timeout -> axum",
            Pair::LftsNoTimeoutAxumServer => "lfts client no_timeout -> axum",
        }
    }
}

enum AnyClient {
    Lfts(UserServiceClient),
    Reqwest(BaselineClient),
}

/// Both servers on loopback, in `rt`, and one client per [`Pair`], in `ALL_PAIRS` order.
struct Loopback {
    clients: Vec<AnyClient>,
    _servers: (lfts::http::ServerHandle, lfts::http::ServerHandle),
}

impl Loopback {
    async fn call(&self, pair: Pair) -> User {
        let index = ALL_PAIRS.iter().position(|p| *p == pair).unwrap_or(0);
        let (name, email) = (String::from(NAME), String::from(EMAIL));
        let result = match &self.clients[index] {
            AnyClient::Reqwest(client) => client.create_user(name, email).await,
            AnyClient::Lfts(client) => client
                .create_user(name, email)
                .await
                .map_err(|e| format!("{e:?}")),
        };
        result.expect("the call succeeds")
    }
}

fn loopback(rt: &Runtime) -> Loopback {
    rt.block_on(async {
        let lfts_server = lfts::http::serve(
            UserServiceServer::new(InMemory::default()).router(),
            "127.0.0.1:0",
        )
        .await
        .expect("lfts server starts");
        let router = axum::Router::new()
            .route(
                "/UserService/create_user",
                axum::routing::post(baseline_handler),
            )
            .with_state(Arc::new(InMemory::default()));
        let axum_server = lfts::http::serve(router, "127.0.0.1:0")
            .await
            .expect("baseline server starts");
        let (lfts_url, axum_url) = (lfts_server.url(), axum_server.url());
        let clients = ALL_PAIRS
            .iter()
            .map(|pair| match pair {
                Pair::Baseline => AnyClient::Reqwest(BaselineClient::new(&axum_url)),
                Pair::Lfts => {
                    AnyClient::Lfts(UserServiceClient::new(&lfts_url).expect("lfts client"))
                }
                Pair::LftsClientAxumServer => {
                    AnyClient::Lfts(UserServiceClient::new(&axum_url).expect("lfts client"))
                }
                Pair::ReqwestClientLftsServer => AnyClient::Reqwest(BaselineClient::new(&lfts_url)),
                Pair::ReqwestLftsHeaders => {
                    AnyClient::Reqwest(BaselineClient::new(&axum_url).with_lfts_headers())
                }
                Pair::ReqwestTimeout => AnyClient::Reqwest(BaselineClient {
                    timeout: Some(lfts::http::DEFAULT_TIMEOUT),
                    ..BaselineClient::new(&axum_url)
                }),
                Pair::LftsNoTimeoutAxumServer => AnyClient::Lfts(
                    UserServiceClient::with_config(
                        lfts::http::HttpConfig::new(&axum_url).no_timeout(),
                    )
                    .expect("lfts client"),
                ),
            })
            .collect();
        let fixture = Loopback {
            clients,
            _servers: (lfts_server, axum_server),
        };
        // Every pair answers the same thing (and the connection pools are warm).
        for pair in ALL_PAIRS {
            let user = fixture.call(pair).await;
            assert_eq!((user.name.as_str(), user.email.as_str()), (NAME, EMAIL));
        }
        fixture
    })
}

/// CPU time of the whole process (client, both servers, and the kernel's loopback work done
/// on their threads), in nanoseconds: the sum of `/proc/self/task/*/schedstat`'s first field.
///
/// Wall time on a 2-core machine shared with compilers measures the neighbours as much as the
/// code; CPU time per call does not depend on how long a runnable thread waited for a core.
struct ProcessCpu;

fn process_cpu_ns() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

impl Measurement for ProcessCpu {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        process_cpu_ns()
    }
    fn end(&self, start: u64) -> u64 {
        process_cpu_ns().saturating_sub(start)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, value: &u64) -> f64 {
        *value as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        // Nanoseconds, formatted like wall time.
        static WALL: WallTime = WallTime;
        WALL.formatter()
    }
}

fn config() -> Criterion {
    // A 2-core, noisy machine: fewer, longer samples; compare medians and ratios.
    Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(6))
}

/// One call at a time; one group per measurement.
fn sequential<M: Measurement>(c: &mut Criterion<M>, group: &str, pairs: &[Pair]) {
    let rt = Runtime::new().expect("tokio runtime");
    let fixture = loopback(&rt);
    let mut group = c.benchmark_group(group);
    group.throughput(Throughput::Elements(1));
    for &pair in pairs {
        group.bench_function(pair.name(), |b| b.to_async(&rt).iter(|| fixture.call(pair)));
    }
    group.finish();
}

/// `IN_FLIGHT` calls at a time (`join_all`); the throughput is per call.
fn in_flight<M: Measurement>(c: &mut Criterion<M>, group: &str, pairs: &[Pair]) {
    let rt = Runtime::new().expect("tokio runtime");
    let fixture = loopback(&rt);
    let mut group = c.benchmark_group(group);
    group.throughput(Throughput::Elements(IN_FLIGHT as u64));
    for &pair in pairs {
        group.bench_function(pair.name(), |b| {
            b.to_async(&rt).iter(|| async {
                for user in join_all((0..IN_FLIGHT).map(|_| fixture.call(pair))).await {
                    black_box(user);
                }
            })
        });
    }
    group.finish();
}

const PAIRS: [Pair; 2] = [Pair::Baseline, Pair::Lfts];

fn loopback_sequential(c: &mut Criterion) {
    sequential(c, "loopback_sequential", &PAIRS);
}

fn loopback_in_flight(c: &mut Criterion) {
    in_flight(c, "loopback_in_flight_32", &PAIRS);
}

fn loopback_cpu_sequential(c: &mut Criterion<ProcessCpu>) {
    sequential(c, "loopback_cpu_sequential", &ALL_PAIRS);
}

fn loopback_cpu_in_flight(c: &mut Criterion<ProcessCpu>) {
    in_flight(c, "loopback_cpu_in_flight_32", &ALL_PAIRS);
}

fn in_process(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
    let direct = InMemory::default();
    let layered = InMemory::default().layer(Identity);
    let name = String::from(NAME);
    let email = String::from(EMAIL);
    let mut group = c.benchmark_group("in_process");
    group.bench_function("direct (baseline)", |b| {
        b.to_async(&rt).iter(|| async {
            UserService::create_user(&direct, black_box(&name).clone(), black_box(&email).clone())
                .await
                .expect("direct call")
        })
    });
    group.bench_function("Layered<_, Identity>", |b| {
        b.to_async(&rt).iter(|| async {
            UserService::create_user(
                &layered,
                black_box(&name).clone(),
                black_box(&email).clone(),
            )
            .await
            .expect("layered call")
        })
    });
    group.finish();
}

fn decode_user_body(c: &mut Criterion) {
    let user = User {
        id: 1,
        name: NAME.into(),
        email: EMAIL.into(),
    };
    let body = serde_json::to_vec(&user).expect("serializable");
    let mut group = c.benchmark_group("decode_user_body");
    group.bench_function("serde_json::from_slice (baseline)", |b| {
        b.iter(|| serde_json::from_slice::<User>(black_box(&body)).expect("valid"))
    });
    group.bench_function("Value + lfts::validate (lfts client before)", |b| {
        b.iter(|| {
            let value: serde_json::Value =
                serde_json::from_slice(black_box(&body)).expect("valid JSON");
            lfts::validate::<User>(&value).expect("valid")
        })
    });
    group.bench_function("lfts::decode (lfts client now)", |b| {
        b.iter(|| lfts::decode::<User>(black_box(&body)).expect("valid"))
    });
    group.finish();
}

/// Whether a keyed call's server deduplicates, and where it keeps the keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Store {
    /// `Idempotency::off()`: the key is carried but ignored (the baseline).
    Off,
    /// `Idempotency::new()`: the default `MemoryStore` of the router's own.
    Memory,
    /// `Idempotency::new().store(RedisStore)`, on a private `redis-server`.
    Redis,
}

/// One measured configuration: a server, and whether every call has a key of its own.
#[derive(Clone, Copy, Debug)]
struct DedupCase {
    store: Store,
    /// `true`: a fresh key per call (begin + run + complete); `false`: one fixed key per shape
    /// (after the first call, every call is a stored replay that does not run the method).
    fresh: bool,
}

const DEDUP_CASES: [DedupCase; 5] = [
    DedupCase {
        store: Store::Off,
        fresh: true,
    },
    DedupCase {
        store: Store::Memory,
        fresh: true,
    },
    DedupCase {
        store: Store::Redis,
        fresh: true,
    },
    DedupCase {
        store: Store::Memory,
        fresh: false,
    },
    DedupCase {
        store: Store::Redis,
        fresh: false,
    },
];

impl DedupCase {
    fn name(self) -> &'static str {
        match (self.store, self.fresh) {
            (Store::Off, _) => "dedup off, fresh key (baseline)",
            (Store::Memory, true) => "memory store, fresh key",
            (Store::Redis, true) => "redis store, fresh key",
            (Store::Memory, false) => "memory store, replayed key",
            (Store::Redis, false) => "redis store, replayed key",
        }
    }
}

/// The body sizes of the keyed call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// `NAME`, `EMAIL`: about 50 bytes each way, as in `loopback_*`.
    Small,
    /// A `name` of `LARGE_NAME_BYTES`, echoed in the answer: about 10 KB each way.
    Large,
}

const SHAPES: [Shape; 2] = [Shape::Small, Shape::Large];
const LARGE_NAME_BYTES: usize = 10 * 1024;
/// How long the Redis store keeps an outcome. The default (24 h) would keep every fresh key of
/// a run, about 1 GB of 10 KB outcomes in `redis-server`; 1 s keeps it to a few tens of MB.
const REDIS_TTL: Duration = Duration::from_secs(1);

impl Shape {
    fn name(self) -> &'static str {
        match self {
            Shape::Small => "small body",
            Shape::Large => "10 KB body",
        }
    }
}

/// One generated server per [`Store`] on loopback, each with its own generated client.
struct DedupFixture {
    off: UserServiceClient,
    memory: UserServiceClient,
    /// `None` when `redis-server` could not start (the Redis cases are skipped).
    redis: Option<UserServiceClient>,
    large_name: String,
    _servers: Vec<lfts::http::ServerHandle>,
    _redis_server: Option<lfts::testing::RedisServer>,
}

impl DedupFixture {
    fn client(&self, store: Store) -> Option<&UserServiceClient> {
        match store {
            Store::Off => Some(&self.off),
            Store::Memory => Some(&self.memory),
            Store::Redis => self.redis.as_ref(),
        }
    }

    /// One keyed `create_user`; `key` is `None` for a fresh one.
    async fn call_with(&self, store: Store, shape: Shape, key: Option<&str>) -> User {
        let client = self.client(store).expect("a server for this store");
        let (name, email) = match shape {
            Shape::Small => (String::from(NAME), String::from(EMAIL)),
            Shape::Large => (self.large_name.clone(), String::from(EMAIL)),
        };
        let key = match key {
            Some(key) => key.to_owned(),
            None => lfts::context::new_idempotency_key(),
        };
        lfts::Context::new()
            .with_idempotency_key(key)
            .scope(client.create_user(name, email))
            .await
            .expect("the keyed call succeeds")
    }

    async fn call(&self, case: DedupCase, shape: Shape) -> User {
        if case.fresh {
            self.call_with(case.store, shape, None).await
        } else {
            self.call_with(case.store, shape, Some(replay_key(shape)))
                .await
        }
    }
}

/// The fixed key of the replay cases: one per shape (a key reused with other arguments is
/// `422`).
fn replay_key(shape: Shape) -> &'static str {
    match shape {
        Shape::Small => "bench-replay-small",
        Shape::Large => "bench-replay-large",
    }
}

async fn dedup_server(idempotency: Idempotency) -> (lfts::http::ServerHandle, UserServiceClient) {
    let router = UserServiceServer::new(InMemory::default())
        .port_router()
        .idempotency(idempotency)
        .into_router();
    let server = lfts::http::serve(router, "127.0.0.1:0")
        .await
        .expect("lfts server starts");
    let client = UserServiceClient::new(server.url()).expect("lfts client");
    (server, client)
}

fn dedup_fixture(rt: &Runtime) -> DedupFixture {
    rt.block_on(async {
        let (off_server, off) = dedup_server(Idempotency::off()).await;
        let (memory_server, memory) = dedup_server(Idempotency::new()).await;
        let mut servers = vec![off_server, memory_server];
        let mut redis_server = None;
        let mut redis = None;
        match lfts::testing::RedisServer::start().await {
            Ok(started) => match RedisStore::connect(&started.url()).await {
                Ok(store) => {
                    let (server, client) =
                        dedup_server(Idempotency::new().store(store).ttl(REDIS_TTL)).await;
                    servers.push(server);
                    redis = Some(client);
                    redis_server = Some(started);
                }
                Err(e) => println!("note: skipping the redis store cases: {e}"),
            },
            Err(e) => println!("note: skipping the redis store cases (redis-server: {e})"),
        }
        let large_name = "Ada Lovelace "
            .chars()
            .cycle()
            .take(LARGE_NAME_BYTES)
            .collect();
        let fixture = DedupFixture {
            off,
            memory,
            redis,
            large_name,
            _servers: servers,
            _redis_server: redis_server,
        };
        // Each server answers, deduplicates (or not, when off) as the cases assume, and its
        // connection pool is warm.
        for shape in SHAPES {
            for store in [Store::Off, Store::Memory, Store::Redis] {
                if fixture.client(store).is_none() {
                    continue;
                }
                let key = format!("bench-check-{shape:?}-{store:?}");
                let first = fixture.call_with(store, shape, Some(&key)).await;
                let again = fixture.call_with(store, shape, Some(&key)).await;
                let fresh = fixture.call_with(store, shape, None).await;
                assert_eq!(first.email, EMAIL);
                assert_eq!(first.name.len(), again.name.len());
                assert_eq!(
                    first.id == again.id,
                    store != Store::Off,
                    "{store:?} replays"
                );
                assert_ne!(first.id, fresh.id, "{store:?}: a fresh key runs the method");
            }
        }
        fixture
    })
}

/// The keyed calls, one at a time: per shape, every [`DedupCase`] whose server is up.
fn dedup_sequential_in<M: Measurement>(c: &mut Criterion<M>, group: &str) {
    let rt = Runtime::new().expect("tokio runtime");
    let fixture = dedup_fixture(&rt);
    let mut group = c.benchmark_group(group);
    group.throughput(Throughput::Elements(1));
    for shape in SHAPES {
        for case in DEDUP_CASES {
            if fixture.client(case.store).is_none() {
                continue;
            }
            group.bench_function(BenchmarkId::new(case.name(), shape.name()), |b| {
                b.to_async(&rt).iter(|| fixture.call(case, shape))
            });
        }
    }
    group.finish();
}

fn dedup_sequential(c: &mut Criterion) {
    dedup_sequential_in(c, "dedup_sequential");
}

fn dedup_cpu_sequential(c: &mut Criterion<ProcessCpu>) {
    dedup_sequential_in(c, "dedup_cpu_sequential");
}

criterion_group! {
    name = wall;
    config = config();
    targets = loopback_sequential, loopback_in_flight
}
criterion_group! {
    name = cpu;
    config = config().with_measurement(ProcessCpu);
    targets = loopback_cpu_sequential, loopback_cpu_in_flight
}
criterion_group! {
    name = local;
    config = config();
    targets = in_process, decode_user_body
}
criterion_group! {
    name = dedup;
    config = config();
    targets = dedup_sequential
}
criterion_group! {
    name = dedup_cpu;
    config = config().with_measurement(ProcessCpu);
    targets = dedup_cpu_sequential
}

/// `REMOTE_AB=rounds`: an interleaved A/B run outside criterion, for a noisy machine.
///
/// Each round runs every pair for `REMOTE_AB_BATCHES` (default 50) batches of
/// `REMOTE_AB_IN_FLIGHT` (default 32; 1 for sequential calls) calls and records the CPU time of
/// the process and the wall time per call. Pairs run back to back within a round, in alternating
/// order, so a neighbour's burst hits them alike. Prints, per pair, the median over rounds and the
/// median of the per-round ratios to the first pair (paired, so drift between rounds cancels).
/// `REMOTE_AB_PAIRS` picks pairs by index into `ALL_PAIRS` (such as `0,1`; the first is the
/// reference).
fn ab(rounds: usize) {
    let env = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let batches = env("REMOTE_AB_BATCHES", 50).max(1);
    let in_flight = env("REMOTE_AB_IN_FLIGHT", IN_FLIGHT).max(1);
    let rounds = rounds.max(1);
    let pairs: Vec<Pair> = match std::env::var("REMOTE_AB_PAIRS") {
        Ok(list) => list
            .split(',')
            .filter_map(|i| ALL_PAIRS.get(i.trim().parse::<usize>().ok()?).copied())
            .collect(),
        Err(_) => ALL_PAIRS.to_vec(),
    };
    if pairs.is_empty() {
        return;
    }
    let rt = Runtime::new().expect("tokio runtime");
    let fixture = loopback(&rt);
    // [pair][round] = (cpu ns per call, wall ns per call)
    let mut per_call = vec![Vec::with_capacity(rounds); pairs.len()];
    for round in 0..rounds {
        let mut order: Vec<usize> = (0..pairs.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        let mut this_round = vec![(0.0, 0.0); pairs.len()];
        for i in order {
            let pair = pairs[i];
            let (cpu0, wall0) = (process_cpu_ns(), std::time::Instant::now());
            rt.block_on(async {
                for _ in 0..batches {
                    for user in join_all((0..in_flight).map(|_| fixture.call(pair))).await {
                        black_box(user);
                    }
                }
            });
            let calls = (batches * in_flight) as f64;
            this_round[i] = (
                process_cpu_ns().saturating_sub(cpu0) as f64 / calls,
                wall0.elapsed().as_nanos() as f64 / calls,
            );
        }
        for (i, v) in this_round.into_iter().enumerate() {
            per_call[i].push(v);
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "{rounds} rounds x {batches} batches x {in_flight} in flight; medians over rounds, ratio = median of per-round ratios to the first pair"
    );
    for (i, pair) in pairs.iter().enumerate() {
        let cpu = median(per_call[i].iter().map(|v| v.0).collect());
        let wall = median(per_call[i].iter().map(|v| v.1).collect());
        let cpu_ratio = median(
            (0..rounds)
                .map(|r| per_call[i][r].0 / per_call[0][r].0)
                .collect(),
        );
        let wall_ratio = median(
            (0..rounds)
                .map(|r| per_call[i][r].1 / per_call[0][r].1)
                .collect(),
        );
        println!(
            "{:<34} cpu {:>7.2} us/call ({cpu_ratio:.3}x)   wall {:>7.2} us/call ({wall_ratio:.3}x)",
            pair.name(),
            cpu / 1e3,
            wall / 1e3,
        );
    }
}

fn main() {
    if let Some(rounds) = std::env::var("REMOTE_AB").ok().and_then(|v| v.parse().ok()) {
        ab(rounds);
        return;
    }
    wall();
    cpu();
    local();
    dedup();
    dedup_cpu();
    Criterion::default().configure_from_args().final_summary();
}
