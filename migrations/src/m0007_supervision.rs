//! Supervision: entries filed by overseers, and the timeline of each, which the database
//! keeps append-only as it does the ledger.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Regions {
    Table,
    Code,
}

#[derive(DeriveIden)]
enum SupervisionEntries {
    Table,
    Id,
    /// 1 government agency … 6 third-party evaluator.
    Party,
    /// "pairings/1", "projects/1", "fundTransactions/1", "talentExchanges/1" or empty.
    Subject,
    RegionCode,
    /// The region's path, copied at filing (regions never move).
    RegionPath,
    /// 1 water quality … 7 other.
    Category,
    /// 1 low … 4 critical.
    Severity,
    Title,
    Description,
    /// JSON array of {uri, sha256, description}: the submission's, then each resolution's.
    Evidence,
    /// Personal data.
    ReporterName,
    /// Personal data.
    ReporterContact,
    ResponsibleUnit,
    DueDate,
    /// 1 submitted, 2 accepted, 3 rejected, 4 rectifying, 5 resolved, 6 closed.
    State,
    ResolveTime,
    /// SHA-256 of a public report's tracking code; null for entries filed with a token.
    TrackingHash,
    /// SHA-256 of the client address of a public report, for its rate limit.
    ClientKey,
    /// Events on the timeline so far; the next event's number is this plus one.
    EventCount,
    CreateTime,
    UpdateTime,
    Revision,
}

#[derive(DeriveIden)]
enum SupervisionEvents {
    Table,
    /// Store-wide order of events, for watchers.
    Id,
    EntryId,
    /// 1, 2, 3, … within the entry.
    Seq,
    CreateTime,
    /// Null when anonymous.
    ActorRole,
    ActorLabel,
    Anonymous,
    /// 1 submit … 8 comment.
    Step,
    /// Null for the submission.
    FromState,
    ToState,
    Note,
    ResponsibleUnit,
    DueDate,
    /// JSON array of {uri, sha256, description}.
    Evidence,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SupervisionEntries::Table)
                    .col(big_pk_auto(SupervisionEntries::Id))
                    .col(small_integer(SupervisionEntries::Party))
                    .col(string_len(SupervisionEntries::Subject, 64))
                    .col(string_len(SupervisionEntries::RegionCode, 12))
                    .col(string_len(SupervisionEntries::RegionPath, 64))
                    .col(small_integer(SupervisionEntries::Category))
                    .col(small_integer(SupervisionEntries::Severity))
                    .col(string_len(SupervisionEntries::Title, 200))
                    .col(text(SupervisionEntries::Description))
                    .col(text(SupervisionEntries::Evidence))
                    .col(string_len(SupervisionEntries::ReporterName, 100))
                    .col(string_len(SupervisionEntries::ReporterContact, 200))
                    .col(string_len(SupervisionEntries::ResponsibleUnit, 200))
                    .col(date_null(SupervisionEntries::DueDate))
                    .col(small_integer(SupervisionEntries::State))
                    .col(timestamp_with_time_zone_null(
                        SupervisionEntries::ResolveTime,
                    ))
                    .col(string_len_null(SupervisionEntries::TrackingHash, 64).unique_key())
                    .col(string_len_null(SupervisionEntries::ClientKey, 64))
                    .col(integer(SupervisionEntries::EventCount))
                    .col(timestamp_with_time_zone(SupervisionEntries::CreateTime))
                    .col(timestamp_with_time_zone(SupervisionEntries::UpdateTime))
                    .col(big_integer(SupervisionEntries::Revision))
                    .check(Expr::col(SupervisionEntries::State).between(1, 6))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_supervision_entries_region")
                            .from(SupervisionEntries::Table, SupervisionEntries::RegionCode)
                            .to(Regions::Table, Regions::Code),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_supervision_entries_client")
                    .table(SupervisionEntries::Table)
                    .col(SupervisionEntries::ClientKey)
                    .col(SupervisionEntries::CreateTime)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SupervisionEvents::Table)
                    .col(big_pk_auto(SupervisionEvents::Id))
                    .col(big_integer(SupervisionEvents::EntryId))
                    .col(integer(SupervisionEvents::Seq))
                    .col(timestamp_with_time_zone(SupervisionEvents::CreateTime))
                    .col(small_integer_null(SupervisionEvents::ActorRole))
                    .col(string_len(SupervisionEvents::ActorLabel, 200))
                    .col(boolean(SupervisionEvents::Anonymous))
                    .col(small_integer(SupervisionEvents::Step))
                    .col(small_integer_null(SupervisionEvents::FromState))
                    .col(small_integer(SupervisionEvents::ToState))
                    .col(text(SupervisionEvents::Note))
                    .col(string_len(SupervisionEvents::ResponsibleUnit, 200))
                    .col(date_null(SupervisionEvents::DueDate))
                    .col(text(SupervisionEvents::Evidence))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_supervision_events_entry")
                            .from(SupervisionEvents::Table, SupervisionEvents::EntryId)
                            .to(SupervisionEntries::Table, SupervisionEntries::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_supervision_events_entry_seq")
                    .table(SupervisionEvents::Table)
                    .col(SupervisionEvents::EntryId)
                    .col(SupervisionEvents::Seq)
                    .unique()
                    .to_owned(),
            )
            .await?;

        // The timeline refuses UPDATE and DELETE in the database itself, as the ledger
        // does (the audit log's migration made the PostgreSQL trigger function).
        let db = manager.get_connection();
        match manager.get_database_backend() {
            sea_orm::DatabaseBackend::Postgres => {
                db.execute_unprepared(
                    "CREATE TRIGGER supervision_events_append_only BEFORE UPDATE OR DELETE ON \
                     supervision_events FOR EACH ROW EXECUTE FUNCTION duikou_append_only()",
                )
                .await?;
            }
            _ => {
                for action in ["UPDATE", "DELETE"] {
                    db.execute_unprepared(&format!(
                        "CREATE TRIGGER supervision_events_no_{verb} BEFORE {action} ON \
                         supervision_events BEGIN \
                         SELECT RAISE(ABORT, 'supervision_events is append-only'); END",
                        verb = action.to_lowercase()
                    ))
                    .await?;
                }
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            SupervisionEvents::Table.into_iden(),
            SupervisionEntries::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
