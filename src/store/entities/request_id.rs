//! The `request_ids` table: which request each idempotency key was first used with.

use sea_orm::entity::prelude::*;

/// One used request id.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "request_ids")]
pub struct Model {
    /// The client's key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub request_id: String,
    /// The method it was used with.
    pub method: String,
    /// SHA-256 of the request without its request id.
    pub fingerprint: String,
    /// Name of the resource the request created.
    pub resource: String,
    /// When it was first used.
    pub create_time: DateTimeUtc,
}

/// No relations are navigated through sea-orm.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
