//! Storage over sea-orm: connections, transactions, and the queries of each resource.
//! SQLite (embedded, the default) and PostgreSQL run the same code. Database errors become
//! [`Error`]s here and nowhere else.

pub mod accountability;
pub mod audit;
pub mod entities;
pub mod fund;
pub mod idempotency;
pub mod organization;
pub mod pairing;
pub mod plan;
pub mod plan_task;
pub mod program;
pub mod project;
pub mod region;
pub mod rows;
pub mod secret;
pub mod seed;
pub mod sqlite;
pub mod station;
pub mod supervision;
pub mod talent;
pub mod token;
pub mod tx;
pub mod water;

use std::{str::FromStr, sync::Arc, time::Duration};

use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use sea_orm::{
    AccessMode, ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection,
    DatabaseTransaction, DbErr, IsolationLevel, RuntimeErr, SqlErr, SqliteTransactionMode,
    TransactionOptions, TransactionTrait, sqlx,
};
use tokio::sync::{mpsc, oneshot};

pub use self::rows::{Hold, by_id};
use self::{
    sqlite::{group_commit, point_read},
    tx::{Change, Journal, Tx},
};
use crate::{
    config::DatabaseSettings,
    domain::{audit::Call, secret::Secret},
    error::Error,
};

/// How many times a write that lost a race is tried again before the caller sees ABORTED.
const WRITE_ATTEMPTS: usize = 4;

/// The name of the key page tokens are signed with.
const PAGE_KEY: &str = "page_tokens";

/// The database behind duikou.
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    /// The group-commit writer, on SQLite.
    writer: Option<mpsc::Sender<Box<dyn group_commit::Job>>>,
    /// The group-commit writer's own connection, on SQLite.
    writer_db: Option<DatabaseConnection>,
    /// Inline point reads, on a SQLite file.
    reader: Option<Arc<point_read::PointReader>>,
    /// The key page tokens are signed with, once read.
    page_key: Arc<tokio::sync::OnceCell<Secret>>,
}

impl Store {
    /// Opens the pool. SQLite gets WAL, `synchronous=FULL`, foreign keys and a busy timeout
    /// on every connection, and one more connection beside the pool for the group-commit
    /// writer.
    ///
    /// # Errors
    /// When the URL is malformed or the database cannot be reached.
    pub async fn connect(settings: &DatabaseSettings) -> anyhow::Result<Self> {
        let mut options = ConnectOptions::new(settings.url.clone());
        let busy_timeout = Duration::from_millis(settings.busy_timeout_ms);
        options
            .max_connections(settings.pool_size)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(settings.acquire_timeout_secs))
            .sqlx_logging(false)
            .map_sqlx_sqlite_opts(move |o| {
                o.journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
                    .foreign_keys(true)
                    // A statement writing many rows in a transaction keeps the pages it
                    // changes in a statement journal, spilled to a temporary file past
                    // 64 KiB: a sample batch wrote as much there as to the WAL, in small
                    // writes. In memory it is a copy.
                    .pragma("temp_store", "memory")
                    .busy_timeout(busy_timeout)
            });
        if settings.url.starts_with("sqlite:") {
            // A file on this machine: no connection to go stale, so no ping before each use.
            options.test_before_acquire(false);
        }
        if settings.url.starts_with("sqlite:") {
            if let Some(path) = sqlite_file(&settings.url)? {
                keep_private(&path, settings.url.contains("mode=rwc"))?;
            }
        }
        let db = Database::connect(options.clone())
            .await
            .with_context(|| format!("connecting to {}", settings.redacted_url()))?;
        let sqlite = db.get_database_backend() == DatabaseBackend::Sqlite;
        let file = if sqlite {
            sqlite_file(&settings.url)?
        } else {
            None
        };
        // On a file, the group-commit writer keeps a connection of its own: it never waits
        // for the pool, and its prepared statements stay warm (a fifth more lines per
        // second in the load bench than drawing a pool connection for each batch). An
        // in-memory database exists only inside its pool, so there the writer shares it.
        let writer_db = match &file {
            Some(_) => {
                let mut own = options.clone();
                own.max_connections(1).min_connections(1);
                let connection = Database::connect(own)
                    .await
                    .with_context(|| format!("connecting to {}", settings.redacted_url()))?;
                Some(connection)
            }
            None => None,
        };
        let writer = sqlite
            .then(|| group_commit::spawn_writer(writer_db.clone().unwrap_or_else(|| db.clone())));
        let reader = file.map(|path| Arc::new(point_read::PointReader::new(&path)));
        Ok(Self {
            db,
            writer,
            writer_db,
            reader,
            page_key: Arc::default(),
        })
    }

    /// The key page tokens are signed with: the database's, made by the first server that
    /// needs it, so that a token one server issued continues on every other.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn page_key(&self) -> Result<&Secret, Error> {
        self.page_key
            .get_or_try_init(|| secret::get_or_make(&self.db, PAGE_KEY, chrono::Utc::now()))
            .await
    }

    /// Applies pending migrations.
    ///
    /// # Errors
    /// When a migration fails.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        Migrator::up(&self.db, None)
            .await
            .context("applying migrations")
    }

    /// Inline point reads, where the database is a SQLite file.
    pub fn point_reader(&self) -> Option<&point_read::PointReader> {
        self.reader.as_deref()
    }

    /// The connection pool, for reads.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Which database this is.
    pub fn backend(&self) -> DatabaseBackend {
        self.db.get_database_backend()
    }

    /// Closes the pool, waiting for connections in use to be returned.
    ///
    /// # Errors
    /// When closing fails.
    pub async fn close(self) -> anyhow::Result<()> {
        drop(self.writer);
        if let Some(writer_db) = self.writer_db {
            writer_db
                .close()
                .await
                .context("closing the writer's connection")?;
        }
        self.db.close().await.context("closing the database pool")
    }

    /// Runs `change` for `call` in one write transaction and commits it if it succeeds,
    /// with the audit events it recorded; a failed change leaves nothing behind.
    ///
    /// On SQLite the change joins the group-commit writer: it runs under its own savepoint
    /// in a shared IMMEDIATE transaction, and is answered once that transaction commits.
    /// On PostgreSQL each change has its own transaction, and one that loses a race
    /// (serialization failure, deadlock, or [`Error::Contention`]) is run again from the
    /// start.
    ///
    /// # Errors
    /// Whatever `change` returns, or the database's failure.
    pub async fn write<C: Change>(&self, call: Call, change: C) -> Result<C::Output, Error> {
        if let Some(writer) = &self.writer {
            let (reply, answer) = oneshot::channel();
            writer
                .send(Box::new(group_commit::ChangeJob {
                    call,
                    change,
                    reply,
                }))
                .await
                .map_err(|_| anyhow::anyhow!("the group-commit writer has stopped"))?;
            return answer
                .await
                .map_err(|_| anyhow::anyhow!("the group-commit writer dropped a request"))?;
        }
        let mut attempt = 1;
        loop {
            match self.try_change(&call, &change).await {
                Err(e) if e.is_retryable() && attempt < WRITE_ATTEMPTS => {
                    tracing::debug!(attempt, error = %e, "write lost a race; retrying");
                    attempt += 1;
                    let pause = 2u64.pow(attempt as u32) + rand_jitter();
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
                other => return other,
            }
        }
    }

    async fn try_change<C: Change>(&self, call: &Call, change: &C) -> Result<C::Output, Error> {
        let db = self.begin().await?;
        let mut journal = Journal::default();
        let outcome = change.apply(&mut Tx::new(&db, call, &mut journal)).await;
        finish(db, outcome, journal.take()).await
    }

    /// Begins a write transaction: IMMEDIATE on SQLite, READ COMMITTED on PostgreSQL.
    async fn begin(&self) -> Result<DatabaseTransaction, Error> {
        let postgres = self.backend() == DatabaseBackend::Postgres;
        self.db
            .begin_with_options(TransactionOptions {
                isolation_level: postgres.then_some(IsolationLevel::ReadCommitted),
                access_mode: postgres.then_some(AccessMode::ReadWrite),
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            })
            .await
            .map_err(Error::from)
    }
}

/// Ends a write transaction: seals `events` into the audit log and commits when `outcome`
/// is a success, rolls back otherwise.
async fn finish<T>(
    db: DatabaseTransaction,
    outcome: Result<T, Error>,
    events: Vec<audit::PendingEvent>,
) -> Result<T, Error> {
    match outcome {
        Ok(value) => {
            seal_and_commit(db, events).await?;
            Ok(value)
        }
        Err(e) => {
            if let Err(rollback) = db.rollback().await {
                tracing::warn!(error = %rollback, "rollback failed");
            }
            Err(e)
        }
    }
}

/// Seals `events` into the audit log and commits `db`, rolling back if the seal fails.
/// Once committed, logs one `changed` line per event with its method and resource: the
/// one place a write is logged, for the group-commit writer too.
pub(crate) async fn seal_and_commit(
    db: DatabaseTransaction,
    events: Vec<audit::PendingEvent>,
) -> Result<(), Error> {
    let changes: Vec<(String, String)> = if tracing::enabled!(tracing::Level::INFO) {
        events
            .iter()
            .map(|e| (e.method.clone(), e.resource.clone()))
            .collect()
    } else {
        Vec::new()
    };
    if let Err(e) = audit::seal(&db, events).await {
        if let Err(rollback) = db.rollback().await {
            tracing::error!(error = %rollback, "rolling back after a failed seal failed");
        }
        return Err(e);
    }
    db.commit().await?;
    for (method, resource) in changes {
        tracing::info!(%method, %resource, "changed");
    }
    Ok(())
}

/// The file behind a SQLite URL; none for an in-memory database.
fn sqlite_file(url: &str) -> anyhow::Result<Option<std::path::PathBuf>> {
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
        .with_context(|| format!("reading the SQLite URL {url}"))?;
    let path = options.get_filename();
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    Ok((!in_memory && !path.as_os_str().is_empty()).then(|| path.to_owned()))
}

/// Makes the SQLite file `path`, when it is missing and `may_create`, readable and writable
/// by its owner alone: it holds reporters' contacts and participants' names. SQLite gives
/// the WAL and shared-memory files it makes beside it the database file's permissions. An
/// existing file that others may read is left as it is, with a warning in the log.
fn keep_private(path: &std::path::Path, may_create: bool) -> anyhow::Result<()> {
    if may_create {
        match crate::config::create_private(path) {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            // A missing folder: SQLite's own error says it when it tries.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
        }
    } else if !path.exists() {
        return Ok(());
    }
    if let Some(mode) = crate::config::shared_mode(path)? {
        tracing::warn!(
            path = %path.display(),
            mode = format!("{mode:o}"),
            "the database file holds personal data and others may read it: chmod 600 it \
             (and its -wal and -shm files)"
        );
    }
    Ok(())
}

/// A few milliseconds of spread so that retrying writers do not collide again in step.
fn rand_jitter() -> u64 {
    u64::from(uuid::Uuid::new_v4().as_bytes()[0] % 8)
}

impl Error {
    /// True for errors that a fresh attempt of the same transaction may not meet.
    fn is_retryable(&self) -> bool {
        matches!(self, Error::Contention)
    }
}

/// PostgreSQL SQLSTATEs of a transaction that lost a race: serialization failure and
/// deadlock.
const RETRYABLE_SQLSTATES: &[&str] = &["40001", "40P01"];

/// Check-constraint violations: PostgreSQL's SQLSTATE, and SQLite's extended codes for a
/// CHECK and for a trigger's RAISE(ABORT), with which SQLite checks what it cannot as a
/// CHECK (the type and range of money, the append-only tables).
const CHECK_VIOLATIONS: &[&str] = &["23514", "275", "1811"];

/// PostgreSQL's SQLSTATE for a number out of its type's range, such as a `bigint` sum.
const OUT_OF_RANGE: &str = "22003";

/// SQLite's primary result codes for a database that stayed busy or locked.
const SQLITE_BUSY: i32 = 5;
const SQLITE_LOCKED: i32 = 6;

impl From<DbErr> for Error {
    /// Maps database failures to client errors where the database decided something a
    /// caller can act on: a lost race is retried, a busy database is UNAVAILABLE, a taken
    /// unique key is ALREADY_EXISTS, a broken reference or check is FAILED_PRECONDITION.
    /// Everything else is INTERNAL.
    fn from(err: DbErr) -> Self {
        let code = match &err {
            DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
                match e.as_ref() {
                    sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()),
                    _ => None,
                }
            }
            _ => None,
        };
        if let Some(code) = code.as_deref() {
            if RETRYABLE_SQLSTATES.contains(&code) {
                return Error::Contention;
            }
            let sqlite_primary = code.parse::<i32>().ok().map(|n| n & 0xff);
            if matches!(sqlite_primary, Some(SQLITE_BUSY | SQLITE_LOCKED)) {
                return unavailable(err);
            }
            if code == OUT_OF_RANGE {
                return crate::domain::money::out_of_range("a stored sum");
            }
            if CHECK_VIOLATIONS.contains(&code) {
                return Error::precondition(
                    "CONSTRAINT_VIOLATED",
                    "the change would break a rule the database enforces",
                );
            }
        }
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => {
                return Error::AlreadyExists {
                    reason: "RESOURCE_EXISTS",
                    message: "a resource with these unique fields already exists".to_owned(),
                };
            }
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => {
                return Error::precondition(
                    "REFERENCE_CONFLICT",
                    "the change would break a reference between resources",
                );
            }
            _ => {}
        }
        match err {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => unavailable(err),
            other => Error::from(anyhow::Error::new(other).context("database error")),
        }
    }
}

/// UNAVAILABLE, keeping the database's own words for the log.
fn unavailable(err: DbErr) -> Error {
    Error::Unavailable(Arc::new(anyhow::Error::new(err)))
}

/// The column value of a typed change: set when the change names it, left alone when not.
pub(crate) fn changed<T: Into<sea_orm::Value>>(value: Option<T>) -> sea_orm::ActiveValue<T> {
    value.map_or(sea_orm::ActiveValue::NotSet, sea_orm::ActiveValue::Set)
}

/// Takes the PostgreSQL advisory lock `key` until the transaction ends; on SQLite, whose
/// write transactions run one at a time, there is nothing to take.
///
/// # Errors
/// The database's failures.
pub(crate) async fn lock_until_commit(db: &impl ConnectionTrait, key: i64) -> Result<(), Error> {
    if db.get_database_backend() == DatabaseBackend::Postgres {
        db.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({key})"))
            .await?;
    }
    Ok(())
}

/// Turns a constraint violation into the client error it stands for: a taken unique key
/// into `on_unique` (the caller knows which key it was); anything else as
/// [`From<DbErr>`] does.
pub fn constraint_error(err: DbErr, on_unique: impl FnOnce() -> Error) -> Error {
    match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => on_unique(),
        _ => Error::from(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The database file, its WAL and shared-memory files and the audit key beside them
    /// hold personal data and the signing key: the probe found them 0644.
    #[cfg(unix)]
    #[tokio::test]
    async fn a_new_database_and_its_key_are_for_their_owner_alone() -> anyhow::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("duikou.db");
        let settings = crate::config::Settings::load(
            None,
            &crate::config::Overrides {
                listen: None,
                database_url: Some(format!("sqlite://{}?mode=rwc", file.display())),
            },
        )?;
        let store = Store::connect(&settings.database).await?;
        store.migrate().await?;
        settings.audit_key()?;
        let mode = |suffix: &str| -> anyhow::Result<u32> {
            let path = format!("{}{suffix}", file.display());
            Ok(std::fs::metadata(path)?.permissions().mode() & 0o777)
        };
        for suffix in ["", "-wal", "-shm", ".audit-key"] {
            assert_eq!(mode(suffix)?, 0o600, "duikou.db{suffix}");
        }
        store.close().await
    }

    #[tokio::test]
    async fn an_in_memory_database_takes_writes_through_the_writer() -> anyhow::Result<()> {
        let settings = crate::config::Settings::load(
            None,
            &crate::config::Overrides {
                listen: None,
                database_url: Some("sqlite::memory:".to_owned()),
            },
        )?;
        let store = Store::connect(&settings.database).await?;
        store.migrate().await?;
        // The writer sees the migrated schema: it works on the pool's own database.
        struct Size;
        impl Change for Size {
            type Output = u64;
            async fn apply(&self, tx: &mut Tx<'_>) -> Result<u64, Error> {
                audit::size(tx.db()).await
            }
        }
        let size = store.write(Call::command_line("test"), Size).await?;
        assert_eq!(size, 0);
        store.close().await
    }
}
