"""End-to-end: the real OpenTelemetry Python SDK (stdlib logging → LoggingHandler →
BatchLogRecordProcessor → OTLPLogExporter, gRPC and HTTP) sends a trainer's
logs to diagd's OTLP logs receiver, and diagd's own API (diagd_client) shows
what was stored. Owns the assertions on the OTLP → diagd mapping:

- exception.type/message/stacktrace → message "RuntimeError: CUDA out of memory…"
  and the chained stack trace (the record's body kept in context); severity
  ERROR → HIGH; error type OOM (classified by diagd); resource host.name /
  service.name / diagd.run_id → source host / component / run id,
  process.pid and k8s.pod.name → source labels;
- WARN → MEDIUM, always stored;
- INFO → not stored while debug mode is off, stored as LOW while it is on;
- with tokens configured: the ingest token (OTEL_EXPORTER_OTLP_HEADERS or
  headers=) is accepted, an export without it is refused and stores nothing.

The SDK side runs in emit_logs.py, one fresh interpreter per flow.
"""

from __future__ import annotations

import pytest

from diagd_client import ErrorType, LogEntry, Severity

from conftest import INGEST_TOKEN, emit, run_logs, wait_for_logs
from emit_logs import (
    HOST_NAME, INNER_MESSAGE, OOM_MESSAGE, POD_NAME, SERVICE_NAME, exception_body, info_text, warning_text,
)

PROTOCOLS = ["grpc", "http"]
EXPECTED_MESSAGE = f"RuntimeError: {OOM_MESSAGE}"


def is_exception(log: LogEntry) -> bool:
    return log.message.startswith("RuntimeError:")


def with_text(text: str):
    return lambda log: text in log.message


def the_one(logs, match, what: str) -> LogEntry:
    found = [log for log in logs if match(log)]
    assert len(found) == 1, f"expected one {what}, found {[(l.severity.name, l.message) for l in logs]}"
    return found[0]


def check_exported(report: dict, records: int) -> None:
    assert report["flushed"], f"force_flush timed out:\n{report['stderr']}"
    assert report["exports"] == [[records, "SUCCESS"]], f"exports: {report['exports']}\n{report['stderr']}"


def check_oom(log: LogEntry, run_id: str, pid: int, tag: str) -> None:
    """The logged torch-style OOM as diagd stored it."""
    assert log.message == EXPECTED_MESSAGE
    # The record's body (logger.exception's own message) is kept in context.
    assert log.context.get("body") == exception_body(tag), log.context
    assert log.severity == Severity.HIGH, log.severity
    assert log.error_type == ErrorType.OOM, log.error_type
    trace = log.stack_trace
    for expected in (
        "Traceback (most recent call last)",
        "in training_step",
        "in forward",
        "in allocate_activations",
        "in _cuda_malloc",
        f"MemoryError: {INNER_MESSAGE.split('(')[0]}",
        "The above exception was the direct cause of the following exception",
        "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB",
    ):
        assert expected in trace, f"{expected!r} not in the stored stack trace:\n{trace}"
    assert log.source.host == HOST_NAME
    assert log.source.component == SERVICE_NAME
    assert log.source.run_id == run_id
    assert log.source.labels.get("process.pid") == str(pid), log.source.labels
    assert log.source.labels.get("k8s.pod.name") == POD_NAME, log.source.labels


@pytest.fixture
def debug_off(diagd):
    """diagd with debug mode off (as it starts; every test that switches it on switches it off)."""
    with diagd.client() as client:
        assert not client.get_debug_mode().enabled, "debug mode was left on by an earlier test"
    return diagd


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_exception_and_warning_are_stored_and_info_is_not_outside_debug_mode(debug_off, run_id, protocol):
    server = debug_off
    # info first: once the later records are stored, its export was answered too.
    report = emit(server, protocol, run_id, "off", ["info", "warning", "exception"])
    check_exported(report, 3)

    logs = wait_for_logs(
        server, run_id,
        lambda logs: any(map(is_exception, logs)) and any(map(with_text(warning_text("off")), logs)),
        what="the exception and the warning",
    )
    check_oom(the_one(logs, is_exception, "exception"), run_id, report["pid"], "off")

    warning = the_one(logs, with_text(warning_text("off")), "warning")
    assert warning.severity == Severity.MEDIUM, warning.severity
    assert warning.source.run_id == run_id
    assert warning.source.host == HOST_NAME

    assert not any(map(with_text(info_text("off")), logs)), "an INFO record was stored with debug mode off"
    assert len(logs) == 2, [(log.severity.name, log.message) for log in logs]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_info_is_stored_as_low_only_while_debug_mode_is_on(debug_off, run_id, protocol):
    server = debug_off
    server.set_debug_mode(True)
    try:
        check_exported(emit(server, protocol, run_id, "debug-on", ["info"]), 1)
        logs = wait_for_logs(server, run_id, lambda logs: any(map(with_text(info_text("debug-on")), logs)),
                             what="the INFO record sent while debug mode was on")
        info = the_one(logs, with_text(info_text("debug-on")), "info record")
        assert info.severity == Severity.LOW, info.severity
        assert info.source.run_id == run_id
        assert info.source.component == SERVICE_NAME
    finally:
        server.set_debug_mode(False)

    # Off again: INFO is dropped again (the warning in the same export shows the export was processed).
    check_exported(emit(server, protocol, run_id, "debug-off-again", ["info", "warning"]), 2)
    logs = wait_for_logs(server, run_id, lambda logs: any(map(with_text(warning_text("debug-off-again")), logs)),
                         what="the warning sent after debug mode was switched off")
    assert not any(map(with_text(info_text("debug-off-again")), logs)), \
        "an INFO record was stored after debug mode was switched off"


@pytest.mark.parametrize("protocol,token_via", [("grpc", "env"), ("http", "param"), ("grpc", "param"), ("http", "env")])
def test_ingest_token_is_accepted_and_required(diagd_with_tokens, run_id, protocol, token_via):
    """token_via "env": OTEL_EXPORTER_OTLP_HEADERS=authorization=Bearer%20<token>;
    "param": the exporter's headers={"authorization": "Bearer <token>"}."""
    server = diagd_with_tokens
    report = emit(server, protocol, run_id, "ingest-role", ["exception"], token=INGEST_TOKEN, token_via=token_via)
    check_exported(report, 1)
    logs = wait_for_logs(server, run_id, lambda logs: any(map(is_exception, logs)), what="the exception sent with the ingest token")
    check_oom(the_one(logs, is_exception, "exception"), run_id, report["pid"], "ingest-role")

    refused_run = f"{run_id}-anonymous"
    refused = emit(server, protocol, refused_run, "anonymous", ["exception"])
    assert refused["exports"] == [[1, "FAILURE"]], f"an export without a token was not refused: {refused}"
    if protocol == "grpc":
        assert "UNAUTHENTICATED" in refused["stderr"], refused["stderr"]
    assert run_logs(server, refused_run) == [], "an export without a token stored logs"
