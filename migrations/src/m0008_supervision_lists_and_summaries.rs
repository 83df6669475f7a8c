//! Supervision lists and summaries: each entry keeps the pairing and project its subject
//! belongs to, and how long its last resolution took and whether it met the due date, so
//! that a summary counts in SQL; and indexes for the orders a list takes.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SupervisionEntries {
    Table,
    Id,
    /// The pairing the subject belongs to; null for an entry about a place.
    PairingId,
    /// The project the subject belongs to (a project, or a line of one); null otherwise.
    ProjectId,
    /// Seconds from submission to the last resolution; null until resolved.
    ResolveSeconds,
    /// Whether the last resolution came by the end of the due date in China.
    ResolvedOnTime,
    CreateTime,
    DueDate,
}

const INDEXES: [(&str, [SupervisionEntries; 2]); 4] = [
    (
        "idx_supervision_entries_create_time",
        [SupervisionEntries::CreateTime, SupervisionEntries::Id],
    ),
    (
        "idx_supervision_entries_due_date",
        [SupervisionEntries::DueDate, SupervisionEntries::Id],
    ),
    (
        "idx_supervision_entries_pairing",
        [SupervisionEntries::PairingId, SupervisionEntries::Id],
    ),
    (
        "idx_supervision_entries_project",
        [SupervisionEntries::ProjectId, SupervisionEntries::Id],
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per statement.
        for column in [
            big_integer_null(SupervisionEntries::PairingId),
            big_integer_null(SupervisionEntries::ProjectId),
            big_integer_null(SupervisionEntries::ResolveSeconds),
            boolean_null(SupervisionEntries::ResolvedOnTime),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(SupervisionEntries::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        for (name, [first, second]) in INDEXES {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(SupervisionEntries::Table)
                        .col(first)
                        .col(second)
                        .to_owned(),
                )
                .await?;
        }

        // Entries filed before this migration: fill the new columns from what they hold.
        let db = manager.get_connection();
        for statement in [
            "UPDATE supervision_entries SET pairing_id = CAST(SUBSTR(subject, 10) AS BIGINT) \
             WHERE subject LIKE 'pairings/%'",
            "UPDATE supervision_entries SET project_id = CAST(SUBSTR(subject, 10) AS BIGINT) \
             WHERE subject LIKE 'projects/%'",
            "UPDATE supervision_entries SET project_id = (SELECT f.project_id FROM \
             fund_transactions f WHERE f.id = CAST(SUBSTR(supervision_entries.subject, 18) \
             AS BIGINT)), pairing_id = (SELECT f.pairing_id FROM fund_transactions f WHERE \
             f.id = CAST(SUBSTR(supervision_entries.subject, 18) AS BIGINT)) \
             WHERE subject LIKE 'fundTransactions/%'",
            "UPDATE supervision_entries SET pairing_id = (SELECT p.pairing_id FROM projects p \
             WHERE p.id = supervision_entries.project_id) WHERE project_id IS NOT NULL",
            "UPDATE supervision_entries SET pairing_id = (SELECT t.pairing_id FROM \
             talent_exchanges t WHERE t.id = CAST(SUBSTR(supervision_entries.subject, 17) \
             AS BIGINT)) WHERE subject LIKE 'talentExchanges/%'",
        ] {
            db.execute_unprepared(statement).await?;
        }
        // Whole seconds, rounded down, as the server counts them.
        let resolved = match manager.get_database_backend() {
            sea_orm::DatabaseBackend::Postgres => {
                "UPDATE supervision_entries SET \
                 resolve_seconds = CAST(FLOOR(EXTRACT(EPOCH FROM resolve_time - create_time)) \
                 AS BIGINT), \
                 resolved_on_time = CAST((resolve_time AT TIME ZONE 'UTC') + INTERVAL '8 hours' \
                 AS DATE) <= due_date \
                 WHERE resolve_time IS NOT NULL AND due_date IS NOT NULL"
            }
            _ => {
                "UPDATE supervision_entries SET \
                 resolve_seconds = CAST(ROUND((unixepoch(resolve_time, 'subsec') - \
                 unixepoch(create_time, 'subsec')) * 1000) AS INTEGER) / 1000, \
                 resolved_on_time = date(resolve_time, '+8 hours') <= due_date \
                 WHERE resolve_time IS NOT NULL AND due_date IS NOT NULL"
            }
        };
        db.execute_unprepared(resolved).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, _) in INDEXES {
            manager
                .drop_index(
                    Index::drop()
                        .name(name)
                        .table(SupervisionEntries::Table)
                        .to_owned(),
                )
                .await?;
        }
        for column in [
            SupervisionEntries::PairingId,
            SupervisionEntries::ProjectId,
            SupervisionEntries::ResolveSeconds,
            SupervisionEntries::ResolvedOnTime,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(SupervisionEntries::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
