//! Reading the books a batch of lines touches: the lines reversals name, the projects and
//! pairings involved, their balances and the summary totals the lines move, locked on
//! PostgreSQL until the batch's transaction ends.

use std::collections::{BTreeSet, HashMap};

use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, Statement,
    sea_query::{Alias, Asterisk, Expr, ExprTrait, Order, Query, SelectStatement, UnionType},
};
use serde::Deserialize;

use crate::{
    domain::{
        Numbered,
        ledger::{
            Books, Effect, Entry, Instrument, Kind, LineFacts, PairingFacts, ProjectBalance,
            ProjectFacts, Source, TotalKey, YearBalance,
        },
        money::Amount,
        pairing::{CooperationField, PairingState},
        project::ProjectState,
        region::RegionPath,
    },
    error::Error,
    store::{
        entities::{
            fund_transaction, pairing, pairing_year_balance, project, project_balance,
            stored_enum::{self, LedgerField},
        },
        sqlite::script::{self, JsonSelect},
    },
};

/// The books of a batch, with what the database held when they were read.
pub struct Ledger {
    /// The books; posting lines updates them.
    pub books: Books,
    /// The pairing-year balances that existed when read, and so are locked.
    pub(super) stored_years: BTreeSet<(i64, i32)>,
    /// The summary totals that existed when read, and so are locked.
    pub(super) stored_totals: BTreeSet<TotalKey>,
}

/// Reads what `entries` can touch: the lines reversals name, the projects and pairings
/// involved, and their balances; on SQLite in one statement (see [`script`]). What
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
        books.projects.insert(row.id, project_facts(&row));
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
                k.source.to_i16(),
                k.instrument.to_i16(),
                LedgerField(k.field).to_i16()
            ])
        })
        .collect();
    let element = |n: usize, cast: &str| match backend {
        DatabaseBackend::Sqlite => format!("\"value\" ->> {n}"),
        _ => format!("(\"element\" ->> {n}){cast}"),
    };
    // PostgreSQL locks the rows in key order, as every writer does, so that two writers
    // never wait for each other; SQLite's write lock already covers the whole database.
    let (keys_table, lock) = match backend {
        DatabaseBackend::Sqlite => ("json_each(?) AS \"keys\"", ""),
        _ => (
            "jsonb_array_elements($1::jsonb) AS \"keys\"(\"element\")",
            " ORDER BY t.scope, t.fiscal_year, t.source, t.instrument, t.field FOR UPDATE OF t",
        ),
    };
    let sql = format!(
        "SELECT t.scope, t.fiscal_year, t.source, t.instrument, t.field, t.committed_fen, \
         t.allocated_fen, t.disbursed_fen FROM {keys_table} JOIN fund_totals AS t \
         ON t.scope = {} AND t.fiscal_year = {} AND t.source = {} AND t.instrument = {} \
         AND t.field = {}{lock}",
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
        let key = TotalKey {
            scope: row.try_get("", "scope")?,
            fiscal_year: row.try_get("", "fiscal_year")?,
            source: row.try_get("", "source")?,
            instrument: row.try_get("", "instrument")?,
            field: row.try_get::<LedgerField>("", "field")?.0,
        };
        let total = Effect {
            committed: row.try_get("", "committed_fen")?,
            allocated: row.try_get("", "allocated_fen")?,
            disbursed: row.try_get("", "disbursed_fen")?,
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
                script::json_select(
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
                script::json_select(fund_transaction::Entity, &[L::Id, L::ReversesId], reversals),
            ));
        }
        if let Some(projects) = projects {
            use project::Column as P;
            let mut select = script::json_select(
                project::Entity,
                &[P::Id, P::PairingId, P::State, P::BudgetFen, P::Field],
                projects,
            );
            select.select.order_by(P::Id, Order::Asc).lock_shared();
            selects.push((Part::Projects, select));
        }
        if let Some(pairings) = pairings {
            use pairing::Column as C;
            let mut select = script::json_select(
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
            let mut select = script::json_select(
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
            let mut select = script::json_select(
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

/// What the books need of a line to be reversed.
#[derive(Deserialize)]
struct LineFactsRow {
    id: i64,
    #[serde(deserialize_with = "stored_enum::deserialize")]
    kind: Kind,
    pairing_id: i64,
    project_id: Option<i64>,
    fiscal_year: i32,
    amount_fen: i64,
    #[serde(deserialize_with = "stored_enum::deserialize")]
    source: Source,
    #[serde(deserialize_with = "stored_enum::deserialize")]
    instrument: Instrument,
    #[serde(deserialize_with = "stored_enum::deserialize")]
    field: LedgerField,
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
        kind: row.kind,
        pairing_id: row.pairing_id,
        project_id: row.project_id,
        fiscal_year: row.fiscal_year,
        amount: Amount::from_fen(row.amount_fen)?,
        source: row.source,
        instrument: row.instrument,
        field: row.field.0,
        reversed_by,
    })
}

/// What the books need of a project.
#[derive(Deserialize)]
struct ProjectRow {
    id: i64,
    pairing_id: i64,
    #[serde(deserialize_with = "stored_enum::deserialize")]
    state: ProjectState,
    budget_fen: i64,
    #[serde(deserialize_with = "stored_enum::deserialize")]
    field: CooperationField,
}

fn project_facts(row: &ProjectRow) -> ProjectFacts {
    ProjectFacts {
        pairing_id: row.pairing_id,
        state: row.state,
        budget_fen: row.budget_fen,
        field: row.field,
    }
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
    #[serde(deserialize_with = "stored_enum::deserialize")]
    state: PairingState,
    /// 1 when deleted, else 0: a flag, not an enum.
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
        open: row.deleted == 0 && row.state == PairingState::Active,
    })
}
