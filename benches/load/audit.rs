//! The audit log under load, through the store with no gRPC: inclusion proofs and roots
//! over a large stored Merkle tree, and what auditing costs a create.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Instant,
};

use anyhow::{Context, Result, ensure};
use duikou::{
    config::{Overrides, Settings},
    domain::{
        access::Role,
        audit::{Audited, Call},
        pairing::CooperationField,
        period::Period,
        program::{ProgramDraft, ProgramFields},
        region::{RegionCode, RegionLevel},
    },
    error::Error,
    store::{
        Store,
        audit::PendingEvent,
        entities::region,
        pairing::{self as pairings, NewPairing},
        program as programs,
        region::{self as regions, RegionRow},
        tx::{Change, Tx},
    },
};
use sea_orm::{EntityTrait, TransactionTrait};
use serde_json::json;
use tokio::task::JoinSet;

use crate::{
    driver::{Rng, percentile_ms},
    knobs::BenchConfig,
    seed::date,
};

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
pub struct AuditProofs {
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
    pub fn summary(&self) -> String {
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

    pub fn json(&self) -> serde_json::Value {
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
pub async fn inclusion() -> Result<AuditProofs> {
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
    seed_events(&store, events)
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
async fn seed_events(store: &Store, events: u64) -> Result<()> {
    const METHOD: &str = "/duikou.v1.PairingService/CreatePairing";
    let actor = duikou::domain::audit::Actor {
        token_id: Some(1),
        label: "load bench".to_owned(),
        role: Some(Role::Admin),
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

/// The method the audit-cost events name.
const CREATE_PAIRING: &str = "/duikou.v1.PairingService/CreatePairing";

/// CreatePairing's database work without its checks of placement and scope: the program
/// and both regions read, the pairing inserted, and, when `audited`, its audit event.
struct BarePairing {
    program_id: i64,
    supporting: RegionRow,
    supported: RegionRow,
    period: Period,
    audited: bool,
}

impl Change for BarePairing {
    type Output = ();

    async fn apply(&self, tx: &mut Tx<'_>) -> Result<(), Error> {
        duikou::store::by_id::<programs::ProgramRow>(
            tx.db(),
            self.program_id,
            duikou::store::Hold::Share,
        )
        .await?;
        let codes = [
            RegionCode::from_stored(self.supporting.code.clone()),
            RegionCode::from_stored(self.supported.code.clone()),
        ];
        regions::get_many(tx.db(), &[&codes[0], &codes[1]]).await?;
        let row = pairings::insert(
            tx.db(),
            &NewPairing {
                program_id: self.program_id,
                supporting: &self.supporting,
                supported: &self.supported,
                parent_id: None,
                fields: &[CooperationField::WaterSource],
                period: self.period,
            },
        )
        .await?;
        if self.audited {
            tx.record(None, &BareName(row.id));
        }
        Ok(())
    }
}

/// A pairing as the audit-cost events see it: its name, and the digest of a message that
/// carries only the name.
struct BareName(i64);

impl Audited for BareName {
    fn audit_name(&self) -> String {
        format!("pairings/{}", self.0)
    }

    fn audit_digest(&self) -> String {
        duikou::api::digest(&duikou::proto::v1::Pairing {
            name: self.audit_name(),
            ..Default::default()
        })
    }
}

/// CreatePairing's database work, run through the store as the service runs it (one write
/// transaction per request, group-committed on SQLite) at the same concurrency, with its
/// audit event and without, three times each: what auditing costs a create. gRPC is left
/// out, which makes the audit's share look larger than a client sees it.
pub async fn cost(config: &BenchConfig) -> Result<serde_json::Value> {
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
    let draft = ProgramDraft::parse(&ProgramFields {
        display_name: "京堰对口协作".to_owned(),
        period_start: "2021-01-01".to_owned(),
        period_end: "2035-12-31".to_owned(),
        ..ProgramFields::default()
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let program = programs::insert(store.db(), &draft)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let townships = |prefix: &'static str| {
        region::Entity::find()
            .filter(region::Column::Level.eq(RegionLevel::Township))
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
                    let create = BarePairing {
                        program_id,
                        supporting: a,
                        supported: b,
                        period,
                        audited,
                    };
                    let outcome = store
                        .write(Call::command_line(CREATE_PAIRING), create)
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
