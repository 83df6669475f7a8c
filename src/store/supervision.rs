//! Supervision queries: entries, and their append-only timelines.

use chrono::{SubsecRound, Utc};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait},
};

use super::entities::{supervision_entry, supervision_event};
use crate::error::Error;

pub use supervision_entry::{ActiveModel as EntryChange, Model as EntryRow};
pub use supervision_event::{ActiveModel as NewEvent, Model as EventRow};

/// Inserts an entry; `row` carries every column but the id, times, counters and revision.
///
/// # Errors
/// Only the database's.
pub async fn insert(db: &impl ConnectionTrait, mut row: EntryChange) -> Result<EntryRow, Error> {
    let now = Utc::now().trunc_subsecs(6);
    row.create_time = Set(now);
    row.update_time = Set(now);
    row.event_count = Set(0);
    row.revision = Set(1);
    Ok(row.insert(db).await?)
}

/// How many entries were filed from client `key` since `since`.
///
/// # Errors
/// Only the database's.
pub async fn filed_from(
    db: &impl ConnectionTrait,
    key: &str,
    since: chrono::DateTime<Utc>,
) -> Result<u64, Error> {
    use sea_orm::PaginatorTrait;
    Ok(supervision_entry::Entity::find()
        .filter(supervision_entry::Column::ClientKey.eq(key))
        .filter(supervision_entry::Column::CreateTime.gt(since))
        .count(db)
        .await?)
}

/// One entry.
///
/// # Errors
/// Only the database's.
pub async fn get(db: &impl ConnectionTrait, id: i64) -> Result<Option<EntryRow>, Error> {
    Ok(supervision_entry::Entity::find_by_id(id).one(db).await?)
}

/// One entry, locked until the transaction ends (PostgreSQL; SQLite's write lock already
/// covers the whole database).
///
/// # Errors
/// Only the database's.
pub async fn get_for_update(db: &impl ConnectionTrait, id: i64) -> Result<Option<EntryRow>, Error> {
    Ok(supervision_entry::Entity::find_by_id(id)
        .lock_exclusive()
        .one(db)
        .await?)
}

/// The entry of a public report's tracking code hash.
///
/// # Errors
/// Only the database's.
pub async fn by_tracking_hash(
    db: &impl ConnectionTrait,
    hash: &str,
) -> Result<Option<EntryRow>, Error> {
    Ok(supervision_entry::Entity::find()
        .filter(supervision_entry::Column::TrackingHash.eq(hash))
        .one(db)
        .await?)
}

/// Writes a step's change to an entry, bumping its revision and update time.
///
/// # Errors
/// Only the database's.
pub async fn save(
    db: &impl ConnectionTrait,
    current: &EntryRow,
    mut change: EntryChange,
) -> Result<EntryRow, Error> {
    change.id = sea_orm::ActiveValue::Unchanged(current.id);
    change.revision = Set(current.revision + 1);
    change.update_time = Set(Utc::now().trunc_subsecs(6));
    Ok(change.update(db).await?)
}

/// Appends `event` to the timeline of `entry` (read in this transaction) as its next
/// event, and counts it on the entry.
///
/// # Errors
/// [`Error::Contention`] when a concurrent transaction appended first (retried); the
/// database's failures.
pub async fn append(
    db: &impl ConnectionTrait,
    entry: &EntryRow,
    mut event: NewEvent,
) -> Result<EventRow, Error> {
    use supervision_entry::Column as C;
    let counted = supervision_entry::Entity::update_many()
        .col_expr(C::EventCount, Expr::col(C::EventCount).add(1))
        .filter(C::Id.eq(entry.id))
        .filter(C::EventCount.eq(entry.event_count))
        .exec(db)
        .await?;
    if counted.rows_affected != 1 {
        return Err(Error::Contention);
    }
    event.entry_id = Set(entry.id);
    event.seq = Set(entry.event_count + 1);
    event.create_time = Set(Utc::now().trunc_subsecs(6));
    Ok(event.insert(db).await?)
}

/// A page of an entry's timeline, oldest first, after event `after` if given.
///
/// # Errors
/// Only the database's.
pub async fn events(
    db: &impl ConnectionTrait,
    entry_id: i64,
    after: Option<i64>,
    limit: u64,
) -> Result<Vec<EventRow>, Error> {
    use supervision_event::Column as C;
    let mut select = supervision_event::Entity::find().filter(C::EntryId.eq(entry_id));
    if let Some(after) = after {
        select = select.filter(C::Seq.gt(after));
    }
    Ok(select.order_by_asc(C::Seq).limit(limit).all(db).await?)
}
