//! The tasks of work plans and their progress reports. A task names its lead
//! organisation (a foreign key, for the organisation's accountability) and keeps its
//! supporting organisations as a JSON list of ids; figures are exact integers of
//! millionths. Reports are append-only: the database refuses to change or delete one.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m0013_water_quality::append_only;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PlanTasks {
    Table,
    Id,
    PlanId,
    Title,
    /// The API's `PlanField` number.
    Field,
    LeadOrganizationId,
    /// JSON: `[id, …]`.
    SupportingIds,
    DueDate,
    /// The API's `Indicator` number, NULL for none.
    Indicator,
    TargetMicro,
    BaselineMicro,
    Weight,
    ProgressPercent,
    /// The API's `TaskState` number.
    State,
    DoneDate,
    /// The figure the latest report gave, for a MANUAL indicator.
    ActualMicro,
    CreateTime,
    UpdateTime,
    /// Bumped on every change; the etag.
    Revision,
}

#[derive(DeriveIden)]
enum PlanTaskReports {
    Table,
    Id,
    TaskId,
    ProgressPercent,
    ActualMicro,
    Note,
    Evidence,
    Done,
    ReportTime,
    ActorLabel,
}

#[derive(DeriveIden)]
enum WorkPlans {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use PlanTasks as T;
        manager
            .create_table(
                Table::create()
                    .table(T::Table)
                    .col(big_pk_auto(T::Id))
                    .col(big_integer(T::PlanId))
                    .col(string_len(T::Title, 200))
                    .col(small_integer(T::Field))
                    .col(big_integer(T::LeadOrganizationId))
                    .col(text(T::SupportingIds))
                    .col(date(T::DueDate))
                    .col(small_integer_null(T::Indicator))
                    .col(big_integer_null(T::TargetMicro))
                    .col(big_integer_null(T::BaselineMicro))
                    .col(integer(T::Weight))
                    .col(small_integer(T::ProgressPercent))
                    .col(small_integer(T::State))
                    .col(date_null(T::DoneDate))
                    .col(big_integer_null(T::ActualMicro))
                    .col(timestamp_with_time_zone(T::CreateTime))
                    .col(timestamp_with_time_zone(T::UpdateTime))
                    .col(big_integer(T::Revision))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_plan_tasks_plan")
                            .from(T::Table, T::PlanId)
                            .to(WorkPlans::Table, WorkPlans::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_plan_tasks_lead")
                            .from(T::Table, T::LeadOrganizationId)
                            .to(Organizations::Table, Organizations::Id),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_plan_tasks_plan", T::PlanId),
            ("idx_plan_tasks_lead", T::LeadOrganizationId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(T::Table)
                        .col(column)
                        .col(T::Id)
                        .to_owned(),
                )
                .await?;
        }
        use PlanTaskReports as R;
        manager
            .create_table(
                Table::create()
                    .table(R::Table)
                    .col(big_pk_auto(R::Id))
                    .col(big_integer(R::TaskId))
                    .col(small_integer(R::ProgressPercent))
                    .col(big_integer_null(R::ActualMicro))
                    .col(text(R::Note))
                    .col(string_len(R::Evidence, 500))
                    .col(boolean(R::Done))
                    .col(timestamp_with_time_zone(R::ReportTime))
                    .col(string_len(R::ActorLabel, 200))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_plan_task_reports_task")
                            .from(R::Table, R::TaskId)
                            .to(T::Table, T::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_plan_task_reports_task")
                    .table(R::Table)
                    .col(R::TaskId)
                    .col(R::Id)
                    .to_owned(),
            )
            .await?;
        append_only(manager, "plan_task_reports").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            PlanTaskReports::Table.into_table_ref(),
            PlanTasks::Table.into_table_ref(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
