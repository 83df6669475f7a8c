//! Supervision under load, on its own server and durable SQLite file:
//! SubmitSupervisionEntry from many concurrent clients against GetRegion driven the same
//! way on the same server; then the store topped up to `DUIKOU_BENCH_SUPERVISION_ENTRIES`
//! entries (default 1,000,000) in a realistic mix of states and due dates, and
//! ListSupervisionEntries with `overdue = true` timed one call after another (first pages,
//! pages deep in the list, and one county's overdue entries) against GetRegion.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Instant,
};

use anyhow::{Context, Result};
use chrono::{Days, Utc};
use duikou::{
    domain::{
        access::Role,
        supervision::{Category, Party, Severity, State},
    },
    proto::v1::{
        GetRegionRequest, ListSupervisionEntriesRequest, SubmitSupervisionEntryRequest,
        SupervisionEntry, region_service_client::RegionServiceClient,
        supervision_service_client::SupervisionServiceClient,
    },
    store::{
        Store,
        entities::{region, supervision_entry},
    },
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    TransactionTrait,
};
use serde_json::json;
use tokio::task::JoinSet;

use crate::{
    driver::{Authed, connect, percentile_ms},
    knobs::BenchConfig,
    servers::OwnServer,
};

/// Entries the list is measured over, unless `DUIKOU_BENCH_SUPERVISION_ENTRIES` says
/// otherwise.
const LIST_ENTRIES: u64 = 1_000_000;
/// Rows per INSERT while seeding (27 bound columns each, under SQLite's 32,766).
const INSERT_CHUNK: usize = 1_000;
/// Rows per seeding transaction.
const ROWS_PER_TRANSACTION: usize = 50_000;
/// List calls timed per kind, one after another.
const LISTS: usize = 1_000;
/// Pages walked for the deep list.
const DEEP_PAGES: usize = 200;
/// The list's page size.
const PAGE_SIZE: i32 = 50;
/// The years the seeded entries were filed over.
const SEED_YEARS: u64 = 3;

/// Runs both supervision measurements; returns their figures.
pub async fn measure(config: &BenchConfig) -> Result<serde_json::Value> {
    let wanted = match std::env::var("DUIKOU_BENCH_SUPERVISION_ENTRIES") {
        Ok(v) => v
            .parse::<u64>()
            .with_context(|| format!("DUIKOU_BENCH_SUPERVISION_ENTRIES={v} is not a count"))?,
        Err(_) => LIST_ENTRIES,
    };
    println!();
    println!("supervision, on its own server and SQLite file …");
    let own = OwnServer::start("supervision", Role::Supervisor).await?;
    let store = &own.store;
    let counties = region::Entity::find()
        .filter(region::Column::Level.eq(3))
        .filter(region::Column::Path.starts_with("/420000/"))
        .order_by_asc(region::Column::Code)
        .all(store.db())
        .await
        .context("Hubei's counties")?;
    anyhow::ensure!(!counties.is_empty(), "no counties in Hubei");

    let outcome = async {
        let channels = connect(own.addr, config.connections, &own.secret).await?;
        let codes: Arc<Vec<String>> = Arc::new(counties.iter().map(|c| c.code.clone()).collect());
        let baseline = hammer(config, &channels, &codes, Op::GetRegion).await?;
        let submit = hammer(config, &channels, &codes, Op::Submit).await?;
        let ratio = submit.rate / baseline.rate;
        println!(
            "  SubmitSupervisionEntry: {:.0} entries/s, p50 {:.3} ms, p99 {:.3} ms, {} errors; \
             GetRegion the same way {:.0}/s: ratio {ratio:.3}",
            submit.rate, submit.p50_ms, submit.p99_ms, submit.errors, baseline.rate
        );
        let lists = time_lists(store, &channels[0], &counties, wanted).await?;
        Ok::<_, anyhow::Error>(json!({
            "submit": {
                "entries_per_sec": submit.rate,
                "p50_ms": submit.p50_ms,
                "p99_ms": submit.p99_ms,
                "errors": submit.errors,
                "get_region_per_sec": baseline.rate,
                "ratio_to_get_region": ratio,
            },
            "list_overdue": lists,
        }))
    }
    .await;

    own.stop().await?;
    outcome
}

#[derive(Clone, Copy)]
enum Op {
    GetRegion,
    Submit,
}

struct Rate {
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
}

/// The `n`th filed entry: a finding about one of Hubei's counties, of every party,
/// category and severity in turn.
fn nth_entry(codes: &[String], n: usize) -> SupervisionEntry {
    SupervisionEntry {
        party: 1 + (n % 6) as i32,
        region: format!("regions/{}", codes[n % codes.len()]),
        category: 1 + (n % 7) as i32,
        severity: 1 + (n % 4) as i32,
        title: "库区支流发现排污口".to_owned(),
        description: "官山河下游右岸有一处暗管向河道排放污水，水体发黑有异味。".to_owned(),
        ..Default::default()
    }
}

/// `op` from `config.concurrency` clients at once for the measured time.
async fn hammer(
    config: &BenchConfig,
    channels: &[Authed],
    codes: &Arc<Vec<String>>,
    op: Op,
) -> Result<Rate> {
    let next = Arc::new(AtomicUsize::new(0));
    let until = Instant::now() + config.warmup + config.measure;
    let measure_from = Instant::now() + config.warmup;
    let mut tasks = JoinSet::new();
    for t in 0..config.concurrency {
        let channel = channels[t % channels.len()].clone();
        let mut supervision = SupervisionServiceClient::new(channel.clone());
        let mut regions = RegionServiceClient::new(channel);
        let (codes, next) = (codes.clone(), next.clone());
        tasks.spawn(async move {
            let (mut latencies, mut errors) = (Vec::new(), 0u64);
            while Instant::now() < until {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let started = Instant::now();
                let outcome = match op {
                    Op::GetRegion => regions
                        .get_region(GetRegionRequest {
                            name: format!("regions/{}", codes[n % codes.len()]),
                        })
                        .await
                        .map(drop),
                    Op::Submit => supervision
                        .submit_supervision_entry(SubmitSupervisionEntryRequest {
                            supervision_entry: Some(nth_entry(&codes, n)),
                            request_id: String::new(),
                        })
                        .await
                        .map(drop),
                };
                if started >= measure_from {
                    match outcome {
                        Ok(()) => latencies.push(started.elapsed().as_micros() as u32),
                        Err(_) => errors += 1,
                    }
                }
            }
            (latencies, errors)
        });
    }
    let (mut latencies, mut errors) = (Vec::new(), 0u64);
    while let Some(joined) = tasks.join_next().await {
        let (l, e) = joined.context("a supervision client panicked")?;
        latencies.extend(l);
        errors += e;
    }
    latencies.sort_unstable();
    Ok(Rate {
        rate: latencies.len() as f64 / config.measure.as_secs_f64(),
        p50_ms: percentile_ms(&latencies, 0.5),
        p99_ms: percentile_ms(&latencies, 0.99),
        errors,
    })
}

/// A small deterministic mixer, so the seeded mix is the same on every run.
fn mix(i: u64) -> u64 {
    let mut x = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The `i`th of `total` seeded entries: filed over the last `SEED_YEARS` years in id
/// order; 60% closed, 10% resolved, 6% rectifying, 3% accepted, 15% submitted and 6%
/// rejected; accepted ones due 30 to 90 days after filing, so the open ones filed long
/// enough ago are overdue.
fn seeded(
    i: u64,
    total: u64,
    counties: &[region::Model],
    now: chrono::DateTime<Utc>,
) -> supervision_entry::ActiveModel {
    let span_secs = 365 * 86_400 * SEED_YEARS as i64;
    let filed = now - chrono::Duration::seconds(span_secs)
        + chrono::Duration::seconds(span_secs * i as i64 / total.max(1) as i64);
    let r = mix(i);
    let state = match r % 100 {
        0..60 => State::Closed,
        60..70 => State::Resolved,
        70..76 => State::Rectifying,
        76..79 => State::Accepted,
        79..94 => State::Submitted,
        _ => State::Rejected,
    };
    let accepted = matches!(
        state,
        State::Accepted | State::Rectifying | State::Resolved | State::Closed
    );
    let due = accepted.then(|| {
        (filed + chrono::Duration::hours(8))
            .date_naive()
            .checked_add_days(Days::new(30 + (r >> 8) % 61))
            .unwrap_or_default()
    });
    let resolved = matches!(state, State::Resolved | State::Closed);
    let took_days = 1 + (r >> 16) % 120;
    let county = &counties[(r >> 24) as usize % counties.len()];
    supervision_entry::ActiveModel {
        party: Set(Party::ALL[((r >> 32) % 6) as usize]),
        subject: Set(String::new()),
        region_code: Set(county.code.clone()),
        region_path: Set(county.path.clone()),
        category: Set(Category::ALL[((r >> 36) % 7) as usize]),
        severity: Set(Severity::ALL[((r >> 40) % 4) as usize]),
        title: Set("库区支流发现排污口".to_owned()),
        description: Set("官山河下游右岸有一处暗管向河道排放污水。".to_owned()),
        evidence: Set("[]".to_owned()),
        reporter_name: Set(String::new()),
        reporter_contact: Set(String::new()),
        responsible_unit: Set(if accepted {
            "县生态环境局".to_owned()
        } else {
            String::new()
        }),
        due_date: Set(due),
        state: Set(state),
        resolve_time: Set(resolved.then(|| filed + chrono::Duration::days(took_days as i64))),
        tracking_hash: Set(None),
        event_count: Set(0),
        create_time: Set(filed),
        update_time: Set(filed),
        revision: Set(1),
        pairing_id: Set(None),
        project_id: Set(None),
        resolve_seconds: Set(resolved.then_some(took_days as i64 * 86_400)),
        resolved_on_time: Set(resolved.then_some(took_days <= 60)),
        ..Default::default()
    }
}

/// Tops the store up to `wanted` entries, then times overdue lists: first pages, pages
/// deep in the list, and one county's, each against GetRegion on the same server.
async fn time_lists(
    store: &Store,
    channel: &Authed,
    counties: &[region::Model],
    wanted: u64,
) -> Result<serde_json::Value> {
    let have = supervision_entry::Entity::find()
        .count(store.db())
        .await
        .context("counting entries")?;
    let started = Instant::now();
    let now = Utc::now();
    let mut i = 0u64;
    let missing = wanted.saturating_sub(have);
    while i < missing {
        let tx = store.db().begin().await.context("a seeding transaction")?;
        let batch_end = (i + ROWS_PER_TRANSACTION as u64).min(missing);
        while i < batch_end {
            let chunk_end = (i + INSERT_CHUNK as u64).min(batch_end);
            let rows: Vec<_> = (i..chunk_end)
                .map(|n| seeded(n, missing, counties, now))
                .collect();
            supervision_entry::Entity::insert_many(rows)
                .exec(&tx)
                .await
                .context("seeding entries")?;
            i = chunk_end;
        }
        tx.commit().await.context("committing seeded entries")?;
    }
    let seed_secs = started.elapsed().as_secs_f64();
    let total = have + missing;
    let overdue_total = supervision_entry::Entity::find()
        .filter(supervision_entry::Column::State.is_in([State::Accepted, State::Rectifying]))
        .filter(
            supervision_entry::Column::DueDate
                .lt((Utc::now() + chrono::Duration::hours(8)).date_naive()),
        )
        .count(store.db())
        .await
        .context("counting overdue entries")?;
    println!(
        "  the store holds {total} entries, {overdue_total} of them overdue ({missing} added \
         through the store in {seed_secs:.1} s)"
    );

    let mut supervision = SupervisionServiceClient::new(channel.clone());
    let mut regions = RegionServiceClient::new(channel.clone());
    let mut time_list = async |filter: &str, token: String| -> Result<(u32, String, usize)> {
        let start = Instant::now();
        let page = supervision
            .list_supervision_entries(ListSupervisionEntriesRequest {
                page_size: PAGE_SIZE,
                page_token: token,
                filter: filter.to_owned(),
                order_by: String::new(),
            })
            .await
            .context("ListSupervisionEntries")?
            .into_inner();
        let us = start.elapsed().as_micros() as u32;
        Ok((us, page.next_page_token, page.supervision_entries.len()))
    };
    let county = counties
        .iter()
        .find(|c| c.code == "420381")
        .unwrap_or(&counties[0]);
    let county_filter = format!("overdue = true AND region = \"regions/{}\"", county.code);
    let (mut first_us, mut county_us, mut region_us) = (Vec::new(), Vec::new(), Vec::new());
    let mut returned = 0;
    for _ in 0..LISTS {
        let (us, _, n) = time_list("overdue = true", String::new()).await?;
        first_us.push(us);
        returned = n;
        let (us, _, _) = time_list(&county_filter, String::new()).await?;
        county_us.push(us);
        let start = Instant::now();
        regions
            .get_region(GetRegionRequest {
                name: "regions/420381".to_owned(),
            })
            .await
            .context("GetRegion")?;
        region_us.push(start.elapsed().as_micros() as u32);
    }
    let mut deep_us = Vec::new();
    let mut token = String::new();
    for _ in 0..DEEP_PAGES {
        let (us, next, _) = time_list("overdue = true", token).await?;
        deep_us.push(us);
        if next.is_empty() {
            break;
        }
        token = next;
    }
    for v in [&mut first_us, &mut county_us, &mut region_us, &mut deep_us] {
        v.sort_unstable();
    }
    let region_p99 = percentile_ms(&region_us, 0.99);
    let line = |what: &str, us: &[u32]| {
        println!(
            "  ListSupervisionEntries {what}: p50 {:.3} ms, p99 {:.3} ms ({:.2}× GetRegion's p99)",
            percentile_ms(us, 0.5),
            percentile_ms(us, 0.99),
            percentile_ms(us, 0.99) / region_p99
        );
    };
    line(
        &format!("overdue = true, first page of {returned}"),
        &first_us,
    );
    line(
        &format!("overdue = true, pages 1–{}", deep_us.len()),
        &deep_us,
    );
    line(&format!("overdue in {}", county.display_name), &county_us);
    println!(
        "  GetRegion on the same server: p50 {:.3} ms, p99 {region_p99:.3} ms",
        percentile_ms(&region_us, 0.5)
    );
    let figures = |us: &[u32]| {
        json!({
            "p50_ms": percentile_ms(us, 0.5),
            "p99_ms": percentile_ms(us, 0.99),
            "p99_ratio_to_get_region": percentile_ms(us, 0.99) / region_p99,
        })
    };
    Ok(json!({
        "entries": total,
        "overdue": overdue_total,
        "seed_secs": seed_secs,
        "first_page": figures(&first_us),
        "deep_pages": figures(&deep_us),
        "one_county": figures(&county_us),
        "get_region_p50_ms": percentile_ms(&region_us, 0.5),
        "get_region_p99_ms": region_p99,
    }))
}
