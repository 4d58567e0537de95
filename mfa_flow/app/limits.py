"""Abuse limits as a service: spend a budget per client address (and per username for
passwords) and refuse with ``RateLimited`` when one is overdrawn.

The counters live in PostgreSQL so that every ``serve`` process of one database spends one
budget; a hit is one upsert statement. Every request counts, refused ones too: a client that
keeps hammering keeps its estimate high. The callers (``mfa_flow.http``) never count a
request made with the admin key.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from .. import metrics
from ..domain import limits
from ..domain.errors import RateLimited
from ..domain.limits import HOUR, MINUTE, Budget
from ..settings import Settings
from ..store import Database

# (budget, what is counted: "address" or "username", its key)
Spend = tuple[Budget, str, str]


class AbuseLimits:
    """The service's budgets: ``flow_created``, ``password_attempt`` and ``code_sent`` spend them."""

    def __init__(self, db: Database, flows: int, passwords: int, codes: int) -> None:
        self.db = db
        self.flows = Budget("flows_created", flows, MINUTE)
        self.passwords = Budget("password_attempts", passwords, MINUTE)
        self.codes = Budget("codes_sent", codes, HOUR)

    @classmethod
    def from_settings(cls, db: Database, settings: Settings) -> AbuseLimits:
        return cls(db, settings.rate_flows, settings.rate_passwords, settings.rate_codes)

    async def flow_created(self, address: str) -> None:
        await self.spend([(self.flows, "address", limits.client_key(address))])

    async def password_attempt(self, address: str, username: str) -> None:
        await self.spend([(self.passwords, "address", limits.client_key(address)),
                          (self.passwords, "username", limits.username_key(username))])

    async def code_sent(self, address: str) -> None:
        """For factors that send a code (email, SMS): one code sent at this address's request."""
        await self.spend([(self.codes, "address", limits.client_key(address))])

    async def purge(self, now: datetime | None = None) -> int:
        """Drop windows older than any estimate reads (two of the longest window)."""
        now = now or datetime.now(UTC)
        async with self.db.unit_of_work() as uow:
            removed = await uow.limits.purge(now - timedelta(seconds=2 * HOUR))
            await uow.commit()
        return removed

    async def spend(self, spends: list[Spend], now: float | None = None) -> None:
        # One lock order for every statement (sorted by bucket): concurrent hits never deadlock.
        active = sorted(((f"{budget.name}:{who}:{key}", budget, who) for budget, who, key in spends if not budget.off),
                        key=lambda spend: spend[0])
        if not active:
            return
        at = now if now is not None else time.time()
        starts = [limits.window_start(at, budget.window) for _, budget, _ in active]
        async with self.db.unit_of_work(replayable=True) as uow:
            counts = await uow.limits.hit(
                [bucket for bucket, _, _ in active],
                [_utc(start) for start in starts],
                [_utc(start - budget.window) for start, (_, budget, _) in zip(starts, active, strict=True)],
            )
            await uow.commit()
        by_bucket = {count.bucket: count for count in counts}
        for (bucket, budget, who), start in zip(active, starts, strict=True):
            count = by_bucket[bucket]
            try:
                limits.check(budget, who, count.current, count.previous, at - start)
            except RateLimited:
                metrics.RATE_LIMITED.labels(budget.name).inc()
                raise


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)
