//! The knobs every part of the bench shares, read from the environment.

use std::time::Duration;

use anyhow::{Context, Result, ensure};

/// Knobs read from the environment.
pub struct BenchConfig {
    /// `DUIKOU_BENCH_WARMUP_SECS`: how long each workload runs before it is measured.
    pub warmup: Duration,
    /// `DUIKOU_BENCH_SECS`: how long each workload is measured.
    pub measure: Duration,
    /// `DUIKOU_BENCH_CONCURRENCY`: requests in flight at once.
    pub concurrency: usize,
    /// `DUIKOU_BENCH_CONNECTIONS`: HTTP/2 connections to each server.
    pub connections: usize,
}

impl BenchConfig {
    pub fn from_env() -> Result<Self> {
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
