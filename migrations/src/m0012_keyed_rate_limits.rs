//! Rate-limit keys leave the entries. Each public report kept the SHA-256 of its client's
//! address, unsalted, which anyone holding the database could reverse by hashing every
//! IPv4 address. Now the server counts each attempt in `rate_limit_hits` under an HMAC of
//! the address with a key of the day, kept in `server_secrets` and deleted the day after,
//! and deletes each hit once it is older than the limit's window; no entry holds a key.
//! The same table keeps the key that signs page tokens, shared by every server of the
//! database.
//!
//! The existing entries' keys are dropped with the column: they cannot be turned into the
//! new keys without the addresses. For the hour after the upgrade an address is counted
//! afresh.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ServerSecrets {
    Table,
    /// What the key is for, e.g. `page_tokens` or `rate_limit:2026-12-02`.
    Name,
    /// The key, in hex.
    Secret,
    CreateTime,
}

#[derive(DeriveIden)]
enum RateLimitHits {
    Table,
    Id,
    /// Which limit, e.g. `public_reports`.
    LimitName,
    /// The HMAC of the client's address under the key of the day, in hex.
    ClientKey,
    HitTime,
}

#[derive(DeriveIden)]
enum SupervisionEntries {
    Table,
    ClientKey,
    CreateTime,
}

const ENTRIES_CLIENT_INDEX: &str = "idx_supervision_entries_client";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ServerSecrets::Table)
                    .col(string_len(ServerSecrets::Name, 64).primary_key())
                    .col(string_len(ServerSecrets::Secret, 128))
                    .col(timestamp_with_time_zone(ServerSecrets::CreateTime))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RateLimitHits::Table)
                    .col(big_pk_auto(RateLimitHits::Id))
                    .col(string_len(RateLimitHits::LimitName, 32))
                    .col(string_len(RateLimitHits::ClientKey, 64))
                    .col(timestamp_with_time_zone(RateLimitHits::HitTime))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_rate_limit_hits_key")
                    .table(RateLimitHits::Table)
                    .col(RateLimitHits::LimitName)
                    .col(RateLimitHits::ClientKey)
                    .col(RateLimitHits::HitTime)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_rate_limit_hits_time")
                    .table(RateLimitHits::Table)
                    .col(RateLimitHits::HitTime)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name(ENTRIES_CLIENT_INDEX)
                    .table(SupervisionEntries::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(SupervisionEntries::Table)
                    .drop_column(SupervisionEntries::ClientKey)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(SupervisionEntries::Table)
                    .add_column(string_len_null(SupervisionEntries::ClientKey, 64))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(ENTRIES_CLIENT_INDEX)
                    .table(SupervisionEntries::Table)
                    .col(SupervisionEntries::ClientKey)
                    .col(SupervisionEntries::CreateTime)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(RateLimitHits::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(ServerSecrets::Table).to_owned())
            .await
    }
}
