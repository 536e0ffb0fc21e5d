"""diagd's debug-mode switch changes what a running training process ships:
while it is on, WARNING records are shipped (with timing) and INFO records are
kept as recent actions; when it goes off, warnings stop being shipped. While the stream is lost, the
process runs at its normal level."""

import logging
import os
import subprocess
import sys
import time

import diagd_client
from diagd_client import Severity
from conftest import CLIENT_SRC, wait_for

TICKING_SCRIPT = """
import logging, os, time
import diagd_client
diagd_client.init(os.environ["DIAGD_TARGET"], run_id=os.environ["RUN_ID"], spool_dir=os.environ["SPOOL"])
train = logging.getLogger("train")
step = 0
while not os.path.exists(os.environ["STOP"]) and step < 600:
    train.info("step %d done", step)
    train.warning("tick %d: grad norm high", step)
    step += 1
    time.sleep(0.05)
"""


def test_debug_mode_switch_changes_what_a_running_client_ships(client, diagd, run_id, spool_dir, tmp_path):
    stop_file = tmp_path / "stop"
    env = dict(os.environ, DIAGD_TARGET=diagd.target, RUN_ID=run_id, SPOOL=spool_dir, STOP=str(stop_file),
               PYTHONPATH=str(CLIENT_SRC))
    trainer = subprocess.Popen([sys.executable, "-c", TICKING_SCRIPT], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def shipped():
        return client.count_logs(source={"run_id": run_id})

    try:
        time.sleep(1.5)  # ticking with debug mode off
        assert shipped() == 0
        client.set_debug_mode(True, changed_by="pytest")
        wait_for(lambda: shipped() >= 3, 10, what="warnings shipped in debug mode")
        [tick] = list(client.list_logs(source={"run_id": run_id}, full=True, limit=1))
        assert tick.message.startswith("tick ") and tick.severity == Severity.MEDIUM
        assert tick.context["logger"] == "train" and "ms_since_start" in tick.context["timing"]
        info_actions = [a for a in tick.recent_actions if a.action.startswith("step ")]
        assert info_actions and "ms_since_previous_record" in info_actions[-1].details["timing"]

        client.set_debug_mode(False, changed_by="pytest")

        def settled():
            before = shipped()
            time.sleep(1.0)
            return shipped() == before

        wait_for(settled, 10, what="shipping to stop after debug mode went off")
        count = shipped()
        time.sleep(1.0)
        assert shipped() == count
        assert trainer.poll() is None  # still ticking, just not shipping
    finally:
        client.set_debug_mode(False, changed_by="pytest")
        stop_file.touch()
        trainer.wait(10)


def test_when_the_debug_mode_stream_drops_the_logger_returns_to_its_normal_level(server, client, run_id, spool_dir):
    logger = logging.getLogger(f"debug-stream-{run_id}")
    logger.setLevel(logging.INFO)
    reporter = diagd_client.init(server.target, run_id=run_id, spool_dir=spool_dir, logger=logger,
                                 install_excepthooks=False, retry_initial_backoff=0.1, retry_max_backoff=0.5)
    try:
        client.set_debug_mode(True, changed_by="pytest")
        wait_for(lambda: logger.level == logging.DEBUG, 10, what="debug mode followed")
        server.stop()  # the stream drops while debug mode is on
        wait_for(lambda: logger.level == logging.INFO and not reporter.debug_mode, 10,
                 what="the normal level while diagd is unreachable")
        server.start()  # back, still in debug mode: verbose again
        wait_for(lambda: logger.level == logging.DEBUG and reporter.debug_mode, 15, what="debug mode followed again")
        client.set_debug_mode(False, changed_by="pytest")
        wait_for(lambda: logger.level == logging.INFO, 10, what="debug mode off followed")
    finally:
        if server.process.poll() is None:
            client.set_debug_mode(False, changed_by="pytest")
        diagd_client.shutdown(timeout=1)
    assert logger.level == logging.INFO
