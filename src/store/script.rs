//! Fewer and cheaper trips to the database for the ledger's hot path. sqlx runs each
//! SQLite connection on a worker thread of its own: every statement is a hand-off to that
//! thread and back, every row a statement returns is copied and sent back on its own, and
//! a statement whose text is new is parsed and planned again. In the load bench a select
//! of 130 small rows took about seven times as long as a select of one. So on SQLite a
//! batch's writes go as one script, its reads come back folded into JSON arrays in a
//! single row, and lists of ids and rows travel as one JSON value, so that a statement's
//! text does not change with their number. PostgreSQL takes one statement with parameters
//! at a time: there the statements run one after another, in the order given, which is
//! also the order their row locks are taken in.

use std::fmt::Write as _;

use sea_orm::{
    ConnectionTrait, DatabaseBackend, DbErr, QueryResult, Statement,
    sea_query::{
        Alias, Expr, ExprTrait, Func, FunctionCall, IntoColumnRef, PostgresQueryBuilder, Query,
        SelectStatement, SqliteQueryBuilder, Values,
    },
};

use crate::error::Error;

/// A select whose rows come back as JSON objects of the columns named.
pub struct JsonSelect {
    /// The select; its result columns carry the names in `columns`.
    pub select: SelectStatement,
    /// The names of its result columns.
    pub columns: Vec<String>,
}

/// Runs `selects` and returns the rows of each as JSON objects, in the order given.
///
/// Rows are what cost most to carry out of SQLite: sqlx copies every row's values and
/// sends each row to the caller on its own. So on SQLite the selects go together as one
/// statement that returns one row, each select's rows folded into one JSON array (a
/// hundred rows cost about what a hundred statements would). On PostgreSQL each select
/// is one statement returning one JSON array, run one after another in the order given.
///
/// # Errors
/// The database's; INTERNAL when what it returns is not the JSON asked for.
pub async fn select_json(
    db: &impl ConnectionTrait,
    selects: Vec<JsonSelect>,
) -> Result<Vec<Vec<serde_json::Value>>, Error> {
    let backend = db.get_database_backend();
    let mut arrays = Vec::with_capacity(selects.len());
    if backend == DatabaseBackend::Sqlite {
        let mut sql = String::from("SELECT ");
        let mut values = Vec::new();
        for (n, JsonSelect { select, columns }) in selects.into_iter().enumerate() {
            let (text, bound) = select.build(SqliteQueryBuilder);
            let fields: Vec<String> = columns
                .iter()
                .map(|c| format!("'{c}', \"rows\".\"{c}\""))
                .collect();
            let _ = write!(
                sql,
                "{}(SELECT json_group_array(json_object({})) FROM ({text}) AS \"rows\")",
                if n == 0 { "" } else { ", " },
                fields.join(", ")
            );
            values.extend(bound.0);
        }
        let statement = Statement::from_sql_and_values(backend, sql, Values(values));
        if let Some(row) = db.query_one_raw(statement).await? {
            for n in 0..row.column_names().len() {
                arrays.push(json_rows(&row.try_get_by_index::<String>(n)?)?);
            }
        }
        return Ok(arrays);
    }
    for JsonSelect { select, .. } in selects {
        let (text, bound) = select.build(PostgresQueryBuilder);
        let sql =
            format!("SELECT COALESCE(json_agg(\"rows\"), '[]')::text FROM ({text}) AS \"rows\"");
        let statement = Statement::from_sql_and_values(backend, sql, bound);
        let rows = match db.query_one_raw(statement).await? {
            Some(row) => json_rows(&row.try_get_by_index::<String>(0)?)?,
            None => Vec::new(),
        };
        arrays.push(rows);
    }
    Ok(arrays)
}

/// The rows of a JSON array of objects.
fn json_rows(text: &str) -> Result<Vec<serde_json::Value>, Error> {
    match serde_json::from_str(text) {
        Ok(serde_json::Value::Array(rows)) => Ok(rows),
        _ => Err(anyhow::anyhow!("a select returned rows that are not a JSON array").into()),
    }
}

/// The rows of one part of [`select_json`], each read into a `T`.
///
/// # Errors
/// INTERNAL when a row does not fit `T`.
pub fn rows_of<T: serde::de::DeserializeOwned>(
    rows: Vec<serde_json::Value>,
) -> Result<Vec<T>, Error> {
    rows.into_iter()
        .map(|row| {
            serde_json::from_value(row)
                .map_err(|e| anyhow::anyhow!("a stored row does not read back: {e}").into())
        })
        .collect()
}

/// Runs `statements` one after another; returns the rows they return, in order. Meant
/// for writes, of which at most one returns rows.
///
/// # Errors
/// Only the database's; on SQLite the statements before a failed one have run, inside
/// the caller's transaction.
pub async fn run_all(
    db: &impl ConnectionTrait,
    statements: Vec<Statement>,
) -> Result<Vec<QueryResult>, DbErr> {
    let backend = db.get_database_backend();
    if backend != DatabaseBackend::Sqlite {
        let mut rows = Vec::new();
        for statement in statements {
            rows.extend(db.query_all_raw(statement).await?);
        }
        return Ok(rows);
    }
    match statements.len() {
        0 => Ok(Vec::new()),
        _ => db.query_all_raw(joined(backend, statements)).await,
    }
}

/// One SQLite script of `statements`. Their positional parameters follow one another:
/// sqlx binds each statement of a script from where the previous one stopped.
fn joined(backend: DatabaseBackend, statements: Vec<Statement>) -> Statement {
    let mut sql = String::new();
    let mut values = Vec::new();
    for statement in statements {
        let _ = writeln!(sql, "{};", statement.sql);
        values.extend(statement.values.map(|v| v.0).unwrap_or_default());
    }
    Statement::from_sql_and_values(backend, sql, Values(values))
}

/// `column IN (ids)`. On SQLite the ids travel as one JSON array, so that the statement's
/// text, and with it the prepared statement sqlx keeps for it, is the same however many
/// ids there are; a new text would be parsed and planned again.
pub fn among(backend: DatabaseBackend, column: impl IntoColumnRef, ids: &[i64]) -> Expr {
    match backend {
        DatabaseBackend::Sqlite => Expr::col(column).in_subquery(
            Query::select()
                .column(Alias::new("value"))
                .from_function(json_each(ids), Alias::new("listed"))
                .to_owned(),
        ),
        _ => Expr::col(column).is_in(ids.iter().copied()),
    }
}

/// A select of `pairs` as rows of two columns, `first` and `second`; on SQLite from one
/// JSON value, as in [`among`].
pub fn pairs(backend: DatabaseBackend, pairs: &[(i64, i32)]) -> SelectStatement {
    let (first, second) = (Alias::new("first"), Alias::new("second"));
    match backend {
        DatabaseBackend::Sqlite => Query::select()
            .expr_as(Expr::cust("\"value\" ->> 0"), first)
            .expr_as(Expr::cust("\"value\" ->> 1"), second)
            .from_function(json_each(pairs), Alias::new("listed"))
            .to_owned(),
        _ => Query::select()
            .expr_as(Expr::col(Alias::new("column1")), first)
            .expr_as(Expr::col(Alias::new("column2")), second)
            .from_values(pairs.iter().copied(), Alias::new("listed"))
            .to_owned(),
    }
}

/// SQLite's `json_each` over `items`, written as one JSON array.
fn json_each(items: &[impl serde::Serialize]) -> FunctionCall {
    let json = serde_json::to_string(items).unwrap_or_else(|_| "[]".to_owned());
    Func::cust(Alias::new("json_each")).arg(Expr::val(json))
}

/// A select of the rows of a JSON array of arrays bound as parameter `param` (PostgreSQL
/// numbers its parameters; SQLite's are positional), for `INSERT ... SELECT`: the columns
/// in array order, each cast to its PostgreSQL type in `types`, then the expressions in
/// `extra`. Rows come in array order, so ids drawn for them follow it.
pub fn json_table(
    backend: DatabaseBackend,
    types: &[&str],
    param: usize,
    extra: &[&str],
) -> String {
    let mut columns: Vec<String> = match backend {
        DatabaseBackend::Sqlite => (0..types.len())
            .map(|n| format!("\"value\" ->> {n}"))
            .collect(),
        _ => types
            .iter()
            .enumerate()
            .map(|(n, t)| format!("(\"element\" ->> {n})::{t}"))
            .collect(),
    };
    columns.extend(extra.iter().map(|e| (*e).to_owned()));
    let columns = columns.join(", ");
    match backend {
        // `WHERE true` lets an ON CONFLICT clause follow: SQLite would read it as a join's.
        DatabaseBackend::Sqlite => format!("SELECT {columns} FROM json_each(?) WHERE true"),
        _ => format!(
            "SELECT {columns} FROM jsonb_array_elements(${param}::jsonb) WITH ORDINALITY \
             AS \"rows\"(\"element\", \"position\") ORDER BY \"position\""
        ),
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{Database, sea_query::Query};

    use super::*;

    #[tokio::test]
    async fn a_script_binds_each_statement_its_own_values_and_reads_come_back_apart()
    -> anyhow::Result<()> {
        let db = Database::connect("sqlite::memory:").await?;
        db.execute_unprepared("CREATE TABLE pairs (first INTEGER PRIMARY KEY, second INTEGER)")
            .await?;
        let backend = db.get_database_backend();
        let insert = |rows: &str| {
            Statement::from_sql_and_values(
                backend,
                format!(
                    "INSERT INTO pairs (first, second) {}",
                    json_table(backend, &["bigint", "bigint"], 1, &[])
                ),
                [rows.into()],
            )
        };
        let returned =
            run_all(&db, vec![insert("[[1, 10], [2, 20]]"), insert("[[3, 30]]")]).await?;
        assert!(returned.is_empty());

        let select = |ids: &[i64]| JsonSelect {
            select: Query::select()
                .columns([Alias::new("first"), Alias::new("second")])
                .from(Alias::new("pairs"))
                .and_where(among(backend, Alias::new("first"), ids))
                .to_owned(),
            columns: vec!["first".to_owned(), "second".to_owned()],
        };
        let read = select_json(&db, vec![select(&[3, 1]), select(&[]), select(&[2])]).await?;
        let seconds = |rows: &Vec<serde_json::Value>| -> Vec<i64> {
            let mut seconds: Vec<i64> = rows.iter().filter_map(|r| r["second"].as_i64()).collect();
            seconds.sort_unstable();
            seconds
        };
        assert_eq!(read.len(), 3);
        assert_eq!(seconds(&read[0]), vec![10, 30]);
        assert!(read[1].is_empty());
        assert_eq!(seconds(&read[2]), vec![20]);
        Ok(())
    }
}
