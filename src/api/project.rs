//! `duikou.v1.ProjectService`: cooperation projects and their lifecycle.

use super::{
    MaskRules, Named, audited, etag, filter_region_path, page_of, patch, request_key, required,
    service, timestamp,
};
use crate::{
    app::{
        self,
        project::{CreateProject, FundedProject, StepProject, not_found},
    },
    domain::audit::Call,
    domain::{
        money::{Amount, Balance, MoneyFields},
        name,
        page::Page,
        pairing::CooperationField,
        patch::Writable,
        period::format_date,
        project::{self as rules, Milestone, ProjectDraft, ProjectFields, ProjectFilter, Step},
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
        Hold, Store, by_id,
        project::{self as projects, ProjectBalanceRow, ProjectRow},
    },
};

const PROJECT_MASK: MaskRules = MaskRules {
    name_field: "project.name",
    collection: "projects",
    updatable: ProjectFields::UPDATABLE,
    immutable: rules::IMMUTABLE,
    output_only: rules::OUTPUT_ONLY,
};

const PROJECT: Named<FundedProject, Project> = Named {
    collection: "projects",
    reply: |p| project_to_proto(p.row, &p.balance),
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

/// The fields of an amount in the API's form; none reads as empty.
fn money_fields(money: Option<&Money>) -> MoneyFields {
    let m = money.cloned().unwrap_or_default();
    MoneyFields {
        currency_code: m.currency_code,
        units: m.units,
        nanos: m.nanos,
    }
}

/// Reads a required amount from the API's form.
///
/// # Errors
/// INVALID_ARGUMENT naming `field`.
pub(crate) fn amount(field: &str, money: Option<&Money>) -> Result<Amount, Error> {
    money_fields(money).amount(field)
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
        field: row.field.number(),
        location: format!("regions/{}", row.location_code),
        implementing_org: row.implementing_org,
        implementing_organization: name::format_optional_id(
            "organizations",
            row.implementing_organization_id,
        ),
        budget: Some(money(Balance(row.budget_fen))),
        planned_start: format_date(row.planned_start),
        planned_end: format_date(row.planned_end),
        state: row.state.number(),
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

audited!(
    FundedProject: |p| name::format_id("projects", p.row.id),
    project_to_proto(p.row.clone(), &p.balance)
);

/// The milestones of a request as (title, due date, done date) texts.
fn milestone_fields(milestones: &[crate::proto::v1::Milestone]) -> Vec<(String, String, String)> {
    milestones
        .iter()
        .map(|m| (m.title.clone(), m.due_date.clone(), m.done_date.clone()))
        .collect()
}

/// The fields of a project that callers write, as the request sends them.
fn fields_of(p: &Project) -> ProjectFields {
    ProjectFields {
        display_name: p.display_name.clone(),
        description: p.description.clone(),
        location: p.location.clone(),
        implementing_org: p.implementing_org.clone(),
        implementing_organization: p.implementing_organization.clone(),
        budget: money_fields(p.budget.as_ref()),
        planned_start: p.planned_start.clone(),
        planned_end: p.planned_end.clone(),
        progress_percent: p.progress_percent,
        milestones: milestone_fields(&p.milestones),
    }
}

/// Moves the project a request names (`sent`: its name, the etag the caller read and, for a
/// cancellation, the reason) one step along its course.
async fn step<T>(
    service: &Projects,
    call: Call,
    req: T,
    step: Step,
    sent: impl FnOnce(T) -> (String, String, Option<String>),
) -> Result<Project, Error> {
    let (name, etag, reason) = sent(req);
    let id = name::parse_id("name", "projects", &name)?;
    if let Some(reason) = &reason {
        text::check("reason", reason, 1000, true)?;
    }
    let change = StepProject {
        id,
        etag,
        step,
        reason,
    };
    let project = service.store.write(call, change).await?;
    Ok(project_to_proto(project.row, &project.balance))
}

service! {
    ProjectService for Projects {
        create_project(CreateProjectRequest) -> Project;
        get_project(GetProjectRequest) -> Project;
        list_projects(ListProjectsRequest) -> ListProjectsResponse;
        update_project(UpdateProjectRequest) -> Project =
            PROJECT.update(&PROJECT_MASK, |r| (r.project, r.update_mask), patch(fields_of));
        approve_project(ApproveProjectRequest) -> Project =
            step(Step::Approve, |r| (r.name, r.etag, None));
        start_project(StartProjectRequest) -> Project =
            step(Step::Start, |r| (r.name, r.etag, None));
        complete_project(CompleteProjectRequest) -> Project =
            step(Step::Complete, |r| (r.name, r.etag, None));
        accept_project(AcceptProjectRequest) -> Project =
            step(Step::Accept, |r| (r.name, r.etag, None));
        cancel_project(CancelProjectRequest) -> Project =
            step(Step::Cancel, |r| (r.name, r.etag, Some(r.reason)));
    }
}

async fn create_project(
    service: &Projects,
    call: Call,
    mut req: CreateProjectRequest,
) -> Result<Project, Error> {
    let key = request_key(&call, &mut req, |r| &mut r.request_id)?;
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
    let draft = ProjectDraft::parse(&fields_of(&p));
    Error::collect([Error::of(&pairing_id), Error::of(&field), Error::of(&draft)])?;
    let create = CreateProject {
        pairing_id: pairing_id?,
        field: field?,
        draft: draft?,
    };
    let project = app::create_once(&service.store, call, key, create).await?;
    Ok(project_to_proto(project.row, &project.balance))
}

async fn get_project(
    service: &Projects,
    _: Call,
    req: GetProjectRequest,
) -> Result<Project, Error> {
    let id = name::parse_id("name", "projects", &req.name)?;
    let db = service.store.db();
    let row = by_id::<ProjectRow>(db, id, Hold::Nothing)
        .await?
        .ok_or_else(|| not_found(id))?;
    let balance = projects::balance(db, id).await?;
    Ok(project_to_proto(row, &balance))
}

async fn list_projects(
    service: &Projects,
    _: Call,
    req: ListProjectsRequest,
) -> Result<ListProjectsResponse, Error> {
    let filter = ProjectFilter::parse(&req.filter);
    let page = Page::open(
        service.store.page_key().await?,
        req.page_size,
        &req.page_token,
        &["projects", &req.filter],
    );
    let (filter, page) = Error::all((filter, page))?;
    let db = service.store.db();
    let location_within = filter_region_path(&service.store, filter.location.as_ref()).await?;
    let rows = projects::list(
        db,
        &filter,
        location_within.as_deref(),
        page.after_id()?,
        page.fetch(),
    )
    .await?;
    Ok(page_of(
        &page,
        rows,
        |(r, _)| r.id.to_string(),
        |(r, b)| project_to_proto(r, &b),
    ))
}
