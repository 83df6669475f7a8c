//! The `access_tokens` table.

use sea_orm::entity::prelude::*;

use crate::domain::access::Role;

/// One bearer token; only a hash of its secret.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "access_tokens")]
pub struct Model {
    /// Server-assigned id, also the second part of the secret.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The role.
    pub role: Role,
    /// Who holds it.
    pub label: String,
    /// Region paths joined with commas; empty for everywhere.
    pub scopes: String,
    /// Hex SHA-256 of the secret's random part.
    pub secret_hash: String,
    /// Creation time.
    pub create_time: DateTimeUtc,
    /// Expiry; none for never.
    pub expire_time: Option<DateTimeUtc>,
    /// Revocation time.
    pub revoke_time: Option<DateTimeUtc>,
}

without_relations!();
