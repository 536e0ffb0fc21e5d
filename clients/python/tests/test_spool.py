"""Never lose an error: while diagd is down errors wait in the on-disk spool and
are delivered exactly once when it is back — by the running process's sender
thread, or by the next process on the same spool when the first one died with
os._exit before it could send. The spool's size bound drops the oldest first."""

import multiprocessing
import os

import diagd_client
from diagd_client.spool import Spool
from conftest import logs_of_run, run_script, wait_for


def spooled_files(spool_dir):
    return sorted(name for name in os.listdir(spool_dir) if name.endswith(".pb"))


def test_errors_while_diagd_is_down_are_delivered_once_when_it_is_back(server, client, run_id, spool_dir):
    server.stop()
    reporter = diagd_client.init(server.target, run_id=run_id, spool_dir=spool_dir, timeout=0.5,
                                 follow_debug_mode=False, install_excepthooks=False,
                                 install_logging_handler=False, retry_initial_backoff=0.2,
                                 retry_max_backoff=1.0)
    try:
        event_ids = [diagd_client.capture_message(f"while down {i}") for i in range(3)]
        assert all(event_ids)
        wait_for(lambda: len(spooled_files(spool_dir)) == 3, 5, what="three spooled errors")
        assert not reporter.flush(0.5)  # diagd is down: nothing can be delivered
        server.start()
        wait_for(lambda: not spooled_files(spool_dir), 20, what="the sender thread to empty the spool")
        # A second process on the same spool at the same moment would resend the same
        # event ids; diagd keeps one copy of each.
        logs = logs_of_run(client, run_id)
        assert sorted(log.event_id for log in logs) == sorted(event_ids)
        assert sorted(log.message for log in logs) == ["while down 0", "while down 1", "while down 2"]
    finally:
        diagd_client.shutdown(timeout=1)


def _child_that_raises():
    raise ValueError("dataloader worker: corrupt shard 17")


def test_a_child_that_raises_then_exits_hard_is_delivered_by_the_next_start(server, client, run_id, spool_dir):
    server.stop()
    diagd_client.init(server.target, run_id=run_id, spool_dir=spool_dir, timeout=0.5, flush_timeout=0.5,
                      follow_debug_mode=False, install_logging_handler=False)
    try:
        # multiprocessing ends a failed child with os._exit(1): no excepthook, no atexit.
        child = multiprocessing.get_context("fork").Process(target=_child_that_raises, name="worker-3")
        child.start()
        child.join(20)
        assert child.exitcode == 1
        pid = os.fork()
        if pid == 0:  # a forked rank that reports through the inherited client, then dies hard
            try:
                diagd_client.capture_message("forked rank: NCCL watchdog timeout")
            finally:
                os._exit(1)
        assert os.waitpid(pid, 0)[1] != 0
    finally:
        diagd_client.shutdown(timeout=0.2)
    assert len(spooled_files(spool_dir)) == 2
    server.start()
    # The next start of any client on that spool delivers them.
    started = run_script(
        "import os, diagd_client\n"
        "diagd_client.init(os.environ['T'], spool_dir=os.environ['S'], follow_debug_mode=False)\n"
        "assert diagd_client.flush(10)\n",
        {"T": server.target, "S": spool_dir},
    )
    assert started.returncode == 0, started.stderr
    logs = {log.message: log for log in logs_of_run(client, run_id)}
    assert set(logs) == {"ValueError: dataloader worker: corrupt shard 17", "forked rank: NCCL watchdog timeout"}
    worker_error = logs["ValueError: dataloader worker: corrupt shard 17"]
    assert worker_error.context["process"] == "worker-3" and "_child_that_raises" in worker_error.stack_trace
    assert worker_error.source.labels["pid"] != str(os.getpid())
    assert not spooled_files(spool_dir)


def test_a_full_spool_drops_the_oldest_and_counts_them(server, client, run_id, spool_dir):
    server.stop()
    payload_size = 3000  # bytes of padding per error: three fit in the 12,000-byte spool
    spool = Spool(spool_dir, max_bytes=3 * 4000)
    diagd_client.init(server.target, run_id=run_id, spool_dir=spool_dir, spool_max_bytes=spool.max_bytes,
                      follow_debug_mode=False, install_excepthooks=False, install_logging_handler=False,
                      timeout=0.3, retry_initial_backoff=0.2, retry_max_backoff=0.5)
    try:
        for i in range(5):
            diagd_client.capture_message(f"spool bound {i}", context={"padding": "x" * payload_size})
        assert len(spooled_files(spool_dir)) == 3 and spool.dropped == 2
        server.start()
        wait_for(lambda: not spooled_files(spool_dir), 20, what="delivery")
    finally:
        diagd_client.shutdown(timeout=1)
    assert sorted(log.message for log in logs_of_run(client, run_id)) == [
        "spool bound 2", "spool bound 3", "spool bound 4"]
