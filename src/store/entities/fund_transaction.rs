//! The `fund_transactions` table: the ledger. Rows are only ever inserted.

use sea_orm::entity::prelude::*;

/// One ledger line.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "fund_transactions")]
pub struct Model {
    /// Server-assigned id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// 1 commitment, 2 allocation, 3 disbursement, 4 reversal.
    pub kind: i16,
    /// The pairing.
    pub pairing_id: i64,
    /// The project, for allocations, disbursements and their reversals.
    pub project_id: Option<i64>,
    /// The fiscal year.
    pub fiscal_year: i32,
    /// The amount in fen, above zero.
    pub amount_fen: i64,
    /// Fund source number.
    pub source: i16,
    /// Fund instrument number.
    pub instrument: i16,
    /// The project's cooperation field number, 0 for none.
    pub field: i16,
    /// Who is paid, for disbursements.
    pub payee: String,
    /// The day the money moves.
    pub value_date: Date,
    /// Free text; a reversal's reason.
    pub memo: String,
    /// The line a reversal cancels.
    pub reverses_id: Option<i64>,
    /// When it was recorded.
    pub create_time: DateTimeUtc,
    /// The access token that recorded it.
    pub creator_token_id: Option<i64>,
}

/// No relations are navigated through sea-orm.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
