//! The `fund_transactions` table: the ledger. Rows are only ever inserted.

use sea_orm::entity::prelude::*;

use super::stored_enum::LedgerField;
use crate::domain::ledger::{Instrument, Kind, Source};

/// One ledger line.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "fund_transactions")]
pub struct Model {
    /// Server-assigned id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Commitment, allocation, disbursement or reversal.
    pub kind: Kind,
    /// The pairing.
    pub pairing_id: i64,
    /// The project, for allocations, disbursements and their reversals.
    pub project_id: Option<i64>,
    /// The fiscal year.
    pub fiscal_year: i32,
    /// The amount in fen, above zero.
    pub amount_fen: i64,
    /// Where the money comes from.
    pub source: Source,
    /// How it is used.
    pub instrument: Instrument,
    /// The project's cooperation field; none for commitments.
    pub field: LedgerField,
    /// Who is paid, for disbursements.
    pub payee: String,
    /// The registered organisation paid, if one is named.
    pub payee_organization_id: Option<i64>,
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

without_relations!();
