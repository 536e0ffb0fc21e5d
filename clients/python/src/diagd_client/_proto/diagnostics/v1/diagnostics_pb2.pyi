from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
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

class StandbyState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STANDBY_STATE_UNSPECIFIED: _ClassVar[StandbyState]
    STANDBY_STATE_STREAMING: _ClassVar[StandbyState]
    STANDBY_STATE_LAGGING: _ClassVar[StandbyState]
    STANDBY_STATE_DOWN: _ClassVar[StandbyState]

class ExportFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXPORT_FORMAT_UNSPECIFIED: _ClassVar[ExportFormat]
    EXPORT_FORMAT_JSON: _ClassVar[ExportFormat]
    EXPORT_FORMAT_NDJSON: _ClassVar[ExportFormat]

class GroupStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GROUP_STATUS_UNSPECIFIED: _ClassVar[GroupStatus]
    GROUP_STATUS_UNRESOLVED: _ClassVar[GroupStatus]
    GROUP_STATUS_RESOLVED: _ClassVar[GroupStatus]
    GROUP_STATUS_IGNORED: _ClassVar[GroupStatus]

class GroupOrder(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GROUP_ORDER_UNSPECIFIED: _ClassVar[GroupOrder]
    GROUP_ORDER_LAST_SEEN: _ClassVar[GroupOrder]
    GROUP_ORDER_FIRST_SEEN: _ClassVar[GroupOrder]
    GROUP_ORDER_COUNT: _ClassVar[GroupOrder]
    GROUP_ORDER_GROWTH: _ClassVar[GroupOrder]

class BucketWidth(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BUCKET_WIDTH_UNSPECIFIED: _ClassVar[BucketWidth]
    BUCKET_WIDTH_HOUR: _ClassVar[BucketWidth]
    BUCKET_WIDTH_DAY: _ClassVar[BucketWidth]
    BUCKET_WIDTH_MINUTE: _ClassVar[BucketWidth]

class RunState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RUN_STATE_UNSPECIFIED: _ClassVar[RunState]
    RUN_STATE_ALIVE: _ClassVar[RunState]
    RUN_STATE_STUCK: _ClassVar[RunState]
    RUN_STATE_LOST: _ClassVar[RunState]
    RUN_STATE_FINISHED: _ClassVar[RunState]
    RUN_STATE_FAILED: _ClassVar[RunState]

class RunPhase(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RUN_PHASE_UNSPECIFIED: _ClassVar[RunPhase]
    RUN_PHASE_STARTING: _ClassVar[RunPhase]
    RUN_PHASE_TRAINING: _ClassVar[RunPhase]
    RUN_PHASE_EVALUATING: _ClassVar[RunPhase]
    RUN_PHASE_SAVING: _ClassVar[RunPhase]
    RUN_PHASE_FINISHED: _ClassVar[RunPhase]
    RUN_PHASE_FAILED: _ClassVar[RunPhase]

class AlertTrigger(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ALERT_TRIGGER_UNSPECIFIED: _ClassVar[AlertTrigger]
    ALERT_TRIGGER_NEW_GROUP: _ClassVar[AlertTrigger]
    ALERT_TRIGGER_REGRESSION: _ClassVar[AlertTrigger]
    ALERT_TRIGGER_CRITICAL_LOG: _ClassVar[AlertTrigger]
    ALERT_TRIGGER_EVENT_RATE: _ClassVar[AlertTrigger]
    ALERT_TRIGGER_RUN_STATE: _ClassVar[AlertTrigger]

class AlertDestinationKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ALERT_DESTINATION_KIND_UNSPECIFIED: _ClassVar[AlertDestinationKind]
    ALERT_DESTINATION_KIND_WEBHOOK: _ClassVar[AlertDestinationKind]
    ALERT_DESTINATION_KIND_SLACK: _ClassVar[AlertDestinationKind]

class AlertDeliveryState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ALERT_DELIVERY_STATE_UNSPECIFIED: _ClassVar[AlertDeliveryState]
    ALERT_DELIVERY_STATE_PENDING: _ClassVar[AlertDeliveryState]
    ALERT_DELIVERY_STATE_DELIVERED: _ClassVar[AlertDeliveryState]
    ALERT_DELIVERY_STATE_FAILED: _ClassVar[AlertDeliveryState]

class Role(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROLE_UNSPECIFIED: _ClassVar[Role]
    ROLE_INGEST: _ClassVar[Role]
    ROLE_READ: _ClassVar[Role]
    ROLE_ADMIN: _ClassVar[Role]
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
STANDBY_STATE_UNSPECIFIED: StandbyState
STANDBY_STATE_STREAMING: StandbyState
STANDBY_STATE_LAGGING: StandbyState
STANDBY_STATE_DOWN: StandbyState
EXPORT_FORMAT_UNSPECIFIED: ExportFormat
EXPORT_FORMAT_JSON: ExportFormat
EXPORT_FORMAT_NDJSON: ExportFormat
GROUP_STATUS_UNSPECIFIED: GroupStatus
GROUP_STATUS_UNRESOLVED: GroupStatus
GROUP_STATUS_RESOLVED: GroupStatus
GROUP_STATUS_IGNORED: GroupStatus
GROUP_ORDER_UNSPECIFIED: GroupOrder
GROUP_ORDER_LAST_SEEN: GroupOrder
GROUP_ORDER_FIRST_SEEN: GroupOrder
GROUP_ORDER_COUNT: GroupOrder
GROUP_ORDER_GROWTH: GroupOrder
BUCKET_WIDTH_UNSPECIFIED: BucketWidth
BUCKET_WIDTH_HOUR: BucketWidth
BUCKET_WIDTH_DAY: BucketWidth
BUCKET_WIDTH_MINUTE: BucketWidth
RUN_STATE_UNSPECIFIED: RunState
RUN_STATE_ALIVE: RunState
RUN_STATE_STUCK: RunState
RUN_STATE_LOST: RunState
RUN_STATE_FINISHED: RunState
RUN_STATE_FAILED: RunState
RUN_PHASE_UNSPECIFIED: RunPhase
RUN_PHASE_STARTING: RunPhase
RUN_PHASE_TRAINING: RunPhase
RUN_PHASE_EVALUATING: RunPhase
RUN_PHASE_SAVING: RunPhase
RUN_PHASE_FINISHED: RunPhase
RUN_PHASE_FAILED: RunPhase
ALERT_TRIGGER_UNSPECIFIED: AlertTrigger
ALERT_TRIGGER_NEW_GROUP: AlertTrigger
ALERT_TRIGGER_REGRESSION: AlertTrigger
ALERT_TRIGGER_CRITICAL_LOG: AlertTrigger
ALERT_TRIGGER_EVENT_RATE: AlertTrigger
ALERT_TRIGGER_RUN_STATE: AlertTrigger
ALERT_DESTINATION_KIND_UNSPECIFIED: AlertDestinationKind
ALERT_DESTINATION_KIND_WEBHOOK: AlertDestinationKind
ALERT_DESTINATION_KIND_SLACK: AlertDestinationKind
ALERT_DELIVERY_STATE_UNSPECIFIED: AlertDeliveryState
ALERT_DELIVERY_STATE_PENDING: AlertDeliveryState
ALERT_DELIVERY_STATE_DELIVERED: AlertDeliveryState
ALERT_DELIVERY_STATE_FAILED: AlertDeliveryState
ROLE_UNSPECIFIED: Role
ROLE_INGEST: Role
ROLE_READ: Role
ROLE_ADMIN: Role

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
    __slots__ = ("event_id", "occurred_at", "severity", "error_type", "message", "stack_trace", "context", "system_state", "recent_actions", "source", "fingerprint")
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
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
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
    fingerprint: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, event_id: _Optional[str] = ..., occurred_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., severity: _Optional[_Union[Severity, str]] = ..., error_type: _Optional[_Union[ErrorType, str]] = ..., message: _Optional[str] = ..., stack_trace: _Optional[str] = ..., context: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., system_state: _Optional[_Union[SystemState, _Mapping]] = ..., recent_actions: _Optional[_Iterable[_Union[RecentAction, _Mapping]]] = ..., source: _Optional[_Union[Source, _Mapping]] = ..., fingerprint: _Optional[_Iterable[str]] = ...) -> None: ...

class LogEntry(_message.Message):
    __slots__ = ("id", "event_id", "occurred_at", "received_at", "severity", "error_type", "message", "stack_trace", "context", "system_state", "recent_actions", "source", "group_id", "fingerprint")
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
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
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
    group_id: int
    fingerprint: str
    def __init__(self, id: _Optional[str] = ..., event_id: _Optional[str] = ..., occurred_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., received_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., severity: _Optional[_Union[Severity, str]] = ..., error_type: _Optional[_Union[ErrorType, str]] = ..., message: _Optional[str] = ..., stack_trace: _Optional[str] = ..., context: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., system_state: _Optional[_Union[SystemState, _Mapping]] = ..., recent_actions: _Optional[_Iterable[_Union[RecentAction, _Mapping]]] = ..., source: _Optional[_Union[Source, _Mapping]] = ..., group_id: _Optional[int] = ..., fingerprint: _Optional[str] = ...) -> None: ...

class LogFilter(_message.Message):
    __slots__ = ("severities", "error_types", "since", "until", "source", "message_contains", "group_ids")
    SEVERITIES_FIELD_NUMBER: _ClassVar[int]
    ERROR_TYPES_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_CONTAINS_FIELD_NUMBER: _ClassVar[int]
    GROUP_IDS_FIELD_NUMBER: _ClassVar[int]
    severities: _containers.RepeatedScalarFieldContainer[Severity]
    error_types: _containers.RepeatedScalarFieldContainer[ErrorType]
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    source: Source
    message_contains: str
    group_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, severities: _Optional[_Iterable[_Union[Severity, str]]] = ..., error_types: _Optional[_Iterable[_Union[ErrorType, str]]] = ..., since: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., source: _Optional[_Union[Source, _Mapping]] = ..., message_contains: _Optional[str] = ..., group_ids: _Optional[_Iterable[int]] = ...) -> None: ...

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
    __slots__ = ("filter", "bucket_width")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    BUCKET_WIDTH_FIELD_NUMBER: _ClassVar[int]
    filter: LogFilter
    bucket_width: BucketWidth
    def __init__(self, filter: _Optional[_Union[LogFilter, _Mapping]] = ..., bucket_width: _Optional[_Union[BucketWidth, str]] = ...) -> None: ...

class TimeBucket(_message.Message):
    __slots__ = ("start", "total", "by_severity")
    START_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    BY_SEVERITY_FIELD_NUMBER: _ClassVar[int]
    start: _timestamp_pb2.Timestamp
    total: int
    by_severity: _containers.RepeatedCompositeFieldContainer[SeverityCount]
    def __init__(self, start: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., total: _Optional[int] = ..., by_severity: _Optional[_Iterable[_Union[SeverityCount, _Mapping]]] = ...) -> None: ...

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
    __slots__ = ("total", "by_severity", "by_error_type", "oldest", "newest", "live_subscribers", "retention", "buckets", "standby")
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    BY_SEVERITY_FIELD_NUMBER: _ClassVar[int]
    BY_ERROR_TYPE_FIELD_NUMBER: _ClassVar[int]
    OLDEST_FIELD_NUMBER: _ClassVar[int]
    NEWEST_FIELD_NUMBER: _ClassVar[int]
    LIVE_SUBSCRIBERS_FIELD_NUMBER: _ClassVar[int]
    RETENTION_FIELD_NUMBER: _ClassVar[int]
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    STANDBY_FIELD_NUMBER: _ClassVar[int]
    total: int
    by_severity: _containers.RepeatedCompositeFieldContainer[SeverityCount]
    by_error_type: _containers.RepeatedCompositeFieldContainer[ErrorTypeCount]
    oldest: _timestamp_pb2.Timestamp
    newest: _timestamp_pb2.Timestamp
    live_subscribers: int
    retention: RetentionStatus
    buckets: _containers.RepeatedCompositeFieldContainer[TimeBucket]
    standby: StandbyStatus
    def __init__(self, total: _Optional[int] = ..., by_severity: _Optional[_Iterable[_Union[SeverityCount, _Mapping]]] = ..., by_error_type: _Optional[_Iterable[_Union[ErrorTypeCount, _Mapping]]] = ..., oldest: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., newest: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., live_subscribers: _Optional[int] = ..., retention: _Optional[_Union[RetentionStatus, _Mapping]] = ..., buckets: _Optional[_Iterable[_Union[TimeBucket, _Mapping]]] = ..., standby: _Optional[_Union[StandbyStatus, _Mapping]] = ...) -> None: ...

class StandbyStatus(_message.Message):
    __slots__ = ("state", "lag", "max_lag", "checked_at", "error", "reads_on_standby", "reads_on_primary")
    STATE_FIELD_NUMBER: _ClassVar[int]
    LAG_FIELD_NUMBER: _ClassVar[int]
    MAX_LAG_FIELD_NUMBER: _ClassVar[int]
    CHECKED_AT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    READS_ON_STANDBY_FIELD_NUMBER: _ClassVar[int]
    READS_ON_PRIMARY_FIELD_NUMBER: _ClassVar[int]
    state: StandbyState
    lag: _duration_pb2.Duration
    max_lag: _duration_pb2.Duration
    checked_at: _timestamp_pb2.Timestamp
    error: str
    reads_on_standby: int
    reads_on_primary: int
    def __init__(self, state: _Optional[_Union[StandbyState, str]] = ..., lag: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., max_lag: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., checked_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., error: _Optional[str] = ..., reads_on_standby: _Optional[int] = ..., reads_on_primary: _Optional[int] = ...) -> None: ...

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
    __slots__ = ("confirm", "older_than", "severities", "export_first", "group_ids")
    CONFIRM_FIELD_NUMBER: _ClassVar[int]
    OLDER_THAN_FIELD_NUMBER: _ClassVar[int]
    SEVERITIES_FIELD_NUMBER: _ClassVar[int]
    EXPORT_FIRST_FIELD_NUMBER: _ClassVar[int]
    GROUP_IDS_FIELD_NUMBER: _ClassVar[int]
    confirm: bool
    older_than: _timestamp_pb2.Timestamp
    severities: _containers.RepeatedScalarFieldContainer[Severity]
    export_first: bool
    group_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, confirm: bool = ..., older_than: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., severities: _Optional[_Iterable[_Union[Severity, str]]] = ..., export_first: bool = ..., group_ids: _Optional[_Iterable[int]] = ...) -> None: ...

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

class GroupNote(_message.Message):
    __slots__ = ("text", "author", "updated_at")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    text: str
    author: str
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, text: _Optional[str] = ..., author: _Optional[str] = ..., updated_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ErrorGroup(_message.Message):
    __slots__ = ("id", "title", "culprit", "exception_type", "error_type", "status", "status_changed_at", "status_changed_by", "ignored_until", "ignored_events_left", "regressed_at", "note", "severity", "event_count", "first_seen", "last_seen", "window_count", "hosts", "runs", "fingerprints", "created_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    CULPRIT_FIELD_NUMBER: _ClassVar[int]
    EXCEPTION_TYPE_FIELD_NUMBER: _ClassVar[int]
    ERROR_TYPE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATUS_CHANGED_AT_FIELD_NUMBER: _ClassVar[int]
    STATUS_CHANGED_BY_FIELD_NUMBER: _ClassVar[int]
    IGNORED_UNTIL_FIELD_NUMBER: _ClassVar[int]
    IGNORED_EVENTS_LEFT_FIELD_NUMBER: _ClassVar[int]
    REGRESSED_AT_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    EVENT_COUNT_FIELD_NUMBER: _ClassVar[int]
    FIRST_SEEN_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_FIELD_NUMBER: _ClassVar[int]
    WINDOW_COUNT_FIELD_NUMBER: _ClassVar[int]
    HOSTS_FIELD_NUMBER: _ClassVar[int]
    RUNS_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINTS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: int
    title: str
    culprit: str
    exception_type: str
    error_type: ErrorType
    status: GroupStatus
    status_changed_at: _timestamp_pb2.Timestamp
    status_changed_by: str
    ignored_until: _timestamp_pb2.Timestamp
    ignored_events_left: int
    regressed_at: _timestamp_pb2.Timestamp
    note: GroupNote
    severity: Severity
    event_count: int
    first_seen: _timestamp_pb2.Timestamp
    last_seen: _timestamp_pb2.Timestamp
    window_count: int
    hosts: int
    runs: int
    fingerprints: int
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[int] = ..., title: _Optional[str] = ..., culprit: _Optional[str] = ..., exception_type: _Optional[str] = ..., error_type: _Optional[_Union[ErrorType, str]] = ..., status: _Optional[_Union[GroupStatus, str]] = ..., status_changed_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., status_changed_by: _Optional[str] = ..., ignored_until: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., ignored_events_left: _Optional[int] = ..., regressed_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., note: _Optional[_Union[GroupNote, _Mapping]] = ..., severity: _Optional[_Union[Severity, str]] = ..., event_count: _Optional[int] = ..., first_seen: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., last_seen: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., window_count: _Optional[int] = ..., hosts: _Optional[int] = ..., runs: _Optional[int] = ..., fingerprints: _Optional[int] = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListGroupsRequest(_message.Message):
    __slots__ = ("statuses", "severities", "error_types", "since", "until", "host", "run_id", "text", "order_by", "window_hours", "page_size", "page_token", "include_empty")
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    SEVERITIES_FIELD_NUMBER: _ClassVar[int]
    ERROR_TYPES_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    ORDER_BY_FIELD_NUMBER: _ClassVar[int]
    WINDOW_HOURS_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_EMPTY_FIELD_NUMBER: _ClassVar[int]
    statuses: _containers.RepeatedScalarFieldContainer[GroupStatus]
    severities: _containers.RepeatedScalarFieldContainer[Severity]
    error_types: _containers.RepeatedScalarFieldContainer[ErrorType]
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    host: str
    run_id: str
    text: str
    order_by: GroupOrder
    window_hours: int
    page_size: int
    page_token: str
    include_empty: bool
    def __init__(self, statuses: _Optional[_Iterable[_Union[GroupStatus, str]]] = ..., severities: _Optional[_Iterable[_Union[Severity, str]]] = ..., error_types: _Optional[_Iterable[_Union[ErrorType, str]]] = ..., since: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., host: _Optional[str] = ..., run_id: _Optional[str] = ..., text: _Optional[str] = ..., order_by: _Optional[_Union[GroupOrder, str]] = ..., window_hours: _Optional[int] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., include_empty: bool = ...) -> None: ...

class ListGroupsResponse(_message.Message):
    __slots__ = ("groups", "next_page_token", "ungrouped_logs")
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    UNGROUPED_LOGS_FIELD_NUMBER: _ClassVar[int]
    groups: _containers.RepeatedCompositeFieldContainer[ErrorGroup]
    next_page_token: str
    ungrouped_logs: int
    def __init__(self, groups: _Optional[_Iterable[_Union[ErrorGroup, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., ungrouped_logs: _Optional[int] = ...) -> None: ...

class GetGroupRequest(_message.Message):
    __slots__ = ("id", "buckets", "bucket_width")
    ID_FIELD_NUMBER: _ClassVar[int]
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    BUCKET_WIDTH_FIELD_NUMBER: _ClassVar[int]
    id: int
    buckets: int
    bucket_width: BucketWidth
    def __init__(self, id: _Optional[int] = ..., buckets: _Optional[int] = ..., bucket_width: _Optional[_Union[BucketWidth, str]] = ...) -> None: ...

class BucketCount(_message.Message):
    __slots__ = ("start", "count")
    START_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    start: _timestamp_pb2.Timestamp
    count: int
    def __init__(self, start: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., count: _Optional[int] = ...) -> None: ...

class ValueCount(_message.Message):
    __slots__ = ("value", "count")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    value: str
    count: int
    def __init__(self, value: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class GroupFingerprint(_message.Message):
    __slots__ = ("fingerprint", "version", "components_json", "title", "event_count", "added_at", "explanation")
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    COMPONENTS_JSON_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    EVENT_COUNT_FIELD_NUMBER: _ClassVar[int]
    ADDED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    fingerprint: str
    version: int
    components_json: str
    title: str
    event_count: int
    added_at: _timestamp_pb2.Timestamp
    explanation: str
    def __init__(self, fingerprint: _Optional[str] = ..., version: _Optional[int] = ..., components_json: _Optional[str] = ..., title: _Optional[str] = ..., event_count: _Optional[int] = ..., added_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., explanation: _Optional[str] = ...) -> None: ...

class GetGroupResponse(_message.Message):
    __slots__ = ("group", "latest_log", "fingerprints", "histogram", "top_hosts", "top_runs", "merged_from")
    GROUP_FIELD_NUMBER: _ClassVar[int]
    LATEST_LOG_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINTS_FIELD_NUMBER: _ClassVar[int]
    HISTOGRAM_FIELD_NUMBER: _ClassVar[int]
    TOP_HOSTS_FIELD_NUMBER: _ClassVar[int]
    TOP_RUNS_FIELD_NUMBER: _ClassVar[int]
    MERGED_FROM_FIELD_NUMBER: _ClassVar[int]
    group: ErrorGroup
    latest_log: LogEntry
    fingerprints: _containers.RepeatedCompositeFieldContainer[GroupFingerprint]
    histogram: _containers.RepeatedCompositeFieldContainer[BucketCount]
    top_hosts: _containers.RepeatedCompositeFieldContainer[ValueCount]
    top_runs: _containers.RepeatedCompositeFieldContainer[ValueCount]
    merged_from: int
    def __init__(self, group: _Optional[_Union[ErrorGroup, _Mapping]] = ..., latest_log: _Optional[_Union[LogEntry, _Mapping]] = ..., fingerprints: _Optional[_Iterable[_Union[GroupFingerprint, _Mapping]]] = ..., histogram: _Optional[_Iterable[_Union[BucketCount, _Mapping]]] = ..., top_hosts: _Optional[_Iterable[_Union[ValueCount, _Mapping]]] = ..., top_runs: _Optional[_Iterable[_Union[ValueCount, _Mapping]]] = ..., merged_from: _Optional[int] = ...) -> None: ...

class UpdateGroupRequest(_message.Message):
    __slots__ = ("id", "status", "ignore_until", "ignore_events", "note", "update_note", "actor")
    ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    IGNORE_UNTIL_FIELD_NUMBER: _ClassVar[int]
    IGNORE_EVENTS_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_NOTE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    id: int
    status: GroupStatus
    ignore_until: _timestamp_pb2.Timestamp
    ignore_events: int
    note: str
    update_note: bool
    actor: str
    def __init__(self, id: _Optional[int] = ..., status: _Optional[_Union[GroupStatus, str]] = ..., ignore_until: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., ignore_events: _Optional[int] = ..., note: _Optional[str] = ..., update_note: bool = ..., actor: _Optional[str] = ...) -> None: ...

class UpdateGroupResponse(_message.Message):
    __slots__ = ("group",)
    GROUP_FIELD_NUMBER: _ClassVar[int]
    group: ErrorGroup
    def __init__(self, group: _Optional[_Union[ErrorGroup, _Mapping]] = ...) -> None: ...

class MergeGroupsRequest(_message.Message):
    __slots__ = ("target_id", "source_ids")
    TARGET_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_IDS_FIELD_NUMBER: _ClassVar[int]
    target_id: int
    source_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, target_id: _Optional[int] = ..., source_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class MergeGroupsResponse(_message.Message):
    __slots__ = ("group", "moved_logs")
    GROUP_FIELD_NUMBER: _ClassVar[int]
    MOVED_LOGS_FIELD_NUMBER: _ClassVar[int]
    group: ErrorGroup
    moved_logs: int
    def __init__(self, group: _Optional[_Union[ErrorGroup, _Mapping]] = ..., moved_logs: _Optional[int] = ...) -> None: ...

class SplitGroupRequest(_message.Message):
    __slots__ = ("id", "fingerprint")
    ID_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    id: int
    fingerprint: str
    def __init__(self, id: _Optional[int] = ..., fingerprint: _Optional[str] = ...) -> None: ...

class SplitGroupResponse(_message.Message):
    __slots__ = ("group", "moved_logs")
    GROUP_FIELD_NUMBER: _ClassVar[int]
    MOVED_LOGS_FIELD_NUMBER: _ClassVar[int]
    group: ErrorGroup
    moved_logs: int
    def __init__(self, group: _Optional[_Union[ErrorGroup, _Mapping]] = ..., moved_logs: _Optional[int] = ...) -> None: ...

class HeartbeatRequest(_message.Message):
    __slots__ = ("run_id", "host", "rank", "pid", "phase", "step", "epoch", "metrics", "interval", "stuck_after", "message")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    RANK_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_FIELD_NUMBER: _ClassVar[int]
    STUCK_AFTER_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    host: str
    rank: int
    pid: int
    phase: RunPhase
    step: int
    epoch: float
    metrics: _containers.ScalarMap[str, float]
    interval: _duration_pb2.Duration
    stuck_after: _duration_pb2.Duration
    message: str
    def __init__(self, run_id: _Optional[str] = ..., host: _Optional[str] = ..., rank: _Optional[int] = ..., pid: _Optional[int] = ..., phase: _Optional[_Union[RunPhase, str]] = ..., step: _Optional[int] = ..., epoch: _Optional[float] = ..., metrics: _Optional[_Mapping[str, float]] = ..., interval: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., stuck_after: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., message: _Optional[str] = ...) -> None: ...

class HeartbeatResponse(_message.Message):
    __slots__ = ("member_state", "run_state")
    MEMBER_STATE_FIELD_NUMBER: _ClassVar[int]
    RUN_STATE_FIELD_NUMBER: _ClassVar[int]
    member_state: RunState
    run_state: RunState
    def __init__(self, member_state: _Optional[_Union[RunState, str]] = ..., run_state: _Optional[_Union[RunState, str]] = ...) -> None: ...

class Run(_message.Message):
    __slots__ = ("run_id", "state", "summary", "started_at", "last_heartbeat", "state_changed_at", "members", "alive", "stuck", "lost", "finished", "failed", "max_step", "min_step", "stuck_after")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    STATE_CHANGED_AT_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    ALIVE_FIELD_NUMBER: _ClassVar[int]
    STUCK_FIELD_NUMBER: _ClassVar[int]
    LOST_FIELD_NUMBER: _ClassVar[int]
    FINISHED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    MAX_STEP_FIELD_NUMBER: _ClassVar[int]
    MIN_STEP_FIELD_NUMBER: _ClassVar[int]
    STUCK_AFTER_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    state: RunState
    summary: str
    started_at: _timestamp_pb2.Timestamp
    last_heartbeat: _timestamp_pb2.Timestamp
    state_changed_at: _timestamp_pb2.Timestamp
    members: int
    alive: int
    stuck: int
    lost: int
    finished: int
    failed: int
    max_step: int
    min_step: int
    stuck_after: _duration_pb2.Duration
    def __init__(self, run_id: _Optional[str] = ..., state: _Optional[_Union[RunState, str]] = ..., summary: _Optional[str] = ..., started_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., last_heartbeat: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., state_changed_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., members: _Optional[int] = ..., alive: _Optional[int] = ..., stuck: _Optional[int] = ..., lost: _Optional[int] = ..., finished: _Optional[int] = ..., failed: _Optional[int] = ..., max_step: _Optional[int] = ..., min_step: _Optional[int] = ..., stuck_after: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class RunMember(_message.Message):
    __slots__ = ("host", "rank", "pid", "state", "phase", "step", "epoch", "metrics", "first_heartbeat", "last_heartbeat", "step_changed_at", "state_changed_at", "interval", "message")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    HOST_FIELD_NUMBER: _ClassVar[int]
    RANK_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    FIRST_HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    LAST_HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    STEP_CHANGED_AT_FIELD_NUMBER: _ClassVar[int]
    STATE_CHANGED_AT_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    host: str
    rank: int
    pid: int
    state: RunState
    phase: RunPhase
    step: int
    epoch: float
    metrics: _containers.ScalarMap[str, float]
    first_heartbeat: _timestamp_pb2.Timestamp
    last_heartbeat: _timestamp_pb2.Timestamp
    step_changed_at: _timestamp_pb2.Timestamp
    state_changed_at: _timestamp_pb2.Timestamp
    interval: _duration_pb2.Duration
    message: str
    def __init__(self, host: _Optional[str] = ..., rank: _Optional[int] = ..., pid: _Optional[int] = ..., state: _Optional[_Union[RunState, str]] = ..., phase: _Optional[_Union[RunPhase, str]] = ..., step: _Optional[int] = ..., epoch: _Optional[float] = ..., metrics: _Optional[_Mapping[str, float]] = ..., first_heartbeat: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., last_heartbeat: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., step_changed_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., state_changed_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., interval: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., message: _Optional[str] = ...) -> None: ...

class ListRunsRequest(_message.Message):
    __slots__ = ("states", "host", "since", "until", "page_size", "page_token")
    STATES_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    states: _containers.RepeatedScalarFieldContainer[RunState]
    host: str
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    page_size: int
    page_token: str
    def __init__(self, states: _Optional[_Iterable[_Union[RunState, str]]] = ..., host: _Optional[str] = ..., since: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListRunsResponse(_message.Message):
    __slots__ = ("runs", "next_page_token")
    RUNS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    runs: _containers.RepeatedCompositeFieldContainer[Run]
    next_page_token: str
    def __init__(self, runs: _Optional[_Iterable[_Union[Run, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetRunRequest(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class GetRunResponse(_message.Message):
    __slots__ = ("run", "members", "groups", "recent_actions")
    RUN_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    RECENT_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    run: Run
    members: _containers.RepeatedCompositeFieldContainer[RunMember]
    groups: _containers.RepeatedCompositeFieldContainer[ErrorGroup]
    recent_actions: _containers.RepeatedCompositeFieldContainer[RecentAction]
    def __init__(self, run: _Optional[_Union[Run, _Mapping]] = ..., members: _Optional[_Iterable[_Union[RunMember, _Mapping]]] = ..., groups: _Optional[_Iterable[_Union[ErrorGroup, _Mapping]]] = ..., recent_actions: _Optional[_Iterable[_Union[RecentAction, _Mapping]]] = ...) -> None: ...

class WatchRunsRequest(_message.Message):
    __slots__ = ("run_ids",)
    RUN_IDS_FIELD_NUMBER: _ClassVar[int]
    run_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, run_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class RunChange(_message.Message):
    __slots__ = ("run_id", "host", "rank", "from_state", "to_state", "step", "changed_at", "run")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    RANK_FIELD_NUMBER: _ClassVar[int]
    FROM_STATE_FIELD_NUMBER: _ClassVar[int]
    TO_STATE_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    CHANGED_AT_FIELD_NUMBER: _ClassVar[int]
    RUN_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    host: str
    rank: int
    from_state: RunState
    to_state: RunState
    step: int
    changed_at: _timestamp_pb2.Timestamp
    run: Run
    def __init__(self, run_id: _Optional[str] = ..., host: _Optional[str] = ..., rank: _Optional[int] = ..., from_state: _Optional[_Union[RunState, str]] = ..., to_state: _Optional[_Union[RunState, str]] = ..., step: _Optional[int] = ..., changed_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., run: _Optional[_Union[Run, _Mapping]] = ...) -> None: ...

class WatchRunsResponse(_message.Message):
    __slots__ = ("change",)
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    change: RunChange
    def __init__(self, change: _Optional[_Union[RunChange, _Mapping]] = ...) -> None: ...

class AlertFilter(_message.Message):
    __slots__ = ("severities", "error_types", "host", "run_id", "component", "group_id")
    SEVERITIES_FIELD_NUMBER: _ClassVar[int]
    ERROR_TYPES_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    COMPONENT_FIELD_NUMBER: _ClassVar[int]
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    severities: _containers.RepeatedScalarFieldContainer[Severity]
    error_types: _containers.RepeatedScalarFieldContainer[ErrorType]
    host: str
    run_id: str
    component: str
    group_id: int
    def __init__(self, severities: _Optional[_Iterable[_Union[Severity, str]]] = ..., error_types: _Optional[_Iterable[_Union[ErrorType, str]]] = ..., host: _Optional[str] = ..., run_id: _Optional[str] = ..., component: _Optional[str] = ..., group_id: _Optional[int] = ...) -> None: ...

class AlertRule(_message.Message):
    __slots__ = ("id", "name", "trigger", "filter", "threshold", "window", "per_group", "run_states", "throttle", "destination_kind", "url", "secret", "has_secret", "disabled", "created_at", "updated_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    PER_GROUP_FIELD_NUMBER: _ClassVar[int]
    RUN_STATES_FIELD_NUMBER: _ClassVar[int]
    THROTTLE_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_KIND_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    HAS_SECRET_FIELD_NUMBER: _ClassVar[int]
    DISABLED_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    trigger: AlertTrigger
    filter: AlertFilter
    threshold: int
    window: _duration_pb2.Duration
    per_group: bool
    run_states: _containers.RepeatedScalarFieldContainer[RunState]
    throttle: _duration_pb2.Duration
    destination_kind: AlertDestinationKind
    url: str
    secret: str
    has_secret: bool
    disabled: bool
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., trigger: _Optional[_Union[AlertTrigger, str]] = ..., filter: _Optional[_Union[AlertFilter, _Mapping]] = ..., threshold: _Optional[int] = ..., window: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., per_group: bool = ..., run_states: _Optional[_Iterable[_Union[RunState, str]]] = ..., throttle: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., destination_kind: _Optional[_Union[AlertDestinationKind, str]] = ..., url: _Optional[str] = ..., secret: _Optional[str] = ..., has_secret: bool = ..., disabled: bool = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateAlertRuleRequest(_message.Message):
    __slots__ = ("rule",)
    RULE_FIELD_NUMBER: _ClassVar[int]
    rule: AlertRule
    def __init__(self, rule: _Optional[_Union[AlertRule, _Mapping]] = ...) -> None: ...

class CreateAlertRuleResponse(_message.Message):
    __slots__ = ("rule",)
    RULE_FIELD_NUMBER: _ClassVar[int]
    rule: AlertRule
    def __init__(self, rule: _Optional[_Union[AlertRule, _Mapping]] = ...) -> None: ...

class ListAlertRulesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListAlertRulesResponse(_message.Message):
    __slots__ = ("rules",)
    RULES_FIELD_NUMBER: _ClassVar[int]
    rules: _containers.RepeatedCompositeFieldContainer[AlertRule]
    def __init__(self, rules: _Optional[_Iterable[_Union[AlertRule, _Mapping]]] = ...) -> None: ...

class UpdateAlertRuleRequest(_message.Message):
    __slots__ = ("rule", "update_mask")
    RULE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    rule: AlertRule
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, rule: _Optional[_Union[AlertRule, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateAlertRuleResponse(_message.Message):
    __slots__ = ("rule",)
    RULE_FIELD_NUMBER: _ClassVar[int]
    rule: AlertRule
    def __init__(self, rule: _Optional[_Union[AlertRule, _Mapping]] = ...) -> None: ...

class DeleteAlertRuleRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteAlertRuleResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class TestAlertRuleRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class TestAlertRuleResponse(_message.Message):
    __slots__ = ("status_code", "error", "body")
    STATUS_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    status_code: int
    error: str
    body: str
    def __init__(self, status_code: _Optional[int] = ..., error: _Optional[str] = ..., body: _Optional[str] = ...) -> None: ...

class AlertAttempt(_message.Message):
    __slots__ = ("at", "status_code", "error", "duration")
    AT_FIELD_NUMBER: _ClassVar[int]
    STATUS_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    at: _timestamp_pb2.Timestamp
    status_code: int
    error: str
    duration: _duration_pb2.Duration
    def __init__(self, at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., status_code: _Optional[int] = ..., error: _Optional[str] = ..., duration: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class AlertDelivery(_message.Message):
    __slots__ = ("id", "rule_id", "rule_name", "trigger", "summary", "group_id", "run_id", "state", "attempts", "created_at", "delivered_at", "next_attempt_at", "destination")
    ID_FIELD_NUMBER: _ClassVar[int]
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    RULE_NAME_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_AT_FIELD_NUMBER: _ClassVar[int]
    NEXT_ATTEMPT_AT_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    id: str
    rule_id: str
    rule_name: str
    trigger: AlertTrigger
    summary: str
    group_id: int
    run_id: str
    state: AlertDeliveryState
    attempts: _containers.RepeatedCompositeFieldContainer[AlertAttempt]
    created_at: _timestamp_pb2.Timestamp
    delivered_at: _timestamp_pb2.Timestamp
    next_attempt_at: _timestamp_pb2.Timestamp
    destination: str
    def __init__(self, id: _Optional[str] = ..., rule_id: _Optional[str] = ..., rule_name: _Optional[str] = ..., trigger: _Optional[_Union[AlertTrigger, str]] = ..., summary: _Optional[str] = ..., group_id: _Optional[int] = ..., run_id: _Optional[str] = ..., state: _Optional[_Union[AlertDeliveryState, str]] = ..., attempts: _Optional[_Iterable[_Union[AlertAttempt, _Mapping]]] = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., delivered_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., next_attempt_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., destination: _Optional[str] = ...) -> None: ...

class ListAlertDeliveriesRequest(_message.Message):
    __slots__ = ("rule_id", "state", "page_size", "page_token")
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    rule_id: str
    state: AlertDeliveryState
    page_size: int
    page_token: str
    def __init__(self, rule_id: _Optional[str] = ..., state: _Optional[_Union[AlertDeliveryState, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAlertDeliveriesResponse(_message.Message):
    __slots__ = ("deliveries", "next_page_token")
    DELIVERIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    deliveries: _containers.RepeatedCompositeFieldContainer[AlertDelivery]
    next_page_token: str
    def __init__(self, deliveries: _Optional[_Iterable[_Union[AlertDelivery, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetAccessRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetAccessResponse(_message.Message):
    __slots__ = ("access_control", "role", "allowed_methods", "server_version")
    ACCESS_CONTROL_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_METHODS_FIELD_NUMBER: _ClassVar[int]
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    access_control: bool
    role: Role
    allowed_methods: _containers.RepeatedScalarFieldContainer[str]
    server_version: str
    def __init__(self, access_control: bool = ..., role: _Optional[_Union[Role, str]] = ..., allowed_methods: _Optional[_Iterable[str]] = ..., server_version: _Optional[str] = ...) -> None: ...
