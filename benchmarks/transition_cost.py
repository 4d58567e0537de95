"""What one transition costs, counted rather than timed: statements, buffers, WAL, and CPU.

Drives N transitions one after another through ``FlowService.apply`` (in process, no HTTP),
beside the bare endpoint's SQL for the same transition (``benchmarks/suite/bare.py``), on a
scratch database, with the service's change feed listening or not. Per transition it prints:

- the statements each sent and what PostgreSQL did for them (``pg_stat_statements``: calls,
  shared buffers hit, read and dirtied, WAL records, full-page images and bytes), when the
  server has the extension loaded (``shared_preload_libraries``);
- HOT updates of ``flows`` (``pg_stat_user_tables``);
- CPU time of this process (the engine), of the transaction's PostgreSQL backend, and of the
  change feed's listening backend (``/proc``: a PostgreSQL on this machine).

These depend little on how busy the machine is (CPU time counts only the time a process ran),
so they show what a change to the transition does while timings would be noise.

    .venv/bin/python benchmarks/transition_cost.py --url postgresql://... [--transitions 2000] [--listen]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.fernet import Fernet  # noqa: E402

from benchmarks.suite import bare  # noqa: E402
from mfa_flow import bootstrap, logs  # noqa: E402
from mfa_flow.app import flows as flows_module  # noqa: E402
from mfa_flow.crypto import token_digest  # noqa: E402
from mfa_flow.domain.access import ADMIN, FLOW_TOKEN, Principal  # noqa: E402
from mfa_flow.live import ChangeFeed  # noqa: E402
from mfa_flow.settings import Settings  # noqa: E402
from mfa_flow.store import Database  # noqa: E402
from mfa_flow.store.migrate import migrate  # noqa: E402
from tests.support.bulk import import_flows  # noqa: E402
from tests.support.database import TestDatabase  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


async def statements(conn: asyncpg.Connection) -> dict[str, dict] | None:
    try:
        rows = await conn.fetch(
            "SELECT query, calls, rows, shared_blks_hit, shared_blks_read, shared_blks_dirtied, wal_records, wal_fpi,"
            " wal_bytes FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname ="
            " current_database())")
    except asyncpg.PostgresError:
        return None
    return {r["query"]: dict(r) for r in rows}


class Counting:
    """What happened between ``start`` and ``stop`` on the database, per transition."""

    def __init__(self, url: str, label: str):
        self.url, self.label = url, label

    async def start(self, backend_pids: list[int], listener_pid: int | None) -> None:
        self.conn = await asyncpg.connect(self.url)
        try:
            await self.conn.execute("SELECT pg_stat_statements_reset()")
        except asyncpg.PostgresError:
            pass
        self.backends, self.listener = backend_pids, listener_pid
        self.tables = await self._tables()
        self.cpu = (time.process_time(), sum(cpu_of(p) for p in backend_pids),
                    cpu_of(listener_pid) if listener_pid else 0.0)

    async def _tables(self) -> dict[str, int]:
        await asyncio.sleep(0.6)  # backends report their table counts when idle (at most once a second)
        await self.conn.execute("SELECT pg_stat_force_next_flush()")
        row = await self.conn.fetchrow("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'flows'")
        return dict(row)

    async def stop(self, n: int) -> dict:
        engine, backends, listener = (time.process_time() - self.cpu[0],
                                      sum(cpu_of(p) for p in self.backends) - self.cpu[1],
                                      (cpu_of(self.listener) - self.cpu[2]) if self.listener else 0.0)
        await asyncio.sleep(1.1)
        tables = await self._tables()
        found = await statements(self.conn)
        await self.conn.close()
        result: dict = {
            "label": self.label, "transitions": n,
            "cpu_us": {"this process": engine / n * 1e6, "PostgreSQL backend(s)": backends / n * 1e6,
                       "listening backend": listener / n * 1e6},
            "flows updates": (tables["n_tup_upd"] - self.tables["n_tup_upd"]) / n,
            "flows HOT updates": (tables["n_tup_hot_upd"] - self.tables["n_tup_hot_upd"]) / n,
        }
        if found is not None:
            ours = [s for q, s in found.items() if "pg_stat" not in q and not q.startswith(("BEGIN", "COMMIT"))]
            keys = ("calls", "shared_blks_hit", "shared_blks_read", "shared_blks_dirtied", "wal_records", "wal_fpi",
                    "wal_bytes")
            result["per transition"] = {k: sum(float(s[k]) for s in ours) / n for k in keys}
            result["statements"] = sorted(({"query": s["query"][:110], **{k: round(float(s[k]) / n, 2) for k in keys}}
                                           for s in ours), key=lambda s: -s["wal_bytes"] - 100 * s["shared_blks_hit"])
        return result


async def backend_pids(pool: asyncpg.Pool) -> list[int]:
    conns = [await pool.acquire() for _ in range(pool.get_size())]
    try:
        return [await c.fetchval("SELECT pg_backend_pid()") for c in conns]
    finally:
        for c in conns:
            await pool.release(c)


async def listener_pid(url: str, name: str) -> int | None:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval("SELECT pid FROM pg_stat_activity WHERE application_name LIKE $1 LIMIT 1",
                                   f"{name}%")
    finally:
        await conn.close()


async def engine_run(url: str, n: int, flows: int, listen: bool, new_flows: bool = False) -> dict:
    """``n`` transitions through the engine: on ``flows`` flows in turn, or (``new_flows``) each
    pair a new flow (its creation with the first factor asserted, then a switch of factor), as
    sign-ins come."""
    settings = Settings(database_url=url, data_dir=Path(tempfile.mkdtemp()), secret_key=Fernet.generate_key().decode())
    db = await Database.connect(url, min_size=1, max_size=1)
    services = bootstrap.build(settings, db)
    feed = ChangeFeed(url, name="cost-listen") if listen else None
    try:
        await services.management.put_config({"factors": ["totp", "backup_code"], "policy": "mandatory"})
        async with db.pool.acquire() as conn:
            await bare.ensure_endpoint(conn)  # one webhook endpoint, as the bare endpoint has: outbox rows
        users = []
        for _ in range(flows):
            user = await services.management.add_user({"username": f"cost-{uuid.uuid4().hex[:8]}"})
            await services.management.add_factor(user["id"], {"type": "totp"})
            await services.management.add_factor(user["id"], {"type": "backup_code"})
            users.append(user["id"])
        ids = []
        for user_id in users:
            flow, token = await services.flows.create({"id": user_id}, Principal(ADMIN))
            ids.append((flow.id, Principal(FLOW_TOKEN, token_digest(token)), flow.state))
        if feed is not None:
            await feed.start()
        states = {i: s for i, _, s in ids}

        async def step(k: int) -> None:
            flow_id, who, _ = ids[k % len(ids)]
            event = {"type": "select_factor", "factor": "totp"} if states[flow_id] == "factor_selection" \
                else {"type": "switch_factor"}
            states[flow_id] = (await services.flows.apply(flow_id, event, who)).state

        async def sign_in(k: int) -> None:
            flow, token = await services.flows.create({"id": users[k % len(users)]}, Principal(ADMIN))
            await services.flows.apply(flow.id, {"type": "select_factor", "factor": "totp"},
                                       Principal(FLOW_TOKEN, token_digest(token)))

        for k in range(min(200, n)):  # warm: plans prepared, caches filled
            await (sign_in(k) if new_flows and k % 2 else step(k))
        if new_flows:
            await db.pool.execute("CHECKPOINT")  # the first change to each page after it is a full-page image
        what = "new flows" if new_flows else f"{flows} flows"
        counting = Counting(url, f"engine, {what} ({'change feed listening' if listen else 'no listener'})")
        await counting.start(await backend_pids(db.pool), await listener_pid(url, "cost-listen") if listen else None)
        for k in range(n // 2 if new_flows else n):
            await (sign_in(k) if new_flows else step(k))
        return await counting.stop(n)
    finally:
        if feed is not None:
            await feed.stop()
        await services.close()


async def bare_run(url: str, n: int, flows: int) -> dict:
    conn = await asyncpg.connect(url)
    try:
        ids = await bare.prepare(conn, flows)
        for k in range(min(200, n)):  # the bare endpoint's transaction, without HTTP
            await bare.transition(conn, ids[k % len(ids)], "switch_factor")
        counting = Counting(url, "bare SQL")
        await counting.start([await conn.fetchval("SELECT pg_backend_pid()")], None)
        for k in range(n):
            await bare.transition(conn, ids[k % len(ids)], "switch_factor")
        return await counting.stop(n)
    finally:
        await conn.close()


def show(result: dict) -> None:
    print(f"\n{result['label']}: {result['transitions']} transitions")
    for what, us in result["cpu_us"].items():
        print(f"  CPU of {what}: {us:,.0f} µs per transition")
    print(f"  flows updates {result['flows updates']:.2f}, of them HOT {result['flows HOT updates']:.2f} per transition")
    if "per transition" in result:
        print("  per transition: " + ", ".join(f"{k} {v:,.1f}" for k, v in result["per transition"].items()))
        for s in result["statements"]:
            print(f"    {s['calls']:>5} calls, WAL {s['wal_bytes']:>7,.0f} B, fpi {s['wal_fpi']:.2f},"
                  f" dirtied {s['shared_blks_dirtied']:.2f}, hit {s['shared_blks_hit']:.1f}: {s['query']}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("DATABASE_URL"), help="a PostgreSQL server (default DATABASE_URL)")
    parser.add_argument("--transitions", type=int, default=2000)
    parser.add_argument("--flows", type=int, default=16)
    parser.add_argument("--stored", type=int, default=0,
                        help="finished flows to store first (bulk-loaded, two rows each), then CHECKPOINT")
    parser.add_argument("--stored-ids", choices=("v4", "v7"), default="v7", help="the stored flows' ids")
    parser.add_argument("--new-flows", choices=("v4", "v7"),
                        help="measure sign-ins (a new flow and one step) instead, with new flows getting these ids")
    parser.add_argument("--only", choices=("bare", "engine", "engine+listen"), action="append")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()
    logs.configure(stream=open(os.devnull, "w"))  # noqa: SIM115, ASYNC230  (the service's own lines)
    os.environ["DATABASE_URL"] = args.url
    if args.new_flows == "v4":  # as flows were made before time-ordered ids
        flows_module.new_flow_id = lambda now: str(uuid.uuid4())
    results = []
    for what in args.only or ("bare", "engine", "engine+listen"):
        database = TestDatabase()
        await database.create()
        try:
            await migrate(database.url)
            admin = await asyncpg.connect(database.url)
            try:
                try:
                    await admin.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
                except asyncpg.PostgresError:
                    pass
                if args.stored:
                    print(f"storing {args.stored:,} flows ({args.stored_ids} ids) ...", file=sys.stderr)
                    await import_flows(admin, args.stored, ids=args.stored_ids)
                    await admin.execute("VACUUM (ANALYZE)")
            finally:
                await admin.close()
            if what == "bare":
                results.append(await bare_run(database.url, args.transitions, args.flows))
            else:
                results.append(await engine_run(database.url, args.transitions, args.flows, what == "engine+listen",
                                                new_flows=args.new_flows is not None))
            show(results[-1])
        finally:
            await database.drop()
            database.close()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
