//! Work plans: drafting, changing, issuing and closing them. A pairing's plan is managed
//! by a caller whose scope covers both of its regions; a program's plan, which belongs to
//! no region, by a caller without a regional limit. Only a DRAFT plan changes, its tasks
//! included; issuing needs weights that add up to 100 points, each with a task to earn
//! them; an ISSUED plan's tasks take progress reports, kept append-only.

use chrono::NaiveDate;

use super::{Create, Edit, pairing::placement_of, project::pairing_in_reach};
use crate::{
    domain::{
        access::require_everywhere,
        clock::Clock,
        name,
        patch::Patch,
        period::{self, Period, format_date},
        plan::{FieldWeight, PlanScope, PlanStep, WorkPlanDraft, WorkPlanFields, WorkPlanState},
        plan_task::{Figure, Report, TaskDraft, TaskFields, check_due_in},
        revision::check_etag,
        supervision::today,
    },
    error::Error,
    store::{
        Hold, by_id, organization as organizations,
        plan::{self as plans, WorkPlanRow},
        plan_task::{self as tasks, ReportRow, TaskRow},
        program::ProgramRow,
        tx::{Change, Tx},
    },
};

/// NOT_FOUND for work plan `id`.
pub fn not_found(id: i64) -> Error {
    Error::NotFound {
        reason: "WORK_PLAN_NOT_FOUND",
        resource: name::format_id("workPlans", id),
    }
}

/// CreateWorkPlan: a DRAFT plan of a scope inside the caller's reach, for a year its
/// period reaches.
pub struct CreateWorkPlan {
    /// What it covers.
    pub scope: PlanScope,
    /// The year it is for.
    pub year: i32,
    /// The fields that callers write.
    pub draft: WorkPlanDraft,
}

impl Create for CreateWorkPlan {
    type Made = WorkPlanRow;

    async fn make(&self, tx: &mut Tx<'_>) -> Result<WorkPlanRow, Error> {
        let scope = self.scope;
        let missing = || {
            Error::invalid(
                "work_plan.scope",
                format!("{} does not exist", scope.name()),
            )
        };
        let period = scope_in_reach(tx, scope, missing).await?;
        let (first, last) = period.years();
        if !(first..=last).contains(&self.year) {
            return Err(Error::invalid(
                "work_plan.year",
                format!(
                    "must be a year of {}'s period, {first} to {last}",
                    scope.name()
                ),
            ));
        }
        plans::insert(tx.db(), scope, self.year, &self.draft).await
    }

    /// A replay is authorized as the request was: the plan's scope must lie in the
    /// caller's reach.
    async fn replay(&self, tx: &mut Tx<'_>, earlier: &str) -> Result<WorkPlanRow, Error> {
        let id = name::parse_id("request_id", "workPlans", earlier)?;
        in_reach(tx, id, Hold::Nothing).await
    }
}

/// UpdateWorkPlan: the sent fields over a DRAFT plan.
pub type UpdateWorkPlan = Edit<Patch<WorkPlanFields>>;

impl Change for UpdateWorkPlan {
    type Output = WorkPlanRow;

    async fn apply(&self, tx: &mut Tx<'_>) -> Result<WorkPlanRow, Error> {
        let current = in_reach(tx, self.id, Hold::Update).await?;
        check_etag(&self.etag, current.revision)?;
        current.state.require_draft()?;
        let draft = WorkPlanDraft::parse(&self.what.over(fields_of(&current)?))?;
        let row = plans::save(tx.db(), &current, &draft).await?;
        tx.record(None, &row);
        Ok(row)
    }
}

/// IssueWorkPlan and CloseWorkPlan: one step of a plan's course. Issuing checks that the
/// weights add up to 100 points and that every one of them can be earned.
pub type StepWorkPlan = Edit<PlanStep>;

impl Change for StepWorkPlan {
    type Output = WorkPlanRow;

    async fn apply(&self, tx: &mut Tx<'_>) -> Result<WorkPlanRow, Error> {
        let current = in_reach(tx, self.id, Hold::Update).await?;
        check_etag(&self.etag, current.revision)?;
        let state = current.state.apply(self.what)?;
        if state == WorkPlanState::Issued {
            let weights = FieldWeight::load_list(&current.weights)?;
            FieldWeight::check_total(&weights)?;
            check_coverage(&weights, &tasks::of_plan(tx.db(), current.id).await?)?;
        }
        let row = plans::set_state(tx.db(), &current, state).await?;
        tx.record(None, &row);
        Ok(row)
    }
}

/// The period of `scope`, when it exists and lies in the caller's reach: both regions of
/// a pairing inside the caller's scope, or no regional limit for a program. Permission
/// comes before existence; `missing` is the error for a scope that does not exist.
///
/// # Errors
/// PERMISSION_DENIED `OUTSIDE_SCOPE`, or `missing()`.
async fn scope_in_reach(
    tx: &Tx<'_>,
    scope: PlanScope,
    missing: impl FnOnce() -> Error,
) -> Result<Period, Error> {
    match scope {
        PlanScope::Program(id) => {
            require_everywhere(tx.caller()?)?;
            let program = by_id::<ProgramRow>(tx.db(), id, Hold::Share)
                .await?
                .ok_or_else(missing)?;
            period::stored(program.period_start, program.period_end)
        }
        PlanScope::Pairing(id) => {
            let pairing = pairing_in_reach(tx, id, missing).await?;
            if pairing.delete_time.is_some() {
                return Err(Error::invalid(
                    "work_plan.scope",
                    format!("{} is deleted", scope.name()),
                ));
            }
            Ok(placement_of(&pairing)?.period)
        }
    }
}

/// Plan `id`, held as `hold` says, if the caller manages its scope. Every authenticated
/// role reads plans, so existence comes first.
async fn in_reach(tx: &Tx<'_>, id: i64, hold: Hold) -> Result<WorkPlanRow, Error> {
    let row = by_id::<WorkPlanRow>(tx.db(), id, hold)
        .await?
        .ok_or_else(|| not_found(id))?;
    let scope = row.scope()?;
    // A plan's scope cannot go while the plan holds it.
    let gone = || Error::from(anyhow::anyhow!("the scope of work plan {id} is missing"));
    scope_in_reach(tx, scope, gone).await?;
    Ok(row)
}

/// The fields of a stored plan as a request would send them, for an update to write over.
///
/// # Errors
/// INTERNAL for damaged stored weights.
pub fn fields_of(row: &WorkPlanRow) -> Result<WorkPlanFields, Error> {
    let t = row.grade_thresholds();
    Ok(WorkPlanFields {
        title: row.title.clone(),
        basis_document: row.basis_document.clone(),
        weights: FieldWeight::load_list(&row.weights)?
            .into_iter()
            .map(|w| (w.field.number(), w.weight))
            .collect(),
        grade_thresholds: Some((t.excellent, t.good, t.fair)),
    })
}

/// NOT_FOUND for task `task` of plan `plan`.
pub fn task_not_found(plan: i64, task: i64) -> Error {
    Error::NotFound {
        reason: "PLAN_TASK_NOT_FOUND",
        resource: task_name(plan, task),
    }
}

/// A task's name, "workPlans/{plan}/tasks/{task}".
pub fn task_name(plan: i64, task: i64) -> String {
    format!("{}/tasks/{task}", name::format_id("workPlans", plan))
}

/// The most progress reports one task keeps.
pub const MAX_REPORTS: u64 = 1000;

/// A task with its reports, as it is answered.
#[derive(Debug, Clone)]
pub struct TaskWithReports {
    /// The task.
    pub task: TaskRow,
    /// Its reports, oldest first.
    pub reports: Vec<ReportRow>,
    /// China's date when it was read, for whether it is overdue.
    pub today: NaiveDate,
}

impl TaskWithReports {
    /// `task`, which has no reports (its plan is a draft), as it stands by `clock`.
    pub fn unreported(task: TaskRow, clock: &Clock) -> Self {
        Self::new(task, Vec::new(), clock)
    }

    /// `task` with its `reports`, as it stands by `clock`.
    pub fn new(task: TaskRow, reports: Vec<ReportRow>, clock: &Clock) -> Self {
        Self {
            task,
            reports,
            today: today(clock.now()),
        }
    }
}

/// AddPlanTask: a task of a DRAFT plan inside the caller's reach, due in the plan's year,
/// led and supported by organisations that exist.
pub struct AddPlanTask {
    /// The plan's id.
    pub plan_id: i64,
    /// The task's fields.
    pub draft: TaskDraft,
    /// The time tasks are read at.
    pub clock: Clock,
}

impl Create for AddPlanTask {
    type Made = TaskWithReports;

    async fn make(&self, tx: &mut Tx<'_>) -> Result<TaskWithReports, Error> {
        let plan = in_reach(tx, self.plan_id, Hold::Update).await?;
        plan.state.require_draft()?;
        check_task(tx, &plan, &self.draft).await?;
        let task = tasks::insert(tx.db(), plan.id, &self.draft).await?;
        Ok(TaskWithReports::unreported(task, &self.clock))
    }

    /// A replay is authorized as the request was: the plan must lie in the caller's reach.
    async fn replay(&self, tx: &mut Tx<'_>, earlier: &str) -> Result<TaskWithReports, Error> {
        let (plan_id, task_id) = parse_task_name("request_id", earlier)?;
        let task = task_in_reach(tx, plan_id, task_id, Hold::Nothing).await?.1;
        let reports = tasks::reports_of_task(tx.db(), task.id).await?;
        Ok(TaskWithReports::new(task, reports, &self.clock))
    }
}

/// A change to task `task_id` of plan `plan_id`: the fields sent, a removal or a report.
pub struct TaskEdit<W> {
    /// The plan's id, as the task's name gives it.
    pub plan_id: i64,
    /// The task's id.
    pub task_id: i64,
    /// The etag the caller read, or empty.
    pub etag: String,
    /// What the change does.
    pub what: W,
    /// The time of the change.
    pub clock: Clock,
}

/// UpdatePlanTask: the sent fields over a DRAFT plan's task.
pub type UpdatePlanTask = TaskEdit<Patch<TaskFields>>;

impl Change for UpdatePlanTask {
    type Output = TaskWithReports;

    async fn apply(&self, tx: &mut Tx<'_>) -> Result<TaskWithReports, Error> {
        let (plan, current) = task_in_reach(tx, self.plan_id, self.task_id, Hold::Update).await?;
        check_etag(&self.etag, current.revision)?;
        plan.state.require_draft()?;
        let draft = TaskDraft::parse(&self.what.over(task_fields_of(&current)?))?;
        check_task(tx, &plan, &draft).await?;
        let task = tasks::save(tx.db(), &current, &draft).await?;
        let answer = TaskWithReports::unreported(task, &self.clock);
        tx.record(None, &answer);
        Ok(answer)
    }
}

/// RemovePlanTask: a DRAFT plan's task taken away; answered as it stood.
pub struct Removal;

impl Change for TaskEdit<Removal> {
    type Output = TaskWithReports;

    async fn apply(&self, tx: &mut Tx<'_>) -> Result<TaskWithReports, Error> {
        let (plan, current) = task_in_reach(tx, self.plan_id, self.task_id, Hold::Update).await?;
        check_etag(&self.etag, current.revision)?;
        plan.state.require_draft()?;
        let answer = TaskWithReports::unreported(current.clone(), &self.clock);
        tasks::remove(tx.db(), current).await?;
        tx.record(None, &answer);
        Ok(answer)
    }
}

/// ReportTaskProgress: a report on a task of an ISSUED plan, appended; it moves the task.
pub type ReportProgress = TaskEdit<Report>;

impl Change for ReportProgress {
    type Output = TaskWithReports;

    async fn apply(&self, tx: &mut Tx<'_>) -> Result<TaskWithReports, Error> {
        let (plan, current) = task_in_reach(tx, self.plan_id, self.task_id, Hold::Update).await?;
        if plan.state != WorkPlanState::Issued {
            return Err(Error::FailedPrecondition {
                reason: "PLAN_NOT_ISSUED",
                message: format!(
                    "the work plan is {}: progress is reported while it is ISSUED",
                    plan.state
                ),
                metadata: vec![("state", plan.state.to_string())],
            });
        }
        let report = &self.what;
        report.check_actual(current.indicator)?;
        let state = report.next_state(current.state)?;
        if tasks::report_count(tx.db(), current.id).await? >= MAX_REPORTS {
            return Err(Error::ResourceExhausted {
                reason: "TOO_MANY_REPORTS",
                message: format!("a task keeps at most {MAX_REPORTS} progress reports"),
            });
        }
        let now = self.clock.now();
        let label = tx.caller()?.label.clone();
        let (task, _) =
            tasks::report(tx.db(), &current, report, state, (now, today(now)), &label).await?;
        let reports = tasks::reports_of_task(tx.db(), task.id).await?;
        let answer = TaskWithReports::new(task, reports, &self.clock);
        tx.record(None, &answer);
        Ok(answer)
    }
}

/// Checks a task's draft against its plan: due in the plan's year, its organisations
/// there (and held while the change commits).
///
/// # Errors
/// INVALID_ARGUMENT on `task.due_date`, `task.lead_organization` or
/// `task.supporting_organizations[i]`.
async fn check_task(tx: &Tx<'_>, plan: &WorkPlanRow, draft: &TaskDraft) -> Result<(), Error> {
    check_due_in(plan.year, draft.due_date)?;
    let mut ids = vec![draft.lead_organization_id];
    ids.extend(&draft.supporting_organization_ids);
    let found = organizations::by_ids(tx.db(), &ids).await?;
    let missing = |field: String, id: i64| {
        Error::invalid(
            field,
            format!("{} does not exist", name::format_id("organizations", id)),
        )
    };
    if !found.contains_key(&draft.lead_organization_id) {
        return Err(missing(
            "task.lead_organization".to_owned(),
            draft.lead_organization_id,
        ));
    }
    for (i, id) in draft.supporting_organization_ids.iter().enumerate() {
        if !found.contains_key(id) {
            return Err(missing(format!("task.supporting_organizations[{i}]"), *id));
        }
    }
    Ok(())
}

/// Checks, at issue, that every point of `weights` can be earned: each weighted field
/// has a task, and each task's field is weighted.
///
/// # Errors
/// FAILED_PRECONDITION `FIELD_WITHOUT_TASKS` or `TASK_FIELD_UNWEIGHTED`.
fn check_coverage(weights: &[FieldWeight], tasks: &[TaskRow]) -> Result<(), Error> {
    if let Some(task) = tasks
        .iter()
        .find(|t| !weights.iter().any(|w| w.field == t.field))
    {
        return Err(Error::FailedPrecondition {
            reason: "TASK_FIELD_UNWEIGHTED",
            message: format!(
                "task {} is in the field {}, which the plan's weights do not weigh",
                task_name(task.plan_id, task.id),
                task.field.word()
            ),
            metadata: vec![("field", task.field.word().to_owned())],
        });
    }
    if let Some(weight) = weights
        .iter()
        .find(|w| !tasks.iter().any(|t| t.field == w.field))
    {
        return Err(Error::FailedPrecondition {
            reason: "FIELD_WITHOUT_TASKS",
            message: format!(
                "the field {} weighs {} points but has no task to earn them",
                weight.field.word(),
                weight.weight
            ),
            metadata: vec![("field", weight.field.word().to_owned())],
        });
    }
    Ok(())
}

/// Reads a task's name, "workPlans/{plan}/tasks/{task}", in `field`.
///
/// # Errors
/// INVALID_ARGUMENT on `field`.
pub fn parse_task_name(field: &str, text: &str) -> Result<(i64, i64), Error> {
    let wrong = || Error::invalid(field, "must be a task's name, like \"workPlans/1/tasks/2\"");
    let (plan, task) = text.split_once("/tasks/").ok_or_else(wrong)?;
    let plan = name::parse_id(field, "workPlans", plan).map_err(|_| wrong())?;
    let task = name::parse_id(field, "tasks", &format!("tasks/{task}")).map_err(|_| wrong())?;
    Ok((plan, task))
}

/// Task `task_id` of plan `plan_id` with its plan, held as `hold` says, if the caller
/// manages the plan's scope.
async fn task_in_reach(
    tx: &Tx<'_>,
    plan_id: i64,
    task_id: i64,
    hold: Hold,
) -> Result<(WorkPlanRow, TaskRow), Error> {
    let plan = in_reach(tx, plan_id, hold).await?;
    let task = by_id::<TaskRow>(tx.db(), task_id, hold)
        .await?
        .filter(|t| t.plan_id == plan_id)
        .ok_or_else(|| task_not_found(plan_id, task_id))?;
    Ok((plan, task))
}

/// The fields of a stored task as a request would send them, for an update to write over.
///
/// # Errors
/// INTERNAL for a damaged list of supporting organisations.
pub fn task_fields_of(row: &TaskRow) -> Result<TaskFields, Error> {
    let figure = |m: Option<i64>| m.map(|m| Figure::from_millionths(m).to_decimal());
    Ok(TaskFields {
        title: row.title.clone(),
        field: row.field.number(),
        lead_organization: name::format_id("organizations", row.lead_organization_id),
        supporting_organizations: row
            .supporting()?
            .into_iter()
            .map(|id| name::format_id("organizations", id))
            .collect(),
        due_date: format_date(row.due_date),
        indicator: row.indicator.map_or(0, |i| i.number()),
        target: figure(row.target_micro).unwrap_or_default(),
        baseline: figure(row.baseline_micro).unwrap_or_default(),
        weight: row.weight,
    })
}
