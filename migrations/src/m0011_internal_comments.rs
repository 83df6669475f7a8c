//! Comments on a supervision entry are internal unless marked public. Before, every comment,
//! by any role in any region, stood in the timeline that the public reporter reads by the
//! tracking code. Each event now says whether the public sees it: every step of the course
//! does, a comment only when its author marks it so. Comments made so far become internal,
//! since nobody chose to publish them.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SupervisionEvents {
    Table,
    /// Whether the public view of the entry shows the event.
    Public,
}

/// The stored number of a comment step.
const COMMENT: i16 = 8;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(SupervisionEvents::Table)
                    .add_column(boolean(SupervisionEvents::Public).default(true))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::update()
                    .table(SupervisionEvents::Table)
                    .value(SupervisionEvents::Public, false)
                    .and_where(Expr::col(Alias::new("step")).eq(COMMENT))
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
