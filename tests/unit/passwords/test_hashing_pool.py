"""The hashing pool: argon2 off the event loop, on a thread per core, and behind it in priority."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from mfa_flow.passwords import ARGON2, HASHING_NICENESS, HashingPool, profiles

CHEAP = profiles.Argon2Profile(5, 7168, 1)


def _nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a nice value per thread is Linux's")
async def test_a_hashing_thread_runs_behind_the_event_loop():
    pool = HashingPool(CHEAP, max_waiting=4, threads=2)
    try:
        loop_nice = _nice()
        hashing_nice = await pool.run(_nice)
        assert hashing_nice == min(19, loop_nice + HASHING_NICENESS)
        assert _nice() == loop_nice  # the loop's own thread (and the process) keep theirs
        digest = await pool.hash("correct horse")
        assert (await pool.check(ARGON2, digest, "correct horse")).ok
        assert not (await pool.check(ARGON2, digest, "wrong horse")).ok
    finally:
        pool.close()
