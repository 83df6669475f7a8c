//! Writing the accepted lines of a batch, with the balances and summary totals the books
//! now hold for them.

use std::collections::BTreeSet;

use chrono::{SubsecRound, Utc};
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};

use super::{LineRow, books::Ledger};
use crate::{
    domain::{
        Numbered,
        ledger::{Books, Posting, TotalKey},
    },
    error::Error,
    store::{constraint_error, entities::stored_enum::LedgerField, sqlite::script},
};

/// Writes the accepted lines of a batch, in order, with the balances the books now hold
/// and the summary totals the lines move; returns the stored lines in the same order. Each
/// posting comes with the token that recorded it.
///
/// # Errors
/// [`Error::Contention`] when a concurrent transaction reversed the same line first, or
/// opened the same pairing-year balance first (it is retried, and then sees that); the
/// database's failures, including a CHECK on a balance should the books ever disagree
/// with the database.
pub async fn write(
    db: &impl ConnectionTrait,
    ledger: &Ledger,
    postings: &[(Posting, Option<i64>)],
) -> Result<Vec<LineRow>, Error> {
    let books = &ledger.books;
    if postings.is_empty() {
        return Ok(Vec::new());
    }
    // What both databases keep, so that the rows built here equal the rows read back.
    let now = Utc::now().trunc_subsecs(6);
    // The lines as they will be stored; each gets its id from the insert.
    let mut lines: Vec<LineRow> = postings
        .iter()
        .map(|(p, creator)| LineRow {
            id: 0,
            kind: p.kind,
            pairing_id: p.pairing_id,
            project_id: p.project_id,
            fiscal_year: p.fiscal_year,
            amount_fen: p.amount.fen(),
            source: p.source,
            instrument: p.instrument,
            field: LedgerField(p.field),
            payee: p.payee.clone(),
            payee_organization_id: p.payee_organization_id,
            value_date: p.value_date,
            memo: p.memo.clone(),
            reverses_id: p.reverses,
            create_time: now,
            creator_token_id: *creator,
        })
        .collect();
    let backend = db.get_database_backend();
    let mut years = BTreeSet::new();
    let mut projects = BTreeSet::new();
    let mut totals = BTreeSet::new();
    for (p, _) in postings {
        years.insert((p.pairing_id, p.fiscal_year));
        projects.extend(p.project_id);
        totals.extend(books.moved_keys(p)?);
    }
    let mut statements = vec![insert_lines(backend, &lines, now)];
    statements.extend(save_years(backend, ledger, years));
    statements.extend(save_projects(backend, books, projects));
    statements.extend(save_totals(backend, ledger, totals));
    // Of the statements only the insert returns rows. A unique key that another
    // transaction took first (a reversal of the same line, a new pairing-year) is a lost
    // race: the batch is run again, and then sees it.
    let returned = script::run_all(db, statements)
        .await
        .map_err(|e| constraint_error(e, || Error::Contention))?;
    let mut ids = returned
        .iter()
        .map(|row| row.try_get_by_index::<i64>(0))
        .collect::<Result<Vec<_>, _>>()?;
    // Ids are drawn in the order of the lines.
    ids.sort_unstable();
    if ids.len() != postings.len() {
        return Err(anyhow::anyhow!("the ledger insert returned {} ids", ids.len()).into());
    }
    for (line, id) in lines.iter_mut().zip(ids) {
        line.id = id;
    }
    Ok(lines)
}

/// The insert of the lines, in order, returning their ids; the lines travel as one JSON
/// value, so that the statement's text is the same for any number of them.
fn insert_lines(
    backend: DatabaseBackend,
    lines: &[LineRow],
    now: chrono::DateTime<Utc>,
) -> Statement {
    let lines: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| {
            serde_json::json!([
                l.kind.to_i16(),
                l.pairing_id,
                l.project_id,
                l.fiscal_year,
                l.amount_fen,
                l.source.to_i16(),
                l.instrument.to_i16(),
                l.field.to_i16(),
                l.payee,
                l.payee_organization_id,
                crate::domain::period::format_date(l.value_date),
                l.memo,
                l.reverses_id,
                l.creator_token_id,
            ])
        })
        .collect();
    // The creation time is bound as itself, so that it is stored as every other is.
    let rows = script::json_table(backend, LINE_TYPES, true);
    let sql = format!(
        "INSERT INTO fund_transactions (kind, pairing_id, project_id, fiscal_year, amount_fen, \
         source, instrument, field, payee, payee_organization_id, value_date, memo, \
         reverses_id, creator_token_id, create_time) {rows} RETURNING id"
    );
    Statement::from_sql_and_values(backend, sql, [now.into(), script::json_array(lines).into()])
}

/// The types of a ledger line's columns as [`insert_lines`] sends them.
const LINE_TYPES: &[&str] = &[
    "smallint", "bigint", "bigint", "int", "bigint", "smallint", "smallint", "smallint", "text",
    "bigint", "date", "text", "bigint", "bigint",
];

/// A table of the ledger's accounts, written whole: its key's columns, then its money's.
struct Accounts {
    table: &'static str,
    key: &'static [&'static str],
    money: &'static [&'static str],
    /// The PostgreSQL type of each column, key first.
    types: &'static [&'static str],
}

const YEARS: Accounts = Accounts {
    table: "pairing_year_balances",
    key: &["pairing_id", "fiscal_year"],
    money: &["committed_fen", "allocated_fen"],
    types: &["bigint", "int", "bigint", "bigint"],
};

const PROJECTS: Accounts = Accounts {
    table: "project_balances",
    key: &["project_id"],
    money: &["allocated_fen", "disbursed_fen"],
    types: &["bigint", "bigint", "bigint"],
};

const TOTALS: Accounts = Accounts {
    table: "fund_totals",
    key: &["scope", "fiscal_year", "source", "instrument", "field"],
    money: &["committed_fen", "allocated_fen", "disbursed_fen"],
    types: &[
        "text", "int", "smallint", "smallint", "smallint", "bigint", "bigint", "bigint",
    ],
};

impl Accounts {
    /// The writes of `rows` (each a JSON array of the columns, and whether it was stored
    /// when read, and so is locked): over the stored rows, and as new rows where none was
    /// stored; a new row that a concurrent transaction inserted first is a unique
    /// violation, and the batch is run again. Only whole values are written, never a
    /// change: PostgreSQL checks the row an upsert proposes before it finds the conflict,
    /// and a reversal's change is negative.
    fn save(
        &self,
        backend: DatabaseBackend,
        rows: Vec<(bool, serde_json::Value)>,
    ) -> Vec<Statement> {
        let (stored, new): (Vec<_>, Vec<_>) = rows.into_iter().partition(|(stored, _)| *stored);
        let columns = [self.key, self.money].concat().join(", ");
        let select = script::json_table(backend, self.types, false);
        let insert = format!("INSERT INTO {} ({columns}) {select}", self.table);
        let set: Vec<String> = self
            .money
            .iter()
            .map(|c| format!("{c} = excluded.{c}"))
            .collect();
        let mut statements = Vec::new();
        if !stored.is_empty() {
            statements.push(Statement::from_sql_and_values(
                backend,
                format!(
                    "{insert} ON CONFLICT ({}) DO UPDATE SET {}",
                    self.key.join(", "),
                    set.join(", ")
                ),
                [script::json_array(stored.into_iter().map(|(_, row)| row)).into()],
            ));
        }
        if !new.is_empty() {
            statements.push(Statement::from_sql_and_values(
                backend,
                insert,
                [script::json_array(new.into_iter().map(|(_, row)| row)).into()],
            ));
        }
        statements
    }
}

/// The writes of the pairing-year balances the batch moved, as the books now hold them.
fn save_years(
    backend: DatabaseBackend,
    ledger: &Ledger,
    keys: BTreeSet<(i64, i32)>,
) -> Vec<Statement> {
    let rows = keys
        .into_iter()
        .map(|key| {
            let balance = ledger.books.years.get(&key).copied().unwrap_or_default();
            let row = serde_json::json!([key.0, key.1, balance.committed, balance.allocated]);
            (ledger.stored_years.contains(&key), row)
        })
        .collect();
    YEARS.save(backend, rows)
}

/// The writes of the project balances the batch moved, as the books now hold them. Every
/// project has its row from creation, locked when the books were read.
fn save_projects(backend: DatabaseBackend, books: &Books, ids: BTreeSet<i64>) -> Vec<Statement> {
    let rows = ids
        .into_iter()
        .map(|id| {
            let balance = books.project_balances.get(&id).copied().unwrap_or_default();
            (
                true,
                serde_json::json!([id, balance.allocated, balance.disbursed]),
            )
        })
        .collect();
    PROJECTS.save(backend, rows)
}

/// The writes of the summary totals the batch moved, as the books now hold them.
fn save_totals(
    backend: DatabaseBackend,
    ledger: &Ledger,
    keys: BTreeSet<TotalKey>,
) -> Vec<Statement> {
    let rows = keys
        .into_iter()
        .map(|key| {
            let total = ledger.books.totals.get(&key).copied().unwrap_or_default();
            let row = serde_json::json!([
                key.scope,
                key.fiscal_year,
                key.source.to_i16(),
                key.instrument.to_i16(),
                LedgerField(key.field).to_i16(),
                total.committed,
                total.allocated,
                total.disbursed
            ]);
            (ledger.stored_totals.contains(&key), row)
        })
        .collect();
    TOTALS.save(backend, rows)
}
