//! Typed settings: defaults, then a config file, then `DUIKOU_*` environment variables
//! (`DUIKOU_SERVER__LISTEN`, `DUIKOU_DATABASE__URL`, `DUIKOU_LOG__FORMAT`, …), then flags.

use std::{net::SocketAddr, path::Path};

use anyhow::Context;
use config::{Config, Environment, File};
use serde::Deserialize;

/// Every setting of duikou.
#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    /// The gRPC server.
    pub server: ServerSettings,
    /// The database.
    pub database: DatabaseSettings,
    /// Logging.
    pub log: LogSettings,
}

/// The gRPC server's settings.
#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    /// Address to listen on; port 0 picks a free one.
    pub listen: SocketAddr,
    /// Largest request or response message, in bytes.
    pub max_message_bytes: usize,
    /// Time a request may take before it fails with DEADLINE_EXCEEDED, in seconds.
    pub request_timeout_secs: u64,
    /// Requests served at once; more are shed with RESOURCE_EXHAUSTED.
    pub concurrency_limit: usize,
    /// How long shutdown waits for requests in flight, in seconds.
    pub shutdown_grace_secs: u64,
    /// How long a token read from the database is trusted before it is read again, in
    /// milliseconds (0: every call reads it). Bounds how late a revocation made on another
    /// server takes effect here.
    pub token_cache_ms: u64,
}

/// The database's settings.
#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    /// `sqlite://FILE?mode=rwc` (embedded) or `postgres://USER:PASSWORD@HOST/DB`.
    pub url: String,
    /// Connections in the pool.
    pub pool_size: u32,
    /// How long a SQLite writer waits for the lock, in milliseconds.
    pub busy_timeout_ms: u64,
    /// How long a request waits for a pooled connection, in seconds.
    pub acquire_timeout_secs: u64,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Pretty on a terminal, JSON otherwise.
    Auto,
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// Logging settings.
#[derive(Debug, Clone, Deserialize)]
pub struct LogSettings {
    /// Output format.
    pub format: LogFormat,
    /// Filter used when `RUST_LOG` is unset, e.g. `info,duikou=debug`.
    pub filter: String,
}

/// Settings given as command-line flags, which win over everything else.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--listen`.
    pub listen: Option<String>,
    /// `--database-url`.
    pub database_url: Option<String>,
}

impl Settings {
    /// Reads the settings in their layers.
    ///
    /// # Errors
    /// When the file cannot be read or a value has the wrong type.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> anyhow::Result<Self> {
        let mut builder = Config::builder()
            .set_default("server.listen", "127.0.0.1:50051")?
            .set_default("server.max_message_bytes", 4 * 1024 * 1024)?
            .set_default("server.request_timeout_secs", 30)?
            .set_default("server.concurrency_limit", 1024)?
            .set_default("server.shutdown_grace_secs", 30)?
            .set_default("server.token_cache_ms", 1000)?
            .set_default("database.url", "sqlite://duikou.db?mode=rwc")?
            .set_default("database.pool_size", 16)?
            .set_default("database.busy_timeout_ms", 10_000)?
            .set_default("database.acquire_timeout_secs", 30)?
            .set_default("log.format", "auto")?
            .set_default("log.filter", "info")?;
        if let Some(file) = file {
            builder = builder.add_source(
                File::from(file)
                    .format(config::FileFormat::Toml)
                    .required(true),
            );
        }
        let settings = builder
            .add_source(
                Environment::with_prefix("DUIKOU")
                    .prefix_separator("_")
                    .separator("__")
                    .try_parsing(true),
            )
            .set_override_option("server.listen", overrides.listen.clone())?
            .set_override_option("database.url", overrides.database_url.clone())?
            .build()
            .context("reading settings")?;
        settings
            .try_deserialize()
            .context("settings have a value of the wrong type")
    }
}

impl DatabaseSettings {
    /// The URL with any password replaced by `***`, fit for logs.
    pub fn redacted_url(&self) -> String {
        redact(&self.url)
    }
}

fn redact(url: &str) -> String {
    let (url, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let query = query.map(|q| {
        q.split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                _ => pair.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("&")
    });
    let redacted = redact_userinfo(url);
    match query {
        Some(query) => format!("{redacted}?{query}"),
        None => redacted,
    }
}

fn redact_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            let masked = if userinfo.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{masked}@{host}{tail}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_the_log() {
        assert_eq!(
            redact("postgres://db.local/duikou?user=d&password=s3cret&sslmode=require"),
            "postgres://db.local/duikou?user=d&password=***&sslmode=require"
        );
        assert_eq!(
            redact("postgres://duikou:s3cr:et@db.local:5432/duikou"),
            "postgres://duikou:***@db.local:5432/duikou"
        );
        assert_eq!(
            redact("postgres://postgres@127.0.0.1/x"),
            "postgres://postgres@127.0.0.1/x"
        );
        assert_eq!(
            redact("sqlite://duikou.db?mode=rwc"),
            "sqlite://duikou.db?mode=rwc"
        );
    }

    #[test]
    fn flags_win_over_defaults() {
        let s = Settings::load(
            None,
            &Overrides {
                listen: Some("127.0.0.1:0".into()),
                database_url: Some("sqlite://x.db".into()),
            },
        )
        .unwrap();
        assert_eq!(s.server.listen.port(), 0);
        assert_eq!(s.database.url, "sqlite://x.db");
        assert_eq!(s.database.pool_size, 16);
    }
}
