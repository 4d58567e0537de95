"""The worker keeps itself in shape: it LISTENs again when its connection is cut, and it
deletes old delivered messages. A database of this module's own, so no other worker shares
its deliveries."""

from __future__ import annotations

import time

import asyncpg
import pytest

from tests.support.client import Api
from tests.support.receiver import Receiver, eventually
from tests.support.server import server_and_worker

# Without a NOTIFY a courier looks for work only this often: a delivery that comes sooner
# came because the worker heard the outbox.
POLL_SECONDS = 60


@pytest.fixture(scope="module")
async def upkeep(test_database):
    async with test_database.own("upkeep") as url:
        with server_and_worker(url, {"MFA_FLOW_WEBHOOK_ALLOW_PRIVATE": "1"},
                               worker={"MFA_FLOW_WEBHOOK_POLL_INTERVAL": str(POLL_SECONDS),
                                       "MFA_FLOW_SWEEP_INTERVAL": "0.2"}) as (server, worker):
            yield url, server, worker


@pytest.fixture
async def hooks(upkeep, http) -> Api:
    return Api(upkeep[1].base_url, http)


@pytest.fixture
async def receiver(hooks):
    receiver = await Receiver().start()
    reply = await hooks.admin("POST", "/api/webhooks", {"url": receiver.url, "events": ["flow.created"]})
    assert reply.status == 201
    yield receiver
    await hooks.admin("DELETE", f"/api/webhooks/{reply.body['id']}")
    await receiver.stop()


async def listening_backends(database_url: str, worker) -> list[int]:
    conn = await asyncpg.connect(database_url)
    try:
        # By name; or, for a listener that gives none, by its LISTEN (its last statement until
        # a ping), so that a worker without the fix is found too.
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND (application_name = $1 OR query = 'LISTEN \"webhook_outbox\"')",
            f"mfa-flow worker listen pid={worker.process.pid}")
        return [row["pid"] for row in rows]
    finally:
        await conn.close()


async def delivered_within(hooks: Api, receiver: Receiver, seconds: float) -> float:
    """Start a flow; how long its flow.created took to reach the receiver (at most ``seconds``)."""
    started = time.time()
    flow = await hooks.start()
    await eventually(lambda: receiver.types(flow.id), timeout=seconds)
    return receiver.received[-1].at - started


async def test_the_worker_listens_again_after_its_connection_is_terminated(upkeep, hooks, receiver):
    database_url, _, worker = upkeep
    await delivered_within(hooks, receiver, 10)  # heard at once: no 60 s poll

    [backend] = await listening_backends(database_url, worker)
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT pg_terminate_backend($1)", backend)
    finally:
        await conn.close()
    worker.wait_log('"webhook outbox connection lost"', timeout=10)
    worker.wait_log('"webhook outbox listening again"', timeout=15)
    [again] = await listening_backends(database_url, worker)
    assert again != backend

    # Promptly, and twice: heard through the new LISTEN, not found by a poll.
    for _ in range(2):
        assert await delivered_within(hooks, receiver, 10) < 10
