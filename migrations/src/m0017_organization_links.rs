//! Link, do not replace: the records that name a responsible party in free text gain an
//! optional reference to an organisation beside it, so that one can ask what a unit owed
//! and whether it delivered. The free text stays, for the records made before and for
//! parties not registered: a project's implementing organisation, a disbursement's payee,
//! a talent exchange's host, a supervision entry's responsible unit and a monitoring
//! section's responsible unit. Each column is NULL where no organisation is named; an
//! index on each serves the lists that filter by it and the accountability of one
//! organisation. On PostgreSQL each refers to `organizations` as a foreign key. SQLite
//! cannot drop a column that is a foreign key, so there the reference is the writer's to
//! check, which every write does in its transaction; organisations are never deleted, so
//! a reference once checked cannot dangle.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (table, column) of each link.
const LINKS: &[(&str, &str)] = &[
    ("projects", "implementing_organization_id"),
    ("fund_transactions", "payee_organization_id"),
    ("talent_exchanges", "host_organization_id"),
    ("supervision_entries", "responsible_organization_id"),
    ("monitoring_sections", "responsible_organization_id"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let reference = match manager.get_database_backend() {
            sea_orm::DatabaseBackend::Sqlite => "",
            _ => " REFERENCES organizations (id)",
        };
        for (table, column) in LINKS {
            db.execute_unprepared(&format!(
                "ALTER TABLE {table} ADD COLUMN {column} BIGINT{reference}"
            ))
            .await?;
            db.execute_unprepared(&format!(
                "CREATE INDEX idx_{table}_{column} ON {table} ({column})"
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (table, column) in LINKS.iter().rev() {
            db.execute_unprepared(&format!("DROP INDEX idx_{table}_{column}"))
                .await?;
            db.execute_unprepared(&format!("ALTER TABLE {table} DROP COLUMN {column}"))
                .await?;
        }
        Ok(())
    }
}
