"""Webhook delivery: deliveries per second to a loopback receiver, and commit-to-delivery
latency, with baselines measured in the same run.

    DATABASE_URL=postgresql://... .venv/bin/python benchmarks/webhooks.py [--events 2000]

Starts a real ``mfa-flow serve`` and ``mfa-flow worker`` on a fresh database (dropped at the
end) and a receiver on 127.0.0.1. Prints:
  - the receiver's own ceiling: plain POSTs from one client, 8 at a time (no database);
  - flow creations per second with no webhook registered, and with one (the outbox's cost);
  - deliveries per second: a backlog of flow.created messages drained by one worker;
  - latency from sending POST /api/flows to the webhook's arrival, p50/p99, one flow at a time
    (the create request's own latency is printed beside it: the commit is inside it).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import aiohttp
from cryptography.fernet import Fernet

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.client import Api  # noqa: E402
from tests.support.database import TestDatabase  # noqa: E402
from tests.support.receiver import Receiver  # noqa: E402
from tests.support.server import ServerProcess  # noqa: E402
from tests.support.waiting import eventually  # noqa: E402


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def timed_creations(api: Api, count: int, concurrency: int = 16) -> float:
    gate = asyncio.Semaphore(concurrency)

    async def one():
        async with gate:
            await api.start()

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(count)))
    return count / (time.perf_counter() - started)


async def receiver_ceiling(session: aiohttp.ClientSession, receiver: Receiver, count: int) -> float:
    gate = asyncio.Semaphore(8)
    body = b'{"type":"flow.created","timestamp":"t","data":{}}'

    async def one():
        async with gate:
            async with session.post(receiver.url, data=body, headers={"content-type": "application/json"}) as r:
                await r.read()

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(count)))
    return count / (time.perf_counter() - started)


async def main(events: int, latency_samples: int) -> None:
    database = TestDatabase()
    await database.create()
    env = {"MFA_FLOW_SECRET_KEY": Fernet.generate_key().decode(), "MFA_FLOW_WEBHOOK_ALLOW_PRIVATE": "1"}
    server = ServerProcess(database.url, **env).start()
    worker = None
    receiver = await Receiver().start()
    try:
        async with aiohttp.ClientSession() as session:
            api = Api(server.base_url, session)
            ceiling = await receiver_ceiling(session, receiver, events)
            receiver.received.clear()
            await timed_creations(api, 100)  # warm up
            bare = await timed_creations(api, events // 2)

            await api.admin("POST", "/api/webhooks", {"url": receiver.url, "events": ["flow.created"]})
            with_outbox = await timed_creations(api, events)  # no worker yet: a backlog of `events`

            worker = ServerProcess(database.url, command="worker", **env).start()
            await eventually(lambda: len(receiver.received) >= events, timeout=120)
            arrivals = sorted(r.at for r in receiver.received)
            drain = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])

            latencies, create_latencies = [], []
            for _ in range(latency_samples):
                before = len(receiver.received)
                sent = time.time()
                flow = await api.start()
                create_latencies.append(time.time() - sent)
                await eventually(lambda before=before: len(receiver.received) > before, interval=0.0005)
                [arrival] = [r.at for r in receiver.received[before:] if r.message["data"]["flow_id"] == flow.id]
                latencies.append(arrival - sent)

        ms = 1000
        print(f"receiver ceiling (plain POSTs, 8 at a time, no database): {ceiling:8.0f} requests/s")
        print(f"flow creations/s, no webhook registered:                  {bare:8.0f}")
        print(f"flow creations/s, one endpoint subscribed (outbox write): {with_outbox:8.0f}")
        print(f"deliveries/s, backlog of {events} drained by one worker (8 couriers): {drain:8.0f}")
        print(f"send-to-delivery latency over {latency_samples} flows, one at a time: "
              f"p50 {statistics.median(latencies) * ms:.1f} ms, p99 {pct(latencies, 0.99) * ms:.1f} ms "
              f"(of which the create request: p50 {statistics.median(create_latencies) * ms:.1f} ms, "
              f"p99 {pct(create_latencies, 0.99) * ms:.1f} ms)")
    finally:
        await receiver.stop()
        if worker is not None:
            worker.stop()
        server.stop()
        await database.drop()
        database.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--latency-samples", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.events, args.latency_samples))
