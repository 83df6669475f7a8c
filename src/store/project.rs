//! Project queries: the projects and the balance row each one has from its creation.

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{Set, Unchanged},
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
};

use super::{
    changed,
    entities::{project, project_balance},
    region::RegionRow,
    rows,
};
use crate::{
    domain::{
        money::Amount,
        pairing::CooperationField,
        period::Period,
        project::{Milestone, ProjectFilter, ProjectState},
    },
    error::Error,
};

pub use project::Model as ProjectRow;
pub use project_balance::Model as ProjectBalanceRow;

/// What a change sets on a stored project; a field left `None` stays as stored.
#[derive(Debug, Clone, Default)]
pub struct ProjectChange {
    /// A new name.
    pub display_name: Option<String>,
    /// A new description.
    pub description: Option<String>,
    /// A new location: its code and path.
    pub location: Option<RegionRow>,
    /// A new implementing organisation, in words.
    pub implementing_org: Option<String>,
    /// A new registered implementing organisation, or none.
    pub implementing_organization_id: Option<Option<i64>>,
    /// A new budget.
    pub budget: Option<Amount>,
    /// A new planned period.
    pub planned: Option<Period>,
    /// A new progress figure.
    pub progress_percent: Option<i16>,
    /// New milestones.
    pub milestones: Option<Vec<Milestone>>,
    /// A new state.
    pub state: Option<ProjectState>,
    /// Why it was cancelled.
    pub cancel_reason: Option<String>,
}

/// A project to insert, its references already checked.
pub struct NewProject<'a> {
    /// The pairing.
    pub pairing_id: i64,
    /// The project's name.
    pub display_name: &'a str,
    /// Free text.
    pub description: &'a str,
    /// Its field.
    pub field: CooperationField,
    /// Where the work happens: code and path.
    pub location: (&'a str, &'a str),
    /// Who carries it out.
    pub implementing_org: &'a str,
    /// The registered organisation that carries it out.
    pub implementing_organization_id: Option<i64>,
    /// The budget.
    pub budget: Amount,
    /// The planned period.
    pub planned: Period,
    /// 0 to 100.
    pub progress_percent: i16,
    /// Milestones.
    pub milestones: &'a [Milestone],
}

/// Inserts a proposed project and its empty balance.
pub async fn insert(db: &impl ConnectionTrait, new: &NewProject<'_>) -> Result<ProjectRow, Error> {
    let now = Utc::now();
    let row = project::ActiveModel {
        pairing_id: Set(new.pairing_id),
        display_name: Set(new.display_name.to_owned()),
        description: Set(new.description.to_owned()),
        field: Set(new.field),
        location_code: Set(new.location.0.to_owned()),
        location_path: Set(new.location.1.to_owned()),
        implementing_org: Set(new.implementing_org.to_owned()),
        implementing_organization_id: Set(new.implementing_organization_id),
        budget_fen: Set(new.budget.fen()),
        planned_start: Set(new.planned.start()),
        planned_end: Set(new.planned.end()),
        state: Set(ProjectState::Proposed),
        progress_percent: Set(new.progress_percent),
        milestones: Set(Milestone::store_list(new.milestones)),
        cancel_reason: Set(String::new()),
        create_time: Set(now),
        update_time: Set(now),
        revision: Set(1),
        ..Default::default()
    }
    .insert(db)
    .await?;
    project_balance::Entity::insert(project_balance::ActiveModel {
        project_id: Set(row.id),
        allocated_fen: Set(0),
        disbursed_fen: Set(0),
    })
    .exec_without_returning(db)
    .await?;
    Ok(row)
}

/// Writes the changed columns of a project, bumping its revision and update time.
pub async fn save(
    db: &impl ConnectionTrait,
    current: &ProjectRow,
    change: ProjectChange,
) -> Result<ProjectRow, Error> {
    let (location_code, location_path) = change.location.map(|l| (l.code, l.path)).unzip();
    let row = project::ActiveModel {
        id: Unchanged(current.id),
        display_name: changed(change.display_name),
        description: changed(change.description),
        location_code: changed(location_code),
        location_path: changed(location_path),
        implementing_org: changed(change.implementing_org),
        implementing_organization_id: changed(change.implementing_organization_id),
        budget_fen: changed(change.budget.map(Amount::fen)),
        planned_start: changed(change.planned.map(|p| p.start())),
        planned_end: changed(change.planned.map(|p| p.end())),
        progress_percent: changed(change.progress_percent),
        milestones: changed(change.milestones.map(|m| Milestone::store_list(&m))),
        state: changed(change.state),
        cancel_reason: changed(change.cancel_reason),
        revision: Set(current.revision + 1),
        update_time: Set(Utc::now()),
        ..Default::default()
    };
    Ok(row.update(db).await?)
}

/// The money of one project; zero for one without a balance row.
pub async fn balance(db: &impl ConnectionTrait, id: i64) -> Result<ProjectBalanceRow, Error> {
    Ok(balances(db, &[id])
        .await?
        .remove(&id)
        .unwrap_or_else(|| no_money(id)))
}

/// The money of several projects, by project id: an entry for each of `ids`, zero for one
/// without a balance row.
pub async fn balances(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<HashMap<i64, ProjectBalanceRow>, Error> {
    let mut found: HashMap<i64, ProjectBalanceRow> = if ids.is_empty() {
        HashMap::new()
    } else {
        project_balance::Entity::find()
            .filter(project_balance::Column::ProjectId.is_in(ids.iter().copied()))
            .all(db)
            .await?
            .into_iter()
            .map(|b| (b.project_id, b))
            .collect()
    };
    for &id in ids {
        found.entry(id).or_insert_with(|| no_money(id));
    }
    Ok(found)
}

/// The balance of a project that has moved no money.
pub fn no_money(project_id: i64) -> ProjectBalanceRow {
    ProjectBalanceRow {
        project_id,
        allocated_fen: 0,
        disbursed_fen: 0,
    }
}

/// A page of the projects `query` asks for in id order, after `after` if given, each with
/// its money; its location, if any, is `location_within`, that region's path.
pub async fn list(
    db: &impl ConnectionTrait,
    query: &ProjectFilter,
    location_within: Option<&str>,
    after: Option<i64>,
    limit: u64,
) -> Result<Vec<(ProjectRow, ProjectBalanceRow)>, Error> {
    use project::Column as C;
    let select = project::Entity::find().filter(
        Condition::all()
            .add_option(query.pairing_id.map(|id| C::PairingId.eq(id)))
            .add_option(
                query
                    .program_id
                    .map(|id| C::PairingId.in_subquery(rows::pairings_of_program(id))),
            )
            .add_option(query.state.map(|state| C::State.eq(state)))
            .add_option(query.field.map(|field| C::Field.eq(field)))
            .add_option(
                query
                    .implementing_organization_id
                    .map(|id| C::ImplementingOrganizationId.eq(id)),
            )
            .add_option(location_within.map(|path| rows::path_within(C::LocationPath, path))),
    );
    let rows = rows::page_after(db, select, C::Id, after, limit).await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut balances = balances(db, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let balance = balances.remove(&row.id).unwrap_or_else(|| no_money(row.id));
            (row, balance)
        })
        .collect())
}
