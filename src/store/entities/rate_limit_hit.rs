//! The `rate_limit_hits` table: one row per attempt counted against a limit, deleted once
//! it is older than the limit's window.

use sea_orm::entity::prelude::*;

/// One attempt.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rate_limit_hits")]
pub struct Model {
    /// Server-assigned id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Which limit, e.g. `public_reports`.
    pub limit_name: String,
    /// The HMAC of the client's address under the day's key, in hex.
    pub client_key: String,
    /// When the attempt came.
    pub hit_time: DateTimeUtc,
}

without_relations!();
