//! Regions: GB/T 2260 codes, levels, and containment along the parent chain.

use super::{
    Numbered,
    filter::{self, Condition, Operator, Words, filter},
};
use crate::error::Error;

/// A division code: 6 digits for provinces, prefectures and counties, 9 for townships,
/// up to 12 for units that administrators add.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegionCode(String);

impl RegionCode {
    /// Parses a bare code, e.g. `420381`.
    ///
    /// # Errors
    /// INVALID_ARGUMENT naming `field` unless the code is 6 to 12 ASCII digits.
    pub fn parse(field: &str, code: &str) -> Result<Self, Error> {
        if (6..=12).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(code.to_owned()))
        } else {
            Err(Error::invalid(
                field,
                "must be a region code of 6 to 12 digits",
            ))
        }
    }

    /// Parses a resource name, e.g. `regions/420381`.
    ///
    /// # Errors
    /// INVALID_ARGUMENT naming `field` unless it is `regions/` followed by a valid code.
    pub fn from_name(field: &str, name: &str) -> Result<Self, Error> {
        match name.strip_prefix("regions/") {
            Some(code) => Self::parse(field, code),
            None => Err(Error::invalid(
                field,
                "must be a region name like \"regions/420381\"",
            )),
        }
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The resource name, `regions/{code}`.
    pub fn name(&self) -> String {
        format!("regions/{}", self.0)
    }

    /// Takes a code read back from storage, where it was checked on the way in.
    pub fn from_stored(code: String) -> Self {
        Self(code)
    }

    /// The region a filter condition's value names, e.g. `"regions/420300"`.
    ///
    /// # Errors
    /// INVALID_ARGUMENT on `filter` for a value that is not a region name.
    pub fn from_condition(c: &Condition) -> Result<Self, Error> {
        Self::from_name("filter", &c.value)
            .map_err(|_| c.error("expects a region name like \"regions/420300\""))
    }
}

/// The level of an administrative division; the numbers are those stored and sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(i16)]
pub enum RegionLevel {
    /// 省级.
    Province = 1,
    /// 地级.
    Prefecture = 2,
    /// 县级.
    County = 3,
    /// 乡级.
    Township = 4,
}

impl RegionLevel {
    /// Every level, from the top down.
    pub const ALL: &'static [RegionLevel] = &[
        Self::Province,
        Self::Prefecture,
        Self::County,
        Self::Township,
    ];

    /// The level with this number, if any.
    pub fn from_number(n: i32) -> Option<Self> {
        Self::ALL.iter().copied().find(|l| l.number() == n)
    }

    /// The level by its short name in filters (`COUNTY`) or its enum name
    /// (`REGION_LEVEL_COUNTY`), or the lower-case name of the shipped data (`county`).
    pub fn from_word(word: &str) -> Option<Self> {
        let word = word.strip_prefix("REGION_LEVEL_").unwrap_or(word);
        let word = word.to_ascii_uppercase();
        Self::ALL.iter().copied().find(|l| l.word() == word)
    }

    /// The short name.
    pub fn word(self) -> &'static str {
        match self {
            Self::Province => "PROVINCE",
            Self::Prefecture => "PREFECTURE",
            Self::County => "COUNTY",
            Self::Township => "TOWNSHIP",
        }
    }

    /// The number stored and sent for this level.
    pub fn number(self) -> i32 {
        self as i32
    }

    /// The level of a child of a region at this level; townships have none.
    pub fn child(self) -> Option<Self> {
        Self::from_number(self.number() + 1)
    }
}

// Not `numbered!`: the shipped data names levels in lower case, so `from_word` ignores case.
impl Words for RegionLevel {
    const ALL: &'static [RegionLevel] = RegionLevel::ALL;

    fn word(self) -> &'static str {
        RegionLevel::word(self)
    }

    fn from_word(word: &str) -> Option<Self> {
        RegionLevel::from_word(word)
    }
}

impl Numbered for RegionLevel {
    const ALL: &'static [Self] = RegionLevel::ALL;

    fn to_i16(self) -> i16 {
        self as i16
    }
}

/// The chain of codes from the root down to a region, written `/420000/420300/420381/`.
/// Regions never move, so containment is a prefix test on this path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionPath(String);

impl RegionPath {
    /// The path of a region with this code under a parent with path `parent`.
    pub fn child_of(parent: Option<&RegionPath>, code: &RegionCode) -> Self {
        let base = parent.map_or("/", |p| p.0.as_str());
        Self(format!("{base}{}/", code.as_str()))
    }

    /// Takes a path read back from storage.
    pub fn from_stored(path: String) -> Self {
        Self(path)
    }

    /// The path through `codes`, from the root down: a test's regions in one line.
    #[cfg(test)]
    pub(crate) fn through(codes: &[&str]) -> Self {
        codes
            .iter()
            .fold(None, |parent: Option<Self>, code| {
                Some(Self::child_of(
                    parent.as_ref(),
                    &RegionCode::from_stored((*code).to_owned()),
                ))
            })
            .expect("a path through at least one region")
    }

    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when the region at `self` is `other` or lies inside it.
    pub fn is_within(&self, other: &RegionPath) -> bool {
        self.0.starts_with(&other.0)
    }

    /// The codes along the path, from the root down to the region itself.
    pub fn codes(&self) -> impl Iterator<Item = &str> {
        self.0.split('/').filter(|c| !c.is_empty())
    }
}

/// How a list filter matches a display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameMatch {
    /// `display_name = "十堰市"`.
    Exactly(String),
    /// `display_name:"丹江口"`: contains the text.
    Contains(String),
}

filter! {
    /// The typed query of `ListRegions`.
    pub struct RegionFilter of "ListRegions" {
        /// `level = COUNTY`.
        "level" => level: RegionLevel = filter::word,
        /// `display_name = …` or `display_name: …`.
        "display_name" => display_name: NameMatch = |c: &Condition| match c.operator {
            Operator::Equals => Ok(NameMatch::Exactly(c.value.clone())),
            Operator::Has => Ok(NameMatch::Contains(c.value.clone())),
            _ => Err(c.error("supports only '=' and ':'")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_to_twelve_digits() {
        assert!(RegionCode::parse("c", "420381").is_ok());
        assert!(RegionCode::parse("c", "420381100").is_ok());
        for bad in ["42038", "4203811000000", "42038a", "", "４２０３８１"] {
            assert!(RegionCode::parse("c", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_need_the_collection() {
        assert_eq!(
            RegionCode::from_name("n", "regions/420300")
                .map(|c| c.name())
                .ok(),
            Some("regions/420300".to_owned())
        );
        assert!(RegionCode::from_name("n", "420300").is_err());
    }

    #[test]
    fn containment_follows_the_path() {
        let hubei = RegionPath::child_of(None, &RegionCode::from_stored("420000".into()));
        let shiyan = RegionPath::child_of(Some(&hubei), &RegionCode::from_stored("420300".into()));
        let zone = RegionPath::child_of(Some(&shiyan), &RegionCode::from_stored("999901".into()));
        assert!(zone.is_within(&hubei));
        assert!(zone.is_within(&zone));
        assert!(!hubei.is_within(&zone));
        let other = RegionPath::child_of(None, &RegionCode::from_stored("4200001".into()));
        assert!(!other.is_within(&hubei));
    }

    #[test]
    fn the_filter_reads_level_and_name() {
        let f = RegionFilter::parse(r#"level = COUNTY AND display_name:"丹江口""#).unwrap();
        assert_eq!(f.level, Some(RegionLevel::County));
        assert_eq!(f.display_name, Some(NameMatch::Contains("丹江口".into())));
        assert!(RegionFilter::parse("code = 1").is_err());
        assert!(RegionFilter::parse("level:COUNTY").is_err());
    }

    #[test]
    fn levels_read_short_and_long_names() {
        assert_eq!(RegionLevel::from_word("COUNTY"), Some(RegionLevel::County));
        assert_eq!(
            RegionLevel::from_word("REGION_LEVEL_PREFECTURE"),
            Some(RegionLevel::Prefecture)
        );
        assert_eq!(RegionLevel::from_word("county"), Some(RegionLevel::County));
        assert_eq!(RegionLevel::from_word("CITY"), None);
        assert_eq!(RegionLevel::Township.child(), None);
    }
}
