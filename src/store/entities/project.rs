//! The `projects` table.

use sea_orm::entity::prelude::*;

/// One cooperation project.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "projects")]
pub struct Model {
    /// Server-assigned id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The pairing.
    pub pairing_id: i64,
    /// The project's name.
    pub display_name: String,
    /// Free text.
    pub description: String,
    /// Cooperation field number.
    pub field: i16,
    /// Where the work happens.
    pub location_code: String,
    /// The location's path.
    pub location_path: String,
    /// Who carries it out.
    pub implementing_org: String,
    /// The budget in fen.
    pub budget_fen: i64,
    /// Planned first day.
    pub planned_start: Date,
    /// Planned last day.
    pub planned_end: Date,
    /// 1 proposed, 2 approved, 3 in progress, 4 completed, 5 accepted, 6 cancelled.
    pub state: i16,
    /// 0 to 100.
    pub progress_percent: i16,
    /// JSON array of milestones.
    pub milestones: String,
    /// Why it was cancelled; empty otherwise.
    pub cancel_reason: String,
    /// Creation time.
    pub create_time: DateTimeUtc,
    /// Last change.
    pub update_time: DateTimeUtc,
    /// Bumped on every change; the etag.
    pub revision: i64,
}

/// No relations are navigated through sea-orm.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
