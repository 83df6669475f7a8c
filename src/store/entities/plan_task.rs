//! The `plan_tasks` table.

use sea_orm::entity::prelude::*;

use crate::domain::{
    plan::PlanField,
    plan_task::{Indicator, TaskState},
};

/// One task of a work plan.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "plan_tasks")]
pub struct Model {
    /// Server-assigned id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The plan it belongs to.
    pub plan_id: i64,
    /// What is to be done.
    pub title: String,
    /// Its assessment field.
    pub field: PlanField,
    /// The organisation that leads it.
    pub lead_organization_id: i64,
    /// The organisations that support it, as a JSON list of ids.
    pub supporting_ids: String,
    /// When it is due.
    pub due_date: Date,
    /// How it is measured, if it is.
    pub indicator: Option<Indicator>,
    /// The figure to reach, in millionths.
    pub target_micro: Option<i64>,
    /// The figure it starts from, in millionths.
    pub baseline_micro: Option<i64>,
    /// Its weight among its field's tasks.
    pub weight: i32,
    /// 0 to 100, as last reported.
    pub progress_percent: i16,
    /// Where it stands.
    pub state: TaskState,
    /// When it was reported done, in China.
    pub done_date: Option<Date>,
    /// The figure the latest report gave, for a MANUAL indicator, in millionths.
    pub actual_micro: Option<i64>,
    /// Creation time.
    pub create_time: DateTimeUtc,
    /// Last change.
    pub update_time: DateTimeUtc,
    /// Bumped on every change; the etag.
    pub revision: i64,
}

without_relations!();
