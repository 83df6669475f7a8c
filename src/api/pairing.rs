//! `duikou.v1.PairingService`: cooperation programs and pairings.

use sea_orm::{ActiveValue::Set, ConnectionTrait};
use tonic::{Request, Response, Status};

use super::{
    MaskRules, authz, check_etag, etag, filter_region_path, program, record, request_key, required,
    stored_period, timestamp,
};
use crate::{
    domain::{
        access::Caller,
        name,
        page::Page,
        pairing::{
            self as rules, CooperationField, PairingFilter, PairingState, Placement, RegionMatch,
            Transition,
        },
        period::{Period, format_date},
        region::{RegionCode, RegionPath},
    },
    error::Error,
    proto::v1::{
        CreatePairingRequest, CreateProgramRequest, DeletePairingRequest, EndPairingRequest,
        GetPairingRequest, GetProgramRequest, ListPairingsRequest, ListPairingsResponse,
        ListProgramsRequest, ListProgramsResponse, Pairing, Program, ResumePairingRequest,
        SuspendPairingRequest, UndeletePairingRequest, UpdatePairingRequest, UpdateProgramRequest,
        pairing_service_server::PairingService,
    },
    store::{
        Store, idempotency,
        pairing::{
            self as pairings, NewPairing, PairingChange, PairingQuery, PairingRow, RegionCondition,
        },
        program::{self as programs, ProgramRow},
        region,
    },
};

const CREATE_PAIRING: &str = "/duikou.v1.PairingService/CreatePairing";
const UPDATE_PAIRING: &str = "/duikou.v1.PairingService/UpdatePairing";
const DELETE_PAIRING: &str = "/duikou.v1.PairingService/DeletePairing";
const UNDELETE_PAIRING: &str = "/duikou.v1.PairingService/UndeletePairing";

/// The method that takes a pairing through `step`.
fn step_method(step: Transition) -> &'static str {
    match step {
        Transition::Suspend => "/duikou.v1.PairingService/SuspendPairing",
        Transition::Resume => "/duikou.v1.PairingService/ResumePairing",
        Transition::End => "/duikou.v1.PairingService/EndPairing",
    }
}

/// Writes a change to a pairing and its audit event.
async fn save_audited(
    tx: &impl ConnectionTrait,
    caller: &Caller,
    method: &str,
    current: &PairingRow,
    change: PairingChange,
) -> Result<PairingRow, Error> {
    let row = pairings::save(tx, current, change).await?;
    let after = pairing_to_proto(row.clone());
    record(caller, method, &after.name, None, &after)?;
    Ok(row)
}

const PAIRING_MASK: MaskRules = MaskRules {
    updatable: rules::UPDATABLE,
    immutable: rules::IMMUTABLE,
    output_only: rules::OUTPUT_ONLY,
};

/// Serves programs and pairings from the store.
#[derive(Clone)]
pub struct Pairings {
    store: Store,
}

impl Pairings {
    /// A service over `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

/// The API form of a stored pairing.
pub(crate) fn pairing_to_proto(row: PairingRow) -> Pairing {
    Pairing {
        name: name::format_id("pairings", row.id),
        program: name::format_id("programs", row.program_id),
        supporting_region: format!("regions/{}", row.supporting_code),
        supported_region: format!("regions/{}", row.supported_code),
        parent: row
            .parent_id
            .map(|p| name::format_id("pairings", p))
            .unwrap_or_default(),
        level: i32::from(row.level),
        fields: CooperationField::load_list(&row.fields)
            .into_iter()
            .map(CooperationField::number)
            .collect(),
        period_start: format_date(row.period_start),
        period_end: format_date(row.period_end),
        state: i32::from(row.state),
        display_name: row.display_name,
        create_time: Some(timestamp(row.create_time)),
        update_time: Some(timestamp(row.update_time)),
        delete_time: row.delete_time.map(timestamp),
        etag: etag(row.revision),
    }
}

pub(crate) fn pairing_not_found(id: i64) -> Error {
    Error::NotFound {
        reason: "PAIRING_NOT_FOUND",
        resource: name::format_id("pairings", id),
    }
}

/// The checked content of a CreatePairing request.
#[derive(Clone)]
struct PairingInput {
    program_id: i64,
    supporting: RegionCode,
    supported: RegionCode,
    parent_id: Option<i64>,
    fields: Vec<CooperationField>,
    period: Period,
}

impl PairingInput {
    fn parse(p: &Pairing) -> Result<Self, Error> {
        let program_id = required(&p.program, "pairing.program")
            .and_then(|n| name::parse_id("pairing.program", "programs", n));
        let supporting = required(&p.supporting_region, "pairing.supporting_region")
            .and_then(|n| RegionCode::from_name("pairing.supporting_region", n));
        let supported = required(&p.supported_region, "pairing.supported_region")
            .and_then(|n| RegionCode::from_name("pairing.supported_region", n));
        let parent_id = parse_parent(&p.parent);
        let fields = CooperationField::parse_list("pairing.fields", &p.fields);
        let period = Period::parse("pairing.", &p.period_start, &p.period_end);
        Error::collect([
            Error::of(&program_id),
            Error::of(&supporting),
            Error::of(&supported),
            Error::of(&parent_id),
            Error::of(&fields),
            Error::of(&period),
        ])?;
        Ok(Self {
            program_id: program_id?,
            supporting: supporting?,
            supported: supported?,
            parent_id: parent_id?,
            fields: fields?,
            period: period?,
        })
    }
}

fn parse_parent(parent: &str) -> Result<Option<i64>, Error> {
    match parent {
        "" => Ok(None),
        name => name::parse_id("pairing.parent", "pairings", name).map(Some),
    }
}

/// Looks up what a pairing refers to and checks its placement; returns the program and
/// the two regions.
async fn check_references(
    tx: &impl ConnectionTrait,
    caller: &Caller,
    input: &PairingInput,
) -> Result<(ProgramRow, region::RegionRow, region::RegionRow), Error> {
    let program = programs::get_for_share(tx, input.program_id)
        .await?
        .ok_or_else(|| {
            Error::invalid(
                "pairing.program",
                format!(
                    "{} does not exist",
                    name::format_id("programs", input.program_id)
                ),
            )
        });
    let regions = region::get_many(tx, &[&input.supporting, &input.supported]).await?;
    let find = |code: &RegionCode, field: &str| {
        regions
            .iter()
            .find(|r| r.code == code.as_str())
            .cloned()
            .ok_or_else(|| Error::invalid(field, format!("{} does not exist", code.name())))
    };
    let supporting = find(&input.supporting, "pairing.supporting_region");
    let supported = find(&input.supported, "pairing.supported_region");
    Error::collect([
        Error::of(&program),
        Error::of(&supporting),
        Error::of(&supported),
    ])?;
    let (program, supporting, supported) = (program?, supporting?, supported?);
    let placement = Placement {
        program_id: input.program_id,
        supporting: RegionPath::from_stored(supporting.path.clone()),
        supported: RegionPath::from_stored(supported.path.clone()),
        period: input.period,
    };
    authz::require_scope(caller, &[&placement.supporting, &placement.supported])?;
    let parent = match input.parent_id {
        Some(parent_id) => Some(live_parent(tx, parent_id).await?),
        None => None,
    };
    let program_period = stored_period(program.period_start, program.period_end)?;
    rules::check_placement(&placement, &program_period, parent.as_ref())?;
    Ok((program, supporting, supported))
}

/// The placement of a live pairing that is to be a parent, locked against deletion.
async fn live_parent(tx: &impl ConnectionTrait, parent_id: i64) -> Result<Placement, Error> {
    match pairings::get_for_share(tx, parent_id).await? {
        Some(parent) if parent.delete_time.is_none() => Ok(placement_of(&parent)?),
        _ => Err(Error::invalid(
            "pairing.parent",
            format!("{} does not exist", name::format_id("pairings", parent_id)),
        )),
    }
}

pub(crate) fn placement_of(row: &PairingRow) -> Result<Placement, Error> {
    Ok(Placement {
        program_id: row.program_id,
        supporting: RegionPath::from_stored(row.supporting_path.clone()),
        supported: RegionPath::from_stored(row.supported_path.clone()),
        period: stored_period(row.period_start, row.period_end)?,
    })
}

/// A pairing inside the caller's reach, locked for change. Permission comes before
/// existence: a scoped caller learns nothing of pairings outside its scope, not even
/// whether they exist.
async fn pairing_in_reach(
    tx: &impl ConnectionTrait,
    caller: &Caller,
    id: i64,
) -> Result<PairingRow, Error> {
    match pairings::get_for_update(tx, id).await? {
        Some(row) => {
            authz::require_scope(
                caller,
                &[
                    &RegionPath::from_stored(row.supporting_path.clone()),
                    &RegionPath::from_stored(row.supported_path.clone()),
                ],
            )?;
            Ok(row)
        }
        None if authz::unrestricted(caller) => Err(pairing_not_found(id)),
        None => Err(authz::outside_scope()),
    }
}

/// A live pairing inside the caller's reach, locked for change; a deleted one cannot
/// change.
async fn live_pairing_for_update(
    tx: &impl ConnectionTrait,
    caller: &Caller,
    id: i64,
    sent_etag: &str,
) -> Result<PairingRow, Error> {
    let row = pairing_in_reach(tx, caller, id).await?;
    if row.delete_time.is_some() {
        return Err(Error::precondition(
            "PAIRING_DELETED",
            format!(
                "{} is deleted; undelete it first",
                name::format_id("pairings", id)
            ),
        ));
    }
    check_etag(sent_etag, row.revision)?;
    Ok(row)
}

impl Pairings {
    async fn transition(
        &self,
        caller: Caller,
        name: &str,
        sent_etag: &str,
        step: Transition,
    ) -> Result<Response<Pairing>, Status> {
        let id = name::parse_id("name", "pairings", name)?;
        let sent_etag = sent_etag.to_owned();
        let row = self
            .store
            .write(move |tx| {
                let (sent_etag, caller) = (sent_etag.clone(), caller.clone());
                Box::pin(async move {
                    let row = live_pairing_for_update(tx, &caller, id, &sent_etag).await?;
                    let state =
                        PairingState::from_number(i32::from(row.state)).ok_or_else(|| {
                            anyhow::anyhow!("pairing {id} has unknown state {}", row.state)
                        })?;
                    let next = state.apply(step)?;
                    let change = PairingChange {
                        state: Set(next.number() as i16),
                        ..Default::default()
                    };
                    save_audited(tx, &caller, step_method(step), &row, change).await
                })
            })
            .await?;
        tracing::info!(pairing = id, step = ?step, "pairing state changed");
        Ok(Response::new(pairing_to_proto(row)))
    }

    /// Resolves a region condition of a list filter into a stored code or path.
    async fn region_condition(
        &self,
        m: Option<RegionMatch>,
    ) -> Result<Option<RegionCondition>, Error> {
        Ok(match m {
            None => None,
            Some(RegionMatch::Exactly(code)) => {
                Some(RegionCondition::Exactly(code.as_str().to_owned()))
            }
            Some(RegionMatch::Within(code)) => filter_region_path(self.store.db(), Some(&code))
                .await?
                .map(RegionCondition::Within),
        })
    }
}

#[tonic::async_trait]
impl PairingService for Pairings {
    async fn create_program(
        &self,
        request: Request<CreateProgramRequest>,
    ) -> Result<Response<Program>, Status> {
        program::create(&self.store, request).await
    }

    async fn get_program(
        &self,
        request: Request<GetProgramRequest>,
    ) -> Result<Response<Program>, Status> {
        program::get(&self.store, request).await
    }

    async fn list_programs(
        &self,
        request: Request<ListProgramsRequest>,
    ) -> Result<Response<ListProgramsResponse>, Status> {
        program::list(&self.store, request).await
    }

    async fn update_program(
        &self,
        request: Request<UpdateProgramRequest>,
    ) -> Result<Response<Program>, Status> {
        program::update(&self.store, request).await
    }

    async fn create_pairing(
        &self,
        request: Request<CreatePairingRequest>,
    ) -> Result<Response<Pairing>, Status> {
        let caller = authz::caller(&request)?;
        let mut req = request.into_inner();
        let key = request_key(Some(&caller), CREATE_PAIRING, &mut req, |r| {
            &mut r.request_id
        })?;
        let input = PairingInput::parse(&req.pairing.unwrap_or_default())?;
        let row = self
            .store
            .write(move |tx| {
                let (input, key, caller) = (input.clone(), key.clone(), caller.clone());
                Box::pin(async move {
                    // A replay is authorized as the request was: the pairing must lie in
                    // the caller's reach.
                    if let Some(earlier) = idempotency::claim(tx, key.as_ref()).await? {
                        let id = name::parse_id("request_id", "pairings", &earlier)?;
                        return pairing_in_reach(tx, &caller, id).await;
                    }
                    let (_, supporting, supported) = check_references(tx, &caller, &input).await?;
                    let row = pairings::insert(
                        tx,
                        &NewPairing {
                            program_id: input.program_id,
                            supporting: &supporting,
                            supported: &supported,
                            parent_id: input.parent_id,
                            fields: &input.fields,
                            period: input.period,
                        },
                    )
                    .await?;
                    let name = name::format_id("pairings", row.id);
                    record(
                        &caller,
                        CREATE_PAIRING,
                        &name,
                        key.as_ref(),
                        &pairing_to_proto(row.clone()),
                    )?;
                    idempotency::settle(tx, key.as_ref(), &name).await?;
                    Ok(row)
                })
            })
            .await?;
        tracing::info!(pairing = row.id, "pairing created");
        Ok(Response::new(pairing_to_proto(row)))
    }

    async fn get_pairing(
        &self,
        request: Request<GetPairingRequest>,
    ) -> Result<Response<Pairing>, Status> {
        let id = name::parse_id("name", "pairings", &request.get_ref().name)?;
        let row = pairings::find(&self.store, id)
            .await?
            .ok_or_else(|| pairing_not_found(id))?;
        Ok(Response::new(pairing_to_proto(row)))
    }

    async fn list_pairings(
        &self,
        request: Request<ListPairingsRequest>,
    ) -> Result<Response<ListPairingsResponse>, Status> {
        let req = request.into_inner();
        let filter = PairingFilter::parse(&req.filter);
        let descending = match req.order_by.trim() {
            "" | "create_time" | "create_time asc" => Ok(false),
            "create_time desc" => Ok(true),
            _ => Err(Error::invalid(
                "order_by",
                "must be \"create_time\" or \"create_time desc\"",
            )),
        };
        let show_deleted = if req.show_deleted { "deleted" } else { "live" };
        let page = Page::open(
            req.page_size,
            &req.page_token,
            &["pairings", &req.filter, req.order_by.trim(), show_deleted],
        );
        Error::collect([Error::of(&filter), Error::of(&descending), Error::of(&page)])?;
        let (filter, descending, page) = (filter?, descending?, page?);
        let after = page.after_id()?;
        let query = PairingQuery {
            program_id: filter.program_id,
            supporting: self.region_condition(filter.supporting).await?,
            supported: self.region_condition(filter.supported).await?,
            state: filter.state,
            level: filter.level.map(|l| l.number() as i16),
            show_deleted: req.show_deleted,
            descending,
        };
        let rows = pairings::list(self.store.db(), &query, after, page.fetch()).await?;
        let (rows, next_page_token) = page.close(rows, |r| r.id.to_string());
        Ok(Response::new(ListPairingsResponse {
            pairings: rows.into_iter().map(pairing_to_proto).collect(),
            next_page_token,
        }))
    }

    async fn update_pairing(
        &self,
        request: Request<UpdatePairingRequest>,
    ) -> Result<Response<Pairing>, Status> {
        let caller = authz::caller(&request)?;
        let req = request.into_inner();
        let p = req.pairing.unwrap_or_default();
        let id = name::parse_id("pairing.name", "pairings", &p.name);
        let paths = PAIRING_MASK.paths(req.update_mask);
        Error::collect([Error::of(&id), Error::of(&paths)])?;
        let (id, paths) = (id?, paths?);
        let row = self
            .store
            .write(move |tx| {
                let (p, paths, caller) = (p.clone(), paths.clone(), caller.clone());
                Box::pin(async move {
                    let current = live_pairing_for_update(tx, &caller, id, &p.etag).await?;
                    let has = |field: &str| paths.contains(&field);
                    let parent_id = if has("parent") {
                        parse_parent(&p.parent)
                    } else {
                        Ok(current.parent_id)
                    };
                    let fields = if has("fields") {
                        CooperationField::parse_list("pairing.fields", &p.fields)
                    } else {
                        Ok(CooperationField::load_list(&current.fields))
                    };
                    let start = if has("period_start") {
                        p.period_start.clone()
                    } else {
                        format_date(current.period_start)
                    };
                    let end = if has("period_end") {
                        p.period_end.clone()
                    } else {
                        format_date(current.period_end)
                    };
                    let period = Period::parse("pairing.", &start, &end).map_err(|e| {
                        let only_start_sent = has("period_start") && !has("period_end");
                        match e {
                            // The stored end stands; the start sent is what is wrong.
                            Error::InvalidArgument { ref violations, .. }
                                if only_start_sent
                                    && violations
                                        .iter()
                                        .any(|v| v.field == "pairing.period_end") =>
                            {
                                Error::invalid(
                                    "pairing.period_start",
                                    format!("must be before the pairing's period_end, {end}"),
                                )
                            }
                            other => other,
                        }
                    });
                    Error::collect([
                        Error::of(&parent_id),
                        Error::of(&fields),
                        Error::of(&period),
                    ])?;
                    let (parent_id, fields, period) = (parent_id?, fields?, period?);

                    if let Some(parent_id) = parent_id {
                        if pairings::ancestry(tx, parent_id, id).await?.contains(&id) {
                            return Err(Error::invalid(
                                "pairing.parent",
                                "would make the pairing its own ancestor",
                            ));
                        }
                    }
                    let parent = match parent_id {
                        Some(parent_id) => Some(live_parent(tx, parent_id).await?),
                        None => None,
                    };
                    let program = programs::get_for_share(tx, current.program_id)
                        .await?
                        .ok_or_else(|| program::not_found(current.program_id))?;
                    let placement = Placement {
                        period,
                        ..placement_of(&current)?
                    };
                    let program_period = stored_period(program.period_start, program.period_end)?;
                    rules::check_placement(&placement, &program_period, parent.as_ref())?;
                    let outside = pairings::children_outside(tx, id, &period).await?;
                    if outside > 0 {
                        return Err(Error::FailedPrecondition {
                            reason: "CHILDREN_OUTSIDE_PERIOD",
                            message: format!(
                                "{outside} live child pairing(s) would fall outside the new \
                                 period; change or delete them first"
                            ),
                            metadata: vec![("children_outside", outside.to_string())],
                        });
                    }
                    let change = PairingChange {
                        parent_id: Set(parent_id),
                        fields: Set(CooperationField::store_list(&fields)),
                        period_start: Set(period.start()),
                        period_end: Set(period.end()),
                        ..Default::default()
                    };
                    save_audited(tx, &caller, UPDATE_PAIRING, &current, change).await
                })
            })
            .await?;
        tracing::info!(pairing = row.id, "pairing updated");
        Ok(Response::new(pairing_to_proto(row)))
    }

    async fn delete_pairing(
        &self,
        request: Request<DeletePairingRequest>,
    ) -> Result<Response<Pairing>, Status> {
        let caller = authz::caller(&request)?;
        let req = request.into_inner();
        let id = name::parse_id("name", "pairings", &req.name)?;
        let row = self
            .store
            .write(move |tx| {
                let (sent_etag, caller) = (req.etag.clone(), caller.clone());
                Box::pin(async move {
                    let current = live_pairing_for_update(tx, &caller, id, &sent_etag).await?;
                    let children = pairings::live_children(tx, id).await?;
                    if children > 0 {
                        return Err(Error::FailedPrecondition {
                            reason: "HAS_LIVE_CHILDREN",
                            message: format!(
                                "the pairing has {children} live child pairing(s); delete them first"
                            ),
                            metadata: vec![("live_children", children.to_string())],
                        });
                    }
                    let change = PairingChange {
                        delete_time: Set(Some(chrono::Utc::now())),
                        ..Default::default()
                    };
                    save_audited(tx, &caller, DELETE_PAIRING, &current, change).await
                })
            })
            .await?;
        tracing::info!(pairing = row.id, "pairing deleted");
        Ok(Response::new(pairing_to_proto(row)))
    }

    async fn undelete_pairing(
        &self,
        request: Request<UndeletePairingRequest>,
    ) -> Result<Response<Pairing>, Status> {
        let caller = authz::caller(&request)?;
        let id = name::parse_id("name", "pairings", &request.get_ref().name)?;
        let row = self
            .store
            .write(move |tx| {
                let caller = caller.clone();
                Box::pin(async move {
                    let current = pairing_in_reach(tx, &caller, id).await?;
                    if current.delete_time.is_none() {
                        return Err(Error::precondition(
                            "PAIRING_NOT_DELETED",
                            "the pairing is not deleted",
                        ));
                    }
                    let placement = placement_of(&current)?;
                    if let Some(parent_id) = current.parent_id {
                        let parent = pairings::get_for_share(tx, parent_id)
                            .await?
                            .filter(|p| p.delete_time.is_none())
                            .ok_or_else(|| {
                                Error::precondition(
                                    "PARENT_DELETED",
                                    "the parent pairing is deleted; undelete it first",
                                )
                            })?;
                        // The parent may have changed while this pairing was deleted.
                        if !placement_of(&parent)?.period.contains(&placement.period) {
                            return Err(Error::precondition(
                                "OUTSIDE_PARENT_PERIOD",
                                "the parent pairing's period changed and no longer covers \
                                 this pairing; change its period first",
                            ));
                        }
                    }
                    let program = programs::get_for_share(tx, current.program_id)
                        .await?
                        .ok_or_else(|| program::not_found(current.program_id))?;
                    let program_period = stored_period(program.period_start, program.period_end)?;
                    if !program_period.contains(&placement.period) {
                        return Err(Error::precondition(
                            "OUTSIDE_PROGRAM_PERIOD",
                            "the program's period changed and no longer covers this pairing",
                        ));
                    }
                    let change = PairingChange {
                        delete_time: Set(None),
                        ..Default::default()
                    };
                    save_audited(tx, &caller, UNDELETE_PAIRING, &current, change).await
                })
            })
            .await?;
        tracing::info!(pairing = row.id, "pairing undeleted");
        Ok(Response::new(pairing_to_proto(row)))
    }

    async fn suspend_pairing(
        &self,
        request: Request<SuspendPairingRequest>,
    ) -> Result<Response<Pairing>, Status> {
        let caller = authz::caller(&request)?;
        let req = request.get_ref();
        self.transition(caller, &req.name, &req.etag, Transition::Suspend)
            .await
    }

    async fn resume_pairing(
        &self,
        request: Request<ResumePairingRequest>,
    ) -> Result<Response<Pairing>, Status> {
        let caller = authz::caller(&request)?;
        let req = request.get_ref();
        self.transition(caller, &req.name, &req.etag, Transition::Resume)
            .await
    }

    async fn end_pairing(
        &self,
        request: Request<EndPairingRequest>,
    ) -> Result<Response<Pairing>, Status> {
        let caller = authz::caller(&request)?;
        let req = request.get_ref();
        self.transition(caller, &req.name, &req.etag, Transition::End)
            .await
    }
}
