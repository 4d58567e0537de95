"""TOTP codes from Debian's oathtool: an independent implementation of RFC 6238."""

from __future__ import annotations

import asyncio
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


async def away_from_step_boundary(margin: float = 1.5) -> None:
    """Codes read within a second of a 30 s boundary may be checked in the next step, so wait
    (without blocking the event loop) until the clock is ``margin`` seconds away from one."""
    into = time.time() % STEP
    if into < margin or into > STEP - margin:
        await asyncio.sleep((STEP - into + margin) % STEP + 0.01)


async def fresh_code(secret: str, used_steps: set[int] | None = None) -> str:
    """A code for a time-step not used before (the server refuses replayed steps).

    The server accepts one step of drift either way, so after the current step is spent the
    next one is still good; when both are spent, wait for the step after.
    """
    await away_from_step_boundary()
    step = int(time.time()) // STEP
    for candidate in (step, step + 1):
        if used_steps is None or candidate not in used_steps:
            if used_steps is not None:
                used_steps.add(candidate)
            return oathtool(secret, candidate * STEP + 1)
    await asyncio.sleep(STEP - time.time() % STEP + 0.5)
    return await fresh_code(secret, used_steps)


def wrong_code(secret: str) -> str:
    """Six digits that match none of the steps the server accepts now (one either side)."""
    step = int(time.time()) // STEP
    taken = {oathtool(secret, s * STEP + 1) for s in range(step - 2, step + 3)}
    return next(code for code in ("000000", "111111", "222222", "333333", "444444", "555555") if code not in taken)
