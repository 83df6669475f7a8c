//! Cooperation programs (协作计划), served as part of `duikou.v1.PairingService`: the
//! schemes, with their basis and period, that pairings belong to.

use tonic::{Request, Response, Status};

use super::{MaskRules, authz, check_etag, etag, record, request_key, timestamp};
use crate::{
    domain::{
        name,
        page::Page,
        period::format_date,
        program::{self as program_rules, ProgramDraft},
    },
    error::Error,
    proto::v1::{
        CreateProgramRequest, GetProgramRequest, ListProgramsRequest, ListProgramsResponse,
        Program, UpdateProgramRequest,
    },
    store::{
        Store, idempotency,
        program::{self as programs, ProgramRow},
    },
};

const CREATE_PROGRAM: &str = "/duikou.v1.PairingService/CreateProgram";
const UPDATE_PROGRAM: &str = "/duikou.v1.PairingService/UpdateProgram";

const PROGRAM_MASK: MaskRules = MaskRules {
    updatable: program_rules::UPDATABLE,
    immutable: &[],
    output_only: program_rules::OUTPUT_ONLY,
};

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
    }
}

/// NOT_FOUND for program `id`.
pub(super) fn not_found(id: i64) -> Error {
    Error::NotFound {
        reason: "PROGRAM_NOT_FOUND",
        resource: name::format_id("programs", id),
    }
}

/// CreateProgram: ADMIN only, anywhere.
pub(super) async fn create(
    store: &Store,
    request: Request<CreateProgramRequest>,
) -> Result<Response<Program>, Status> {
    let caller = authz::caller(&request)?;
    authz::require_everywhere(&caller)?;
    let mut req = request.into_inner();
    let key = request_key(Some(&caller), CREATE_PROGRAM, &mut req, |r| {
        &mut r.request_id
    })?;
    let p = req.program.unwrap_or_default();
    let draft = ProgramDraft::new(
        p.display_name,
        p.basis_document,
        &p.period_start,
        &p.period_end,
        p.description,
    )?;
    let row = store
        .write(move |tx| {
            let (draft, key, caller) = (draft.clone(), key.clone(), caller.clone());
            Box::pin(async move {
                if let Some(earlier) = idempotency::claim(tx, key.as_ref()).await? {
                    let id = name::parse_id("request_id", "programs", &earlier)?;
                    return programs::get(tx, id).await?.ok_or_else(|| not_found(id));
                }
                let row = programs::insert(tx, &draft).await?;
                let name = name::format_id("programs", row.id);
                record(
                    &caller,
                    CREATE_PROGRAM,
                    &name,
                    key.as_ref(),
                    &program_to_proto(row.clone()),
                )?;
                idempotency::settle(tx, key.as_ref(), &name).await?;
                Ok(row)
            })
        })
        .await?;
    tracing::info!(program = row.id, "program created");
    Ok(Response::new(program_to_proto(row)))
}

/// GetProgram.
pub(super) async fn get(
    store: &Store,
    request: Request<GetProgramRequest>,
) -> Result<Response<Program>, Status> {
    let id = name::parse_id("name", "programs", &request.get_ref().name)?;
    let row = programs::get(store.db(), id)
        .await?
        .ok_or_else(|| not_found(id))?;
    Ok(Response::new(program_to_proto(row)))
}

/// ListPrograms, in creation order.
pub(super) async fn list(
    store: &Store,
    request: Request<ListProgramsRequest>,
) -> Result<Response<ListProgramsResponse>, Status> {
    let req = request.into_inner();
    let page = Page::open(req.page_size, &req.page_token, &["programs"])?;
    let after = page.after_id()?;
    let rows = programs::list(store.db(), after, page.fetch()).await?;
    let (rows, next_page_token) = page.close(rows, |r| r.id.to_string());
    Ok(Response::new(ListProgramsResponse {
        programs: rows.into_iter().map(program_to_proto).collect(),
        next_page_token,
    }))
}

/// UpdateProgram: ADMIN only, anywhere; the period must still hold every live pairing.
pub(super) async fn update(
    store: &Store,
    request: Request<UpdateProgramRequest>,
) -> Result<Response<Program>, Status> {
    let caller = authz::caller(&request)?;
    authz::require_everywhere(&caller)?;
    let req = request.into_inner();
    let p = req.program.unwrap_or_default();
    let id = name::parse_id("program.name", "programs", &p.name);
    let paths = PROGRAM_MASK.paths(req.update_mask);
    Error::collect([Error::of(&id), Error::of(&paths)])?;
    let (id, paths) = (id?, paths?);
    let row = store
        .write(move |tx| {
            let (p, paths, caller) = (p.clone(), paths.clone(), caller.clone());
            Box::pin(async move {
                let current = programs::get_for_update(tx, id)
                    .await?
                    .ok_or_else(|| not_found(id))?;
                check_etag(&p.etag, current.revision)?;
                let pick = |field: &str, new: &str, old: String| {
                    if paths.contains(&field) {
                        new.to_owned()
                    } else {
                        old
                    }
                };
                let draft = ProgramDraft::new(
                    pick(
                        "display_name",
                        &p.display_name,
                        current.display_name.clone(),
                    ),
                    pick(
                        "basis_document",
                        &p.basis_document,
                        current.basis_document.clone(),
                    ),
                    &pick(
                        "period_start",
                        &p.period_start,
                        format_date(current.period_start),
                    ),
                    &pick("period_end", &p.period_end, format_date(current.period_end)),
                    pick("description", &p.description, current.description.clone()),
                )?;
                let outside = programs::pairings_outside(tx, id, &draft.period).await?;
                if outside > 0 {
                    return Err(Error::FailedPrecondition {
                        reason: "PAIRINGS_OUTSIDE_PERIOD",
                        message: format!(
                            "{outside} live pairing(s) of this program would fall outside \
                             the new period; change or delete them first"
                        ),
                        metadata: vec![("pairings_outside", outside.to_string())],
                    });
                }
                let row = programs::update(tx, current, &draft).await?;
                record(
                    &caller,
                    UPDATE_PROGRAM,
                    &name::format_id("programs", row.id),
                    None,
                    &program_to_proto(row.clone()),
                )?;
                Ok(row)
            })
        })
        .await?;
    tracing::info!(program = row.id, "program updated");
    Ok(Response::new(program_to_proto(row)))
}
