"""Password hashing with argon2 (argon2-cffi) at the configured profile, on a bounded pool.

argon2 costs ~100 ms of CPU per check at the default profile, by design. argon2-cffi releases
the GIL, so a thread per core is the most that helps; more threads only make every check
slower. Jobs beyond those threads wait in a queue of ``MFA_FLOW_HASH_QUEUE``; when that is
full a new job is refused at once (``Busy``, answered 503 with ``Retry-After``) rather
than queued behind seconds of work, so that a flood of password attempts cannot make every
real sign-in wait.

A stored password is a digest and its algorithm: ``argon2`` for what this service hashed, or
one of ``digests.ALGORITHMS`` for users imported with their old digest. A successful check of
a digest that is not argon2 at the configured profile (``MFA_FLOW_PASSWORD_HASH``: argon2id, or
argon2i when an operator chose it to match imported digests) also
computes its replacement, in the same pool job, for the sign-in's transaction to store.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from .. import metrics
from ..domain.errors import Busy, RuleBroken
from . import digests
from .profiles import Argon2Profile

ARGON2 = "argon2"
_TYPES = {"argon2id": Type.ID, "argon2i": Type.I}

T = TypeVar("T")


@dataclass(frozen=True)
class Checked:
    """A password checked against a stored digest; ``rehashed`` is the argon2 digest at the
    configured profile that replaces it (only after a match, and only when it is due)."""

    ok: bool
    rehashed: str | None = None


class Hasher:
    """argon2 at one profile: new hashes, and checks of stored digests of any accepted algorithm."""

    def __init__(self, profile: Argon2Profile) -> None:
        self.profile = profile
        self._argon2 = PasswordHasher(time_cost=profile.time_cost, memory_cost=profile.memory_kib,
                                      parallelism=profile.parallelism, type=_TYPES[profile.variant])
        # Checked against when the username is unknown, so that a wrong username costs the same
        # time as a wrong password and the two cannot be told apart.
        self._dummy = self._argon2.hash("mfa-flow: no such user")

    def hash(self, password: str) -> str:
        return self._argon2.hash(password)

    def check(self, algorithm: str | None, digest: str | None, password: str) -> Checked:
        """Whether ``password`` matches the stored digest (``None``: no such user or no password,
        which costs the same and never matches). A digest too costly to check is refused
        before any hashing (``refuse_too_costly``)."""
        refuse_too_costly(algorithm, digest, self.profile)
        if digest is None or algorithm is None:
            self._matches_argon2(self._dummy, password)
            return Checked(False)
        if algorithm == ARGON2:
            if not self._matches_argon2(digest, password):
                return Checked(False)
            due = self._argon2.check_needs_rehash(digest)
        elif not digests.verify(algorithm, digest, password):
            return Checked(False)
        else:
            due = True  # imported from another system: the configured argon2 from now on
        return Checked(True, self._argon2.hash(password) if due else None)

    def _matches_argon2(self, digest: str, password: str) -> bool:
        try:
            return self._argon2.verify(digest, password)
        except (VerificationError, InvalidHashError):
            return False


def refuse_too_costly(algorithm: str | None, digest: str | None, profile: Argon2Profile) -> None:
    """``RuleBroken`` (422, ``password-digest-too-costly``, naming the ``limit``) when a stored
    digest names parameters beyond what an import may (``digests.Argon2Ceiling``): one stored
    before that bound existed, or written behind the service's back, must not tie a hashing
    thread up for minutes (and gigabytes) whenever someone types the username. Parsing only."""
    if algorithm is None or digest is None:
        return
    refused = digests.too_costly(algorithm, digest, profile)
    if refused is not None:
        raise RuleBroken(f"this user's stored password digest cannot be checked: {refused}; an administrator"
                         " must set a new password (PATCH /api/users/{id} with password)",
                         kind="password-digest-too-costly", **({"limit": refused.limit} if refused.limit else {}))


@functools.cache
def hasher(profile: Argon2Profile) -> Hasher:
    """One hasher per profile and process (making one costs a hash: the dummy's)."""
    return Hasher(profile)


# How far behind the event loop a hashing thread runs (a nice value, 0-19).
HASHING_NICENESS = 10


def _behind_the_event_loop() -> None:
    """Run this hashing thread at a lower priority than the event loop. Linux keeps a nice
    value per thread, and argon2's lane threads inherit it from the thread that starts them, so
    on a machine whose cores the hashes fill, the loop still gets a core at once: it answers
    the other requests of a sign-in and hands the next password to a hashing thread without
    waiting behind the hashes (which otherwise sit idle while the loop waits for a core)."""
    with contextlib.suppress(AttributeError, OSError):  # not Linux, or not allowed: hash at the loop's priority
        thread = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, thread, min(19, os.getpriority(os.PRIO_PROCESS, thread) + HASHING_NICENESS))


class HashingPool:
    """A thread per core and a bounded queue in front of it, hashing at one profile."""

    def __init__(self, profile: Argon2Profile, max_waiting: int, threads: int | None = None) -> None:
        self.hasher = hasher(profile)
        self.threads = threads or os.cpu_count() or 1
        self.max_waiting = max_waiting
        self._executor = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="argon2",
                                            initializer=_behind_the_event_loop)
        self._admitted = 0  # running plus waiting (event-loop thread only: no lock needed)

    @property
    def busy(self) -> int:
        return self._admitted

    async def run(self, work: Callable[..., T], *args: object) -> T:
        if self._admitted >= self.threads + self.max_waiting:
            metrics.PASSWORD_HASHES_REFUSED.inc()
            raise Busy("too many password checks are waiting; try again in a second", retry_after=1)
        self._admitted += 1
        metrics.PASSWORD_HASHES.inc()
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, work, *args)
        finally:
            self._admitted -= 1

    async def check(self, algorithm: str | None, digest: str | None, password: str) -> Checked:
        """``Hasher.check`` on the pool; a digest too costly to check is refused here, before
        it takes a place in the queue."""
        refuse_too_costly(algorithm, digest, self.hasher.profile)
        return await self.run(self.hasher.check, algorithm, digest, password)

    async def hash(self, password: str) -> str:
        return await self.run(self.hasher.hash, password)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
