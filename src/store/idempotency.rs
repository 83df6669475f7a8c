//! Request ids (AIP-155): the first request with an id is remembered with the resource
//! it created, in the same transaction as the create.

use chrono::Utc;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, sea_query::Expr,
};

use super::{constraint_error, entities::request_id};
use crate::{
    domain::request_id::{RequestId, reused},
    error::Error,
};

/// What a request id says about the request at hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The id is new and now taken by this request: go on and create.
    Fresh,
    /// The same request ran before and created this resource: return it.
    Replay(String),
}

/// Takes `id` for this request, or finds the earlier request that took it. Call it first
/// in the transaction: on PostgreSQL a concurrent request with the same id then waits here
/// until the first one commits, and is retried to find its result.
///
/// # Errors
/// INVALID_ARGUMENT `REQUEST_ID_REUSED` when the id was used with a different request;
/// [`Error::Contention`] when a concurrent request took it first.
pub async fn claim(
    db: &impl ConnectionTrait,
    id: &RequestId,
    method: &str,
    fingerprint: &str,
) -> Result<Claim, Error> {
    if let Some(earlier) = request_id::Entity::find_by_id(id.as_str()).one(db).await? {
        return if earlier.method == method && earlier.fingerprint == fingerprint {
            Ok(Claim::Replay(earlier.resource))
        } else {
            Err(reused())
        };
    }
    let row = request_id::ActiveModel {
        request_id: Set(id.as_str().to_owned()),
        method: Set(method.to_owned()),
        fingerprint: Set(fingerprint.to_owned()),
        resource: Set(String::new()),
        create_time: Set(Utc::now()),
    };
    request_id::Entity::insert(row)
        .exec_without_returning(db)
        .await
        .map_err(|e| constraint_error(e, || Error::Contention))?;
    Ok(Claim::Fresh)
}

/// Records the resource that the request holding `id` created.
///
/// # Errors
/// Only the database's.
pub async fn settle(
    db: &impl ConnectionTrait,
    id: &RequestId,
    resource: &str,
) -> Result<(), Error> {
    request_id::Entity::update_many()
        .col_expr(request_id::Column::Resource, Expr::value(resource))
        .filter(request_id::Column::RequestId.eq(id.as_str()))
        .exec(db)
        .await?;
    Ok(())
}
