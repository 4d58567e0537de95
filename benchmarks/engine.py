"""What the flow engine costs per transition, against the bare SQL of one transition.

Baseline: one asyncpg transaction doing what a transition minimally is (lock the flow row,
update it, append a log row). Engine: FlowService.apply of a real event (lock, user and
factor reads, the machine, the hash chain, write, NOTIFY), in process, no HTTP. Both run
in the same run on the same scratch database with the same number of concurrent workers.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python benchmarks/engine.py [N]
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.fernet import Fernet  # noqa: E402

from mfa_flow import (
    bootstrap,  # noqa: E402
    logs,  # noqa: E402
)
from mfa_flow.domain.access import ANYONE, SYSTEM  # noqa: E402
from mfa_flow.settings import Settings  # noqa: E402
from mfa_flow.store import Database  # noqa: E402
from mfa_flow.store.migrate import migrate  # noqa: E402
from tests.support.database import TestDatabase  # noqa: E402

WORKERS = 8


async def run_parallel(jobs, label: str) -> float:
    queue = list(jobs)
    total = len(queue)
    started = time.perf_counter()

    async def worker():
        while queue:
            job = queue.pop()
            await job()

    await asyncio.gather(*(worker() for _ in range(WORKERS)))
    took = time.perf_counter() - started
    print(f"{label}: {total} in {took:.2f} s = {total / took:,.0f}/s", file=sys.stderr)
    return total / took


async def main(n: int) -> None:
    # The service's own JSON log lines are part of the cost; write them where they do not scroll by.
    logs.configure(stream=open(os.devnull, "w"))  # noqa: ASYNC230  (once, before the run)
    database = TestDatabase()
    await database.create()
    try:
        await migrate(database.url)
        db = await Database.connect(database.url, min_size=WORKERS, max_size=WORKERS)
        settings = Settings(database_url=database.url, data_dir=Path("/tmp"), secret_key=Fernet.generate_key().decode())
        service = bootstrap.build(settings, db).flows

        flows = [(await service.create(None, ANYONE))[0].id for _ in range(n)]
        now = datetime.now(UTC)

        def bare(flow_id):
            async def job():
                async with db.pool.acquire() as conn, conn.transaction():
                    version = await conn.fetchval("SELECT version FROM flows WHERE id = $1::uuid FOR UPDATE", flow_id)
                    await conn.execute("UPDATE flows SET version = $2, updated_at = $3 WHERE id = $1::uuid",
                                       flow_id, version + 1, now)
                    await conn.execute(
                        "INSERT INTO transitions (flow_id, seq, event, from_state, to_state, at, actor, data,"
                        " prev_hash, hash) VALUES ($1::uuid, $2, 'bench', 'first_factor', 'first_factor', $3, 'system',"
                        " '{}', '', '')", flow_id, version + 1, now)
            return job

        def engine(flow_id):
            async def job():
                await service.apply(flow_id, {"type": "cancel"}, SYSTEM)
            return job

        baseline = await run_parallel([bare(f) for f in flows], "bare SQL transition")
        applied = await run_parallel([engine(f) for f in flows], "FlowService.apply")
        print(f"transitions/s with {WORKERS} workers on {os.cpu_count()} cores: bare SQL {baseline:,.0f}, "
              f"engine {applied:,.0f}, engine/bare = {applied / baseline:.2f}")
        await db.close()
    finally:
        await database.drop()
        database.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3000))
