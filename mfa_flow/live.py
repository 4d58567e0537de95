"""The change feed: one LISTEN connection per process fans flow changes out to waiters.

Every committed transition NOTIFYs ``flow_changes`` with ``<flow id>:<version>`` in its own
transaction, so a process hears of changes made by any process sharing the database.
Subscribers get version numbers only and re-read the flow: NOTIFY payloads stay small.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict

import asyncpg

from . import logs
from .store.flows import CHANGES_CHANNEL

log = logs.get("mfa_flow.live")


class Subscription:
    def __init__(self):
        self.versions: asyncio.Queue[int] = asyncio.Queue()

    async def next_version(self, timeout: float) -> int | None:
        try:
            return await asyncio.wait_for(self.versions.get(), timeout)
        except asyncio.TimeoutError:
            return None


class ChangeFeed:
    def __init__(self, url: str):
        self.url = url
        self._conn: asyncpg.Connection | None = None
        self._subscribers: dict[str, set[Subscription]] = defaultdict(set)

    async def start(self) -> None:
        self._conn = await asyncpg.connect(self.url)
        await self._conn.add_listener(CHANGES_CHANNEL, self._on_notify)

    async def stop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._conn = None

    def _on_notify(self, _conn, _pid, _channel, payload: str) -> None:
        flow_id, _, version = payload.rpartition(":")
        for subscription in self._subscribers.get(flow_id, ()):
            subscription.versions.put_nowait(int(version))

    @contextlib.contextmanager
    def subscribe(self, flow_id: str):
        """Subscribe before reading the flow, so that no change between the two is missed."""
        subscription = Subscription()
        self._subscribers[flow_id].add(subscription)
        try:
            yield subscription
        finally:
            self._subscribers[flow_id].discard(subscription)
            if not self._subscribers[flow_id]:
                del self._subscribers[flow_id]
