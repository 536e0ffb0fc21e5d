"""Test harness: one real diagd (binary from $DIAGD_BIN, default
<repo>/target/debug/diagd) on a free port with its embedded PostgreSQL, shared
by the whole session; tests that need diagd down stop it and start it again on
the same port and data directory. Helpers wait for what the server stores."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Callable, List, Optional, TypeVar

import pytest

from diagd_client import Client, DiagdError, LogFilter, Source
from diagd_client import convert
from diagd_client._proto.diagnostics.v1 import diagnostics_pb2 as pb

REPO_ROOT = pathlib.Path(__file__).resolve().parents[3]
CLIENT_SRC = pathlib.Path(__file__).resolve().parents[1] / "src"
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(probe: Callable[[], Optional[T]], timeout: float = 15.0, interval: float = 0.1, what: str = "") -> T:
    """Calls `probe` until it answers something truthy; fails the test after `timeout`."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = probe()
            if value:
                return value
        except DiagdError as error:
            last_error = error
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {what or probe} (last error: {last_error})")


class DiagdServer:
    """A diagd serve process on a fixed port and data directory."""

    def __init__(self, binary: str, data_dir: str, extra_args: List[str] = (), probe_tls=None):
        self.binary = binary
        self.data_dir = data_dir
        self.port = free_port()
        self.target = f"127.0.0.1:{self.port}"
        self.extra_args = list(extra_args)
        self.probe_tls = probe_tls  # a TlsConfig when diagd serves TLS
        self.process: Optional[subprocess.Popen] = None
        self.log_path = os.path.join(tempfile.gettempdir(), f"diagd-pytest-{self.port}.log")

    def start(self, timeout: float = 90.0) -> None:
        log_file = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [self.binary, "serve", "--listen", self.target, "--data-dir", self.data_dir,
             "--shutdown-grace-secs", "1", *self.extra_args],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env={k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
        )
        log_file.close()
        client = Client(self.target, timeout=1.0, tls=self.probe_tls)
        try:
            deadline = time.monotonic() + timeout
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"diagd exited with {self.process.returncode}; see {self.log_path}:\n{self.log_tail()}")
                try:
                    client.stats()
                    return
                except DiagdError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"diagd did not answer within {timeout}s:\n{self.log_tail()}")
                    time.sleep(0.2)
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def log_tail(self) -> str:
        try:
            return pathlib.Path(self.log_path).read_text(errors="replace")[-3000:]
        except OSError:
            return ""


@pytest.fixture(scope="session")
def diagd_binary() -> str:
    binary = os.environ.get("DIAGD_BIN") or str(REPO_ROOT / "target" / "debug" / "diagd")
    if not os.path.isfile(binary):
        pytest.fail(f"no diagd binary at {binary}: build it (cargo build) or set DIAGD_BIN")
    return binary


@pytest.fixture(scope="session")
def diagd(diagd_binary) -> DiagdServer:
    """The session's diagd (running at the start of every test)."""
    data_dir = tempfile.mkdtemp(prefix="diagd-pytest-")
    os.chmod(data_dir, 0o755)  # the embedded cluster runs as the postgres user when we are root
    server = DiagdServer(diagd_binary, data_dir)
    server.start()
    yield server
    server.stop()
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def server(diagd) -> DiagdServer:
    """The session's diagd, restarted after the test if the test stopped it."""
    yield diagd
    if diagd.process is None or diagd.process.poll() is not None:
        diagd.start()


@pytest.fixture
def client(diagd) -> Client:
    with Client(diagd.target, timeout=5.0) as c:
        yield c


@pytest.fixture
def run_id() -> str:
    """A run id of its own for each test, to find exactly that test's logs."""
    return f"pytest-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def spool_dir(tmp_path) -> str:
    path = tmp_path / "spool"
    path.mkdir()
    return str(path)


def run_script(code: str, env: dict, timeout: float = 60.0) -> subprocess.CompletedProcess:
    """Runs `code` in a fresh Python with diagd_client importable."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = os.pathsep.join([str(CLIENT_SRC), full_env.get("PYTHONPATH", "")])
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-c", code], env=full_env, capture_output=True, text=True, timeout=timeout
    )


def logs_of_run(client: Client, run_id: str, full: bool = True, **conditions):
    return list(client.list_logs(source=Source(run_id=run_id), full=full, **conditions))


def recorded_actions(client: Client, run_id: str) -> list:
    """The actions diagd recorded for `run_id` (RecordAction), newest first, read back
    the one way diagd exposes them: in a diagnostic report (GenerateReport, then
    DownloadReport's JSON document)."""
    log_filter = convert.log_filter_to_proto(LogFilter(source=Source(run_id=run_id)))
    report = client._stub.GenerateReport(pb.GenerateReportRequest(filter=log_filter, max_errors=1), timeout=10).report
    document = b"".join(
        chunk.chunk for chunk in client._stub.DownloadReport(pb.DownloadReportRequest(report_id=report.report_id), timeout=10)
    )
    return json.loads(document)["recent_actions"]


def spooled_files(spool_dir: str) -> list:
    return sorted(name for name in os.listdir(spool_dir) if name.endswith(".pb"))
