"""The plain Client against a real diagd: report, get, list, ingest, record an
action, search, stats, errors as DiagdError, and a live tail that receives a
log pushed by another client."""

import threading

import grpc
import pytest

from diagd_client import Client, DiagdError, ErrorType, NewLog, NoticeKind, Severity, Source
from conftest import logs_of_run, recorded_actions, wait_for


def test_report_error_is_stored_with_every_detail_and_retry_is_a_duplicate(client, run_id):
    try:
        {}["missing"]
    except KeyError as error:
        caught = error
    result = client.report_error(
        caught,
        severity="critical",
        error_type=ErrorType.TRAINING,
        context={"batch_size": 64, "nested": {"lr": 0.001}},
        source=Source(host="gpu-7", run_id=run_id, component="trainer", labels={"pool": "a100"}),
    )
    log = client.get_log(result.id)
    assert log.message == "KeyError: 'missing'"
    assert "Traceback (most recent call last)" in log.stack_trace and "KeyError" in log.stack_trace
    assert log.severity == Severity.CRITICAL and log.error_type == ErrorType.TRAINING
    assert log.context == {"batch_size": 64, "nested": {"lr": 0.001}}
    assert log.source == Source("gpu-7", run_id, "trainer", {"pool": "a100"})
    assert log.event_id == result.event_id

    again = client.report_error("ignored", event_id=result.event_id, source=Source(run_id=run_id))
    assert again.duplicate and again.id == result.id
    assert len(logs_of_run(client, run_id)) == 1


def test_unknown_id_raises_diagd_error_with_status_code_and_details(client):
    with pytest.raises(DiagdError) as raised:
        client.get_log("01234567-89ab-7def-8123-456789abcdef")
    assert raised.value.code == grpc.StatusCode.NOT_FOUND
    assert raised.value.reason == "NOT_FOUND"
    assert raised.value.resource == ("log", "01234567-89ab-7def-8123-456789abcdef")
    with pytest.raises(DiagdError) as raised:
        client.get_log("not-a-uuid")
    assert raised.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert raised.value.reason == "FIELD_INVALID"
    assert [field for field, _ in raised.value.field_violations] == ["id"]
    assert raised.value.retry_delay is None


def test_ingest_streams_batches_and_lists_them_newest_first(client, run_id):
    logs = [
        NewLog(message=f"ingested {i}", severity=Severity.LOW, source=Source(run_id=run_id))
        for i in range(25)
    ]
    result = client.ingest(iter(logs), batch_size=10)
    assert (result.accepted, result.rejected, result.batches) == (25, 0, 3)
    again = client.ingest(logs, batch_size=25)  # same event ids: nothing new stored
    assert (again.accepted, again.duplicates) == (0, 25)
    listed = list(client.list_logs(source=Source(run_id=run_id), page_size=7))
    assert len(listed) == 25 and client.count_logs(source=Source(run_id=run_id)) == 25
    assert sorted(entry.message for entry in listed) == sorted(log.message for log in logs)
    stats = client.stats(source=Source(run_id=run_id))
    assert stats.total == 25 and stats.by_severity[Severity.LOW] == 25


def test_search_finds_words_inside_identifiers_and_ends_with_a_summary(client, run_id):
    client.report_error(
        "torch.cuda.OutOfMemoryError: CUDA out of memory zqxwv", source=Source(run_id=run_id)
    )
    results = client.search("OutOfMemory zqxwv", source=Source(run_id=run_id))
    hits = list(results)
    assert len(hits) == 1 and "zqxwv" in hits[0].log.message
    assert hits[0].matches and hits[0].matches[0].field == "message"
    assert results.summary is not None and results.summary.matched == 1


def test_record_action_is_stored_redacted_under_the_answered_id(client, run_id):
    action_id = client.record_action("start_training", {"epochs": 3, "hf_token": "hf_x"}, source=Source(run_id=run_id))
    [stored] = recorded_actions(client, run_id)  # read back through a diagnostic report
    assert stored["id"] == action_id and stored["action"] == "start_training"
    assert stored["details"] == {"epochs": 3, "hf_token": "[redacted]"}
    assert stored["source"]["run_id"] == run_id


def test_subscribe_receives_a_log_pushed_by_another_client(diagd, client, run_id):
    received = []
    subscription = client.subscribe(source=Source(run_id=run_id))
    live = threading.Event()

    def follow():
        for event in subscription:
            if event.notice is not None and event.notice.kind == NoticeKind.LIVE:
                live.set()
            if event.log is not None:
                received.append(event.log)
                return

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    live.wait(5)  # the server says LIVE after the (empty) backfill
    with Client(diagd.target) as other:
        pushed = other.report_error("pushed by another client", source=Source(run_id=run_id))
    follower.join(10)
    subscription.cancel()
    assert [log.id for log in received] == [pushed.id]
    assert subscription.cursor
