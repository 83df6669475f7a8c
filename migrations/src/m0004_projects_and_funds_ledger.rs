//! Cooperation projects and the funds ledger: the append-only ledger lines, the balances
//! that every line updates in its own transaction, and the totals GetFundSummary reads.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Regions {
    Table,
    Code,
}

#[derive(DeriveIden)]
enum Pairings {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
    PairingId,
    DisplayName,
    Description,
    /// Cooperation field number.
    Field,
    LocationCode,
    /// The location's path, copied at creation or change (regions never move).
    LocationPath,
    ImplementingOrg,
    BudgetFen,
    PlannedStart,
    PlannedEnd,
    /// 1 proposed, 2 approved, 3 in progress, 4 completed, 5 accepted, 6 cancelled.
    State,
    ProgressPercent,
    /// JSON array of {title, due_date, done_date}.
    Milestones,
    CancelReason,
    CreateTime,
    UpdateTime,
    Revision,
}

#[derive(DeriveIden)]
enum ProjectBalances {
    Table,
    ProjectId,
    AllocatedFen,
    DisbursedFen,
}

#[derive(DeriveIden)]
enum PairingYearBalances {
    Table,
    PairingId,
    FiscalYear,
    CommittedFen,
    AllocatedFen,
}

#[derive(DeriveIden)]
enum FundTransactions {
    Table,
    Id,
    /// 1 commitment, 2 allocation, 3 disbursement, 4 reversal.
    Kind,
    PairingId,
    ProjectId,
    FiscalYear,
    AmountFen,
    Source,
    Instrument,
    /// Cooperation field of the project, 0 for none: what the totals are broken down by.
    Field,
    Payee,
    ValueDate,
    Memo,
    ReversesId,
    CreateTime,
    CreatorTokenId,
}

#[derive(DeriveIden)]
enum FundTotals {
    Table,
    /// "pairings/1", "programs/1", "projects/1" or "regions/420300".
    Scope,
    FiscalYear,
    Source,
    Instrument,
    Field,
    CommittedFen,
    AllocatedFen,
    DisbursedFen,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Projects::Table)
                    .col(big_pk_auto(Projects::Id))
                    .col(big_integer(Projects::PairingId))
                    .col(string_len(Projects::DisplayName, 200))
                    .col(text(Projects::Description))
                    .col(small_integer(Projects::Field))
                    .col(string_len(Projects::LocationCode, 12))
                    .col(string_len(Projects::LocationPath, 80))
                    .col(string_len(Projects::ImplementingOrg, 200))
                    .col(big_integer(Projects::BudgetFen))
                    .col(date(Projects::PlannedStart))
                    .col(date(Projects::PlannedEnd))
                    .col(small_integer(Projects::State))
                    .col(small_integer(Projects::ProgressPercent))
                    .col(text(Projects::Milestones))
                    .col(string_len(Projects::CancelReason, 1000))
                    .col(timestamp_with_time_zone(Projects::CreateTime))
                    .col(timestamp_with_time_zone(Projects::UpdateTime))
                    .col(big_integer(Projects::Revision))
                    .check(Expr::col(Projects::BudgetFen).gt(0))
                    .check(Expr::col(Projects::PlannedEnd).gt(Expr::col(Projects::PlannedStart)))
                    .check(Expr::col(Projects::ProgressPercent).between(0, 100))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_projects_pairing")
                            .from(Projects::Table, Projects::PairingId)
                            .to(Pairings::Table, Pairings::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_projects_location")
                            .from(Projects::Table, Projects::LocationCode)
                            .to(Regions::Table, Regions::Code),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_projects_pairing")
                    .table(Projects::Table)
                    .col(Projects::PairingId)
                    .to_owned(),
            )
            .await?;

        // Each balance row is one account of the ledger; the checks are the invariants,
        // kept by the database itself as a last line of defence.
        manager
            .create_table(
                Table::create()
                    .table(ProjectBalances::Table)
                    .col(big_integer(ProjectBalances::ProjectId).primary_key())
                    .col(big_integer(ProjectBalances::AllocatedFen))
                    .col(big_integer(ProjectBalances::DisbursedFen))
                    .check(Expr::col(ProjectBalances::DisbursedFen).gte(0))
                    .check(
                        Expr::col(ProjectBalances::DisbursedFen)
                            .lte(Expr::col(ProjectBalances::AllocatedFen)),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_project_balances_project")
                            .from(ProjectBalances::Table, ProjectBalances::ProjectId)
                            .to(Projects::Table, Projects::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PairingYearBalances::Table)
                    .col(big_integer(PairingYearBalances::PairingId))
                    .col(integer(PairingYearBalances::FiscalYear))
                    .col(big_integer(PairingYearBalances::CommittedFen))
                    .col(big_integer(PairingYearBalances::AllocatedFen))
                    .primary_key(
                        Index::create()
                            .col(PairingYearBalances::PairingId)
                            .col(PairingYearBalances::FiscalYear),
                    )
                    .check(Expr::col(PairingYearBalances::AllocatedFen).gte(0))
                    .check(
                        Expr::col(PairingYearBalances::AllocatedFen)
                            .lte(Expr::col(PairingYearBalances::CommittedFen)),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_pairing_year_balances_pairing")
                            .from(PairingYearBalances::Table, PairingYearBalances::PairingId)
                            .to(Pairings::Table, Pairings::Id),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(FundTransactions::Table)
                    .col(big_pk_auto(FundTransactions::Id))
                    .col(small_integer(FundTransactions::Kind))
                    .col(big_integer(FundTransactions::PairingId))
                    .col(big_integer_null(FundTransactions::ProjectId))
                    .col(integer(FundTransactions::FiscalYear))
                    .col(big_integer(FundTransactions::AmountFen))
                    .col(small_integer(FundTransactions::Source))
                    .col(small_integer(FundTransactions::Instrument))
                    .col(small_integer(FundTransactions::Field))
                    .col(string_len(FundTransactions::Payee, 200))
                    .col(date(FundTransactions::ValueDate))
                    .col(string_len(FundTransactions::Memo, 1000))
                    .col(big_integer_null(FundTransactions::ReversesId).unique_key())
                    .col(timestamp_with_time_zone(FundTransactions::CreateTime))
                    .col(big_integer_null(FundTransactions::CreatorTokenId))
                    .check(Expr::col(FundTransactions::AmountFen).gt(0))
                    .check(Expr::col(FundTransactions::Kind).between(1, 4))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_fund_transactions_pairing")
                            .from(FundTransactions::Table, FundTransactions::PairingId)
                            .to(Pairings::Table, Pairings::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_fund_transactions_project")
                            .from(FundTransactions::Table, FundTransactions::ProjectId)
                            .to(Projects::Table, Projects::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_fund_transactions_reverses")
                            .from(FundTransactions::Table, FundTransactions::ReversesId)
                            .to(FundTransactions::Table, FundTransactions::Id),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_fund_transactions_pairing", FundTransactions::PairingId),
            ("idx_fund_transactions_project", FundTransactions::ProjectId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(FundTransactions::Table)
                        .col(column)
                        .col(FundTransactions::Id)
                        .to_owned(),
                )
                .await?;
        }

        let totals = Table::create()
            .table(FundTotals::Table)
            .col(string_len(FundTotals::Scope, 40))
            .col(integer(FundTotals::FiscalYear))
            .col(small_integer(FundTotals::Source))
            .col(small_integer(FundTotals::Instrument))
            .col(small_integer(FundTotals::Field))
            .col(big_integer(FundTotals::CommittedFen))
            .col(big_integer(FundTotals::AllocatedFen))
            .col(big_integer(FundTotals::DisbursedFen))
            .primary_key(
                Index::create()
                    .col(FundTotals::Scope)
                    .col(FundTotals::FiscalYear)
                    .col(FundTotals::Source)
                    .col(FundTotals::Instrument)
                    .col(FundTotals::Field),
            )
            .to_owned();
        match manager.get_database_backend() {
            // Every ledger line updates several totals rows by their key: on SQLite a table
            // clustered on that key (WITHOUT ROWID) does it in one B-tree instead of two.
            sea_orm::DatabaseBackend::Sqlite => {
                let sql = totals.to_string(SqliteQueryBuilder);
                manager
                    .get_connection()
                    .execute_unprepared(&format!("{sql} WITHOUT ROWID"))
                    .await?;
            }
            _ => manager.create_table(totals).await?,
        }

        // The ledger refuses UPDATE and DELETE in the database itself, as the audit log
        // does (whose migration made the PostgreSQL trigger function).
        let db = manager.get_connection();
        match manager.get_database_backend() {
            sea_orm::DatabaseBackend::Postgres => {
                db.execute_unprepared(
                    "CREATE TRIGGER fund_transactions_append_only BEFORE UPDATE OR DELETE ON \
                     fund_transactions FOR EACH ROW EXECUTE FUNCTION duikou_append_only()",
                )
                .await?;
            }
            _ => {
                for action in ["UPDATE", "DELETE"] {
                    db.execute_unprepared(&format!(
                        "CREATE TRIGGER fund_transactions_no_{verb} BEFORE {action} ON \
                         fund_transactions BEGIN \
                         SELECT RAISE(ABORT, 'fund_transactions is append-only'); END",
                        verb = action.to_lowercase()
                    ))
                    .await?;
                }
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            FundTotals::Table.into_iden(),
            FundTransactions::Table.into_iden(),
            PairingYearBalances::Table.into_iden(),
            ProjectBalances::Table.into_iden(),
            Projects::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
