//! Load benchmark: the throughput and latency of duikou's unary RPCs against a bare tonic
//! server, in one process.
//!
//! It starts the real duikou server (`duikou::server::serve` over a `Store`) on a temporary
//! SQLite file holding the national region list and 100,000 pairings, and next to it a bare
//! tonic server whose `GetRegion` returns a constant without touching any database. The
//! same client code (several HTTP/2 connections, many concurrent in-flight requests, each
//! task running as fast as it can for a fixed time) then drives, in order: the baseline
//! `GetRegion`, duikou's `GetRegion`, `GetPairing`, `ListPairings` (first page and 1,000
//! pages deep) and `CreatePairing`. For each it prints requests/s, p50 and p99 latency, the
//! ratio to the baseline, errors and the process's peak RSS, writes the same data to
//! `target/bench-load.json`, and checks three bars. A failed bar is reported, not fatal;
//! only a failed setup makes the process exit non-zero.
//!
//! Environment: `DUIKOU_BENCH_SECS` (measured seconds per workload, default 8),
//! `DUIKOU_BENCH_WARMUP_SECS` (default 2), `DUIKOU_BENCH_CONCURRENCY` (in-flight requests,
//! default 64) and `DUIKOU_BENCH_CONNECTIONS` (HTTP/2 connections, default 4). Both servers
//! accept connections with TCP_NODELAY, as `duikou serve` does.
//!
//! Last, on a separate temporary SQLite store holding `DUIKOU_BENCH_AUDIT_EVENTS` audit
//! events (default 1,000,000) and their stored Merkle tree, it times inclusion proofs and
//! the root straight through the store (no gRPC), checks every proof, and reports them
//! under `audit_inclusion_proof`. Then it runs CreatePairing's database work through the
//! store at the same concurrency with and without its audit event, in three interleaved
//! rounds, and reports the ratio of the mean rates under `audit_cost` (the bar is 0.9).
//!
//! Then the funds ledger (`load/ledger.rs`), on its own server and SQLite file: 64 pairings
//! each with a started project, RecordFundTransaction (commitments, allocations and
//! disbursements of one yuan) from the same number of concurrent clients (the bar is 5,000
//! lines/s with no errors), then the ledger topped up through the store to
//! `DUIKOU_BENCH_LEDGER_LINES` lines (default 1,000,000) and GetFundSummary of the program
//! timed one call after another (the bar is p99 under 5 ms), under `ledger`.
//!
//! Last, supervision (`load/supervision.rs`), on its own server and SQLite file:
//! SubmitSupervisionEntry from the same number of concurrent clients, against GetRegion
//! driven the same way; then `DUIKOU_BENCH_SUPERVISION_ENTRIES` entries (default
//! 1,000,000) and ListSupervisionEntries with `overdue = true` (first pages, 200 pages deep,
//! and one county's), each against GetRegion's p99, under `supervision`.
//! `DUIKOU_BENCH_ONLY=ledger` or `DUIKOU_BENCH_ONLY=supervision` runs that part alone and
//! prints its figures.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    net::SocketAddr,
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail, ensure};
use chrono::{NaiveDate, Utc};
use duikou::{
    config::{Overrides, Settings},
    domain::access::Role,
    proto::v1::{
        CreatePairingRequest, CreateRegionRequest, GetPairingRequest, GetRegionRequest,
        ListPairingsRequest, ListRegionsRequest, ListRegionsResponse, Pairing, Region,
        pairing_service_client::PairingServiceClient,
        region_service_client::RegionServiceClient,
        region_service_server::{RegionService, RegionServiceServer},
    },
    server,
    store::{
        Store,
        audit::PendingEvent,
        entities::{pairing, program, region},
        token::{self, NewToken},
    },
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, EntityTrait, PaginatorTrait, QueryOrder, TransactionTrait,
};
use serde_json::json;
use tokio::{
    net::{TcpListener, TcpSocket},
    sync::oneshot,
    task::JoinSet,
};
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{
    Request, Response, Status,
    metadata::{Ascii, MetadataValue},
    service::{Interceptor, interceptor::InterceptedService},
    transport::{Channel, Endpoint},
};

#[path = "load/ledger.rs"]
mod ledger;
#[path = "load/supervision.rs"]
mod supervision;

/// Adds the bench's ADMIN token to every call; the bare server ignores it.
#[derive(Clone)]
struct Bearer(MetadataValue<Ascii>);

impl Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

/// A connection that authenticates its calls.
type Authed = InterceptedService<Channel, Bearer>;

/// Pairings seeded before measuring.
const SEED_PAIRINGS: usize = 100_000;
/// Rows per INSERT statement while seeding (16 bound columns each).
const INSERT_CHUNK: usize = 1_000;
/// Rows per seeding transaction.
const ROWS_PER_TRANSACTION: usize = 25_000;
/// The page size of the ListPairings workloads.
const PAGE_SIZE: i32 = 50;
/// How many pages are skipped before the deep ListPairings page.
const DEEP_PAGES: usize = 1_000;
/// The supported regions of created pairings start this far into the supported pool, past
/// those the seed used.
const CREATE_OFFSET: usize = 1_000;
/// The seeded program's period, also used by every pairing.
const PERIOD: (&str, &str) = ("2021-01-01", "2035-12-31");
/// Beijing's code-path prefix: supporting regions come from inside it.
const BEIJING: &str = "/110000/";
/// Region level numbers.
const COUNTY: i16 = 3;
const TOWNSHIP: i16 = 4;

#[tokio::main]
async fn main() -> Result<()> {
    let config = BenchConfig::from_env()?;
    println!(
        "duikou load bench: {} connections, {} concurrent requests, {:.1} s warm-up + {:.1} s \
         measured per workload",
        config.connections,
        config.concurrency,
        config.warmup.as_secs_f64(),
        config.measure.as_secs_f64(),
    );

    // `DUIKOU_BENCH_ONLY=ledger` or `=supervision` measures that part alone, for quick
    // iterations.
    match std::env::var("DUIKOU_BENCH_ONLY").as_deref() {
        Ok("ledger") => {
            let ledger = ledger::measure(&config)
                .await
                .context("measuring the funds ledger")?;
            println!("{}", serde_json::to_string_pretty(&ledger)?);
            return Ok(());
        }
        Ok("supervision") => {
            let supervision = supervision::measure(&config)
                .await
                .context("measuring supervision")?;
            println!("{}", serde_json::to_string_pretty(&supervision)?);
            return Ok(());
        }
        _ => {}
    }

    // The real server, on a temporary SQLite file.
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let db_path = dir.path().join("bench.db");
    let mut settings = Settings::load(
        None,
        &Overrides {
            listen: Some("127.0.0.1:0".to_owned()),
            database_url: Some(format!("sqlite://{}?mode=rwc", db_path.display())),
        },
    )
    .context("loading settings")?;
    settings.server.shutdown_grace_secs = 5;
    let store = Store::connect(&settings.database)
        .await
        .context("opening the store")?;
    store.migrate().await.context("migrating")?;

    let started = Instant::now();
    let regions_loaded = store.seed_regions().await.context("seeding regions")?;
    let regions_secs = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let seed = seed_pairings(&store).await.context("seeding pairings")?;
    let pairings_secs = started.elapsed().as_secs_f64();
    let (_, secret) = token::create(
        store.db(),
        &NewToken {
            role: Role::Admin,
            label: "load bench",
            scopes: &[],
            expire_time: None,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))
    .context("creating the bench's token")?;
    println!(
        "seeded {regions_loaded} regions in {regions_secs:.2} s and 1 program + {} pairings in \
         {pairings_secs:.2} s (ids {}..={}); database {}",
        SEED_PAIRINGS,
        seed.min_id,
        seed.max_id,
        db_path.display()
    );

    let real_listener = listen().context("binding the duikou listener")?;
    let real_addr = real_listener.local_addr().context("duikou address")?;
    let (real_stop, real_stop_rx) = oneshot::channel::<()>();
    let server_store = store.clone();
    let server_settings = settings.server.clone();
    let audit_key = settings.audit_key().context("the audit signing key")?;
    let real_server = tokio::spawn(async move {
        server::serve(
            server_store,
            audit_key,
            duikou::domain::clock::Clock::system(),
            real_listener,
            &server_settings,
            Duration::from_secs(60),
            async {
                let _ = real_stop_rx.await;
            },
        )
        .await
    });

    let bare_listener = listen().context("binding the baseline listener")?;
    let bare_addr = bare_listener.local_addr().context("baseline address")?;
    let (bare_stop, bare_stop_rx) = oneshot::channel::<()>();
    let bare_server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(RegionServiceServer::new(BareRegions))
            .serve_with_incoming_shutdown(TcpListenerStream::new(bare_listener), async {
                let _ = bare_stop_rx.await;
            }),
    );
    println!("duikou on {real_addr}, bare tonic baseline on {bare_addr}");

    let results = run_workloads(&config, &seed, &secret, real_addr, bare_addr).await;

    // Shut both servers down, whatever the workloads did.
    let _ = real_stop.send(());
    let _ = bare_stop.send(());
    let real_outcome = tokio::time::timeout(Duration::from_secs(20), real_server)
        .await
        .context("duikou did not stop within 20 s")?
        .context("duikou server task panicked")?;
    let bare_outcome = tokio::time::timeout(Duration::from_secs(20), bare_server)
        .await
        .context("the baseline server did not stop within 20 s")?
        .context("baseline server task panicked")?;
    store.close().await.context("closing the store")?;
    drop(dir);
    real_outcome.context("duikou server failed")?;
    bare_outcome.context("baseline server failed")?;
    println!("both servers shut down cleanly");

    let results = results?;
    let audit = audit_inclusion()
        .await
        .context("measuring audit inclusion proofs")?;
    let cost = audit_cost(&config)
        .await
        .context("measuring what auditing costs")?;
    let ledger = ledger::measure(&config)
        .await
        .context("measuring the funds ledger")?;
    let supervision = supervision::measure(&config)
        .await
        .context("measuring supervision")?;
    report(
        &config,
        regions_secs,
        pairings_secs,
        &results,
        &audit,
        &cost,
        &json!({ "ledger": ledger, "supervision": supervision }),
    )
}

/// A duikou server of its own, on a fresh durable SQLite file in a temporary directory,
/// with the national regions loaded and a token of one role.
struct OwnServer {
    store: Store,
    secret: String,
    addr: SocketAddr,
    what: &'static str,
    stop: oneshot::Sender<()>,
    server: tokio::task::JoinHandle<Result<()>>,
    _dir: tempfile::TempDir,
}

impl OwnServer {
    /// Starts the server for `what` ("ledger", "supervision"), with a token of `role`.
    async fn start(what: &'static str, role: Role) -> Result<Self> {
        let dir = tempfile::tempdir().with_context(|| format!("creating the {what} directory"))?;
        let settings = Settings::load(
            None,
            &Overrides {
                listen: Some("127.0.0.1:0".to_owned()),
                database_url: Some(format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join(format!("{what}.db")).display()
                )),
            },
        )
        .with_context(|| format!("loading the {what} settings"))?;
        let store = Store::connect(&settings.database)
            .await
            .with_context(|| format!("opening the {what} store"))?;
        store.migrate().await.context("migrating")?;
        store.seed_regions().await.context("seeding regions")?;
        let label = format!("{what} bench");
        let (_, secret) = token::create(
            store.db(),
            &NewToken {
                role,
                label: &label,
                scopes: &[],
                expire_time: None,
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let listener = listen().with_context(|| format!("binding the {what} server"))?;
        let addr = listener.local_addr().context("the server's address")?;
        let (stop, stopped) = oneshot::channel::<()>();
        let server_store = store.clone();
        let key = settings.audit_key().context("the audit key")?;
        let server = tokio::spawn(async move {
            server::serve(
                server_store,
                key,
                duikou::domain::clock::Clock::system(),
                listener,
                &settings.server,
                Duration::from_secs(60),
                async {
                    let _ = stopped.await;
                },
            )
            .await
        });
        Ok(Self {
            store,
            secret,
            addr,
            what,
            stop,
            server,
            _dir: dir,
        })
    }

    /// Stops the server and closes its store.
    async fn stop(self) -> Result<()> {
        let what = self.what;
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(20), self.server)
            .await
            .with_context(|| format!("the {what} server did not stop within 20 s"))?
            .with_context(|| format!("the {what} server panicked"))?
            .with_context(|| format!("the {what} server failed"))?;
        self.store
            .close()
            .await
            .with_context(|| format!("closing the {what} store"))
    }
}

/// Knobs read from the environment.
struct BenchConfig {
    warmup: Duration,
    measure: Duration,
    concurrency: usize,
    connections: usize,
}

impl BenchConfig {
    fn from_env() -> Result<Self> {
        let secs = |name: &str, default: f64| -> Result<Duration> {
            let value = match std::env::var(name) {
                Ok(v) => v
                    .parse::<f64>()
                    .with_context(|| format!("{name}={v} is not a number of seconds"))?,
                Err(_) => default,
            };
            ensure!(
                value.is_finite() && value >= 0.0,
                "{name} must be zero or more"
            );
            Ok(Duration::from_secs_f64(value))
        };
        let count = |name: &str, default: usize| -> Result<usize> {
            let value = match std::env::var(name) {
                Ok(v) => v
                    .parse::<usize>()
                    .with_context(|| format!("{name}={v} is not a count"))?,
                Err(_) => default,
            };
            ensure!(value > 0, "{name} must be at least 1");
            Ok(value)
        };
        let config = Self {
            warmup: secs("DUIKOU_BENCH_WARMUP_SECS", 2.0)?,
            measure: secs("DUIKOU_BENCH_SECS", 8.0)?,
            concurrency: count("DUIKOU_BENCH_CONCURRENCY", 64)?,
            connections: count("DUIKOU_BENCH_CONNECTIONS", 4)?,
        };
        ensure!(
            config.measure > Duration::ZERO,
            "DUIKOU_BENCH_SECS must be more than zero"
        );
        Ok(config)
    }
}

/// A listening socket on a free port of 127.0.0.1 with TCP_NODELAY, which accepted
/// connections inherit on Linux (duikou also sets it on each connection itself).
fn listen() -> Result<TcpListener> {
    let socket = TcpSocket::new_v4().context("creating a socket")?;
    socket.set_reuseaddr(true).context("setting SO_REUSEADDR")?;
    socket.set_nodelay(true).context("setting TCP_NODELAY")?;
    socket
        .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .context("binding 127.0.0.1:0")?;
    socket.listen(1024).context("listening")
}

/// What the seed left behind for the workloads.
struct Seed {
    program: String,
    min_id: i64,
    max_id: i64,
    /// Every region's resource name.
    region_names: Arc<Vec<String>>,
    /// Supporting candidates: Beijing's counties and townships, by code.
    supporting: Arc<Vec<String>>,
    /// Supported candidates: townships outside Beijing, by code.
    supported: Arc<Vec<String>>,
}

/// Inserts one program and `SEED_PAIRINGS` pairings straight through sea-orm. Pairing `i`
/// pairs `supporting[i % S]` with `supported[i / S]`, so every pair is distinct; created
/// pairings later use supported regions from `CREATE_OFFSET` on.
async fn seed_pairings(store: &Store) -> Result<Seed> {
    let regions = region::Entity::find()
        .order_by_asc(region::Column::Code)
        .all(store.db())
        .await
        .context("reading regions")?;
    let supporting: Vec<&region::Model> = regions
        .iter()
        .filter(|r| r.path.starts_with(BEIJING) && (r.level == COUNTY || r.level == TOWNSHIP))
        .collect();
    let supported: Vec<&region::Model> = regions
        .iter()
        .filter(|r| !r.path.starts_with(BEIJING) && r.level == TOWNSHIP)
        .collect();
    ensure!(!supporting.is_empty(), "no Beijing counties or townships");
    let needed = SEED_PAIRINGS.div_ceil(supporting.len());
    ensure!(
        needed < CREATE_OFFSET && CREATE_OFFSET < supported.len(),
        "not enough supported townships ({}) for the seed ({needed}) and the creates",
        supported.len()
    );

    let start = date(PERIOD.0)?;
    let end = date(PERIOD.1)?;
    let now = Utc::now();
    let program = program::ActiveModel {
        display_name: Set("京堰对口协作（2021—2035年）— load bench".to_owned()),
        basis_document: Set("load bench".to_owned()),
        period_start: Set(start),
        period_end: Set(end),
        description: Set(String::new()),
        create_time: Set(now),
        update_time: Set(now),
        revision: Set(1),
        ..Default::default()
    }
    .insert(store.db())
    .await
    .context("inserting the program")?;

    let mut next = 0;
    while next < SEED_PAIRINGS {
        let last = (next + ROWS_PER_TRANSACTION).min(SEED_PAIRINGS);
        let tx = store
            .db()
            .begin()
            .await
            .context("beginning a transaction")?;
        for chunk_start in (next..last).step_by(INSERT_CHUNK) {
            let chunk_end = (chunk_start + INSERT_CHUNK).min(last);
            let rows = (chunk_start..chunk_end).map(|i| {
                let a = supporting[i % supporting.len()];
                let b = supported[i / supporting.len()];
                pairing::ActiveModel {
                    program_id: Set(program.id),
                    supporting_code: Set(a.code.clone()),
                    supported_code: Set(b.code.clone()),
                    supporting_path: Set(a.path.clone()),
                    supported_path: Set(b.path.clone()),
                    parent_id: Set(None),
                    level: Set(b.level),
                    fields: Set("1,4".to_owned()),
                    period_start: Set(start),
                    period_end: Set(end),
                    state: Set(1),
                    display_name: Set(format!("{} — {}", a.display_name, b.display_name)),
                    create_time: Set(now),
                    update_time: Set(now),
                    delete_time: Set(None),
                    revision: Set(1),
                    ..Default::default()
                }
            });
            pairing::Entity::insert_many(rows)
                .exec(&tx)
                .await
                .with_context(|| format!("inserting pairings {chunk_start}..{chunk_end}"))?;
        }
        tx.commit().await.context("committing pairings")?;
        next = last;
    }

    let count = pairing::Entity::find()
        .count(store.db())
        .await
        .context("counting pairings")?;
    ensure!(
        count == SEED_PAIRINGS as u64,
        "expected {SEED_PAIRINGS} pairings, found {count}"
    );
    let first = pairing::Entity::find()
        .order_by_asc(pairing::Column::Id)
        .one(store.db())
        .await
        .context("reading the first pairing")?
        .context("no pairings")?;
    let last = pairing::Entity::find()
        .order_by_desc(pairing::Column::Id)
        .one(store.db())
        .await
        .context("reading the last pairing")?
        .context("no pairings")?;
    ensure!(
        last.id - first.id + 1 == SEED_PAIRINGS as i64,
        "pairing ids {}..={} are not contiguous",
        first.id,
        last.id
    );

    Ok(Seed {
        program: format!("programs/{}", program.id),
        min_id: first.id,
        max_id: last.id,
        region_names: Arc::new(
            regions
                .iter()
                .map(|r| format!("regions/{}", r.code))
                .collect(),
        ),
        supporting: Arc::new(supporting.iter().map(|r| r.code.clone()).collect()),
        supported: Arc::new(supported.iter().map(|r| r.code.clone()).collect()),
    })
}

fn date(text: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").with_context(|| format!("parsing date {text}"))
}

/// The baseline: a `RegionService` whose `GetRegion` returns a constant.
struct BareRegions;

#[tonic::async_trait]
impl RegionService for BareRegions {
    async fn get_region(
        &self,
        _request: Request<GetRegionRequest>,
    ) -> Result<Response<Region>, Status> {
        Ok(Response::new(Region {
            name: "regions/420300".to_owned(),
            code: "420300".to_owned(),
            display_name: "十堰市".to_owned(),
            level: 2,
            parent: "regions/420000".to_owned(),
        }))
    }

    async fn list_regions(
        &self,
        _request: Request<ListRegionsRequest>,
    ) -> Result<Response<ListRegionsResponse>, Status> {
        Err(Status::unimplemented("baseline serves GetRegion only"))
    }

    async fn create_region(
        &self,
        _request: Request<CreateRegionRequest>,
    ) -> Result<Response<Region>, Status> {
        Err(Status::unimplemented("baseline serves GetRegion only"))
    }
}

/// One kind of request, with what it needs to vary.
#[derive(Clone)]
enum Op {
    /// GetRegion of a fixed name (the baseline ignores it).
    BaselineGetRegion,
    /// GetRegion of a random seeded region.
    GetRegion(Arc<Vec<String>>),
    /// GetPairing of a random seeded pairing.
    GetPairing { min_id: i64, max_id: i64 },
    /// One ListPairings page; `first_id` is the id its first row must have.
    ListPairings { token: String, first_id: i64 },
    /// CreatePairing of a pair never used before.
    CreatePairing(Arc<CreatePlan>),
}

/// Hands out distinct (supporting, supported) pairs that the seed did not use.
struct CreatePlan {
    program: String,
    supporting: Arc<Vec<String>>,
    supported: Arc<Vec<String>>,
    next: AtomicUsize,
}

impl CreatePlan {
    fn pairing(&self) -> Option<Pairing> {
        let k = self.next.fetch_add(1, Ordering::Relaxed);
        let a = &self.supporting[k % self.supporting.len()];
        let b = self
            .supported
            .get(CREATE_OFFSET + k / self.supporting.len())?;
        Some(Pairing {
            program: self.program.clone(),
            supporting_region: format!("regions/{a}"),
            supported_region: format!("regions/{b}"),
            fields: vec![1, 4],
            period_start: PERIOD.0.to_owned(),
            period_end: PERIOD.1.to_owned(),
            ..Default::default()
        })
    }

    fn issued(&self) -> usize {
        self.next.load(Ordering::Relaxed)
    }
}

/// Why a request counts as failed.
enum Failure {
    Status(Box<Status>),
    Unexpected(String),
}

impl Failure {
    fn key(&self) -> String {
        match self {
            Failure::Status(s) => {
                let mut message = s.message().to_owned();
                message.truncate(160);
                format!("{:?}: {message}", s.code())
            }
            Failure::Unexpected(what) => format!("unexpected response: {what}"),
        }
    }
}

impl From<Status> for Failure {
    fn from(status: Status) -> Self {
        Failure::Status(Box::new(status))
    }
}

/// One task's clients: both services over one connection.
struct Clients {
    regions: RegionServiceClient<Authed>,
    pairings: PairingServiceClient<Authed>,
}

/// xorshift64*: enough randomness to pick ids, without a dependency.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

async fn call(op: &Op, clients: &mut Clients, rng: &mut Rng) -> Result<(), Failure> {
    match op {
        Op::BaselineGetRegion => {
            let region = clients
                .regions
                .get_region(GetRegionRequest {
                    name: "regions/420300".to_owned(),
                })
                .await?
                .into_inner();
            if region.code != "420300" {
                return Err(Failure::Unexpected(format!("region {}", region.code)));
            }
        }
        Op::GetRegion(names) => {
            let name = &names[rng.below(names.len() as u64) as usize];
            let region = clients
                .regions
                .get_region(GetRegionRequest { name: name.clone() })
                .await?
                .into_inner();
            if &region.name != name {
                return Err(Failure::Unexpected(format!(
                    "asked {name}, got {}",
                    region.name
                )));
            }
        }
        Op::GetPairing { min_id, max_id } => {
            let id = min_id + rng.below((max_id - min_id + 1) as u64) as i64;
            let name = format!("pairings/{id}");
            let pairing = clients
                .pairings
                .get_pairing(GetPairingRequest { name: name.clone() })
                .await?
                .into_inner();
            if pairing.name != name {
                return Err(Failure::Unexpected(format!(
                    "asked {name}, got {}",
                    pairing.name
                )));
            }
        }
        Op::ListPairings { token, first_id } => {
            let page = clients
                .pairings
                .list_pairings(ListPairingsRequest {
                    page_size: PAGE_SIZE,
                    page_token: token.clone(),
                    ..Default::default()
                })
                .await?
                .into_inner();
            let expected = format!("pairings/{first_id}");
            if page.pairings.len() != PAGE_SIZE as usize
                || page.pairings.first().map(|p| &p.name) != Some(&expected)
            {
                return Err(Failure::Unexpected(format!(
                    "page of {} starting at {:?}, expected {PAGE_SIZE} from {expected}",
                    page.pairings.len(),
                    page.pairings.first().map(|p| &p.name)
                )));
            }
        }
        Op::CreatePairing(plan) => {
            let Some(pairing) = plan.pairing() else {
                return Err(Failure::Unexpected(
                    "the bench ran out of unused region pairs".to_owned(),
                ));
            };
            let created = clients
                .pairings
                .create_pairing(CreatePairingRequest {
                    pairing: Some(pairing),
                    request_id: String::new(),
                })
                .await?
                .into_inner();
            if created.name.is_empty() {
                return Err(Failure::Unexpected(
                    "created pairing has no name".to_owned(),
                ));
            }
        }
    }
    Ok(())
}

/// What one workload measured.
struct Measured {
    name: &'static str,
    server: &'static str,
    ok: usize,
    errors: u64,
    warmup_errors: u64,
    error_kinds: BTreeMap<String, u64>,
    secs: f64,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    peak_rss_mib: f64,
}

/// What one client task saw.
#[derive(Default)]
struct TaskTally {
    latencies_us: Vec<u32>,
    errors: u64,
    warmup_errors: u64,
    error_kinds: BTreeMap<String, u64>,
}

/// Runs `op` from `config.concurrency` tasks spread over `channels` for the warm-up and the
/// measured time; only requests started after the warm-up are measured.
async fn drive(
    config: &BenchConfig,
    name: &'static str,
    server: &'static str,
    channels: &[Authed],
    op: Op,
) -> Result<Measured> {
    let begin = Instant::now();
    let measure_from = begin + config.warmup;
    let until = measure_from + config.measure;
    let mut tasks = JoinSet::new();
    for task in 0..config.concurrency {
        let channel = channels[task % channels.len()].clone();
        let op = op.clone();
        tasks.spawn(async move {
            let mut clients = Clients {
                regions: RegionServiceClient::new(channel.clone()),
                pairings: PairingServiceClient::new(channel),
            };
            let mut rng = Rng::new(task as u64 + 1);
            let mut tally = TaskTally::default();
            loop {
                let start = Instant::now();
                if start >= until {
                    break;
                }
                let outcome = call(&op, &mut clients, &mut rng).await;
                let micros = start.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
                let measured = start >= measure_from;
                match outcome {
                    Ok(()) if measured => tally.latencies_us.push(micros),
                    Ok(()) => {}
                    Err(failure) => {
                        if measured {
                            tally.errors += 1;
                        } else {
                            tally.warmup_errors += 1;
                        }
                        let kinds = tally.error_kinds.len();
                        let key = failure.key();
                        if kinds < 20 || tally.error_kinds.contains_key(&key) {
                            *tally.error_kinds.entry(key).or_default() += 1;
                        } else {
                            *tally.error_kinds.entry("(other)".to_owned()).or_default() += 1;
                        }
                    }
                }
            }
            tally
        });
    }
    let mut latencies = Vec::new();
    let mut total = TaskTally::default();
    while let Some(joined) = tasks.join_next().await {
        let tally = joined.context("a client task panicked")?;
        latencies.extend(tally.latencies_us);
        total.errors += tally.errors;
        total.warmup_errors += tally.warmup_errors;
        for (key, n) in tally.error_kinds {
            *total.error_kinds.entry(key).or_default() += n;
        }
    }
    let secs = measure_from.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let ok = latencies.len();
    Ok(Measured {
        name,
        server,
        ok,
        errors: total.errors,
        warmup_errors: total.warmup_errors,
        error_kinds: total.error_kinds,
        secs,
        rps: ok as f64 / secs,
        p50_ms: percentile_ms(&latencies, 0.50),
        p99_ms: percentile_ms(&latencies, 0.99),
        max_ms: latencies
            .last()
            .map_or(f64::NAN, |&us| f64::from(us) / 1000.0),
        peak_rss_mib: peak_rss_mib(),
    })
}

/// The nearest-rank percentile of sorted microsecond latencies, in milliseconds.
fn percentile_ms(sorted_us: &[u32], q: f64) -> f64 {
    if sorted_us.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted_us.len() as f64).ceil() as usize).clamp(1, sorted_us.len());
    f64::from(sorted_us[rank - 1]) / 1000.0
}

/// The process's peak resident set (VmHWM), in MiB; NaN where /proc is unavailable.
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<f64>()
                        .ok()
                })
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

async fn connect(addr: SocketAddr, count: usize, secret: &str) -> Result<Vec<Authed>> {
    let bearer = Bearer(
        format!("Bearer {secret}")
            .parse()
            .context("the token as metadata")?,
    );
    let mut channels = Vec::with_capacity(count);
    for _ in 0..count {
        // One `connect` per channel: each is its own HTTP/2 connection.
        let channel = Endpoint::from_shared(format!("http://{addr}"))
            .context("building the endpoint")?
            .tcp_nodelay(true)
            .connect()
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        channels.push(InterceptedService::new(channel, bearer.clone()));
    }
    Ok(channels)
}

/// Walks the pairing list from the start and returns the token of page `DEEP_PAGES + 1`.
async fn deep_page_token(channel: &Authed) -> Result<String> {
    let mut client = PairingServiceClient::new(channel.clone());
    let mut token = String::new();
    for page in 1..=DEEP_PAGES {
        let reply = client
            .list_pairings(ListPairingsRequest {
                page_size: PAGE_SIZE,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .with_context(|| format!("listing page {page}"))?
            .into_inner();
        ensure!(
            reply.pairings.len() == PAGE_SIZE as usize,
            "page {page} has {} pairings",
            reply.pairings.len()
        );
        if reply.next_page_token.is_empty() {
            bail!("the list ended at page {page}");
        }
        token = reply.next_page_token;
    }
    Ok(token)
}

async fn run_workloads(
    config: &BenchConfig,
    seed: &Seed,
    secret: &str,
    real_addr: SocketAddr,
    bare_addr: SocketAddr,
) -> Result<Vec<Measured>> {
    let bare = connect(bare_addr, config.connections, secret).await?;
    let real = connect(real_addr, config.connections, secret).await?;
    let mut results = Vec::new();

    let measured = drive(
        config,
        "baseline GetRegion",
        "bare",
        &bare,
        Op::BaselineGetRegion,
    )
    .await?;
    print_row(&measured, None, true);
    let baseline = measured.rps;
    results.push(measured);
    drop(bare);

    let started = Instant::now();
    let token = deep_page_token(&real[0])
        .await
        .context("walking to the deep page")?;
    println!(
        "(walked {DEEP_PAGES} pages of {PAGE_SIZE} to reach page {} in {:.2} s)",
        DEEP_PAGES + 1,
        started.elapsed().as_secs_f64()
    );

    let plan = Arc::new(CreatePlan {
        program: seed.program.clone(),
        supporting: seed.supporting.clone(),
        supported: seed.supported.clone(),
        next: AtomicUsize::new(0),
    });
    let workloads: Vec<(&'static str, Op)> = vec![
        ("GetRegion", Op::GetRegion(seed.region_names.clone())),
        (
            "GetPairing",
            Op::GetPairing {
                min_id: seed.min_id,
                max_id: seed.max_id,
            },
        ),
        (
            "ListPairings first page",
            Op::ListPairings {
                token: String::new(),
                first_id: seed.min_id,
            },
        ),
        (
            "ListPairings page 1001",
            Op::ListPairings {
                token,
                first_id: seed.min_id + (DEEP_PAGES as i64) * i64::from(PAGE_SIZE),
            },
        ),
        ("CreatePairing", Op::CreatePairing(plan.clone())),
    ];
    for (name, op) in workloads {
        let measured = drive(config, name, "duikou", &real, op).await?;
        print_row(&measured, Some(baseline), false);
        results.push(measured);
    }
    println!(
        "(CreatePairing issued {} creates, warm-up included)",
        plan.issued()
    );
    Ok(results)
}

fn header() -> String {
    format!(
        "{:<26} {:>7} {:>11} {:>9} {:>9} {:>9} {:>8} {:>8} {:>10}",
        "workload", "server", "req/s", "p50 ms", "p99 ms", "max ms", "×base", "errors", "peak MiB"
    )
}

fn row(m: &Measured, baseline: f64) -> String {
    format!(
        "{:<26} {:>7} {:>11.0} {:>9.3} {:>9.3} {:>9.3} {:>8.3} {:>8} {:>10.1}",
        m.name,
        m.server,
        m.rps,
        m.p50_ms,
        m.p99_ms,
        m.max_ms,
        m.rps / baseline,
        m.errors,
        m.peak_rss_mib
    )
}

/// Prints a row as soon as its workload ends, so that a long run shows progress.
fn print_row(m: &Measured, baseline: Option<f64>, with_header: bool) {
    if with_header {
        println!("{}", header());
    }
    println!("{}", row(m, baseline.unwrap_or(m.rps)));
    if m.warmup_errors > 0 {
        println!("    ({} errors during warm-up)", m.warmup_errors);
    }
    for (kind, n) in &m.error_kinds {
        println!("    error ×{n}: {kind}");
    }
}

/// One bar: a name, whether it holds, and the numbers behind it.
struct Bar {
    name: &'static str,
    holds: bool,
    detail: String,
}

fn bars(results: &[Measured]) -> Result<Vec<Bar>> {
    let find = |name: &str| {
        results
            .iter()
            .find(|m| m.name == name)
            .with_context(|| format!("no result for {name}"))
    };
    let baseline = find("baseline GetRegion")?;
    let get = find("GetPairing")?;
    let first = find("ListPairings first page")?;
    let deep = find("ListPairings page 1001")?;
    let create = find("CreatePairing")?;
    let create_errors = create.errors + create.warmup_errors;
    Ok(vec![
        Bar {
            name: "GetPairing ≥ 0.5 × baseline req/s",
            holds: get.errors == 0 && get.rps >= 0.5 * baseline.rps,
            detail: format!(
                "{:.0} vs {:.0} req/s = {:.3}×, {} errors",
                get.rps,
                baseline.rps,
                get.rps / baseline.rps,
                get.errors
            ),
        },
        Bar {
            name: "ListPairings deep p50 ≤ 1.2 × first-page p50",
            holds: first.errors == 0 && deep.errors == 0 && deep.p50_ms <= 1.2 * first.p50_ms,
            detail: format!(
                "{:.3} vs {:.3} ms = {:.3}×, {} + {} errors",
                deep.p50_ms,
                first.p50_ms,
                deep.p50_ms / first.p50_ms,
                first.errors,
                deep.errors
            ),
        },
        Bar {
            name: "CreatePairing ≥ 2,000 req/s with 0 errors",
            holds: create.rps >= 2000.0 && create_errors == 0,
            detail: format!(
                "{:.0} req/s, {} errors ({} in warm-up)",
                create.rps, create_errors, create.warmup_errors
            ),
        },
    ])
}

/// Prints the whole table again with the bars, and writes the JSON.
fn report(
    config: &BenchConfig,
    regions_secs: f64,
    pairings_secs: f64,
    results: &[Measured],
    audit: &AuditProofs,
    audit_cost: &serde_json::Value,
    later: &serde_json::Value,
) -> Result<()> {
    let baseline = results
        .first()
        .map(|m| m.rps)
        .context("no baseline result")?;
    let mut table = String::new();
    writeln!(table, "{}", header())?;
    for m in results {
        writeln!(table, "{}", row(m, baseline))?;
    }
    println!();
    println!(
        "Summary ({} connections, {} in flight, {:.1} s measured after {:.1} s warm-up, \
         req/s counts successful requests; peak MiB is VmHWM of this \
         one process, which holds both servers, the client and SQLite):",
        config.connections,
        config.concurrency,
        config.measure.as_secs_f64(),
        config.warmup.as_secs_f64(),
    );
    print!("{table}");

    let bars = bars(results)?;
    println!();
    println!("Bars:");
    for bar in &bars {
        println!(
            "  [{}] {} — {}",
            if bar.holds { "PASS" } else { "FAIL" },
            bar.name,
            bar.detail
        );
    }

    println!();
    println!("{}", audit.summary());

    println!("Auditing's cost to a create (through the store): {audit_cost}");
    println!("The funds ledger: {}", later["ledger"]);
    println!("Supervision: {}", later["supervision"]);

    let json = json!({
        "ledger": later["ledger"],
        "supervision": later["supervision"],
        "audit_cost": audit_cost,
        "audit_inclusion_proof": audit.json(),
        "config": {
            "connections": config.connections,
            "concurrency": config.concurrency,
            "warmup_secs": config.warmup.as_secs_f64(),
            "measure_secs": config.measure.as_secs_f64(),
            "seed_pairings": SEED_PAIRINGS,
        },
        "seed": {
            "regions_secs": regions_secs,
            "pairings_secs": pairings_secs,
        },
        "note": "peak_rss_mib is the VmHWM of the single bench process, shared by the duikou \
                 server, the bare baseline server and the client",
        "workloads": results.iter().map(|m| json!({
            "name": m.name,
            "server": m.server,
            "requests": m.ok,
            "secs": m.secs,
            "rps": m.rps,
            "p50_ms": m.p50_ms,
            "p99_ms": m.p99_ms,
            "max_ms": m.max_ms,
            "ratio_to_baseline": m.rps / baseline,
            "errors": m.errors,
            "warmup_errors": m.warmup_errors,
            "error_kinds": m.error_kinds,
            "peak_rss_mib": m.peak_rss_mib,
        })).collect::<Vec<_>>(),
        "bars": bars.iter().map(|b| json!({
            "name": b.name,
            "holds": b.holds,
            "detail": b.detail,
        })).collect::<Vec<_>>(),
    });
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "target", "bench-load.json"]
        .iter()
        .collect();
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&json).context("encoding the JSON report")?,
    )
    .with_context(|| format!("writing {}", path.display()))?;
    println!();
    println!("wrote {}", path.display());
    Ok(())
}

/// Audit events seeded for the inclusion-proof measurement, unless
/// `DUIKOU_BENCH_AUDIT_EVENTS` says otherwise.
const AUDIT_EVENTS: u64 = 1_000_000;
/// Audit events sealed per seeding transaction.
const AUDIT_ROWS_PER_TRANSACTION: u64 = 250_000;
/// Inclusion proofs timed, one after another.
const AUDIT_PROOFS: usize = 2_000;
/// Root computations timed.
const AUDIT_ROOTS: usize = 200;

/// What the audit inclusion-proof measurement saw.
struct AuditProofs {
    events: u64,
    seed_secs: f64,
    proofs: usize,
    failures: u64,
    proof_len_min: usize,
    proof_len_max: usize,
    secs: f64,
    p50_ms: f64,
    p99_ms: f64,
    mean_ms: f64,
    max_ms: f64,
    roots: usize,
    root_p50_ms: f64,
    root_p99_ms: f64,
    root_mean_ms: f64,
}

impl AuditProofs {
    fn summary(&self) -> String {
        let proofs_per_sec = self.proofs as f64 / self.secs;
        let lengths = if self.proof_len_min == self.proof_len_max {
            self.proof_len_min.to_string()
        } else {
            format!("{}–{}", self.proof_len_min, self.proof_len_max)
        };
        format!(
            "Audit inclusion proofs ({} events, separate SQLite store, called through the store \
             directly, one after another, no gRPC):\n  \
             seeded {} events and their tree in {:.2} s\n  \
             inclusion: {} proofs, {:.0} proofs/s, p50 {:.3} ms, p99 {:.3} ms, mean {:.3} ms, \
             max {:.3} ms, {} hashes per proof, {} failed verification\n  \
             root: {} calls, p50 {:.3} ms, p99 {:.3} ms, mean {:.3} ms",
            self.events,
            self.events,
            self.seed_secs,
            self.proofs,
            proofs_per_sec,
            self.p50_ms,
            self.p99_ms,
            self.mean_ms,
            self.max_ms,
            lengths,
            self.failures,
            self.roots,
            self.root_p50_ms,
            self.root_p99_ms,
            self.root_mean_ms,
        )
    }

    fn json(&self) -> serde_json::Value {
        json!({
            "events": self.events,
            "via": "duikou::store::audit::inclusion on the store, sequential, no gRPC",
            "seed_secs": self.seed_secs,
            "proofs": self.proofs,
            "errors": self.failures,
            "proof_hashes_min": self.proof_len_min,
            "proof_hashes_max": self.proof_len_max,
            "secs": self.secs,
            "proofs_per_sec": self.proofs as f64 / self.secs,
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "mean_ms": self.mean_ms,
            "max_ms": self.max_ms,
            "root": {
                "calls": self.roots,
                "p50_ms": self.root_p50_ms,
                "p99_ms": self.root_p99_ms,
                "mean_ms": self.root_mean_ms,
            },
        })
    }
}

/// Seeds a separate temporary store with the audit events and their tree, then times
/// inclusion proofs and roots through the store, checking every proof.
async fn audit_inclusion() -> Result<AuditProofs> {
    let events = match std::env::var("DUIKOU_BENCH_AUDIT_EVENTS") {
        Ok(v) => v
            .parse::<u64>()
            .with_context(|| format!("DUIKOU_BENCH_AUDIT_EVENTS={v} is not a count"))?,
        Err(_) => AUDIT_EVENTS,
    };
    ensure!(events > 0, "DUIKOU_BENCH_AUDIT_EVENTS must be at least 1");
    println!();
    println!("seeding a separate store with {events} audit events and their Merkle tree …");

    let dir = tempfile::tempdir().context("creating the audit temporary directory")?;
    let db_path = dir.path().join("audit.db");
    let settings = Settings::load(
        None,
        &Overrides {
            listen: Some("127.0.0.1:0".to_owned()),
            database_url: Some(format!("sqlite://{}?mode=rwc", db_path.display())),
        },
    )
    .context("loading the audit store's settings")?;
    let store = Store::connect(&settings.database)
        .await
        .context("opening the audit store")?;
    store.migrate().await.context("migrating the audit store")?;

    let started = Instant::now();
    seed_audit_events(&store, events)
        .await
        .context("seeding audit events")?;
    let seed_secs = started.elapsed().as_secs_f64();
    println!("  sealed {events} events and their tree in {seed_secs:.2} s");
    let size = duikou::store::audit::size(store.db())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("reading the audit size")?;
    ensure!(size == events, "the audit head says {size}, not {events}");

    let expected_root = duikou::store::audit::root(store.db(), events)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("computing the audit root")?;
    let mut root_us = Vec::with_capacity(AUDIT_ROOTS);
    for _ in 0..AUDIT_ROOTS {
        let start = Instant::now();
        let root = duikou::store::audit::root(store.db(), events)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))
            .context("computing the audit root")?;
        root_us.push(start.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
        ensure!(
            root == expected_root,
            "the audit root changed between calls"
        );
    }

    let mut rng = Rng::new(0xA0D1);
    let mut latencies = Vec::with_capacity(AUDIT_PROOFS);
    let mut failures = 0u64;
    let (mut len_min, mut len_max) = (usize::MAX, 0usize);
    let began = Instant::now();
    for _ in 0..AUDIT_PROOFS {
        let seq = rng.below(events) + 1;
        let start = Instant::now();
        let outcome = duikou::store::audit::inclusion(store.db(), seq, events).await;
        let micros = start.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
        match outcome {
            Ok((leaf, proof, root)) => {
                latencies.push(micros);
                len_min = len_min.min(proof.len());
                len_max = len_max.max(proof.len());
                if root != expected_root
                    || !duikou::domain::merkle::verify_inclusion(
                        seq - 1,
                        events,
                        &leaf,
                        &proof,
                        &root,
                    )
                {
                    failures += 1;
                }
            }
            Err(e) => {
                failures += 1;
                if failures <= 5 {
                    println!("  inclusion proof of {seq} failed: {e}");
                }
            }
        }
    }
    let secs = began.elapsed().as_secs_f64();

    store.close().await.context("closing the audit store")?;
    dir.close()
        .context("removing the audit temporary directory")?;

    let mean_ms = |us: &[u32]| {
        us.iter().map(|&u| f64::from(u)).sum::<f64>() / us.len().max(1) as f64 / 1000.0
    };
    let mean = mean_ms(&latencies);
    let root_mean = mean_ms(&root_us);
    latencies.sort_unstable();
    root_us.sort_unstable();
    Ok(AuditProofs {
        events,
        seed_secs,
        proofs: latencies.len(),
        failures,
        proof_len_min: if latencies.is_empty() { 0 } else { len_min },
        proof_len_max: len_max,
        secs,
        p50_ms: percentile_ms(&latencies, 0.50),
        p99_ms: percentile_ms(&latencies, 0.99),
        mean_ms: mean,
        max_ms: latencies
            .last()
            .map_or(f64::NAN, |&us| f64::from(us) / 1000.0),
        roots: root_us.len(),
        root_p50_ms: percentile_ms(&root_us, 0.50),
        root_p99_ms: percentile_ms(&root_us, 0.99),
        root_mean_ms: root_mean,
    })
}

/// Appends events 1..=`events` as the service does, sealing them with their tree in large
/// transactions.
async fn seed_audit_events(store: &Store, events: u64) -> Result<()> {
    const METHOD: &str = "/duikou.v1.PairingService/CreatePairing";
    let actor = duikou::domain::audit::Actor {
        token_id: Some(1),
        label: "load bench".to_owned(),
        role: Some(Role::Admin as i32),
    };
    let mut next = 1;
    while next <= events {
        let last = (next + AUDIT_ROWS_PER_TRANSACTION - 1).min(events);
        let pending = (next..=last)
            .map(|seq| {
                let resource = format!("pairings/{seq}");
                let digest = duikou::domain::merkle::leaf_hash(resource.as_bytes());
                PendingEvent {
                    actor: actor.clone(),
                    method: METHOD.to_owned(),
                    resource,
                    request_id: String::new(),
                    resource_sha256: duikou::store::audit::to_hex(&digest),
                }
            })
            .collect();
        let tx = store
            .db()
            .begin()
            .await
            .context("beginning an audit transaction")?;
        duikou::store::audit::seal(&tx, pending)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("sealing audit events {next}..={last}"))?;
        tx.commit().await.context("committing audit events")?;
        next = last + 1;
    }
    Ok(())
}

/// CreatePairing's database work, run through the store as the service runs it (one write
/// transaction per request, group-committed on SQLite) at the same concurrency, with its
/// audit event and without, three times each: what auditing costs a create. gRPC is left
/// out, which makes the audit's share look larger than a client sees it.
async fn audit_cost(config: &BenchConfig) -> Result<serde_json::Value> {
    use duikou::{
        api::digest,
        domain::{audit::Actor, pairing::CooperationField, period::Period, program::ProgramDraft},
        store::{
            audit,
            pairing::{self as pairings, NewPairing},
            program as programs,
            region::{self as regions, RegionRow},
        },
    };
    use sea_orm::{ColumnTrait, QueryFilter};

    println!();
    println!("measuring what auditing costs a create (through the store, no gRPC) …");
    let dir = tempfile::tempdir().context("creating the audit-cost directory")?;
    let settings = Settings::load(
        None,
        &Overrides {
            listen: None,
            database_url: Some(format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("cost.db").display()
            )),
        },
    )
    .context("loading the audit-cost settings")?;
    let store = Store::connect(&settings.database)
        .await
        .context("opening the audit-cost store")?;
    store.migrate().await.context("migrating")?;
    store.seed_regions().await.context("seeding regions")?;
    let draft = ProgramDraft::new(
        "京堰对口协作".to_owned(),
        String::new(),
        "2021-01-01",
        "2035-12-31",
        String::new(),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let program = programs::insert(store.db(), &draft)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let townships = |prefix: &'static str| {
        region::Entity::find()
            .filter(region::Column::Level.eq(4))
            .filter(region::Column::Path.starts_with(prefix))
            .all(store.db())
    };
    let supporting: Arc<Vec<RegionRow>> =
        Arc::new(townships("/110000/").await.context("Beijing townships")?);
    let supported: Arc<Vec<RegionRow>> =
        Arc::new(townships("/420000/").await.context("Hubei townships")?);
    let period = Period::new("period_end", date("2021-01-01")?, date("2025-12-31")?)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let next = Arc::new(AtomicUsize::new(0));

    // Interleaved rounds, the order flipping each round, so that neither side always runs
    // on the larger database or the warmer cache.
    let order = [[false, true], [true, false], [false, true]];
    let mut rates = Vec::new();
    for audited in order.into_iter().flatten() {
        let until = Instant::now() + config.warmup + config.measure;
        let measure_from = Instant::now() + config.warmup;
        let mut tasks = JoinSet::new();
        for _ in 0..config.concurrency {
            let (store, supporting, supported, next) = (
                store.clone(),
                supporting.clone(),
                supported.clone(),
                next.clone(),
            );
            let program_id = program.id;
            tasks.spawn(async move {
                let (mut done, mut errors) = (0u64, 0u64);
                while Instant::now() < until {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let a = supporting[n % supporting.len()].clone();
                    let b = supported[(n / supporting.len()) % supported.len()].clone();
                    let started = Instant::now();
                    let outcome = store
                        .write(move |tx| {
                            let (a, b) = (a.clone(), b.clone());
                            Box::pin(async move {
                                programs::get_for_share(tx, program_id).await?;
                                let codes = [
                                    duikou::domain::region::RegionCode::from_stored(a.code.clone()),
                                    duikou::domain::region::RegionCode::from_stored(b.code.clone()),
                                ];
                                regions::get_many(tx, &[&codes[0], &codes[1]]).await?;
                                let row = pairings::insert(
                                    tx,
                                    &NewPairing {
                                        program_id,
                                        supporting: &a,
                                        supported: &b,
                                        parent_id: None,
                                        fields: &[CooperationField::WaterSource],
                                        period,
                                    },
                                )
                                .await?;
                                if audited {
                                    let name = format!("pairings/{}", row.id);
                                    let after = duikou::proto::v1::Pairing {
                                        name: name.clone(),
                                        ..Default::default()
                                    };
                                    audit::append(PendingEvent {
                                        actor: Actor::command_line(),
                                        method: "/duikou.v1.PairingService/CreatePairing"
                                            .to_owned(),
                                        resource: name,
                                        request_id: String::new(),
                                        resource_sha256: digest(&after),
                                    })?;
                                }
                                Ok(())
                            })
                        })
                        .await;
                    if started >= measure_from {
                        match outcome {
                            Ok(()) => done += 1,
                            Err(_) => errors += 1,
                        }
                    }
                }
                (done, errors)
            });
        }
        let (mut done, mut errors) = (0u64, 0u64);
        while let Some(joined) = tasks.join_next().await {
            let (d, e) = joined.context("an audit-cost task panicked")?;
            done += d;
            errors += e;
        }
        let rate = done as f64 / config.measure.as_secs_f64();
        println!(
            "  creates {} auditing: {rate:.0}/s, {errors} errors",
            if audited { "with" } else { "without" }
        );
        rates.push((audited, rate, errors));
    }
    store
        .close()
        .await
        .context("closing the audit-cost store")?;
    let mean = |audited: bool| {
        let side: Vec<f64> = rates
            .iter()
            .filter(|r| r.0 == audited)
            .map(|r| r.1)
            .collect();
        side.iter().sum::<f64>() / side.len() as f64
    };
    let (with, without) = (mean(true), mean(false));
    let errors: u64 = rates.iter().map(|r| r.2).sum();
    let ratio = with / without;
    let holds = ratio >= 0.9 && errors == 0;
    println!(
        "  [{}] creates with auditing ≥ 0.9 × without — {with:.0} vs {without:.0}/s over {} \
         rounds = {ratio:.3}×, {errors} errors",
        if holds { "PASS" } else { "FAIL" },
        order.len(),
    );
    Ok(json!({
        "through": "the store, no gRPC",
        "rounds": order.len(),
        "phases": rates.iter().map(|r| json!({"audited": r.0, "per_sec": r.1, "errors": r.2})).collect::<Vec<_>>(),
        "without_audit_per_sec": without,
        "with_audit_per_sec": with,
        "errors": errors,
        "ratio": ratio,
        "holds": holds,
    }))
}
