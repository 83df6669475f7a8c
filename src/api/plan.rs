//! `duikou.v1.PlanService`: the yearly work plans of programs and pairings, their weights
//! and grade thresholds, and their course from draft to issued to closed. Every
//! authenticated role reads them; changes are checked for the caller's reach in `app`.

use super::{MaskRules, Named, audited, etag, page_of, patch, request_key, service, timestamp};
use crate::{
    app::{
        self, Edit,
        plan::{CreateWorkPlan, not_found},
    },
    domain::{
        audit::Call,
        name,
        page::Page,
        patch::Writable,
        plan::{self as rules, PlanScope, PlanStep, WorkPlanDraft, WorkPlanFields, WorkPlanFilter},
    },
    error::Error,
    proto::v1::{
        CloseWorkPlanRequest, CreateWorkPlanRequest, FieldWeight, GetWorkPlanRequest,
        GradeThresholds, IssueWorkPlanRequest, ListWorkPlansRequest, ListWorkPlansResponse,
        UpdateWorkPlanRequest, WorkPlan, plan_service_server::PlanService,
    },
    store::{
        Hold, Store, by_id,
        plan::{self as plans, WorkPlanRow},
    },
};

const MASK: MaskRules = MaskRules {
    name_field: "work_plan.name",
    collection: "workPlans",
    updatable: WorkPlanFields::UPDATABLE,
    immutable: rules::IMMUTABLE,
    output_only: rules::OUTPUT_ONLY,
};

const WORK_PLAN: Named<WorkPlanRow, WorkPlan> = Named {
    collection: "workPlans",
    reply: plan_to_proto,
};

/// Serves work plans from the store.
#[derive(Clone)]
pub struct Plans {
    store: Store,
}

impl Plans {
    /// A service over `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

/// The API form of a stored plan.
fn plan_to_proto(row: WorkPlanRow) -> WorkPlan {
    let t = row.grade_thresholds();
    let weights = rules::FieldWeight::load_list(&row.weights).unwrap_or_else(|e| {
        tracing::error!(plan = row.id, error = %e, "a work plan's weights are damaged");
        Vec::new()
    });
    WorkPlan {
        name: name::format_id("workPlans", row.id),
        scope: row.scope().map(PlanScope::name).unwrap_or_default(),
        year: row.year,
        title: row.title.clone(),
        basis_document: row.basis_document.clone(),
        state: row.state.number(),
        weights: weights
            .into_iter()
            .map(|w| FieldWeight {
                field: w.field.number(),
                weight: w.weight,
            })
            .collect(),
        grade_thresholds: Some(GradeThresholds {
            excellent: t.excellent,
            good: t.good,
            fair: t.fair,
        }),
        create_time: Some(timestamp(row.create_time)),
        update_time: Some(timestamp(row.update_time)),
        issue_time: row.issue_time.map(timestamp),
        close_time: row.close_time.map(timestamp),
        etag: etag(row.revision),
    }
}

audited!(WorkPlanRow: |p| name::format_id("workPlans", p.id), plan_to_proto(p.clone()));

/// The fields of a plan that callers write, as the request sends them.
fn plan_fields(p: &WorkPlan) -> WorkPlanFields {
    WorkPlanFields {
        title: p.title.clone(),
        basis_document: p.basis_document.clone(),
        weights: p.weights.iter().map(|w| (w.field, w.weight)).collect(),
        grade_thresholds: p
            .grade_thresholds
            .as_ref()
            .map(|t| (t.excellent, t.good, t.fair)),
    }
}

service! {
    PlanService for Plans {
        create_work_plan(CreateWorkPlanRequest) -> WorkPlan;
        get_work_plan(GetWorkPlanRequest) -> WorkPlan;
        list_work_plans(ListWorkPlansRequest) -> ListWorkPlansResponse;
        update_work_plan(UpdateWorkPlanRequest) -> WorkPlan =
            WORK_PLAN.update(&MASK, |r| (r.work_plan, r.update_mask), patch(plan_fields));
        issue_work_plan(IssueWorkPlanRequest) -> WorkPlan =
            WORK_PLAN.write(|r| (r.name, r.etag), Edit::with(PlanStep::Issue));
        close_work_plan(CloseWorkPlanRequest) -> WorkPlan =
            WORK_PLAN.write(|r| (r.name, r.etag), Edit::with(PlanStep::Close));
    }
}

async fn create_work_plan(
    service: &Plans,
    call: Call,
    mut req: CreateWorkPlanRequest,
) -> Result<WorkPlan, Error> {
    let key = request_key(&call, &mut req, |r| &mut r.request_id);
    let plan = req.work_plan.unwrap_or_default();
    let scope = PlanScope::parse("work_plan.scope", &plan.scope);
    let year = rules::check_year(plan.year);
    let draft = WorkPlanDraft::parse(&plan_fields(&plan));
    let (key, scope, year, draft) = Error::all((key, scope, year, draft))?;
    let create = CreateWorkPlan { scope, year, draft };
    let row = app::create_once(&service.store, call, key, create).await?;
    Ok(plan_to_proto(row))
}

async fn get_work_plan(
    service: &Plans,
    _: Call,
    req: GetWorkPlanRequest,
) -> Result<WorkPlan, Error> {
    let id = name::parse_id("name", "workPlans", &req.name)?;
    let row = by_id::<WorkPlanRow>(service.store.db(), id, Hold::Nothing)
        .await?
        .ok_or_else(|| not_found(id))?;
    Ok(plan_to_proto(row))
}

async fn list_work_plans(
    service: &Plans,
    _: Call,
    req: ListWorkPlansRequest,
) -> Result<ListWorkPlansResponse, Error> {
    let filter = WorkPlanFilter::parse(&req.filter);
    let page = Page::open(
        service.store.page_key().await?,
        req.page_size,
        &req.page_token,
        &["workPlans", &req.filter],
    );
    let (filter, page) = Error::all((filter, page))?;
    let rows = plans::list(service.store.db(), &filter, page.after_id()?, page.fetch()).await?;
    Ok(page_of(&page, rows, |r| r.id.to_string(), plan_to_proto))
}
