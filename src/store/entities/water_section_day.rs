//! The `water_section_days` table: one section's evaluated samples of one day in China,
//! summed as they are recorded and retracted.

use sea_orm::entity::prelude::*;

/// The totals of one section and day.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "water_section_days")]
pub struct Model {
    /// The section.
    #[sea_orm(primary_key, auto_increment = false)]
    pub section_id: i64,
    /// The day in China.
    #[sea_orm(primary_key, auto_increment = false)]
    pub day: Date,
    /// Samples with an evaluated value, not retracted.
    pub samples: i32,
    /// Of them, those worse than the target when recorded.
    pub exceeding: i32,
    /// Per parameter, the count and sum of evaluated values; see `store::water`.
    pub sums: Vec<u8>,
}

without_relations!();
