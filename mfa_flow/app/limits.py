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
from ..store import Database, UnitOfWork

# (budget, what is counted: "address" or "username", its key)
Spend = tuple[Budget, str, str]


class AbuseLimits:
    """The service's budgets: ``flow_created``, ``password_attempt`` and ``code_sent`` spend them."""

    def __init__(self, db: Database, flows: int, passwords: int, codes: int, codes_per_destination: int = 0) -> None:
        self.db = db
        self.flows = Budget("flows_created", flows, MINUTE)
        self.passwords = Budget("password_attempts", passwords, MINUTE)
        self.codes = Budget("codes_sent", codes, HOUR)
        self.codes_per_destination = Budget("codes_per_destination", codes_per_destination, HOUR)

    @classmethod
    def from_settings(cls, db: Database, settings: Settings) -> AbuseLimits:
        return cls(db, settings.rate_flows, settings.rate_passwords, settings.rate_codes,
                   settings.rate_codes_destination)

    async def flow_created(self, address: str) -> None:
        await self.spend([(self.flows, "address", limits.client_key(address))])

    async def password_attempt(self, address: str, username: str) -> None:
        await self.spend([(self.passwords, "address", limits.client_key(address)),
                          (self.passwords, "username", limits.username_key(username))])

    async def code_sent(self, address: str | None, destination: str | None = None, uow: UnitOfWork | None = None) -> None:
        """For factors that send a code (email, SMS): one code sent at the request of ``address``
        (None: the admin key, never counted) to ``destination`` (a digest naming it; counted
        whoever asks, as it protects the recipient). With ``uow``, counted in that transaction:
        a code that is not sent after all is not counted either."""
        spends: list[Spend] = []
        if address is not None:
            spends.append((self.codes, "address", limits.client_key(address)))
        if destination is not None:
            spends.append((self.codes_per_destination, "destination", destination))
        await self.spend(spends, uow=uow)

    async def purge(self, now: datetime | None = None) -> int:
        """Drop windows older than any estimate reads (two of the longest window)."""
        now = now or datetime.now(UTC)
        async with self.db.unit_of_work() as uow:
            removed = await uow.limits.purge(now - timedelta(seconds=2 * HOUR))
            await uow.commit()
        return removed

    async def spend(self, spends: list[Spend], now: float | None = None, uow: UnitOfWork | None = None) -> None:
        # One lock order for every statement (sorted by bucket): concurrent hits never deadlock.
        active = sorted(((f"{budget.name}:{who}:{key}", budget, who) for budget, who, key in spends if not budget.off),
                        key=lambda spend: spend[0])
        if not active:
            return
        at = now if now is not None else time.time()
        starts = [limits.window_start(at, budget.window) for _, budget, _ in active]
        buckets = [bucket for bucket, _, _ in active]
        windows = [_utc(start) for start in starts]
        previous = [_utc(start - budget.window) for start, (_, budget, _) in zip(starts, active, strict=True)]
        if uow is not None:
            counts = await uow.limits.hit(buckets, windows, previous)
        else:
            async with self.db.unit_of_work(replayable=True) as own:
                counts = await own.limits.hit(buckets, windows, previous)
                await own.commit()
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
