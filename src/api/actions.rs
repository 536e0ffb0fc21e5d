//! RecordAction: user actions (breadcrumbs) that diagnostic reports include.

use tonic::{Request, Response};

use super::error::ApiError;
use super::{DiagnosticsApi, convert, pb};

impl DiagnosticsApi {
    /// Stores one action; the oldest of its source beyond the bound go.
    pub(super) async fn record_action(
        &self,
        request: Request<pb::RecordActionRequest>,
    ) -> Result<Response<pb::RecordActionResponse>, ApiError> {
        let mut action = convert::from_wire::new_action(request.into_inner(), chrono::Utc::now())?;
        self.settings.scrubber.scrub_action(&mut action);
        let _slot = self.settings.admission.ingest_slot().await?;
        let id = self
            .store
            .record_action(&action, self.settings.actions_per_source)
            .await?;
        tracing::debug!(%id, action = ?action.action, "action recorded");
        Ok(Response::new(pb::RecordActionResponse {
            id: id.to_string(),
        }))
    }
}
