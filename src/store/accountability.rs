//! What one organisation answers for, read from the records it is linked to: the plan
//! tasks it leads, the supervision entries it must answer, the projects it implements and
//! the disbursements paid to it. Each part is one query over the link's index.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
    sea_query::Query,
};

use super::entities::{
    fund_total, fund_transaction, plan_task, project, supervision_entry, work_plan,
};
use crate::{
    domain::{
        ledger::Kind,
        money::Sum,
        plan_task::TaskState,
        project::ProjectState,
        supervision::{State, year_bounds},
    },
    error::Error,
};

/// A task as accountability counts it: its state, due date and done date.
pub type TaskFacts = (TaskState, NaiveDate, Option<NaiveDate>);

/// An entry as accountability counts it: its state, due date, seconds to its last
/// resolution and whether that met the due date.
pub type EntryFacts = (State, Option<NaiveDate>, Option<i64>, Option<bool>);

/// What the records hold of one organisation in one year (or all).
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// The tasks it leads in the year's plans.
    pub tasks: Vec<TaskFacts>,
    /// The entries it must answer, filed in the year.
    pub entries: Vec<EntryFacts>,
    /// The projects it implements whose planned period reaches the year: state and
    /// budget in fen.
    pub projects: Vec<(ProjectState, i64)>,
    /// Allocated to those projects in the fiscal year, in fen.
    pub allocated: Sum,
    /// Disbursed on those projects in the fiscal year, in fen.
    pub disbursed: Sum,
    /// Paid to it in the fiscal year, net of reversals, in fen.
    pub paid: Sum,
}

/// The facts of organisation `id` in `year` (0: every year).
///
/// # Errors
/// The database's failures; INVALID_ARGUMENT on `year` outside the calendar.
pub async fn facts(db: &impl ConnectionTrait, id: i64, year: i32) -> Result<Facts, Error> {
    let year = (year != 0).then_some(year);
    let bounds = match year {
        Some(y) => {
            Some(year_bounds(y).ok_or_else(|| Error::invalid("year", "must be a year, or 0"))?)
        }
        None => None,
    };
    let (tasks, entries) = (
        led_tasks(db, id, year).await?,
        entries(db, id, bounds).await?,
    );
    let (projects, ids) = projects(db, id, year).await?;
    let (allocated, disbursed) = project_money(db, &ids, year).await?;
    let paid = paid(db, id, year).await?;
    Ok(Facts {
        tasks,
        entries,
        projects,
        allocated,
        disbursed,
        paid,
    })
}

async fn led_tasks(
    db: &impl ConnectionTrait,
    id: i64,
    year: Option<i32>,
) -> Result<Vec<TaskFacts>, Error> {
    use plan_task::Column as T;
    let mut select = plan_task::Entity::find()
        .select_only()
        .columns([T::State, T::DueDate, T::DoneDate])
        .filter(T::LeadOrganizationId.eq(id));
    if let Some(year) = year {
        let plans = Query::select()
            .column(work_plan::Column::Id)
            .from(work_plan::Entity)
            .and_where(work_plan::Column::Year.eq(year))
            .to_owned();
        select = select.filter(T::PlanId.in_subquery(plans));
    }
    Ok(select.into_tuple().all(db).await?)
}

async fn entries(
    db: &impl ConnectionTrait,
    id: i64,
    bounds: Option<(DateTime<Utc>, DateTime<Utc>)>,
) -> Result<Vec<EntryFacts>, Error> {
    use supervision_entry::Column as E;
    let mut select = supervision_entry::Entity::find()
        .select_only()
        .columns([E::State, E::DueDate, E::ResolveSeconds, E::ResolvedOnTime])
        .filter(E::ResponsibleOrganizationId.eq(id));
    if let Some((from, to)) = bounds {
        select = select
            .filter(E::CreateTime.gte(from))
            .filter(E::CreateTime.lt(to));
    }
    Ok(select.into_tuple().all(db).await?)
}

/// The projects organisation `id` implements, in the year: (state, budget), and their
/// ids.
async fn projects(
    db: &impl ConnectionTrait,
    id: i64,
    year: Option<i32>,
) -> Result<(Vec<(ProjectState, i64)>, Vec<i64>), Error> {
    use project::Column as P;
    let mut select = project::Entity::find()
        .select_only()
        .columns([P::Id, P::State, P::BudgetFen])
        .filter(P::ImplementingOrganizationId.eq(id));
    if let Some(year) = year {
        let first = NaiveDate::from_ymd_opt(year, 1, 1);
        let last = NaiveDate::from_ymd_opt(year, 12, 31);
        if let (Some(first), Some(last)) = (first, last) {
            select = select
                .filter(P::PlannedStart.lte(last))
                .filter(P::PlannedEnd.gte(first));
        }
    }
    let rows: Vec<(i64, ProjectState, i64)> = select.into_tuple().all(db).await?;
    let ids = rows.iter().map(|(id, _, _)| *id).collect();
    Ok((rows.into_iter().map(|(_, s, b)| (s, b)).collect(), ids))
}

/// What was allocated to and disbursed on projects `ids` in the fiscal year, from their
/// totals rows.
async fn project_money(
    db: &impl ConnectionTrait,
    ids: &[i64],
    year: Option<i32>,
) -> Result<(Sum, Sum), Error> {
    use fund_total::Column as F;
    let (mut allocated, mut disbursed) = (Sum::default(), Sum::default());
    // A few hundred scopes a query keeps each statement small on either database.
    for chunk in ids.chunks(500) {
        let scopes: Vec<String> = chunk.iter().map(|id| format!("projects/{id}")).collect();
        let mut select = fund_total::Entity::find()
            .select_only()
            .columns([F::AllocatedFen, F::DisbursedFen])
            .filter(F::Scope.is_in(scopes));
        if let Some(year) = year {
            select = select.filter(F::FiscalYear.eq(year));
        }
        let rows: Vec<(i64, i64)> = select.into_tuple().all(db).await?;
        for (a, d) in rows {
            allocated.0 += i128::from(a);
            disbursed.0 += i128::from(d);
        }
    }
    Ok((allocated, disbursed))
}

/// The disbursements with organisation `id` as payee in the fiscal year, less their
/// reversals.
async fn paid(db: &impl ConnectionTrait, id: i64, year: Option<i32>) -> Result<Sum, Error> {
    use fund_transaction::Column as L;
    let mut paid = Condition::all()
        .add(L::Kind.eq(Kind::Disbursement))
        .add(L::PayeeOrganizationId.eq(id))
        .add(L::ReversesId.is_null());
    if let Some(year) = year {
        paid = paid.add(L::FiscalYear.eq(year));
    }
    let originals = Query::select()
        .column(L::Id)
        .from(fund_transaction::Entity)
        .cond_where(paid.clone())
        .to_owned();
    let amounts = |condition: Condition| {
        fund_transaction::Entity::find()
            .select_only()
            .column(L::AmountFen)
            .filter(condition)
            .into_tuple::<i64>()
    };
    let out: Vec<i64> = amounts(paid).all(db).await?;
    let back: Vec<i64> = amounts(Condition::all().add(L::ReversesId.in_subquery(originals)))
        .all(db)
        .await?;
    let sum = |v: &[i64]| v.iter().map(|f| i128::from(*f)).sum::<i128>();
    Ok(Sum(sum(&out) - sum(&back)))
}
