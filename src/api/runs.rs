//! Heartbeat, ListRuns, GetRun and WatchRuns: what training runs say about
//! themselves, and the states diagd derives from it (`store::runs`, swept by
//! `workers::runs`).

use tokio::sync::broadcast::error::RecvError;
use tonic::{Request, Response, Status};

use super::convert::{groups as group_wire, runs as wire};
use super::error::ApiError;
use super::{DiagnosticsApi, ResponseStream, page_token, pb};
use crate::domain::{Source, group::GroupFilter, group::GroupOrder};

/// Error groups GetRun returns at most.
const RUN_GROUPS: usize = 20;
/// Recent actions GetRun returns at most.
const RUN_ACTIONS: usize = 20;
/// Byte bound of GetRun's groups.
const RUN_GROUPS_BYTES: usize = 1024 * 1024;

impl DiagnosticsApi {
    /// Records a heartbeat; answers the member's and the run's state.
    pub(super) async fn heartbeat(
        &self,
        request: Request<pb::HeartbeatRequest>,
    ) -> Result<Response<pb::HeartbeatResponse>, ApiError> {
        let mut beat = wire::heartbeat(request.into_inner())?;
        // The message may quote the failure: scrub it like a log's.
        beat.message = self.settings.scrubber.scrub_text(&beat.message);
        let (member, run) = self.store.heartbeat(&beat).await?;
        Ok(Response::new(pb::HeartbeatResponse {
            member_state: wire::run_state_to_proto(member) as i32,
            run_state: wire::run_state_to_proto(run) as i32,
        }))
    }

    /// A page of runs, most recent heartbeat first.
    pub(super) async fn list_runs(
        &self,
        request: Request<pb::ListRunsRequest>,
    ) -> Result<Response<pb::ListRunsResponse>, ApiError> {
        let request = request.into_inner();
        let filter = wire::run_filter(&request)?;
        let page_size = match request.page_size {
            0 => 50,
            n @ 1..=500 => n as usize,
            n => {
                return Err(super::error::FieldError::new(
                    "page_size",
                    format!("{n} is outside 1 to 500"),
                )
                .into());
            }
        };
        let paged = (&filter, page_size);
        let cursor = match request.page_token.as_str() {
            "" => None,
            token => Some(page_token::decode_run(token, &paged)?),
        };
        let (runs, next) = self
            .store
            .list_runs(&filter, cursor.as_ref(), page_size)
            .await?;
        Ok(Response::new(pb::ListRunsResponse {
            runs: runs.into_iter().map(wire::run).collect(),
            next_page_token: next
                .map(|c| page_token::encode_run(&c, &paged))
                .unwrap_or_default(),
        }))
    }

    /// One run with its members, error groups and recent actions.
    pub(super) async fn get_run(
        &self,
        request: Request<pb::GetRunRequest>,
    ) -> Result<Response<pb::GetRunResponse>, ApiError> {
        let run_id = request.into_inner().run_id;
        super::convert::from_wire::text("run_id", &run_id, super::limits::MAX_RUN_FIELD_BYTES)?;
        if run_id.is_empty() {
            return Err(super::error::FieldError::new("run_id", "required").into());
        }
        let Some((run, members)) = self.store.get_run(&run_id).await? else {
            return Err(ApiError::not_found("run", &run_id));
        };
        let groups = self
            .store
            .list_groups(
                &GroupFilter {
                    run_id: run_id.clone(),
                    ..GroupFilter::default()
                },
                GroupOrder::LastSeen,
                chrono::Utc::now() - chrono::TimeDelta::hours(24),
                None,
                RUN_GROUPS,
                RUN_GROUPS_BYTES,
            )
            .await?;
        let actions = self
            .store
            .recent_actions(
                &Source {
                    run_id: run_id.clone(),
                    ..Source::default()
                },
                RUN_ACTIONS,
            )
            .await?;
        Ok(Response::new(pb::GetRunResponse {
            run: Some(wire::run(run)),
            members: members.into_iter().map(wire::member).collect(),
            groups: groups
                .groups
                .into_iter()
                .map(group_wire::error_group)
                .collect(),
            recent_actions: actions
                .into_iter()
                .map(|a| pb::RecentAction {
                    timestamp: Some(super::timestamp_to_proto(a.timestamp)),
                    action: a.action,
                    details: Some(super::json_to_struct(a.details)),
                })
                .collect(),
        }))
    }

    /// Every member state change from now on (of the runs asked for),
    /// until the client goes away or diagd shuts down. A stream that falls
    /// more than `workers::runs::WATCH_BUFFER` changes behind is ended with
    /// RESOURCE_EXHAUSTED (read faster, or watch fewer runs).
    pub(super) async fn watch_runs(
        &self,
        request: Request<pb::WatchRunsRequest>,
    ) -> Result<Response<ResponseStream<pb::WatchRunsResponse>>, ApiError> {
        let run_ids = request.into_inner().run_ids;
        if run_ids.len() > 1000 {
            return Err(super::error::FieldError::new(
                "run_ids",
                format!("{} runs is over the limit of 1000", run_ids.len()),
            )
            .into());
        }
        for (i, id) in run_ids.iter().enumerate() {
            super::convert::from_wire::text(
                &format!("run_ids[{i}]"),
                id,
                super::limits::MAX_RUN_FIELD_BYTES,
            )?;
        }
        let slot = self.settings.admission.watcher_slot()?;
        let mut changes = self.runs.subscribe();
        let shutdown = self.shutdown.clone();
        let (sender, receiver) = tokio::sync::mpsc::channel(16);
        tokio::spawn(async move {
            let _slot = slot;
            loop {
                let change = tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = sender.closed() => return,
                    change = changes.recv() => change,
                };
                let change = match change {
                    Ok(change) => change,
                    Err(RecvError::Closed) => return,
                    Err(RecvError::Lagged(missed)) => {
                        let status: Status = ApiError::LimitExceeded {
                            limit: super::error::Limit {
                                reason: "WATCH_BEHIND",
                                value: crate::workers::runs::WATCH_BUFFER as u64,
                                flag: None,
                            },
                            message: format!(
                                "the stream fell {missed} changes behind (more than {} waiting): \
                                 it was ended; read as changes arrive, then watch again",
                                crate::workers::runs::WATCH_BUFFER
                            ),
                            retry: true,
                        }
                        .into();
                        let _ = sender.send(Err(status)).await;
                        return;
                    }
                };
                if !run_ids.is_empty() && !run_ids.contains(&change.run_id) {
                    continue;
                }
                let message = pb::WatchRunsResponse {
                    change: Some(wire::change(&change)),
                };
                if sender.send(Ok(message)).await.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(receiver),
        )))
    }
}
