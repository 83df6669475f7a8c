//! Organisation queries.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{Set, Unchanged},
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Statement,
};

use super::{constraint_error, entities::organization, region::RegionRow, rows};
use crate::{
    domain::organization::{CreditCode, OrganizationDraft, OrganizationFilter},
    error::Error,
};

pub use organization::Model as OrganizationRow;

/// ALREADY_EXISTS for a credit code another organisation has.
fn code_taken(code: Option<&CreditCode>) -> Error {
    Error::AlreadyExists {
        reason: "CREDIT_CODE_TAKEN",
        message: format!(
            "an organization with credit code {} exists",
            code.map_or("", CreditCode::as_str)
        ),
    }
}

/// The columns a draft sets, in its region.
fn columns(draft: &OrganizationDraft, region: &RegionRow) -> organization::ActiveModel {
    organization::ActiveModel {
        display_name: Set(draft.display_name.clone()),
        kind: Set(draft.kind),
        region_code: Set(region.code.clone()),
        region_path: Set(region.path.clone()),
        credit_code: Set(draft.credit_code.as_ref().map(|c| c.as_str().to_owned())),
        parent_id: Set(draft.parent_id),
        ..Default::default()
    }
}

/// Inserts an organisation, its references already checked.
///
/// # Errors
/// ALREADY_EXISTS `CREDIT_CODE_TAKEN` when another organisation has the code.
pub async fn insert(
    db: &impl ConnectionTrait,
    draft: &OrganizationDraft,
    region: &RegionRow,
) -> Result<OrganizationRow, Error> {
    let now = Utc::now();
    let row = organization::ActiveModel {
        create_time: Set(now),
        update_time: Set(now),
        revision: Set(1),
        ..columns(draft, region)
    };
    row.insert(db)
        .await
        .map_err(|e| constraint_error(e, || code_taken(draft.credit_code.as_ref())))
}

/// Writes `draft` over organisation `current`, bumping its revision and update time.
///
/// # Errors
/// ALREADY_EXISTS `CREDIT_CODE_TAKEN` when another organisation has the new code.
pub async fn save(
    db: &impl ConnectionTrait,
    current: &OrganizationRow,
    draft: &OrganizationDraft,
    region: &RegionRow,
) -> Result<OrganizationRow, Error> {
    let row = organization::ActiveModel {
        id: Unchanged(current.id),
        revision: Set(current.revision + 1),
        update_time: Set(Utc::now()),
        ..columns(draft, region)
    };
    row.update(db)
        .await
        .map_err(|e| constraint_error(e, || code_taken(draft.credit_code.as_ref())))
}

/// The organisations `ids` that exist, by id, read-locked on PostgreSQL so that they stay
/// while the transaction commits.
pub async fn by_ids(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<std::collections::HashMap<i64, OrganizationRow>, Error> {
    use organization::Column as C;
    if ids.is_empty() {
        return Ok(std::collections::HashMap::new());
    }
    let rows = organization::Entity::find()
        .filter(C::Id.is_in(ids.iter().copied()))
        .lock_shared()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|row| (row.id, row)).collect())
}

/// The most organisations above one.
pub const MAX_DEPTH: usize = 64;

/// The PostgreSQL advisory lock that changes of the hierarchy take ("duikou-or"), so that
/// two moves that each see no loop cannot close one together; SQLite's write lock already
/// puts them one after the other.
const HIERARCHY_LOCK: i64 = 0x6475_696b_6f75_6f72;

/// Takes the lock of hierarchy changes until the transaction ends, on PostgreSQL.
pub async fn lock_hierarchy(db: &impl ConnectionTrait) -> Result<(), Error> {
    super::lock_until_commit(db, HIERARCHY_LOCK).await
}

/// The organisations above organisation `from`, nearest first, up to the top, in one
/// statement; none when there are [`MAX_DEPTH`] or more, so that one more below `from`
/// would have too many (a loop, which the writes never make, would be cut there too).
pub async fn ancestors(db: &impl ConnectionTrait, from: i64) -> Result<Option<Vec<i64>>, Error> {
    let backend = db.get_database_backend();
    let from_id = match backend {
        sea_orm::DatabaseBackend::Sqlite => "?",
        _ => "$1",
    };
    // The levels are read up to one past the limit, so that a chain that reaches it shows.
    let sql = format!(
        "WITH RECURSIVE up (id, depth) AS ( \
           SELECT parent_id, 1 FROM organizations WHERE id = {from_id} \
           UNION ALL \
           SELECT o.parent_id, up.depth + 1 FROM organizations o JOIN up ON o.id = up.id \
           WHERE up.depth <= {MAX_DEPTH}) \
         SELECT id FROM up WHERE id IS NOT NULL ORDER BY depth"
    );
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, [from.into()]))
        .await?;
    let chain = rows
        .iter()
        .map(|row| row.try_get_by_index::<i64>(0))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((chain.len() < MAX_DEPTH).then_some(chain))
}

/// Which organisations a list covers.
#[derive(Debug, Clone, Default)]
pub struct OrganizationQuery {
    /// What the caller's filter asks for; its region is read from `region_within`.
    pub filter: OrganizationFilter,
    /// Only organisations whose region's path starts with this one.
    pub region_within: Option<String>,
}

/// A page of organisations in id order, after `after` if given.
pub async fn list(
    db: &impl ConnectionTrait,
    query: &OrganizationQuery,
    after: Option<i64>,
    limit: u64,
) -> Result<Vec<OrganizationRow>, Error> {
    use organization::Column as C;
    let f = &query.filter;
    let condition = Condition::all()
        .add_option(f.kind.map(|k| C::Kind.eq(k)))
        .add_option(
            query
                .region_within
                .as_deref()
                .map(|path| rows::path_within(C::RegionPath, path)),
        )
        .add_option(f.parent_id.map(|id| C::ParentId.eq(id)))
        .add_option(
            f.display_name
                .as_deref()
                .map(|text| rows::contains(C::DisplayName, text)),
        )
        .add_option(
            f.credit_code
                .as_ref()
                .map(|code| C::CreditCode.eq(code.as_str())),
        );
    rows::page_after(
        db,
        organization::Entity::find().filter(condition),
        C::Id,
        after,
        limit,
    )
    .await
}
