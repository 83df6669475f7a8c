//! The `audit_head` table: one row whose lock orders appends to the audit log.

use sea_orm::entity::prelude::*;

/// The size of the log.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_head")]
pub struct Model {
    /// Always 1.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    /// Events appended so far.
    pub size: i64,
    /// Events the stored tree covers.
    pub tree_size: i64,
}

without_relations!();
