//! Point reads by primary key on SQLite, run inline on the calling thread.
//!
//! sqlx hands every SQLite statement to a worker thread and back, which costs more than the
//! read itself when the read is one row by primary key; the hottest reads (GetPairing,
//! GetRegion) therefore go through a small pool of read-only rusqlite connections with
//! cached prepared statements, on the same database file. A WAL reader never waits for
//! writers, and a lookup by key takes microseconds, so running it on the async thread does
//! not stall the runtime. PostgreSQL, and in-memory SQLite, use the ordinary sea-orm path.

use std::{path::Path, sync::Mutex, time::Duration};

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Params, Row};

use crate::{domain::Numbered, error::Error, store::entities::stored_enum::from_stored};

/// Idle connections kept for reuse; more are opened under load and closed after.
const IDLE: usize = 16;

/// How long an inline read may wait on a busy file (a WAL reader rarely does, during
/// recovery or a checkpoint restart) before the caller falls back to the pool: the read
/// runs on an async thread, which must not stall.
const BUSY_TIMEOUT: Duration = Duration::from_millis(20);

/// A pool of read-only connections to one SQLite file.
pub struct PointReader {
    path: std::path::PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl PointReader {
    /// A reader of the database file at `path`.
    pub fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            idle: Mutex::new(Vec::with_capacity(IDLE)),
        }
    }

    fn open(&self) -> anyhow::Result<Connection> {
        let connection = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .with_context(|| format!("opening {} for reading", self.path.display()))?;
        connection.busy_timeout(BUSY_TIMEOUT)?;
        Ok(connection)
    }

    fn take(&self) -> anyhow::Result<Connection> {
        let pooled = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        match pooled {
            Some(connection) => Ok(connection),
            None => self.open(),
        }
    }

    fn give_back(&self, connection: Connection) {
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < IDLE {
                idle.push(connection);
            }
        }
    }

    /// Runs `sql` with `params` and maps the first row, if any.
    ///
    /// # Errors
    /// INTERNAL when the database fails or stays busy; callers then read through the pool.
    pub fn row<T>(
        &self,
        sql: &'static str,
        params: impl Params,
        map: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Option<T>, Error> {
        let connection = self.take()?;
        let result = connection
            .prepare_cached(sql)
            .and_then(|mut statement| statement.query_row(params, map).optional());
        match result {
            Ok(row) => {
                self.give_back(connection);
                Ok(row)
            }
            Err(e) => Err(anyhow::Error::new(e).context("point read").into()),
        }
    }
}

impl PointReader {
    /// Runs `sql` with `params` and maps every row: for a scan of many small rows, which
    /// sqlx would hand over one by one. Callers run it off the async threads.
    ///
    /// # Errors
    /// INTERNAL when the database fails or stays busy; callers then read through the pool.
    pub fn rows<T>(
        &self,
        sql: &'static str,
        params: impl Params,
        map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, Error> {
        let connection = self.take()?;
        let result = connection.prepare_cached(sql).and_then(|mut statement| {
            statement
                .query_map(params, map)?
                .collect::<rusqlite::Result<Vec<T>>>()
        });
        match result {
            Ok(rows) => {
                self.give_back(connection);
                Ok(rows)
            }
            Err(e) => Err(anyhow::Error::new(e).context("inline scan").into()),
        }
    }
}

/// One row by key: inline through the store's point reader when it has one and the read
/// succeeds, else through `pool`.
///
/// # Errors
/// The pool's errors; an inline failure only sends the read to the pool.
pub async fn read_one<T, Fut>(
    store: &crate::store::Store,
    sql: &'static str,
    params: impl Params,
    map: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    pool: impl FnOnce() -> Fut,
) -> Result<Option<T>, Error>
where
    Fut: std::future::Future<Output = Result<Option<T>, Error>>,
{
    if let Some(reader) = store.point_reader() {
        match reader.row(sql, params, map) {
            Ok(row) => return Ok(row),
            Err(e) => tracing::debug!(error = %e, "inline read failed; reading through the pool"),
        }
    }
    pool().await
}

/// Reads a timestamp as sqlx stores it on SQLite (RFC 3339).
pub fn timestamp(row: &Row<'_>, column: &str) -> rusqlite::Result<DateTime<Utc>> {
    let text: String = row.get(column)?;
    parse_timestamp(&text).map_err(|e| conversion(column, e))
}

/// Reads an optional timestamp.
pub fn optional_timestamp(row: &Row<'_>, column: &str) -> rusqlite::Result<Option<DateTime<Utc>>> {
    let text: Option<String> = row.get(column)?;
    text.map(|t| parse_timestamp(&t).map_err(|e| conversion(column, e)))
        .transpose()
}

/// Reads a civil date stored as `YYYY-MM-DD`.
pub fn date(row: &Row<'_>, column: &str) -> rusqlite::Result<NaiveDate> {
    let text: String = row.get(column)?;
    NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(|e| conversion(column, e))
}

/// Reads a numbered enum stored as a `SMALLINT`, as the pool's read does (see
/// [`stored_enum`](crate::store::entities::stored_enum)).
///
/// # Errors
/// A conversion failure naming the column for a number that no value of `T` has.
pub fn numbered<T: Numbered>(row: &Row<'_>, column: &str) -> rusqlite::Result<T> {
    let number: i16 = row.get(column)?;
    from_stored(number, Some(column)).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Integer, Box::new(e))
    })
}

fn parse_timestamp(text: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc))
}

fn conversion(
    column: &str,
    error: impl std::error::Error + Send + Sync + 'static,
) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        Box::new(NamedColumn {
            column: column.to_owned(),
            error: Box::new(error),
        }),
    )
}

#[derive(Debug)]
struct NamedColumn {
    column: String,
    error: Box<dyn std::error::Error + Send + Sync>,
}

impl std::fmt::Display for NamedColumn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "column {}: {}", self.column, self.error)
    }
}

impl std::error::Error for NamedColumn {}

#[cfg(test)]
mod tests {
    use sea_orm::{EntityName, IdenStatic, Iterable};

    use crate::store::{
        entities::{access_token, pairing, region},
        pairing::PAIRING_BY_ID,
        region::REGION_BY_CODE,
        token::TOKEN_BY_ID,
    };

    /// The columns and the table a hand-written `SELECT a, b FROM t WHERE …` names.
    fn selected(sql: &str) -> (Vec<String>, String) {
        let rest = sql.strip_prefix("SELECT ").expect("a select");
        let (columns, from) = rest.split_once(" FROM ").expect("a FROM");
        let mut columns: Vec<String> = columns.split(',').map(|c| c.trim().to_owned()).collect();
        columns.sort();
        let table = from
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned();
        (columns, table)
    }

    /// An entity's columns, sorted, and its table.
    fn of_entity<E: EntityName + Default>(
        columns: impl Iterator<Item = impl IdenStatic>,
    ) -> (Vec<String>, String) {
        let mut columns: Vec<String> = columns.map(|c| c.as_str().to_owned()).collect();
        columns.sort();
        (columns, E::default().table_name().to_owned())
    }

    #[test]
    fn every_hand_written_point_read_selects_exactly_its_entitys_columns() {
        assert_eq!(
            selected(PAIRING_BY_ID),
            of_entity::<pairing::Entity>(pairing::Column::iter())
        );
        assert_eq!(
            selected(REGION_BY_CODE),
            of_entity::<region::Entity>(region::Column::iter())
        );
        assert_eq!(
            selected(TOKEN_BY_ID),
            of_entity::<access_token::Entity>(access_token::Column::iter())
        );
    }

    #[test]
    fn a_column_missing_from_a_point_read_is_noticed() {
        let short =
            "SELECT code, display_name, level, parent_code, path FROM regions WHERE code = ?1";
        assert_ne!(
            selected(short),
            of_entity::<region::Entity>(region::Column::iter())
        );
    }
}
