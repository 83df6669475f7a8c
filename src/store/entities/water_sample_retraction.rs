//! The `water_sample_retractions` table: append-only, one row per retracted sample.

use sea_orm::entity::prelude::*;

/// The retraction of one sample.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "water_sample_retractions")]
pub struct Model {
    /// The sample.
    #[sea_orm(primary_key, auto_increment = false)]
    pub sample_id: i64,
    /// Why it is wrong.
    pub reason: String,
    /// The label of the token that retracted it.
    pub actor_label: String,
    /// When.
    pub retract_time: DateTimeUtc,
}

without_relations!();
