"""The change feed: one LISTEN connection per process fans flow changes out to subscribers.

Every committed transition NOTIFYs ``flow_changes`` with ``<flow id>:<version>`` in its own
transaction, so a process hears of changes made by any process sharing the database.
Payloads stay small: subscribers learn a version number and the flow is read again, once per
change and process however many subscribers follow it (``SharedRead``). A flow has at most
``MAX_SUBSCRIPTIONS_PER_FLOW`` subscribers per process (WebSockets, event streams,
long-polls); one more is refused with ``LiveSubscriptionLimit`` (429).

NOTIFY is fire-and-forget: while the listening connection is down, notifications are lost.
So the feed's ``ListeningConnection`` (``store/notifications.py``, the worker's too, on the
webhook outbox) reconnects with back-off, and once it LISTENs again the feed re-reads the
current version of every flow it has subscribers for and hands those on as if they had been
notified. A subscriber
therefore never misses the latest state, though it may miss intermediate ones (it only
ever needs the newest: a flow is its current row).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from typing import AsyncGenerator, Awaitable, Callable, Iterator

from . import metrics
from .domain.errors import LiveSubscriptionLimit
from .domain.flow import Flow
from .domain.machine import is_terminal
from .numbers import whole_number
from .store.flows import CHANGES_CHANNEL
from .store.notifications import Listened, ListeningConnection

# Live subscriptions to one flow in one process (the contract's 8): a page needs one.
MAX_SUBSCRIPTIONS_PER_FLOW = 8


class Subscription:
    """What one subscriber has heard about one flow: the newest version, and a wake-up.

    Versions coalesce: a subscriber that falls behind wakes once for the newest version, so
    a slow subscriber costs a few bytes, never a growing queue.
    """

    __slots__ = ("heard", "closed", "since", "_changed")

    def __init__(self) -> None:
        self.heard = -1
        self.closed = False
        self.since = time.time()  # a read of the flow started later sees every change it missed
        self._changed = asyncio.Event()

    def offer(self, version: int) -> None:
        if version > self.heard:
            self.heard = version
            self._changed.set()

    def close(self) -> None:
        """The process is shutting down: wake the subscriber for good."""
        self.closed = True
        self._changed.set()

    async def next_version(self, timeout: float | None) -> int | None:
        """Wait for a version newer than the last one returned; None on timeout or close."""
        try:
            async with asyncio.timeout(timeout):  # no task of its own per wait, as wait_for makes
                await self._changed.wait()
        except TimeoutError:
            return None
        self._changed.clear()
        return None if self.closed else self.heard


class SharedRead:
    """One flow's reads for its subscribers in this process: a subscriber that needs the flow
    as of some moment (its subscription, the notification that woke it, the flow's expiry)
    joins a read that started at or after that moment, or starts one. So a change followed
    by N subscribers costs one read, not N."""

    __slots__ = ("notified_at", "started_at", "task")

    def __init__(self) -> None:
        self.notified_at = 0.0  # when the newest notification about the flow arrived
        self.started_at = 0.0
        self.task: asyncio.Future[Flow] | None = None

    async def read(self, flow_id: str, read: Callable[[str], Awaitable[Flow]], not_before: float) -> Flow:
        if self.task is None or self.started_at < not_before:
            self.started_at = time.time()
            self.task = asyncio.ensure_future(read(flow_id))
            self.task.add_done_callback(_retrieved)
            metrics.LIVE_FLOW_READS.inc()
        # Shielded: a subscriber that goes away does not cancel the others' read.
        return await asyncio.shield(self.task)


def _retrieved(task: asyncio.Future[Flow]) -> None:
    """A shared read's failure reaches every waiter; mark it seen when none is left."""
    if not task.cancelled():
        task.exception()


class ChangedFlows:
    """What one subscriber to every flow has not read yet: the ids of the flows that changed.

    Ids coalesce (a flow that changed twice is read once, at its newest). Past ``limit``
    unread ids, or after the listening connection was lost (notifications missed), the
    subscriber is told to start over from a fresh list instead (``overflowed``).
    """

    __slots__ = ("changed", "overflowed", "closed", "limit", "_changed")

    def __init__(self, limit: int = 1000):
        self.changed: set[str] = set()
        self.overflowed = False
        self.closed = False
        self.limit = limit
        self._changed = asyncio.Event()

    def offer(self, flow_id: str) -> None:
        if len(self.changed) >= self.limit:
            self.overflowed = True
        else:
            self.changed.add(flow_id)
        self._changed.set()

    def lost(self) -> None:
        self.overflowed = True
        self._changed.set()

    def close(self) -> None:
        self.closed = True
        self._changed.set()

    async def take(self, timeout: float | None) -> tuple[set[str], bool] | None:
        """The changed ids and whether some were lost, once there are any; None on timeout."""
        try:
            async with asyncio.timeout(timeout):
                await self._changed.wait()
        except TimeoutError:
            return None
        self._changed.clear()
        taken, lost = self.changed, self.overflowed
        self.changed, self.overflowed = set(), False
        return taken, lost


class ChangeFeed:
    def __init__(self, url: str, name: str = "mfa-flow", max_subscriptions: int = MAX_SUBSCRIPTIONS_PER_FLOW):
        self._subscribers: dict[str, set[Subscription]] = defaultdict(set)
        self._reads: dict[str, SharedRead] = {}
        self.max_subscriptions = max_subscriptions
        self._everything: set[ChangedFlows] = set()
        self._closing = False
        self.connection = ListeningConnection(url, CHANGES_CHANNEL, self._on_notify, self._catch_up,
                                              what="change feed", name=name)

    # --- Lifecycle ---------------------------------------------------------------------------

    async def start(self, timeout: float = 10.0) -> None:
        """Start listening; returns once the first LISTEN is in place."""
        await self.connection.start(timeout)

    def close_subscriptions(self) -> None:
        """Wake every subscriber for the last time (graceful shutdown)."""
        self._closing = True
        for subscriptions in self._subscribers.values():
            for subscription in subscriptions:
                subscription.close()
        for changes in self._everything:
            changes.close()

    async def stop(self) -> None:
        self.close_subscriptions()
        await self.connection.stop()

    @property
    def listening(self) -> bool:
        return self.connection.listening

    # --- Subscribing -------------------------------------------------------------------------

    @contextlib.contextmanager
    def subscribe(self, flow_id: str) -> Iterator[Subscription]:
        """Subscribe before reading the flow, so that no change between the two is missed.
        Raises ``LiveSubscriptionLimit`` when the flow has ``max_subscriptions`` already."""
        if 0 < self.max_subscriptions <= len(self._subscribers.get(flow_id, ())):
            raise LiveSubscriptionLimit(self.max_subscriptions)
        subscription = Subscription()
        if self._closing:
            subscription.close()
        self._subscribers[flow_id].add(subscription)
        self._reads.setdefault(flow_id, SharedRead())
        try:
            yield subscription
        finally:
            self._subscribers[flow_id].discard(subscription)
            if not self._subscribers[flow_id]:
                del self._subscribers[flow_id]
                self._reads.pop(flow_id, None)

    @contextlib.contextmanager
    def subscribe_all(self) -> Iterator[ChangedFlows]:
        """Hear of every flow's changes (the console's live list). Subscribe, then read."""
        changes = ChangedFlows()
        if self._closing:
            changes.close()
        self._everything.add(changes)
        try:
            yield changes
        finally:
            self._everything.discard(changes)

    async def watch(self, flow_id: str, read: Callable[[str], Awaitable[Flow]], after: int = -1,
                    subscription: Subscription | None = None) -> AsyncGenerator[Flow, None]:
        """The flow each time it has a version newer than the last one yielded (or ``after``).

        Versions only go up. Ends after a terminal state, or when the process shuts down.
        ``read`` is ``FlowService.get``: it expires an overdue flow on the spot, so waking at
        the expiry time turns a silent deadline into a last change. Subscribes (which may
        raise ``LiveSubscriptionLimit``) unless given the caller's ``subscription``.
        """
        with contextlib.ExitStack() as stack:
            if subscription is None:
                subscription = stack.enter_context(self.subscribe(flow_id))
            shared = self._reads[flow_id]
            not_before = subscription.since
            while True:
                flow = await shared.read(flow_id, read, not_before)
                if flow.version > after:
                    after = flow.version
                    yield flow
                if is_terminal(flow.state) or subscription.closed:
                    return
                until_expiry = flow.expires_at.timestamp() - time.time() + 0.05
                woken = await subscription.next_version(max(0.0, until_expiry))
                if subscription.closed:
                    return
                # Woken by a change: a read that began after its notification; else the expiry
                # time came: a read that began after it (which expires the flow).
                not_before = shared.notified_at if woken is not None else flow.expires_at.timestamp()

    def _publish(self, flow_id: str, version: int) -> None:
        if (shared := self._reads.get(flow_id)) is not None:
            shared.notified_at = time.time()
        for subscription in self._subscribers.get(flow_id, ()):
            subscription.offer(version)

    def _publish_to_all(self, flow_id: str) -> None:
        for changes in self._everything:
            changes.offer(flow_id)

    # --- What the connection hears ---------------------------------------------------------

    def _on_notify(self, payload: str) -> None:
        flow_id, _, version = payload.rpartition(":")
        if (number := whole_number(version)) is not None:
            self._publish(flow_id, number)
            self._publish_to_all(flow_id)

    async def _catch_up(self, listened: Listened) -> None:
        """After (re)connecting, hand on the current version of every subscribed flow: any
        NOTIFY sent while nobody listened is lost, the rows are not. Subscribers to every
        flow start over from a fresh list."""
        for changes in self._everything:
            changes.lost()
        for flow_id, version in await listened.flow_versions(list(self._subscribers)):
            self._publish(flow_id, version)
