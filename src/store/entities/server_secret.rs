//! The `server_secrets` table: random keys every server of the database shares.

use sea_orm::entity::prelude::*;

/// One key.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "server_secrets")]
pub struct Model {
    /// What it is for: `page_tokens`, or `rate_limit:{date}` for a day's address keys.
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    /// The key, in hex.
    pub secret: String,
    /// When it was made.
    pub create_time: DateTimeUtc,
}

without_relations!();
