"""LISTEN connections: one connection that hears one channel's NOTIFYs and comes back when
the database goes away (the change feed's, ``live.py``, and the worker's on the webhook outbox).

NOTIFY is fire-and-forget: while the connection is down, notifications are lost. So each time
it LISTENs again its owner is handed the connection (``Listened``) to read what it may have
missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import uuid
from typing import Awaitable, Callable, Iterable

import asyncpg

from .. import logs

log = logs.get(__name__)

# Back-off between reconnection attempts: doubles from the first to the last, with jitter
# so that many processes do not hammer a database that has just come back all at once.
FIRST_RETRY_SECONDS = 0.1
LAST_RETRY_SECONDS = 5.0
# A silent network partition never fires the termination callback; a ping finds it.
PING_SECONDS = 10.0


class Listened:
    """The listening connection as its owner may use it right after each (re)LISTEN: to read
    what it may have missed while nobody listened."""

    __slots__ = ("_conn",)

    def __init__(self, conn: asyncpg.Connection):
        self._conn = conn

    async def flow_versions(self, flow_ids: Iterable[str]) -> list[tuple[str, int]]:
        """The current version of each of these flows that exists (ids that are not UUIDs are
        no flow's)."""
        ids = [flow_id for flow_id in flow_ids if _is_uuid(flow_id)]
        if not ids:
            return []
        rows = await self._conn.fetch(
            "SELECT id::text AS id, version FROM flows WHERE id = ANY($1::uuid[])", ids, timeout=10
        )
        return [(row["id"], row["version"]) for row in rows]


class ListeningConnection:
    """One connection that LISTENs on one channel and comes back when the database goes away.

    NOTIFY is fire-and-forget: while the connection is down, notifications are lost. So it
    reconnects with back-off and jitter, and each time it LISTENs (again) it awaits
    ``on_listening(Listened(connection))``, with which its owner catches up on what it may have missed.
    A ping every ``PING_SECONDS`` finds a connection that died silently.
    """

    def __init__(self, url: str, channel: str, on_notify: Callable[[str], None],
                 on_listening: Callable[[Listened], Awaitable[None]], what: str, name: str = "mfa-flow"):
        self.url = url
        self.channel = channel
        self.what = what  # said in log lines: "change feed", "webhook outbox"
        # Shown in pg_stat_activity, so operators (and tests) can find each process's listener.
        self.application_name = f"{name} listen pid={os.getpid()}"
        self._on_notify = on_notify
        self._on_listening = on_listening
        self._conn: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()
        self.reconnects = 0

    async def start(self, timeout: float = 10.0) -> None:
        """Start listening; returns once the first LISTEN is in place."""
        self._task = asyncio.create_task(self._run(), name=f"listen {self.channel}")
        await asyncio.wait_for(self._listening.wait(), timeout)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._disconnect()

    @property
    def listening(self) -> bool:
        return self._listening.is_set()

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        self._on_notify(payload)

    async def _run(self) -> None:
        delay = FIRST_RETRY_SECONDS
        while True:
            lost = asyncio.Event()
            try:
                conn = await self._connect(lost)
                delay = FIRST_RETRY_SECONDS
                await self._on_listening(Listened(conn))
                await self._hold(conn, lost)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database went away: try again, more slowly each time
                log.warning(f"{self.what} connection lost", error=type(exc).__name__, retry_in=round(delay, 2))
            self._listening.clear()
            await self._disconnect()
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, LAST_RETRY_SECONDS)
            self.reconnects += 1

    async def _connect(self, lost: asyncio.Event) -> asyncpg.Connection:
        conn = await asyncpg.connect(
            self.url, timeout=5, server_settings={"application_name": self.application_name}
        )
        self._conn = conn
        conn.add_termination_listener(lambda _conn: lost.set())
        await conn.add_listener(self.channel, self._notified)
        self._listening.set()
        if self.reconnects:
            log.info(f"{self.what} listening again", reconnects=self.reconnects)
        return conn

    async def _hold(self, conn: asyncpg.Connection, lost: asyncio.Event) -> None:
        """Keep the connection until it drops; ping now and then to notice a silent one."""
        while not lost.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(lost.wait(), PING_SECONDS)
            if not lost.is_set():
                await conn.fetchval("SELECT 1", timeout=5)
        raise ConnectionError("the listening connection was closed")

    async def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 2)
        elif conn is not None:
            conn.terminate()


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True

