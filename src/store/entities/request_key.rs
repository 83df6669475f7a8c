//! The `request_keys` table: which request each caller's request id was first used with.

use sea_orm::entity::prelude::*;

/// One used request id of one caller and method.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "request_keys")]
pub struct Model {
    /// `accessTokens/{id}`, or `anonymous/{fingerprint}`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub caller: String,
    /// The method it was used with.
    #[sea_orm(primary_key, auto_increment = false)]
    pub method: String,
    /// The client's key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub request_id: String,
    /// SHA-256 of the request without its request id.
    pub fingerprint: String,
    /// Name of the resource the request created.
    pub resource: String,
    /// When it was first used.
    pub create_time: DateTimeUtc,
}

without_relations!();
