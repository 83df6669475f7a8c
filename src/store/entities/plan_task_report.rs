//! The `plan_task_reports` table, append-only.

use sea_orm::entity::prelude::*;

/// One progress report of a task.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "plan_task_reports")]
pub struct Model {
    /// Server-assigned id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The task reported on.
    pub task_id: i64,
    /// 0 to 100.
    pub progress_percent: i16,
    /// The reported figure of a MANUAL indicator, in millionths.
    pub actual_micro: Option<i64>,
    /// What was done.
    pub note: String,
    /// Where the proof is.
    pub evidence: String,
    /// Whether it reported the task done.
    pub done: bool,
    /// When it was reported.
    pub report_time: DateTimeUtc,
    /// Who reported it: the token's label.
    pub actor_label: String,
}

without_relations!();
