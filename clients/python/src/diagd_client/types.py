"""Plain Python types for diagd's v1 contract: what the client takes and returns
instead of raw protobuf messages (see convert.py for the mapping)."""

from __future__ import annotations

import datetime as _dt
import enum
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Union


class Severity(enum.IntEnum):
    """How serious a log is; values equal the proto enum's numbers."""

    CRITICAL = 1
    HIGH = 2
    MEDIUM = 3
    LOW = 4

    @classmethod
    def parse(cls, value: Union["Severity", str, int]) -> "Severity":
        """Accepts a Severity, its number, or a name such as "high" or "SEVERITY_HIGH"."""
        return _parse_enum(cls, value, "SEVERITY_")


class ErrorType(enum.IntEnum):
    """The category of an error; values equal the proto enum's numbers."""

    OOM = 1
    NETWORK = 2
    CONFIGURATION = 3
    MODEL_LOADING = 4
    TRAINING = 5
    INFERENCE = 6
    OTHER = 7

    @classmethod
    def parse(cls, value: Union["ErrorType", str, int]) -> "ErrorType":
        """Accepts an ErrorType, its number, or a name such as "oom" or "ERROR_TYPE_OOM"."""
        return _parse_enum(cls, value, "ERROR_TYPE_")


class NoticeKind(enum.IntEnum):
    """What a live-tail notice is about; values equal the proto enum's numbers."""

    UNSPECIFIED = 0
    DROPPED = 1
    MISSED = 2
    LIVE = 3
    LOGS_CLEARED = 4
    DATABASE_UNAVAILABLE = 5
    DATABASE_RESTORED = 6


def _parse_enum(cls, value, prefix: str):
    if isinstance(value, cls):
        return value
    if isinstance(value, int):
        return cls(value)
    name = str(value).strip().upper().replace("-", "_")
    if name.startswith(prefix):
        name = name[len(prefix):]
    try:
        return cls[name]
    except KeyError:
        raise ValueError(f"{value!r} is not one of {', '.join(m.name.lower() for m in cls)}") from None


@dataclass
class Source:
    """Where a log comes from: host, training run, component and free labels."""

    host: str = ""
    run_id: str = ""
    component: str = ""
    labels: Dict[str, str] = field(default_factory=dict)


@dataclass
class GpuState:
    """One GPU at the time of the error."""

    name: str = ""
    memory_used_bytes: int = 0
    memory_total_bytes: int = 0
    utilization_percent: Optional[float] = None


@dataclass
class SystemState:
    """The machine's state at the time of the error (0 totals mean unknown)."""

    cpu_percent: Optional[float] = None
    memory_used_bytes: int = 0
    memory_total_bytes: int = 0
    disk_used_bytes: int = 0
    disk_total_bytes: int = 0
    gpus: List[GpuState] = field(default_factory=list)


@dataclass
class RecentAction:
    """A breadcrumb: something the program did before the error."""

    action: str
    details: Dict[str, Any] = field(default_factory=dict)
    timestamp: Optional[_dt.datetime] = None


@dataclass
class NewLog:
    """A log to send; only `message` and `severity` are required by diagd."""

    message: str
    severity: Severity = Severity.HIGH
    error_type: ErrorType = ErrorType.OTHER
    stack_trace: str = ""
    context: Dict[str, Any] = field(default_factory=dict)
    system_state: Optional[SystemState] = None
    recent_actions: List[RecentAction] = field(default_factory=list)
    source: Source = field(default_factory=Source)
    event_id: str = ""
    occurred_at: Optional[_dt.datetime] = None
    # diagd groups logs with equal entries; "{{ default }}" stands for the
    # fingerprint diagd computes. Empty: computed. At most 16 entries of 256 bytes.
    fingerprint: List[str] = field(default_factory=list)


@dataclass
class LogEntry:
    """A stored log as diagd returns it."""

    id: str
    event_id: str
    occurred_at: Optional[_dt.datetime]
    received_at: Optional[_dt.datetime]
    severity: Severity
    error_type: ErrorType
    message: str
    stack_trace: str
    context: Dict[str, Any]
    system_state: Optional[SystemState]
    recent_actions: List[RecentAction]
    source: Source
    group_id: int = 0  # its error group (0: not grouped yet)
    fingerprint: str = ""


@dataclass
class LogFilter:
    """Which logs an RPC applies to; every condition is optional and all must hold."""

    severities: Sequence[Union[Severity, str]] = ()
    error_types: Sequence[Union[ErrorType, str]] = ()
    since: Optional[_dt.datetime] = None
    until: Optional[_dt.datetime] = None
    source: Optional[Source] = None
    message_contains: str = ""
    group_ids: Sequence[int] = ()


@dataclass
class ReportResult:
    """ReportError's answer: the stored id, and whether the event_id was already stored."""

    id: str
    duplicate: bool
    event_id: str


@dataclass
class IngestRejection:
    """One log of an IngestLogs stream that diagd refused, and why."""

    batch: int
    index: int
    field: str
    reason: str


@dataclass
class IngestResult:
    """IngestLogs' totals for a whole stream."""

    accepted: int
    duplicates: int
    rejected: int
    rejections: List[IngestRejection]
    batches: int


@dataclass
class SearchMatch:
    """Where a search matched: field, a fragment around the match, and byte offsets in it."""

    field: str
    fragment: str
    start: int
    end: int


@dataclass
class SearchHit:
    """One log found by a search, with where it matched."""

    log: LogEntry
    matches: List[SearchMatch]


@dataclass
class SearchSummary:
    """The end of a search: hits sent, whether `limit` cut it short, time taken, a note."""

    matched: int
    truncated: bool
    elapsed_ms: int
    note: str


@dataclass
class Notice:
    """A notice on a live tail (dropped, missed, live, cleared, database lost/restored)."""

    kind: NoticeKind
    message: str
    count: int


@dataclass
class Heartbeat:
    """Sent on an idle live tail; carries the server's time."""

    time: Optional[_dt.datetime]


@dataclass
class TailEvent:
    """One message of a live tail: exactly one of log / notice / heartbeat is set.
    `cursor` resumes the tail after this message."""

    cursor: str
    log: Optional[LogEntry] = None
    notice: Optional[Notice] = None
    heartbeat: Optional[Heartbeat] = None


@dataclass
class RetentionStatus:
    """What retention has done on the answering diagd."""

    enabled: bool
    last_run: Optional[_dt.datetime]
    last_deleted: int
    total_deleted: int


@dataclass
class Stats:
    """The dashboard counts: total, per severity, per error type, oldest and newest."""

    total: int
    by_severity: Dict[Severity, int]
    by_error_type: Dict[ErrorType, int]
    oldest: Optional[_dt.datetime]
    newest: Optional[_dt.datetime]
    live_subscribers: int
    retention: Optional[RetentionStatus]


@dataclass
class DebugMode:
    """diagd's debug-mode switch."""

    enabled: bool
    changed_at: Optional[_dt.datetime] = None
    changed_by: str = ""
    auto_off_at: Optional[_dt.datetime] = None
