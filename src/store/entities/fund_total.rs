//! The `fund_totals` table: sums per scope, fiscal year, source, instrument and field,
//! kept up to date with every ledger line so that summaries never scan the ledger.

use sea_orm::entity::prelude::*;

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
    /// Fund source number.
    #[sea_orm(primary_key, auto_increment = false)]
    pub source: i16,
    /// Fund instrument number.
    #[sea_orm(primary_key, auto_increment = false)]
    pub instrument: i16,
    /// Cooperation field number, 0 for commitments.
    #[sea_orm(primary_key, auto_increment = false)]
    pub field: i16,
    /// Committed, in fen.
    pub committed_fen: i64,
    /// Allocated, in fen.
    pub allocated_fen: i64,
    /// Disbursed, in fen.
    pub disbursed_fen: i64,
}

/// No relations are navigated through sea-orm.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
