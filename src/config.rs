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
    /// The audit log.
    pub audit: AuditSettings,
    /// Water quality: the HJ 212-2017 ingest listener of automatic stations.
    pub water: WaterSettings,
}

/// Settings of the HJ 212-2017 ingest listener, where automatic stations send their data.
#[derive(Debug, Clone, Deserialize)]
pub struct WaterSettings {
    /// Address the listener takes stations' TCP connections on, e.g. `0.0.0.0:9212`; off
    /// when unset.
    pub hj212_listen: Option<SocketAddr>,
    /// Station connections open at once; more are closed as they are accepted.
    pub hj212_max_connections: usize,
    /// Of those, connections from one client address; 0: no cap of its own.
    pub hj212_max_connections_per_address: usize,
    /// How long a station connection may stay open without sending a packet, in seconds.
    pub hj212_idle_timeout_secs: u64,
    /// Packets of one connection recorded at once; a station that sends more before their
    /// answers waits.
    pub hj212_in_flight_per_connection: usize,
    /// Wrong passwords one station's MN may be sent with in any minute, on connections
    /// that have not yet sent its right one; beyond it, such connections are refused for
    /// the rest of the minute, while those already proven keep sending.
    pub hj212_wrong_passwords_per_minute: u32,
}

/// Settings of the audit log.
#[derive(Debug, Clone, Deserialize)]
pub struct AuditSettings {
    /// The Ed25519 key that signs checkpoints: its 32-byte seed in base64. Give every
    /// server of one database the same key.
    pub signing_key: Option<String>,
    /// Where the key is kept when `signing_key` is not given; made on first start. By
    /// default beside a SQLite database (`FILE.audit-key`), else `duikou-audit.key`.
    pub key_file: Option<std::path::PathBuf>,
    /// How often, in seconds, the server signs a checkpoint of the log when it has grown,
    /// so that `duikou audit verify` has recent checkpoints to check against; 0 signs only
    /// when GetCheckpoint asks.
    pub checkpoint_interval_secs: u64,
}

impl Settings {
    /// The key that signs audit checkpoints: from the settings, else from its file, which
    /// is made (readable by its owner only) when missing.
    ///
    /// # Errors
    /// When the configured key is malformed or the file cannot be read or written.
    pub fn audit_key(&self) -> anyhow::Result<crate::domain::checkpoint::AuditKey> {
        use crate::domain::checkpoint::AuditKey;
        use base64::{Engine, engine::general_purpose::STANDARD};
        let seed = |text: &str, whence: &str| -> anyhow::Result<AuditKey> {
            let bytes: [u8; 32] = STANDARD
                .decode(text.trim())
                .ok()
                .and_then(|b| b.try_into().ok())
                .with_context(|| format!("{whence} must be a 32-byte seed in base64"))?;
            Ok(AuditKey::from_seed(bytes))
        };
        if let Some(key) = &self.audit.signing_key {
            return seed(key, "audit.signing_key");
        }
        let path = self.audit.key_file.clone().unwrap_or_else(|| {
            let file = self
                .database
                .url
                .strip_prefix("sqlite://")
                .map(|rest| rest.split('?').next().unwrap_or(rest))
                .filter(|file| !file.is_empty() && !file.contains(":memory:"));
            match file {
                Some(file) => std::path::PathBuf::from(format!("{file}.audit-key")),
                None => std::path::PathBuf::from("duikou-audit.key"),
            }
        });
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                refuse_shared(&path)?;
                seed(&text, &path.display().to_string())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut bytes = [0u8; 32];
                getrandom::fill(&mut bytes)
                    .map_err(|e| anyhow::anyhow!("no randomness for the audit key: {e}"))?;
                write_private(&path, &format!("{}\n", STANDARD.encode(bytes)))
                    .with_context(|| format!("writing the audit key to {}", path.display()))?;
                tracing::info!(path = %path.display(), "made a new audit signing key");
                Ok(AuditKey::from_seed(bytes))
            }
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }
}

/// Refuses a key file that others than its owner may read or write: whoever reads the key
/// can sign checkpoints of a forged log.
fn refuse_shared(path: &std::path::Path) -> anyhow::Result<()> {
    match shared_mode(path)? {
        Some(mode) => anyhow::bail!(
            "the audit key {} may be read by others (mode {mode:o}): chmod 600 it",
            path.display()
        ),
        None => Ok(()),
    }
}

/// The permission bits of `path` when others than its owner may read or write it.
///
/// # Errors
/// When its metadata cannot be read.
pub(crate) fn shared_mode(path: &std::path::Path) -> anyhow::Result<Option<u32>> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .with_context(|| format!("reading {}", path.display()))?
            .permissions()
            .mode()
            & 0o777;
        Ok((mode & 0o077 != 0).then_some(mode))
    }
    #[cfg(not(unix))]
    Ok(None)
}

/// Creates the new file `path`, which only its owner may read or write.
///
/// # Errors
/// `AlreadyExists` when there is one, or why it cannot be made.
pub(crate) fn create_private(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Writes a file that only its owner may read.
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    create_private(path)?.write_all(text.as_bytes())
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
    /// Of those, requests from one client address; 0: no limit of its own (behind a
    /// balancer every request comes from its address).
    pub max_requests_per_address: usize,
    /// Of those, requests without a token, from every address together; 0: no limit of
    /// their own.
    pub anonymous_concurrency: usize,
    /// How long a request's message may take to arrive after its headers, in
    /// milliseconds; a request is counted against the limits only once it has.
    pub request_body_timeout_ms: u64,
    /// Requests one connection may have open at once (HTTP/2 concurrent streams).
    pub max_streams_per_connection: u32,
    /// Connections open at once; more are closed as they are accepted. 0: no cap.
    pub max_connections: usize,
    /// Of those, connections from one client address; 0: no cap of its own.
    pub max_connections_per_address: usize,
    /// How long a new connection may take to send the HTTP/2 preface, in seconds.
    pub handshake_timeout_secs: u64,
    /// How long a connection may stay open with no request on it, in seconds; 0: forever.
    pub idle_timeout_secs: u64,
    /// How often an open connection is pinged, in seconds; one whose client does not
    /// answer within as long again is closed. 0: never pinged.
    pub keepalive_secs: u64,
    /// How long shutdown waits for requests in flight, in seconds.
    pub shutdown_grace_secs: u64,
    /// How long a token read from the database is trusted before it is read again, in
    /// milliseconds (0: every call reads it). Bounds how late a revocation made on another
    /// server takes effect here. A supervision watch reads its token again this often, but
    /// at most once a second.
    pub token_cache_ms: u64,
    /// Attempts one client address may make in any hour to file a supervision report
    /// without a token, whether filed or refused; more are refused with
    /// RESOURCE_EXHAUSTED. Counted in the database, so the limit holds across servers.
    /// 0 turns the limit off.
    pub public_reports_per_hour: u32,
    /// Whether supervision evidence may link over plain `http://` besides `https://`, for
    /// an office whose evidence store has no TLS yet; off by default.
    pub http_evidence: bool,
    /// How often a supervision watcher looks for events stored through other servers, in
    /// milliseconds. Events stored through this server wake its watchers at once.
    pub watch_poll_ms: u64,
    /// Supervision watch streams served at once; more are refused with
    /// RESOURCE_EXHAUSTED.
    pub max_watchers: usize,
    /// Supervision watch streams one token may hold at once; 0: no limit of its own.
    pub max_watchers_per_token: usize,
    /// Supervision watch streams one client address may hold at once; 0: no limit of its
    /// own.
    pub max_watchers_per_address: usize,
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
            .set_default("server.max_requests_per_address", 512)?
            .set_default("server.anonymous_concurrency", 256)?
            .set_default("server.request_body_timeout_ms", 10_000)?
            .set_default("server.max_streams_per_connection", 100)?
            .set_default("server.max_connections", 4096)?
            .set_default("server.max_connections_per_address", 256)?
            .set_default("server.handshake_timeout_secs", 10)?
            .set_default("server.idle_timeout_secs", 300)?
            .set_default("server.keepalive_secs", 60)?
            .set_default("server.shutdown_grace_secs", 30)?
            .set_default("server.token_cache_ms", 1000)?
            .set_default("server.public_reports_per_hour", 10)?
            .set_default("server.http_evidence", false)?
            .set_default("server.watch_poll_ms", 500)?
            .set_default("server.max_watchers", 256)?
            .set_default("server.max_watchers_per_token", 16)?
            .set_default("server.max_watchers_per_address", 64)?
            .set_default("database.url", "sqlite://duikou.db?mode=rwc")?
            .set_default("database.pool_size", 16)?
            .set_default("database.busy_timeout_ms", 10_000)?
            .set_default("database.acquire_timeout_secs", 30)?
            .set_default("log.format", "auto")?
            .set_default("log.filter", "info")?
            .set_default("audit.checkpoint_interval_secs", 60)?
            .set_default("water.hj212_max_connections", 1024)?
            .set_default("water.hj212_max_connections_per_address", 64)?
            .set_default("water.hj212_idle_timeout_secs", 900)?
            .set_default("water.hj212_in_flight_per_connection", 32)?
            .set_default("water.hj212_wrong_passwords_per_minute", 10)?;
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

    #[cfg(unix)]
    #[test]
    fn a_key_file_others_may_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("duikou.key");
        let settings = |key: &std::path::Path| {
            let mut settings = Settings::load(None, &Overrides::default()).unwrap();
            settings.audit.key_file = Some(key.to_owned());
            settings
        };
        settings(&key).audit_key().unwrap();
        let made = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let shared = settings(&key).audit_key().map(drop).unwrap_err();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        let private = settings(&key).audit_key();

        assert_eq!(made, 0o600);
        assert!(format!("{shared:#}").contains("chmod 600"), "{shared:#}");
        assert!(private.is_ok());
    }

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
