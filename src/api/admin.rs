//! Administration: ClearLogs (confirmed, optionally exporting first),
//! debug mode (GetDebugMode, SetDebugMode, WatchDebugMode) and what the
//! caller's token allows (GetAccess).

use chrono::{TimeDelta, Utc};
use tonic::{Request, Response};

use super::error::ApiError;
use super::limits::{MAX_AUTO_OFF, MAX_CHANGED_BY_BYTES};
use super::{DiagnosticsApi, ResponseStream, convert, error::FieldError, pb};
use crate::{
    domain::LogFilter,
    export::{ExportFormat, FileSink},
    store::StoreError,
};

impl DiagnosticsApi {
    /// Deletes logs, after an explicit confirmation.
    pub(super) async fn clear_logs(
        &self,
        request: Request<pb::ClearLogsRequest>,
    ) -> Result<Response<pb::ClearLogsResponse>, ApiError> {
        let request = request.into_inner();
        if !request.confirm {
            return Err(ApiError::Precondition {
                reason: "CONFIRMATION_REQUIRED",
                subject: "confirm",
                message: "ClearLogs deletes logs permanently: send \"confirm\": true to proceed \
                     (and \"export_first\": true to keep a copy on the server)"
                    .into(),
            });
        }
        let filter = convert::from_wire::log_filter(Some(pb::LogFilter {
            severities: request.severities,
            until: request.older_than,
            group_ids: request.group_ids,
            ..Default::default()
        }))
        .map_err(|e| FieldError {
            field: e.field.replace("until", "older_than"),
            reason: e.reason,
        })?;
        let filter = self.resolve_filter_groups(filter).await?;
        let response = if request.export_first {
            let mut sink =
                FileSink::create(&self.settings.export_dir, ExportFormat::Json, Utc::now())
                    .await
                    .map_err(ApiError::Internal)?;
            let (exported, deleted) =
                match self.store.export_and_clear_logs(&filter, &mut sink).await {
                    Ok(counts) => counts,
                    Err(e) => {
                        // Rolled back: the file would hold logs that are
                        // still stored. Kept only when the connection was
                        // lost, as the deletion may have committed then and
                        // the file be the only copy.
                        if !matches!(e, StoreError::Unavailable(_)) {
                            sink.discard().await;
                        }
                        return Err(e.into());
                    }
                };
            pb::ClearLogsResponse {
                deleted_count: deleted,
                export_path: sink.path().display().to_string(),
                exported_count: exported,
            }
        } else {
            pb::ClearLogsResponse {
                deleted_count: self.store.clear_logs(&filter).await?,
                ..Default::default()
            }
        };
        tracing::info!(
            deleted = response.deleted_count,
            export = ?response.export_path,
            all = filter == LogFilter::default(),
            "logs cleared"
        );
        Ok(Response::new(response))
    }

    /// The caller's role and the methods it may call (the page disables the
    /// others). The role comes from the auth layer; a server without it (a
    /// test serving the service bare) has access control off.
    pub(super) async fn get_access(
        &self,
        request: Request<pb::GetAccessRequest>,
    ) -> Result<Response<pb::GetAccessResponse>, ApiError> {
        use crate::server::auth::{Caller, Role, allowed_methods};
        let role = request.extensions().get::<Caller>().and_then(|c| c.0);
        Ok(Response::new(pb::GetAccessResponse {
            access_control: role.is_some(),
            role: match role {
                None => pb::Role::Unspecified,
                Some(Role::Ingest) => pb::Role::Ingest,
                Some(Role::Read) => pb::Role::Read,
                Some(Role::Admin) => pb::Role::Admin,
            } as i32,
            allowed_methods: allowed_methods(role),
            server_version: env!("CARGO_PKG_VERSION").to_string(),
        }))
    }

    /// Debug mode as stored (off once auto-off has passed).
    pub(super) async fn get_debug_mode(
        &self,
        _request: Request<pb::GetDebugModeRequest>,
    ) -> Result<Response<pb::GetDebugModeResponse>, ApiError> {
        let mode = self.store.debug_mode().await?;
        Ok(Response::new(pb::GetDebugModeResponse {
            debug_mode: Some(convert::to_wire::debug_mode(mode, Utc::now())),
        }))
    }

    /// Switches debug mode for every diagd on this database.
    pub(super) async fn set_debug_mode(
        &self,
        request: Request<pb::SetDebugModeRequest>,
    ) -> Result<Response<pb::SetDebugModeResponse>, ApiError> {
        let request = request.into_inner();
        if request.changed_by.len() > MAX_CHANGED_BY_BYTES || request.changed_by.contains('\0') {
            return Err(FieldError::new(
                "changed_by",
                format!("at most {MAX_CHANGED_BY_BYTES} bytes, no NUL"),
            )
            .into());
        }
        let auto_off_after = match request.auto_off_after {
            None => None,
            Some(_) if !request.enabled => {
                return Err(FieldError::new("auto_off_after", "only applies when enabling").into());
            }
            Some(duration) => {
                let delay = TimeDelta::new(duration.seconds, duration.nanos.max(0) as u32)
                    .filter(|d| *d > TimeDelta::zero() && *d <= MAX_AUTO_OFF && duration.nanos >= 0)
                    .ok_or_else(|| {
                        FieldError::new("auto_off_after", "must be positive and at most 30 days")
                    })?;
                Some(delay)
            }
        };
        let mode = self
            .store
            .set_debug_mode(request.enabled, &request.changed_by, auto_off_after)
            .await?;
        Ok(Response::new(pb::SetDebugModeResponse {
            debug_mode: Some(convert::to_wire::debug_mode(mode, Utc::now())),
        }))
    }

    /// The current debug mode at once, then every change, until the client
    /// goes away or diagd shuts down.
    pub(super) async fn watch_debug_mode(
        &self,
        _request: Request<pb::WatchDebugModeRequest>,
    ) -> Result<Response<ResponseStream<pb::WatchDebugModeResponse>>, ApiError> {
        let current = convert::to_wire::debug_mode(self.store.debug_mode().await?, Utc::now());
        let mut changes = self.debug_mode.clone();
        changes.mark_unchanged();
        let shutdown = self.shutdown.clone();
        let (sender, receiver) = tokio::sync::mpsc::channel(16);
        let slot = self.settings.admission.watcher_slot()?;
        tokio::spawn(async move {
            let _slot = slot;
            let respond = |mode: pb::DebugMode| {
                Ok(pb::WatchDebugModeResponse {
                    debug_mode: Some(mode),
                })
            };
            let mut last = current.clone();
            if sender.send(respond(current)).await.is_err() {
                return;
            }
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = sender.closed() => return,
                    changed = changes.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        let mode = convert::to_wire::debug_mode(changes.borrow_and_update().clone(), Utc::now());
                        if mode != last {
                            last = mode.clone();
                            if sender.send(respond(mode)).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(receiver),
        )))
    }
}
