//! diagd's own metrics, for Prometheus: one process-wide registry
//! ([`METRICS`], `prometheus-client`) that every part of diagd may count
//! into — it depends on nothing of diagd's, so any layer can. The `/metrics`
//! endpoint that prints it (`--metrics-listen`) is `server::metrics`.
//!
//! Counted where they happen: requests by RPC and status code with their
//! latency (`api` for every handler, `auth` for refused tokens,
//! `request_timeout` for requests it ends), logs ingested / rejected /
//! duplicates (`api::ingest`), live-tail deliveries dropped (`workers::tail`),
//! retention deletions, stack traces cleaned up, embedded PostgreSQL
//! restarts. Set by the endpoint when scraped: live-tail subscribers and the
//! connections of each pool (in use, idle, waiting) and, with a standby,
//! its lag and whether it takes reads; and whether the embedded PostgreSQL
//! is up, by its supervision.

use std::{
    sync::{LazyLock, Mutex, Once},
    time::Duration,
};

use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};

/// The labels of a finished request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The RPC, e.g. `ReportError`.
    pub method: &'static str,
    /// Its gRPC status code, e.g. `OK`, `INVALID_ARGUMENT`.
    pub code: &'static str,
}

/// The labels of a latency.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabels {
    /// The RPC.
    pub method: &'static str,
}

/// The labels of a connection-pool gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PoolLabels {
    /// `write` or `read`.
    pub pool: &'static str,
    /// `in_use`, `idle` or `waiting` (callers waiting for a connection).
    pub state: &'static str,
}

/// Everything diagd counts about itself.
pub struct Metrics {
    /// What `/metrics` prints (behind a lock only to register the embedded
    /// cluster's gauge once there is one).
    registry: Mutex<Registry>,
    /// Finished requests by RPC and status code.
    pub requests: Family<RequestLabels, Counter>,
    /// Time to answer (a server stream: to start answering), by RPC.
    pub request_seconds: Family<MethodLabels, Histogram>,
    /// Logs stored.
    pub logs_ingested: Counter,
    /// Logs refused by validation.
    pub logs_rejected: Counter,
    /// Logs sent again under an event id already stored.
    pub logs_duplicate: Counter,
    /// Live-tail subscribers now (read when scraped).
    pub live_subscribers: Gauge,
    /// Logs not delivered to a live-tail subscriber whose queue was full.
    pub live_dropped: Counter,
    /// Database connections by pool and state (read when scraped).
    pub db_connections: Family<PoolLabels, Gauge>,
    /// Logs deleted by retention.
    pub retention_deleted: Counter,
    /// Stack traces removed once no log referred to them.
    pub traces_removed: Counter,
    /// 1 while the embedded PostgreSQL answers, 0 while it is down (absent
    /// with an external database).
    pub embedded_postgres_up: Gauge,
    /// Times the embedded PostgreSQL was found dead and restarted.
    pub embedded_postgres_restarts: Counter,
    /// The standby's lag at its last check, in seconds (absent without a
    /// standby).
    pub standby_lag_seconds: Gauge<f64, std::sync::atomic::AtomicU64>,
    /// 1 while the standby takes reads, 0 while they go to the primary.
    pub standby_in_use: Gauge,
    /// Alerts written to the outbox.
    pub alerts: Counter,
    /// Alerts not written because the outbox was full.
    pub alerts_dropped: Counter,
    /// Alert delivery attempts by what followed (delivered, pending,
    /// failed).
    pub alert_attempts: Family<AttemptLabels, Counter>,
}

/// The labels of an alert delivery attempt.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AttemptLabels {
    /// `delivered`, `pending` (to be retried) or `failed`.
    pub state: &'static str,
}

/// The process's metrics.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// Whether the embedded cluster's gauge is registered.
static EMBEDDED_REGISTERED: Once = Once::new();

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("diagd");
        let metrics = Metrics {
            requests: Family::default(),
            request_seconds: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.001, 2.0, 16))
            }),
            logs_ingested: Counter::default(),
            logs_rejected: Counter::default(),
            logs_duplicate: Counter::default(),
            live_subscribers: Gauge::default(),
            live_dropped: Counter::default(),
            db_connections: Family::default(),
            retention_deleted: Counter::default(),
            traces_removed: Counter::default(),
            embedded_postgres_up: Gauge::default(),
            embedded_postgres_restarts: Counter::default(),
            standby_lag_seconds: Gauge::default(),
            standby_in_use: Gauge::default(),
            alerts: Counter::default(),
            alerts_dropped: Counter::default(),
            alert_attempts: Family::default(),
            registry: Mutex::new(Registry::default()),
        };
        registry.register(
            "requests",
            "gRPC requests answered, by RPC and status code",
            metrics.requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time to answer a gRPC request (a server stream: to start answering), by RPC",
            metrics.request_seconds.clone(),
        );
        registry.register(
            "logs_ingested",
            "Logs stored",
            metrics.logs_ingested.clone(),
        );
        registry.register(
            "logs_rejected",
            "Logs refused by validation",
            metrics.logs_rejected.clone(),
        );
        registry.register(
            "logs_duplicate",
            "Logs sent again under an event_id already stored",
            metrics.logs_duplicate.clone(),
        );
        registry.register(
            "live_subscribers",
            "Live-tail subscribers now",
            metrics.live_subscribers.clone(),
        );
        registry.register(
            "live_dropped",
            "Logs not delivered to a live-tail subscriber whose queue was full",
            metrics.live_dropped.clone(),
        );
        registry.register(
            "db_connections",
            "Database connections by pool (write, read) and state (in_use, idle, waiting)",
            metrics.db_connections.clone(),
        );
        registry.register(
            "retention_deleted",
            "Logs deleted by retention",
            metrics.retention_deleted.clone(),
        );
        registry.register(
            "stack_traces_removed",
            "Stack traces removed once no log referred to them",
            metrics.traces_removed.clone(),
        );
        registry.register(
            "embedded_postgres_restarts",
            "Times the embedded PostgreSQL was found dead and restarted",
            metrics.embedded_postgres_restarts.clone(),
        );
        registry.register(
            "alerts",
            "Alerts made by alert rules",
            metrics.alerts.clone(),
        );
        registry.register(
            "alerts_dropped",
            "Alerts not made because the outbox was full (counted into the next alert of their key)",
            metrics.alerts_dropped.clone(),
        );
        registry.register(
            "alert_attempts",
            "Alert delivery attempts, by what followed (delivered, pending: retried later, failed)",
            metrics.alert_attempts.clone(),
        );
        Metrics {
            registry: Mutex::new(registry),
            ..metrics
        }
    }

    /// Counts a request of `method` answered with `code` after `elapsed`
    /// (`None`: refused before it ran, e.g. for its token — counted, but
    /// kept out of the latencies).
    pub fn request(&self, method: &'static str, code: tonic::Code, elapsed: Option<Duration>) {
        self.requests
            .get_or_create(&RequestLabels {
                method,
                code: code_name(code),
            })
            .inc();
        if let Some(elapsed) = elapsed {
            self.request_seconds
                .get_or_create(&MethodLabels { method })
                .observe(elapsed.as_secs_f64());
        }
    }

    /// Counts alerts made.
    pub fn alerts_made(&self, count: u64) {
        self.alerts.inc_by(count);
    }

    /// Counts alerts dropped for a full outbox.
    pub fn alerts_dropped(&self, count: u64) {
        self.alerts_dropped.inc_by(count);
    }

    /// Counts a delivery attempt followed by `state`.
    pub fn alert_attempt(&self, state: &'static str) {
        self.alert_attempts
            .get_or_create(&AttemptLabels { state })
            .inc();
    }

    /// Marks the embedded PostgreSQL as supervised (its gauge is printed
    /// from now on) and up or down.
    pub fn embedded_postgres(&self, up: bool) {
        EMBEDDED_REGISTERED.call_once(|| {
            self.registry().register(
                "embedded_postgres_up",
                "1 while the embedded PostgreSQL answers, 0 while it is down",
                self.embedded_postgres_up.clone(),
            );
        });
        self.embedded_postgres_up.set(i64::from(up));
    }

    /// Sets the standby's gauges (printed from the first call on): its lag
    /// and whether it takes reads.
    pub fn standby(&self, lag: Duration, in_use: bool) {
        static REGISTERED: Once = Once::new();
        REGISTERED.call_once(|| {
            let mut registry = self.registry();
            registry.register(
                "standby_lag_seconds",
                "How far the standby's data was behind the primary's at its last check",
                self.standby_lag_seconds.clone(),
            );
            registry.register(
                "standby_in_use",
                "1 while the standby takes reads, 0 while they go to the primary (down or lagging)",
                self.standby_in_use.clone(),
            );
        });
        self.standby_lag_seconds.set(lag.as_secs_f64());
        self.standby_in_use.set(i64::from(in_use));
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The registry as OpenMetrics text (gauges as last set: the endpoint
    /// sets the ones read on demand just before).
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut text, &self.registry());
        text
    }
}

/// The canonical name of a gRPC code, as in the gRPC specification.
fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// The RPCs of `diagnostics.v1.DiagnosticsService`, and `OtlpExport` for
/// OTLP's logs Export (gRPC and HTTP): the only values of the `method` label
/// besides `other`, whatever paths clients send.
const METHODS: [&str; 35] = [
    "ReportError",
    "IngestLogs",
    "ListLogs",
    "GetLog",
    "SearchLogs",
    "SubscribeLogs",
    "GetStats",
    "GenerateReport",
    "GetReport",
    "ListReports",
    "DownloadReport",
    "DeleteReport",
    "ExportLogs",
    "ClearLogs",
    "GetDebugMode",
    "SetDebugMode",
    "WatchDebugMode",
    "RecordAction",
    "ListGroups",
    "GetGroup",
    "UpdateGroup",
    "MergeGroups",
    "SplitGroup",
    "Heartbeat",
    "ListRuns",
    "GetRun",
    "WatchRuns",
    "CreateAlertRule",
    "ListAlertRules",
    "UpdateAlertRule",
    "DeleteAlertRule",
    "TestAlertRule",
    "ListAlertDeliveries",
    "GetAccess",
    "OtlpExport",
];

/// The RPC of a request path (`/diagnostics.v1.DiagnosticsService/X` →
/// `X`) for requests answered before a handler ran; `other` for any path
/// that is not one of the service's RPCs (a client cannot add label values).
pub fn method_of(path: &str) -> &'static str {
    if path == crate::server::auth::OTLP_LOGS_PATH {
        return "OtlpExport";
    }
    path.strip_prefix("/diagnostics.v1.DiagnosticsService/")
        .and_then(|name| METHODS.iter().find(|m| **m == name))
        .copied()
        .unwrap_or("other")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_services_rpcs_become_method_labels() {
        assert_eq!(
            method_of("/diagnostics.v1.DiagnosticsService/ReportError"),
            "ReportError"
        );
        for path in [
            "/diagnostics.v1.DiagnosticsService/Nope",
            "/diagnostics.v1.DiagnosticsService/x\",code=\"OK",
            "/grpc.health.v1.Health/Check",
            "/",
        ] {
            assert_eq!(method_of(path), "other", "{path}");
        }
    }
}
