//! SearchLogs: streams matching logs (newest first) with where each matched,
//! then a summary — which says so plainly when nothing matched.

use std::time::Instant;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::{DiagnosticsApi, ResponseStream, convert, error::FieldError, pb};
use crate::{
    domain::{LogEntry, LogFilter, SearchQuery},
    store::SearchSink,
};

/// Hits when the request leaves `limit` at 0.
pub const DEFAULT_LIMIT: usize = 100;
/// Most hits one search returns.
pub const MAX_LIMIT: usize = 10_000;

/// Sends hits down the response stream, with their match locations.
struct HitSender {
    /// The response stream; fails once the client went away.
    sender: mpsc::Sender<Result<pb::SearchLogsResponse, Status>>,
    /// The query, for locating matches.
    query: SearchQuery,
}

impl SearchSink for HitSender {
    async fn hit(&mut self, log: LogEntry) -> Result<(), String> {
        let matches = self
            .query
            .locate(&log)
            .into_iter()
            .map(|m| pb::SearchMatch {
                field: m.field,
                fragment: m.fragment,
                start: m.start as u32,
                end: m.end as u32,
            })
            .collect();
        let hit = pb::SearchHit {
            log: Some(convert::log_entry(log)),
            matches,
        };
        self.sender
            .send(Ok(pb::SearchLogsResponse {
                result: Some(pb::search_logs_response::Result::Hit(hit)),
            }))
            .await
            .map_err(|_| "the client went away".to_string())
    }
}

impl DiagnosticsApi {
    /// Streams the hits, then the summary.
    pub(super) async fn search_logs(
        &self,
        request: Request<pb::SearchLogsRequest>,
    ) -> Result<Response<ResponseStream<pb::SearchLogsResponse>>, Status> {
        let started = Instant::now();
        let request = request.into_inner();
        let query = SearchQuery::parse(&request.query)
            .map_err(|reason| FieldError::new("query", reason))?;
        let filter = convert::log_filter(request.filter).map_err(|e| e.within("filter"))?;
        let limit = match request.limit {
            0 => DEFAULT_LIMIT,
            n if n < 0 => return Err(FieldError::new("limit", "must not be negative").into()),
            n if n as usize > MAX_LIMIT => {
                return Err(FieldError::new("limit", format!("at most {MAX_LIMIT}")).into());
            }
            n => n as usize,
        };
        let (sender, receiver) = mpsc::channel(32);
        let mut hits = HitSender {
            sender: sender.clone(),
            query: query.clone(),
        };
        let store = self.store.clone();
        let shutdown = self.shutdown.clone();
        let slot = self.settings.limits.stream_slot()?;
        tokio::spawn(async move {
            let slot = slot;
            let outcome = tokio::select! {
                outcome = store.search_logs(&filter, &query.terms, limit, &mut hits) => outcome,
                () = shutdown.cancelled() => {
                    let _ = sender.send(Err(Status::unavailable("diagd is shutting down; search again"))).await;
                    return;
                }
            };
            let message = match outcome {
                Ok(outcome) => {
                    let elapsed_ms = started.elapsed().as_millis() as u64;
                    tracing::debug!(terms = ?query.terms, matched = outcome.matched, elapsed_ms, "search done");
                    Ok(pb::SearchLogsResponse {
                        result: Some(pb::search_logs_response::Result::Summary(
                            pb::SearchSummary {
                                matched: outcome.matched,
                                truncated: outcome.truncated,
                                elapsed_ms,
                                note: summary_note(
                                    &request.query,
                                    &filter,
                                    outcome.matched,
                                    outcome.truncated,
                                    limit,
                                ),
                            },
                        )),
                    })
                }
                Err(crate::store::StoreError::Sink(_)) => return,
                Err(e) => Err(e.into()),
            };
            // Free the slot before the last message: a client that has seen
            // the summary can start its next search at once.
            drop(slot);
            let _ = sender.send(message).await;
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }
}

/// The summary's plain-language note.
fn summary_note(
    query: &str,
    filter: &LogFilter,
    matched: u64,
    truncated: bool,
    limit: usize,
) -> String {
    let query = query.trim();
    if matched == 0 {
        if filter == &LogFilter::default() {
            format!("No logs match \"{query}\". Try fewer or broader words.")
        } else {
            format!(
                "No logs match \"{query}\" with these filters. Try removing filters or broader words."
            )
        }
    } else if truncated {
        format!(
            "Showing the newest {limit} logs matching \"{query}\"; more match. Narrow the search or raise the limit."
        )
    } else {
        let (logs, verb) = if matched == 1 {
            ("log", "matches")
        } else {
            ("logs", "match")
        };
        format!("{matched} {logs} {verb} \"{query}\".")
    }
}
