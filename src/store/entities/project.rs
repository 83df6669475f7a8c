//! The `projects` table.

use sea_orm::entity::prelude::*;

use crate::domain::{pairing::CooperationField, project::ProjectState};

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
    /// The cooperation field.
    pub field: CooperationField,
    /// Where the work happens.
    pub location_code: String,
    /// The location's path.
    pub location_path: String,
    /// Who carries it out.
    pub implementing_org: String,
    /// The registered organisation that carries it out, if one is named.
    pub implementing_organization_id: Option<i64>,
    /// The budget in fen.
    pub budget_fen: i64,
    /// Planned first day.
    pub planned_start: Date,
    /// Planned last day.
    pub planned_end: Date,
    /// Where it stands in its lifecycle.
    pub state: ProjectState,
    /// 0 to 100: a figure, not an enum.
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

without_relations!();
