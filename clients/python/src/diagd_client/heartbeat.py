"""Heartbeats: what one process (a member of a training run: run id, host, rank,
pid) tells diagd about itself, and the daemon thread that sends it.

The thread ("diagd-heartbeat") is the reporter's third background thread, next
to the sender and the debug-mode watcher, and deliberately not the sender: the
sender can be waiting on a slow IngestLogs or backing off while diagd is down,
and a heartbeat must not wait for either. It sends one unary Heartbeat every
`interval` seconds (each with a HEARTBEAT_TIMEOUT deadline, failures silent)
whatever the main thread is doing, so a training loop blocked in a hang keeps
its heartbeats flowing and diagd sees its step stop advancing (STUCK); a
process that is killed stops sending them (LOST).

`set_step` / `set_phase` only change the state the next heartbeat carries
(thread-safe, no network). The end is sent once, from the thread that ends the
process: FINISHED by close() (the atexit hook, shutdown()), FAILED with the
error's one-line summary by the main thread's excepthook, both within the
reporter's flush deadline; after it no regular heartbeat follows.

Forks: a fork() while this thread is inside a gRPC call crashes the child (and
at times the parent) with SIGSEGV/SIGBUS in gRPC's core (grpcio 1.85 says
"Other threads are currently calling into gRPC, skipping fork() handlers"), and
DataLoader workers are forked at any moment. So every heartbeat call runs under
one lock, which the reporter's fork hook takes before fork() (waiting for a
call in flight, at most its deadline) and gives back after it. A forked child
keeps the state but, like the rest of the reporter, never uses the network (see
Reporter._after_fork_in_child); a process started with init() of its own
(torchrun ranks) is a member of its own."""

from __future__ import annotations

import os
import socket
import threading
import time
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple, Union

import grpc

from . import convert
from ._proto.diagnostics.v1 import diagnostics_pb2 as pb
from .errors import DiagdError
from .events import configured_run_id, exception_message
from .scrub import redact_text
from .types import HeartbeatResult, RunPhase

if TYPE_CHECKING:  # pragma: no cover
    from .reporter import Reporter

DEFAULT_HEARTBEAT_INTERVAL = 30.0
# Each heartbeat's deadline (the final one: the reporter's flush deadline, if shorter).
HEARTBEAT_TIMEOUT = 5.0

# Failures that no retry fixes and that the user can: said once on stderr. Every
# other failure (diagd down, overloaded, a deadline) stays silent.
_WARN_ONCE = {
    grpc.StatusCode.UNIMPLEMENTED: "diagd does not take heartbeats (it is older than this client): "
    "the run's state (stuck, lost) is not followed",
    grpc.StatusCode.INVALID_ARGUMENT: "diagd refused a heartbeat",
    grpc.StatusCode.UNAUTHENTICATED: "diagd refused a heartbeat (token)",
    grpc.StatusCode.PERMISSION_DENIED: "diagd refused a heartbeat (token's role)",
}

_LIVE_PHASES = (RunPhase.STARTING, RunPhase.TRAINING, RunPhase.EVALUATING, RunPhase.SAVING)
_END_PHASES = (RunPhase.FINISHED, RunPhase.FAILED)


def member_identity(
    run_id: Optional[str], labels: Optional[Dict[str, str]] = None, interval: Any = DEFAULT_HEARTBEAT_INTERVAL
) -> Optional[Tuple[str, str, int]]:
    """(run id, host, rank) of the member an init() with these options would be, or
    None when its heartbeats would be off (no interval, or no run id given: a run id
    made up per process would list every process as a run of its own). Two init()
    calls in one process with the same identity are the same member (the first is
    not ended by the second)."""
    configured = configured_run_id(run_id)
    if not interval or configured is None:
        return None
    rank_label = (labels or {}).get("rank", os.environ.get("RANK"))
    return (configured, socket.gethostname(), convert.rank_from_label(rank_label))


def one_line_summary(exc_type, exc_value) -> str:
    """`Type: first line of the message`, as a FAILED heartbeat's message."""
    try:
        text = exception_message(exc_value) if exc_value is not None else exc_type.__qualname__
    except Exception:
        text = getattr(exc_type, "__name__", "error")
    lines = [line for line in str(text).splitlines() if line.strip()]
    return redact_text(lines[0] if lines else getattr(exc_type, "__name__", "error"))


class Heartbeats:
    """The heartbeat state of one Reporter (phase, step, epoch, metrics), the request
    built from it, the background thread and the final heartbeat."""

    def __init__(
        self,
        reporter: "Reporter",
        interval: Optional[float],
        stuck_after: Optional[float],
        run_id: Optional[str],
    ):
        self._reporter = reporter
        self.interval: Optional[float] = convert.check_heartbeat_interval(interval) if interval else None
        self.stuck_after: Optional[float] = convert.check_stuck_after(stuck_after) if stuck_after is not None else None
        self.run_id = configured_run_id(run_id)
        self.rank = convert.rank_from_label(reporter.source.labels.get("rank"))
        self.sent = 0
        self.failed = 0
        self.last_result: Optional[HeartbeatResult] = None
        self._phase = RunPhase.STARTING
        self._step: Optional[int] = None
        self._epoch: Optional[float] = None
        self._metrics: Dict[str, float] = {}
        self._ended = False
        self._final: Optional[pb.HeartbeatRequest] = None
        self._final_attempted = False
        self._warned: set = set()
        self._reset_process_state()

    def _reset_process_state(self) -> None:
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()  # held by every heartbeat call, and across fork()
        self._held_for_fork = False
        self._thread: Optional[threading.Thread] = None

    def hold_for_fork(self) -> None:
        """Before fork(): waits for a heartbeat call in flight (at most its deadline)
        and keeps the next one from starting until release_after_fork."""
        if not self.enabled or self._reporter.in_forked_child():
            return
        try:
            self._held_for_fork = self._send_lock.acquire(timeout=HEARTBEAT_TIMEOUT + 1.0)
        except Exception:
            self._held_for_fork = False

    def release_after_fork(self) -> None:
        """After fork(), in the parent."""
        if self._held_for_fork:
            self._held_for_fork = False
            try:
                self._send_lock.release()
            except Exception:
                pass

    def reset_after_fork(self) -> None:
        """In a forked child: new locks (the parent's may have been held at the fork),
        no thread. The state is kept; nothing is ever sent from the child."""
        self._reset_process_state()

    @property
    def enabled(self) -> bool:
        """Heartbeats are on: an interval and a run id that was given (not made up)."""
        return self.interval is not None and self.run_id is not None

    @property
    def ended(self) -> bool:
        return self._ended

    def identity(self) -> Optional[Tuple[str, str, int]]:
        """(run id, host, rank) when enabled; see member_identity."""
        return (self.run_id, self._reporter.source.host, self.rank) if self.enabled else None

    # -- state ------------------------------------------------------------

    def set_step(self, step: int, epoch: Optional[float] = None, metrics: Optional[Dict[str, Any]] = None) -> None:
        """The step (and epoch, when given) the next heartbeat sends; `metrics` are
        merged into the previous ones (a non-finite value removes its name). A member
        still STARTING moves to TRAINING. Invalid values are ignored, said once on
        stderr; never raises."""
        try:
            value: Optional[int] = int(step)
        except Exception:
            value = None
        if value is None:
            self._warn_once("step", f"set_step: the step must be an integer, not {type(step).__name__} (ignored)")
            return
        epoch_value = convert.finite_float(epoch) if epoch is not None else None
        with self._lock:
            if self._ended:
                return
            self._step = value
            if epoch_value is not None:
                self._epoch = epoch_value
            for name, number in (metrics or {}).items():
                self._set_metric(str(name), number)
            if self._phase == RunPhase.STARTING:
                self._phase = RunPhase.TRAINING

    def _set_metric(self, name: str, number: Any) -> None:
        if not name or "\x00" in name or len(name.encode("utf-8", "replace")) > convert.MAX_METRIC_NAME_BYTES:
            self._warn_once("metric-name", f"set_step: metric names are 1 to {convert.MAX_METRIC_NAME_BYTES} bytes; "
                            f"{name[:80]!r} is ignored")
            return
        value = convert.finite_float(number)
        if value is None:
            self._metrics.pop(name, None)  # NaN/inf (or not a number): diagd takes finite values only
            return
        if name not in self._metrics and len(self._metrics) >= convert.MAX_METRICS:
            self._warn_once("metric-count", f"set_step: at most {convert.MAX_METRICS} metrics; {name!r} is ignored")
            return
        self._metrics[name] = value

    def set_phase(self, phase: Union[RunPhase, str, int], message: Optional[str] = None) -> None:
        """"starting", "training", "evaluating" or "saving": what the next heartbeat
        says. "finished" / "failed" (with `message`) end the member now: the final
        heartbeat is sent from this thread within the flush deadline, and no other
        follows. An unknown phase is ignored, said once on stderr; never raises."""
        try:
            parsed: Optional[RunPhase] = RunPhase.parse(phase)
        except Exception:
            parsed = None
        if parsed is None:
            self._warn_once("phase", f"set_phase: unknown phase {phase!r} (one of "
                            f"{', '.join(p.name.lower() for p in _LIVE_PHASES + _END_PHASES)}; ignored)")
            return
        if parsed in _END_PHASES:
            self.finish(parsed, message or "", time.monotonic() + self._reporter.flush_timeout)
            return
        if parsed == RunPhase.UNSPECIFIED:
            return
        with self._lock:
            if not self._ended:
                self._phase = parsed

    @property
    def phase(self) -> RunPhase:
        return self._phase

    def request(self, phase: Optional[RunPhase] = None, message: str = "") -> pb.HeartbeatRequest:
        """The HeartbeatRequest the next heartbeat sends (with `phase` instead of the
        current one, for the final heartbeat)."""
        with self._lock:
            return self._request_locked(phase, message)

    def _request_locked(self, phase: Optional[RunPhase], message: str) -> pb.HeartbeatRequest:
        source = self._reporter.source
        return convert.heartbeat_request(
            self.run_id or source.run_id,
            host=source.host,
            rank=self.rank,
            pid=os.getpid(),
            phase=self._phase if phase is None else phase,
            step=self._step,
            epoch=self._epoch,
            metrics=self._metrics,
            interval=self.interval,
            stuck_after=self.stuck_after,
            message=redact_text(message) if message else "",
        )

    # -- sending ------------------------------------------------------------

    def start(self, stopping: threading.Event) -> None:
        """Starts the thread (the caller holds the reporter's thread lock); it ends
        when `stopping` is set or the member has ended."""
        if not self.enabled or self._ended:
            return
        if self._thread is not None and self._thread.is_alive():
            return
        self._thread = threading.Thread(target=self._loop, args=(stopping,), name="diagd-heartbeat", daemon=True)
        self._thread.start()

    def _loop(self, stopping: threading.Event) -> None:
        interval = self.interval or DEFAULT_HEARTBEAT_INTERVAL
        next_at = time.monotonic()  # the first at once: the member exists from init() on
        while True:
            delay = next_at - time.monotonic()
            if delay > 0 and stopping.wait(delay):
                return
            if stopping.is_set() or self._ended:
                return
            try:
                self.send()
            except Exception:
                pass  # never let the thread die; the next beat tries again
            # A fixed cadence; beats missed while a call waited out its deadline are skipped.
            next_at = max(next_at + interval, time.monotonic())

    def send(self, timeout: float = HEARTBEAT_TIMEOUT) -> bool:
        """Sends one regular heartbeat now; True when diagd took it. Never raises."""
        if self._ended or self._reporter.in_forked_child():
            return False
        request = self.request()
        with self._send_lock:
            if self._ended:  # the final heartbeat won the race: nothing may follow it
                return False
            return self._call(request, timeout)

    def _call(self, request: pb.HeartbeatRequest, timeout: float) -> bool:
        warning = None
        try:
            result = self._reporter._get_client().send_heartbeat(request, timeout=timeout)
        except DiagdError as error:
            what = _WARN_ONCE.get(error.code)
            warning = (error.code, f"{what}: {error.details}") if what is not None else None
            result = None
        except Exception:
            result = None
        if result is None:
            self.failed += 1
            if warning is not None:  # outside the except block: one line, no traceback
                self._warn_once(*warning)
            return False
        self.sent += 1
        self.last_result = result
        return True

    def end(self, phase: RunPhase, message: str = "") -> bool:
        """Ends the member: no regular heartbeat is sent any more, and the final one
        (FINISHED or FAILED) is prepared for send_final. False when heartbeats are off
        or the member had ended already (the first end wins)."""
        with self._lock:
            if self._ended or not self.enabled:
                return False
            self._ended = True
            try:
                self._final = self._request_locked(phase, message)
            except Exception:
                self._final = None
            return True

    def send_final(self, deadline: float) -> bool:
        """Sends the prepared final heartbeat once, by `deadline` (time.monotonic()),
        after a regular heartbeat in flight. True when diagd took it. Never raises."""
        with self._lock:
            final = self._final
            if final is None or self._final_attempted:
                return False
            self._final_attempted = True
        if self._reporter.in_forked_child():
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0.01:
            return False
        acquired = self._send_lock.acquire(timeout=remaining)
        try:
            remaining = deadline - time.monotonic()
            if remaining <= 0.01:
                return False
            return self._call(final, min(HEARTBEAT_TIMEOUT, remaining))
        finally:
            if acquired:
                self._send_lock.release()

    def finish(self, phase: RunPhase, message: str, deadline: float) -> bool:
        """end() then send_final(): True when the final heartbeat reached diagd."""
        self.end(phase, message)
        return self.send_final(deadline)

    def _warn_once(self, key: Any, text: str) -> None:
        if key in self._warned:
            return
        self._warned.add(key)
        self._reporter._warn(text)
