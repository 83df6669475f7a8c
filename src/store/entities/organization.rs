//! The `organizations` table.

use sea_orm::entity::prelude::*;

use crate::domain::organization::OrganizationKind;

/// One organisation.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "organizations")]
pub struct Model {
    /// Server-assigned id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Its name.
    pub display_name: String,
    /// Its kind.
    pub kind: OrganizationKind,
    /// Where it is: the region's code.
    pub region_code: String,
    /// Where it is: the region's path.
    pub region_path: String,
    /// Its unified social credit code, if it has one.
    pub credit_code: Option<String>,
    /// The organisation above it.
    pub parent_id: Option<i64>,
    /// Creation time.
    pub create_time: DateTimeUtc,
    /// Last change.
    pub update_time: DateTimeUtc,
    /// Bumped on every change; the etag.
    pub revision: i64,
}

without_relations!();
