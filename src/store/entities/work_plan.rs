//! The `work_plans` table.

use sea_orm::entity::prelude::*;

use crate::domain::plan::WorkPlanState;

/// One work plan.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "work_plans")]
pub struct Model {
    /// Server-assigned id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The program it covers, for a program's plan.
    pub program_id: Option<i64>,
    /// The pairing it covers, for a pairing's plan.
    pub pairing_id: Option<i64>,
    /// The year it is for.
    pub year: i32,
    /// Its title.
    pub title: String,
    /// The document it rests on.
    pub basis_document: String,
    /// Where it stands.
    pub state: WorkPlanState,
    /// The weights, as `FieldWeight::store_list` writes them.
    pub weights: String,
    /// The least score graded 好.
    pub grade_excellent: i16,
    /// The least score graded 较好.
    pub grade_good: i16,
    /// The least score graded 一般.
    pub grade_fair: i16,
    /// Creation time.
    pub create_time: DateTimeUtc,
    /// Last change.
    pub update_time: DateTimeUtc,
    /// When it was issued.
    pub issue_time: Option<DateTimeUtc>,
    /// When it was closed.
    pub close_time: Option<DateTimeUtc>,
    /// Bumped on every change; the etag.
    pub revision: i64,
}

without_relations!();
