//! What one organisation answers for, counted by the database from the records it is
//! linked to: the plan tasks it leads, the supervision entries it must answer (as the
//! supervision summary counts them), the projects it implements and the disbursements
//! paid to it. Each part is one statement over the link's index, however many records
//! there are; money is summed without overflow ([`rows::split_sum`]).

use chrono::NaiveDate;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter,
    QuerySelect, Statement,
    sea_query::{CaseStatement, Expr, ExprTrait, Query, SimpleExpr},
};

use super::{
    entities::{fund_transaction, plan_task, work_plan},
    rows,
    supervision::{self as entries, EntryQuery, Tally},
};
use crate::{
    domain::{
        ledger::Kind, money::Sum, plan::WorkPlanState, plan_task::TaskState, project::ProjectState,
        supervision::year_bounds,
    },
    error::Error,
};

/// The tasks an organisation leads: led, done, done by their due date, overdue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskCounts {
    /// Led.
    pub led: i64,
    /// Done.
    pub done: i64,
    /// Done by their due date.
    pub done_on_time: i64,
    /// Past their due date and not done.
    pub overdue: i64,
}

/// The projects of one state that an organisation implements: how many, and their
/// budgets and balances in fen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProjectTotals {
    /// The state.
    pub state: ProjectState,
    /// How many.
    pub count: i64,
    /// Their budgets.
    pub budget: Sum,
    /// Allocated to them, net of reversals.
    pub allocated: Sum,
    /// Disbursed on them, net of reversals.
    pub disbursed: Sum,
}

/// What the records hold of one organisation in one year (or all).
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// The tasks it leads in the year's issued (or closed) plans.
    pub tasks: TaskCounts,
    /// The entries it must answer, filed in the year, tallied.
    pub entries: Tally,
    /// The middle one or two of their resolution times, in seconds.
    pub middle_resolve_seconds: Vec<i64>,
    /// The projects it implements whose planned period reaches the year, per state.
    pub projects: Vec<ProjectTotals>,
    /// Paid to it in the fiscal year, net of reversals, in fen.
    pub paid: Sum,
}

/// The facts of organisation `id` in `year` (0: every year), with overdue work judged on
/// `today` in China.
///
/// # Errors
/// The database's failures; INVALID_ARGUMENT on `year` outside the calendar.
pub async fn facts(
    db: &impl ConnectionTrait,
    id: i64,
    year: i32,
    today: NaiveDate,
) -> Result<Facts, Error> {
    let year = (year != 0).then_some(year);
    let mut query = EntryQuery::on(today);
    query.filter.responsible_organization_id = Some(id);
    if let Some(y) = year {
        query.filed_between =
            Some(year_bounds(y).ok_or_else(|| Error::invalid("year", "must be a year, or 0"))?);
    }
    // The parts read apart, each on a connection of its own when `db` is a pool.
    let ((entries, middle), tasks, projects, paid) = tokio::try_join!(
        entries::tally(db, &query),
        led_tasks(db, id, year, today),
        projects(db, id, year),
        paid(db, id, year),
    )?;
    Ok(Facts {
        tasks,
        entries,
        middle_resolve_seconds: middle,
        projects,
        paid,
    })
}

/// A count of the rows that meet `condition`.
fn count_when(condition: Condition) -> SimpleExpr {
    Expr::expr(
        CaseStatement::new()
            .case(condition, Expr::val(1))
            .finally(Expr::val(0)),
    )
    .sum()
    .cast_as("BIGINT")
}

/// The ids of the plans issued (or closed since) for `year`, or for any year, as a
/// subquery: a draft binds nobody yet.
fn plans_of(year: Option<i32>) -> sea_orm::sea_query::SelectStatement {
    use work_plan::Column as W;
    let mut plans = Query::select()
        .column(W::Id)
        .from(work_plan::Entity)
        .and_where(W::State.is_in([WorkPlanState::Issued, WorkPlanState::Closed]))
        .to_owned();
    if let Some(year) = year {
        plans.and_where(W::Year.eq(year));
    }
    plans
}

async fn led_tasks(
    db: &impl ConnectionTrait,
    id: i64,
    year: Option<i32>,
    today: NaiveDate,
) -> Result<TaskCounts, Error> {
    use plan_task::Column as T;
    let select = plan_task::Entity::find()
        .select_only()
        .expr(Expr::col(T::Id).count().cast_as("BIGINT"))
        .expr(count_when(
            Condition::all().add(T::State.eq(TaskState::Done)),
        ))
        .expr(count_when(
            Condition::all().add(Expr::col(T::DoneDate).lte(Expr::col(T::DueDate))),
        ))
        .expr(count_when(
            Condition::all()
                .add(T::State.ne(TaskState::Done))
                .add(T::DueDate.lt(today)),
        ))
        .filter(T::LeadOrganizationId.eq(id))
        .filter(T::PlanId.in_subquery(plans_of(year)));
    type Counts = (i64, Option<i64>, Option<i64>, Option<i64>);
    let row: Option<Counts> = select.into_tuple().one(db).await?;
    let (led, done, done_on_time, overdue) = row.unwrap_or_default();
    Ok(TaskCounts {
        led,
        done: done.unwrap_or(0),
        done_on_time: done_on_time.unwrap_or(0),
        overdue: overdue.unwrap_or(0),
    })
}

/// The projects organisation `id` implements whose planned period reaches `year`, per
/// state: how many, their budgets, and what their balances hold allocated and disbursed,
/// net of reversals; one statement over the link's index and the balances' key.
async fn projects(
    db: &impl ConnectionTrait,
    id: i64,
    year: Option<i32>,
) -> Result<Vec<ProjectTotals>, Error> {
    let backend = db.get_database_backend();
    let param = |n: usize| match backend {
        DatabaseBackend::Sqlite => "?".to_owned(),
        _ => format!("${n}"),
    };
    let mut values: Vec<sea_orm::Value> = vec![id.into()];
    let mut sql = format!(
        "SELECT p.state, COUNT(*), {}, {}, {} FROM projects p \
         LEFT JOIN project_balances b ON b.project_id = p.id \
         WHERE p.implementing_organization_id = {}",
        rows::split_sum_sql("p.budget_fen"),
        rows::split_sum_sql("b.allocated_fen"),
        rows::split_sum_sql("b.disbursed_fen"),
        param(1)
    );
    let days = year.and_then(|y| {
        Some((
            NaiveDate::from_ymd_opt(y, 1, 1)?,
            NaiveDate::from_ymd_opt(y, 12, 31)?,
        ))
    });
    if let Some((first, last)) = days {
        sql.push_str(&format!(
            " AND p.planned_start <= {} AND p.planned_end >= {}",
            param(2),
            param(3)
        ));
        values.extend([last.into(), first.into()]);
    }
    sql.push_str(" GROUP BY p.state");
    let found = db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    let mut totals = Vec::with_capacity(found.len());
    for row in found {
        let state: i16 = row.try_get_by_index(0)?;
        let state = ProjectState::from_number(i32::from(state))
            .ok_or_else(|| anyhow::anyhow!("a project has the unknown state {state}"))?;
        let part = |i: usize| row.try_get_by_index::<Option<i64>>(i);
        totals.push(ProjectTotals {
            state,
            count: row.try_get_by_index(1)?,
            budget: Sum(rows::joined(part(2)?, part(3)?)),
            allocated: Sum(rows::joined(part(4)?, part(5)?)),
            disbursed: Sum(rows::joined(part(6)?, part(7)?)),
        });
    }
    Ok(totals)
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
    let sum = |condition: Condition| async move {
        let [high, low] = rows::split_sum("amount_fen");
        let row: Option<(Option<i64>, Option<i64>)> = fund_transaction::Entity::find()
            .select_only()
            .expr(high)
            .expr(low)
            .filter(condition)
            .into_tuple()
            .one(db)
            .await?;
        let (high, low) = row.unwrap_or_default();
        Ok::<i128, Error>(rows::joined(high, low))
    };
    let out = sum(paid).await?;
    let back = sum(Condition::all().add(L::ReversesId.in_subquery(originals))).await?;
    Ok(Sum(out - back))
}
