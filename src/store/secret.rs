//! The keys every server of one database shares ([`Secret`]), made by whichever server
//! needs one first, and the rate-limit counts kept with them: hits under keyed hashes of
//! client addresses, each deleted once older than its window.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
};

use super::entities::{rate_limit_hit, server_secret};
use crate::{domain::secret::Secret, error::Error};

/// The key named `name`, made now when no server has made it yet.
///
/// # Errors
/// When the database fails or the stored key is damaged.
pub async fn get_or_make(
    db: &impl ConnectionTrait,
    name: &str,
    now: DateTime<Utc>,
) -> Result<Secret, Error> {
    if let Some(secret) = get(db, name).await? {
        return Ok(secret);
    }
    let made = server_secret::ActiveModel {
        name: Set(name.to_owned()),
        secret: Set(Secret::generate()?.to_hex()),
        create_time: Set(now),
    };
    // Two servers may make one at once: the first stored wins, and both read it.
    server_secret::Entity::insert(made)
        .on_conflict_do_nothing_on([server_secret::Column::Name])
        .exec_without_returning(db)
        .await?;
    get(db, name)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the key {name} vanished as it was stored").into())
}

/// The key named `name`, if a server has made it.
///
/// # Errors
/// When the database fails or the stored key is damaged.
pub async fn get(db: &impl ConnectionTrait, name: &str) -> Result<Option<Secret>, Error> {
    server_secret::Entity::find_by_id(name.to_owned())
        .one(db)
        .await?
        .map(|row| Secret::from_hex(&row.secret))
        .transpose()
}

/// Deletes the keys whose names start with `prefix` and sort before `keep_from`: for
/// dated keys (`rate_limit:2026-12-01`), those of the days before.
///
/// # Errors
/// When the database fails.
pub async fn forget_before(
    db: &impl ConnectionTrait,
    prefix: &str,
    keep_from: &str,
) -> Result<(), Error> {
    server_secret::Entity::delete_many()
        .filter(server_secret::Column::Name.starts_with(prefix))
        .filter(server_secret::Column::Name.lt(keep_from))
        .exec(db)
        .await?;
    Ok(())
}

/// Counts one attempt against `limit` under `key` at `now`, forgets the limit's attempts
/// older than `since`, and answers how many attempts under any of `keys` (the same
/// address under this and the previous key) came after `since`, this one included.
///
/// # Errors
/// When the database fails.
pub async fn hit(
    db: &impl ConnectionTrait,
    limit: &str,
    key: &str,
    keys: &[String],
    now: DateTime<Utc>,
    since: DateTime<Utc>,
) -> Result<u64, Error> {
    rate_limit_hit::Entity::insert(rate_limit_hit::ActiveModel {
        id: NotSet,
        limit_name: Set(limit.to_owned()),
        client_key: Set(key.to_owned()),
        hit_time: Set(now),
    })
    .exec_without_returning(db)
    .await?;
    rate_limit_hit::Entity::delete_many()
        .filter(rate_limit_hit::Column::LimitName.eq(limit))
        .filter(rate_limit_hit::Column::HitTime.lte(since))
        .exec(db)
        .await?;
    Ok(rate_limit_hit::Entity::find()
        .filter(rate_limit_hit::Column::LimitName.eq(limit))
        .filter(rate_limit_hit::Column::ClientKey.is_in(keys.iter().cloned()))
        .filter(rate_limit_hit::Column::HitTime.gt(since))
        .count(db)
        .await?)
}
