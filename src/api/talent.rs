//! `duikou.v1.TalentExchangeService`: the people who go between paired regions.
//!
//! Participants are personal data. A reply carries them only to ADMIN, AUDITOR and a
//! COORDINATOR whose scope covers the exchange's pairing; everyone else gets the exchange
//! without them and `participants_redacted` set. Summaries carry counts, never names.

use std::collections::HashMap;

use sea_orm::{ActiveValue::Set, ConnectionTrait};
use tonic::{Request, Response, Status};

use super::{
    MaskRules, SummaryScope, authz, check_etag, etag, filter_region_path,
    pairing::{pairing_not_found, placement_of},
    project::pairing_in_reach,
    record, request_key, required, summary_scope, timestamp,
};
use crate::{
    domain::{
        access::{Caller, Role},
        name,
        page::Page,
        pairing::CooperationField,
        period::{format_date, parse_date},
        talent::{
            self as rules, Direction, Participant, Shape, TalentFilter, TalentKind, parse_headcount,
        },
        text,
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
        Store, idempotency,
        pairing::{self as pairings, PairingRow},
        talent::{self as talents, TalentChange, TalentQuery, TalentRow},
    },
};

const CREATE: &str = "/duikou.v1.TalentExchangeService/CreateTalentExchange";
const UPDATE: &str = "/duikou.v1.TalentExchangeService/UpdateTalentExchange";
const DELETE: &str = "/duikou.v1.TalentExchangeService/DeleteTalentExchange";
const UNDELETE: &str = "/duikou.v1.TalentExchangeService/UndeleteTalentExchange";

const MASK: MaskRules = MaskRules {
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

/// Whether `caller` may see the people of exchanges of pairing `pairing_id`. The role
/// decides, except for a COORDINATOR, whose scope must cover the pairing: only then is the
/// pairing read.
async fn sees_people(
    db: &impl ConnectionTrait,
    caller: &Caller,
    pairing_id: i64,
) -> Result<bool, Error> {
    Ok(match caller.role {
        Role::Admin | Role::Auditor => true,
        Role::FundOfficer | Role::Supervisor => false,
        Role::Coordinator => pairings::get(db, pairing_id)
            .await?
            .and_then(|p| placement_of(&p).ok())
            .is_some_and(|p| authz::require_scope(caller, &[&p.supporting, &p.supported]).is_ok()),
    })
}

/// The API form of a stored exchange, with its people only when `people` allows.
fn to_proto(row: TalentRow, people: bool) -> TalentExchange {
    let participants = if people {
        Participant::load_list(&row.participants)
            .unwrap_or_else(|e| {
                tracing::error!(exchange = row.id, error = %e, "stored participants are damaged");
                Vec::new()
            })
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
        kind: i32::from(row.kind),
        direction: i32::from(row.direction),
        field: i32::from(row.field),
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

fn not_found(id: i64) -> Error {
    Error::NotFound {
        reason: "TALENT_EXCHANGE_NOT_FOUND",
        resource: name::format_id("talentExchanges", id),
    }
}

/// The fields of an exchange that callers write, each checked on its own.
#[derive(Clone)]
struct TalentInput {
    kind: TalentKind,
    direction: Direction,
    field: CooperationField,
    headcount: i32,
    start: chrono::NaiveDate,
    end: Option<chrono::NaiveDate>,
    host_organization: String,
    title: String,
    description: String,
    participants: Vec<Participant>,
}

impl TalentInput {
    fn parse(t: &TalentExchange) -> Result<Self, Error> {
        let kind = TalentKind::from_number(t.kind)
            .ok_or_else(|| Error::invalid("talent_exchange.kind", "must be a kind of exchange"));
        let direction = Direction::from_number(t.direction).ok_or_else(|| {
            Error::invalid(
                "talent_exchange.direction",
                "must be TO_SUPPORTED or TO_SUPPORTING",
            )
        });
        let field = CooperationField::from_number(t.field)
            .ok_or_else(|| Error::invalid("talent_exchange.field", "must be a cooperation field"));
        let headcount = parse_headcount("talent_exchange.headcount", t.headcount);
        let start = parse_date("talent_exchange.start_date", &t.start_date);
        let end = match t.end_date.as_str() {
            "" => Ok(None),
            text => parse_date("talent_exchange.end_date", text).map(Some),
        };
        let host = text::check(
            "talent_exchange.host_organization",
            &t.host_organization,
            200,
            false,
        );
        let title = text::check("talent_exchange.title", &t.title, 200, true);
        let description = text::check("talent_exchange.description", &t.description, 4000, false);
        let items: Vec<(&str, &str, &str)> = t
            .participants
            .iter()
            .map(|p| {
                (
                    p.display_name.as_str(),
                    p.organization.as_str(),
                    p.position.as_str(),
                )
            })
            .collect();
        let participants = Participant::parse_list("talent_exchange.participants", &items);
        Error::collect([
            Error::of(&kind),
            Error::of(&direction),
            Error::of(&field),
            Error::of(&headcount),
            Error::of(&start),
            Error::of(&end),
            host,
            title,
            description,
            Error::of(&participants),
        ])?;
        Ok(Self {
            kind: kind?,
            direction: direction?,
            field: field?,
            headcount: headcount?,
            start: start?,
            end: end?,
            host_organization: t.host_organization.clone(),
            title: t.title.clone(),
            description: t.description.clone(),
            participants: participants?,
        })
    }

    /// The input of an update: the stored exchange with the masked fields of `t` over it.
    fn merged(current: &TalentRow, t: &TalentExchange, paths: &[&str]) -> Result<Self, Error> {
        let has = |field: &str| paths.contains(&field);
        let mut merged = to_proto(current.clone(), true);
        if has("kind") {
            merged.kind = t.kind;
        }
        if has("direction") {
            merged.direction = t.direction;
        }
        if has("field") {
            merged.field = t.field;
        }
        if has("headcount") {
            merged.headcount = t.headcount;
        }
        if has("start_date") {
            merged.start_date.clone_from(&t.start_date);
        }
        if has("end_date") {
            merged.end_date.clone_from(&t.end_date);
        }
        if has("host_organization") {
            merged.host_organization.clone_from(&t.host_organization);
        }
        if has("title") {
            merged.title.clone_from(&t.title);
        }
        if has("description") {
            merged.description.clone_from(&t.description);
        }
        if has("participants") {
            merged.participants.clone_from(&t.participants);
        }
        Self::parse(&merged)
    }

    /// Checks the rules between fields and against the pairing's period.
    fn check(&self, pairing: &PairingRow) -> Result<(), Error> {
        let period = placement_of(pairing)?.period;
        Shape {
            kind: self.kind,
            headcount: self.headcount,
            listed: self.participants.len(),
            start: self.start,
            end: self.end,
            host_organization: &self.host_organization,
        }
        .check("talent_exchange.", &period)
    }

    /// The columns it sets.
    fn columns(&self) -> TalentChange {
        TalentChange {
            kind: Set(self.kind.number() as i16),
            direction: Set(self.direction.number() as i16),
            field: Set(self.field.number() as i16),
            headcount: Set(self.headcount),
            start_date: Set(self.start),
            end_date: Set(self.end),
            days: Set(i32::try_from(rules::days(self.start, self.end)).unwrap_or(i32::MAX)),
            host_organization: Set(self.host_organization.clone()),
            title: Set(self.title.clone()),
            description: Set(self.description.clone()),
            participants: Set(Participant::store_list(&self.participants)),
            ..Default::default()
        }
    }
}

/// A live pairing inside the caller's reach, for an exchange to hang off.
async fn live_pairing(
    tx: &impl ConnectionTrait,
    caller: &Caller,
    id: i64,
) -> Result<PairingRow, Error> {
    let pairing = pairing_in_reach(tx, caller, id, || {
        Error::invalid(
            "talent_exchange.pairing",
            format!("{} does not exist", name::format_id("pairings", id)),
        )
    })
    .await?;
    if pairing.delete_time.is_some() {
        return Err(Error::precondition(
            "PAIRING_DELETED",
            "exchanges may be recorded only under a live pairing",
        ));
    }
    Ok(pairing)
}

/// An exchange inside the caller's reach, locked for change, with its pairing. Permission
/// comes before existence.
async fn exchange_for_update(
    tx: &impl ConnectionTrait,
    caller: &Caller,
    id: i64,
) -> Result<(TalentRow, PairingRow), Error> {
    let Some(row) = talents::get_for_update(tx, id).await? else {
        return Err(if authz::unrestricted(caller) {
            not_found(id)
        } else {
            authz::outside_scope()
        });
    };
    let pairing = pairing_in_reach(tx, caller, row.pairing_id, || {
        pairing_not_found(row.pairing_id)
    })
    .await?;
    Ok((row, pairing))
}

/// Writes a change and its audit event.
async fn save_audited(
    tx: &impl ConnectionTrait,
    caller: &Caller,
    method: &str,
    current: &TalentRow,
    change: TalentChange,
) -> Result<TalentRow, Error> {
    let row = talents::save(tx, current, change).await?;
    let after = to_proto(row.clone(), true);
    record(caller, method, &after.name, None, &after)?;
    Ok(row)
}

/// The exchanges of a summary's scope, checked to exist.
async fn summary_query(db: &impl ConnectionTrait, scope: &str) -> Result<TalentQuery, Error> {
    let scope = summary_scope(db, scope, &["pairings", "programs", "regions"]).await?;
    Ok(match scope {
        SummaryScope::Pairing(id) => TalentQuery {
            pairing_id: Some(id),
            ..Default::default()
        },
        SummaryScope::Program(id) => TalentQuery {
            program_id: Some(id),
            ..Default::default()
        },
        SummaryScope::Region(path) => TalentQuery {
            region_within: Some(path),
            ..Default::default()
        },
        SummaryScope::Project { .. } => {
            return Err(anyhow::anyhow!("a talent summary was given a project").into());
        }
    })
}

#[tonic::async_trait]
impl TalentExchangeService for Talents {
    async fn create_talent_exchange(
        &self,
        request: Request<CreateTalentExchangeRequest>,
    ) -> Result<Response<TalentExchange>, Status> {
        let caller = authz::caller(&request)?;
        let mut req = request.into_inner();
        let key = request_key(Some(&caller), CREATE, &mut req, |r| &mut r.request_id);
        let t = req.talent_exchange.unwrap_or_default();
        let pairing_id = required(&t.pairing, "talent_exchange.pairing")
            .and_then(|n| name::parse_id("talent_exchange.pairing", "pairings", n));
        let input = TalentInput::parse(&t);
        Error::collect([Error::of(&key), Error::of(&pairing_id), Error::of(&input)])?;
        let (key, pairing_id, input) = (key?, pairing_id?, input?);
        let (row, people) = self
            .store
            .write_legacy(move |tx| {
                let (input, key, caller) = (input.clone(), key.clone(), caller.clone());
                Box::pin(async move {
                    // A replay is authorized as the request was, and shows the people only
                    // to a caller who may see them now.
                    if let Some(earlier) = idempotency::claim(tx, key.as_ref()).await? {
                        let id = name::parse_id("request_id", "talentExchanges", &earlier)?;
                        let row = talents::get(tx, id).await?.ok_or_else(|| not_found(id))?;
                        pairing_in_reach(tx, &caller, row.pairing_id, || not_found(id)).await?;
                        let people = sees_people(tx, &caller, row.pairing_id).await?;
                        return Ok((row, people));
                    }
                    let pairing = live_pairing(tx, &caller, pairing_id).await?;
                    input.check(&pairing)?;
                    let mut columns = input.columns();
                    columns.pairing_id = Set(pairing_id);
                    let row = talents::insert(tx, columns).await?;
                    let created = to_proto(row.clone(), true);
                    record(&caller, CREATE, &created.name, key.as_ref(), &created)?;
                    idempotency::settle(tx, key.as_ref(), &created.name).await?;
                    Ok((row, true))
                })
            })
            .await?;
        tracing::info!(exchange = row.id, "talent exchange recorded");
        Ok(Response::new(to_proto(row, people)))
    }

    async fn get_talent_exchange(
        &self,
        request: Request<GetTalentExchangeRequest>,
    ) -> Result<Response<TalentExchange>, Status> {
        let caller = authz::caller(&request)?;
        let id = name::parse_id("name", "talentExchanges", &request.get_ref().name)?;
        let db = self.store.db();
        let row = talents::get(db, id).await?.ok_or_else(|| not_found(id))?;
        let people = sees_people(db, &caller, row.pairing_id).await?;
        Ok(Response::new(to_proto(row, people)))
    }

    async fn list_talent_exchanges(
        &self,
        request: Request<ListTalentExchangesRequest>,
    ) -> Result<Response<ListTalentExchangesResponse>, Status> {
        let caller = authz::caller(&request)?;
        let req = request.into_inner();
        let filter = TalentFilter::parse(&req.filter);
        let deleted = if req.show_deleted { "deleted" } else { "live" };
        let page = Page::open(
            req.page_size,
            &req.page_token,
            &["talentExchanges", &req.filter, deleted],
        );
        Error::collect([Error::of(&filter), Error::of(&page)])?;
        let (filter, page) = (filter?, page?);
        let db = self.store.db();
        let query = TalentQuery {
            pairing_id: filter.pairing_id,
            program_id: None,
            kind: filter.kind,
            direction: filter.direction,
            year: filter.year,
            region_within: filter_region_path(db, filter.region.as_ref()).await?,
            show_deleted: req.show_deleted,
        };
        let rows = talents::list(db, &query, page.after_id()?, page.fetch()).await?;
        let (rows, next_page_token) = page.close(rows, |r| r.id.to_string());
        // Whether the caller sees people depends on each exchange's pairing.
        let mut people: HashMap<i64, bool> = HashMap::new();
        for row in &rows {
            if let std::collections::hash_map::Entry::Vacant(slot) = people.entry(row.pairing_id) {
                slot.insert(sees_people(db, &caller, row.pairing_id).await?);
            }
        }
        Ok(Response::new(ListTalentExchangesResponse {
            talent_exchanges: rows
                .into_iter()
                .map(|row| {
                    let sees = people.get(&row.pairing_id).copied().unwrap_or(false);
                    to_proto(row, sees)
                })
                .collect(),
            next_page_token,
        }))
    }

    async fn update_talent_exchange(
        &self,
        request: Request<UpdateTalentExchangeRequest>,
    ) -> Result<Response<TalentExchange>, Status> {
        let caller = authz::caller(&request)?;
        let req = request.into_inner();
        let t = req.talent_exchange.unwrap_or_default();
        let id = name::parse_id("talent_exchange.name", "talentExchanges", &t.name);
        let paths = MASK.paths(req.update_mask);
        Error::collect([Error::of(&id), Error::of(&paths)])?;
        let (id, paths) = (id?, paths?);
        let row = self
            .store
            .write_legacy(move |tx| {
                let (t, paths, caller) = (t.clone(), paths.clone(), caller.clone());
                Box::pin(async move {
                    let (current, pairing) = exchange_for_update(tx, &caller, id).await?;
                    check_etag(&t.etag, current.revision)?;
                    if current.delete_time.is_some() {
                        return Err(Error::precondition(
                            "TALENT_EXCHANGE_DELETED",
                            "a deleted exchange cannot change; undelete it first",
                        ));
                    }
                    let input = TalentInput::merged(&current, &t, &paths)?;
                    input.check(&pairing)?;
                    save_audited(tx, &caller, UPDATE, &current, input.columns()).await
                })
            })
            .await?;
        tracing::info!(exchange = row.id, "talent exchange updated");
        Ok(Response::new(to_proto(row, true)))
    }

    async fn delete_talent_exchange(
        &self,
        request: Request<DeleteTalentExchangeRequest>,
    ) -> Result<Response<TalentExchange>, Status> {
        let caller = authz::caller(&request)?;
        let req = request.into_inner();
        let id = name::parse_id("name", "talentExchanges", &req.name)?;
        let row = self
            .store
            .write_legacy(move |tx| {
                let (sent_etag, caller) = (req.etag.clone(), caller.clone());
                Box::pin(async move {
                    let (current, _) = exchange_for_update(tx, &caller, id).await?;
                    check_etag(&sent_etag, current.revision)?;
                    if current.delete_time.is_some() {
                        return Err(Error::precondition(
                            "TALENT_EXCHANGE_DELETED",
                            "the exchange is already deleted",
                        ));
                    }
                    let change = TalentChange {
                        delete_time: Set(Some(chrono::Utc::now())),
                        ..Default::default()
                    };
                    save_audited(tx, &caller, DELETE, &current, change).await
                })
            })
            .await?;
        tracing::info!(exchange = row.id, "talent exchange deleted");
        Ok(Response::new(to_proto(row, true)))
    }

    async fn undelete_talent_exchange(
        &self,
        request: Request<UndeleteTalentExchangeRequest>,
    ) -> Result<Response<TalentExchange>, Status> {
        let caller = authz::caller(&request)?;
        let id = name::parse_id("name", "talentExchanges", &request.get_ref().name)?;
        let row = self
            .store
            .write_legacy(move |tx| {
                let caller = caller.clone();
                Box::pin(async move {
                    let (current, pairing) = exchange_for_update(tx, &caller, id).await?;
                    if current.delete_time.is_none() {
                        return Err(Error::precondition(
                            "TALENT_EXCHANGE_NOT_DELETED",
                            "the exchange is not deleted",
                        ));
                    }
                    if pairing.delete_time.is_some() {
                        return Err(Error::precondition(
                            "PAIRING_DELETED",
                            "the exchange's pairing is deleted; undelete it first",
                        ));
                    }
                    // The pairing's period may have changed while the exchange was deleted.
                    let input = TalentInput::parse(&to_proto(current.clone(), true))?;
                    input.check(&pairing).map_err(|_| {
                        Error::precondition(
                            "OUTSIDE_PAIRING_PERIOD",
                            "the pairing's period changed and no longer covers this exchange; \
                             change its dates first",
                        )
                    })?;
                    let change = TalentChange {
                        delete_time: Set(None),
                        ..Default::default()
                    };
                    save_audited(tx, &caller, UNDELETE, &current, change).await
                })
            })
            .await?;
        tracing::info!(exchange = row.id, "talent exchange undeleted");
        Ok(Response::new(to_proto(row, true)))
    }

    async fn get_talent_summary(
        &self,
        request: Request<GetTalentSummaryRequest>,
    ) -> Result<Response<TalentSummary>, Status> {
        let req = request.into_inner();
        if req.scope.is_empty() {
            return Err(Error::invalid("scope", "is required").into());
        }
        if !(0..=9999).contains(&req.year) {
            return Err(Error::invalid("year", "must be a year, or 0 for all years").into());
        }
        let db = self.store.db();
        let mut query = summary_query(db, &req.scope).await?;
        query.year = (req.year != 0).then_some(req.year);
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
            let kind = i32::from(kind);
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
            let direction = i32::from(direction);
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
        Ok(Response::new(TalentSummary {
            scope: req.scope,
            year: req.year,
            totals: Some(all),
            by_kind,
            by_direction,
        }))
    }
}
