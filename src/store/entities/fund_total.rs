//! The `fund_totals` table: sums per scope, fiscal year, source, instrument and field,
//! kept up to date with every ledger line so that summaries never scan the ledger.

use sea_orm::entity::prelude::*;

use super::stored_enum::LedgerField;
use crate::domain::ledger::{Instrument, Source};

/// The sums of one scope for one combination of year, source, instrument and field.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "fund_totals")]
pub struct Model {
    /// "pairings/1", "programs/1" or "projects/1".
    #[sea_orm(primary_key, auto_increment = false)]
    pub scope: String,
    /// The fiscal year.
    #[sea_orm(primary_key, auto_increment = false)]
    pub fiscal_year: i32,
    /// Where the money comes from.
    #[sea_orm(primary_key, auto_increment = false)]
    pub source: Source,
    /// How it is used.
    #[sea_orm(primary_key, auto_increment = false)]
    pub instrument: Instrument,
    /// The cooperation field; none for commitments.
    #[sea_orm(primary_key, auto_increment = false)]
    pub field: LedgerField,
    /// Committed, in fen.
    pub committed_fen: i64,
    /// Allocated, in fen.
    pub allocated_fen: i64,
    /// Disbursed, in fen.
    pub disbursed_fen: i64,
}

without_relations!();
