//! `duikou.v1.PlanService`: the yearly work plans of programs and pairings, their weights
//! and grade thresholds, and their course from draft to issued to closed. Every
//! authenticated role reads them; changes are checked for the caller's reach in `app`.

use super::{MaskRules, Named, audited, etag, page_of, patch, request_key, service, timestamp};
use crate::{
    app::{
        self, Edit,
        plan::{
            AddPlanTask, CreateWorkPlan, Removal, TaskEdit, TaskWithReports, not_found,
            parse_task_name, task_fields_of, task_name, task_not_found,
        },
    },
    domain::{
        audit::Call,
        clock::Clock,
        name,
        page::Page,
        patch::{Patch, Writable},
        period::format_date,
        plan::{self as rules, PlanScope, PlanStep, WorkPlanDraft, WorkPlanFields, WorkPlanFilter},
        plan_task::{
            self as task_rules, Figure, Report, TaskDraft, TaskFields, TaskFilter, done_on_time,
            is_overdue,
        },
        supervision::today,
    },
    error::Error,
    proto::v1::{
        AddPlanTaskRequest, CloseWorkPlanRequest, CreateWorkPlanRequest, FieldWeight,
        GetPlanTaskRequest, GetWorkPlanRequest, GradeThresholds, IssueWorkPlanRequest,
        ListPlanTasksRequest, ListPlanTasksResponse, ListWorkPlansRequest, ListWorkPlansResponse,
        PlanTask, RemovePlanTaskRequest, ReportTaskProgressRequest, TaskReport,
        UpdatePlanTaskRequest, UpdateWorkPlanRequest, WorkPlan, plan_service_server::PlanService,
    },
    store::{
        Hold, Store, by_id,
        plan::{self as plans, WorkPlanRow},
        plan_task::{self as tasks, ReportRow, TaskRow},
        tx::Change,
    },
};

const MASK: MaskRules = MaskRules {
    name_field: "work_plan.name",
    collection: "workPlans",
    updatable: WorkPlanFields::UPDATABLE,
    immutable: rules::IMMUTABLE,
    output_only: rules::OUTPUT_ONLY,
};

const TASK_MASK: MaskRules = MaskRules {
    name_field: "task.name",
    collection: "workPlans",
    updatable: TaskFields::UPDATABLE,
    immutable: &[],
    output_only: task_rules::OUTPUT_ONLY,
};

const WORK_PLAN: Named<WorkPlanRow, WorkPlan> = Named {
    collection: "workPlans",
    reply: plan_to_proto,
};

/// Serves work plans from the store.
#[derive(Clone)]
pub struct Plans {
    store: Store,
    /// The time tasks are read and reported at.
    clock: Clock,
}

impl Plans {
    /// A service over `store`, reading the time from `clock`.
    pub fn new(store: Store, clock: Clock) -> Self {
        Self { store, clock }
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

/// The API form of a stored task, with its reports, as it stands on `today` in China.
fn task_to_proto(t: TaskWithReports) -> PlanTask {
    let TaskWithReports {
        task,
        reports,
        today,
    } = t;
    let fields = task_fields_of(&task).unwrap_or_else(|e| {
        tracing::error!(task = task.id, error = %e, "a plan task's stored fields are damaged");
        TaskFields::default()
    });
    PlanTask {
        name: task_name(task.plan_id, task.id),
        title: fields.title,
        field: fields.field,
        lead_organization: fields.lead_organization,
        supporting_organizations: fields.supporting_organizations,
        due_date: fields.due_date,
        indicator: fields.indicator,
        target: fields.target,
        baseline: fields.baseline,
        weight: fields.weight,
        progress_percent: i32::from(task.progress_percent),
        state: task.state.number(),
        done_date: task.done_date.map(format_date).unwrap_or_default(),
        overdue: is_overdue(task.state, task.due_date, today),
        done_on_time: done_on_time(task.done_date, task.due_date),
        reports: reports.into_iter().map(report_to_proto).collect(),
        create_time: Some(timestamp(task.create_time)),
        update_time: Some(timestamp(task.update_time)),
        etag: etag(task.revision),
    }
}

/// The API form of a stored report.
fn report_to_proto(r: ReportRow) -> TaskReport {
    TaskReport {
        progress_percent: i32::from(r.progress_percent),
        actual: r
            .actual_micro
            .map(|m| Figure::from_millionths(m).to_decimal())
            .unwrap_or_default(),
        note: r.note,
        evidence: r.evidence,
        done: r.done,
        report_time: Some(timestamp(r.report_time)),
        reporter: r.actor_label,
    }
}

audited!(TaskWithReports: |t| task_name(t.task.plan_id, t.task.id), task_to_proto(t.clone()));

/// The fields of a task that callers write, as the request sends them.
fn task_fields(t: &PlanTask) -> TaskFields {
    TaskFields {
        title: t.title.clone(),
        field: t.field,
        lead_organization: t.lead_organization.clone(),
        supporting_organizations: t.supporting_organizations.clone(),
        due_date: t.due_date.clone(),
        indicator: t.indicator,
        target: t.target.clone(),
        baseline: t.baseline.clone(),
        weight: t.weight,
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
        add_plan_task(AddPlanTaskRequest) -> PlanTask;
        get_plan_task(GetPlanTaskRequest) -> PlanTask;
        list_plan_tasks(ListPlanTasksRequest) -> ListPlanTasksResponse;
        update_plan_task(UpdatePlanTaskRequest) -> PlanTask;
        remove_plan_task(RemovePlanTaskRequest) -> PlanTask;
        report_task_progress(ReportTaskProgressRequest) -> PlanTask;
    }
}

/// Writes `what` to the task `name` (sent in `field`) names, at the revision `etag`, and
/// answers the task.
async fn edit_task<W>(
    service: &Plans,
    call: Call,
    (field, name, etag): (&str, &str, String),
    what: W,
) -> Result<PlanTask, Error>
where
    TaskEdit<W>: Change<Output = TaskWithReports>,
{
    let (plan_id, task_id) = parse_task_name(field, name)?;
    let edit = TaskEdit {
        plan_id,
        task_id,
        etag,
        what,
        clock: service.clock.clone(),
    };
    Ok(task_to_proto(service.store.write(call, edit).await?))
}

async fn add_plan_task(
    service: &Plans,
    call: Call,
    mut req: AddPlanTaskRequest,
) -> Result<PlanTask, Error> {
    let key = request_key(&call, &mut req, |r| &mut r.request_id);
    let plan_id = name::parse_id("parent", "workPlans", &req.parent);
    let draft = TaskDraft::parse(&task_fields(&req.task.unwrap_or_default()));
    let (key, plan_id, draft) = Error::all((key, plan_id, draft))?;
    let add = AddPlanTask {
        plan_id,
        draft,
        clock: service.clock.clone(),
    };
    let made = app::create_once(&service.store, call, key, add).await?;
    Ok(task_to_proto(made))
}

async fn get_plan_task(
    service: &Plans,
    _: Call,
    req: GetPlanTaskRequest,
) -> Result<PlanTask, Error> {
    let (plan_id, task_id) = parse_task_name("name", &req.name)?;
    let db = service.store.db();
    let task = by_id::<TaskRow>(db, task_id, Hold::Nothing)
        .await?
        .filter(|t| t.plan_id == plan_id)
        .ok_or_else(|| task_not_found(plan_id, task_id))?;
    let reports = tasks::reports_of_task(db, task.id).await?;
    Ok(task_to_proto(TaskWithReports::new(
        task,
        reports,
        &service.clock,
    )))
}

async fn list_plan_tasks(
    service: &Plans,
    _: Call,
    req: ListPlanTasksRequest,
) -> Result<ListPlanTasksResponse, Error> {
    let plan_id = name::parse_id("parent", "workPlans", &req.parent);
    let filter = TaskFilter::parse(&req.filter);
    let page = Page::open(
        service.store.page_key().await?,
        req.page_size,
        &req.page_token,
        &["planTasks", &req.parent, &req.filter],
    );
    let (plan_id, filter, page) = Error::all((plan_id, filter, page))?;
    let db = service.store.db();
    by_id::<WorkPlanRow>(db, plan_id, Hold::Nothing)
        .await?
        .ok_or_else(|| not_found(plan_id))?;
    let today = today(service.clock.now());
    let rows = tasks::list(
        db,
        plan_id,
        &filter,
        today,
        (page.after_id()?, page.fetch()),
    )
    .await?;
    let ids: Vec<i64> = rows.iter().map(|t| t.id).collect();
    let mut reports = tasks::reports_of(db, &ids).await?;
    Ok(page_of(
        &page,
        rows,
        |t| t.id.to_string(),
        |task| {
            let reports = reports.remove(&task.id).unwrap_or_default();
            task_to_proto(TaskWithReports {
                task,
                reports,
                today,
            })
        },
    ))
}

async fn update_plan_task(
    service: &Plans,
    call: Call,
    req: UpdatePlanTaskRequest,
) -> Result<PlanTask, Error> {
    let task = req
        .task
        .ok_or_else(|| Error::invalid("task", "is required"))?;
    let paths = TASK_MASK.paths(req.update_mask)?;
    let what = Patch {
        sent: task_fields(&task),
        paths,
    };
    edit_task(
        service,
        call,
        ("task.name", &task.name, task.etag.clone()),
        what,
    )
    .await
}

async fn remove_plan_task(
    service: &Plans,
    call: Call,
    req: RemovePlanTaskRequest,
) -> Result<PlanTask, Error> {
    edit_task(service, call, ("name", &req.name, req.etag), Removal).await
}

async fn report_task_progress(
    service: &Plans,
    call: Call,
    req: ReportTaskProgressRequest,
) -> Result<PlanTask, Error> {
    let name = parse_task_name("name", &req.name);
    let report = Report::parse(
        req.progress_percent,
        &req.actual,
        &req.note,
        &req.evidence,
        req.done,
    );
    let (_, report) = Error::all((name, report))?;
    edit_task(service, call, ("name", &req.name, String::new()), report).await
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
