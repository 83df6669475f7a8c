//! Supervision queries: entries, and their append-only timelines.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{Set, Unchanged},
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, Order, QueryFilter,
    QueryOrder, QuerySelect, Statement,
    sea_query::{CaseStatement, Expr, ExprTrait},
};

use super::{
    changed,
    entities::{stored_enum, supervision_entry, supervision_event},
    rows,
    sqlite::script::{self, JsonSelect},
};
use crate::{
    domain::{
        Numbered,
        access::Role,
        supervision::{Category, Evidence, Party, Severity, State, Step},
        supervision_query::{Cursor, EntryFilter, EntryOrder, OrderKey},
    },
    error::Error,
};

pub use supervision_entry::Model as EntryRow;
pub use supervision_event::Model as EventRow;

/// The PostgreSQL advisory lock that orders timeline events store-wide ("duikou-sv").
const FEED_LOCK: i64 = 0x6475_696b_6f75_7376;

/// An entry to insert, its place already found. It starts SUBMITTED, with no due date or
/// resolution.
#[derive(Debug, Clone)]
pub struct NewEntry<'a> {
    /// Who files it.
    pub party: Party,
    /// The subject's name, or empty.
    pub subject: &'a str,
    /// The region's code.
    pub region_code: String,
    /// The region's path.
    pub region_path: String,
    /// The pairing the subject belongs to.
    pub pairing_id: Option<i64>,
    /// The project the subject belongs to.
    pub project_id: Option<i64>,
    /// What it is about.
    pub category: Category,
    /// How serious it is.
    pub severity: Severity,
    /// One-line summary.
    pub title: &'a str,
    /// What was found.
    pub description: &'a str,
    /// The evidence filed with it.
    pub evidence: &'a [Evidence],
    /// The reporter's name: personal data.
    pub reporter_name: &'a str,
    /// The reporter's contact: personal data.
    pub reporter_contact: &'a str,
    /// SHA-256 of a public report's tracking code.
    pub tracking_hash: Option<String>,
    /// Who must fix it, where known at filing (an exceedance's section names it); else
    /// empty until acceptance.
    pub responsible_unit: &'a str,
    /// The registered organisation that must fix it.
    pub responsible_organization_id: Option<i64>,
    /// The section whose exceedance files it; none for every other entry.
    pub water_section_id: Option<i64>,
}

/// What a step sets on a stored entry; a field left `None` stays as stored.
#[derive(Debug, Clone, Default)]
pub struct EntryChange {
    /// A new state.
    pub state: Option<State>,
    /// A new responsible unit.
    pub responsible_unit: Option<String>,
    /// A new registered responsible organisation, or none.
    pub responsible_organization_id: Option<Option<i64>>,
    /// A new due date.
    pub due_date: Option<NaiveDate>,
    /// The whole evidence list, as it now stands.
    pub evidence: Option<Vec<Evidence>>,
    /// A new resolution.
    pub resolution: Option<Resolution>,
}

/// When and how an entry was last resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolution {
    /// When.
    pub time: DateTime<Utc>,
    /// Seconds from submission.
    pub seconds: i64,
    /// Whether it met the due date; none without one.
    pub on_time: Option<bool>,
}

/// An event to append to an entry's timeline.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// The actor's role; none when anonymous.
    pub actor_role: Option<Role>,
    /// The actor's token label, or empty.
    pub actor_label: String,
    /// A member of the public without a token.
    pub anonymous: bool,
    /// The step.
    pub step: Step,
    /// The state before; none for the submission.
    pub from_state: Option<State>,
    /// The state after.
    pub to_state: State,
    /// The step's text.
    pub note: String,
    /// On acceptance, the responsible unit; else empty.
    pub responsible_unit: String,
    /// On acceptance or reopening, the due date set.
    pub due_date: Option<NaiveDate>,
    /// The evidence the step brought.
    pub evidence: Vec<Evidence>,
    /// Whether the author of a comment published it (the steps of the course are public
    /// whatever it says).
    pub public: bool,
}

/// Inserts an entry filed at `now`.
pub async fn insert(
    db: &impl ConnectionTrait,
    new: &NewEntry<'_>,
    now: DateTime<Utc>,
) -> Result<EntryRow, Error> {
    let row = supervision_entry::ActiveModel {
        party: Set(new.party),
        subject: Set(new.subject.to_owned()),
        region_code: Set(new.region_code.clone()),
        region_path: Set(new.region_path.clone()),
        pairing_id: Set(new.pairing_id),
        project_id: Set(new.project_id),
        resolve_seconds: Set(None),
        resolved_on_time: Set(None),
        category: Set(new.category),
        severity: Set(new.severity),
        title: Set(new.title.to_owned()),
        description: Set(new.description.to_owned()),
        evidence: Set(Evidence::store_list(new.evidence)),
        reporter_name: Set(new.reporter_name.to_owned()),
        reporter_contact: Set(new.reporter_contact.to_owned()),
        responsible_unit: Set(new.responsible_unit.to_owned()),
        responsible_organization_id: Set(new.responsible_organization_id),
        water_section_id: Set(new.water_section_id),
        due_date: Set(None),
        state: Set(State::Submitted),
        resolve_time: Set(None),
        tracking_hash: Set(new.tracking_hash.clone()),
        create_time: Set(now),
        update_time: Set(now),
        event_count: Set(0),
        revision: Set(1),
        ..Default::default()
    };
    Ok(row.insert(db).await?)
}

/// The open entry (neither settled nor rejected) that an exceedance at section
/// `section_id` filed, latest first, locked for change.
pub async fn open_water_entry(
    db: &impl ConnectionTrait,
    section_id: i64,
) -> Result<Option<EntryRow>, Error> {
    use supervision_entry::Column as C;
    Ok(supervision_entry::Entity::find()
        .filter(C::WaterSectionId.eq(section_id))
        .filter(C::State.is_not_in([State::Resolved, State::Closed, State::Rejected]))
        .order_by_desc(C::Id)
        .lock_exclusive()
        .one(db)
        .await?)
}

/// An open entry as a batch of samples needs it: its id, section, state and event count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenWaterEntry {
    /// The entry.
    pub id: i64,
    /// The section whose exceedance filed it.
    pub section_id: i64,
    /// Its state.
    pub state: State,
    /// Its events so far.
    pub event_count: i32,
}

/// The select of the open entries that exceedances at sections `section_ids` filed, in
/// id order, locked for change on PostgreSQL: a section's latest is the one
/// [`open_water_entry`] finds. [`open_water_rows`] reads what it returns.
pub fn open_water_select(backend: DbBackend, section_ids: &[i64]) -> JsonSelect {
    use supervision_entry::Column as C;
    let mut select = script::json_select(
        supervision_entry::Entity,
        &[C::Id, C::WaterSectionId, C::State, C::EventCount],
        Condition::all()
            .add(C::WaterSectionId.in_subquery(script::listed(backend, section_ids)))
            .add(C::State.is_not_in([State::Resolved, State::Closed, State::Rejected])),
    );
    select.select.order_by(C::Id, Order::Asc).lock_exclusive();
    select
}

/// The open entries [`open_water_select`] returned.
///
/// # Errors
/// INTERNAL when a row does not read back.
pub fn open_water_rows(rows: Vec<serde_json::Value>) -> Result<Vec<OpenWaterEntry>, Error> {
    #[derive(serde::Deserialize)]
    struct Row {
        id: i64,
        water_section_id: i64,
        #[serde(deserialize_with = "stored_enum::deserialize")]
        state: State,
        event_count: i32,
    }
    Ok(script::rows_of::<Row>(rows)?
        .into_iter()
        .map(|r| OpenWaterEntry {
            id: r.id,
            section_id: r.water_section_id,
            state: r.state,
            event_count: r.event_count,
        })
        .collect())
}

/// The entry of a public report's tracking code hash.
pub async fn by_tracking_hash(
    db: &impl ConnectionTrait,
    hash: &str,
) -> Result<Option<EntryRow>, Error> {
    Ok(supervision_entry::Entity::find()
        .filter(supervision_entry::Column::TrackingHash.eq(hash))
        .one(db)
        .await?)
}

/// Writes a step's change to an entry at `now`, bumping its revision and update time.
pub async fn save(
    db: &impl ConnectionTrait,
    current: &EntryRow,
    change: EntryChange,
    now: DateTime<Utc>,
) -> Result<EntryRow, Error> {
    let resolution = change.resolution;
    let row = supervision_entry::ActiveModel {
        id: Unchanged(current.id),
        state: changed(change.state),
        responsible_unit: changed(change.responsible_unit),
        responsible_organization_id: changed(change.responsible_organization_id),
        due_date: changed(change.due_date.map(Some)),
        evidence: changed(change.evidence.map(|e| Evidence::store_list(&e))),
        resolve_time: changed(resolution.map(|r| Some(r.time))),
        resolve_seconds: changed(resolution.map(|r| Some(r.seconds))),
        resolved_on_time: changed(resolution.map(|r| r.on_time)),
        revision: Set(current.revision + 1),
        update_time: Set(now),
        ..Default::default()
    };
    Ok(row.update(db).await?)
}

/// Appends `event`, taken at `now`, to the timeline of `entry` (read in this transaction)
/// as its next event, and counts it on the entry.
///
/// Events are numbered store-wide in the order they commit, which is what watchers follow:
/// on PostgreSQL the transaction first takes a lock held until it ends, so no event can
/// take a lower number and commit after a higher one; SQLite has one writer at a time.
///
/// # Errors
/// [`Error::Contention`] when a concurrent transaction appended first (retried); the
/// database's failures.
pub async fn append(
    db: &impl ConnectionTrait,
    entry: &EntryRow,
    event: NewEvent,
    now: DateTime<Utc>,
) -> Result<EventRow, Error> {
    lock_feed(db).await?;
    use supervision_entry::Column as C;
    let counted = supervision_entry::Entity::update_many()
        .col_expr(C::EventCount, Expr::col(C::EventCount).add(1))
        .filter(C::Id.eq(entry.id))
        .filter(C::EventCount.eq(entry.event_count))
        .exec(db)
        .await?;
    if counted.rows_affected != 1 {
        return Err(Error::Contention);
    }
    Ok(event_model(entry.id, entry.event_count + 1, event, now)
        .insert(db)
        .await?)
}

/// Events to append to one entry's timeline: the entry, its event count as read in this
/// transaction, and the events, in order.
#[derive(Debug, Clone)]
pub struct Appended {
    /// The entry.
    pub entry_id: i64,
    /// Its event count when read.
    pub count: i32,
    /// The events to append after it.
    pub events: Vec<NewEvent>,
}

/// As [`append`], for many events of many entries at `now`, whose rows the caller has
/// read locked in this transaction (so no other writer appends to them meanwhile): the
/// statements that move the entries' counts and insert the events, numbered store-wide
/// in the order given, for the caller to run in the same transaction. Neither returns
/// rows.
///
/// # Errors
/// The database's failures.
pub async fn append_statements(
    db: &impl ConnectionTrait,
    appended: &[Appended],
    now: DateTime<Utc>,
) -> Result<Vec<Statement>, Error> {
    let appended: Vec<&Appended> = appended.iter().filter(|a| !a.events.is_empty()).collect();
    if appended.is_empty() {
        return Ok(Vec::new());
    }
    lock_feed(db).await?;
    let backend = db.get_database_backend();
    let mut counts = Vec::with_capacity(appended.len());
    for a in &appended {
        let after = i32::try_from(a.events.len())
            .ok()
            .and_then(|n| a.count.checked_add(n))
            .ok_or_else(|| anyhow::anyhow!("entry {} would hold too many events", a.entry_id))?;
        counts.push(serde_json::json!([a.entry_id, after]));
    }
    let sql = match backend {
        DbBackend::Sqlite => {
            "UPDATE supervision_entries AS t SET event_count = k.value ->> 1 \
             FROM json_each(?) AS k WHERE t.id = k.value ->> 0"
        }
        _ => {
            "UPDATE supervision_entries AS t SET event_count = (k.x ->> 1)::int \
             FROM jsonb_array_elements($1::jsonb) AS k(x) WHERE t.id = (k.x ->> 0)::bigint"
        }
    };
    let count = Statement::from_sql_and_values(backend, sql, [script::json_array(counts).into()]);
    let rows = appended.iter().flat_map(|a| {
        a.events.iter().zip(a.count + 1..).map(|(e, seq)| {
            serde_json::json!([
                a.entry_id,
                seq,
                e.actor_role.map(Role::to_i16),
                e.actor_label,
                e.anonymous,
                e.step.to_i16(),
                e.from_state.map(State::to_i16),
                e.to_state.to_i16(),
                e.note,
                e.responsible_unit,
                e.due_date.map(|d| d.to_string()),
                Evidence::store_list(&e.evidence),
                e.public,
            ])
        })
    });
    let select = script::json_table(backend, EVENT_TYPES, true);
    let sql = format!(
        "INSERT INTO supervision_events (entry_id, seq, actor_role, actor_label, anonymous, \
         step, from_state, to_state, note, responsible_unit, due_date, evidence, public, \
         create_time) {select}"
    );
    let insert =
        Statement::from_sql_and_values(backend, sql, [now.into(), script::json_array(rows).into()]);
    Ok(vec![count, insert])
}

/// The types of an event's columns as [`append_statements`] sends them.
const EVENT_TYPES: &[&str] = &[
    "bigint", "int", "smallint", "text", "boolean", "smallint", "smallint", "smallint", "text",
    "text", "date", "text", "boolean",
];

/// Takes the lock that orders the supervision feed, on PostgreSQL, until the transaction
/// ends; SQLite's write lock already orders it.
async fn lock_feed(db: &impl ConnectionTrait) -> Result<(), Error> {
    super::lock_until_commit(db, FEED_LOCK).await
}

/// Event `seq` of entry `entry_id`, as stored.
fn event_model(
    entry_id: i64,
    seq: i32,
    event: NewEvent,
    now: DateTime<Utc>,
) -> supervision_event::ActiveModel {
    supervision_event::ActiveModel {
        entry_id: Set(entry_id),
        seq: Set(seq),
        create_time: Set(now),
        actor_role: Set(event.actor_role),
        actor_label: Set(event.actor_label),
        anonymous: Set(event.anonymous),
        step: Set(event.step),
        from_state: Set(event.from_state),
        to_state: Set(event.to_state),
        note: Set(event.note),
        responsible_unit: Set(event.responsible_unit),
        due_date: Set(event.due_date),
        evidence: Set(Evidence::store_list(&event.evidence)),
        public: Set(event.public),
        ..Default::default()
    }
}

/// A page of an entry's timeline, oldest first, after event `after` if given.
pub async fn events(
    db: &impl ConnectionTrait,
    entry_id: i64,
    after: Option<i64>,
    limit: u64,
) -> Result<Vec<EventRow>, Error> {
    use supervision_event::Column as C;
    let select = supervision_event::Entity::find().filter(C::EntryId.eq(entry_id));
    rows::page_after(db, select, C::Seq, after, limit).await
}

/// The store-wide number of event `seq` of entry `entry_id`, if there is one.
pub async fn event_position(
    db: &impl ConnectionTrait,
    entry_id: i64,
    seq: i64,
) -> Result<Option<i64>, Error> {
    use supervision_event::Column as C;
    Ok(supervision_event::Entity::find()
        .select_only()
        .column(C::Id)
        .filter(C::EntryId.eq(entry_id))
        .filter(C::Seq.eq(seq))
        .into_tuple()
        .one(db)
        .await?)
}

/// The store-wide number of the latest event; 0 before the first.
pub async fn last_event_position(db: &impl ConnectionTrait) -> Result<i64, Error> {
    use supervision_event::Column as C;
    let last: Option<Option<i64>> = supervision_event::Entity::find()
        .select_only()
        .expr(Expr::col(C::Id).max())
        .into_tuple()
        .one(db)
        .await?;
    Ok(last.flatten().unwrap_or(0))
}

/// Up to `limit` events of every entry stored after position `after`, in store order,
/// each with its entry.
pub async fn events_after(
    db: &impl ConnectionTrait,
    after: i64,
    limit: u64,
) -> Result<Vec<(EventRow, EntryRow)>, Error> {
    use supervision_event::Column as C;
    let events = supervision_event::Entity::find()
        .filter(C::Id.gt(after))
        .order_by_asc(C::Id)
        .limit(limit)
        .all(db)
        .await?;
    let mut ids: Vec<i64> = events.iter().map(|e| e.entry_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let entries: std::collections::HashMap<i64, EntryRow> = supervision_entry::Entity::find()
        .filter(supervision_entry::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|e| (e.id, e))
        .collect();
    events
        .into_iter()
        .map(|event| {
            let entry = entries.get(&event.entry_id).cloned().ok_or_else(|| {
                Error::from(anyhow::anyhow!(
                    "supervision event {} has no entry {}",
                    event.id,
                    event.entry_id
                ))
            })?;
            Ok((event, entry))
        })
        .collect()
}

/// Which entries a list or a summary covers.
#[derive(Debug, Clone)]
pub struct EntryQuery {
    /// What the caller's filter asks for; its region is read from `region_within`.
    pub filter: EntryFilter,
    /// The day in China on which the filter's `overdue` is judged.
    pub today: NaiveDate,
    /// Only entries whose region's path starts with this one.
    pub region_within: Option<String>,
    /// Only entries whose subject belongs to this pairing.
    pub pairing_id: Option<i64>,
    /// Only entries whose subject belongs to a pairing of this program.
    pub program_id: Option<i64>,
    /// Only entries whose subject belongs to this project.
    pub project_id: Option<i64>,
    /// Only entries filed in `[from, to)`.
    pub filed_between: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

/// The states in which an entry past its due date is overdue.
const OPEN_WITH_DUE_DATE: [State; 2] = [State::Accepted, State::Rectifying];

/// Entries overdue on `today`: past their due date, and accepted or being rectified.
fn overdue_on(today: NaiveDate) -> Condition {
    use supervision_entry::Column as C;
    Condition::all()
        .add(C::DueDate.lt(today))
        .add(C::State.is_in(OPEN_WITH_DUE_DATE))
}

impl EntryQuery {
    /// Every entry, with overdue judged on `today`, a day in China.
    pub fn on(today: NaiveDate) -> Self {
        Self {
            filter: EntryFilter::default(),
            today,
            region_within: None,
            pairing_id: None,
            program_id: None,
            project_id: None,
            filed_between: None,
        }
    }

    fn condition(&self) -> Condition {
        use supervision_entry::Column as C;
        let (filter, today) = (&self.filter, self.today);
        let within = self.region_within.as_deref();
        let mut cond = Condition::all()
            .add_option(filter.state.map(|state| C::State.eq(state)))
            .add_option(filter.party.map(|party| C::Party.eq(party)))
            .add_option(filter.category.map(|category| C::Category.eq(category)))
            .add_option(filter.severity.map(|severity| C::Severity.eq(severity)))
            .add_option(
                filter
                    .subject
                    .as_deref()
                    .map(|subject| C::Subject.eq(subject)),
            )
            .add_option(within.map(|path| rows::path_within(C::RegionPath, path)))
            .add_option(
                filter
                    .responsible_organization_id
                    .map(|id| C::ResponsibleOrganizationId.eq(id)),
            );
        match filter.overdue {
            Some(true) => cond = cond.add(overdue_on(today)),
            // Without a due date the comparison is NULL, and so is its negation: those
            // entries are named apart. (A NOT NULL inside `overdue_on` would instead lead
            // SQLite to sort every past-due entry for each page.)
            Some(false) => {
                cond = cond.add(
                    Condition::any()
                        .add(C::DueDate.is_null())
                        .add(overdue_on(today).not()),
                );
            }
            None => {}
        }
        let of_program = |id| C::PairingId.in_subquery(rows::pairings_of_program(id));
        cond.add_option(self.pairing_id.map(|id| C::PairingId.eq(id)))
            .add_option(self.program_id.map(of_program))
            .add_option(self.project_id.map(|id| C::ProjectId.eq(id)))
            .add_option(
                self.filed_between
                    .map(|(from, to)| C::CreateTime.gte(from).and(C::CreateTime.lt(to))),
            )
    }
}

/// A page of the entries of `query` in `order`, after `cursor` if given. Entries without
/// a due date come last in due-date order, either way.
pub async fn list(
    db: &impl ConnectionTrait,
    query: &EntryQuery,
    order: EntryOrder,
    cursor: Option<&Cursor>,
    limit: u64,
) -> Result<Vec<EntryRow>, Error> {
    use supervision_entry::Column as C;
    let direction = if order.descending {
        Order::Desc
    } else {
        Order::Asc
    };
    // (key, id) compared as a row value, which both databases answer from an index.
    let after = |key: Expr, id: i64, column: C| {
        let row = Expr::tuple([Expr::col(column), Expr::col(C::Id)]);
        let at = Expr::tuple([key, Expr::val(id)]);
        if order.descending {
            row.lt(at)
        } else {
            row.gt(at)
        }
    };
    let select = |extra: Condition, key: C| {
        supervision_entry::Entity::find()
            .filter(query.condition())
            .filter(extra)
            .order_by(key, direction.clone())
            .order_by(C::Id, direction.clone())
    };
    match order.key {
        OrderKey::CreateTime | OrderKey::Severity => {
            let column = if order.key == OrderKey::CreateTime {
                C::CreateTime
            } else {
                C::Severity
            };
            let extra = match cursor {
                None => Condition::all(),
                Some(Cursor::CreateTime(time, id)) => {
                    Condition::all().add(after(Expr::val(*time), *id, column))
                }
                Some(Cursor::Severity(severity, id)) => {
                    Condition::all().add(after(Expr::val(*severity), *id, column))
                }
                Some(Cursor::DueDate(..)) => {
                    return Err(anyhow::anyhow!("a due-date cursor for another order").into());
                }
            };
            Ok(select(extra, column).limit(limit).all(db).await?)
        }
        OrderKey::DueDate => {
            // Those with a due date first, then those without, in creation order.
            let (dated_after, undated_after) = match cursor {
                None => (Some(None), None),
                Some(Cursor::DueDate(Some(date), id)) => (Some(Some((*date, *id))), None),
                Some(Cursor::DueDate(None, id)) => (None, Some(*id)),
                Some(_) => {
                    return Err(anyhow::anyhow!("another order's cursor for due dates").into());
                }
            };
            let mut rows = Vec::new();
            if let Some(dated_after) = dated_after {
                let mut extra = Condition::all().add(C::DueDate.is_not_null());
                if let Some((date, id)) = dated_after {
                    extra = extra.add(after(Expr::val(date), id, C::DueDate));
                }
                rows = select(extra, C::DueDate).limit(limit).all(db).await?;
            }
            let left = limit.saturating_sub(rows.len() as u64);
            if left > 0 {
                let mut extra = Condition::all().add(C::DueDate.is_null());
                if let Some(id) = undated_after {
                    extra = extra.add(if order.descending {
                        C::Id.lt(id)
                    } else {
                        C::Id.gt(id)
                    });
                }
                rows.extend(select(extra, C::Id).limit(left).all(db).await?);
            }
            Ok(rows)
        }
    }
}

/// Entry counts summed as every summary reports them: by state, party and category (each
/// by its API number), overdue while accepted or being rectified, resolved once resolved
/// or closed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Entries.
    pub entries: i64,
    /// By state number.
    pub by_state: std::collections::BTreeMap<i32, i64>,
    /// By party number.
    pub by_party: std::collections::BTreeMap<i32, i64>,
    /// By category number.
    pub by_category: std::collections::BTreeMap<i32, i64>,
    /// Past their due date and still open.
    pub overdue: i64,
    /// Resolved or closed.
    pub resolved: i64,
    /// Of the resolved, resolved by their due date.
    pub resolved_on_time: i64,
}

impl Tally {
    /// The tally of `counts`.
    pub fn of(counts: &[EntryCounts]) -> Self {
        let mut t = Self::default();
        for c in counts {
            *t.by_state.entry(c.state.number()).or_default() += c.entries;
            *t.by_party.entry(c.party.number()).or_default() += c.entries;
            *t.by_category.entry(c.category.number()).or_default() += c.entries;
            t.entries += c.entries;
            match c.state {
                State::Accepted | State::Rectifying => t.overdue += c.past_due,
                State::Resolved | State::Closed => {
                    t.resolved += c.entries;
                    t.resolved_on_time += c.resolved_on_time;
                }
                _ => {}
            }
        }
        t
    }
}

/// The entries of `query` tallied, with the middle one or two of the resolved ones'
/// resolution times in seconds, for the median.
pub async fn tally(
    db: &impl ConnectionTrait,
    query: &EntryQuery,
) -> Result<(Tally, Vec<i64>), Error> {
    let tally = Tally::of(&counts(db, query).await?);
    let middle = middle_resolve_seconds(db, query, tally.resolved as u64).await?;
    Ok((tally, middle))
}

/// The entries of one state, party and category in a summary's scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryCounts {
    /// The state.
    pub state: State,
    /// The party.
    pub party: Party,
    /// The category.
    pub category: Category,
    /// Entries.
    pub entries: i64,
    /// Of them, those past their due date on the summary's day.
    pub past_due: i64,
    /// Of them, those whose last resolution met its due date.
    pub resolved_on_time: i64,
}

/// The entries of `query`, counted per state, party and category by the database, with
/// those past their due date on the query's day.
pub async fn counts(
    db: &impl ConnectionTrait,
    query: &EntryQuery,
) -> Result<Vec<EntryCounts>, Error> {
    use supervision_entry::Column as C;
    let today = query.today;
    let count_when = |cond: Condition| {
        Expr::expr(
            CaseStatement::new()
                .case(cond, Expr::val(1))
                .finally(Expr::val(0)),
        )
        .sum()
        .cast_as("BIGINT")
    };
    let rows: Vec<(State, Party, Category, i64, i64, i64)> = supervision_entry::Entity::find()
        .select_only()
        .column(C::State)
        .column(C::Party)
        .column(C::Category)
        .expr(Expr::col(C::Id).count().cast_as("BIGINT"))
        .expr(count_when(Condition::all().add(C::DueDate.lt(today))))
        .expr(count_when(Condition::all().add(C::ResolvedOnTime.eq(true))))
        .filter(query.condition())
        .group_by(C::State)
        .group_by(C::Party)
        .group_by(C::Category)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(state, party, category, entries, past_due, resolved_on_time)| EntryCounts {
                state,
                party,
                category,
                entries,
                past_due,
                resolved_on_time,
            },
        )
        .collect())
}

/// The middle one or two of the resolution times (seconds) of the resolved entries of
/// `query`, of which there are `resolved`.
pub async fn middle_resolve_seconds(
    db: &impl ConnectionTrait,
    query: &EntryQuery,
    resolved: u64,
) -> Result<Vec<i64>, Error> {
    use supervision_entry::Column as C;
    if resolved == 0 {
        return Ok(Vec::new());
    }
    let seconds: Vec<Option<i64>> = supervision_entry::Entity::find()
        .select_only()
        .column(C::ResolveSeconds)
        .filter(query.condition())
        .filter(C::State.is_in([State::Resolved, State::Closed]))
        .order_by_asc(C::ResolveSeconds)
        .offset((resolved - 1) / 2)
        .limit(2 - resolved % 2)
        .into_tuple()
        .all(db)
        .await?;
    Ok(seconds.into_iter().flatten().collect())
}
