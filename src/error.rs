//! The one error type of duikou and the one place where errors become gRPC statuses.
//!
//! Every status carries a `google.rpc.ErrorInfo` with the domain [`ERROR_DOMAIN`] and an
//! UPPER_SNAKE reason; invalid fields also carry a `google.rpc.BadRequest` naming each one.

use std::{collections::HashMap, sync::Arc};

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The `domain` of every `google.rpc.ErrorInfo` this server sends.
pub const ERROR_DOMAIN: &str = "duikou";

/// One invalid field of a request, named by its path, e.g. `pairing.period_end`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// Path of the field in the request message.
    pub field: String,
    /// What is wrong with it, in words a caller can act on.
    pub description: String,
}

impl FieldViolation {
    /// A violation of `field`.
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// Everything that can go wrong while serving a request.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// INVALID_ARGUMENT, with a `BadRequest` naming each field.
    #[error("invalid argument: {}", describe(.violations))]
    InvalidArgument {
        /// The ErrorInfo reason, e.g. `INVALID_FIELD` or `REQUEST_ID_REUSED`.
        reason: &'static str,
        /// The fields at fault.
        violations: Vec<FieldViolation>,
    },
    /// UNAUTHENTICATED: no valid token where one is needed.
    #[error("{message}")]
    Unauthenticated {
        /// The ErrorInfo reason, e.g. `TOKEN_EXPIRED`.
        reason: &'static str,
        /// What is wrong with the credentials.
        message: String,
    },
    /// PERMISSION_DENIED: the caller's role or scope does not allow this.
    #[error("{message}")]
    PermissionDenied {
        /// The ErrorInfo reason, e.g. `OUTSIDE_SCOPE`.
        reason: &'static str,
        /// What the caller lacks.
        message: String,
    },
    /// NOT_FOUND: the named resource does not exist.
    #[error("{resource} not found")]
    NotFound {
        /// The ErrorInfo reason, e.g. `PAIRING_NOT_FOUND`.
        reason: &'static str,
        /// The resource name asked for.
        resource: String,
    },
    /// ALREADY_EXISTS: a unique key is taken.
    #[error("{message}")]
    AlreadyExists {
        /// The ErrorInfo reason, e.g. `PAIRING_EXISTS`.
        reason: &'static str,
        /// What conflicts.
        message: String,
    },
    /// FAILED_PRECONDITION: the request conflicts with the current state.
    #[error("{message}")]
    FailedPrecondition {
        /// The ErrorInfo reason, e.g. `ILLEGAL_STATE_TRANSITION`.
        reason: &'static str,
        /// What conflicts, and how to resolve it.
        message: String,
        /// Facts for programs, e.g. the current state.
        metadata: Vec<(&'static str, String)>,
    },
    /// ABORTED: the resource changed since the caller read it (stale etag).
    #[error("{message}")]
    Aborted {
        /// The ErrorInfo reason, e.g. `ETAG_MISMATCH`.
        reason: &'static str,
        /// What happened.
        message: String,
    },
    /// RESOURCE_EXHAUSTED: the caller used up a limit; retry after a while.
    #[error("{message}")]
    ResourceExhausted {
        /// The ErrorInfo reason, e.g. `PUBLIC_REPORT_LIMIT`.
        reason: &'static str,
        /// Which limit, and when it frees up.
        message: String,
    },
    /// UNAVAILABLE: the database could not be reached or stayed busy; safe to retry.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] Arc<sea_orm::DbErr>),
    /// Retried inside the store: another transaction won a race. Reaches a client as
    /// ABORTED only when the retries run out.
    #[error("concurrent update, retry")]
    Contention,
    /// INTERNAL: a fault of the server. The client learns nothing of the cause; the log
    /// gets all of it.
    #[error("{0:#}")]
    Internal(Arc<anyhow::Error>),
}

fn describe(violations: &[FieldViolation]) -> String {
    violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ")
}

impl Error {
    /// INVALID_ARGUMENT naming one field, reason `INVALID_FIELD`.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::InvalidArgument {
            reason: "INVALID_FIELD",
            violations: vec![FieldViolation::new(field, description)],
        }
    }

    /// FAILED_PRECONDITION with `reason` and no metadata.
    pub fn precondition(reason: &'static str, message: impl Into<String>) -> Self {
        Self::FailedPrecondition {
            reason,
            message: message.into(),
            metadata: Vec::new(),
        }
    }

    /// Joins two errors so that a caller learns about every bad field at once: the field
    /// violations of two INVALID_FIELD errors are merged; otherwise the first error wins.
    pub fn merge(self, other: Error) -> Error {
        match (self, other) {
            (
                Error::InvalidArgument {
                    reason: "INVALID_FIELD",
                    mut violations,
                },
                Error::InvalidArgument {
                    reason: "INVALID_FIELD",
                    violations: more,
                },
            ) => {
                violations.extend(more);
                Error::InvalidArgument {
                    reason: "INVALID_FIELD",
                    violations,
                }
            }
            (first, _) => first,
        }
    }

    /// The outcome of a check without its value, to pass to [`collect`](Self::collect)
    /// while keeping the value for later.
    pub fn of<T>(result: &Result<T, Error>) -> Result<(), Error> {
        result.as_ref().map(drop).map_err(Clone::clone)
    }

    /// Checks several things at once and reports every bad field together.
    ///
    /// # Errors
    /// The [`merge`](Self::merge) of every error among `results`.
    pub fn collect(results: impl IntoIterator<Item = Result<(), Error>>) -> Result<(), Error> {
        results
            .into_iter()
            .filter_map(Result::err)
            .reduce(Error::merge)
            .map_or(Ok(()), Err)
    }
}

impl From<anyhow::Error> for Error {
    fn from(error: anyhow::Error) -> Self {
        Error::Internal(Arc::new(error))
    }
}

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
                tracing::warn!(error = %cause, "database unavailable");
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
    use super::*;

    #[test]
    fn internal_errors_tell_the_client_nothing_of_their_cause() {
        let error = Error::from(anyhow::anyhow!("disk /var/lib/duikou is full"));

        let status = Status::from(error);

        assert_eq!(status.code(), Code::Internal);
        assert_eq!(status.message(), "internal error");
        let info = status.get_error_details().error_info().cloned().unwrap();
        assert_eq!(info.reason, "INTERNAL");
        assert!(info.metadata.is_empty());
    }

    #[test]
    fn field_violations_merge_into_one_bad_request() {
        let merged = Error::collect([
            Ok(()),
            Err(Error::invalid("a", "bad")),
            Err(Error::invalid("b", "worse")),
        ])
        .unwrap_err();

        let status = Status::from(merged);

        let fields: Vec<_> = status
            .get_error_details()
            .bad_request()
            .unwrap()
            .field_violations
            .iter()
            .map(|v| v.field.clone())
            .collect();
        assert_eq!(fields, ["a", "b"]);
        assert_eq!(status.code(), Code::InvalidArgument);
    }
}
