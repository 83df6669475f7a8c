//! The `pairings` table.

use sea_orm::entity::prelude::*;

use crate::domain::{pairing::PairingState, region::RegionLevel};

/// One pairing of a supporting with a supported region.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pairings")]
pub struct Model {
    /// Server-assigned id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The program.
    pub program_id: i64,
    /// The giving region's code.
    pub supporting_code: String,
    /// The receiving region's code.
    pub supported_code: String,
    /// The giving region's path, copied at creation (regions never move).
    pub supporting_path: String,
    /// The receiving region's path, copied at creation.
    pub supported_path: String,
    /// The enclosing pairing.
    pub parent_id: Option<i64>,
    /// The supported region's level.
    pub level: RegionLevel,
    /// Cooperation field numbers joined with commas.
    pub fields: String,
    /// First day.
    pub period_start: Date,
    /// Last day.
    pub period_end: Date,
    /// Active, suspended or ended.
    pub state: PairingState,
    /// Both regions' names.
    pub display_name: String,
    /// Creation time.
    pub create_time: DateTimeUtc,
    /// Last change.
    pub update_time: DateTimeUtc,
    /// Soft-deletion time.
    pub delete_time: Option<DateTimeUtc>,
    /// Bumped on every change; the etag.
    pub revision: i64,
}

without_relations!();
