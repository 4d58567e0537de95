"""A real ``mfa-flow serve`` (or ``worker``) process on a free port, for end-to-end tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import AsyncIterator

from cryptography.fernet import Fernet

ADMIN_KEY = "adm_test_admin_key_0123456789"
AUDITOR_KEY = "aud_test_auditor_key_0123456789"
# Processes that share a database must share the key that encrypts its secrets.
SECRET_KEY = Fernet.generate_key().decode()
# How long a process may take to start. A server starts in about a second on an idle machine; on a
# machine running several test suites at once its imports alone have taken over 30 s, and a module's
# servers failing to start errs every test of the module.
START_TIMEOUT = float(os.environ.get("MFA_FLOW_TEST_START_TIMEOUT", "120"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    def __init__(self, database_url: str, command: str = "serve", **env: str):
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.data_dir = tempfile.mkdtemp(prefix="mfa-flow-test-data-")
        self.log_path = Path(self.data_dir) / f"{command}.log"
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "MFA_FLOW_DATA_DIR": self.data_dir,
            "MFA_FLOW_PORT": str(self.port),
            "MFA_FLOW_ADMIN_KEY": ADMIN_KEY,
            "MFA_FLOW_AUDITOR_KEY": AUDITOR_KEY,
            "MFA_FLOW_SECRET_KEY": env.pop("MFA_FLOW_SECRET_KEY", SECRET_KEY),
            "MFA_FLOW_ORIGIN": f"http://localhost:{self.port}",
            # Every test drives many flows from 127.0.0.1: abuse limits are off unless a test
            # (tests/e2e/test_abuse_limits.py) gives its own server the limits it checks.
            "MFA_FLOW_RATE_FLOWS": "0",
            "MFA_FLOW_RATE_PASSWORDS": "0",
            "MFA_FLOW_RATE_CODES": "0",
            # /metrics reads the database's gauges at most every 15 s; tests read them just after a change.
            "MFA_FLOW_METRICS_REFRESH": "0.05",
            **env,
        }
        self.command = command
        self.cwd: Path | None = None  # where the code runs from (python -m takes it from there)
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = START_TIMEOUT) -> ServerProcess:
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mfa_flow.cli", self.command],
            env=self.env,
            cwd=self.cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        if self.command == "serve":
            self.wait_ready(timeout)
        elif self.command == "worker":
            self.wait_log('"worker started"', timeout)
        return self

    async def started(self, timeout: float = START_TIMEOUT) -> ServerProcess:
        """``start`` for async tests and fixtures: it waits in a thread, so that the event loop
        (a webhook receiver, open sockets) runs on meanwhile."""
        return await asyncio.to_thread(self.start, timeout)

    def wait_log(self, text: str, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log():
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.command} exited with {self.process.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.command} did not log {text} within {timeout} s:\n{self.log()}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no clean-up, no goodbye (a crash)."""
        self.process.kill()
        self.process.wait()

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.base_url + "/readyz", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"server not ready after {timeout} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 15) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode


@contextlib.asynccontextmanager
async def server_and_worker(database_url: str, shared: dict[str, str], server: dict[str, str] | None = None,
                            worker: dict[str, str] | None = None) -> AsyncIterator[tuple[ServerProcess, ServerProcess]]:
    """A ``serve`` and a ``worker`` on one database with a secret key of their own: the
    ``shared`` settings for both, then each one's own. Started and stopped in threads, so
    that the event loop runs on meanwhile."""
    shared = {"MFA_FLOW_SECRET_KEY": Fernet.generate_key().decode(), **shared}
    serving = await ServerProcess(database_url, **shared, **(server or {})).started()
    working = ServerProcess(database_url, command="worker", **shared, **(worker or {}))
    try:
        await working.started()
        yield serving, working
    finally:
        await asyncio.to_thread(working.stop)
        await asyncio.to_thread(serving.stop)
