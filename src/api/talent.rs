//! `duikou.v1.TalentExchangeService`: the people who go between paired regions.
//!
//! Participants are personal data. A reply carries them only to ADMIN, AUDITOR and a
//! COORDINATOR whose scope covers the exchange's pairing; everyone else gets the exchange
//! without them and `participants_redacted` set. Summaries carry counts, never names.

use std::collections::{BTreeMap, HashSet};

use super::{
    MaskRules, Named, SummaryScope, audited, check_summary, etag, filter_region_path, page_of,
    patch, request_key, required, service, summary_scope, timestamp,
};
use crate::{
    app::{
        self,
        talent::{
            CreateTalentExchange, RecordedExchange, TalentDeletion, not_found, participants_of,
            sees_people,
        },
    },
    domain::{
        access::Caller,
        audit::Call,
        name,
        page::Page,
        patch::Writable,
        period::format_date,
        talent::{self as rules, TalentDraft, TalentFields, TalentFilter},
    },
    error::Error,
    proto::v1::{
        CreateTalentExchangeRequest, DeleteTalentExchangeRequest, GetTalentExchangeRequest,
        GetTalentSummaryRequest, ListTalentExchangesRequest, ListTalentExchangesResponse,
        TalentDirectionTotals, TalentExchange, TalentKindTotals, TalentSummary, TalentTotals,
        UndeleteTalentExchangeRequest, UpdateTalentExchangeRequest,
        talent_exchange_service_server::TalentExchangeService,
    },
    store::{
        Hold, Store, by_id,
        pairing::PairingRow,
        talent::{self as talents, TalentQuery, TalentRow},
    },
};

const MASK: MaskRules = MaskRules {
    name_field: "talent_exchange.name",
    collection: "talentExchanges",
    updatable: TalentFields::UPDATABLE,
    immutable: rules::IMMUTABLE,
    output_only: rules::OUTPUT_ONLY,
};

const EXCHANGE: Named<TalentRow, TalentExchange> = Named {
    collection: "talentExchanges",
    reply: |row| to_proto(row, true),
};

/// Serves talent exchanges from the store.
#[derive(Clone)]
pub struct Talents {
    store: Store,
}

impl Talents {
    /// A service over `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

/// The API form of a stored exchange, with its people only when `people` allows.
fn to_proto(row: TalentRow, people: bool) -> TalentExchange {
    let participants = if people {
        participants_of(&row)
            .into_iter()
            .map(|p| crate::proto::v1::Participant {
                display_name: p.display_name,
                organization: p.organization,
                position: p.position,
            })
            .collect()
    } else {
        Vec::new()
    };
    TalentExchange {
        name: name::format_id("talentExchanges", row.id),
        pairing: name::format_id("pairings", row.pairing_id),
        kind: row.kind.number(),
        direction: row.direction.number(),
        field: row.field.number(),
        headcount: row.headcount,
        start_date: format_date(row.start_date),
        end_date: row.end_date.map(format_date).unwrap_or_default(),
        host_organization: row.host_organization,
        host_organization_ref: name::format_optional_id("organizations", row.host_organization_id),
        title: row.title,
        description: row.description,
        participants,
        participants_redacted: !people,
        create_time: Some(timestamp(row.create_time)),
        update_time: Some(timestamp(row.update_time)),
        delete_time: row.delete_time.map(timestamp),
        etag: etag(row.revision),
    }
}

audited!(TalentRow: |t| name::format_id("talentExchanges", t.id), to_proto(t.clone(), true));

audited!(RecordedExchange: |r| r.row.audit_name(), to_proto(r.row.clone(), true));

/// The people of a request as (name, organisation, position) texts.
fn participant_fields(
    participants: &[crate::proto::v1::Participant],
) -> Vec<(String, String, String)> {
    participants
        .iter()
        .map(|p| {
            (
                p.display_name.clone(),
                p.organization.clone(),
                p.position.clone(),
            )
        })
        .collect()
}

/// The fields of an exchange that callers write, as the request sends them.
fn fields_of(t: &TalentExchange) -> TalentFields {
    TalentFields {
        kind: t.kind,
        direction: t.direction,
        field: t.field,
        headcount: t.headcount,
        start_date: t.start_date.clone(),
        end_date: t.end_date.clone(),
        host_organization: t.host_organization.clone(),
        host_organization_ref: t.host_organization_ref.clone(),
        title: t.title.clone(),
        description: t.description.clone(),
        participants: participant_fields(&t.participants),
    }
}

/// The exchanges of a summary's scope, checked to exist.
async fn summary_query(store: &Store, scope: &str) -> Result<TalentQuery, Error> {
    let mut query = TalentQuery::default();
    match summary_scope(store, scope, &["pairings", "programs", "regions"]).await? {
        SummaryScope::Pairing(id) => query.filter.pairing_id = Some(id),
        SummaryScope::Program(id) => query.program_id = Some(id),
        SummaryScope::Region(path) => query.region_within = Some(path),
        SummaryScope::Project { .. } => {
            return Err(anyhow::anyhow!("a talent summary was given a project").into());
        }
    }
    Ok(query)
}

service! {
    TalentExchangeService for Talents {
        create_talent_exchange(CreateTalentExchangeRequest) -> TalentExchange;
        get_talent_exchange(GetTalentExchangeRequest) -> TalentExchange;
        list_talent_exchanges(ListTalentExchangesRequest) -> ListTalentExchangesResponse;
        update_talent_exchange(UpdateTalentExchangeRequest) -> TalentExchange =
            EXCHANGE.update(&MASK, |r| (r.talent_exchange, r.update_mask), patch(fields_of));
        delete_talent_exchange(DeleteTalentExchangeRequest) -> TalentExchange =
            EXCHANGE.write(|r| (r.name, r.etag), TalentDeletion::delete);
        undelete_talent_exchange(UndeleteTalentExchangeRequest) -> TalentExchange =
            EXCHANGE.write(|r| (r.name, String::new()), TalentDeletion::undelete);
        get_talent_summary(GetTalentSummaryRequest) -> TalentSummary;
    }
}

async fn create_talent_exchange(
    service: &Talents,
    call: Call,
    mut req: CreateTalentExchangeRequest,
) -> Result<TalentExchange, Error> {
    let key = request_key(&call, &mut req, |r| &mut r.request_id);
    let t = req.talent_exchange.unwrap_or_default();
    let pairing_id = required(&t.pairing, "talent_exchange.pairing")
        .and_then(|n| name::parse_id("talent_exchange.pairing", "pairings", n));
    let draft = TalentDraft::parse(&fields_of(&t));
    Error::collect([Error::of(&key), Error::of(&pairing_id), Error::of(&draft)])?;
    let create = CreateTalentExchange {
        pairing_id: pairing_id?,
        draft: draft?,
    };
    let made = app::create_once(&service.store, call, key?, create).await?;
    Ok(to_proto(made.row, made.people))
}

async fn get_talent_exchange(
    service: &Talents,
    call: Call,
    req: GetTalentExchangeRequest,
) -> Result<TalentExchange, Error> {
    let caller = call.authenticated()?.clone();
    let id = name::parse_id("name", "talentExchanges", &req.name)?;
    let db = service.store.db();
    let row = by_id::<TalentRow>(db, id, Hold::Nothing)
        .await?
        .ok_or_else(|| not_found(id))?;
    let seen = pairings_seen(&caller, &service.store, std::slice::from_ref(&row)).await?;
    let people = seen.contains(&row.pairing_id);
    Ok(to_proto(row, people))
}

async fn list_talent_exchanges(
    service: &Talents,
    call: Call,
    req: ListTalentExchangesRequest,
) -> Result<ListTalentExchangesResponse, Error> {
    let caller = call.authenticated()?.clone();
    let filter = TalentFilter::parse(&req.filter);
    let deleted = if req.show_deleted { "deleted" } else { "live" };
    let page = Page::open(
        service.store.page_key().await?,
        req.page_size,
        &req.page_token,
        &["talentExchanges", &req.filter, deleted],
    );
    let (filter, page) = Error::all((filter, page))?;
    let db = service.store.db();
    let query = TalentQuery {
        region_within: filter_region_path(&service.store, filter.region.as_ref()).await?,
        filter,
        program_id: None,
        show_deleted: req.show_deleted,
    };
    let rows = talents::list(db, &query, page.after_id()?, page.fetch()).await?;
    let seen = pairings_seen(&caller, &service.store, &rows).await?;
    Ok(page_of(
        &page,
        rows,
        |r| r.id.to_string(),
        |r| {
            let people = seen.contains(&r.pairing_id);
            to_proto(r, people)
        },
    ))
}

/// The pairings, among those of `rows`, whose exchanges' people `caller` sees; each is
/// read at most once, and only when the caller's role makes it matter.
async fn pairings_seen(
    caller: &Caller,
    store: &Store,
    rows: &[TalentRow],
) -> Result<HashSet<i64>, Error> {
    let (mut asked, mut seen) = (HashSet::new(), HashSet::new());
    for row in rows {
        let id = row.pairing_id;
        if asked.insert(id)
            && sees_people(caller, || {
                by_id::<PairingRow>(store.db(), id, Hold::Nothing)
            })
            .await?
        {
            seen.insert(id);
        }
    }
    Ok(seen)
}

async fn get_talent_summary(
    service: &Talents,
    _: Call,
    req: GetTalentSummaryRequest,
) -> Result<TalentSummary, Error> {
    check_summary(&req.scope, "year", req.year)?;
    let db = service.store.db();
    let mut query = summary_query(&service.store, &req.scope).await?;
    query.filter.year = (req.year != 0).then_some(req.year);
    let sums = talents::sums(db, &query).await?;
    let mut all = TalentTotals::default();
    // Each breakdown by the API number of its key, in that order.
    let mut by_kind: BTreeMap<i32, TalentTotals> = BTreeMap::new();
    let mut by_direction: BTreeMap<i32, TalentTotals> = BTreeMap::new();
    for (kind, direction, count, headcount, person_days) in sums {
        let of_kind = by_kind.entry(kind.number()).or_default();
        let of_direction = by_direction.entry(direction.number()).or_default();
        for totals in [&mut all, of_kind, of_direction] {
            totals.exchange_count += count;
            totals.headcount += headcount;
            totals.person_days += person_days;
        }
    }
    Ok(TalentSummary {
        scope: req.scope,
        year: req.year,
        totals: Some(all),
        by_kind: by_kind
            .into_iter()
            .map(|(kind, totals)| TalentKindTotals {
                kind,
                totals: Some(totals),
            })
            .collect(),
        by_direction: by_direction
            .into_iter()
            .map(|(direction, totals)| TalentDirectionTotals {
                direction,
                totals: Some(totals),
            })
            .collect(),
    })
}
