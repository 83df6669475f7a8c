//! Request ids belong to their caller and method. Before, one id was one key for everyone:
//! a caller could block another's retry by using its id first, or learn whether an id had
//! been used. Now a key is the caller (its token, or for anonymous callers, who cannot be
//! told apart, the request itself), the method and the id. The ids used so far keep
//! working for the caller that used them: each is matched to its caller through the audit
//! event of the change it made.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RequestKeys {
    Table,
    /// `accessTokens/{id}`, or `anonymous/{fingerprint}`.
    Caller,
    Method,
    RequestId,
    /// SHA-256 of the request without its request id.
    Fingerprint,
    /// Name of what the first request made.
    Resource,
    CreateTime,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RequestKeys::Table)
                    .col(string_len(RequestKeys::Caller, 100))
                    .col(string_len(RequestKeys::Method, 100))
                    .col(string_len(RequestKeys::RequestId, 64))
                    .col(string_len(RequestKeys::Fingerprint, 64))
                    .col(string_len(RequestKeys::Resource, 200))
                    .col(timestamp_with_time_zone(RequestKeys::CreateTime))
                    .primary_key(
                        Index::create()
                            .col(RequestKeys::Caller)
                            .col(RequestKeys::Method)
                            .col(RequestKeys::RequestId),
                    )
                    .to_owned(),
            )
            .await?;
        // Both databases concatenate text and an integer.
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO request_keys (caller, method, request_id, fingerprint, resource, \
                 create_time) \
                 SELECT CASE WHEN e.actor_token_id IS NULL THEN 'anonymous/' || r.fingerprint \
                 ELSE 'accessTokens/' || e.actor_token_id END, \
                 r.method, r.request_id, r.fingerprint, r.resource, r.create_time \
                 FROM request_ids AS r \
                 JOIN audit_events AS e ON e.request_id = r.request_id AND e.method = r.method \
                 AND e.resource = r.resource",
            )
            .await?;
        manager
            .drop_table(Table::drop().table(Alias::new("request_ids")).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("request_ids"))
                    .col(string_len(RequestKeys::RequestId, 64).primary_key())
                    .col(string_len(RequestKeys::Method, 100))
                    .col(string_len(RequestKeys::Fingerprint, 64))
                    .col(string_len(RequestKeys::Resource, 200))
                    .col(timestamp_with_time_zone(RequestKeys::CreateTime))
                    .to_owned(),
            )
            .await?;
        // One namespace holds only one use of an id: the earliest is kept.
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO request_ids (request_id, method, fingerprint, resource, create_time) \
                 SELECT request_id, method, fingerprint, resource, create_time \
                 FROM request_keys WHERE true ORDER BY create_time, caller \
                 ON CONFLICT (request_id) DO NOTHING",
            )
            .await?;
        manager
            .drop_table(Table::drop().table(RequestKeys::Table).to_owned())
            .await
    }
}
