"""Client: one gRPC channel to diagd and a method per RPC a trainer or tool needs,
taking and returning the plain types of types.py. Every failure is raised as
DiagdError. This layer raises; the `init()` layer (reporter.py) never does."""

from __future__ import annotations

import datetime as _dt
import os
import uuid
from dataclasses import dataclass
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Union

import grpc
from google.protobuf import duration_pb2

from . import convert
from ._proto.diagnostics.v1 import diagnostics_pb2 as pb
from ._proto.diagnostics.v1 import diagnostics_pb2_grpc as pb_grpc
from .errors import DiagdError
from .types import (
    DebugMode,
    ErrorType,
    HeartbeatResult,
    IngestResult,
    LogEntry,
    LogFilter,
    NewLog,
    RecentAction,
    ReportResult,
    Run,
    RunChange,
    RunDetails,
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

DEFAULT_TARGET = "127.0.0.1:50051"


def _read_pem(value: Union[bytes, str, os.PathLike, None]) -> Optional[bytes]:
    """PEM bytes as given, or read from a path."""
    if value is None or isinstance(value, bytes):
        return value
    with open(value, "rb") as pem_file:
        return pem_file.read()


@dataclass
class TlsConfig:
    """TLS to diagd. Each field is PEM bytes or a path. `root_certificates` None means
    the system's trusted roots; `certificate_chain` + `private_key` are the client's
    certificate for mutual TLS; `server_name` overrides the name checked in the
    server's certificate (e.g. when connecting by IP address)."""

    root_certificates: Union[bytes, str, os.PathLike, None] = None
    certificate_chain: Union[bytes, str, os.PathLike, None] = None
    private_key: Union[bytes, str, os.PathLike, None] = None
    server_name: Optional[str] = None

    def channel_credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            root_certificates=_read_pem(self.root_certificates),
            private_key=_read_pem(self.private_key),
            certificate_chain=_read_pem(self.certificate_chain),
        )


def _split_target(target: str, tls: Union[bool, TlsConfig, None]):
    """(host:port, TlsConfig or None): an https:// target turns TLS on, http:// off."""
    if target.startswith("https://"):
        return target[len("https://"):].rstrip("/"), tls if isinstance(tls, TlsConfig) else TlsConfig()
    if target.startswith("http://"):
        target = target[len("http://"):].rstrip("/")
    if tls is True:
        return target, TlsConfig()
    return target, tls if isinstance(tls, TlsConfig) else None


def _filter(log_filter: Optional[LogFilter], conditions: Dict[str, Any]) -> Optional[LogFilter]:
    """`log_filter`, or one built from keyword conditions (severities=…, since=…)."""
    if conditions:
        if log_filter is not None:
            raise TypeError("pass either filter= or filter keywords, not both")
        if isinstance(conditions.get("source"), dict):
            conditions["source"] = Source(**conditions["source"])
        return LogFilter(**conditions)
    return log_filter


class SearchResults:
    """Iterates over a search's hits as they stream in; `summary` is set once the
    stream has ended. `cancel()` stops it early."""

    def __init__(self, call):
        self._call = call
        self.summary: Optional[SearchSummary] = None

    def __iter__(self) -> Iterator[SearchHit]:
        try:
            for message in self._call:
                if message.WhichOneof("result") == "hit":
                    yield convert.search_hit_from_proto(message.hit)
                else:
                    self.summary = convert.search_summary_from_proto(message.summary)
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.CANCELLED:
                raise DiagdError.from_rpc_error(error) from None

    def cancel(self) -> None:
        self._call.cancel()


class Subscription:
    """A live tail: iterates over TailEvents (logs, notices, heartbeats) until
    `cancel()` or `close()`; `cursor` is the position after the last event,
    for `Client.subscribe(resume_cursor=...)`. Usable as a context manager."""

    def __init__(self, call):
        self._call = call
        self.cursor = ""

    def __iter__(self) -> Iterator[TailEvent]:
        try:
            for message in self._call:
                event = convert.tail_event_from_proto(message)
                self.cursor = event.cursor or self.cursor
                yield event
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.CANCELLED:
                raise DiagdError.from_rpc_error(error) from None

    def logs(self) -> Iterator[LogEntry]:
        """Only the logs of the tail, skipping notices and heartbeats."""
        for event in self:
            if event.log is not None:
                yield event.log

    def cancel(self) -> None:
        self._call.cancel()

    close = cancel

    def __enter__(self) -> "Subscription":
        return self

    def __exit__(self, *exc_info) -> None:
        self.cancel()


class RunWatch:
    """A WatchRuns stream: iterates over RunChanges as diagd derives them until
    `cancel()`; raises DiagdError when the stream fails. Usable as a context manager."""

    def __init__(self, call):
        self._call = call

    def __iter__(self) -> Iterator[RunChange]:
        try:
            for message in self._call:
                yield convert.run_change_from_proto(message.change)
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.CANCELLED:
                raise DiagdError.from_rpc_error(error) from None

    def cancel(self) -> None:
        self._call.cancel()

    close = cancel

    def __enter__(self) -> "RunWatch":
        return self

    def __exit__(self, *exc_info) -> None:
        self.cancel()


class Client:
    """A connection to one diagd.

    `target` is host:port (or http:// / https:// URL); `token` is sent as
    `authorization: Bearer <token>`; `timeout` (seconds) bounds every unary call;
    `tls` is True (system roots), a TlsConfig, or None for plaintext.
    """

    def __init__(
        self,
        target: str = DEFAULT_TARGET,
        token: Optional[str] = None,
        timeout: float = 2.0,
        tls: Union[bool, TlsConfig, None] = None,
        options: Sequence[tuple] = (),
    ):
        self.target, self.tls = _split_target(target, tls)
        self.timeout = timeout
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        channel_options = [
            ("grpc.max_receive_message_length", 16 * 1024 * 1024),
            ("grpc.enable_retries", 0),
            *options,
        ]
        if self.tls is not None:
            if self.tls.server_name:
                channel_options.append(("grpc.ssl_target_name_override", self.tls.server_name))
            self._channel = grpc.secure_channel(self.target, self.tls.channel_credentials(), channel_options)
        else:
            self._channel = grpc.insecure_channel(self.target, channel_options)
        self._stub = pb_grpc.DiagnosticsServiceStub(self._channel)

    # -- plumbing ---------------------------------------------------------

    def _unary(self, method: str, request, timeout: Optional[float] = None):
        try:
            return getattr(self._stub, method)(
                request, timeout=self.timeout if timeout is None else timeout, metadata=self._metadata
            )
        except grpc.RpcError as error:
            raise DiagdError.from_rpc_error(error) from None

    def close(self) -> None:
        """Closes the channel; open streams end."""
        self._channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- ingest -----------------------------------------------------------

    def report_error(
        self,
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
        timeout: Optional[float] = None,
    ) -> ReportResult:
        """Stores one error and answers its id. `error` is an exception (its message,
        stack trace and error type are taken from it) or a message. Context is redacted
        client-side (see scrub.py). A new event_id is chosen unless given, so repeating
        the call with the same `event_id` never stores it twice."""
        from .events import build_log  # events imports client-free modules only

        log = build_log(
            error,
            message=message,
            severity=severity,
            error_type=error_type,
            context=context,
            source=source,
            stack_trace=stack_trace,
            system_state=system_state,
            recent_actions=recent_actions,
            event_id=event_id,
            occurred_at=occurred_at,
        )
        return self.send_log(log, timeout=timeout)

    def send_log(self, log: NewLog, timeout: Optional[float] = None) -> ReportResult:
        """Stores a fully built NewLog (no redaction or classification added)."""
        if not log.event_id:
            log.event_id = str(uuid.uuid4())
        response = self._unary("ReportError", pb.ReportErrorRequest(log=convert.new_log_to_proto(log)), timeout)
        return ReportResult(response.id, response.duplicate, log.event_id)

    def ingest(
        self,
        logs: Iterable[NewLog],
        batch_size: int = 500,
        timeout: Optional[float] = None,
    ) -> IngestResult:
        """Streams `logs` over one IngestLogs call, in batches of `batch_size` (each
        committed as it arrives), and answers the stream's totals. Logs without an
        event_id get one. `timeout` bounds the whole stream (default: none)."""
        if not 1 <= batch_size <= 10_000:
            raise ValueError("batch_size must be between 1 and 10,000")

        def batches() -> Iterator[pb.IngestLogsRequest]:
            batch: List[pb.NewLog] = []
            for log in logs:
                if not log.event_id:
                    log.event_id = str(uuid.uuid4())
                batch.append(convert.new_log_to_proto(log))
                if len(batch) >= batch_size:
                    yield pb.IngestLogsRequest(logs=batch)
                    batch = []
            if batch:
                yield pb.IngestLogsRequest(logs=batch)

        return self.ingest_messages(batches(), timeout=timeout)

    def ingest_messages(self, requests: Iterator[pb.IngestLogsRequest], timeout: Optional[float] = None) -> IngestResult:
        """IngestLogs over already-built request messages (the spool resends these)."""
        try:
            response = self._stub.IngestLogs(requests, timeout=timeout, metadata=self._metadata)
        except grpc.RpcError as error:
            raise DiagdError.from_rpc_error(error) from None
        return convert.ingest_result_from_proto(response)

    def record_action(
        self,
        action: str,
        details: Optional[Dict[str, Any]] = None,
        *,
        source: Optional[Source] = None,
        timestamp: Optional[_dt.datetime] = None,
        timeout: Optional[float] = None,
    ) -> str:
        """Records one breadcrumb in diagd (kept per host/run/component for reports);
        answers its id. Its name, details and labels are redacted client-side."""
        import dataclasses

        from .scrub import redact, redact_labels, redact_text

        request = pb.RecordActionRequest(
            action=convert.truncate_utf8(redact_text(action), convert.MAX_ACTION_NAME_BYTES)
        )
        if details:
            request.details.CopyFrom(convert.struct_from_dict(redact(details), convert.MAX_ACTION_DETAILS_BYTES))
        stamp = convert.timestamp_from_datetime(timestamp)
        if stamp is not None:
            request.timestamp.CopyFrom(stamp)
        if source is not None:
            source = dataclasses.replace(source, labels=redact_labels(source.labels))
            request.source.CopyFrom(convert.source_to_proto(source))
        return self._unary("RecordAction", request, timeout).id

    # -- queries ----------------------------------------------------------

    def list_logs(
        self,
        filter: Optional[LogFilter] = None,
        *,
        full: bool = False,
        page_size: int = 100,
        limit: Optional[int] = None,
        **conditions: Any,
    ) -> Iterator[LogEntry]:
        """Iterates over matching logs, newest first, fetching pages as needed.
        `full=True` includes stack traces, context, system state and recent actions.
        Conditions are a LogFilter or its fields as keywords
        (`list_logs(severities=["high"], source=Source(run_id="r1"))`)."""
        request = pb.ListLogsRequest(
            filter=convert.log_filter_to_proto(_filter(filter, conditions)),
            page_size=page_size,
            view=pb.LOG_VIEW_FULL if full else pb.LOG_VIEW_BASIC,
        )
        yielded = 0
        while True:
            response = self._unary("ListLogs", request)
            for message in response.logs:
                if limit is not None and yielded >= limit:
                    return
                yielded += 1
                yield convert.log_entry_from_proto(message)
            if not response.next_page_token:
                return
            request.page_token = response.next_page_token

    def count_logs(self, filter: Optional[LogFilter] = None, **conditions: Any) -> int:
        """The number of logs matching the conditions (ListLogs with include_total)."""
        request = pb.ListLogsRequest(
            filter=convert.log_filter_to_proto(_filter(filter, conditions)), page_size=1, include_total=True
        )
        return self._unary("ListLogs", request).total_count

    def get_log(self, log_id: str) -> LogEntry:
        """One log with every detail; DiagdError(NOT_FOUND) for an unknown id."""
        return convert.log_entry_from_proto(self._unary("GetLog", pb.GetLogRequest(id=log_id)).log)

    def search(
        self,
        text: str,
        filter: Optional[LogFilter] = None,
        *,
        limit: int = 100,
        timeout: Optional[float] = 30.0,
        **conditions: Any,
    ) -> SearchResults:
        """Searches messages, stack traces and context values (every word must match;
        "quoted phrases" as phrases). Iterate over the result for hits; its `summary`
        is set at the end."""
        request = pb.SearchLogsRequest(
            query=text, filter=convert.log_filter_to_proto(_filter(filter, conditions)), limit=limit
        )
        return SearchResults(self._stub.SearchLogs(request, timeout=timeout, metadata=self._metadata))

    def subscribe(
        self,
        filter: Optional[LogFilter] = None,
        *,
        query: str = "",
        backfill: int = 0,
        resume_cursor: str = "",
        **conditions: Any,
    ) -> Subscription:
        """Follows new logs live (after up to `backfill` recent ones). Iterate over the
        Subscription for TailEvents, or over `.logs()` for logs only; cancel() ends it."""
        request = pb.SubscribeLogsRequest(
            filter=convert.log_filter_to_proto(_filter(filter, conditions)),
            query=query,
            backfill=backfill,
            resume_cursor=resume_cursor,
        )
        return Subscription(self._stub.SubscribeLogs(request, metadata=self._metadata))

    def stats(self, filter: Optional[LogFilter] = None, **conditions: Any) -> Stats:
        """Dashboard counts under the same conditions as list_logs."""
        request = pb.GetStatsRequest(filter=convert.log_filter_to_proto(_filter(filter, conditions)))
        return convert.stats_from_proto(self._unary("GetStats", request))

    # -- debug mode -------------------------------------------------------

    def get_debug_mode(self) -> DebugMode:
        return convert.debug_mode_from_proto(self._unary("GetDebugMode", pb.GetDebugModeRequest()).debug_mode)

    def set_debug_mode(
        self, enabled: bool, changed_by: str = "", auto_off_after: Optional[float] = None
    ) -> DebugMode:
        """Turns diagd's debug mode on or off (admin); `auto_off_after` in seconds."""
        request = pb.SetDebugModeRequest(enabled=enabled, changed_by=changed_by)
        if auto_off_after is not None:
            request.auto_off_after.CopyFrom(duration_pb2.Duration(seconds=int(auto_off_after)))
        return convert.debug_mode_from_proto(self._unary("SetDebugMode", request).debug_mode)

    def watch_debug_mode(self):
        """A stream of DebugMode states: the current one, then each change. The returned
        object iterates over DebugMode values and has cancel()."""
        call = self._stub.WatchDebugMode(pb.WatchDebugModeRequest(), metadata=self._metadata)
        return _DebugModeWatch(call)

    # -- training runs ----------------------------------------------------

    def heartbeat(
        self,
        run_id: str,
        *,
        host: str,
        rank: int = -1,
        pid: Optional[int] = None,
        phase: Union[RunPhase, str, int] = RunPhase.UNSPECIFIED,
        step: Optional[int] = None,
        epoch: Optional[float] = None,
        metrics: Optional[Mapping[str, float]] = None,
        interval: Optional[float] = None,
        stuck_after: Optional[float] = None,
        message: str = "",
        timeout: Optional[float] = None,
    ) -> HeartbeatResult:
        """Sends one Heartbeat for the member (host, rank) of `run_id` (pid: this
        process's unless given) and answers the member's and the run's state.
        `interval` and `stuck_after` are seconds (1 s–1 h and 10 s–7 days; ValueError
        outside). `init(..., run_id=...)` sends these by itself; this is for tools."""
        request = convert.heartbeat_request(
            run_id,
            host=host,
            rank=rank,
            pid=os.getpid() if pid is None else pid,
            phase=phase,
            step=step,
            epoch=epoch,
            metrics=metrics,
            interval=interval,
            stuck_after=stuck_after,
            message=message,
        )
        return self.send_heartbeat(request, timeout)

    def send_heartbeat(self, request: pb.HeartbeatRequest, timeout: Optional[float] = None) -> HeartbeatResult:
        """Sends an already-built HeartbeatRequest (the reporter's heartbeat thread does)."""
        return convert.heartbeat_result_from_proto(self._unary("Heartbeat", request, timeout))

    def list_runs(
        self,
        *,
        states: Sequence[Union[RunState, str, int]] = (),
        host: str = "",
        since: Optional[_dt.datetime] = None,
        until: Optional[_dt.datetime] = None,
        page_size: int = 50,
        limit: Optional[int] = None,
    ) -> Iterator[Run]:
        """Iterates over training runs, most recent heartbeat first, fetching pages as
        needed: only those in `states` (any of them; empty: all), with a member on
        `host`, or whose latest heartbeat is within [since, until)."""
        request = pb.ListRunsRequest(
            states=[int(RunState.parse(state)) for state in states], host=host, page_size=page_size
        )
        for name, moment in (("since", since), ("until", until)):
            stamp = convert.timestamp_from_datetime(moment)
            if stamp is not None:
                getattr(request, name).CopyFrom(stamp)
        yielded = 0
        while True:
            response = self._unary("ListRuns", request)
            for message in response.runs:
                if limit is not None and yielded >= limit:
                    return
                yielded += 1
                yield convert.run_from_proto(message)
            if not response.next_page_token:
                return
            request.page_token = response.next_page_token

    def get_run(self, run_id: str) -> RunDetails:
        """One run: its state and summary, its members (failed, lost and stuck first,
        then by rank), its error groups and its recent actions. DiagdError(NOT_FOUND)
        for a run that never sent a heartbeat."""
        return convert.run_details_from_proto(self._unary("GetRun", pb.GetRunRequest(run_id=run_id)))

    def watch_runs(self, run_ids: Sequence[str] = ()) -> RunWatch:
        """Follows member state changes (stuck, lost, finished, failed, alive again) of
        `run_ids` (empty: every run) from now on. Iterate for RunChanges; cancel() ends it."""
        call = self._stub.WatchRuns(pb.WatchRunsRequest(run_ids=list(run_ids)), metadata=self._metadata)
        return RunWatch(call)


class _DebugModeWatch:
    """Iterates over WatchDebugMode's states; raises DiagdError when the stream fails."""

    def __init__(self, call):
        self._call = call

    def __iter__(self) -> Iterator[DebugMode]:
        try:
            for message in self._call:
                yield convert.debug_mode_from_proto(message.debug_mode)
        except grpc.RpcError as error:
            raise DiagdError.from_rpc_error(error) from None

    def cancel(self) -> None:
        self._call.cancel()
