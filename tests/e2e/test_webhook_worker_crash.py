"""At least once, through a crash: a worker killed with SIGKILL in the middle of a burst loses
nothing, and whatever it re-sends carries the same ``webhook-id``."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import asyncpg
from cryptography.fernet import Fernet

from tests.support.client import Api
from tests.support.receiver import Receiver
from tests.support.server import ServerProcess
from tests.support.waiting import eventually

BURST = 500


async def test_a_killed_worker_loses_no_event_and_repeats_only_with_the_same_id(fresh_database, http):
    crash_db = fresh_database
    env = {"MFA_FLOW_SECRET_KEY": Fernet.generate_key().decode(), "MFA_FLOW_WEBHOOK_ALLOW_PRIVATE": "1",
           "MFA_FLOW_WEBHOOK_RETRY_SCHEDULE": "0,0.2,0.2,0.2,0.2"}
    server = await ServerProcess(crash_db, **env).started()
    workers = [await ServerProcess(crash_db, command="worker", **env).started()]
    # A slow receiver, so that the kill lands while attempts are in flight.
    receiver = await Receiver(delay=0.05).start()
    try:
        api = Api(server.base_url, http)
        reply = await api.admin("POST", "/api/webhooks", {"url": receiver.url, "events": ["flow.created"]})
        assert reply.status == 201
        in_flight = asyncio.Semaphore(16)

        async def start_flow() -> str:
            async with in_flight:
                return (await api.start()).id

        burst = asyncio.gather(*(start_flow() for _ in range(BURST)))
        await eventually(lambda: len(receiver.received) >= BURST // 5)
        workers[0].kill()
        killed_at = len(receiver.received)
        workers.append(await ServerProcess(crash_db, command="worker", **env).started())
        flow_ids = set(await burst)

        await eventually(lambda: {r.message["data"]["flow_id"] for r in receiver.received} >= flow_ids, timeout=120)
        ids_per_flow = defaultdict(set)
        for request in receiver.received:
            ids_per_flow[request.message["data"]["flow_id"]].add(request.webhook_id)
        assert set(ids_per_flow) == flow_ids, "every event arrived"
        assert all(len(ids) == 1 for ids in ids_per_flow.values()), "a repeat carries the same webhook-id"
        assert killed_at < BURST, "the kill came in the middle of the burst"

        conn = await asyncpg.connect(crash_db)
        try:
            async def settled():  # the last answers may still be on their way to the log
                rows = await conn.fetch("SELECT status, count(*) AS n FROM webhook_deliveries GROUP BY status")
                return {r["status"]: r["n"] for r in rows} == {"succeeded": BURST}

            await eventually(settled)
        finally:
            await conn.close()
        repeats = len(receiver.received) - BURST
        print(f"\n{BURST} events, worker killed after {killed_at} receipts, {repeats} delivered twice")
    finally:
        await receiver.stop()
        for process in workers:
            process.stop()
        server.stop()
