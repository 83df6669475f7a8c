//! Organisations (单位): the agencies, institutions, enterprises and others that lead
//! tasks, implement projects, are paid and answer for entries, each with its kind, its
//! region and, where it has one, its unified social credit code (统一社会信用代码) as
//! GB 32100-2015 defines it.

use super::{
    filter::{self, Condition, filter},
    name,
    patch::writable,
    region::RegionCode,
    text,
};
use crate::error::Error;

numbered!(
    /// What kind of body an organisation is.
    OrganizationKind, "ORGANIZATION_KIND_", {
        /// 机关: a government agency.
        GovernmentAgency = 1, "GOVERNMENT_AGENCY";
        /// 事业单位: a public institution.
        PublicInstitution = 2, "PUBLIC_INSTITUTION";
        /// 企业: an enterprise.
        Enterprise = 3, "ENTERPRISE";
        /// 社会组织: a social organisation.
        SocialOrganization = 4, "SOCIAL_ORGANIZATION";
        /// 媒体: the media.
        Media = 5, "MEDIA";
        /// Anything else.
        Other = 6, "OTHER";
    }
);

/// The characters of a credit code, in the order of their values (GB 32100-2015 table 1):
/// the digits and the capital letters but I, O, Z, S and V.
const CODE_CHARACTERS: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";

/// The weights of the first 17 characters in the check character: 3^(i−1) mod 31.
const CHECK_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// The registration authorities (登记管理部门, the first character) and the kinds of body
/// each registers (机构类别, the second), as GB 32100-2015 appendix A lists them with the
/// authorities added since (A, N).
const AUTHORITIES: &[(char, &str, &str)] = &[
    ('1', "机构编制 (establishment offices)", "1239"),
    ('2', "外交 (foreign affairs)", "19"),
    ('3', "司法行政 (justice)", "123459"),
    ('4', "文化 (culture)", "19"),
    ('5', "民政 (civil affairs)", "1239"),
    ('6', "旅游 (tourism)", "129"),
    ('7', "宗教 (religious affairs)", "129"),
    ('8', "工会 (trade unions)", "19"),
    ('9', "工商 (market regulation)", "123"),
    (
        'A',
        "中央军委改革和编制办公室 (military establishment)",
        "19",
    ),
    ('N', "农业 (agriculture)", "1239"),
    ('Y', "其他 (others)", "1"),
];

/// The first two digits of an administrative division code that a registration office
/// can have: 10 for national offices, then the provinces, autonomous regions and
/// municipalities of GB/T 2260, Taiwan, Hong Kong and Macao.
const PROVINCES: &[u8] = &[
    10, 11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51,
    52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82,
];

/// A unified social credit code, checked as GB 32100-2015 says.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CreditCode(String);

impl CreditCode {
    /// Checks a credit code: 18 characters of the code's set, a registration authority
    /// and a kind it registers, a 6-digit administrative division code, and the check
    /// character the first 17 give. Lower-case letters are taken as capitals.
    ///
    /// # Errors
    /// INVALID_ARGUMENT on `field` saying which part is wrong.
    pub fn parse(field: &str, text: &str) -> Result<Self, Error> {
        let code = text.trim().to_ascii_uppercase();
        let chars: Vec<char> = code.chars().collect();
        if chars.len() != 18 {
            return Err(Error::invalid(
                field,
                format!(
                    "must be 18 characters (GB 32100-2015); it has {}",
                    chars.len()
                ),
            ));
        }
        let mut values = [0u32; 18];
        for (i, c) in chars.iter().enumerate() {
            values[i] = value_of(*c).ok_or_else(|| {
                Error::invalid(
                    field,
                    format!(
                        "character {} ({c:?}) is not in the code's character set: digits and \
                         capital letters other than I, O, Z, S and V",
                        i + 1
                    ),
                )
            })?;
        }
        let Some((_, authority, kinds)) = AUTHORITIES.iter().find(|(c, _, _)| *c == chars[0])
        else {
            return Err(Error::invalid(
                field,
                format!(
                    "the registration authority code (character 1) {:?} is none of \
                     GB 32100-2015's: {}",
                    chars[0],
                    AUTHORITIES.iter().map(|(c, _, _)| *c).collect::<String>()
                ),
            ));
        };
        if !kinds.contains(chars[1]) {
            return Err(Error::invalid(
                field,
                format!(
                    "the kind code (character 2) {:?} is not one that registration authority \
                     {:?} ({authority}) gives: {kinds}",
                    chars[1], chars[0]
                ),
            ));
        }
        let division = &code[2..8];
        let province = division.get(..2).and_then(|p| p.parse::<u8>().ok());
        if !division.bytes().all(|b| b.is_ascii_digit())
            || !province.is_some_and(|p| PROVINCES.contains(&p))
        {
            return Err(Error::invalid(
                field,
                format!(
                    "the administrative division code (characters 3 to 8) {division:?} must \
                     be 6 digits of a GB/T 2260 code"
                ),
            ));
        }
        let expected = check_character(&values);
        if chars[17] != expected {
            return Err(Error::invalid(
                field,
                format!(
                    "the check character (character 18) is {:?}; the first 17 characters \
                     give {expected:?}",
                    chars[17]
                ),
            ));
        }
        Ok(Self(code))
    }

    /// A code as stored, checked when it was written.
    pub fn from_stored(code: String) -> Self {
        Self(code)
    }

    /// The 18 characters.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A character's value in the code's set.
fn value_of(c: char) -> Option<u32> {
    CODE_CHARACTERS
        .chars()
        .position(|x| x == c)
        .and_then(|p| u32::try_from(p).ok())
}

/// The check character of a code whose first 17 values are `values`: 31 − (Σ value ×
/// weight mod 31), where 31 is written 0.
fn check_character(values: &[u32; 18]) -> char {
    let sum: u32 = values.iter().zip(CHECK_WEIGHTS).map(|(v, w)| v * w).sum();
    let check = (31 - sum % 31) % 31;
    CODE_CHARACTERS.chars().nth(check as usize).unwrap_or('0')
}

/// The fields of an organisation that callers write, as a request sends them, not yet
/// checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrganizationFields {
    /// Its name.
    pub display_name: String,
    /// Its kind's number.
    pub kind: i32,
    /// Its region's name.
    pub region: String,
    /// Its credit code, or empty.
    pub credit_code: String,
    /// The organisation above it, or empty.
    pub parent: String,
}

writable!(OrganizationFields {
    display_name,
    kind,
    region,
    credit_code,
    parent,
});

/// Fields that only the server sets.
pub const OUTPUT_ONLY: &[&str] = &["name", "create_time", "update_time", "etag"];

/// The fields of an organisation, each checked on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationDraft {
    /// Its name.
    pub display_name: String,
    /// Its kind.
    pub kind: OrganizationKind,
    /// Where it is.
    pub region: RegionCode,
    /// Its credit code.
    pub credit_code: Option<CreditCode>,
    /// The id of the organisation above it.
    pub parent_id: Option<i64>,
}

impl OrganizationDraft {
    /// Checks every field on its own, all at once; errors name `organization.{field}`.
    ///
    /// # Errors
    /// INVALID_ARGUMENT naming each bad field.
    pub fn parse(o: &OrganizationFields) -> Result<Self, Error> {
        const P: &str = "organization";
        let display_name =
            text::check_line(&format!("{P}.display_name"), &o.display_name, 200, true);
        let kind = OrganizationKind::from_number(o.kind).ok_or_else(|| {
            Error::invalid(
                format!("{P}.kind"),
                "must be GOVERNMENT_AGENCY, PUBLIC_INSTITUTION, ENTERPRISE, \
                 SOCIAL_ORGANIZATION, MEDIA or OTHER",
            )
        });
        let region = RegionCode::from_name(&format!("{P}.region"), &o.region);
        let credit_code = match o.credit_code.trim() {
            "" => Ok(None),
            code => CreditCode::parse(&format!("{P}.credit_code"), code).map(Some),
        };
        let parent_id = name::parse_optional_id(&format!("{P}.parent"), "organizations", &o.parent);
        let ((), kind, region, credit_code, parent_id) =
            Error::all((display_name, kind, region, credit_code, parent_id))?;
        Ok(Self {
            display_name: o.display_name.trim().to_owned(),
            kind,
            region,
            credit_code,
            parent_id,
        })
    }
}

filter! {
    /// The typed query of `ListOrganizations`.
    pub struct OrganizationFilter of "ListOrganizations" {
        /// `kind = ENTERPRISE`.
        "kind" => kind: OrganizationKind = filter::word,
        /// `region = "regions/…"`: organisations in that region or inside it.
        "region" => region: RegionCode = filter::equals(RegionCode::from_condition),
        /// `parent = "organizations/…"`: the organisations right under that one.
        "parent" => parent_id: i64 = filter::id_in("organizations"),
        /// `display_name : "水利"`: names that hold the text.
        "display_name" => display_name: String = has_text,
        /// `credit_code = "…"`.
        "credit_code" => credit_code: CreditCode = filter::equals(|c: &Condition| {
            CreditCode::parse("filter", &c.value)
        }),
    }
}

/// Reads a `:` condition on text: the value it must hold, at most 200 characters.
///
/// # Errors
/// INVALID_ARGUMENT on `filter` for another operator, or an empty or longer value.
fn has_text(c: &Condition) -> Result<String, Error> {
    if c.operator != filter::Operator::Has {
        return Err(c.error("compares only with `:` (holds the text)"));
    }
    let value = c.value.trim();
    if value.is_empty() || value.chars().count() > 200 {
        return Err(c.error("must hold 1 to 200 characters"));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Codes issued in the wild, each with its check character.
    const ISSUED: &[&str] = &[
        "91350100M000100Y43",
        "11100000000013127D",
        "12100000400000624D",
        "91110108551385082Q",
    ];

    fn refusal(code: &str) -> String {
        match CreditCode::parse("organization.credit_code", code) {
            Ok(parsed) => panic!("{code} was taken as {parsed:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn issued_codes_check() {
        for code in ISSUED {
            let parsed = CreditCode::parse("organization.credit_code", code).unwrap();
            assert_eq!(parsed.as_str(), *code);
        }
        let lower = CreditCode::parse("c", "91350100m000100y43").unwrap();
        assert_eq!(lower.as_str(), "91350100M000100Y43");
    }

    #[test]
    fn every_other_check_character_is_refused_and_names_the_right_one() {
        let code = ISSUED[0];
        for c in CODE_CHARACTERS.chars().filter(|c| *c != '3') {
            let wrong = format!("{}{c}", &code[..17]);
            let message = refusal(&wrong);
            assert!(message.contains("character 18"), "{message}");
            assert!(message.contains("give '3'"), "{message}");
        }
    }

    #[test]
    fn a_changed_character_breaks_the_check() {
        // One character changed anywhere in the body changes the check character.
        let code: Vec<char> = ISSUED[3].chars().collect();
        for i in 8..17 {
            let mut changed = code.clone();
            changed[i] = if code[i] == '0' { '1' } else { '0' };
            let text: String = changed.into_iter().collect();
            assert!(refusal(&text).contains("check character"), "{text}");
        }
    }

    #[test]
    fn each_part_is_named_when_wrong() {
        let length = refusal("9135010");
        let set = refusal("91350100M000100I43");
        let authority = refusal("B1350100M000100Y43");
        let kind = refusal("94350100M000100Y43");
        let division = refusal("9199X100M000100Y43");
        let province = refusal("91990100M000100Y43");
        assert!(length.contains("18 characters"), "{length}");
        assert!(set.contains("character 16") && set.contains("set"), "{set}");
        assert!(authority.contains("registration authority"), "{authority}");
        assert!(kind.contains("kind code (character 2)"), "{kind}");
        assert!(division.contains("administrative division"), "{division}");
        assert!(province.contains("administrative division"), "{province}");
        for message in [length, set, authority, kind, division, province] {
            assert!(message.contains("organization.credit_code"), "{message}");
        }
    }

    #[test]
    fn the_check_character_follows_the_standard_s_formula() {
        // 31 − (Σ value × 3^(i−1) mod 31) mod 31, computed here apart from the table.
        for code in ISSUED {
            let values: Vec<u64> = code
                .chars()
                .map(|c| CODE_CHARACTERS.find(c).unwrap() as u64)
                .collect();
            let (mut weight, mut sum) = (1u64, 0u64);
            for v in &values[..17] {
                sum += v * weight;
                weight = weight * 3 % 31;
            }
            assert_eq!((31 - sum % 31) % 31, values[17], "{code}");
        }
    }

    #[test]
    fn a_draft_names_every_bad_field() {
        let error = OrganizationDraft::parse(&OrganizationFields {
            display_name: " ".into(),
            kind: 9,
            region: "420300".into(),
            credit_code: "91350100M000100Y44".into(),
            parent: "projects/1".into(),
        })
        .unwrap_err()
        .to_string();
        for field in ["display_name", "kind", "region", "credit_code", "parent"] {
            assert!(error.contains(&format!("organization.{field}")), "{error}");
        }
    }
}
