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


class RunPhase(enum.IntEnum):
    """What a member of a training run says it is doing (Heartbeat's `phase`); values
    equal the proto enum's numbers. FINISHED and FAILED end the member."""

    UNSPECIFIED = 0
    STARTING = 1
    TRAINING = 2
    EVALUATING = 3
    SAVING = 4
    FINISHED = 5
    FAILED = 6

    @classmethod
    def parse(cls, value: Union["RunPhase", str, int]) -> "RunPhase":
        """Accepts a RunPhase, its number, or a name such as "training" or "RUN_PHASE_TRAINING"."""
        return _parse_enum(cls, value, "RUN_PHASE_")


class RunState(enum.IntEnum):
    """What diagd derives a run, or one of its members, to be doing; values equal the
    proto enum's numbers. STUCK: heartbeats arrive but the step has not advanced for
    `stuck_after`; LOST: no heartbeat for three intervals."""

    UNSPECIFIED = 0
    ALIVE = 1
    STUCK = 2
    LOST = 3
    FINISHED = 4
    FAILED = 5

    @classmethod
    def parse(cls, value: Union["RunState", str, int]) -> "RunState":
        """Accepts a RunState, its number, or a name such as "stuck" or "RUN_STATE_STUCK"."""
        return _parse_enum(cls, value, "RUN_STATE_")


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


@dataclass
class HeartbeatResult:
    """Heartbeat's answer: the member's and the run's state after it."""

    member_state: RunState
    run_state: RunState


@dataclass
class Run:
    """A training run as diagd sees it (ListRuns, GetRun). Durations in seconds."""

    run_id: str
    state: RunState
    summary: str = ""
    started_at: Optional[_dt.datetime] = None
    last_heartbeat: Optional[_dt.datetime] = None
    state_changed_at: Optional[_dt.datetime] = None
    members: int = 0
    alive: int = 0
    stuck: int = 0
    lost: int = 0
    finished: int = 0
    failed: int = 0
    max_step: Optional[int] = None
    min_step: Optional[int] = None
    stuck_after: Optional[float] = None


@dataclass
class RunMember:
    """One member (a process: host, rank, pid) of a run, with its derived state."""

    host: str
    rank: int
    pid: int
    state: RunState
    phase: RunPhase = RunPhase.UNSPECIFIED
    step: Optional[int] = None
    epoch: Optional[float] = None
    metrics: Dict[str, float] = field(default_factory=dict)
    first_heartbeat: Optional[_dt.datetime] = None
    last_heartbeat: Optional[_dt.datetime] = None
    step_changed_at: Optional[_dt.datetime] = None
    state_changed_at: Optional[_dt.datetime] = None
    interval: Optional[float] = None
    message: str = ""


@dataclass
class ErrorGroupSummary:
    """An error group of a run's logs, as GetRun lists it."""

    id: int
    title: str
    culprit: str = ""
    exception_type: str = ""
    error_type: Optional[ErrorType] = None
    event_count: int = 0
    first_seen: Optional[_dt.datetime] = None
    last_seen: Optional[_dt.datetime] = None


@dataclass
class RunDetails:
    """GetRun's answer: the run, its members (those needing attention first), its
    error groups and its most recent actions."""

    run: Run
    members: List[RunMember]
    groups: List[ErrorGroupSummary]
    recent_actions: List[RecentAction]

    def member(self, rank: Optional[int] = None, *, pid: Optional[int] = None) -> Optional[RunMember]:
        """The member with this rank (and pid, when given), or None."""
        for candidate in self.members:
            if (rank is None or candidate.rank == rank) and (pid is None or candidate.pid == pid):
                return candidate
        return None


@dataclass
class RunChange:
    """One change of a member's state (WatchRuns)."""

    run_id: str
    host: str
    rank: int
    from_state: RunState
    to_state: RunState
    step: Optional[int] = None
    changed_at: Optional[_dt.datetime] = None
    run: Optional[Run] = None
