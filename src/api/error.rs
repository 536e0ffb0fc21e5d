//! The one place where failures become gRPC statuses, so every RPC reports
//! the same failure the same way.

use tonic::{Code, Status};

use crate::store::StoreError;

/// A request field that failed validation: `field` is its path in the
/// request (e.g. `log.context`), `reason` says what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Path of the field, e.g. `log.message` or `filter.since`.
    pub field: String,
    /// What is wrong with it.
    pub reason: String,
}

impl FieldError {
    /// A failure of `field`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The same failure, with `prefix.` in front of the field path.
    pub fn within(self, prefix: &str) -> Self {
        FieldError {
            field: if self.field.is_empty() {
                prefix.to_string()
            } else {
                format!("{prefix}.{}", self.field)
            },
            reason: self.reason,
        }
    }
}

impl From<FieldError> for Status {
    fn from(e: FieldError) -> Self {
        Status::invalid_argument(format!("{}: {}", e.field, e.reason))
    }
}

impl From<StoreError> for Status {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(detail) => {
                tracing::warn!(%detail, "database unavailable");
                Status::new(
                    Code::Unavailable,
                    "the database is unavailable; retry with backoff",
                )
            }
            other => {
                tracing::error!(error = %other, source = ?std::error::Error::source(&other), "storage failure");
                Status::internal(format!("storage failure: {other}"))
            }
        }
    }
}

/// NOT_FOUND for `what` (e.g. "log 0190…").
pub fn not_found(what: impl std::fmt::Display) -> Status {
    Status::not_found(format!("{what} not found"))
}
