"""diagd's debug-mode switch changes what a running training process ships:
while it is on, WARNING records are shipped (with timing) and INFO records are
kept as recent actions; when it goes off, warnings stop being shipped."""

import subprocess
import sys
import time
import os

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
