//! Talent exchanges (人才交流): the people who go from one side of a pairing to the other,
//! the rules an exchange keeps, and what its summary counts.
//!
//! An exchange belongs to the year its first day falls in. Its person-days are headcount ×
//! days, where days counts both the first and the last day (one for an exchange without a
//! last day).

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::{
    filter::{self, filter},
    list, name,
    pairing::CooperationField,
    patch::writable,
    period::{Period, parse_date},
    region::RegionCode,
    text,
};
use crate::error::Error;

numbered!(
    /// What kind of exchange it is.
    TalentKind, "TALENT_EXCHANGE_KIND_", {
        /// 干部挂职: cadres seconded to a post on the other side.
        CadreSecondment = 1, "CADRE_SECONDMENT";
        /// 专业技术人才: doctors, teachers and other professionals sent to work.
        ProfessionalDispatch = 2, "PROFESSIONAL_DISPATCH";
        /// 培训: a training class.
        Training = 3, "TRAINING";
        /// 劳务协作: workers placed through labour cooperation.
        LaborCooperation = 4, "LABOR_COOPERATION";
        /// 高层互访: a visit by leaders.
        HighLevelVisit = 5, "HIGH_LEVEL_VISIT";
        /// 考察学习: a study visit.
        StudyVisit = 6, "STUDY_VISIT";
    }
);

numbered!(
    /// Which way the people go.
    Direction, "TALENT_EXCHANGE_DIRECTION_", {
        /// From the supporting region to the supported one.
        ToSupported = 1, "TO_SUPPORTED";
        /// From the supported region to the supporting one.
        ToSupporting = 2, "TO_SUPPORTING";
    }
);

/// The most people one exchange records.
pub const MAX_HEADCOUNT: i32 = 100_000;
/// The most participants one exchange lists by name.
pub const MAX_PARTICIPANTS: usize = 1000;

/// One person of an exchange: personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    /// The person's name.
    pub display_name: String,
    /// Where the person comes from.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub organization: String,
    /// The person's post.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub position: String,
}

impl Participant {
    /// Checks a list of (display_name, organization, position) under `field`.
    ///
    /// # Errors
    /// INVALID_ARGUMENT naming every bad entry, as `{field}[i].display_name` and so on.
    pub fn parse_list(field: &str, items: &[(&str, &str, &str)]) -> Result<Vec<Self>, Error> {
        list::read(
            field,
            items,
            MAX_PARTICIPANTS,
            "people",
            |at, (display_name, organization, position)| {
                Error::collect([
                    text::check_line(&format!("{at}.display_name"), display_name, 100, true),
                    text::check_line(&format!("{at}.organization"), organization, 200, false),
                    text::check_line(&format!("{at}.position"), position, 100, false),
                ])?;
                Ok(Self {
                    display_name: (*display_name).to_owned(),
                    organization: (*organization).to_owned(),
                    position: (*position).to_owned(),
                })
            },
        )
    }

    /// The stored form of a list.
    pub fn store_list(people: &[Self]) -> String {
        list::store(people)
    }

    /// A stored list.
    ///
    /// # Errors
    /// INTERNAL for stored text that is not a participant list.
    pub fn load_list(stored: &str) -> Result<Vec<Self>, Error> {
        list::load(stored, "stored participants do not read back")
    }
}

/// Checks a headcount on its own: 1 to [`MAX_HEADCOUNT`].
///
/// # Errors
/// INVALID_ARGUMENT naming `field`.
pub fn parse_headcount(field: &str, headcount: i32) -> Result<i32, Error> {
    if (1..=MAX_HEADCOUNT).contains(&headcount) {
        Ok(headcount)
    } else {
        Err(Error::invalid(
            field,
            format!("must be from 1 to {MAX_HEADCOUNT}"),
        ))
    }
}

/// What an exchange says of itself, each field already well formed.
#[derive(Debug, Clone)]
pub struct Shape<'a> {
    /// The kind.
    pub kind: TalentKind,
    /// How many people.
    pub headcount: i32,
    /// How many are listed by name.
    pub listed: usize,
    /// The first day.
    pub start: NaiveDate,
    /// The last day, if any.
    pub end: Option<NaiveDate>,
    /// The host organisation.
    pub host_organization: &'a str,
}

impl Shape<'_> {
    /// Checks the rules between fields, and the dates against the pairing's period. Field
    /// names are `{prefix}headcount` and so on.
    ///
    /// # Errors
    /// INVALID_ARGUMENT naming every field at fault.
    pub fn check(&self, prefix: &str, pairing: &Period) -> Result<(), Error> {
        let field = |f: &str| format!("{prefix}{f}");
        let mut checks = Vec::new();
        if self.listed > usize::try_from(self.headcount).unwrap_or(0) {
            checks.push(Err(Error::invalid(
                field("headcount"),
                format!(
                    "is {} but {} people are listed by name",
                    self.headcount, self.listed
                ),
            )));
        }
        let inside = |date: NaiveDate| date >= pairing.start() && date <= pairing.end();
        if !inside(self.start) {
            checks.push(Err(outside(&field("start_date"), pairing)));
        }
        match self.end {
            Some(end) if end < self.start => {
                checks.push(Err(Error::invalid(
                    field("end_date"),
                    "must not be before start_date",
                )));
            }
            Some(end) if !inside(end) => checks.push(Err(outside(&field("end_date"), pairing))),
            Some(_) => {}
            None if self.kind == TalentKind::CadreSecondment => {
                checks.push(Err(Error::invalid(
                    field("end_date"),
                    "is required for a cadre secondment",
                )));
            }
            None => {}
        }
        if self.kind == TalentKind::CadreSecondment && self.host_organization.trim().is_empty() {
            checks.push(Err(Error::invalid(
                field("host_organization"),
                "is required for a cadre secondment",
            )));
        }
        Error::collect(checks)
    }
}

fn outside(field: &str, pairing: &Period) -> Error {
    Error::invalid(
        field,
        format!(
            "must lie inside the pairing's period, {} to {}",
            pairing.start(),
            pairing.end()
        ),
    )
}

/// The days an exchange lasts, both ends included; one without a last day.
pub fn days(start: NaiveDate, end: Option<NaiveDate>) -> i64 {
    end.map_or(1, |end| (end - start).num_days() + 1)
}

/// The year an exchange counts toward: the year of its first day.
pub fn year_of(start: NaiveDate) -> i32 {
    start.year()
}

filter! {
    /// The typed query of `ListTalentExchanges`.
    pub struct TalentFilter of "ListTalentExchanges" {
        /// `pairing = "pairings/{id}"`.
        "pairing" => pairing_id: i64 = filter::id_in("pairings"),
        /// `kind = TRAINING`.
        "kind" => kind: TalentKind = filter::word,
        /// `direction = TO_SUPPORTED`.
        "direction" => direction: Direction = filter::word,
        /// `year = 2025`: exchanges that start in that year.
        "year" => year: i32 = filter::parsed(
            |v| v.parse().ok().filter(|y| (1..=9999).contains(y)),
            "a year such as 2025",
        ),
        /// `region = "regions/…"`: exchanges of pairings with either region inside that one.
        "region" => region: RegionCode = filter::equals(RegionCode::from_condition),
        /// `host_organization_ref = "organizations/{id}"`.
        "host_organization_ref" => host_organization_id: i64 = filter::id_in("organizations"),
    }
}

/// The fields of an exchange that callers write, as a request sends them, not yet checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TalentFields {
    /// The kind's number.
    pub kind: i32,
    /// The direction's number.
    pub direction: i32,
    /// The cooperation field's number.
    pub field: i32,
    /// How many people.
    pub headcount: i32,
    /// The first day.
    pub start_date: String,
    /// The last day, or empty.
    pub end_date: String,
    /// Who receives the people.
    pub host_organization: String,
    /// The registered organisation that receives them, `organizations/{id}`, or empty.
    pub host_organization_ref: String,
    /// What the exchange is.
    pub title: String,
    /// Free text.
    pub description: String,
    /// The people as (name, organisation, position) texts: personal data.
    pub participants: Vec<(String, String, String)>,
}

/// The fields of an exchange that callers write, each checked on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TalentDraft {
    /// The kind.
    pub kind: TalentKind,
    /// Which way the people go.
    pub direction: Direction,
    /// The cooperation field.
    pub field: CooperationField,
    /// How many people.
    pub headcount: i32,
    /// The first day.
    pub start: NaiveDate,
    /// The last day, if any.
    pub end: Option<NaiveDate>,
    /// Who receives the people; empty when the organisation below names them.
    pub host_organization: String,
    /// The registered organisation that receives them.
    pub host_organization_id: Option<i64>,
    /// What the exchange is.
    pub title: String,
    /// Free text.
    pub description: String,
    /// The people listed by name.
    pub participants: Vec<Participant>,
}

impl TalentDraft {
    /// Checks every field on its own, all at once; errors name `talent_exchange.{field}`.
    ///
    /// # Errors
    /// INVALID_ARGUMENT naming each bad field.
    pub fn parse(t: &TalentFields) -> Result<Self, Error> {
        let kind = TalentKind::from_number(t.kind)
            .ok_or_else(|| Error::invalid("talent_exchange.kind", "must be a kind of exchange"));
        let direction = Direction::from_number(t.direction).ok_or_else(|| {
            Error::invalid(
                "talent_exchange.direction",
                "must be TO_SUPPORTED or TO_SUPPORTING",
            )
        });
        let field = CooperationField::from_number(t.field)
            .ok_or_else(|| Error::invalid("talent_exchange.field", "must be a cooperation field"));
        let headcount = parse_headcount("talent_exchange.headcount", t.headcount);
        let start = parse_date("talent_exchange.start_date", &t.start_date);
        let end = match t.end_date.as_str() {
            "" => Ok(None),
            text => parse_date("talent_exchange.end_date", text).map(Some),
        };
        let host = text::check_line(
            "talent_exchange.host_organization",
            &t.host_organization,
            200,
            false,
        );
        let host_ref = name::parse_optional_id(
            "talent_exchange.host_organization_ref",
            "organizations",
            &t.host_organization_ref,
        );
        let title = text::check_line("talent_exchange.title", &t.title, 200, true);
        let description = text::check("talent_exchange.description", &t.description, 4000, false);
        let items: Vec<(&str, &str, &str)> = t
            .participants
            .iter()
            .map(|(name, organization, position)| {
                (name.as_str(), organization.as_str(), position.as_str())
            })
            .collect();
        let participants = Participant::parse_list("talent_exchange.participants", &items);
        let (
            kind,
            direction,
            field,
            headcount,
            start,
            end,
            (),
            host_organization_id,
            (),
            (),
            participants,
        ) = Error::all((
            kind,
            direction,
            field,
            headcount,
            start,
            end,
            host,
            host_ref,
            title,
            description,
            participants,
        ))?;
        Ok(Self {
            kind,
            direction,
            field,
            headcount,
            start,
            end,
            host_organization: t.host_organization.clone(),
            host_organization_id,
            title: t.title.clone(),
            description: t.description.clone(),
            participants,
        })
    }

    /// Checks the rules between fields, and the dates against the pairing's period.
    ///
    /// # Errors
    /// INVALID_ARGUMENT naming every field at fault, under `talent_exchange.`.
    pub fn check(&self, pairing: &Period) -> Result<(), Error> {
        Shape {
            kind: self.kind,
            headcount: self.headcount,
            listed: self.participants.len(),
            start: self.start,
            end: self.end,
            host_organization: &self.host_organization,
        }
        .check("talent_exchange.", pairing)
    }
}

writable!(TalentFields {
    kind,
    direction,
    field,
    headcount,
    start_date,
    end_date,
    host_organization,
    host_organization_ref,
    title,
    description,
    participants,
});

/// Fields fixed at creation.
pub const IMMUTABLE: &[&str] = &["pairing"];

/// Fields that only the server sets.
pub const OUTPUT_ONLY: &[&str] = &[
    "name",
    "participants_redacted",
    "create_time",
    "update_time",
    "delete_time",
    "etag",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::patch::Patch;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn period() -> Period {
        Period::parse("", "2021-01-01", "2025-12-31").unwrap()
    }

    fn fields_of(error: Error) -> Vec<String> {
        let Error::InvalidArgument { violations, .. } = error else {
            panic!("expected INVALID_ARGUMENT, got {error:?}");
        };
        violations.into_iter().map(|v| v.field).collect()
    }

    fn secondment() -> Shape<'static> {
        Shape {
            kind: TalentKind::CadreSecondment,
            headcount: 2,
            listed: 2,
            start: date("2024-03-01"),
            end: Some(date("2025-02-28")),
            host_organization: "丹江口市发展和改革局",
        }
    }

    #[test]
    fn a_well_formed_secondment_passes() {
        secondment().check("talent_exchange.", &period()).unwrap();
    }

    #[test]
    fn every_broken_rule_names_its_field() {
        let shape = Shape {
            headcount: 1,
            listed: 3,
            start: date("2020-12-31"),
            end: Some(date("2020-12-01")),
            host_organization: " ",
            ..secondment()
        };
        assert_eq!(
            fields_of(shape.check("t.", &period()).unwrap_err()),
            [
                "t.headcount",
                "t.start_date",
                "t.end_date",
                "t.host_organization"
            ]
        );
        let open_ended = Shape {
            end: None,
            ..secondment()
        };
        assert_eq!(
            fields_of(open_ended.check("t.", &period()).unwrap_err()),
            ["t.end_date"]
        );
        let late = Shape {
            end: Some(date("2026-01-01")),
            ..secondment()
        };
        assert_eq!(
            fields_of(late.check("t.", &period()).unwrap_err()),
            ["t.end_date"]
        );
    }

    #[test]
    fn only_a_secondment_needs_an_end_and_a_host() {
        let visit = Shape {
            kind: TalentKind::HighLevelVisit,
            end: None,
            host_organization: "",
            ..secondment()
        };
        visit.check("t.", &period()).unwrap();
    }

    #[test]
    fn headcounts_run_from_one_to_the_cap() {
        assert!(parse_headcount("h", 0).is_err());
        assert!(parse_headcount("h", -3).is_err());
        assert_eq!(parse_headcount("h", 1).unwrap(), 1);
        assert_eq!(parse_headcount("h", MAX_HEADCOUNT).unwrap(), MAX_HEADCOUNT);
        assert!(parse_headcount("h", MAX_HEADCOUNT + 1).is_err());
    }

    #[test]
    fn person_days_count_both_ends() {
        assert_eq!(days(date("2025-03-01"), Some(date("2025-03-10"))), 10);
        assert_eq!(days(date("2025-03-01"), Some(date("2025-03-01"))), 1);
        assert_eq!(days(date("2025-03-01"), None), 1);
        assert_eq!(days(date("2024-01-01"), Some(date("2024-12-31"))), 366);
        assert_eq!(year_of(date("2024-12-31")), 2024);
    }

    #[test]
    fn participants_are_checked_one_by_one_and_read_back() {
        let err = Participant::parse_list(
            "p",
            &[("张三", "北京市朝阳区卫健委", "主任医师"), ("", "", "")],
        )
        .unwrap_err();
        assert_eq!(fields_of(err), ["p[1].display_name"]);
        let people = Participant::parse_list("p", &[("李四", "", "教师")]).unwrap();
        let stored = Participant::store_list(&people);
        assert_eq!(Participant::load_list(&stored).unwrap(), people);
        let too_many = vec![("某", "", ""); MAX_PARTICIPANTS + 1];
        assert_eq!(
            fields_of(Participant::parse_list("p", &too_many).unwrap_err()),
            ["p"]
        );
    }

    #[test]
    fn filters_read_every_field() {
        let f = TalentFilter::parse(
            "pairing = \"pairings/3\" AND kind = TRAINING AND direction = TO_SUPPORTING AND \
             year = 2025 AND region = \"regions/420300\"",
        )
        .unwrap();
        assert_eq!(f.pairing_id, Some(3));
        assert_eq!(f.kind, Some(TalentKind::Training));
        assert_eq!(f.direction, Some(Direction::ToSupporting));
        assert_eq!(f.year, Some(2025));
        assert_eq!(f.region.unwrap().as_str(), "420300");
        for bad in [
            "kind = NAP",
            "year = soon",
            "owner = \"x\"",
            "kind != TRAINING",
        ] {
            assert!(TalentFilter::parse(bad).is_err(), "{bad}");
        }
    }

    fn stored_secondment() -> TalentFields {
        TalentFields {
            kind: TalentKind::CadreSecondment.number(),
            direction: Direction::ToSupported.number(),
            field: CooperationField::Talent.number(),
            headcount: 2,
            start_date: "2024-03-01".to_owned(),
            end_date: "2025-02-28".to_owned(),
            host_organization: "丹江口市发展和改革局".to_owned(),
            title: "东城区干部赴丹江口挂职".to_owned(),
            participants: vec![("张三".to_owned(), String::new(), String::new())],
            ..TalentFields::default()
        }
    }

    #[test]
    fn a_patch_keeps_what_it_does_not_name_and_checks_the_whole() {
        let patch = |sent: TalentFields, paths: Vec<&'static str>| {
            TalentDraft::parse(&Patch { sent, paths }.over(stored_secondment()))
        };
        let longer = patch(
            TalentFields {
                headcount: 3,
                end_date: "2025-08-31".to_owned(),
                ..TalentFields::default()
            },
            vec!["headcount", "end_date"],
        )
        .unwrap();
        let unended = patch(TalentFields::default(), vec!["end_date"]).unwrap();
        let bad_kind = patch(
            TalentFields {
                kind: 99,
                ..TalentFields::default()
            },
            vec!["kind"],
        )
        .unwrap_err();

        assert_eq!(longer.headcount, 3);
        assert_eq!(longer.end, Some(date("2025-08-31")));
        assert_eq!(longer.participants.len(), 1);
        assert_eq!(longer.title, "东城区干部赴丹江口挂职");
        assert_eq!(
            fields_of(unended.check(&period()).unwrap_err()),
            ["talent_exchange.end_date"]
        );
        assert_eq!(fields_of(bad_kind), ["talent_exchange.kind"]);
    }
}
