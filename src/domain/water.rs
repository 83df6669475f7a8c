//! Surface water quality by GB 3838-2002 (地表水环境质量标准), table 1: the 24 basic items,
//! the limits of classes I to V, and the single-factor evaluation of 地表水环境质量评价办法
//! (试行), 环办〔2011〕22号. The table is here and nowhere else.
//!
//! Values are exact: integers of millionths of the standard's unit (mg/L; pH without unit;
//! °C; fecal coliform per litre). A value equal to a limit meets it; where classes share a
//! limit, the better class wins; dissolved oxygen is a lower bound; pH outside 6–9 is worse
//! than V. Water temperature, total nitrogen and fecal coliform are reported but do not
//! make the class; total nitrogen has a class of its own for lakes and reservoirs.

use super::decimal::{self, MILLION};
use crate::error::Error;

numbered!(
    /// One of the 24 basic items of GB 3838-2002 table 1.
    WaterParameter, "WATER_PARAMETER_", {
        /// Water temperature, °C.
        WaterTemperature = 1, "WATER_TEMPERATURE";
        /// pH, without unit.
        Ph = 2, "PH";
        /// Dissolved oxygen (溶解氧): a lower bound.
        DissolvedOxygen = 3, "DISSOLVED_OXYGEN";
        /// Permanganate index (高锰酸盐指数, CODMn).
        PermanganateIndex = 4, "PERMANGANATE_INDEX";
        /// Chemical oxygen demand (化学需氧量).
        Cod = 5, "COD";
        /// Five-day biochemical oxygen demand (五日生化需氧量).
        Bod5 = 6, "BOD5";
        /// Ammonia nitrogen (氨氮).
        AmmoniaNitrogen = 7, "AMMONIA_NITROGEN";
        /// Total phosphorus, as P (总磷): a column for rivers and one for lakes.
        TotalPhosphorus = 8, "TOTAL_PHOSPHORUS";
        /// Total nitrogen, as N (总氮): lakes and reservoirs only.
        TotalNitrogen = 9, "TOTAL_NITROGEN";
        /// Copper.
        Copper = 10, "COPPER";
        /// Zinc.
        Zinc = 11, "ZINC";
        /// Fluoride, as F⁻.
        Fluoride = 12, "FLUORIDE";
        /// Selenium.
        Selenium = 13, "SELENIUM";
        /// Arsenic.
        Arsenic = 14, "ARSENIC";
        /// Mercury.
        Mercury = 15, "MERCURY";
        /// Cadmium.
        Cadmium = 16, "CADMIUM";
        /// Hexavalent chromium.
        ChromiumVi = 17, "CHROMIUM_VI";
        /// Lead.
        Lead = 18, "LEAD";
        /// Cyanide.
        Cyanide = 19, "CYANIDE";
        /// Volatile phenol.
        VolatilePhenol = 20, "VOLATILE_PHENOL";
        /// Petroleum.
        Petroleum = 21, "PETROLEUM";
        /// Anionic surfactant (LAS).
        AnionicSurfactant = 22, "ANIONIC_SURFACTANT";
        /// Sulfide.
        Sulfide = 23, "SULFIDE";
        /// Fecal coliform, per litre.
        FecalColiform = 24, "FECAL_COLIFORM";
    }
);

numbered!(
    /// A class of surface water.
    WaterClass, "WATER_CLASS_", {
        /// Class I: source water, national nature reserves.
        I = 1, "I";
        /// Class II: first-grade protected drinking-water sources; the reservoir's target.
        II = 2, "II";
        /// Class III: second-grade protected drinking-water sources.
        III = 3, "III";
        /// Class IV: industrial water, recreation without contact.
        IV = 4, "IV";
        /// Class V: agricultural water, landscapes.
        V = 5, "V";
        /// Worse than class V (劣Ⅴ).
        WorseThanV = 6, "WORSE_THAN_V";
    }
);

numbered!(
    /// What kind of water a section lies on: it picks the total-phosphorus column and
    /// whether total nitrogen applies.
    WaterBodyType, "WATER_BODY_TYPE_", {
        /// A river (a river-type reservoir is evaluated as a river).
        River = 1, "RIVER";
        /// A lake or reservoir.
        LakeReservoir = 2, "LAKE_RESERVOIR";
    }
);

/// The classes I to V, in order.
const CLASSES: [WaterClass; 5] = [
    WaterClass::I,
    WaterClass::II,
    WaterClass::III,
    WaterClass::IV,
    WaterClass::V,
];

/// What the standard asks of a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Limit {
    /// At most these, in millionths, for classes I to V.
    AtMost([i64; 5]),
    /// At least these, in millionths, for classes I to V.
    AtLeast([i64; 5]),
    /// Within these bounds, in millionths, for every class.
    Within(i64, i64),
    /// No limit of a class: reported only.
    Reported,
}

/// Millionths of `units` whole units and `micro` millionths.
const fn m(units: i64, micro: i64) -> i64 {
    units * MILLION + micro
}

/// GB 3838-2002 table 1, for a section on `body`.
fn limit(parameter: WaterParameter, body: WaterBodyType) -> Limit {
    use Limit::{AtLeast, AtMost, Reported, Within};
    use WaterParameter as P;
    match parameter {
        // Its limit is a change from the natural temperature, not a level.
        P::WaterTemperature => Reported,
        P::Ph => Within(m(6, 0), m(9, 0)),
        // Class I asks for 90% saturation or 7.5 mg/L; duikou takes 7.5.
        P::DissolvedOxygen => AtLeast([m(7, 500_000), m(6, 0), m(5, 0), m(3, 0), m(2, 0)]),
        P::PermanganateIndex => AtMost([m(2, 0), m(4, 0), m(6, 0), m(10, 0), m(15, 0)]),
        P::Cod => AtMost([m(15, 0), m(15, 0), m(20, 0), m(30, 0), m(40, 0)]),
        P::Bod5 => AtMost([m(3, 0), m(3, 0), m(4, 0), m(6, 0), m(10, 0)]),
        P::AmmoniaNitrogen => AtMost([
            m(0, 150_000),
            m(0, 500_000),
            m(1, 0),
            m(1, 500_000),
            m(2, 0),
        ]),
        P::TotalPhosphorus => match body {
            WaterBodyType::River => AtMost([
                m(0, 20_000),
                m(0, 100_000),
                m(0, 200_000),
                m(0, 300_000),
                m(0, 400_000),
            ]),
            WaterBodyType::LakeReservoir => AtMost([
                m(0, 10_000),
                m(0, 25_000),
                m(0, 50_000),
                m(0, 100_000),
                m(0, 200_000),
            ]),
        },
        P::TotalNitrogen => match body {
            WaterBodyType::River => Reported,
            WaterBodyType::LakeReservoir => AtMost([
                m(0, 200_000),
                m(0, 500_000),
                m(1, 0),
                m(1, 500_000),
                m(2, 0),
            ]),
        },
        P::Copper => AtMost([m(0, 10_000), m(1, 0), m(1, 0), m(1, 0), m(1, 0)]),
        P::Zinc => AtMost([m(0, 50_000), m(1, 0), m(1, 0), m(2, 0), m(2, 0)]),
        P::Fluoride => AtMost([m(1, 0), m(1, 0), m(1, 0), m(1, 500_000), m(1, 500_000)]),
        P::Selenium => AtMost([
            m(0, 10_000),
            m(0, 10_000),
            m(0, 10_000),
            m(0, 20_000),
            m(0, 20_000),
        ]),
        P::Arsenic => AtMost([
            m(0, 50_000),
            m(0, 50_000),
            m(0, 50_000),
            m(0, 100_000),
            m(0, 100_000),
        ]),
        P::Mercury => AtMost([m(0, 50), m(0, 50), m(0, 100), m(0, 1_000), m(0, 1_000)]),
        P::Cadmium => AtMost([
            m(0, 1_000),
            m(0, 5_000),
            m(0, 5_000),
            m(0, 5_000),
            m(0, 10_000),
        ]),
        P::ChromiumVi => AtMost([
            m(0, 10_000),
            m(0, 50_000),
            m(0, 50_000),
            m(0, 50_000),
            m(0, 100_000),
        ]),
        P::Lead => AtMost([
            m(0, 10_000),
            m(0, 10_000),
            m(0, 50_000),
            m(0, 50_000),
            m(0, 100_000),
        ]),
        P::Cyanide => AtMost([
            m(0, 5_000),
            m(0, 50_000),
            m(0, 200_000),
            m(0, 200_000),
            m(0, 200_000),
        ]),
        P::VolatilePhenol => AtMost([
            m(0, 2_000),
            m(0, 2_000),
            m(0, 5_000),
            m(0, 10_000),
            m(0, 100_000),
        ]),
        P::Petroleum => AtMost([
            m(0, 50_000),
            m(0, 50_000),
            m(0, 50_000),
            m(0, 500_000),
            m(1, 0),
        ]),
        P::AnionicSurfactant => AtMost([
            m(0, 200_000),
            m(0, 200_000),
            m(0, 200_000),
            m(0, 300_000),
            m(0, 300_000),
        ]),
        P::Sulfide => AtMost([
            m(0, 50_000),
            m(0, 100_000),
            m(0, 200_000),
            m(0, 500_000),
            m(1, 0),
        ]),
        // Classed by the standard, but a reference item in the evaluation.
        P::FecalColiform => AtMost([
            m(200, 0),
            m(2_000, 0),
            m(10_000, 0),
            m(20_000, 0),
            m(40_000, 0),
        ]),
    }
}

/// How a parameter takes part in a section's evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Its class makes the section's class (single factor).
    Makes,
    /// It has a class of its own, reported beside the section's (total nitrogen of a lake,
    /// fecal coliform).
    Beside,
    /// It is reported without a class (water temperature; total nitrogen of a river).
    Reported,
}

impl WaterParameter {
    /// How this parameter takes part in the evaluation of a section on `body`.
    pub fn part(self, body: WaterBodyType) -> Part {
        match (self, limit(self, body)) {
            (_, Limit::Reported) => Part::Reported,
            (Self::TotalNitrogen | Self::FecalColiform, _) => Part::Beside,
            _ => Part::Makes,
        }
    }

    /// The class of a value of this parameter on `body`: the best class whose limit it
    /// meets, or none for a parameter without classes.
    pub fn class_of(self, body: WaterBodyType, value: Measure) -> Option<WaterClass> {
        let v = value.0;
        let first_met = |met: &dyn Fn(usize) -> bool| {
            (0..CLASSES.len())
                .find(|&i| met(i))
                .map_or(WaterClass::WorseThanV, |i| CLASSES[i])
        };
        match limit(self, body) {
            Limit::Reported => None,
            Limit::AtMost(limits) => Some(first_met(&|i| v <= limits[i])),
            Limit::AtLeast(limits) => Some(first_met(&|i| v >= limits[i])),
            Limit::Within(low, high) if (low..=high).contains(&v) => Some(WaterClass::I),
            Limit::Within(..) => Some(WaterClass::WorseThanV),
        }
    }

    /// How far a value worse than `target` lies over the target's limit, in hundredths:
    /// (C − limit) / limit, rounded half up to two decimals. None where the standard's
    /// limit is no upper bound (pH, dissolved oxygen) or `target` has none.
    pub fn multiple_over(
        self,
        body: WaterBodyType,
        value: Measure,
        target: WaterClass,
    ) -> Option<i64> {
        let Limit::AtMost(limits) = limit(self, body) else {
            return None;
        };
        let at = CLASSES.iter().position(|c| *c == target)?;
        let limit = i128::from(limits[at]);
        let over = i128::from(value.0) - limit;
        if over <= 0 {
            return None;
        }
        // Half up: (over × 100 + limit / 2) / limit, in integers.
        i64::try_from((over * 100 + limit / 2) / limit).ok()
    }

    /// Whether `here` is no worse than `upstream` for this parameter, by concentration, as
    /// attribution upstream compares them: not higher for an upper bound, not lower for
    /// dissolved oxygen, no further outside 6–9 for pH. The body types do not enter: the
    /// same water is the same water, whichever column classes it.
    pub fn no_worse_than(self, here: Measure, upstream: Measure) -> bool {
        match limit(self, WaterBodyType::LakeReservoir) {
            Limit::AtMost(_) | Limit::Reported => here <= upstream,
            Limit::AtLeast(_) => here >= upstream,
            Limit::Within(low, high) => {
                let outside = |v: Measure| (low - v.0).max(v.0 - high).max(0);
                outside(here) <= outside(upstream)
            }
        }
    }

    /// Whether a negative value of this parameter can be real: temperature and pH aside,
    /// every item is a concentration or a count.
    pub fn may_be_negative(self) -> bool {
        matches!(self, Self::WaterTemperature | Self::Ph)
    }
}

/// A measured value, exactly: an integer of millionths of the standard's unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Measure(i64);

/// The largest value taken: a billion units, far above any measurement (fecal coliform of
/// raw sewage is some ten million per litre), and small enough that a day's sums of one
/// section's values stay exact in 64 bits.
const MAX_UNITS: i64 = 1_000_000_000;

impl Measure {
    /// A value of `millionths`.
    pub fn from_millionths(millionths: i64) -> Self {
        Self(millionths)
    }

    /// The value in millionths of its unit.
    pub fn millionths(self) -> i64 {
        self.0
    }

    /// Reads a decimal such as `0.025` or `-1.5`, with at most six decimals, for
    /// `parameter`.
    ///
    /// # Errors
    /// INVALID_ARGUMENT on `field` when it is not such a decimal, has more than six
    /// decimals, is larger than a billion, or is negative for an item that cannot be.
    pub fn parse(field: &str, parameter: WaterParameter, text: &str) -> Result<Self, Error> {
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let value = decimal::parse_unsigned(field, digits, MAX_UNITS, "0.025")?;
        if negative && value != 0 && !parameter.may_be_negative() {
            return Err(Error::invalid(
                field,
                format!("must not be negative for {}", parameter.word()),
            ));
        }
        Ok(Self(if negative { -value } else { value }))
    }

    /// The value as a decimal, without trailing zeros: `0.025`, `15`, `-1.5`.
    pub fn to_decimal(self) -> String {
        decimal::format(self.0)
    }
}

/// One parameter of a sample, as evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluated {
    /// The parameter.
    pub parameter: WaterParameter,
    /// Its value.
    pub value: Measure,
    /// Its own class, for a parameter with classes.
    pub class: Option<WaterClass>,
    /// How it takes part in the section's class.
    pub part: Part,
}

/// A parameter worse than the section's target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exceedance {
    /// The parameter.
    pub parameter: WaterParameter,
    /// Its class.
    pub class: WaterClass,
    /// How far over the target's limit, in hundredths, where the limit is an upper bound.
    pub multiple: Option<i64>,
}

/// A sample's evaluation against its section's target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// The section's class: the worst among the parameters that make it, or none when the
    /// sample has none of them.
    pub class: Option<WaterClass>,
    /// Each parameter, in the order sent.
    pub evaluated: Vec<Evaluated>,
    /// The parameters that make the class and are worse than the target, worst first.
    pub exceedances: Vec<Exceedance>,
}

/// Evaluates `values` of a sample from a section on `body` with class `target`, by the
/// single-factor method.
pub fn evaluate(
    body: WaterBodyType,
    target: WaterClass,
    values: &[(WaterParameter, Measure)],
) -> Evaluation {
    let evaluated: Vec<Evaluated> = values
        .iter()
        .map(|&(parameter, value)| Evaluated {
            parameter,
            value,
            class: parameter.class_of(body, value),
            part: parameter.part(body),
        })
        .collect();
    let making = || evaluated.iter().filter(|e| e.part == Part::Makes);
    let class = making().filter_map(|e| e.class).max();
    let mut exceedances: Vec<Exceedance> = making()
        .filter_map(|e| {
            let class = e.class.filter(|c| *c > target)?;
            Some(Exceedance {
                parameter: e.parameter,
                class,
                multiple: e.parameter.multiple_over(body, e.value, target),
            })
        })
        .collect();
    exceedances.sort_by(|a, b| {
        b.class
            .cmp(&a.class)
            .then(b.multiple.cmp(&a.multiple))
            .then(a.parameter.cmp(&b.parameter))
    });
    Evaluation {
        class,
        evaluated,
        exceedances,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use WaterBodyType::{LakeReservoir as Lake, River};
    use WaterClass::{I, II, III, IV, V, WorseThanV as Worse};
    use WaterParameter as P;

    fn v(text: &str) -> Measure {
        match Measure::parse("value", P::Cod, text) {
            Ok(m) => m,
            Err(e) => panic!("{text}: {e}"),
        }
    }

    /// GB 3838-2002 table 1 as the reference prints it, in decimal text, read apart from
    /// the table in the code: each upper-bound item's limits for classes I to V.
    const TABLE: &[(WaterParameter, WaterBodyType, [&str; 5])] = &[
        (P::PermanganateIndex, River, ["2", "4", "6", "10", "15"]),
        (P::Cod, River, ["15", "15", "20", "30", "40"]),
        (P::Bod5, River, ["3", "3", "4", "6", "10"]),
        (
            P::AmmoniaNitrogen,
            River,
            ["0.15", "0.5", "1.0", "1.5", "2.0"],
        ),
        (
            P::TotalPhosphorus,
            River,
            ["0.02", "0.1", "0.2", "0.3", "0.4"],
        ),
        (
            P::TotalPhosphorus,
            Lake,
            ["0.01", "0.025", "0.05", "0.1", "0.2"],
        ),
        (P::TotalNitrogen, Lake, ["0.2", "0.5", "1.0", "1.5", "2.0"]),
        (P::Copper, River, ["0.01", "1.0", "1.0", "1.0", "1.0"]),
        (P::Zinc, River, ["0.05", "1.0", "1.0", "2.0", "2.0"]),
        (P::Fluoride, River, ["1.0", "1.0", "1.0", "1.5", "1.5"]),
        (P::Selenium, River, ["0.01", "0.01", "0.01", "0.02", "0.02"]),
        (P::Arsenic, River, ["0.05", "0.05", "0.05", "0.1", "0.1"]),
        (
            P::Mercury,
            River,
            ["0.00005", "0.00005", "0.0001", "0.001", "0.001"],
        ),
        (
            P::Cadmium,
            River,
            ["0.001", "0.005", "0.005", "0.005", "0.01"],
        ),
        (
            P::ChromiumVi,
            River,
            ["0.01", "0.05", "0.05", "0.05", "0.1"],
        ),
        (P::Lead, River, ["0.01", "0.01", "0.05", "0.05", "0.1"]),
        (P::Cyanide, River, ["0.005", "0.05", "0.2", "0.2", "0.2"]),
        (
            P::VolatilePhenol,
            River,
            ["0.002", "0.002", "0.005", "0.01", "0.1"],
        ),
        (P::Petroleum, River, ["0.05", "0.05", "0.05", "0.5", "1.0"]),
        (
            P::AnionicSurfactant,
            River,
            ["0.2", "0.2", "0.2", "0.3", "0.3"],
        ),
        (P::Sulfide, River, ["0.05", "0.1", "0.2", "0.5", "1.0"]),
        (
            P::FecalColiform,
            River,
            ["200", "2000", "10000", "20000", "40000"],
        ),
    ];

    #[test]
    fn every_upper_bound_item_at_and_just_past_every_class_boundary() {
        for (parameter, body, limits) in TABLE {
            let limits: Vec<Measure> = limits.iter().map(|l| v(l)).collect();
            for (i, limit) in limits.iter().enumerate() {
                // At the limit: the best class sharing it (or a looser one) — the first
                // class whose limit is at least this one.
                let best = limits.iter().position(|l| l >= limit).map(|j| CLASSES[j]);
                assert_eq!(
                    parameter.class_of(*body, *limit),
                    best,
                    "{parameter:?} {body:?} at {i}"
                );
                // One millionth over: the first class with a larger limit, or worse than V.
                let over = Measure(limit.0 + 1);
                let next = limits
                    .iter()
                    .position(|l| *l >= over)
                    .map_or(Worse, |j| CLASSES[j]);
                assert_eq!(
                    parameter.class_of(*body, over),
                    Some(next),
                    "{parameter:?} {body:?} past {i}"
                );
            }
        }
    }

    #[test]
    fn tied_limits_give_the_better_class() {
        assert_eq!(P::Cod.class_of(River, v("15")), Some(I));
        assert_eq!(P::Cod.class_of(River, v("15.000001")), Some(III));
        assert_eq!(P::Bod5.class_of(River, v("3")), Some(I));
        assert_eq!(P::Copper.class_of(River, v("1.0")), Some(II));
        assert_eq!(P::Copper.class_of(River, v("1.000001")), Some(Worse));
        assert_eq!(P::Mercury.class_of(River, v("0.00005")), Some(I));
        assert_eq!(P::Mercury.class_of(River, v("0.000051")), Some(III));
        assert_eq!(P::Cyanide.class_of(River, v("0.2")), Some(III));
        assert_eq!(P::Cyanide.class_of(River, v("0.200001")), Some(Worse));
    }

    #[test]
    fn total_phosphorus_takes_the_column_of_its_water() {
        assert_eq!(P::TotalPhosphorus.class_of(River, v("0.025")), Some(II));
        assert_eq!(P::TotalPhosphorus.class_of(Lake, v("0.025")), Some(II));
        assert_eq!(P::TotalPhosphorus.class_of(River, v("0.05")), Some(II));
        assert_eq!(P::TotalPhosphorus.class_of(Lake, v("0.05")), Some(III));
        assert_eq!(P::TotalPhosphorus.class_of(Lake, v("0.2")), Some(V));
        assert_eq!(P::TotalPhosphorus.class_of(River, v("0.2")), Some(III));
        assert_eq!(
            P::TotalPhosphorus.class_of(Lake, v("0.200001")),
            Some(Worse)
        );
        assert_eq!(
            P::TotalPhosphorus.class_of(River, v("0.400001")),
            Some(Worse)
        );
    }

    #[test]
    fn dissolved_oxygen_is_a_lower_bound() {
        assert_eq!(P::DissolvedOxygen.class_of(River, v("7.5")), Some(I));
        assert_eq!(P::DissolvedOxygen.class_of(River, v("7.499999")), Some(II));
        assert_eq!(P::DissolvedOxygen.class_of(River, v("6")), Some(II));
        assert_eq!(P::DissolvedOxygen.class_of(River, v("5.999999")), Some(III));
        assert_eq!(P::DissolvedOxygen.class_of(River, v("5")), Some(III));
        assert_eq!(P::DissolvedOxygen.class_of(River, v("3")), Some(IV));
        assert_eq!(P::DissolvedOxygen.class_of(River, v("2")), Some(V));
        assert_eq!(
            P::DissolvedOxygen.class_of(River, v("1.999999")),
            Some(Worse)
        );
        assert_eq!(P::DissolvedOxygen.class_of(Lake, v("12")), Some(I));
    }

    #[test]
    fn ph_outside_six_to_nine_is_worse_than_five() {
        let ph = |t: &str| Measure::parse("value", P::Ph, t).map(|m| P::Ph.class_of(River, m));
        assert_eq!(ph("6").ok(), Some(Some(I)));
        assert_eq!(ph("9").ok(), Some(Some(I)));
        assert_eq!(ph("7.2").ok(), Some(Some(I)));
        assert_eq!(ph("5.999999").ok(), Some(Some(Worse)));
        assert_eq!(ph("9.000001").ok(), Some(Some(Worse)));
    }

    #[test]
    fn temperature_nitrogen_and_coliform_do_not_make_the_class() {
        assert_eq!(P::WaterTemperature.part(River), Part::Reported);
        assert_eq!(P::WaterTemperature.class_of(River, v("30")), None);
        assert_eq!(P::TotalNitrogen.part(River), Part::Reported);
        assert_eq!(P::TotalNitrogen.class_of(River, v("5")), None);
        assert_eq!(P::TotalNitrogen.part(Lake), Part::Beside);
        assert_eq!(P::TotalNitrogen.class_of(Lake, v("1.2")), Some(IV));
        assert_eq!(P::FecalColiform.part(River), Part::Beside);
        // The reservoir's total nitrogen of about 1.2 mg/L leaves it class II.
        let sample = [
            (P::TotalNitrogen, v("1.2")),
            (P::FecalColiform, v("50000")),
            (P::WaterTemperature, v("18")),
            (P::TotalPhosphorus, v("0.02")),
            (P::PermanganateIndex, v("2.1")),
        ];
        let evaluation = evaluate(Lake, II, &sample);
        assert_eq!(evaluation.class, Some(II));
        assert!(
            evaluation.exceedances.is_empty(),
            "{:?}",
            evaluation.exceedances
        );
        assert_eq!(evaluation.evaluated[0].class, Some(IV));
        assert_eq!(evaluation.evaluated[1].class, Some(Worse));
    }

    #[test]
    fn the_worst_item_makes_the_class_and_exceedances_come_worst_first() {
        let sample = [
            (P::DissolvedOxygen, v("4")),   // IV, no multiple
            (P::AmmoniaNitrogen, v("1.2")), // IV, (1.2 − 0.5) / 0.5 = 1.40
            (P::TotalPhosphorus, v("0.5")), // worse than V, (0.5 − 0.1) / 0.1 = 4.00
            (P::PermanganateIndex, v("3")), // II, meets the target
            (P::Cod, v("16")),              // III, (16 − 15) / 15 = 0.07
        ];
        let evaluation = evaluate(River, II, &sample);
        assert_eq!(evaluation.class, Some(Worse));
        let order: Vec<_> = evaluation
            .exceedances
            .iter()
            .map(|e| (e.parameter, e.class, e.multiple))
            .collect();
        assert_eq!(
            order,
            [
                (P::TotalPhosphorus, Worse, Some(400)),
                (P::AmmoniaNitrogen, IV, Some(140)),
                (P::DissolvedOxygen, IV, None),
                (P::Cod, III, Some(7)),
            ]
        );
        assert_eq!(evaluate(River, II, &[]).class, None);
    }

    #[test]
    fn values_are_exact_decimals_of_at_most_six_places() {
        assert_eq!(v("0.025").millionths(), 25_000);
        assert_eq!(v("15").millionths(), 15_000_000);
        assert_eq!(v("0.000001").millionths(), 1);
        assert_eq!(v("0.025").to_decimal(), "0.025");
        assert_eq!(v("15.000").to_decimal(), "15");
        let temperature = Measure::parse("value", P::WaterTemperature, "-1.5");
        assert_eq!(
            temperature.map(Measure::to_decimal).ok().as_deref(),
            Some("-1.5")
        );
        for bad in [
            "",
            ".5",
            "5.",
            "1e3",
            "0x10",
            "1,5",
            " 1",
            "1.0000001",
            "--1",
            "١",
        ] {
            assert!(Measure::parse("value", P::Cod, bad).is_err(), "{bad:?}");
        }
        assert!(Measure::parse("value", P::Cod, "-0.1").is_err());
        assert!(Measure::parse("value", P::Cod, "-0").is_ok());
        assert!(Measure::parse("value", P::Cod, "1000000000").is_ok());
        assert!(Measure::parse("value", P::Cod, "1000000001").is_err());
        assert!(Measure::parse("value", P::Cod, "99999999999999999999").is_err());
    }

    #[test]
    fn no_worse_than_upstream_compares_concentrations_each_way() {
        let (low, high) = (v("0.1"), v("0.2"));
        assert!(P::TotalPhosphorus.no_worse_than(low, high));
        assert!(P::TotalPhosphorus.no_worse_than(low, low));
        assert!(!P::TotalPhosphorus.no_worse_than(high, low));
        assert!(P::DissolvedOxygen.no_worse_than(v("6"), v("5")));
        assert!(!P::DissolvedOxygen.no_worse_than(v("4"), v("5")));
        let ph = |t: &str| Measure::parse("value", P::Ph, t).unwrap();
        assert!(
            P::Ph.no_worse_than(ph("9.2"), ph("5.5")),
            "0.2 out against 0.5 out"
        );
        assert!(P::Ph.no_worse_than(ph("7"), ph("9")));
        assert!(!P::Ph.no_worse_than(ph("5.5"), ph("9.2")));
    }
}
