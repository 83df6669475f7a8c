//! Load benchmark: the throughput and latency of duikou's unary RPCs against a bare tonic
//! server, in one process.
//!
//! It starts the real duikou server (`duikou::server::serve` over a `Store`) on a temporary
//! SQLite file holding the national region list and 100,000 pairings (`load/seed.rs`), and
//! next to it a bare tonic server whose `GetRegion` returns a constant without touching any
//! database (`load/baseline.rs`). The same client code (`load/driver.rs`: several HTTP/2
//! connections, many concurrent in-flight requests, each task running as fast as it can for
//! a fixed time) then drives, in order (`load/pairings.rs`): the baseline `GetRegion`,
//! duikou's `GetRegion`, `GetPairing`, `ListPairings` (first page and 1,000 pages deep) and
//! `CreatePairing`. For each it prints requests/s, p50 and p99 latency, the ratio to the
//! baseline, errors and the process's peak RSS, writes the same data to
//! `target/bench-load.json`, and checks three bars. A failed bar is reported, not fatal;
//! only a failed setup makes the process exit non-zero.
//!
//! Environment: `DUIKOU_BENCH_SECS` (measured seconds per workload, default 8),
//! `DUIKOU_BENCH_WARMUP_SECS` (default 2), `DUIKOU_BENCH_CONCURRENCY` (in-flight requests,
//! default 64) and `DUIKOU_BENCH_CONNECTIONS` (HTTP/2 connections, default 4). Both servers
//! accept connections with TCP_NODELAY, as `duikou serve` does.
//!
//! Then the audit log (`load/audit.rs`), on a separate temporary SQLite store holding
//! `DUIKOU_BENCH_AUDIT_EVENTS` audit events (default 1,000,000) and their stored Merkle
//! tree: it times inclusion proofs and the root straight through the store (no gRPC),
//! checks every proof, and reports them under `audit_inclusion_proof`. Then it runs
//! CreatePairing's database work through the store at the same concurrency with and
//! without its audit event, in three interleaved rounds, and reports the ratio of the mean
//! rates under `audit_cost` (the bar is 0.9).
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
//!
//! Then water quality (`load/water.rs`), on its own server, SQLite file and HJ 212
//! listener: RecordWaterSample of 9 values from the same number of concurrent clients (the
//! bar is 5,000 samples/s), the same path filling a year of hourly samples of 50 sections
//! in Shiyan (438,000), GetWaterQualityAssessment of Shiyan over that year timed one call
//! after another (the bar is p99 under 50 ms), and HJ 212-2017 packets over 8 TCP
//! connections (the bar is 5,000 packets/s), under `water`.
//! Then GetOrganizationAccountability of one organisation with 10,000 projects, 10,000
//! supervision entries and 200 plan tasks (`load/accountability.rs`; the bar is p99 under
//! 20 ms), under `accountability`.
//! `DUIKOU_BENCH_ONLY=ledger`, `=supervision`, `=water` or `=accountability` runs that part
//! alone and prints its figures.
//!
//! The table, the bars and the JSON are written last, by `load/report.rs`, once every part
//! has run.

use anyhow::{Context, Result};
use serde_json::json;

use crate::knobs::BenchConfig;

#[path = "load/accountability.rs"]
mod accountability;
#[path = "load/audit.rs"]
mod audit;
#[path = "load/baseline.rs"]
mod baseline;
#[path = "load/driver.rs"]
mod driver;
#[path = "load/knobs.rs"]
mod knobs;
#[path = "load/ledger.rs"]
mod ledger;
#[path = "load/pairings.rs"]
mod pairings;
#[path = "load/report.rs"]
mod report;
#[path = "load/seed.rs"]
mod seed;
#[path = "load/servers.rs"]
mod servers;
#[path = "load/supervision.rs"]
mod supervision;
#[path = "load/water.rs"]
mod water;

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

    // `DUIKOU_BENCH_ONLY=ledger`, `=supervision` or `=water` measures that part alone, for
    // quick iterations.
    match std::env::var("DUIKOU_BENCH_ONLY").as_deref() {
        Ok("ledger") => {
            let ledger = ledger::measure(&config)
                .await
                .context("measuring the funds ledger")?;
            println!("{}", serde_json::to_string_pretty(&ledger)?);
            return Ok(());
        }
        Ok("water") => {
            let water = water::measure(&config)
                .await
                .context("measuring water quality")?;
            println!("{}", serde_json::to_string_pretty(&water)?);
            return Ok(());
        }
        Ok("accountability") => {
            let accountability = accountability::measure()
                .await
                .context("measuring accountability")?;
            println!("{}", serde_json::to_string_pretty(&accountability)?);
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

    let pairings = pairings::measure(&config).await?;
    let audit = audit::inclusion()
        .await
        .context("measuring audit inclusion proofs")?;
    let cost = audit::cost(&config)
        .await
        .context("measuring what auditing costs")?;
    let ledger = ledger::measure(&config)
        .await
        .context("measuring the funds ledger")?;
    let supervision = supervision::measure(&config)
        .await
        .context("measuring supervision")?;
    let water = water::measure(&config)
        .await
        .context("measuring water quality")?;
    let accountability = accountability::measure()
        .await
        .context("measuring accountability")?;
    report::summarize(
        &config,
        pairings.regions_secs,
        pairings.pairings_secs,
        &pairings.results,
        &audit,
        &cost,
        &json!({
            "ledger": ledger,
            "supervision": supervision,
            "water": water,
            "accountability": accountability,
        }),
    )
}
