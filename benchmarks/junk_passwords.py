"""How many junk password events does the server absorb while a real sign-in keeps its pace?

A junk event is ``POST /api/flows/<random id>/events`` with ``Authorization: Bearer ft_junk``
and a ``submit_password`` body: no such flow, no such token. Runs a real server on a scratch
database and measures, in the same run:

1. the baseline: a real sign-in's password event (right password, the flow goes to ``done``),
   timed N times with nothing else going on;
2. the same while CLIENTS junk clients send junk events as fast as they are answered; prints
   the junk requests/s absorbed and the real event's latency meanwhile.

``--source DIR`` runs the server from another checkout (say, a worktree of an older commit),
so that one machine compares before and after in one sitting:

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python benchmarks/junk_passwords.py
    ... benchmarks/junk_passwords.py --source /tmp/old-checkout
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.client import Api  # noqa: E402
from tests.support.database import TestDatabase  # noqa: E402
from tests.support.server import ServerProcess  # noqa: E402

PASSWORD = "correct horse battery"


async def real_sign_in(api: Api, username: str) -> float:
    flow = await api.start()
    started = time.perf_counter()
    reply = await flow.send("submit_password", username=username, password=PASSWORD)
    took = time.perf_counter() - started
    assert reply.status == 200 and reply.body["state"] == "done", reply
    return took


async def junk_client(api: Api, stop: asyncio.Event, statuses: dict[int, int]) -> None:
    body = {"type": "submit_password", "username": "nobody", "password": "a guess"}
    while not stop.is_set():
        reply = await api.call("POST", f"/api/flows/{uuid.uuid4()}/events", "ft_junk", json=body)
        statuses[reply.status] = statuses.get(reply.status, 0) + 1


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"median {statistics.median(ordered) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms over {len(ordered)}"


async def main(n: int, clients: int, source: str | None) -> None:
    env = {"MFA_FLOW_LOCKOUT_THRESHOLD": "1000000"}
    if source:
        # ``python -m`` puts the working folder first on the path: run the server from there.
        os.chdir(source)
    database = TestDatabase()
    await database.create()
    server = ServerProcess(database.url, **env).start()
    print(f"server from {source or 'this checkout'}; {clients} junk clients; {n} real sign-ins per phase",
          file=sys.stderr)
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=clients + 4)) as session:
            api = Api(server.base_url, session)
            await api.configure([], "mandatory")  # the password is the whole sign-in
            await api.new_user("bench-user", PASSWORD)
            await real_sign_in(api, "bench-user")  # warm up

            baseline = []
            for i in range(n):
                print(f"\rbaseline {i + 1}/{n}", end="", file=sys.stderr, flush=True)
                baseline.append(await real_sign_in(api, "bench-user"))
            print(file=sys.stderr)

            stop = asyncio.Event()
            statuses: dict[int, int] = {}
            junk = [asyncio.create_task(junk_client(api, stop, statuses)) for _ in range(clients)]
            await asyncio.sleep(1)  # let the junk load settle
            counted_from, started = sum(statuses.values()), time.perf_counter()
            loaded = []
            for i in range(n):
                print(f"\runder junk load {i + 1}/{n}", end="", file=sys.stderr, flush=True)
                loaded.append(await real_sign_in(api, "bench-user"))
            elapsed = time.perf_counter() - started
            junk_done = sum(statuses.values()) - counted_from
            stop.set()
            await asyncio.gather(*junk)
            print(file=sys.stderr)

        print(f"real sign-in, nothing else running: {summary(baseline)}")
        print(f"real sign-in, under junk load:      {summary(loaded)}")
        print(f"junk password events absorbed: {junk_done / elapsed:.0f} requests/s "
              f"(answers: {dict(sorted(statuses.items()))})")
        print(f"slow-down of the real sign-in: x{statistics.median(loaded) / statistics.median(baseline):.2f}")
    finally:
        server.stop()
        await database.drop()
        database.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=30, help="real sign-ins per phase (default 30)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent junk clients (default 16)")
    parser.add_argument("--source", help="run the server from this checkout instead of this one")
    args = parser.parse_args()
    asyncio.run(main(args.n, args.clients, args.source))
