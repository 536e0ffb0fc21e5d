"""The Reporter behind `diagd_client.init()`: captures errors (excepthooks, a
logging handler, multiprocessing children), writes each to the on-disk spool,
and delivers the spool to diagd from a background thread with jittered
backoff. It follows diagd's debug mode, sends the run's heartbeats from a
thread of their own (heartbeat.py; ended FINISHED at exit, FAILED by the
excepthook) and never raises into user code.

The way of one error: capture → build_log (events.py: message, stack trace,
type, redaction, source, system state, breadcrumbs, event_id) → spool file
(fsynced for uncaught errors, before any network attempt) → IngestLogs from
the sender thread (or at once, with a short deadline, from an excepthook) →
file removed once diagd acknowledged it. Whatever is left is resent by the
sender thread, at exit, or by the next Reporter on the same spool, always
under the same event_id, which diagd de-duplicates."""

from __future__ import annotations

import atexit
import datetime as _dt
import logging
import os
import random
import re
import sys
import threading
import time
import traceback
import weakref
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

from . import convert, system_state
from ._proto.diagnostics.v1 import diagnostics_pb2 as pb
from .breadcrumbs import Breadcrumbs
from .client import Client, TlsConfig
from .errors import KEEP_FOR_LATER_CODES, RETRYABLE_CODES, DiagdError, is_message_too_large, server_message_limit
from .events import build_log, default_source
from .heartbeat import DEFAULT_HEARTBEAT_INTERVAL, Heartbeats, one_line_summary
from .scrub import add_secret_keys
from .spool import Spool, SpooledError
from .types import ErrorType, RecentAction, RunPhase, Severity, Source

_internal_log = logging.getLogger("diagd_client")

# Attributes every LogRecord has; anything else came from `extra=` and is context.
_STANDARD_RECORD_FIELDS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}

DEFAULT_LEVEL_SEVERITIES = {
    logging.CRITICAL: Severity.CRITICAL,
    logging.ERROR: Severity.HIGH,
    logging.WARNING: Severity.MEDIUM,
}

ContextProvider = Callable[[], Dict[str, Any]]

# Each IngestLogs request the sender makes holds at most this many logs and this
# many bytes of encoded NewLog (well under diagd's default --max-message-bytes,
# 16 MiB); a smaller server limit, learnt from its RESOURCE_EXHAUSTED answer,
# lowers the byte cap further.
MAX_BATCH_LOGS = 100
MAX_BATCH_BYTES = 4 * 1024 * 1024
MAX_QUEUED_ACTIONS = 1000


def _entry_size(payload_size: int) -> int:
    """Bytes one NewLog of `payload_size` takes inside an IngestLogsRequest (field
    tag, length varint, the message)."""
    varint, rest = 1, payload_size
    while rest >= 0x80:
        rest >>= 7
        varint += 1
    return 1 + varint + payload_size


class Reporter:
    """Everything `init()` sets up, for one process (and re-set-up in forked children)."""

    def __init__(
        self,
        target: str = "127.0.0.1:50051",
        *,
        token: Optional[str] = None,
        timeout: float = 2.0,
        tls: Union[bool, TlsConfig, None] = None,
        run_id: Optional[str] = None,
        component: Optional[str] = None,
        labels: Optional[Dict[str, str]] = None,
        spool_dir: Optional[str] = None,
        spool_max_bytes: int = 64 * 1024 * 1024,
        max_recent_actions: int = 100,
        event_level: int = logging.ERROR,
        breadcrumb_level: int = logging.INFO,
        warning_severity: Union[Severity, str] = Severity.MEDIUM,
        level_severities: Optional[Dict[int, Union[Severity, str]]] = None,
        follow_debug_mode: bool = True,
        send_actions: bool = True,
        flush_timeout: Optional[float] = None,
        retry_initial_backoff: float = 0.5,
        retry_max_backoff: float = 30.0,
        rescan_interval: float = 5.0,
        secret_keys: Optional[List[str]] = None,
        disk_path: str = ".",
        heartbeat_interval: Optional[float] = DEFAULT_HEARTBEAT_INTERVAL,
        stuck_after: Optional[float] = None,
    ):
        self.target = target
        self._token = token
        self.timeout = timeout
        self._tls = tls
        self.source: Source = default_source(run_id, component, labels)
        self.spool = Spool(spool_dir, spool_max_bytes, target=target)
        self.breadcrumbs = Breadcrumbs(max_recent_actions)
        self.event_level = event_level
        self.breadcrumb_level = breadcrumb_level
        self.level_severities = {logging.CRITICAL: Severity.CRITICAL, logging.ERROR: Severity.HIGH}
        self.level_severities[logging.WARNING] = Severity.parse(warning_severity)
        for level, severity in (level_severities or {}).items():
            self.level_severities[level] = Severity.parse(severity)
        self.follow_debug_mode = follow_debug_mode
        self.send_actions = send_actions
        self.flush_timeout = timeout if flush_timeout is None else flush_timeout
        # Heartbeats every heartbeat_interval seconds (0/None: off; also off without a
        # run id given); stuck_after None: diagd's default. Out of range: ValueError.
        self.heartbeats = Heartbeats(self, heartbeat_interval, stuck_after, run_id)
        self.retry_initial_backoff = retry_initial_backoff
        self.retry_max_backoff = retry_max_backoff
        self.rescan_interval = rescan_interval
        self.disk_path = disk_path
        self.context_providers: List[ContextProvider] = []
        self.delivered = 0
        self.rejected = 0
        self.too_large = 0  # errors diagd can never accept (over its --max-message-bytes): dropped, counted
        self.max_batch_bytes = MAX_BATCH_BYTES
        self._batch_byte_cap = MAX_BATCH_BYTES  # lowered when diagd answers that a batch is too large
        if secret_keys:
            add_secret_keys(secret_keys)
        self.debug_mode = False
        self._debug_listeners: List[Callable[[bool], None]] = []
        self._origin_pid = os.getpid()  # the process whose gRPC state this reporter may use
        self._closed = False
        self._start_process_state()
        try:
            system_state.prime_cpu_percent()
        except Exception:
            pass
        _register_for_fork(self)

    # -- process-local state (rebuilt in a forked child) -------------------

    def _start_process_state(self) -> None:
        self._pid = os.getpid()
        self._client: Optional[Client] = None
        self._client_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._sender: Optional[threading.Thread] = None
        self._watcher: Optional[threading.Thread] = None
        self._watch_call = None
        self._threads_lock = threading.Lock()
        self._retry_at = 0.0
        self._failures = 0
        self._actions_to_send: List[RecentAction] = []
        self._actions_lock = threading.Lock()

    def _after_fork_in_child(self) -> None:
        """The child gets no thread, and must not touch the parent's channel or locks:
        new locks and no client. gRPC Python is not fork-safe (a channel made in a
        forked child can hang), so the child never uses the network at all: it only
        writes the spool, which the parent's sender (rescanning every
        rescan_interval) or the next start delivers. The parent's channel object is
        kept referenced so that its finaliser does not run in the child."""
        self._abandoned_client = self._client
        self._start_process_state()
        self.spool.reset_after_fork()
        self.breadcrumbs.reset_after_fork()
        self.heartbeats.reset_after_fork()
        system_state.reset_after_fork()
        self.source.labels["pid"] = str(os.getpid())

    def in_forked_child(self) -> bool:
        """True in a process forked from the one that made this reporter: there it
        spools only, and never opens a channel."""
        return os.getpid() != self._origin_pid

    def _get_client(self) -> Client:
        with self._client_lock:
            if self._closed:
                raise RuntimeError("the reporter is closed")
            if self.in_forked_child():
                raise RuntimeError("no network in a forked child")
            if self._client is None:
                self._client = Client(self.target, token=self._token, timeout=self.timeout, tls=self._tls)
            return self._client

    def start(self) -> None:
        """Starts the sender (which first resends what an earlier process left in the
        spool) and, if enabled, the debug-mode watcher and the heartbeat thread. Safe
        to call repeatedly."""
        if self._closed or self.in_forked_child():
            return
        with self._threads_lock:
            if self._stopping.is_set():
                return
            if self._sender is None or not self._sender.is_alive():
                self._sender = threading.Thread(target=self._send_loop, name="diagd-sender", daemon=True)
                self._sender.start()
            if self.follow_debug_mode and (self._watcher is None or not self._watcher.is_alive()):
                self._watcher = threading.Thread(target=self._watch_loop, name="diagd-debug-mode", daemon=True)
                self._watcher.start()
            self.heartbeats.start(self._stopping)

    def _ensure_started(self) -> None:
        sender = self._sender
        if self._pid != os.getpid() or sender is None or not sender.is_alive():
            self.start()

    # -- heartbeats ---------------------------------------------------------

    def set_step(self, step: int, epoch: Optional[float] = None, **metrics: float) -> None:
        """What the next heartbeat says: the training step, the epoch (kept when not
        given) and metrics (merged into the previous ones; at most 32 finite numbers).
        The first call moves the member from STARTING to TRAINING. Thread-safe, no
        network, never raises."""
        self.heartbeats.set_step(step, epoch, metrics)

    def set_phase(self, phase: Union[RunPhase, str], message: Optional[str] = None) -> None:
        """"starting", "training", "evaluating" or "saving" for the next heartbeats;
        "finished" or "failed" (with `message`) end this member now (one final
        heartbeat within flush_timeout). Never raises."""
        self.heartbeats.set_phase(phase, message)

    # -- capture ----------------------------------------------------------

    def add_context_provider(self, provider: ContextProvider) -> None:
        """`provider()` is called for every error; its dict is merged into the context."""
        self.context_providers.append(provider)

    def remove_context_provider(self, provider: ContextProvider) -> None:
        if provider in self.context_providers:
            self.context_providers.remove(provider)

    def _provided_context(self) -> Dict[str, Any]:
        context: Dict[str, Any] = {}
        for provider in list(self.context_providers):
            try:
                context.update(provider() or {})
            except Exception:
                pass
        return context

    def capture(
        self,
        error: Union[BaseException, str, None] = None,
        *,
        message: Optional[str] = None,
        severity: Union[Severity, str] = Severity.HIGH,
        error_type: Union[ErrorType, str, None] = None,
        context: Optional[Dict[str, Any]] = None,
        stack_trace: Optional[str] = None,
        fatal: bool = False,
        fingerprint: Optional[Sequence[str]] = None,
        _deadline: Optional[float] = None,
    ) -> Optional[str]:
        """Reports an error; answers its event_id, or None if even spooling failed.
        `fatal` (uncaught errors): fsync the spool file, then deliver at once within
        flush_timeout from this thread; otherwise the sender thread delivers it.
        `fingerprint` overrides diagd's grouping ("{{ default }}": the computed one)."""
        try:
            merged_context = self._provided_context()
            merged_context.update(context or {})
            log = build_log(
                error,
                message=message,
                severity=severity,
                error_type=error_type,
                context=merged_context,
                source=self.source,
                stack_trace=stack_trace,
                system_state=system_state.capture_system_state(self.disk_path),
                recent_actions=self.breadcrumbs.snapshot(),
                fingerprint=fingerprint,
            )
            payload = convert.new_log_to_proto(log).SerializeToString()
            path = self.spool.write(log.event_id, payload, durable=fatal)
            if self.in_forked_child() or self._closed:
                pass  # spooled only: the parent's sender or the next start delivers it
            elif fatal:
                self._deliver_fatal(path, log.event_id, payload, _deadline)
            else:
                self._ensure_started()
                self._wake.set()
            return log.event_id
        except Exception:
            self._warn("could not capture an error")
            return None

    def record_action(self, action: str, details: Optional[Dict[str, Any]] = None) -> None:
        """Adds a breadcrumb to every later error, and (send_actions) records it in
        diagd in the background, best effort."""
        try:
            item = self.breadcrumbs.add(action, details)
            if self.send_actions:
                with self._actions_lock:
                    self._actions_to_send.append(item)
                    del self._actions_to_send[:-MAX_QUEUED_ACTIONS]
                self._ensure_started()
                self._wake.set()
        except Exception:
            self._warn("could not record an action")

    # -- delivery -----------------------------------------------------------

    def _send_loop(self) -> None:
        try:
            system_state.gpus()  # NVML's first initialisation is slow: do it here, not at the first error
        except Exception:
            pass
        while not self._stopping.is_set():
            try:
                wait = max(self._retry_at - time.monotonic(), 0.0)
                if wait:
                    self._stopping.wait(wait)
                else:
                    # Woken by a new error, else every rescan_interval: errors spooled by
                    # forked children or other processes on this spool are found too.
                    self._wake.wait(self.rescan_interval)
                    self._wake.clear()
                if self._stopping.is_set():
                    return
                actions_sent = self._send_actions()
                failed = self._deliver_pending() is False or not actions_sent
            except Exception:
                # Never let the sender die (a spool directory removed under it, a full
                # disk...): say so, back off, go on.
                self._warn("the background sender failed; retrying later")
                failed = True
            if failed:
                self._failures += 1
                backoff = min(self.retry_max_backoff, self.retry_initial_backoff * 2 ** min(self._failures, 16))
                self._retry_at = time.monotonic() + random.uniform(backoff / 2, backoff)
            else:
                self._failures = 0
                self._retry_at = 0.0

    def _deliver_fatal(
        self, path: Optional[str], event_id: str, payload: bytes, deadline: Optional[float] = None
    ) -> None:
        """From an excepthook: sends the fatal error itself first, then the final
        heartbeat when the member has ended (the main thread's excepthook: FAILED),
        then as much of the backlog as fits, all within flush_timeout (or `deadline`).
        The error is spooled and the heartbeat is not, but the error goes first: a
        run nobody restarts never resends it."""
        if deadline is None:
            deadline = time.monotonic() + self.flush_timeout
        try:
            if path is not None:
                if self._send_batch([SpooledError(path, event_id, payload)], deadline) is False:
                    return  # diagd is unreachable: the backlog would not go either
            self.heartbeats.send_final(deadline)
            self._deliver_pending(deadline)
        except Exception:
            self._warn("could not deliver an uncaught error now (it stays in the spool)")

    def _next_batch(self) -> List[SpooledError]:
        """The oldest spooled errors, at most MAX_BATCH_LOGS and the byte cap (at least
        one error, however large)."""
        cap = min(self.max_batch_bytes, self._batch_byte_cap)
        batch: List[SpooledError] = []
        size = 0
        for item in self.spool.pending(limit=MAX_BATCH_LOGS):
            entry = _entry_size(len(item.payload))
            if batch and size + entry > cap:
                break
            batch.append(item)
            size += entry
        return batch

    def _deliver_pending(self, deadline: Optional[float] = None) -> Optional[bool]:
        """Sends spooled errors, oldest first, in batches. True when the spool was
        emptied, False when diagd could not take them (retry later), None when the
        deadline passed first."""
        while True:
            if deadline is not None and time.monotonic() >= deadline:
                return None
            batch = self._next_batch()
            if not batch:
                return True
            if self._send_batch(batch, deadline) is False:
                return False

    def _send_batch(self, batch: List[SpooledError], deadline: Optional[float] = None) -> bool:
        """Sends one batch as one IngestLogs request. True when the batch was dealt with
        (stored, rejected, or dropped as too large; its files removed) or must be split
        (the byte cap was lowered), False when diagd could not take it now."""
        items, logs = [], []
        for item in batch:
            try:
                logs.append(pb.NewLog.FromString(item.payload))
                items.append(item)
            except Exception:
                self.spool.remove(item.path)  # unreadable: never deliverable
                self.rejected += 1
        if not logs:
            return True
        timeout = self.timeout if deadline is None else max(0.05, min(self.timeout, deadline - time.monotonic()))
        try:
            result = self._get_client().ingest_messages(iter([pb.IngestLogsRequest(logs=logs)]), timeout=timeout)
        except DiagdError as error:
            if is_message_too_large(error):
                return self._too_large(items, error)
            if error.code in RETRYABLE_CODES or error.code in KEEP_FOR_LATER_CODES:
                return False
            self._warn(f"diagd refused a batch ({error}); sending its errors one by one")
            return self._deliver_one_by_one(items, timeout)
        except Exception:
            self._warn("unexpected failure while sending to diagd")
            return False
        if result.rejected:
            self.rejected += result.rejected
            for rejection in result.rejections:
                self._warn(f"diagd rejected an error: {rejection.field}: {rejection.reason}")
        self.delivered += result.accepted + result.duplicates
        for item in items:
            self.spool.remove(item.path)
        return True

    def _too_large(self, items: List[SpooledError], error: DiagdError) -> bool:
        """diagd answered that the request is over its --max-message-bytes: a batch of
        several errors is split (the byte cap lowered to the server's limit, or halved);
        a single error that large can never be delivered: dropped and counted."""
        if len(items) == 1:
            self.spool.remove(items[0].path)
            self.spool.count_dropped(1)
            self.too_large += 1
            self._warn(f"dropped an error larger than diagd accepts ({len(items[0].payload)} bytes): {error.details}")
            return True
        size = sum(_entry_size(len(item.payload)) for item in items)
        limit = server_message_limit(error)
        cap = limit - 64 if limit is not None and 0 < limit - 64 < size else size // 2
        self._batch_byte_cap = max(1, min(self._batch_byte_cap, cap))
        return True

    def _deliver_one_by_one(self, items: List[SpooledError], timeout: float) -> bool:
        client = self._get_client()
        for item in items:
            try:
                request = pb.ReportErrorRequest(log=pb.NewLog.FromString(item.payload))
                client._stub.ReportError(request, timeout=timeout, metadata=client._metadata)
                self.delivered += 1
            except Exception as error:
                wrapped = DiagdError.from_rpc_error(error) if hasattr(error, "code") else None
                if wrapped is not None and is_message_too_large(wrapped):
                    self._too_large([item], wrapped)
                    continue
                if wrapped is None or wrapped.code in RETRYABLE_CODES or wrapped.code in KEEP_FOR_LATER_CODES:
                    return False
                self.rejected += 1
            self.spool.remove(item.path)
        return True

    def _send_actions(self) -> bool:
        """Records queued actions in diagd; stops at the first failure worth retrying
        (diagd down: one timeout, not one per action), keeping the rest for later.
        False when it stopped so."""
        with self._actions_lock:
            actions, self._actions_to_send = self._actions_to_send, []
        for index, action in enumerate(actions):
            try:
                self._get_client().record_action(
                    action.action, action.details, source=self.source, timestamp=action.timestamp
                )
            except DiagdError as error:
                if error.code in RETRYABLE_CODES or error.code in KEEP_FOR_LATER_CODES:
                    with self._actions_lock:
                        self._actions_to_send[:0] = actions[index:]
                        del self._actions_to_send[:-MAX_QUEUED_ACTIONS]
                    return False
                # refused for good: breadcrumbs still travel with every error
            except Exception:
                with self._actions_lock:
                    self._actions_to_send[:0] = actions[index:]
                    del self._actions_to_send[:-MAX_QUEUED_ACTIONS]
                return False
        return True

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Delivers every spooled error within `timeout` seconds (default flush_timeout);
        True when the spool is empty afterwards. Never raises. In a forked child it
        sends nothing (see _after_fork_in_child)."""
        try:
            if self.in_forked_child() or self._closed:
                return self.spool.pending_count() == 0
            deadline = time.monotonic() + (self.flush_timeout if timeout is None else timeout)
            return self._deliver_pending(deadline) is True
        except Exception:
            return False

    def close(self, timeout: Optional[float] = None, *, finish: bool = True) -> None:
        """Ends the member with a FINISHED heartbeat (unless `finish` is False or it
        has ended already, e.g. FAILED by the excepthook), flushes, both within
        `timeout` (default flush_timeout), stops the background threads, returns the
        logger to its normal level, closes the channel and forgets the fork hook. What
        was not delivered stays in the spool. Never raises; a second call does
        nothing. It is the atexit hook."""
        if self._closed:
            return
        deadline = time.monotonic() + (self.flush_timeout if timeout is None else timeout)
        try:
            if finish:
                # First: one small call, and not spooled (the errors are).
                self.heartbeats.finish(RunPhase.FINISHED, "", deadline)
            self.flush(max(0.0, deadline - time.monotonic()))
        finally:
            self._closed = True
            self._stopping.set()
            self._wake.set()
            _forget_for_fork(self)
            call = self._watch_call
            if call is not None:
                try:
                    call.cancel()
                except Exception:
                    pass
            if self.debug_mode:
                self._set_debug_mode(False, "diagd client closed")
            if not self.in_forked_child():  # the inherited channel is the parent's
                with self._client_lock:
                    client, self._client = self._client, None
                if client is not None:
                    try:
                        client.close()
                    except Exception:
                        pass

    # -- debug mode ---------------------------------------------------------

    def on_debug_mode_change(self, listener: Callable[[bool], None]) -> None:
        self._debug_listeners.append(listener)

    def _watch_loop(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                watch = self._get_client().watch_debug_mode()
                self._watch_call = watch
                for state in watch:
                    failures = 0
                    self._set_debug_mode(state.enabled)
                    if self._stopping.is_set():
                        return
            except Exception:
                pass
            if self._stopping.is_set():
                return
            # The stream is gone (diagd restarting, unreachable): until it is back the
            # process runs at its normal level rather than verbose for ever.
            if self.debug_mode:
                self._set_debug_mode(False, "diagd debug mode unknown (stream lost): back to normal level")
            failures += 1
            self._stopping.wait(min(self.retry_max_backoff, self.retry_initial_backoff * 2 ** min(failures, 8)))

    def _set_debug_mode(self, enabled: bool, note: Optional[str] = None) -> None:
        if enabled == self.debug_mode:
            return
        self.debug_mode = enabled
        self.breadcrumbs.add(note or ("diagd debug mode " + ("on" if enabled else "off")))
        for listener in list(self._debug_listeners):
            try:
                listener(enabled)
            except Exception:
                pass

    # -- hooks --------------------------------------------------------------

    def excepthook(self, exc_type, exc_value, exc_traceback) -> None:
        """sys.excepthook: ends the member (FAILED, with the error's one-line summary;
        KeyboardInterrupt too), reports the uncaught error (spooled before sending),
        sends the final heartbeat after it, all within flush_timeout, then hands the
        error to the previous hook, which prints it."""
        deadline = time.monotonic() + self.flush_timeout
        try:
            if not issubclass(exc_type, SystemExit):
                self.heartbeats.end(RunPhase.FAILED, one_line_summary(exc_type, exc_value))
        except Exception:
            pass
        if not issubclass(exc_type, (KeyboardInterrupt, SystemExit)):
            if exc_value is not None and exc_value.__traceback__ is None:
                exc_value.__traceback__ = exc_traceback
            self.capture(
                exc_value, severity=Severity.CRITICAL, context={"uncaught": True}, fatal=True, _deadline=deadline
            )
        # Unless capture sent it after the error: nothing to capture, or the error failed.
        self.heartbeats.send_final(deadline)
        previous = getattr(self, "_previous_excepthook", sys.__excepthook__)
        previous(exc_type, exc_value, exc_traceback)

    def threading_excepthook(self, args) -> None:
        """threading.excepthook: reports a thread's uncaught error, then the previous hook."""
        if args.exc_type is not SystemExit and args.exc_value is not None:
            thread_name = args.thread.name if args.thread is not None else "unknown"
            self.capture(
                args.exc_value,
                severity=Severity.HIGH,
                context={"uncaught": True, "thread": thread_name},
                fatal=True,
            )
        previous = getattr(self, "_previous_threading_excepthook", threading.__excepthook__)
        previous(args)

    def install_hooks(self, capture_multiprocessing: bool = True) -> None:
        self._previous_excepthook = sys.excepthook
        sys.excepthook = self.excepthook
        self._previous_threading_excepthook = threading.excepthook
        threading.excepthook = self.threading_excepthook
        atexit.register(self.close)
        if capture_multiprocessing:
            _install_multiprocessing_hook(self)

    def uninstall_hooks(self) -> None:
        if sys.excepthook == self.excepthook:
            sys.excepthook = self._previous_excepthook
        if threading.excepthook == self.threading_excepthook:
            threading.excepthook = self._previous_threading_excepthook
        atexit.unregister(self.close)
        global _active_reporter_for_children
        if _active_reporter_for_children is self:
            _active_reporter_for_children = None

    @staticmethod
    def _warn(text: str) -> None:
        """Tells the user on stderr (not through logging, which this client captures)."""
        try:
            detail = traceback.format_exc(limit=2) if sys.exc_info()[0] is not None else ""
            sys.stderr.write(f"diagd_client: {text}\n{detail}")
        except Exception:
            pass


def _install_multiprocessing_hook(reporter: Reporter) -> None:
    """Reports errors raised in multiprocessing children: Process._bootstrap catches
    them, prints them and ends the child with os._exit, so neither excepthook nor
    atexit ever runs there. The wrapper reports (spooled first) before that."""
    try:
        from multiprocessing import process
    except Exception:
        return
    global _active_reporter_for_children
    _active_reporter_for_children = reporter  # also when an earlier init() already wrapped _bootstrap
    original = process.BaseProcess._bootstrap
    if getattr(original, "_diagd_wrapped", False):
        return

    def _bootstrap(self, *args, **kwargs):
        run = self.run

        def reporting_run():
            try:
                return run()
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as error:
                active = _active_reporter_for_children
                if active is not None:
                    active.capture(
                        error,
                        severity=Severity.CRITICAL,
                        context={"uncaught": True, "process": self.name},
                        fatal=True,
                    )
                raise

        self.run = reporting_run
        return original(self, *args, **kwargs)

    _bootstrap._diagd_wrapped = True
    process.BaseProcess._bootstrap = _bootstrap


_active_reporter_for_children: Optional[Reporter] = None

# Reporters not closed yet, re-set-up in a forked child by one fork hook registered
# once per process (os.register_at_fork cannot unregister: a hook per reporter would
# pile up, and keep closed reporters alive, over repeated init()/shutdown()).
_fork_reporters: "weakref.WeakSet[Reporter]" = weakref.WeakSet()
_fork_hook_registered = False


def _before_fork() -> None:
    """No heartbeat call may be in flight across fork() (see heartbeat.py)."""
    for reporter in list(_fork_reporters):
        try:
            reporter.heartbeats.hold_for_fork()
        except Exception:
            pass


def _after_fork_in_parent() -> None:
    for reporter in list(_fork_reporters):
        try:
            reporter.heartbeats.release_after_fork()
        except Exception:
            pass


def _after_fork_in_child() -> None:
    for reporter in list(_fork_reporters):
        try:
            reporter._after_fork_in_child()
        except Exception:
            pass


def _register_for_fork(reporter: Reporter) -> None:
    global _fork_hook_registered
    _fork_reporters.add(reporter)
    if not _fork_hook_registered and hasattr(os, "register_at_fork"):
        try:
            os.register_at_fork(
                before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork_in_child
            )
            _fork_hook_registered = True
        except Exception:
            pass


def _forget_for_fork(reporter: Reporter) -> None:
    _fork_reporters.discard(reporter)


class DiagdHandler(logging.Handler):
    """A logging.Handler that ships records at or above the reporter's event level
    (WARNING while diagd's debug mode is on) as logs, and keeps lower records as
    recent actions (down to DEBUG while debug mode is on, with timing)."""

    def __init__(self, reporter: Reporter):
        super().__init__(level=logging.DEBUG)
        self.reporter = reporter
        self._previous_record_time: Optional[float] = None
        self._in_emit = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(("diagd_client", "grpc")) or getattr(self._in_emit, "active", False):
            return
        self._in_emit.active = True
        try:
            self._emit(record)
        except Exception:
            self.reporter._warn("could not handle a log record")
        finally:
            self._in_emit.active = False

    def _timing(self, record: logging.LogRecord) -> Dict[str, Any]:
        since_previous = None
        if self._previous_record_time is not None:
            since_previous = round((record.created - self._previous_record_time) * 1000, 3)
        self._previous_record_time = record.created
        return {
            "time": _dt.datetime.fromtimestamp(record.created, _dt.timezone.utc).isoformat(),
            "ms_since_start": round(record.relativeCreated, 3),
            "ms_since_previous_record": since_previous,
        }

    def _emit(self, record: logging.LogRecord) -> None:
        reporter = self.reporter
        debug = reporter.debug_mode
        ship_level = min(reporter.event_level, logging.WARNING) if debug else reporter.event_level
        breadcrumb_level = logging.DEBUG if debug else reporter.breadcrumb_level
        timing = self._timing(record) if debug else None
        if record.levelno >= ship_level:
            context: Dict[str, Any] = {
                "logger": record.name,
                "level": record.levelname,
                "location": f"{record.pathname}:{record.lineno} in {record.funcName}",
                "thread": record.threadName,
            }
            context.update({k: v for k, v in vars(record).items() if k not in _STANDARD_RECORD_FIELDS})
            # extra={"fingerprint": [...]} groups the event; it is not context.
            fingerprint = context.pop("fingerprint", None)
            if timing is not None:
                context["timing"] = timing
            error = record.exc_info[1] if record.exc_info else None
            stack_trace = None
            if error is None:
                stack_trace = record.stack_info or _caller_stack()
            reporter.capture(
                error,
                message=record.getMessage() if error is None else f"{record.getMessage()}",
                severity=self._severity(record.levelno),
                context=context,
                stack_trace=stack_trace,
                fingerprint=fingerprint,
            )
        elif record.levelno >= breadcrumb_level:
            details: Dict[str, Any] = {"logger": record.name, "level": record.levelname}
            if timing is not None:
                details["timing"] = timing
            reporter.breadcrumbs.add(record.getMessage()[:1024], details)

    def _severity(self, level: int) -> Severity:
        for threshold in sorted(self.reporter.level_severities, reverse=True):
            if level >= threshold:
                return self.reporter.level_severities[threshold]
        return Severity.LOW


def _caller_stack() -> str:
    """The stack of the code that made the logging call (logging's and this
    package's own frames left out)."""
    skip = (os.path.dirname(logging.__file__), os.path.dirname(__file__))
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(skip):
        frame = frame.f_back
    return "Stack (most recent call last):\n" + "".join(traceback.format_stack(frame, limit=40)) if frame else ""


class DebugLevelFollower:
    """While diagd's debug mode is on, sets the handler's logger to DEBUG so that
    DEBUG/INFO records are created at all; restores its own level when it goes off."""

    def __init__(self, logger: logging.Logger):
        self.logger = logger
        self._normal_level: Optional[int] = None

    def __call__(self, enabled: bool) -> None:
        if enabled:
            if self._normal_level is None:
                self._normal_level = self.logger.level
            self.logger.setLevel(logging.DEBUG)
        elif self._normal_level is not None:
            self.logger.setLevel(self._normal_level)
            self._normal_level = None
