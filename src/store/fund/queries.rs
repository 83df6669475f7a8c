//! Reading the ledger back: lines by id with their reversals, pages of lines, and the
//! summary totals of a pairing, program, project or region.

use std::collections::HashMap;

use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, sea_query::Expr,
};

use super::LineRow;
use crate::{
    domain::{
        ledger::{Instrument, LineFilter, Source, Sums},
        money::Sum,
        pairing::CooperationField,
    },
    error::Error,
    store::{
        entities::{fund_total, fund_transaction, pairing, stored_enum::LedgerField},
        rows,
    },
};

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

/// A stored line with the reversal that cancelled it, if any.
#[derive(Debug, Clone)]
pub struct LineView {
    /// The line as stored.
    pub row: LineRow,
    /// The reversal that cancelled it.
    pub reversed_by: Option<i64>,
}

/// Lines by id, each with its reversal.
pub async fn views(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<HashMap<i64, LineView>, Error> {
    let rows = get_many(db, ids).await?;
    Ok(with_reversals(db, rows)
        .await?
        .into_iter()
        .map(|view| (view.row.id, view))
        .collect())
}

/// `rows`, each with its reversal, in their order.
async fn with_reversals(
    db: &impl ConnectionTrait,
    rows: Vec<LineRow>,
) -> Result<Vec<LineView>, Error> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let reversals = reversals_of(db, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let reversed_by = reversals.get(&row.id).copied();
            LineView { row, reversed_by }
        })
        .collect())
}

/// A page of the lines `query` asks for in id order, after `after` if given, each with its
/// reversal; its region, if any, is `region_within`, that region's path.
pub async fn list(
    db: &impl ConnectionTrait,
    query: &LineFilter,
    region_within: Option<&str>,
    after: Option<i64>,
    limit: u64,
) -> Result<Vec<LineView>, Error> {
    use fund_transaction::Column as C;
    let select = fund_transaction::Entity::find().filter(
        Condition::all()
            .add_option(query.pairing_id.map(|id| C::PairingId.eq(id)))
            .add_option(query.project_id.map(|id| C::ProjectId.eq(id)))
            .add_option(query.kind.map(|kind| C::Kind.eq(kind)))
            .add_option(query.fiscal_year.map(|year| C::FiscalYear.eq(year)))
            .add_option(query.source.map(|source| C::Source.eq(source)))
            .add_option(query.instrument.map(|i| C::Instrument.eq(i)))
            .add_option(
                query
                    .payee_organization_id
                    .map(|id| C::PayeeOrganizationId.eq(id)),
            )
            .add_option(region_within.map(|path| {
                C::PairingId.in_subquery(rows::pairings_where(rows::pairing_within(path)))
            })),
    );
    let rows = rows::page_after(db, select, C::Id, after, limit).await?;
    with_reversals(db, rows).await
}

/// One row of a summary: the sums of one fiscal year, source, instrument and field.
#[derive(Debug, Clone)]
pub struct SummaryRow {
    /// The fiscal year.
    pub fiscal_year: i32,
    /// Where the money comes from.
    pub source: Source,
    /// How it is used.
    pub instrument: Instrument,
    /// The cooperation field; none for commitments.
    pub field: Option<CooperationField>,
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
            field: row.field.0,
            sums: Sums {
                committed: Sum::from(row.committed_fen),
                allocated: Sum::from(row.allocated_fen),
                disbursed: Sum::from(row.disbursed_fen),
            },
        })
        .collect())
}

/// The totals of the pairings with either region inside the region at `path` (a stored
/// path), summed per fiscal year, source, instrument and field; one fiscal year or (0) all.
/// The sums run over the pairings' totals rows, never over the ledger; each is exact,
/// however many pairings there are (see [`rows::split_sum`]).
///
/// # Errors
/// The database's failures.
pub async fn region_totals(
    db: &impl ConnectionTrait,
    path: &str,
    fiscal_year: i32,
) -> Result<Vec<SummaryRow>, Error> {
    use fund_total::Column as C;
    let scopes = sea_orm::sea_query::Query::select()
        // A pairing's scope is its name: both databases concatenate text and an integer.
        .expr(Expr::cust("'pairings/' || \"pairings\".\"id\""))
        .from(pairing::Entity)
        .cond_where(rows::pairing_within(path))
        .to_owned();
    let mut select = fund_total::Entity::find()
        .select_only()
        .column(C::FiscalYear)
        .column(C::Source)
        .column(C::Instrument)
        .column(C::Field);
    for column in ["committed_fen", "allocated_fen", "disbursed_fen"] {
        let [high, low] = rows::split_sum(column);
        select = select.expr(high).expr(low);
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
    type Parts = (
        i32,
        Source,
        Instrument,
        LedgerField,
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
    );
    let rows: Vec<Parts> = select.into_tuple().all(db).await?;
    let joined = |high: i64, low: i64| Sum(rows::joined(Some(high), Some(low)));
    Ok(rows
        .into_iter()
        .map(
            |(fiscal_year, source, instrument, field, ch, cl, ah, al, dh, dl)| SummaryRow {
                fiscal_year,
                source,
                instrument,
                field: field.0,
                sums: Sums {
                    committed: joined(ch, cl),
                    allocated: joined(ah, al),
                    disbursed: joined(dh, dl),
                },
            },
        )
        .collect())
}
