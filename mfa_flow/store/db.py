"""The connection pool, on ``DATABASE_URL`` or on an embedded PostgreSQL (pgserver)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import asyncpg

from .. import jsoncodec
from .connections import CONNECT_TIMEOUT_SECONDS
from .uow import UnitOfWork

_EMBEDDED: list[Any] = []


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
    await conn.set_type_codec("jsonb", encoder=jsoncodec.dumps, decoder=jsoncodec.loads, schema="pg_catalog")


async def _keep_session(conn: asyncpg.Connection) -> None:
    """What a connection needs when it goes back to the pool, after the rollback asyncpg always
    does of a transaction left open: nothing. Pooled connections carry no session state (only
    transaction-scoped settings and locks: ``SET LOCAL``, ``pg_advisory_xact_lock``; LISTEN and
    the migrations' session lock use connections of their own), so asyncpg's default reset
    (``RESET ALL``, ``UNLISTEN *``, ... ) would cost every unit of work one more round trip for
    nothing."""


class Database:
    def __init__(self, pool: asyncpg.Pool, url: str):
        self.pool = pool
        self.url = url

    @classmethod
    async def connect(cls, url: str, min_size: int = 2, max_size: int = 10) -> "Database":
        pool = await asyncpg.create_pool(
            url, min_size=min_size, max_size=max_size, init=_init_connection, reset=_keep_session,
            timeout=CONNECT_TIMEOUT_SECONDS,
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
