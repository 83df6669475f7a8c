//! Request ids (AIP-155), one mechanism for every create and every ledger line, single or
//! batched: claim the key (or find what its first request made), run, settle the key with
//! what the request made, all in one transaction. A key is the caller, the method and the
//! id ([`RequestKey`]), so no caller can take, block or probe another's.
//!
//! Claiming comes first: on PostgreSQL a concurrent request with the same key then waits
//! on the claimed row until the first commits, meets it as a unique violation
//! ([`Error::Contention`]), and is run again to replay the first. A request that fails
//! rolls its claim back with everything else; a line refused inside a ledger batch that
//! commits has its claim released, so a refused request leaves no trace. On SQLite a write
//! transaction holds the database's only write lock throughout, so a claim there only
//! reads, and the key is written once, when it is settled. Each step is one statement of
//! fixed text, however many keys a batch holds.

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
use serde_json::json;

use super::{constraint_error, sqlite::script};
use crate::{
    domain::request_id::{RequestKey, reused},
    error::Error,
};

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
    // On SQLite the write transaction holds the database's one write lock from its first
    // statement: no other can claim a key meanwhile, and the key's row is written once,
    // when it is settled.
    if db.get_database_backend() == DatabaseBackend::Sqlite {
        return Ok(used);
    }
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

/// Records, for each claimed key, the resource its request made, in one statement.
///
/// # Errors
/// The database's failures.
pub async fn settle_many(
    db: &impl ConnectionTrait,
    made: Vec<(&RequestKey, String)>,
) -> Result<(), Error> {
    let backend = db.get_database_backend();
    if made.is_empty() {
        return Ok(());
    }
    // SQLite's claims wrote nothing (see `claim_many`): the keys are written now.
    if backend == DatabaseBackend::Sqlite {
        return insert(db, made).await;
    }
    let sql = "UPDATE request_keys AS t SET resource = k.x ->> 3 \
               FROM jsonb_array_elements($1::jsonb) AS k(x) \
               WHERE t.caller = k.x ->> 0 AND t.method = k.x ->> 1 AND t.request_id = k.x ->> 2";
    let rows = made
        .iter()
        .map(|(key, resource)| json!([key.caller(), key.method(), key.id().as_str(), resource]));
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        sql,
        [script::json_array(rows).into()],
    ))
    .await?;
    Ok(())
}

/// Gives up the claims of `keys`, whose requests were refused inside a transaction that
/// commits.
///
/// # Errors
/// The database's failures.
pub async fn release_many(db: &impl ConnectionTrait, keys: Vec<&RequestKey>) -> Result<(), Error> {
    let backend = db.get_database_backend();
    // On SQLite a claim writes nothing (see `claim_many`): there is nothing to give up.
    if keys.is_empty() || backend == DatabaseBackend::Sqlite {
        return Ok(());
    }
    let sql = format!("DELETE FROM request_keys WHERE {}", among(backend));
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        sql,
        [listed(&keys).into()],
    ))
    .await?;
    Ok(())
}

/// The condition that a row's key is one of a JSON array of keys (see [`listed`]), bound
/// as the statement's only value: the statement's text is the same however many keys
/// there are, so it is prepared once.
fn among(backend: DatabaseBackend) -> String {
    format!(
        "(caller, method, request_id) IN ({})",
        script::json_table(backend, &["text", "text", "text"], false)
    )
}

/// `keys` as one JSON array of `[caller, method, id]`.
fn listed(keys: &[&RequestKey]) -> String {
    script::json_array(
        keys.iter()
            .map(|key| json!([key.caller(), key.method(), key.id().as_str()])),
    )
}

/// What each of `keys` was first used for. Keys never used are absent.
async fn earlier_many(
    db: &impl ConnectionTrait,
    keys: &[&RequestKey],
) -> Result<HashMap<RequestKey, Result<String, Error>>, Error> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let backend = db.get_database_backend();
    let sql = format!(
        "SELECT caller, method, request_id, fingerprint, resource FROM request_keys WHERE {}",
        among(backend)
    );
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [listed(keys).into()],
        ))
        .await?;
    let mut stored = Vec::with_capacity(rows.len());
    for row in rows {
        let text = |n: usize| row.try_get_by_index::<String>(n);
        stored.push([text(0)?, text(1)?, text(2)?, text(3)?, text(4)?]);
    }
    let mut found = HashMap::with_capacity(stored.len());
    for key in keys {
        let row = stored.iter().find(|[caller, method, id, ..]| {
            caller == key.caller() && method == key.method() && id == key.id().as_str()
        });
        if let Some([.., fingerprint, resource]) = row {
            let answer = if fingerprint == key.fingerprint() {
                Ok(resource.clone())
            } else {
                Err(reused())
            };
            found.insert((*key).clone(), answer);
        }
    }
    Ok(found)
}

/// Inserts a row for each key, in one statement.
///
/// # Errors
/// [`Error::Contention`] when one of the keys is taken; the database's failures.
async fn insert(db: &impl ConnectionTrait, made: Vec<(&RequestKey, String)>) -> Result<(), Error> {
    if made.is_empty() {
        return Ok(());
    }
    let backend = db.get_database_backend();
    let sql = format!(
        "INSERT INTO request_keys (caller, method, request_id, fingerprint, resource, \
         create_time) {}",
        script::json_table(backend, &["text"; 5], true)
    );
    let rows = made.iter().map(|(key, resource)| {
        json!([
            key.caller(),
            key.method(),
            key.id().as_str(),
            key.fingerprint(),
            resource
        ])
    });
    let values: [sea_orm::Value; 2] = [Utc::now().into(), script::json_array(rows).into()];
    db.execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await
        .map_err(|e| constraint_error(e, || Error::Contention))?;
    Ok(())
}
