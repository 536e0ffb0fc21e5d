"""A training script that dies of an uncaught exception (main thread or a
worker thread): its error is in diagd with message, stack trace, type, system
state, source (torchrun rank included) and the recent actions before it."""

from diagd_client import ErrorType, Severity
from conftest import logs_of_run, run_script, wait_for

TRAINING_SCRIPT = """
import logging, os
import diagd_client
diagd_client.init(os.environ["DIAGD_TARGET"], run_id=os.environ["RUN_ID"], component="trainer",
                  spool_dir=os.environ["SPOOL"], labels={"user": "ana"})
logging.getLogger("train").setLevel(logging.INFO)
diagd_client.record_action("load_dataset", {"rows": 1000, "api_key": "k-123"})
logging.getLogger("train").info("epoch 1 started")
def training_step():
    raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
training_step()
"""


def test_uncaught_exception_in_a_script_is_in_diagd_with_every_detail(client, diagd, run_id, spool_dir):
    finished = run_script(
        TRAINING_SCRIPT,
        {"DIAGD_TARGET": diagd.target, "RUN_ID": run_id, "SPOOL": spool_dir,
         "RANK": "3", "LOCAL_RANK": "1", "WORLD_SIZE": "8"},
    )
    assert finished.returncode == 1
    assert "RuntimeError: CUDA out of memory" in finished.stderr  # the previous hook still prints it
    logs = logs_of_run(client, run_id)
    assert len(logs) == 1, finished.stderr
    log = logs[0]
    assert log.message == "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB"
    assert "in training_step" in log.stack_trace and "Traceback (most recent call last)" in log.stack_trace
    assert log.severity == Severity.CRITICAL and log.error_type == ErrorType.OOM
    assert log.context["uncaught"] is True
    state = log.system_state
    assert state is not None and state.memory_total_bytes > 0 and state.disk_total_bytes > 0
    assert 0 <= state.cpu_percent <= 100
    assert log.source.run_id == run_id and log.source.component == "trainer" and log.source.host
    assert {k: log.source.labels[k] for k in ("rank", "local_rank", "world_size", "user")} == {
        "rank": "3", "local_rank": "1", "world_size": "8", "user": "ana"}
    actions = [(a.action, a.details) for a in log.recent_actions]
    assert ("load_dataset", {"rows": 1000, "api_key": "[redacted]"}) in actions
    assert any(action == "epoch 1 started" for action, _ in actions)
    assert not any(name.endswith(".pb") for name in __import__("os").listdir(spool_dir))


def test_uncaught_exception_in_a_thread_is_reported_with_its_thread_name(client, diagd, run_id, spool_dir):
    script = """
import os, threading
import diagd_client
diagd_client.init(os.environ["DIAGD_TARGET"], run_id=os.environ["RUN_ID"], spool_dir=os.environ["SPOOL"])
def load_batches():
    raise ConnectionResetError("connection reset by peer while streaming shards")
worker = threading.Thread(target=load_batches, name="prefetcher")
worker.start(); worker.join()
"""
    finished = run_script(script, {"DIAGD_TARGET": diagd.target, "RUN_ID": run_id, "SPOOL": spool_dir})
    assert finished.returncode == 0
    [log] = logs_of_run(client, run_id)
    assert log.message.startswith("ConnectionResetError: connection reset by peer")
    assert log.error_type == ErrorType.NETWORK and log.severity == Severity.HIGH
    assert log.context["thread"] == "prefetcher"
