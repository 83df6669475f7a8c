//! The load driver: HTTP/2 connections that authenticate their calls, the requests of the
//! read and create workloads, and `drive`, which sends one kind of request from many tasks
//! as fast as each can for a fixed time and measures throughput, latency percentiles and
//! the process's peak RSS.

use std::{collections::BTreeMap, net::SocketAddr, sync::Arc, time::Instant};

use anyhow::{Context, Result};
use duikou::proto::v1::{
    CreatePairingRequest, GetPairingRequest, GetRegionRequest, ListPairingsRequest,
    pairing_service_client::PairingServiceClient, region_service_client::RegionServiceClient,
};
use tokio::task::JoinSet;
use tonic::{
    Request, Status,
    metadata::{Ascii, MetadataValue},
    service::{Interceptor, interceptor::InterceptedService},
    transport::{Channel, Endpoint},
};

use crate::{knobs::BenchConfig, seed::CreatePlan};

/// Adds the bench's ADMIN token to every call; the bare server ignores it.
#[derive(Clone)]
pub struct Bearer(MetadataValue<Ascii>);

impl Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

/// A connection that authenticates its calls.
pub type Authed = InterceptedService<Channel, Bearer>;

/// `count` HTTP/2 connections to `addr`, each adding the bearer `secret` to every call.
pub async fn connect(addr: SocketAddr, count: usize, secret: &str) -> Result<Vec<Authed>> {
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

/// The page size of the ListPairings workloads.
pub const PAGE_SIZE: i32 = 50;

/// One kind of request, with what it needs to vary.
#[derive(Clone)]
pub enum Op {
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
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn below(&mut self, n: u64) -> u64 {
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
pub struct Measured {
    pub name: &'static str,
    pub server: &'static str,
    pub ok: usize,
    pub errors: u64,
    pub warmup_errors: u64,
    pub error_kinds: BTreeMap<String, u64>,
    pub secs: f64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub peak_rss_mib: f64,
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
pub async fn drive(
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
pub fn percentile_ms(sorted_us: &[u32], q: f64) -> f64 {
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
