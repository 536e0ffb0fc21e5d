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
                tracing::warn!(?detail, "database unavailable");
                Status::new(
                    Code::Unavailable,
                    "the database is unavailable; retry with backoff",
                )
            }
            StoreError::Conflict(detail) => {
                tracing::info!(
                    ?detail,
                    "transaction conflict; the client is asked to retry"
                );
                Status::aborted(format!(
                    "the write lost a race with a concurrent one and was rolled back ({detail}); \
                     nothing of it was stored: retry"
                ))
            }
            StoreError::Timeout(detail) => {
                tracing::info!(%detail, "a read hit the statement timeout");
                Status::deadline_exceeded(
                    "the query ran longer than diagd's read statement timeout \
                     (--db-read-statement-timeout-secs) and was stopped; narrow the filters or the \
                     search terms",
                )
            }
            other => {
                // Debug formatting: a database error may quote what a client sent.
                tracing::error!(error = ?other.to_string(), source = ?std::error::Error::source(&other), "storage failure");
                Status::internal(format!("storage failure: {other}"))
            }
        }
    }
}

/// INVALID_ARGUMENT for bytes that are not a valid `message` (truncated,
/// garbage, invalid UTF-8 in a string field, nested too deep). The codec is
/// shared with diagd's own client commands, where the message is a response.
pub fn undecodable(message: String, error: &prost::DecodeError) -> Status {
    let role = if message.ends_with("Request") {
        "the request is"
    } else {
        "the message received is"
    };
    Status::invalid_argument(format!(
        "{role} not a valid {message} protobuf message: {error}"
    ))
}

/// A status from tonic's decoding — before a unary handler ran, or from a
/// stream's next message — made consistent with diagd's own: a message over
/// `--max-message-bytes` is RESOURCE_EXHAUSTED (tonic says OUT_OF_RANGE)
/// with a hint; anything else is left as is.
pub fn transport_status(status: Status, max_message_bytes: usize) -> Status {
    if status.code() == Code::OutOfRange && status.message().contains("message length too large") {
        return Status::resource_exhausted(format!(
            "the request message is larger than the server's limit of {max_message_bytes} bytes \
             (--max-message-bytes); split it into smaller messages (e.g. smaller IngestLogs \
             batches) — nothing of that message was stored ({})",
            status.message()
        ));
    }
    status
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

/// NOT_FOUND for `what` (e.g. "log 0190…").
pub fn not_found(what: impl std::fmt::Display) -> Status {
    Status::not_found(format!("{what} not found"))
}

/// DEADLINE_EXCEEDED for a stream whose client read nothing for `stall`:
/// the stream was ended to free what it held (a database connection, a
/// stream slot).
pub fn stream_stalled(stall: std::time::Duration) -> Status {
    Status::deadline_exceeded(format!(
        "the client read nothing for {} s (--stream-stall-secs), so the stream was ended to free \
         its database connection; read the stream as it arrives, then request again",
        stall.as_secs()
    ))
}

/// UNAVAILABLE for a stream ended by shutdown.
pub fn shutting_down(again: &str) -> Status {
    Status::unavailable(format!("diagd is shutting down; {again} again"))
}

/// The status of a read stream that failed: ABORTED when a full ClearLogs
/// ended it (`ended_before`/`ended_after`: the store's count of readers
/// ended by clears when the stream started and when it failed), otherwise
/// the storage failure's own status.
pub fn read_stream_failed(
    error: StoreError,
    ended_before: u64,
    ended_after: u64,
    again: &str,
) -> Status {
    if matches!(error, StoreError::Unavailable(_)) && ended_after != ended_before {
        return Status::aborted(format!(
            "a full ClearLogs ended this stream: the logs it was reading were deleted; {again} again"
        ));
    }
    error.into()
}
