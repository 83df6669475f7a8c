//! The funds ledger in the database: reading the books a batch of lines touches (locking
//! their balances on PostgreSQL), writing the accepted lines with their balances and
//! summary totals, and reading lines and totals back.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{SubsecRound, Utc};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement, TryIntoModel,
    sea_query::{Expr, ExprTrait, OnConflict},
};

use super::{
    constraint_error,
    entities::{
        fund_total, fund_transaction, pairing, pairing_year_balance, project, project_balance,
        request_id,
    },
};
use crate::{
    domain::{
        ledger::{
            Books, Effect, Entry, Instrument, Kind, LineFacts, PairingFacts, Posting,
            ProjectBalance, ProjectFacts, Source, YearBalance, summary_scopes,
        },
        money::Amount,
        pairing::{CooperationField, PairingState},
        project::ProjectState,
        region::RegionPath,
    },
    error::Error,
};

pub use fund_total::Model as TotalRow;
pub use fund_transaction::Model as LineRow;

/// Rows per multi-row INSERT: well inside SQLite's limit on bound values.
const INSERT_CHUNK: usize = 500;

/// The books of a batch, with what the database held when they were read.
pub struct Ledger {
    /// The books; posting lines updates them.
    pub books: Books,
    /// The pairing-year balances that existed when read, and so are locked.
    stored_years: BTreeSet<(i64, i32)>,
}

/// Reads what `entries` can touch: the lines reversals name, the projects and pairings
/// involved, and their balances. On PostgreSQL the projects and pairings are read-locked
/// and the balances write-locked, in id order, until the transaction ends; on SQLite the
/// transaction's write lock already covers them.
///
/// # Errors
/// INTERNAL for stored values out of range; the database's failures.
pub async fn load_books(db: &impl ConnectionTrait, entries: &[&Entry]) -> Result<Ledger, Error> {
    let mut books = Books::default();
    let mut stored_years = BTreeSet::new();
    let mut line_ids = BTreeSet::new();
    let mut project_ids = BTreeSet::new();
    let mut pairing_ids = BTreeSet::new();
    // The pairing-years the entries can move; allocations and disbursements name their
    // project, whose pairing is known once the project is read.
    let mut wanted_years = BTreeSet::new();
    let mut project_years = BTreeSet::new();
    for entry in entries {
        match entry {
            Entry::Record(d) => {
                project_ids.extend(d.project_id);
                pairing_ids.extend(d.pairing_id);
                wanted_years.extend(d.pairing_id.map(|p| (p, d.fiscal_year)));
                project_years.extend(d.project_id.map(|p| (p, d.fiscal_year)));
            }
            Entry::Reverse { line_id, .. } => {
                line_ids.insert(*line_id);
            }
        }
    }
    if !line_ids.is_empty() {
        let ids: Vec<i64> = line_ids.iter().copied().collect();
        let lines = fund_transaction::Entity::find()
            .filter(fund_transaction::Column::Id.is_in(ids.clone()))
            .all(db)
            .await?;
        let reversals: HashMap<i64, i64> = fund_transaction::Entity::find()
            .filter(fund_transaction::Column::ReversesId.is_in(ids))
            .all(db)
            .await?
            .into_iter()
            .filter_map(|r| r.reverses_id.map(|original| (original, r.id)))
            .collect();
        for row in lines {
            project_ids.extend(row.project_id);
            pairing_ids.insert(row.pairing_id);
            wanted_years.insert((row.pairing_id, row.fiscal_year));
            let reversed_by = reversals.get(&row.id).copied();
            books.lines.insert(row.id, line_facts(&row, reversed_by)?);
        }
    }
    if !project_ids.is_empty() {
        let rows = project::Entity::find()
            .filter(project::Column::Id.is_in(project_ids.iter().copied()))
            .order_by_asc(project::Column::Id)
            .lock_shared()
            .all(db)
            .await?;
        for row in rows {
            pairing_ids.insert(row.pairing_id);
            for &(_, year) in project_years.range((row.id, i32::MIN)..=(row.id, i32::MAX)) {
                wanted_years.insert((row.pairing_id, year));
            }
            books.projects.insert(row.id, project_facts(&row)?);
        }
    }
    if pairing_ids.is_empty() {
        return Ok(Ledger {
            books,
            stored_years,
        });
    }
    let rows = pairing::Entity::find()
        .filter(pairing::Column::Id.is_in(pairing_ids.iter().copied()))
        .order_by_asc(pairing::Column::Id)
        .lock_shared()
        .all(db)
        .await?;
    for row in rows {
        books.pairings.insert(row.id, pairing_facts(&row));
    }
    use pairing_year_balance::Column as Y;
    let years = if wanted_years.is_empty() {
        Vec::new()
    } else {
        pairing_year_balance::Entity::find()
            .filter(
                Expr::tuple([Expr::col(Y::PairingId), Expr::col(Y::FiscalYear)])
                    .in_tuples(wanted_years.iter().copied()),
            )
            .order_by_asc(pairing_year_balance::Column::PairingId)
            .order_by_asc(pairing_year_balance::Column::FiscalYear)
            .lock_exclusive()
            .all(db)
            .await?
    };
    for y in years {
        stored_years.insert((y.pairing_id, y.fiscal_year));
        books.years.insert(
            (y.pairing_id, y.fiscal_year),
            YearBalance {
                committed: y.committed_fen,
                allocated: y.allocated_fen,
            },
        );
    }
    let known_projects: Vec<i64> = books.projects.keys().copied().collect();
    if !known_projects.is_empty() {
        let balances = project_balance::Entity::find()
            .filter(project_balance::Column::ProjectId.is_in(known_projects))
            .order_by_asc(project_balance::Column::ProjectId)
            .lock_exclusive()
            .all(db)
            .await?;
        for b in balances {
            books.project_balances.insert(
                b.project_id,
                ProjectBalance {
                    allocated: b.allocated_fen,
                    disbursed: b.disbursed_fen,
                },
            );
        }
    }
    Ok(Ledger {
        books,
        stored_years,
    })
}

fn line_facts(row: &LineRow, reversed_by: Option<i64>) -> Result<LineFacts, Error> {
    Ok(LineFacts {
        kind: kind_of(row)?,
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

fn project_facts(row: &project::Model) -> Result<ProjectFacts, Error> {
    Ok(ProjectFacts {
        pairing_id: row.pairing_id,
        state: ProjectState::from_number(i32::from(row.state))
            .ok_or_else(|| anyhow::anyhow!("project {} has an unknown state", row.id))?,
        budget_fen: row.budget_fen,
        field: CooperationField::from_number(i32::from(row.field))
            .ok_or_else(|| anyhow::anyhow!("project {} has an unknown field", row.id))?,
    })
}

fn pairing_facts(row: &pairing::Model) -> PairingFacts {
    use chrono::Datelike;
    PairingFacts {
        program_id: row.program_id,
        supporting: RegionPath::from_stored(row.supporting_path.clone()),
        supported: RegionPath::from_stored(row.supported_path.clone()),
        years: (row.period_start.year(), row.period_end.year()),
        open: row.delete_time.is_none() && row.state == PairingState::Active.number() as i16,
    }
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
    let models: Vec<fund_transaction::ActiveModel> = postings
        .iter()
        .map(|(p, creator)| fund_transaction::ActiveModel {
            kind: Set(p.kind.number() as i16),
            pairing_id: Set(p.pairing_id),
            project_id: Set(p.project_id),
            fiscal_year: Set(p.fiscal_year),
            amount_fen: Set(p.amount.fen()),
            source: Set(p.source.number() as i16),
            instrument: Set(p.instrument.number() as i16),
            field: Set(p.field.map_or(0, |f| f.number() as i16)),
            payee: Set(p.payee.clone()),
            value_date: Set(p.value_date),
            memo: Set(p.memo.clone()),
            reverses_id: Set(p.reverses),
            create_time: Set(now),
            creator_token_id: Set(*creator),
            ..Default::default()
        })
        .collect();
    let mut ids = Vec::with_capacity(models.len());
    for chunk in models.chunks(INSERT_CHUNK) {
        let mut inserted = fund_transaction::Entity::insert_many(chunk.to_vec())
            .exec_with_returning_keys(db)
            .await
            .map_err(|e| constraint_error(e, || Error::Contention))?;
        // Ids are drawn in the order of the VALUES list.
        inserted.sort_unstable();
        ids.extend(inserted);
    }
    if ids.len() != postings.len() {
        return Err(anyhow::anyhow!("the ledger insert returned {} ids", ids.len()).into());
    }
    let rows: Vec<LineRow> = ids
        .into_iter()
        .zip(models)
        .map(|(id, model)| {
            let mut model = model;
            model.id = Set(id);
            TryIntoModel::<LineRow>::try_into_model(model)
                .map_err(|e| anyhow::anyhow!("a ledger line is incomplete: {e}").into())
        })
        .collect::<Result<_, Error>>()?;

    let mut years = BTreeSet::new();
    let mut projects = BTreeSet::new();
    let mut totals: BTreeMap<(String, i32, i16, i16, i16), Effect> = BTreeMap::new();
    for (p, _) in postings {
        years.insert((p.pairing_id, p.fiscal_year));
        projects.extend(p.project_id);
        let pairing = books
            .pairings
            .get(&p.pairing_id)
            .ok_or_else(|| anyhow::anyhow!("pairing {} left the books", p.pairing_id))?;
        let field = p.field.map_or(0, |f| f.number() as i16);
        for scope in summary_scopes(p.pairing_id, pairing.program_id, p.project_id) {
            totals
                .entry((
                    scope,
                    p.fiscal_year,
                    p.source.number() as i16,
                    p.instrument.number() as i16,
                    field,
                ))
                .or_default()
                .add(p.effect);
        }
    }
    save_years(db, ledger, years).await?;
    save_projects(db, books, projects).await?;
    add_to_totals(db, totals).await?;
    Ok(rows)
}

/// Writes the pairing-year balances the batch moved, as the books now hold them: over the
/// stored (locked) rows, and as new rows where none was stored. A new row that a concurrent
/// transaction inserted first is a unique violation, retried as contention.
async fn save_years(
    db: &impl ConnectionTrait,
    ledger: &Ledger,
    keys: BTreeSet<(i64, i32)>,
) -> Result<(), Error> {
    let (stored, new): (Vec<_>, Vec<_>) = keys
        .into_iter()
        .map(|key| {
            let balance = ledger.books.years.get(&key).copied().unwrap_or_default();
            let model = pairing_year_balance::ActiveModel {
                pairing_id: Set(key.0),
                fiscal_year: Set(key.1),
                committed_fen: Set(balance.committed),
                allocated_fen: Set(balance.allocated),
            };
            (ledger.stored_years.contains(&key), model)
        })
        .partition(|(stored, _)| *stored);
    use pairing_year_balance::Column as C;
    for chunk in stored.chunks(INSERT_CHUNK) {
        pairing_year_balance::Entity::insert_many(chunk.iter().map(|(_, m)| m.clone()))
            .on_conflict(
                OnConflict::columns([C::PairingId, C::FiscalYear])
                    .update_columns([C::CommittedFen, C::AllocatedFen])
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    for chunk in new.chunks(INSERT_CHUNK) {
        pairing_year_balance::Entity::insert_many(chunk.iter().map(|(_, m)| m.clone()))
            .exec_without_returning(db)
            .await
            .map_err(|e| constraint_error(e, || Error::Contention))?;
    }
    Ok(())
}

/// Writes the project balances the batch moved, as the books now hold them. Every project
/// has its row from creation, locked when the books were read.
async fn save_projects(
    db: &impl ConnectionTrait,
    books: &Books,
    ids: BTreeSet<i64>,
) -> Result<(), Error> {
    let models: Vec<_> = ids
        .into_iter()
        .map(|id| {
            let balance = books.project_balances.get(&id).copied().unwrap_or_default();
            project_balance::ActiveModel {
                project_id: Set(id),
                allocated_fen: Set(balance.allocated),
                disbursed_fen: Set(balance.disbursed),
            }
        })
        .collect();
    use project_balance::Column as C;
    for chunk in models.chunks(INSERT_CHUNK) {
        project_balance::Entity::insert_many(chunk.to_vec())
            .on_conflict(
                OnConflict::column(C::ProjectId)
                    .update_columns([C::AllocatedFen, C::DisbursedFen])
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

async fn add_to_totals(
    db: &impl ConnectionTrait,
    totals: BTreeMap<(String, i32, i16, i16, i16), Effect>,
) -> Result<(), Error> {
    if totals.is_empty() {
        return Ok(());
    }
    // Hundreds of rows per batch: sent as one JSON array, so that the statement's text
    // stays the same (prepared once) and only one value is bound.
    let rows: Vec<serde_json::Value> = totals
        .into_iter()
        .map(|((scope, year, source, instrument, field), e)| {
            serde_json::json!([
                scope,
                year,
                source,
                instrument,
                field,
                e.committed,
                e.allocated,
                e.disbursed
            ])
        })
        .collect();
    let backend = db.get_database_backend();
    let rows_of = match backend {
        DatabaseBackend::Postgres => {
            "SELECT e->>0, (e->>1)::int, (e->>2)::smallint, (e->>3)::smallint, \
             (e->>4)::smallint, (e->>5)::bigint, (e->>6)::bigint, (e->>7)::bigint \
             FROM jsonb_array_elements($1::jsonb) AS e"
        }
        _ => {
            "SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, \
             value->>6, value->>7 FROM json_each($1) WHERE true"
        }
    };
    let sql = format!(
        "INSERT INTO fund_totals (scope, fiscal_year, source, instrument, field, \
         committed_fen, allocated_fen, disbursed_fen) {rows_of} \
         ON CONFLICT (scope, fiscal_year, source, instrument, field) DO UPDATE SET \
         committed_fen = fund_totals.committed_fen + excluded.committed_fen, \
         allocated_fen = fund_totals.allocated_fen + excluded.allocated_fen, \
         disbursed_fen = fund_totals.disbursed_fen + excluded.disbursed_fen"
    );
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        sql,
        [serde_json::Value::Array(rows).to_string().into()],
    ))
    .await?;
    Ok(())
}

/// The request ids among `ids` that were used before, by id.
///
/// # Errors
/// Only the database's.
pub async fn used_request_ids(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<HashMap<String, request_id::Model>, Error> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(request_id::Entity::find()
        .filter(request_id::Column::RequestId.is_in(ids.iter().cloned()))
        .all(db)
        .await?
        .into_iter()
        .map(|r| (r.request_id.clone(), r))
        .collect())
}

/// Remembers request ids with the lines they recorded: (id, method, fingerprint, line).
///
/// # Errors
/// [`Error::Contention`] when a concurrent transaction used one of the ids first (it is
/// retried, and then finds that request's line); the database's failures.
pub async fn remember_request_ids(
    db: &impl ConnectionTrait,
    used: Vec<(String, &str, String, String)>,
) -> Result<(), Error> {
    let now = Utc::now();
    let models: Vec<_> = used
        .into_iter()
        .map(
            |(id, method, fingerprint, resource)| request_id::ActiveModel {
                request_id: Set(id),
                method: Set(method.to_owned()),
                fingerprint: Set(fingerprint),
                resource: Set(resource),
                create_time: Set(now),
            },
        )
        .collect();
    for chunk in models.chunks(INSERT_CHUNK) {
        request_id::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await
            .map_err(|e| constraint_error(e, || Error::Contention))?;
    }
    Ok(())
}

/// Lines by id.
///
/// # Errors
/// Only the database's.
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
///
/// # Errors
/// Only the database's.
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
///
/// # Errors
/// Only the database's.
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

/// The totals rows of `scope` (a pairing, program or project), for one fiscal year or (0)
/// all.
///
/// # Errors
/// Only the database's.
pub async fn totals(
    db: &impl ConnectionTrait,
    scope: &str,
    fiscal_year: i32,
) -> Result<Vec<TotalRow>, Error> {
    let mut select = fund_total::Entity::find().filter(fund_total::Column::Scope.eq(scope));
    if fiscal_year != 0 {
        select = select.filter(fund_total::Column::FiscalYear.eq(fiscal_year));
    }
    Ok(select.all(db).await?)
}

/// The totals of the pairings with either region inside the region at `path` (a stored
/// path), summed per fiscal year, source, instrument and field; one fiscal year or (0) all.
/// The sums run over the pairings' totals rows, never over the ledger.
///
/// # Errors
/// Only the database's.
pub async fn region_totals(
    db: &impl ConnectionTrait,
    path: &str,
    fiscal_year: i32,
) -> Result<Vec<TotalRow>, Error> {
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
    let sum = |column: C| Expr::col(column).sum().cast_as("BIGINT");
    let mut select = fund_total::Entity::find()
        .select_only()
        .column(C::FiscalYear)
        .column(C::Source)
        .column(C::Instrument)
        .column(C::Field)
        .expr(sum(C::CommittedFen))
        .expr(sum(C::AllocatedFen))
        .expr(sum(C::DisbursedFen))
        .filter(C::Scope.in_subquery(scopes))
        .group_by(C::FiscalYear)
        .group_by(C::Source)
        .group_by(C::Instrument)
        .group_by(C::Field);
    if fiscal_year != 0 {
        select = select.filter(C::FiscalYear.eq(fiscal_year));
    }
    let sums: Vec<(i32, i16, i16, i16, i64, i64, i64)> = select.into_tuple().all(db).await?;
    Ok(sums
        .into_iter()
        .map(
            |(fiscal_year, source, instrument, field, committed, allocated, disbursed)| TotalRow {
                scope: path.to_owned(),
                fiscal_year,
                source,
                instrument,
                field,
                committed_fen: committed,
                allocated_fen: allocated,
                disbursed_fen: disbursed,
            },
        )
        .collect())
}
