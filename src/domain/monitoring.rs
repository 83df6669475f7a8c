//! Monitoring sections and the samples taken at them: what a request must send, checked
//! once at the edge, and the rules an exceedance follows into supervision (its severity,
//! its wording, whether it is attributed upstream). The classes themselves are
//! [`water`](super::water)'s.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::{
    filter::{self, Condition, Operator, filter},
    hj212::DataFlag,
    name,
    patch::writable,
    region::RegionCode,
    supervision::Severity,
    text,
    water::{Evaluation, Exceedance, Measure, WaterBodyType, WaterClass, WaterParameter},
};
use crate::error::Error;

numbered!(
    /// Who controls a section.
    ControlLevel, "CONTROL_LEVEL_", {
        /// 国控.
        National = 1, "NATIONAL";
        /// 省控.
        Provincial = 2, "PROVINCIAL";
        /// 市控.
        Municipal = 3, "MUNICIPAL";
        /// 县控.
        County = 4, "COUNTY";
    }
);

numbered!(
    /// Where a section stands.
    SectionState, "MONITORING_SECTION_STATE_", {
        /// Takes samples.
        Active = 1, "ACTIVE";
        /// Takes no more samples.
        Retired = 2, "RETIRED";
    }
);

numbered!(
    /// Where a sample's values come from.
    SampleSource, "WATER_SAMPLE_SOURCE_", {
        /// A laboratory result.
        Manual = 1, "MANUAL";
        /// An automatic station.
        Automatic = 2, "AUTOMATIC";
    }
);

/// A section's own code: 1 to 32 of A–Z 0–9 - _.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionCode(String);

impl SectionCode {
    /// Reads a code sent in `field`.
    ///
    /// # Errors
    /// INVALID_ARGUMENT naming `field`.
    pub fn parse(field: &str, code: &str) -> Result<Self, Error> {
        let allowed =
            |b: u8| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_';
        if code.is_empty() || code.len() > 32 || !code.bytes().all(allowed) {
            return Err(Error::invalid(
                field,
                "must be 1 to 32 of A-Z, 0-9, '-' and '_', e.g. \"HB-TAOCHA\"",
            ));
        }
        Ok(Self(code.to_owned()))
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Millionths of a degree.
const MICRODEGREES: f64 = 1_000_000.0;

/// A section's place, in millionths of a degree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Latitude, −90 to 90 degrees.
    pub latitude: i64,
    /// Longitude, −180 to 180 degrees.
    pub longitude: i64,
}

impl Position {
    /// Reads a latitude and a longitude sent under `prefix` (`monitoring_section`): both or
    /// neither, each in range with at most 6 decimals.
    ///
    /// # Errors
    /// INVALID_ARGUMENT naming the field at fault.
    pub fn parse(
        prefix: &str,
        latitude: Option<f64>,
        longitude: Option<f64>,
    ) -> Result<Option<Self>, Error> {
        let degrees = |field: &str, value: f64, max: f64| -> Result<i64, Error> {
            let field = format!("{prefix}.{field}");
            if !value.is_finite() || value.abs() > max {
                return Err(Error::invalid(
                    &field,
                    format!("must be between -{max} and {max} degrees"),
                ));
            }
            let micro = (value * MICRODEGREES).round();
            if (value * MICRODEGREES - micro).abs() > 1e-3 {
                return Err(Error::invalid(&field, "must have at most 6 decimals"));
            }
            // In range, so the rounded value fits: at most 180 million.
            Ok(micro as i64)
        };
        match (latitude, longitude) {
            (None, None) => Ok(None),
            (Some(lat), Some(lon)) => {
                let (latitude, longitude) = Error::all((
                    degrees("latitude", lat, 90.0),
                    degrees("longitude", lon, 180.0),
                ))?;
                Ok(Some(Self {
                    latitude,
                    longitude,
                }))
            }
            (None, Some(_)) => Err(Error::invalid(
                format!("{prefix}.latitude"),
                "must be set with longitude",
            )),
            (Some(_), None) => Err(Error::invalid(
                format!("{prefix}.longitude"),
                "must be set with latitude",
            )),
        }
    }

    /// The latitude in degrees.
    pub fn latitude_degrees(self) -> f64 {
        self.latitude as f64 / MICRODEGREES
    }

    /// The longitude in degrees.
    pub fn longitude_degrees(self) -> f64 {
        self.longitude as f64 / MICRODEGREES
    }
}

/// The fields of a section that callers write, as a request sends them, not yet checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SectionFields {
    /// E.g. 陶岔.
    pub display_name: String,
    /// The river or reservoir.
    pub water_body: String,
    /// The water body type's number.
    pub water_body_type: i32,
    /// The responsible region's name, or empty for the section's own region.
    pub responsible_region: String,
    /// The responsible unit.
    pub responsible_unit: String,
    /// The registered responsible organisation's name, or empty.
    pub responsible_organization: String,
    /// The target class's number.
    pub target_class: i32,
    /// The control level's number.
    pub control_level: i32,
    /// The upstream section's name, or empty.
    pub upstream_section: String,
    /// Latitude in degrees.
    pub latitude: Option<f64>,
    /// Longitude in degrees.
    pub longitude: Option<f64>,
}

writable!(SectionFields {
    display_name,
    water_body,
    water_body_type,
    responsible_region,
    responsible_unit,
    responsible_organization,
    target_class,
    control_level,
    upstream_section,
    latitude,
    longitude,
});

/// Fields fixed at creation.
pub const IMMUTABLE: &[&str] = &["code", "region"];

/// Fields that only the server sets.
pub const OUTPUT_ONLY: &[&str] = &["name", "state", "create_time", "update_time", "etag"];

/// The fields of a section that callers write, each checked on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionDraft {
    /// E.g. 陶岔.
    pub display_name: String,
    /// The river or reservoir.
    pub water_body: String,
    /// River or lake/reservoir.
    pub body_type: WaterBodyType,
    /// The responsible region; none for the section's own region.
    pub responsible_region: Option<RegionCode>,
    /// The responsible unit; left empty, the organisation below names it.
    pub responsible_unit: String,
    /// The registered organisation that answers for it.
    pub responsible_organization_id: Option<i64>,
    /// The class it must meet, I to V.
    pub target: WaterClass,
    /// Who controls it.
    pub control_level: ControlLevel,
    /// The upstream section's id.
    pub upstream_id: Option<i64>,
    /// Where it lies.
    pub position: Option<Position>,
}

impl SectionDraft {
    /// Checks every field on its own, all at once; errors name
    /// `monitoring_section.{field}`.
    ///
    /// # Errors
    /// INVALID_ARGUMENT naming each bad field.
    pub fn parse(s: &SectionFields) -> Result<Self, Error> {
        const P: &str = "monitoring_section";
        let display_name =
            text::check_line(&format!("{P}.display_name"), &s.display_name, 100, true);
        let water_body = text::check_line(&format!("{P}.water_body"), &s.water_body, 100, true);
        let body_type = WaterBodyType::from_number(s.water_body_type).ok_or_else(|| {
            Error::invalid(
                format!("{P}.water_body_type"),
                "must be RIVER or LAKE_RESERVOIR",
            )
        });
        let responsible_region = match s.responsible_region.as_str() {
            "" => Ok(None),
            text => RegionCode::from_name(&format!("{P}.responsible_region"), text).map(Some),
        };
        let responsible_unit = text::check_line(
            &format!("{P}.responsible_unit"),
            &s.responsible_unit,
            200,
            false,
        );
        let target = WaterClass::from_number(s.target_class)
            .filter(|c| *c != WaterClass::WorseThanV)
            .ok_or_else(|| {
                Error::invalid(format!("{P}.target_class"), "must be I, II, III, IV or V")
            });
        let control_level = ControlLevel::from_number(s.control_level).ok_or_else(|| {
            Error::invalid(
                format!("{P}.control_level"),
                "must be NATIONAL, PROVINCIAL, MUNICIPAL or COUNTY",
            )
        });
        let responsible_organization_id = name::parse_optional_id(
            &format!("{P}.responsible_organization"),
            "organizations",
            &s.responsible_organization,
        );
        let upstream_id = name::parse_optional_id(
            &format!("{P}.upstream_section"),
            "monitoringSections",
            &s.upstream_section,
        );
        let position = Position::parse(P, s.latitude, s.longitude);
        let (
            (),
            (),
            body_type,
            responsible_region,
            (),
            responsible_organization_id,
            target,
            control_level,
            upstream_id,
            position,
        ) = Error::all((
            display_name,
            water_body,
            body_type,
            responsible_region,
            responsible_unit,
            responsible_organization_id,
            target,
            control_level,
            upstream_id,
            position,
        ))?;
        Ok(Self {
            display_name: s.display_name.clone(),
            water_body: s.water_body.clone(),
            body_type,
            responsible_region,
            responsible_unit: s.responsible_unit.clone(),
            responsible_organization_id,
            target,
            control_level,
            upstream_id,
            position,
        })
    }
}

filter! {
    /// The typed query of `ListMonitoringSections`.
    pub struct SectionFilter of "ListMonitoringSections" {
        /// `region = "regions/…"`: sections in that region or inside it.
        "region" => region: RegionCode = filter::equals(RegionCode::from_condition),
        /// `responsible_region = "regions/…"`: sections answered for by that region or one
        /// inside it.
        "responsible_region" => responsible_region: RegionCode =
            filter::equals(RegionCode::from_condition),
        /// `water_body = "汉江"`.
        "water_body" => water_body: String = filter::equals(|c: &Condition| Ok(c.value.clone())),
        /// `target_class = II`.
        "target_class" => target_class: WaterClass = filter::word,
        /// `control_level = NATIONAL`.
        "control_level" => control_level: ControlLevel = filter::word,
        /// `state = ACTIVE`.
        "state" => state: SectionState = filter::word,
        /// `responsible_organization = "organizations/…"`.
        "responsible_organization" => responsible_organization_id: i64 =
            filter::id_in("organizations"),
    }
}

/// One value of a sample, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reading {
    /// The item.
    #[serde(rename = "p", with = "numbered_serde")]
    pub parameter: WaterParameter,
    /// The value, in millionths of the item's unit.
    #[serde(rename = "v", with = "measure_serde")]
    pub value: Measure,
    /// Its data flag.
    #[serde(rename = "f", with = "numbered_serde")]
    pub flag: DataFlag,
}

/// The most values one sample carries: each of the 24 items once.
pub const MAX_VALUES: usize = 24;

impl Reading {
    /// Checks the values of a sample, sent as (parameter, value, flag) numbers and text
    /// under `field` (`sample.values`): 1 to 24, each item once; a flag of 0 is N.
    ///
    /// # Errors
    /// INVALID_ARGUMENT naming the value at fault, e.g. `sample.values[2].value`.
    pub fn parse_list(field: &str, sent: &[(i32, &str, i32)]) -> Result<Vec<Self>, Error> {
        if sent.is_empty() {
            return Err(Error::invalid(field, "must hold at least one value"));
        }
        if sent.len() > MAX_VALUES {
            return Err(Error::invalid(
                field,
                format!("must hold at most {MAX_VALUES} values, each item once"),
            ));
        }
        let mut readings: Vec<Reading> = Vec::with_capacity(sent.len());
        let mut errors = Vec::new();
        for (i, &(parameter, value, flag)) in sent.iter().enumerate() {
            let at = |part: &str| format!("{field}[{i}].{part}");
            let Some(parameter) = WaterParameter::from_number(parameter) else {
                errors.push(Error::invalid(
                    at("parameter"),
                    "must be one of the 24 basic items of GB 3838-2002",
                ));
                continue;
            };
            if sent[..i].iter().any(|s| s.0 == parameter.number()) {
                errors.push(Error::invalid(
                    at("parameter"),
                    format!("gives {} a second time", parameter.word()),
                ));
                continue;
            }
            let flag = match flag {
                0 => Ok(DataFlag::N),
                n => DataFlag::from_number(n).ok_or_else(|| {
                    Error::invalid(at("flag"), "must be a data flag of HJ 212-2017")
                }),
            };
            let value = Measure::parse(&at("value"), parameter, value);
            match (value, flag) {
                (Ok(value), Ok(flag)) => readings.push(Reading {
                    parameter,
                    value,
                    flag,
                }),
                (value, flag) => errors.extend([value.err(), flag.err()].into_iter().flatten()),
            }
        }
        Error::collect(errors.into_iter().map(Err))?;
        Ok(readings)
    }

    /// The values a stored sample holds, as [`Reading::store_list`] wrote them.
    ///
    /// # Errors
    /// INTERNAL when the stored text does not read back.
    pub fn load_list(stored: &str) -> Result<Vec<Self>, Error> {
        serde_json::from_str(stored)
            .map_err(|e| anyhow::anyhow!("stored water values are damaged: {e}").into())
    }

    /// The values as stored: a JSON array of `{p, v, f}` numbers.
    pub fn store_list(readings: &[Self]) -> String {
        serde_json::to_string(readings).unwrap_or_else(|_| "[]".to_owned())
    }

    /// The values that count in an evaluation: flag N or S.
    pub fn evaluated(readings: &[Self]) -> Vec<(WaterParameter, Measure)> {
        readings
            .iter()
            .filter(|r| r.flag.is_valid())
            .map(|r| (r.parameter, r.value))
            .collect()
    }
}

/// Serde of a numbered enum as its number.
mod numbered_serde {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::domain::Numbered;

    pub fn serialize<S: Serializer, T: Numbered>(value: &T, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i16(value.to_i16())
    }

    pub fn deserialize<'de, D: Deserializer<'de>, T: Numbered>(d: D) -> Result<T, D::Error> {
        let n = i16::deserialize(d)?;
        T::from_i16(n).ok_or_else(|| serde::de::Error::custom(format!("{n} is no value")))
    }
}

/// Serde of a measure as its millionths.
mod measure_serde {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::domain::water::Measure;

    pub fn serialize<S: Serializer>(value: &Measure, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(value.millionths())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Measure, D::Error> {
        i64::deserialize(d).map(Measure::from_millionths)
    }
}

/// The earliest sample time taken: 2000-01-01 in China.
pub fn earliest_sample_time() -> DateTime<Utc> {
    // 2000-01-01T00:00:00+08:00 is a valid, unambiguous instant.
    Utc.with_ymd_and_hms(1999, 12, 31, 16, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Checks a sample time sent in `field` against `now`: not in the future, not before
/// 2000 in China.
///
/// # Errors
/// INVALID_ARGUMENT naming `field`.
pub fn check_sample_time(
    field: &str,
    time: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, Error> {
    let time = time.ok_or_else(|| Error::invalid(field, "is required"))?;
    if time > now {
        return Err(Error::invalid(field, "must not be in the future"));
    }
    if time < earliest_sample_time() {
        return Err(Error::invalid(
            field,
            "must not be before 2000-01-01T00:00:00+08:00",
        ));
    }
    Ok(time)
}

/// How far back attribution looks for an upstream sample.
pub fn attribution_window() -> Duration {
    Duration::hours(24)
}

/// The severity of an entry on a sample of class `class` at a section that must meet
/// `target`: MEDIUM one class below, HIGH two or more, CRITICAL worse than V.
pub fn severity_of(class: WaterClass, target: WaterClass) -> Severity {
    if class == WaterClass::WorseThanV {
        Severity::Critical
    } else if class.number() - target.number() >= 2 {
        Severity::High
    } else {
        Severity::Medium
    }
}

/// Whether every exceedance of a sample is no worse than the same item of the upstream
/// sample's `upstream` values (N and S only); an item upstream did not measure is never
/// attributed to it.
pub fn attributable_upstream(
    exceedances: &[Exceedance],
    here: &[(WaterParameter, Measure)],
    upstream: &[(WaterParameter, Measure)],
) -> bool {
    let value_in = |values: &[(WaterParameter, Measure)], p| {
        values.iter().find(|(q, _)| *q == p).map(|(_, v)| *v)
    };
    !exceedances.is_empty()
        && exceedances.iter().all(|e| {
            match (value_in(here, e.parameter), value_in(upstream, e.parameter)) {
                (Some(h), Some(u)) => e.parameter.no_worse_than(h, u),
                _ => false,
            }
        })
}

/// A multiple in hundredths as its two-decimal text: 150 → "1.50".
pub fn format_multiple(hundredths: i64) -> String {
    format!("{}.{:02}", hundredths / 100, hundredths % 100)
}

/// The exceedances of an evaluation in words, worst first:
/// `TOTAL_PHOSPHORUS class IV, 1.50 times over the class II limit; DISSOLVED_OXYGEN class III`.
pub fn describe_exceedances(evaluation: &Evaluation, target: WaterClass) -> String {
    evaluation
        .exceedances
        .iter()
        .map(|e| {
            let value = evaluation
                .evaluated
                .iter()
                .find(|v| v.parameter == e.parameter)
                .map(|v| v.value.to_decimal())
                .unwrap_or_default();
            let over = e.multiple.map_or(String::new(), |m| {
                format!(
                    ", {} times over the class {} limit",
                    format_multiple(m),
                    target.word()
                )
            });
            format!(
                "{} {value}: class {}{over}",
                e.parameter.word(),
                e.class.word()
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The evaluated values of one item over some samples: how many, and their sum in
/// millionths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParameterSum {
    /// The item.
    pub parameter: WaterParameter,
    /// How many evaluated values.
    pub count: i64,
    /// Their sum, in millionths.
    pub sum: i64,
}

/// One section's samples of one day in China, as an assessment sums them: the samples
/// with an evaluated value that are not retracted, those of them worse than the target
/// when recorded, and the evaluated values of each item.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayTotals {
    /// Samples with at least one evaluated value.
    pub samples: i64,
    /// Of them, those worse than the section's target.
    pub exceeding: i64,
    /// Per item, in item order.
    pub sums: Vec<ParameterSum>,
}

impl DayTotals {
    /// Counts a sample's `readings` in (`sign` 1) or out again (`sign` −1, a retraction).
    /// A sample without an evaluated value changes nothing.
    ///
    /// # Errors
    /// INTERNAL when a sum would leave 64 bits (values are bounded so that a day of
    /// samples every second cannot), or a retraction takes out what was never in.
    pub fn count(&mut self, readings: &[Reading], exceeding: bool, sign: i64) -> Result<(), Error> {
        let evaluated = Reading::evaluated(readings);
        if evaluated.is_empty() {
            return Ok(());
        }
        let overflow = || Error::from(anyhow::anyhow!("a day's water totals would overflow"));
        self.samples += sign;
        if exceeding {
            self.exceeding += sign;
        }
        for (parameter, value) in evaluated {
            let at = match self.sums.binary_search_by_key(&parameter, |s| s.parameter) {
                Ok(at) => at,
                Err(at) => {
                    self.sums.insert(
                        at,
                        ParameterSum {
                            parameter,
                            count: 0,
                            sum: 0,
                        },
                    );
                    at
                }
            };
            let entry = &mut self.sums[at];
            entry.count += sign;
            entry.sum = value
                .millionths()
                .checked_mul(sign)
                .and_then(|v| entry.sum.checked_add(v))
                .ok_or_else(overflow)?;
        }
        self.sums.retain(|s| s.count != 0);
        if self.samples < 0 || self.exceeding < 0 || self.sums.iter().any(|s| s.count < 0) {
            return Err(anyhow::anyhow!("a retraction took out more than a day held").into());
        }
        Ok(())
    }
}

/// One section's samples over a period, assessed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    /// Samples with an evaluated value, not retracted.
    pub valid_samples: i64,
    /// Each item measured with its mean and the number of values, in item order.
    pub means: Vec<(WaterParameter, Measure, i64)>,
    /// The means evaluated against the target.
    pub evaluation: Evaluation,
    /// Days with a sample worse than the target when recorded.
    pub exceeding_days: i64,
}

/// Assesses the `days` of a section on `body` with target `target`: the mean of each item
/// (rounded half away from zero to a millionth) and the class of the means.
pub fn assess(body: WaterBodyType, target: WaterClass, days: &[&DayTotals]) -> Assessment {
    let mut sums: Vec<(WaterParameter, i64, i128)> = Vec::new();
    let (mut valid_samples, mut exceeding_days) = (0, 0);
    for day in days {
        valid_samples += day.samples;
        if day.exceeding > 0 {
            exceeding_days += 1;
        }
        for s in &day.sums {
            match sums.binary_search_by_key(&s.parameter, |(p, ..)| *p) {
                Ok(at) => {
                    sums[at].1 += s.count;
                    sums[at].2 += i128::from(s.sum);
                }
                Err(at) => sums.insert(at, (s.parameter, s.count, i128::from(s.sum))),
            }
        }
    }
    let means: Vec<(WaterParameter, Measure, i64)> = sums
        .into_iter()
        .filter(|(_, count, _)| *count > 0)
        .map(|(parameter, count, sum)| {
            let count_wide = i128::from(count);
            let half = count_wide / 2;
            let rounded = if sum >= 0 {
                (sum + half) / count_wide
            } else {
                (sum - half) / count_wide
            };
            // A mean lies between the smallest and largest value, which fit in 64 bits.
            let mean = i64::try_from(rounded).unwrap_or(i64::MAX);
            (parameter, Measure::from_millionths(mean), count)
        })
        .collect();
    let values: Vec<(WaterParameter, Measure)> = means.iter().map(|(p, m, _)| (*p, *m)).collect();
    Assessment {
        valid_samples,
        means,
        evaluation: super::water::evaluate(body, target, &values),
        exceeding_days,
    }
}

/// `part` of `whole` as a percentage with two decimals, rounded half up: 7 of 8 → "87.50";
/// empty for a whole of 0.
pub fn percentage(part: i64, whole: i64) -> String {
    if whole <= 0 {
        return String::new();
    }
    let hundredths = (i128::from(part) * 10_000 + i128::from(whole) / 2) / i128::from(whole);
    format!("{}.{:02}", hundredths / 100, hundredths % 100)
}

/// The typed query of `ListWaterSamples`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SampleFilter {
    /// `section = "monitoringSections/{id}"`.
    pub section_id: Option<i64>,
    /// `region = "regions/…"`: samples of sections in that region or inside it.
    pub region: Option<RegionCode>,
    /// `sample_time >= "…"`.
    pub from: Option<DateTime<Utc>>,
    /// `sample_time < "…"`.
    pub before: Option<DateTime<Utc>>,
    /// `water_class = IV`.
    pub water_class: Option<WaterClass>,
    /// `source = AUTOMATIC`.
    pub source: Option<SampleSource>,
    /// `retracted = false`.
    pub retracted: Option<bool>,
}

impl SampleFilter {
    /// Parses the `filter` of a `ListWaterSamples` request. `sample_time` may appear
    /// twice, once with `>=` and once with `<`.
    ///
    /// # Errors
    /// INVALID_ARGUMENT on `filter` naming the condition at fault.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let conditions = filter::parse(text)?;
        let (times, rest): (Vec<Condition>, Vec<Condition>) = conditions
            .into_iter()
            .partition(|c| c.field == "sample_time");
        let mut query: Self = filter::read_conditions(&rest, |query: &mut Self, c| {
            match c.field.as_str() {
                "section" => query.section_id = Some(filter::id_in("monitoringSections")(c)?),
                "region" => {
                    query.region = Some(filter::equals(RegionCode::from_condition)(c)?);
                }
                "water_class" => query.water_class = Some(filter::word(c)?),
                "source" => query.source = Some(filter::word(c)?),
                "retracted" => {
                    query.retracted = Some(filter::parsed(|v| v.parse().ok(), "true or false")(c)?);
                }
                _ => {
                    return Err(c.not_a_field(&[
                        "section",
                        "region",
                        "sample_time",
                        "water_class",
                        "source",
                        "retracted",
                    ]));
                }
            }
            Ok(())
        })?;
        for c in &times {
            let time = c.parse_with(
                |v| {
                    DateTime::parse_from_rfc3339(v)
                        .ok()
                        .map(|t| t.with_timezone(&Utc))
                },
                "an RFC 3339 time such as \"2026-01-01T00:00:00+08:00\"",
            )?;
            let bound = match c.operator {
                Operator::AtLeast => &mut query.from,
                Operator::Less => &mut query.before,
                _ => return Err(c.error("supports only '>=' and '<'")),
            };
            if bound.replace(time).is_some() {
                return Err(c.error("gives the same bound twice"));
            }
        }
        Ok(query)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::water::evaluate;

    fn fields() -> SectionFields {
        SectionFields {
            display_name: "陶岔".into(),
            water_body: "丹江口水库".into(),
            water_body_type: WaterBodyType::LakeReservoir.number(),
            target_class: WaterClass::II.number(),
            control_level: ControlLevel::National.number(),
            latitude: Some(32.671234),
            longitude: Some(111.711),
            ..Default::default()
        }
    }

    #[test]
    fn a_section_needs_a_name_a_water_body_a_type_a_target_and_a_level() {
        let draft = SectionDraft::parse(&fields()).unwrap();
        assert_eq!(draft.target, WaterClass::II);
        assert_eq!(
            draft.position,
            Some(Position {
                latitude: 32_671_234,
                longitude: 111_711_000
            })
        );
        let Err(Error::InvalidArgument { violations, .. }) =
            SectionDraft::parse(&SectionFields::default())
        else {
            panic!("an empty section was taken");
        };
        let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
        for field in [
            "monitoring_section.display_name",
            "monitoring_section.water_body",
            "monitoring_section.water_body_type",
            "monitoring_section.target_class",
            "monitoring_section.control_level",
        ] {
            assert!(fields.contains(&field), "{field} in {fields:?}");
        }
    }

    #[test]
    fn a_target_is_one_of_i_to_v_and_coordinates_come_in_pairs() {
        let worse = SectionFields {
            target_class: WaterClass::WorseThanV.number(),
            ..fields()
        };
        assert!(SectionDraft::parse(&worse).is_err());
        for (lat, lon) in [
            (Some(91.0), Some(0.0)),
            (Some(0.0), Some(-180.5)),
            (Some(f64::NAN), Some(0.0)),
            (Some(32.1234567), Some(0.0)),
            (Some(32.0), None),
            (None, Some(111.0)),
        ] {
            assert!(Position::parse("s", lat, lon).is_err(), "{lat:?} {lon:?}");
        }
        assert_eq!(Position::parse("s", None, None).ok(), Some(None));
    }

    #[test]
    fn codes_are_upper_case_letters_digits_dashes_and_underscores() {
        assert!(SectionCode::parse("c", "HB-TAOCHA_01").is_ok());
        for bad in ["", "taocha", "陶岔", "A B", &"A".repeat(33)] {
            assert!(SectionCode::parse("c", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn values_are_each_item_once_with_a_known_flag() {
        let ok = Reading::parse_list(
            "sample.values",
            &[(2, "7.8", 0), (8, "0.02", 4), (3, "5", 5)],
        )
        .unwrap();
        assert_eq!(ok[0].flag, DataFlag::N);
        assert_eq!(ok[1].flag, DataFlag::S);
        assert_eq!(
            Reading::evaluated(&ok).len(),
            2,
            "the value flagged D is not evaluated"
        );
        assert_eq!(Reading::load_list(&Reading::store_list(&ok)).unwrap(), ok);
        let field_of = |sent: &[(i32, &str, i32)]| match Reading::parse_list("sample.values", sent)
        {
            Err(Error::InvalidArgument { violations, .. }) => violations[0].field.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(field_of(&[]), "sample.values");
        assert_eq!(
            field_of(&[(2, "7", 0), (2, "8", 0)]),
            "sample.values[1].parameter"
        );
        assert_eq!(field_of(&[(25, "7", 0)]), "sample.values[0].parameter");
        assert_eq!(field_of(&[(5, "-1", 0)]), "sample.values[0].value");
        assert_eq!(field_of(&[(5, "1.0000001", 0)]), "sample.values[0].value");
        assert_eq!(field_of(&[(5, "1", 9)]), "sample.values[0].flag");
    }

    #[test]
    fn sample_times_lie_between_2000_in_china_and_now() {
        let now = Utc::now();
        assert!(check_sample_time("t", Some(now), now).is_ok());
        assert!(check_sample_time("t", Some(now + Duration::seconds(1)), now).is_err());
        assert!(check_sample_time("t", Some(earliest_sample_time()), now).is_ok());
        let before = earliest_sample_time() - Duration::seconds(1);
        assert!(check_sample_time("t", Some(before), now).is_err());
        assert!(check_sample_time("t", None, now).is_err());
    }

    #[test]
    fn severity_grows_with_the_classes_below_target() {
        use WaterClass::*;
        assert_eq!(severity_of(III, II), Severity::Medium);
        assert_eq!(severity_of(IV, II), Severity::High);
        assert_eq!(severity_of(V, II), Severity::High);
        assert_eq!(severity_of(WorseThanV, IV), Severity::Critical);
    }

    #[test]
    fn an_exceedance_goes_upstream_only_when_no_item_is_worse_here() {
        let m = |t: &str| Measure::parse("v", WaterParameter::Cod, t).unwrap();
        let tp = WaterParameter::TotalPhosphorus;
        let nh = WaterParameter::AmmoniaNitrogen;
        let here = [(tp, m("0.3")), (nh, m("1.2"))];
        let evaluation = evaluate(WaterBodyType::River, WaterClass::II, &here);
        assert_eq!(evaluation.exceedances.len(), 2);
        let worse_upstream = [(tp, m("0.35")), (nh, m("1.2"))];
        assert!(attributable_upstream(
            &evaluation.exceedances,
            &here,
            &worse_upstream
        ));
        let better_upstream = [(tp, m("0.35")), (nh, m("1.0"))];
        assert!(!attributable_upstream(
            &evaluation.exceedances,
            &here,
            &better_upstream
        ));
        assert!(!attributable_upstream(
            &evaluation.exceedances,
            &here,
            &[(tp, m("0.35"))]
        ));
        assert!(
            describe_exceedances(&evaluation, WaterClass::II)
                .starts_with("TOTAL_PHOSPHORUS 0.3: class IV, 2.00 times over the class II limit")
        );
    }

    #[test]
    fn an_assessment_classes_the_means_of_the_valid_values_of_every_day() {
        let reading = |p: WaterParameter, v: &str| Reading {
            parameter: p,
            value: Measure::parse("v", p, v).unwrap(),
            flag: DataFlag::N,
        };
        let tp = WaterParameter::TotalPhosphorus;
        let (mut first, mut second) = (DayTotals::default(), DayTotals::default());
        first.count(&[reading(tp, "0.02")], false, 1).unwrap();
        first.count(&[reading(tp, "0.03")], true, 1).unwrap();
        second.count(&[reading(tp, "0.025")], false, 1).unwrap();
        let retracted = [reading(tp, "9")];
        second.count(&retracted, true, 1).unwrap();
        second.count(&retracted, true, -1).unwrap();
        let flagged = Reading {
            flag: DataFlag::D,
            ..reading(tp, "5")
        };
        second.count(&[flagged], true, 1).unwrap();
        let a = assess(
            WaterBodyType::LakeReservoir,
            WaterClass::II,
            &[&first, &second],
        );
        assert_eq!(
            a.valid_samples, 3,
            "the flagged sample has no evaluated value"
        );
        assert_eq!(a.exceeding_days, 1);
        assert_eq!(a.means, vec![(tp, Measure::from_millionths(25_000), 3)]);
        assert_eq!(
            a.evaluation.class,
            Some(WaterClass::II),
            "0.025 meets the lake's class II"
        );
        assert!(a.evaluation.exceedances.is_empty());
        assert_eq!(percentage(7, 8), "87.50");
        assert_eq!(percentage(2, 3), "66.67");
        assert_eq!(percentage(0, 0), "");
    }

    #[test]
    fn the_sample_filter_takes_a_time_range() {
        let f = SampleFilter::parse(
            "section = \"monitoringSections/3\" AND sample_time >= \"2026-01-01T00:00:00+08:00\" \
             AND sample_time < \"2026-02-01T00:00:00+08:00\" AND water_class = IV AND \
             source = AUTOMATIC AND retracted = false AND region = \"regions/420300\"",
        )
        .unwrap();
        assert_eq!(f.section_id, Some(3));
        assert_eq!(
            f.from.map(|t| t.to_rfc3339()),
            Some("2025-12-31T16:00:00+00:00".into())
        );
        assert!(f.before.is_some());
        assert_eq!(f.water_class, Some(WaterClass::IV));
        assert_eq!(f.source, Some(SampleSource::Automatic));
        assert_eq!(f.retracted, Some(false));
        for bad in [
            "sample_time > \"2026-01-01T00:00:00Z\"",
            "sample_time >= \"2026-01-01\"",
            "sample_time >= \"2026-01-01T00:00:00Z\" AND sample_time >= \"2026-01-02T00:00:00Z\"",
            "water_class = VI",
            "section = \"projects/1\"",
            "owner = \"x\"",
            "source = AUTOMATIC AND source = MANUAL",
        ] {
            assert!(SampleFilter::parse(bad).is_err(), "{bad}");
        }
    }
}
