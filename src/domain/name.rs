//! Resource names: `{collection}/{id}` with a server-assigned positive integer id.

use crate::error::Error;

/// Parses `{collection}/{id}` into the id.
///
/// # Errors
/// INVALID_ARGUMENT naming `field` when the name has another collection or a bad id.
pub fn parse_id(field: &str, collection: &str, name: &str) -> Result<i64, Error> {
    let id = name
        .strip_prefix(collection)
        .and_then(|rest| rest.strip_prefix('/'))
        .ok_or_else(|| {
            Error::invalid(field, format!("must be a name like \"{collection}/123\""))
        })?;
    let canonical = id.bytes().all(|b| b.is_ascii_digit()) && !id.starts_with('0');
    match id.parse::<i64>() {
        Ok(number) if canonical && number > 0 => Ok(number),
        _ => Err(Error::invalid(
            field,
            format!("must be a name like \"{collection}/123\""),
        )),
    }
}

/// Parses an optional `{collection}/{id}`: none when `name` is empty, else as
/// [`parse_id`].
///
/// # Errors
/// As [`parse_id`], for a name that is not empty.
pub fn parse_optional_id(field: &str, collection: &str, name: &str) -> Result<Option<i64>, Error> {
    match name {
        "" => Ok(None),
        name => parse_id(field, collection, name).map(Some),
    }
}

/// The resource name of `id` in `collection`.
pub fn format_id(collection: &str, id: i64) -> String {
    format!("{collection}/{id}")
}

/// The resource name of an optional `id` in `collection`: empty for none.
pub fn format_optional_id(collection: &str, id: Option<i64>) -> String {
    id.map(|id| format_id(collection, id)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_name_is_no_id_and_no_id_an_empty_name() {
        assert_eq!(parse_optional_id("parent", "pairings", "").ok(), Some(None));
        assert_eq!(
            parse_optional_id("parent", "pairings", "pairings/7").ok(),
            Some(Some(7))
        );
        assert!(parse_optional_id("parent", "pairings", "projects/7").is_err());
        assert_eq!(format_optional_id("pairings", None), "");
        assert_eq!(format_optional_id("pairings", Some(7)), "pairings/7");
    }

    #[test]
    fn accepts_a_plain_positive_id() {
        assert_eq!(parse_id("name", "pairings", "pairings/42").ok(), Some(42));
    }

    #[test]
    fn refuses_other_collections_and_odd_ids() {
        for bad in [
            "programs/1",
            "pairings/",
            "pairings/0",
            "pairings/-1",
            "pairings/+1",
            "pairings/01",
            "pairings/1/x",
            "pairings/99999999999999999999",
        ] {
            assert!(parse_id("name", "pairings", bad).is_err(), "{bad}");
        }
    }
}
