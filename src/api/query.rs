//! ListLogs, GetLog and GetStats: the log viewer and its stats dashboard.

use prost::Message;
use tonic::{Request, Response};

use super::limits::{DEFAULT_PAGE_SIZE, MAX_PAGE_BYTES, MAX_PAGE_SIZE, MAX_STATS_BUCKETS};
use super::{
    DiagnosticsApi, convert,
    error::{ApiError, FieldError},
    page_token, pb,
};
use crate::domain::PageCursor;

impl DiagnosticsApi {
    /// One page of logs, newest first.
    pub(super) async fn list_logs(
        &self,
        request: Request<pb::ListLogsRequest>,
    ) -> Result<Response<pb::ListLogsResponse>, ApiError> {
        let request = request.into_inner();
        let filter =
            convert::from_wire::log_filter(request.filter).map_err(|e| e.within("filter"))?;
        let filter = self.resolve_filter_groups(filter).await?;
        let page_size = match request.page_size {
            0 => DEFAULT_PAGE_SIZE,
            n if n < 0 => return Err(FieldError::new("page_size", "must not be negative").into()),
            n => (n as usize).min(MAX_PAGE_SIZE),
        };
        let full = match pb::LogView::try_from(request.view) {
            Ok(pb::LogView::Unspecified | pb::LogView::Basic) => false,
            Ok(pb::LogView::Full) => true,
            Err(_) => {
                return Err(
                    FieldError::new("view", format!("unknown view {}", request.view)).into(),
                );
            }
        };
        let cursor = if request.page_token.is_empty() {
            None
        } else {
            Some(page_token::decode(&request.page_token, &filter)?)
        };
        let page = self
            .store
            .list_logs(
                &filter,
                cursor,
                page_size,
                full,
                request.include_total,
                MAX_PAGE_BYTES,
            )
            .await?;

        let mut logs = Vec::with_capacity(page.logs.len());
        let mut bytes = 0;
        let mut cut_short = false;
        let mut last = None;
        for entry in page.logs {
            let position = PageCursor {
                occurred_at: entry.occurred_at,
                id: entry.id,
            };
            let entry = convert::to_wire::log_entry(entry);
            bytes += entry.encoded_len();
            if bytes > MAX_PAGE_BYTES && !logs.is_empty() {
                cut_short = true;
                break;
            }
            logs.push(entry);
            last = Some(position);
        }
        let next_page_token = match last {
            Some(position) if page.has_more || cut_short => page_token::encode(position, &filter),
            _ => String::new(),
        };
        Ok(Response::new(pb::ListLogsResponse {
            logs,
            next_page_token,
            total_count: page.total,
        }))
    }

    /// One log with every detail.
    pub(super) async fn get_log(
        &self,
        request: Request<pb::GetLogRequest>,
    ) -> Result<Response<pb::GetLogResponse>, ApiError> {
        let id = convert::from_wire::log_id("id", &request.into_inner().id)?;
        let entry = self
            .store
            .get_log(id)
            .await?
            .ok_or_else(|| ApiError::not_found("log", id))?;
        Ok(Response::new(pb::GetLogResponse {
            log: Some(convert::to_wire::log_entry(entry)),
        }))
    }

    /// Counts for the stats dashboard.
    pub(super) async fn get_stats(
        &self,
        request: Request<pb::GetStatsRequest>,
    ) -> Result<Response<pb::GetStatsResponse>, ApiError> {
        let request = request.into_inner();
        let filter =
            convert::from_wire::log_filter(request.filter).map_err(|e| e.within("filter"))?;
        let filter = self.resolve_filter_groups(filter).await?;
        let buckets = match convert::groups::stats_bucket_width(request.bucket_width)? {
            None => Vec::new(),
            Some(width) => {
                let (from, to) = bucket_range(&filter, width)?;
                self.store.stats_buckets(&filter, width, from, to).await?
            }
        };
        let stats = self.store.stats(&filter).await?;
        let mut response = convert::to_wire::stats_response(
            stats,
            self.hub.subscriber_count(),
            self.retention.status(),
        );
        response.standby = self
            .store
            .standby_status()
            .map(convert::to_wire::standby_status);
        response.buckets = buckets
            .into_iter()
            .map(convert::to_wire::time_bucket)
            .collect();
        Ok(Response::new(response))
    }
}

/// The range GetStats' buckets cover: the filter's since..until (until
/// defaults to now, since to 24 buckets before until), widened to whole
/// buckets; at most [`MAX_STATS_BUCKETS`].
fn bucket_range(
    filter: &crate::domain::LogFilter,
    width: crate::domain::group::BucketWidth,
) -> Result<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>), ApiError> {
    use chrono::DurationRound;
    let step = width.step();
    let until = filter.until.unwrap_or_else(chrono::Utc::now);
    let out_of_range = |field: &str| {
        FieldError::new(
            field,
            "outside the years time buckets can cover (1678 to 2261)",
        )
    };
    let to = until
        .duration_trunc(step)
        .map_err(|_| out_of_range("filter.until"))?;
    let to = if to < until { to + step } else { to };
    let since = filter.since.unwrap_or(to - step * 24);
    let from = since
        .duration_trunc(step)
        .map_err(|_| out_of_range("filter.since"))?;
    let buckets = (to - from).num_seconds() / step.num_seconds();
    if buckets > MAX_STATS_BUCKETS as i64 {
        return Err(FieldError::new(
            "bucket_width",
            format!(
                "{buckets} buckets from filter.since to filter.until is over the limit of \
                 {MAX_STATS_BUCKETS}: use a wider bucket or a shorter range"
            ),
        )
        .into());
    }
    Ok((from, to.max(from)))
}
