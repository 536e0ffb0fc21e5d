//! Diagnostic reports: GenerateReport (errors, system state, configuration,
//! recent actions, guidance — one JSON document, stored in parts so that no
//! report is held whole), GetReport, ListReports, DownloadReport (streamed
//! in chunks, a part at a time) and DeleteReport.

use bytes::{Bytes, BytesMut};
use chrono::Utc;
use serde_json::json;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::limits::{
    DEFAULT_MAX_ERRORS, DEFAULT_PAGE_SIZE, DOWNLOAD_CHUNK_BYTES, MAX_ERRORS, MAX_PAGE_SIZE,
};
use super::{
    DiagnosticsApi, ResponseStream, convert,
    error::{ApiError, FieldError},
    page_token, pb,
};
use crate::{
    domain::{
        PageCursor,
        report::{self, ReportInputs},
    },
    store::{ReportBody, Store},
};

/// Most recorded actions a report includes.
pub const REPORT_ACTIONS: usize = 1000;
/// Most frequent messages listed in a report's summary.
pub const TOP_MESSAGES: usize = 10;
/// Most error groups a report lists (largest first).
pub const REPORT_GROUPS: usize = 50;
/// What ListReports tokens are scoped to.
const REPORTS_SCOPE: &str = "reports";

impl DiagnosticsApi {
    /// Builds and stores a report under a new id.
    pub(super) async fn generate_report(
        &self,
        request: Request<pb::GenerateReportRequest>,
    ) -> Result<Response<pb::GenerateReportResponse>, ApiError> {
        let request = request.into_inner();
        let filter =
            convert::from_wire::log_filter(request.filter).map_err(|e| e.within("filter"))?;
        let filter = self.resolve_filter_groups(filter).await?;
        let max_errors = match request.max_errors {
            0 => DEFAULT_MAX_ERRORS,
            n if n > MAX_ERRORS => {
                return Err(FieldError::new("max_errors", format!("at most {MAX_ERRORS}")).into());
            }
            n => n,
        };
        // A report reads up to MAX_ERRORS logs: it counts as a long read,
        // like a search or an export, so readers cannot pile them up.
        let _slot = self.settings.admission.stream_slot()?;
        let started = std::time::Instant::now();
        let disk_paths = self.settings.disk_paths.clone();
        let system = tokio::task::spawn_blocking(move || crate::system::snapshot(&disk_paths));
        let stats = self.store.stats(&filter).await?;
        let top_messages = self.store.top_messages(&filter, TOP_MESSAGES).await?;
        let groups = self.store.report_groups(&filter, REPORT_GROUPS).await?;
        let recent_actions = self
            .store
            .recent_actions(&filter.source, REPORT_ACTIONS)
            .await?;
        let debug_mode = self.store.debug_mode().await?;
        let (server_version, schema_version) = self.store.database_versions().await?;
        let system = system
            .await
            .map_err(|e| ApiError::Internal(format!("reading system state: {e}")))?;

        let mut configuration = self.settings.configuration.clone();
        if let Some(map) = configuration.as_object_mut() {
            map.insert(
                "debug_mode".into(),
                json!({ "enabled": debug_mode.is_on(Utc::now()), "changed_at": debug_mode.changed_at,
                        "changed_by": debug_mode.changed_by, "auto_off_at": debug_mode.auto_off_at }),
            );
            map.insert(
                "database".into(),
                json!({ "server_version": server_version, "schema_version": schema_version }),
            );
        }
        let report_id = Uuid::now_v7();
        let generated_at = Utc::now();
        let document = |included, errors: &str| {
            report::build(
                ReportInputs {
                    report_id,
                    generated_at,
                    system,
                    included,
                    stats,
                    top_messages,
                    groups,
                    configuration,
                    recent_actions,
                },
                errors.into(),
            )
        };
        let stored = self
            .store
            .insert_report(
                report_id,
                generated_at,
                &filter,
                max_errors as usize,
                document,
            )
            .await?;
        let error_count = stored.error_count;
        tracing::debug!(%report_id, error_count, bytes = stored.size_bytes, elapsed = ?started.elapsed(), "report generated");
        Ok(Response::new(pb::GenerateReportResponse {
            report: Some(convert::to_wire::report_info(stored)),
        }))
    }

    /// A report's metadata.
    pub(super) async fn get_report(
        &self,
        request: Request<pb::GetReportRequest>,
    ) -> Result<Response<pb::GetReportResponse>, ApiError> {
        let id = convert::from_wire::log_id("report_id", &request.into_inner().report_id)?;
        let report = self
            .store
            .get_report(id)
            .await?
            .ok_or_else(|| ApiError::not_found("report", id))?;
        Ok(Response::new(pb::GetReportResponse {
            report: Some(convert::to_wire::report_info(report)),
        }))
    }

    /// Reports, newest first.
    pub(super) async fn list_reports(
        &self,
        request: Request<pb::ListReportsRequest>,
    ) -> Result<Response<pb::ListReportsResponse>, ApiError> {
        let request = request.into_inner();
        let page_size = match request.page_size {
            0 => DEFAULT_PAGE_SIZE,
            n if n < 0 => return Err(FieldError::new("page_size", "must not be negative").into()),
            n => (n as usize).min(MAX_PAGE_SIZE),
        };
        let after = if request.page_token.is_empty() {
            None
        } else {
            let cursor = page_token::decode(&request.page_token, &REPORTS_SCOPE)?;
            Some((cursor.occurred_at, cursor.id))
        };
        let (reports, has_more) = self.store.list_reports(after, page_size).await?;
        let next_page_token = match reports.last() {
            Some(last) if has_more => page_token::encode(
                PageCursor {
                    occurred_at: last.created_at,
                    id: last.id,
                },
                &REPORTS_SCOPE,
            ),
            _ => String::new(),
        };
        Ok(Response::new(pb::ListReportsResponse {
            reports: reports
                .into_iter()
                .map(convert::to_wire::report_info)
                .collect(),
            next_page_token,
        }))
    }

    /// Streams a report's JSON document in chunks of exactly 64 KiB (the
    /// last one shorter). A report stored in parts is read a part at a time;
    /// one stored whole (before parts) is held once, chunks being views.
    pub(super) async fn download_report(
        &self,
        request: Request<pb::DownloadReportRequest>,
    ) -> Result<Response<ResponseStream<pb::DownloadReportResponse>>, ApiError> {
        let id = convert::from_wire::log_id("report_id", &request.into_inner().report_id)?;
        let body = self
            .store
            .report_body(id)
            .await?
            .ok_or_else(|| ApiError::not_found("report", id))?;
        let file_name = report::file_name(id);
        let (report, count) = match body {
            ReportBody::Whole(document) => {
                let document = Bytes::from(document);
                let chunks = (0..document.len().div_ceil(DOWNLOAD_CHUNK_BYTES)).map(move |i| {
                    let start = i * DOWNLOAD_CHUNK_BYTES;
                    let end = (start + DOWNLOAD_CHUNK_BYTES).min(document.len());
                    Ok(chunk(document.slice(start..end), i == 0, &file_name))
                });
                return Ok(Response::new(Box::pin(tokio_stream::iter(chunks))));
            }
            ReportBody::Parts { report, count } => (report, count),
        };
        Ok(Response::new(Box::pin(download_parts(
            self.store.clone(),
            report.id,
            count,
            report.size_bytes,
            file_name,
        ))))
    }

    /// Deletes a report.
    pub(super) async fn delete_report(
        &self,
        request: Request<pb::DeleteReportRequest>,
    ) -> Result<Response<pb::DeleteReportResponse>, ApiError> {
        let id = convert::from_wire::log_id("report_id", &request.into_inner().report_id)?;
        if !self.store.delete_report(id).await? {
            return Err(ApiError::not_found("report", id));
        }
        Ok(Response::new(pb::DeleteReportResponse {}))
    }
}

/// One download message; the first names the file.
fn chunk(bytes: Bytes, first: bool, file_name: &str) -> pb::DownloadReportResponse {
    pb::DownloadReportResponse {
        chunk: bytes,
        file_name: if first {
            file_name.to_string()
        } else {
            String::new()
        },
    }
}

/// A report stored in parts, read one part at a time and sent in chunks of
/// `DOWNLOAD_CHUNK_BYTES` (what is left of a part waits for the next); ends
/// with an error if the report is deleted meanwhile.
fn download_parts(
    store: Store,
    id: Uuid,
    count: i32,
    size_bytes: u64,
    file_name: String,
) -> impl tokio_stream::Stream<Item = Result<pb::DownloadReportResponse, Status>> + Send {
    async_stream::stream! {
        let mut pending = BytesMut::new();
        let mut sent = 0u64;
        for seq in 0..count {
            let part = match store.report_part(id, seq).await {
                Ok(Some(part)) => part,
                Ok(None) => {
                    yield Err(ApiError::NotFound {
                        resource_type: "report",
                        name: id.to_string(),
                        message: format!("report {id} not found (deleted during the download)"),
                    }.into());
                    return;
                }
                Err(e) => {
                    yield Err(e.into());
                    return;
                }
            };
            pending.extend_from_slice(part.as_bytes());
            drop(part);
            while pending.len() >= DOWNLOAD_CHUNK_BYTES {
                let bytes = pending.split_to(DOWNLOAD_CHUNK_BYTES).freeze();
                yield Ok(chunk(bytes, sent == 0, &file_name));
                sent += DOWNLOAD_CHUNK_BYTES as u64;
            }
        }
        if !pending.is_empty() || sent == 0 {
            let last = pending.len() as u64;
            yield Ok(chunk(pending.freeze(), sent == 0, &file_name));
            sent += last;
        }
        if sent != size_bytes {
            yield Err(ApiError::Internal(format!(
                "report {id}: sent {sent} bytes of {size_bytes}"
            )).into());
        }
    }
}
