//! Water quality queries: monitoring sections, the append-only samples and their
//! retractions, and the day totals an assessment sums.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{Set, Unchanged},
    ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement,
    sea_query::{Alias, Expr, ExprTrait, Query},
};

use super::{
    Store, changed, constraint_error,
    entities::{
        monitoring_section, stored_enum, water_sample, water_sample_retraction, water_section_day,
    },
    region::RegionRow,
    rows,
    sqlite::script,
    supervision::{self, Appended, OpenWaterEntry},
};
use crate::{
    domain::{
        Numbered,
        monitoring::{
            ControlLevel, DayTotals, ParameterSum, Reading, SampleFilter, SampleSource,
            SectionCode, SectionDraft, SectionFilter, SectionState,
        },
        secret,
        water::{WaterBodyType, WaterClass, WaterParameter},
    },
    error::Error,
};

pub use monitoring_section::Model as SectionRow;
pub use water_sample::Model as SampleRow;
pub use water_sample_retraction::Model as RetractionRow;

/// The columns a section's draft sets, with its responsible region.
fn section_columns(
    draft: &SectionDraft,
    responsible: &RegionRow,
) -> monitoring_section::ActiveModel {
    monitoring_section::ActiveModel {
        display_name: Set(draft.display_name.clone()),
        water_body: Set(draft.water_body.clone()),
        water_body_type: Set(draft.body_type),
        responsible_code: Set(responsible.code.clone()),
        responsible_path: Set(responsible.path.clone()),
        responsible_unit: Set(draft.responsible_unit.clone()),
        responsible_organization_id: Set(draft.responsible_organization_id),
        target_class: Set(draft.target),
        control_level: Set(draft.control_level),
        upstream_section_id: Set(draft.upstream_id),
        latitude_micro: Set(draft.position.map(|p| p.latitude)),
        longitude_micro: Set(draft.position.map(|p| p.longitude)),
        ..Default::default()
    }
}

/// Inserts a section, ACTIVE, its references already checked.
///
/// # Errors
/// ALREADY_EXISTS `SECTION_CODE_TAKEN` when another section has the code.
pub async fn insert_section(
    db: &impl ConnectionTrait,
    code: &SectionCode,
    region: &RegionRow,
    responsible: &RegionRow,
    draft: &SectionDraft,
) -> Result<SectionRow, Error> {
    let now = Utc::now();
    let row = monitoring_section::ActiveModel {
        code: Set(code.as_str().to_owned()),
        region_code: Set(region.code.clone()),
        region_path: Set(region.path.clone()),
        state: Set(SectionState::Active),
        create_time: Set(now),
        update_time: Set(now),
        revision: Set(1),
        ..section_columns(draft, responsible)
    };
    row.insert(db).await.map_err(|e| {
        constraint_error(e, || Error::AlreadyExists {
            reason: "SECTION_CODE_TAKEN",
            message: format!("a monitoring section with code {} exists", code.as_str()),
        })
    })
}

/// What a change sets on a stored section; a field left `None` stays as stored.
#[derive(Debug, Clone, Default)]
pub struct SectionChange {
    /// New values of every field that callers write, with the responsible region.
    pub draft: Option<(SectionDraft, RegionRow)>,
    /// A new state.
    pub state: Option<SectionState>,
}

/// Writes the changed columns of a section, bumping its revision and update time.
pub async fn save_section(
    db: &impl ConnectionTrait,
    current: &SectionRow,
    change: SectionChange,
) -> Result<SectionRow, Error> {
    let row = monitoring_section::ActiveModel {
        id: Unchanged(current.id),
        state: changed(change.state),
        revision: Set(current.revision + 1),
        update_time: Set(Utc::now()),
        ..change
            .draft
            .as_ref()
            .map(|(draft, responsible)| section_columns(draft, responsible))
            .unwrap_or_default()
    };
    Ok(row.update(db).await?)
}

/// The longest chain of upstream sections followed.
const MAX_UPSTREAM_CHAIN: usize = 256;

/// The sections upstream of section `from`, nearest first, following `upstream_section`
/// until it ends, returns to one already seen, or reaches `stop` (included).
pub async fn upstream_chain(
    db: &impl ConnectionTrait,
    from: i64,
    stop: i64,
) -> Result<Vec<i64>, Error> {
    use monitoring_section::Column as C;
    let mut chain = vec![from];
    let mut at = from;
    while at != stop && chain.len() < MAX_UPSTREAM_CHAIN {
        let next: Option<Option<i64>> = monitoring_section::Entity::find_by_id(at)
            .select_only()
            .column(C::UpstreamSectionId)
            .into_tuple()
            .one(db)
            .await?;
        match next.flatten() {
            Some(up) if !chain.contains(&up) => {
                chain.push(up);
                at = up;
            }
            Some(up) => {
                chain.push(up);
                break;
            }
            None => break,
        }
    }
    Ok(chain)
}

/// Which sections a list covers.
#[derive(Debug, Clone, Default)]
pub struct SectionQuery {
    /// What the caller's filter asks for; its regions are read from the paths below.
    pub filter: SectionFilter,
    /// Only sections whose region's path starts with this one.
    pub region_within: Option<String>,
    /// Only sections whose responsible region's path starts with this one.
    pub responsible_within: Option<String>,
}

impl SectionQuery {
    fn condition(&self) -> Condition {
        use monitoring_section::Column as C;
        let f = &self.filter;
        Condition::all()
            .add_option(
                self.region_within
                    .as_deref()
                    .map(|path| rows::path_within(C::RegionPath, path)),
            )
            .add_option(
                self.responsible_within
                    .as_deref()
                    .map(|path| rows::path_within(C::ResponsiblePath, path)),
            )
            .add_option(f.water_body.as_deref().map(|w| C::WaterBody.eq(w)))
            .add_option(f.target_class.map(|c| C::TargetClass.eq(c)))
            .add_option(f.control_level.map(|l| C::ControlLevel.eq(l)))
            .add_option(f.state.map(|s| C::State.eq(s)))
            .add_option(
                f.responsible_organization_id
                    .map(|id| C::ResponsibleOrganizationId.eq(id)),
            )
    }
}

/// A page of sections in id order, after `after` if given.
pub async fn list_sections(
    db: &impl ConnectionTrait,
    query: &SectionQuery,
    after: Option<i64>,
    limit: u64,
) -> Result<Vec<SectionRow>, Error> {
    use monitoring_section::Column as C;
    let select = monitoring_section::Entity::find().filter(query.condition());
    rows::page_after(db, select, C::Id, after, limit).await
}

/// The active sections whose responsible region's path starts with `path`, in id order.
pub async fn answered_within(
    db: &impl ConnectionTrait,
    path: &str,
) -> Result<Vec<SectionRow>, Error> {
    use monitoring_section::Column as C;
    Ok(monitoring_section::Entity::find()
        .filter(rows::path_within(C::ResponsiblePath, path))
        .filter(C::State.eq(SectionState::Active))
        .order_by_asc(C::Id)
        .all(db)
        .await?)
}

/// A sample to insert, its section checked and its evaluation made.
#[derive(Debug, Clone)]
pub struct NewSample<'a> {
    /// The section, as read in this transaction.
    pub section: &'a SectionRow,
    /// When it was taken.
    pub sample_time: DateTime<Utc>,
    /// Laboratory or station.
    pub source: SampleSource,
    /// The values.
    pub readings: &'a [Reading],
    /// Its class.
    pub class: Option<WaterClass>,
    /// Worse than the section's target.
    pub exceeding: bool,
    /// The supervision entry it filed or added to.
    pub entry_id: Option<i64>,
    /// The label of the token that records it.
    pub creator_label: &'a str,
}

/// What a batch of samples writes at once: the samples, in order, the events they add to
/// open entries, and the day totals they changed, as they now stand.
#[derive(Debug, Default)]
pub struct SampleWrites<'a> {
    /// The samples.
    pub samples: Vec<NewSample<'a>>,
    /// The events, by entry.
    pub appended: Vec<Appended>,
    /// The (section, day) totals.
    pub days: Vec<((i64, NaiveDate), &'a DayTotals)>,
}

/// Writes a batch's samples recorded at `now` with their events and day totals; returns
/// the samples as stored, in order. The caller holds the sections' rows and the entries'
/// (see [`supervision::append_statements`]).
/// On SQLite the inserts go as one script, each statement's text the same for any number
/// of rows (see [`script`]).
///
/// # Errors
/// The database's failures.
pub async fn write_samples(
    db: &impl ConnectionTrait,
    writes: &SampleWrites<'_>,
    now: DateTime<Utc>,
) -> Result<Vec<SampleRow>, Error> {
    let backend = db.get_database_backend();
    let mut statements = Vec::with_capacity(3);
    if !writes.samples.is_empty() {
        statements.push(insert_samples(backend, &writes.samples, now));
    }
    statements.extend(supervision::append_statements(db, &writes.appended, now).await?);
    if !writes.days.is_empty() {
        statements.push(save_days(backend, &writes.days)?);
    }
    let sqlite = backend == DatabaseBackend::Sqlite;
    if sqlite && !writes.samples.is_empty() {
        statements.push(Statement::from_string(
            backend,
            "SELECT max(id) FROM water_samples",
        ));
    }
    // Of the statements only the samples' insert returns rows: their ids on PostgreSQL,
    // and on SQLite, where each returned row is a hand-off of its own, the last id alone.
    let returned = script::run_all(db, statements).await?;
    let mut ids = returned
        .iter()
        .map(|row| row.try_get_by_index::<i64>(0))
        .collect::<Result<Vec<_>, _>>()?;
    if sqlite && let [last] = ids[..] {
        // One statement inside the one write transaction draws consecutive ids.
        let first = last + 1 - writes.samples.len() as i64;
        ids = (first..=last).collect();
    }
    // Ids are drawn in the order of the rows.
    ids.sort_unstable();
    if ids.len() != writes.samples.len() {
        return Err(anyhow::anyhow!("a sample insert returned {} ids", ids.len()).into());
    }
    Ok(writes
        .samples
        .iter()
        .zip(ids)
        .map(|(n, id)| SampleRow {
            id,
            section_id: n.section.id,
            region_path: n.section.region_path.clone(),
            sample_time: n.sample_time,
            source: n.source,
            water_class: n.class,
            water_body_type: n.section.water_body_type,
            target_class: n.section.target_class,
            readings: Reading::store_list(n.readings),
            exceeding: n.exceeding,
            supervision_entry_id: n.entry_id,
            creator_label: n.creator_label.to_owned(),
            create_time: now,
        })
        .collect())
}

/// The types of a sample's columns as [`insert_samples`] sends them.
const SAMPLE_TYPES: &[&str] = &[
    "bigint",
    "text",
    "timestamptz",
    "smallint",
    "smallint",
    "smallint",
    "smallint",
    "text",
    "boolean",
    "bigint",
    "text",
];

/// The insert of samples recorded at `now`, in order, returning their ids on PostgreSQL.
fn insert_samples(
    backend: DatabaseBackend,
    samples: &[NewSample<'_>],
    now: DateTime<Utc>,
) -> Statement {
    let rows = samples.iter().map(|n| {
        serde_json::json!([
            n.section.id,
            n.section.region_path,
            // As sqlx stores a time on SQLite, so that it compares with every other.
            n.sample_time
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false),
            n.source.to_i16(),
            n.class.map(WaterClass::to_i16),
            n.section.water_body_type.to_i16(),
            n.section.target_class.to_i16(),
            Reading::store_list(n.readings),
            n.exceeding,
            n.entry_id,
            n.creator_label,
        ])
    });
    let select = script::json_table(backend, SAMPLE_TYPES, true);
    let returning = match backend {
        DatabaseBackend::Sqlite => "",
        _ => " RETURNING id",
    };
    let sql = format!(
        "INSERT INTO water_samples (section_id, region_path, sample_time, source, \
         water_class, water_body_type, target_class, readings, exceeding, \
         supervision_entry_id, creator_label, create_time) {select}{returning}"
    );
    Statement::from_sql_and_values(backend, sql, [now.into(), script::json_array(rows).into()])
}

/// The ids of retracted samples, as a subquery.
fn retracted_ids() -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .column(water_sample_retraction::Column::SampleId)
        .from(water_sample_retraction::Entity)
        .to_owned()
}

/// The latest classed, unretracted sample of section `section_id` taken in
/// `[from, to]`.
pub async fn latest_classed(
    db: &impl ConnectionTrait,
    section_id: i64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Option<SampleRow>, Error> {
    use water_sample::Column as C;
    Ok(water_sample::Entity::find()
        .filter(C::SectionId.eq(section_id))
        .filter(C::SampleTime.gte(from))
        .filter(C::SampleTime.lte(to))
        .filter(C::WaterClass.is_not_null())
        .filter(C::Id.not_in_subquery(retracted_ids()))
        .order_by_desc(C::SampleTime)
        .order_by_desc(C::Id)
        .one(db)
        .await?)
}

/// Which samples a list covers.
#[derive(Debug, Clone, Default)]
pub struct SampleQuery {
    /// What the caller's filter asks for; its region is read from `region_within`.
    pub filter: SampleFilter,
    /// Only samples of sections whose region's path starts with this one.
    pub region_within: Option<String>,
}

/// A page of samples in (sample time, id) order, after the key `after` if given.
pub async fn list_samples(
    db: &impl ConnectionTrait,
    query: &SampleQuery,
    after: Option<(DateTime<Utc>, i64)>,
    limit: u64,
) -> Result<Vec<SampleRow>, Error> {
    use water_sample::Column as C;
    let f = &query.filter;
    let mut select = water_sample::Entity::find()
        .filter(
            Condition::all()
                .add_option(f.section_id.map(|id| C::SectionId.eq(id)))
                .add_option(
                    query
                        .region_within
                        .as_deref()
                        .map(|path| rows::path_within(C::RegionPath, path)),
                )
                .add_option(f.from.map(|t| C::SampleTime.gte(t)))
                .add_option(f.before.map(|t| C::SampleTime.lt(t)))
                .add_option(f.water_class.map(|c| C::WaterClass.eq(c)))
                .add_option(f.source.map(|s| C::Source.eq(s)))
                .add_option(f.retracted.map(|retracted| {
                    if retracted {
                        C::Id.in_subquery(retracted_ids())
                    } else {
                        C::Id.not_in_subquery(retracted_ids())
                    }
                })),
        )
        .order_by_asc(C::SampleTime)
        .order_by_asc(C::Id);
    if let Some((time, id)) = after {
        let row = Expr::tuple([Expr::col(C::SampleTime), Expr::col(C::Id)]);
        select = select.filter(row.gt(Expr::tuple([Expr::val(time), Expr::val(id)])));
    }
    Ok(select.limit(limit).all(db).await?)
}

/// The retractions of the samples `ids`, by sample.
pub async fn retractions(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<HashMap<i64, RetractionRow>, Error> {
    Ok(water_sample_retraction::Entity::find()
        .filter(water_sample_retraction::Column::SampleId.is_in(ids.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|r| (r.sample_id, r))
        .collect())
}

/// Records the retraction of sample `sample_id` at `now`.
///
/// # Errors
/// FAILED_PRECONDITION `SAMPLE_ALREADY_RETRACTED` when it was retracted before.
pub async fn insert_retraction(
    db: &impl ConnectionTrait,
    sample_id: i64,
    reason: &str,
    actor_label: &str,
    now: DateTime<Utc>,
) -> Result<RetractionRow, Error> {
    let row = water_sample_retraction::ActiveModel {
        sample_id: Set(sample_id),
        reason: Set(reason.to_owned()),
        actor_label: Set(actor_label.to_owned()),
        retract_time: Set(now),
    };
    row.insert(db).await.map_err(|e| {
        constraint_error(e, || {
            Error::precondition(
                "SAMPLE_ALREADY_RETRACTED",
                "the sample is already retracted",
            )
        })
    })
}

/// Bytes of one item's sum in a day row: its number, the count (4 bytes) and the sum
/// (8 bytes), little-endian.
const SUM_BYTES: usize = 13;

/// A day row's sums as stored.
fn encode_sums(sums: &[ParameterSum]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(sums.len() * SUM_BYTES);
    for s in sums {
        bytes.push(s.parameter.to_i16() as u8);
        bytes.extend_from_slice(&(s.count as u32).to_le_bytes());
        bytes.extend_from_slice(&s.sum.to_le_bytes());
    }
    bytes
}

/// A day row's sums as [`encode_sums`] stored them.
///
/// # Errors
/// INTERNAL when the bytes do not read back.
fn decode_sums(bytes: &[u8]) -> Result<Vec<ParameterSum>, Error> {
    let damaged = || Error::from(anyhow::anyhow!("stored water day totals are damaged"));
    if bytes.len() % SUM_BYTES != 0 {
        return Err(damaged());
    }
    bytes
        .chunks_exact(SUM_BYTES)
        .map(|chunk| {
            let parameter = WaterParameter::from_i16(i16::from(chunk[0])).ok_or_else(damaged)?;
            let count = u32::from_le_bytes(chunk[1..5].try_into().map_err(|_| damaged())?);
            let sum = i64::from_le_bytes(chunk[5..13].try_into().map_err(|_| damaged())?);
            Ok(ParameterSum {
                parameter,
                count: i64::from(count),
                sum,
            })
        })
        .collect()
}

/// Counts a sample's `readings` into (`sign` 1) or out of (−1) the totals of section
/// `section_id` on `day`. The caller holds the section's row, so no other writer changes
/// the day meanwhile.
pub async fn count_in_day(
    db: &impl ConnectionTrait,
    section_id: i64,
    day: NaiveDate,
    readings: &[Reading],
    exceeding: bool,
    sign: i64,
) -> Result<(), Error> {
    if Reading::evaluated(readings).is_empty() {
        return Ok(());
    }
    let mut days = days_for(db, &[(section_id, day)]).await?;
    let mut totals = days.remove(&(section_id, day)).unwrap_or_default();
    totals.count(readings, exceeding, sign)?;
    let backend = db.get_database_backend();
    db.execute_raw(save_days(backend, &[((section_id, day), &totals)])?)
        .await?;
    Ok(())
}

/// What a batch of samples reads, in one trip.
#[derive(Debug, Default)]
pub struct Sampling {
    /// The sections, in id order.
    pub sections: Vec<SectionRow>,
    /// Their open entries, in id order.
    pub entries: Vec<OpenWaterEntry>,
    /// The stored totals of the (section, day) keys that have any.
    pub days: HashMap<(i64, NaiveDate), DayTotals>,
}

/// What a batch of samples at sections `section_ids` on the (section, day) `keys` reads,
/// in one trip (on SQLite one statement, see [`script`]): the sections, locked for change
/// on PostgreSQL until the transaction ends (the samples of one section, its day totals
/// and its open entry change one transaction at a time); their open entries, locked after
/// them (see [`supervision::open_water_select`]); and the day totals.
pub async fn sampling(
    db: &impl ConnectionTrait,
    section_ids: &[i64],
    keys: &[(i64, NaiveDate)],
) -> Result<Sampling, Error> {
    // A part that nothing names is not read.
    if section_ids.is_empty() || keys.is_empty() {
        return Ok(Sampling::default());
    }
    let backend = db.get_database_backend();
    let selects = vec![
        sections_select(backend, section_ids),
        supervision::open_water_select(backend, section_ids),
        days_select(backend, keys),
    ];
    let mut parts = script::select_json(db, selects).await?.into_iter();
    let mut next = || parts.next().unwrap_or_default();
    let (sections, entries, days) = (next(), next(), next());
    Ok(Sampling {
        sections: script::rows_of::<SectionJson>(sections)?
            .into_iter()
            .map(SectionRow::from)
            .collect(),
        entries: supervision::open_water_rows(entries)?,
        days: day_rows(days)?,
    })
}

/// The select of sections `ids`, in id order, locked for change on PostgreSQL.
fn sections_select(backend: DatabaseBackend, ids: &[i64]) -> script::JsonSelect {
    use monitoring_section::Column as S;
    let mut select = script::json_select(
        monitoring_section::Entity,
        &[
            S::Id,
            S::Code,
            S::DisplayName,
            S::WaterBody,
            S::WaterBodyType,
            S::RegionCode,
            S::RegionPath,
            S::ResponsibleCode,
            S::ResponsiblePath,
            S::ResponsibleUnit,
            S::ResponsibleOrganizationId,
            S::TargetClass,
            S::ControlLevel,
            S::UpstreamSectionId,
            S::LatitudeMicro,
            S::LongitudeMicro,
            S::State,
            S::CreateTime,
            S::UpdateTime,
            S::Revision,
        ],
        S::Id.in_subquery(script::listed(backend, ids)),
    );
    select
        .select
        .order_by(S::Id, sea_orm::Order::Asc)
        .lock_exclusive();
    select
}

/// The select of the stored totals of the (section, day) `keys`; [`day_rows`] reads what
/// it returns.
fn days_select(backend: DatabaseBackend, keys: &[(i64, NaiveDate)]) -> script::JsonSelect {
    use water_section_day::Column as C;
    let mut days = script::json_select(
        water_section_day::Entity,
        &[C::SectionId, C::Day, C::Samples, C::Exceeding],
        Expr::tuple([Expr::col(C::SectionId), Expr::col(C::Day)])
            .in_subquery(script::pairs(backend, keys)),
    );
    // JSON holds no bytes: the sums come back as hex.
    let hex = match backend {
        DatabaseBackend::Sqlite => "hex(\"sums\")",
        _ => "encode(\"sums\", 'hex')",
    };
    days.select.expr_as(Expr::cust(hex), Alias::new("sums"));
    days.columns.push("sums".to_owned());
    days
}

/// The day totals [`days_select`] returned, by (section, day).
fn day_rows(rows: Vec<serde_json::Value>) -> Result<HashMap<(i64, NaiveDate), DayTotals>, Error> {
    #[derive(serde::Deserialize)]
    struct DayRow {
        section_id: i64,
        day: NaiveDate,
        samples: i32,
        exceeding: i32,
        sums: String,
    }
    let mut totals = HashMap::new();
    for row in script::rows_of::<DayRow>(rows)? {
        let sums = secret::hex_to_bytes(&row.sums)
            .ok_or_else(|| anyhow::anyhow!("stored water day totals are damaged"))?;
        let (id, day, t) = day_totals((row.section_id, row.day, row.samples, row.exceeding, sums))?;
        totals.insert((id, day), t);
    }
    Ok(totals)
}

/// A section as [`sampling`] reads it back from JSON.
#[derive(serde::Deserialize)]
struct SectionJson {
    id: i64,
    code: String,
    display_name: String,
    water_body: String,
    #[serde(deserialize_with = "stored_enum::deserialize")]
    water_body_type: WaterBodyType,
    region_code: String,
    region_path: String,
    responsible_code: String,
    responsible_path: String,
    responsible_unit: String,
    responsible_organization_id: Option<i64>,
    #[serde(deserialize_with = "stored_enum::deserialize")]
    target_class: WaterClass,
    #[serde(deserialize_with = "stored_enum::deserialize")]
    control_level: ControlLevel,
    upstream_section_id: Option<i64>,
    latitude_micro: Option<i64>,
    longitude_micro: Option<i64>,
    #[serde(deserialize_with = "stored_enum::deserialize")]
    state: SectionState,
    create_time: DateTime<Utc>,
    update_time: DateTime<Utc>,
    revision: i64,
}

impl From<SectionJson> for SectionRow {
    fn from(s: SectionJson) -> Self {
        Self {
            id: s.id,
            code: s.code,
            display_name: s.display_name,
            water_body: s.water_body,
            water_body_type: s.water_body_type,
            region_code: s.region_code,
            region_path: s.region_path,
            responsible_code: s.responsible_code,
            responsible_path: s.responsible_path,
            responsible_unit: s.responsible_unit,
            responsible_organization_id: s.responsible_organization_id,
            target_class: s.target_class,
            control_level: s.control_level,
            upstream_section_id: s.upstream_section_id,
            latitude_micro: s.latitude_micro,
            longitude_micro: s.longitude_micro,
            state: s.state,
            create_time: s.create_time,
            update_time: s.update_time,
            revision: s.revision,
        }
    }
}

/// The stored totals of the (section, day) `keys` that have any; the caller holds the
/// sections' rows.
async fn days_for(
    db: &impl ConnectionTrait,
    keys: &[(i64, NaiveDate)],
) -> Result<HashMap<(i64, NaiveDate), DayTotals>, Error> {
    let select = days_select(db.get_database_backend(), keys);
    let rows = script::select_json(db, vec![select]).await?;
    day_rows(rows.into_iter().next().unwrap_or_default())
}

/// The write of the totals of (section, day) keys as they now stand, over what is
/// stored; the caller holds the sections' rows, so no other writer changes the days
/// meanwhile.
fn save_days(
    backend: DatabaseBackend,
    days: &[((i64, NaiveDate), &DayTotals)],
) -> Result<Statement, Error> {
    let too_many = || Error::from(anyhow::anyhow!("a day holds too many samples"));
    let mut rows = Vec::with_capacity(days.len());
    for ((section_id, day), totals) in days {
        rows.push(serde_json::json!([
            section_id,
            day.to_string(),
            i32::try_from(totals.samples).map_err(|_| too_many())?,
            i32::try_from(totals.exceeding).map_err(|_| too_many())?,
            secret::hex(&encode_sums(&totals.sums)),
        ]));
    }
    let select = script::json_table(backend, &["bigint", "date", "int", "int", "bytea"], false);
    let sql = format!(
        "INSERT INTO water_section_days (section_id, day, samples, exceeding, sums) {select} \
         ON CONFLICT (section_id, day) DO UPDATE SET samples = excluded.samples, \
         exceeding = excluded.exceeding, sums = excluded.sums"
    );
    Ok(Statement::from_sql_and_values(
        backend,
        sql,
        [script::json_array(rows).into()],
    ))
}

/// The inline scan of [`days_of`]; its columns are those of `water_section_days`.
const DAYS_OF_SECTIONS: &str = "SELECT section_id, day, samples, exceeding, sums \
     FROM water_section_days WHERE section_id IN (SELECT value FROM json_each(?1)) \
     AND day >= ?2 AND day <= ?3 ORDER BY section_id, day";

/// As [`days`], on a SQLite file read inline on a blocking thread: an assessment of a
/// region over a year reads some 18,000 rows, which sqlx would hand over one at a time.
///
/// # Errors
/// The pool's, after an inline failure; INTERNAL for damaged totals.
pub async fn days_of(
    store: &Store,
    ids: &[i64],
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<(i64, NaiveDate, DayTotals)>, Error> {
    if store.point_reader().is_some() {
        let (inline, ids_json) = (
            store.clone(),
            serde_json::to_string(ids).map_err(anyhow::Error::from)?,
        );
        let scanned = tokio::task::spawn_blocking(move || {
            let reader = inline.point_reader()?;
            Some(reader.rows(
                DAYS_OF_SECTIONS,
                rusqlite::params![ids_json, from.to_string(), to.to_string()],
                |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        super::sqlite::point_read::date(row, "day")?,
                        row.get::<_, i32>(2)?,
                        row.get::<_, i32>(3)?,
                        row.get::<_, Vec<u8>>(4)?,
                    ))
                },
            ))
        })
        .await
        .map_err(anyhow::Error::from)?;
        match scanned {
            Some(Ok(rows)) => return rows.into_iter().map(day_totals).collect(),
            Some(Err(e)) => {
                tracing::debug!(error = %e, "inline scan failed; reading through the pool")
            }
            None => {}
        }
    }
    days(store.db(), ids, from, to).await
}

/// A stored day's totals.
fn day_totals(
    (id, day, samples, exceeding, sums): (i64, NaiveDate, i32, i32, Vec<u8>),
) -> Result<(i64, NaiveDate, DayTotals), Error> {
    Ok((
        id,
        day,
        DayTotals {
            samples: i64::from(samples),
            exceeding: i64::from(exceeding),
            sums: decode_sums(&sums)?,
        },
    ))
}

/// The day totals of sections `ids` on the days `[from, to]`, by section and day.
pub async fn days(
    db: &impl ConnectionTrait,
    ids: &[i64],
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<(i64, NaiveDate, DayTotals)>, Error> {
    use water_section_day::Column as C;
    let rows: Vec<(i64, NaiveDate, i32, i32, Vec<u8>)> = water_section_day::Entity::find()
        .select_only()
        .columns([C::SectionId, C::Day, C::Samples, C::Exceeding, C::Sums])
        .filter(C::SectionId.is_in(ids.iter().copied()))
        .filter(C::Day.gte(from))
        .filter(C::Day.lte(to))
        .order_by_asc(C::SectionId)
        .order_by_asc(C::Day)
        .into_tuple()
        .all(db)
        .await?;
    rows.into_iter().map(day_totals).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_sums_read_back_as_written() {
        let sums = vec![
            ParameterSum {
                parameter: WaterParameter::Ph,
                count: 3,
                sum: 22_500_000,
            },
            ParameterSum {
                parameter: WaterParameter::FecalColiform,
                count: 86_400,
                sum: -1,
            },
        ];
        assert_eq!(decode_sums(&encode_sums(&sums)).unwrap(), sums);
        assert!(decode_sums(&[1, 2, 3]).is_err());
    }
}
