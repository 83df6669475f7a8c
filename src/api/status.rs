//! The one place where errors become gRPC statuses: [`Error`] as a handler returns it, and
//! [`status`] for refusals raised outside the handlers (authentication, limits, transport).
//!
//! Every status carries a `google.rpc.ErrorInfo` with the domain [`ERROR_DOMAIN`] and an
//! UPPER_SNAKE reason; invalid fields also carry a `google.rpc.BadRequest` naming each one.
//! Internal and unavailable causes go to the log, never to the client.

use std::collections::HashMap;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::error::{Error, describe};

/// The `domain` of every `google.rpc.ErrorInfo` this server sends.
pub const ERROR_DOMAIN: &str = "duikou";

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        let (code, reason, message, metadata, violations) = match error {
            Error::InvalidArgument { reason, violations } => {
                let message = format!("invalid request: {}", describe(&violations));
                (
                    Code::InvalidArgument,
                    reason,
                    message,
                    Vec::new(),
                    violations,
                )
            }
            Error::Unauthenticated { reason, message } => (
                Code::Unauthenticated,
                reason,
                message,
                Vec::new(),
                Vec::new(),
            ),
            Error::PermissionDenied { reason, message } => (
                Code::PermissionDenied,
                reason,
                message,
                Vec::new(),
                Vec::new(),
            ),
            Error::NotFound { reason, resource } => (
                Code::NotFound,
                reason,
                format!("{resource} not found"),
                vec![("resource", resource)],
                Vec::new(),
            ),
            Error::AlreadyExists { reason, message } => {
                (Code::AlreadyExists, reason, message, Vec::new(), Vec::new())
            }
            Error::FailedPrecondition {
                reason,
                message,
                metadata,
            } => (
                Code::FailedPrecondition,
                reason,
                message,
                metadata,
                Vec::new(),
            ),
            Error::Aborted { reason, message } => {
                (Code::Aborted, reason, message, Vec::new(), Vec::new())
            }
            Error::ResourceExhausted { reason, message } => (
                Code::ResourceExhausted,
                reason,
                message,
                Vec::new(),
                Vec::new(),
            ),
            Error::Contention => (
                Code::Aborted,
                "CONCURRENT_UPDATE",
                "the request met a concurrent change; retry it".to_owned(),
                Vec::new(),
                Vec::new(),
            ),
            Error::Unavailable(cause) => {
                tracing::warn!(error = %format_args!("{cause:#}"), "database unavailable");
                (
                    Code::Unavailable,
                    "DATABASE_UNAVAILABLE",
                    "the database is unavailable; retry later".to_owned(),
                    Vec::new(),
                    Vec::new(),
                )
            }
            Error::Internal(cause) => {
                tracing::error!(error = ?cause, "internal error");
                (
                    Code::Internal,
                    "INTERNAL",
                    "internal error".to_owned(),
                    Vec::new(),
                    Vec::new(),
                )
            }
        };
        let metadata: HashMap<String, String> = metadata
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        let mut details = ErrorDetails::with_error_info(reason, ERROR_DOMAIN, metadata);
        for v in violations {
            details.add_bad_request_violation(v.field, v.description);
        }
        Status::with_error_details(code, message, details)
    }
}

/// A status for errors raised outside the handlers (authentication, limits), with the
/// same ErrorInfo as every other status.
pub fn status(code: Code, reason: &str, message: impl Into<String>) -> Status {
    Status::with_error_details(
        code,
        message,
        ErrorDetails::with_error_info(reason, ERROR_DOMAIN, HashMap::new()),
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// The ErrorInfo a status carries, or a description of what it carries instead.
    fn info(status: &Status) -> Result<tonic_types::ErrorInfo, String> {
        status
            .get_error_details()
            .error_info()
            .cloned()
            .ok_or_else(|| format!("no ErrorInfo in {status:?}"))
    }

    #[test]
    fn internal_errors_tell_the_client_nothing_of_their_cause() -> Result<(), String> {
        let error = Error::from(anyhow::anyhow!("disk /var/lib/duikou is full"));

        let status = Status::from(error);

        assert_eq!(status.code(), Code::Internal);
        assert_eq!(status.message(), "internal error");
        let info = info(&status)?;
        assert_eq!(info.reason, "INTERNAL");
        assert!(info.metadata.is_empty());
        Ok(())
    }

    #[test]
    fn an_unavailable_database_keeps_its_cause_from_the_client() -> Result<(), String> {
        let error = Error::Unavailable(Arc::new(anyhow::anyhow!(
            "connection to 10.0.0.7:5432 refused"
        )));

        let status = Status::from(error);

        assert_eq!(status.code(), Code::Unavailable);
        assert!(
            !status.message().contains("10.0.0.7"),
            "{}",
            status.message()
        );
        let info = info(&status)?;
        assert_eq!(info.reason, "DATABASE_UNAVAILABLE");
        assert_eq!(info.domain, ERROR_DOMAIN);
        Ok(())
    }

    #[test]
    fn field_violations_merge_into_one_bad_request() -> Result<(), String> {
        let merged = Error::collect([
            Ok(()),
            Err(Error::invalid("a", "bad")),
            Err(Error::invalid("b", "worse")),
        ])
        .err()
        .ok_or("two bad fields must fail")?;

        let status = Status::from(merged);

        let fields: Vec<_> = status
            .get_error_details()
            .bad_request()
            .ok_or("no BadRequest")?
            .field_violations
            .iter()
            .map(|v| v.field.clone())
            .collect();
        assert_eq!(fields, ["a", "b"]);
        assert_eq!(status.code(), Code::InvalidArgument);
        Ok(())
    }
}
