//! ExportLogs: every matching log as JSON or NDJSON, streamed in chunks. The
//! database is read through a cursor and each chunk waits for the client, so
//! memory stays flat however many logs are exported.

use tonic::{Request, Response};

use super::error::ApiError;
use super::{
    DiagnosticsApi, ResponseStream, convert,
    error::{self, FieldError},
    pb,
    streaming::{self, StreamSender},
};
use crate::{
    domain::LogEntry,
    export::{Encoder, ExportFormat, file_name},
    store::ExportSink,
};

/// A chunk is sent once it holds at least this many bytes.
const CHUNK_BYTES: usize = 256 * 1024;
/// Chunks buffered ahead of a slow client.
const CHUNKS_AHEAD: usize = 4;

/// Sends an export down a gRPC stream.
struct StreamSink {
    /// The response stream's sender; fails once the client went away or
    /// stalled.
    sender: StreamSender<pb::ExportLogsResponse>,
    /// Suggested file name, sent in the header.
    file_name: String,
    /// The format encoder.
    encoder: Encoder,
    /// Bytes not yet sent.
    pending: Vec<u8>,
}

impl StreamSink {
    async fn send(&mut self, part: pb::export_logs_response::Part) -> Result<(), String> {
        self.sender
            .send(pb::ExportLogsResponse { part: Some(part) })
            .await
    }

    async fn flush(&mut self, at_least: usize) -> Result<(), String> {
        if self.pending.len() >= at_least.max(1) {
            let chunk = std::mem::take(&mut self.pending);
            self.send(pb::export_logs_response::Part::Chunk(chunk.into()))
                .await?;
        }
        Ok(())
    }
}

impl ExportSink for StreamSink {
    async fn begin(&mut self, total: u64) -> Result<(), String> {
        let header = pb::ExportHeader {
            file_name: self.file_name.clone(),
            total_count: total,
        };
        self.send(pb::export_logs_response::Part::Header(header))
            .await?;
        self.pending.extend_from_slice(self.encoder.begin());
        Ok(())
    }

    async fn batch(&mut self, logs: Vec<LogEntry>) -> Result<(), String> {
        for log in &logs {
            self.encoder.push(log, &mut self.pending)?;
            self.flush(CHUNK_BYTES).await?;
        }
        Ok(())
    }

    async fn finish(&mut self) -> Result<(), String> {
        let closing = self.encoder.end();
        self.pending.extend_from_slice(closing);
        self.flush(1).await
    }
}

impl DiagnosticsApi {
    /// Streams the export: a header (file name, count), then chunks.
    pub(super) async fn export_logs(
        &self,
        request: Request<pb::ExportLogsRequest>,
    ) -> Result<Response<ResponseStream<pb::ExportLogsResponse>>, ApiError> {
        let request = request.into_inner();
        let filter =
            convert::from_wire::log_filter(request.filter).map_err(|e| e.within("filter"))?;
        let filter = self.resolve_filter_groups(filter).await?;
        let format = match pb::ExportFormat::try_from(request.format) {
            Ok(pb::ExportFormat::Unspecified | pb::ExportFormat::Json) => ExportFormat::Json,
            Ok(pb::ExportFormat::Ndjson) => ExportFormat::Ndjson,
            Err(_) => {
                return Err(FieldError::new(
                    "format",
                    format!("unknown format {}", request.format),
                )
                .into());
            }
        };
        let slot = self.settings.admission.stream_slot()?;
        let (sender, response) = streaming::channel(CHUNKS_AHEAD, self.settings.stream_stall);
        let mut sink = StreamSink {
            sender: sender.clone(),
            file_name: file_name(format, chrono::Utc::now()),
            encoder: Encoder::new(format),
            pending: Vec::with_capacity(CHUNK_BYTES * 2),
        };
        let store = self.store.clone();
        let shutdown = self.shutdown.clone();
        let ended_before = store.readers_ended_by_clears();
        tokio::spawn(async move {
            let slot = slot;
            // Dropping the export mid-query cancels it inside PostgreSQL.
            let result = tokio::select! {
                result = store.export_logs(&filter, &mut sink) => result,
                () = sender.closed() => return,
                () = shutdown.cancelled() => {
                    sender.end_with(ApiError::ShuttingDown { again: "export" });
                    return;
                }
            };
            match result {
                Ok(count) => tracing::debug!(count, "export streamed"),
                Err(crate::store::StoreError::Sink(reason)) => {
                    tracing::debug!(?reason, "export abandoned")
                }
                Err(e) => {
                    drop(slot);
                    let ended_after = store.readers_ended_by_clears();
                    sender.end_with(error::read_stream_failed(
                        e,
                        ended_before,
                        ended_after,
                        "export",
                    ));
                    return;
                }
            }
            // Free the slot before the stream ends (the senders go last).
            drop(slot);
        });
        Ok(Response::new(response))
    }
}
