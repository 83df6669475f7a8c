//! The report: the table of workloads, the bars they are held to, and the JSON written to
//! `target/bench-load.json`.

use std::{fmt::Write as _, path::PathBuf};

use anyhow::{Context, Result};
use serde_json::json;

use crate::{audit::AuditProofs, driver::Measured, knobs::BenchConfig, seed::SEED_PAIRINGS};

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
pub fn print_row(m: &Measured, baseline: Option<f64>, with_header: bool) {
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
pub fn summarize(
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
    println!("Water quality: {}", later["water"]);

    let json = json!({
        "ledger": later["ledger"],
        "supervision": later["supervision"],
        "water": later["water"],
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
