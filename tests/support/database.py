"""A fresh PostgreSQL database for each test run: on DATABASE_URL's server, else embedded."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from typing import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg


class TestDatabase:
    __test__ = False  # a helper, not a test class (pytest would try to collect it by its name)

    def __init__(self, embedded: bool = False):
        """On DATABASE_URL's server, or (unset, or ``embedded``) on a PostgreSQL of its own."""
        self._tmp = None
        self._server = None
        base = None if embedded else os.environ.get("DATABASE_URL")
        if not base:
            import pgserver

            self._tmp = tempfile.mkdtemp(prefix="mfa-flow-test-pg-")
            self._server = pgserver.get_server(Path(self._tmp), cleanup_mode="delete")
            base = self._server.get_uri()
        self.admin_url = base
        self.name = f"mfa_flow_test_{os.getpid()}_{secrets.token_hex(4)}"
        self.url = self._with_database(base, self.name)

    @staticmethod
    def _with_database(url: str, name: str) -> str:
        parts = urlsplit(url)
        return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))

    async def _admin(self, patience: float = 30) -> asyncpg.Connection:
        """A connection to the server's maintenance database. A PostgreSQL server shared with
        other runs can be out of connections for a moment: try again until ``patience`` runs out."""
        deadline = time.monotonic() + patience
        while True:
            try:
                return await asyncpg.connect(self.admin_url)
            except asyncpg.TooManyConnectionsError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)

    async def create(self, name: str | None = None, template: str | None = None) -> str:
        """Create a database (a copy of ``template`` when given: nobody may be connected to it)."""
        conn = await self._admin()
        try:
            copy = f' TEMPLATE "{template}"' if template else ""
            await conn.execute(f'CREATE DATABASE "{name or self.name}"{copy}')
        finally:
            await conn.close()
        return self._with_database(self.admin_url, name or self.name)

    async def drop(self, name: str | None = None) -> None:
        conn = await self._admin()
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name or self.name}" WITH (FORCE)')
        finally:
            await conn.close()

    @contextlib.asynccontextmanager
    async def own(self, suffix: str) -> AsyncIterator[str]:
        """A database of one module's own beside the run's (so no other worker shares its
        work, say), dropped afterwards; yields its URL."""
        name = f"{self.name}_{suffix}"
        url = await self.create(name)
        try:
            yield url
        finally:
            await self.drop(name)

    def pg_dump(self) -> str:
        """The pg_dump that matches the server: pgserver's own when embedded."""
        if self._server is not None:
            import pgserver

            bundled = Path(pgserver.__file__).parent / "pginstall" / "bin" / "pg_dump"
            if bundled.exists():
                return str(bundled)
        found = shutil.which("pg_dump")
        if not found:
            raise RuntimeError("pg_dump is not installed (Debian: postgresql-client)")
        return found

    def close(self) -> None:
        if self._server is not None:
            self._server.cleanup()
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
