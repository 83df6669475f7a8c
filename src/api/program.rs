//! Cooperation programs (协作计划), served as part of `duikou.v1.PairingService`: the
//! schemes, with their basis and period, that pairings belong to.

use super::{
    MaskRules, audited, authz, etag, page_of, pairing::Pairings, patch, request_key, timestamp,
};
use crate::{
    app::{
        self,
        program::{CreateProgram, not_found},
    },
    domain::{
        audit::Call,
        name,
        page::Page,
        patch::Writable,
        period::format_date,
        program::{self as program_rules, ProgramDraft, ProgramFields, ProgramFilter},
    },
    error::Error,
    proto::v1::{
        CreateProgramRequest, GetProgramRequest, ListProgramsRequest, ListProgramsResponse,
        Program, UpdateProgramRequest,
    },
    store::{
        Hold, by_id,
        program::{self as programs, ProgramRow},
    },
};

const PROGRAM_MASK: MaskRules = MaskRules {
    name_field: "program.name",
    collection: "programs",
    updatable: ProgramFields::UPDATABLE,
    immutable: &[],
    output_only: program_rules::OUTPUT_ONLY,
};

/// The fields of a program that callers write, as the request sends them.
fn fields_of(p: &Program) -> ProgramFields {
    ProgramFields {
        display_name: p.display_name.clone(),
        basis_document: p.basis_document.clone(),
        period_start: p.period_start.clone(),
        period_end: p.period_end.clone(),
        description: p.description.clone(),
        kind: p.kind,
    }
}

/// The API form of a stored program.
fn program_to_proto(row: ProgramRow) -> Program {
    Program {
        name: name::format_id("programs", row.id),
        display_name: row.display_name,
        basis_document: row.basis_document,
        period_start: format_date(row.period_start),
        period_end: format_date(row.period_end),
        description: row.description,
        create_time: Some(timestamp(row.create_time)),
        update_time: Some(timestamp(row.update_time)),
        etag: etag(row.revision),
        kind: row.kind.number(),
    }
}

audited!(ProgramRow: |p| name::format_id("programs", p.id), program_to_proto(p.clone()));

/// CreateProgram: ADMIN only, anywhere.
pub(super) async fn create_program(
    service: &Pairings,
    call: Call,
    mut req: CreateProgramRequest,
) -> Result<Program, Error> {
    authz::require_everywhere(call.authenticated()?)?;
    let key = request_key(&call, &mut req, |r| &mut r.request_id)?;
    let draft = ProgramDraft::parse(&fields_of(&req.program.unwrap_or_default()))?;
    let row = app::create_once(&service.store, call, key, CreateProgram(draft)).await?;
    Ok(program_to_proto(row))
}

/// GetProgram.
pub(super) async fn get_program(
    service: &Pairings,
    _: Call,
    req: GetProgramRequest,
) -> Result<Program, Error> {
    let id = name::parse_id("name", "programs", &req.name)?;
    let row = by_id::<ProgramRow>(service.store.db(), id, Hold::Nothing)
        .await?
        .ok_or_else(|| not_found(id))?;
    Ok(program_to_proto(row))
}

/// ListPrograms, in creation order, of one kind if the filter says so.
pub(super) async fn list_programs(
    service: &Pairings,
    _: Call,
    req: ListProgramsRequest,
) -> Result<ListProgramsResponse, Error> {
    let filter = ProgramFilter::parse(&req.filter);
    let page = Page::open(
        service.store.page_key().await?,
        req.page_size,
        &req.page_token,
        &["programs", &req.filter],
    );
    let (filter, page) = Error::all((filter, page))?;
    let rows = programs::list(service.store.db(), &filter, page.after_id()?, page.fetch()).await?;
    Ok(page_of(&page, rows, |r| r.id.to_string(), program_to_proto))
}

/// UpdateProgram: ADMIN only, anywhere; the period must still hold every live pairing.
pub(super) async fn update_program(
    service: &Pairings,
    call: Call,
    req: UpdateProgramRequest,
) -> Result<Program, Error> {
    authz::require_everywhere(call.authenticated()?)?;
    let change = PROGRAM_MASK.edit(req.program, req.update_mask, patch(fields_of))?;
    let row = service.store.write(call, change).await?;
    Ok(program_to_proto(row))
}
