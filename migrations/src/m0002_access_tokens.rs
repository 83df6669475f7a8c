//! Access tokens: role, label, region scope, expiry and revocation; only a hash of each
//! secret is kept.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AccessTokens {
    Table,
    Id,
    Role,
    Label,
    /// Region codes joined with commas; empty for everywhere.
    Scopes,
    /// Hex SHA-256 of the secret.
    SecretHash,
    CreateTime,
    ExpireTime,
    RevokeTime,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AccessTokens::Table)
                    .col(big_pk_auto(AccessTokens::Id))
                    .col(small_integer(AccessTokens::Role))
                    .col(string_len(AccessTokens::Label, 200))
                    .col(text(AccessTokens::Scopes))
                    .col(string_len(AccessTokens::SecretHash, 64))
                    .col(timestamp_with_time_zone(AccessTokens::CreateTime))
                    .col(timestamp_with_time_zone_null(AccessTokens::ExpireTime))
                    .col(timestamp_with_time_zone_null(AccessTokens::RevokeTime))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AccessTokens::Table).to_owned())
            .await
    }
}
