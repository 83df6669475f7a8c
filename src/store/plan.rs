//! Work plan queries.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{Set, Unchanged},
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
};

use super::{entities::work_plan, rows};
use crate::{
    domain::plan::{
        FieldWeight, GradeThresholds, PlanScope, WorkPlanDraft, WorkPlanFilter, WorkPlanState,
    },
    error::Error,
};

pub use work_plan::Model as WorkPlanRow;

impl WorkPlanRow {
    /// What the plan covers.
    ///
    /// # Errors
    /// INTERNAL for a row that names neither a program nor a pairing.
    pub fn scope(&self) -> Result<PlanScope, Error> {
        match (self.program_id, self.pairing_id) {
            (Some(id), None) => Ok(PlanScope::Program(id)),
            (None, Some(id)) => Ok(PlanScope::Pairing(id)),
            _ => Err(anyhow::anyhow!("work plan {} has no single scope", self.id).into()),
        }
    }

    /// The grade thresholds as stored.
    pub fn grade_thresholds(&self) -> GradeThresholds {
        GradeThresholds {
            excellent: i32::from(self.grade_excellent),
            good: i32::from(self.grade_good),
            fair: i32::from(self.grade_fair),
        }
    }
}

/// The columns a draft sets.
fn columns(draft: &WorkPlanDraft) -> work_plan::ActiveModel {
    let t = draft.grade_thresholds;
    // The thresholds were checked to lie in 1..=100.
    let small = |n: i32| i16::try_from(n).unwrap_or(i16::MAX);
    work_plan::ActiveModel {
        title: Set(draft.title.clone()),
        basis_document: Set(draft.basis_document.clone()),
        weights: Set(FieldWeight::store_list(&draft.weights)),
        grade_excellent: Set(small(t.excellent)),
        grade_good: Set(small(t.good)),
        grade_fair: Set(small(t.fair)),
        ..Default::default()
    }
}

/// Inserts a DRAFT plan of `scope` for `year`, its scope already checked.
pub async fn insert(
    db: &impl ConnectionTrait,
    scope: PlanScope,
    year: i32,
    draft: &WorkPlanDraft,
) -> Result<WorkPlanRow, Error> {
    let now = Utc::now();
    let (program_id, pairing_id) = match scope {
        PlanScope::Program(id) => (Some(id), None),
        PlanScope::Pairing(id) => (None, Some(id)),
    };
    let row = work_plan::ActiveModel {
        program_id: Set(program_id),
        pairing_id: Set(pairing_id),
        year: Set(year),
        state: Set(WorkPlanState::Draft),
        create_time: Set(now),
        update_time: Set(now),
        issue_time: Set(None),
        close_time: Set(None),
        revision: Set(1),
        ..columns(draft)
    };
    Ok(row.insert(db).await?)
}

/// Writes `draft` over plan `current`, bumping its revision and update time.
pub async fn save(
    db: &impl ConnectionTrait,
    current: &WorkPlanRow,
    draft: &WorkPlanDraft,
) -> Result<WorkPlanRow, Error> {
    let row = work_plan::ActiveModel {
        id: Unchanged(current.id),
        revision: Set(current.revision + 1),
        update_time: Set(Utc::now()),
        ..columns(draft)
    };
    Ok(row.update(db).await?)
}

/// Moves plan `current` to `state`, stamping the time it was issued or closed.
pub async fn set_state(
    db: &impl ConnectionTrait,
    current: &WorkPlanRow,
    state: WorkPlanState,
) -> Result<WorkPlanRow, Error> {
    let now = Utc::now();
    let mut row = work_plan::ActiveModel {
        id: Unchanged(current.id),
        state: Set(state),
        revision: Set(current.revision + 1),
        update_time: Set(now),
        ..Default::default()
    };
    match state {
        WorkPlanState::Issued => row.issue_time = Set(Some(now)),
        WorkPlanState::Closed => row.close_time = Set(Some(now)),
        WorkPlanState::Draft => {}
    }
    Ok(row.update(db).await?)
}

/// A page of the plans `filter` asks for, in id order, after `after` if given.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: &WorkPlanFilter,
    after: Option<i64>,
    limit: u64,
) -> Result<Vec<WorkPlanRow>, Error> {
    use work_plan::Column as C;
    let scope = filter.scope.map(|scope| match scope {
        PlanScope::Program(id) => C::ProgramId.eq(id),
        PlanScope::Pairing(id) => C::PairingId.eq(id),
    });
    let condition = Condition::all()
        .add_option(scope)
        .add_option(filter.year.map(|y| C::Year.eq(y)))
        .add_option(filter.state.map(|s| C::State.eq(s)));
    rows::page_after(
        db,
        work_plan::Entity::find().filter(condition),
        C::Id,
        after,
        limit,
    )
    .await
}
