//! ListGroups, GetGroup, UpdateGroup, MergeGroups and SplitGroup: error
//! groups read and triaged (validation here, wire conversion in
//! `convert::groups`, storage in `store::groups`).

use chrono::{DurationRound, TimeDelta, Utc};
use tonic::{Request, Response};

use super::convert::{self, groups as wire};
use super::error::{ApiError, FieldError};
use super::limits::{
    DEFAULT_GROUP_PAGE, MAX_ACTOR_BYTES, MAX_GROUP_PAGE, MAX_GROUP_WINDOW_HOURS,
    MAX_HISTOGRAM_BUCKETS, MAX_MERGE_SOURCES, MAX_NOTE_BYTES, MAX_PAGE_BYTES,
};
use super::{DiagnosticsApi, page_token, pb};
use crate::domain::group::{GroupRefusal, GroupStatus, GroupUpdate, IgnoreRule};

impl DiagnosticsApi {
    /// A page of groups.
    pub(super) async fn list_groups(
        &self,
        request: Request<pb::ListGroupsRequest>,
    ) -> Result<Response<pb::ListGroupsResponse>, ApiError> {
        let request = request.into_inner();
        let filter = wire::group_filter(&request)?;
        let order = wire::group_order(request.order_by)?;
        let window_hours = match request.window_hours {
            0 => 24,
            h if h <= MAX_GROUP_WINDOW_HOURS => h,
            h => {
                return Err(FieldError::new(
                    "window_hours",
                    format!("{h} is over the limit of {MAX_GROUP_WINDOW_HOURS}"),
                )
                .into());
            }
        };
        let page_size = match request.page_size as usize {
            0 => DEFAULT_GROUP_PAGE,
            n if n <= MAX_GROUP_PAGE => n,
            n => {
                return Err(FieldError::new(
                    "page_size",
                    format!("{n} is over the limit of {MAX_GROUP_PAGE}"),
                )
                .into());
            }
        };
        // The page size may change between pages; the filter, order and
        // window may not.
        let paged = (&filter, order, window_hours);
        let cursor = if request.page_token.is_empty() {
            None
        } else {
            Some(page_token::decode_group(&request.page_token, &paged)?)
        };
        // Whole hours (the counts are hourly), so the growth order's keys
        // stay put between the pages of one hour.
        let window_start = (Utc::now() - TimeDelta::hours(window_hours as i64))
            .duration_trunc(TimeDelta::hours(1))
            .map_err(|e| ApiError::Internal(format!("window start: {e}")))?;
        // Counted first: a page read after a count of 0 holds every log.
        let ungrouped_logs = self.store.ungrouped_logs().await?;
        let page = self
            .store
            .list_groups(
                &filter,
                order,
                window_start,
                cursor,
                page_size,
                MAX_PAGE_BYTES,
            )
            .await?;
        Ok(Response::new(pb::ListGroupsResponse {
            next_page_token: page
                .next
                .map(|c| page_token::encode_group(c, &paged))
                .unwrap_or_default(),
            groups: page.groups.into_iter().map(wire::error_group).collect(),
            ungrouped_logs,
        }))
    }

    /// One group in detail (a merged-away group answers its target).
    pub(super) async fn get_group(
        &self,
        request: Request<pb::GetGroupRequest>,
    ) -> Result<Response<pb::GetGroupResponse>, ApiError> {
        let request = request.into_inner();
        let asked = group_id("id", request.id)?;
        let buckets = match request.buckets {
            0 => 30,
            n if n <= MAX_HISTOGRAM_BUCKETS => n,
            n => {
                return Err(FieldError::new(
                    "buckets",
                    format!("{n} is over the limit of {MAX_HISTOGRAM_BUCKETS}"),
                )
                .into());
            }
        };
        let width = wire::bucket_width(request.bucket_width)?;
        let id = self.resolve(asked).await?;
        let detail = self
            .store
            .get_group(id, buckets, width)
            .await?
            .ok_or_else(|| ApiError::not_found("group", asked))?;
        Ok(Response::new(wire::group_detail(
            detail,
            (id != asked).then_some(asked),
        )))
    }

    /// Changes a group's status or note.
    pub(super) async fn update_group(
        &self,
        request: Request<pb::UpdateGroupRequest>,
    ) -> Result<Response<pb::UpdateGroupResponse>, ApiError> {
        let request = request.into_inner();
        let asked = group_id("id", request.id)?;
        let status = wire::group_status("status", request.status)?;
        let until = request
            .ignore_until
            .map(|t| convert::from_wire::timestamp("ignore_until", t))
            .transpose()?;
        if status != Some(GroupStatus::Ignored) && (until.is_some() || request.ignore_events > 0) {
            return Err(FieldError::new(
                if until.is_some() {
                    "ignore_until"
                } else {
                    "ignore_events"
                },
                "only with status GROUP_STATUS_IGNORED",
            )
            .into());
        }
        let rule = match (until, request.ignore_events) {
            (Some(_), n) if n > 0 => {
                return Err(FieldError::new(
                    "ignore_events",
                    "give ignore_until or ignore_events, not both",
                )
                .into());
            }
            (Some(t), _) if t <= Utc::now() => {
                return Err(
                    FieldError::new("ignore_until", format!("{t} is not in the future")).into(),
                );
            }
            (Some(t), _) => Some(IgnoreRule::Until(t)),
            (None, n) if n > 0 => Some(IgnoreRule::ForEvents(n)),
            (None, _) => Some(IgnoreRule::Forever),
        };
        if request.update_note {
            convert::from_wire::text("note", &request.note, MAX_NOTE_BYTES)?;
        } else if !request.note.is_empty() {
            return Err(FieldError::new("note", "set update_note to write the note").into());
        }
        convert::from_wire::text("actor", &request.actor, MAX_ACTOR_BYTES)?;
        if status.is_none() && !request.update_note {
            return Err(FieldError::new(
                "status",
                "nothing to change: give a status, or a note with update_note",
            )
            .into());
        }
        let update = GroupUpdate {
            status: status.map(|s| (s, (s == GroupStatus::Ignored).then_some(rule).flatten())),
            note: request.update_note.then(|| request.note.trim().to_string()),
            actor: request.actor,
        };
        let id = self.resolve(asked).await?;
        let group = self
            .store
            .update_group(id, &update)
            .await?
            .ok_or_else(|| ApiError::not_found("group", asked))?;
        Ok(Response::new(pb::UpdateGroupResponse {
            group: Some(wire::error_group(group)),
        }))
    }

    /// Merges groups into a target.
    pub(super) async fn merge_groups(
        &self,
        request: Request<pb::MergeGroupsRequest>,
    ) -> Result<Response<pb::MergeGroupsResponse>, ApiError> {
        let request = request.into_inner();
        group_id("target_id", request.target_id)?;
        if request.source_ids.is_empty() {
            return Err(FieldError::new("source_ids", "required: the groups to merge").into());
        }
        if request.source_ids.len() > MAX_MERGE_SOURCES {
            return Err(FieldError::new(
                "source_ids",
                format!(
                    "{} groups is over the limit of {MAX_MERGE_SOURCES}",
                    request.source_ids.len()
                ),
            )
            .into());
        }
        let target = self.resolve(request.target_id).await?;
        let mut sources = Vec::new();
        for (i, &source) in request.source_ids.iter().enumerate() {
            let field = format!("source_ids[{i}]");
            group_id(&field, source)?;
            if source == request.target_id {
                return Err(FieldError::new(field, "a group cannot be merged into itself").into());
            }
            let resolved = self.resolve(source).await?;
            if resolved == target {
                return Err(FieldError::new(
                    field,
                    format!("group {source} is already merged into {target}"),
                )
                .into());
            }
            if !sources.contains(&resolved) {
                sources.push(resolved);
            }
        }
        let moved = self
            .store
            .merge_groups(target, &sources)
            .await?
            .map_err(refusal)?;
        Ok(Response::new(pb::MergeGroupsResponse {
            group: Some(wire::error_group(moved.group)),
            moved_logs: moved.moved_logs,
        }))
    }

    /// Moves one fingerprint out of a group.
    pub(super) async fn split_group(
        &self,
        request: Request<pb::SplitGroupRequest>,
    ) -> Result<Response<pb::SplitGroupResponse>, ApiError> {
        let request = request.into_inner();
        let asked = group_id("id", request.id)?;
        if request.fingerprint.is_empty() {
            return Err(FieldError::new("fingerprint", "required").into());
        }
        if request.fingerprint.len() != 32
            || !request.fingerprint.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(FieldError::new(
                "fingerprint",
                "not a fingerprint (32 hex digits, as GetGroup lists them)",
            )
            .into());
        }
        let id = self.resolve(asked).await?;
        let moved = self
            .store
            .split_group(id, &request.fingerprint.to_ascii_lowercase())
            .await?
            .map_err(refusal)?;
        Ok(Response::new(pb::SplitGroupResponse {
            group: Some(wire::error_group(moved.group)),
            moved_logs: moved.moved_logs,
        }))
    }

    /// `filter` with each of its group ids replaced by the group it was
    /// merged into, if it was (a merged-away group's logs are there now).
    /// An id of no group stays: it matches nothing.
    pub(super) async fn resolve_filter_groups(
        &self,
        mut filter: crate::domain::LogFilter,
    ) -> Result<crate::domain::LogFilter, ApiError> {
        let mut resolved = Vec::with_capacity(filter.group_ids.len());
        for id in std::mem::take(&mut filter.group_ids) {
            let id = self.store.resolve_group(id).await?.unwrap_or(id);
            if !resolved.contains(&id) {
                resolved.push(id);
            }
        }
        filter.group_ids = resolved;
        Ok(filter)
    }

    /// The group `id` ends up in after merges; NOT_FOUND when none.
    async fn resolve(&self, id: i64) -> Result<i64, ApiError> {
        self.store
            .resolve_group(id)
            .await?
            .ok_or_else(|| ApiError::not_found("group", id))
    }
}

/// A group id from the wire: positive.
fn group_id(field: &str, id: i64) -> Result<i64, FieldError> {
    if id <= 0 {
        return Err(FieldError::new(
            field,
            if id == 0 {
                "required".to_string()
            } else {
                format!("{id} is not a group id (ids are positive)")
            },
        ));
    }
    Ok(id)
}

/// A refused merge or split as the API answers it.
fn refusal(refusal: GroupRefusal) -> ApiError {
    match refusal {
        GroupRefusal::NotFound(id) => ApiError::not_found("group", id),
        GroupRefusal::FingerprintNotInGroup(print) => FieldError::new(
            "fingerprint",
            format!("{print} is not one of this group's fingerprints (GetGroup lists them)"),
        )
        .into(),
        GroupRefusal::LastFingerprint => FieldError::new(
            "fingerprint",
            "the group's only fingerprint cannot be split off",
        )
        .into(),
    }
}
