//! Request ids (AIP-155): a client-chosen key that makes a create safe to retry, and the
//! key it becomes together with its caller and method.

use super::access::Caller;
use crate::error::Error;

/// A request id: 1 to 64 characters of letters, digits, `-`, `_` and `.` (a UUID fits).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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

/// A request id as the key of one caller's requests to one method, with the request it
/// came with. Ids belong to their caller: two callers (or one caller on two methods) may
/// use the same id without meeting, and nobody learns whether another used an id.
/// Anonymous callers cannot be told apart, so their key holds the request itself: a retry
/// of the same request finds the first, and a different request is simply another one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestKey {
    caller: String,
    method: String,
    id: RequestId,
    fingerprint: String,
}

impl RequestKey {
    /// The key of `id` sent by `caller` (none: anonymous) to `method` with a request
    /// whose content hashes to `fingerprint`.
    pub fn new(caller: Option<&Caller>, method: &str, id: RequestId, fingerprint: String) -> Self {
        let caller = match caller {
            Some(c) => super::name::format_id("accessTokens", c.token_id),
            None => format!("anonymous/{fingerprint}"),
        };
        Self {
            caller,
            method: method.to_owned(),
            id,
            fingerprint,
        }
    }

    /// `accessTokens/{id}`, or `anonymous/{fingerprint}`.
    pub fn caller(&self) -> &str {
        &self.caller
    }

    /// The full method name, e.g. `/duikou.v1.PairingService/CreatePairing`.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The id the client chose.
    pub fn id(&self) -> &RequestId {
        &self.id
    }

    /// SHA-256 of the request without its id.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
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

    #[test]
    fn a_request_id_is_a_key_only_within_its_caller_and_method() {
        let caller = |token_id| Caller {
            token_id,
            label: "test".to_owned(),
            role: super::super::access::Role::Admin,
            scope: super::super::access::Scope::Everywhere,
        };
        let key = |c: Option<&Caller>, method: &str, fingerprint: &str| {
            let id = RequestId::parse("commit-2023").unwrap().unwrap();
            RequestKey::new(c, method, id, fingerprint.to_owned())
        };
        let (a, b) = (caller(1), caller(2));

        let first = key(Some(&a), "/M", "f");
        let other_caller = key(Some(&b), "/M", "f");
        let other_method = key(Some(&a), "/N", "f");

        assert_eq!(first.caller(), "accessTokens/1");
        assert_eq!(other_caller.caller(), "accessTokens/2");
        assert_ne!(first.method(), other_method.method());
        assert_eq!(key(None, "/M", "f").caller(), "anonymous/f");
        assert_ne!(
            key(None, "/M", "f").caller(),
            key(None, "/M", "g").caller(),
            "anonymous requests with other content never meet"
        );
    }
}
