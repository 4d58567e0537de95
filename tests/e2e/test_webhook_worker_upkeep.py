"""The worker keeps itself in shape: it LISTENs again when its connection is cut, and it
deletes old delivered messages. A database of this module's own, so no other worker shares
its deliveries."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest

from tests.support.client import Api
from tests.support.receiver import Receiver
from tests.support.server import server_and_worker
from tests.support.waiting import eventually

# Without a NOTIFY a courier looks for work only this often: a delivery that comes sooner
# came because the worker heard the outbox.
POLL_SECONDS = 60


@pytest.fixture(scope="module")
async def upkeep(test_database):
    async with test_database.own("upkeep") as url:
        async with server_and_worker(url, {"MFA_FLOW_WEBHOOK_ALLOW_PRIVATE": "1"},
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
    await asyncio.to_thread(worker.wait_log, '"webhook outbox connection lost"', 10)
    await asyncio.to_thread(worker.wait_log, '"webhook outbox listening again"', 15)
    [again] = await listening_backends(database_url, worker)
    assert again != backend

    # Promptly, and twice: heard through the new LISTEN, not found by a poll.
    for _ in range(2):
        assert await delivered_within(hooks, receiver, 10) < 10


# --- retention ------------------------------------------------------------------------------


async def add_message(conn: asyncpg.Connection, occurred_days_ago: float,
                      deliveries: list[tuple[str, str, float]]) -> int:
    """An old message as the outbox holds it, with deliveries (endpoint, status, days since it
    ended); a pending one is due only tomorrow, so the worker leaves it be. In one transaction:
    the sweep would take an old message without deliveries for one whose endpoints are gone."""
    async with conn.transaction():
        return await _add_message(conn, occurred_days_ago, deliveries)


async def _add_message(conn: asyncpg.Connection, occurred_days_ago: float,
                       deliveries: list[tuple[str, str, float]]) -> int:
    seq = await conn.fetchval(
        "INSERT INTO webhook_messages (id, type, ordering_key, data, occurred_at)"
        " VALUES ('msg_' || md5(random()::text), 'flow.created', 'flow:' || gen_random_uuid(), '{}',"
        " now() - make_interval(secs => $1 * 86400)) RETURNING seq", occurred_days_ago)
    for endpoint_id, status, ended_days_ago in deliveries:
        ended = "now() - make_interval(secs => $3 * 86400)"
        await conn.execute(
            "INSERT INTO webhook_deliveries (message_seq, endpoint_id, ordering_key, status, attempts,"
            " next_attempt_at, last_attempt_at, delivered_at, created_at)"
            f" SELECT $1, $2::uuid, ordering_key, $4, 1, now() + interval '1 day', {ended},"
            f" CASE WHEN $4 = 'succeeded' THEN {ended} END, occurred_at FROM webhook_messages WHERE seq = $1",
            seq, endpoint_id, ended_days_ago, status)
    return seq


async def test_messages_whose_deliveries_ended_30_days_ago_are_deleted_by_the_worker(upkeep, hooks, receiver):
    database_url, _, worker = upkeep
    conn = await asyncpg.connect(database_url)
    try:
        # One delivered for real, then made 31 days old.
        flow = await hooks.start()
        await eventually(lambda: receiver.types(flow.id))
        delivered = await eventually(lambda: conn.fetchval(
            "SELECT m.seq FROM webhook_messages m JOIN webhook_deliveries d ON d.message_seq = m.seq"
            " WHERE m.ordering_key = $1 AND d.status = 'succeeded'", f"flow:{flow.id}"))
        await conn.execute(
            "UPDATE webhook_messages SET occurred_at = occurred_at - interval '31 days' WHERE seq = $1", delivered)
        await conn.execute("UPDATE webhook_deliveries SET delivered_at = delivered_at - interval '31 days',"
                           " last_attempt_at = last_attempt_at - interval '31 days' WHERE message_seq = $1", delivered)
        endpoint = await conn.fetchval("SELECT id::text FROM webhook_endpoints ORDER BY created_at DESC LIMIT 1")
        other = await conn.fetchval(
            "INSERT INTO webhook_endpoints (id, url, events, secret_sealed, created_at, updated_at)"
            " VALUES (gen_random_uuid(), 'http://127.0.0.1:9/other', '{flow.created}', 'x', now(), now())"
            " RETURNING id::text")
        gone = {
            "delivered": delivered,
            "failed 31 days ago": await add_message(conn, 40, [(endpoint, "failed", 31)]),
            "ended at two endpoints": await add_message(conn, 40, [(endpoint, "succeeded", 35),
                                                                   (other, "failed", 31)]),
            "its endpoint deleted": await add_message(conn, 40, []),
        }
        kept = {
            "failed 29 days ago (still retryable by hand)": await add_message(conn, 40, [(endpoint, "failed", 29)]),
            "pending for 40 days": await add_message(conn, 40, [(endpoint, "pending", 40)]),
            "delivered to one endpoint, pending to another": await add_message(
                conn, 40, [(endpoint, "succeeded", 35), (other, "pending", 40)]),
            "new": await add_message(conn, 0, [(endpoint, "succeeded", 0)]),
        }

        async def swept():
            left = {r["seq"] for r in await conn.fetch("SELECT seq FROM webhook_messages")}
            return not left & set(gone.values())

        await eventually(swept, timeout=15)
        left = {r["seq"] for r in await conn.fetch("SELECT seq FROM webhook_messages")}
        assert {name for name, seq in kept.items() if seq not in left} == set()
        assert await conn.fetchval("SELECT count(*) FROM webhook_deliveries WHERE message_seq = ANY($1::bigint[])",
                                   list(gone.values())) == 0
        await asyncio.to_thread(worker.wait_log, '"webhook retention sweep"')
        await conn.execute("DELETE FROM webhook_endpoints WHERE id = $1::uuid", other)
    finally:
        await conn.close()


async def test_sign_ins_older_than_the_history_days_are_deleted_by_the_worker(upkeep, hooks):
    """Adaptive MFA's sign-in history is kept MFA_FLOW_SIGN_IN_HISTORY_DAYS (180)."""
    database_url, _, worker = upkeep
    user = await hooks.new_user(f"history-{time.time_ns()}")
    conn = await asyncpg.connect(database_url)
    try:
        ids = {}
        for days in (181, 179):
            ids[days] = await conn.fetchval(
                "INSERT INTO sign_ins (user_id, flow_id, at, country) VALUES ($1, gen_random_uuid(),"
                " now() - make_interval(days => $2), 'FR') RETURNING id", user["id"], days)

        async def swept():
            return not await conn.fetchval("SELECT count(*) FROM sign_ins WHERE id = $1", ids[181])

        await eventually(swept, timeout=15)
        assert await conn.fetchval("SELECT count(*) FROM sign_ins WHERE id = $1", ids[179]) == 1
        await asyncio.to_thread(worker.wait_log, '"sign-in history retention sweep"')
    finally:
        await conn.close()
