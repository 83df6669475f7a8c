//! Covering indexes for the accountability of one organisation: its supervision entries
//! counted per state, party and category with their due dates and resolutions, and its
//! projects per state with their periods and budgets, each read from the index alone.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (index, table, columns).
const INDEXES: &[(&str, &str, &str)] = &[
    (
        "idx_supervision_entries_responsible_counts",
        "supervision_entries",
        "responsible_organization_id, state, party, category, due_date, resolved_on_time, \
         create_time",
    ),
    (
        "idx_projects_implementing_totals",
        "projects",
        "implementing_organization_id, state, planned_start, planned_end, budget_fen",
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (index, table, columns) in INDEXES {
            db.execute_unprepared(&format!("CREATE INDEX {index} ON {table} ({columns})"))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (index, _, _) in INDEXES {
            db.execute_unprepared(&format!("DROP INDEX {index}"))
                .await?;
        }
        Ok(())
    }
}
