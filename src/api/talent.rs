//! `duikou.v1.TalentExchangeService`: the people who go between paired regions.
//!
//! Participants are personal data. A reply carries them only to ADMIN, AUDITOR and a
//! COORDINATOR whose scope covers the exchange's pairing; everyone else gets the exchange
//! without them and `participants_redacted` set. Summaries carry counts, never names.

use std::collections::HashMap;

use super::{
    Listing, MaskRules, SummaryScope, check_summary, digest, etag, filter_region_path, request_key,
    required, service, summary_scope, timestamp,
};
use crate::{
    app::{
        self,
        talent::{
            CreateTalentExchange, DeleteTalentExchange, RecordedExchange, UndeleteTalentExchange,
            not_found, participants_of, sees_people,
        },
    },
    domain::audit::Call,
    domain::{
        audit::Audited,
        name,
        page::Page,
        period::format_date,
        talent::{self as rules, TalentDraft, TalentFields, TalentFilter, TalentPatch},
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
    updatable: rules::UPDATABLE,
    immutable: rules::IMMUTABLE,
    output_only: rules::OUTPUT_ONLY,
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

impl Audited for TalentRow {
    fn audit_name(&self) -> String {
        name::format_id("talentExchanges", self.id)
    }

    /// The digest of the whole exchange, its people included, whoever made the change.
    fn audit_digest(&self) -> String {
        digest(&to_proto(self.clone(), true))
    }
}

impl Audited for RecordedExchange {
    fn audit_name(&self) -> String {
        self.row.audit_name()
    }

    fn audit_digest(&self) -> String {
        self.row.audit_digest()
    }
}

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
        title: t.title.clone(),
        description: t.description.clone(),
        participants: participant_fields(&t.participants),
    }
}

/// The fields of `t` that the update mask's `paths` name.
fn patch_of(t: TalentExchange, paths: &[&str]) -> TalentPatch {
    let has = |field: &str| paths.contains(&field);
    TalentPatch {
        kind: has("kind").then_some(t.kind),
        direction: has("direction").then_some(t.direction),
        field: has("field").then_some(t.field),
        headcount: has("headcount").then_some(t.headcount),
        start_date: has("start_date").then_some(t.start_date),
        end_date: has("end_date").then_some(t.end_date),
        host_organization: has("host_organization").then_some(t.host_organization),
        title: has("title").then_some(t.title),
        description: has("description").then_some(t.description),
        participants: has("participants").then(|| participant_fields(&t.participants)),
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
        update_talent_exchange(UpdateTalentExchangeRequest) -> TalentExchange;
        delete_talent_exchange(DeleteTalentExchangeRequest) -> TalentExchange;
        undelete_talent_exchange(UndeleteTalentExchangeRequest) -> TalentExchange;
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
    let people = sees_people(&caller, || {
        by_id::<PairingRow>(db, row.pairing_id, Hold::Nothing)
    })
    .await?;
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
    let (rows, next_page_token) = page.close(rows, |r| r.id.to_string());
    // Whether the caller sees people depends on each exchange's pairing.
    let mut people: HashMap<i64, bool> = HashMap::new();
    for row in &rows {
        if let std::collections::hash_map::Entry::Vacant(slot) = people.entry(row.pairing_id) {
            slot.insert(
                sees_people(&caller, || {
                    by_id::<PairingRow>(db, row.pairing_id, Hold::Nothing)
                })
                .await?,
            );
        }
    }
    let items = rows
        .into_iter()
        .map(|row| {
            let sees = people.get(&row.pairing_id).copied().unwrap_or(false);
            to_proto(row, sees)
        })
        .collect();
    Ok(ListTalentExchangesResponse::listing(items, next_page_token))
}

async fn update_talent_exchange(
    service: &Talents,
    call: Call,
    req: UpdateTalentExchangeRequest,
) -> Result<TalentExchange, Error> {
    let change = MASK.edit(
        req.talent_exchange,
        req.update_mask,
        |t| (&t.name, &t.etag),
        |t, paths| Ok(patch_of(t, paths)),
    )?;
    let row = service.store.write(call, change).await?;
    Ok(to_proto(row, true))
}

async fn delete_talent_exchange(
    service: &Talents,
    call: Call,
    req: DeleteTalentExchangeRequest,
) -> Result<TalentExchange, Error> {
    let id = name::parse_id("name", "talentExchanges", &req.name)?;
    let change = DeleteTalentExchange { id, etag: req.etag };
    let row = service.store.write(call, change).await?;
    Ok(to_proto(row, true))
}

async fn undelete_talent_exchange(
    service: &Talents,
    call: Call,
    req: UndeleteTalentExchangeRequest,
) -> Result<TalentExchange, Error> {
    let id = name::parse_id("name", "talentExchanges", &req.name)?;
    let row = service
        .store
        .write(call, UndeleteTalentExchange { id })
        .await?;
    Ok(to_proto(row, true))
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
    let mut by_kind: Vec<TalentKindTotals> = Vec::new();
    let mut by_direction: Vec<TalentDirectionTotals> = Vec::new();
    for (kind, direction, count, headcount, person_days) in sums {
        let add = |t: &mut TalentTotals| {
            t.exchange_count += count;
            t.headcount += headcount;
            t.person_days += person_days;
        };
        add(&mut all);
        let kind = kind.number();
        match by_kind.iter_mut().find(|k| k.kind == kind) {
            Some(k) => add(k.totals.get_or_insert_with(TalentTotals::default)),
            None => {
                let mut t = TalentTotals::default();
                add(&mut t);
                by_kind.push(TalentKindTotals {
                    kind,
                    totals: Some(t),
                });
            }
        }
        let direction = direction.number();
        match by_direction.iter_mut().find(|d| d.direction == direction) {
            Some(d) => add(d.totals.get_or_insert_with(TalentTotals::default)),
            None => {
                let mut t = TalentTotals::default();
                add(&mut t);
                by_direction.push(TalentDirectionTotals {
                    direction,
                    totals: Some(t),
                });
            }
        }
    }
    by_kind.sort_by_key(|k| k.kind);
    by_direction.sort_by_key(|d| d.direction);
    Ok(TalentSummary {
        scope: req.scope,
        year: req.year,
        totals: Some(all),
        by_kind,
        by_direction,
    })
}
