//! The `water_samples` table: append-only.

use sea_orm::entity::prelude::*;

use crate::domain::{
    monitoring::SampleSource,
    water::{WaterBodyType, WaterClass},
};

/// One water sample, as recorded.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "water_samples")]
pub struct Model {
    /// Server-assigned id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The section.
    pub section_id: i64,
    /// The section's region path when recorded.
    pub region_path: String,
    /// When it was taken.
    pub sample_time: DateTimeUtc,
    /// Laboratory or station.
    pub source: SampleSource,
    /// Its class; none when no value makes one.
    pub water_class: Option<WaterClass>,
    /// The section's water body type when recorded.
    pub water_body_type: WaterBodyType,
    /// The section's target when recorded.
    pub target_class: WaterClass,
    /// JSON array of the values.
    pub readings: String,
    /// Worse than the target when recorded.
    pub exceeding: bool,
    /// The supervision entry it filed or added to.
    pub supervision_entry_id: Option<i64>,
    /// The label of the token that recorded it.
    pub creator_label: String,
    /// Recording time.
    pub create_time: DateTimeUtc,
}

without_relations!();
