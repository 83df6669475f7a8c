//! Programs by kind: the institution behind duikou has taken four forms — 对口支援
//! (counterpart support), 对口帮扶 (counterpart assistance), 东西部协作 (east–west
//! cooperation) and 对口协作 (counterpart cooperation) — and an office runs schemes of
//! several. Each program now says which form it is, as the API's `ProgramKind` number:
//! 1 support, 2 assistance, 3 east–west, 4 counterpart cooperation. The programs made so
//! far were all made for the Danjiangkou cooperation, so the column's default, 4, gives
//! them that kind without rewriting a row by hand.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Programs {
    Table,
    /// The form of cooperation, by its API number.
    Kind,
}

/// COUNTERPART_COOPERATION, the kind of every program made before kinds.
const COUNTERPART_COOPERATION: i16 = 4;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Programs::Table)
                    .add_column(small_integer(Programs::Kind).default(COUNTERPART_COOPERATION))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_programs_kind")
                    .table(Programs::Table)
                    .col(Programs::Kind)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_programs_kind")
                    .table(Programs::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Programs::Table)
                    .drop_column(Programs::Kind)
                    .to_owned(),
            )
            .await
    }
}
