"""diagd_client: push a training run's errors and heartbeats to diagd.

    import diagd_client
    diagd_client.init("diagd.example:50051", run_id="llama-ft-42")  # hooks, handler, spool, heartbeats
    diagd_client.set_step(step, epoch=epoch, loss=loss)               # what the next heartbeat says

`Client` is the plain gRPC client (raises DiagdError); `init()` sets up the
never-raising Reporter for this process (see reporter.py, heartbeat.py)."""

from __future__ import annotations

import logging
from typing import Any, Dict, Optional, Sequence, Union

from .classify import CLASSIFICATION_TABLE, Rule, add_rule, classify, phase
from .client import Client, RunWatch, SearchResults, Subscription, TlsConfig
from .errors import DiagdError
from .heartbeat import DEFAULT_HEARTBEAT_INTERVAL, member_identity
from .reporter import DebugLevelFollower, DiagdHandler, Reporter
from .scrub import REDACTED, add_secret_keys, is_secret_key, redact
from .types import (
    DebugMode,
    ErrorGroupSummary,
    ErrorType,
    GpuState,
    HeartbeatResult,
    IngestResult,
    LogEntry,
    LogFilter,
    NewLog,
    Notice,
    NoticeKind,
    RecentAction,
    ReportResult,
    Run,
    RunChange,
    RunDetails,
    RunMember,
    RunPhase,
    RunState,
    SearchHit,
    SearchSummary,
    Severity,
    Source,
    Stats,
    SystemState,
    TailEvent,
)

__version__ = "0.1.0"

_reporter: Optional[Reporter] = None
_handler: Optional[DiagdHandler] = None


def init(
    target: str = "127.0.0.1:50051",
    *,
    logger: Optional[logging.Logger] = None,
    install_excepthooks: bool = True,
    install_logging_handler: bool = True,
    capture_multiprocessing: bool = True,
    **options: Any,
) -> Reporter:
    """Sets up error reporting for this process and answers the Reporter.

    Installs sys.excepthook and threading.excepthook, a DiagdHandler on `logger`
    (the root logger by default), an atexit flush, a multiprocessing hook, and
    starts the background sender (which first resends anything left in the spool),
    the debug-mode watcher and, when a run id is given (`run_id=`, $DIAGD_RUN_ID or
    torchrun's $TORCHELASTIC_RUN_ID), the heartbeat thread. `options` are Reporter's
    keyword arguments: token, timeout, tls, run_id, component, labels, spool_dir,
    spool_max_bytes, max_recent_actions, event_level, breadcrumb_level,
    warning_severity, level_severities, follow_debug_mode, send_actions,
    flush_timeout, retry_initial_backoff, retry_max_backoff, rescan_interval,
    secret_keys, heartbeat_interval (seconds, 1 to 3600, default 30; 0 or None: no
    heartbeats), stuck_after (seconds, 10 s to 7 days; default None: diagd's).
    Calling init again replaces the previous setup; the previous member is ended
    (FINISHED) unless the new setup is the same member (same run id, host, rank).

    Never raises for the environment: diagd unreachable, an unwritable spool
    directory (it falls back to a temporary directory, then to memory), a platform
    without os.register_at_fork; whatever fails is written to stderr and the rest
    is set up. Only invalid arguments (an unknown option, an unknown severity)
    raise, as any call would."""
    global _reporter, _handler
    previous = _reporter
    same_member = previous is not None and previous.heartbeats.identity() == member_identity(
        options.get("run_id"), options.get("labels"), options.get("heartbeat_interval", DEFAULT_HEARTBEAT_INTERVAL)
    )
    _quietly(lambda: _shutdown(None, finish=not same_member), "could not shut down the previous setup")
    reporter = Reporter(target, **options)
    if install_excepthooks:
        _quietly(lambda: reporter.install_hooks(capture_multiprocessing=capture_multiprocessing),
                 "could not install the excepthooks")
    if install_logging_handler:
        def install_handler() -> None:
            global _handler
            target_logger = logger or logging.getLogger()
            handler = DiagdHandler(reporter)
            target_logger.addHandler(handler)
            _handler = handler
            reporter._handler_logger = target_logger
            reporter.on_debug_mode_change(DebugLevelFollower(target_logger))

        _quietly(install_handler, "could not install the logging handler")
    _quietly(reporter.start, "could not start the background sender")
    _reporter = reporter
    return reporter


def _quietly(step, what: str) -> None:
    try:
        step()
    except Exception:
        Reporter._warn(what)


def shutdown(timeout: Optional[float] = None) -> None:
    """Ends this member of the run (a FINISHED heartbeat), flushes, both within
    `timeout`, removes the hooks and handler, stops the threads, closes the channel.
    Never raises."""
    _shutdown(timeout, finish=True)


def _shutdown(timeout: Optional[float], finish: bool) -> None:
    global _reporter, _handler
    reporter, handler = _reporter, _handler
    _reporter = _handler = None
    if reporter is None:
        return
    _quietly(reporter.uninstall_hooks, "could not remove the hooks")
    if handler is not None:
        _quietly(lambda: getattr(reporter, "_handler_logger", logging.getLogger()).removeHandler(handler),
                 "could not remove the logging handler")
    _quietly(lambda: reporter.close(timeout, finish=finish), "could not close the reporter")


def get_reporter() -> Optional[Reporter]:
    """The Reporter set up by init(), or None."""
    return _reporter


def capture_exception(
    error: BaseException,
    *,
    severity: Union[Severity, str] = Severity.HIGH,
    error_type: Union[ErrorType, str, None] = None,
    context: Optional[Dict[str, Any]] = None,
    fingerprint: Optional[Sequence[str]] = None,
) -> Optional[str]:
    """Reports a caught exception through init()'s Reporter; answers its event_id
    (None when init() was not called). Never raises, never waits on the network.
    `fingerprint` decides its error group in diagd instead of the computed
    fingerprint; "{{ default }}" stands for the computed one."""
    if _reporter is None:
        return None
    return _reporter.capture(
        error, severity=severity, error_type=error_type, context=context, fingerprint=fingerprint
    )


def capture_message(
    message: str,
    *,
    severity: Union[Severity, str] = Severity.HIGH,
    error_type: Union[ErrorType, str, None] = None,
    context: Optional[Dict[str, Any]] = None,
    fingerprint: Optional[Sequence[str]] = None,
) -> Optional[str]:
    """Reports an error described by a message; see capture_exception."""
    if _reporter is None:
        return None
    return _reporter.capture(
        message, severity=severity, error_type=error_type, context=context, fingerprint=fingerprint
    )


def record_action(action: str, details: Optional[Dict[str, Any]] = None) -> None:
    """Adds a breadcrumb sent with every later error (and recorded in diagd)."""
    if _reporter is not None:
        _reporter.record_action(action, details)


def flush(timeout: Optional[float] = None) -> bool:
    """Delivers spooled errors now; True when none is left."""
    return _reporter.flush(timeout) if _reporter is not None else True


def set_step(step: int, epoch: Optional[float] = None, **metrics: float) -> None:
    """Sets what the next heartbeat says: the training step (diagd marks the member
    STUCK when it stops advancing for `stuck_after`), the epoch (kept when not given)
    and metrics such as loss=0.42 (merged into the previous ones; at most 32 finite
    numbers). Thread-safe and cheap (no network); nothing without init(); never raises."""
    if _reporter is not None:
        _reporter.set_step(step, epoch, **metrics)


def set_phase(phase: Union[RunPhase, str], message: Optional[str] = None) -> None:
    """Sets what this member says it is doing: "starting", "training", "evaluating"
    or "saving". "finished" or "failed" (with `message`) end it now, with one final
    heartbeat within flush_timeout (for a script that ends with sys.exit(1), which the
    atexit hook would report as FINISHED). Nothing without init(); never raises."""
    if _reporter is not None:
        _reporter.set_phase(phase, message)


__all__ = [
    "CLASSIFICATION_TABLE", "Client", "DebugMode", "DiagdError", "DiagdHandler", "ErrorGroupSummary", "ErrorType",
    "GpuState", "HeartbeatResult", "IngestResult", "LogEntry", "LogFilter", "NewLog", "Notice", "NoticeKind",
    "REDACTED", "RecentAction", "ReportResult", "Reporter", "Rule", "Run", "RunChange", "RunDetails", "RunMember",
    "RunPhase", "RunState", "RunWatch", "SearchHit", "SearchResults", "SearchSummary", "Severity", "Source",
    "Stats", "Subscription", "SystemState", "TailEvent", "TlsConfig", "add_rule", "add_secret_keys",
    "capture_exception", "capture_message", "classify", "flush", "get_reporter", "init", "is_secret_key",
    "phase", "record_action", "redact", "set_phase", "set_step", "shutdown",
]
