//! The `regions` table.

use sea_orm::entity::prelude::*;

use crate::domain::region::RegionLevel;

/// One administrative division.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "regions")]
pub struct Model {
    /// The division code.
    #[sea_orm(primary_key, auto_increment = false)]
    pub code: String,
    /// The published name.
    pub display_name: String,
    /// Province, prefecture, county or township.
    pub level: RegionLevel,
    /// The parent's code; none for provinces.
    pub parent_code: Option<String>,
    /// Codes from the root down to this region, `/420000/420300/`.
    pub path: String,
    /// Added through the API rather than loaded from the national list.
    pub added: bool,
}

without_relations!();
