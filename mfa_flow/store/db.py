"""The connection pool, on ``DATABASE_URL`` or on an embedded PostgreSQL (pgserver)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import asyncpg

from .connections import CONNECT_TIMEOUT_SECONDS
from .uow import UnitOfWork

_EMBEDDED: list = []


def embedded_url(data_dir: Path) -> str:
    """Start (or reuse) a PostgreSQL under the data folder and return its unix-socket URL."""
    import warnings

    # platformdirs warns when XDG_RUNTIME_DIR is unset (root, containers); pgserver copes.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    import pgserver  # imported here: only needed without DATABASE_URL

    pg_dir = data_dir / "postgres"
    pg_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pg_dir)
    _EMBEDDED.append(server)  # the server stops when its last handle goes, so keep one
    print(f"Embedded PostgreSQL in {pg_dir} (set DATABASE_URL to use another)", file=sys.stderr)
    return server.get_uri()


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


class Database:
    def __init__(self, pool: asyncpg.Pool, url: str):
        self.pool = pool
        self.url = url

    @classmethod
    async def connect(cls, url: str, min_size: int = 2, max_size: int = 10) -> "Database":
        pool = await asyncpg.create_pool(
            url, min_size=min_size, max_size=max_size, init=_init_connection, timeout=CONNECT_TIMEOUT_SECONDS
        )
        return cls(pool, url)

    def unit_of_work(self, **transaction_options: Any) -> UnitOfWork:
        return UnitOfWork(self.pool, **transaction_options)

    async def ping(self) -> bool:
        """True when a connection answers and is on a primary (one that takes writes)."""
        async with self.pool.acquire(timeout=2) as conn:
            return await conn.fetchval("SELECT NOT pg_is_in_recovery()", timeout=2) is True

    async def close(self) -> None:
        await self.pool.close()
