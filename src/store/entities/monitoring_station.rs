//! The `monitoring_stations` table.

use sea_orm::entity::prelude::*;

/// One automatic monitoring station.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "monitoring_stations")]
pub struct Model {
    /// Server-assigned id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The HJ 212-2017 `MN`.
    pub mn: String,
    /// E.g. 陶岔水质自动站.
    pub display_name: String,
    /// The section it measures.
    pub section_id: i64,
    /// The MONITOR token its packets are recorded as.
    pub monitor_token_id: i64,
    /// The password's salt, in hex.
    pub password_salt: String,
    /// SHA-256 of the salt and the password, in hex.
    pub password_hash: String,
    /// Who registered it.
    pub creator_label: String,
    /// Registration time.
    pub create_time: DateTimeUtc,
}

without_relations!();
