//! The one place where failures become gRPC statuses, so every RPC reports
//! the same failure the same way. Handlers, the auth layer and the request
//! timeout fail with an [`ApiError`]; `Status::from(ApiError)` is the only
//! conversion. Each status carries google.rpc details (`tonic-types`) a
//! client can act on without reading the message: `ErrorInfo` always (a
//! stable `reason`, domain [`DOMAIN`], and metadata such as the limit's
//! value and the flag that sets it), `BadRequest` for an invalid field,
//! `ResourceInfo` for NOT_FOUND, `PreconditionFailure` for a missing
//! confirmation, and `RetryInfo` when the same request may pass later
//! (UNAVAILABLE, RESOURCE_EXHAUSTED of a concurrency limit, ABORTED).

use std::{collections::HashMap, time::Duration};

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::store::StoreError;

/// The `ErrorInfo.domain` of every diagd error.
pub const DOMAIN: &str = "diagd";

/// How long a client should wait before retrying a request that may pass
/// later (a limit that frees up, a lost race, an unavailable database).
const RETRY_AFTER: Duration = Duration::from_secs(1);

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

/// A limit a request ran into: which one, its value, and the flag that
/// sets it (when one does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    /// The stable reason, e.g. `STREAM_LIMIT`.
    pub reason: &'static str,
    /// The limit's value.
    pub value: u64,
    /// The command-line flag that sets it, e.g. `--max-streams`.
    pub flag: Option<&'static str>,
}

/// Every way an RPC fails, as the client will see it.
#[derive(Debug)]
pub enum ApiError {
    /// A request field is invalid: INVALID_ARGUMENT with `BadRequest`.
    Field(FieldError),
    /// The request is not a valid protobuf message: INVALID_ARGUMENT.
    Malformed(String),
    /// A limit was reached: RESOURCE_EXHAUSTED. `retry` when waiting frees
    /// it (a concurrency limit), not when the request itself is too large.
    LimitExceeded {
        /// Which limit.
        limit: Limit,
        /// What happened and what to do.
        message: String,
        /// Whether the same request may pass later.
        retry: bool,
    },
    /// NOT_FOUND with `ResourceInfo`.
    NotFound {
        /// `log` or `report`.
        resource_type: &'static str,
        /// Its id.
        name: String,
        /// The message (says how it went missing when that is known).
        message: String,
    },
    /// FAILED_PRECONDITION with `PreconditionFailure`: the request must be
    /// changed (e.g. confirmed) before it can succeed.
    Precondition {
        /// The stable reason, e.g. `CONFIRMATION_REQUIRED`.
        reason: &'static str,
        /// The field or thing that must change.
        subject: &'static str,
        /// What to do.
        message: String,
    },
    /// ABORTED: the request lost a race or was ended by another; retrying
    /// it is safe.
    Aborted {
        /// The stable reason, e.g. `CLEARED_DURING_READ`.
        reason: &'static str,
        /// What happened.
        message: String,
    },
    /// UNAVAILABLE: diagd is stopping; retry (against another replica).
    ShuttingDown {
        /// What to do again, e.g. `search`.
        again: &'static str,
    },
    /// DEADLINE_EXCEEDED: something took longer than a limit allows.
    Deadline {
        /// Which limit (`REQUEST_TIMEOUT`, `READ_TIMEOUT`, `STREAM_STALLED`).
        limit: Limit,
        /// What happened and what to do.
        message: String,
    },
    /// UNAUTHENTICATED: no token, or not a known one.
    Unauthenticated {
        /// `TOKEN_MISSING` or `TOKEN_INVALID`.
        reason: &'static str,
        /// What to send.
        message: String,
    },
    /// PERMISSION_DENIED: the token's role may not call this method.
    PermissionDenied {
        /// The method called.
        method: String,
        /// The roles that may.
        allowed: Vec<&'static str>,
        /// The token's role.
        role: &'static str,
    },
    /// The store failed (unavailable, conflict, timeout, or worse).
    Storage(StoreError),
    /// A failure of diagd itself: INTERNAL.
    Internal(String),
    /// A status already made — by tonic (a client stream that failed) or
    /// by an earlier conversion — passed on as it is.
    Passed(Status),
    /// Another failure with `context` (e.g. `batch 3`) in front of its
    /// message; the details stay those of the failure.
    Within {
        /// What the failure concerns.
        context: String,
        /// The failure.
        error: Box<ApiError>,
    },
}

impl ApiError {
    /// RESOURCE_EXHAUSTED for a concurrency limit (retry later).
    pub fn busy(limit: Limit, message: String) -> ApiError {
        ApiError::LimitExceeded {
            limit,
            message,
            retry: true,
        }
    }

    /// NOT_FOUND for the `resource_type` with id `name`.
    pub fn not_found(resource_type: &'static str, name: impl std::fmt::Display) -> ApiError {
        let name = name.to_string();
        ApiError::NotFound {
            message: format!("{resource_type} {name} not found"),
            resource_type,
            name,
        }
    }

    /// The same failure with `context` (e.g. `batch 3`) in front of its
    /// message.
    pub fn within(self, context: impl Into<String>) -> ApiError {
        ApiError::Within {
            context: context.into(),
            error: Box::new(self),
        }
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        ApiError::Field(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Storage(e)
    }
}

/// `ErrorInfo` metadata naming a limit.
fn limit_metadata(limit: &Limit) -> HashMap<String, String> {
    let mut metadata = HashMap::from([("limit".to_string(), limit.value.to_string())]);
    if let Some(flag) = limit.flag {
        metadata.insert("flag".into(), flag.into());
    }
    metadata
}

/// The code, message and details of `error`.
fn parts(error: ApiError) -> (Code, String, ErrorDetails) {
    let mut details = ErrorDetails::new();
    let info = |details: &mut ErrorDetails, reason: &str, metadata: HashMap<String, String>| {
        details.set_error_info(reason, DOMAIN, metadata);
    };
    let retry = |details: &mut ErrorDetails| {
        details.set_retry_info(Some(RETRY_AFTER));
    };
    let (code, message) = match error {
        ApiError::Field(e) => {
            details.add_bad_request_violation(&e.field, &e.reason);
            info(
                &mut details,
                "FIELD_INVALID",
                HashMap::from([("field".to_string(), e.field.clone())]),
            );
            (Code::InvalidArgument, format!("{}: {}", e.field, e.reason))
        }
        ApiError::Malformed(message) => {
            info(&mut details, "REQUEST_MALFORMED", HashMap::new());
            (Code::InvalidArgument, message)
        }
        ApiError::LimitExceeded {
            limit,
            message,
            retry: may_retry,
        } => {
            info(&mut details, limit.reason, limit_metadata(&limit));
            if may_retry {
                retry(&mut details);
            }
            (Code::ResourceExhausted, message)
        }
        ApiError::NotFound {
            resource_type,
            name,
            message,
        } => {
            details.set_resource_info(resource_type, &name, "", "");
            info(
                &mut details,
                "NOT_FOUND",
                HashMap::from([
                    ("resource_type".to_string(), resource_type.to_string()),
                    ("resource_name".to_string(), name),
                ]),
            );
            (Code::NotFound, message)
        }
        ApiError::Precondition {
            reason,
            subject,
            message,
        } => {
            details.add_precondition_failure_violation(reason, subject, &message);
            info(&mut details, reason, HashMap::new());
            (Code::FailedPrecondition, message)
        }
        ApiError::Aborted { reason, message } => {
            info(&mut details, reason, HashMap::new());
            retry(&mut details);
            (Code::Aborted, message)
        }
        ApiError::ShuttingDown { again } => {
            info(&mut details, "SHUTTING_DOWN", HashMap::new());
            retry(&mut details);
            (
                Code::Unavailable,
                format!("diagd is shutting down; {again} again"),
            )
        }
        ApiError::Deadline { limit, message } => {
            info(&mut details, limit.reason, limit_metadata(&limit));
            (Code::DeadlineExceeded, message)
        }
        ApiError::Unauthenticated { reason, message } => {
            info(&mut details, reason, HashMap::new());
            (Code::Unauthenticated, message)
        }
        ApiError::PermissionDenied {
            method,
            allowed,
            role,
        } => {
            let message = format!(
                "{method} needs a token of role {}; this token's role is {role}",
                allowed.join(" or ")
            );
            info(
                &mut details,
                "ROLE_NOT_ALLOWED",
                HashMap::from([
                    ("method".to_string(), method),
                    ("allowed_roles".to_string(), allowed.join(",")),
                    ("role".to_string(), role.to_string()),
                ]),
            );
            (Code::PermissionDenied, message)
        }
        ApiError::Storage(e) => return storage_parts(e),
        ApiError::Internal(message) => {
            info(&mut details, "INTERNAL", HashMap::new());
            (Code::Internal, message)
        }
        // (Converted by `From<ApiError> for Status` itself.)
        ApiError::Within { .. } | ApiError::Passed(_) => {
            unreachable!("converted before its parts are asked for")
        }
    };
    (code, message, details)
}

/// The code, message and details of a storage failure.
fn storage_parts(e: StoreError) -> (Code, String, ErrorDetails) {
    let mut details = ErrorDetails::new();
    let (code, reason, message) = match e {
        StoreError::Unavailable(detail) => {
            tracing::warn!(?detail, "database unavailable");
            details.set_retry_info(Some(RETRY_AFTER));
            (
                Code::Unavailable,
                "DATABASE_UNAVAILABLE",
                "the database is unavailable; retry with backoff".to_string(),
            )
        }
        StoreError::Conflict(detail) => {
            tracing::info!(
                ?detail,
                "transaction conflict; the client is asked to retry"
            );
            details.set_retry_info(Some(Duration::from_millis(100)));
            (
                Code::Aborted,
                "WRITE_CONFLICT",
                format!(
                    "the write lost a race with a concurrent one and was rolled back ({detail}); \
                     nothing of it was stored: retry"
                ),
            )
        }
        StoreError::Timeout(detail) => {
            tracing::info!(%detail, "a read hit the statement timeout");
            (
                Code::DeadlineExceeded,
                "READ_TIMEOUT",
                "the query ran longer than diagd's read statement timeout \
                 (--db-read-statement-timeout-secs) and was stopped; narrow the filters or the \
                 search terms"
                    .to_string(),
            )
        }
        other => {
            // Debug formatting: a database error may quote what a client sent.
            tracing::error!(error = ?other.to_string(), source = ?std::error::Error::source(&other), "storage failure");
            (
                Code::Internal,
                "STORAGE_FAILURE",
                format!("storage failure: {other}"),
            )
        }
    };
    let mut metadata = HashMap::new();
    if reason == "READ_TIMEOUT" {
        metadata.insert(
            "flag".to_string(),
            "--db-read-statement-timeout-secs".to_string(),
        );
    }
    details.set_error_info(reason, DOMAIN, metadata);
    (code, message, details)
}

impl From<ApiError> for Status {
    fn from(error: ApiError) -> Self {
        match error {
            ApiError::Passed(status) => status,
            ApiError::Within { context, error } => status_within(Status::from(*error), &context),
            error => {
                let (code, message, details) = parts(error);
                Status::with_error_details(code, message, details)
            }
        }
    }
}

impl From<FieldError> for Status {
    fn from(e: FieldError) -> Self {
        ApiError::Field(e).into()
    }
}

impl From<StoreError> for Status {
    fn from(e: StoreError) -> Self {
        ApiError::Storage(e).into()
    }
}

/// INVALID_ARGUMENT for bytes that are not a valid `message` (truncated,
/// garbage, invalid UTF-8 in a string field, nested too deep). The codec is
/// shared with diagd's own client commands, where the message is a response.
pub fn undecodable(message: String, error: &prost::DecodeError) -> ApiError {
    let role = if message.ends_with("Request") {
        "the request is"
    } else {
        "the message received is"
    };
    ApiError::Malformed(format!(
        "{role} not a valid {message} protobuf message: {error}"
    ))
}

/// A status from tonic's decoding — before a unary handler ran, or from a
/// stream's next message — made consistent with diagd's own: a message over
/// `--max-message-bytes` is RESOURCE_EXHAUSTED (tonic says OUT_OF_RANGE)
/// with a hint and `MESSAGE_TOO_LARGE`; anything else is left as is.
pub fn transport_status(status: Status, max_message_bytes: usize) -> Status {
    if status.code() == Code::OutOfRange && status.message().contains("message length too large") {
        return ApiError::LimitExceeded {
            limit: Limit {
                reason: "MESSAGE_TOO_LARGE",
                value: max_message_bytes as u64,
                flag: Some("--max-message-bytes"),
            },
            message: format!(
                "the request message is larger than the server's limit of {max_message_bytes} bytes \
                 (--max-message-bytes); split it into smaller messages (e.g. smaller IngestLogs \
                 batches) — nothing of that message was stored ({})",
                status.message()
            ),
            retry: false,
        }
        .into();
    }
    status
}

/// `status` with `context` in front of its message, its details kept.
pub fn status_within(status: Status, context: &str) -> Status {
    let message = format!("{context}: {}", status.message());
    with_message(status, message)
}

/// `status` with `message` instead of its own, its details kept. The
/// details (a google.rpc.Status) repeat the code and the message, so they
/// are rebuilt with the new one rather than copied.
fn with_message(status: Status, message: String) -> Status {
    if status.details().is_empty() {
        return Status::new(status.code(), message);
    }
    Status::with_error_details(status.code(), message, status.get_error_details())
}

/// `status` with `; note` after its message, its details kept.
pub fn status_followed_by(status: Status, note: &str) -> Status {
    let message = format!("{}; {note}", status.message());
    with_message(status, message)
}

/// Applies [`transport_status`] to a trailers-only response (how tonic
/// answers a request it refused before the handler ran).
pub fn rewrite_transport_status<B>(
    mut response: http::Response<B>,
    max_message_bytes: usize,
) -> http::Response<B> {
    if let Some(status) = Status::from_header_map(response.headers())
        && status.code() == Code::OutOfRange
    {
        let mapped = transport_status(status, max_message_bytes);
        let _ = mapped.add_header(response.headers_mut());
    }
    response
}

/// DEADLINE_EXCEEDED for a stream whose client read nothing for `stall`:
/// the stream was ended to free what it held (a database connection, a
/// stream slot).
pub fn stream_stalled(stall: Duration) -> ApiError {
    ApiError::Deadline {
        limit: Limit {
            reason: "STREAM_STALLED",
            value: stall.as_secs(),
            flag: Some("--stream-stall-secs"),
        },
        message: format!(
            "the client read nothing for {} s (--stream-stall-secs), so the stream was ended to \
             free its database connection; read the stream as it arrives, then request again",
            stall.as_secs()
        ),
    }
}

/// The failure of a read stream: ABORTED when a full ClearLogs ended it
/// (`ended_before`/`ended_after`: the store's count of readers ended by
/// clears when the stream started and when it failed), otherwise the
/// storage failure itself.
pub fn read_stream_failed(
    error: StoreError,
    ended_before: u64,
    ended_after: u64,
    again: &str,
) -> ApiError {
    if matches!(error, StoreError::Unavailable(_)) && ended_after != ended_before {
        return ApiError::Aborted {
            reason: "CLEARED_DURING_READ",
            message: format!(
                "a full ClearLogs ended this stream: the logs it was reading were deleted; {again} again"
            ),
        };
    }
    error.into()
}
