"""Running the ``mfa-flow`` command the way an operator or auditor would."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

from .server import ServerProcess


@dataclass
class Outcome:
    code: int
    out: str
    err: str


def mfa_flow(server: ServerProcess, *args: str, timeout: float = 300) -> Outcome:
    """Run ``mfa-flow ARGS`` with the server's environment (database, secret key, data folder)."""
    done = subprocess.run(
        [sys.executable, "-m", "mfa_flow.cli", *args], env=server.env, capture_output=True, text=True, timeout=timeout,
        cwd=server.cwd,
    )
    return Outcome(done.returncode, done.stdout, done.stderr)
