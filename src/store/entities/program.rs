//! The `programs` table.

use sea_orm::entity::prelude::*;

use crate::domain::program::ProgramKind;

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
    /// The form of cooperation.
    pub kind: ProgramKind,
}

without_relations!();
