//! Automatic monitoring stations: the data loggers that send a section's samples in
//! HJ 212-2017, each known by its MN, holding the hash of its password, and recording as
//! the MONITOR token it is bound to.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum MonitoringStations {
    Table,
    Id,
    /// The station's 24-character code (HJ 212-2017 `MN`), unique.
    Mn,
    DisplayName,
    SectionId,
    /// The MONITOR token whose samples the station's packets become.
    MonitorTokenId,
    /// 32 random bytes in hex.
    PasswordSalt,
    /// SHA-256 of the salt and the password, in hex.
    PasswordHash,
    CreatorLabel,
    CreateTime,
}

#[derive(DeriveIden)]
enum MonitoringSections {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum AccessTokens {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use MonitoringStations as M;
        manager
            .create_table(
                Table::create()
                    .table(M::Table)
                    .col(big_pk_auto(M::Id))
                    .col(string_len_uniq(M::Mn, 24))
                    .col(string_len(M::DisplayName, 100))
                    .col(big_integer(M::SectionId))
                    .col(big_integer(M::MonitorTokenId))
                    .col(string_len(M::PasswordSalt, 64))
                    .col(string_len(M::PasswordHash, 64))
                    .col(string_len(M::CreatorLabel, 200))
                    .col(timestamp_with_time_zone(M::CreateTime))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_monitoring_stations_section")
                            .from(M::Table, M::SectionId)
                            .to(MonitoringSections::Table, MonitoringSections::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_monitoring_stations_monitor")
                            .from(M::Table, M::MonitorTokenId)
                            .to(AccessTokens::Table, AccessTokens::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_monitoring_stations_section")
                    .table(M::Table)
                    .col(M::SectionId)
                    .col(M::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(MonitoringStations::Table).to_owned())
            .await
    }
}
