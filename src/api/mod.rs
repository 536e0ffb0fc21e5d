//! The gRPC service: converts requests to domain types (validating every
//! field), calls the store, converts the answers back. One file per group of
//! RPCs; failures become `tonic::Status` in `error`. RPCs of later milestones
//! keep the generated default, which answers UNIMPLEMENTED.

mod convert;
pub mod error;
mod ingest;
mod page_token;
pub mod pb;
mod query;

use tonic::{Request, Response, Status, Streaming};

use crate::store::Store;
use pb::diagnostics_service_server::{DiagnosticsService, DiagnosticsServiceServer};

pub use convert::{MAX_CONTEXT_BYTES, MAX_MESSAGE_BYTES, MAX_STACK_TRACE_BYTES};

/// The implementation of `diagnostics.v1.DiagnosticsService`.
#[derive(Clone)]
pub struct DiagnosticsApi {
    /// Where logs live.
    store: Store,
}

impl DiagnosticsApi {
    /// The service over `store`.
    pub fn new(store: Store) -> Self {
        DiagnosticsApi { store }
    }

    /// The tonic server for this service, accepting requests of up to
    /// `max_message_bytes`.
    pub fn into_server(self, max_message_bytes: usize) -> DiagnosticsServiceServer<Self> {
        DiagnosticsServiceServer::new(self).max_decoding_message_size(max_message_bytes)
    }
}

#[tonic::async_trait]
impl DiagnosticsService for DiagnosticsApi {
    async fn report_error(
        &self,
        request: Request<pb::ReportErrorRequest>,
    ) -> Result<Response<pb::ReportErrorResponse>, Status> {
        DiagnosticsApi::report_error(self, request).await
    }

    async fn ingest_logs(
        &self,
        request: Request<Streaming<pb::IngestLogsRequest>>,
    ) -> Result<Response<pb::IngestLogsResponse>, Status> {
        DiagnosticsApi::ingest_logs(self, request).await
    }

    async fn list_logs(
        &self,
        request: Request<pb::ListLogsRequest>,
    ) -> Result<Response<pb::ListLogsResponse>, Status> {
        DiagnosticsApi::list_logs(self, request).await
    }

    async fn get_log(
        &self,
        request: Request<pb::GetLogRequest>,
    ) -> Result<Response<pb::GetLogResponse>, Status> {
        DiagnosticsApi::get_log(self, request).await
    }

    async fn get_stats(
        &self,
        request: Request<pb::GetStatsRequest>,
    ) -> Result<Response<pb::GetStatsResponse>, Status> {
        DiagnosticsApi::get_stats(self, request).await
    }
}
