//! The `pairing_year_balances` table: what each pairing has been committed and has
//! allocated, per fiscal year.

use sea_orm::entity::prelude::*;

/// The money of one pairing in one fiscal year, net of reversals.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pairing_year_balances")]
pub struct Model {
    /// The pairing.
    #[sea_orm(primary_key, auto_increment = false)]
    pub pairing_id: i64,
    /// The fiscal year.
    #[sea_orm(primary_key, auto_increment = false)]
    pub fiscal_year: i32,
    /// Committed, in fen.
    pub committed_fen: i64,
    /// Allocated to projects, in fen.
    pub allocated_fen: i64,
}

without_relations!();
