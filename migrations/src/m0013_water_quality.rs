//! Water quality: monitoring sections, the samples taken at them (append-only, as the
//! ledger is), their retractions (append-only too: a sample is never changed, a wrong one
//! is marked once), the day totals an assessment sums, and the link from a supervision
//! entry to the section whose exceedance filed it.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum MonitoringSections {
    Table,
    Id,
    /// The section's own code, unique.
    Code,
    DisplayName,
    WaterBody,
    /// 1 river, 2 lake or reservoir.
    WaterBodyType,
    RegionCode,
    RegionPath,
    ResponsibleCode,
    ResponsiblePath,
    ResponsibleUnit,
    /// 1 to 5: classes I to V.
    TargetClass,
    /// 1 national … 4 county.
    ControlLevel,
    UpstreamSectionId,
    /// Millionths of a degree; both or neither.
    LatitudeMicro,
    LongitudeMicro,
    /// 1 active, 2 retired.
    State,
    CreateTime,
    UpdateTime,
    Revision,
}

#[derive(DeriveIden)]
enum WaterSamples {
    Table,
    Id,
    SectionId,
    /// The section's region path when recorded, for subtree filters.
    RegionPath,
    SampleTime,
    /// 1 manual, 2 automatic.
    Source,
    /// 1 to 6 (6 worse than V); null when no value makes a class.
    WaterClass,
    /// The section's water body type and target when recorded: the evaluation is
    /// recomputed from them and the values, and stays what it was.
    WaterBodyType,
    TargetClass,
    /// JSON array of {p parameter, v millionths, f data flag}.
    Readings,
    /// Worse than the target when recorded.
    Exceeding,
    SupervisionEntryId,
    CreatorLabel,
    CreateTime,
}

#[derive(DeriveIden)]
enum WaterSampleRetractions {
    Table,
    SampleId,
    Reason,
    ActorLabel,
    RetractTime,
}

#[derive(DeriveIden)]
enum WaterSectionDays {
    Table,
    SectionId,
    /// The day in China (UTC+8) of the samples counted.
    Day,
    /// Samples with at least one evaluated value, not retracted.
    Samples,
    /// Of them, those worse than the section's target when recorded.
    Exceeding,
    /// Per parameter: its number, the count and the sum (millionths) of evaluated values.
    Sums,
}

#[derive(DeriveIden)]
enum SupervisionEntries {
    Table,
    /// The section whose exceedance filed the entry; null for every other entry.
    WaterSectionId,
}

/// Makes `table` refuse UPDATE and DELETE in the database itself.
pub(crate) async fn append_only(manager: &SchemaManager<'_>, table: &str) -> Result<(), DbErr> {
    let db = manager.get_connection();
    match manager.get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => {
            db.execute_unprepared(&format!(
                "CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} \
                 FOR EACH ROW EXECUTE FUNCTION duikou_append_only()"
            ))
            .await?;
        }
        _ => {
            for action in ["UPDATE", "DELETE"] {
                db.execute_unprepared(&format!(
                    "CREATE TRIGGER {table}_no_{verb} BEFORE {action} ON {table} BEGIN \
                     SELECT RAISE(ABORT, '{table} is append-only'); END",
                    verb = action.to_lowercase()
                ))
                .await?;
            }
        }
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use MonitoringSections as S;
        manager
            .create_table(
                Table::create()
                    .table(S::Table)
                    .col(big_pk_auto(S::Id))
                    .col(string_len_uniq(S::Code, 32))
                    .col(string_len(S::DisplayName, 100))
                    .col(string_len(S::WaterBody, 100))
                    .col(small_integer(S::WaterBodyType))
                    .col(string_len(S::RegionCode, 12))
                    .col(string_len(S::RegionPath, 80))
                    .col(string_len(S::ResponsibleCode, 12))
                    .col(string_len(S::ResponsiblePath, 80))
                    .col(string_len(S::ResponsibleUnit, 200))
                    .col(small_integer(S::TargetClass))
                    .col(small_integer(S::ControlLevel))
                    .col(big_integer_null(S::UpstreamSectionId))
                    .col(big_integer_null(S::LatitudeMicro))
                    .col(big_integer_null(S::LongitudeMicro))
                    .col(small_integer(S::State))
                    .col(timestamp_with_time_zone(S::CreateTime))
                    .col(timestamp_with_time_zone(S::UpdateTime))
                    .col(big_integer(S::Revision))
                    .check(Expr::col(S::TargetClass).between(1, 5))
                    .check(
                        Expr::col(S::LatitudeMicro)
                            .is_null()
                            .eq(Expr::col(S::LongitudeMicro).is_null()),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_monitoring_sections_upstream")
                            .from(S::Table, S::UpstreamSectionId)
                            .to(S::Table, S::Id),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_monitoring_sections_region", S::RegionPath),
            ("idx_monitoring_sections_responsible", S::ResponsiblePath),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(S::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }

        use WaterSamples as W;
        manager
            .create_table(
                Table::create()
                    .table(W::Table)
                    .col(big_pk_auto(W::Id))
                    .col(big_integer(W::SectionId))
                    .col(string_len(W::RegionPath, 80))
                    .col(timestamp_with_time_zone(W::SampleTime))
                    .col(small_integer(W::Source))
                    .col(small_integer_null(W::WaterClass))
                    .col(small_integer(W::WaterBodyType))
                    .col(small_integer(W::TargetClass))
                    .col(text(W::Readings))
                    .col(boolean(W::Exceeding))
                    .col(big_integer_null(W::SupervisionEntryId))
                    .col(string_len(W::CreatorLabel, 200))
                    .col(timestamp_with_time_zone(W::CreateTime))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_water_samples_section")
                            .from(W::Table, W::SectionId)
                            .to(S::Table, S::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_water_samples_section_time")
                    .table(W::Table)
                    .col(W::SectionId)
                    .col(W::SampleTime)
                    .col(W::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_water_samples_time")
                    .table(W::Table)
                    .col(W::SampleTime)
                    .col(W::Id)
                    .to_owned(),
            )
            .await?;
        append_only(manager, "water_samples").await?;

        use WaterSampleRetractions as R;
        manager
            .create_table(
                Table::create()
                    .table(R::Table)
                    .col(big_integer(R::SampleId).primary_key())
                    .col(text(R::Reason))
                    .col(string_len(R::ActorLabel, 200))
                    .col(timestamp_with_time_zone(R::RetractTime))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_water_sample_retractions_sample")
                            .from(R::Table, R::SampleId)
                            .to(W::Table, W::Id),
                    )
                    .to_owned(),
            )
            .await?;
        append_only(manager, "water_sample_retractions").await?;

        use WaterSectionDays as D;
        let days = Table::create()
            .table(D::Table)
            .col(big_integer(D::SectionId))
            .col(date(D::Day))
            .col(integer(D::Samples))
            .col(integer(D::Exceeding))
            .col(blob(D::Sums))
            .primary_key(Index::create().col(D::SectionId).col(D::Day))
            .to_owned();
        match manager.get_database_backend() {
            // An assessment reads a year of days per section in key order: clustered on
            // the key, SQLite reads them from one B-tree.
            sea_orm::DatabaseBackend::Sqlite => {
                let sql = days.to_string(SqliteQueryBuilder);
                manager
                    .get_connection()
                    .execute_unprepared(&format!("{sql} WITHOUT ROWID"))
                    .await?;
            }
            _ => manager.create_table(days).await?,
        }

        manager
            .alter_table(
                Table::alter()
                    .table(SupervisionEntries::Table)
                    .add_column(big_integer_null(SupervisionEntries::WaterSectionId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_supervision_entries_water_section")
                    .table(SupervisionEntries::Table)
                    .col(SupervisionEntries::WaterSectionId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_supervision_entries_water_section")
                    .table(SupervisionEntries::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(SupervisionEntries::Table)
                    .drop_column(SupervisionEntries::WaterSectionId)
                    .to_owned(),
            )
            .await?;
        for table in [
            WaterSectionDays::Table.into_iden(),
            WaterSampleRetractions::Table.into_iden(),
            WaterSamples::Table.into_iden(),
            MonitoringSections::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
