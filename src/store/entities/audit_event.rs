//! The `audit_events` table (append-only).

use sea_orm::entity::prelude::*;

use crate::domain::access::Role;

/// One change.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    /// 1, 2, 3, … without gaps.
    #[sea_orm(primary_key, auto_increment = false)]
    pub seq: i64,
    /// When, to the microsecond.
    pub time: DateTimeUtc,
    /// The actor's token id; none for the command line.
    pub actor_token_id: Option<i64>,
    /// The actor's label.
    pub actor_label: String,
    /// The actor's role; none for the command line and the server.
    pub actor_role: Option<Role>,
    /// The RPC or command.
    pub method: String,
    /// The changed resource.
    pub resource: String,
    /// The request id, or empty.
    pub request_id: String,
    /// Hex SHA-256 of the resource after the change.
    pub resource_sha256: String,
}

without_relations!();
