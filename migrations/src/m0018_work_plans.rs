//! Work plans: what a program or a pairing sets out to do in a year. A plan's scope is
//! one of its two columns (the other NULL), so that each is a foreign key; its weights
//! are a JSON list of (field, points), read and written whole; the grade thresholds are
//! three columns.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WorkPlans {
    Table,
    Id,
    /// The program the plan covers, or NULL for a pairing's plan.
    ProgramId,
    /// The pairing the plan covers, or NULL for a program's plan.
    PairingId,
    Year,
    Title,
    BasisDocument,
    /// The API's `WorkPlanState` number.
    State,
    /// JSON: `[{"field": n, "weight": points}, …]`.
    Weights,
    GradeExcellent,
    GradeGood,
    GradeFair,
    CreateTime,
    UpdateTime,
    IssueTime,
    CloseTime,
    /// Bumped on every change; the etag.
    Revision,
}

#[derive(DeriveIden)]
enum Programs {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Pairings {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use WorkPlans as P;
        manager
            .create_table(
                Table::create()
                    .table(P::Table)
                    .col(big_pk_auto(P::Id))
                    .col(big_integer_null(P::ProgramId))
                    .col(big_integer_null(P::PairingId))
                    .col(integer(P::Year))
                    .col(string_len(P::Title, 200))
                    .col(string_len(P::BasisDocument, 500))
                    .col(small_integer(P::State))
                    .col(text(P::Weights))
                    .col(small_integer(P::GradeExcellent))
                    .col(small_integer(P::GradeGood))
                    .col(small_integer(P::GradeFair))
                    .col(timestamp_with_time_zone(P::CreateTime))
                    .col(timestamp_with_time_zone(P::UpdateTime))
                    .col(timestamp_with_time_zone_null(P::IssueTime))
                    .col(timestamp_with_time_zone_null(P::CloseTime))
                    .col(big_integer(P::Revision))
                    .check(Expr::cust("(program_id IS NULL) <> (pairing_id IS NULL)"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_work_plans_program")
                            .from(P::Table, P::ProgramId)
                            .to(Programs::Table, Programs::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_work_plans_pairing")
                            .from(P::Table, P::PairingId)
                            .to(Pairings::Table, Pairings::Id),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_work_plans_program", P::ProgramId),
            ("idx_work_plans_pairing", P::PairingId),
            ("idx_work_plans_year", P::Year),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(P::Table)
                        .col(column)
                        .col(P::Id)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(WorkPlans::Table).to_owned())
            .await
    }
}
