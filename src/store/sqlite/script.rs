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
    Condition, ConnectionTrait, DatabaseBackend, DbErr, IdenStatic, QueryResult, Statement,
    sea_query::{
        Alias, Expr, Func, FunctionCall, IntoIden, IntoTableRef, PostgresQueryBuilder, Query,
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
/// statement that returns one row, each select's rows folded into one JSON array. On
/// PostgreSQL each select is one statement returning one JSON array, run one after
/// another in the order given.
///
/// # Errors
/// The database's; INTERNAL when what it returns is not the JSON asked for.
pub async fn select_json(
    db: &impl ConnectionTrait,
    selects: Vec<JsonSelect>,
) -> Result<Vec<Vec<serde_json::Value>>, Error> {
    let backend = db.get_database_backend();
    let mut arrays = Vec::with_capacity(selects.len());
    if selects.is_empty() {
        return Ok(arrays);
    }
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
        let row = db
            .query_one_raw(statement)
            .await?
            .ok_or_else(|| anyhow::anyhow!("a select of JSON arrays returned no row"))?;
        for n in 0..row.column_names().len() {
            arrays.push(json_rows(&row.try_get_by_index::<String>(n)?)?);
        }
        return Ok(arrays);
    }
    for JsonSelect { select, .. } in selects {
        let (text, bound) = select.build(PostgresQueryBuilder);
        let sql =
            format!("SELECT COALESCE(json_agg(\"rows\"), '[]')::text FROM ({text}) AS \"rows\"");
        let statement = Statement::from_sql_and_values(backend, sql, bound);
        let row = db
            .query_one_raw(statement)
            .await?
            .ok_or_else(|| anyhow::anyhow!("a select of a JSON array returned no row"))?;
        arrays.push(json_rows(&row.try_get_by_index::<String>(0)?)?);
    }
    Ok(arrays)
}

/// A select of `columns` of `table` where `condition` holds, read back as JSON objects.
pub fn json_select<T, C>(table: T, columns: &[C], condition: impl Into<Condition>) -> JsonSelect
where
    T: IntoTableRef,
    C: IntoIden + IdenStatic,
{
    JsonSelect {
        select: Query::select()
            .columns(columns.iter().copied())
            .from(table)
            .cond_where(condition)
            .to_owned(),
        columns: columns.iter().map(|c| c.as_str().to_owned()).collect(),
    }
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
            serde_json::from_value(row).map_err(|e| {
                let what = std::any::type_name::<T>();
                anyhow::anyhow!("a stored row does not read back as {what}: {e}").into()
            })
        })
        .collect()
}

/// Runs `statements` one after another, as one script on SQLite; returns the rows they
/// return, in order. Statements on SQLite take positional `?` parameters only: a
/// numbered one would count from the script's first value.
///
/// # Errors
/// Only the database's; the statements before a failed one have run, inside the
/// caller's transaction, which the caller rolls back.
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

/// A select of `ids` as rows of one column. On SQLite the ids travel as one JSON array,
/// so that the text of a statement using it, and with it the prepared statement sqlx
/// keeps, is the same however many ids there are; a new text is parsed and planned again.
pub fn listed(backend: DatabaseBackend, ids: &[i64]) -> SelectStatement {
    match backend {
        DatabaseBackend::Sqlite => {
            let json = format!(
                "[{}]",
                ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
            );
            Query::select()
                .column(Alias::new("value"))
                .from_function(json_each(json), Alias::new("listed"))
                .to_owned()
        }
        _ => Query::select()
            .column(Alias::new("column1"))
            .from_values(ids.iter().copied(), Alias::new("listed"))
            .to_owned(),
    }
}

/// A select of `pairs` as rows of two columns, `first` and `second`; on SQLite from one
/// JSON value, as in [`listed`].
pub fn pairs<T>(backend: DatabaseBackend, pairs: &[(i64, T)]) -> SelectStatement
where
    T: Copy + serde::Serialize + Into<sea_orm::Value>,
{
    let (first, second) = (Alias::new("first"), Alias::new("second"));
    match backend {
        DatabaseBackend::Sqlite => Query::select()
            .expr_as(Expr::cust("\"value\" ->> 0"), first)
            .expr_as(Expr::cust("\"value\" ->> 1"), second)
            .from_function(
                json_each(json_array(
                    pairs.iter().map(|(a, b)| serde_json::json!([a, b])),
                )),
                Alias::new("listed"),
            )
            .to_owned(),
        _ => Query::select()
            .expr_as(Expr::col(Alias::new("column1")), first)
            .expr_as(Expr::col(Alias::new("column2")), second)
            .from_values(pairs.iter().copied(), Alias::new("listed"))
            .to_owned(),
    }
}

/// SQLite's `json_each` over the JSON array `json`.
fn json_each(json: String) -> FunctionCall {
    Func::cust(Alias::new("json_each")).arg(Expr::val(json))
}

/// A select of the rows of a JSON array of arrays, for `INSERT ... SELECT`: the columns in
/// array order, each cast to its PostgreSQL type in `types` (a `bytea` sent as hex), and then, with `time`, a
/// time bound apart. The statement binds the time first, if any, then the array. Rows
/// come in array order, so ids drawn for them follow it.
pub fn json_table(backend: DatabaseBackend, types: &[&str], time: bool) -> String {
    let sqlite = backend == DatabaseBackend::Sqlite;
    let mut columns: Vec<String> = types
        .iter()
        .enumerate()
        .map(|(n, t)| match (sqlite, *t) {
            // Bytes travel as hex.
            (true, "bytea") => format!("unhex(\"value\" ->> {n})"),
            (false, "bytea") => format!("decode(\"element\" ->> {n}, 'hex')"),
            (true, _) => format!("\"value\" ->> {n}"),
            (false, t) => format!("(\"element\" ->> {n})::{t}"),
        })
        .collect();
    if time {
        columns.push(if sqlite { "?" } else { "$1" }.to_owned());
    }
    let columns = columns.join(", ");
    match sqlite {
        // `WHERE true` lets an ON CONFLICT clause follow: SQLite would read it as a join's.
        true => format!("SELECT {columns} FROM json_each(?) WHERE true"),
        false => format!(
            "SELECT {columns} FROM jsonb_array_elements(${}::jsonb) WITH ORDINALITY \
             AS \"rows\"(\"element\", \"position\") ORDER BY \"position\"",
            if time { 2 } else { 1 }
        ),
    }
}

/// One JSON array of `rows`, as text: the parameter of a [`json_table`].
pub fn json_array(rows: impl IntoIterator<Item = serde_json::Value>) -> String {
    serde_json::Value::Array(rows.into_iter().collect()).to_string()
}

#[cfg(test)]
mod tests {
    use sea_orm::{Database, ExprTrait, sea_query::Query};

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
                    json_table(backend, &["bigint", "bigint"], false)
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
                .and_where(Expr::col(Alias::new("first")).in_subquery(listed(backend, ids)))
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
