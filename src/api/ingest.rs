//! ReportError and IngestLogs: validate what trainers push, store it in one
//! transaction per request or batch, and answer only after the commit.

use tokio_stream::StreamExt;
use tonic::{Request, Response, Status, Streaming};

use super::{DiagnosticsApi, convert, error::FieldError, pb};
use crate::store::InsertOutcome;

/// Most logs in one IngestLogs batch.
pub const MAX_BATCH_LOGS: usize = 10_000;
/// Most rejection details in one IngestLogs response (all are counted).
pub const MAX_REJECTION_DETAILS: usize = 1000;

impl DiagnosticsApi {
    /// Stores one log; a repeated event_id answers the stored log's id.
    pub(super) async fn report_error(
        &self,
        request: Request<pb::ReportErrorRequest>,
    ) -> Result<Response<pb::ReportErrorResponse>, Status> {
        let log = request
            .into_inner()
            .log
            .ok_or_else(|| FieldError::new("log", "required"))?;
        let mut log = convert::new_log(log, chrono::Utc::now()).map_err(|e| e.within("log"))?;
        self.settings.scrubber.scrub_log(&mut log);
        let event_id = log.event_id;
        let _slot = self.settings.limits.ingest_slot().await?;
        let outcome = self.store.insert_logs(std::slice::from_ref(&log)).await?;
        let (id, duplicate) = match outcome.first() {
            Some(InsertOutcome::Inserted(id)) => (*id, false),
            _ => {
                let event_id = event_id
                    .ok_or_else(|| Status::internal("a log without event_id was not stored"))?;
                let id = self
                    .store
                    .log_id_for_event(event_id)
                    .await?
                    .ok_or_else(|| {
                        Status::aborted("the log with this event_id was deleted meanwhile; retry")
                    })?;
                (id, true)
            }
        };
        Ok(Response::new(pb::ReportErrorResponse {
            id: id.to_string(),
            duplicate,
        }))
    }

    /// Stores each batch of the stream as it arrives; invalid items are
    /// rejected one by one and the valid rest of their batch is stored.
    /// One batch is written while the next is received and validated
    /// (never more: batches commit in stream order, and a failure stops the
    /// stream after the batches before it).
    pub(super) async fn ingest_logs(
        &self,
        request: Request<Streaming<pb::IngestLogsRequest>>,
    ) -> Result<Response<pb::IngestLogsResponse>, Status> {
        let mut stream = request.into_inner();
        let mut totals = pb::IngestLogsResponse::default();
        let mut writing: Option<BatchWrite> = None;
        while let Some(batch) = stream.next().await {
            let batch_number = totals.batches + u64::from(writing.is_some());
            let batch = match batch {
                Ok(batch) => batch,
                Err(status) => {
                    let stored = finish_write(writing.take(), &mut totals).await;
                    if status.code() == tonic::Code::Cancelled {
                        return Err(status);
                    }
                    stored?;
                    return Err(Status::new(
                        status.code(),
                        format!(
                            "batch {batch_number}: {}; earlier batches stored: {batch_number}",
                            status.message()
                        ),
                    ));
                }
            };
            if batch.logs.len() > MAX_BATCH_LOGS {
                finish_write(writing.take(), &mut totals).await?;
                return Err(FieldError::new(
                    "logs",
                    format!(
                        "batch {batch_number} holds {} logs, over the limit of {MAX_BATCH_LOGS}; \
                         earlier batches were stored, split this one",
                        batch.logs.len()
                    ),
                )
                .into());
            }
            let now = chrono::Utc::now();
            let mut valid = Vec::with_capacity(batch.logs.len());
            for (index, log) in batch.logs.into_iter().enumerate() {
                match convert::new_log(log, now) {
                    Ok(mut log) => {
                        self.settings.scrubber.scrub_log(&mut log);
                        valid.push(log);
                    }
                    Err(e) => {
                        totals.rejected += 1;
                        if totals.rejections.len() < MAX_REJECTION_DETAILS {
                            totals.rejections.push(pb::IngestRejection {
                                batch: batch_number,
                                index: index as u32,
                                field: e.field,
                                reason: e.reason,
                            });
                        }
                    }
                }
            }
            // The previous batch must be committed before this one starts.
            finish_write(writing.take(), &mut totals).await?;
            let slot = self.settings.limits.ingest_slot().await?;
            let store = self.store.clone();
            // Its own task: a client that goes away mid-write cannot cut a
            // transaction short (it commits or fails on its own).
            writing = Some(BatchWrite {
                number: batch_number,
                task: tokio::spawn(async move {
                    let outcomes = store.insert_logs(&valid).await;
                    drop(slot);
                    outcomes
                }),
            });
        }
        finish_write(writing, &mut totals).await?;
        Ok(Response::new(totals))
    }
}

/// A batch being written by its own task.
struct BatchWrite {
    /// Its number in the stream.
    number: u64,
    /// The insert, answering each log's outcome.
    task: tokio::task::JoinHandle<Result<Vec<InsertOutcome>, crate::store::StoreError>>,
}

/// Waits for `write` (if any) to commit and counts its outcomes.
async fn finish_write(
    write: Option<BatchWrite>,
    totals: &mut pb::IngestLogsResponse,
) -> Result<(), Status> {
    let Some(write) = write else {
        return Ok(());
    };
    let outcomes = write.task.await.map_err(|e| {
        Status::internal(format!("batch {}: the write failed: {e}", write.number))
    })??;
    for outcome in outcomes {
        match outcome {
            InsertOutcome::Inserted(_) => totals.accepted += 1,
            InsertOutcome::Duplicate => totals.duplicates += 1,
        }
    }
    totals.batches += 1;
    tracing::debug!(batch = write.number, "ingest batch committed");
    Ok(())
}
