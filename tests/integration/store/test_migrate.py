"""Migrations: applied in order, once, even when two processes race."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg

from mfa_flow.store.migrate import migrate, migration_files


async def test_two_processes_migrating_at_once_apply_each_file_once(test_database):
    name = f"mfa_flow_migrate_{uuid.uuid4().hex[:8]}"
    url = await test_database.create(name)
    try:
        first, second = await asyncio.gather(migrate(url), migrate(url))
        expected = [n for n, _ in migration_files()]
        assert sorted(first + second) == expected
        assert await migrate(url) == [], "running again applies nothing"
        conn = await asyncpg.connect(url)
        try:
            applied = [r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations ORDER BY name")]
        finally:
            await conn.close()
        assert applied == expected
    finally:
        await test_database.drop(name)
