//! The `audit_checkpoints` table (append-only): every checkpoint the server signed.

use sea_orm::entity::prelude::*;

/// One signed checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_checkpoints")]
pub struct Model {
    /// Events covered.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tree_size: i64,
    /// Hex root hash.
    pub root_hash: String,
    /// When it was signed.
    pub time: DateTimeUtc,
    /// Base64 Ed25519 signature of the checkpoint's text.
    pub signature: String,
}

without_relations!();
