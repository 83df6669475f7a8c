//! Comments on a supervision entry are internal unless marked public. Before, every comment,
//! by any role in any region, stood in the timeline that the public reporter reads by the
//! tracking code. Each event now says whether its author published it; the public sees
//! every step of the course and only the comments marked public. The column defaults to
//! false, so the comments made so far become internal, since nobody chose to publish them,
//! without touching a row of the append-only timeline.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SupervisionEvents {
    Table,
    /// Whether the author of a comment published it; the steps of the course are public
    /// whatever it says.
    Public,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(SupervisionEvents::Table)
                    .add_column(boolean(SupervisionEvents::Public).default(false))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(SupervisionEvents::Table)
                    .drop_column(SupervisionEvents::Public)
                    .to_owned(),
            )
            .await
    }
}
