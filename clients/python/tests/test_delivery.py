"""How the background sender delivers the spool: batches capped by bytes and
split when diagd says a request is over its --max-message-bytes (an error that
can never pass is dropped and counted instead of blocking every later one); an
uncaught error goes before the backlog; the sender survives failures and is
restarted; queued actions stop at the first failure; the default spool is per
diagd target."""

import os
import shutil
import tempfile
import threading
import time

import pytest

import diagd_client
from diagd_client import DiagdError, convert
from diagd_client.errors import is_message_too_large, server_message_limit
from diagd_client.events import build_log
from diagd_client.spool import Spool, default_spool_dir
from diagd_client.types import Source
from conftest import DiagdServer, free_port, logs_of_run, recorded_actions, run_script, spooled_files, wait_for

SMALL_LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def small_diagd(diagd_binary):
    """A diagd of its own that accepts request messages of at most 64 KiB."""
    data_dir = tempfile.mkdtemp(prefix="diagd-pytest-small-")
    os.chmod(data_dir, 0o755)
    server = DiagdServer(diagd_binary, data_dir, ["--max-message-bytes", str(SMALL_LIMIT)])
    server.start()
    yield server
    server.stop()
    shutil.rmtree(data_dir, ignore_errors=True)


def _spool_log(spool, run_id, message, padding=0):
    log = build_log(message, context={"padding": "x" * padding} if padding else None, source=Source(run_id=run_id))
    spool.write(log.event_id, convert.new_log_to_proto(log).SerializeToString())
    time.sleep(0.002)  # distinct, ordered file names
    return log.event_id


def test_an_error_larger_than_diagd_accepts_is_dropped_and_counted_and_later_errors_are_delivered(
    small_diagd, run_id, spool_dir
):
    spool = Spool(spool_dir)
    _spool_log(spool, run_id, "small before")
    _spool_log(spool, run_id, "too large for this diagd", padding=100_000)
    for i in range(3):
        _spool_log(spool, run_id, f"medium {i}", padding=25_000)  # together over the limit: must be split
    _spool_log(spool, run_id, "small after")
    assert len(spooled_files(spool_dir)) == 6
    reporter = diagd_client.init(small_diagd.target, run_id=run_id, spool_dir=spool_dir, follow_debug_mode=False,
                                 install_excepthooks=False, install_logging_handler=False, timeout=5)
    try:
        assert diagd_client.flush(20)  # with RESOURCE_EXHAUSTED treated as retryable, this never ends
        assert reporter.too_large == 1 and reporter.spool.dropped == 1
        assert not spooled_files(spool_dir)
    finally:
        diagd_client.shutdown(timeout=1)
    with diagd_client.Client(small_diagd.target) as small_client:
        assert sorted(log.message for log in logs_of_run(small_client, run_id, full=False)) == [
            "medium 0", "medium 1", "medium 2", "small after", "small before"]


def test_a_request_over_the_limit_is_recognised_by_its_details_not_its_text(small_diagd, run_id):
    with diagd_client.Client(small_diagd.target) as small_client:
        with pytest.raises(DiagdError) as raised:
            small_client.report_error(message="too large", context={"padding": "x" * 100_000},
                                      source=Source(run_id=run_id))
    error = raised.value
    assert error.reason == "MESSAGE_TOO_LARGE"
    assert error.metadata["flag"] == "--max-message-bytes"
    assert server_message_limit(error) == SMALL_LIMIT
    assert is_message_too_large(error)
    # The decision rests on the reason: the same words with another reason are not enough.
    reworded = DiagdError(error.code, "the request message is larger than the server's limit of 1 bytes",
                          reason="STREAM_LIMIT")
    assert not is_message_too_large(reworded) and server_message_limit(reworded) is None
    # A diagd without error details is still understood by its words.
    old = DiagdError(error.code, "the request message is larger than the server's limit of 65536 bytes "
                                 "(--max-message-bytes)")
    assert is_message_too_large(old) and server_message_limit(old) == 65536


def test_batches_are_capped_by_bytes(client, diagd, run_id, spool_dir):
    spool = Spool(spool_dir)
    for i in range(10):
        _spool_log(spool, run_id, f"capped {i}", padding=5_000)
    reporter = diagd_client.init(diagd.target, run_id=run_id, spool_dir=spool_dir, follow_debug_mode=False,
                                 install_excepthooks=False, install_logging_handler=False)
    reporter.max_batch_bytes = 12_000  # two of these errors per request
    sizes = []
    real_client = reporter._get_client()
    ingest = real_client.ingest_messages

    def counting_ingest(requests, timeout=None):
        requests = list(requests)
        sizes.extend(request.ByteSize() for request in requests)
        return ingest(iter(requests), timeout=timeout)

    real_client.ingest_messages = counting_ingest
    try:
        assert diagd_client.flush(20)
    finally:
        diagd_client.shutdown(timeout=1)
    assert len(sizes) == 5 and all(size <= 12_000 for size in sizes)
    assert sorted(log.message for log in logs_of_run(client, run_id)) == [f"capped {i}" for i in range(10)]


def test_an_uncaught_error_is_delivered_before_the_backlog(client, diagd, run_id, spool_dir):
    spool = Spool(spool_dir)
    for i in range(5):
        _spool_log(spool, run_id, f"backlog {i}")
    finished = run_script(
        "import os, diagd_client\n"
        "diagd_client.init(os.environ['T'], run_id=os.environ['R'], spool_dir=os.environ['S'],\n"
        "                  follow_debug_mode=False, rescan_interval=60)\n"
        "raise RuntimeError('the run died')\n",
        {"T": diagd.target, "R": run_id, "S": spool_dir},
    )
    assert finished.returncode == 1 and "RuntimeError: the run died" in finished.stderr
    logs = logs_of_run(client, run_id)
    assert len(logs) == 6 and not spooled_files(spool_dir)
    [fatal] = [log for log in logs if log.message == "RuntimeError: the run died"]
    backlog = [log for log in logs if log is not fatal]
    assert all(fatal.received_at < log.received_at for log in backlog)  # stored first, on its own


def test_the_sender_survives_failures_and_is_restarted_when_dead(client, diagd, run_id, spool_dir):
    reporter = diagd_client.init(diagd.target, run_id=run_id, spool_dir=spool_dir, follow_debug_mode=False,
                                 install_excepthooks=False, install_logging_handler=False,
                                 retry_initial_backoff=0.1, retry_max_backoff=0.3)
    try:
        real_pending = reporter.spool.pending
        failures = []

        def failing_once(limit=None):
            if not failures:
                failures.append(1)
                raise OSError("spool directory listing failed")
            return real_pending(limit)

        reporter.spool.pending = failing_once
        assert diagd_client.capture_message("after a failing listing")
        wait_for(lambda: logs_of_run(client, run_id), 10, what="delivery after the sender's failure")
        assert failures and reporter._sender.is_alive()

        # A sender that is gone (however it ended) is started again by the next error.
        dead = threading.Thread(target=lambda: None)
        dead.start()
        dead.join()
        reporter._sender = dead
        shutil.rmtree(spool_dir)  # and the spool directory removed under it: re-created
        assert diagd_client.capture_message("after the sender died")
        wait_for(lambda: len(logs_of_run(client, run_id)) == 2, 10, what="delivery by a restarted sender")
        assert reporter._sender is not dead and reporter._sender.is_alive()
    finally:
        diagd_client.shutdown(timeout=1)


def test_queued_actions_stop_at_the_first_failure_and_are_recorded_later(server, client, run_id, spool_dir):
    server.stop()
    reporter = diagd_client.init(server.target, run_id=run_id, spool_dir=spool_dir, follow_debug_mode=False,
                                 install_excepthooks=False, install_logging_handler=False, timeout=0.5,
                                 retry_initial_backoff=60, retry_max_backoff=60)
    try:
        for i in range(20):
            reporter.breadcrumbs.add(f"step {i}")
            reporter._actions_to_send.append(reporter.breadcrumbs.snapshot()[-1])
        started = time.monotonic()
        assert reporter._send_actions() is False
        assert time.monotonic() - started < 3  # one timeout, not twenty
        assert [action.action for action in reporter._actions_to_send] == [f"step {i}" for i in range(20)]
        server.start()
        assert reporter._send_actions() is True
    finally:
        diagd_client.shutdown(timeout=1)
    assert sorted(action["action"] for action in recorded_actions(client, run_id)) == sorted(
        f"step {i}" for i in range(20))


def test_the_default_spool_is_per_target_and_another_target_never_takes_its_errors(
    client, diagd, run_id, tmp_path, monkeypatch
):
    monkeypatch.setenv("DIAGD_SPOOL_DIR", str(tmp_path / "base"))
    unreachable = f"127.0.0.1:{free_port()}"
    assert default_spool_dir(unreachable) != default_spool_dir(diagd.target)
    diagd_client.init(unreachable, run_id=run_id, follow_debug_mode=False, install_excepthooks=False,
                      install_logging_handler=False, timeout=0.3)
    assert diagd_client.capture_message("meant for the other diagd")
    diagd_client.shutdown(timeout=0.3)
    assert len(spooled_files(default_spool_dir(unreachable))) == 1

    reporter = diagd_client.init(diagd.target, run_id=run_id, follow_debug_mode=False, install_excepthooks=False,
                                 install_logging_handler=False)
    try:
        assert reporter.spool.directory == default_spool_dir(diagd.target)
        assert diagd_client.capture_message("meant for this diagd")
        assert diagd_client.flush(10)
    finally:
        diagd_client.shutdown(timeout=1)
    assert [log.message for log in logs_of_run(client, run_id)] == ["meant for this diagd"]
    assert len(spooled_files(default_spool_dir(unreachable))) == 1  # left for its own diagd
