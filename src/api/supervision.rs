//! `duikou.v1.SupervisionService`: oversight carried to accountability. Each entry runs
//! its course through custom methods, each one an event on an append-only timeline; the
//! rules of the course and of who may take each step are in `domain::supervision`.
//!
//! The reporter is personal data: only ADMIN, AUDITOR and SUPERVISOR see it, and the public
//! view of a report never shows it.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::ConnectionTrait;
use tonic::{Request, Response, Status};

use super::{
    SummaryScope, authz, check_etag, etag, filter_region_path, record, record_by, request_key,
    required, summary_scope,
    supervision_feed::{Events, Feed, Wanted},
    timestamp,
};
use crate::{
    config::ServerSettings,
    domain::{
        access::{Caller, Role},
        audit::Actor,
        clock::Clock,
        name,
        page::Page,
        period::{format_date, parse_date},
        region::{RegionCode, RegionPath},
        supervision::{
            Category, Evidence, Party, Severity, State, Step, TrackingCode, is_overdue, median,
            on_time, today, year_bounds,
        },
        supervision_query::{EntryFilter, EntryOrder, Purpose},
        text,
    },
    error::Error,
    proto::v1::{
        AcceptSupervisionEntryRequest, AddSupervisionCommentRequest, CloseSupervisionEntryRequest,
        GetSupervisionEntryRequest, GetSupervisionSummaryRequest, ListSupervisionEntriesRequest,
        ListSupervisionEntriesResponse, ListSupervisionEventsRequest,
        ListSupervisionEventsResponse, LookupSupervisionEntryRequest, PublicSupervisionView,
        RejectSupervisionEntryRequest, ReopenSupervisionEntryRequest, Reporter,
        ResolveSupervisionEntryRequest, StartRectificationRequest, SubmitSupervisionEntryRequest,
        SubmitSupervisionEntryResponse, SupervisionActor, SupervisionCategoryCount,
        SupervisionEntry, SupervisionEvent, SupervisionPartyCount, SupervisionStateCount,
        SupervisionSummary, WatchSupervisionEventsRequest,
        supervision_service_server::SupervisionService,
    },
    store::{
        Store, fund, idempotency, pairing as pairings, project as projects, region,
        supervision::{
            self as entries, EntryChange, EntryQuery, EntryRow, EventRow, NewEntry, NewEvent,
            Resolution,
        },
        talent as talents,
    },
};

const SERVICE: &str = "/duikou.v1.SupervisionService/";

/// The method that takes `step`.
fn method(step: Step) -> String {
    let name = match step {
        Step::Submit => "SubmitSupervisionEntry",
        Step::Accept => "AcceptSupervisionEntry",
        Step::Reject => "RejectSupervisionEntry",
        Step::StartRectification => "StartRectification",
        Step::Resolve => "ResolveSupervisionEntry",
        Step::Close => "CloseSupervisionEntry",
        Step::Reopen => "ReopenSupervisionEntry",
        Step::Comment => "AddSupervisionComment",
    };
    format!("{SERVICE}{name}")
}

/// Serves supervision entries from the store.
#[derive(Clone)]
pub struct Supervision {
    store: Store,
    /// The time steps are taken at and entries are overdue by.
    clock: Clock,
    /// Public reports one client address may file per hour; 0: no limit.
    public_reports_per_hour: u32,
    /// The watchers of new events.
    feed: Feed,
}

impl Supervision {
    /// A service over `store` reading time from `clock`, with the public report limit and
    /// the watch settings of `settings`; watch streams end when `stop` turns true.
    pub fn new(
        store: Store,
        clock: Clock,
        settings: &ServerSettings,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> Self {
        Self {
            feed: Feed::new(store.clone(), settings, stop),
            store,
            clock,
            public_reports_per_hour: settings.public_reports_per_hour,
        }
    }
}

/// The key a public report's client address is counted under: its SHA-256, so that
/// addresses themselves are not kept.
fn client_key(address: Option<std::net::SocketAddr>) -> String {
    use sha2::{Digest, Sha256};
    let ip = address.map_or_else(|| "unknown".to_owned(), |a| a.ip().to_string());
    Sha256::digest(ip.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The entry id and number of an event's name, "supervisionEntries/{id}/events/{n}".
fn event_name(text: &str) -> Result<(i64, i64), Error> {
    let wrong = || {
        Error::invalid(
            "start_after",
            "must be an event's name, like \"supervisionEntries/1/events/2\"",
        )
    };
    let (entry, seq) = text.split_once("/events/").ok_or_else(wrong)?;
    let id = name::parse_id("start_after", "supervisionEntries", entry).map_err(|_| wrong())?;
    let seq = seq
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(wrong)?;
    Ok((id, seq))
}

fn not_found(id: i64) -> Error {
    Error::NotFound {
        reason: "SUPERVISION_ENTRY_NOT_FOUND",
        resource: name::format_id("supervisionEntries", id),
    }
}

fn evidence_to_proto(stored: &str) -> Vec<crate::proto::v1::Evidence> {
    Evidence::load_list(stored)
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "stored evidence is damaged");
            Vec::new()
        })
        .into_iter()
        .map(|e| crate::proto::v1::Evidence {
            uri: e.uri,
            sha256: e.sha256,
            description: e.description,
        })
        .collect()
}

fn evidence_of(field: &str, items: &[crate::proto::v1::Evidence]) -> Result<Vec<Evidence>, Error> {
    let items: Vec<(&str, &str, &str)> = items
        .iter()
        .map(|e| (e.uri.as_str(), e.sha256.as_str(), e.description.as_str()))
        .collect();
    Evidence::parse_list(field, &items)
}

/// Whether `caller` may see who reported an entry.
fn sees_reporter(caller: Option<&Caller>) -> bool {
    caller.is_some_and(|c| matches!(c.role, Role::Admin | Role::Auditor | Role::Supervisor))
}

/// The API form of a stored entry, with its reporter only when `reporter` allows;
/// `now` decides whether it is overdue.
fn to_proto(row: EntryRow, reporter: bool, now: DateTime<Utc>) -> SupervisionEntry {
    let state = State::from_number(i32::from(row.state));
    let overdue = state.is_some_and(|s| is_overdue(s, row.due_date, now));
    SupervisionEntry {
        name: name::format_id("supervisionEntries", row.id),
        party: i32::from(row.party),
        subject: row.subject,
        region: format!("regions/{}", row.region_code),
        category: i32::from(row.category),
        severity: i32::from(row.severity),
        title: row.title,
        description: row.description,
        evidence: evidence_to_proto(&row.evidence),
        reporter: reporter.then_some(Reporter {
            display_name: row.reporter_name,
            contact: row.reporter_contact,
        }),
        reporter_redacted: !reporter,
        responsible_unit: row.responsible_unit,
        due_date: row.due_date.map(format_date).unwrap_or_default(),
        state: i32::from(row.state),
        overdue,
        resolve_time: row.resolve_time.map(timestamp),
        create_time: Some(timestamp(row.create_time)),
        update_time: Some(timestamp(row.update_time)),
        etag: etag(row.revision),
    }
}

/// The API form of a stored event; `labels` false reduces the actor to its role.
fn event_to_proto(row: EventRow, labels: bool) -> SupervisionEvent {
    SupervisionEvent {
        name: format!(
            "{}/events/{}",
            name::format_id("supervisionEntries", row.entry_id),
            row.seq
        ),
        create_time: Some(timestamp(row.create_time)),
        actor: Some(SupervisionActor {
            role: row.actor_role.map_or(0, i32::from),
            label: if labels {
                row.actor_label
            } else {
                String::new()
            },
            anonymous: row.anonymous,
        }),
        step: i32::from(row.step),
        from_state: row.from_state.map_or(0, i32::from),
        to_state: i32::from(row.to_state),
        note: row.note,
        responsible_unit: row.responsible_unit,
        due_date: row.due_date.map(format_date).unwrap_or_default(),
        evidence: evidence_to_proto(&row.evidence),
    }
}

/// The event a step leaves, by `caller` (`None`: the public).
fn event_by(caller: Option<&Caller>, step: Step, from: Option<State>, to: State) -> NewEvent {
    NewEvent {
        actor_role: caller.map(|c| c.role),
        actor_label: caller.map(|c| c.label.clone()).unwrap_or_default(),
        anonymous: caller.is_none(),
        step,
        from_state: from,
        to_state: to,
        note: String::new(),
        responsible_unit: String::new(),
        due_date: None,
        evidence: Vec::new(),
    }
}

/// Where an entry stands: its region, and the pairing and project its subject belongs to.
struct Place {
    code: String,
    path: String,
    pairing_id: Option<i64>,
    project_id: Option<i64>,
}

/// The place of an entry about `subject`: a pairing's or talent exchange's supported
/// region, a project's location, a ledger line's project's location (or, for a
/// commitment, its pairing's supported region).
async fn place_of_subject(db: &impl ConnectionTrait, subject: &str) -> Result<Place, Error> {
    const FIELD: &str = "supervision_entry.subject";
    let missing = || Error::invalid(FIELD, format!("{subject} does not exist"));
    let deleted = || Error::invalid(FIELD, format!("{subject} is deleted"));
    let (collection, _) = subject.split_once('/').ok_or_else(|| {
        Error::invalid(
            FIELD,
            "must name a pairing, project, fund transaction or talent exchange",
        )
    })?;
    let pairing_place = |row: pairings::PairingRow| -> Result<Place, Error> {
        if row.delete_time.is_some() {
            return Err(deleted());
        }
        Ok(Place {
            pairing_id: Some(row.id),
            project_id: None,
            code: row.supported_code,
            path: row.supported_path,
        })
    };
    let project_place = |p: projects::ProjectRow| Place {
        pairing_id: Some(p.pairing_id),
        project_id: Some(p.id),
        code: p.location_code,
        path: p.location_path,
    };
    match collection {
        "pairings" => {
            let id = name::parse_id(FIELD, "pairings", subject)?;
            pairing_place(pairings::get(db, id).await?.ok_or_else(missing)?)
        }
        "projects" => {
            let id = name::parse_id(FIELD, "projects", subject)?;
            Ok(project_place(
                projects::get(db, id).await?.ok_or_else(missing)?,
            ))
        }
        "fundTransactions" => {
            let id = name::parse_id(FIELD, "fundTransactions", subject)?;
            let line = fund::get_many(db, &[id]).await?.pop().ok_or_else(missing)?;
            match line.project_id {
                Some(project) => Ok(project_place(
                    projects::get(db, project).await?.ok_or_else(missing)?,
                )),
                None => {
                    let row = pairings::get(db, line.pairing_id)
                        .await?
                        .ok_or_else(missing)?;
                    Ok(Place {
                        pairing_id: Some(row.id),
                        project_id: None,
                        code: row.supported_code,
                        path: row.supported_path,
                    })
                }
            }
        }
        "talentExchanges" => {
            let id = name::parse_id(FIELD, "talentExchanges", subject)?;
            let t = talents::get(db, id).await?.ok_or_else(missing)?;
            if t.delete_time.is_some() {
                return Err(deleted());
            }
            pairing_place(pairings::get(db, t.pairing_id).await?.ok_or_else(missing)?)
        }
        _ => Err(Error::invalid(
            FIELD,
            "must name a pairing, project, fund transaction or talent exchange",
        )),
    }
}

/// What a submission says, each field checked.
#[derive(Clone)]
struct Filing {
    party: Party,
    subject: String,
    region: Option<RegionCode>,
    category: Category,
    severity: Severity,
    title: String,
    description: String,
    evidence: Vec<Evidence>,
    reporter: Reporter,
}

impl Filing {
    fn parse(e: &SupervisionEntry) -> Result<Self, Error> {
        let party = Party::from_number(e.party).ok_or_else(|| {
            Error::invalid("supervision_entry.party", "must be an overseeing party")
        });
        let category = Category::from_number(e.category)
            .ok_or_else(|| Error::invalid("supervision_entry.category", "must be a category"));
        let severity = Severity::from_number(e.severity)
            .ok_or_else(|| Error::invalid("supervision_entry.severity", "must be a severity"));
        let region = match (e.region.as_str(), e.subject.as_str()) {
            ("", "") => Err(Error::invalid(
                "supervision_entry.region",
                "is required when there is no subject",
            )),
            ("", _) => Ok(None),
            (name, _) => RegionCode::from_name("supervision_entry.region", name).map(Some),
        };
        let subject = text::check("supervision_entry.subject", &e.subject, 64, false);
        let title = text::check("supervision_entry.title", &e.title, 200, true);
        let description = text::check("supervision_entry.description", &e.description, 4000, true);
        let evidence = evidence_of("supervision_entry.evidence", &e.evidence);
        let reporter = e.reporter.clone().unwrap_or_default();
        let reporter_name = text::check(
            "supervision_entry.reporter.display_name",
            &reporter.display_name,
            100,
            false,
        );
        let contact = text::check(
            "supervision_entry.reporter.contact",
            &reporter.contact,
            200,
            false,
        );
        Error::collect([
            Error::of(&party),
            Error::of(&subject),
            Error::of(&region),
            Error::of(&category),
            Error::of(&severity),
            title,
            description,
            Error::of(&evidence),
            reporter_name,
            contact,
        ])?;
        Ok(Self {
            party: party?,
            subject: e.subject.clone(),
            region: region?,
            category: category?,
            severity: severity?,
            title: e.title.clone(),
            description: e.description.clone(),
            evidence: evidence?,
            reporter,
        })
    }
}

/// A due date for a step taken at `now`: a date, not before today in China.
fn due_date(field: &str, text: &str, now: DateTime<Utc>) -> Result<NaiveDate, Error> {
    let date = parse_date(field, text)?;
    if date < today(now) {
        return Err(Error::invalid(field, "must not be in the past"));
    }
    Ok(date)
}

/// What a step writes besides the state: the event's note and the entry's changes.
#[derive(Clone, Default)]
struct StepInput {
    note: String,
    responsible_unit: Option<String>,
    due_date: Option<NaiveDate>,
    evidence: Vec<Evidence>,
}

impl Supervision {
    /// Takes `step` on entry `name` for `caller`, with what it writes.
    async fn step(
        &self,
        caller: Caller,
        name: &str,
        sent_etag: &str,
        step: Step,
        input: StepInput,
    ) -> Result<Response<SupervisionEntry>, Status> {
        let id = name::parse_id("name", "supervisionEntries", name)?;
        let sent_etag = sent_etag.to_owned();
        let clock = self.clock.clone();
        let row = self
            .store
            .write_legacy(move |tx| {
                let (caller, input, sent_etag) = (caller.clone(), input.clone(), sent_etag.clone());
                let now = clock.now();
                Box::pin(async move {
                    let current = entry_in_reach(tx, &caller, id, step).await?;
                    check_etag(&sent_etag, current.revision)?;
                    let from = State::from_number(i32::from(current.state)).ok_or_else(|| {
                        anyhow::anyhow!("supervision entry {id} has an unknown state")
                    })?;
                    let to = step.apply(Some(from))?;
                    let mut change = EntryChange {
                        state: Some(to),
                        responsible_unit: input.responsible_unit.clone(),
                        due_date: input.due_date,
                        ..Default::default()
                    };
                    let event = NewEvent {
                        note: input.note.clone(),
                        responsible_unit: input.responsible_unit.clone().unwrap_or_default(),
                        due_date: input.due_date,
                        evidence: input.evidence.clone(),
                        ..event_by(Some(&caller), step, Some(from), to)
                    };
                    if !input.evidence.is_empty() {
                        let mut all = Evidence::load_list(&current.evidence)?;
                        all.extend(input.evidence.iter().cloned());
                        change.evidence = Some(all);
                    }
                    if step == Step::Resolve {
                        change.resolution = Some(Resolution {
                            time: now,
                            seconds: (now - current.create_time).num_seconds(),
                            on_time: current.due_date.map(|due| on_time(now, due)),
                        });
                    }
                    let row = entries::save(tx, &current, change, now).await?;
                    entries::append(tx, &row, event, now).await?;
                    let after = to_proto(row.clone(), true, now);
                    record(&caller, &method(step), &after.name, None, &after)?;
                    Ok(row)
                })
            })
            .await?;
        tracing::info!(
            entry = row.id,
            step = step.word(),
            "supervision entry stepped"
        );
        self.feed.stored();
        Ok(Response::new(to_proto(row, true, self.clock.now())))
    }
}

/// The entry `id`, locked for change, if `caller` may take `step` on it. Permission comes
/// before existence for a scoped coordinator.
async fn entry_in_reach(
    tx: &impl ConnectionTrait,
    caller: &Caller,
    id: i64,
    step: Step,
) -> Result<EntryRow, Error> {
    let Some(row) = entries::get_for_update(tx, id).await? else {
        return Err(
            if authz::unrestricted(caller) || caller.role != Role::Coordinator {
                not_found(id)
            } else {
                authz::outside_scope()
            },
        );
    };
    let party = Party::from_number(i32::from(row.party))
        .ok_or_else(|| anyhow::anyhow!("supervision entry {id} has an unknown party"))?;
    step.allowed(
        Some(caller),
        party,
        &RegionPath::from_stored(row.region_path.clone()),
    )?;
    Ok(row)
}

/// The entries of a summary's scope, checked to exist.
async fn summary_query(db: &impl ConnectionTrait, scope: &str) -> Result<EntryQuery, Error> {
    let scope = summary_scope(db, scope, &["pairings", "projects", "programs", "regions"]).await?;
    Ok(match scope {
        SummaryScope::Pairing(id) => EntryQuery {
            pairing_id: Some(id),
            ..Default::default()
        },
        SummaryScope::Project { id, .. } => EntryQuery {
            project_id: Some(id),
            ..Default::default()
        },
        SummaryScope::Program(id) => EntryQuery {
            program_id: Some(id),
            ..Default::default()
        },
        SummaryScope::Region(path) => EntryQuery {
            region_within: Some(path),
            ..Default::default()
        },
    })
}

/// A watched event, with actors' labels (every watcher holds a token).
fn watched_event(row: EventRow) -> SupervisionEvent {
    event_to_proto(row, true)
}

#[tonic::async_trait]
impl SupervisionService for Supervision {
    type WatchSupervisionEventsStream = Events;

    async fn list_supervision_entries(
        &self,
        request: Request<ListSupervisionEntriesRequest>,
    ) -> Result<Response<ListSupervisionEntriesResponse>, Status> {
        let caller = authz::caller(&request)?;
        let req = request.into_inner();
        let filter = EntryFilter::parse(&req.filter, Purpose::List);
        let order = EntryOrder::parse(&req.order_by);
        let page = Page::open(
            req.page_size,
            &req.page_token,
            &["supervisionEntries", &req.filter, &req.order_by],
        );
        Error::collect([Error::of(&filter), Error::of(&order), Error::of(&page)])?;
        let (filter, order, page) = (filter?, order?, page?);
        let cursor = page.after.as_deref().map(|a| order.decode(a)).transpose()?;
        let db = self.store.db();
        let now = self.clock.now();
        let query = EntryQuery {
            state: filter.state,
            party: filter.party.map(|p| p.number() as i16),
            category: filter.category.map(|c| c.number() as i16),
            severity: filter.severity.map(|s| s.number() as i16),
            subject: filter.subject,
            region_within: filter_region_path(db, filter.region.as_ref()).await?,
            overdue_on: filter.overdue.map(|wanted| (wanted, today(now))),
            ..Default::default()
        };
        let rows = entries::list(db, &query, order, cursor.as_ref(), page.fetch()).await?;
        let (rows, next_page_token) = page.close(rows, |r| {
            order
                .cursor(r.id, r.create_time, r.due_date, r.severity)
                .encode()
        });
        let sees = sees_reporter(Some(&caller));
        Ok(Response::new(ListSupervisionEntriesResponse {
            supervision_entries: rows.into_iter().map(|r| to_proto(r, sees, now)).collect(),
            next_page_token,
        }))
    }

    async fn watch_supervision_events(
        &self,
        request: Request<WatchSupervisionEventsRequest>,
    ) -> Result<Response<Events>, Status> {
        let caller = authz::caller(&request)?;
        let req = request.into_inner();
        let filter = EntryFilter::parse(&req.filter, Purpose::Watch);
        let start = match req.start_after.as_str() {
            "" => Ok(None),
            text => event_name(text).map(Some),
        };
        Error::collect([Error::of(&filter), Error::of(&start)])?;
        let (filter, start) = (filter?, start?);
        let db = self.store.db();
        let region_within = filter_region_path(db, filter.region.as_ref()).await?;
        let after = match start {
            None => entries::last_event_position(db).await?,
            Some((entry, seq)) => {
                entries::event_position(db, entry, seq)
                    .await?
                    .ok_or_else(|| Error::NotFound {
                        reason: "SUPERVISION_EVENT_NOT_FOUND",
                        resource: req.start_after.clone(),
                    })?
            }
        };
        let wanted = Wanted {
            filter,
            region_within,
        };
        let events = self
            .feed
            .open(caller.token_id, wanted, after, watched_event)?;
        Ok(Response::new(events))
    }

    async fn get_supervision_summary(
        &self,
        request: Request<GetSupervisionSummaryRequest>,
    ) -> Result<Response<SupervisionSummary>, Status> {
        let req = request.into_inner();
        let scope = required(&req.scope, "scope").map(|_| ());
        let year = match req.year {
            0 => Ok(None),
            y if (1..=9999).contains(&y) => year_bounds(y)
                .map(Some)
                .ok_or_else(|| Error::invalid("year", "must be a year, or 0 for all years")),
            _ => Err(Error::invalid("year", "must be a year, or 0 for all years")),
        };
        Error::collect([Error::of(&scope), Error::of(&year)])?;
        let db = self.store.db();
        let mut query = summary_query(db, &req.scope).await?;
        query.filed_between = year?;
        let today = today(self.clock.now());
        let counts = entries::counts(db, &query, today).await?;
        let mut by_state = std::collections::BTreeMap::<i32, i64>::new();
        let mut by_party = std::collections::BTreeMap::<i32, i64>::new();
        let mut by_category = std::collections::BTreeMap::<i32, i64>::new();
        let (mut entry_count, mut overdue_count, mut resolved, mut on_time_count) = (0, 0, 0, 0);
        for c in counts {
            *by_state.entry(i32::from(c.state)).or_default() += c.entries;
            *by_party.entry(i32::from(c.party)).or_default() += c.entries;
            *by_category.entry(i32::from(c.category)).or_default() += c.entries;
            entry_count += c.entries;
            match State::from_number(i32::from(c.state)) {
                Some(State::Accepted | State::Rectifying) => overdue_count += c.past_due,
                Some(State::Resolved | State::Closed) => {
                    resolved += c.entries;
                    on_time_count += c.resolved_on_time;
                }
                _ => {}
            }
        }
        let middle: Vec<f64> = entries::middle_resolve_seconds(db, &query, resolved as u64)
            .await?
            .into_iter()
            .map(|seconds| seconds as f64 / 86_400.0)
            .collect();
        Ok(Response::new(SupervisionSummary {
            scope: req.scope,
            year: req.year,
            entry_count,
            by_state: by_state
                .into_iter()
                .map(|(state, count)| SupervisionStateCount { state, count })
                .collect(),
            by_party: by_party
                .into_iter()
                .map(|(party, count)| SupervisionPartyCount { party, count })
                .collect(),
            by_category: by_category
                .into_iter()
                .map(|(category, count)| SupervisionCategoryCount { category, count })
                .collect(),
            overdue_count,
            resolved_count: resolved,
            resolved_on_time_count: on_time_count,
            median_days_to_resolution: median(&middle),
            on_time_share: (resolved > 0).then(|| on_time_count as f64 / resolved as f64),
        }))
    }
    async fn submit_supervision_entry(
        &self,
        request: Request<SubmitSupervisionEntryRequest>,
    ) -> Result<Response<SubmitSupervisionEntryResponse>, Status> {
        let caller = authz::call(&request)?.caller().cloned();
        let client = caller.is_none().then(|| client_key(request.remote_addr()));
        let limit = self.public_reports_per_hour;
        let mut req = request.into_inner();
        let method = method(Step::Submit);
        let key = request_key(caller.as_ref(), &method, &mut req, |r| &mut r.request_id);
        let filing = Filing::parse(&req.supervision_entry.unwrap_or_default());
        Error::collect([Error::of(&key), Error::of(&filing)])?;
        let (key, filing) = (key?, filing?);
        // Who may file comes before anything is looked up.
        if caller.is_none() {
            Step::Submit.allowed(None, filing.party, &RegionPath::from_stored(String::new()))?;
        }
        let sees = sees_reporter(caller.as_ref());
        let clock = self.clock.clone();
        let (row, code) = self
            .store
            .write_legacy(move |tx| {
                let (caller, filing, key, method, client) = (
                    caller.clone(),
                    filing.clone(),
                    key.clone(),
                    method.clone(),
                    client.clone(),
                );
                let now = clock.now();
                Box::pin(async move {
                    // The key is the caller's (or, for the public, the report's own), and
                    // the reply shows the reporter only as the caller's role allows.
                    if let Some(earlier) = idempotency::claim(tx, key.as_ref()).await? {
                        let id = name::parse_id("request_id", "supervisionEntries", &earlier)?;
                        let row = entries::get(tx, id).await?.ok_or_else(|| not_found(id))?;
                        return Ok((row, None));
                    }
                    if let (Some(key), true) = (&client, limit > 0) {
                        let hour_ago = now - chrono::Duration::hours(1);
                        let filed = entries::filed_from(tx, key, hour_ago).await?;
                        if filed >= u64::from(limit) {
                            return Err(Error::ResourceExhausted {
                                reason: "PUBLIC_REPORT_LIMIT",
                                message: format!(
                                    "this address has filed {filed} reports in the last hour, \
                                     the most allowed; try again later"
                                ),
                            });
                        }
                    }
                    let place = if filing.subject.is_empty() {
                        let code = filing.region.clone().ok_or_else(|| {
                            Error::invalid("supervision_entry.region", "is required")
                        })?;
                        let row = region::get(tx, &code).await?.ok_or_else(|| {
                            Error::invalid(
                                "supervision_entry.region",
                                format!("{} does not exist", code.name()),
                            )
                        })?;
                        Place {
                            code: row.code,
                            path: row.path,
                            pairing_id: None,
                            project_id: None,
                        }
                    } else {
                        let place = place_of_subject(tx, &filing.subject).await?;
                        if let Some(sent) = &filing.region {
                            if sent.as_str() != place.code {
                                return Err(Error::invalid(
                                    "supervision_entry.region",
                                    format!(
                                        "must be empty or regions/{}, the subject's",
                                        place.code
                                    ),
                                ));
                            }
                        }
                        place
                    };
                    let tracking = match caller {
                        None => Some(TrackingCode::generate()?),
                        Some(_) => None,
                    };
                    let new = NewEntry {
                        party: filing.party,
                        subject: &filing.subject,
                        region_code: place.code,
                        region_path: place.path,
                        pairing_id: place.pairing_id,
                        project_id: place.project_id,
                        category: filing.category,
                        severity: filing.severity,
                        title: &filing.title,
                        description: &filing.description,
                        evidence: &filing.evidence,
                        reporter_name: &filing.reporter.display_name,
                        reporter_contact: &filing.reporter.contact,
                        tracking_hash: tracking.as_ref().map(TrackingCode::hash),
                        client_key: client.clone(),
                    };
                    let row = entries::insert(tx, &new, now).await?;
                    let event = NewEvent {
                        evidence: filing.evidence.clone(),
                        ..event_by(caller.as_ref(), Step::Submit, None, State::Submitted)
                    };
                    // The timeline's count is not part of the reply: no need to read it back.
                    entries::append(tx, &row, event, now).await?;
                    let created = to_proto(row.clone(), true, now);
                    let actor = caller.as_ref().map_or_else(Actor::public, Actor::of);
                    record_by(actor, &method, &created.name, key.as_ref(), &created)?;
                    idempotency::settle(tx, key.as_ref(), &created.name).await?;
                    Ok((row, tracking.map(|t| t.as_str().to_owned())))
                })
            })
            .await?;
        tracing::info!(entry = row.id, "supervision entry submitted");
        self.feed.stored();
        Ok(Response::new(SubmitSupervisionEntryResponse {
            supervision_entry: Some(to_proto(row, sees, self.clock.now())),
            tracking_code: code.unwrap_or_default(),
        }))
    }

    async fn get_supervision_entry(
        &self,
        request: Request<GetSupervisionEntryRequest>,
    ) -> Result<Response<SupervisionEntry>, Status> {
        let caller = authz::caller(&request)?;
        let id = name::parse_id("name", "supervisionEntries", &request.get_ref().name)?;
        let row = entries::get(self.store.db(), id)
            .await?
            .ok_or_else(|| not_found(id))?;
        Ok(Response::new(to_proto(
            row,
            sees_reporter(Some(&caller)),
            self.clock.now(),
        )))
    }

    async fn accept_supervision_entry(
        &self,
        request: Request<AcceptSupervisionEntryRequest>,
    ) -> Result<Response<SupervisionEntry>, Status> {
        let caller = authz::caller(&request)?;
        let req = request.into_inner();
        let unit = text::check("responsible_unit", &req.responsible_unit, 200, true);
        let due = due_date("due_date", &req.due_date, self.clock.now());
        let note = text::check("note", &req.note, 4000, false);
        Error::collect([unit, Error::of(&due), note])?;
        let input = StepInput {
            note: req.note,
            responsible_unit: Some(req.responsible_unit),
            due_date: Some(due?),
            evidence: Vec::new(),
        };
        self.step(caller, &req.name, &req.etag, Step::Accept, input)
            .await
    }

    async fn reject_supervision_entry(
        &self,
        request: Request<RejectSupervisionEntryRequest>,
    ) -> Result<Response<SupervisionEntry>, Status> {
        let caller = authz::caller(&request)?;
        let req = request.into_inner();
        text::check("reason", &req.reason, 1000, true)?;
        let input = StepInput {
            note: req.reason,
            ..Default::default()
        };
        self.step(caller, &req.name, &req.etag, Step::Reject, input)
            .await
    }

    async fn start_rectification(
        &self,
        request: Request<StartRectificationRequest>,
    ) -> Result<Response<SupervisionEntry>, Status> {
        let caller = authz::caller(&request)?;
        let req = request.into_inner();
        text::check("plan", &req.plan, 4000, true)?;
        let input = StepInput {
            note: req.plan,
            ..Default::default()
        };
        self.step(
            caller,
            &req.name,
            &req.etag,
            Step::StartRectification,
            input,
        )
        .await
    }

    async fn resolve_supervision_entry(
        &self,
        request: Request<ResolveSupervisionEntryRequest>,
    ) -> Result<Response<SupervisionEntry>, Status> {
        let caller = authz::caller(&request)?;
        let req = request.into_inner();
        let resolution = text::check("resolution", &req.resolution, 4000, true);
        let evidence = if req.evidence.is_empty() {
            Err(Error::invalid("evidence", "is required: at least one item"))
        } else {
            evidence_of("evidence", &req.evidence)
        };
        Error::collect([resolution, Error::of(&evidence)])?;
        let input = StepInput {
            note: req.resolution,
            evidence: evidence?,
            ..Default::default()
        };
        self.step(caller, &req.name, &req.etag, Step::Resolve, input)
            .await
    }

    async fn close_supervision_entry(
        &self,
        request: Request<CloseSupervisionEntryRequest>,
    ) -> Result<Response<SupervisionEntry>, Status> {
        let caller = authz::caller(&request)?;
        let req = request.into_inner();
        text::check("review_note", &req.review_note, 4000, true)?;
        let input = StepInput {
            note: req.review_note,
            ..Default::default()
        };
        self.step(caller, &req.name, &req.etag, Step::Close, input)
            .await
    }

    async fn reopen_supervision_entry(
        &self,
        request: Request<ReopenSupervisionEntryRequest>,
    ) -> Result<Response<SupervisionEntry>, Status> {
        let caller = authz::caller(&request)?;
        let req = request.into_inner();
        let reason = text::check("reason", &req.reason, 1000, true);
        let due = match req.due_date.as_str() {
            "" => Ok(None),
            text => due_date("due_date", text, self.clock.now()).map(Some),
        };
        Error::collect([reason, Error::of(&due)])?;
        let input = StepInput {
            note: req.reason,
            due_date: due?,
            ..Default::default()
        };
        self.step(caller, &req.name, &req.etag, Step::Reopen, input)
            .await
    }

    async fn add_supervision_comment(
        &self,
        request: Request<AddSupervisionCommentRequest>,
    ) -> Result<Response<SupervisionEvent>, Status> {
        let caller = authz::caller(&request)?;
        let mut req = request.into_inner();
        let method = method(Step::Comment);
        let key = request_key(Some(&caller), &method, &mut req, |r| &mut r.request_id);
        let id = required(&req.parent, "parent")
            .and_then(|n| name::parse_id("parent", "supervisionEntries", n));
        let text_ok = text::check("text", &req.text, 4000, true);
        Error::collect([Error::of(&key), Error::of(&id), text_ok])?;
        let (key, id) = (key?, id?);
        let clock = self.clock.clone();
        let event = self
            .store
            .write_legacy(move |tx| {
                let now = clock.now();
                let (caller, key, method, note) = (
                    caller.clone(),
                    key.clone(),
                    method.clone(),
                    req.text.clone(),
                );
                Box::pin(async move {
                    if let Some(earlier) = idempotency::claim(tx, key.as_ref()).await? {
                        let seq = earlier
                            .rsplit('/')
                            .next()
                            .and_then(|n| n.parse::<i64>().ok())
                            .ok_or_else(|| anyhow::anyhow!("a stored event name is damaged"))?;
                        return entries::events(tx, id, Some(seq - 1), 1)
                            .await?
                            .pop()
                            .ok_or_else(|| not_found(id));
                    }
                    let current = entries::get_for_update(tx, id)
                        .await?
                        .ok_or_else(|| not_found(id))?;
                    let state = State::from_number(i32::from(current.state)).ok_or_else(|| {
                        anyhow::anyhow!("supervision entry {id} has an unknown state")
                    })?;
                    let event = NewEvent {
                        note,
                        ..event_by(Some(&caller), Step::Comment, Some(state), state)
                    };
                    let row = entries::append(tx, &current, event, now).await?;
                    let added = event_to_proto(row.clone(), true);
                    record(&caller, &method, &added.name, key.as_ref(), &added)?;
                    idempotency::settle(tx, key.as_ref(), &added.name).await?;
                    Ok(row)
                })
            })
            .await?;
        self.feed.stored();
        Ok(Response::new(event_to_proto(event, true)))
    }

    async fn list_supervision_events(
        &self,
        request: Request<ListSupervisionEventsRequest>,
    ) -> Result<Response<ListSupervisionEventsResponse>, Status> {
        let req = request.into_inner();
        let id = required(&req.parent, "parent")
            .and_then(|n| name::parse_id("parent", "supervisionEntries", n));
        let page = Page::open(
            req.page_size,
            &req.page_token,
            &["supervisionEvents", &req.parent],
        );
        Error::collect([Error::of(&id), Error::of(&page)])?;
        let (id, page) = (id?, page?);
        let db = self.store.db();
        entries::get(db, id).await?.ok_or_else(|| not_found(id))?;
        let rows = entries::events(db, id, page.after_id()?, page.fetch()).await?;
        let (rows, next_page_token) = page.close(rows, |r| r.seq.to_string());
        Ok(Response::new(ListSupervisionEventsResponse {
            supervision_events: rows.into_iter().map(|r| event_to_proto(r, true)).collect(),
            next_page_token,
        }))
    }

    async fn lookup_supervision_entry(
        &self,
        request: Request<LookupSupervisionEntryRequest>,
    ) -> Result<Response<PublicSupervisionView>, Status> {
        let code = request.into_inner().tracking_code;
        if code.trim().is_empty() {
            return Err(Error::invalid("tracking_code", "is required").into());
        }
        let db = self.store.db();
        let unknown = || Error::NotFound {
            reason: "TRACKING_CODE_UNKNOWN",
            resource: "tracking code".to_owned(),
        };
        let row = entries::by_tracking_hash(db, &TrackingCode::hash_of(&code))
            .await?
            .ok_or_else(unknown)?;
        let timeline = entries::events(db, row.id, None, u64::MAX >> 1).await?;
        let entry = to_proto(row, false, self.clock.now());
        Ok(Response::new(PublicSupervisionView {
            name: entry.name,
            state: entry.state,
            category: entry.category,
            region: entry.region,
            responsible_unit: entry.responsible_unit,
            due_date: entry.due_date,
            overdue: entry.overdue,
            create_time: entry.create_time,
            timeline: timeline
                .into_iter()
                .map(|r| event_to_proto(r, false))
                .collect(),
        }))
    }
}
