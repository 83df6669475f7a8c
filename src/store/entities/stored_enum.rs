//! Enum columns: the domain's numbered enums as sea-orm active enums stored in a
//! `SMALLINT`, so that an entity's field is a `PairingState`, not its number, and a query
//! filters on `Column::State.eq(state)`.
//!
//! The domain may not know sea-orm, and a trait of sea-orm cannot be implemented for every
//! [`Numbered`] type at once, so `stored_as_smallint!` implements, for each enum it
//! names, what a column type needs (the list [`DeriveActiveEnum`](sea_orm::DeriveActiveEnum)
//! would generate), all from the enum's own numbers. A stored number that no value has is
//! an error naming the column, never a panic. An enum becomes a column type by being named
//! in the one invocation of the macro, below.

use std::fmt;

use sea_orm::{ColIdx, DbErr};

use crate::domain::{
    Numbered,
    access::Role,
    ledger::{Instrument, Kind, Source},
    monitoring::{ControlLevel, SampleSource, SectionState},
    organization::OrganizationKind,
    pairing::{CooperationField, PairingState},
    plan::{PlanField, WorkPlanState},
    plan_task::{Indicator, TaskState},
    program::ProgramKind,
    project::ProjectState,
    region::RegionLevel,
    supervision::{Category, Party, Severity, State, Step},
    talent::{Direction, TalentKind},
    water::{WaterBodyType, WaterClass},
};

/// The cooperation field of a ledger line or summary total: none for a commitment, which
/// goes to a pairing rather than a project. None is stored as 0, not NULL: the column is
/// part of `fund_totals`' primary key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LedgerField(pub Option<CooperationField>);

impl Numbered for LedgerField {
    const ALL: &'static [Self] = &{
        let fields = <CooperationField as Numbered>::ALL;
        let mut all = [Self(None); <CooperationField as Numbered>::ALL.len() + 1];
        let mut n = 0;
        while n < fields.len() {
            all[n + 1] = Self(Some(fields[n]));
            n += 1;
        }
        all
    };

    fn to_i16(self) -> i16 {
        self.0.map_or(0, Numbered::to_i16)
    }
}

/// A stored number that no value of an enum has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownNumber {
    /// The column, by name or position, where known.
    pub column: Option<String>,
    /// The number found.
    pub number: i16,
    /// The enum's name.
    pub enum_name: &'static str,
}

impl fmt::Display for UnknownNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(column) = &self.column {
            write!(f, "column {column}: ")?;
        }
        write!(f, "{} is no {}", self.number, self.enum_name)
    }
}

impl std::error::Error for UnknownNumber {}

impl From<UnknownNumber> for DbErr {
    fn from(e: UnknownNumber) -> Self {
        DbErr::Type(e.to_string())
    }
}

/// The value of `T` stored as `number`, in `column` if known.
///
/// # Errors
/// [`UnknownNumber`] when no value of `T` has that number.
pub fn from_stored<T: Numbered>(number: i16, column: Option<&str>) -> Result<T, UnknownNumber> {
    T::from_i16(number).ok_or_else(|| UnknownNumber {
        column: column.map(str::to_owned),
        number,
        enum_name: enum_name::<T>(),
    })
}

/// Reads a stored number of a row read back as JSON (see
/// [`script`](crate::store::sqlite::script)), for `#[serde(deserialize_with = …)]`.
///
/// # Errors
/// When the value is not a 16-bit integer, or no value of `T` has it.
pub fn deserialize<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Numbered,
{
    let number = <i16 as serde::Deserialize>::deserialize(deserializer)?;
    from_stored(number, None).map_err(serde::de::Error::custom)
}

/// `T`'s name without its module path.
fn enum_name<T>() -> &'static str {
    let path = std::any::type_name::<T>();
    path.rsplit("::").next().unwrap_or(path)
}

/// A column as sea-orm names it: by name, or by position in the select.
fn column_of(index: &impl ColIdx) -> String {
    index
        .as_str()
        .map_or_else(|| format!("{index:?}"), str::to_owned)
}

/// Makes each numbered enum named a column type stored as `SMALLINT`: an active enum with
/// the enum's numbers as values, readable from a row (an unknown number is a
/// [`DbErr::Type`](sea_orm::DbErr::Type) naming the column), bindable as a value, nullable
/// as an `Option`, and usable in a primary key.
macro_rules! stored_as_smallint {
    ($($enum:ty),+ $(,)?) => {$(
        impl sea_orm::Iterable for $enum {
            type Iterator = std::iter::Copied<std::slice::Iter<'static, Self>>;

            fn iter() -> Self::Iterator {
                <Self as Numbered>::ALL.iter().copied()
            }
        }

        impl sea_orm::ActiveEnum for $enum {
            type Value = i16;

            type ValueVec = Vec<i16>;

            fn name() -> sea_orm::sea_query::DynIden {
                stringify!($enum).into()
            }

            fn to_value(&self) -> i16 {
                Numbered::to_i16(*self)
            }

            fn try_from_value(value: &i16) -> Result<Self, DbErr> {
                Ok(from_stored(*value, None)?)
            }

            fn db_type() -> sea_orm::ColumnDef {
                sea_orm::prelude::ColumnTypeTrait::def(sea_orm::ColumnType::SmallInteger)
            }
        }

        impl From<$enum> for sea_orm::Value {
            fn from(value: $enum) -> Self {
                sea_orm::Value::SmallInt(Some(Numbered::to_i16(value)))
            }
        }

        impl sea_orm::TryGetable for $enum {
            fn try_get_by<I: ColIdx>(
                row: &sea_orm::QueryResult,
                index: I,
            ) -> Result<Self, sea_orm::TryGetError> {
                let number = <i16 as sea_orm::TryGetable>::try_get_by(row, index)?;
                from_stored(number, Some(&column_of(&index)))
                    .map_err(|e| sea_orm::TryGetError::DbErr(e.into()))
            }
        }

        impl sea_orm::sea_query::ValueType for $enum {
            fn try_from(
                value: sea_orm::Value,
            ) -> Result<Self, sea_orm::sea_query::ValueTypeErr> {
                let number = <i16 as sea_orm::sea_query::ValueType>::try_from(value)?;
                <Self as Numbered>::from_i16(number).ok_or(sea_orm::sea_query::ValueTypeErr)
            }

            fn type_name() -> String {
                stringify!($enum).to_owned()
            }

            fn array_type() -> sea_orm::sea_query::ArrayType {
                sea_orm::sea_query::ArrayType::SmallInt
            }

            fn column_type() -> sea_orm::ColumnType {
                sea_orm::ColumnType::SmallInteger
            }
        }

        impl sea_orm::sea_query::Nullable for $enum {
            fn null() -> sea_orm::Value {
                sea_orm::Value::SmallInt(None)
            }
        }
    )+};
}

stored_as_smallint!(
    Category,
    ControlLevel,
    CooperationField,
    Direction,
    Indicator,
    Instrument,
    Kind,
    LedgerField,
    OrganizationKind,
    Party,
    PairingState,
    PlanField,
    ProgramKind,
    ProjectState,
    RegionLevel,
    Role,
    SampleSource,
    SectionState,
    Severity,
    Source,
    State,
    Step,
    TalentKind,
    TaskState,
    WaterBodyType,
    WaterClass,
    WorkPlanState,
);

#[cfg(test)]
mod tests {
    use migration::{Migrator, MigratorTrait};
    use sea_orm::{
        ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, Database,
        DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    };

    use super::*;
    use crate::store::{
        entities::{audit_event, fund_total, region},
        sqlite::point_read,
    };

    async fn migrated() -> anyhow::Result<DatabaseConnection> {
        let db = Database::connect("sqlite::memory:").await?;
        Migrator::up(&db, None).await?;
        Ok(db)
    }

    #[tokio::test]
    async fn a_stored_number_no_value_has_is_refused_naming_its_column() -> anyhow::Result<()> {
        let db = migrated().await?;
        db.execute_unprepared(
            "INSERT INTO regions (code, display_name, level, parent_code, path, added) \
             VALUES ('990000', 'Nowhere', 9, NULL, '/990000/', 1)",
        )
        .await?;

        let read = region::Entity::find_by_id("990000").one(&db).await;

        let Err(DbErr::Type(message)) = read else {
            panic!("a region of level 9 was read as {read:?}");
        };
        assert_eq!(message, "column level: 9 is no RegionLevel");
        Ok(())
    }

    #[test]
    fn an_inline_read_of_a_number_no_value_has_is_refused_naming_its_column() -> anyhow::Result<()>
    {
        let db = rusqlite::Connection::open_in_memory()?;
        db.execute_batch("CREATE TABLE regions (level SMALLINT); INSERT INTO regions VALUES (9)")?;

        let read = db.query_row("SELECT level FROM regions", [], |row| {
            point_read::numbered::<RegionLevel>(row, "level")
        });

        let Err(e) = read else {
            panic!("level 9 was read as {read:?}");
        };
        assert!(
            e.to_string().contains("column level: 9 is no RegionLevel"),
            "{e}"
        );
        Ok(())
    }

    #[test]
    fn a_row_read_back_as_json_refuses_a_number_no_value_has() {
        #[derive(Debug, serde::Deserialize)]
        struct Row {
            #[serde(deserialize_with = "deserialize")]
            state: PairingState,
        }
        let read =
            |state: i64| serde_json::from_value::<Row>(serde_json::json!({ "state": state }));

        let suspended = read(2).map(|row| row.state);
        let unknown = read(7);

        assert_eq!(suspended.ok(), Some(PairingState::Suspended));
        let e = unknown.expect_err("state 7 was read");
        assert!(e.to_string().contains("7 is no PairingState"), "{e}");
    }

    #[tokio::test]
    async fn enum_columns_write_filter_and_read_back_as_the_domain_enums() -> anyhow::Result<()> {
        let db = migrated().await?;
        region::ActiveModel {
            code: Set("990100".to_owned()),
            display_name: Set("Somewhere".to_owned()),
            level: Set(RegionLevel::Prefecture),
            parent_code: Set(None),
            path: Set("/990100/".to_owned()),
            added: Set(true),
        }
        .insert(&db)
        .await?;
        let key = (
            "pairings/1".to_owned(),
            2025,
            Source::CentralGovernment,
            Instrument::Grant,
            LedgerField(None),
        );
        fund_total::ActiveModel {
            scope: Set(key.0.clone()),
            fiscal_year: Set(key.1),
            source: Set(key.2),
            instrument: Set(key.3),
            field: Set(key.4),
            committed_fen: Set(100),
            allocated_fen: Set(0),
            disbursed_fen: Set(0),
        }
        .insert(&db)
        .await?;
        db.execute_unprepared(
            "INSERT INTO audit_events (seq, time, actor_token_id, actor_label, actor_role, \
             method, resource, request_id, resource_sha256) VALUES \
             (1, '2025-01-01T00:00:00Z', NULL, 'command line', NULL, 'm', 'r', '', ''), \
             (2, '2025-01-01T00:00:00Z', 7, 'a coordinator', 2, 'm', 'r', '', '')",
        )
        .await?;

        let regions = region::Entity::find()
            .filter(region::Column::Level.eq(RegionLevel::Prefecture))
            .all(&db)
            .await?;
        let total = fund_total::Entity::find_by_id(key).one(&db).await?;
        let stored_field: i16 = db
            .query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                "SELECT field FROM fund_totals",
            ))
            .await?
            .expect("a total")
            .try_get_by_index(0)?;
        let roles: Vec<Option<Role>> = audit_event::Entity::find()
            .select_only()
            .column(audit_event::Column::ActorRole)
            .order_by_asc(audit_event::Column::Seq)
            .into_tuple()
            .all(&db)
            .await?;

        assert_eq!(regions.len(), 1);
        assert_eq!(regions[0].level, RegionLevel::Prefecture);
        assert_eq!(total.map(|t| t.committed_fen), Some(100));
        assert_eq!(stored_field, 0, "no field is stored as 0");
        assert_eq!(roles, [None, Some(Role::Coordinator)]);
        Ok(())
    }

    #[test]
    fn a_ledger_field_numbers_none_as_zero_and_every_field_as_itself() {
        let fields = <CooperationField as Numbered>::ALL;

        assert_eq!(LedgerField::ALL.len(), fields.len() + 1);
        assert_eq!(LedgerField::from_i16(0), Some(LedgerField(None)));
        for &field in fields {
            assert_eq!(LedgerField(Some(field)).to_i16(), field.to_i16());
            assert_eq!(
                LedgerField::from_i16(field.to_i16()),
                Some(LedgerField(Some(field)))
            );
        }
    }
}
