"""Password hashing with argon2id (argon2-cffi, RFC 9106 low-memory profile), on a bounded pool.

argon2 costs ~100 ms of CPU per check by design. argon2-cffi releases the GIL, so a thread
per core is the most that helps; more threads only make every check slower. Jobs beyond
those threads wait in a queue of ``MFA_FLOW_HASH_QUEUE``; when that is full a new job is
refused at once (``HashingBusy``, answered 503 with ``Retry-After``) rather than queued
behind seconds of work, so that a flood of password attempts cannot make every real
sign-in wait.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from . import metrics

_HASHER = PasswordHasher()
# Verified against when the username is unknown, so that a wrong username costs the same
# time as a wrong password and the two cannot be told apart.
_DUMMY_HASH = _HASHER.hash("mfa-flow: no such user")

T = TypeVar("T")


class HashingBusy(Exception):
    """The hashing pool's queue is full: try again in ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"password hashing is busy; retry in {retry_after} s")
        self.retry_after = retry_after


class HashingPool:
    """A thread per core and a bounded queue in front of it."""

    def __init__(self, max_waiting: int, threads: int | None = None) -> None:
        self.threads = threads or os.cpu_count() or 1
        self.max_waiting = max_waiting
        self._executor = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="argon2")
        self._admitted = 0  # running plus waiting (event-loop thread only: no lock needed)

    @property
    def busy(self) -> int:
        return self._admitted

    async def run(self, work: Callable[..., T], *args: object) -> T:
        if self._admitted >= self.threads + self.max_waiting:
            metrics.PASSWORD_HASHES_REFUSED.inc()
            raise HashingBusy(retry_after=1)
        self._admitted += 1
        metrics.PASSWORD_HASHES.inc()
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, work, *args)
        finally:
            self._admitted -= 1

    async def verify(self, password_hash: str | None, password: str) -> bool:
        return await self.run(_verify, password_hash, password)

    async def hash(self, password: str) -> str:
        return await self.run(_HASHER.hash, password)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        _HASHER.verify(password_hash or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return False
    return password_hash is not None


async def verify(password_hash: str | None, password: str) -> bool:
    """Outside the serving path (commands, management): keep argon2 off the event loop."""
    return await asyncio.to_thread(_verify, password_hash, password)


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_HASHER.hash, password)
