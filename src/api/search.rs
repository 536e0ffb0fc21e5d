//! SearchLogs: streams matching logs (newest first) with where each matched,
//! then a summary — which says so plainly when nothing matched.

use std::time::Instant;

use tonic::{Request, Response};

use super::error::ApiError;
use super::limits::{DEFAULT_LIMIT, MAX_LIMIT, MAX_QUERY_BYTES, MAX_QUERY_TERMS};
use super::{
    DiagnosticsApi, ResponseStream, convert,
    error::{self, FieldError},
    pb,
    streaming::{self, StreamSender},
};
use crate::{
    domain::{LogEntry, LogFilter, SearchQuery},
    store::SearchSink,
};

/// Hits queued ahead of a slow client.
const HITS_AHEAD: usize = 32;

/// Sends hits down the response stream, with their match locations.
struct HitSender {
    /// The response stream; fails once the client went away or stalled.
    sender: StreamSender<pb::SearchLogsResponse>,
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
            log: Some(convert::to_wire::log_entry(log)),
            matches,
        };
        self.sender
            .send(pb::SearchLogsResponse {
                result: Some(pb::search_logs_response::Result::Hit(hit)),
            })
            .await
    }
}

impl DiagnosticsApi {
    /// Streams the hits, then the summary.
    pub(super) async fn search_logs(
        &self,
        request: Request<pb::SearchLogsRequest>,
    ) -> Result<Response<ResponseStream<pb::SearchLogsResponse>>, ApiError> {
        let started = Instant::now();
        let request = request.into_inner();
        let query = search_query(&request.query)?;
        let filter =
            convert::from_wire::log_filter(request.filter).map_err(|e| e.within("filter"))?;
        let filter = self.resolve_filter_groups(filter).await?;
        let limit = match request.limit {
            0 => DEFAULT_LIMIT,
            n if n < 0 => return Err(FieldError::new("limit", "must not be negative").into()),
            n if n as usize > MAX_LIMIT => {
                return Err(FieldError::new("limit", format!("at most {MAX_LIMIT}")).into());
            }
            n => n as usize,
        };
        let slot = self.settings.admission.stream_slot()?;
        let (sender, response) = streaming::channel(HITS_AHEAD, self.settings.stream_stall);
        let mut hits = HitSender {
            sender: sender.clone(),
            query: query.clone(),
        };
        let store = self.store.clone();
        let shutdown = self.shutdown.clone();
        let ended_before = store.readers_ended_by_clears();
        tokio::spawn(async move {
            let slot = slot;
            // Whichever comes first ends the search; dropping it mid-query
            // cancels the query inside PostgreSQL.
            let outcome = tokio::select! {
                outcome = store.search_logs(&filter, &query.terms, limit, &mut hits) => outcome,
                () = sender.closed() => return,
                () = shutdown.cancelled() => {
                    sender.end_with(ApiError::ShuttingDown { again: "search" });
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
                                note: summary_note(&request.query, &filter, &outcome, limit),
                            },
                        )),
                    })
                }
                Err(crate::store::StoreError::Sink(_)) => return,
                Err(e) => Err(error::read_stream_failed(
                    e,
                    ended_before,
                    store.readers_ended_by_clears(),
                    "search",
                )
                .into()),
            };
            // Free the slot before the last message: a client that has seen
            // the summary can start its next search at once.
            drop(slot);
            let _ = sender.send_result(message).await;
        });
        Ok(Response::new(response))
    }
}

/// A search query (of SearchLogs or a live tail) within the limits of size
/// and terms, or the `query` field's error.
pub(super) fn search_query(text: &str) -> Result<SearchQuery, FieldError> {
    if text.len() > MAX_QUERY_BYTES {
        return Err(FieldError::new(
            "query",
            format!(
                "{} bytes; a search query may have at most {MAX_QUERY_BYTES} bytes",
                text.len()
            ),
        ));
    }
    let query = SearchQuery::parse(text).map_err(|reason| FieldError::new("query", reason))?;
    if query.terms.len() > MAX_QUERY_TERMS {
        return Err(FieldError::new(
            "query",
            format!(
                "{} terms; a search query may have at most {MAX_QUERY_TERMS} words or quoted phrases",
                query.terms.len()
            ),
        ));
    }
    Ok(query)
}

/// The summary's plain-language note.
fn summary_note(
    query: &str,
    filter: &LogFilter,
    outcome: &crate::store::SearchOutcome,
    limit: usize,
) -> String {
    let note = result_note(query, filter, outcome.matched, outcome.truncated, limit);
    match outcome.searched_newest {
        Some(newest) => format!(
            "{note} Only the newest {} logs were searched: every word is shorter than 3 letters or digits, too short for the search index; type more to search them all.",
            crate::domain::thousands(newest)
        ),
        None => note,
    }
}

/// What the note says about the hits themselves.
fn result_note(
    query: &str,
    filter: &LogFilter,
    matched: u64,
    truncated: bool,
    limit: usize,
) -> String {
    // Quoted once: a query that has quotes of its own is shown as it is
    // (`"out of memory"`, not `""out of memory""`).
    let query = query.trim();
    let query = if query.contains('"') {
        query.to_string()
    } else {
        format!("\"{query}\"")
    };
    if matched == 0 {
        if filter == &LogFilter::default() {
            format!("No logs match {query}. Try fewer or broader words.")
        } else {
            format!(
                "No logs match {query} with these filters. Try removing filters or broader words."
            )
        }
    } else if truncated {
        format!(
            "Showing the newest {limit} logs matching {query}; more match. Narrow the search or raise the limit."
        )
    } else {
        let (logs, verb) = if matched == 1 {
            ("log", "matches")
        } else {
            ("logs", "match")
        };
        format!("{matched} {logs} {verb} {query}.")
    }
}
