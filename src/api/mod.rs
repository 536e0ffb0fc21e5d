//! The gRPC service: converts requests to domain types (validating every
//! field), calls the store, converts the answers back. One file per group of
//! RPCs (`ingest`, `query`, `search`, `tail`, `reports`, `export`, `admin`, `groups`,
//! `actions`, `runs`, `alerts`), and `otlp` for OpenTelemetry's LogsService/Export; every RPC of the contract is implemented. Handlers fail with
//! an [`error::ApiError`]; the trait implementation below turns it into a
//! `Status` (with its google.rpc details) and counts the request in diagd's
//! metrics. Shared: validation and conversion (`convert`, `page_token`),
//! admission (`admission`: how many requests at once), request size limits (`limits`), stream plumbing (`streaming`), the codec
//! (`codec`) and the live tail's pre-encoded message (`tail_message`).

mod actions;
mod admin;
pub mod admission;
mod alerts;
pub mod codec;
mod convert;
pub mod error;
mod export;
#[cfg(any(test, feature = "testing"))]
pub mod fuzz;
mod groups;
mod ingest;
pub mod limits;
pub mod otlp;
mod page_token;
pub mod pb;
mod query;
mod reports;
mod runs;
mod search;
mod streaming;
mod tail;
pub mod tail_message;

use std::{path::PathBuf, pin::Pin, sync::Arc};

use tokio::sync::watch;
use tokio_stream::Stream;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status, Streaming};

use crate::{
    domain::{DebugMode, fingerprint::GroupingOptions, scrub::Scrubber},
    store::Store,
    workers::alerts::Alerts,
    workers::retention::Retention,
    workers::runs::RunWatch,
    workers::tail::Hub,
};
use pb::diagnostics_service_server::{DiagnosticsService, DiagnosticsServiceServer};

pub use alerts::apply_rules_file;
pub use convert::{
    from_wire::new_log,
    json_to_struct,
    to_wire::{error_type_to_proto, log_filter_to_proto, severity_to_proto, timestamp_to_proto},
};

/// A server-streaming response.
type ResponseStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// Settings the RPCs need beyond the store.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// How many recorded actions are kept per source (host, run, component).
    pub actions_per_source: usize,
    /// Where ClearLogs writes its `export_first` exports.
    pub export_dir: PathBuf,
    /// diagd's effective configuration, secrets redacted, for reports.
    pub configuration: serde_json::Value,
    /// Directories whose disks reports describe (data, database).
    pub disk_paths: Vec<PathBuf>,
    /// Replaces secret-looking values before storage.
    pub scrubber: Scrubber,
    /// Which frames of a traceback count for its fingerprint.
    pub grouping: GroupingOptions,
    /// Concurrency limits for ingest and streams.
    pub admission: admission::Limits,
    /// Longest a search or export stream waits for its client to read
    /// before it is ended (freeing its database connection).
    pub stream_stall: std::time::Duration,
    /// Largest request message (`--max-message-bytes`; set by the server
    /// from its own option), named when a stream's message is over it.
    pub max_message_bytes: usize,
    /// The OTLP severity number from which OTLP records are stored while
    /// debug mode is off (`--otlp-min-severity`; 13: WARN).
    pub otlp_min_severity: i32,
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            actions_per_source: 1000,
            export_dir: std::env::temp_dir().join("diagd-exports"),
            configuration: serde_json::json!({}),
            disk_paths: vec![std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"))],
            scrubber: Scrubber::default(),
            grouping: GroupingOptions::default(),
            admission: admission::Limits::default(),
            stream_stall: std::time::Duration::from_secs(30),
            max_message_bytes: 16 * 1024 * 1024,
            otlp_min_severity: convert::otlp::DEFAULT_MIN_SEVERITY,
        }
    }
}

/// What the RPCs use of the background workers.
pub struct WorkerHandles {
    /// The live-tail fan-out.
    pub hub: Hub,
    /// What retention has done.
    pub retention: Retention,
    /// Run state changes, for WatchRuns.
    pub runs: RunWatch,
    /// The alert sender, for TestAlertRule.
    pub alerts: Alerts,
}

/// The implementation of `diagnostics.v1.DiagnosticsService`.
#[derive(Clone)]
pub struct DiagnosticsApi {
    /// Where logs live.
    store: Store,
    /// Settings.
    settings: Arc<ApiSettings>,
    /// Debug mode as followed by `workers::debug_mode::follow`.
    debug_mode: watch::Receiver<DebugMode>,
    /// Cancelled when the server shuts down; ends open streams.
    shutdown: CancellationToken,
    /// The live-tail fan-out.
    hub: Hub,
    /// What retention has done.
    retention: Retention,
    /// Run state changes, for WatchRuns.
    runs: RunWatch,
    /// The alert sender, for TestAlertRule.
    alerts: Alerts,
}

impl DiagnosticsApi {
    /// The service over `store`, using the background workers' handles.
    pub fn new(
        store: Store,
        settings: ApiSettings,
        debug_mode: watch::Receiver<DebugMode>,
        workers: WorkerHandles,
        shutdown: CancellationToken,
    ) -> Self {
        DiagnosticsApi {
            store,
            settings: Arc::new(settings),
            debug_mode,
            shutdown,
            hub: workers.hub,
            retention: workers.retention,
            runs: workers.runs,
            alerts: workers.alerts,
        }
    }

    /// The tonic server for this service, accepting requests of up to
    /// `max_message_bytes`.
    pub fn into_server(self, max_message_bytes: usize) -> DiagnosticsServiceServer<Self> {
        DiagnosticsServiceServer::new(self).max_decoding_message_size(max_message_bytes)
    }
}

/// Awaits a handler's `answer` to the RPC `method`: its failure becomes a
/// `Status` (with its details, `error`), and the request is counted in
/// diagd's metrics with its code and latency (for a server stream: until
/// the stream starts).
async fn answer<T>(
    method: &'static str,
    answer: impl std::future::Future<Output = Result<Response<T>, error::ApiError>>,
) -> Result<Response<T>, Status> {
    let started = std::time::Instant::now();
    let answered = answer.await.map_err(Status::from);
    let code = match &answered {
        Ok(_) => tonic::Code::Ok,
        Err(status) => status.code(),
    };
    crate::metrics::METRICS.request(method, code, Some(started.elapsed()));
    answered
}

#[tonic::async_trait]
impl DiagnosticsService for DiagnosticsApi {
    async fn report_error(
        &self,
        request: Request<pb::ReportErrorRequest>,
    ) -> Result<Response<pb::ReportErrorResponse>, Status> {
        answer("ReportError", DiagnosticsApi::report_error(self, request)).await
    }

    async fn ingest_logs(
        &self,
        request: Request<Streaming<pb::IngestLogsRequest>>,
    ) -> Result<Response<pb::IngestLogsResponse>, Status> {
        answer("IngestLogs", DiagnosticsApi::ingest_logs(self, request)).await
    }

    async fn list_logs(
        &self,
        request: Request<pb::ListLogsRequest>,
    ) -> Result<Response<pb::ListLogsResponse>, Status> {
        answer("ListLogs", DiagnosticsApi::list_logs(self, request)).await
    }

    async fn get_log(
        &self,
        request: Request<pb::GetLogRequest>,
    ) -> Result<Response<pb::GetLogResponse>, Status> {
        answer("GetLog", DiagnosticsApi::get_log(self, request)).await
    }

    async fn search_logs(
        &self,
        request: Request<pb::SearchLogsRequest>,
    ) -> Result<Response<ResponseStream<pb::SearchLogsResponse>>, Status> {
        answer("SearchLogs", DiagnosticsApi::search_logs(self, request)).await
    }

    async fn subscribe_logs(
        &self,
        request: Request<pb::SubscribeLogsRequest>,
    ) -> Result<Response<ResponseStream<tail_message::TailMessage>>, Status> {
        answer(
            "SubscribeLogs",
            DiagnosticsApi::subscribe_logs(self, request),
        )
        .await
    }

    async fn get_stats(
        &self,
        request: Request<pb::GetStatsRequest>,
    ) -> Result<Response<pb::GetStatsResponse>, Status> {
        answer("GetStats", DiagnosticsApi::get_stats(self, request)).await
    }

    async fn generate_report(
        &self,
        request: Request<pb::GenerateReportRequest>,
    ) -> Result<Response<pb::GenerateReportResponse>, Status> {
        answer(
            "GenerateReport",
            DiagnosticsApi::generate_report(self, request),
        )
        .await
    }

    async fn get_report(
        &self,
        request: Request<pb::GetReportRequest>,
    ) -> Result<Response<pb::GetReportResponse>, Status> {
        answer("GetReport", DiagnosticsApi::get_report(self, request)).await
    }

    async fn list_reports(
        &self,
        request: Request<pb::ListReportsRequest>,
    ) -> Result<Response<pb::ListReportsResponse>, Status> {
        answer("ListReports", DiagnosticsApi::list_reports(self, request)).await
    }

    async fn download_report(
        &self,
        request: Request<pb::DownloadReportRequest>,
    ) -> Result<Response<ResponseStream<pb::DownloadReportResponse>>, Status> {
        answer(
            "DownloadReport",
            DiagnosticsApi::download_report(self, request),
        )
        .await
    }

    async fn delete_report(
        &self,
        request: Request<pb::DeleteReportRequest>,
    ) -> Result<Response<pb::DeleteReportResponse>, Status> {
        answer("DeleteReport", DiagnosticsApi::delete_report(self, request)).await
    }

    async fn export_logs(
        &self,
        request: Request<pb::ExportLogsRequest>,
    ) -> Result<Response<ResponseStream<pb::ExportLogsResponse>>, Status> {
        answer("ExportLogs", DiagnosticsApi::export_logs(self, request)).await
    }

    async fn clear_logs(
        &self,
        request: Request<pb::ClearLogsRequest>,
    ) -> Result<Response<pb::ClearLogsResponse>, Status> {
        answer("ClearLogs", DiagnosticsApi::clear_logs(self, request)).await
    }

    async fn get_debug_mode(
        &self,
        request: Request<pb::GetDebugModeRequest>,
    ) -> Result<Response<pb::GetDebugModeResponse>, Status> {
        answer(
            "GetDebugMode",
            DiagnosticsApi::get_debug_mode(self, request),
        )
        .await
    }

    async fn set_debug_mode(
        &self,
        request: Request<pb::SetDebugModeRequest>,
    ) -> Result<Response<pb::SetDebugModeResponse>, Status> {
        answer(
            "SetDebugMode",
            DiagnosticsApi::set_debug_mode(self, request),
        )
        .await
    }

    async fn watch_debug_mode(
        &self,
        request: Request<pb::WatchDebugModeRequest>,
    ) -> Result<Response<ResponseStream<pb::WatchDebugModeResponse>>, Status> {
        answer(
            "WatchDebugMode",
            DiagnosticsApi::watch_debug_mode(self, request),
        )
        .await
    }

    async fn record_action(
        &self,
        request: Request<pb::RecordActionRequest>,
    ) -> Result<Response<pb::RecordActionResponse>, Status> {
        answer("RecordAction", DiagnosticsApi::record_action(self, request)).await
    }

    async fn list_groups(
        &self,
        request: Request<pb::ListGroupsRequest>,
    ) -> Result<Response<pb::ListGroupsResponse>, Status> {
        answer("ListGroups", DiagnosticsApi::list_groups(self, request)).await
    }

    async fn get_group(
        &self,
        request: Request<pb::GetGroupRequest>,
    ) -> Result<Response<pb::GetGroupResponse>, Status> {
        answer("GetGroup", DiagnosticsApi::get_group(self, request)).await
    }

    async fn update_group(
        &self,
        request: Request<pb::UpdateGroupRequest>,
    ) -> Result<Response<pb::UpdateGroupResponse>, Status> {
        answer("UpdateGroup", DiagnosticsApi::update_group(self, request)).await
    }

    async fn merge_groups(
        &self,
        request: Request<pb::MergeGroupsRequest>,
    ) -> Result<Response<pb::MergeGroupsResponse>, Status> {
        answer("MergeGroups", DiagnosticsApi::merge_groups(self, request)).await
    }

    async fn split_group(
        &self,
        request: Request<pb::SplitGroupRequest>,
    ) -> Result<Response<pb::SplitGroupResponse>, Status> {
        answer("SplitGroup", DiagnosticsApi::split_group(self, request)).await
    }

    async fn heartbeat(
        &self,
        request: Request<pb::HeartbeatRequest>,
    ) -> Result<Response<pb::HeartbeatResponse>, Status> {
        answer("Heartbeat", DiagnosticsApi::heartbeat(self, request)).await
    }

    async fn list_runs(
        &self,
        request: Request<pb::ListRunsRequest>,
    ) -> Result<Response<pb::ListRunsResponse>, Status> {
        answer("ListRuns", DiagnosticsApi::list_runs(self, request)).await
    }

    async fn get_run(
        &self,
        request: Request<pb::GetRunRequest>,
    ) -> Result<Response<pb::GetRunResponse>, Status> {
        answer("GetRun", DiagnosticsApi::get_run(self, request)).await
    }

    async fn watch_runs(
        &self,
        request: Request<pb::WatchRunsRequest>,
    ) -> Result<Response<ResponseStream<pb::WatchRunsResponse>>, Status> {
        answer("WatchRuns", DiagnosticsApi::watch_runs(self, request)).await
    }

    async fn create_alert_rule(
        &self,
        request: Request<pb::CreateAlertRuleRequest>,
    ) -> Result<Response<pb::CreateAlertRuleResponse>, Status> {
        answer(
            "CreateAlertRule",
            DiagnosticsApi::create_alert_rule(self, request),
        )
        .await
    }

    async fn list_alert_rules(
        &self,
        request: Request<pb::ListAlertRulesRequest>,
    ) -> Result<Response<pb::ListAlertRulesResponse>, Status> {
        answer(
            "ListAlertRules",
            DiagnosticsApi::list_alert_rules(self, request),
        )
        .await
    }

    async fn update_alert_rule(
        &self,
        request: Request<pb::UpdateAlertRuleRequest>,
    ) -> Result<Response<pb::UpdateAlertRuleResponse>, Status> {
        answer(
            "UpdateAlertRule",
            DiagnosticsApi::update_alert_rule(self, request),
        )
        .await
    }

    async fn delete_alert_rule(
        &self,
        request: Request<pb::DeleteAlertRuleRequest>,
    ) -> Result<Response<pb::DeleteAlertRuleResponse>, Status> {
        answer(
            "DeleteAlertRule",
            DiagnosticsApi::delete_alert_rule(self, request),
        )
        .await
    }

    async fn test_alert_rule(
        &self,
        request: Request<pb::TestAlertRuleRequest>,
    ) -> Result<Response<pb::TestAlertRuleResponse>, Status> {
        answer(
            "TestAlertRule",
            DiagnosticsApi::test_alert_rule(self, request),
        )
        .await
    }

    async fn list_alert_deliveries(
        &self,
        request: Request<pb::ListAlertDeliveriesRequest>,
    ) -> Result<Response<pb::ListAlertDeliveriesResponse>, Status> {
        answer(
            "ListAlertDeliveries",
            DiagnosticsApi::list_alert_deliveries(self, request),
        )
        .await
    }

    async fn get_access(
        &self,
        request: Request<pb::GetAccessRequest>,
    ) -> Result<Response<pb::GetAccessResponse>, Status> {
        answer("GetAccess", DiagnosticsApi::get_access(self, request)).await
    }
}
