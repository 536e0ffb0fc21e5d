"""Heartbeats without a diagd: set_step / set_phase become the HeartbeatRequest
the next heartbeat sends (limits applied), init()'s options are checked, the
final heartbeat (FINISHED at close, FAILED from the excepthook) is sent once
and nothing after it, a forked child gets no heartbeat thread, DiagdCallback
drives step and phase, and a diagd that is down never disturbs the process.
Requests are read from a recording stand-in for the Client; the real server's
answers are in test_runs.py."""

import os
import threading
import time

import pytest

import diagd_client
from diagd_client import RunPhase
from diagd_client import convert
from diagd_client._proto.diagnostics.v1 import diagnostics_pb2 as pb
from diagd_client.reporter import Reporter
from diagd_client.types import HeartbeatResult, RunState
from conftest import free_port, run_script


class RecordingClient:
    """Stands in for Client: records each heartbeat sent, answers ALIVE."""

    def __init__(self, delay: float = 0.0):
        self.heartbeats = []
        self.delay = delay
        self.lock = threading.Lock()

    def send_heartbeat(self, request, timeout=None):
        if self.delay:
            time.sleep(self.delay)
        with self.lock:
            self.heartbeats.append((pb.HeartbeatRequest.FromString(request.SerializeToString()), timeout))
        return HeartbeatResult(RunState.ALIVE, RunState.ALIVE)

    def phases(self):
        with self.lock:
            return [RunPhase(request.phase) for request, _ in self.heartbeats]

    def ingest_messages(self, requests, timeout=None):  # the spool's backlog: nothing here
        raise AssertionError("no errors are delivered in these tests")

    def close(self):
        pass


def offline_reporter(**options) -> Reporter:
    """A Reporter against a port nobody listens on; no thread started."""
    options.setdefault("run_id", "unit-run")
    return Reporter(f"127.0.0.1:{free_port()}", follow_debug_mode=False, **options)


@pytest.fixture
def reporter(tmp_path, monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    created = offline_reporter(heartbeat_interval=5, stuck_after=20, spool_dir=str(tmp_path / "spool"))
    yield created
    created.close(0.1, finish=False)


def test_set_step_and_set_phase_become_the_next_heartbeat_request(reporter):
    first = reporter.heartbeats.request()
    assert (first.run_id, first.host, first.rank, first.pid) == ("unit-run", reporter.source.host, -1, os.getpid())
    assert first.phase == pb.RUN_PHASE_STARTING
    assert not first.HasField("step") and not first.HasField("epoch") and not first.metrics
    assert first.interval.ToTimedelta().total_seconds() == 5 and first.stuck_after.ToTimedelta().total_seconds() == 20
    assert first.message == ""

    reporter.set_step(7, epoch=0.25, loss=2.5, lr=1e-4)
    request = reporter.heartbeats.request()
    assert request.phase == pb.RUN_PHASE_TRAINING  # the first step ends STARTING
    assert (request.step, request.epoch, dict(request.metrics)) == (7, 0.25, {"loss": 2.5, "lr": 1e-4})

    # The epoch is kept when not given; metrics merge; a NaN removes its name.
    reporter.set_step(8, loss=float("nan"), grad_norm=1.5)
    request = reporter.heartbeats.request()
    assert (request.step, request.epoch, dict(request.metrics)) == (8, 0.25, {"lr": 1e-4, "grad_norm": 1.5})

    for phase, expected in (("evaluating", pb.RUN_PHASE_EVALUATING), ("SAVING", pb.RUN_PHASE_SAVING),
                            (RunPhase.TRAINING, pb.RUN_PHASE_TRAINING), ("run_phase_starting", pb.RUN_PHASE_STARTING)):
        reporter.set_phase(phase)
        assert reporter.heartbeats.request().phase == expected
    reporter.set_step(9)  # a step moves a STARTING member to TRAINING ...
    assert reporter.heartbeats.request().phase == pb.RUN_PHASE_TRAINING
    reporter.set_phase("evaluating")
    reporter.set_step(10)  # ... and leaves any other phase as it is
    assert reporter.heartbeats.request().phase == pb.RUN_PHASE_EVALUATING

    # The module-level functions reach init()'s reporter (and do nothing without one).
    diagd_client.shutdown()
    diagd_client.set_step(1)
    diagd_client.set_phase("training")


def test_set_step_is_thread_safe(reporter):
    def writer(offset):
        for step in range(2000):
            reporter.set_step(offset + step, epoch=step / 100, **{f"m{offset}": step})

    threads = [threading.Thread(target=writer, args=(offset,)) for offset in (0, 100_000)]
    for thread in threads:
        thread.start()
    requests = []
    while any(thread.is_alive() for thread in threads):
        requests.append(reporter.heartbeats.request())
    for thread in threads:
        thread.join()
    final = reporter.heartbeats.request()
    assert dict(final.metrics) == {"m0": 1999, "m100000": 1999}
    assert final.step in (1999, 101_999)


def test_the_request_keeps_to_diagds_limits(reporter, monkeypatch, capfd):
    reporter.set_step(1, **{f"metric_{i:02d}": i for i in range(40)})
    reporter.set_step(2, **{"x" * 65: 1.0, "ok": float("inf"), "fine": True})
    request = reporter.heartbeats.request()
    assert len(request.metrics) == convert.MAX_METRICS == 32
    assert set(request.metrics) == {f"metric_{i:02d}" for i in range(32)}
    err = capfd.readouterr().err
    assert "at most 32 metrics" in err and "metric names are 1 to 64 bytes" in err
    assert err.count("at most 32 metrics") == 1  # said once

    # Invalid values are ignored, never raised.
    reporter.set_step("twelve")
    reporter.set_step(3, epoch=float("nan"))
    reporter.set_phase("sleeping")
    assert reporter.heartbeats.request().step == 3 and reporter.heartbeats.request().phase == pb.RUN_PHASE_TRAINING
    err = capfd.readouterr().err
    assert "the step must be an integer" in err and "unknown phase 'sleeping'" in err

    # run_id is cut exactly as a log's source.run_id, so both name one run; message and host too.
    long_id = "r" * 300
    request = convert.heartbeat_request(long_id, host="", rank=1_000_001, pid=1, message="m" * 2000, step=2 ** 70)
    assert request.run_id == convert.source_to_proto(diagd_client.Source(run_id=long_id)).run_id
    assert len(request.run_id.encode()) <= 256 and len(request.message.encode()) <= 1024
    assert (request.host, request.rank, request.step) == ("unknown-host", -1, 2 ** 63 - 1)


def test_rank_comes_from_torchruns_environment_or_the_labels(tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "17")
    assert offline_reporter(spool_dir=str(tmp_path)).heartbeats.request().rank == 17
    assert offline_reporter(spool_dir=str(tmp_path), labels={"rank": "3"}).heartbeats.request().rank == 3
    monkeypatch.setenv("RANK", "not-a-rank")
    assert offline_reporter(spool_dir=str(tmp_path)).heartbeats.request().rank == -1


def test_init_checks_the_heartbeat_options_and_turns_heartbeats_off(tmp_path, monkeypatch):
    monkeypatch.delenv("DIAGD_RUN_ID", raising=False)
    monkeypatch.delenv("TORCHELASTIC_RUN_ID", raising=False)
    for options in ({"heartbeat_interval": 0.5}, {"heartbeat_interval": 3601}, {"stuck_after": 9},
                    {"stuck_after": 8 * 86400}):
        with pytest.raises(ValueError):
            offline_reporter(spool_dir=str(tmp_path), **options)
    assert offline_reporter(spool_dir=str(tmp_path)).heartbeats.interval == 30  # the default
    assert not offline_reporter(spool_dir=str(tmp_path), heartbeat_interval=0).heartbeats.enabled
    assert not offline_reporter(spool_dir=str(tmp_path), heartbeat_interval=None).heartbeats.enabled
    # Without a run id given (one made up per process) there are no heartbeats ...
    assert not offline_reporter(spool_dir=str(tmp_path), run_id=None).heartbeats.enabled
    # ... with $DIAGD_RUN_ID or torchrun's $TORCHELASTIC_RUN_ID there are.
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "elastic-7")
    heartbeats = offline_reporter(spool_dir=str(tmp_path), run_id=None).heartbeats
    assert heartbeats.enabled and heartbeats.request().run_id == "elastic-7"


def test_the_thread_beats_at_the_interval_and_the_end_is_sent_once_with_nothing_after(reporter, monkeypatch):
    fake = RecordingClient()
    monkeypatch.setattr(reporter, "_get_client", lambda: fake)
    reporter.heartbeats.interval = 1.0  # diagd's minimum
    started = time.monotonic()
    reporter.start()
    assert [t.name for t in threading.enumerate()].count("diagd-heartbeat") == 1
    reporter.set_step(5)
    while len(fake.heartbeats) < 3 and time.monotonic() < started + 5:
        time.sleep(0.02)
    assert len(fake.heartbeats) == 3 and fake.heartbeats[-1][0].step == 5
    assert 1.9 < time.monotonic() - started < 3.5  # the first at once, then one a second
    assert all(timeout == 5.0 for _, timeout in fake.heartbeats)  # each a short unary call
    reporter.close(2.0)
    assert fake.phases()[-1] == RunPhase.FINISHED
    sent = len(fake.heartbeats)
    time.sleep(0.4)
    assert len(fake.heartbeats) == sent  # nothing after the end
    assert fake.phases().count(RunPhase.FINISHED) == 1
    assert reporter.heartbeats._thread is None or not reporter.heartbeats._thread.is_alive()


def test_close_without_finish_and_an_ended_member_send_no_final_heartbeat(reporter, monkeypatch):
    fake = RecordingClient()
    monkeypatch.setattr(reporter, "_get_client", lambda: fake)
    reporter.set_phase("failed", message="data loader exhausted")
    [(request, _)] = fake.heartbeats
    assert (request.phase, request.message) == (pb.RUN_PHASE_FAILED, "data loader exhausted")
    reporter.set_step(10)
    reporter.set_phase("training")
    reporter.close(1.0)  # already ended: no FINISHED after FAILED
    assert len(fake.heartbeats) == 1

    other = offline_reporter(spool_dir=reporter.spool.directory)
    monkeypatch.setattr(other, "_get_client", lambda: fake)
    other.close(1.0, finish=False)
    assert len(fake.heartbeats) == 1


def test_the_excepthook_sends_failed_with_the_errors_summary_within_the_flush_deadline(reporter, monkeypatch):
    fake = RecordingClient()
    monkeypatch.setattr(reporter, "_get_client", lambda: fake)
    def delivered(batch, deadline=None):  # the error itself, as if diagd took it
        for item in batch:
            reporter.spool.remove(item.path)
        return True

    monkeypatch.setattr(reporter, "_send_batch", delivered)
    monkeypatch.setattr(reporter, "_previous_excepthook", lambda *args: None, raising=False)
    reporter.flush_timeout = 1.5
    try:
        raise RuntimeError("NCCL timeout on rank 3\nsecond line token=abcdef")
    except RuntimeError as error:
        reporter.excepthook(RuntimeError, error, error.__traceback__)
    [(request, timeout)] = fake.heartbeats
    assert request.phase == pb.RUN_PHASE_FAILED
    assert request.message == "RuntimeError: NCCL timeout on rank 3"
    assert 0 < timeout <= 1.5
    reporter.close(1.0)  # the atexit hook after it: no FINISHED
    assert fake.phases() == [RunPhase.FAILED]


def test_a_slow_regular_heartbeat_does_not_follow_the_final_one(reporter, monkeypatch):
    fake = RecordingClient(delay=0.5)
    monkeypatch.setattr(reporter, "_get_client", lambda: fake)
    in_flight = threading.Thread(target=reporter.heartbeats.send)
    in_flight.start()
    time.sleep(0.1)  # the regular heartbeat holds the send lock
    reporter.close(3.0)
    in_flight.join()
    assert fake.phases() == [RunPhase.STARTING, RunPhase.FINISHED]


def test_a_forked_child_gets_no_heartbeat_thread_and_sends_nothing(reporter, monkeypatch):
    fake = RecordingClient()
    monkeypatch.setattr(reporter, "_get_client", lambda: fake)
    reporter.heartbeats.interval = 1.0
    reporter.start()
    while not fake.heartbeats:
        time.sleep(0.01)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            reporter.set_step(99)
            reporter.set_phase("evaluating")
            time.sleep(0.3)
            names = [t.name for t in threading.enumerate()]
            reporter.close(0.5)  # as the atexit hook would: no final heartbeat from a forked child
            ok = "diagd-heartbeat" not in names and reporter.heartbeats._thread is None
            os.write(write, b"ok" if ok else repr(names).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    answer = os.read(read, 1000)
    os.close(read)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0 and answer == b"ok", answer
    assert all(request.pid == os.getpid() for request, _ in fake.heartbeats)
    assert all(request.step != 99 and request.phase != pb.RUN_PHASE_FINISHED for request, _ in fake.heartbeats)
    assert reporter.heartbeats._thread.is_alive()  # the parent beats on


def _worker_that_raises():
    raise ValueError("worker failed")


def test_forking_while_a_heartbeat_is_in_flight_crashes_no_process(tmp_path):
    """The first heartbeat leaves at once from init(); a DataLoader-style fork right
    after it, without the fork guard, killed about one child in four with SIGSEGV or
    SIGBUS inside gRPC (and at times the parent). Run in a child Python, so that a
    crash of the parent cannot take pytest with it."""
    script = (
        "import multiprocessing, os, sys, diagd_client\n"
        "sys.path.insert(0, os.environ['TESTS'])\n"
        "from test_heartbeats import _worker_that_raises\n"
        "codes = []\n"
        "for _ in range(40):\n"
        "    diagd_client.init(os.environ['T'], run_id='fork-guard', spool_dir=os.environ['S'], heartbeat_interval=1,\n"
        "                      follow_debug_mode=False, install_logging_handler=False, timeout=0.5, flush_timeout=0.5)\n"
        "    child = multiprocessing.get_context('fork').Process(target=_worker_that_raises)\n"
        "    child.start(); child.join(20)\n"
        "    codes.append(child.exitcode)\n"
        "    diagd_client.shutdown(0.2)\n"
        "print(codes)\n"
    )
    finished = run_script(script, {"T": f"127.0.0.1:{free_port()}", "S": str(tmp_path / "spool"),
                                   "TESTS": os.path.dirname(__file__)}, timeout=120)
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert finished.stdout.strip() == str([1] * 40), finished.stdout
    assert "skipping fork() handlers" not in finished.stderr


def test_a_diagd_that_is_down_never_disturbs_the_process(tmp_path):
    """Heartbeats to a port nobody listens on: the script runs, exits 0 at once and
    says nothing; an uncaught error still exits within the flush deadline."""
    script = (
        "import os, sys, time, diagd_client\n"
        "reporter = diagd_client.init(os.environ['T'], run_id='down', heartbeat_interval=1, spool_dir=os.environ['S'],\n"
        "                             follow_debug_mode=False, timeout=0.5)\n"
        "for step in range(25):\n"
        "    diagd_client.set_step(step, loss=1.0 / (step + 1)); time.sleep(0.1)\n"
        "print(reporter.heartbeats.sent, reporter.heartbeats.failed)\n"
        "if os.environ.get('FAIL'): raise RuntimeError('boom')\n"
    )
    for fail in ("", "1"):
        spool = str(tmp_path / f"spool-{fail or 'ok'}")
        started = time.monotonic()
        finished = run_script(script, {"T": f"127.0.0.1:{free_port()}", "S": spool, "FAIL": fail}, timeout=30)
        elapsed = time.monotonic() - started
        sent, failed = map(int, finished.stdout.split())
        assert sent == 0 and failed >= 2, finished.stdout
        assert elapsed < 2.5 + 1.5 + 3, elapsed  # the loop, the interpreter, the exit deadline
        if fail:
            assert finished.returncode == 1 and "RuntimeError: boom" in finished.stderr
            assert "diagd_client:" not in finished.stderr, finished.stderr
        else:
            assert finished.returncode == 0 and finished.stderr == "", finished.stderr


def test_the_transformers_callback_feeds_step_loss_and_phase(reporter, monkeypatch):
    pytest.importorskip("transformers", reason="transformers is not installed: pip install transformers")
    from transformers import TrainerControl, TrainerState, TrainingArguments
    from transformers.trainer_callback import CallbackHandler, DefaultFlowCallback

    from diagd_client.integrations.transformers import DiagdCallback

    args = TrainingArguments(output_dir=str(reporter.spool.directory) + "-out", eval_strategy="steps", eval_steps=4,
                             save_strategy="steps", save_steps=6, logging_steps=2, report_to=[])
    state, control = TrainerState(), TrainerControl()
    state.max_steps = 12
    state.logging_steps, state.eval_steps, state.save_steps = 2, 4, 6  # as Trainer copies them from args
    handler = CallbackHandler([DefaultFlowCallback(), DiagdCallback(reporter)], None, None, None, None)
    phase = lambda: RunPhase(reporter.heartbeats.request().phase)  # noqa: E731

    assert phase() == RunPhase.STARTING
    handler.on_train_begin(args, state, control)
    assert phase() == RunPhase.TRAINING
    seen = []
    for step in range(1, 13):
        state.global_step, state.epoch = step, step / 12
        control = handler.on_step_end(args, state, control)  # DefaultFlowCallback decides evaluate/save first
        seen.append((step, phase()))
        if control.should_log:
            control = handler.on_log(args, state, control, logs={"loss": 3.0 - step / 10, "learning_rate": 1e-4,
                                                                "epoch": state.epoch, "note": "text"})
            control.should_log = False
        if control.should_evaluate:
            handler.on_prediction_step(args, state, control)
            assert phase() == RunPhase.EVALUATING
            control = handler.on_evaluate(args, state, control, metrics={"eval_loss": 0.5})
            control.should_evaluate = False
            seen.append((step, phase()))
        if control.should_save:
            control = handler.on_save(args, state, control)
            control.should_save = False
            seen.append((step, phase()))
    # step 4 and 8: evaluate; step 6: save; step 12: both (evaluate, then save)
    assert seen[:5] == [(1, RunPhase.TRAINING), (2, RunPhase.TRAINING), (3, RunPhase.TRAINING),
                        (4, RunPhase.EVALUATING), (4, RunPhase.TRAINING)]
    assert (6, RunPhase.SAVING) in seen and (12, RunPhase.EVALUATING) in seen and seen[-2:] == [
        (12, RunPhase.SAVING), (12, RunPhase.TRAINING)]
    request = reporter.heartbeats.request()
    assert (request.step, request.epoch) == (12, 1.0)
    assert dict(request.metrics) == {"loss": pytest.approx(3.0 - 1.2), "learning_rate": 1e-4}
    handler.on_train_end(args, state, control)
