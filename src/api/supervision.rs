//! `duikou.v1.SupervisionService`: oversight carried to accountability. Each entry runs
//! its course through custom methods, each one an event on an append-only timeline; the
//! rules of the course and of who may take each step are in `domain::supervision`.
//!
//! The reporter is personal data: only ADMIN, AUDITOR and SUPERVISOR see it, and the public
//! view of a report never shows it.

use chrono::{DateTime, NaiveDate, Utc};

use super::{
    SummaryScope, audited, etag, filter_region_path, page_of, request_key, required, service,
    summary_scope,
    supervision_feed::{Events, Feed, Wanted},
    timestamp,
};
use crate::{
    app::{
        self,
        supervision::{
            AddComment, Filing, PublicAttempt, StepEntry, StepInput, SubmitEntry, not_found,
        },
    },
    config::ServerSettings,
    domain::audit::Call,
    domain::{
        Numbered,
        access::{Caller, Role},
        clock::Clock,
        name,
        page::Page,
        period::{format_date, parse_date},
        region::{RegionCode, RegionPath},
        supervision::{
            Category, Evidence, Party, Severity, State, Step, TrackingCode, is_overdue, median,
            today, year_bounds,
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
        Hold, Store, by_id,
        supervision::{self as entries, EntryQuery, EntryRow, EventRow},
    },
};

/// Serves supervision entries from the store.
#[derive(Clone)]
pub struct Supervision {
    store: Store,
    /// The time steps are taken at and entries are overdue by.
    clock: Clock,
    /// Public reports one client address may file per hour; 0: no limit.
    public_reports_per_hour: u32,
    /// Whether evidence may link over plain `http://` besides `https://`.
    http_evidence: bool,
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
            http_evidence: settings.http_evidence,
        }
    }

    /// What a request is read against now.
    fn reading(&self) -> Reading {
        Reading {
            now: self.clock.now(),
            http_evidence: self.http_evidence,
        }
    }
}

/// What a request is read against: the time now, and whether evidence may link over plain
/// `http://`.
struct Reading {
    now: DateTime<Utc>,
    http_evidence: bool,
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

fn evidence_of(
    field: &str,
    items: &[crate::proto::v1::Evidence],
    at: &Reading,
) -> Result<Vec<Evidence>, Error> {
    let items: Vec<(&str, &str, &str)> = items
        .iter()
        .map(|e| (e.uri.as_str(), e.sha256.as_str(), e.description.as_str()))
        .collect();
    Evidence::parse_list(field, &items, at.http_evidence)
}

/// Whether `caller` may see who reported an entry.
fn sees_reporter(caller: Option<&Caller>) -> bool {
    caller.is_some_and(|c| matches!(c.role, Role::Admin | Role::Auditor | Role::Supervisor))
}

/// The API form of a stored entry, with its reporter only when `reporter` allows;
/// `now` decides whether it is overdue.
fn to_proto(row: EntryRow, reporter: bool, now: DateTime<Utc>) -> SupervisionEntry {
    let overdue = is_overdue(row.state, row.due_date, now);
    SupervisionEntry {
        name: name::format_id("supervisionEntries", row.id),
        party: row.party.number(),
        subject: row.subject,
        region: format!("regions/{}", row.region_code),
        category: row.category.number(),
        severity: row.severity.number(),
        title: row.title,
        description: row.description,
        evidence: evidence_to_proto(&row.evidence),
        reporter: reporter.then_some(Reporter {
            display_name: row.reporter_name,
            contact: row.reporter_contact,
        }),
        reporter_redacted: !reporter,
        responsible_unit: row.responsible_unit,
        responsible_organization: name::format_optional_id(
            "organizations",
            row.responsible_organization_id,
        ),
        due_date: row.due_date.map(format_date).unwrap_or_default(),
        state: row.state.number(),
        overdue,
        resolve_time: row.resolve_time.map(timestamp),
        create_time: Some(timestamp(row.create_time)),
        update_time: Some(timestamp(row.update_time)),
        etag: etag(row.revision),
    }
}

/// The API form of a stored event; `labels` false reduces the actor to its role.
fn event_to_proto(row: EventRow, labels: bool) -> SupervisionEvent {
    let public = is_public(&row);
    SupervisionEvent {
        name: event_name_of(&row),
        create_time: Some(timestamp(row.create_time)),
        actor: Some(SupervisionActor {
            role: row.actor_role.map_or(0, Role::number),
            label: if labels {
                row.actor_label
            } else {
                String::new()
            },
            anonymous: row.anonymous,
        }),
        step: row.step.number(),
        from_state: row.from_state.map_or(0, State::number),
        to_state: row.to_state.number(),
        note: row.note,
        responsible_unit: row.responsible_unit,
        due_date: row.due_date.map(format_date).unwrap_or_default(),
        public,
        evidence: evidence_to_proto(&row.evidence),
    }
}

/// Whether the public view shows a stored event: every step of the course, and the
/// comments their authors marked public.
fn is_public(row: &EventRow) -> bool {
    row.step != Step::Comment || row.public
}

/// The name of a stored event, "supervisionEntries/{id}/events/{n}".
fn event_name_of(row: &EventRow) -> String {
    format!(
        "{}/events/{}",
        name::format_id("supervisionEntries", row.entry_id),
        row.seq
    )
}

// An entry is audited in its full form, reporter shown, and overdue as of the change
// that wrote it last.
audited!(
    EntryRow: |e| name::format_id("supervisionEntries", e.id),
    to_proto(e.clone(), true, e.update_time)
);

// An event is audited in its full form, actor's label shown.
audited!(EventRow: |e| event_name_of(e), event_to_proto(e.clone(), true));

/// Reads the content of a SubmitSupervisionEntry request.
fn parse_filing(e: &SupervisionEntry, at: &Reading) -> Result<Filing, Error> {
    let party = Party::from_number(e.party)
        .ok_or_else(|| Error::invalid("supervision_entry.party", "must be an overseeing party"));
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
    let subject = text::check_line("supervision_entry.subject", &e.subject, 64, false);
    let title = text::check_line("supervision_entry.title", &e.title, 200, true);
    let description = text::check("supervision_entry.description", &e.description, 4000, true);
    let evidence = evidence_of("supervision_entry.evidence", &e.evidence, at);
    let reporter = e.reporter.clone().unwrap_or_default();
    let reporter_name = text::check_line(
        "supervision_entry.reporter.display_name",
        &reporter.display_name,
        100,
        false,
    );
    let contact = text::check_line(
        "supervision_entry.reporter.contact",
        &reporter.contact,
        200,
        false,
    );
    let (party, (), region, category, severity, (), (), evidence, (), ()) = Error::all((
        party,
        subject,
        region,
        category,
        severity,
        title,
        description,
        evidence,
        reporter_name,
        contact,
    ))?;
    Ok(Filing {
        party,
        subject: e.subject.clone(),
        region,
        category,
        severity,
        title: e.title.clone(),
        description: e.description.clone(),
        evidence,
        reporter_name: reporter.display_name,
        reporter_contact: reporter.contact,
    })
}

/// A due date for a step taken at `now`: a date, not before today in China.
fn due_date(field: &str, text: &str, now: DateTime<Utc>) -> Result<NaiveDate, Error> {
    let date = parse_date(field, text)?;
    if date < today(now) {
        return Err(Error::invalid(field, "must not be in the past"));
    }
    Ok(date)
}

/// What a step that writes only its note sends: `note`, required, checked as `field` of at
/// most `max_chars` characters.
fn noted(field: &str, note: String, max_chars: usize) -> Result<StepInput, Error> {
    text::check(field, &note, max_chars, true)?;
    Ok(StepInput {
        note,
        ..Default::default()
    })
}

/// Takes `step` on the entry a request names, for an authenticated caller: `read` checks
/// what the request sends (dates against the time given) and returns the entry's name,
/// the etag the caller read and what the step writes.
async fn step<T>(
    service: &Supervision,
    call: Call,
    req: T,
    step: Step,
    read: impl FnOnce(T, &Reading) -> Result<(String, String, StepInput), Error>,
) -> Result<SupervisionEntry, Error> {
    call.authenticated()?;
    let (sent_name, etag, input) = read(req, &service.reading())?;
    let id = name::parse_id("name", "supervisionEntries", &sent_name)?;
    let change = StepEntry {
        id,
        etag,
        step,
        input,
        clock: service.clock.clone(),
    };
    let row = service.store.write(call, change).await?;
    service.feed.stored();
    Ok(to_proto(row, true, service.clock.now()))
}

/// The entries of a summary's scope, checked to exist, with overdue judged on `today`.
async fn summary_query(store: &Store, scope: &str, today: NaiveDate) -> Result<EntryQuery, Error> {
    let allowed = ["pairings", "projects", "programs", "regions"];
    let mut query = EntryQuery::on(today);
    match summary_scope(store, scope, &allowed).await? {
        SummaryScope::Pairing(id) => query.pairing_id = Some(id),
        SummaryScope::Project { id, .. } => query.project_id = Some(id),
        SummaryScope::Program(id) => query.program_id = Some(id),
        SummaryScope::Region(path) => query.region_within = Some(path),
    }
    Ok(query)
}

/// A watched event, with actors' labels (every watcher holds a token).
fn watched_event(row: EventRow) -> SupervisionEvent {
    event_to_proto(row, true)
}

service! {
    SupervisionService for Supervision {
        submit_supervision_entry(SubmitSupervisionEntryRequest) -> SubmitSupervisionEntryResponse;
        list_supervision_entries(ListSupervisionEntriesRequest) -> ListSupervisionEntriesResponse;
        watch_supervision_events(WatchSupervisionEventsRequest) -> Events;
        get_supervision_summary(GetSupervisionSummaryRequest) -> SupervisionSummary;
        get_supervision_entry(GetSupervisionEntryRequest) -> SupervisionEntry;
        accept_supervision_entry(AcceptSupervisionEntryRequest) -> SupervisionEntry =
            step(Step::Accept, acceptance);
        reject_supervision_entry(RejectSupervisionEntryRequest) -> SupervisionEntry =
            step(Step::Reject, |r, _| Ok((r.name, r.etag, noted("reason", r.reason, 1000)?)));
        start_rectification(StartRectificationRequest) -> SupervisionEntry =
            step(Step::StartRectification, |r, _| {
                Ok((r.name, r.etag, noted("plan", r.plan, 4000)?))
            });
        resolve_supervision_entry(ResolveSupervisionEntryRequest) -> SupervisionEntry =
            step(Step::Resolve, resolution);
        close_supervision_entry(CloseSupervisionEntryRequest) -> SupervisionEntry =
            step(Step::Close, |r, _| {
                Ok((r.name, r.etag, noted("review_note", r.review_note, 4000)?))
            });
        reopen_supervision_entry(ReopenSupervisionEntryRequest) -> SupervisionEntry =
            step(Step::Reopen, reopening);
        add_supervision_comment(AddSupervisionCommentRequest) -> SupervisionEvent;
        list_supervision_events(ListSupervisionEventsRequest) -> ListSupervisionEventsResponse;
        lookup_supervision_entry(LookupSupervisionEntryRequest) -> PublicSupervisionView;
    }
    type WatchSupervisionEventsStream = Events;
}

async fn submit_supervision_entry(
    service: &Supervision,
    call: Call,
    mut req: SubmitSupervisionEntryRequest,
) -> Result<SubmitSupervisionEntryResponse, Error> {
    if call.caller().is_none() && service.public_reports_per_hour > 0 {
        // Every public attempt counts, whatever becomes of it.
        let attempt = PublicAttempt {
            address: call.peer(),
            clock: service.clock.clone(),
        };
        let attempts = service.store.write(call.clone(), attempt).await?;
        if let Some(refused) =
            app::supervision::over_public_limit(attempts, service.public_reports_per_hour)
        {
            return Err(refused);
        }
    }
    let key = request_key(&call, &mut req, |r| &mut r.request_id);
    let filing = parse_filing(
        &req.supervision_entry.unwrap_or_default(),
        &service.reading(),
    );
    let (key, filing) = Error::all((key, filing))?;
    // Who may file comes before anything is looked up.
    if call.caller().is_none() {
        Step::Submit.allowed(None, filing.party, &RegionPath::from_stored(String::new()))?;
    }
    let sees = sees_reporter(call.caller());
    let submit = SubmitEntry {
        filing,
        clock: service.clock.clone(),
    };
    let filed = app::create_once(&service.store, call, key, submit).await?;
    service.feed.stored();
    Ok(SubmitSupervisionEntryResponse {
        supervision_entry: Some(to_proto(filed.entry, sees, service.clock.now())),
        tracking_code: filed
            .tracking_code
            .map(|t| t.as_str().to_owned())
            .unwrap_or_default(),
    })
}

async fn list_supervision_entries(
    service: &Supervision,
    call: Call,
    req: ListSupervisionEntriesRequest,
) -> Result<ListSupervisionEntriesResponse, Error> {
    let caller = call.authenticated()?.clone();
    let filter = EntryFilter::parse(&req.filter, Purpose::List);
    let order = EntryOrder::parse(&req.order_by);
    let page = Page::open(
        service.store.page_key().await?,
        req.page_size,
        &req.page_token,
        &["supervisionEntries", &req.filter, &req.order_by],
    );
    let (filter, order, page) = Error::all((filter, order, page))?;
    let cursor = page.after.as_deref().map(|a| order.decode(a)).transpose()?;
    let db = service.store.db();
    let now = service.clock.now();
    let query = EntryQuery {
        region_within: filter_region_path(&service.store, filter.region.as_ref()).await?,
        filter,
        ..EntryQuery::on(today(now))
    };
    let rows = entries::list(db, &query, order, cursor.as_ref(), page.fetch()).await?;
    let sees = sees_reporter(Some(&caller));
    Ok(page_of(
        &page,
        rows,
        |r| {
            order
                .cursor(r.id, r.create_time, r.due_date, r.severity.to_i16())
                .encode()
        },
        |r| to_proto(r, sees, now),
    ))
}

async fn watch_supervision_events(
    service: &Supervision,
    call: Call,
    req: WatchSupervisionEventsRequest,
) -> Result<Events, Error> {
    let caller = call.authenticated()?.clone();
    let filter = EntryFilter::parse(&req.filter, Purpose::Watch);
    let start = match req.start_after.as_str() {
        "" => Ok(None),
        text => event_name(text).map(Some),
    };
    let (filter, start) = Error::all((filter, start))?;
    let db = service.store.db();
    let region_within = filter_region_path(&service.store, filter.region.as_ref()).await?;
    let after = match start {
        None => entries::last_event_position(db).await?,
        Some((entry, seq)) => entries::event_position(db, entry, seq)
            .await?
            .ok_or_else(|| Error::NotFound {
                reason: "SUPERVISION_EVENT_NOT_FOUND",
                resource: req.start_after.clone(),
            })?,
    };
    let wanted = Wanted {
        filter,
        region_within,
    };
    let events = service
        .feed
        .open(caller.token_id, call.peer(), wanted, after, watched_event)?;
    Ok(events)
}

async fn get_supervision_summary(
    service: &Supervision,
    _: Call,
    req: GetSupervisionSummaryRequest,
) -> Result<SupervisionSummary, Error> {
    let scope = required(&req.scope, "scope").map(|_| ());
    let year = match req.year {
        0 => Ok(None),
        y if (1..=9999).contains(&y) => year_bounds(y)
            .map(Some)
            .ok_or_else(|| Error::invalid("year", "must be a year, or 0 for all years")),
        _ => Err(Error::invalid("year", "must be a year, or 0 for all years")),
    };
    Error::collect([Error::of(&scope), Error::of(&year)])?;
    let today = today(service.clock.now());
    let mut query = summary_query(&service.store, &req.scope, today).await?;
    let db = service.store.db();
    query.filed_between = year?;
    let (tally, middle) = entries::tally(db, &query).await?;
    let middle: Vec<f64> = middle
        .into_iter()
        .map(|seconds| seconds as f64 / 86_400.0)
        .collect();
    let (resolved, on_time_count) = (tally.resolved, tally.resolved_on_time);
    Ok(SupervisionSummary {
        scope: req.scope,
        year: req.year,
        entry_count: tally.entries,
        by_state: tally
            .by_state
            .into_iter()
            .map(|(state, count)| SupervisionStateCount { state, count })
            .collect(),
        by_party: tally
            .by_party
            .into_iter()
            .map(|(party, count)| SupervisionPartyCount { party, count })
            .collect(),
        by_category: tally
            .by_category
            .into_iter()
            .map(|(category, count)| SupervisionCategoryCount { category, count })
            .collect(),
        overdue_count: tally.overdue,
        resolved_count: resolved,
        resolved_on_time_count: on_time_count,
        median_days_to_resolution: median(&middle),
        on_time_share: (resolved > 0).then(|| on_time_count as f64 / resolved as f64),
    })
}

async fn get_supervision_entry(
    service: &Supervision,
    call: Call,
    req: GetSupervisionEntryRequest,
) -> Result<SupervisionEntry, Error> {
    let caller = call.authenticated()?.clone();
    let id = name::parse_id("name", "supervisionEntries", &req.name)?;
    let row = by_id::<EntryRow>(service.store.db(), id, Hold::Nothing)
        .await?
        .ok_or_else(|| not_found(id))?;
    Ok(to_proto(
        row,
        sees_reporter(Some(&caller)),
        service.clock.now(),
    ))
}

/// What an acceptance sends: the responsible unit, a due date not in the past and a note.
fn acceptance(
    req: AcceptSupervisionEntryRequest,
    at: &Reading,
) -> Result<(String, String, StepInput), Error> {
    // The unit in words may be left to a registered organisation's name.
    let organization = name::parse_optional_id(
        "responsible_organization",
        "organizations",
        &req.responsible_organization,
    );
    let unit = text::check_line(
        "responsible_unit",
        &req.responsible_unit,
        200,
        req.responsible_organization.is_empty(),
    );
    let due = due_date("due_date", &req.due_date, at.now);
    let note = text::check("note", &req.note, 4000, false);
    Error::collect([Error::of(&organization), unit, Error::of(&due), note])?;
    let input = StepInput {
        note: req.note,
        responsible_unit: Some(req.responsible_unit),
        responsible_organization_id: organization?,
        due_date: Some(due?),
        evidence: Vec::new(),
    };
    Ok((req.name, req.etag, input))
}

/// What a resolution sends: what was done, with at least one item of evidence.
fn resolution(
    req: ResolveSupervisionEntryRequest,
    at: &Reading,
) -> Result<(String, String, StepInput), Error> {
    let resolution = text::check("resolution", &req.resolution, 4000, true);
    let evidence = if req.evidence.is_empty() {
        Err(Error::invalid("evidence", "is required: at least one item"))
    } else {
        evidence_of("evidence", &req.evidence, at)
    };
    Error::collect([resolution, Error::of(&evidence)])?;
    let input = StepInput {
        note: req.resolution,
        evidence: evidence?,
        ..Default::default()
    };
    Ok((req.name, req.etag, input))
}

/// What a reopening sends: the reason, and optionally a new due date not in the past.
fn reopening(
    req: ReopenSupervisionEntryRequest,
    at: &Reading,
) -> Result<(String, String, StepInput), Error> {
    let reason = text::check("reason", &req.reason, 1000, true);
    let due = match req.due_date.as_str() {
        "" => Ok(None),
        text => due_date("due_date", text, at.now).map(Some),
    };
    Error::collect([reason, Error::of(&due)])?;
    let input = StepInput {
        note: req.reason,
        due_date: due?,
        ..Default::default()
    };
    Ok((req.name, req.etag, input))
}

async fn add_supervision_comment(
    service: &Supervision,
    call: Call,
    mut req: AddSupervisionCommentRequest,
) -> Result<SupervisionEvent, Error> {
    call.authenticated()?;
    let key = request_key(&call, &mut req, |r| &mut r.request_id);
    let id = required(&req.parent, "parent")
        .and_then(|n| name::parse_id("parent", "supervisionEntries", n));
    let text_ok = text::check("text", &req.text, 4000, true);
    Error::collect([Error::of(&key), Error::of(&id), text_ok])?;
    let (key, id) = (key?, id?);
    let comment = AddComment {
        entry_id: id,
        text: req.text,
        public: req.public,
        clock: service.clock.clone(),
    };
    let event = app::create_once(&service.store, call, key, comment).await?;
    service.feed.stored();
    Ok(event_to_proto(event, true))
}

async fn list_supervision_events(
    service: &Supervision,
    _: Call,
    req: ListSupervisionEventsRequest,
) -> Result<ListSupervisionEventsResponse, Error> {
    let id = required(&req.parent, "parent")
        .and_then(|n| name::parse_id("parent", "supervisionEntries", n));
    let page = Page::open(
        service.store.page_key().await?,
        req.page_size,
        &req.page_token,
        &["supervisionEvents", &req.parent],
    );
    let (id, page) = Error::all((id, page))?;
    let db = service.store.db();
    by_id::<EntryRow>(db, id, Hold::Nothing)
        .await?
        .ok_or_else(|| not_found(id))?;
    let rows = entries::events(db, id, page.after_id()?, page.fetch()).await?;
    Ok(page_of(
        &page,
        rows,
        |r| r.seq.to_string(),
        |r| event_to_proto(r, true),
    ))
}

async fn lookup_supervision_entry(
    service: &Supervision,
    _: Call,
    req: LookupSupervisionEntryRequest,
) -> Result<PublicSupervisionView, Error> {
    let code = req.tracking_code;
    if code.trim().is_empty() {
        return Err(Error::invalid("tracking_code", "is required"));
    }
    let db = service.store.db();
    let unknown = || Error::NotFound {
        reason: "TRACKING_CODE_UNKNOWN",
        resource: "tracking code".to_owned(),
    };
    let row = entries::by_tracking_hash(db, &TrackingCode::hash_of(&code))
        .await?
        .ok_or_else(unknown)?;
    let timeline = entries::events(db, row.id, None, u64::MAX >> 1).await?;
    let entry = to_proto(row, false, service.clock.now());
    Ok(PublicSupervisionView {
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
            .filter(is_public)
            .map(|r| event_to_proto(r, false))
            .collect(),
    })
}
