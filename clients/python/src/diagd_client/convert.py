"""Conversions between the client's plain types (types.py) and the generated
protobuf messages, plus `to_json_value`, which makes any Python value fit a
google.protobuf.Struct, the limits diagd validates on ingest and on Heartbeat,
and `heartbeat_request`, which builds a HeartbeatRequest diagd accepts."""

from __future__ import annotations

import datetime as _dt
import math
from typing import Any, Dict, Mapping, Optional, Union

from google.protobuf import duration_pb2, struct_pb2, timestamp_pb2
from google.protobuf.json_format import MessageToDict

from ._proto.diagnostics.v1 import diagnostics_pb2 as pb
from .types import (
    DebugMode,
    ErrorGroupSummary,
    ErrorType,
    GpuState,
    Heartbeat,
    HeartbeatResult,
    IngestRejection,
    IngestResult,
    LogEntry,
    LogFilter,
    NewLog,
    Notice,
    NoticeKind,
    RecentAction,
    RetentionStatus,
    Run,
    RunChange,
    RunDetails,
    RunMember,
    RunPhase,
    RunState,
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

# diagd's Heartbeat limits (see HeartbeatRequest in the proto): run_id and host at
# most 256 bytes, rank -1 or 0..1,000,000, at most 32 metrics with names of at most
# 64 bytes and finite values, a FAILED message of at most 1024 bytes, an interval of
# 1 s to 1 h and a stuck_after of 10 s to 7 days.
MAX_RUN_ID_BYTES = 256
MAX_HOST_BYTES = 256
MAX_RANK = 1_000_000
MAX_METRICS = 32
MAX_METRIC_NAME_BYTES = 64
MAX_RUN_MESSAGE_BYTES = 1024
MIN_HEARTBEAT_INTERVAL = 1.0
MAX_HEARTBEAT_INTERVAL = 3600.0
MIN_STUCK_AFTER = 10.0
MAX_STUCK_AFTER = 7 * 24 * 3600.0
_INT64_MAX = 2 ** 63 - 1


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


# -- runs and heartbeats --------------------------------------------------------


def _enum_or(cls, value: int, default):
    """cls(value), or `default` for a number this client does not know (a newer diagd)."""
    try:
        return cls(value)
    except ValueError:
        return default


def duration_from_seconds(seconds: float) -> duration_pb2.Duration:
    duration = duration_pb2.Duration()
    duration.FromNanoseconds(int(round(float(seconds) * 1e9)))
    return duration


def seconds_from_duration(message, field_name: str) -> Optional[float]:
    """The Duration field `field_name` of `message` in seconds, None when unset."""
    if not message.HasField(field_name):
        return None
    value = getattr(message, field_name)
    return value.seconds + value.nanos / 1e9


def check_heartbeat_interval(seconds: float) -> float:
    """`seconds` as a float when diagd accepts it as a heartbeat interval, else ValueError."""
    value = float(seconds)
    if not MIN_HEARTBEAT_INTERVAL <= value <= MAX_HEARTBEAT_INTERVAL:
        raise ValueError(
            f"heartbeat interval must be {MIN_HEARTBEAT_INTERVAL:g} to {MAX_HEARTBEAT_INTERVAL:g} seconds, not {seconds!r}"
        )
    return value


def check_stuck_after(seconds: float) -> float:
    """`seconds` as a float when diagd accepts it as stuck_after, else ValueError."""
    value = float(seconds)
    if not MIN_STUCK_AFTER <= value <= MAX_STUCK_AFTER:
        raise ValueError(f"stuck_after must be {MIN_STUCK_AFTER:g} s to 7 days ({MAX_STUCK_AFTER:g} s), not {seconds!r}")
    return value


def rank_from_label(value: Optional[str]) -> int:
    """A member's rank from the `rank` label (torchrun's RANK): -1 when absent or not a
    rank diagd accepts (0 to 1,000,000)."""
    try:
        rank = int(str(value).strip())
    except (TypeError, ValueError):
        return -1
    return rank if 0 <= rank <= MAX_RANK else -1


def clean_metrics(metrics: Optional[Mapping[Any, Any]]) -> Dict[str, float]:
    """The metrics diagd accepts out of `metrics`: names of at most 64 bytes (longer
    ones dropped, not cut, so that two never become one), finite float values (others
    dropped), the first 32 names."""
    cleaned: Dict[str, float] = {}
    for name, value in (metrics or {}).items():
        if len(cleaned) >= MAX_METRICS:
            break
        name = str(name)
        if not name or "\x00" in name or len(name.encode("utf-8", "replace")) > MAX_METRIC_NAME_BYTES:
            continue
        number = finite_float(value)
        if number is not None:
            cleaned[name] = number
    return cleaned


def finite_float(value: Any) -> Optional[float]:
    """float(value) when that works and is finite (a 0-d tensor works too), else None."""
    if isinstance(value, bool):
        return float(value)
    try:
        number = float(value)
    except Exception:
        return None
    return number if math.isfinite(number) else None


def heartbeat_request(
    run_id: str,
    *,
    host: str,
    rank: int = -1,
    pid: int = 0,
    phase: Union[RunPhase, str, int] = RunPhase.UNSPECIFIED,
    step: Optional[int] = None,
    epoch: Optional[float] = None,
    metrics: Optional[Mapping[str, Any]] = None,
    interval: Optional[float] = None,
    stuck_after: Optional[float] = None,
    message: str = "",
) -> pb.HeartbeatRequest:
    """A HeartbeatRequest within diagd's limits: run_id, host and message cut to their
    byte limits (the run id exactly as source_to_proto cuts a log's, so that both name
    the same run), an out-of-range rank sent as -1, invalid metrics dropped, a
    non-finite epoch left out, the step clamped to int64, an empty host named
    "unknown-host" (diagd requires one). `interval` and `stuck_after`
    (seconds) must be within diagd's ranges (ValueError otherwise)."""
    request = pb.HeartbeatRequest(
        run_id=truncate_utf8(run_id, MAX_RUN_ID_BYTES),
        host=truncate_utf8(host, MAX_HOST_BYTES).strip() or "unknown-host",  # required by diagd
        rank=int(rank) if -1 <= int(rank) <= MAX_RANK else -1,
        pid=max(0, min(int(pid), 2 ** 32 - 1)),
        phase=int(RunPhase.parse(phase)),
    )
    if step is not None:
        request.step = max(-_INT64_MAX - 1, min(int(step), _INT64_MAX))
    if epoch is not None:
        value = finite_float(epoch)
        if value is not None:
            request.epoch = value
    for name, value in clean_metrics(metrics).items():
        request.metrics[name] = value
    if interval is not None:
        request.interval.CopyFrom(duration_from_seconds(check_heartbeat_interval(interval)))
    if stuck_after is not None:
        request.stuck_after.CopyFrom(duration_from_seconds(check_stuck_after(stuck_after)))
    if message:
        request.message = truncate_utf8(message, MAX_RUN_MESSAGE_BYTES)
    return request


def heartbeat_result_from_proto(message: pb.HeartbeatResponse) -> HeartbeatResult:
    return HeartbeatResult(
        _enum_or(RunState, message.member_state, RunState.UNSPECIFIED),
        _enum_or(RunState, message.run_state, RunState.UNSPECIFIED),
    )


def _optional(message, field_name: str):
    return getattr(message, field_name) if message.HasField(field_name) else None


def run_from_proto(message: pb.Run) -> Run:
    return Run(
        run_id=message.run_id,
        state=_enum_or(RunState, message.state, RunState.UNSPECIFIED),
        summary=message.summary,
        started_at=datetime_from_timestamp(message, "started_at"),
        last_heartbeat=datetime_from_timestamp(message, "last_heartbeat"),
        state_changed_at=datetime_from_timestamp(message, "state_changed_at"),
        members=message.members,
        alive=message.alive,
        stuck=message.stuck,
        lost=message.lost,
        finished=message.finished,
        failed=message.failed,
        max_step=_optional(message, "max_step"),
        min_step=_optional(message, "min_step"),
        stuck_after=seconds_from_duration(message, "stuck_after"),
    )


def run_member_from_proto(message: pb.RunMember) -> RunMember:
    return RunMember(
        host=message.host,
        rank=message.rank,
        pid=message.pid,
        state=_enum_or(RunState, message.state, RunState.UNSPECIFIED),
        phase=_enum_or(RunPhase, message.phase, RunPhase.UNSPECIFIED),
        step=_optional(message, "step"),
        epoch=_optional(message, "epoch"),
        metrics=dict(message.metrics),
        first_heartbeat=datetime_from_timestamp(message, "first_heartbeat"),
        last_heartbeat=datetime_from_timestamp(message, "last_heartbeat"),
        step_changed_at=datetime_from_timestamp(message, "step_changed_at"),
        state_changed_at=datetime_from_timestamp(message, "state_changed_at"),
        interval=seconds_from_duration(message, "interval"),
        message=message.message,
    )


def error_group_summary_from_proto(message: pb.ErrorGroup) -> ErrorGroupSummary:
    return ErrorGroupSummary(
        id=message.id,
        title=message.title,
        culprit=message.culprit,
        exception_type=message.exception_type,
        error_type=_enum_or(ErrorType, message.error_type, None) if message.error_type else None,
        event_count=message.event_count,
        first_seen=datetime_from_timestamp(message, "first_seen"),
        last_seen=datetime_from_timestamp(message, "last_seen"),
    )


def run_details_from_proto(message: pb.GetRunResponse) -> RunDetails:
    return RunDetails(
        run=run_from_proto(message.run),
        members=[run_member_from_proto(m) for m in message.members],
        groups=[error_group_summary_from_proto(g) for g in message.groups],
        recent_actions=[recent_action_from_proto(a) for a in message.recent_actions],
    )


def run_change_from_proto(message: pb.RunChange) -> RunChange:
    return RunChange(
        run_id=message.run_id,
        host=message.host,
        rank=message.rank,
        from_state=_enum_or(RunState, message.from_state, RunState.UNSPECIFIED),
        to_state=_enum_or(RunState, message.to_state, RunState.UNSPECIFIED),
        step=_optional(message, "step"),
        changed_at=datetime_from_timestamp(message, "changed_at"),
        run=run_from_proto(message.run) if message.HasField("run") else None,
    )
