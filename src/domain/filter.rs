//! The documented subset of AIP-160 filters: comparisons joined with `AND`.
//!
//! ```text
//! filter     = comparison { "AND" comparison }
//! comparison = field ( "=" | ":" | "<" | "<=" | ">" | ">=" ) value
//! field      = letter { letter | digit | "_" | "." }
//! value      = '"' { char | '\"' | '\\' } '"'  |  bare word of letters, digits, "_", "-", "/"
//! ```
//!
//! The text becomes a list of typed conditions; each resource turns that list into its own
//! query ([`read`] hands it the conditions one by one), so no SQL is ever built from what a
//! caller wrote. The grammar knows no resource: what a value means is read where it is used
//! (an API enum by [`Condition::word`], a region by `RegionCode::from_condition`).

use crate::error::Error;

/// The comparison of one condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `=`: equals.
    Equals,
    /// `:`: has (substring for text, inside-of for regions).
    Has,
    /// `<`.
    Less,
    /// `<=`.
    AtMost,
    /// `>`.
    Greater,
    /// `>=`.
    AtLeast,
}

/// One `field op value` of a filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The field, e.g. `supported_region`.
    pub field: String,
    /// The comparison.
    pub operator: Operator,
    /// The value, unquoted.
    pub value: String,
    /// Character offset of the condition in the filter, for error messages.
    pub at: usize,
}

/// An API enum known by its short words (`ACTIVE`), as the `numbered!` enums are: what a
/// filter condition compares an enum field with.
pub trait Words: Copy + 'static {
    /// Every value, in the order of the API's enum.
    const ALL: &'static [Self];

    /// The short name.
    fn word(self) -> &'static str;

    /// The value by its short or enum name.
    fn from_word(word: &str) -> Option<Self>;
}

impl Condition {
    /// An INVALID_ARGUMENT on `filter` that points at this condition.
    pub fn error(&self, what: impl std::fmt::Display) -> Error {
        Error::invalid(
            "filter",
            format!("at character {}: {}: {what}", self.at + 1, self.field),
        )
    }

    /// The error for a field the filter does not know, listing the `fields` it does.
    pub fn not_a_field(&self, fields: &[&str]) -> Error {
        self.error(format!(
            "is not a filter field; use {}",
            one_of(fields.iter().copied())
        ))
    }

    /// Accepts the condition only if it compares with `=`.
    ///
    /// # Errors
    /// INVALID_ARGUMENT on `filter` pointing at a condition with any other operator.
    pub fn equals_only(&self) -> Result<(), Error> {
        match self.operator {
            Operator::Equals => Ok(()),
            _ => Err(self.error("supports only '='")),
        }
    }

    /// The value of the enum `T` the value names, e.g. `ProjectState::Approved` for
    /// `APPROVED` or `PROJECT_STATE_APPROVED`.
    ///
    /// # Errors
    /// INVALID_ARGUMENT on `filter` listing every word of `T`, for a value that is none.
    pub fn word<T: Words>(&self) -> Result<T, Error> {
        T::from_word(&self.value).ok_or_else(|| {
            self.error(format!(
                "expects {}",
                one_of(T::ALL.iter().map(|v| v.word()))
            ))
        })
    }

    /// The value as `parse` reads it.
    ///
    /// # Errors
    /// INVALID_ARGUMENT on `filter` saying it expects `expected`, where `parse` gives
    /// nothing.
    pub fn parse_with<T>(
        &self,
        parse: impl FnOnce(&str) -> Option<T>,
        expected: &str,
    ) -> Result<T, Error> {
        parse(&self.value).ok_or_else(|| self.error(format!("expects {expected}")))
    }

    /// The id of the resource the value names, e.g. 1 for `"pairings/1"`.
    ///
    /// # Errors
    /// INVALID_ARGUMENT on `filter` for a value that names no resource of `collection`.
    pub fn id_in(&self, collection: &str) -> Result<i64, Error> {
        super::name::parse_id("filter", collection, &self.value)
            .map_err(|_| self.error(format!("expects a name like \"{collection}/1\"")))
    }
}

/// Declares the typed query of a list and its parser from a table: each row names a filter
/// field, the query's field it sets and how a condition on it is read
/// (`fn(&Condition) -> Result<T, Error>`). A filter names each field at most once; a field
/// not in the table is refused with the list of those that are.
macro_rules! filter {
    (
        $(#[$meta:meta])*
        pub struct $query:ident of $method:literal {
            $(
                $(#[$doc:meta])*
                $word:literal => $field:ident: $value:ty = $read:expr,
            )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct $query {
            $($(#[$doc])* pub $field: Option<$value>,)+
        }

        impl $query {
            #[doc = concat!("Parses the `filter` of a `", $method, "` request.")]
            ///
            /// # Errors
            /// INVALID_ARGUMENT on `filter` naming the condition at fault.
            pub fn parse(text: &str) -> Result<Self, $crate::error::Error> {
                $crate::domain::filter::read(text, |query: &mut Self, c| {
                    match c.field.as_str() {
                        $($word => query.$field = Some(($read)(c)?),)+
                        _ => return Err(c.not_a_field(&[$($word),+])),
                    }
                    Ok(())
                })
            }
        }
    };
}
pub(crate) use filter;

/// Reads an `=` condition on an API enum.
///
/// # Errors
/// INVALID_ARGUMENT on `filter` for another operator or a value that is no word of `T`.
pub fn word<T: Words>(c: &Condition) -> Result<T, Error> {
    c.equals_only()?;
    c.word()
}

/// Reads an `=` condition with `read`.
pub fn equals<T>(
    read: impl Fn(&Condition) -> Result<T, Error>,
) -> impl Fn(&Condition) -> Result<T, Error> {
    move |c| {
        c.equals_only()?;
        read(c)
    }
}

/// Reads an `=` condition on the name of a resource of `collection`, as its id.
pub fn id_in(collection: &'static str) -> impl Fn(&Condition) -> Result<i64, Error> {
    equals(move |c: &Condition| c.id_in(collection))
}

/// Reads an `=` condition whose value `parse` reads, saying it expects `expected` when it
/// does not.
pub fn parsed<T>(
    parse: fn(&str) -> Option<T>,
    expected: &'static str,
) -> impl Fn(&Condition) -> Result<T, Error> {
    equals(move |c: &Condition| c.parse_with(parse, expected))
}

/// Parses a filter into its conditions; an empty filter has none.
///
/// # Errors
/// INVALID_ARGUMENT on `filter` saying at which character the text stopped making sense.
pub fn parse(text: &str) -> Result<Vec<Condition>, Error> {
    const MAX_LEN: usize = 2000;
    if text.chars().count() > MAX_LEN {
        return Err(Error::invalid(
            "filter",
            format!("must be at most {MAX_LEN} characters"),
        ));
    }
    let chars: Vec<char> = text.chars().collect();
    let mut parser = Parser { chars, pos: 0 };
    let mut conditions = Vec::new();
    parser.skip_space();
    if parser.at_end() {
        return Ok(conditions);
    }
    loop {
        conditions.push(parser.comparison()?);
        parser.skip_space();
        if parser.at_end() {
            return Ok(conditions);
        }
        parser.keyword("AND")?;
    }
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn fail(&self, expected: &str) -> Error {
        let found = match self.peek() {
            Some(c) => format!("'{c}'"),
            None => "the end".to_owned(),
        };
        Error::invalid(
            "filter",
            format!(
                "at character {}: expected {expected}, found {found}",
                self.pos + 1
            ),
        )
    }

    fn keyword(&mut self, word: &str) -> Result<(), Error> {
        let end = self.pos + word.chars().count();
        let matches = end <= self.chars.len()
            && self.chars[self.pos..end].iter().copied().eq(word.chars())
            && self.chars.get(end).is_none_or(|c| c.is_whitespace());
        if !matches {
            return Err(self.fail(&format!("\"{word}\"")));
        }
        self.pos = end;
        Ok(())
    }

    fn comparison(&mut self) -> Result<Condition, Error> {
        self.skip_space();
        let at = self.pos;
        let field = self.word(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        if field.is_empty() || !field.starts_with(|c: char| c.is_ascii_alphabetic()) {
            self.pos = at;
            return Err(self.fail("a field name"));
        }
        self.skip_space();
        let next = self.chars.get(self.pos + 1).copied();
        let (operator, width) = match (self.peek(), next) {
            (Some('='), _) => (Operator::Equals, 1),
            (Some(':'), _) => (Operator::Has, 1),
            (Some('<'), Some('=')) => (Operator::AtMost, 2),
            (Some('<'), _) => (Operator::Less, 1),
            (Some('>'), Some('=')) => (Operator::AtLeast, 2),
            (Some('>'), _) => (Operator::Greater, 1),
            _ => return Err(self.fail("'=', ':', '<', '<=', '>' or '>='")),
        };
        self.pos += width;
        self.skip_space();
        let value = match self.peek() {
            Some('"') => self.quoted()?,
            _ => {
                let word = self.word(|c| c.is_alphanumeric() || "_-/.".contains(c));
                if word.is_empty() {
                    return Err(self.fail("a value"));
                }
                word
            }
        };
        Ok(Condition {
            field,
            operator,
            value,
            at,
        })
    }

    fn word(&mut self, allowed: impl Fn(char) -> bool) -> String {
        let start = self.pos;
        while self.peek().is_some_and(&allowed) {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    fn quoted(&mut self) -> Result<String, Error> {
        self.pos += 1;
        let mut value = String::new();
        loop {
            match self.peek() {
                None => return Err(self.fail("a closing '\"'")),
                Some('"') => {
                    self.pos += 1;
                    return Ok(value);
                }
                Some('\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(c @ ('"' | '\\')) => value.push(c),
                        _ => return Err(self.fail("'\"' or '\\' after '\\'")),
                    }
                    self.pos += 1;
                }
                Some(c) => {
                    value.push(c);
                    self.pos += 1;
                }
            }
        }
    }
}

/// Reads a filter into the query `Q`: parses `text`, refuses a field named twice, and
/// hands each condition in turn to `set`, which reads it into its part of the query.
///
/// # Errors
/// INVALID_ARGUMENT on `filter`: the text's, a repetition's, or the first that `set`
/// returns.
pub fn read<Q: Default>(
    text: &str,
    set: impl FnMut(&mut Q, &Condition) -> Result<(), Error>,
) -> Result<Q, Error> {
    read_conditions(&parse(text)?, set)
}

/// Reads parsed `conditions` into the query `Q`, as [`read`] does: refuses a field named
/// twice, and hands each condition in turn to `set`. For a list whose filter takes a range
/// on one field, read apart from the rest.
///
/// # Errors
/// INVALID_ARGUMENT on `filter`: a repetition's, or the first that `set` returns.
pub fn read_conditions<Q: Default>(
    conditions: &[Condition],
    mut set: impl FnMut(&mut Q, &Condition) -> Result<(), Error>,
) -> Result<Q, Error> {
    reject_repeats(conditions)?;
    let mut query = Q::default();
    for c in conditions {
        set(&mut query, c)?;
    }
    Ok(query)
}

/// Rejects a filter that names one field twice: conditions are joined with AND, so a
/// repeated field either adds nothing or can never match.
fn reject_repeats(conditions: &[Condition]) -> Result<(), Error> {
    for (i, c) in conditions.iter().enumerate() {
        if conditions[..i]
            .iter()
            .any(|earlier| earlier.field == c.field)
        {
            return Err(c.error("appears more than once"));
        }
    }
    Ok(())
}

/// The choices of a message: `a`, `a or b`, `a, b or c`.
fn one_of<'a>(words: impl Iterator<Item = &'a str>) -> String {
    let words: Vec<&str> = words.collect();
    match words.split_last() {
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::pairing::PairingState;

    fn message(err: Error) -> String {
        match err {
            Error::InvalidArgument { violations, .. } => violations[0].description.clone(),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn empty_filter_has_no_conditions() {
        assert_eq!(parse("  ").unwrap(), vec![]);
    }

    #[test]
    fn comparisons_join_with_and() {
        let c = parse(r#"supported_region:"regions/420300" AND state = ACTIVE"#).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].field, "supported_region");
        assert_eq!(c[0].operator, Operator::Has);
        assert_eq!(c[0].value, "regions/420300");
        assert_eq!(c[1].operator, Operator::Equals);
        assert_eq!(c[1].value, "ACTIVE");
        assert_eq!(c[1].at, 38);
    }

    #[test]
    fn quoted_values_keep_unicode_and_escapes() {
        let c = parse(r#"display_name:"丹江\"口""#).unwrap();
        assert_eq!(c[0].value, "丹江\"口");
    }

    #[test]
    fn errors_say_where() {
        assert!(message(parse("state =").unwrap_err()).contains("character 8: expected a value"));
        assert!(message(parse("state = A OR x = B").unwrap_err()).contains("character 11"));
        assert!(message(parse("state ~ A").unwrap_err()).contains("'=', ':'"));
        assert!(message(parse(r#"x = "open"#).unwrap_err()).contains("closing"));
        assert!(message(parse("= A").unwrap_err()).contains("a field name"));
        assert!(message(parse("a = B ANDc = D").unwrap_err()).contains("\"AND\""));
    }

    #[test]
    fn comparisons_read_order_operators() {
        let c =
            parse(r#"time >= "2026-01-01T00:00:00Z" AND time < "2027-01-01T00:00:00Z""#).unwrap();
        assert_eq!(c[0].operator, Operator::AtLeast);
        assert_eq!(c[1].operator, Operator::Less);
    }

    filter! {
        /// A query of two fields, declared as every list's is.
        pub struct Query of "ListTests" {
            /// `state = ACTIVE`.
            "state" => state: PairingState = word,
            /// `count = 3`.
            "count" => count: u32 = parsed(|v| v.parse().ok(), "a count"),
        }
    }

    fn query(text: &str) -> Result<Query, Error> {
        Query::parse(text)
    }

    #[test]
    fn read_hands_every_condition_to_the_query() {
        assert_eq!(
            query("state = PAIRING_STATE_ENDED AND count = 3").unwrap(),
            Query {
                state: Some(PairingState::Ended),
                count: Some(3),
            }
        );
        assert_eq!(query("").unwrap(), Query::default());
    }

    #[test]
    fn read_errors_name_the_condition_and_the_choices() {
        let said = |text: &str| message(query(text).unwrap_err());
        assert_eq!(
            said("count = 1 AND state = OPEN"),
            "at character 15: state: expects ACTIVE, SUSPENDED or ENDED"
        );
        assert_eq!(said("count = x"), "at character 1: count: expects a count");
        assert_eq!(
            said("colour = RED"),
            "at character 1: colour: is not a filter field; use state or count"
        );
        assert_eq!(
            said("state:ENDED"),
            "at character 1: state: supports only '='"
        );
        // A field the list does not know is named as such, whatever its operator.
        assert_eq!(
            said("colour < 3"),
            "at character 1: colour: is not a filter field; use state or count"
        );
        assert_eq!(
            said("count = 1 AND count = 2"),
            "at character 15: count: appears more than once"
        );
    }

    #[test]
    fn choices_read_as_a_sentence() {
        assert_eq!(one_of(["A"].into_iter()), "A");
        assert_eq!(one_of(["A", "B"].into_iter()), "A or B");
        assert_eq!(one_of(["A", "B", "C", "D"].into_iter()), "A, B, C or D");
    }

    #[test]
    fn repeated_fields_are_refused() {
        let c = parse("state = ACTIVE AND state = ENDED").unwrap();
        assert!(message(reject_repeats(&c).unwrap_err()).contains("more than once"));
    }
}
