//! OTLP logs ingest: `opentelemetry.proto.collector.logs.v1.LogsService/Export`
//! on diagd's gRPC port, and the same export for OTLP/HTTP
//! (`server::otlp_http`). Each record becomes a diagd `NewLog`
//! (`convert::otlp`), is validated like any other log, scrubbed,
//! fingerprinted, and stored by the same `Store::insert_logs` as
//! ReportError and IngestLogs (so it is grouped, counted and tailed). A
//! record that cannot be stored is rejected alone and counted in
//! `partial_success`; the answer comes after the commit. Retries are stored
//! once: each record's event_id is derived from its bytes
//! (`convert::otlp::event_id`).

use chrono::Utc;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
    logs_service_server::{LogsService, LogsServiceServer},
};
use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use tonic::{
    Code, Request, Response, Status,
    codec::CompressionEncoding,
    codegen::{Body, StdError},
    server::NamedService,
};

use super::convert::{
    from_wire::new_log,
    otlp::{Refusal, record_to_log},
};
use super::error::{ApiError, Limit};
use super::{DiagnosticsApi, answer, limits::MAX_BATCH_LOGS};
use crate::{
    domain::{NewLog, fingerprint::fingerprint_with},
    metrics::METRICS,
    store::{InsertOutcome, StoreError},
};

/// Most records of one Export (a Collector's batch is 8,192 by default).
pub const MAX_OTLP_RECORDS: usize = MAX_BATCH_LOGS;

/// Logs per transaction within one Export.
const LOGS_PER_WRITE: usize = 1000;

/// How many problems the answer's `error_message` names.
const NAMED_PROBLEMS: usize = 5;

/// The OTLP logs service over diagd's API.
#[derive(Clone)]
pub struct OtlpLogs {
    api: DiagnosticsApi,
}

/// The OTLP logs service as served: the generated server, except that a
/// request that does not decode answers INVALID_ARGUMENT (tonic-prost says
/// INTERNAL, which tells an exporter the server is broken).
#[derive(Clone)]
pub struct OtlpGrpc(LogsServiceServer<OtlpLogs>);

impl NamedService for OtlpGrpc {
    const NAME: &'static str = <LogsServiceServer<OtlpLogs> as NamedService>::NAME;
}

impl<B> tower::Service<http::Request<B>> for OtlpGrpc
where
    B: Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        tower::Service::<http::Request<B>>::poll_ready(&mut self.0, cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let answer = self.0.call(request);
        Box::pin(async move {
            let mut response = answer.await?;
            if let Some(status) = Status::from_header_map(response.headers())
                && status.code() == Code::Internal
                && status
                    .message()
                    .starts_with("failed to decode Protobuf message")
            {
                let mapped = Status::from(ApiError::Malformed(format!(
                    "the request is not a valid ExportLogsServiceRequest protobuf message: {}",
                    status.message()
                )));
                let _ = mapped.add_header(response.headers_mut());
            }
            Ok(response)
        })
    }
}

impl DiagnosticsApi {
    /// The OTLP logs service on the same store, settings and debug mode,
    /// accepting requests of up to `max_message_bytes` (gzip or not).
    pub fn otlp_server(&self, max_message_bytes: usize) -> OtlpGrpc {
        OtlpGrpc(
            LogsServiceServer::new(OtlpLogs { api: self.clone() })
                .accept_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(max_message_bytes),
        )
    }

    /// Stores the records of an OTLP Export; answers after the commit.
    pub async fn export_otlp(
        &self,
        request: ExportLogsServiceRequest,
    ) -> Result<ExportLogsServiceResponse, ApiError> {
        let count: usize = request
            .resource_logs
            .iter()
            .flat_map(|r| &r.scope_logs)
            .map(|s| s.log_records.len())
            .sum();
        if count > MAX_OTLP_RECORDS {
            return Err(ApiError::LimitExceeded {
                limit: Limit {
                    reason: "OTLP_RECORDS",
                    value: MAX_OTLP_RECORDS as u64,
                    flag: None,
                },
                message: format!(
                    "{count} log records in one Export is over the limit of {MAX_OTLP_RECORDS}; \
                     send smaller batches (the Collector's batch processor: send_batch_max_size)"
                ),
                retry: false,
            });
        }
        let now = Utc::now();
        let debug = self.debug_mode.borrow().is_on(now);
        let min_severity = self.settings.otlp_min_severity;
        let mut logs: Vec<NewLog> = Vec::with_capacity(count);
        let mut rejected: i64 = 0;
        let mut below = 0u64;
        let mut problems: Vec<String> = Vec::new();
        for (r, resource_logs) in request.resource_logs.iter().enumerate() {
            for (s, scope_logs) in resource_logs.scope_logs.iter().enumerate() {
                for (i, record) in scope_logs.log_records.iter().enumerate() {
                    let at = || format!("resource_logs[{r}].scope_logs[{s}].log_records[{i}]");
                    let converted = record_to_log(
                        resource_logs.resource.as_ref(),
                        scope_logs.scope.as_ref(),
                        record,
                        min_severity,
                        debug,
                    );
                    let problem = match converted {
                        Ok(wire) => match new_log(wire, now) {
                            Ok(log) => {
                                logs.push(log);
                                continue;
                            }
                            Err(e) => format!("{}: {}: {}", at(), e.field, e.reason),
                        },
                        Err(Refusal::BelowThreshold) => {
                            below += 1;
                            rejected += 1;
                            continue;
                        }
                        Err(Refusal::Empty) => format!(
                            "{}: no body and no exception.type or exception.message: nothing to store",
                            at()
                        ),
                    };
                    rejected += 1;
                    if problems.len() < NAMED_PROBLEMS {
                        problems.push(problem);
                    }
                }
            }
        }
        if below > 0 {
            problems.push(format!(
                "{below} record(s) below severity number {min_severity} (or without a severity) \
                 not stored: debug mode is off (while it is on they are stored as LOW; \
                 --otlp-min-severity sets the threshold)"
            ));
        }
        METRICS.logs_rejected.inc_by(rejected as u64);
        self.store_otlp(logs).await?;
        let partial_success = (rejected > 0).then(|| ExportLogsPartialSuccess {
            rejected_log_records: rejected,
            error_message: problems.join("; "),
        });
        Ok(ExportLogsServiceResponse { partial_success })
    }

    /// Scrubs, fingerprints and stores `logs`, a transaction per
    /// [`LOGS_PER_WRITE`]; a failure after some have committed is safe to
    /// retry (their event_ids are stored).
    async fn store_otlp(&self, mut logs: Vec<NewLog>) -> Result<(), ApiError> {
        if logs.is_empty() {
            return Ok(());
        }
        // Admitted first, as IngestLogs: no more exports parse at once than
        // may write.
        let _slot = self.settings.admission.ingest_slot().await?;
        let settings = self.settings.clone();
        // Parsing tracebacks is CPU work: off the async workers.
        let (logs, prints) = tokio::task::spawn_blocking(move || {
            let prints: Vec<_> = logs
                .iter_mut()
                .map(|log| {
                    settings.scrubber.scrub_log(log);
                    fingerprint_with(
                        &log.fingerprint,
                        &log.message,
                        &log.stack_trace,
                        &settings.grouping,
                    )
                })
                .collect();
            (logs, prints)
        })
        .await
        .map_err(|e| ApiError::Internal(format!("fingerprinting failed: {e}")))?;
        for (logs, prints) in logs
            .chunks(LOGS_PER_WRITE)
            .zip(prints.chunks(LOGS_PER_WRITE))
        {
            let outcomes = self
                .store
                .insert_logs(logs, prints)
                .await
                .map_err(|e: StoreError| ApiError::from(e))?;
            let inserted = outcomes
                .iter()
                .filter(|o| matches!(o, InsertOutcome::Inserted(_)))
                .count() as u64;
            METRICS.logs_ingested.inc_by(inserted);
            METRICS
                .logs_duplicate
                .inc_by(outcomes.len() as u64 - inserted);
        }
        Ok(())
    }
}

#[tonic::async_trait]
impl LogsService for OtlpLogs {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        answer("OtlpExport", async {
            self.api
                .export_otlp(request.into_inner())
                .await
                .map(Response::new)
        })
        .await
    }
}
