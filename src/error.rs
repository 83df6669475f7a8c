//! The one error type of duikou, free of transport and storage: the domain raises it,
//! `store` turns database errors into it, and `api::status` turns it into gRPC statuses.
//!
//! Each variant says in its doc which gRPC code it becomes; most carry the UPPER_SNAKE
//! reason of the status's `google.rpc.ErrorInfo`, and invalid arguments name each field.

use std::sync::Arc;

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
    /// UNAVAILABLE: the database could not be reached or stayed busy; safe to retry. The
    /// client learns nothing of the cause; the log gets all of it.
    #[error("database unavailable: {0:#}")]
    Unavailable(Arc<anyhow::Error>),
    /// Retried inside the store: another transaction won a race. Reaches a client as
    /// ABORTED only when the retries run out.
    #[error("concurrent update, retry")]
    Contention,
    /// INTERNAL: a fault of the server. The client learns nothing of the cause; the log
    /// gets all of it.
    #[error("{0:#}")]
    Internal(Arc<anyhow::Error>),
}

/// The violations in one line, `field: description` joined by `; `.
pub(crate) fn describe(violations: &[FieldViolation]) -> String {
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

    /// Checks several results at once: their values, or every bad field reported together.
    ///
    /// # Errors
    /// The [`merge`](Self::merge) of every error among `results`.
    pub fn all<T: Checked>(results: T) -> Result<T::Values, Error> {
        results.values()
    }
}

/// A tuple of results checked together by [`Error::all`].
pub trait Checked {
    /// The tuple of their values.
    type Values;
    /// Every value, or the merge of every error.
    ///
    /// # Errors
    /// The [`merge`](Error::merge) of every error among them.
    fn values(self) -> Result<Self::Values, Error>;
}

/// Implements [`Checked`] for tuples of results of each length named.
macro_rules! checked_tuples {
    ($(($($value:ident: $T:ident),+)),+ $(,)?) => {$(
        impl<$($T),+> Checked for ($(Result<$T, Error>,)+) {
            type Values = ($($T,)+);
            fn values(self) -> Result<Self::Values, Error> {
                let ($($value,)+) = self;
                Error::collect([$(Error::of(&$value)),+])?;
                Ok(($($value?,)+))
            }
        }
    )+};
}

checked_tuples!(
    (a: A, b: B),
    (a: A, b: B, c: C),
    (a: A, b: B, c: C, d: D),
    (a: A, b: B, c: C, d: D, e: E),
    (a: A, b: B, c: C, d: D, e: E, f: F),
    (a: A, b: B, c: C, d: D, e: E, f: F, g: G),
    (a: A, b: B, c: C, d: D, e: E, f: F, g: G, h: H),
    (a: A, b: B, c: C, d: D, e: E, f: F, g: G, h: H, i: I),
    (a: A, b: B, c: C, d: D, e: E, f: F, g: G, h: H, i: I, j: J),
    (a: A, b: B, c: C, d: D, e: E, f: F, g: G, h: H, i: I, j: J, k: K),
);

impl From<anyhow::Error> for Error {
    fn from(error: anyhow::Error) -> Self {
        Error::Internal(Arc::new(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(error: Error) -> Vec<String> {
        match error {
            Error::InvalidArgument { violations, .. } => {
                violations.into_iter().map(|v| v.field).collect()
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn all_gives_every_value_or_every_bad_field_in_order() {
        let good = Error::all((Ok::<_, Error>(1), Ok::<_, Error>("a")));
        assert_eq!(good.ok(), Some((1, "a")));
        let bad = Error::all((
            Err::<i32, _>(Error::invalid("first", "is bad")),
            Ok::<_, Error>(2),
            Err::<(), _>(Error::invalid("third", "is bad")),
        ));
        assert_eq!(fields(bad.unwrap_err()), ["first", "third"]);
    }
}
