//! The `supervision_entries` table.

use sea_orm::entity::prelude::*;

use crate::domain::supervision::{Category, Party, Severity, State};

/// One supervision entry.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "supervision_entries")]
pub struct Model {
    /// Server-assigned id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Who filed it.
    pub party: Party,
    /// The subject's name, or empty.
    pub subject: String,
    /// The region's code.
    pub region_code: String,
    /// The region's path.
    pub region_path: String,
    /// What it is about.
    pub category: Category,
    /// How serious it is.
    pub severity: Severity,
    /// One-line summary.
    pub title: String,
    /// What was found.
    pub description: String,
    /// JSON array of evidence.
    pub evidence: String,
    /// The reporter's name: personal data.
    pub reporter_name: String,
    /// The reporter's contact: personal data.
    pub reporter_contact: String,
    /// Who must fix it.
    pub responsible_unit: String,
    /// The registered organisation that must fix it, if one is named.
    pub responsible_organization_id: Option<i64>,
    /// By when.
    pub due_date: Option<Date>,
    /// Where it stands.
    pub state: State,
    /// When it was last resolved.
    pub resolve_time: Option<DateTimeUtc>,
    /// SHA-256 of a public report's tracking code.
    pub tracking_hash: Option<String>,
    /// Events on the timeline so far.
    pub event_count: i32,
    /// Filing time.
    pub create_time: DateTimeUtc,
    /// Last change of state.
    pub update_time: DateTimeUtc,
    /// Bumped on every step; the etag.
    pub revision: i64,
    /// The pairing the subject belongs to.
    pub pairing_id: Option<i64>,
    /// The project the subject belongs to.
    pub project_id: Option<i64>,
    /// Seconds from submission to the last resolution.
    pub resolve_seconds: Option<i64>,
    /// Whether the last resolution met the due date.
    pub resolved_on_time: Option<bool>,
    /// The section whose exceedance filed the entry; none for every other entry.
    pub water_section_id: Option<i64>,
}

without_relations!();
