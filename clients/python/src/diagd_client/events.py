"""Building the log for one error: message, stack trace, error type, redacted
context, source (host, run, component, torchrun rank) and an event_id chosen on
the client so that every resend is recognised by diagd as the same error."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import os
import socket
import traceback
import uuid
from typing import Any, Dict, List, Optional, Sequence, Union

from .classify import classify as classify_error
from .scrub import redact, redact_labels, redact_text
from .types import ErrorType, NewLog, RecentAction, Severity, Source, SystemState

# torchrun's environment → label names in Source.labels.
TORCHRUN_LABELS = {"RANK": "rank", "LOCAL_RANK": "local_rank", "WORLD_SIZE": "world_size"}


def default_source(
    run_id: Optional[str] = None,
    component: Optional[str] = None,
    labels: Optional[Dict[str, str]] = None,
) -> Source:
    """This process's source: host name; run id from the argument, DIAGD_RUN_ID or
    torchrun's TORCHELASTIC_RUN_ID (else one made up for this process); component from
    the argument, DIAGD_COMPONENT or "trainer"; labels with rank / local_rank /
    world_size from torchrun's environment and the pid."""
    merged = {label: os.environ[var] for var, label in TORCHRUN_LABELS.items() if os.environ.get(var)}
    merged["pid"] = str(os.getpid())
    merged.update(labels or {})
    return Source(
        host=socket.gethostname(),
        run_id=configured_run_id(run_id)
        or f"{socket.gethostname()}-{os.getpid()}-{_dt.datetime.now():%Y%m%dT%H%M%S}",
        component=component or os.environ.get("DIAGD_COMPONENT") or "trainer",
        labels={str(k): str(v) for k, v in merged.items()},
    )


def configured_run_id(run_id: Optional[str] = None) -> Optional[str]:
    """The run id given, else $DIAGD_RUN_ID, else torchrun's $TORCHELASTIC_RUN_ID;
    None when there is none (default_source then makes one up for the process)."""
    return run_id or os.environ.get("DIAGD_RUN_ID") or os.environ.get("TORCHELASTIC_RUN_ID") or None


def exception_message(error: BaseException) -> str:
    """`TypeName: text`, as the last line of a traceback shows it."""
    text = str(error)
    name = type(error).__qualname__
    module = type(error).__module__
    if module not in ("builtins", "__main__"):
        name = f"{module}.{name}"
    return f"{name}: {text}" if text else name


def format_stack_trace(error: BaseException) -> str:
    return "".join(traceback.format_exception(type(error), error, error.__traceback__))


def build_log(
    error: Union[BaseException, str, None] = None,
    *,
    message: Optional[str] = None,
    severity: Union[Severity, str] = Severity.HIGH,
    error_type: Union[ErrorType, str, None] = None,
    context: Optional[Dict[str, Any]] = None,
    source: Optional[Source] = None,
    stack_trace: Optional[str] = None,
    system_state: Optional[SystemState] = None,
    recent_actions: Sequence[RecentAction] = (),
    event_id: Optional[str] = None,
    occurred_at: Optional[_dt.datetime] = None,
    fingerprint: Optional[Sequence[str]] = None,
) -> NewLog:
    """A NewLog for an exception or a message: the exception gives the message, the
    stack trace and (through classify.py) the error type unless they are given;
    message, stack trace, context, labels and recent actions are redacted (see
    scrub.py); a new event_id is chosen unless given. `fingerprint` overrides diagd's
    grouping ("{{ default }}" stands for the computed fingerprint)."""
    exception = error if isinstance(error, BaseException) else None
    if isinstance(error, str) and message is None:
        message = error
    if message is None:
        message = exception_message(exception) if exception is not None else "(no message)"
    elif exception is not None:
        message = f"{message}: {exception_message(exception)}"
    if stack_trace is None:
        stack_trace = format_stack_trace(exception) if exception is not None else ""
    resolved_type = (
        ErrorType.parse(error_type) if error_type is not None else classify_error(exception, message)
    )
    return NewLog(
        message=redact_text(message),
        severity=Severity.parse(severity),
        error_type=resolved_type,
        stack_trace=redact_text(stack_trace),
        context=redact(dict(context or {})),
        system_state=system_state,
        recent_actions=[
            RecentAction(redact_text(a.action), redact(dict(a.details or {})), a.timestamp)
            for a in recent_actions
        ],
        source=_redacted_source(source or Source()),
        event_id=event_id or str(uuid.uuid4()),
        occurred_at=occurred_at or _dt.datetime.now(_dt.timezone.utc),
        fingerprint=_fingerprint_entries(fingerprint),
    )


def _fingerprint_entries(fingerprint: Union[Sequence[str], str, None]) -> List[str]:
    """A client fingerprint as diagd takes it: a list of strings (a single string is
    one entry)."""
    if fingerprint is None:
        return []
    if isinstance(fingerprint, str):
        return [fingerprint]
    return [str(entry) for entry in fingerprint]


def _redacted_source(source: Source) -> Source:
    """A copy of `source` with its labels redacted."""
    return dataclasses.replace(source, labels=redact_labels(source.labels))
