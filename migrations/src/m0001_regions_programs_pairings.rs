//! Regions, cooperation programs, pairings, and the request ids that make creates
//! idempotent.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Regions {
    Table,
    Code,
    DisplayName,
    Level,
    ParentCode,
    /// Codes from the root down to this region, "/420000/420300/420381/": containment is a
    /// prefix test, derived from the parent chain (regions never move).
    Path,
    /// True for units added through the API rather than the national list.
    Added,
}

#[derive(DeriveIden)]
enum Programs {
    Table,
    Id,
    DisplayName,
    BasisDocument,
    PeriodStart,
    PeriodEnd,
    Description,
    CreateTime,
    UpdateTime,
    Revision,
}

#[derive(DeriveIden)]
enum Pairings {
    Table,
    Id,
    ProgramId,
    SupportingCode,
    SupportedCode,
    SupportingPath,
    SupportedPath,
    ParentId,
    Level,
    Fields,
    PeriodStart,
    PeriodEnd,
    State,
    DisplayName,
    CreateTime,
    UpdateTime,
    DeleteTime,
    Revision,
}

#[derive(DeriveIden)]
enum RequestIds {
    Table,
    RequestId,
    Method,
    Fingerprint,
    Resource,
    CreateTime,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Regions::Table)
                    .col(string_len(Regions::Code, 12).primary_key())
                    .col(string_len(Regions::DisplayName, 100))
                    .col(small_integer(Regions::Level))
                    .col(string_len_null(Regions::ParentCode, 12))
                    .col(string_len(Regions::Path, 80))
                    .col(boolean(Regions::Added).default(false))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_regions_parent")
                            .from(Regions::Table, Regions::ParentCode)
                            .to(Regions::Table, Regions::Code),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_regions_parent_code")
                    .table(Regions::Table)
                    .col(Regions::ParentCode)
                    .col(Regions::Code)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Programs::Table)
                    .col(big_pk_auto(Programs::Id))
                    .col(string_len(Programs::DisplayName, 200))
                    .col(string_len(Programs::BasisDocument, 500))
                    .col(date(Programs::PeriodStart))
                    .col(date(Programs::PeriodEnd))
                    .col(text(Programs::Description))
                    .col(timestamp_with_time_zone(Programs::CreateTime))
                    .col(timestamp_with_time_zone(Programs::UpdateTime))
                    .col(big_integer(Programs::Revision))
                    .check(Expr::col(Programs::PeriodEnd).gt(Expr::col(Programs::PeriodStart)))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Pairings::Table)
                    .col(big_pk_auto(Pairings::Id))
                    .col(big_integer(Pairings::ProgramId))
                    .col(string_len(Pairings::SupportingCode, 12))
                    .col(string_len(Pairings::SupportedCode, 12))
                    .col(string_len(Pairings::SupportingPath, 80))
                    .col(string_len(Pairings::SupportedPath, 80))
                    .col(big_integer_null(Pairings::ParentId))
                    .col(small_integer(Pairings::Level))
                    .col(string_len(Pairings::Fields, 400))
                    .col(date(Pairings::PeriodStart))
                    .col(date(Pairings::PeriodEnd))
                    .col(small_integer(Pairings::State))
                    .col(string_len(Pairings::DisplayName, 220))
                    .col(timestamp_with_time_zone(Pairings::CreateTime))
                    .col(timestamp_with_time_zone(Pairings::UpdateTime))
                    .col(timestamp_with_time_zone_null(Pairings::DeleteTime))
                    .col(big_integer(Pairings::Revision))
                    .check(Expr::col(Pairings::PeriodEnd).gt(Expr::col(Pairings::PeriodStart)))
                    .check(
                        Expr::col(Pairings::SupportingCode).ne(Expr::col(Pairings::SupportedCode)),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_pairings_program")
                            .from(Pairings::Table, Pairings::ProgramId)
                            .to(Programs::Table, Programs::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_pairings_supporting")
                            .from(Pairings::Table, Pairings::SupportingCode)
                            .to(Regions::Table, Regions::Code),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_pairings_supported")
                            .from(Pairings::Table, Pairings::SupportedCode)
                            .to(Regions::Table, Regions::Code),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_pairings_parent")
                            .from(Pairings::Table, Pairings::ParentId)
                            .to(Pairings::Table, Pairings::Id),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_pairings_program", Pairings::ProgramId),
            ("idx_pairings_parent", Pairings::ParentId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Pairings::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        // Two live pairings may not share program and regions; deleted ones may. Partial
        // indexes read the same on SQLite and PostgreSQL.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX uq_pairings_live ON pairings \
                 (program_id, supporting_code, supported_code) WHERE delete_time IS NULL",
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RequestIds::Table)
                    .col(string_len(RequestIds::RequestId, 64).primary_key())
                    .col(string_len(RequestIds::Method, 100))
                    .col(string_len(RequestIds::Fingerprint, 64))
                    .col(string_len(RequestIds::Resource, 200))
                    .col(timestamp_with_time_zone(RequestIds::CreateTime))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            RequestIds::Table.into_iden(),
            Pairings::Table.into_iden(),
            Programs::Table.into_iden(),
            Regions::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
