"""``serve --workers N``: N full ``serve`` processes on one port.

Each worker binds the port with SO_REUSEPORT and the kernel spreads new connections over
them; every worker is an ordinary serve process of the same database (its own pool, change
feed, expiry sweep and checkpoint turn), which the service supports anyway. This process only
starts them and passes signals on: SIGTERM drains and stops every worker, SIGINT stops them.
If a worker ends on its own, the others are stopped too and ``serve`` exits with its code, so
that whatever supervises ``serve`` (systemd, Kubernetes) restarts the whole.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from types import FrameType

from . import logs
from .settings import Settings

log = logs.get(__name__)

# The hidden ``serve`` option a worker is started with (the user never types it).
WORKER_FLAG = "--as-worker"


def _die_with_parent() -> None:
    """In the worker before it runs: a SIGTERM when the parent dies, however it dies (Linux)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def serve_workers(settings: Settings, database_url: str) -> int:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,  # the embedded database's too, started by this process
        "MFA_FLOW_HOST": settings.host,
        "MFA_FLOW_PORT": str(settings.port),
        "MFA_FLOW_WORKERS": "1",
    }
    command = [sys.executable, "-m", "mfa_flow.cli", "serve", WORKER_FLAG]
    workers = [
        subprocess.Popen(command, env=env, process_group=0, preexec_fn=_die_with_parent)
        for _ in range(settings.workers)
    ]
    log.info("serve workers started", workers=settings.workers, pids=[w.pid for w in workers])
    stopping = False

    def pass_on(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signum)

    signal.signal(signal.SIGTERM, pass_on)
    signal.signal(signal.SIGINT, pass_on)
    code = 0
    while any(w.poll() is None for w in workers):
        ended = [w for w in workers if w.returncode is not None]
        if ended and not stopping:
            code = ended[0].returncode or 1
            log.error("a serve worker ended; stopping the others", pid=ended[0].pid, code=ended[0].returncode)
            pass_on(signal.SIGTERM, None)
        time.sleep(0.1)
    if not stopping:
        code = next((w.returncode for w in workers if w.returncode), 1)
    return code
