//! Pairings (结对): cooperation fields, the state machine, the placement rules and the
//! list filter.

use std::fmt;

use super::{
    filter::{self, Condition, Operator, filter},
    period::Period,
    region::{RegionCode, RegionLevel, RegionPath},
};
use crate::error::Error;

numbered!(
    /// A field of cooperation; the numbers are those of the API.
    CooperationField, "COOPERATION_FIELD_", {
        /// 财政.
        Fiscal = 1, "FISCAL";
        /// 产业.
        Industry = 2, "INDUSTRY";
        /// 民生.
        Livelihood = 3, "LIVELIHOOD";
        /// 水源保护.
        WaterSource = 4, "WATER_SOURCE";
        /// 商贸.
        Trade = 5, "TRADE";
        /// 人才.
        Talent = 6, "TALENT";
        /// 劳务.
        Labor = 7, "LABOR";
        /// 文旅.
        Tourism = 8, "TOURISM";
        /// 农业.
        Agriculture = 9, "AGRICULTURE";
        /// 文化.
        Culture = 10, "CULTURE";
        /// 生态.
        Ecology = 11, "ECOLOGY";
    }
);

impl CooperationField {
    /// Reads the list of a request: no unknown values, no duplicates.
    ///
    /// # Errors
    /// INVALID_ARGUMENT naming `field`.
    pub fn parse_list(field: &str, numbers: &[i32]) -> Result<Vec<Self>, Error> {
        let mut fields = Vec::with_capacity(numbers.len());
        for &n in numbers {
            let Some(f) = Self::from_number(n) else {
                return Err(Error::invalid(
                    field,
                    format!("{n} is not a cooperation field"),
                ));
            };
            if fields.contains(&f) {
                return Err(Error::invalid(field, "lists a field twice"));
            }
            fields.push(f);
        }
        Ok(fields)
    }

    /// The stored form of a list: the numbers joined with commas.
    pub fn store_list(fields: &[Self]) -> String {
        fields
            .iter()
            .map(|f| f.number().to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Reads a list written by [`store_list`](Self::store_list).
    pub fn load_list(stored: &str) -> Vec<Self> {
        stored
            .split(',')
            .filter_map(|n| n.parse().ok().and_then(Self::from_number))
            .collect()
    }
}

numbered!(
    /// The lifecycle of a pairing.
    PairingState, "PAIRING_STATE_", {
        /// In force.
        Active = 1, "ACTIVE";
        /// Paused.
        Suspended = 2, "SUSPENDED";
        /// Finished for good.
        Ended = 3, "ENDED";
    }
);

/// A step of the pairing lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// ACTIVE → SUSPENDED.
    Suspend,
    /// SUSPENDED → ACTIVE.
    Resume,
    /// ACTIVE or SUSPENDED → ENDED.
    End,
}

impl fmt::Display for PairingState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

impl PairingState {
    /// The state after `step`.
    ///
    /// # Errors
    /// FAILED_PRECONDITION `ILLEGAL_STATE_TRANSITION`, with the current state, when the
    /// step does not start from this state.
    pub fn apply(self, step: Transition) -> Result<Self, Error> {
        match (self, step) {
            (Self::Active, Transition::Suspend) => Ok(Self::Suspended),
            (Self::Suspended, Transition::Resume) => Ok(Self::Active),
            (Self::Active | Self::Suspended, Transition::End) => Ok(Self::Ended),
            (state, step) => Err(Error::FailedPrecondition {
                reason: "ILLEGAL_STATE_TRANSITION",
                message: format!("a pairing in state {state} cannot take the step {step:?}"),
                metadata: vec![("state", state.to_string())],
            }),
        }
    }
}

/// Where a pairing sits: what the placement rules look at.
#[derive(Debug, Clone)]
pub struct Placement {
    /// The program's id.
    pub program_id: i64,
    /// The supporting region's path.
    pub supporting: RegionPath,
    /// The supported region's path.
    pub supported: RegionPath,
    /// The pairing's period.
    pub period: Period,
}

/// Checks the rules of a pairing's place: distinct regions that do not contain each other,
/// a period inside its program's, and, under a parent, the same program, regions inside the
/// parent's regions, and a period inside the parent's.
///
/// # Errors
/// INVALID_ARGUMENT naming the field at fault, under `pairing.`.
pub fn check_placement(
    pairing: &Placement,
    program_period: &Period,
    parent: Option<&Placement>,
) -> Result<(), Error> {
    let mut checks = vec![];
    if pairing.supported.is_within(&pairing.supporting)
        || pairing.supporting.is_within(&pairing.supported)
    {
        checks.push(Err(Error::invalid(
            "pairing.supported_region",
            "must differ from the supporting region, and neither may contain the other",
        )));
    }
    if !program_period.contains(&pairing.period) {
        checks.push(Err(outside(
            "the program's period",
            pairing,
            program_period,
        )));
    }
    if let Some(parent) = parent {
        if parent.program_id != pairing.program_id {
            checks.push(Err(Error::invalid(
                "pairing.parent",
                "must be a pairing of the same program",
            )));
        }
        if !pairing.supporting.is_within(&parent.supporting) {
            checks.push(Err(Error::invalid(
                "pairing.supporting_region",
                "must lie inside the parent pairing's supporting region",
            )));
        }
        if !pairing.supported.is_within(&parent.supported) {
            checks.push(Err(Error::invalid(
                "pairing.supported_region",
                "must lie inside the parent pairing's supported region",
            )));
        }
        if !parent.period.contains(&pairing.period) {
            checks.push(Err(outside(
                "the parent pairing's period",
                pairing,
                &parent.period,
            )));
        }
    }
    Error::collect(checks)
}

fn outside(what: &str, pairing: &Placement, outer: &Period) -> Error {
    let field = if pairing.period.start() < outer.start() {
        "pairing.period_start"
    } else {
        "pairing.period_end"
    };
    Error::invalid(
        field,
        format!(
            "must lie inside {what}, {} to {}",
            outer.start(),
            outer.end()
        ),
    )
}

/// How a list filter matches a region field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegionMatch {
    /// `= "regions/…"`: exactly this region.
    Exactly(RegionCode),
    /// `: "regions/…"`: this region or any inside it.
    Within(RegionCode),
}

filter! {
    /// The typed query of `ListPairings`.
    pub struct PairingFilter of "ListPairings" {
        /// `program = "programs/{id}"`.
        "program" => program_id: i64 = filter::id_in("programs"),
        /// `supporting_region = …` or `supporting_region: …`.
        "supporting_region" => supporting: RegionMatch = region_match,
        /// `supported_region = …` or `supported_region: …`.
        "supported_region" => supported: RegionMatch = region_match,
        /// `state = ACTIVE`.
        "state" => state: PairingState = filter::word,
        /// `level = COUNTY`.
        "level" => level: RegionLevel = filter::word,
    }
}

fn region_match(c: &Condition) -> Result<RegionMatch, Error> {
    let code = RegionCode::from_condition(c)?;
    match c.operator {
        Operator::Equals => Ok(RegionMatch::Exactly(code)),
        Operator::Has => Ok(RegionMatch::Within(code)),
        _ => Err(c.error("supports only '=' and ':'")),
    }
}

/// What hangs off a pairing that a change of its period or fields would leave outside
/// them; a pairing keeps the promises it made when each record was placed under it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bound {
    /// Projects, other than cancelled ones, planned to run outside the period.
    pub projects: u64,
    /// Ledger lines of fiscal years outside the period.
    pub lines: u64,
    /// Live talent exchanges with days outside the period.
    pub exchanges: u64,
    /// The fields that projects, other than cancelled ones, work in and the change drops.
    pub dropped_fields: Vec<CooperationField>,
}

impl Bound {
    /// Checks that nothing stands outside.
    ///
    /// # Errors
    /// FAILED_PRECONDITION `RECORDS_OUTSIDE_PERIOD`, with a count of each kind of record
    /// outside, or `FIELD_IN_USE`, naming the fields still worked in.
    pub fn check(&self) -> Result<(), Error> {
        let counts = [
            (self.projects, "project(s)", "projects_outside"),
            (self.lines, "ledger line(s)", "lines_outside"),
            (self.exchanges, "talent exchange(s)", "exchanges_outside"),
        ];
        let outside: Vec<_> = counts.iter().filter(|(n, _, _)| *n > 0).collect();
        if !outside.is_empty() {
            let what: Vec<String> = outside
                .iter()
                .map(|(n, kind, _)| format!("{n} {kind}"))
                .collect();
            return Err(Error::FailedPrecondition {
                reason: "RECORDS_OUTSIDE_PERIOD",
                message: format!(
                    "{} of the pairing would fall outside the new period; change them first \
                     or keep a period that holds them",
                    what.join(", ")
                ),
                metadata: outside
                    .iter()
                    .map(|(n, _, key)| (*key, n.to_string()))
                    .collect(),
            });
        }
        if !self.dropped_fields.is_empty() {
            let words: Vec<&str> = self.dropped_fields.iter().map(|f| f.word()).collect();
            return Err(Error::FailedPrecondition {
                reason: "FIELD_IN_USE",
                message: format!(
                    "the pairing's projects work in {}, which the change drops",
                    words.join(", ")
                ),
                metadata: vec![("fields", words.join(","))],
            });
        }
        Ok(())
    }
}

/// The fields an update mask may name on a pairing.
pub const UPDATABLE: &[&str] = &["parent", "fields", "period_start", "period_end"];

/// Fields fixed at creation.
pub const IMMUTABLE: &[&str] = &["program", "supporting_region", "supported_region"];

/// Fields that only the server sets.
pub const OUTPUT_ONLY: &[&str] = &[
    "name",
    "level",
    "state",
    "display_name",
    "create_time",
    "update_time",
    "delete_time",
    "etag",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn period(start: &str, end: &str) -> Period {
        Period::parse("", start, end).unwrap()
    }

    fn placement(supporting: &[&str], supported: &[&str], p: Period) -> Placement {
        Placement {
            program_id: 1,
            supporting: RegionPath::through(supporting),
            supported: RegionPath::through(supported),
            period: p,
        }
    }

    fn fields_of(err: Error) -> Vec<String> {
        match err {
            Error::InvalidArgument { violations, .. } => {
                violations.into_iter().map(|v| v.field).collect()
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn the_lifecycle_allows_only_its_steps() {
        use PairingState::*;
        use Transition::*;
        assert_eq!(Active.apply(Suspend).unwrap(), Suspended);
        assert_eq!(Suspended.apply(Resume).unwrap(), Active);
        assert_eq!(Suspended.apply(End).unwrap(), Ended);
        assert_eq!(Active.apply(End).unwrap(), Ended);
        for (state, step) in [
            (Active, Resume),
            (Suspended, Suspend),
            (Ended, Resume),
            (Ended, End),
            (Ended, Suspend),
        ] {
            assert!(matches!(
                state.apply(step),
                Err(Error::FailedPrecondition {
                    reason: "ILLEGAL_STATE_TRANSITION",
                    ..
                })
            ));
        }
    }

    #[test]
    fn fields_refuse_unknown_and_repeated_values() {
        assert_eq!(
            CooperationField::parse_list("f", &[1, 4]).unwrap(),
            vec![CooperationField::Fiscal, CooperationField::WaterSource]
        );
        assert!(CooperationField::parse_list("f", &[0]).is_err());
        assert!(CooperationField::parse_list("f", &[12]).is_err());
        assert!(CooperationField::parse_list("f", &[2, 2]).is_err());
        let stored =
            CooperationField::store_list(&[CooperationField::Ecology, CooperationField::Trade]);
        assert_eq!(
            CooperationField::load_list(&stored),
            vec![CooperationField::Ecology, CooperationField::Trade]
        );
    }

    #[test]
    fn regions_may_not_contain_each_other() {
        let program = period("2021-01-01", "2035-12-31");
        let p = placement(
            &["420000"],
            &["420000", "420300"],
            period("2021-01-01", "2025-12-31"),
        );
        assert_eq!(
            fields_of(check_placement(&p, &program, None).unwrap_err()),
            ["pairing.supported_region"]
        );
        let ok = placement(
            &["110000", "110100", "110101"],
            &["420000", "420300"],
            period("2021-01-01", "2025-12-31"),
        );
        assert!(check_placement(&ok, &program, None).is_ok());
    }

    #[test]
    fn a_period_outside_the_program_names_the_end_at_fault() {
        let program = period("2021-01-01", "2035-12-31");
        let late = placement(&["110000"], &["420000"], period("2030-01-01", "2036-12-31"));
        assert_eq!(
            fields_of(check_placement(&late, &program, None).unwrap_err()),
            ["pairing.period_end"]
        );
        let early = placement(&["110000"], &["420000"], period("2020-01-01", "2022-12-31"));
        assert_eq!(
            fields_of(check_placement(&early, &program, None).unwrap_err()),
            ["pairing.period_start"]
        );
    }

    #[test]
    fn a_child_lies_inside_its_parent() {
        let program = period("2021-01-01", "2035-12-31");
        let parent = placement(
            &["110000"],
            &["420000", "420300"],
            period("2021-01-01", "2030-12-31"),
        );
        let child = placement(
            &["110000", "110100"],
            &["420000", "420300", "420381"],
            period("2022-01-01", "2025-12-31"),
        );
        assert!(check_placement(&child, &program, Some(&parent)).is_ok());

        let stray = placement(
            &["120000"],
            &["420000", "420500"],
            period("2022-01-01", "2031-12-31"),
        );
        assert_eq!(
            fields_of(check_placement(&stray, &program, Some(&parent)).unwrap_err()),
            [
                "pairing.supporting_region",
                "pairing.supported_region",
                "pairing.period_end"
            ]
        );
        let other_program = Placement {
            program_id: 2,
            ..child.clone()
        };
        assert_eq!(
            fields_of(check_placement(&other_program, &program, Some(&parent)).unwrap_err()),
            ["pairing.parent"]
        );
    }

    #[test]
    fn the_filter_reads_every_documented_field() {
        let f = PairingFilter::parse(
            r#"program = "programs/3" AND supported_region:"regions/420300" AND supporting_region = "regions/110101" AND state = SUSPENDED AND level = COUNTY"#,
        )
        .unwrap();
        assert_eq!(f.program_id, Some(3));
        assert_eq!(
            f.supported,
            Some(RegionMatch::Within(RegionCode::from_stored(
                "420300".into()
            )))
        );
        assert_eq!(
            f.supporting,
            Some(RegionMatch::Exactly(RegionCode::from_stored(
                "110101".into()
            )))
        );
        assert_eq!(f.state, Some(PairingState::Suspended));
        assert_eq!(f.level, Some(RegionLevel::County));
    }

    #[test]
    fn the_filter_refuses_unknown_fields_and_values() {
        for bad in [
            "colour = RED",
            "state = OPEN",
            "state:ACTIVE",
            r#"supported_region = "420300""#,
            "program = programs/x",
        ] {
            assert!(PairingFilter::parse(bad).is_err(), "{bad}");
        }
    }
}
