//! The `monitoring_sections` table.

use sea_orm::entity::prelude::*;

use crate::domain::{
    monitoring::{ControlLevel, SectionState},
    water::{WaterBodyType, WaterClass},
};

/// One monitoring section.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "monitoring_sections")]
pub struct Model {
    /// Server-assigned id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The section's own code.
    pub code: String,
    /// E.g. 陶岔.
    pub display_name: String,
    /// The river or reservoir.
    pub water_body: String,
    /// River or lake/reservoir.
    pub water_body_type: WaterBodyType,
    /// Where it lies: the region's code.
    pub region_code: String,
    /// Where it lies: the region's path.
    pub region_path: String,
    /// Who answers for it: the region's code.
    pub responsible_code: String,
    /// Who answers for it: the region's path.
    pub responsible_path: String,
    /// The unit that answers for it.
    pub responsible_unit: String,
    /// The registered organisation that answers for it, if one is named.
    pub responsible_organization_id: Option<i64>,
    /// The class it must meet.
    pub target_class: WaterClass,
    /// Who controls it.
    pub control_level: ControlLevel,
    /// The section upstream.
    pub upstream_section_id: Option<i64>,
    /// Latitude in millionths of a degree.
    pub latitude_micro: Option<i64>,
    /// Longitude in millionths of a degree.
    pub longitude_micro: Option<i64>,
    /// Active or retired.
    pub state: SectionState,
    /// Registration time.
    pub create_time: DateTimeUtc,
    /// Last change.
    pub update_time: DateTimeUtc,
    /// Bumped on every change; the etag.
    pub revision: i64,
}

without_relations!();
