//! Pairing queries.

use chrono::{DateTime, Datelike, Utc};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{Set, Unchanged},
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::{
    Store, changed, constraint_error,
    entities::pairing,
    region::RegionRow,
    rows::{self, Hold},
    sqlite::point_read,
};
use crate::{
    domain::{
        pairing::{Bound, CooperationField, PairingFilter, PairingState},
        period::Period,
        project::ProjectState,
    },
    error::Error,
};

pub use pairing::Model as PairingRow;

/// What a change sets on a stored pairing; a field left `None` stays as stored.
#[derive(Debug, Clone, Default)]
pub struct PairingChange {
    /// A new parent, or none.
    pub parent_id: Option<Option<i64>>,
    /// New cooperation fields.
    pub fields: Option<Vec<CooperationField>>,
    /// A new period.
    pub period: Option<Period>,
    /// A new state.
    pub state: Option<PairingState>,
    /// Deleted at this time, or undeleted.
    pub delete_time: Option<Option<DateTime<Utc>>>,
}

/// A pairing to insert, its references already checked.
pub struct NewPairing<'a> {
    /// The program's id.
    pub program_id: i64,
    /// The giving region.
    pub supporting: &'a RegionRow,
    /// The receiving region.
    pub supported: &'a RegionRow,
    /// The enclosing pairing's id.
    pub parent_id: Option<i64>,
    /// Cooperation fields.
    pub fields: &'a [CooperationField],
    /// The period.
    pub period: Period,
}

/// How a list query matches a region column.
#[derive(Debug, Clone)]
pub enum RegionCondition {
    /// The region with this code.
    Exactly(String),
    /// Any region whose path starts with this one.
    Within(String),
}

/// The resolved query of a pairing list: the caller's filter, with its region conditions
/// resolved to stored codes or paths.
#[derive(Debug, Clone)]
pub struct PairingQuery<'a> {
    /// The filter; its region conditions are read from the two fields below.
    pub filter: &'a PairingFilter,
    /// The supporting region's condition.
    pub supporting: Option<RegionCondition>,
    /// The supported region's condition.
    pub supported: Option<RegionCondition>,
    /// Include deleted pairings.
    pub show_deleted: bool,
    /// Newest first.
    pub descending: bool,
}

/// Inserts a pairing.
///
/// # Errors
/// ALREADY_EXISTS `PAIRING_EXISTS` when a live pairing has the same program and regions.
pub async fn insert(db: &impl ConnectionTrait, new: &NewPairing<'_>) -> Result<PairingRow, Error> {
    let now = Utc::now();
    let row = pairing::ActiveModel {
        program_id: Set(new.program_id),
        supporting_code: Set(new.supporting.code.clone()),
        supported_code: Set(new.supported.code.clone()),
        supporting_path: Set(new.supporting.path.clone()),
        supported_path: Set(new.supported.path.clone()),
        parent_id: Set(new.parent_id),
        level: Set(new.supported.level),
        fields: Set(CooperationField::store_list(new.fields)),
        period_start: Set(new.period.start()),
        period_end: Set(new.period.end()),
        state: Set(PairingState::Active),
        display_name: Set(format!(
            "{} — {}",
            new.supporting.display_name, new.supported.display_name
        )),
        create_time: Set(now),
        update_time: Set(now),
        delete_time: Set(None),
        revision: Set(1),
        ..Default::default()
    };
    row.insert(db)
        .await
        .map_err(|e| constraint_error(e, already_exists))
}

/// The error for a second live pairing of the same program and regions.
pub fn already_exists() -> Error {
    Error::AlreadyExists {
        reason: "PAIRING_EXISTS",
        message: "a live pairing of this program already pairs these two regions".to_owned(),
    }
}

/// Writes the changed columns of a pairing, bumping its revision and update time.
///
/// # Errors
/// ALREADY_EXISTS when an undelete collides with a live pairing.
pub async fn save(
    db: &impl ConnectionTrait,
    current: &PairingRow,
    change: PairingChange,
) -> Result<PairingRow, Error> {
    let row = pairing::ActiveModel {
        id: Unchanged(current.id),
        parent_id: changed(change.parent_id),
        fields: changed(change.fields.map(|f| CooperationField::store_list(&f))),
        period_start: changed(change.period.map(|p| p.start())),
        period_end: changed(change.period.map(|p| p.end())),
        state: changed(change.state),
        delete_time: changed(change.delete_time),
        revision: Set(current.revision + 1),
        update_time: Set(Utc::now()),
        ..Default::default()
    };
    row.update(db)
        .await
        .map_err(|e| constraint_error(e, already_exists))
}

/// A page of pairings in id order, after `after` if given.
pub async fn list(
    db: &impl ConnectionTrait,
    query: &PairingQuery<'_>,
    after: Option<i64>,
    limit: u64,
) -> Result<Vec<PairingRow>, Error> {
    use pairing::Column as C;
    let mut select = pairing::Entity::find().filter(
        Condition::all()
            .add_option(query.filter.program_id.map(|id| C::ProgramId.eq(id)))
            .add(region_condition(
                &query.supporting,
                C::SupportingCode,
                C::SupportingPath,
            ))
            .add(region_condition(
                &query.supported,
                C::SupportedCode,
                C::SupportedPath,
            ))
            .add_option(query.filter.state.map(|state| C::State.eq(state)))
            .add_option(query.filter.level.map(|level| C::Level.eq(level)))
            .add_option((!query.show_deleted).then(|| C::DeleteTime.is_null())),
    );
    select = match (after, query.descending) {
        (Some(after), false) => select.filter(C::Id.gt(after)),
        (Some(after), true) => select.filter(C::Id.lt(after)),
        (None, _) => select,
    };
    select = if query.descending {
        select.order_by_desc(C::Id)
    } else {
        select.order_by_asc(C::Id)
    };
    Ok(select.limit(limit).all(db).await?)
}

fn region_condition(
    condition: &Option<RegionCondition>,
    code: pairing::Column,
    path: pairing::Column,
) -> Condition {
    match condition {
        None => Condition::all(),
        Some(RegionCondition::Exactly(c)) => Condition::all().add(code.eq(c.as_str())),
        Some(RegionCondition::Within(p)) => Condition::all().add(rows::path_within(path, p)),
    }
}

/// How many live pairings have `id` as their parent.
pub async fn live_children(db: &impl ConnectionTrait, id: i64) -> Result<u64, Error> {
    Ok(pairing::Entity::find()
        .filter(pairing::Column::ParentId.eq(id))
        .filter(pairing::Column::DeleteTime.is_null())
        .count(db)
        .await?)
}

/// The live pairings an update of a period must keep inside it.
#[derive(Debug, Clone, Copy)]
pub enum Members {
    /// The children of a pairing.
    ChildrenOf(i64),
    /// The pairings of a program.
    OfProgram(i64),
}

/// How many of the live pairings `members` names reach outside `period`.
pub async fn live_outside(
    db: &impl ConnectionTrait,
    members: Members,
    period: &Period,
) -> Result<u64, Error> {
    let members = match members {
        Members::ChildrenOf(id) => pairing::Column::ParentId.eq(id),
        Members::OfProgram(id) => pairing::Column::ProgramId.eq(id),
    };
    Ok(pairing::Entity::find()
        .filter(members)
        .filter(pairing::Column::DeleteTime.is_null())
        .filter(
            Condition::any()
                .add(pairing::Column::PeriodStart.lt(period.start()))
                .add(pairing::Column::PeriodEnd.gt(period.end())),
        )
        .count(db)
        .await?)
}

/// What of pairing `id` would stand outside `period`, or work in a field not in `fields`.
pub async fn bound(
    db: &impl ConnectionTrait,
    id: i64,
    period: &Period,
    fields: &[CooperationField],
) -> Result<Bound, Error> {
    use super::entities::{fund_transaction as line, project, talent_exchange as exchange};
    let (start, end) = (period.start(), period.end());
    let open_projects = || {
        project::Entity::find()
            .filter(project::Column::PairingId.eq(id))
            .filter(project::Column::State.ne(ProjectState::Cancelled))
    };
    let projects = open_projects()
        .filter(
            Condition::any()
                .add(project::Column::PlannedStart.lt(start))
                .add(project::Column::PlannedEnd.gt(end)),
        )
        .count(db)
        .await?;
    let lines = line::Entity::find()
        .filter(line::Column::PairingId.eq(id))
        .filter(
            Condition::any()
                .add(line::Column::FiscalYear.lt(start.year()))
                .add(line::Column::FiscalYear.gt(end.year())),
        )
        .count(db)
        .await?;
    let exchanges = exchange::Entity::find()
        .filter(exchange::Column::PairingId.eq(id))
        .filter(exchange::Column::DeleteTime.is_null())
        .filter(
            Condition::any()
                .add(exchange::Column::StartDate.lt(start))
                .add(exchange::Column::StartDate.gt(end))
                .add(exchange::Column::EndDate.gt(end)),
        )
        .count(db)
        .await?;
    let mut dropped_fields: Vec<CooperationField> = open_projects()
        .filter(project::Column::Field.is_not_in(fields.iter().copied()))
        .select_only()
        .column(project::Column::Field)
        .distinct()
        .into_tuple()
        .all(db)
        .await?;
    dropped_fields.sort();
    Ok(Bound {
        projects,
        lines,
        exchanges,
        dropped_fields,
    })
}

/// The ids from `id` up its parent chain, `id` first; stops early at `stop`, which then is
/// the last element. The chain is bounded so that a damaged table cannot loop forever.
pub async fn ancestry(db: &impl ConnectionTrait, id: i64, stop: i64) -> Result<Vec<i64>, Error> {
    const MAX_DEPTH: usize = 64;
    let mut chain = vec![id];
    let mut current = id;
    while current != stop && chain.len() < MAX_DEPTH {
        let parent: Option<Option<i64>> = pairing::Entity::find_by_id(current)
            .select_only()
            .column(pairing::Column::ParentId)
            .into_tuple()
            .one(db)
            .await?;
        match parent.flatten() {
            Some(p) => {
                chain.push(p);
                current = p;
            }
            None => break,
        }
    }
    Ok(chain)
}

/// The inline point read of [`find`]: its columns must be the entity's, as a test in
/// [`super::sqlite::point_read`] checks.
pub(crate) const PAIRING_BY_ID: &str = "SELECT id, program_id, supporting_code, supported_code, supporting_path, \
     supported_path, parent_id, level, fields, period_start, period_end, state, \
     display_name, create_time, update_time, delete_time, revision \
     FROM pairings WHERE id = ?1";

/// One pairing by id for a read request: inline on a SQLite file, through the pool
/// elsewhere.
pub async fn find(store: &Store, id: i64) -> Result<Option<PairingRow>, Error> {
    point_read::read_one(
        store,
        PAIRING_BY_ID,
        [id],
        |row| {
            Ok(PairingRow {
                id: row.get("id")?,
                program_id: row.get("program_id")?,
                supporting_code: row.get("supporting_code")?,
                supported_code: row.get("supported_code")?,
                supporting_path: row.get("supporting_path")?,
                supported_path: row.get("supported_path")?,
                parent_id: row.get("parent_id")?,
                level: point_read::numbered(row, "level")?,
                fields: row.get("fields")?,
                period_start: point_read::date(row, "period_start")?,
                period_end: point_read::date(row, "period_end")?,
                state: point_read::numbered(row, "state")?,
                display_name: row.get("display_name")?,
                create_time: point_read::timestamp(row, "create_time")?,
                update_time: point_read::timestamp(row, "update_time")?,
                delete_time: point_read::optional_timestamp(row, "delete_time")?,
                revision: row.get("revision")?,
            })
        },
        || async { rows::by_id(store.db(), id, Hold::Nothing).await },
    )
    .await
}
