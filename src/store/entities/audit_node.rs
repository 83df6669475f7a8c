//! The `audit_nodes` table: hashes of the complete subtrees of the audit log's Merkle tree.

use sea_orm::entity::prelude::*;

/// One complete subtree.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_nodes")]
pub struct Model {
    /// 0 for leaves.
    #[sea_orm(primary_key, auto_increment = false)]
    pub level: i32,
    /// Position within the level.
    #[sea_orm(primary_key, auto_increment = false)]
    pub idx: i64,
    /// Hex SHA-256.
    pub hash: String,
}

without_relations!();
