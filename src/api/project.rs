//! `duikou.v1.ProjectService`: cooperation projects and their lifecycle.

use sea_orm::{ActiveValue::Set, ConnectionTrait};
use tonic::{Request, Response, Status};

use super::{
    MaskRules, authz, check_etag, etag, filter_region_path,
    pairing::{pairing_not_found, placement_of},
    record, request_key, required, stored_period, timestamp,
};
use crate::{
    domain::{
        access::Caller,
        money::{Amount, Balance},
        name,
        page::Page,
        pairing::{CooperationField, PairingState},
        period::{Period, format_date},
        project::{
            self as rules, Milestone, PairingFrame, ProjectFilter, ProjectState, Step,
            parse_progress,
        },
        region::{RegionCode, RegionPath},
        text,
    },
    error::Error,
    proto::v1::{
        AcceptProjectRequest, ApproveProjectRequest, CancelProjectRequest, CompleteProjectRequest,
        CreateProjectRequest, GetProjectRequest, ListProjectsRequest, ListProjectsResponse, Money,
        Project, ProjectFunding, StartProjectRequest, UpdateProjectRequest,
        project_service_server::ProjectService,
    },
    store::{
        Store, idempotency,
        pairing::{self as pairings, PairingRow},
        project::{self as projects, NewProject, ProjectBalanceRow, ProjectChange, ProjectRow},
        region::{self, RegionRow},
    },
};

const CREATE_PROJECT: &str = "/duikou.v1.ProjectService/CreateProject";
const UPDATE_PROJECT: &str = "/duikou.v1.ProjectService/UpdateProject";

/// The method that takes a project through `step`.
fn step_method(step: Step) -> &'static str {
    match step {
        Step::Approve => "/duikou.v1.ProjectService/ApproveProject",
        Step::Start => "/duikou.v1.ProjectService/StartProject",
        Step::Complete => "/duikou.v1.ProjectService/CompleteProject",
        Step::Accept => "/duikou.v1.ProjectService/AcceptProject",
        Step::Cancel => "/duikou.v1.ProjectService/CancelProject",
    }
}

const PROJECT_MASK: MaskRules = MaskRules {
    updatable: rules::UPDATABLE,
    immutable: rules::IMMUTABLE,
    output_only: rules::OUTPUT_ONLY,
};

/// Serves projects from the store.
#[derive(Clone)]
pub struct Projects {
    store: Store,
}

impl Projects {
    /// A service over `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

/// An amount in the API's form.
pub(crate) fn money(balance: Balance) -> Money {
    let (units, nanos) = balance.units_and_nanos();
    Money {
        currency_code: "CNY".to_owned(),
        units,
        nanos,
    }
}

/// Reads a required amount from the API's form.
///
/// # Errors
/// INVALID_ARGUMENT naming `field`.
pub(crate) fn amount(field: &str, money: Option<&Money>) -> Result<Amount, Error> {
    let m = money.cloned().unwrap_or_default();
    Amount::parse(field, &m.currency_code, m.units, m.nanos)
}

/// The API form of a stored project and its balance.
pub(crate) fn project_to_proto(row: ProjectRow, balance: &ProjectBalanceRow) -> Project {
    let milestones = Milestone::load_list(&row.milestones).unwrap_or_else(|e| {
        tracing::error!(project = row.id, error = %e, "stored milestones are damaged");
        Vec::new()
    });
    Project {
        name: name::format_id("projects", row.id),
        pairing: name::format_id("pairings", row.pairing_id),
        display_name: row.display_name,
        description: row.description,
        field: i32::from(row.field),
        location: format!("regions/{}", row.location_code),
        implementing_org: row.implementing_org,
        budget: Some(money(Balance(row.budget_fen))),
        planned_start: format_date(row.planned_start),
        planned_end: format_date(row.planned_end),
        state: i32::from(row.state),
        progress_percent: i32::from(row.progress_percent),
        milestones: milestones_to_proto(&milestones),
        funding: Some(ProjectFunding {
            allocated: Some(money(Balance(balance.allocated_fen))),
            disbursed: Some(money(Balance(balance.disbursed_fen))),
            remaining: Some(money(Balance(
                balance.allocated_fen - balance.disbursed_fen,
            ))),
        }),
        cancel_reason: row.cancel_reason,
        create_time: Some(timestamp(row.create_time)),
        update_time: Some(timestamp(row.update_time)),
        etag: etag(row.revision),
    }
}

fn milestones_to_proto(milestones: &[Milestone]) -> Vec<crate::proto::v1::Milestone> {
    milestones
        .iter()
        .map(|m| crate::proto::v1::Milestone {
            title: m.title.clone(),
            due_date: m.due(),
            done_date: m.done(),
        })
        .collect()
}

pub(crate) fn project_not_found(id: i64) -> Error {
    Error::NotFound {
        reason: "PROJECT_NOT_FOUND",
        resource: name::format_id("projects", id),
    }
}

fn state_of(row: &ProjectRow) -> Result<ProjectState, Error> {
    ProjectState::from_number(i32::from(row.state))
        .ok_or_else(|| anyhow::anyhow!("project {} has unknown state {}", row.id, row.state).into())
}

/// The fields of a project that callers write, checked one by one.
#[derive(Clone)]
struct ProjectInput {
    display_name: String,
    description: String,
    location: RegionCode,
    implementing_org: String,
    budget: Amount,
    planned: Period,
    progress_percent: i16,
    milestones: Vec<Milestone>,
}

impl ProjectInput {
    fn parse(p: &Project) -> Result<Self, Error> {
        let display_name = text::check("project.display_name", &p.display_name, 200, true);
        let description = text::check("project.description", &p.description, 4000, false);
        let location = required(&p.location, "project.location")
            .and_then(|n| RegionCode::from_name("project.location", n));
        let implementing_org =
            text::check("project.implementing_org", &p.implementing_org, 200, true);
        let budget = amount("project.budget", p.budget.as_ref());
        let planned = Period::parse_fields(
            "project.planned_start",
            "project.planned_end",
            &p.planned_start,
            &p.planned_end,
        );
        let progress = parse_progress("project.progress_percent", p.progress_percent);
        let items: Vec<(&str, &str, &str)> = p
            .milestones
            .iter()
            .map(|m| (m.title.as_str(), m.due_date.as_str(), m.done_date.as_str()))
            .collect();
        let milestones = Milestone::parse_list("project.milestones", &items);
        Error::collect([
            Error::of(&display_name),
            Error::of(&description),
            Error::of(&location),
            Error::of(&implementing_org),
            Error::of(&budget),
            Error::of(&planned),
            Error::of(&progress),
            Error::of(&milestones),
        ])?;
        Ok(Self {
            display_name: p.display_name.clone(),
            description: p.description.clone(),
            location: location?,
            implementing_org: p.implementing_org.clone(),
            budget: budget?,
            planned: planned?,
            progress_percent: progress?,
            milestones: milestones?,
        })
    }

    /// The input of an update: the stored project with the masked fields of `p` over it.
    fn merged(current: &ProjectRow, p: &Project, paths: &[&str]) -> Result<Self, Error> {
        let has = |field: &str| paths.contains(&field);
        let stored = Milestone::load_list(&current.milestones)?;
        let mut merged = Project {
            display_name: current.display_name.clone(),
            description: current.description.clone(),
            location: format!("regions/{}", current.location_code),
            implementing_org: current.implementing_org.clone(),
            budget: Some(money(Balance(current.budget_fen))),
            planned_start: format_date(current.planned_start),
            planned_end: format_date(current.planned_end),
            progress_percent: i32::from(current.progress_percent),
            milestones: milestones_to_proto(&stored),
            ..Default::default()
        };
        if has("display_name") {
            merged.display_name = p.display_name.clone();
        }
        if has("description") {
            merged.description = p.description.clone();
        }
        if has("location") {
            merged.location = p.location.clone();
        }
        if has("implementing_org") {
            merged.implementing_org = p.implementing_org.clone();
        }
        if has("budget") {
            merged.budget = p.budget.clone();
        }
        if has("planned_start") {
            merged.planned_start = p.planned_start.clone();
        }
        if has("planned_end") {
            merged.planned_end = p.planned_end.clone();
        }
        if has("progress_percent") {
            merged.progress_percent = p.progress_percent;
        }
        if has("milestones") {
            merged.milestones = p.milestones.clone();
        }
        Self::parse(&merged)
    }
}

/// The pairing a project hangs off, inside the caller's reach and read-locked. Permission
/// comes before existence: a scoped caller learns nothing of pairings outside its scope.
pub(crate) async fn pairing_in_reach(
    tx: &impl ConnectionTrait,
    caller: &Caller,
    id: i64,
    missing: impl FnOnce() -> Error,
) -> Result<PairingRow, Error> {
    match pairings::get_for_share(tx, id).await? {
        Some(row) => {
            let placement = placement_of(&row)?;
            authz::require_scope(caller, &[&placement.supporting, &placement.supported])?;
            Ok(row)
        }
        None if authz::unrestricted(caller) => Err(missing()),
        None => Err(authz::outside_scope()),
    }
}

/// A project inside the caller's reach, locked for change, with its pairing.
async fn project_for_update(
    tx: &impl ConnectionTrait,
    caller: &Caller,
    id: i64,
    sent_etag: &str,
) -> Result<(ProjectRow, PairingRow), Error> {
    let Some(row) = projects::get_for_update(tx, id).await? else {
        return Err(if authz::unrestricted(caller) {
            project_not_found(id)
        } else {
            authz::outside_scope()
        });
    };
    let pairing = pairing_in_reach(tx, caller, row.pairing_id, || {
        pairing_not_found(row.pairing_id)
    })
    .await?;
    check_etag(sent_etag, row.revision)?;
    Ok((row, pairing))
}

/// What a project in `pairing` is checked against.
fn frame_of(pairing: &PairingRow) -> Result<PairingFrame, Error> {
    Ok(PairingFrame {
        supported: RegionPath::from_stored(pairing.supported_path.clone()),
        fields: CooperationField::load_list(&pairing.fields),
        period: stored_period(pairing.period_start, pairing.period_end)?,
    })
}

/// The location's stored row.
async fn location_row(tx: &impl ConnectionTrait, code: &RegionCode) -> Result<RegionRow, Error> {
    region::get(tx, code).await?.ok_or_else(|| {
        Error::invalid(
            "project.location",
            format!("{} does not exist", code.name()),
        )
    })
}

/// Writes a change to a project and its audit event.
async fn save_audited(
    tx: &impl ConnectionTrait,
    caller: &Caller,
    method: &str,
    current: &ProjectRow,
    change: ProjectChange,
) -> Result<(ProjectRow, ProjectBalanceRow), Error> {
    let row = projects::save(tx, current, change).await?;
    let balance = projects::balance(tx, row.id).await?;
    let after = project_to_proto(row.clone(), &balance);
    record(caller, method, &after.name, None, &after)?;
    Ok((row, balance))
}

impl Projects {
    async fn step(
        &self,
        caller: Caller,
        name: &str,
        sent_etag: &str,
        step: Step,
        reason: Option<String>,
    ) -> Result<Response<Project>, Status> {
        let id = name::parse_id("name", "projects", name)?;
        if let Some(reason) = &reason {
            text::check("reason", reason, 1000, true)?;
        }
        let sent_etag = sent_etag.to_owned();
        let (row, balance) = self
            .store
            .write_legacy(move |tx| {
                let (sent_etag, caller, reason) =
                    (sent_etag.clone(), caller.clone(), reason.clone());
                Box::pin(async move {
                    let (row, _) = project_for_update(tx, &caller, id, &sent_etag).await?;
                    let next = state_of(&row)?.apply(step)?;
                    let mut change = ProjectChange {
                        state: Set(next.number() as i16),
                        ..Default::default()
                    };
                    if step == Step::Complete {
                        change.progress_percent = Set(100);
                    }
                    if let Some(reason) = reason {
                        change.cancel_reason = Set(reason);
                    }
                    save_audited(tx, &caller, step_method(step), &row, change).await
                })
            })
            .await?;
        tracing::info!(project = id, step = ?step, "project state changed");
        Ok(Response::new(project_to_proto(row, &balance)))
    }
}

#[tonic::async_trait]
impl ProjectService for Projects {
    async fn create_project(
        &self,
        request: Request<CreateProjectRequest>,
    ) -> Result<Response<Project>, Status> {
        let caller = authz::caller(&request)?;
        let mut req = request.into_inner();
        let key = request_key(Some(&caller), CREATE_PROJECT, &mut req, |r| {
            &mut r.request_id
        })?;
        let p = req.project.unwrap_or_default();
        let pairing_id = required(&p.pairing, "project.pairing")
            .and_then(|n| name::parse_id("project.pairing", "pairings", n));
        let field = match CooperationField::from_number(p.field) {
            Some(field) => Ok(field),
            None => Err(Error::invalid(
                "project.field",
                "must be a cooperation field",
            )),
        };
        let input = ProjectInput::parse(&p);
        Error::collect([Error::of(&pairing_id), Error::of(&field), Error::of(&input)])?;
        let (pairing_id, field, input) = (pairing_id?, field?, input?);
        let (row, balance) = self
            .store
            .write_legacy(move |tx| {
                let (input, key, caller) = (input.clone(), key.clone(), caller.clone());
                Box::pin(async move {
                    // A replay is authorized as the request was: its pairing must lie in
                    // the caller's reach.
                    if let Some(earlier) = idempotency::claim(tx, key.as_ref()).await? {
                        let id = name::parse_id("request_id", "projects", &earlier)?;
                        let row = projects::get(tx, id)
                            .await?
                            .ok_or_else(|| project_not_found(id))?;
                        pairing_in_reach(tx, &caller, row.pairing_id, || project_not_found(id))
                            .await?;
                        let balance = projects::balance(tx, id).await?;
                        return Ok((row, balance));
                    }
                    let pairing = pairing_in_reach(tx, &caller, pairing_id, || {
                        Error::invalid(
                            "project.pairing",
                            format!("{} does not exist", name::format_id("pairings", pairing_id)),
                        )
                    })
                    .await?;
                    if pairing.delete_time.is_some() {
                        return Err(Error::invalid(
                            "project.pairing",
                            format!("{} is deleted", name::format_id("pairings", pairing_id)),
                        ));
                    }
                    if pairing.state != PairingState::Active.number() as i16 {
                        return Err(Error::precondition(
                            "PAIRING_NOT_ACTIVE",
                            "projects may be proposed only under an active pairing",
                        ));
                    }
                    let location = location_row(tx, &input.location).await?;
                    rules::check_placement(
                        &frame_of(&pairing)?,
                        &RegionPath::from_stored(location.path.clone()),
                        field,
                        &input.planned,
                    )?;
                    let row = projects::insert(
                        tx,
                        &NewProject {
                            pairing_id,
                            display_name: &input.display_name,
                            description: &input.description,
                            field,
                            location: (&location.code, &location.path),
                            implementing_org: &input.implementing_org,
                            budget: input.budget,
                            planned: input.planned,
                            progress_percent: input.progress_percent,
                            milestones: &input.milestones,
                        },
                    )
                    .await?;
                    let balance = projects::balance(tx, row.id).await?;
                    let name = name::format_id("projects", row.id);
                    record(
                        &caller,
                        CREATE_PROJECT,
                        &name,
                        key.as_ref(),
                        &project_to_proto(row.clone(), &balance),
                    )?;
                    idempotency::settle(tx, key.as_ref(), &name).await?;
                    Ok((row, balance))
                })
            })
            .await?;
        tracing::info!(project = row.id, "project created");
        Ok(Response::new(project_to_proto(row, &balance)))
    }

    async fn get_project(
        &self,
        request: Request<GetProjectRequest>,
    ) -> Result<Response<Project>, Status> {
        let id = name::parse_id("name", "projects", &request.get_ref().name)?;
        let db = self.store.db();
        let row = projects::get(db, id)
            .await?
            .ok_or_else(|| project_not_found(id))?;
        let balance = projects::balance(db, id).await?;
        Ok(Response::new(project_to_proto(row, &balance)))
    }

    async fn list_projects(
        &self,
        request: Request<ListProjectsRequest>,
    ) -> Result<Response<ListProjectsResponse>, Status> {
        let req = request.into_inner();
        let filter = ProjectFilter::parse(&req.filter);
        let page = Page::open(req.page_size, &req.page_token, &["projects", &req.filter]);
        Error::collect([Error::of(&filter), Error::of(&page)])?;
        let (filter, page) = (filter?, page?);
        let db = self.store.db();
        let location_within = filter_region_path(db, filter.location.as_ref()).await?;
        let query = projects::ProjectQuery {
            pairing_id: filter.pairing_id,
            program_id: filter.program_id,
            state: filter.state,
            field: filter.field,
            location_within,
        };
        let rows = projects::list(db, &query, page.after_id()?, page.fetch()).await?;
        let (rows, next_page_token) = page.close(rows, |r| r.id.to_string());
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let mut balances = projects::balances(db, &ids).await?;
        Ok(Response::new(ListProjectsResponse {
            projects: rows
                .into_iter()
                .map(|r| {
                    let balance = balances
                        .remove(&r.id)
                        .unwrap_or_else(|| projects::no_money(r.id));
                    project_to_proto(r, &balance)
                })
                .collect(),
            next_page_token,
        }))
    }

    async fn update_project(
        &self,
        request: Request<UpdateProjectRequest>,
    ) -> Result<Response<Project>, Status> {
        let caller = authz::caller(&request)?;
        let req = request.into_inner();
        let p = req.project.unwrap_or_default();
        let id = name::parse_id("project.name", "projects", &p.name);
        let paths = PROJECT_MASK.paths(req.update_mask);
        Error::collect([Error::of(&id), Error::of(&paths)])?;
        let (id, paths) = (id?, paths?);
        let (row, balance) = self
            .store
            .write_legacy(move |tx| {
                let (p, paths, caller) = (p.clone(), paths.clone(), caller.clone());
                Box::pin(async move {
                    let (current, pairing) = project_for_update(tx, &caller, id, &p.etag).await?;
                    let state = state_of(&current)?;
                    if state.is_final() {
                        return Err(Error::FailedPrecondition {
                            reason: "PROJECT_CLOSED",
                            message: format!("a project in state {state} cannot change"),
                            metadata: vec![("state", state.to_string())],
                        });
                    }
                    let input = ProjectInput::merged(&current, &p, &paths)?;
                    let location = location_row(tx, &input.location).await?;
                    let field = CooperationField::from_number(i32::from(current.field))
                        .ok_or_else(|| anyhow::anyhow!("project {id} has an unknown field"))?;
                    let mut frame = frame_of(&pairing)?;
                    // The pairing's fields may have changed since; the project's stays.
                    frame.fields.push(field);
                    rules::check_placement(
                        &frame,
                        &RegionPath::from_stored(location.path.clone()),
                        field,
                        &input.planned,
                    )?;
                    let allocated = projects::balance(tx, id).await?.allocated_fen;
                    if input.budget.fen() < allocated {
                        return Err(Error::FailedPrecondition {
                            reason: "BUDGET_BELOW_ALLOCATED",
                            message: format!(
                                "the budget cannot fall below the {} already allocated",
                                Balance(allocated)
                            ),
                            metadata: vec![("allocated_fen", allocated.to_string())],
                        });
                    }
                    let change = ProjectChange {
                        display_name: Set(input.display_name),
                        description: Set(input.description),
                        location_code: Set(location.code),
                        location_path: Set(location.path),
                        implementing_org: Set(input.implementing_org),
                        budget_fen: Set(input.budget.fen()),
                        planned_start: Set(input.planned.start()),
                        planned_end: Set(input.planned.end()),
                        progress_percent: Set(input.progress_percent),
                        milestones: Set(Milestone::store_list(&input.milestones)),
                        ..Default::default()
                    };
                    save_audited(tx, &caller, UPDATE_PROJECT, &current, change).await
                })
            })
            .await?;
        tracing::info!(project = row.id, "project updated");
        Ok(Response::new(project_to_proto(row, &balance)))
    }

    async fn approve_project(
        &self,
        request: Request<ApproveProjectRequest>,
    ) -> Result<Response<Project>, Status> {
        let caller = authz::caller(&request)?;
        let req = request.get_ref();
        self.step(caller, &req.name, &req.etag, Step::Approve, None)
            .await
    }

    async fn start_project(
        &self,
        request: Request<StartProjectRequest>,
    ) -> Result<Response<Project>, Status> {
        let caller = authz::caller(&request)?;
        let req = request.get_ref();
        self.step(caller, &req.name, &req.etag, Step::Start, None)
            .await
    }

    async fn complete_project(
        &self,
        request: Request<CompleteProjectRequest>,
    ) -> Result<Response<Project>, Status> {
        let caller = authz::caller(&request)?;
        let req = request.get_ref();
        self.step(caller, &req.name, &req.etag, Step::Complete, None)
            .await
    }

    async fn accept_project(
        &self,
        request: Request<AcceptProjectRequest>,
    ) -> Result<Response<Project>, Status> {
        let caller = authz::caller(&request)?;
        let req = request.get_ref();
        self.step(caller, &req.name, &req.etag, Step::Accept, None)
            .await
    }

    async fn cancel_project(
        &self,
        request: Request<CancelProjectRequest>,
    ) -> Result<Response<Project>, Status> {
        let caller = authz::caller(&request)?;
        let req = request.get_ref();
        self.step(
            caller,
            &req.name,
            &req.etag,
            Step::Cancel,
            Some(req.reason.clone()),
        )
        .await
    }
}
