//! diagd's own logging: tracing-subscriber with an EnvFilter behind a reload
//! handle (so the level can change at run time), human or JSON output on
//! stderr; colour only on a terminal and never with NO_COLOR set; and how a
//! failed request is logged. Text a client sent is only ever logged as a
//! field with Debug formatting (`?value`: quoted, newlines and control
//! characters escaped), never raw, so it cannot forge a log line.

use std::io::IsTerminal;

use tracing_subscriber::{EnvFilter, fmt, layer::SubscriberExt, reload, util::SubscriberInitExt};

use crate::config::LogFormat;

/// Changes the active log filter while diagd runs.
pub type FilterHandle = reload::Handle<EnvFilter, tracing_subscriber::Registry>;

/// Installs the global subscriber. Fails when `filter` is not a valid
/// EnvFilter directive.
pub fn init(format: LogFormat, filter: &str) -> Result<FilterHandle, String> {
    let filter =
        EnvFilter::try_new(filter).map_err(|e| format!("invalid log filter {filter:?}: {e}"))?;
    let (filter, handle) = reload::Layer::new(filter);
    let registry = tracing_subscriber::registry().with(filter);
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let result = match format {
        LogFormat::Human => registry
            .with(fmt::layer().with_ansi(colour).with_writer(std::io::stderr))
            .try_init(),
        LogFormat::Json => registry
            .with(fmt::layer().json().with_writer(std::io::stderr))
            .try_init(),
    };
    result.map_err(|e| format!("installing the log subscriber: {e}"))?;
    Ok(handle)
}

/// Logs a failed gRPC request (the `on_failure` of the request trace
/// layer). A client's mistake (INVALID_ARGUMENT, NOT_FOUND, PERMISSION_DENIED,
/// RESOURCE_EXHAUSTED, …) is logged at debug level: the client got the
/// answer, and it is no problem of diagd's. UNAVAILABLE is a warning, and
/// only a failure of diagd itself (INTERNAL, UNKNOWN, DATA_LOSS,
/// UNIMPLEMENTED) an error. The status message often quotes what the client
/// sent, so it is logged with Debug formatting (quoted, newlines and control
/// characters escaped): a client cannot forge a line of diagd's log.
pub fn log_grpc_failure(
    failure: tower_http::classify::GrpcFailureClass,
    latency: std::time::Duration,
    _span: &tracing::Span,
) {
    use tower_http::classify::{GrpcCode, GrpcFailureClass};
    let latency_ms = latency.as_millis() as u64;
    match failure {
        GrpcFailureClass::Status(status) => {
            let detail = status.message().unwrap_or_default();
            match status.code() {
                Some(
                    code @ (GrpcCode::Internal
                    | GrpcCode::Unknown
                    | GrpcCode::DataLoss
                    | GrpcCode::Unimplemented),
                ) => tracing::error!(?code, ?detail, latency_ms, "request failed"),
                None => tracing::error!(
                    code = status.code_raw(),
                    ?detail,
                    latency_ms,
                    "request failed"
                ),
                Some(code @ GrpcCode::Unavailable) => {
                    tracing::warn!(?code, ?detail, latency_ms, "request failed")
                }
                Some(code) => tracing::debug!(?code, ?detail, latency_ms, "request refused"),
            }
        }
        GrpcFailureClass::Error(error) => {
            tracing::warn!(?error, latency_ms, "request failed")
        }
        other => tracing::warn!(failure = ?other.to_string(), latency_ms, "request failed"),
    }
}
