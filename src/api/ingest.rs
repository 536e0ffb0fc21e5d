//! ReportError and IngestLogs: validate what trainers push, store it in one
//! transaction per request or batch, and answer only after the commit.

use std::{collections::VecDeque, time::Duration};

use tokio_stream::StreamExt;
use tonic::{Request, Response, Status, Streaming};

use super::error::{self, ApiError};
use super::limits::{MAX_BATCH_LOGS, MAX_REJECTION_DETAILS};
use super::{DiagnosticsApi, convert, error::FieldError, pb};
use crate::{
    domain::{
        NewLog,
        fingerprint::{Fingerprint, GroupingOptions, fingerprint_with},
    },
    metrics::METRICS,
    store::{InsertOutcome, StoreError},
};

/// The fingerprint `log` is grouped by: the client's entries if it sent
/// any, else computed from its (scrubbed) message and stack trace.
fn fingerprint_of(log: &NewLog, options: &GroupingOptions) -> Fingerprint {
    fingerprint_with(&log.fingerprint, &log.message, &log.stack_trace, options)
}

impl DiagnosticsApi {
    /// Stores one log; a repeated event_id answers the stored log's id.
    pub(super) async fn report_error(
        &self,
        request: Request<pb::ReportErrorRequest>,
    ) -> Result<Response<pb::ReportErrorResponse>, ApiError> {
        let log = request
            .into_inner()
            .log
            .ok_or_else(|| FieldError::new("log", "required"))?;
        let mut log = convert::from_wire::new_log(log, chrono::Utc::now()).map_err(|e| {
            METRICS.logs_rejected.inc();
            e.within("log")
        })?;
        self.settings.scrubber.scrub_log(&mut log);
        let print = fingerprint_of(&log, &self.settings.grouping);
        let event_id = log.event_id;
        let _slot = self.settings.admission.ingest_slot().await?;
        // Stored in one transaction with the logs of other callers waiting
        // at the same time (a group commit); answered after that commit.
        let outcome = self.store.insert_log_merged(log, print).await?;
        let (id, duplicate) = match outcome {
            InsertOutcome::Inserted(id) => {
                METRICS.logs_ingested.inc();
                (id, false)
            }
            InsertOutcome::Duplicate => {
                let event_id = event_id.ok_or_else(|| {
                    ApiError::Internal("a log without event_id was not stored".into())
                })?;
                let id = self
                    .store
                    .log_id_for_event(event_id)
                    .await?
                    .ok_or_else(|| ApiError::Aborted {
                        reason: "DELETED_MEANWHILE",
                        message: "the log with this event_id was deleted meanwhile; retry".into(),
                    })?;
                METRICS.logs_duplicate.inc();
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
    /// Batches that have already arrived while earlier ones were written
    /// are stored together in one transaction (up to [`MERGE_LOGS`] logs),
    /// and up to [`WRITES_IN_FLIGHT`] transactions run at once while the
    /// next batches are received and validated. A failure stops the stream
    /// once the writes in flight have ended, and says how many batches were
    /// stored. The answer comes only after every batch has committed.
    pub(super) async fn ingest_logs(
        &self,
        request: Request<Streaming<pb::IngestLogsRequest>>,
    ) -> Result<Response<pb::IngestLogsResponse>, ApiError> {
        let mut stream = request.into_inner();
        let mut totals = pb::IngestLogsResponse::default();
        let mut writing: VecDeque<BatchWrite> = VecDeque::new();
        let mut failure: Option<Status> = None;
        let mut ended = false;
        while !ended && failure.is_none() {
            let Some(first) = stream.next().await else {
                break;
            };
            let in_flight: u64 = writing.iter().map(|w| w.batches).sum();
            let first_number = totals.batches + in_flight;
            let mut group = BatchGroup::default();
            let mut next = Some(first);
            while let Some(item) = next.take() {
                let number = first_number + group.batches;
                match item {
                    Ok(batch) if batch.logs.len() > MAX_BATCH_LOGS => {
                        failure = Some(
                            FieldError::new(
                                "logs",
                                format!(
                                    "batch {number} holds {} logs, over the limit of {MAX_BATCH_LOGS}; \
                                     earlier batches were stored, split this one",
                                    batch.logs.len()
                                ),
                            )
                            .into(),
                        );
                    }
                    Ok(batch) => {
                        self.validate(batch, number, &mut group.valid, &mut totals);
                        group.batches += 1;
                    }
                    Err(status) if status.code() == tonic::Code::Cancelled => {
                        failure = Some(status);
                    }
                    Err(status) => {
                        let status =
                            error::transport_status(status, self.settings.max_message_bytes);
                        failure = Some(error::status_within(status, &format!("batch {number}")));
                    }
                }
                if failure.is_some() || group.valid.len() >= MERGE_LOGS {
                    break;
                }
                // Another batch already received? Then it joins this write.
                match tokio::time::timeout(Duration::ZERO, stream.next()).await {
                    Ok(Some(item)) => next = Some(item),
                    Ok(None) => ended = true,
                    Err(_) => {}
                }
            }
            if group.batches == 0 {
                break;
            }
            if writing.len() >= WRITES_IN_FLIGHT
                && let Err(status) = finish_oldest(&mut writing, &mut totals).await
            {
                failure.get_or_insert(status);
                break;
            }
            let slot = match self.settings.admission.ingest_slot().await {
                Ok(slot) => slot,
                Err(e) => {
                    failure.get_or_insert(e.into());
                    break;
                }
            };
            let store = self.store.clone();
            let valid = group.valid;
            let grouping = self.settings.grouping.clone();
            // Its own task: a client that goes away mid-write cannot cut a
            // transaction short (it commits or fails on its own).
            writing.push_back(BatchWrite {
                first: first_number,
                batches: group.batches,
                task: tokio::spawn(async move {
                    // Parsing a thousand tracebacks is CPU work: off the
                    // async workers.
                    let (valid, prints) = tokio::task::spawn_blocking(move || {
                        let prints: Vec<Fingerprint> = valid
                            .iter()
                            .map(|log| fingerprint_of(log, &grouping))
                            .collect();
                        (valid, prints)
                    })
                    .await
                    .map_err(|e| StoreError::Corrupt(format!("fingerprinting failed: {e}")))?;
                    let outcomes = store.insert_logs(&valid, &prints).await;
                    drop(slot);
                    outcomes
                }),
            });
        }
        let written = finish_writes(&mut writing, &mut totals).await;
        let status = match failure {
            Some(status) if status.code() == tonic::Code::Cancelled => status,
            Some(status) => with_stored_count(status, totals.batches),
            None => match written {
                Ok(()) => return Ok(Response::new(totals)),
                Err(status) => with_stored_count(status, totals.batches),
            },
        };
        Err(ApiError::Passed(status))
    }

    /// Validates and scrubs the logs of batch `number` into `valid`,
    /// counting and describing the rejected ones.
    fn validate(
        &self,
        batch: pb::IngestLogsRequest,
        number: u64,
        valid: &mut Vec<NewLog>,
        totals: &mut pb::IngestLogsResponse,
    ) {
        let now = chrono::Utc::now();
        for (index, log) in batch.logs.into_iter().enumerate() {
            match convert::from_wire::new_log(log, now) {
                Ok(mut log) => {
                    self.settings.scrubber.scrub_log(&mut log);
                    valid.push(log);
                }
                Err(e) => {
                    totals.rejected += 1;
                    METRICS.logs_rejected.inc();
                    if totals.rejections.len() < MAX_REJECTION_DETAILS {
                        totals.rejections.push(pb::IngestRejection {
                            batch: number,
                            index: index as u32,
                            field: e.field,
                            reason: e.reason,
                        });
                    }
                }
            }
        }
    }
}

/// Batches received back to back, written in one transaction.
#[derive(Default)]
struct BatchGroup {
    /// Their valid logs, in order.
    valid: Vec<NewLog>,
    /// How many batches.
    batches: u64,
}

/// Most logs merged into one transaction from batches that arrived while
/// earlier ones were written (a batch is never split).
const MERGE_LOGS: usize = 1000;

/// Batches of one stream written at once (each in its own transaction):
/// while one commits, the next is already on its way, so a single stream is
/// not bound by one commit's latency per batch.
const WRITES_IN_FLIGHT: usize = 3;

/// Waits for every write in flight; the first failure is returned.
async fn finish_writes(
    writing: &mut VecDeque<BatchWrite>,
    totals: &mut pb::IngestLogsResponse,
) -> Result<(), Status> {
    let mut failure = None;
    while let Some(write) = writing.pop_front() {
        if let Err(status) = finish_write(write, totals).await {
            failure.get_or_insert(status);
        }
    }
    failure.map_or(Ok(()), Err)
}

/// `status` with the number of batches of the stream that were stored.
fn with_stored_count(status: Status, stored: u64) -> Status {
    error::status_followed_by(status, &format!("batches of this stream stored: {stored}"))
}

/// Batches being written by their own task, in one transaction.
struct BatchWrite {
    /// The number of the first in the stream.
    first: u64,
    /// How many.
    batches: u64,
    /// The insert, answering each log's outcome.
    task: tokio::task::JoinHandle<Result<Vec<InsertOutcome>, crate::store::StoreError>>,
}

impl BatchWrite {
    /// "batch 3" or "batches 3 to 5".
    fn describe(&self) -> String {
        if self.batches == 1 {
            format!("batch {}", self.first)
        } else {
            format!(
                "batches {} to {}",
                self.first,
                self.first + self.batches - 1
            )
        }
    }
}

/// Waits for the oldest write in flight, if any.
async fn finish_oldest(
    writing: &mut VecDeque<BatchWrite>,
    totals: &mut pb::IngestLogsResponse,
) -> Result<(), Status> {
    match writing.pop_front() {
        Some(write) => finish_write(write, totals).await,
        None => Ok(()),
    }
}

/// Waits for `write` to commit and counts its outcomes.
async fn finish_write(
    write: BatchWrite,
    totals: &mut pb::IngestLogsResponse,
) -> Result<(), Status> {
    let what = write.describe();
    let outcomes = match write.task.await {
        Ok(Ok(outcomes)) => outcomes,
        Ok(Err(e)) => return Err(ApiError::from(e).within(what).into()),
        Err(e) => {
            return Err(ApiError::Internal(format!("{what}: the write failed: {e}")).into());
        }
    };
    for outcome in outcomes {
        match outcome {
            InsertOutcome::Inserted(_) => {
                totals.accepted += 1;
                METRICS.logs_ingested.inc();
            }
            InsertOutcome::Duplicate => {
                totals.duplicates += 1;
                METRICS.logs_duplicate.inc();
            }
        }
    }
    totals.batches += write.batches;
    tracing::debug!(
        first = write.first,
        batches = write.batches,
        "ingest batches committed"
    );
    Ok(())
}
