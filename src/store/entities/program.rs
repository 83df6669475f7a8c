//! The `programs` table.

use sea_orm::entity::prelude::*;

/// One cooperation program.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "programs")]
pub struct Model {
    /// Server-assigned id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The program's name.
    pub display_name: String,
    /// The document that set it up.
    pub basis_document: String,
    /// First day.
    pub period_start: Date,
    /// Last day.
    pub period_end: Date,
    /// Free text.
    pub description: String,
    /// Creation time.
    pub create_time: DateTimeUtc,
    /// Last change.
    pub update_time: DateTimeUtc,
    /// Bumped on every change; the etag.
    pub revision: i64,
}

without_relations!();
