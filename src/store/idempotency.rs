//! Request ids (AIP-155), one mechanism for every create and every ledger line, single or
//! batched: claim the key (or find what its first request made), run, settle the key with
//! what the request made, all in one transaction. A key is the caller, the method and the
//! id ([`RequestKey`]), so no caller can take, block or probe another's.
//!
//! Claiming comes first: on PostgreSQL a concurrent request with the same key then waits
//! on the claimed row until the first commits, meets it as a unique violation
//! ([`Error::Contention`]), and is run again to replay the first. A request that fails
//! rolls its claim back with everything else; a line refused inside a ledger batch that
//! commits has its claim released, so a refused request leaves no trace.

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
};

use super::{constraint_error, entities::request_key};
use crate::{
    domain::request_id::{RequestKey, reused},
    error::Error,
};

/// Rows per multi-row INSERT: well inside SQLite's limit on bound values.
const INSERT_CHUNK: usize = 500;

/// Claims `key`, if there is one, for the request at hand; or, when the key was used
/// before, the name of the resource its request made, to replay.
///
/// # Errors
/// INVALID_ARGUMENT `REQUEST_ID_REUSED` when the key was used with a different request;
/// [`Error::Contention`] when a concurrent request claimed it first.
pub async fn claim(
    db: &impl ConnectionTrait,
    key: Option<&RequestKey>,
) -> Result<Option<String>, Error> {
    let Some(key) = key else {
        return Ok(None);
    };
    match claim_many(db, &[key]).await?.remove(key) {
        Some(Ok(resource)) => Ok(Some(resource)),
        Some(Err(error)) => Err(error),
        None => Ok(None),
    }
}

/// Claims every key of `keys` not used before (each once, however often it appears), and
/// returns what the used ones were first used for: the resource their request made, or
/// `REQUEST_ID_REUSED` when they came with a different request.
///
/// # Errors
/// [`Error::Contention`] when a concurrent request claimed one of the keys first; the
/// database's failures.
pub async fn claim_many(
    db: &impl ConnectionTrait,
    keys: &[&RequestKey],
) -> Result<HashMap<RequestKey, Result<String, Error>>, Error> {
    let used = earlier_many(db, keys).await?;
    let mut fresh: Vec<&RequestKey> = Vec::new();
    for key in keys {
        let seen = |k: &&RequestKey| {
            k.caller() == key.caller() && k.method() == key.method() && k.id() == key.id()
        };
        if !used.contains_key(*key) && !fresh.iter().any(seen) {
            fresh.push(key);
        }
    }
    insert(
        db,
        fresh.into_iter().map(|key| (key, String::new())).collect(),
    )
    .await?;
    Ok(used)
}

/// Records, for a claimed `key` (if there is one), the resource its request made.
///
/// # Errors
/// The database's failures.
pub async fn settle(
    db: &impl ConnectionTrait,
    key: Option<&RequestKey>,
    resource: &str,
) -> Result<(), Error> {
    match key {
        Some(key) => settle_many(db, vec![(key, resource.to_owned())]).await,
        None => Ok(()),
    }
}

/// Records, for each claimed key, the resource its request made.
///
/// # Errors
/// The database's failures.
pub async fn settle_many(
    db: &impl ConnectionTrait,
    made: Vec<(&RequestKey, String)>,
) -> Result<(), Error> {
    use request_key::Column as C;
    for (key, resource) in made {
        request_key::Entity::update_many()
            .col_expr(C::Resource, sea_orm::sea_query::Expr::value(resource))
            .filter(of(key))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Gives up the claims of `keys`, whose requests were refused inside a transaction that
/// commits.
///
/// # Errors
/// The database's failures.
pub async fn release_many(db: &impl ConnectionTrait, keys: Vec<&RequestKey>) -> Result<(), Error> {
    if keys.is_empty() {
        return Ok(());
    }
    let mut any = Condition::any();
    for key in keys {
        any = any.add(of(key));
    }
    request_key::Entity::delete_many()
        .filter(any)
        .exec(db)
        .await?;
    Ok(())
}

/// The row of `key`.
fn of(key: &RequestKey) -> Condition {
    use request_key::Column as C;
    Condition::all()
        .add(C::Caller.eq(key.caller()))
        .add(C::Method.eq(key.method()))
        .add(C::RequestId.eq(key.id().as_str()))
}

/// What each of `keys` was first used for. Keys never used are absent.
async fn earlier_many(
    db: &impl ConnectionTrait,
    keys: &[&RequestKey],
) -> Result<HashMap<RequestKey, Result<String, Error>>, Error> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let mut any = Condition::any();
    for key in keys {
        any = any.add(of(key));
    }
    let rows = request_key::Entity::find().filter(any).all(db).await?;
    let mut found = HashMap::with_capacity(rows.len());
    for key in keys {
        let row = rows.iter().find(|r| {
            r.caller == key.caller()
                && r.method == key.method()
                && r.request_id == key.id().as_str()
        });
        if let Some(row) = row {
            let answer = if row.fingerprint == key.fingerprint() {
                Ok(row.resource.clone())
            } else {
                Err(reused())
            };
            found.insert((*key).clone(), answer);
        }
    }
    Ok(found)
}

/// Inserts a row for each key.
///
/// # Errors
/// [`Error::Contention`] when one of the keys is taken; the database's failures.
async fn insert(db: &impl ConnectionTrait, made: Vec<(&RequestKey, String)>) -> Result<(), Error> {
    let now = Utc::now();
    let rows: Vec<_> = made
        .into_iter()
        .map(|(key, resource)| request_key::ActiveModel {
            caller: Set(key.caller().to_owned()),
            method: Set(key.method().to_owned()),
            request_id: Set(key.id().as_str().to_owned()),
            fingerprint: Set(key.fingerprint().to_owned()),
            resource: Set(resource),
            create_time: Set(now),
        })
        .collect();
    for chunk in rows.chunks(INSERT_CHUNK) {
        request_key::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await
            .map_err(|e| constraint_error(e, || Error::Contention))?;
    }
    Ok(())
}
