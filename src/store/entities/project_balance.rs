//! The `project_balances` table: what each project has been allocated and paid.

use sea_orm::entity::prelude::*;

/// The money of one project, net of reversals.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "project_balances")]
pub struct Model {
    /// The project.
    #[sea_orm(primary_key, auto_increment = false)]
    pub project_id: i64,
    /// Allocated, in fen.
    pub allocated_fen: i64,
    /// Disbursed, in fen.
    pub disbursed_fen: i64,
}

without_relations!();
