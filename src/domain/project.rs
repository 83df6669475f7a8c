//! Cooperation projects (协作项目): the lifecycle, milestones, the placement rules and the
//! list filter.

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{
    filter::{self, filter},
    list,
    money::{Amount, MoneyFields},
    name,
    pairing::CooperationField,
    patch::writable,
    period::{Period, format_date, parse_date},
    region::{RegionCode, RegionPath},
    text,
};
use crate::error::Error;

numbered!(
    /// The lifecycle of a project.
    ProjectState, "PROJECT_STATE_", {
        /// Proposed, awaiting approval.
        Proposed = 1, "PROPOSED";
        /// Approved: funds may be allocated.
        Approved = 2, "APPROVED";
        /// Under way: funds may be allocated and disbursed.
        InProgress = 3, "IN_PROGRESS";
        /// Done, awaiting acceptance.
        Completed = 4, "COMPLETED";
        /// Accepted (验收). Final.
        Accepted = 5, "ACCEPTED";
        /// Cancelled. Final.
        Cancelled = 6, "CANCELLED";
    }
);

/// A step of the project lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// PROPOSED → APPROVED.
    Approve,
    /// APPROVED → IN_PROGRESS.
    Start,
    /// IN_PROGRESS → COMPLETED.
    Complete,
    /// COMPLETED → ACCEPTED.
    Accept,
    /// PROPOSED, APPROVED or IN_PROGRESS → CANCELLED.
    Cancel,
}

impl fmt::Display for ProjectState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

impl ProjectState {
    /// True once the project can no longer change: accepted or cancelled.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Accepted | Self::Cancelled)
    }

    /// The state after `step`.
    ///
    /// # Errors
    /// FAILED_PRECONDITION `ILLEGAL_STATE_TRANSITION`, with the current state, when the
    /// step does not start from this state.
    pub fn apply(self, step: Step) -> Result<Self, Error> {
        match (self, step) {
            (Self::Proposed, Step::Approve) => Ok(Self::Approved),
            (Self::Approved, Step::Start) => Ok(Self::InProgress),
            (Self::InProgress, Step::Complete) => Ok(Self::Completed),
            (Self::Completed, Step::Accept) => Ok(Self::Accepted),
            (Self::Proposed | Self::Approved | Self::InProgress, Step::Cancel) => {
                Ok(Self::Cancelled)
            }
            (state, step) => Err(Error::FailedPrecondition {
                reason: "ILLEGAL_STATE_TRANSITION",
                message: format!("a project in state {state} cannot take the step {step:?}"),
                metadata: vec![("state", state.to_string())],
            }),
        }
    }
}

/// A milestone: what is due when, and when it was done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Milestone {
    /// What is to be done.
    pub title: String,
    /// When it is due.
    pub due_date: NaiveDate,
    /// When it was done.
    pub done_date: Option<NaiveDate>,
}

/// The most milestones one project may list.
pub const MAX_MILESTONES: usize = 100;

impl Milestone {
    /// Reads the milestones of a request, as (title, due date, done date) texts; errors
    /// name `{field}[i].title` and so on.
    ///
    /// # Errors
    /// INVALID_ARGUMENT naming every bad field.
    pub fn parse_list(field: &str, items: &[(&str, &str, &str)]) -> Result<Vec<Self>, Error> {
        list::read(
            field,
            items,
            MAX_MILESTONES,
            "milestones",
            |at, (title, due, done)| {
                let title_ok = text::check_line(&format!("{at}.title"), title, 200, true);
                let due = parse_date(&format!("{at}.due_date"), due);
                let done = match *done {
                    "" => Ok(None),
                    text => parse_date(&format!("{at}.done_date"), text).map(Some),
                };
                Error::collect([title_ok, Error::of(&due), Error::of(&done)])?;
                Ok(Self {
                    title: (*title).to_owned(),
                    due_date: due?,
                    done_date: done?,
                })
            },
        )
    }

    /// The stored form of a list: JSON.
    pub fn store_list(milestones: &[Self]) -> String {
        list::store(milestones)
    }

    /// A stored list.
    ///
    /// # Errors
    /// INTERNAL for stored text that is not a milestone list.
    pub fn load_list(stored: &str) -> Result<Vec<Self>, Error> {
        list::load(stored, "stored milestones do not read back")
    }

    /// The due date as the API writes it.
    pub fn due(&self) -> String {
        format_date(self.due_date)
    }

    /// The done date as the API writes it, or empty.
    pub fn done(&self) -> String {
        self.done_date.map(format_date).unwrap_or_default()
    }
}

/// Checks a progress figure.
///
/// # Errors
/// INVALID_ARGUMENT naming `field` outside 0 to 100.
pub fn parse_progress(field: &str, percent: i32) -> Result<i16, Error> {
    match i16::try_from(percent) {
        Ok(p) if (0..=100).contains(&p) => Ok(p),
        _ => Err(Error::invalid(field, "must be from 0 to 100")),
    }
}

/// What a project's placement is checked against: its pairing.
#[derive(Debug, Clone)]
pub struct PairingFrame {
    /// The pairing's supported region.
    pub supported: RegionPath,
    /// The pairing's fields.
    pub fields: Vec<CooperationField>,
    /// The pairing's period.
    pub period: Period,
}

/// Checks where a project sits in its pairing: its location inside the supported region,
/// its field one of the pairing's, its planned period inside the pairing's.
///
/// # Errors
/// INVALID_ARGUMENT naming each field at fault, under `project.`.
pub fn check_placement(
    frame: &PairingFrame,
    location: &RegionPath,
    field: CooperationField,
    planned: &Period,
) -> Result<(), Error> {
    let mut checks = Vec::new();
    if !location.is_within(&frame.supported) {
        checks.push(Err(Error::invalid(
            "project.location",
            "must be the pairing's supported region or a region inside it",
        )));
    }
    if !frame.fields.contains(&field) {
        checks.push(Err(Error::invalid(
            "project.field",
            format!("must be one of the pairing's fields, not {}", field.word()),
        )));
    }
    if !frame.period.contains(planned) {
        checks.push(Err(Error::invalid(
            if planned.start() < frame.period.start() {
                "project.planned_start"
            } else {
                "project.planned_end"
            },
            format!(
                "must lie inside the pairing's period, {} to {}",
                format_date(frame.period.start()),
                format_date(frame.period.end())
            ),
        )));
    }
    Error::collect(checks)
}

filter! {
    /// The typed query of `ListProjects`.
    pub struct ProjectFilter of "ListProjects" {
        /// `pairing = "pairings/{id}"`.
        "pairing" => pairing_id: i64 = filter::id_in("pairings"),
        /// `pairing.program = "programs/{id}"`.
        "pairing.program" => program_id: i64 = filter::id_in("programs"),
        /// `state = APPROVED`.
        "state" => state: ProjectState = filter::word,
        /// `field = WATER_SOURCE`.
        "field" => field: CooperationField =
            filter::parsed(CooperationField::from_word, "a cooperation field"),
        /// `location = "regions/…"`: that region and every region inside it.
        "location" => location: RegionCode = filter::equals(RegionCode::from_condition),
        /// `implementing_organization = "organizations/{id}"`.
        "implementing_organization" => implementing_organization_id: i64 =
            filter::id_in("organizations"),
    }
}

/// The fields of a project that callers write, as a request sends them, not yet checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectFields {
    /// The project's name.
    pub display_name: String,
    /// Free text.
    pub description: String,
    /// Where the work happens: a region's name, `regions/{code}`.
    pub location: String,
    /// Who carries it out.
    pub implementing_org: String,
    /// The registered organisation that carries it out, `organizations/{id}`, or empty.
    pub implementing_organization: String,
    /// The budget.
    pub budget: MoneyFields,
    /// The planned first day.
    pub planned_start: String,
    /// The planned last day.
    pub planned_end: String,
    /// 0 to 100.
    pub progress_percent: i32,
    /// Milestones as (title, due date, done date) texts.
    pub milestones: Vec<(String, String, String)>,
}

/// The fields of a project that callers write, checked one by one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectDraft {
    /// The project's name.
    pub display_name: String,
    /// Free text.
    pub description: String,
    /// Where the work happens.
    pub location: RegionCode,
    /// Who carries it out; empty when the organisation below names it.
    pub implementing_org: String,
    /// The registered organisation that carries it out.
    pub implementing_organization_id: Option<i64>,
    /// The budget.
    pub budget: Amount,
    /// The planned period.
    pub planned: Period,
    /// 0 to 100.
    pub progress_percent: i16,
    /// Milestones.
    pub milestones: Vec<Milestone>,
}

impl ProjectDraft {
    /// Checks every field at once; errors name `project.{field}`.
    ///
    /// # Errors
    /// INVALID_ARGUMENT naming each bad field.
    pub fn parse(p: &ProjectFields) -> Result<Self, Error> {
        let display_name = text::check_line("project.display_name", &p.display_name, 200, true);
        let description = text::check("project.description", &p.description, 4000, false);
        let location = if p.location.is_empty() {
            Err(Error::invalid("project.location", "is required"))
        } else {
            RegionCode::from_name("project.location", &p.location)
        };
        // The free text may be left to a registered organisation's name.
        let implementing_organization_id = name::parse_optional_id(
            "project.implementing_organization",
            "organizations",
            &p.implementing_organization,
        );
        let implementing_org = text::check_line(
            "project.implementing_org",
            &p.implementing_org,
            200,
            p.implementing_organization.is_empty(),
        );
        let budget = p.budget.amount("project.budget");
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
            .map(|(title, due, done)| (title.as_str(), due.as_str(), done.as_str()))
            .collect();
        let milestones = Milestone::parse_list("project.milestones", &items);
        let (
            (),
            (),
            location,
            (),
            implementing_organization_id,
            budget,
            planned,
            progress_percent,
            milestones,
        ) = Error::all((
            display_name,
            description,
            location,
            implementing_org,
            implementing_organization_id,
            budget,
            planned,
            progress,
            milestones,
        ))?;
        Ok(Self {
            display_name: p.display_name.clone(),
            description: p.description.clone(),
            location,
            implementing_org: p.implementing_org.clone(),
            implementing_organization_id,
            budget,
            planned,
            progress_percent,
            milestones,
        })
    }
}

writable!(ProjectFields {
    display_name,
    description,
    location,
    implementing_org,
    implementing_organization,
    budget,
    planned_start,
    planned_end,
    progress_percent,
    milestones,
});

/// Fields fixed at creation.
pub const IMMUTABLE: &[&str] = &["pairing", "field"];

/// Fields that only the server sets.
pub const OUTPUT_ONLY: &[&str] = &[
    "name",
    "state",
    "funding",
    "cancel_reason",
    "create_time",
    "update_time",
    "etag",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::patch::Patch;

    #[test]
    fn the_lifecycle_allows_only_its_steps() {
        use ProjectState::*;
        use Step::*;
        let legal = [
            (Proposed, Approve, Approved),
            (Approved, Start, InProgress),
            (InProgress, Complete, Completed),
            (Completed, Accept, Accepted),
            (Proposed, Cancel, Cancelled),
            (Approved, Cancel, Cancelled),
            (InProgress, Cancel, Cancelled),
        ];
        for &state in ProjectState::ALL {
            for step in [Approve, Start, Complete, Accept, Cancel] {
                let expected = legal
                    .iter()
                    .find(|(s, t, _)| *s == state && *t == step)
                    .map(|(_, _, to)| *to);
                match (state.apply(step), expected) {
                    (Ok(to), Some(want)) => assert_eq!(to, want),
                    (Err(Error::FailedPrecondition { reason, .. }), None) => {
                        assert_eq!(reason, "ILLEGAL_STATE_TRANSITION");
                    }
                    (got, want) => panic!("{state} {step:?}: got {got:?}, want {want:?}"),
                }
            }
        }
    }

    #[test]
    fn milestones_name_each_bad_field_and_round_trip_through_storage() {
        let err = Milestone::parse_list(
            "project.milestones",
            &[("ok", "2025-01-01", ""), ("", "2025-13-01", "x")],
        )
        .unwrap_err();
        let Error::InvalidArgument { violations, .. } = err else {
            panic!("expected INVALID_ARGUMENT");
        };
        let fields: Vec<_> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "project.milestones[1].title",
                "project.milestones[1].due_date",
                "project.milestones[1].done_date"
            ]
        );

        let list = Milestone::parse_list(
            "m",
            &[
                ("选址", "2025-03-01", "2025-02-27"),
                ("竣工", "2025-12-01", ""),
            ],
        )
        .unwrap();
        assert_eq!(
            Milestone::load_list(&Milestone::store_list(&list)).unwrap(),
            list
        );
        assert_eq!(list[1].done(), "");
    }

    #[test]
    fn filters_read_every_field_and_refuse_others() {
        let f = ProjectFilter::parse(
            "pairing = \"pairings/3\" AND pairing.program = \"programs/1\" AND state = \
             IN_PROGRESS AND field = WATER_SOURCE AND location = \"regions/420381\"",
        )
        .unwrap();
        assert_eq!(f.pairing_id, Some(3));
        assert_eq!(f.program_id, Some(1));
        assert_eq!(f.state, Some(ProjectState::InProgress));
        assert_eq!(f.field, Some(CooperationField::WaterSource));
        assert_eq!(f.location.unwrap().as_str(), "420381");
        for bad in [
            "budget = 1",
            "state = OPEN",
            "location : \"regions/420381\"",
        ] {
            assert!(ProjectFilter::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn progress_lies_between_0_and_100() {
        assert_eq!(parse_progress("p", 100).unwrap(), 100);
        assert!(parse_progress("p", 101).is_err());
        assert!(parse_progress("p", -1).is_err());
    }

    fn stored() -> ProjectFields {
        ProjectFields {
            display_name: "丹江口水库库周生态修复".to_owned(),
            location: "regions/420381".to_owned(),
            implementing_org: "丹江口市水利和湖泊局".to_owned(),
            budget: MoneyFields::of(crate::domain::money::Balance(300_000_000)),
            planned_start: "2025-03-01".to_owned(),
            planned_end: "2025-12-31".to_owned(),
            progress_percent: 40,
            milestones: vec![("选址".to_owned(), "2025-04-01".to_owned(), String::new())],
            ..ProjectFields::default()
        }
    }

    #[test]
    fn a_patch_keeps_what_it_does_not_name_and_checks_the_whole() {
        let patch = Patch {
            sent: ProjectFields {
                progress_percent: 60,
                planned_end: "2026-06-30".to_owned(),
                ..ProjectFields::default()
            },
            paths: vec!["progress_percent", "planned_end"],
        };
        let too_early = Patch {
            sent: ProjectFields {
                planned_end: "2025-01-01".to_owned(),
                ..ProjectFields::default()
            },
            paths: vec!["planned_end", "display_name"],
        };

        let draft = ProjectDraft::parse(&patch.over(stored())).unwrap();
        let too_early = ProjectDraft::parse(&too_early.over(stored())).unwrap_err();

        assert_eq!(draft.progress_percent, 60);
        assert_eq!(draft.display_name, "丹江口水库库周生态修复");
        assert_eq!(draft.budget.fen(), 300_000_000);
        assert_eq!(format_date(draft.planned.end()), "2026-06-30");
        assert_eq!(draft.milestones.len(), 1);
        let Error::InvalidArgument { violations, .. } = too_early else {
            panic!("expected INVALID_ARGUMENT, got {too_early:?}");
        };
        let fields: Vec<_> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields[0], "project.display_name");
        assert!(
            fields[1..]
                .iter()
                .all(|f| f.starts_with("project.planned_"))
        );
    }
}
