//! The funds ledger under load: RecordFundTransaction from many concurrent clients on a
//! durable SQLite file, then GetFundSummary over a program of `DUIKOU_BENCH_LEDGER_LINES`
//! (default 1,000,000) ledger lines.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Instant,
};

use anyhow::{Context, Result, ensure};
use duikou::{
    domain::{
        access::Role,
        audit::Call,
        ledger::{Entry, Instrument, Kind, LineDraft, Source},
        money::Amount,
        region::RegionLevel,
    },
    error::Error,
    proto::v1::{
        ApproveProjectRequest, CreatePairingRequest, CreateProgramRequest, CreateProjectRequest,
        FundTransaction, GetFundSummaryRequest, GetRegionRequest, Money, Pairing, Program, Project,
        RecordFundTransactionRequest, StartProjectRequest, fund_service_client::FundServiceClient,
        pairing_service_client::PairingServiceClient, project_service_client::ProjectServiceClient,
        region_service_client::RegionServiceClient,
    },
    store::{
        Store,
        entities::{fund_transaction, region},
        fund,
        tx::{Change, Tx},
    },
};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::json;
use tokio::task::JoinSet;

use crate::{
    driver::{Authed, connect, percentile_ms},
    knobs::BenchConfig,
    servers::OwnServer,
};

/// Pairings (and one project under each) the ledger workload spreads its lines over.
const PAIRINGS: usize = 64;
/// Fiscal years the lines fall in.
const YEARS: [i32; 5] = [2021, 2022, 2023, 2024, 2025];
/// Ledger lines the summary is measured over, unless `DUIKOU_BENCH_LEDGER_LINES` says
/// otherwise.
const SUMMARY_LINES: u64 = 1_000_000;
/// Lines posted per seeding transaction.
const SEED_BATCH: u64 = 10_000;
/// Summaries timed, one after another.
const SUMMARIES: usize = 2_000;
/// The bar: ledger lines recorded per second.
const LINES_PER_SEC_BAR: f64 = 5_000.0;
/// The bar: p99 of GetFundSummary, in milliseconds.
const SUMMARY_P99_BAR_MS: f64 = 5.0;

fn cny(yuan: i64) -> Money {
    Money {
        currency_code: "CNY".to_owned(),
        units: yuan,
        nanos: 0,
    }
}

/// What the ledger workloads need: the program, pairings and projects, all open.
#[derive(Clone)]
struct Books {
    program: String,
    pairings: Vec<String>,
    projects: Vec<String>,
    pairing_ids: Vec<i64>,
    project_ids: Vec<i64>,
}

/// Runs both ledger measurements on their own server and SQLite file; returns their
/// figures.
pub async fn measure(config: &BenchConfig) -> Result<serde_json::Value> {
    let lines_wanted = match std::env::var("DUIKOU_BENCH_LEDGER_LINES") {
        Ok(v) => v
            .parse::<u64>()
            .with_context(|| format!("DUIKOU_BENCH_LEDGER_LINES={v} is not a count"))?,
        Err(_) => SUMMARY_LINES,
    };
    println!();
    println!("the funds ledger, on its own server and SQLite file …");
    let own = OwnServer::start("ledger", Role::Admin).await?;
    let outcome = async {
        let channels = connect(own.addr, config.connections, &own.secret).await?;
        let books = open_books(&own.store, &channels[0]).await?;
        let record = record_lines(config, &channels, &books).await?;
        let summary = time_summaries(&own.store, &channels[0], &books, lines_wanted).await?;
        Ok::<_, anyhow::Error>(json!({ "record": record, "summary": summary }))
    }
    .await;
    own.stop().await?;
    outcome
}

/// Creates a program, `PAIRINGS` pairings of Beijing townships with Hubei townships, a
/// started project under each, and ample commitments and allocations for every year.
async fn open_books(store: &Store, channel: &Authed) -> Result<Books> {
    let mut pairings_api = PairingServiceClient::new(channel.clone());
    let mut projects_api = ProjectServiceClient::new(channel.clone());
    let mut funds_api = FundServiceClient::new(channel.clone());
    let townships = |prefix: &'static str| {
        region::Entity::find()
            .filter(region::Column::Level.eq(RegionLevel::Township))
            .filter(region::Column::Path.starts_with(prefix))
            .order_by_asc(region::Column::Code)
            .all(store.db())
    };
    let beijing = townships("/110000/").await.context("Beijing townships")?;
    let hubei = townships("/420000/").await.context("Hubei townships")?;
    ensure!(
        beijing.len() >= PAIRINGS && hubei.len() >= PAIRINGS,
        "too few townships"
    );
    let program = pairings_api
        .create_program(CreateProgramRequest {
            program: Some(Program {
                display_name: "京堰对口协作（基准）".to_owned(),
                period_start: "2021-01-01".to_owned(),
                period_end: "2025-12-31".to_owned(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .context("creating the program")?
        .into_inner();
    let mut books = Books {
        program: program.name.clone(),
        pairings: Vec::new(),
        projects: Vec::new(),
        pairing_ids: Vec::new(),
        project_ids: Vec::new(),
    };
    for i in 0..PAIRINGS {
        let pairing = pairings_api
            .create_pairing(CreatePairingRequest {
                pairing: Some(Pairing {
                    program: program.name.clone(),
                    supporting_region: format!("regions/{}", beijing[i].code),
                    supported_region: format!("regions/{}", hubei[i].code),
                    fields: vec![4],
                    period_start: "2021-01-01".to_owned(),
                    period_end: "2025-12-31".to_owned(),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .context("creating a pairing")?
            .into_inner();
        let project = projects_api
            .create_project(CreateProjectRequest {
                project: Some(Project {
                    pairing: pairing.name.clone(),
                    display_name: format!("水源保护项目 {i}"),
                    field: 4,
                    location: pairing.supported_region.clone(),
                    implementing_org: "县水务局".to_owned(),
                    budget: Some(cny(100_000_000_000)),
                    planned_start: "2021-03-01".to_owned(),
                    planned_end: "2025-10-31".to_owned(),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .context("creating a project")?
            .into_inner();
        for step in 0..2 {
            let name = project.name.clone();
            let etag = String::new();
            if step == 0 {
                projects_api
                    .approve_project(ApproveProjectRequest { name, etag })
                    .await
                    .context("approving a project")?;
            } else {
                projects_api
                    .start_project(StartProjectRequest { name, etag })
                    .await
                    .context("starting a project")?;
            }
        }
        for year in YEARS {
            for (kind, line) in [
                (1, (pairing.name.clone(), String::new(), 100_000_000_000)),
                (2, (String::new(), project.name.clone(), 10_000_000_000)),
            ] {
                funds_api
                    .record_fund_transaction(RecordFundTransactionRequest {
                        fund_transaction: Some(FundTransaction {
                            kind,
                            pairing: line.0,
                            project: line.1,
                            fiscal_year: year,
                            amount: Some(cny(line.2)),
                            source: 1,
                            instrument: 1,
                            value_date: format!("{year}-01-15"),
                            ..Default::default()
                        }),
                        request_id: String::new(),
                    })
                    .await
                    .context("opening the books")?;
            }
        }
        let id = |name: &str| name.rsplit('/').next().unwrap_or_default().parse::<i64>();
        books.pairing_ids.push(id(&pairing.name)?);
        books.project_ids.push(id(&project.name)?);
        books.pairings.push(pairing.name);
        books.projects.push(project.name);
    }
    Ok(books)
}

/// The `n`th line of the workload: a commitment, allocation or disbursement of one yuan,
/// spread over pairings, years, sources and instruments.
fn nth_line(books: &Books, n: usize) -> FundTransaction {
    let pairing = n % PAIRINGS;
    let kind = 1 + (n / PAIRINGS) % 3;
    FundTransaction {
        kind: kind as i32,
        pairing: if kind == 1 {
            books.pairings[pairing].clone()
        } else {
            String::new()
        },
        project: if kind == 1 {
            String::new()
        } else {
            books.projects[pairing].clone()
        },
        fiscal_year: YEARS[n % YEARS.len()],
        amount: Some(cny(1)),
        source: 1 + (n % 4) as i32,
        instrument: 1 + ((n / 4) % 4) as i32,
        payee: if kind == 3 {
            "施工单位".to_owned()
        } else {
            String::new()
        },
        value_date: "2025-06-30".to_owned(),
        ..Default::default()
    }
}

/// RecordFundTransaction from `config.concurrency` clients at once for the measured time.
async fn record_lines(
    config: &BenchConfig,
    channels: &[Authed],
    books: &Books,
) -> Result<serde_json::Value> {
    let books = Arc::new(books.clone());
    let next = Arc::new(AtomicUsize::new(0));
    let until = Instant::now() + config.warmup + config.measure;
    let measure_from = Instant::now() + config.warmup;
    let mut tasks = JoinSet::new();
    for t in 0..config.concurrency {
        let mut client = FundServiceClient::new(channels[t % channels.len()].clone());
        let (books, next) = (books.clone(), next.clone());
        tasks.spawn(async move {
            let (mut latencies, mut errors) = (Vec::new(), 0u64);
            while Instant::now() < until {
                let line = nth_line(&books, next.fetch_add(1, Ordering::Relaxed));
                let started = Instant::now();
                let outcome = client
                    .record_fund_transaction(RecordFundTransactionRequest {
                        fund_transaction: Some(line),
                        request_id: String::new(),
                    })
                    .await;
                if started >= measure_from {
                    match outcome {
                        Ok(_) => latencies.push(started.elapsed().as_micros() as u32),
                        Err(_) => errors += 1,
                    }
                }
            }
            (latencies, errors)
        });
    }
    let (mut latencies, mut errors) = (Vec::new(), 0u64);
    while let Some(joined) = tasks.join_next().await {
        let (l, e) = joined.context("a ledger client panicked")?;
        latencies.extend(l);
        errors += e;
    }
    latencies.sort_unstable();
    let rate = latencies.len() as f64 / config.measure.as_secs_f64();
    let holds = rate >= LINES_PER_SEC_BAR && errors == 0;
    println!(
        "  RecordFundTransaction: {rate:.0} lines/s, p50 {:.3} ms, p99 {:.3} ms, {errors} errors",
        percentile_ms(&latencies, 0.5),
        percentile_ms(&latencies, 0.99)
    );
    println!(
        "  [{}] RecordFundTransaction ≥ {LINES_PER_SEC_BAR:.0} lines/s with 0 errors \
         ({} clients, durable SQLite)",
        if holds { "PASS" } else { "FAIL" },
        config.concurrency
    );
    Ok(json!({
        "lines_per_sec": rate,
        "p50_ms": percentile_ms(&latencies, 0.5),
        "p99_ms": percentile_ms(&latencies, 0.99),
        "errors": errors,
        "holds": holds,
    }))
}

/// Tops the ledger up to `wanted` lines through the store, then times GetFundSummary for
/// the program, one call after another, against GetRegion on the same server.
async fn time_summaries(
    store: &Store,
    channel: &Authed,
    books: &Books,
    wanted: u64,
) -> Result<serde_json::Value> {
    let have = fund_transaction::Entity::find()
        .count(store.db())
        .await
        .context("counting ledger lines")?;
    let started = Instant::now();
    let mut n = have;
    while n < wanted {
        let count = SEED_BATCH.min(wanted - n);
        let entries = (n..n + count)
            .map(|i| seed_entry(books, i as usize))
            .collect::<Result<_>>()?;
        store
            .write(Call::internal("seeding ledger lines"), Seed(entries))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))
            .context("seeding ledger lines")?;
        n += count;
    }
    let seed_secs = started.elapsed().as_secs_f64();
    println!(
        "  the ledger holds {n} lines ({} added through the store in {seed_secs:.1} s)",
        n - have
    );

    let mut funds = FundServiceClient::new(channel.clone());
    let mut regions = RegionServiceClient::new(channel.clone());
    let mut summary_us = Vec::with_capacity(SUMMARIES);
    let mut region_us = Vec::with_capacity(SUMMARIES);
    let mut province_us = Vec::with_capacity(SUMMARIES);
    let mut committed = None;
    for i in 0..SUMMARIES {
        let start = Instant::now();
        let summary = funds
            .get_fund_summary(GetFundSummaryRequest {
                scope: books.program.clone(),
                fiscal_year: if i % 2 == 0 { 0 } else { 2025 },
            })
            .await
            .context("GetFundSummary")?
            .into_inner();
        summary_us.push(start.elapsed().as_micros() as u32);
        if i == 0 {
            committed = summary.totals.and_then(|t| t.committed);
        }
        let start = Instant::now();
        regions
            .get_region(GetRegionRequest {
                name: "regions/420381".to_owned(),
            })
            .await
            .context("GetRegion")?;
        region_us.push(start.elapsed().as_micros() as u32);
        // Hubei holds the supported side of every pairing: summed from their totals.
        let start = Instant::now();
        funds
            .get_fund_summary(GetFundSummaryRequest {
                scope: "regions/420000".to_owned(),
                fiscal_year: if i % 2 == 0 { 0 } else { 2025 },
            })
            .await
            .context("GetFundSummary of a province")?;
        province_us.push(start.elapsed().as_micros() as u32);
    }
    summary_us.sort_unstable();
    region_us.sort_unstable();
    province_us.sort_unstable();
    let p99 = percentile_ms(&summary_us, 0.99);
    let holds = p99 < SUMMARY_P99_BAR_MS;
    println!(
        "  GetFundSummary of the program over {n} lines: p50 {:.3} ms, p99 {p99:.3} ms; \
         GetRegion on the same server p50 {:.3} ms, p99 {:.3} ms (committed: {:?})",
        percentile_ms(&summary_us, 0.5),
        percentile_ms(&region_us, 0.5),
        percentile_ms(&region_us, 0.99),
        committed.map(|m| m.units),
    );
    println!(
        "  GetFundSummary of Hubei (the {PAIRINGS} pairings' supported side): p50 {:.3} ms, \
         p99 {:.3} ms",
        percentile_ms(&province_us, 0.5),
        percentile_ms(&province_us, 0.99),
    );
    println!(
        "  [{}] GetFundSummary p99 < {SUMMARY_P99_BAR_MS} ms at {n} lines — {p99:.3} ms",
        if holds { "PASS" } else { "FAIL" }
    );
    Ok(json!({
        "lines": n,
        "seed_secs": seed_secs,
        "calls": SUMMARIES,
        "p50_ms": percentile_ms(&summary_us, 0.5),
        "p99_ms": p99,
        "province_p50_ms": percentile_ms(&province_us, 0.5),
        "province_p99_ms": percentile_ms(&province_us, 0.99),
        "get_region_p50_ms": percentile_ms(&region_us, 0.5),
        "get_region_p99_ms": percentile_ms(&region_us, 0.99),
        "p99_ratio_to_get_region": p99 / percentile_ms(&region_us, 0.99),
        "holds": holds,
    }))
}

/// Ledger lines put straight into the books, to seed them: posted without a caller, a
/// request id or an audit event.
struct Seed(Vec<Entry>);

impl Change for Seed {
    type Output = ();

    async fn apply(&self, tx: &mut Tx<'_>) -> Result<(), Error> {
        let refs: Vec<&Entry> = self.0.iter().collect();
        let mut ledger = fund::load_books(tx.db(), &refs).await?;
        let mut postings = Vec::with_capacity(refs.len());
        for entry in &refs {
            postings.push((ledger.books.post(entry)?, None));
        }
        fund::write(tx.db(), &ledger, &postings).await.map(drop)
    }
}

/// The `i`th seeded line, as the service would post it.
fn seed_entry(books: &Books, i: usize) -> Result<Entry> {
    let line = nth_line(books, i);
    let kind = Kind::from_number(line.kind).context("kind")?;
    let pairing = i % PAIRINGS;
    Ok(Entry::Record(LineDraft {
        kind,
        pairing_id: (kind == Kind::Commitment).then(|| books.pairing_ids[pairing]),
        project_id: (kind != Kind::Commitment).then(|| books.project_ids[pairing]),
        fiscal_year: line.fiscal_year,
        amount: Amount::parse("amount", "CNY", 1, 0).map_err(|e| anyhow::anyhow!("{e}"))?,
        source: Source::from_number(line.source).context("source")?,
        instrument: Instrument::from_number(line.instrument).context("instrument")?,
        payee: line.payee,
        payee_organization_id: None,
        value_date: chrono::NaiveDate::from_ymd_opt(2025, 6, 30).context("date")?,
        memo: String::new(),
    }))
}
