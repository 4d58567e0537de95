"""Does every hot query touch one partition's rows? EXPLAIN the real ones and see.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python benchmarks/explain_partitions.py

Makes (and drops) its own database, migrates it, and builds a schema ``partitioned`` holding
the hot tables hash-partitioned 8 ways the way the capacity plan distributes them:
``flows`` and ``transitions`` by flow id (colocated), ``users`` and ``mfa_verifications`` by
user id. With ``search_path`` pointed there it runs two real sign-ins through
``FlowService`` (TOTP set-up, then TOTP verification, then a password sign-in), records every
statement the service sends (asyncpg's query logger) and EXPLAINs each one with its real
arguments. PostgreSQL's partition pruning is the same question Citus's router asks: can
this statement be sent to one shard? The output names, per statement, the partitions it
reads or writes.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import pyotp  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402

from mfa_flow import bootstrap  # noqa: E402
from mfa_flow.domain.access import ANYONE, SYSTEM, Principal  # noqa: E402
from mfa_flow.settings import Settings  # noqa: E402

AS_ADMIN = Principal("admin")
from mfa_flow.passwords import hasher, profiles  # noqa: E402
from mfa_flow.store.db import Database, _init_connection  # noqa: E402
from mfa_flow.store.migrate import migrate  # noqa: E402
from tests.support.database import TestDatabase  # noqa: E402

PARTITIONS = 8
# table -> (distribution column, its primary key in the partitioned layout)
LAYOUT = {
    "flows": ("id", "id"),
    "transitions": ("flow_id", "flow_id, seq"),
    "users": ("id", "id"),
    "mfa_verifications": ("user_id", "user_id, id"),
}


async def build_partitioned_schema(conn: asyncpg.Connection) -> None:
    await conn.execute("CREATE SCHEMA partitioned")
    for table, (column, key) in LAYOUT.items():
        await conn.execute(
            f"CREATE TABLE partitioned.{table} (LIKE public.{table} INCLUDING DEFAULTS) PARTITION BY HASH ({column})"
        )
        await conn.execute(f"ALTER TABLE partitioned.{table} ADD PRIMARY KEY ({key})")
        for n in range(PARTITIONS):
            await conn.execute(
                f"CREATE TABLE partitioned.{table}_p{n} PARTITION OF partitioned.{table}"
                f" FOR VALUES WITH (MODULUS {PARTITIONS}, REMAINDER {n})"
            )
    await conn.execute("CREATE INDEX ON partitioned.transitions (id)")
    await conn.execute("CREATE UNIQUE INDEX ON partitioned.users (id, username)")  # see the plan: usernames
    # Some rows, so the planner has partitions worth pruning.
    await conn.execute(
        "INSERT INTO partitioned.users (id, username) SELECT 'filler-' || g, 'filler-' || g FROM generate_series(1, 2000) g"
    )
    await conn.execute(
        "INSERT INTO partitioned.flows (id, token_digest, state, version, expires_at, attempts_left, created_at,"
        " updated_at) SELECT gen_random_uuid(), '\\x00', 'done', 1, now(), 5, now(), now() FROM generate_series(1, 2000)"
    )
    await conn.execute("ANALYZE")


async def sign_ins(db: Database, secret_key: str, recorded: list) -> None:
    settings = Settings(database_url=db.url, data_dir=Path(tempfile.mkdtemp()))
    service = bootstrap.build(replace(settings, secret_key=secret_key), db).flows
    async with db.unit_of_work() as uow:
        await uow.connection.execute("UPDATE mfa_config SET factors = '{totp}', policy = 'mandatory'")
        await uow.connection.execute(
            "INSERT INTO users (id, username, password_hash) VALUES ('u-1', 'ada', $1)",
            hasher(profiles.PROFILES[profiles.DEFAULT]).hash("correct horse battery"),
        )
        await uow.commit()
    recorded.clear()  # the set-up above is not part of a sign-in
    # 1. The backend asserts the first factor; TOTP is set up.
    flow, _ = await service.create({"id": "u-1"}, AS_ADMIN)
    secret = service.view(flow, owner=True)["challenge"]["secret"]
    totp = pyotp.TOTP(secret)
    await service.apply(flow.id, {"type": "submit_totp", "code": totp.now()}, SYSTEM)
    # 2. A password sign-in, then the TOTP code of the next time-step (the last one is spent).
    flow, _ = await service.create(None, ANYONE)
    await service.apply(flow.id, {"type": "submit_password", "username": "ada", "password": "correct horse battery"},
                        AS_ADMIN)
    await service.apply(flow.id, {"type": "submit_totp", "code": totp.at(time.time() + 30)}, SYSTEM)


def partitions_in(plan: str) -> dict[str, set[str]]:
    touched: dict[str, set[str]] = {}
    for table in LAYOUT:
        found = set(re.findall(rf"\b({table}_p\d+)\b", plan))
        if found or re.search(rf"\bon {table}\b", plan):
            touched[table] = found
    return touched


async def main_async(database: TestDatabase) -> int:
    await migrate(database.url)
    admin = await asyncpg.connect(database.url)
    await build_partitioned_schema(admin)
    recorded: list[tuple[str, tuple]] = []

    async def init(conn: asyncpg.Connection) -> None:
        await _init_connection(conn)
        conn.add_query_logger(lambda q: recorded.append((q.query, q.args)))

    pool = await asyncpg.create_pool(database.url, min_size=1, max_size=2, init=init,
                                     server_settings={"search_path": "partitioned, public"})
    await sign_ins(Database(pool, database.url), Fernet.generate_key().decode(), recorded)
    await pool.close()

    await admin.execute("SET search_path = partitioned, public")
    await admin.set_type_codec("jsonb", encoder=lambda v: __import__("json").dumps(v),
                               decoder=lambda v: v, schema="pg_catalog")
    seen, crossing = set(), 0
    for query, args in recorded:
        if not re.match(r"\s*(SELECT|INSERT|UPDATE|DELETE)", query, re.I) or ";" in query or query in seen:
            continue
        seen.add(query)
        if isinstance(args, list):  # executemany: a list of argument tuples; one tells the route
            args = args[0]
        rows = await admin.fetch("EXPLAIN (COSTS OFF) " + query, *args)
        plan = "\n".join(r[0] for r in rows)
        touched = partitions_in(plan)
        if not touched:
            continue
        inserted = re.match(r"\s*INSERT INTO (\w+) \(([^)]*)\)", query)
        if inserted and inserted.group(1) in LAYOUT:
            # An INSERT names no partition in EXPLAIN: each row is routed by the value of its
            # distribution column, which must therefore be among the inserted columns.
            column = LAYOUT[inserted.group(1)][0]
            assert column in [c.strip() for c in inserted.group(2).split(",")], query
            touched[inserted.group(1)] = {f"routed by {column}"}
        wide = {t: p for t, p in touched.items() if len(p) != 1}
        crossing += bool(wide)
        verdict = "ONE PARTITION" if not wide else "CROSSES PARTITIONS: " + ", ".join(
            f"{t} ({len(p)} of {PARTITIONS})" for t, p in wide.items())
        print(f"-- {verdict}\n{' '.join(query.split())[:160]}")
        print("   " + plan.replace("\n", "\n   ") + "\n")
    print(f"{len(seen)} distinct statements on the sign-in path; {crossing} cross partitions "
          "(see deploy/README.md, 'Past one primary', for what becomes of them)")
    await admin.close()
    return 0


def main() -> None:
    if not os.environ.get("DATABASE_URL"):
        raise SystemExit("set DATABASE_URL to a PostgreSQL server (a database is made and dropped there)")
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    database = TestDatabase()
    asyncio.run(database.create())
    try:
        asyncio.run(main_async(database))
    finally:
        asyncio.run(database.drop())
        database.close()


if __name__ == "__main__":
    main()
