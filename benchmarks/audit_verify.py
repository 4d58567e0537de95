"""How long `mfa-flow audit verify` takes over a large log, in rows per second.

Makes a scratch database on DATABASE_URL's server, fills it with valid flows (rows built
and hashed here, written with COPY: far faster than driving real sign-ins), signs
checkpoints every 100,000 rows, then measures in the same run:

- baseline: streaming every row out of PostgreSQL in the global order, no checks;
- verify: the whole `audit verify` (chains, replay through the machine, checkpoints,
  flow rows).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python benchmarks/audit_verify.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from cryptography.fernet import Fernet

from mfa_flow import bootstrap
from mfa_flow.app import audit_feed as feed
from mfa_flow.app.audit_checkpoints import make_checkpoints
from mfa_flow.crypto import SecretBox
from mfa_flow.domain.flow import canonical_json, iso
from mfa_flow.keyring import Keyring
from mfa_flow.settings import Settings
from mfa_flow.store import Database
from mfa_flow.store.migrate import migrate

# The shapes of sign-in a log is made of: (event, from, to, data) per row.
SHAPES = [
    [("first_factor_asserted", "first_factor", "totp_verify",
      {"guard": "asserted_by_backend", "rule": "verify.only_factor", "policy": "0f3a9c2b7d1e4a56"}),
     ("submit_totp", "totp_verify", "totp_verify", {"guard": "proof_wrong", "factor": "totp"}),
     ("submit_totp", "totp_verify", "done", {"guard": "proof_ok", "rule": "done.verified", "factor": "totp",
                                             "verification_id": "5b0e7f6e-2f55-4d43-9a43-0c1b8b0c7a11"})],
    [("submit_password", "first_factor", "factor_selection",
      {"guard": "credentials_ok", "rule": "verify.choose", "policy": "0f3a9c2b7d1e4a56"}),
     ("select_factor", "factor_selection", "backup_code_verify", {"guard": "factor_offered", "factor": "backup_code"}),
     ("switch_factor", "backup_code_verify", "factor_selection",
      {"guard": "other_factor_available", "from_factor": "backup_code"}),
     ("select_factor", "factor_selection", "totp_verify", {"guard": "factor_offered", "factor": "totp"}),
     ("submit_totp", "totp_verify", "done", {"guard": "proof_ok", "rule": "done.verified", "factor": "totp"})],
    [("submit_password", "first_factor", "totp_setup",
      {"guard": "credentials_ok", "rule": "setup.offered", "policy": "0f3a9c2b7d1e4a56"}),
     ("skip", "totp_setup", "done", {"guard": "setup_skippable", "rule": "done.setup_skipped"})],
    [("submit_password", "first_factor", "first_factor", {"guard": "credentials_wrong"}),
     ("cancel", "first_factor", "cancelled", {"guard": "always"})],
]


def build(rows_wanted: int):
    """Flows and their rows, hashed as the service hashes them."""
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    flows, rows, n = [], [], 0
    while len(rows) < rows_wanted:
        shape = SHAPES[n % len(SHAPES)]
        flow_id = uuid.UUID(int=n + 1)
        prev, at = "", t0 + timedelta(milliseconds=n)
        for seq, (event, from_state, to_state, data) in enumerate(shape, 1):
            body = {"flow_id": str(flow_id), "seq": seq, "event": event, "from_state": from_state,
                    "to_state": to_state, "at": iso(at), "actor": "user", "data": data}
            digest = hashlib.sha256(prev.encode() + canonical_json(body)).hexdigest()
            rows.append((flow_id, seq, event, from_state, to_state, at, "user", data, prev, digest))
            prev = digest
        flows.append((flow_id, b"\x00", shape[-1][2], len(shape), at, 5, {}, prev, at, at))
        n += 1
    return flows, rows


async def fill(url: str, rows_wanted: int) -> float:
    """Write ``rows_wanted`` valid rows (and their flows) with COPY; returns the build time."""
    started = time.perf_counter()
    flows, rows = build(rows_wanted)
    built = time.perf_counter() - started
    conn = await asyncpg.connect(url)
    # COPY is binary: jsonb's binary form is a version byte (1) and the JSON text.
    await conn.set_type_codec("jsonb", schema="pg_catalog", format="binary",
                              encoder=lambda v: b"\x01" + json.dumps(v).encode(),
                              decoder=lambda b: json.loads(b[1:]))
    try:
        await conn.copy_records_to_table(
            "flows", records=flows,
            columns=["id", "token_digest", "state", "version", "expires_at", "attempts_left", "context",
                     "chain_head", "created_at", "updated_at"])
        await conn.copy_records_to_table(
            "transitions", records=rows,
            columns=["flow_id", "seq", "event", "from_state", "to_state", "at", "actor", "data", "prev_hash", "hash"])
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return built


@contextlib.asynccontextmanager
async def scratch_database() -> AsyncIterator[str]:
    """A migrated database of its own on DATABASE_URL's server, dropped afterwards; yields its URL."""
    base = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"mfa_flow_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(base)
    await admin.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(base)
    try:
        url = urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))
        await migrate(url)
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def main(rows_wanted: int) -> None:
    async with scratch_database() as url:
        started = time.perf_counter()
        built = await fill(url, rows_wanted)
        loaded = time.perf_counter() - started - built
        db = await Database.connect(url, min_size=1, max_size=2)
        settings = Settings(database_url=url, data_dir=None, secret_key=Fernet.generate_key().decode())
        keyring = Keyring(settings, SecretBox(settings.secret_key))
        started = time.perf_counter()
        await make_checkpoints(db, keyring, every_rows=100_000, every_seconds=0, force=True, max_batches=10**6)
        signed = time.perf_counter() - started
        print(f"log: {rows_wanted:,} rows (built in {built:.1f} s, written with COPY in {loaded:.1f} s,"
              f" checkpoints signed in {signed:.1f} s)")

        async with db.unit_of_work(isolation="repeatable_read", readonly=True) as uow:
            started = time.perf_counter()
            streamed = 0
            async for _ in uow.audit.all_rows():
                streamed += 1
            baseline = time.perf_counter() - started
        print(f"baseline (stream rows, no checks): {baseline:.1f} s, {streamed / baseline:,.0f} rows/s")

        started = time.perf_counter()
        report, total = await feed.verify_database(db, bootstrap.registry().machine)
        took = time.perf_counter() - started
        assert report.ok, report.summary()
        print(f"audit verify: {total:,} rows, {report.flows:,} flows, {report.checkpoints} checkpoints"
              f" in {took:.1f} s = {total / took:,.0f} rows/s")
        await db.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    asyncio.run(main(parser.parse_args().rows))
