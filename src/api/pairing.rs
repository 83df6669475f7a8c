//! `duikou.v1.PairingService`: cooperation programs and pairings.

use tonic::{Request, Response, Status};

use super::{
    MaskRules, authz, digest, etag, filter_region_path, page_of, program, request_key, required,
    timestamp,
};
use crate::{
    app::{
        self,
        pairing::{
            CreatePairing, DeletePairing, PairingDraft, PairingPatch, StepPairing, UndeletePairing,
        },
    },
    domain::{
        audit::Audited,
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

impl Audited for PairingRow {
    fn audit_name(&self) -> String {
        name::format_id("pairings", self.id)
    }

    fn audit_digest(&self) -> String {
        digest(&pairing_to_proto(self.clone()))
    }
}

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
    Error::collect([
        Error::of(&program_id),
        Error::of(&supporting),
        Error::of(&supported),
        Error::of(&parent_id),
        Error::of(&fields),
        Error::of(&period),
    ])?;
    Ok(PairingDraft {
        program_id: program_id?,
        supporting: supporting?,
        supported: supported?,
        parent_id: parent_id?,
        fields: fields?,
        period: period?,
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
    match parent {
        "" => Ok(None),
        name => name::parse_id("pairing.parent", "pairings", name).map(Some),
    }
}

impl Pairings {
    async fn transition<T>(
        &self,
        request: Request<T>,
        name: impl Fn(&T) -> (&str, &str),
        step: Transition,
    ) -> Result<Response<Pairing>, Status> {
        let call = authz::call(&request)?;
        let (sent_name, etag) = name(request.get_ref());
        let id = name::parse_id("name", "pairings", sent_name)?;
        let change = StepPairing {
            id,
            etag: etag.to_owned(),
            what: step,
        };
        let row = self.store.write(call, change).await?;
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
            Some(RegionMatch::Within(code)) => filter_region_path(&self.store, Some(&code))
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
        let call = authz::call(&request)?;
        let mut req = request.into_inner();
        let key = request_key(&call, &mut req, |r| &mut r.request_id)?;
        let draft = parse_draft(&req.pairing.unwrap_or_default())?;
        let row = app::create_once(&self.store, call, key, CreatePairing(draft)).await?;
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
            level: filter.level,
            show_deleted: req.show_deleted,
            descending,
        };
        let rows = pairings::list(self.store.db(), &query, after, page.fetch()).await?;
        Ok(page_of(&page, rows, |r| r.id.to_string(), pairing_to_proto))
    }

    async fn update_pairing(
        &self,
        request: Request<UpdatePairingRequest>,
    ) -> Result<Response<Pairing>, Status> {
        let call = authz::call(&request)?;
        let req = request.into_inner();
        let change = PAIRING_MASK.edit(
            req.pairing,
            req.update_mask,
            |p| (&p.name, &p.etag),
            patch_of,
        )?;
        let row = self.store.write(call, change).await?;
        Ok(Response::new(pairing_to_proto(row)))
    }

    async fn delete_pairing(
        &self,
        request: Request<DeletePairingRequest>,
    ) -> Result<Response<Pairing>, Status> {
        let call = authz::call(&request)?;
        let req = request.into_inner();
        let id = name::parse_id("name", "pairings", &req.name)?;
        let change = DeletePairing { id, etag: req.etag };
        let row = self.store.write(call, change).await?;
        Ok(Response::new(pairing_to_proto(row)))
    }

    async fn undelete_pairing(
        &self,
        request: Request<UndeletePairingRequest>,
    ) -> Result<Response<Pairing>, Status> {
        let call = authz::call(&request)?;
        let id = name::parse_id("name", "pairings", &request.get_ref().name)?;
        let row = self.store.write(call, UndeletePairing { id }).await?;
        Ok(Response::new(pairing_to_proto(row)))
    }

    async fn suspend_pairing(
        &self,
        request: Request<SuspendPairingRequest>,
    ) -> Result<Response<Pairing>, Status> {
        self.transition(request, |r| (&r.name, &r.etag), Transition::Suspend)
            .await
    }

    async fn resume_pairing(
        &self,
        request: Request<ResumePairingRequest>,
    ) -> Result<Response<Pairing>, Status> {
        self.transition(request, |r| (&r.name, &r.etag), Transition::Resume)
            .await
    }

    async fn end_pairing(
        &self,
        request: Request<EndPairingRequest>,
    ) -> Result<Response<Pairing>, Status> {
        self.transition(request, |r| (&r.name, &r.etag), Transition::End)
            .await
    }
}
