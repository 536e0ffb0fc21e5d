from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Severity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEVERITY_UNSPECIFIED: _ClassVar[Severity]
    SEVERITY_CRITICAL: _ClassVar[Severity]
    SEVERITY_HIGH: _ClassVar[Severity]
    SEVERITY_MEDIUM: _ClassVar[Severity]
    SEVERITY_LOW: _ClassVar[Severity]

class ErrorType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ERROR_TYPE_UNSPECIFIED: _ClassVar[ErrorType]
    ERROR_TYPE_OOM: _ClassVar[ErrorType]
    ERROR_TYPE_NETWORK: _ClassVar[ErrorType]
    ERROR_TYPE_CONFIGURATION: _ClassVar[ErrorType]
    ERROR_TYPE_MODEL_LOADING: _ClassVar[ErrorType]
    ERROR_TYPE_TRAINING: _ClassVar[ErrorType]
    ERROR_TYPE_INFERENCE: _ClassVar[ErrorType]
    ERROR_TYPE_OTHER: _ClassVar[ErrorType]

class LogView(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LOG_VIEW_UNSPECIFIED: _ClassVar[LogView]
    LOG_VIEW_BASIC: _ClassVar[LogView]
    LOG_VIEW_FULL: _ClassVar[LogView]

class NoticeKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NOTICE_KIND_UNSPECIFIED: _ClassVar[NoticeKind]
    NOTICE_KIND_DROPPED: _ClassVar[NoticeKind]
    NOTICE_KIND_MISSED: _ClassVar[NoticeKind]
    NOTICE_KIND_LIVE: _ClassVar[NoticeKind]
    NOTICE_KIND_LOGS_CLEARED: _ClassVar[NoticeKind]
    NOTICE_KIND_DATABASE_UNAVAILABLE: _ClassVar[NoticeKind]
    NOTICE_KIND_DATABASE_RESTORED: _ClassVar[NoticeKind]

class ExportFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXPORT_FORMAT_UNSPECIFIED: _ClassVar[ExportFormat]
    EXPORT_FORMAT_JSON: _ClassVar[ExportFormat]
    EXPORT_FORMAT_NDJSON: _ClassVar[ExportFormat]
SEVERITY_UNSPECIFIED: Severity
SEVERITY_CRITICAL: Severity
SEVERITY_HIGH: Severity
SEVERITY_MEDIUM: Severity
SEVERITY_LOW: Severity
ERROR_TYPE_UNSPECIFIED: ErrorType
ERROR_TYPE_OOM: ErrorType
ERROR_TYPE_NETWORK: ErrorType
ERROR_TYPE_CONFIGURATION: ErrorType
ERROR_TYPE_MODEL_LOADING: ErrorType
ERROR_TYPE_TRAINING: ErrorType
ERROR_TYPE_INFERENCE: ErrorType
ERROR_TYPE_OTHER: ErrorType
LOG_VIEW_UNSPECIFIED: LogView
LOG_VIEW_BASIC: LogView
LOG_VIEW_FULL: LogView
NOTICE_KIND_UNSPECIFIED: NoticeKind
NOTICE_KIND_DROPPED: NoticeKind
NOTICE_KIND_MISSED: NoticeKind
NOTICE_KIND_LIVE: NoticeKind
NOTICE_KIND_LOGS_CLEARED: NoticeKind
NOTICE_KIND_DATABASE_UNAVAILABLE: NoticeKind
NOTICE_KIND_DATABASE_RESTORED: NoticeKind
EXPORT_FORMAT_UNSPECIFIED: ExportFormat
EXPORT_FORMAT_JSON: ExportFormat
EXPORT_FORMAT_NDJSON: ExportFormat

class Source(_message.Message):
    __slots__ = ("host", "run_id", "component", "labels")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    HOST_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    COMPONENT_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    host: str
    run_id: str
    component: str
    labels: _containers.ScalarMap[str, str]
    def __init__(self, host: _Optional[str] = ..., run_id: _Optional[str] = ..., component: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ...) -> None: ...

class GpuState(_message.Message):
    __slots__ = ("name", "memory_used_bytes", "memory_total_bytes", "utilization_percent")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MEMORY_USED_BYTES_FIELD_NUMBER: _ClassVar[int]
    MEMORY_TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    UTILIZATION_PERCENT_FIELD_NUMBER: _ClassVar[int]
    name: str
    memory_used_bytes: int
    memory_total_bytes: int
    utilization_percent: float
    def __init__(self, name: _Optional[str] = ..., memory_used_bytes: _Optional[int] = ..., memory_total_bytes: _Optional[int] = ..., utilization_percent: _Optional[float] = ...) -> None: ...

class SystemState(_message.Message):
    __slots__ = ("cpu_percent", "memory_used_bytes", "memory_total_bytes", "disk_used_bytes", "disk_total_bytes", "gpus")
    CPU_PERCENT_FIELD_NUMBER: _ClassVar[int]
    MEMORY_USED_BYTES_FIELD_NUMBER: _ClassVar[int]
    MEMORY_TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    DISK_USED_BYTES_FIELD_NUMBER: _ClassVar[int]
    DISK_TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    GPUS_FIELD_NUMBER: _ClassVar[int]
    cpu_percent: float
    memory_used_bytes: int
    memory_total_bytes: int
    disk_used_bytes: int
    disk_total_bytes: int
    gpus: _containers.RepeatedCompositeFieldContainer[GpuState]
    def __init__(self, cpu_percent: _Optional[float] = ..., memory_used_bytes: _Optional[int] = ..., memory_total_bytes: _Optional[int] = ..., disk_used_bytes: _Optional[int] = ..., disk_total_bytes: _Optional[int] = ..., gpus: _Optional[_Iterable[_Union[GpuState, _Mapping]]] = ...) -> None: ...

class RecentAction(_message.Message):
    __slots__ = ("timestamp", "action", "details")
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    timestamp: _timestamp_pb2.Timestamp
    action: str
    details: _struct_pb2.Struct
    def __init__(self, timestamp: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., action: _Optional[str] = ..., details: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class NewLog(_message.Message):
    __slots__ = ("event_id", "occurred_at", "severity", "error_type", "message", "stack_trace", "context", "system_state", "recent_actions", "source")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    ERROR_TYPE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    STACK_TRACE_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_STATE_FIELD_NUMBER: _ClassVar[int]
    RECENT_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    occurred_at: _timestamp_pb2.Timestamp
    severity: Severity
    error_type: ErrorType
    message: str
    stack_trace: str
    context: _struct_pb2.Struct
    system_state: SystemState
    recent_actions: _containers.RepeatedCompositeFieldContainer[RecentAction]
    source: Source
    def __init__(self, event_id: _Optional[str] = ..., occurred_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., severity: _Optional[_Union[Severity, str]] = ..., error_type: _Optional[_Union[ErrorType, str]] = ..., message: _Optional[str] = ..., stack_trace: _Optional[str] = ..., context: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., system_state: _Optional[_Union[SystemState, _Mapping]] = ..., recent_actions: _Optional[_Iterable[_Union[RecentAction, _Mapping]]] = ..., source: _Optional[_Union[Source, _Mapping]] = ...) -> None: ...

class LogEntry(_message.Message):
    __slots__ = ("id", "event_id", "occurred_at", "received_at", "severity", "error_type", "message", "stack_trace", "context", "system_state", "recent_actions", "source")
    ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    ERROR_TYPE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    STACK_TRACE_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_STATE_FIELD_NUMBER: _ClassVar[int]
    RECENT_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    id: str
    event_id: str
    occurred_at: _timestamp_pb2.Timestamp
    received_at: _timestamp_pb2.Timestamp
    severity: Severity
    error_type: ErrorType
    message: str
    stack_trace: str
    context: _struct_pb2.Struct
    system_state: SystemState
    recent_actions: _containers.RepeatedCompositeFieldContainer[RecentAction]
    source: Source
    def __init__(self, id: _Optional[str] = ..., event_id: _Optional[str] = ..., occurred_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., received_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., severity: _Optional[_Union[Severity, str]] = ..., error_type: _Optional[_Union[ErrorType, str]] = ..., message: _Optional[str] = ..., stack_trace: _Optional[str] = ..., context: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., system_state: _Optional[_Union[SystemState, _Mapping]] = ..., recent_actions: _Optional[_Iterable[_Union[RecentAction, _Mapping]]] = ..., source: _Optional[_Union[Source, _Mapping]] = ...) -> None: ...

class LogFilter(_message.Message):
    __slots__ = ("severities", "error_types", "since", "until", "source", "message_contains")
    SEVERITIES_FIELD_NUMBER: _ClassVar[int]
    ERROR_TYPES_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_CONTAINS_FIELD_NUMBER: _ClassVar[int]
    severities: _containers.RepeatedScalarFieldContainer[Severity]
    error_types: _containers.RepeatedScalarFieldContainer[ErrorType]
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    source: Source
    message_contains: str
    def __init__(self, severities: _Optional[_Iterable[_Union[Severity, str]]] = ..., error_types: _Optional[_Iterable[_Union[ErrorType, str]]] = ..., since: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., source: _Optional[_Union[Source, _Mapping]] = ..., message_contains: _Optional[str] = ...) -> None: ...

class ReportErrorRequest(_message.Message):
    __slots__ = ("log",)
    LOG_FIELD_NUMBER: _ClassVar[int]
    log: NewLog
    def __init__(self, log: _Optional[_Union[NewLog, _Mapping]] = ...) -> None: ...

class ReportErrorResponse(_message.Message):
    __slots__ = ("id", "duplicate")
    ID_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    id: str
    duplicate: bool
    def __init__(self, id: _Optional[str] = ..., duplicate: bool = ...) -> None: ...

class IngestLogsRequest(_message.Message):
    __slots__ = ("logs",)
    LOGS_FIELD_NUMBER: _ClassVar[int]
    logs: _containers.RepeatedCompositeFieldContainer[NewLog]
    def __init__(self, logs: _Optional[_Iterable[_Union[NewLog, _Mapping]]] = ...) -> None: ...

class IngestRejection(_message.Message):
    __slots__ = ("batch", "index", "field", "reason")
    BATCH_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    batch: int
    index: int
    field: str
    reason: str
    def __init__(self, batch: _Optional[int] = ..., index: _Optional[int] = ..., field: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class IngestLogsResponse(_message.Message):
    __slots__ = ("accepted", "duplicates", "rejected", "rejections", "batches")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    REJECTIONS_FIELD_NUMBER: _ClassVar[int]
    BATCHES_FIELD_NUMBER: _ClassVar[int]
    accepted: int
    duplicates: int
    rejected: int
    rejections: _containers.RepeatedCompositeFieldContainer[IngestRejection]
    batches: int
    def __init__(self, accepted: _Optional[int] = ..., duplicates: _Optional[int] = ..., rejected: _Optional[int] = ..., rejections: _Optional[_Iterable[_Union[IngestRejection, _Mapping]]] = ..., batches: _Optional[int] = ...) -> None: ...

class ListLogsRequest(_message.Message):
    __slots__ = ("filter", "page_size", "page_token", "include_total", "view")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_TOTAL_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    filter: LogFilter
    page_size: int
    page_token: str
    include_total: bool
    view: LogView
    def __init__(self, filter: _Optional[_Union[LogFilter, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., include_total: bool = ..., view: _Optional[_Union[LogView, str]] = ...) -> None: ...

class ListLogsResponse(_message.Message):
    __slots__ = ("logs", "next_page_token", "total_count")
    LOGS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    logs: _containers.RepeatedCompositeFieldContainer[LogEntry]
    next_page_token: str
    total_count: int
    def __init__(self, logs: _Optional[_Iterable[_Union[LogEntry, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_count: _Optional[int] = ...) -> None: ...

class GetLogRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetLogResponse(_message.Message):
    __slots__ = ("log",)
    LOG_FIELD_NUMBER: _ClassVar[int]
    log: LogEntry
    def __init__(self, log: _Optional[_Union[LogEntry, _Mapping]] = ...) -> None: ...

class SearchLogsRequest(_message.Message):
    __slots__ = ("query", "filter", "limit")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    query: str
    filter: LogFilter
    limit: int
    def __init__(self, query: _Optional[str] = ..., filter: _Optional[_Union[LogFilter, _Mapping]] = ..., limit: _Optional[int] = ...) -> None: ...

class SearchMatch(_message.Message):
    __slots__ = ("field", "fragment", "start", "end")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    FRAGMENT_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    field: str
    fragment: str
    start: int
    end: int
    def __init__(self, field: _Optional[str] = ..., fragment: _Optional[str] = ..., start: _Optional[int] = ..., end: _Optional[int] = ...) -> None: ...

class SearchHit(_message.Message):
    __slots__ = ("log", "matches")
    LOG_FIELD_NUMBER: _ClassVar[int]
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    log: LogEntry
    matches: _containers.RepeatedCompositeFieldContainer[SearchMatch]
    def __init__(self, log: _Optional[_Union[LogEntry, _Mapping]] = ..., matches: _Optional[_Iterable[_Union[SearchMatch, _Mapping]]] = ...) -> None: ...

class SearchSummary(_message.Message):
    __slots__ = ("matched", "truncated", "elapsed_ms", "note")
    MATCHED_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    ELAPSED_MS_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    matched: int
    truncated: bool
    elapsed_ms: int
    note: str
    def __init__(self, matched: _Optional[int] = ..., truncated: bool = ..., elapsed_ms: _Optional[int] = ..., note: _Optional[str] = ...) -> None: ...

class SearchLogsResponse(_message.Message):
    __slots__ = ("hit", "summary")
    HIT_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    hit: SearchHit
    summary: SearchSummary
    def __init__(self, hit: _Optional[_Union[SearchHit, _Mapping]] = ..., summary: _Optional[_Union[SearchSummary, _Mapping]] = ...) -> None: ...

class SubscribeLogsRequest(_message.Message):
    __slots__ = ("filter", "backfill", "query", "resume_cursor")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    BACKFILL_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    RESUME_CURSOR_FIELD_NUMBER: _ClassVar[int]
    filter: LogFilter
    backfill: int
    query: str
    resume_cursor: str
    def __init__(self, filter: _Optional[_Union[LogFilter, _Mapping]] = ..., backfill: _Optional[int] = ..., query: _Optional[str] = ..., resume_cursor: _Optional[str] = ...) -> None: ...

class SubscriptionNotice(_message.Message):
    __slots__ = ("message", "count", "kind")
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    message: str
    count: int
    kind: NoticeKind
    def __init__(self, message: _Optional[str] = ..., count: _Optional[int] = ..., kind: _Optional[_Union[NoticeKind, str]] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("time",)
    TIME_FIELD_NUMBER: _ClassVar[int]
    time: _timestamp_pb2.Timestamp
    def __init__(self, time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SubscribeLogsResponse(_message.Message):
    __slots__ = ("log", "notice", "heartbeat", "cursor")
    LOG_FIELD_NUMBER: _ClassVar[int]
    NOTICE_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    log: LogEntry
    notice: SubscriptionNotice
    heartbeat: Heartbeat
    cursor: str
    def __init__(self, log: _Optional[_Union[LogEntry, _Mapping]] = ..., notice: _Optional[_Union[SubscriptionNotice, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ..., cursor: _Optional[str] = ...) -> None: ...

class GetStatsRequest(_message.Message):
    __slots__ = ("filter",)
    FILTER_FIELD_NUMBER: _ClassVar[int]
    filter: LogFilter
    def __init__(self, filter: _Optional[_Union[LogFilter, _Mapping]] = ...) -> None: ...

class SeverityCount(_message.Message):
    __slots__ = ("severity", "count")
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    severity: Severity
    count: int
    def __init__(self, severity: _Optional[_Union[Severity, str]] = ..., count: _Optional[int] = ...) -> None: ...

class ErrorTypeCount(_message.Message):
    __slots__ = ("error_type", "count")
    ERROR_TYPE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    error_type: ErrorType
    count: int
    def __init__(self, error_type: _Optional[_Union[ErrorType, str]] = ..., count: _Optional[int] = ...) -> None: ...

class GetStatsResponse(_message.Message):
    __slots__ = ("total", "by_severity", "by_error_type", "oldest", "newest", "live_subscribers", "retention")
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    BY_SEVERITY_FIELD_NUMBER: _ClassVar[int]
    BY_ERROR_TYPE_FIELD_NUMBER: _ClassVar[int]
    OLDEST_FIELD_NUMBER: _ClassVar[int]
    NEWEST_FIELD_NUMBER: _ClassVar[int]
    LIVE_SUBSCRIBERS_FIELD_NUMBER: _ClassVar[int]
    RETENTION_FIELD_NUMBER: _ClassVar[int]
    total: int
    by_severity: _containers.RepeatedCompositeFieldContainer[SeverityCount]
    by_error_type: _containers.RepeatedCompositeFieldContainer[ErrorTypeCount]
    oldest: _timestamp_pb2.Timestamp
    newest: _timestamp_pb2.Timestamp
    live_subscribers: int
    retention: RetentionStatus
    def __init__(self, total: _Optional[int] = ..., by_severity: _Optional[_Iterable[_Union[SeverityCount, _Mapping]]] = ..., by_error_type: _Optional[_Iterable[_Union[ErrorTypeCount, _Mapping]]] = ..., oldest: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., newest: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., live_subscribers: _Optional[int] = ..., retention: _Optional[_Union[RetentionStatus, _Mapping]] = ...) -> None: ...

class RetentionStatus(_message.Message):
    __slots__ = ("enabled", "last_run", "last_deleted", "total_deleted")
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    LAST_RUN_FIELD_NUMBER: _ClassVar[int]
    LAST_DELETED_FIELD_NUMBER: _ClassVar[int]
    TOTAL_DELETED_FIELD_NUMBER: _ClassVar[int]
    enabled: bool
    last_run: _timestamp_pb2.Timestamp
    last_deleted: int
    total_deleted: int
    def __init__(self, enabled: bool = ..., last_run: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., last_deleted: _Optional[int] = ..., total_deleted: _Optional[int] = ...) -> None: ...

class ReportInfo(_message.Message):
    __slots__ = ("report_id", "created_at", "error_count", "size_bytes", "file_name")
    REPORT_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    ERROR_COUNT_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    report_id: str
    created_at: _timestamp_pb2.Timestamp
    error_count: int
    size_bytes: int
    file_name: str
    def __init__(self, report_id: _Optional[str] = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., error_count: _Optional[int] = ..., size_bytes: _Optional[int] = ..., file_name: _Optional[str] = ...) -> None: ...

class GenerateReportRequest(_message.Message):
    __slots__ = ("filter", "max_errors")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    MAX_ERRORS_FIELD_NUMBER: _ClassVar[int]
    filter: LogFilter
    max_errors: int
    def __init__(self, filter: _Optional[_Union[LogFilter, _Mapping]] = ..., max_errors: _Optional[int] = ...) -> None: ...

class GenerateReportResponse(_message.Message):
    __slots__ = ("report",)
    REPORT_FIELD_NUMBER: _ClassVar[int]
    report: ReportInfo
    def __init__(self, report: _Optional[_Union[ReportInfo, _Mapping]] = ...) -> None: ...

class GetReportRequest(_message.Message):
    __slots__ = ("report_id",)
    REPORT_ID_FIELD_NUMBER: _ClassVar[int]
    report_id: str
    def __init__(self, report_id: _Optional[str] = ...) -> None: ...

class GetReportResponse(_message.Message):
    __slots__ = ("report",)
    REPORT_FIELD_NUMBER: _ClassVar[int]
    report: ReportInfo
    def __init__(self, report: _Optional[_Union[ReportInfo, _Mapping]] = ...) -> None: ...

class ListReportsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListReportsResponse(_message.Message):
    __slots__ = ("reports", "next_page_token")
    REPORTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    reports: _containers.RepeatedCompositeFieldContainer[ReportInfo]
    next_page_token: str
    def __init__(self, reports: _Optional[_Iterable[_Union[ReportInfo, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DownloadReportRequest(_message.Message):
    __slots__ = ("report_id",)
    REPORT_ID_FIELD_NUMBER: _ClassVar[int]
    report_id: str
    def __init__(self, report_id: _Optional[str] = ...) -> None: ...

class DownloadReportResponse(_message.Message):
    __slots__ = ("chunk", "file_name")
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    chunk: bytes
    file_name: str
    def __init__(self, chunk: _Optional[bytes] = ..., file_name: _Optional[str] = ...) -> None: ...

class DeleteReportRequest(_message.Message):
    __slots__ = ("report_id",)
    REPORT_ID_FIELD_NUMBER: _ClassVar[int]
    report_id: str
    def __init__(self, report_id: _Optional[str] = ...) -> None: ...

class DeleteReportResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ExportLogsRequest(_message.Message):
    __slots__ = ("filter", "format")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    filter: LogFilter
    format: ExportFormat
    def __init__(self, filter: _Optional[_Union[LogFilter, _Mapping]] = ..., format: _Optional[_Union[ExportFormat, str]] = ...) -> None: ...

class ExportHeader(_message.Message):
    __slots__ = ("file_name", "total_count")
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    file_name: str
    total_count: int
    def __init__(self, file_name: _Optional[str] = ..., total_count: _Optional[int] = ...) -> None: ...

class ExportLogsResponse(_message.Message):
    __slots__ = ("header", "chunk")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: ExportHeader
    chunk: bytes
    def __init__(self, header: _Optional[_Union[ExportHeader, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class ClearLogsRequest(_message.Message):
    __slots__ = ("confirm", "older_than", "severities", "export_first")
    CONFIRM_FIELD_NUMBER: _ClassVar[int]
    OLDER_THAN_FIELD_NUMBER: _ClassVar[int]
    SEVERITIES_FIELD_NUMBER: _ClassVar[int]
    EXPORT_FIRST_FIELD_NUMBER: _ClassVar[int]
    confirm: bool
    older_than: _timestamp_pb2.Timestamp
    severities: _containers.RepeatedScalarFieldContainer[Severity]
    export_first: bool
    def __init__(self, confirm: bool = ..., older_than: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., severities: _Optional[_Iterable[_Union[Severity, str]]] = ..., export_first: bool = ...) -> None: ...

class ClearLogsResponse(_message.Message):
    __slots__ = ("deleted_count", "export_path", "exported_count")
    DELETED_COUNT_FIELD_NUMBER: _ClassVar[int]
    EXPORT_PATH_FIELD_NUMBER: _ClassVar[int]
    EXPORTED_COUNT_FIELD_NUMBER: _ClassVar[int]
    deleted_count: int
    export_path: str
    exported_count: int
    def __init__(self, deleted_count: _Optional[int] = ..., export_path: _Optional[str] = ..., exported_count: _Optional[int] = ...) -> None: ...

class DebugMode(_message.Message):
    __slots__ = ("enabled", "changed_at", "changed_by", "auto_off_at")
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    CHANGED_AT_FIELD_NUMBER: _ClassVar[int]
    CHANGED_BY_FIELD_NUMBER: _ClassVar[int]
    AUTO_OFF_AT_FIELD_NUMBER: _ClassVar[int]
    enabled: bool
    changed_at: _timestamp_pb2.Timestamp
    changed_by: str
    auto_off_at: _timestamp_pb2.Timestamp
    def __init__(self, enabled: bool = ..., changed_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., changed_by: _Optional[str] = ..., auto_off_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetDebugModeRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetDebugModeResponse(_message.Message):
    __slots__ = ("debug_mode",)
    DEBUG_MODE_FIELD_NUMBER: _ClassVar[int]
    debug_mode: DebugMode
    def __init__(self, debug_mode: _Optional[_Union[DebugMode, _Mapping]] = ...) -> None: ...

class SetDebugModeRequest(_message.Message):
    __slots__ = ("enabled", "changed_by", "auto_off_after")
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    CHANGED_BY_FIELD_NUMBER: _ClassVar[int]
    AUTO_OFF_AFTER_FIELD_NUMBER: _ClassVar[int]
    enabled: bool
    changed_by: str
    auto_off_after: _duration_pb2.Duration
    def __init__(self, enabled: bool = ..., changed_by: _Optional[str] = ..., auto_off_after: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class SetDebugModeResponse(_message.Message):
    __slots__ = ("debug_mode",)
    DEBUG_MODE_FIELD_NUMBER: _ClassVar[int]
    debug_mode: DebugMode
    def __init__(self, debug_mode: _Optional[_Union[DebugMode, _Mapping]] = ...) -> None: ...

class WatchDebugModeRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WatchDebugModeResponse(_message.Message):
    __slots__ = ("debug_mode",)
    DEBUG_MODE_FIELD_NUMBER: _ClassVar[int]
    debug_mode: DebugMode
    def __init__(self, debug_mode: _Optional[_Union[DebugMode, _Mapping]] = ...) -> None: ...

class RecordActionRequest(_message.Message):
    __slots__ = ("timestamp", "action", "details", "source")
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    timestamp: _timestamp_pb2.Timestamp
    action: str
    details: _struct_pb2.Struct
    source: Source
    def __init__(self, timestamp: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., action: _Optional[str] = ..., details: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., source: _Optional[_Union[Source, _Mapping]] = ...) -> None: ...

class RecordActionResponse(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...
