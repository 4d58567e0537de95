"""Plain SQL migrations, applied in file-name order, each once, under an advisory lock."""

from __future__ import annotations

from importlib import resources
from typing import Callable

from .first_connection import connect

# Any constant will do; it only has to be the same for every process of this service.
_LOCK_KEY = 0x6D66615F666C6F77  # "mfa_flow"


def migration_files() -> list[tuple[str, str]]:
    folder = resources.files("mfa_flow.store") / "migrations"
    files = sorted((f.name, f.read_text()) for f in folder.iterdir() if f.name.endswith(".sql"))
    return files


async def migrate(url: str, say: Callable[[str], None] = lambda message: None) -> list[str]:
    """Apply what is missing; safe from two processes at once. Returns the names applied."""
    conn = await connect(url)  # the first connection: a failure is one line naming the fix
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations"
                " (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
            applied = []
            for name, sql in migration_files():
                if name in done:
                    continue
                say(f"applying {name}")
                async with conn.transaction():
                    await conn.execute(sql)
                    await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", name)
                applied.append(name)
            return applied
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    finally:
        await conn.close()
