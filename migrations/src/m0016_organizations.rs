//! Organisations: the named units that lead tasks, implement projects, are paid and
//! answer for entries, so that responsibility can be traced to a unit rather than to
//! free text. Each has a kind, a region (its code and path, as sections keep theirs, so
//! that a scope's subtree is one prefix), an optional unified social credit code
//! (unique; several organisations may have none) and an optional parent organisation.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
    DisplayName,
    /// The API's `OrganizationKind` number.
    Kind,
    RegionCode,
    /// The region's path, for subtree filters and scope checks.
    RegionPath,
    /// 18 characters, checked on write; NULL when it has none.
    CreditCode,
    ParentId,
    CreateTime,
    UpdateTime,
    /// Bumped on every change; the etag.
    Revision,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use Organizations as O;
        manager
            .create_table(
                Table::create()
                    .table(O::Table)
                    .col(big_pk_auto(O::Id))
                    .col(string_len(O::DisplayName, 200))
                    .col(small_integer(O::Kind))
                    .col(string_len(O::RegionCode, 12))
                    .col(string_len(O::RegionPath, 80))
                    .col(string_len_null(O::CreditCode, 18))
                    .col(big_integer_null(O::ParentId))
                    .col(timestamp_with_time_zone(O::CreateTime))
                    .col(timestamp_with_time_zone(O::UpdateTime))
                    .col(big_integer(O::Revision))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_organizations_parent")
                            .from(O::Table, O::ParentId)
                            .to(O::Table, O::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_organizations_credit_code")
                    .table(O::Table)
                    .col(O::CreditCode)
                    .unique()
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_organizations_region", O::RegionPath),
            ("idx_organizations_parent", O::ParentId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(O::Table)
                        .col(column)
                        .col(O::Id)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Organizations::Table).to_owned())
            .await
    }
}
