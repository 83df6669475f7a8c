//! Region queries.

use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::{Store, constraint_error, entities::region, rows, sqlite::point_read};
use crate::{
    domain::region::{NameMatch, RegionCode, RegionFilter, RegionLevel, RegionPath},
    error::Error,
};

pub use region::Model as RegionRow;

/// Which regions a list covers.
#[derive(Debug, Clone)]
pub enum Scope {
    /// The provinces.
    Top,
    /// The children of one region.
    ChildrenOf(RegionCode),
    /// Every region.
    All,
}

/// One region by code.
pub async fn get(db: &impl ConnectionTrait, code: &RegionCode) -> Result<Option<RegionRow>, Error> {
    Ok(region::Entity::find_by_id(code.as_str()).one(db).await?)
}

/// Several regions by code, in one query; missing ones are left out.
pub async fn get_many(
    db: &impl ConnectionTrait,
    codes: &[&RegionCode],
) -> Result<Vec<RegionRow>, Error> {
    Ok(region::Entity::find()
        .filter(region::Column::Code.is_in(codes.iter().map(|c| c.as_str())))
        .all(db)
        .await?)
}

/// A page of regions in code order, after `after` if given.
pub async fn list(
    db: &impl ConnectionTrait,
    scope: &Scope,
    filter: &RegionFilter,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<RegionRow>, Error> {
    let mut query = region::Entity::find();
    query = match scope {
        Scope::Top => query.filter(region::Column::ParentCode.is_null()),
        Scope::ChildrenOf(code) => query.filter(region::Column::ParentCode.eq(code.as_str())),
        Scope::All => query,
    };
    if let Some(level) = filter.level {
        query = query.filter(region::Column::Level.eq(level));
    }
    match &filter.display_name {
        Some(NameMatch::Exactly(name)) => {
            query = query.filter(region::Column::DisplayName.eq(name.as_str()));
        }
        Some(NameMatch::Contains(text)) => {
            query = query.filter(rows::contains(region::Column::DisplayName, text));
        }
        None => {}
    }
    rows::page_after(db, query, region::Column::Code, after, limit).await
}

/// A region to add, one that the national list lacks.
pub struct NewRegion<'a> {
    /// Its code.
    pub code: &'a RegionCode,
    /// Its name.
    pub display_name: &'a str,
    /// Its level, one below its parent's.
    pub level: RegionLevel,
    /// The region it lies in; none for a province.
    pub parent: Option<&'a RegionRow>,
}

/// Adds a region, marked as added rather than loaded from the national list.
///
/// # Errors
/// ALREADY_EXISTS when the code is taken.
pub async fn insert(db: &impl ConnectionTrait, new: &NewRegion<'_>) -> Result<RegionRow, Error> {
    let NewRegion {
        code,
        display_name,
        level,
        parent,
    } = *new;
    let parent_path = parent.map(|p| RegionPath::from_stored(p.path.clone()));
    let row = region::ActiveModel {
        code: Set(code.as_str().to_owned()),
        display_name: Set(display_name.to_owned()),
        level: Set(level),
        parent_code: Set(parent.map(|p| p.code.clone())),
        path: Set(RegionPath::child_of(parent_path.as_ref(), code)
            .as_str()
            .to_owned()),
        added: Set(true),
    };
    region::Entity::insert(row)
        .exec_with_returning(db)
        .await
        .map_err(|e| {
            constraint_error(e, || Error::AlreadyExists {
                reason: "REGION_EXISTS",
                message: format!("{} already exists", code.name()),
            })
        })
}

/// The inline point read of [`find`]: its columns must be the entity's, as a test in
/// [`super::sqlite::point_read`] checks.
pub(crate) const REGION_BY_CODE: &str = "SELECT code, display_name, level, parent_code, path, added \
     FROM regions WHERE code = ?1";

/// One region by code for a read request: inline on a SQLite file, through the pool
/// elsewhere.
pub async fn find(store: &Store, code: &RegionCode) -> Result<Option<RegionRow>, Error> {
    point_read::read_one(
        store,
        REGION_BY_CODE,
        [code.as_str()],
        |row| {
            Ok(RegionRow {
                code: row.get("code")?,
                display_name: row.get("display_name")?,
                level: point_read::numbered(row, "level")?,
                parent_code: row.get("parent_code")?,
                path: row.get("path")?,
                added: row.get("added")?,
            })
        },
        || async { get(store.db(), code).await },
    )
    .await
}
