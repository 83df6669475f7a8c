//! The audit log: one event per change, the complete subtrees of its Merkle tree, the head
//! that orders appends, and signed checkpoints. Events, nodes and checkpoints are
//! append-only in the database itself: triggers refuse UPDATE and DELETE on both backends.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    /// 1, 2, 3, … without gaps: leaf `seq - 1` of the tree.
    Seq,
    Time,
    ActorTokenId,
    ActorLabel,
    ActorRole,
    Method,
    Resource,
    RequestId,
    /// Hex SHA-256 of the resource as it stood after the change.
    ResourceSha256,
}

#[derive(DeriveIden)]
enum AuditNodes {
    Table,
    /// 0 for leaves; a node at level L covers 2^L leaves.
    Level,
    /// Position among the nodes of its level.
    Idx,
    /// Hex SHA-256.
    Hash,
}

#[derive(DeriveIden)]
enum AuditHead {
    Table,
    Id,
    /// Events appended so far.
    Size,
    /// Events the stored tree covers; it catches up with `size` before each commit.
    TreeSize,
}

#[derive(DeriveIden)]
enum AuditCheckpoints {
    Table,
    TreeSize,
    RootHash,
    Time,
    /// Base64 Ed25519 signature over the checkpoint's text.
    Signature,
}

const APPEND_ONLY: &[&str] = &["audit_events", "audit_nodes", "audit_checkpoints"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(big_integer(AuditEvents::Seq).primary_key())
                    .col(timestamp_with_time_zone(AuditEvents::Time))
                    .col(big_integer_null(AuditEvents::ActorTokenId))
                    .col(string_len(AuditEvents::ActorLabel, 200))
                    .col(small_integer_null(AuditEvents::ActorRole))
                    .col(string_len(AuditEvents::Method, 100))
                    .col(string_len(AuditEvents::Resource, 200))
                    .col(string_len(AuditEvents::RequestId, 64))
                    .col(string_len(AuditEvents::ResourceSha256, 64))
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_audit_events_resource", AuditEvents::Resource),
            ("idx_audit_events_actor", AuditEvents::ActorTokenId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(AuditEvents::Table)
                        .col(column)
                        .col(AuditEvents::Seq)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(AuditNodes::Table)
                    .col(integer(AuditNodes::Level))
                    .col(big_integer(AuditNodes::Idx))
                    .col(string_len(AuditNodes::Hash, 64))
                    .primary_key(Index::create().col(AuditNodes::Level).col(AuditNodes::Idx))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuditHead::Table)
                    .col(integer(AuditHead::Id).primary_key())
                    .col(big_integer(AuditHead::Size))
                    .col(big_integer(AuditHead::TreeSize))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(AuditHead::Table)
                    .columns([AuditHead::Id, AuditHead::Size, AuditHead::TreeSize])
                    .values_panic([1.into(), 0.into(), 0.into()])
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuditCheckpoints::Table)
                    .col(big_integer(AuditCheckpoints::TreeSize).primary_key())
                    .col(string_len(AuditCheckpoints::RootHash, 64))
                    .col(timestamp_with_time_zone(AuditCheckpoints::Time))
                    .col(string_len(AuditCheckpoints::Signature, 100))
                    .to_owned(),
            )
            .await?;

        let db = manager.get_connection();
        match manager.get_database_backend() {
            sea_orm::DatabaseBackend::Postgres => {
                db.execute_unprepared(
                    "CREATE FUNCTION duikou_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ \
                     BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$",
                )
                .await?;
                for table in APPEND_ONLY {
                    db.execute_unprepared(&format!(
                        "CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} \
                         FOR EACH ROW EXECUTE FUNCTION duikou_append_only()"
                    ))
                    .await?;
                }
            }
            _ => {
                for table in APPEND_ONLY {
                    for action in ["UPDATE", "DELETE"] {
                        db.execute_unprepared(&format!(
                            "CREATE TRIGGER {table}_no_{verb} BEFORE {action} ON {table} \
                             BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END",
                            verb = action.to_lowercase()
                        ))
                        .await?;
                    }
                }
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AuditCheckpoints::Table.into_iden(),
            AuditHead::Table.into_iden(),
            AuditNodes::Table.into_iden(),
            AuditEvents::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        if manager.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("DROP FUNCTION IF EXISTS duikou_append_only()")
                .await?;
        }
        Ok(())
    }
}
