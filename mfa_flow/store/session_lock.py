"""A session-level advisory lock, held on a connection of its own.

PostgreSQL releases it when the connection ends, so a process that holds it and dies (or loses
its connection) lets another process take over at its next try, with nothing to clean up.
"""

from __future__ import annotations

import contextlib
import os

import asyncpg

from .connections import CONNECT_TIMEOUT_SECONDS


class SessionLock:
    def __init__(self, conn: asyncpg.Connection):
        self._conn = conn

    @classmethod
    async def try_take(cls, url: str, key: int, name: str) -> "SessionLock | None":
        """The lock, or None when another session holds it. ``name`` shows in pg_stat_activity."""
        conn = await asyncpg.connect(url, timeout=CONNECT_TIMEOUT_SECONDS,
                                     server_settings={"application_name": f"{name} pid={os.getpid()}"})
        try:
            if await conn.fetchval("SELECT pg_try_advisory_lock($1)", key):
                return cls(conn)
        except BaseException:
            conn.terminate()
            raise
        await conn.close()
        return None

    @property
    def held(self) -> bool:
        """False once the connection is gone (and with it the lock)."""
        return not self._conn.is_closed()

    async def check(self) -> bool:
        """Ask the server whether the connection (and so the lock) is still there."""
        if not self.held:
            return False
        try:
            await self._conn.fetchval("SELECT 1", timeout=5)
        except Exception:
            self._conn.terminate()
            return False
        return True

    async def release(self) -> None:
        with contextlib.suppress(Exception):
            await self._conn.close(timeout=2)
        if not self._conn.is_closed():
            self._conn.terminate()
