//! Work plans: drafting, changing, issuing and closing them. A pairing's plan is managed
//! by a caller whose scope covers both of its regions; a program's plan, which belongs to
//! no region, by a caller without a regional limit. Only a DRAFT plan changes; issuing
//! needs weights that add up to 100 points.

use super::{Create, Edit, pairing::placement_of, project::pairing_in_reach};
use crate::{
    domain::{
        access::require_everywhere,
        name,
        patch::Patch,
        period::{self, Period},
        plan::{FieldWeight, PlanScope, PlanStep, WorkPlanDraft, WorkPlanFields, WorkPlanState},
        revision::check_etag,
    },
    error::Error,
    store::{
        Hold, by_id,
        plan::{self as plans, WorkPlanRow},
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

/// IssueWorkPlan and CloseWorkPlan: one step of a plan's course.
pub type StepWorkPlan = Edit<PlanStep>;

impl Change for StepWorkPlan {
    type Output = WorkPlanRow;

    async fn apply(&self, tx: &mut Tx<'_>) -> Result<WorkPlanRow, Error> {
        let current = in_reach(tx, self.id, Hold::Update).await?;
        check_etag(&self.etag, current.revision)?;
        let state = current.state.apply(self.what)?;
        if state == WorkPlanState::Issued {
            FieldWeight::check_total(&FieldWeight::load_list(&current.weights)?)?;
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
