//! The funds ledger in the database: reading the books a batch of lines touches (locking
//! their balances on PostgreSQL), writing the accepted lines with their balances and
//! summary totals, and reading lines and totals back.

use std::collections::{BTreeSet, HashMap};

use chrono::{SubsecRound, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, EntityTrait, IdenStatic, QueryFilter,
    QueryOrder, QuerySelect, Statement,
    sea_query::{
        Alias, Asterisk, Expr, ExprTrait, IntoIden, IntoTableRef, Order, Query, SelectStatement,
        UnionType,
    },
};

use serde::Deserialize;

use super::{
    constraint_error,
    entities::{
        fund_total, fund_transaction, pairing, pairing_year_balance, project, project_balance,
    },
    sqlite::script::{self, JsonSelect},
};
use crate::{
    domain::{
        ledger::{
            Books, Effect, Entry, Instrument, Kind, LineFacts, PairingFacts, Posting,
            ProjectBalance, ProjectFacts, Source, Sums, TotalKey, YearBalance,
        },
        money::{Amount, Sum},
        pairing::{CooperationField, PairingState},
        project::ProjectState,
        region::RegionPath,
    },
    error::Error,
};

pub use fund_transaction::Model as LineRow;

/// The books of a batch, with what the database held when they were read.
pub struct Ledger {
    /// The books; posting lines updates them.
    pub books: Books,
    /// The pairing-year balances that existed when read, and so are locked.
    stored_years: BTreeSet<(i64, i32)>,
    /// The summary totals that existed when read, and so are locked.
    stored_totals: BTreeSet<TotalKey>,
}

/// Reads what `entries` can touch: the lines reversals name, the projects and pairings
/// involved, and their balances; on SQLite in one statement (see [`super::sqlite::script`]). What
/// one entry leads to (a reversed line to its pairing, a project to its pairing's year) is
/// followed inside the statements. On PostgreSQL the projects and pairings are read-locked and the
/// balances write-locked, in id order, until the transaction ends; on SQLite the
/// transaction's write lock already covers them.
///
/// # Errors
/// INTERNAL for stored values out of range; the database's failures.
pub async fn load_books(db: &impl ConnectionTrait, entries: &[&Entry]) -> Result<Ledger, Error> {
    let mut line_ids = BTreeSet::new();
    let mut project_ids = BTreeSet::new();
    let mut pairing_ids = BTreeSet::new();
    let mut pairing_years = BTreeSet::new();
    let mut project_years = BTreeSet::new();
    for entry in entries {
        match entry {
            Entry::Record(d) => {
                project_ids.extend(d.project_id);
                pairing_ids.extend(d.pairing_id);
                pairing_years.extend(d.pairing_id.map(|p| (p, d.fiscal_year)));
                project_years.extend(d.project_id.map(|p| (p, d.fiscal_year)));
            }
            Entry::Reverse { line_id, .. } => {
                line_ids.insert(*line_id);
            }
        }
    }
    let mut ledger = Ledger {
        books: Books::default(),
        stored_years: BTreeSet::new(),
        stored_totals: BTreeSet::new(),
    };
    if line_ids.is_empty() && project_ids.is_empty() && pairing_ids.is_empty() {
        return Ok(ledger);
    }
    let wanted = Wanted {
        lines: line_ids.into_iter().collect(),
        projects: project_ids.into_iter().collect(),
        pairings: pairing_ids.into_iter().collect(),
        pairing_years: pairing_years.into_iter().collect(),
        project_years: project_years.into_iter().collect(),
    };
    let (parts, selects): (Vec<Part>, Vec<JsonSelect>) = wanted
        .selects(db.get_database_backend())
        .into_iter()
        .unzip();
    let mut found = Found::default();
    for (part, rows) in parts
        .into_iter()
        .zip(script::select_json(db, selects).await?)
    {
        *found.part(part) = rows;
    }
    let books = &mut ledger.books;
    let reversed_by: HashMap<i64, i64> = script::rows_of::<ReversalRow>(found.reversals)?
        .into_iter()
        .map(|r| (r.reverses_id, r.id))
        .collect();
    for line in script::rows_of::<LineFactsRow>(found.lines)? {
        let facts = line_facts(&line, reversed_by.get(&line.id).copied())?;
        books.lines.insert(line.id, facts);
    }
    for row in script::rows_of::<ProjectRow>(found.projects)? {
        books.projects.insert(row.id, project_facts(&row)?);
    }
    for row in script::rows_of::<PairingRow>(found.pairings)? {
        books.pairings.insert(row.id, pairing_facts(row)?);
    }
    for y in script::rows_of::<YearRow>(found.years)? {
        ledger.stored_years.insert((y.pairing_id, y.fiscal_year));
        books.years.insert(
            (y.pairing_id, y.fiscal_year),
            YearBalance {
                committed: y.committed_fen,
                allocated: y.allocated_fen,
            },
        );
    }
    for b in script::rows_of::<BalanceRow>(found.balances)? {
        books.project_balances.insert(
            b.project_id,
            ProjectBalance {
                allocated: b.allocated_fen,
                disbursed: b.disbursed_fen,
            },
        );
    }
    let keys: BTreeSet<TotalKey> = entries.iter().flat_map(|e| books.total_keys(e)).collect();
    books.totals = load_totals(db, keys).await?;
    ledger.stored_totals = books.totals.keys().cloned().collect();
    Ok(ledger)
}

/// The stored totals of `keys`, so that the books can check every sum a line moves. On
/// PostgreSQL the rows are write-locked in key order, after the balances, until the
/// transaction ends: no other server's batch can move them in between. A key without a
/// row stands at zero; a row another server adds meanwhile holds at most one batch's
/// lines, which cannot carry a sum out of range.
///
/// # Errors
/// INTERNAL for a stored row that does not read back; the database's failures.
async fn load_totals(
    db: &impl ConnectionTrait,
    keys: BTreeSet<TotalKey>,
) -> Result<HashMap<TotalKey, Effect>, Error> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let backend = db.get_database_backend();
    let wanted: Vec<serde_json::Value> = keys
        .iter()
        .map(|k| {
            serde_json::json!([
                k.scope,
                k.fiscal_year,
                k.source.number(),
                k.instrument.number(),
                k.field.map_or(0, |f| f.number())
            ])
        })
        .collect();
    let element = |n: usize, cast: &str| match backend {
        DatabaseBackend::Sqlite => format!("\"value\" ->> {n}"),
        _ => format!("(\"element\" ->> {n}){cast}"),
    };
    let (keys_table, lock) = match backend {
        DatabaseBackend::Sqlite => ("json_each(?) AS \"keys\"", ""),
        _ => (
            "jsonb_array_elements($1::jsonb) AS \"keys\"(\"element\")",
            " FOR UPDATE OF t",
        ),
    };
    let sql = format!(
        "SELECT t.scope, t.fiscal_year, t.source, t.instrument, t.field, t.committed_fen, \
         t.allocated_fen, t.disbursed_fen FROM {keys_table} JOIN fund_totals AS t \
         ON t.scope = {} AND t.fiscal_year = {} AND t.source = {} AND t.instrument = {} \
         AND t.field = {} ORDER BY t.scope, t.fiscal_year, t.source, t.instrument, \
         t.field{lock}",
        element(0, ""),
        element(1, "::int"),
        element(2, "::smallint"),
        element(3, "::smallint"),
        element(4, "::smallint"),
    );
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [script::json_array(wanted).into()],
        ))
        .await?;
    let mut totals = HashMap::with_capacity(rows.len());
    for row in rows {
        let source: i16 = row.try_get_by_index(2)?;
        let instrument: i16 = row.try_get_by_index(3)?;
        let field: i16 = row.try_get_by_index(4)?;
        let unknown = || anyhow::anyhow!("a stored total has an unknown source or instrument");
        let key = TotalKey {
            scope: row.try_get_by_index(0)?,
            fiscal_year: row.try_get_by_index(1)?,
            source: Source::from_number(i32::from(source)).ok_or_else(unknown)?,
            instrument: Instrument::from_number(i32::from(instrument)).ok_or_else(unknown)?,
            field: CooperationField::from_number(i32::from(field)),
        };
        let total = Effect {
            committed: row.try_get_by_index(5)?,
            allocated: row.try_get_by_index(6)?,
            disbursed: row.try_get_by_index(7)?,
        };
        totals.insert(key, total);
    }
    Ok(totals)
}

/// The parts of the books a batch reads.
#[derive(Debug, Clone, Copy)]
enum Part {
    Lines,
    Reversals,
    Projects,
    Pairings,
    Years,
    Balances,
}

/// The rows read of each part.
#[derive(Default)]
struct Found {
    lines: Vec<serde_json::Value>,
    reversals: Vec<serde_json::Value>,
    projects: Vec<serde_json::Value>,
    pairings: Vec<serde_json::Value>,
    years: Vec<serde_json::Value>,
    balances: Vec<serde_json::Value>,
}

impl Found {
    fn part(&mut self, part: Part) -> &mut Vec<serde_json::Value> {
        match part {
            Part::Lines => &mut self.lines,
            Part::Reversals => &mut self.reversals,
            Part::Projects => &mut self.projects,
            Part::Pairings => &mut self.pairings,
            Part::Years => &mut self.years,
            Part::Balances => &mut self.balances,
        }
    }
}

/// What a batch's entries name, each sorted and without repeats.
struct Wanted {
    /// Lines to be reversed.
    lines: Vec<i64>,
    projects: Vec<i64>,
    pairings: Vec<i64>,
    /// Pairing-years named with their pairing.
    pairing_years: Vec<(i64, i32)>,
    /// Pairing-years named by a project of the pairing.
    project_years: Vec<(i64, i32)>,
}

impl Wanted {
    /// The selects of the books: the lines to be reversed and their reversals (when there
    /// are any), then, in the order their rows are locked, the projects, the pairings, the
    /// pairing-year balances and the project balances.
    ///
    /// Each part is read by its key, from one union of whatever names its rows, so that
    /// PostgreSQL can join on the key's index (it cannot under an OR of subqueries). A
    /// part that nothing names is not read: a select without its condition would read,
    /// and lock, every row.
    fn selects(&self, backend: DatabaseBackend) -> Vec<(Part, JsonSelect)> {
        use fund_transaction::Column as L;
        use pairing_year_balance::Column as Y;
        let reversing = !self.lines.is_empty();
        // Columns of the lines to be reversed.
        let of_lines = |columns: &[L]| {
            let mut select = Query::select();
            for &column in columns {
                select.column(column);
            }
            select
                .from(fund_transaction::Entity)
                .and_where(L::Id.in_subquery(script::listed(backend, &self.lines)))
                .to_owned()
        };
        let mut project_keys = Vec::new();
        let mut pairing_keys = Vec::new();
        let mut year_keys = Vec::new();
        if !self.projects.is_empty() {
            project_keys.push(script::listed(backend, &self.projects));
        }
        if reversing {
            project_keys.push(of_lines(&[L::ProjectId]));
        }
        if let Some(projects) = union(project_keys.clone()) {
            pairing_keys.push(
                Query::select()
                    .column(project::Column::PairingId)
                    .from(project::Entity)
                    .and_where(project::Column::Id.in_subquery(projects))
                    .to_owned(),
            );
        }
        if !self.pairings.is_empty() {
            pairing_keys.push(script::listed(backend, &self.pairings));
        }
        if reversing {
            pairing_keys.push(of_lines(&[L::PairingId]));
        }
        if !self.pairing_years.is_empty() {
            year_keys.push(script::pairs(backend, &self.pairing_years));
        }
        if !self.project_years.is_empty() {
            // (project, year) becomes (the project's pairing, year).
            let named = Alias::new("named");
            year_keys.push(
                Query::select()
                    .column((project::Entity, project::Column::PairingId))
                    .column((named.clone(), Alias::new("second")))
                    .from_subquery(script::pairs(backend, &self.project_years), named.clone())
                    .inner_join(
                        project::Entity,
                        Expr::col((project::Entity, project::Column::Id))
                            .equals((named, Alias::new("first"))),
                    )
                    .to_owned(),
            );
        }
        if reversing {
            year_keys.push(of_lines(&[L::PairingId, L::FiscalYear]));
        }
        let year_key = Expr::tuple([Expr::col(Y::PairingId), Expr::col(Y::FiscalYear)]);
        let projects =
            union(project_keys.clone()).map(|keys| project::Column::Id.in_subquery(keys));
        let pairings = union(pairing_keys).map(|keys| pairing::Column::Id.in_subquery(keys));
        let years = union(year_keys).map(|keys| year_key.in_subquery(keys));
        let balances =
            union(project_keys).map(|keys| project_balance::Column::ProjectId.in_subquery(keys));
        let mut selects = Vec::with_capacity(6);
        if reversing {
            let lines = L::Id.in_subquery(script::listed(backend, &self.lines));
            selects.push((
                Part::Lines,
                json_select(
                    fund_transaction::Entity,
                    &[
                        L::Id,
                        L::Kind,
                        L::PairingId,
                        L::ProjectId,
                        L::FiscalYear,
                        L::AmountFen,
                        L::Source,
                        L::Instrument,
                        L::Field,
                    ],
                    lines,
                ),
            ));
            let reversals = L::ReversesId.in_subquery(script::listed(backend, &self.lines));
            selects.push((
                Part::Reversals,
                json_select(fund_transaction::Entity, &[L::Id, L::ReversesId], reversals),
            ));
        }
        if let Some(projects) = projects {
            use project::Column as P;
            let mut select = json_select(
                project::Entity,
                &[P::Id, P::PairingId, P::State, P::BudgetFen, P::Field],
                projects,
            );
            select.select.order_by(P::Id, Order::Asc).lock_shared();
            selects.push((Part::Projects, select));
        }
        if let Some(pairings) = pairings {
            use pairing::Column as C;
            let mut select = json_select(
                pairing::Entity,
                &[
                    C::Id,
                    C::ProgramId,
                    C::SupportingPath,
                    C::SupportedPath,
                    C::PeriodStart,
                    C::PeriodEnd,
                    C::State,
                ],
                pairings,
            );
            select.select.expr_as(
                Expr::case(C::DeleteTime.is_null(), 0).finally(1),
                Alias::new("deleted"),
            );
            select.columns.push("deleted".to_owned());
            select.select.order_by(C::Id, Order::Asc).lock_shared();
            selects.push((Part::Pairings, select));
        }
        if let Some(years) = years {
            let mut select = json_select(
                pairing_year_balance::Entity,
                &[
                    Y::PairingId,
                    Y::FiscalYear,
                    Y::CommittedFen,
                    Y::AllocatedFen,
                ],
                years,
            );
            select
                .select
                .order_by(Y::PairingId, Order::Asc)
                .order_by(Y::FiscalYear, Order::Asc)
                .lock_exclusive();
            selects.push((Part::Years, select));
        }
        if let Some(balances) = balances {
            use project_balance::Column as B;
            let mut select = json_select(
                project_balance::Entity,
                &[B::ProjectId, B::AllocatedFen, B::DisbursedFen],
                balances,
            );
            select
                .select
                .order_by(B::ProjectId, Order::Asc)
                .lock_exclusive();
            selects.push((Part::Balances, select));
        }
        selects
    }
}

/// The rows of all of `selects`, or none when there are none. The union is read from as a
/// table: SQLite answers `(a, b) IN (... UNION ALL ...)` with a scan, and the same from
/// a table with index lookups.
fn union(selects: Vec<SelectStatement>) -> Option<SelectStatement> {
    let mut selects = selects.into_iter();
    let mut all = selects.next()?;
    for select in selects {
        all.union(UnionType::All, select);
    }
    Some(
        Query::select()
            .column(Asterisk)
            .from_subquery(all, Alias::new("keys"))
            .to_owned(),
    )
}

/// A select of `columns` of `table` where `condition` holds, read back as JSON objects.
fn json_select<T, C>(table: T, columns: &[C], condition: impl Into<Condition>) -> JsonSelect
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

/// What the books need of a line to be reversed.
#[derive(Deserialize)]
struct LineFactsRow {
    id: i64,
    kind: i16,
    pairing_id: i64,
    project_id: Option<i64>,
    fiscal_year: i32,
    amount_fen: i64,
    source: i16,
    instrument: i16,
    field: i16,
}

/// A reversal and the line it cancels.
#[derive(Deserialize)]
struct ReversalRow {
    id: i64,
    reverses_id: i64,
}

/// A pairing-year balance.
#[derive(Deserialize)]
struct YearRow {
    pairing_id: i64,
    fiscal_year: i32,
    committed_fen: i64,
    allocated_fen: i64,
}

/// A project balance.
#[derive(Deserialize)]
struct BalanceRow {
    project_id: i64,
    allocated_fen: i64,
    disbursed_fen: i64,
}

fn line_facts(row: &LineFactsRow, reversed_by: Option<i64>) -> Result<LineFacts, Error> {
    Ok(LineFacts {
        kind: Kind::from_number(i32::from(row.kind)).ok_or_else(|| stored("kind", row.id))?,
        pairing_id: row.pairing_id,
        project_id: row.project_id,
        fiscal_year: row.fiscal_year,
        amount: Amount::from_fen(row.amount_fen)?,
        source: Source::from_number(i32::from(row.source))
            .ok_or_else(|| stored("source", row.id))?,
        instrument: Instrument::from_number(i32::from(row.instrument))
            .ok_or_else(|| stored("instrument", row.id))?,
        field: CooperationField::from_number(i32::from(row.field)),
        reversed_by,
    })
}

fn stored(what: &str, id: i64) -> Error {
    anyhow::anyhow!("ledger line {id} has an unknown {what}").into()
}

/// The kind of a stored line.
///
/// # Errors
/// INTERNAL for an unknown kind.
pub fn kind_of(row: &LineRow) -> Result<Kind, Error> {
    Kind::from_number(i32::from(row.kind)).ok_or_else(|| stored("kind", row.id))
}

/// What the books need of a project.
#[derive(Deserialize)]
struct ProjectRow {
    id: i64,
    pairing_id: i64,
    state: i16,
    budget_fen: i64,
    field: i16,
}

fn project_facts(row: &ProjectRow) -> Result<ProjectFacts, Error> {
    Ok(ProjectFacts {
        pairing_id: row.pairing_id,
        state: ProjectState::from_number(i32::from(row.state))
            .ok_or_else(|| anyhow::anyhow!("project {} has an unknown state", row.id))?,
        budget_fen: row.budget_fen,
        field: CooperationField::from_number(i32::from(row.field))
            .ok_or_else(|| anyhow::anyhow!("project {} has an unknown field", row.id))?,
    })
}

/// What the books need of a pairing; its period's dates as stored, `YYYY-MM-DD`.
#[derive(Deserialize)]
struct PairingRow {
    id: i64,
    program_id: i64,
    supporting_path: String,
    supported_path: String,
    period_start: String,
    period_end: String,
    state: i16,
    deleted: i16,
}

fn pairing_facts(row: PairingRow) -> Result<PairingFacts, Error> {
    use chrono::Datelike;
    let year = |date: &str| {
        chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
            .map(|d| d.year())
            .map_err(|_| Error::from(anyhow::anyhow!("pairing {} has a bad period", row.id)))
    };
    Ok(PairingFacts {
        program_id: row.program_id,
        years: (year(&row.period_start)?, year(&row.period_end)?),
        supporting: RegionPath::from_stored(row.supporting_path),
        supported: RegionPath::from_stored(row.supported_path),
        open: row.deleted == 0 && row.state == PairingState::Active.number() as i16,
    })
}

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
            kind: p.kind.number() as i16,
            pairing_id: p.pairing_id,
            project_id: p.project_id,
            fiscal_year: p.fiscal_year,
            amount_fen: p.amount.fen(),
            source: p.source.number() as i16,
            instrument: p.instrument.number() as i16,
            field: p.field.map_or(0, |f| f.number() as i16),
            payee: p.payee.clone(),
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
                l.kind,
                l.pairing_id,
                l.project_id,
                l.fiscal_year,
                l.amount_fen,
                l.source,
                l.instrument,
                l.field,
                l.payee,
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
         source, instrument, field, payee, value_date, memo, reverses_id, creator_token_id, \
         create_time) {rows} RETURNING id"
    );
    Statement::from_sql_and_values(backend, sql, [now.into(), script::json_array(lines).into()])
}

/// The types of a ledger line's columns as [`insert_lines`] sends them.
const LINE_TYPES: &[&str] = &[
    "smallint", "bigint", "bigint", "int", "bigint", "smallint", "smallint", "smallint", "text",
    "date", "text", "bigint", "bigint",
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
                key.source.number(),
                key.instrument.number(),
                key.field.map_or(0, |f| f.number()),
                total.committed,
                total.allocated,
                total.disbursed
            ]);
            (ledger.stored_totals.contains(&key), row)
        })
        .collect();
    TOTALS.save(backend, rows)
}

/// Lines by id.
pub async fn get_many(db: &impl ConnectionTrait, ids: &[i64]) -> Result<Vec<LineRow>, Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(fund_transaction::Entity::find()
        .filter(fund_transaction::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?)
}

/// The reversals of the lines `ids`, by the line they cancel.
pub async fn reversals_of(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<HashMap<i64, i64>, Error> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(fund_transaction::Entity::find()
        .select_only()
        .column(fund_transaction::Column::Id)
        .column(fund_transaction::Column::ReversesId)
        .filter(fund_transaction::Column::ReversesId.is_in(ids.iter().copied()))
        .into_tuple::<(i64, Option<i64>)>()
        .all(db)
        .await?
        .into_iter()
        .filter_map(|(id, original)| original.map(|o| (o, id)))
        .collect())
}

/// The resolved query of a ledger list.
#[derive(Debug, Clone, Default)]
pub struct LineQuery {
    /// Only this pairing.
    pub pairing_id: Option<i64>,
    /// Only this project.
    pub project_id: Option<i64>,
    /// Only this kind.
    pub kind: Option<Kind>,
    /// Only this fiscal year.
    pub fiscal_year: Option<i32>,
    /// Only this source.
    pub source: Option<Source>,
    /// Only this instrument.
    pub instrument: Option<Instrument>,
    /// Only pairings with either region's path starting with this one.
    pub region_within: Option<String>,
}

/// A page of lines in id order, after `after` if given.
pub async fn list(
    db: &impl ConnectionTrait,
    query: &LineQuery,
    after: Option<i64>,
    limit: u64,
) -> Result<Vec<LineRow>, Error> {
    use fund_transaction::Column as C;
    let mut select = fund_transaction::Entity::find();
    if let Some(id) = query.pairing_id {
        select = select.filter(C::PairingId.eq(id));
    }
    if let Some(id) = query.project_id {
        select = select.filter(C::ProjectId.eq(id));
    }
    if let Some(kind) = query.kind {
        select = select.filter(C::Kind.eq(kind.number() as i16));
    }
    if let Some(year) = query.fiscal_year {
        select = select.filter(C::FiscalYear.eq(year));
    }
    if let Some(source) = query.source {
        select = select.filter(C::Source.eq(source.number() as i16));
    }
    if let Some(instrument) = query.instrument {
        select = select.filter(C::Instrument.eq(instrument.number() as i16));
    }
    if let Some(path) = &query.region_within {
        let pattern = format!("{}%", super::region::escape_like(path));
        let within = |column: pairing::Column| {
            Expr::col(column).like(sea_orm::sea_query::LikeExpr::new(pattern.clone()).escape('\\'))
        };
        select = select.filter(
            C::PairingId.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(pairing::Column::Id)
                    .from(pairing::Entity)
                    .cond_where(
                        Condition::any()
                            .add(within(pairing::Column::SupportingPath))
                            .add(within(pairing::Column::SupportedPath)),
                    )
                    .to_owned(),
            ),
        );
    }
    if let Some(after) = after {
        select = select.filter(C::Id.gt(after));
    }
    Ok(select.order_by_asc(C::Id).limit(limit).all(db).await?)
}

/// One row of a summary: the sums of one fiscal year, source, instrument and field.
#[derive(Debug, Clone)]
pub struct SummaryRow {
    /// The fiscal year.
    pub fiscal_year: i32,
    /// The source, as stored.
    pub source: i16,
    /// The instrument, as stored.
    pub instrument: i16,
    /// The field, as stored (0: none).
    pub field: i16,
    /// Committed, allocated and disbursed.
    pub sums: Sums,
}

/// The totals rows of `scope` (a pairing, program or project), for one fiscal year or (0)
/// all.
///
/// # Errors
/// The database's failures.
pub async fn totals(
    db: &impl ConnectionTrait,
    scope: &str,
    fiscal_year: i32,
) -> Result<Vec<SummaryRow>, Error> {
    let mut select = fund_total::Entity::find().filter(fund_total::Column::Scope.eq(scope));
    if fiscal_year != 0 {
        select = select.filter(fund_total::Column::FiscalYear.eq(fiscal_year));
    }
    Ok(select
        .all(db)
        .await?
        .into_iter()
        .map(|row| SummaryRow {
            fiscal_year: row.fiscal_year,
            source: row.source,
            instrument: row.instrument,
            field: row.field,
            sums: Sums {
                committed: Sum::from(row.committed_fen),
                allocated: Sum::from(row.allocated_fen),
                disbursed: Sum::from(row.disbursed_fen),
            },
        })
        .collect())
}

/// What one stored figure is split into, so that a database sum of many figures cannot
/// overflow: SQLite's `sum()` fails on an integer overflow and PostgreSQL's sum of
/// `bigint` is cast back to one. Each figure is `high × 2^32 + low` with both parts below
/// 2^32 (figures are never negative), so four billion rows sum without overflow.
const SPLIT: i64 = 1 << 32;

/// The totals of the pairings with either region inside the region at `path` (a stored
/// path), summed per fiscal year, source, instrument and field; one fiscal year or (0) all.
/// The sums run over the pairings' totals rows, never over the ledger; each is exact,
/// however many pairings there are (see [`SPLIT`]).
///
/// # Errors
/// The database's failures.
pub async fn region_totals(
    db: &impl ConnectionTrait,
    path: &str,
    fiscal_year: i32,
) -> Result<Vec<SummaryRow>, Error> {
    use fund_total::Column as C;
    let pattern = format!("{}%", super::region::escape_like(path));
    let within = |column: pairing::Column| {
        Expr::col(column).like(sea_orm::sea_query::LikeExpr::new(pattern.clone()).escape('\\'))
    };
    let scopes = sea_orm::sea_query::Query::select()
        // A pairing's scope is its name: both databases concatenate text and an integer.
        .expr(Expr::cust("'pairings/' || \"pairings\".\"id\""))
        .from(pairing::Entity)
        .cond_where(
            Condition::any()
                .add(within(pairing::Column::SupportingPath))
                .add(within(pairing::Column::SupportedPath)),
        )
        .to_owned();
    let high = |column: &str| Expr::cust(format!("CAST(SUM(\"{column}\" / {SPLIT}) AS BIGINT)"));
    let low = |column: &str| Expr::cust(format!("CAST(SUM(\"{column}\" % {SPLIT}) AS BIGINT)"));
    let mut select = fund_total::Entity::find()
        .select_only()
        .column(C::FiscalYear)
        .column(C::Source)
        .column(C::Instrument)
        .column(C::Field);
    for column in ["committed_fen", "allocated_fen", "disbursed_fen"] {
        select = select.expr(high(column)).expr(low(column));
    }
    let mut select = select
        .filter(C::Scope.in_subquery(scopes))
        .group_by(C::FiscalYear)
        .group_by(C::Source)
        .group_by(C::Instrument)
        .group_by(C::Field);
    if fiscal_year != 0 {
        select = select.filter(C::FiscalYear.eq(fiscal_year));
    }
    type Parts = (i32, i16, i16, i16, i64, i64, i64, i64, i64, i64);
    let rows: Vec<Parts> = select.into_tuple().all(db).await?;
    let joined = |high: i64, low: i64| Sum(i128::from(high) * i128::from(SPLIT) + i128::from(low));
    Ok(rows
        .into_iter()
        .map(
            |(fiscal_year, source, instrument, field, ch, cl, ah, al, dh, dl)| SummaryRow {
                fiscal_year,
                source,
                instrument,
                field,
                sums: Sums {
                    committed: joined(ch, cl),
                    allocated: joined(ah, al),
                    disbursed: joined(dh, dl),
                },
            },
        )
        .collect())
}
