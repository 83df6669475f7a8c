//! Request ids (AIP-155): a client-chosen key that makes a create safe to retry.

use crate::error::Error;

/// A request id: 1 to 64 characters of letters, digits, `-`, `_` and `.` (a UUID fits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// Reads the optional `request_id` field; empty means none.
    ///
    /// # Errors
    /// INVALID_ARGUMENT on `request_id` when it is too long or has other characters.
    pub fn parse(text: &str) -> Result<Option<Self>, Error> {
        if text.is_empty() {
            return Ok(None);
        }
        let valid = text.len() <= 64
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if valid {
            Ok(Some(Self(text.to_owned())))
        } else {
            Err(Error::invalid(
                "request_id",
                "must be at most 64 letters, digits, '-', '_' or '.' (a UUID fits)",
            ))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The error for an id already used with a different request.
pub fn reused() -> Error {
    Error::InvalidArgument {
        reason: "REQUEST_ID_REUSED",
        violations: vec![crate::error::FieldViolation::new(
            "request_id",
            "was already used with a different request",
        )],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_request_ids() {
        let id = RequestId::parse("0b7c2a52-6a39-4d1e-9f59-3b1c8e0f2a11").unwrap();
        assert!(id.is_some());
        assert_eq!(RequestId::parse("").unwrap(), None);
        assert!(RequestId::parse("has space").is_err());
        assert!(RequestId::parse(&"x".repeat(65)).is_err());
    }
}
