//! Every stored sum of money stays a whole number of fen inside its range. SQLite turns an
//! integer sum that overflows into a floating-point value and keeps it; PostgreSQL keeps
//! `bigint` whole but would take a negative total. So the balances and totals the ledger
//! moves are checked by the database as a last line of defence: on PostgreSQL by CHECK
//! constraints on their range, on SQLite (which cannot add a CHECK to a table) by triggers
//! on type and range.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Each table with its money columns. On SQLite the triggers run after the row is
/// written, on the row as stored: the totals are added to by an upsert whose inserted
/// values are the change (negative for a reversal), and the insert's triggers run only
/// when the row is new.
const MONEY: [(&str, &[&str]); 4] = [
    (
        "fund_totals",
        &["committed_fen", "allocated_fen", "disbursed_fen"],
    ),
    ("pairing_year_balances", &["committed_fen", "allocated_fen"]),
    ("project_balances", &["allocated_fen", "disbursed_fen"]),
    ("fund_transactions", &["amount_fen"]),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (table, columns) in MONEY {
            match manager.get_database_backend() {
                sea_orm::DatabaseBackend::Postgres => {
                    let range: Vec<String> = columns.iter().map(|c| format!("{c} >= 0")).collect();
                    db.execute_unprepared(&format!(
                        "ALTER TABLE {table} ADD CONSTRAINT ck_{table}_money CHECK ({})",
                        range.join(" AND ")
                    ))
                    .await?;
                }
                _ => {
                    let broken: Vec<String> = columns
                        .iter()
                        .map(|c| format!("typeof(NEW.{c}) <> 'integer' OR NEW.{c} < 0"))
                        .collect();
                    for action in ["INSERT", "UPDATE"] {
                        db.execute_unprepared(&format!(
                            "CREATE TRIGGER {table}_money_{verb} AFTER {action} ON {table} \
                             WHEN {} BEGIN SELECT RAISE(ABORT, \
                             '{table}: money must be a whole number of fen from 0 to 2^63-1'); \
                             END",
                            broken.join(" OR "),
                            verb = action.to_lowercase()
                        ))
                        .await?;
                    }
                }
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (table, _) in MONEY {
            match manager.get_database_backend() {
                sea_orm::DatabaseBackend::Postgres => {
                    db.execute_unprepared(&format!(
                        "ALTER TABLE {table} DROP CONSTRAINT ck_{table}_money"
                    ))
                    .await?;
                }
                _ => {
                    for verb in ["insert", "update"] {
                        db.execute_unprepared(&format!("DROP TRIGGER {table}_money_{verb}"))
                            .await?;
                    }
                }
            }
        }
        Ok(())
    }
}
