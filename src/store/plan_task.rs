//! Plan task queries, and the append-only reports of their progress.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{Set, Unchanged},
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, ModelTrait, QueryFilter, QueryOrder,
};

use super::{
    entities::{plan_task, plan_task_report},
    rows,
};
use crate::{
    domain::plan_task::{Figure, Report, TaskDraft, TaskFilter, TaskState},
    error::Error,
};

pub use plan_task::Model as TaskRow;
pub use plan_task_report::Model as ReportRow;

impl TaskRow {
    /// The supporting organisations' ids.
    ///
    /// # Errors
    /// INTERNAL for a damaged list.
    pub fn supporting(&self) -> Result<Vec<i64>, Error> {
        serde_json::from_str(&self.supporting_ids).map_err(|e| {
            anyhow::anyhow!("plan task {}'s supporting organizations: {e}", self.id).into()
        })
    }
}

/// The columns a draft sets.
fn columns(draft: &TaskDraft) -> plan_task::ActiveModel {
    let ids = serde_json::to_string(&draft.supporting_organization_ids)
        .unwrap_or_else(|_| "[]".to_owned());
    plan_task::ActiveModel {
        title: Set(draft.title.clone()),
        field: Set(draft.field),
        lead_organization_id: Set(draft.lead_organization_id),
        supporting_ids: Set(ids),
        due_date: Set(draft.due_date),
        indicator: Set(draft.indicator),
        target_micro: Set(draft.target.map(Figure::millionths)),
        baseline_micro: Set(draft.baseline.map(Figure::millionths)),
        weight: Set(draft.weight),
        ..Default::default()
    }
}

/// Inserts a task of plan `plan_id`, not started, its references already checked.
pub async fn insert(
    db: &impl ConnectionTrait,
    plan_id: i64,
    draft: &TaskDraft,
) -> Result<TaskRow, Error> {
    let now = Utc::now();
    let row = plan_task::ActiveModel {
        plan_id: Set(plan_id),
        progress_percent: Set(0),
        state: Set(TaskState::NotStarted),
        done_date: Set(None),
        actual_micro: Set(None),
        create_time: Set(now),
        update_time: Set(now),
        revision: Set(1),
        ..columns(draft)
    };
    Ok(row.insert(db).await?)
}

/// Writes `draft` over task `current`, bumping its revision and update time.
pub async fn save(
    db: &impl ConnectionTrait,
    current: &TaskRow,
    draft: &TaskDraft,
) -> Result<TaskRow, Error> {
    let row = plan_task::ActiveModel {
        id: Unchanged(current.id),
        revision: Set(current.revision + 1),
        update_time: Set(Utc::now()),
        ..columns(draft)
    };
    Ok(row.update(db).await?)
}

/// Deletes task `current`, which has no reports: its plan is still a draft.
pub async fn remove(db: &impl ConnectionTrait, current: TaskRow) -> Result<(), Error> {
    current.delete(db).await?;
    Ok(())
}

/// Appends `report` by `actor` to task `current` at `now`, and moves the task to `state`
/// (done on `today` when it is DONE), keeping a MANUAL figure as the latest actual.
pub async fn report(
    db: &impl ConnectionTrait,
    current: &TaskRow,
    report: &Report,
    state: TaskState,
    (now, today): (DateTime<Utc>, NaiveDate),
    actor: &str,
) -> Result<(TaskRow, ReportRow), Error> {
    let actual = report.actual.map(Figure::millionths);
    let stored = plan_task_report::ActiveModel {
        task_id: Set(current.id),
        progress_percent: Set(report.progress_percent),
        actual_micro: Set(actual),
        note: Set(report.note.clone()),
        evidence: Set(report.evidence.clone()),
        done: Set(report.done),
        report_time: Set(now),
        actor_label: Set(actor.to_owned()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    let mut task = plan_task::ActiveModel {
        id: Unchanged(current.id),
        progress_percent: Set(report.progress_percent),
        state: Set(state),
        revision: Set(current.revision + 1),
        update_time: Set(now),
        ..Default::default()
    };
    if state == TaskState::Done {
        task.done_date = Set(Some(today));
    }
    if actual.is_some() {
        task.actual_micro = Set(actual);
    }
    Ok((task.update(db).await?, stored))
}

/// The tasks of plan `plan_id`, in id order.
pub async fn of_plan(db: &impl ConnectionTrait, plan_id: i64) -> Result<Vec<TaskRow>, Error> {
    use plan_task::Column as C;
    Ok(plan_task::Entity::find()
        .filter(C::PlanId.eq(plan_id))
        .order_by_asc(C::Id)
        .all(db)
        .await?)
}

/// A page of plan `plan_id`'s tasks that `filter` asks for, as they stand `today` in
/// China, in id order, after `after` if given.
pub async fn list(
    db: &impl ConnectionTrait,
    plan_id: i64,
    filter: &TaskFilter,
    today: NaiveDate,
    (after, limit): (Option<i64>, u64),
) -> Result<Vec<TaskRow>, Error> {
    use plan_task::Column as C;
    let overdue = filter.overdue.map(|overdue| {
        let late = Condition::all()
            .add(C::State.ne(TaskState::Done))
            .add(C::DueDate.lt(today));
        if overdue { late } else { late.not() }
    });
    let condition = Condition::all()
        .add(C::PlanId.eq(plan_id))
        .add_option(
            filter
                .lead_organization_id
                .map(|id| C::LeadOrganizationId.eq(id)),
        )
        .add_option(filter.state.map(|s| C::State.eq(s)))
        .add_option(filter.field.map(|f| C::Field.eq(f)))
        .add_option(overdue);
    rows::page_after(
        db,
        plan_task::Entity::find().filter(condition),
        C::Id,
        after,
        limit,
    )
    .await
}

/// The reports of tasks `ids`, oldest first, by task.
pub async fn reports_of(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<HashMap<i64, Vec<ReportRow>>, Error> {
    use plan_task_report::Column as C;
    let mut by_task: HashMap<i64, Vec<ReportRow>> = HashMap::new();
    if ids.is_empty() {
        return Ok(by_task);
    }
    let rows = plan_task_report::Entity::find()
        .filter(C::TaskId.is_in(ids.iter().copied()))
        .order_by_asc(C::Id)
        .all(db)
        .await?;
    for row in rows {
        by_task.entry(row.task_id).or_default().push(row);
    }
    Ok(by_task)
}

/// The reports of task `id`, oldest first.
pub async fn reports_of_task(db: &impl ConnectionTrait, id: i64) -> Result<Vec<ReportRow>, Error> {
    Ok(reports_of(db, &[id]).await?.remove(&id).unwrap_or_default())
}

/// How many reports task `id` has.
pub async fn report_count(db: &impl ConnectionTrait, id: i64) -> Result<u64, Error> {
    use plan_task_report::Column as C;
    use sea_orm::PaginatorTrait;
    Ok(plan_task_report::Entity::find()
        .filter(C::TaskId.eq(id))
        .count(db)
        .await?)
}
