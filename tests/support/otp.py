"""TOTP codes from Debian's oathtool: an independent implementation of RFC 6238."""

from __future__ import annotations

import shutil
import subprocess
import time

STEP = 30


def oathtool(secret: str, at: float | None = None) -> str:
    if shutil.which("oathtool") is None:
        raise RuntimeError("oathtool is not installed: apt-get install oathtool (the test setup does this)")
    when = int(time.time() if at is None else at)
    out = subprocess.run(
        ["oathtool", "--totp", "-b", f"--now=@{when}", secret], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def away_from_step_boundary(margin: float = 1.5) -> None:
    """Codes read within a second of a 30 s boundary may be checked in the next step."""
    into = time.time() % STEP
    if into < margin or into > STEP - margin:
        time.sleep((STEP - into + margin) % STEP + 0.01)


def fresh_code(secret: str, used_steps: set[int] | None = None) -> str:
    """A code for a time-step not used before (the server refuses replayed steps).

    The server accepts one step of drift either way, so after the current step is spent the
    next one is still good.
    """
    away_from_step_boundary()
    step = int(time.time()) // STEP
    for candidate in (step, step + 1):
        if used_steps is None or candidate not in used_steps:
            if used_steps is not None:
                used_steps.add(candidate)
            return oathtool(secret, candidate * STEP + 1)
    time.sleep(STEP - time.time() % STEP + 0.5)
    return fresh_code(secret, used_steps)
