//! Every limit on the size of a request or of what one request may ask
//! for, in one place: text and JSON sizes, counts, page sizes, search and
//! replay limits. (How many requests may run at once is `admission`; the
//! whole message's size is the server's `--max-message-bytes`.) The Python
//! client's copies of the log limits are checked against these by a test
//! (`tests/data/limits.json`).

use chrono::TimeDelta;

// -------- Logs, actions and filters (validated in `convert`)

/// Largest accepted message, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Largest accepted stack trace, in bytes.
pub const MAX_STACK_TRACE_BYTES: usize = 1024 * 1024;
/// Largest accepted context, in bytes of encoded JSON.
pub const MAX_CONTEXT_BYTES: usize = 256 * 1024;
/// Longest substring a filter may look for (each byte is work for every
/// log the filter reads).
pub const MAX_FILTER_TEXT_BYTES: usize = 1024;
/// Deepest accepted nesting of JSON objects and lists.
pub const MAX_JSON_DEPTH: usize = 20;
/// How far in the future `occurred_at` may lie (clock skew allowance).
pub const MAX_FUTURE: TimeDelta = TimeDelta::days(1);
/// How far in the past a log's `occurred_at` may lie. Each day with logs is
/// a partition of `logs`; this bounds how many days clients can make (about
/// 400), and covers a year of backlog.
pub const MAX_PAST: TimeDelta = TimeDelta::days(400);
/// Most recent actions carried by one log.
pub const MAX_RECENT_ACTIONS: usize = 1000;
/// Longest action name, in bytes.
pub const MAX_ACTION_BYTES: usize = 1024;
/// Largest action details, in bytes of encoded JSON.
pub const MAX_ACTION_DETAILS_BYTES: usize = 64 * 1024;
/// Longest source host, run id or component, in bytes.
pub const MAX_SOURCE_FIELD_BYTES: usize = 256;
/// Most labels on one source.
pub const MAX_LABELS: usize = 64;
/// Longest label key, in bytes.
pub const MAX_LABEL_KEY_BYTES: usize = 128;
/// Longest label value, in bytes.
pub const MAX_LABEL_VALUE_BYTES: usize = 1024;
/// Most GPUs in one system state.
pub const MAX_GPUS: usize = 64;
/// Earliest time diagd accepts, in Unix seconds: 0001-01-01T00:00:00Z.
pub const MIN_SECONDS: i64 = -62_135_596_800;
/// Latest time diagd accepts, in Unix seconds: 9999-12-31T23:59:59Z.
pub const MAX_SECONDS: i64 = 253_402_300_799;

// -------- IngestLogs

/// Most logs in one IngestLogs batch.
pub const MAX_BATCH_LOGS: usize = 10_000;
/// Most rejection details in one IngestLogs response (all are counted).
pub const MAX_REJECTION_DETAILS: usize = 1000;

// -------- Pages (ListLogs, ListReports)

/// Page size when the request leaves it at 0.
pub const DEFAULT_PAGE_SIZE: usize = 50;
/// Largest page size.
pub const MAX_PAGE_SIZE: usize = 1000;
/// A page stops growing past this many encoded bytes, so it stays under the
/// 4 MiB a gRPC client accepts by default even with full details.
pub const MAX_PAGE_BYTES: usize = 3 * 1024 * 1024;

// -------- SearchLogs (and a live tail's query)

/// Hits when the request leaves `limit` at 0.
pub const DEFAULT_LIMIT: usize = 100;
/// Most hits one search returns.
pub const MAX_LIMIT: usize = 10_000;
/// Longest search query, in bytes: each term is matched against every
/// message, stack trace and context, so query size is database time.
pub const MAX_QUERY_BYTES: usize = 1024;
/// Most terms (words and quoted phrases) in one search query.
pub const MAX_QUERY_TERMS: usize = 16;

// -------- SubscribeLogs

/// Most logs a backfill or a resume replays.
pub const MAX_REPLAY: usize = 10_000;

// -------- Reports

/// Logs included when the request leaves `max_errors` at 0.
pub const DEFAULT_MAX_ERRORS: u32 = 1000;
/// Most logs one report may include.
pub const MAX_ERRORS: u32 = 100_000;
/// Largest chunk of a report download.
pub const DOWNLOAD_CHUNK_BYTES: usize = 64 * 1024;

// -------- Debug mode

/// Longest auto-off delay accepted.
pub const MAX_AUTO_OFF: TimeDelta = TimeDelta::days(30);
/// Longest `changed_by`.
pub const MAX_CHANGED_BY_BYTES: usize = 256;

// -------- Error groups

/// Most entries of a client-given fingerprint.
pub const MAX_FINGERPRINT_ENTRIES: usize = 16;
/// Longest entry of a client-given fingerprint.
pub const MAX_FINGERPRINT_ENTRY_BYTES: usize = 256;
/// Most group ids in a log filter.
pub const MAX_FILTER_GROUPS: usize = 100;
/// Longest group note.
pub const MAX_NOTE_BYTES: usize = 16 * 1024;
/// Longest actor name of a group change.
pub const MAX_ACTOR_BYTES: usize = 128;
/// Most groups merged at once.
pub const MAX_MERGE_SOURCES: usize = 100;
/// Default and largest ListGroups page.
pub const DEFAULT_GROUP_PAGE: usize = 50;
/// See [`DEFAULT_GROUP_PAGE`].
pub const MAX_GROUP_PAGE: usize = 500;
/// Longest ListGroups window (hours) and most histogram buckets.
pub const MAX_GROUP_WINDOW_HOURS: u32 = 720;
/// See [`MAX_GROUP_WINDOW_HOURS`].
pub const MAX_HISTOGRAM_BUCKETS: u32 = 720;
/// Longest ListGroups text filter.
pub const MAX_GROUP_TEXT_BYTES: usize = 256;
/// Most GetStats time buckets.
pub const MAX_STATS_BUCKETS: usize = 1440;

/// Longest run id and host of a Heartbeat, in bytes.
pub const MAX_RUN_FIELD_BYTES: usize = 256;
/// Most progress numbers in one heartbeat.
pub const MAX_METRICS: usize = 32;
/// Longest progress number name, in bytes.
pub const MAX_METRIC_NAME_BYTES: usize = 64;
/// Longest FAILED message of a heartbeat, in bytes.
pub const MAX_RUN_MESSAGE_BYTES: usize = 1024;
/// Highest rank of a run's member.
pub const MAX_RANK: i32 = 1_000_000;
/// Shortest heartbeat interval, in seconds.
pub const MIN_INTERVAL_SECS: u64 = 1;
/// Longest heartbeat interval, in seconds.
pub const MAX_INTERVAL_SECS: u64 = 3600;
/// Shortest stuck threshold, in seconds.
pub const MIN_STUCK_AFTER_SECS: u64 = 10;
/// Longest stuck threshold, in seconds (7 days).
pub const MAX_STUCK_AFTER_SECS: u64 = 7 * 86_400;
