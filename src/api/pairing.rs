//! `duikou.v1.PairingService`: cooperation programs and pairings.

use super::{
    MaskRules, Named, audited, etag, filter_region_path, page_of,
    program::{create_program, get_program, list_programs, update_program},
    request_key, required, service, timestamp,
};
use crate::{
    app::{
        self, Edit,
        pairing::{CreatePairing, PairingDeletion, PairingDraft, PairingPatch},
    },
    domain::{
        audit::Call,
        name,
        page::Page,
        pairing::{self as rules, CooperationField, PairingFilter, RegionMatch, Transition},
        period::{Period, format_date},
        region::RegionCode,
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
        Store,
        pairing::{self as pairings, PairingQuery, PairingRow, RegionCondition},
    },
};

pub(crate) use crate::app::pairing::not_found as pairing_not_found;

const PAIRING_MASK: MaskRules = MaskRules {
    name_field: "pairing.name",
    collection: "pairings",
    updatable: rules::UPDATABLE,
    immutable: rules::IMMUTABLE,
    output_only: rules::OUTPUT_ONLY,
};

const PAIRING: Named<PairingRow, Pairing> = Named {
    collection: "pairings",
    reply: pairing_to_proto,
};

/// Serves programs and pairings from the store.
#[derive(Clone)]
pub struct Pairings {
    pub(super) store: Store,
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
        level: row.level.number(),
        fields: CooperationField::load_list(&row.fields)
            .into_iter()
            .map(CooperationField::number)
            .collect(),
        period_start: format_date(row.period_start),
        period_end: format_date(row.period_end),
        state: row.state.number(),
        display_name: row.display_name,
        create_time: Some(timestamp(row.create_time)),
        update_time: Some(timestamp(row.update_time)),
        delete_time: row.delete_time.map(timestamp),
        etag: etag(row.revision),
    }
}

audited!(PairingRow: |p| name::format_id("pairings", p.id), pairing_to_proto(p.clone()));

/// Reads the content of a CreatePairing request.
fn parse_draft(p: &Pairing) -> Result<PairingDraft, Error> {
    let program_id = required(&p.program, "pairing.program")
        .and_then(|n| name::parse_id("pairing.program", "programs", n));
    let supporting = required(&p.supporting_region, "pairing.supporting_region")
        .and_then(|n| RegionCode::from_name("pairing.supporting_region", n));
    let supported = required(&p.supported_region, "pairing.supported_region")
        .and_then(|n| RegionCode::from_name("pairing.supported_region", n));
    let parent_id = parse_parent(&p.parent);
    let fields = CooperationField::parse_list("pairing.fields", &p.fields);
    let period = Period::parse("pairing.", &p.period_start, &p.period_end);
    let (program_id, supporting, supported, parent_id, fields, period) =
        Error::all((program_id, supporting, supported, parent_id, fields, period))?;
    Ok(PairingDraft {
        program_id,
        supporting,
        supported,
        parent_id,
        fields,
        period,
    })
}

/// The fields of `p` that the update mask's `paths` name, checked.
fn patch_of(p: Pairing, paths: &[&str]) -> Result<PairingPatch, Error> {
    let has = |field: &str| paths.contains(&field);
    let parent_id = has("parent").then(|| parse_parent(&p.parent)).transpose();
    let fields = has("fields")
        .then(|| CooperationField::parse_list("pairing.fields", &p.fields))
        .transpose();
    Error::collect([Error::of(&parent_id), Error::of(&fields)])?;
    Ok(PairingPatch {
        parent_id: parent_id?,
        fields: fields?,
        period_start: has("period_start").then_some(p.period_start),
        period_end: has("period_end").then_some(p.period_end),
    })
}

fn parse_parent(parent: &str) -> Result<Option<i64>, Error> {
    name::parse_optional_id("pairing.parent", "pairings", parent)
}

service! {
    PairingService for Pairings {
        create_program(CreateProgramRequest) -> Program;
        get_program(GetProgramRequest) -> Program;
        list_programs(ListProgramsRequest) -> ListProgramsResponse;
        update_program(UpdateProgramRequest) -> Program;
        create_pairing(CreatePairingRequest) -> Pairing;
        get_pairing(GetPairingRequest) -> Pairing;
        list_pairings(ListPairingsRequest) -> ListPairingsResponse;
        update_pairing(UpdatePairingRequest) -> Pairing =
            PAIRING.update(&PAIRING_MASK, |r| (r.pairing, r.update_mask), patch_of);
        delete_pairing(DeletePairingRequest) -> Pairing =
            PAIRING.write(|r| (r.name, r.etag), PairingDeletion::delete);
        undelete_pairing(UndeletePairingRequest) -> Pairing =
            PAIRING.write(|r| (r.name, String::new()), PairingDeletion::undelete);
        suspend_pairing(SuspendPairingRequest) -> Pairing =
            PAIRING.write(|r| (r.name, r.etag), Edit::with(Transition::Suspend));
        resume_pairing(ResumePairingRequest) -> Pairing =
            PAIRING.write(|r| (r.name, r.etag), Edit::with(Transition::Resume));
        end_pairing(EndPairingRequest) -> Pairing =
            PAIRING.write(|r| (r.name, r.etag), Edit::with(Transition::End));
    }
}

/// Resolves a region condition of a list filter into a stored code or path.
async fn region_condition(
    service: &Pairings,
    m: Option<&RegionMatch>,
) -> Result<Option<RegionCondition>, Error> {
    Ok(match m {
        None => None,
        Some(RegionMatch::Exactly(code)) => {
            Some(RegionCondition::Exactly(code.as_str().to_owned()))
        }
        Some(RegionMatch::Within(code)) => filter_region_path(&service.store, Some(code))
            .await?
            .map(RegionCondition::Within),
    })
}

async fn create_pairing(
    service: &Pairings,
    call: Call,
    mut req: CreatePairingRequest,
) -> Result<Pairing, Error> {
    let key = request_key(&call, &mut req, |r| &mut r.request_id)?;
    let draft = parse_draft(&req.pairing.unwrap_or_default())?;
    let row = app::create_once(&service.store, call, key, CreatePairing(draft)).await?;
    Ok(pairing_to_proto(row))
}

async fn get_pairing(
    service: &Pairings,
    _: Call,
    req: GetPairingRequest,
) -> Result<Pairing, Error> {
    let id = name::parse_id("name", "pairings", &req.name)?;
    let row = pairings::find(&service.store, id)
        .await?
        .ok_or_else(|| pairing_not_found(id))?;
    Ok(pairing_to_proto(row))
}

async fn list_pairings(
    service: &Pairings,
    _: Call,
    req: ListPairingsRequest,
) -> Result<ListPairingsResponse, Error> {
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
        service.store.page_key().await?,
        req.page_size,
        &req.page_token,
        &["pairings", &req.filter, req.order_by.trim(), show_deleted],
    );
    let (filter, descending, page) = Error::all((filter, descending, page))?;
    let after = page.after_id()?;
    let query = PairingQuery {
        supporting: region_condition(service, filter.supporting.as_ref()).await?,
        supported: region_condition(service, filter.supported.as_ref()).await?,
        filter: &filter,
        show_deleted: req.show_deleted,
        descending,
    };
    let rows = pairings::list(service.store.db(), &query, after, page.fetch()).await?;
    Ok(page_of(&page, rows, |r| r.id.to_string(), pairing_to_proto))
}
