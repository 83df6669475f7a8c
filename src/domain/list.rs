//! Lists a request sends inside one field (milestones, evidence, participants): bounded in
//! length, each item checked under its own index, and kept in storage as JSON.

use serde::{Serialize, de::DeserializeOwned};

use crate::error::Error;

/// Reads the list `items` sent as `field`: at most `max` of them (`noun` says of what, in
/// the error), each read by `item` from its field name, `{field}[i]`.
///
/// # Errors
/// INVALID_ARGUMENT naming `field` for a list that is too long, else every bad item's
/// fields together.
pub fn read<T, U>(
    field: &str,
    items: &[T],
    max: usize,
    noun: &str,
    mut item: impl FnMut(&str, &T) -> Result<U, Error>,
) -> Result<Vec<U>, Error> {
    if items.len() > max {
        return Err(Error::invalid(
            field,
            format!("may list at most {max} {noun}"),
        ));
    }
    let mut read = Vec::with_capacity(items.len());
    let mut errors = Vec::new();
    for (i, sent) in items.iter().enumerate() {
        match item(&format!("{field}[{i}]"), sent) {
            Ok(value) => read.push(value),
            Err(e) => errors.push(Err(e)),
        }
    }
    Error::collect(errors)?;
    Ok(read)
}

/// The stored form of a list: JSON.
pub fn store<T: Serialize>(items: &[T]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".to_owned())
}

/// A list written by [`store`]; `failure` opens the error's message.
///
/// # Errors
/// INTERNAL for stored text that is not such a list.
pub fn load<T: DeserializeOwned>(stored: &str, failure: &str) -> Result<Vec<T>, Error> {
    serde_json::from_str(stored).map_err(|e| anyhow::anyhow!("{failure}: {e}").into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields_of(err: Error) -> Vec<String> {
        match err {
            Error::InvalidArgument { violations, .. } => {
                violations.into_iter().map(|v| v.field).collect()
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    fn numbers(items: &[&str]) -> Result<Vec<u8>, Error> {
        read("n", items, 3, "numbers", |at, text| {
            text.parse()
                .map_err(|_| Error::invalid(format!("{at}.value"), "must be a number"))
        })
    }

    #[test]
    fn every_bad_item_is_named_by_its_index() {
        assert_eq!(numbers(&["1", "2"]).unwrap(), [1, 2]);
        assert_eq!(
            fields_of(numbers(&["x", "2", "y"]).unwrap_err()),
            ["n[0].value", "n[2].value"]
        );
        assert_eq!(fields_of(numbers(&["1"; 4]).unwrap_err()), ["n"]);
    }

    #[test]
    fn stored_lists_read_back() {
        let stored = store(&["a".to_owned(), "b".to_owned()]);
        assert_eq!(load::<String>(&stored, "x").unwrap(), ["a", "b"]);
        assert!(matches!(load::<String>("{", "x"), Err(Error::Internal(_))));
    }
}
