"""Forks and the reporter's life cycle: a child forked while another thread held
the spool lock neither hangs nor blocks its parent; a forked child only spools
(no channel, no thread) and the running parent's sender delivers what it
spooled; a second init() keeps reporting multiprocessing children; init()
works with an unwritable HOME (temporary directory, then memory); shutdown()
closes the channel and forgets the fork hook."""

import multiprocessing
import os
import tempfile
import threading
import time

import pytest

import diagd_client
from diagd_client import reporter as reporter_module
from diagd_client import spool as spool_module
from diagd_client._proto.diagnostics.v1 import diagnostics_pb2 as pb
from conftest import logs_of_run, run_script, spooled_files, wait_for


def _wait_child(pid, timeout):
    """The child's exit status, or None (the child is killed) when it did not end in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.05)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    return None


def test_a_child_forked_while_the_spool_lock_is_held_neither_hangs_nor_blocks_its_parent(
    server, client, run_id, spool_dir
):
    reporter = diagd_client.init(server.target, run_id=run_id, spool_dir=spool_dir, follow_debug_mode=False,
                                 install_excepthooks=False, install_logging_handler=False, rescan_interval=0.3)
    try:
        held, release = threading.Event(), threading.Event()

        def hold_the_lock():
            with reporter.spool._locked():
                held.set()
                release.wait(10)

        holder = threading.Thread(target=hold_the_lock)
        holder.start()
        assert held.wait(5)
        pid = os.fork()
        if pid == 0:  # the child: its write must not wait on the lock the parent's thread held
            code = 1
            try:
                event_id = diagd_client.capture_message("written by a child forked under the spool lock")
                # spooled only: no channel and no thread in a forked child
                code = 0 if event_id and reporter._client is None and reporter._sender is None else 2
                time.sleep(4)  # stay alive (with every inherited descriptor) while the parent writes
            finally:
                os._exit(code)
        release.set()
        holder.join(5)
        started = time.monotonic()
        assert diagd_client.capture_message("written by the parent while the child lives")
        assert time.monotonic() - started < 2.5
        assert os.waitpid(pid, os.WNOHANG) == (0, 0), "the child should still be alive here"
        status = _wait_child(pid, 20)
        assert status is not None, "the forked child hung on the spool lock"
        assert os.waitstatus_to_exitcode(status) == 0
        # The parent's running sender rescans the spool and delivers the child's error too.
        wait_for(lambda: len(logs_of_run(client, run_id)) == 2, 15, what="both errors in diagd")
        assert sorted(log.message for log in logs_of_run(client, run_id)) == [
            "written by a child forked under the spool lock", "written by the parent while the child lives"]
        wait_for(lambda: not spooled_files(spool_dir), 10, what="an empty spool")
    finally:
        diagd_client.shutdown(timeout=1)


def _worker_that_raises():
    raise ValueError("worker failed after a second init()")


def test_after_a_second_init_a_failed_multiprocessing_child_is_reported_and_delivered_by_the_running_parent(
    server, client, run_id, spool_dir
):
    for _ in range(2):
        diagd_client.init(server.target, run_id=run_id, spool_dir=spool_dir, follow_debug_mode=False,
                          install_logging_handler=False, rescan_interval=0.3)
    try:
        child = multiprocessing.get_context("fork").Process(target=_worker_that_raises, name="worker-5")
        child.start()
        child.join(20)
        assert child.exitcode == 1
        # The child only spooled it (fsynced); the parent, still running, delivers it.
        [log] = wait_for(lambda: logs_of_run(client, run_id), 15, what="the child's error in diagd")
        assert log.message == "ValueError: worker failed after a second init()"
        assert log.context["process"] == "worker-5" and log.source.labels["pid"] == str(child.pid)
        wait_for(lambda: not spooled_files(spool_dir), 10, what="an empty spool")
    finally:
        diagd_client.shutdown(timeout=1)


def test_init_with_an_unwritable_home_spools_in_the_temporary_directory(client, diagd, run_id):
    finished = run_script(
        "import os, diagd_client\n"
        "reporter = diagd_client.init(os.environ['T'], run_id=os.environ['R'], follow_debug_mode=False)\n"
        "print(reporter.spool.directory)\n"
        "assert diagd_client.capture_message('spooled despite an unwritable HOME')\n"
        "assert diagd_client.flush(10)\n",
        {"T": diagd.target, "R": run_id, "HOME": "/proc/self/no-home", "XDG_CACHE_HOME": "",
         "DIAGD_SPOOL_DIR": ""},
    )
    assert finished.returncode == 0, finished.stderr
    assert "cannot use the spool directory /proc/self/no-home" in finished.stderr
    assert finished.stdout.strip().startswith(os.path.join(tempfile.gettempdir(), "diagd-spool-"))
    assert [log.message for log in logs_of_run(client, run_id)] == ["spooled despite an unwritable HOME"]


def test_init_without_any_writable_spool_or_register_at_fork_still_reports(
    client, diagd, run_id, monkeypatch, capfd
):
    monkeypatch.setattr(spool_module, "_fallback_spool_dir", lambda target: "/proc/self/no-tmp")
    monkeypatch.delattr(os, "register_at_fork")
    monkeypatch.setattr(reporter_module, "_fork_hook_registered", False)
    reporter = diagd_client.init(diagd.target, run_id=run_id, spool_dir="/proc/self/no-spool",
                                 follow_debug_mode=False, install_excepthooks=False, install_logging_handler=False)
    try:
        assert reporter.spool.in_memory
        assert "in memory only" in capfd.readouterr().err
        assert diagd_client.capture_message("kept in memory, then delivered")
        wait_for(lambda: logs_of_run(client, run_id), 15, what="the error in diagd")
        assert reporter.spool.pending_count() == 0
    finally:
        diagd_client.shutdown(timeout=1)


def test_shutdown_closes_the_channel_and_forgets_the_reporter_at_fork(client, diagd, run_id, spool_dir):
    reporters, clients = [], []
    for _ in range(3):
        reporters.append(diagd_client.init(diagd.target, run_id=run_id, spool_dir=spool_dir,
                                           follow_debug_mode=False, install_logging_handler=False))
        assert diagd_client.capture_message("one per init()")
        assert diagd_client.flush(10)
        clients.append(reporters[-1]._client)  # the channel this reporter delivered through
    diagd_client.shutdown(timeout=1)
    assert len(logs_of_run(client, run_id)) == 3
    assert not set(reporter_module._fork_reporters) & set(reporters)
    assert all(reporter._client is None for reporter in reporters)
    # Every replaced or shut-down reporter's channel is closed: nothing goes through it.
    for closed in clients:
        with pytest.raises(ValueError, match="closed channel"):
            closed._stub.GetStats(pb.GetStatsRequest(), timeout=1)
