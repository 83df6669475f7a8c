//! The tasks of a work plan (任务分工): who leads each (牵头单位) and who supports it
//! (配合单位), by when, measured by which indicator against which target, and the
//! progress reports that move it from not started to done.

use std::fmt;

use chrono::NaiveDate;

use super::{
    decimal,
    filter::{self, filter},
    name,
    patch::writable,
    period::parse_date,
    plan::PlanField,
    text,
};
use crate::error::Error;

numbered!(
    /// Where a task stands.
    TaskState, "TASK_STATE_", {
        /// Nothing reported yet.
        NotStarted = 1, "NOT_STARTED";
        /// Progress reported, not done.
        InProgress = 2, "IN_PROGRESS";
        /// Reported done. Final.
        Done = 3, "DONE";
    }
);

numbered!(
    /// How a task's result is measured. Every one but MANUAL is computed from duikou's
    /// own records for the plan's scope and year; MANUAL takes the figure its latest
    /// progress report gives.
    Indicator, "INDICATOR_", {
        /// Funds committed to the scope's pairings, in yuan.
        FundsCommitted = 1, "FUNDS_COMMITTED";
        /// Funds allocated to projects, in yuan.
        FundsAllocated = 2, "FUNDS_ALLOCATED";
        /// Funds paid out, in yuan.
        FundsDisbursed = 3, "FUNDS_DISBURSED";
        /// Disbursed as a percentage of allocated.
        ExecutionRate = 4, "EXECUTION_RATE";
        /// Projects started.
        ProjectsStarted = 5, "PROJECTS_STARTED";
        /// Projects accepted (验收).
        ProjectsAccepted = 6, "PROJECTS_ACCEPTED";
        /// Cadres seconded.
        CadresSeconded = 7, "CADRES_SECONDED";
        /// Professionals dispatched.
        ProfessionalsDispatched = 8, "PROFESSIONALS_DISPATCHED";
        /// People trained.
        PeopleTrained = 9, "PEOPLE_TRAINED";
        /// Workers placed in jobs.
        LaborPlaced = 10, "LABOR_PLACED";
        /// Supervision entries resolved by their due date, as a percentage of those due.
        SupervisionResolvedOnTimeRate = 11, "SUPERVISION_RESOLVED_ON_TIME_RATE";
        /// Monitoring sections meeting their target class, as a percentage.
        SectionsMeetingTargetRate = 12, "SECTIONS_MEETING_TARGET_RATE";
        /// A figure the lead organisation reports (e.g. 消费协作金额).
        Manual = 13, "MANUAL";
    }
);

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

/// A task's figure — a target, a baseline, an actual — exactly, in millionths: yuan,
/// people, projects or percentage points, as its indicator counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Figure(i64);

/// The largest figure taken: a trillion units, above any yearly amount in yuan.
const MAX_UNITS: i64 = 1_000_000_000_000;

impl Figure {
    /// A figure of `millionths`.
    pub fn from_millionths(millionths: i64) -> Self {
        Self(millionths)
    }

    /// The figure in millionths.
    pub fn millionths(self) -> i64 {
        self.0
    }

    /// Reads a non-negative decimal such as `1500000`, `85.5` or `0.25`, with at most six
    /// decimals.
    ///
    /// # Errors
    /// INVALID_ARGUMENT on `field` for anything else, or a figure above a trillion.
    pub fn parse(field: &str, text: &str) -> Result<Self, Error> {
        decimal::parse_unsigned(field, text, MAX_UNITS, "85.5").map(Self)
    }

    /// Reads an optional figure: none for empty text.
    ///
    /// # Errors
    /// As [`parse`](Self::parse).
    pub fn parse_optional(field: &str, text: &str) -> Result<Option<Self>, Error> {
        match text {
            "" => Ok(None),
            text => Self::parse(field, text).map(Some),
        }
    }

    /// The figure as a decimal without trailing zeros: `1500000`, `85.5`.
    pub fn to_decimal(self) -> String {
        decimal::format(self.0)
    }
}

/// The most organisations that may support one task.
pub const MAX_SUPPORTING: usize = 20;

/// The fields of a task that callers write, as a request sends them, not yet checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskFields {
    /// What is to be done.
    pub title: String,
    /// Its assessment field's number.
    pub field: i32,
    /// The lead organisation's name.
    pub lead_organization: String,
    /// The supporting organisations' names.
    pub supporting_organizations: Vec<String>,
    /// When it is due, `YYYY-MM-DD`.
    pub due_date: String,
    /// Its indicator's number, 0 for none.
    pub indicator: i32,
    /// The figure to reach.
    pub target: String,
    /// The figure it starts from.
    pub baseline: String,
    /// Its weight among the tasks of its field.
    pub weight: i32,
}

writable!(TaskFields {
    title,
    field,
    lead_organization,
    supporting_organizations,
    due_date,
    indicator,
    target,
    baseline,
    weight,
});

/// Fields that only the server sets.
pub const OUTPUT_ONLY: &[&str] = &[
    "name",
    "progress_percent",
    "state",
    "done_date",
    "overdue",
    "done_on_time",
    "reports",
    "create_time",
    "update_time",
    "etag",
];

/// A task's fields, each checked on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskDraft {
    /// What is to be done.
    pub title: String,
    /// Its assessment field.
    pub field: PlanField,
    /// The lead organisation's id.
    pub lead_organization_id: i64,
    /// The supporting organisations' ids, in the order sent.
    pub supporting_organization_ids: Vec<i64>,
    /// When it is due.
    pub due_date: NaiveDate,
    /// How it is measured, if it is.
    pub indicator: Option<Indicator>,
    /// The figure to reach; set exactly when there is an indicator.
    pub target: Option<Figure>,
    /// The figure it starts from.
    pub baseline: Option<Figure>,
    /// Its weight among the tasks of its field, 1 to 100.
    pub weight: i32,
}

impl TaskDraft {
    /// Checks every field on its own, all at once; errors name `task.{field}`. A weight of
    /// 0 is 1.
    ///
    /// # Errors
    /// INVALID_ARGUMENT naming each bad field.
    pub fn parse(t: &TaskFields) -> Result<Self, Error> {
        let title = text::check_line("task.title", &t.title, 200, true);
        let field = PlanField::from_number(t.field)
            .ok_or_else(|| Error::invalid("task.field", "must be a plan field"));
        let lead = if t.lead_organization.is_empty() {
            Err(Error::invalid("task.lead_organization", "is required"))
        } else {
            name::parse_id(
                "task.lead_organization",
                "organizations",
                &t.lead_organization,
            )
        };
        let supporting = supporting_ids(t, lead.as_ref().ok().copied());
        let due_date = if t.due_date.is_empty() {
            Err(Error::invalid("task.due_date", "is required"))
        } else {
            parse_date("task.due_date", &t.due_date)
        };
        let indicator = match t.indicator {
            0 => Ok(None),
            n => Indicator::from_number(n)
                .map(Some)
                .ok_or_else(|| Error::invalid("task.indicator", "must be an indicator")),
        };
        let target = target_of(t);
        let baseline = Figure::parse_optional("task.baseline", &t.baseline);
        let weight = match t.weight {
            0 => Ok(1),
            w @ 1..=100 => Ok(w),
            _ => Err(Error::invalid("task.weight", "must be from 1 to 100")),
        };
        let (
            (),
            field,
            lead_organization_id,
            supporting,
            due_date,
            indicator,
            target,
            baseline,
            weight,
        ) = Error::all((
            title, field, lead, supporting, due_date, indicator, target, baseline, weight,
        ))?;
        Ok(Self {
            title: t.title.trim().to_owned(),
            field,
            lead_organization_id,
            supporting_organization_ids: supporting,
            due_date,
            indicator,
            target,
            baseline,
            weight,
        })
    }
}

/// The supporting organisations' ids: each once, not the lead, at most
/// [`MAX_SUPPORTING`].
fn supporting_ids(t: &TaskFields, lead: Option<i64>) -> Result<Vec<i64>, Error> {
    const FIELD: &str = "task.supporting_organizations";
    if t.supporting_organizations.len() > MAX_SUPPORTING {
        return Err(Error::invalid(
            FIELD,
            format!("may list at most {MAX_SUPPORTING} organizations"),
        ));
    }
    let mut ids = Vec::with_capacity(t.supporting_organizations.len());
    for (i, sent) in t.supporting_organizations.iter().enumerate() {
        let at = format!("{FIELD}[{i}]");
        let id = name::parse_id(&at, "organizations", sent)?;
        if ids.contains(&id) {
            return Err(Error::invalid(at, "lists an organization twice"));
        }
        if Some(id) == lead {
            return Err(Error::invalid(at, "is the lead organization"));
        }
        ids.push(id);
    }
    Ok(ids)
}

/// The target: required, and above zero, with an indicator; refused without one.
fn target_of(t: &TaskFields) -> Result<Option<Figure>, Error> {
    const FIELD: &str = "task.target";
    match (t.indicator, t.target.as_str()) {
        (0, "") => Ok(None),
        (0, _) => Err(Error::invalid(FIELD, "needs an indicator to measure it")),
        (_, "") => Err(Error::invalid(FIELD, "is required with an indicator")),
        (_, text) => match Figure::parse(FIELD, text)? {
            zero if zero.millionths() == 0 => Err(Error::invalid(
                FIELD,
                "must be above 0: a target of zero measures nothing",
            )),
            target => Ok(Some(target)),
        },
    }
}

/// Checks that a task of a plan for `year` is due in that year.
///
/// # Errors
/// INVALID_ARGUMENT on `task.due_date`.
pub fn check_due_in(year: i32, due: NaiveDate) -> Result<(), Error> {
    use chrono::Datelike;
    if due.year() == year {
        Ok(())
    } else {
        Err(Error::invalid(
            "task.due_date",
            format!("must lie in the plan's year, {year}"),
        ))
    }
}

/// A progress report as a request sends it, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// 0 to 100; 100 when done.
    pub progress_percent: i16,
    /// The reported figure of a MANUAL indicator.
    pub actual: Option<Figure>,
    /// What was done.
    pub note: String,
    /// Where the proof is: a document number or an address.
    pub evidence: String,
    /// Whether the task is done.
    pub done: bool,
}

impl Report {
    /// Checks a report's fields on their own; errors name the request's fields.
    ///
    /// # Errors
    /// INVALID_ARGUMENT naming each bad field.
    pub fn parse(
        progress_percent: i32,
        actual: &str,
        note: &str,
        evidence: &str,
        done: bool,
    ) -> Result<Self, Error> {
        let progress = match (done, progress_percent) {
            (true, 0 | 100) => Ok(100),
            (true, _) => Err(Error::invalid(
                "progress_percent",
                "must be 100 (or left 0) when the task is done",
            )),
            (false, p @ 0..=100) => Ok(p as i16),
            (false, _) => Err(Error::invalid("progress_percent", "must be from 0 to 100")),
        };
        let actual = Figure::parse_optional("actual", actual);
        let note_ok = text::check("note", note, 2000, true);
        let evidence_ok = text::check_line("evidence", evidence, 500, false);
        let (progress_percent, actual, (), ()) =
            Error::all((progress, actual, note_ok, evidence_ok))?;
        Ok(Self {
            progress_percent,
            actual,
            note: note.trim().to_owned(),
            evidence: evidence.trim().to_owned(),
            done,
        })
    }

    /// Checks the report against the task's indicator: a figure only for a MANUAL one,
    /// whose figures are not computed.
    ///
    /// # Errors
    /// INVALID_ARGUMENT on `actual`.
    pub fn check_actual(&self, indicator: Option<Indicator>) -> Result<(), Error> {
        match (self.actual, indicator) {
            (Some(_), Some(Indicator::Manual)) | (None, _) => Ok(()),
            (Some(_), Some(computed)) => Err(Error::invalid(
                "actual",
                format!(
                    "{} is computed from the records and cannot be reported",
                    computed.word()
                ),
            )),
            (Some(_), None) => Err(Error::invalid(
                "actual",
                "the task has no indicator to report a figure for",
            )),
        }
    }

    /// The state a task in `state` moves to with this report.
    ///
    /// # Errors
    /// FAILED_PRECONDITION `TASK_DONE` for a task already done.
    pub fn next_state(&self, state: TaskState) -> Result<TaskState, Error> {
        match (state, self.done) {
            (TaskState::Done, _) => Err(Error::precondition(
                "TASK_DONE",
                "the task is done: it takes no more reports",
            )),
            (_, true) => Ok(TaskState::Done),
            (_, false) => Ok(TaskState::InProgress),
        }
    }
}

/// Whether a task is overdue `today` (in China): past its due date and not done.
pub fn is_overdue(state: TaskState, due: NaiveDate, today: NaiveDate) -> bool {
    state != TaskState::Done && today > due
}

/// Whether a task was done by its due date.
pub fn done_on_time(done: Option<NaiveDate>, due: NaiveDate) -> bool {
    done.is_some_and(|d| d <= due)
}

filter! {
    /// The typed query of `ListPlanTasks`.
    pub struct TaskFilter of "ListPlanTasks" {
        /// `lead_organization = "organizations/{id}"`.
        "lead_organization" => lead_organization_id: i64 = filter::id_in("organizations"),
        /// `state = DONE`.
        "state" => state: TaskState = filter::word,
        /// `overdue = true`.
        "overdue" => overdue: bool = filter::parsed(
            |v| match v {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            },
            "true or false",
        ),
        /// `field = FUNDS_USE`.
        "field" => field: PlanField = filter::word,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> TaskFields {
        TaskFields {
            title: "拨付对口协作资金".into(),
            field: PlanField::FundsUse.number(),
            lead_organization: "organizations/1".into(),
            supporting_organizations: vec!["organizations/2".into()],
            due_date: "2024-12-31".into(),
            indicator: Indicator::FundsDisbursed.number(),
            target: "5000000".into(),
            baseline: String::new(),
            weight: 0,
        }
    }

    fn field_of(error: &Error) -> Vec<String> {
        match error {
            Error::InvalidArgument { violations, .. } => {
                violations.iter().map(|v| v.field.clone()).collect()
            }
            other => panic!("not invalid: {other}"),
        }
    }

    #[test]
    fn figures_are_exact_non_negative_decimals() {
        assert_eq!(Figure::parse("f", "85.5").unwrap().millionths(), 85_500_000);
        assert_eq!(
            Figure::parse("f", "5000000").unwrap().to_decimal(),
            "5000000"
        );
        assert_eq!(
            Figure::parse("f", "0.000001").unwrap().to_decimal(),
            "0.000001"
        );
        assert_eq!(Figure::parse("f", "12.50").unwrap().to_decimal(), "12.5");
        for bad in [
            "",
            "-1",
            "1.",
            ".5",
            "1e3",
            "0.0000001",
            "1000000000001",
            "1,5",
        ] {
            assert!(Figure::parse("f", bad).is_err(), "{bad:?}");
        }
        assert_eq!(Figure::parse_optional("f", "").unwrap(), None);
    }

    #[test]
    fn a_task_draft_names_every_bad_field() {
        let draft = TaskDraft::parse(&fields()).unwrap();
        assert_eq!(draft.weight, 1);
        assert_eq!(
            draft.target,
            Some(Figure::from_millionths(5_000_000_000_000))
        );
        assert_eq!(draft.supporting_organization_ids, [2]);

        let error = TaskDraft::parse(&TaskFields {
            title: " ".into(),
            field: 0,
            lead_organization: String::new(),
            supporting_organizations: vec!["organizations/x".into()],
            due_date: "2024-13-01".into(),
            indicator: 99,
            target: "0".into(),
            baseline: "-3".into(),
            weight: 101,
        })
        .unwrap_err();
        assert_eq!(
            field_of(&error),
            [
                "task.title",
                "task.field",
                "task.lead_organization",
                "task.supporting_organizations[0]",
                "task.due_date",
                "task.indicator",
                "task.target",
                "task.baseline",
                "task.weight"
            ]
        );
    }

    #[test]
    fn a_target_of_zero_or_without_an_indicator_is_refused() {
        for (indicator, target, ok) in [
            (3, "0", false),
            (3, "0.000", false),
            (3, "", false),
            (0, "10", false),
            (0, "", true),
            (13, "0.5", true),
        ] {
            let sent = TaskFields {
                indicator,
                target: target.into(),
                ..fields()
            };
            let parsed = TaskDraft::parse(&sent);
            assert_eq!(parsed.is_ok(), ok, "{indicator} {target:?}");
            if let Err(e) = parsed {
                assert_eq!(field_of(&e), ["task.target"]);
            }
        }
    }

    #[test]
    fn supporting_organizations_are_distinct_and_not_the_lead() {
        for (supporting, at) in [
            (vec!["organizations/1"], "task.supporting_organizations[0]"),
            (
                vec!["organizations/2", "organizations/2"],
                "task.supporting_organizations[1]",
            ),
        ] {
            let sent = TaskFields {
                supporting_organizations: supporting.into_iter().map(Into::into).collect(),
                ..fields()
            };
            assert_eq!(field_of(&TaskDraft::parse(&sent).unwrap_err()), [at]);
        }
        let many = TaskFields {
            supporting_organizations: (2..=22).map(|i| format!("organizations/{i}")).collect(),
            ..fields()
        };
        assert_eq!(
            field_of(&TaskDraft::parse(&many).unwrap_err()),
            ["task.supporting_organizations"]
        );
    }

    #[test]
    fn reports_move_a_task_to_in_progress_and_done_once() {
        let going = Report::parse(40, "", "已拨付第一批资金", "京财〔2024〕3号", false).unwrap();
        assert_eq!(
            going.next_state(TaskState::NotStarted).unwrap(),
            TaskState::InProgress
        );
        assert_eq!(
            going.next_state(TaskState::InProgress).unwrap(),
            TaskState::InProgress
        );
        let done = Report::parse(0, "", "全部拨付", "", true).unwrap();
        assert_eq!(done.progress_percent, 100);
        assert_eq!(
            done.next_state(TaskState::InProgress).unwrap(),
            TaskState::Done
        );
        assert!(matches!(
            done.next_state(TaskState::Done),
            Err(Error::FailedPrecondition {
                reason: "TASK_DONE",
                ..
            })
        ));
        for (progress, done, field) in [
            (101, false, "progress_percent"),
            (50, true, "progress_percent"),
        ] {
            let e = Report::parse(progress, "", "说明", "", done).unwrap_err();
            assert_eq!(field_of(&e), [field]);
        }
        assert_eq!(
            field_of(&Report::parse(10, "", " ", "", false).unwrap_err()),
            ["note"]
        );
    }

    #[test]
    fn only_a_manual_indicator_takes_a_reported_figure() {
        let figure = Report::parse(50, "1200000", "消费协作", "", false).unwrap();
        assert!(figure.check_actual(Some(Indicator::Manual)).is_ok());
        for computed in [
            Some(Indicator::FundsDisbursed),
            Some(Indicator::PeopleTrained),
            None,
        ] {
            assert_eq!(
                field_of(&figure.check_actual(computed).unwrap_err()),
                ["actual"]
            );
        }
        let plain = Report::parse(50, "", "推进中", "", false).unwrap();
        assert!(plain.check_actual(Some(Indicator::FundsDisbursed)).is_ok());
    }

    #[test]
    fn a_task_is_overdue_after_its_due_date_until_done_and_on_time_if_done_by_it() {
        let due = NaiveDate::from_ymd_opt(2024, 6, 30).unwrap();
        let next = NaiveDate::from_ymd_opt(2024, 7, 1).unwrap();
        assert!(!is_overdue(TaskState::InProgress, due, due));
        assert!(is_overdue(TaskState::InProgress, due, next));
        assert!(is_overdue(TaskState::NotStarted, due, next));
        assert!(!is_overdue(TaskState::Done, due, next));
        assert!(done_on_time(Some(due), due));
        assert!(!done_on_time(Some(next), due));
        assert!(!done_on_time(None, due));
        assert!(check_due_in(2024, due).is_ok());
        assert!(check_due_in(2025, due).is_err());
    }

    #[test]
    fn task_filters_read_every_field() {
        let f = TaskFilter::parse(
            "lead_organization = \"organizations/3\" AND state = DONE AND overdue = false \
             AND field = FUNDS_USE",
        )
        .unwrap();
        assert_eq!(f.lead_organization_id, Some(3));
        assert_eq!(f.state, Some(TaskState::Done));
        assert_eq!(f.overdue, Some(false));
        assert_eq!(f.field, Some(PlanField::FundsUse));
        assert!(TaskFilter::parse("overdue = maybe").is_err());
    }
}
