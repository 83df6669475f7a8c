//! Talent exchanges: the people who go between the two sides of a pairing.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Pairings {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum TalentExchanges {
    Table,
    Id,
    PairingId,
    /// 1 cadre secondment … 6 study visit.
    Kind,
    /// 1 to the supported side, 2 to the supporting side.
    Direction,
    /// Cooperation field number.
    Field,
    Headcount,
    StartDate,
    /// Null for an exchange of one day.
    EndDate,
    /// Days from the first to the last, both included (1 without a last day), kept with
    /// the dates so that summaries multiply without date arithmetic in SQL.
    Days,
    HostOrganization,
    Title,
    Description,
    /// JSON array of {display_name, organization, position}: personal data.
    Participants,
    CreateTime,
    UpdateTime,
    DeleteTime,
    Revision,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TalentExchanges::Table)
                    .col(big_pk_auto(TalentExchanges::Id))
                    .col(big_integer(TalentExchanges::PairingId))
                    .col(small_integer(TalentExchanges::Kind))
                    .col(small_integer(TalentExchanges::Direction))
                    .col(small_integer(TalentExchanges::Field))
                    .col(integer(TalentExchanges::Headcount))
                    .col(date(TalentExchanges::StartDate))
                    .col(date_null(TalentExchanges::EndDate))
                    .col(integer(TalentExchanges::Days))
                    .col(string_len(TalentExchanges::HostOrganization, 200))
                    .col(string_len(TalentExchanges::Title, 200))
                    .col(text(TalentExchanges::Description))
                    .col(text(TalentExchanges::Participants))
                    .col(timestamp_with_time_zone(TalentExchanges::CreateTime))
                    .col(timestamp_with_time_zone(TalentExchanges::UpdateTime))
                    .col(timestamp_with_time_zone_null(TalentExchanges::DeleteTime))
                    .col(big_integer(TalentExchanges::Revision))
                    .check(Expr::col(TalentExchanges::Headcount).gte(1))
                    .check(Expr::col(TalentExchanges::Days).gte(1))
                    .check(
                        Expr::col(TalentExchanges::EndDate)
                            .is_null()
                            .or(Expr::col(TalentExchanges::EndDate)
                                .gte(Expr::col(TalentExchanges::StartDate))),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_talent_exchanges_pairing")
                            .from(TalentExchanges::Table, TalentExchanges::PairingId)
                            .to(Pairings::Table, Pairings::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_talent_exchanges_pairing")
                    .table(TalentExchanges::Table)
                    .col(TalentExchanges::PairingId)
                    .col(TalentExchanges::StartDate)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(TalentExchanges::Table).to_owned())
            .await
    }
}
