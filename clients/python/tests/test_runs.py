"""Heartbeats against a real diagd, read back through GetRun / ListRuns /
WatchRuns (Client.get_run, list_runs, watch_runs): a child process that hangs
in its main thread while the client's thread beats on becomes STUCK; one
killed with SIGKILL becomes LOST; one that exits normally FINISHED; one that
dies of an uncaught error FAILED with the error's summary. These tests need a
diagd with the training-run RPCs and fail (not skip) when it has none."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid

import grpc
import pytest

from diagd_client import Client, DiagdError, RunPhase, RunState
from conftest import CLIENT_SRC, logs_of_run, wait_for

CHILD_SCRIPT = """
import os, sys, time
import diagd_client
diagd_client.init(os.environ["DIAGD_TARGET"], run_id=os.environ["RUN_ID"], spool_dir=os.environ["SPOOL"],
                  follow_debug_mode=False, heartbeat_interval=1,
                  stuck_after=float(os.environ["STUCK_AFTER"]) if os.environ.get("STUCK_AFTER") else None)
for step in range(1, 4):
    diagd_client.set_step(step, epoch=step / 10, loss=1.0 / step)
    time.sleep(0.2)
print("ready", flush=True)
mode = os.environ["MODE"]
if mode == "hang":
    time.sleep(600)  # the main thread blocked (a hung collective); diagd_client's thread beats on
elif mode == "fail":
    raise RuntimeError("loss is nan at step 3\\nsecond line")
# "finish": the script ends normally
"""


@pytest.fixture
def runs_api(client, diagd) -> Client:
    """The session's client, once diagd is known to serve the run RPCs: a diagd
    without them fails the test here, saying so, instead of letting it time out."""
    try:
        client.get_run(f"pytest-probe-{uuid.uuid4().hex[:8]}")
    except DiagdError as error:
        if error.code == grpc.StatusCode.UNIMPLEMENTED:
            pytest.fail(
                f"diagd ({diagd.binary}) has no GetRun RPC (UNIMPLEMENTED): these tests need a diagd built "
                "with Heartbeat/ListRuns/GetRun/WatchRuns (cargo build, or DIAGD_BIN=...)",
                pytrace=False,
            )
        if error.code != grpc.StatusCode.NOT_FOUND:
            raise
    return client


def start_child(diagd, run_id, spool_dir, mode, **env) -> subprocess.Popen:
    """The child script in a fresh Python, once it has set its third step."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = os.pathsep.join([str(CLIENT_SRC), full_env.get("PYTHONPATH", "")])
    full_env.pop("RANK", None)
    full_env.update({"DIAGD_TARGET": diagd.target, "RUN_ID": run_id, "SPOOL": spool_dir, "MODE": mode, **env})
    child = subprocess.Popen([sys.executable, "-c", CHILD_SCRIPT], env=full_env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    line = child.stdout.readline()
    assert line.strip() == "ready", (line, child.stderr.read() if child.poll() is not None else "")
    return child


def finish_child(diagd, run_id, spool_dir, mode, **env) -> subprocess.CompletedProcess:
    child = start_child(diagd, run_id, spool_dir, mode, **env)
    stdout, stderr = child.communicate(timeout=30)
    return subprocess.CompletedProcess(child.args, child.returncode, stdout, stderr)


def the_member(client, run_id):
    """The run's only member (None while the run is unknown)."""
    try:
        details = client.get_run(run_id)
    except DiagdError as error:
        if error.code == grpc.StatusCode.NOT_FOUND:
            return None
        raise
    assert len(details.members) == 1, details.members
    return details.members[0]


def member_in(client, run_id, state, timeout, **fields):
    """Waits until the member is in `state` (and has `fields`), and answers it."""
    def probe():
        member = the_member(client, run_id)
        if member is not None and member.state == state and all(getattr(member, k) == v for k, v in fields.items()):
            return member
        return None

    return wait_for(probe, timeout, 0.2, what=f"the member of {run_id} {state.name} {fields or ''} "
                                              f"(now: {the_member(client, run_id)})")


def test_a_process_hanging_in_its_main_thread_becomes_stuck_while_its_heartbeats_go_on(
    runs_api, diagd, run_id, spool_dir
):
    child = start_child(diagd, run_id, spool_dir, "hang", STUCK_AFTER="10")
    try:
        alive = member_in(runs_api, run_id, RunState.ALIVE, 10, step=3)
        assert (alive.pid, alive.rank, alive.host) == (child.pid, -1, socket.gethostname())
        assert alive.phase == RunPhase.TRAINING and alive.interval == 1.0
        assert alive.epoch == pytest.approx(0.3) and alive.metrics == {"loss": pytest.approx(1 / 3)}
        assert runs_api.get_run(run_id).run.stuck_after == 10.0
        stuck = member_in(runs_api, run_id, RunState.STUCK, 25)
        assert child.poll() is None, "the child should still hang"
        assert stuck.step == 3
        # Still beating (a hang is not a loss): the latest heartbeat is recent, and it stays STUCK.
        first_beat_seen = stuck.last_heartbeat
        time.sleep(3.5)
        later = the_member(runs_api, run_id)
        assert later.state == RunState.STUCK and later.last_heartbeat > first_beat_seen
        run = runs_api.get_run(run_id).run
        assert run.state == RunState.STUCK and run.stuck == 1 and run.summary
    finally:
        child.kill()
        child.communicate(timeout=10)


def test_a_process_killed_with_sigkill_becomes_lost_after_three_intervals(runs_api, diagd, run_id, spool_dir):
    child = start_child(diagd, run_id, spool_dir, "hang")
    changes, watching = [], threading.Event()
    watch = runs_api.watch_runs([run_id])

    def follow():
        watching.set()
        try:
            for change in watch:
                changes.append(change)
        except DiagdError:
            pass

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    try:
        member_in(runs_api, run_id, RunState.ALIVE, 10, step=3)
        assert watching.wait(5)
        time.sleep(0.5)  # the stream is open before the change
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=10)
        killed_at = time.monotonic()
        lost = member_in(runs_api, run_id, RunState.LOST, 15)
        # three 1 s intervals, then the next sweep (every second): a few seconds, never at once
        assert 1.0 < time.monotonic() - killed_at < 8.0
        assert lost.step == 3 and lost.phase == RunPhase.TRAINING
        assert runs_api.get_run(run_id).run.state == RunState.LOST
        wait_for(lambda: any(c.to_state == RunState.LOST for c in changes), 5, what="the LOST change on WatchRuns")
        [change] = [c for c in changes if c.to_state == RunState.LOST]
        assert (change.run_id, change.from_state, change.step, change.rank) == (run_id, RunState.ALIVE, 3, -1)
        assert runs_api.get_run(run_id).run.run_id in {r.run_id for r in runs_api.list_runs(states=["lost"])}
    finally:
        watch.cancel()
        if child.poll() is None:
            child.kill()
            child.communicate(timeout=10)


def test_a_process_that_exits_normally_is_finished(runs_api, diagd, run_id, spool_dir):
    finished = finish_child(diagd, run_id, spool_dir, "finish", RANK="5", STUCK_AFTER="30")
    assert finished.returncode == 0, finished.stderr
    assert finished.stderr == "", finished.stderr
    member = member_in(runs_api, run_id, RunState.FINISHED, 5)
    assert member.rank == 5 and member.phase == RunPhase.FINISHED and member.step == 3
    assert member.message == ""
    details = runs_api.get_run(run_id)
    assert details.run.state == RunState.FINISHED and details.run.finished == 1 and details.run.max_step == 3
    assert details.run.stuck_after == 30.0
    # No heartbeat after the final one: it stays FINISHED.
    time.sleep(2.5)
    assert the_member(runs_api, run_id).state == RunState.FINISHED


def test_a_process_that_dies_of_an_uncaught_error_is_failed_with_its_summary(runs_api, diagd, run_id, spool_dir):
    finished = finish_child(diagd, run_id, spool_dir, "fail")
    assert finished.returncode == 1 and "RuntimeError: loss is nan at step 3" in finished.stderr, finished.stderr
    member = member_in(runs_api, run_id, RunState.FAILED, 5)
    assert member.message == "RuntimeError: loss is nan at step 3"
    assert member.phase == RunPhase.FAILED and member.step == 3
    details = runs_api.get_run(run_id)
    assert details.run.state == RunState.FAILED and details.run.failed == 1
    # The error itself reached diagd too, and GetRun lists its group.
    [log] = logs_of_run(runs_api, run_id)
    assert log.message.startswith("RuntimeError: loss is nan at step 3")
    assert any("loss is nan" in group.title for group in details.groups), details.groups
    assert run_id in {run.run_id for run in runs_api.list_runs(states=[RunState.FAILED])}
    time.sleep(2.5)
    assert the_member(runs_api, run_id).state == RunState.FAILED  # nothing after it (atexit sends no FINISHED)


def test_the_plain_clients_heartbeat_and_run_queries(runs_api, run_id):
    result = runs_api.heartbeat(run_id, host="gpu-node-03", rank=17, phase="training", step=12340, epoch=1.5,
                                metrics={"loss": 0.5}, interval=60, stuck_after=3600)
    assert (result.member_state, result.run_state) == (RunState.ALIVE, RunState.ALIVE)
    runs_api.heartbeat(run_id, host="gpu-node-04", rank=18, phase="training", step=12341, interval=60)
    details = runs_api.get_run(run_id)
    assert details.run.members == 2 and details.run.alive == 2
    assert (details.run.min_step, details.run.max_step) == (12340, 12341)
    member = details.member(17)
    assert (member.host, member.step, member.epoch, member.metrics, member.interval) == (
        "gpu-node-03", 12340, 1.5, {"loss": 0.5}, 60.0)
    listed = list(runs_api.list_runs(host="gpu-node-04", page_size=1, limit=5))
    assert run_id in {run.run_id for run in listed}
    ended = runs_api.heartbeat(run_id, host="gpu-node-03", rank=17, phase=RunPhase.FAILED, step=12340,
                               message="CUDA error: an illegal memory access")
    assert ended.member_state == RunState.FAILED and ended.run_state == RunState.FAILED
    assert runs_api.get_run(run_id).member(17).message == "CUDA error: an illegal memory access"
    with pytest.raises(DiagdError) as raised:
        runs_api.get_run(f"pytest-never-{uuid.uuid4().hex[:8]}")
    assert raised.value.code == grpc.StatusCode.NOT_FOUND
