//! Region summaries are now added up from the totals of the pairings inside the region,
//! so a ledger line moves three totals rows (pairing, program, project) instead of one
//! more per region on either side. The region rows the ledger kept before are dropped.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DELETE FROM fund_totals WHERE scope LIKE 'regions/%'")
            .await?;
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        // The region rows cannot be rebuilt in SQL alone (each line counted toward every
        // region on both of its pairing's paths), so this step is one-way.
        Err(DbErr::Migration(
            "m0005 dropped the per-region totals and cannot restore them".to_owned(),
        ))
    }
}
