//! Work plans (工作计划): what one program or pairing sets out to do in a year, its state
//! from draft to issued (下达) to closed, the weight of each assessment field in the
//! year's score and the thresholds of its grades.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{
    filter::{self, filter},
    name,
    patch::writable,
    text,
};
use crate::error::Error;

numbered!(
    /// Where a work plan stands.
    WorkPlanState, "WORK_PLAN_STATE_", {
        /// Being drafted: its fields and tasks may change.
        Draft = 1, "DRAFT";
        /// Issued (下达): its tasks only report progress.
        Issued = 2, "ISSUED";
        /// Closed at the year's end: ready to be assessed. Final.
        Closed = 3, "CLOSED";
    }
);

numbered!(
    /// An assessment field (考核内容) of a plan's tasks, as the yearly assessment of
    /// east–west and counterpart cooperation groups them.
    PlanField, "PLAN_FIELD_", {
        /// 组织领导: organisation and leadership.
        OrganizationLeadership = 1, "ORGANIZATION_LEADERSHIP";
        /// 人才交流: talent exchange.
        TalentExchange = 2, "TALENT_EXCHANGE";
        /// 资金使用: use of funds.
        FundsUse = 3, "FUNDS_USE";
        /// 产业合作: industry cooperation.
        IndustryCooperation = 4, "INDUSTRY_COOPERATION";
        /// 劳务协作: labour cooperation.
        LaborCooperation = 5, "LABOR_COOPERATION";
        /// 消费协作: consumption cooperation.
        ConsumptionCooperation = 6, "CONSUMPTION_COOPERATION";
        /// 水质保护: protection of the water source.
        WaterProtection = 7, "WATER_PROTECTION";
        /// Anything else.
        Other = 8, "OTHER";
    }
);

impl fmt::Display for WorkPlanState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

/// A step of a plan's course.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanStep {
    /// DRAFT → ISSUED.
    Issue,
    /// ISSUED → CLOSED.
    Close,
}

impl WorkPlanState {
    /// The state after `step`.
    ///
    /// # Errors
    /// FAILED_PRECONDITION `ILLEGAL_STATE_TRANSITION`, with the current state, when the
    /// step does not start from this state.
    pub fn apply(self, step: PlanStep) -> Result<Self, Error> {
        match (self, step) {
            (Self::Draft, PlanStep::Issue) => Ok(Self::Issued),
            (Self::Issued, PlanStep::Close) => Ok(Self::Closed),
            (state, step) => Err(Error::FailedPrecondition {
                reason: "ILLEGAL_STATE_TRANSITION",
                message: format!("a work plan in state {state} cannot take the step {step:?}"),
                metadata: vec![("state", state.to_string())],
            }),
        }
    }

    /// Checks that a plan in this state may still change, its tasks included.
    ///
    /// # Errors
    /// FAILED_PRECONDITION `PLAN_NOT_DRAFT`, with the state.
    pub fn require_draft(self) -> Result<(), Error> {
        match self {
            Self::Draft => Ok(()),
            state => Err(Error::FailedPrecondition {
                reason: "PLAN_NOT_DRAFT",
                message: format!("the work plan is {state}: only a DRAFT plan may change"),
                metadata: vec![("state", state.to_string())],
            }),
        }
    }
}

/// What a plan covers: a program as a whole, or one pairing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PlanScope {
    /// `programs/{id}`.
    Program(i64),
    /// `pairings/{id}`.
    Pairing(i64),
}

impl PlanScope {
    /// Reads a scope's name in `field`.
    ///
    /// # Errors
    /// INVALID_ARGUMENT on `field` for an empty name or one of another collection.
    pub fn parse(field: &str, scope: &str) -> Result<Self, Error> {
        if scope.is_empty() {
            return Err(Error::invalid(field, "is required"));
        }
        if scope.starts_with("programs/") {
            name::parse_id(field, "programs", scope).map(Self::Program)
        } else if scope.starts_with("pairings/") {
            name::parse_id(field, "pairings", scope).map(Self::Pairing)
        } else {
            Err(Error::invalid(
                field,
                "must name a program or a pairing, e.g. \"pairings/1\"",
            ))
        }
    }

    /// The scope's name.
    pub fn name(self) -> String {
        match self {
            Self::Program(id) => name::format_id("programs", id),
            Self::Pairing(id) => name::format_id("pairings", id),
        }
    }
}

/// The weight of one assessment field in a plan's score, in points out of 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldWeight {
    /// The field.
    pub field: PlanField,
    /// Its points.
    pub weight: i32,
}

/// The points all the weights of an issued plan add up to.
pub const TOTAL_POINTS: i32 = 100;

impl FieldWeight {
    /// Reads a plan's weights, as (field number, points): each field once, each weight 1
    /// to 100. They need not add up to 100 while the plan is drafted; see [`check_total`].
    ///
    /// # Errors
    /// INVALID_ARGUMENT naming `{field}[i].field` or `{field}[i].weight`.
    pub fn parse_list(field: &str, items: &[(i32, i32)]) -> Result<Vec<Self>, Error> {
        let mut checks = Vec::new();
        let mut weights: Vec<Self> = Vec::with_capacity(items.len());
        for (i, &(number, weight)) in items.iter().enumerate() {
            let at = format!("{field}[{i}]");
            let plan_field = match PlanField::from_number(number) {
                None => {
                    checks.push(Err(Error::invalid(
                        format!("{at}.field"),
                        format!("{number} is not a plan field"),
                    )));
                    None
                }
                Some(f) if weights.iter().any(|w| w.field == f) => {
                    checks.push(Err(Error::invalid(
                        format!("{at}.field"),
                        format!("weighs {} twice", f.word()),
                    )));
                    None
                }
                Some(f) => Some(f),
            };
            if !(1..=TOTAL_POINTS).contains(&weight) {
                checks.push(Err(Error::invalid(
                    format!("{at}.weight"),
                    "must be from 1 to 100 points",
                )));
            }
            if let Some(f) = plan_field {
                weights.push(Self { field: f, weight });
            }
        }
        Error::collect(checks)?;
        Ok(weights)
    }

    /// Checks that an issued plan's weights add up to 100 points.
    ///
    /// # Errors
    /// FAILED_PRECONDITION `WEIGHTS_NOT_100`, with the sum.
    pub fn check_total(weights: &[Self]) -> Result<(), Error> {
        let sum: i32 = weights.iter().map(|w| w.weight).sum();
        if sum == TOTAL_POINTS {
            return Ok(());
        }
        Err(Error::FailedPrecondition {
            reason: "WEIGHTS_NOT_100",
            message: format!(
                "the plan's weights add up to {sum} points, not {TOTAL_POINTS}: fix them \
                 before issuing it"
            ),
            metadata: vec![("sum", sum.to_string())],
        })
    }

    /// The weights as stored.
    pub fn store_list(weights: &[Self]) -> String {
        serde_json::to_string(weights).unwrap_or_else(|_| "[]".to_owned())
    }

    /// The weights as [`store_list`](Self::store_list) stored them.
    ///
    /// # Errors
    /// INTERNAL for a damaged value.
    pub fn load_list(stored: &str) -> Result<Vec<Self>, Error> {
        serde_json::from_str(stored)
            .map_err(|e| anyhow::anyhow!("a work plan's stored weights: {e}").into())
    }
}

impl Serialize for PlanField {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i16(*self as i16)
    }
}

impl<'de> Deserialize<'de> for PlanField {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = i16::deserialize(d)?;
        Self::from_number(i32::from(n))
            .ok_or_else(|| serde::de::Error::custom(format!("{n} is not a plan field")))
    }
}

/// The lowest scores of the grades: 好 (excellent), 较好 (good) and 一般 (fair); below
/// `fair` the grade is 差 (poor).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GradeThresholds {
    /// The least score graded 好.
    pub excellent: i32,
    /// The least score graded 较好.
    pub good: i32,
    /// The least score graded 一般.
    pub fair: i32,
}

impl Default for GradeThresholds {
    /// 好 from 90, 较好 from 80, 一般 from 60.
    fn default() -> Self {
        Self {
            excellent: 90,
            good: 80,
            fair: 60,
        }
    }
}

impl GradeThresholds {
    /// Reads the thresholds a request sends in `field`: none (or all 0) for the defaults;
    /// else 0 < fair < good < excellent ≤ 100.
    ///
    /// # Errors
    /// INVALID_ARGUMENT naming `field` and the threshold out of order.
    pub fn parse(field: &str, sent: Option<(i32, i32, i32)>) -> Result<Self, Error> {
        let (excellent, good, fair) = match sent {
            None | Some((0, 0, 0)) => return Ok(Self::default()),
            Some(t) => t,
        };
        if !(1..=TOTAL_POINTS).contains(&excellent) {
            return Err(Error::invalid(
                format!("{field}.excellent"),
                "must be from 1 to 100",
            ));
        }
        if !(1..excellent).contains(&good) {
            return Err(Error::invalid(
                format!("{field}.good"),
                format!("must be from 1 to below excellent ({excellent})"),
            ));
        }
        if !(1..good).contains(&fair) {
            return Err(Error::invalid(
                format!("{field}.fair"),
                format!("must be from 1 to below good ({good})"),
            ));
        }
        Ok(Self {
            excellent,
            good,
            fair,
        })
    }
}

/// The earliest and latest year a plan may be for.
pub const YEARS: std::ops::RangeInclusive<i32> = 2000..=2100;

/// The fields of a plan that callers write, as a request sends them, not yet checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkPlanFields {
    /// The plan's title.
    pub title: String,
    /// The document it rests on.
    pub basis_document: String,
    /// The weights, as (field number, points).
    pub weights: Vec<(i32, i32)>,
    /// The grade thresholds (excellent, good, fair), if sent.
    pub grade_thresholds: Option<(i32, i32, i32)>,
}

writable!(WorkPlanFields {
    title,
    basis_document,
    weights,
    grade_thresholds,
});

/// Fields fixed at creation.
pub const IMMUTABLE: &[&str] = &["scope", "year"];

/// Fields that only the server sets.
pub const OUTPUT_ONLY: &[&str] = &[
    "name",
    "state",
    "create_time",
    "update_time",
    "issue_time",
    "close_time",
    "etag",
];

/// The fields of a plan, each checked on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkPlanDraft {
    /// The plan's title.
    pub title: String,
    /// The document it rests on.
    pub basis_document: String,
    /// The weights.
    pub weights: Vec<FieldWeight>,
    /// The grade thresholds.
    pub grade_thresholds: GradeThresholds,
}

impl WorkPlanDraft {
    /// Checks every field on its own, all at once; errors name `work_plan.{field}`.
    ///
    /// # Errors
    /// INVALID_ARGUMENT naming each bad field.
    pub fn parse(p: &WorkPlanFields) -> Result<Self, Error> {
        let title = text::check_line("work_plan.title", &p.title, 200, true);
        let basis = text::check_line("work_plan.basis_document", &p.basis_document, 500, false);
        let weights = FieldWeight::parse_list("work_plan.weights", &p.weights);
        let thresholds = GradeThresholds::parse("work_plan.grade_thresholds", p.grade_thresholds);
        let ((), (), weights, grade_thresholds) = Error::all((title, basis, weights, thresholds))?;
        Ok(Self {
            title: p.title.trim().to_owned(),
            basis_document: p.basis_document.trim().to_owned(),
            weights,
            grade_thresholds,
        })
    }
}

/// Checks the year of a new plan.
///
/// # Errors
/// INVALID_ARGUMENT on `work_plan.year` outside [`YEARS`].
pub fn check_year(year: i32) -> Result<i32, Error> {
    if YEARS.contains(&year) {
        Ok(year)
    } else {
        Err(Error::invalid(
            "work_plan.year",
            format!("must be a year from {} to {}", YEARS.start(), YEARS.end()),
        ))
    }
}

filter! {
    /// The typed query of `ListWorkPlans`.
    pub struct WorkPlanFilter of "ListWorkPlans" {
        /// `scope = "pairings/{id}"` or `scope = "programs/{id}"`.
        "scope" => scope: PlanScope = filter::equals(|c: &filter::Condition| {
            PlanScope::parse("filter", &c.value)
        }),
        /// `year = 2025`.
        "year" => year: i32 = filter::parsed(
            |v| v.parse().ok().filter(|y| YEARS.contains(y)),
            "a year such as 2025",
        ),
        /// `state = ISSUED`.
        "state" => state: WorkPlanState = filter::word,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a test reads of an error.
    trait Probe {
        fn reason(&self) -> &str;
        fn fields(&self) -> Vec<String>;
    }

    impl Probe for Error {
        fn reason(&self) -> &str {
            match self {
                Error::InvalidArgument { reason, .. }
                | Error::FailedPrecondition { reason, .. } => reason,
                _ => "",
            }
        }

        fn fields(&self) -> Vec<String> {
            match self {
                Error::InvalidArgument { violations, .. } => {
                    violations.iter().map(|v| v.field.clone()).collect()
                }
                _ => Vec::new(),
            }
        }
    }

    #[test]
    fn a_plan_is_issued_once_and_closed_once() {
        use PlanStep::*;
        use WorkPlanState::*;
        assert_eq!(Draft.apply(Issue).unwrap(), Issued);
        assert_eq!(Issued.apply(Close).unwrap(), Closed);
        for (state, step) in [
            (Draft, Close),
            (Issued, Issue),
            (Closed, Issue),
            (Closed, Close),
        ] {
            let refused = state.apply(step).unwrap_err();
            assert_eq!(
                refused.reason(),
                "ILLEGAL_STATE_TRANSITION",
                "{state} {step:?}"
            );
        }
        assert!(Draft.require_draft().is_ok());
        for state in [Issued, Closed] {
            assert_eq!(
                state.require_draft().unwrap_err().reason(),
                "PLAN_NOT_DRAFT"
            );
        }
    }

    #[test]
    fn weights_name_each_bad_entry_and_must_add_up_to_100_to_issue() {
        let weights = FieldWeight::parse_list("w", &[(1, 20), (3, 50), (4, 30)]).unwrap();
        assert!(FieldWeight::check_total(&weights).is_ok());
        assert_eq!(
            FieldWeight::load_list(&FieldWeight::store_list(&weights)).unwrap(),
            weights
        );

        let short = FieldWeight::parse_list("w", &[(1, 20), (3, 45), (4, 30)]).unwrap();
        let refused = FieldWeight::check_total(&short).unwrap_err();
        assert_eq!(refused.reason(), "WEIGHTS_NOT_100");
        assert!(refused.to_string().contains("95"), "{refused}");
        let over = FieldWeight::parse_list("w", &[(1, 60), (2, 41)]).unwrap();
        assert!(
            FieldWeight::check_total(&over)
                .unwrap_err()
                .to_string()
                .contains("101")
        );
        assert!(FieldWeight::check_total(&[]).is_err());

        let bad = FieldWeight::parse_list("w", &[(1, 20), (1, 30), (99, 10), (2, 0), (3, 101)])
            .unwrap_err();
        let fields = bad.fields();
        assert_eq!(
            fields,
            ["w[1].field", "w[2].field", "w[3].weight", "w[4].weight"],
            "{bad}"
        );
    }

    #[test]
    fn grade_thresholds_default_to_90_80_60_and_must_descend() {
        let default = GradeThresholds::parse("g", None).unwrap();
        assert_eq!(default, GradeThresholds::default());
        assert_eq!(
            (default.excellent, default.good, default.fair),
            (90, 80, 60)
        );
        assert_eq!(
            GradeThresholds::parse("g", Some((0, 0, 0))).unwrap(),
            default
        );
        let own = GradeThresholds::parse("g", Some((95, 85, 70))).unwrap();
        assert_eq!((own.excellent, own.good, own.fair), (95, 85, 70));
        for (sent, field) in [
            ((101, 80, 60), "g.excellent"),
            ((90, 90, 60), "g.good"),
            ((90, 80, 80), "g.fair"),
            ((90, 80, 0), "g.fair"),
        ] {
            let refused = GradeThresholds::parse("g", Some(sent)).unwrap_err();
            assert_eq!(refused.fields(), [field], "{sent:?}");
        }
    }

    #[test]
    fn a_scope_is_a_program_or_a_pairing() {
        assert_eq!(
            PlanScope::parse("s", "programs/3").unwrap(),
            PlanScope::Program(3)
        );
        assert_eq!(
            PlanScope::parse("s", "pairings/7").unwrap().name(),
            "pairings/7"
        );
        for bad in ["", "projects/1", "pairings/x", "programs/"] {
            assert_eq!(
                PlanScope::parse("s", bad).unwrap_err().fields(),
                ["s"],
                "{bad}"
            );
        }
        assert!(check_year(2024).is_ok());
        assert!(check_year(1999).is_err());
        assert!(check_year(2101).is_err());
    }

    #[test]
    fn filters_read_every_field() {
        let f = WorkPlanFilter::parse("scope = \"pairings/2\" AND year = 2024 AND state = ISSUED")
            .unwrap();
        assert_eq!(f.scope, Some(PlanScope::Pairing(2)));
        assert_eq!(f.year, Some(2024));
        assert_eq!(f.state, Some(WorkPlanState::Issued));
        assert!(WorkPlanFilter::parse("year = 1999").is_err());
        assert!(WorkPlanFilter::parse("title = \"x\"").is_err());
    }
}
