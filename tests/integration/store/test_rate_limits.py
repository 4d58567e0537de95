"""Abuse-limit budgets in PostgreSQL: shared by every process of one database, one statement per hit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from mfa_flow.app.limits import AbuseLimits
from mfa_flow.domain.errors import RateLimited
from mfa_flow.store import Database


@pytest.fixture
async def databases(fresh_database: str) -> AsyncIterator[tuple[Database, Database]]:
    # Two pools stand for two serve processes on one database.
    first, second = await Database.connect(fresh_database), await Database.connect(fresh_database)
    yield first, second
    await first.close()
    await second.close()


async def test_codes_sent_per_address_are_limited_per_hour_across_processes(databases):
    first, second = (AbuseLimits(db, flows=0, passwords=0, codes=4) for db in databases)
    for limits in (first, second, first, second):
        await limits.code_sent("192.0.2.44")
    with pytest.raises(RateLimited) as refused:
        await second.code_sent("192.0.2.44")
    error = refused.value
    assert (error.kind, error.facts["limit"]) == ("rate-limited", "codes_sent")
    assert "an hour" in error.detail
    assert 1 <= error.retry_after <= 7200
    await first.code_sent("192.0.2.45")  # another address has its own budget


async def test_a_limit_of_zero_is_off(databases):
    limits = AbuseLimits(databases[0], flows=0, passwords=0, codes=0)
    await asyncio.gather(*(limits.flow_created("192.0.2.50") for _ in range(50)))


async def test_concurrent_hits_are_all_counted(databases):
    limits = AbuseLimits(databases[0], flows=20, passwords=0, codes=0)
    outcomes = await asyncio.gather(*(limits.flow_created("192.0.2.60") for _ in range(30)), return_exceptions=True)
    assert sum(isinstance(outcome, RateLimited) for outcome in outcomes) == 10


async def test_old_windows_are_purged(databases):
    limits = AbuseLimits(databases[0], flows=5, passwords=0, codes=0)
    await limits.flow_created("192.0.2.70")
    assert await limits.purge() == 0  # this window is still read
    assert await limits.purge(datetime.now(UTC) + timedelta(hours=3)) >= 1
