"""Harness of the OpenTelemetry SDK → diagd test: real diagd processes (binary
from $DIAGD_BIN, default <repo>/target/debug/diagd) on free loopback ports with
their embedded PostgreSQL in a throwaway data directory, started the way
clients/python/tests/conftest.py starts them, plus the OTLP/HTTP listener
(`--otlp-http-listen`). Owns: starting and stopping them, running emit_logs.py
(the SDK side) in a fresh interpreter, waiting for what diagd stored, and
waiting until diagd follows a debug-mode switch.

Two servers at most, each started on first use: `diagd` (no tokens: loopback,
as on a workstation) and `diagd_with_tokens` (ingest and admin tokens).
"""

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
from typing import Callable, List, Optional

import pytest

from diagd_client import Client, DiagdError, LogEntry, Source

HERE = pathlib.Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
EMIT_SCRIPT = HERE / "emit_logs.py"

INGEST_TOKEN = "otel-sdk-ingest-token"
ADMIN_TOKEN = "otel-sdk-admin-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_has_flag(binary: str, flag: str) -> bool:
    help_text = subprocess.run([binary, "serve", "--help"], capture_output=True, text=True, timeout=30).stdout
    return flag in help_text


class DiagdServer:
    """One `diagd serve` with its embedded PostgreSQL in its own data directory."""

    def __init__(self, binary: str, name: str, tokens: bool = False):
        self.binary = binary
        self.data_dir = tempfile.mkdtemp(prefix=f"diagd-otel-{name}-")
        os.chmod(self.data_dir, 0o755)  # the embedded cluster runs as the postgres user when we are root
        self.port = free_port()
        self.target = f"127.0.0.1:{self.port}"
        # None while this diagd binary has no OTLP/HTTP listener (the HTTP tests then fail, saying so).
        self.http_port: Optional[int] = free_port() if serve_has_flag(binary, "--otlp-http-listen") else None
        self.tokens = tokens
        self.log_path = os.path.join(self.data_dir, "diagd.log")
        self.process: Optional[subprocess.Popen] = None

    @property
    def http_logs_url(self) -> Optional[str]:
        return None if self.http_port is None else f"http://127.0.0.1:{self.http_port}/v1/logs"

    @property
    def admin_token(self) -> Optional[str]:
        return ADMIN_TOKEN if self.tokens else None

    def start(self, timeout: float = 90.0) -> None:
        args = [self.binary, "serve", "--listen", self.target, "--data-dir", self.data_dir,
                "--shutdown-grace-secs", "1"]
        if self.http_port is not None:
            args += ["--otlp-http-listen", f"127.0.0.1:{self.http_port}"]
        if self.tokens:
            args += ["--ingest-tokens", INGEST_TOKEN, "--admin-tokens", ADMIN_TOKEN]
        # The embedded default (no DATABASE_URL), and none of the caller's diagd settings.
        env = {k: v for k, v in os.environ.items()
               if k != "DATABASE_URL" and not (k.startswith("DIAGD_") and k not in ("DIAGD_LOG", "DIAGD_LOG_FORMAT"))}
        with open(self.log_path, "ab") as log_file:
            self.process = subprocess.Popen(args, stdout=log_file, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        with self.client(timeout=1.0) as client:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"diagd exited with {self.process.returncode}:\n{self.log_tail()}")
                try:
                    client.stats()
                    return
                except DiagdError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"diagd did not answer within {timeout}s:\n{self.log_tail()}")
                    time.sleep(0.2)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def client(self, timeout: float = 5.0) -> Client:
        """A diagd_client.Client for reading back (admin token when tokens are on)."""
        return Client(self.target, token=self.admin_token, timeout=timeout)

    def log_text(self) -> str:
        try:
            return pathlib.Path(self.log_path).read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_text()[-chars:]

    def set_debug_mode(self, on: bool) -> None:
        """Switches debug mode (SetDebugMode) and waits until this diagd follows it: its
        follower logs "debug mode ON/OFF" when it applies a change (LISTEN/NOTIFY, with a
        one-second poll behind it). Without that line in 5 s, it waits 2 s and goes on."""
        line = "debug mode ON" if on else "debug mode OFF"
        seen = self.log_text().count(line)
        with self.client() as client:
            state = client.set_debug_mode(on, changed_by="otel-sdk-test")
        assert state.enabled == on, f"SetDebugMode({on}) answered {state}"
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            if self.log_text().count(line) > seen:
                time.sleep(0.1)
                return
            time.sleep(0.05)
        time.sleep(2.0)


def _server(binary: str, name: str, tokens: bool):
    server = DiagdServer(binary, name, tokens=tokens)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def diagd_binary() -> str:
    binary = os.environ.get("DIAGD_BIN") or "target/debug/diagd"
    path = pathlib.Path(binary)
    if not path.is_absolute() and not path.exists():
        path = REPO_ROOT / binary
    if not path.is_file():
        pytest.fail(f"no diagd binary at {binary}: build it (cargo build) or set DIAGD_BIN")
    return str(path.resolve())


@pytest.fixture(scope="session")
def diagd(diagd_binary):
    """diagd without tokens (loopback), debug mode off at the start of every test."""
    yield from _server(diagd_binary, "open", tokens=False)


@pytest.fixture(scope="session")
def diagd_with_tokens(diagd_binary):
    """diagd with --ingest-tokens INGEST_TOKEN and --admin-tokens ADMIN_TOKEN."""
    yield from _server(diagd_binary, "tokens", tokens=True)


@pytest.fixture
def run_id() -> str:
    """A run id of its own for each test, to find exactly that test's logs."""
    return f"otel-{uuid.uuid4().hex[:12]}"


def emit(server: DiagdServer, protocol: str, run_id: str, tag: str, records: List[str],
         token: Optional[str] = None, token_via: str = "param", timeout: float = 45.0) -> dict:
    """Runs emit_logs.py against `server` over `protocol` ("grpc" or "http"); answers its
    JSON report ({"pid", "flushed", "exports": [[batch size, result name]]})."""
    if protocol == "grpc":
        endpoint = server.target
    else:
        if server.http_logs_url is None:
            pytest.fail(f"{server.binary} has no `serve --otlp-http-listen`: the OTLP/HTTP receiver is not built in")
        endpoint = server.http_logs_url
    command = [sys.executable, str(EMIT_SCRIPT), "--protocol", protocol, "--endpoint", endpoint,
               "--run-id", run_id, "--tag", tag, "--records", ",".join(records)]
    if token:
        command += ["--token", token, "--token-via", token_via]
    # None of the caller's OpenTelemetry settings (endpoint, headers, resource, …).
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        pytest.fail(f"emit_logs.py exited with {done.returncode}:\n{done.stderr[-4000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    report["stderr"] = done.stderr
    return report


def wait_for_logs(server: DiagdServer, run_id: str, ready: Callable[[List[LogEntry]], bool],
                  what: str, timeout: float = 15.0) -> List[LogEntry]:
    """The run's logs (full view, newest first) once `ready(logs)` holds; fails after `timeout`."""
    deadline = time.monotonic() + timeout
    logs: List[LogEntry] = []
    with server.client() as client:
        while True:
            try:
                logs = list(client.list_logs(source=Source(run_id=run_id), full=True))
            except DiagdError:
                logs = []
            if ready(logs):
                return logs
            if time.monotonic() > deadline:
                pytest.fail(
                    f"timed out after {timeout}s waiting for {what}; run {run_id} has "
                    f"{[(log.severity.name, log.message) for log in logs]}\n--- diagd log ---\n{server.log_tail()}"
                )
            time.sleep(0.2)


def run_logs(server: DiagdServer, run_id: str) -> List[LogEntry]:
    with server.client() as client:
        return list(client.list_logs(source=Source(run_id=run_id), full=True))
