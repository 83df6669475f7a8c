//! The audit log's signed checkpoints: the log's size and root as they stand, signed with
//! the server's key and kept, so that overseers can later check the log against them.

use crate::{
    domain::checkpoint::{AuditKey, Checkpoint},
    error::Error,
    store::{
        audit,
        tx::{Change, Tx},
    },
};

/// Signs a checkpoint of the log as it stands, with the key it holds, and keeps it; when
/// one of that size is already kept, returns that one. Returns the checkpoint and its
/// signature. It changes no resource, so it records no audit event.
pub struct SignCheckpoint(pub AuditKey);

impl Change for SignCheckpoint {
    type Output = (Checkpoint, Vec<u8>);

    async fn apply(&self, tx: &mut Tx<'_>) -> Result<(Checkpoint, Vec<u8>), Error> {
        audit::checkpoint(tx.db(), &self.0).await
    }
}
