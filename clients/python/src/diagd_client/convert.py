"""Conversions between the client's plain types (types.py) and the generated
protobuf messages, plus `to_json_value`, which makes any Python value fit a
google.protobuf.Struct, and the limits diagd validates on ingest."""

from __future__ import annotations

import datetime as _dt
import math
from typing import Any, Dict, Optional

from google.protobuf import struct_pb2, timestamp_pb2
from google.protobuf.json_format import MessageToDict

from ._proto.diagnostics.v1 import diagnostics_pb2 as pb
from .types import (
    DebugMode,
    ErrorType,
    GpuState,
    Heartbeat,
    IngestRejection,
    IngestResult,
    LogEntry,
    LogFilter,
    NewLog,
    Notice,
    NoticeKind,
    RecentAction,
    RetentionStatus,
    SearchHit,
    SearchMatch,
    SearchSummary,
    Severity,
    Source,
    Stats,
    SystemState,
    TailEvent,
)

# diagd's ingest limits (README "What is validated on ingest"); the client trims
# to them so that a log is never rejected for its size.
MAX_MESSAGE_BYTES = 64 * 1024
MAX_STACK_TRACE_BYTES = 1024 * 1024
MAX_CONTEXT_BYTES = 256 * 1024
MAX_CONTEXT_DEPTH = 20
MAX_RECENT_ACTIONS = 1000
MAX_ACTION_NAME_BYTES = 1024
MAX_ACTION_DETAILS_BYTES = 64 * 1024
MAX_SOURCE_FIELD_BYTES = 256
MAX_LABELS = 64
MAX_LABEL_KEY_BYTES = 128
MAX_LABEL_VALUE_BYTES = 1024
MAX_GPUS = 64
MAX_FINGERPRINT_ENTRIES = 16
MAX_FINGERPRINT_ENTRY_BYTES = 256


def truncate_utf8(text: str, max_bytes: int) -> str:
    """`text` without NUL characters, cut to at most `max_bytes` of UTF-8."""
    text = str(text).replace("\x00", "")
    encoded = text.encode("utf-8", "replace")
    if len(encoded) <= max_bytes:
        return text
    return encoded[: max_bytes - 3].decode("utf-8", "ignore") + "..."


def to_json_value(value: Any, depth: int = 0) -> Any:
    """`value` as JSON data (dict/list/str/float/bool/None): unknown objects become
    their repr, non-finite numbers strings, and nesting deeper than diagd accepts a
    string. Never raises: a value that cannot be converted (a repr that raises, an
    int too large for a float) becomes a descriptive string."""
    try:
        return _to_json_value(value, depth)
    except Exception:
        return _safe_repr(value, 1024)


def _safe_repr(value: Any, max_bytes: int) -> str:
    try:
        return truncate_utf8(repr(value), max_bytes)
    except Exception:
        try:
            return f"<unrepresentable {type(value).__qualname__}>"
        except Exception:
            return "<unrepresentable>"


def _to_json_value(value: Any, depth: int) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        number = float(value)
        return number if math.isfinite(number) else str(value)
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").replace("\x00", "")
    if depth >= MAX_CONTEXT_DEPTH - 1:
        return _safe_repr(value, 1024)
    if isinstance(value, dict):
        return {_key(k): to_json_value(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_json_value(v, depth + 1) for v in value]
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        try:
            return to_json_value(value.item(), depth)
        except Exception:
            pass
    return _safe_repr(value, 4096)


def _key(key: Any) -> str:
    try:
        return str(key).replace("\x00", "")
    except Exception:
        return _safe_repr(key, 256)


def struct_from_dict(data: Optional[Dict[str, Any]], max_bytes: int = MAX_CONTEXT_BYTES) -> struct_pb2.Struct:
    """A Struct holding `data` (made JSON-safe); when it would exceed `max_bytes`
    it is replaced by a note saying so and a cut-down repr."""
    struct = struct_pb2.Struct()
    if not data:
        return struct
    struct.update(to_json_value(dict(data)))
    if struct.ByteSize() > max_bytes:
        struct = struct_pb2.Struct()
        struct.update(
            {
                "diagd_client_note": f"context over {max_bytes} bytes, cut down",
                "truncated": truncate_utf8(repr(data), max_bytes // 2),
            }
        )
    return struct


def dict_from_struct(struct: struct_pb2.Struct) -> Dict[str, Any]:
    """A Struct as a plain dict (numbers come back as floats, as JSON has them)."""
    return MessageToDict(struct)


def timestamp_from_datetime(moment: Optional[_dt.datetime]) -> Optional[timestamp_pb2.Timestamp]:
    """A Timestamp; a naive datetime is taken as local time."""
    if moment is None:
        return None
    stamp = timestamp_pb2.Timestamp()
    if moment.tzinfo is None:
        moment = moment.astimezone()
    stamp.FromDatetime(moment.astimezone(_dt.timezone.utc))
    return stamp


def datetime_from_timestamp(message, field_name: str) -> Optional[_dt.datetime]:
    """The Timestamp field `field_name` of `message` as an aware UTC datetime, None when unset."""
    if not message.HasField(field_name):
        return None
    return getattr(message, field_name).ToDatetime(tzinfo=_dt.timezone.utc)


def source_to_proto(source: Optional[Source]) -> pb.Source:
    """A Source message, each field trimmed to diagd's limits."""
    message = pb.Source()
    if source is None:
        return message
    message.host = truncate_utf8(source.host, MAX_SOURCE_FIELD_BYTES)
    message.run_id = truncate_utf8(source.run_id, MAX_SOURCE_FIELD_BYTES)
    message.component = truncate_utf8(source.component, MAX_SOURCE_FIELD_BYTES)
    for key, value in list(source.labels.items())[:MAX_LABELS]:
        message.labels[truncate_utf8(key, MAX_LABEL_KEY_BYTES)] = truncate_utf8(value, MAX_LABEL_VALUE_BYTES)
    return message


def source_from_proto(message: pb.Source) -> Source:
    return Source(message.host, message.run_id, message.component, dict(message.labels))


def _percent(value: Optional[float]) -> Optional[float]:
    if value is None or not math.isfinite(value):
        return None
    return min(100.0, max(0.0, float(value)))


def system_state_to_proto(state: SystemState) -> pb.SystemState:
    """A SystemState message; percentages clamped to 0–100 and used ≤ total, as diagd requires."""
    message = pb.SystemState()
    cpu = _percent(state.cpu_percent)
    if cpu is not None:
        message.cpu_percent = cpu
    message.memory_total_bytes = max(0, int(state.memory_total_bytes))
    message.memory_used_bytes = _used(state.memory_used_bytes, state.memory_total_bytes)
    message.disk_total_bytes = max(0, int(state.disk_total_bytes))
    message.disk_used_bytes = _used(state.disk_used_bytes, state.disk_total_bytes)
    for gpu in state.gpus[:MAX_GPUS]:
        gpu_message = message.gpus.add(
            name=truncate_utf8(gpu.name, 256),
            memory_total_bytes=max(0, int(gpu.memory_total_bytes)),
            memory_used_bytes=_used(gpu.memory_used_bytes, gpu.memory_total_bytes),
        )
        utilization = _percent(gpu.utilization_percent)
        if utilization is not None:
            gpu_message.utilization_percent = utilization
    return message


def _used(used: int, total: int) -> int:
    used = max(0, int(used))
    return min(used, int(total)) if total else used


def system_state_from_proto(message: pb.SystemState) -> SystemState:
    return SystemState(
        cpu_percent=message.cpu_percent if message.HasField("cpu_percent") else None,
        memory_used_bytes=message.memory_used_bytes,
        memory_total_bytes=message.memory_total_bytes,
        disk_used_bytes=message.disk_used_bytes,
        disk_total_bytes=message.disk_total_bytes,
        gpus=[
            GpuState(
                name=gpu.name,
                memory_used_bytes=gpu.memory_used_bytes,
                memory_total_bytes=gpu.memory_total_bytes,
                utilization_percent=gpu.utilization_percent if gpu.HasField("utilization_percent") else None,
            )
            for gpu in message.gpus
        ],
    )


def recent_action_to_proto(action: RecentAction) -> pb.RecentAction:
    message = pb.RecentAction(action=truncate_utf8(action.action or "(unnamed)", MAX_ACTION_NAME_BYTES))
    stamp = timestamp_from_datetime(action.timestamp)
    if stamp is not None:
        message.timestamp.CopyFrom(stamp)
    if action.details:
        message.details.CopyFrom(struct_from_dict(action.details, MAX_ACTION_DETAILS_BYTES))
    return message


def recent_action_from_proto(message: pb.RecentAction) -> RecentAction:
    return RecentAction(
        action=message.action,
        details=dict_from_struct(message.details),
        timestamp=datetime_from_timestamp(message, "timestamp"),
    )


def new_log_to_proto(log: NewLog) -> pb.NewLog:
    """A NewLog message that passes diagd's validation: required fields filled, sizes trimmed."""
    message = pb.NewLog(
        event_id=log.event_id,
        severity=int(Severity.parse(log.severity)),
        error_type=int(ErrorType.parse(log.error_type)),
        message=truncate_utf8(log.message, MAX_MESSAGE_BYTES) if str(log.message).strip() else "(no message)",
        stack_trace=truncate_utf8(log.stack_trace, MAX_STACK_TRACE_BYTES),
    )
    stamp = timestamp_from_datetime(log.occurred_at)
    if stamp is not None:
        message.occurred_at.CopyFrom(stamp)
    if log.context:
        message.context.CopyFrom(struct_from_dict(log.context))
    if log.system_state is not None:
        message.system_state.CopyFrom(system_state_to_proto(log.system_state))
    for action in log.recent_actions[-MAX_RECENT_ACTIONS:]:
        message.recent_actions.append(recent_action_to_proto(action))
    message.source.CopyFrom(source_to_proto(log.source))
    message.fingerprint.extend(
        truncate_utf8(str(entry), MAX_FINGERPRINT_ENTRY_BYTES)
        for entry in list(log.fingerprint or [])[:MAX_FINGERPRINT_ENTRIES]
        if str(entry).strip()
    )
    return message


def log_entry_from_proto(message: pb.LogEntry) -> LogEntry:
    return LogEntry(
        id=message.id,
        event_id=message.event_id,
        occurred_at=datetime_from_timestamp(message, "occurred_at"),
        received_at=datetime_from_timestamp(message, "received_at"),
        severity=Severity(message.severity) if message.severity else Severity.LOW,
        error_type=ErrorType(message.error_type) if message.error_type else ErrorType.OTHER,
        message=message.message,
        stack_trace=message.stack_trace,
        context=dict_from_struct(message.context) if message.HasField("context") else {},
        system_state=system_state_from_proto(message.system_state) if message.HasField("system_state") else None,
        recent_actions=[recent_action_from_proto(a) for a in message.recent_actions],
        source=source_from_proto(message.source),
        group_id=message.group_id,
        fingerprint=message.fingerprint,
    )


def log_filter_to_proto(log_filter: Optional[LogFilter]) -> pb.LogFilter:
    message = pb.LogFilter()
    if log_filter is None:
        return message
    message.severities.extend(int(Severity.parse(s)) for s in log_filter.severities)
    message.error_types.extend(int(ErrorType.parse(t)) for t in log_filter.error_types)
    for name in ("since", "until"):
        stamp = timestamp_from_datetime(getattr(log_filter, name))
        if stamp is not None:
            getattr(message, name).CopyFrom(stamp)
    if log_filter.source is not None:
        message.source.CopyFrom(source_to_proto(log_filter.source))
    message.message_contains = log_filter.message_contains
    message.group_ids.extend(int(g) for g in log_filter.group_ids)
    return message


def ingest_result_from_proto(message: pb.IngestLogsResponse) -> IngestResult:
    return IngestResult(
        accepted=message.accepted,
        duplicates=message.duplicates,
        rejected=message.rejected,
        rejections=[IngestRejection(r.batch, r.index, r.field, r.reason) for r in message.rejections],
        batches=message.batches,
    )


def search_hit_from_proto(message: pb.SearchHit) -> SearchHit:
    return SearchHit(
        log=log_entry_from_proto(message.log),
        matches=[SearchMatch(m.field, m.fragment, m.start, m.end) for m in message.matches],
    )


def search_summary_from_proto(message: pb.SearchSummary) -> SearchSummary:
    return SearchSummary(message.matched, message.truncated, message.elapsed_ms, message.note)


def tail_event_from_proto(message: pb.SubscribeLogsResponse) -> TailEvent:
    event = TailEvent(cursor=message.cursor)
    which = message.WhichOneof("event")
    if which == "log":
        event.log = log_entry_from_proto(message.log)
    elif which == "notice":
        event.notice = Notice(NoticeKind(message.notice.kind), message.notice.message, message.notice.count)
    elif which == "heartbeat":
        event.heartbeat = Heartbeat(datetime_from_timestamp(message.heartbeat, "time"))
    return event


def stats_from_proto(message: pb.GetStatsResponse) -> Stats:
    retention = None
    if message.HasField("retention"):
        r = message.retention
        retention = RetentionStatus(r.enabled, datetime_from_timestamp(r, "last_run"), r.last_deleted, r.total_deleted)
    return Stats(
        total=message.total,
        by_severity={Severity(c.severity): c.count for c in message.by_severity if c.severity},
        by_error_type={ErrorType(c.error_type): c.count for c in message.by_error_type if c.error_type},
        oldest=datetime_from_timestamp(message, "oldest"),
        newest=datetime_from_timestamp(message, "newest"),
        live_subscribers=message.live_subscribers,
        retention=retention,
    )


def debug_mode_from_proto(message: pb.DebugMode) -> DebugMode:
    return DebugMode(
        enabled=message.enabled,
        changed_at=datetime_from_timestamp(message, "changed_at"),
        changed_by=message.changed_by,
        auto_off_at=datetime_from_timestamp(message, "auto_off_at"),
    )
