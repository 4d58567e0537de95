"""Does a wrong username cost the same as a wrong password? (It must: the two are indistinguishable.)

Runs a real server on a scratch database and times N sign-in attempts of each kind over HTTP,
interleaved so that machine noise hits both alike. Prints medians and their ratio.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python benchmarks/first_factor.py [N]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.client import Api  # noqa: E402
from tests.support.database import TestDatabase  # noqa: E402
from tests.support.server import ServerProcess  # noqa: E402


async def attempt(api: Api, username: str) -> float:
    flow = await api.start()
    started = time.perf_counter()
    reply = await flow.send("submit_password", username=username, password="not the password")
    took = time.perf_counter() - started
    assert reply.status == 422
    return took


async def main(n: int) -> None:
    database = TestDatabase()
    await database.create()
    server = ServerProcess(database.url, MFA_FLOW_LOCKOUT_THRESHOLD="100000", MFA_FLOW_MAX_ATTEMPTS="5").start()
    try:
        async with aiohttp.ClientSession() as session:
            api = Api(server.base_url, session)
            user = await api.new_user("timing-user")
            known, unknown = [], []
            for i in range(n):
                print(f"\r{i + 1}/{n} attempts of each kind", end="", file=sys.stderr, flush=True)
                known.append(await attempt(api, user["username"]))
                unknown.append(await attempt(api, f"nobody-{i}"))
            print(file=sys.stderr)
        k, u = statistics.median(known) * 1000, statistics.median(unknown) * 1000
        print(f"wrong password (known user): median {k:.1f} ms over {n}")
        print(f"unknown username:            median {u:.1f} ms over {n}")
        print(f"ratio unknown/known: {u / k:.3f}")
    finally:
        server.stop()
        await database.drop()
        database.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100))
