"""The end-to-end done criterion of issue #15 (runs and alerts), against a real
diagd: a two-process training script (ranks 0 and 1 of one run, diagd_client.init
with 1 s heartbeats and stuck_after=10) and a RUN_STATE rule with a Slack-compatible
destination (created with CreateAlertRule through the generated stub) that points
at a real HTTP receiver in this process. Rank 1 freezes in its main thread (its
heartbeat thread beats on): the receiver gets a Slack body (`text` and `blocks`)
saying "STUCK run <id>: rank 1 on <host> ..." within stuck_after plus a margin.
Then rank 0 is killed with SIGKILL: the receiver gets "LOST run <id>: rank 0 ..."
within three intervals plus a margin, GetRun shows rank 0 LOST (not FAILED, not
FINISHED), and no other alert is sent. This file owns that scenario only; the
run states themselves are tested in test_runs.py."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from diagd_client import RunPhase, RunState
from diagd_client._proto.diagnostics.v1 import diagnostics_pb2 as pb
from conftest import CLIENT_SRC, wait_for

HEARTBEAT_INTERVAL = 1.0
STUCK_AFTER = 10.0
FREEZE_AT = 5  # rank 1's last step
MARGIN = 10.0  # what the bounds allow beyond the configured times

TRAINING_SCRIPT = """
import os, time
import diagd_client
diagd_client.init(os.environ["DIAGD_TARGET"], run_id=os.environ["RUN_ID"], spool_dir=os.environ["SPOOL"],
                  follow_debug_mode=False, heartbeat_interval=float(os.environ["HEARTBEAT_INTERVAL"]),
                  stuck_after=float(os.environ["STUCK_AFTER"]))
freeze_at = int(os.environ["FREEZE_AT"])  # 0: never
step = 0
while True:
    step += 1
    diagd_client.set_step(step, epoch=step / 100, loss=1.0 / step)
    if step == 3:
        print("ready", flush=True)
    if step == freeze_at:
        print("frozen", flush=True)
        time.sleep(600)  # a hung collective: the main thread blocks, diagd_client's thread beats on
    time.sleep(0.2)
"""


class SlackReceiver:
    """A Slack-style incoming webhook on 127.0.0.1: records each POST (when, path,
    headers by lower-case name, JSON body) and answers 200 "ok"."""

    def __init__(self):
        self.posts = []
        self.changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    document = json.loads(body)
                except ValueError:
                    document = {"unparsable": body.decode(errors="replace")}
                headers = {name.lower(): value for name, value in self.headers.items()}
                with receiver.changed:
                    receiver.posts.append({"at": time.monotonic(), "path": self.path, "headers": headers,
                                           "body": document})
                    receiver.changed.notify_all()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T0000/B0000/pytest-secret-path"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, prefix: str, timeout: float, what: str) -> dict:
        """The first post whose text starts with `prefix`, waiting up to `timeout`."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                for post in self.posts:
                    text = post["body"].get("text")
                    if isinstance(text, str) and text.startswith(prefix):
                        return post
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(f"no Slack message {what} within {timeout}s; received: "
                                f"{[p['body'] for p in self.posts]}")
                self.changed.wait(left)

    def texts(self) -> list:
        with self.changed:
            return [post["body"].get("text") for post in self.posts]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    slack = SlackReceiver()
    yield slack
    slack.close()


def start_rank(diagd, run_id, spool_dir, rank: int, freeze_at: int, stderr_path) -> subprocess.Popen:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(CLIENT_SRC), env.get("PYTHONPATH", "")])
    for name in ("DIAGD_RUN_ID", "TORCHELASTIC_RUN_ID", "LOCAL_RANK", "WORLD_SIZE"):
        env.pop(name, None)
    env.update({"DIAGD_TARGET": diagd.target, "RUN_ID": run_id, "SPOOL": spool_dir, "RANK": str(rank),
                "WORLD_SIZE": "2", "HEARTBEAT_INTERVAL": str(HEARTBEAT_INTERVAL), "STUCK_AFTER": str(STUCK_AFTER),
                "FREEZE_AT": str(freeze_at)})
    with open(stderr_path, "w") as stderr:
        return subprocess.Popen([sys.executable, "-c", TRAINING_SCRIPT], env=env, stdout=subprocess.PIPE,
                                stderr=stderr, text=True)


def expect_line(child: subprocess.Popen, expected: str, stderr_path) -> None:
    line = child.stdout.readline()
    assert line.strip() == expected, (line, child.poll(), open(stderr_path).read())


def check_slack_shape(body: dict, run_id: str) -> None:
    """What a Slack (or Mattermost) incoming webhook accepts: a `text` fallback and
    `blocks`, the first a mrkdwn section with the summary, then a context block."""
    assert isinstance(body.get("text"), str) and body["text"], body
    assert isinstance(body.get("blocks"), list) and body["blocks"], body
    section = body["blocks"][0]
    assert section["type"] == "section", body
    escaped = body["text"].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert section["text"] == {"type": "mrkdwn", "text": f"*{escaped}*"}, body
    assert all(isinstance(block, dict) and block.get("type") for block in body["blocks"]), body
    contexts = [block for block in body["blocks"] if block["type"] == "context"]
    assert contexts and f"run `{run_id}`" in contexts[0]["elements"][0]["text"], body


def test_a_frozen_rank_is_named_in_a_slack_alert_and_a_killed_one_is_lost_not_crashed(
    diagd, client, run_id, tmp_path, receiver
):
    host = socket.gethostname()
    rule = client._stub.CreateAlertRule(pb.CreateAlertRuleRequest(rule=pb.AlertRule(
        name="pytest: training run stuck or lost",
        trigger=pb.ALERT_TRIGGER_RUN_STATE,  # run_states empty: stuck, lost, failed
        filter=pb.AlertFilter(run_id=run_id),
        destination_kind=pb.ALERT_DESTINATION_KIND_SLACK,
        url=receiver.url,
    )), timeout=10).rule
    assert rule.id and not rule.disabled and list(rule.run_states) == []
    children = {}
    logs = {rank: tmp_path / f"rank{rank}.stderr" for rank in (0, 1)}
    try:
        for rank, freeze_at in ((0, 0), (1, FREEZE_AT)):
            spool = tmp_path / f"spool{rank}"
            spool.mkdir()
            children[rank] = start_rank(diagd, run_id, str(spool), rank, freeze_at, logs[rank])
        for rank in (0, 1):
            expect_line(children[rank], "ready", logs[rank])
        expect_line(children[1], "frozen", logs[1])
        frozen_at = time.monotonic()

        # Rank 1 is frozen: a Slack message naming it, after stuck_after and within it plus the margin.
        stuck = receiver.wait_for(f"STUCK run {run_id}: ", STUCK_AFTER + MARGIN, "saying rank 1 is stuck")
        stuck_seconds = stuck["at"] - frozen_at
        check_slack_shape(stuck["body"], run_id)
        match = re.fullmatch(
            rf"STUCK run {re.escape(run_id)}: rank 1 on {re.escape(host)} stuck at step {FREEZE_AT} "
            rf"while 1 member is at (\d+)", stuck["body"]["text"])
        assert match, stuck["body"]["text"]
        assert int(match.group(1)) > FREEZE_AT
        assert STUCK_AFTER - 0.5 <= stuck_seconds <= STUCK_AFTER + MARGIN, stuck_seconds
        assert stuck["path"] == "/services/T0000/B0000/pytest-secret-path"
        assert stuck["headers"].get("content-type") == "application/json"
        assert children[0].poll() is None and children[1].poll() is None

        # Rank 0 is killed (no final heartbeat, no excepthook): LOST, naming it.
        children[0].send_signal(signal.SIGKILL)
        children[0].wait(timeout=10)
        killed_at = time.monotonic()
        lost = receiver.wait_for(f"LOST run {run_id}: ", 3 * HEARTBEAT_INTERVAL + MARGIN, "saying rank 0 is lost")
        lost_seconds = lost["at"] - killed_at
        check_slack_shape(lost["body"], run_id)
        match = re.fullmatch(
            rf"LOST run {re.escape(run_id)}: rank 0 on {re.escape(host)} lost at step (\d+) "
            rf"\(no heartbeat since \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)", lost["body"]["text"])
        assert match, lost["body"]["text"]
        lost_step = int(match.group(1))
        assert lost_step > FREEZE_AT
        assert 2 * HEARTBEAT_INTERVAL <= lost_seconds <= 3 * HEARTBEAT_INTERVAL + MARGIN, lost_seconds

        # GetRun agrees: rank 0 lost (not failed or finished, no message), rank 1 still stuck.
        details = client.get_run(run_id)
        rank0, rank1 = details.member(0), details.member(1)
        assert (rank0.state, rank0.phase, rank0.message, rank0.step, rank0.host, rank0.pid) == (
            RunState.LOST, RunPhase.TRAINING, "", lost_step, host, children[0].pid), rank0
        assert (rank1.state, rank1.step, rank1.host, rank1.pid) == (
            RunState.STUCK, FREEZE_AT, host, children[1].pid), rank1
        assert details.run.state == RunState.LOST and (details.run.lost, details.run.stuck) == (1, 1), details.run
        assert details.run.failed == 0 and details.run.finished == 0

        # Exactly those two alerts, both delivered once (no FAILED, no repeat).
        time.sleep(1.0)
        assert receiver.texts() == [stuck["body"]["text"], lost["body"]["text"]]
        expected = [(lost["body"]["text"], run_id, pb.ALERT_DELIVERY_STATE_DELIVERED),
                    (stuck["body"]["text"], run_id, pb.ALERT_DELIVERY_STATE_DELIVERED)]

        def deliveries():  # newest first; DELIVERED once the receiver's 200 is recorded
            listed = client._stub.ListAlertDeliveries(pb.ListAlertDeliveriesRequest(rule_id=rule.id), timeout=10)
            return [(d.summary, d.run_id, d.state) for d in listed.deliveries]

        wait_for(lambda: deliveries() == expected, 5, what=f"both alerts DELIVERED: {expected}")
        print(f"\nSTUCK after {stuck_seconds:.1f}s: {stuck['body']['text']}"
              f"\nLOST after {lost_seconds:.1f}s: {lost['body']['text']}")
    finally:
        for child in children.values():
            if child.poll() is None:
                child.kill()
            child.communicate(timeout=10)
        client._stub.DeleteAlertRule(pb.DeleteAlertRuleRequest(id=rule.id), timeout=10)
